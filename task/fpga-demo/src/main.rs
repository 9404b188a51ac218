//! The demo client of the default image: at boot it loads the iCE40 and
//! the Artix-7 with the bitstreams linked into its flash (app.toml
//! `blobs`), through the FPGA manager, and prints what each device ends in.
//!
//! It is an ordinary, unprivileged client: it holds a task slot to the
//! manager and leases it the bitstream; it never sees a driver.

#![no_std]
#![no_main]

use drv_fpga_api::{Device, FpgaError, FpgaManager, FpgaState};
use userlib::*;

task_slot!(FPGA_MGR, fpga_mgr);

/// How long to wait for the manager to bind a device's driver at boot.
const BIND_TIMEOUT_MS: u64 = 5_000;
const LOAD_TIMEOUT_MS: u32 = 5_000;

fn say(args: core::fmt::Arguments<'_>) {
    kipc::console_fmt(args);
}

/// Drivers announce themselves when they start; until the manager has
/// bound one, the device answers `NoDriver`. Poll its info until bound.
fn wait_bound(dev: &Device<'_>) -> Result<(), FpgaError> {
    let deadline = sys_get_timer().now + BIND_TIMEOUT_MS;
    loop {
        match dev.info() {
            Ok(info) if info.driver_task().is_some() => return Ok(()),
            Ok(_) | Err(FpgaError::NoDriver)
                if sys_get_timer().now < deadline =>
            {
                hl::sleep_for(10);
            }
            Ok(_) => return Err(FpgaError::NoDriver),
            Err(e) => return Err(e),
        }
    }
}

fn load(mgr: &FpgaManager, index: u8, name: &str, image: &[u8]) {
    let dev = Device::new(mgr, index);
    let result = wait_bound(&dev)
        .and_then(|()| dev.lock())
        .and_then(|lock| lock.load(image, 0, LOAD_TIMEOUT_MS));
    let state = dev.state().unwrap_or(FpgaState::Unknown);
    match result {
        Ok(()) => say(format_args!(
            "{name}: loaded {} bytes, state {:?}",
            image.len(),
            state
        )),
        Err(e) => {
            say(format_args!("{name}: load failed: {e:?}, state {state:?}"))
        }
    }
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mgr = FpgaManager::from(FPGA_MGR.get_task_id());
    load(&mgr, 0, "ice40", blob!(ice40_blinky));
    load(&mgr, 1, "xc7", blob!(xc7_blinky));
    loop {
        sys_recv_notification(0);
    }
}
