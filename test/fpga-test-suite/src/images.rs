//! Issue 11's cases: what is loaded (the image identity the manager
//! records, checked against a SHA-256 we compute ourselves) and loading
//! by name from the firmware store (`test/fpga.toml`'s `store` task),
//! including the store dying while the manager forwards its lease.

use super::*;
use drv_fpga_api::ImageInfo;
use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, computed here in one piece (the manager hashes
/// a lease piece by piece as it goes to the driver).
fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn image_info(dev: u8) -> Result<ImageInfo, FpgaError> {
    mgr().image_info(dev)
}

/// Checks the identity `dev` reports against `img` loaded by `loader`
/// with `flags` between `before` and `after` (ms since boot), under
/// `name` (empty unless by name).
#[track_caller]
fn expect_identity(
    dev: u8,
    img: &[u8],
    name: &str,
    loader: TaskId,
    window: (u64, u64),
) -> ImageInfo {
    let info = image_info(dev).expect("an image is recorded");
    expect_eq!(info.sha256, sha256(img));
    expect_eq!(info.length as usize, img.len());
    expect_eq!(info.name(), name);
    expect_eq!(info.loader_task(), loader);
    expect_eq!(info.flags, 0);
    expect!(
        window.0 <= info.loaded_at_ms && info.loaded_at_ms <= window.1,
        "loaded at {} ms, outside [{}, {}]",
        info.loaded_at_ms,
        window.0,
        window.1
    );
    info
}

fn now() -> u64 {
    sys_get_timer().now
}

/// Waits until the firmware store has offered its images (a restarted
/// store offers them again): an unknown name then answers UnknownImage,
/// not NoFirmwareStore.
#[track_caller]
fn wait_store_attached() {
    let m = mgr();
    let lock = Device::new(&m, XC7).lock().expect("lock");
    for _ in 0..WAIT_MS {
        match lock.load_by_name(b"no-such-image", 0, TIMEOUT_MS) {
            Err(FpgaError::UnknownImage) => return,
            Err(FpgaError::NoFirmwareStore) => hl::sleep_for(1),
            r => panic!("expected UnknownImage, found {r:?}"),
        }
    }
    panic!("the firmware store never offered its images");
}

/// A whole load and a streamed load through client leases record the
/// image's length and a SHA-256 equal to ours, the loader (us), the
/// flags and the time; a `.bit` image also its design and part.
pub fn test_image_identity_sha256() {
    let ice40 = image(ICE40);
    let t0 = now();
    expect_good_load(ICE40, ice40);
    let info = expect_identity(ICE40, ice40, "", me(), (t0, now()));
    expect_eq!((info.design(), info.part()), ("", ""));

    // Streamed in odd chunks: the same identity.
    let t0 = now();
    {
        let m = mgr();
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        expect_eq!(lock.load_in_chunks(ice40, 3001, 0, TIMEOUT_MS), Ok(()));
    }
    expect_identity(ICE40, ice40, "", me(), (t0, now()));

    let xc7 = image(XC7);
    let t0 = now();
    expect_good_load(XC7, xc7);
    let info = expect_identity(XC7, xc7, "", me(), (t0, now()));
    expect_eq!(
        info.design(),
        "blinky;UserID=0XFFFFFFFF;Version=leasehold-synthetic"
    );
    expect_eq!(info.part(), "7a35tcpg236");
    // The raw stream of the same design has no header to show.
    let t0 = now();
    expect_good_load(XC7, blob!(xc7_bin));
    let info = expect_identity(XC7, blob!(xc7_bin), "", me(), (t0, now()));
    expect_eq!((info.design(), info.part()), ("", ""));
}

/// The manager hashes with the board's SHA-256 engine (app.toml's
/// `hash-engine`): after a whole load and after a streamed one, the
/// engine counted exactly the image's bytes since the load's INIT, holds
/// its SHA-256 (computed here by `sha2`), and its DONE was consumed.
pub fn test_hash_engine_hashed_the_load() {
    let ice40 = image(ICE40);
    expect_good_load(ICE40, ice40);
    expect_engine_hashed(ice40);
    {
        let m = mgr();
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        expect_eq!(lock.load_in_chunks(ice40, 3001, 0, TIMEOUT_MS), Ok(()));
    }
    expect_engine_hashed(ice40);
    let xc7 = image(XC7);
    expect_good_load(XC7, xc7);
    expect_engine_hashed(xc7);
}

fn expect_engine_hashed(img: &[u8]) {
    use drv_board_io::regs::sha256_engine as regs;
    let engine = peripherals::HASH;
    let status = sys_read_register(engine, regs::STATUS);
    expect_eq!(status, regs::STATUS_READY);
    let count = sys_read_register(engine, regs::COUNT);
    expect_eq!(count as usize, img.len());
    let mut digest = [0u8; 32];
    for (i, d) in (0u32..).zip(digest.chunks_exact_mut(4)) {
        let word = sys_read_register(engine, regs::DIGEST0 + 4 * i);
        d.copy_from_slice(&word.to_be_bytes());
    }
    expect_eq!(digest, sha256(img));
}

/// A device that leaves OPERATING forgets its image: a load that fails
/// (the device rejects a corrupt image), a reset, and a new load while it
/// is under way; the other device keeps its own.
pub fn test_image_identity_cleared_on_failure() {
    expect_good_load(XC7, image(XC7));
    let xc7 = image_info(XC7).expect("xc7 image");
    expect_good_load(ICE40, image(ICE40));
    expect!(image_info(ICE40).is_ok(), "no image after a good load");

    let bad = copy_of(image(ICE40));
    bad[bad.len() / 2] ^= 0x10;
    let r = {
        let m = mgr();
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        lock.load(bad, 0, TIMEOUT_MS)
    };
    expect_eq!(r, Err(FpgaError::WriteCompleteFailed));
    expect_eq!(state(ICE40), FpgaState::WriteCompleteErr);
    expect_eq!(image_info(ICE40), Err(FpgaError::NoImage));
    expect_eq!(image_info(XC7), Ok(xc7));

    expect_good_load(ICE40, image(ICE40));
    {
        let m = mgr();
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        expect_eq!(lock.reset(), Ok(()));
    }
    expect_eq!(state(ICE40), FpgaState::Reset);
    expect_eq!(image_info(ICE40), Err(FpgaError::NoImage));

    // A streamed load begun and abandoned halfway leaves nothing either.
    expect_good_load(ICE40, image(ICE40));
    {
        let m = mgr();
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        let img = image(ICE40);
        let mut load =
            lock.stream(0, img.len() as u32, TIMEOUT_MS).expect("begin");
        expect_eq!(load.chunk(&img[..8192]), Ok(()));
        expect_eq!(image_info(ICE40), Err(FpgaError::NoImage));
    }
    expect_eq!(state(ICE40), FpgaState::WriteErr);
    expect_eq!(image_info(ICE40), Err(FpgaError::NoImage));
    expect_eq!(image_info(XC7), Ok(xc7));
    expect_eq!(image_info(9), Err(FpgaError::BadDevice));
}

/// `load_by_name` loads the store's image into the device, copying
/// nothing through us: the identity names the image, and its hash is
/// that of the bytes we link as the same app.toml blob. A region loads
/// the store's image by name too, and its default image when the name
/// is empty.
pub fn test_load_by_name() {
    wait_store_attached();
    let m = mgr();
    let t0 = now();
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        expect_eq!(lock.load_by_name(b"ice40_blinky", 0, TIMEOUT_MS), Ok(()));
    }
    expect_operating(ICE40);
    let (header, data) = (0, image(ICE40).len() as u32);
    expect_load_sequence(ICE40, header, data);
    expect_identity(ICE40, image(ICE40), "ice40_blinky", me(), (t0, now()));

    let t0 = now();
    {
        let lock = Device::new(&m, XC7).lock().expect("lock");
        expect_eq!(lock.load_by_name(b"xc7_blinky", 0, TIMEOUT_MS), Ok(()));
    }
    expect_operating(XC7);
    let info =
        expect_identity(XC7, image(XC7), "xc7_blinky", me(), (t0, now()));
    expect_eq!(info.part(), "7a35tcpg236");

    // Through a region: its bridge cycles once, as for a client's image.
    let cycles = m.bridge_cycles(0).expect("cycles");
    let t0 = now();
    let r =
        m.region_program_by_name(REGION_ICE40, 0, TIMEOUT_MS, b"ice40_blinky");
    expect_eq!(r, Ok(()));
    expect_eq!(m.bridge_cycles(0), Ok(cycles + 1));
    expect_eq!(m.bridge_state(0), Ok(true));
    expect_identity(ICE40, image(ICE40), "ice40_blinky", me(), (t0, now()));
    // region1 names xc7_blinky as its default image (app.toml).
    expect_good_load(XC7, blob!(xc7_bin));
    let t0 = now();
    expect_eq!(
        m.region_program_by_name(REGION_XC7, 0, TIMEOUT_MS, b""),
        Ok(())
    );
    expect_identity(XC7, image(XC7), "xc7_blinky", me(), (t0, now()));
    // The lock was the region's for the call only.
    drop(Device::new(&m, XC7).lock().expect("lock after the region"));
}

