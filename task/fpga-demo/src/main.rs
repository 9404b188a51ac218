//! The demo client of the default image. At boot the FPGA manager loads
//! region0's default image into the iCE40 and region1's into the ECP5 from
//! the firmware store (app.toml `default-image`); we wait for each and say
//! what the device runs. Then we
//! load the Artix-7 by name from the same store, as a driver in Linux
//! calls `request_firmware("xc7_blinky")`, and print what it ends in.
//!
//! It is an ordinary, unprivileged client: it holds a task slot to the
//! manager and names an image; it never sees a driver, and the image's
//! bytes never pass through it.

#![no_std]
#![no_main]

use drv_fpga_api::{Device, FpgaError, FpgaManager, FpgaState};
use userlib::*;

task_slot!(FPGA_MGR, fpga_mgr);

/// How long to wait at boot for the manager to bind a device's driver,
/// for the store to offer its images, and for region0's default image.
const BOOT_TIMEOUT_MS: u64 = 5_000;
const LOAD_TIMEOUT_MS: u32 = 5_000;

fn say(args: core::fmt::Arguments<'_>) {
    kipc::console_fmt(args);
}

/// Calls `f` until it stops answering `retry` errors or the boot
/// timeout passes: drivers announce themselves when they start, and the
/// store offers its images when it does, so early calls may find
/// neither.
fn at_boot<T>(
    retry: &[FpgaError],
    mut f: impl FnMut() -> Result<T, FpgaError>,
) -> Result<T, FpgaError> {
    let deadline = sys_get_timer().now + BOOT_TIMEOUT_MS;
    loop {
        match f() {
            Err(e) if retry.contains(&e) && sys_get_timer().now < deadline => {
                hl::sleep_for(10);
            }
            r => return r,
        }
    }
}

/// Waits until the manager has bound the device's driver.
fn wait_bound(dev: &Device<'_>) -> Result<(), FpgaError> {
    at_boot(&[FpgaError::NoDriver], || match dev.info()?.driver_task() {
        Some(_) => Ok(()),
        None => Err(FpgaError::NoDriver),
    })
}

/// Reports `region`'s default image, which the manager loads at boot
/// into device `index`.
fn report_default(mgr: &FpgaManager, index: u8, device: &str, region: &str) {
    let dev = Device::new(mgr, index);
    let image = at_boot(&[FpgaError::NoImage], || dev.image_info());
    let state = dev.state().unwrap_or(FpgaState::Unknown);
    match image {
        Ok(info) => say(format_args!(
            "{device}: {region}'s default image {}, {} bytes, state {state:?}",
            info.name(),
            info.length
        )),
        Err(e) => say(format_args!(
            "{device}: no default image: {e:?}, state {state:?}"
        )),
    }
}

/// Loads the store's image `name` into device `index`.
fn load_by_name(mgr: &FpgaManager, index: u8, device: &str, name: &str) {
    let dev = Device::new(mgr, index);
    let result = wait_bound(&dev).and_then(|()| dev.lock()).and_then(|lock| {
        at_boot(&[FpgaError::NoFirmwareStore], || {
            lock.load_by_name(name.as_bytes(), 0, LOAD_TIMEOUT_MS)
        })
    });
    let state = dev.state().unwrap_or(FpgaState::Unknown);
    match result.and_then(|()| dev.image_info()) {
        Ok(info) => say(format_args!(
            "{device}: loaded {name} by name, {} bytes, state {state:?}",
            info.length
        )),
        Err(e) => say(format_args!(
            "{device}: load of {name} failed: {e:?}, state {state:?}"
        )),
    }
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mgr = FpgaManager::from(FPGA_MGR.get_task_id());
    report_default(&mgr, 0, "ice40", "region0");
    report_default(&mgr, 3, "ecp5", "region1");
    load_by_name(&mgr, 1, "xc7", "xc7_blinky");
    loop {
        sys_recv_notification(0);
    }
}
