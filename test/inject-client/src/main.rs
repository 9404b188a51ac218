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

fn image(device: u8) -> &'static [u8] {
    match device {
        0 => blob!(ice40_blinky),
        _ => blob!(xc7_blinky),
    }
}

/// The firmware store's name for our device's image.
fn image_name(device: u8) -> &'static [u8] {
    match device {
        0 => b"ice40_blinky",
        _ => b"xc7_blinky",
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

/// Whether `dev` is configured with our image after the manager said
/// `Ok`: it records `OPERATING`, its pins say so (the driver reads CDONE /
/// DONE now), and the image it runs has our image's length and SHA-256.
/// We hold no lock, but no other client loads this device meanwhile.
fn configured(mgr: &FpgaManager, dev: &Device<'_>) -> bool {
    let image = image(dev.index());
    let pins = mgr.hardware_state(dev.index()).map(FpgaState::try_from);
    let identity = dev.image_info();
    dev.state() == Ok(FpgaState::Operating)
        && pins == Ok(Ok(FpgaState::Operating))
        && identity.is_ok_and(|info| {
            info.length as usize == image.len()
                && info.sha256 == <[u8; 32]>::from(Sha256::digest(image))
        })
}

/// The bound driver of `dev`, as the manager knows it now.
fn driver(dev: &Device<'_>) -> Option<TaskId> {
    dev.info().ok().and_then(|info| info.driver_task())
}

fn run(mgr: &FpgaManager, cmd: &Command) -> Report {
    let start = now();
    let dev = Device::new(mgr, cmd.device);
    let mut step = Step::None;
    let mut attempts = 0;
    let driver_before = driver(&dev);
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
    // Distrust success: an Ok must mean a configured device, loaded
    // while the driver that started the load lived (a Verify may retry
    // across a driver's restart, so only its last load counts there).
    let driver_changed =
        cmd.workload != Workload::Verify && driver(&dev) != driver_before;
    let code = match r {
        Ok(()) if driver_changed => CODE_OK_DRIVER_CHANGED,
        Ok(()) if !configured(mgr, &dev) => CODE_OK_UNCONFIRMED,
        Ok(()) => CODE_OK,
        Err(e) => u16::from(e),
    };
    Report {
        code,
        step,
        elapsed_ms: now().saturating_sub(start) as u32,
        attempts,
    }
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mgr = FpgaManager::from(FPGA_MGR.get_task_id());
    let mut last = Report::READY;
    loop {
        let cmd = report(&last);
        last = run(&mgr, &cmd);
    }
}
