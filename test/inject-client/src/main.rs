//! A workload client of the restart injection campaign
//! (`test/injection.toml`): an ordinary FPGA manager client that asks the
//! campaign for work, performs it through `drv-fpga-api` (lock, load,
//! streamed load or load by name from the firmware store, release) and
//! reports exactly what it saw: success, or the `FpgaError` and the step
//! it came from, and how long it took.
//!
//! It never retries on its own except in `Verify`, where retrying is the
//! point: a system that recovered lets a load succeed before the deadline.
//! It may be faulted or restarted at any syscall; a new incarnation simply
//! reports `READY` again.

#![no_std]
#![no_main]

use drv_fpga_api::{Device, FpgaError, FpgaManager, FpgaState};
use sha2::{Digest, Sha256};
use test_inject_api::{
    CODE_OK, CODE_OK_DRIVER_CHANGED, CODE_OK_UNCONFIRMED, COMMAND_LEN, Command,
    OP_CHECKPOINT, OP_REPORT, Report, Step, Workload,
};
use userlib::*;

task_slot!(FPGA_MGR, fpga_mgr);
task_slot!(CAMPAIGN, campaign);

/// The manager's deadline for one load.
const LOAD_TIMEOUT_MS: u32 = 1_000;

fn now() -> u64 {
    sys_get_timer().now
}

/// Reports to the campaign and waits for the next command.
fn report(r: &Report) -> Command {
    loop {
        let mut reply = [0u8; COMMAND_LEN];
        let (rc, len) = sys_send(
            CAMPAIGN.get_task_id(),
            OP_REPORT,
            &r.encode(),
            &mut reply,
            &[],
        );
        if rc == 0
            && let Some(cmd) = Command::decode(&reply[..len])
        {
            return cmd;
        }
        // The campaign never dies in a run that still matters; keep asking.
        hl::sleep_for(1);
    }
}

/// Tells the campaign which step comes next and waits for its go.
fn checkpoint(on: bool, step: Step) {
    if on {
        let _ = sys_send(
            CAMPAIGN.get_task_id(),
            OP_CHECKPOINT,
            &[step as u8],
            &mut [],
            &[],
        );
    }
}

/// Our device's image: the iCE40 or the Artix-7 blinky (clients a and
/// b, which swap devices), or with the `ecp5` feature (client c, which
/// loads only the ECP5) the LFE5U-25F one.
#[cfg(not(feature = "ecp5"))]
fn image(device: u8) -> &'static [u8] {
    match device {
        0 => blob!(ice40_blinky),
        _ => blob!(xc7_blinky),
    }
}

#[cfg(feature = "ecp5")]
fn image(_device: u8) -> &'static [u8] {
    blob!(ecp5_25f)
}

/// The SHA-256 of our device's image, computed once per device (the
/// ECP5 image is 582 KB; hashing it after every load would slow the
/// campaign, most of all under QEMU).
struct Hashes([Option<[u8; 32]>; 3]);

impl Hashes {
    fn of(&mut self, device: u8) -> [u8; 32] {
        let slot = &mut self.0[usize::from(device).min(2)];
        *slot.get_or_insert_with(|| Sha256::digest(image(device)).into())
    }
}

/// The firmware store's name for our device's image.
fn image_name(device: u8) -> &'static [u8] {
    match device {
        0 => b"ice40_blinky",
        1 => b"xc7_blinky",
        // The campaign never asks client c to load by name (the store
        // does not hold the ECP5 image).
        _ => b"ecp5_25f",
    }
}

/// lock, load (ours, or the store's by name), release.
fn whole(
    dev: &Device<'_>,
    by_name: bool,
    step: &mut Step,
) -> Result<(), FpgaError> {
    *step = Step::Lock;
    let lock = dev.lock()?;
    *step = Step::Load;
    if by_name {
        lock.load_by_name(image_name(dev.index()), 0, LOAD_TIMEOUT_MS)
    } else {
        lock.load(image(dev.index()), 0, LOAD_TIMEOUT_MS)
    }
}