/// Names the store does not have, and requests that cannot be served:
/// each a clean error that changes nothing.
pub fn test_load_by_unknown_name() {
    wait_store_attached();
    expect_good_load(ICE40, image(ICE40));
    let before = image_info(ICE40).expect("image");
    let m = mgr();
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        for name in [
            &b"ice40_blinkyy"[..],
            b"ice40",
            b"ICE40_BLINKY",
            b"",
            b"ice40_blinky\0",
            &[b'x'; 32],
            &[0xFF; 5],
        ] {
            let r = lock.load_by_name(name, 0, TIMEOUT_MS);
            expect_eq!(r, Err(FpgaError::UnknownImage));
        }
        // The image is known, the flags are not.
        let r = lock.load_by_name(b"ice40_blinky", 1 << 9, TIMEOUT_MS);
        expect_eq!(r, Err(FpgaError::BadFlags));
    }
    expect_eq!(state(ICE40), FpgaState::Operating);
    expect_eq!(image_info(ICE40), Ok(before));
    // Without the lock, nothing is looked up.
    let r = m.load_by_name(ICE40, 0, TIMEOUT_MS, b"ice40_blinky");
    expect_eq!(r, Err(FpgaError::NotLocked));
    expect_eq!(
        m.load_by_name(7, 0, TIMEOUT_MS, b"x"),
        Err(FpgaError::BadDevice)
    );
    // region0 names no default image; region 9 does not exist.
    let r = m.region_program_by_name(REGION_ICE40, 0, TIMEOUT_MS, b"");
    expect_eq!(r, Err(FpgaError::UnknownImage));
    let r = m.region_program_by_name(REGION_ICE40, 0, TIMEOUT_MS, b"nope");
    expect_eq!(r, Err(FpgaError::UnknownImage));
    expect_eq!(m.bridge_state(0), Ok(true));
    let r = m.region_program_by_name(9, 0, TIMEOUT_MS, b"ice40_blinky");
    expect_eq!(r, Err(FpgaError::BadRegion));
    // Only the store may offer images.
    let r = m.attach_firmware(&[], &[]);
    expect_eq!(r, Err(FpgaError::NotFirmwareStore));
    expect_eq!(image_info(ICE40), Ok(before));
}