/// lock, load_begin, chunks, load_end, release, with a checkpoint before
/// every manager call that reaches the driver.
fn stream(
    dev: &Device<'_>,
    cmd: &Command,
    step: &mut Step,
) -> Result<(), FpgaError> {
    let image = image(dev.index());
    let cp = cmd.checkpoints;
    *step = Step::Lock;
    let lock = dev.lock()?;
    *step = Step::Begin;
    checkpoint(cp, Step::Begin);
    let mut load = lock.stream(0, image.len() as u32, LOAD_TIMEOUT_MS)?;
    let chunk_len = (cmd.chunk_len as usize).max(1);
    let mut first = chunk_len.max(load.first_chunk_min() as usize);
    *step = Step::FirstChunk;
    let sent = loop {
        let end = first.min(image.len());
        checkpoint(cp, Step::FirstChunk);
        match load.chunk(&image[..end]) {
            Ok(()) => break end,
            Err(FpgaError::FirstChunkTooShort) if end < image.len() => {
                first = (load.header_needed()? as usize).max(end + 1);
            }
            Err(e) => return Err(e),
        }
    };
    *step = Step::Chunk;
    for chunk in image[sent..].chunks(chunk_len) {
        checkpoint(cp, Step::Chunk);
        load.chunk(chunk)?;
    }
    *step = Step::End;
    checkpoint(cp, Step::End);
    load.finish()
}

/// Retries until a load succeeds or the deadline passes.
fn verify(
    dev: &Device<'_>,
    cmd: &Command,
    deadline: u64,
    step: &mut Step,
    attempts: &mut u32,
) -> Result<(), FpgaError> {
    loop {
        *attempts += 1;
        *step = Step::Bind;
        let r = match dev.info() {
            Ok(info) if info.driver_task().is_some() => {
                whole(dev, cmd.by_name, step)
            }
            Ok(_) => Err(FpgaError::NoDriver),
            Err(e) => Err(e),
        };
        match r {
            Err(
                FpgaError::NoDriver
                | FpgaError::AlreadyLocked
                | FpgaError::ManagerRestarted
                | FpgaError::DriverDied
                // A restarted store offers its images again shortly.
                | FpgaError::NoFirmwareStore
                | FpgaError::FirmwareStoreDied,
            ) if now() < deadline => hl::sleep_for(1),
            r => return r,
        }
    }
}

/// How long the check of an `Ok` may wait for a restarted victim (jefe
/// restarts it, the manager binds a driver again) before the pins can be
/// read.
const CONFIRM_MS: u64 = 1_000;

/// The kernel's current id of task `index`: its generation now, with no
/// message to anyone (a victim cannot delay or falsify it).
fn current(index: usize) -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(index, Generation::ZERO))
}

/// Answers a query may get only because a victim died after the `Ok`:
/// the driver is being restarted and bound again, or the manager was.
fn transient(e: FpgaError) -> bool {
    matches!(
        e,
        FpgaError::NoDriver
            | FpgaError::DriverDied
            | FpgaError::ManagerRestarted
    )
}

/// Whether the device's pins say it is configured (CDONE / DONE, read
/// live by whichever driver is bound), waiting out a victim's restart.
/// The hardware outlives any task: a restarted driver leaves a configured
/// device configured, so this holds after an honest `Ok` whatever was
/// killed afterwards, and fails after an `Ok` the device never earned.
fn pins_configured(mgr: &FpgaManager, dev: &Device<'_>) -> bool {
    let deadline = now() + CONFIRM_MS;
    loop {
        match mgr.hardware_state(dev.index()) {
            Ok(raw) => {
                return FpgaState::try_from(raw) == Ok(FpgaState::Operating);
            }
            Err(e) if transient(e) && now() < deadline => hl::sleep_for(1),
            Err(_) => return false,
        }
    }
}