/// The firmware store faults while the driver holds the manager's
/// forward of its lease (the slow image's write sleeps first): the lease
/// is revoked, the load ends with FirmwareStoreDied in WRITE_ERR, the
/// driver lives on, jefe restarts the store, it offers its images again,
/// and a load by name succeeds.
pub fn test_store_dies_mid_load() {
    wait_store_attached();
    let drv = wait_bound(ICE40, None);
    let store = sys_refresh_task_id(TaskId::for_index_and_gen(
        tasks::STORE,
        Generation::ZERO,
    ));
    wait_for_state(tasks::CLIENT, WAITING_FOR_WORK);
    let slow = NamedImage::Ice40Slow as u32;
    let args = [ICE40 as u32, slow, 0, TIMEOUT_MS];
    expect_eq!(client(ClientOp::LoadByName, &args), 0);
    expect!(
        driver_asleep_in_write(drv),
        "the driver never slept in write"
    );
    kipc::fault_task(tasks::STORE);

    expect_eq!(client_result(), FpgaError::FirmwareStoreDied as u32);
    expect_eq!(state(ICE40), FpgaState::WriteErr);
    expect_eq!(image_info(ICE40), Err(FpgaError::NoImage));
    expect_eq!(mgr().info(ICE40).map(|i| i.driver_task()), Ok(Some(drv)));
    expect!(
        !kipc::read_task_status(drv.index()).is_faulted(),
        "driver died"
    );

    // jefe restarts the store under a new generation; it offers again.
    wait_store_attached();
    let again = sys_refresh_task_id(store);
    expect!(again != store, "the store was not restarted");
    let name = NamedImage::Ice40 as u32;
    expect_eq!(
        client(ClientOp::LoadByName, &[ICE40 as u32, name, 0, TIMEOUT_MS]),
        0
    );
    expect_eq!(client_result(), 0);
    expect_eq!(client(ClientOp::Release, &[ICE40 as u32]), 0);
    expect_operating(ICE40);
    let info = image_info(ICE40).expect("image");
    expect_eq!(info.name(), "ice40_blinky");
    expect_eq!(info.sha256, sha256(image(ICE40)));
}

/// Waits until the driver sleeps inside the slow image's write while the
/// manager waits on it (no syscall for 20 ms, longer than any sleep of
/// write_init); false if that never happens.
fn driver_asleep_in_write(drv: TaskId) -> bool {
    let mgr_waiting = TaskState::Healthy(SchedState::InReply(drv));
    let asleep = || {
        kipc::read_task_status(drv.index()) == SLEEPING
            && kipc::read_task_status(tasks::FPGA_MGR) == mgr_waiting
    };
    for _ in 0..WAIT_MS {
        if asleep() {
            let count = kipc::read_syscall_count(drv.index());
            hl::sleep_for(20);
            if asleep() && kipc::read_syscall_count(drv.index()) == count {
                return true;
            }
        }
        hl::sleep_for(1);
    }
    false
}

/// The client helper's answer to its last load, once it has one.
#[track_caller]
fn client_result() -> u32 {
    for _ in 0..WAIT_MS {
        let r = client(ClientOp::Result, &[]);
        if r != NO_RESULT {
            return r;
        }
        hl::sleep_for(1);
    }
    panic!("the client helper's load never ended");
}