/// Whether the manager's record says `OPERATING` with our image (its
/// length and the SHA-256 the manager computed of what it sent).
fn record_configured(dev: &Device<'_>, hashes: &mut Hashes) -> bool {
    let image = image(dev.index());
    let identity = dev.image_info();
    dev.state() == Ok(FpgaState::Operating)
        && identity.is_ok_and(|info| {
            info.length as usize == image.len()
                && info.sha256 == hashes.of(dev.index())
        })
}

/// Ids (kernel generations) of the manager and of the device's driver.
#[derive(Copy, Clone)]
struct Incarnations {
    manager: TaskId,
    driver: Option<TaskId>,
}

impl Incarnations {
    fn now(driver_index: Option<usize>) -> Self {
        Self {
            manager: current(usize::from(FPGA_MGR.index())),
            driver: driver_index.map(current),
        }
    }
}

/// What an `Ok` is worth. We hold no lock, but no other client loads
/// this device meanwhile.
///
/// The device must be configured by its pins: always, since the hardware
/// is the one witness no victim can reset. The manager's record must say
/// `OPERATING` with our image unless the manager restarted since before
/// the call (a new incarnation honestly knows nothing; the campaign
/// checks that the manager was this case's victim). A driver's death is
/// not checked by itself: one that died after finishing its part (after
/// its last reply to the manager, perhaps before the manager's `Ok`
/// reached us; the kernel does not order the two) leaves an honest `Ok`,
/// and one that died before leaves an unconfigured device, which the pins
/// show. `before` is taken before the call, `after` as soon as it
/// answered.
fn confirm(
    mgr: &FpgaManager,
    dev: &Device<'_>,
    driver_index: Option<usize>,
    before: Incarnations,
    after: Incarnations,
    hashes: &mut Hashes,
) -> u16 {
    let record = record_configured(dev, hashes);
    let manager_restarted =
        Incarnations::now(driver_index).manager != before.manager;
    let pins = pins_configured(mgr, dev);
    match (pins, record || manager_restarted) {
        (true, true) => CODE_OK,
        (false, _) if after.driver != before.driver => CODE_OK_DRIVER_CHANGED,
        _ => CODE_OK_UNCONFIRMED,
    }
}

/// The bound driver of `dev`'s task index, as the manager knows it now.
fn driver_index(dev: &Device<'_>) -> Option<usize> {
    dev.info()
        .ok()
        .and_then(|info| info.driver_task())
        .map(|t| t.index())
}

fn run(mgr: &FpgaManager, cmd: &Command, hashes: &mut Hashes) -> Report {
    let start = now();
    let dev = Device::new(mgr, cmd.device);
    let mut step = Step::None;
    let mut attempts = 0;
    let driver_index = driver_index(&dev);
    let before = Incarnations::now(driver_index);
    // Guards are dropped inside each workload, so the time includes the
    // release and any abort.
    let r = match cmd.workload {
        Workload::Load => whole(&dev, cmd.by_name, &mut step),
        Workload::Stream => stream(&dev, cmd, &mut step),
        Workload::Verify => {
            let deadline = start + u64::from(cmd.deadline_ms);
            verify(&dev, cmd, deadline, &mut step, &mut attempts)
        }
    };
    let after = Incarnations::now(driver_index);
    let elapsed_ms = now().saturating_sub(start) as u32;
    // Distrust success: an Ok must mean a configured device.
    let code = match r {
        Ok(()) => confirm(mgr, &dev, driver_index, before, after, hashes),
        Err(e) => u16::from(e),
    };
    Report {
        code,
        step,
        elapsed_ms,
        attempts,
    }
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mgr = FpgaManager::from(FPGA_MGR.get_task_id());
    let mut last = Report::READY;
    let mut hashes = Hashes([None; 3]);
    loop {
        let cmd = report(&last);
        last = run(&mgr, &cmd, &mut hashes);
    }
}
