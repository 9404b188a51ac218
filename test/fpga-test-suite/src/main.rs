//! The FPGA system tests (`test/fpga.toml`): the real manager, both real
//! drivers on the simulated iCE40 HX1K and Artix-7, and jefe.
//!
//! - Linux's KUnit cases (`drivers/fpga/tests/`), each named after the
//!   original, with every assert translated as closely as IPC allows: the
//!   fake ops' records (state at entry, call order, the bytes each op got)
//!   become the manager's `op_log`; "the same pointer" becomes "the
//!   configured device, bound to its configured driver".
//! - The cases Linux never had: a driver unbound while its device is
//!   held, each op failing, the header grow loop, one write per fragment,
//!   failing bridges.
//! - Lifetime: a driver dying in each op (kernel injection at a counted
//!   syscall), revoked mid-load, a client dying mid-load, a lock holder
//!   dying, a driver hanging past its deadline (jefe's watchdog). Each
//!   ends with a fresh load of the same image.
//! - Bad input: corrupt, truncated and wrong-device images for both
//!   families, rejected by the device itself; bad requests.
//!
//! A case fails by panicking (the message says what was expected and
//! what was found); jefe holds us faulted and the runner reports it.

#![no_std]
#![no_main]

use drv_fpga_api::{
    Device, FpgaError, FpgaManager, FpgaState, OpRecord, flags, op, status,
};
use fpga_test_api::*;
use task_jefe_api::{Disposition, Jefe};
use test_harness::{
    WAITING_FOR_WORK, expect, expect_eq, test_cases, wait_for_state,
    wait_until_faulted,
};
use userlib::*;
use zerocopy::FromBytes;

task_slot!(RUNNER, runner);
task_slot!(CLIENT, client);
task_slot!(FPGA_MGR, fpga_mgr);
task_slot!(JEFE, jefe);

// After the macros: the cases in this module use them.
mod images;
use images::*;
#[cfg(feature = "real-images")]
mod vivado;
#[cfg(feature = "real-images")]
use vivado::*;
#[cfg(feature = "real-images")]
mod ecp5;
#[cfg(feature = "real-images")]
use ecp5::*;

/// The case table: the cases every board runs, then `extra`.
macro_rules! suite_cases {
    ($($extra:ident),* $(,)?) => {
        test_cases! {
            fpga_mgr_test_get,
            fpga_mgr_test_lock,
            fpga_mgr_test_img_load_buf,
            fpga_mgr_test_img_load_sgt,
            fpga_bridge_test_get,
            fpga_bridge_test_toggle,
            fpga_bridge_test_get_put_list,
            fpga_region_test_class_find,
            fpga_region_test_program_fpga,
            test_unregister_while_held,
            test_op_failure_states,
            test_parse_header_grow,
            test_per_fragment_write,
            test_bridge_failure,
            test_driver_dies_in_write_init,
            test_driver_dies_in_write,
            test_driver_dies_in_write_complete,
            test_driver_revoked_mid_load,
            test_client_dies_mid_load,
            test_lock_holder_dies,
            test_driver_hangs_past_deadline,
            test_ice40_bad_crc,
            test_ice40_truncated,
            test_ice40_wrong_device,
            test_xc7_bad_crc,
            test_bad_requests,
            test_image_identity_sha256,
            test_hash_engine_hashed_the_load,
            test_image_identity_cleared_on_failure,
            test_load_by_name,
            test_load_by_unknown_name,
            test_store_dies_mid_load,
            $($extra),*
        }
    };
}

// With the `real-images` feature, the cases that load real images too
// large for every board's flash.
#[cfg(feature = "real-images")]
suite_cases! {
    test_xc7_vivado_real,
    test_xc7_vivado_bitflip,
    test_xc7_vivado_truncated,
    test_xc7_vivado_wrong_part,
    test_xc7_compressed,
    test_xc7_encrypted_refused,
    test_ecp5_real_25f,
    test_ecp5_real_85f,
    test_ecp5_wrong_part,
    test_ecp5_bad_crc,
    test_ecp5_truncated,
}
#[cfg(not(feature = "real-images"))]
suite_cases! {}

#[unsafe(export_name = "main")]
fn main() -> ! {
    test_harness::run(&SuiteRunner(|| RUNNER.get_task_id()), TESTS, prepare)
}

/// Undoes what a failed case may have left: drivers held, bridges
/// failing; then waits until both devices are bound.
fn prepare() {
    for dev in ALL_DEVICES {
        set_disposition(dev, Disposition::Restart);
    }
    let m = mgr();
    for b in 0..BRIDGES {
        let _ = m.bridge_set_fault(b, false);
        let _ = m.bridge_put(b);
        let _ = m.bridge_enable(b);
    }
    for dev in ALL_DEVICES {
        let _ = m.release(dev);
        wait_bound(dev, None);
    }
}

// ---------------------------------------------------------------------
// Helpers

const ICE40: u8 = 0;
const XC7: u8 = 1;
const BRIDGES: u8 = 3;
/// The LFE5U-25F and the LFE5U-85F (their cases are in `ecp5.rs`).
const ECP5: u8 = 2;
const ECP5_85: u8 = 3;
/// Every device, in the manager's order.
const ALL_DEVICES: [u8; 4] = [ICE40, XC7, ECP5, ECP5_85];
/// region0: the iCE40 behind br0 (the KUnit region); region1: the
/// Artix-7 behind br1 and br2.
const REGION_ICE40: u8 = 0;
const REGION_XC7: u8 = 1;
const TIMEOUT_MS: u32 = 5_000;
/// How long (ms) we poll for a state before failing.
const WAIT_MS: u32 = 5_000;

const SLEEPING: TaskState =
    TaskState::Healthy(SchedState::InRecv(Some(TaskId::KERNEL)));

fn mgr() -> FpgaManager {
    FpgaManager::from(FPGA_MGR.get_task_id())
}

fn me() -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(
        tasks::SUITE,
        Generation::ZERO,
    ))
}

/// Asks the client helper for `op(args)`; its one-word answer.
#[track_caller]
fn client(op: ClientOp, args: &[u32]) -> u32 {
    let mut msg = [0u8; 16];
    let mut r = [0u8; 4];
    let (rc, len) = sys_send(
        CLIENT.get_task_id(),
        op as u16,
        words(&mut msg, args),
        &mut r,
        &[],
    );
    expect!(rc == 0 && len == 4, "client {op:?}: rc {rc:#x}, len {len}");
    u32::from_le_bytes(r)
}

fn driver_index(dev: u8) -> usize {
    match dev {
        ICE40 => tasks::ICE40,
        XC7 => tasks::XC7,
        ECP5 => tasks::ECP5,
        _ => tasks::ECP5_85,
    }
}

fn driver_id(dev: u8) -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(
        driver_index(dev),
        Generation::ZERO,
    ))
}

fn image(dev: u8) -> &'static [u8] {
    if dev == ICE40 {
        blob!(ice40_blinky)
    } else {
        blob!(xc7_blinky)
    }
}

fn set_disposition(dev: u8, d: Disposition) {
    let jefe = Jefe::from(JEFE.get_task_id());
    let r = jefe.set_disposition(driver_index(dev) as u32, d);
    expect_eq!(r, Ok(()));
}

/// Holds a driver at its next fault (so that the case can read the fault
/// before jefe restarts it); dropping it restarts the driver if faulted.
struct Held(u8);

impl Held {
    fn new(dev: u8) -> Self {
        set_disposition(dev, Disposition::Hold);
        Self(dev)
    }

    /// Waits for the driver's fault and returns it.
    #[track_caller]
    fn fault(&self) -> FaultInfo {
        let index = driver_index(self.0);
        match wait_until_faulted(index) {
            TaskState::Faulted { fault, .. } => fault,
            s => panic!("driver {index}: faulted, then {s:?}"),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        set_disposition(self.0, Disposition::Restart);
    }
}

/// Waits until `dev` is bound to its driver's live incarnation (other
/// than `not`); returns it.
#[track_caller]
fn wait_bound(dev: u8, not: Option<TaskId>) -> TaskId {
    for _ in 0..WAIT_MS {
        let info = mgr().info(dev);
        if let Ok(info) = info
            && let Some(t) = info.driver_task()
            && Some(t) != not
            && t == driver_id(dev)
            && !kipc::read_task_status(t.index()).is_faulted()
        {
            return t;
        }
        hl::sleep_for(1);
    }
    panic!("device {dev} never bound");
}

fn state(dev: u8) -> FpgaState {
    Device::new(&mgr(), dev)
        .state()
        .unwrap_or(FpgaState::Unknown)
}

fn hardware(dev: u8) -> Result<FpgaState, FpgaError> {
    let raw = mgr().hardware_state(dev)?;
    Ok(FpgaState::try_from(raw).unwrap_or(FpgaState::Unknown))
}

/// Checks that `dev` is configured: the manager says `OPERATING` and so
/// do the device's own pins (CDONE / DONE, read by the driver now).
#[track_caller]
fn expect_operating(dev: u8) {
    expect_eq!(state(dev), FpgaState::Operating);
    expect_eq!(hardware(dev), Ok(FpgaState::Operating));
    expect_eq!(mgr().status(dev), Ok(0));
}

/// Locks `dev`, loads `img` whole, checks the result, releases.
#[track_caller]
fn load_whole(dev: u8, img: &[u8]) -> Result<(), FpgaError> {
    let m = mgr();
    let lock = Device::new(&m, dev).lock().expect("lock");
    lock.load(img, 0, TIMEOUT_MS)
}

/// A fresh load of `img` works and leaves `dev` configured.
#[track_caller]
fn expect_good_load(dev: u8, img: &[u8]) {
    expect_eq!(load_whole(dev, img), Ok(()));
    expect_operating(dev);
}

/// The device's op log: records and the number of calls.
fn op_log(dev: u8) -> ([OpRecord; 64], usize, usize) {
    let mut buf = [0u8; 64 * 8];
    let count = mgr().op_log(dev, &mut buf).expect("op_log") as usize;
    let mut records = [OpRecord::default(); 64];
    for (r, chunk) in records.iter_mut().zip(buf.chunks_exact(8)) {
        *r = OpRecord::read_from_bytes(chunk).unwrap_or_default();
    }
    (records, count.min(64), count)
}

/// Linux's fpga_mgr_test_img_load_* asserts on a load's op log: every
/// parse_header ran in PARSE_HEADER with a strictly growing window (the
/// grow loop), then write_init in WRITE_INIT with the header, the writes
/// in WRITE carrying exactly the data (`data_len` bytes in total: the
/// header skipped, `data_size` honoured), write_complete last in
/// WRITE_COMPLETE, each called right after the one before. Returns the
/// number of writes.
#[track_caller]
fn expect_load_sequence(dev: u8, header_len: u32, data_len: u32) -> usize {
    expect_sequence(dev, header_len, data_len, true)
}

/// [`expect_load_sequence`], where `grows` says whether the parse
/// windows must grow throughout (not when a stream's first chunks were
/// refused: each try starts again from the first window).
#[track_caller]
fn expect_sequence(
    dev: u8,
    header_len: u32,
    data_len: u32,
    grows: bool,
) -> usize {
    let (records, n, count) = op_log(dev);
    expect_eq!(n, count);
    let records = &records[..n];
    let parses = records
        .iter()
        .take_while(|r| r.op == op::PARSE_HEADER)
        .count();
    expect!(parses >= 1, "no parse_header in {records:?}");
    let mut last = None;
    for r in &records[..parses] {
        expect_eq!(r.state(), FpgaState::ParseHeader);
        expect!(
            !grows || last < Some(r.len),
            "header window did not grow: {r:?}"
        );
        last = Some(r.len);
    }
    let init = &records[parses];
    expect_eq!(
        (init.op, init.state()),
        (op::WRITE_INIT, FpgaState::WriteInit)
    );
    expect_eq!(init.len, header_len);
    let writes = &records[parses + 1..n - 1];
    expect!(!writes.is_empty(), "no write in {records:?}");
    let mut sent = 0;
    for w in writes {
        expect_eq!((w.op, w.state()), (op::WRITE, FpgaState::Write));
        sent += w.len;
    }
    expect_eq!(sent, data_len);
    let done = &records[n - 1];
    expect_eq!(
        (done.op, done.state()),
        (op::WRITE_COMPLETE, FpgaState::WriteComplete)
    );
    writes.len()
}

/// The xc7 `.bit`'s header and data sizes (from its header).
fn xc7_bit_sizes() -> (u32, u32) {
    let bit = image(XC7);
    let data = blob!(xc7_bin).len() as u32;
    (bit.len() as u32 - data, data)
}

/// Scratch memory for images built at test time; one user at a time.
static mut SCRATCH: [u8; 40 * 1024] = [0; 40 * 1024];

/// `len` bytes of scratch, zeroed. Cases are sequential and never hold
/// two, so the `&mut` is unique.
fn scratch(len: usize) -> &'static mut [u8] {
    // Safety: see above; single-threaded task.
    let all: &'static mut [u8; 40 * 1024] =
        unsafe { &mut *core::ptr::addr_of_mut!(SCRATCH) };
    let s = &mut all[..len];
    s.fill(0);
    s
}

/// A copy of `img` in scratch memory.
fn copy_of(img: &[u8]) -> &'static mut [u8] {
    let s = scratch(img.len());
    s.copy_from_slice(img);
    s
}

/// `magic` followed by `img`, in scratch memory.
fn behind_magic(magic: &[u8; 16], img: &[u8]) -> &'static [u8] {
    let s = scratch(16 + img.len());
    s[..16].copy_from_slice(magic);
    s[16..].copy_from_slice(img);
    s
}

/// Both devices' recorded and pin states, to show that a case left the
/// other device alone.
fn snapshot(dev: u8) -> (FpgaState, Result<FpgaState, FpgaError>) {
    (state(dev), hardware(dev))
}

// ---------------------------------------------------------------------
// Linux's KUnit cases (drivers/fpga/tests/)

/// fpga_mgr_test_get: `fpga_mgr_get(dev)` returns the registered
/// manager. Here: each device is the configured one, bound to the
/// configured driver task's live incarnation.
fn fpga_mgr_test_get() {
    for (dev, name, driver) in [
        (ICE40, "ice40", "ice40-spi"),
        (XC7, "xc7", "xc7-spi"),
        (ECP5, "ecp5", "ecp5-spi"),
        (ECP5_85, "ecp5_85", "ecp5-spi"),
    ] {
        let info = mgr().info(dev).expect("info");
        expect_eq!(info.name(), name);
        expect_eq!(info.driver_name(), driver);
        expect_eq!(info.driver_task(), Some(driver_id(dev)));
        expect_eq!(
            info.driver_task().map(|t| t.index()),
            Some(driver_index(dev))
        );
    }
}

/// fpga_mgr_test_lock: the first lock works, the second is -EBUSY.
fn fpga_mgr_test_lock() {
    let m = mgr();
    let dev = Device::new(&m, ICE40);
    let lock = dev.lock().expect("first lock");
    expect_eq!(dev.lock().err(), Some(FpgaError::AlreadyLocked));
    drop(lock);
    // Unlocked: it can be taken again.
    drop(dev.lock().expect("lock after unlock"));
}

/// fpga_mgr_test_img_load_buf: a whole image (Linux's buf path) loads;
/// the ops see PARSE_HEADER, WRITE_INIT, WRITE, WRITE_COMPLETE in order
/// (write_init = parse + 1, ...); the header reaches write_init and only
/// the data reaches write (header_match, image_match). The Artix-7 `.bit`
/// has both a header to skip and a data_size; the iCE40 neither.
fn fpga_mgr_test_img_load_buf() {
    let (header, data) = xc7_bit_sizes();
    expect_eq!(load_whole(XC7, image(XC7)), Ok(()));
    expect_eq!(expect_load_sequence(XC7, header, data), 1);
    expect_operating(XC7);

    let img = image(ICE40);
    expect_eq!(load_whole(ICE40, img), Ok(()));
    expect_eq!(expect_load_sequence(ICE40, 0, img.len() as u32), 1);
    expect_operating(ICE40);
}

/// fpga_mgr_test_img_load_sgt: the same image as a one-entry sg table;
/// here a streamed load of one chunk. Same states and order, the data
/// in one write.
fn fpga_mgr_test_img_load_sgt() {
    let (header, data) = xc7_bit_sizes();
    let img = image(XC7);
    let m = mgr();
    let lock = Device::new(&m, XC7).lock().expect("lock");
    let mut load = lock.stream(0, img.len() as u32, TIMEOUT_MS).expect("begin");
    expect_eq!(load.chunk(img), Ok(()));
    expect_eq!(load.finish(), Ok(()));
    drop(lock);
    expect_eq!(expect_load_sequence(XC7, header, data), 1);
    expect_operating(XC7);
}

/// fpga_bridge_test_get: a get returns the bridge; a second get is -EBUSY
/// (exclusive), from its holder as from anyone else.
fn fpga_bridge_test_get() {
    let m = mgr();
    expect_eq!(m.bridge_get(0), Ok(()));
    expect_eq!(m.bridge_get(0), Err(FpgaError::AlreadyLocked));
    let busy = FpgaError::AlreadyLocked as u32;
    expect_eq!(client(ClientOp::BridgeGet, &[0]), busy);
    expect_eq!(m.bridge_state(0), Ok(true));
    expect_eq!(m.bridge_put(0), Ok(()));
    expect_eq!(m.bridge_put(0), Err(FpgaError::NotLocked));
    // Put, it is anyone's.
    expect_eq!(client(ClientOp::BridgeGet, &[0]), 0);
    expect_eq!(m.bridge_get(0), Err(FpgaError::AlreadyLocked));
    expect_eq!(client(ClientOp::BridgePut, &[0]), 0);
}

/// fpga_bridge_test_toggle: disable, then enable.
fn fpga_bridge_test_toggle() {
    let m = mgr();
    expect_eq!(m.bridge_get(0), Ok(()));
    expect_eq!(m.bridge_disable(0), Ok(()));
    expect_eq!(m.bridge_state(0), Ok(false));
    expect_eq!(m.bridge_enable(0), Ok(()));
    expect_eq!(m.bridge_state(0), Ok(true));
    expect_eq!(m.bridge_put(0), Ok(()));
}

/// fpga_bridge_test_get_put_list: two bridges got into a list (head
/// insertion, as `list_add`), disabled and enabled as a list, put.
fn fpga_bridge_test_get_put_list() {
    let m = mgr();
    let mut list = [0u8; 2];
    let mut len = 0;
    for b in [0u8, 1] {
        expect_eq!(m.bridge_get(b), Ok(()));
        list.copy_within(0..len, 1);
        list[0] = b;
        len += 1;
        expect_eq!(list[0], b);
    }
    expect_eq!(list, [1, 0]);
    // fpga_bridges_disable / enable walk the list.
    for &b in &list[..len] {
        expect_eq!(m.bridge_disable(b), Ok(()));
    }
    expect_eq!(
        (m.bridge_state(0), m.bridge_state(1)),
        (Ok(false), Ok(false))
    );
    for &b in &list[..len] {
        expect_eq!(m.bridge_enable(b), Ok(()));
    }
    expect_eq!((m.bridge_state(0), m.bridge_state(1)), (Ok(true), Ok(true)));
    // fpga_bridges_put: each put, the list empty; anyone may get them now.
    for &b in &list[..len] {
        expect_eq!(m.bridge_put(b), Ok(()));
    }
    for b in [0u8, 1] {
        expect_eq!(m.bridge_get(b), Ok(()));
        expect_eq!(m.bridge_put(b), Ok(()));
    }
}

/// fpga_region_test_class_find: the region is found (by its name).
fn fpga_region_test_class_find() {
    let m = mgr();
    expect_eq!(m.region_find(b"region0"), Ok(REGION_ICE40));
    expect_eq!(m.region_find(b"region1"), Ok(REGION_XC7));
    expect_eq!(m.region_find(b"region9"), Err(FpgaError::BadRegion));
    expect_eq!(m.region_find(b""), Err(FpgaError::BadRegion));
}

/// fpga_region_test_program_fpga: programming the region loads the
/// device once (write_count 1, then 2) and cycles its bridge once per
/// program (cycles_count 1, then 2). We reset the device first each time,
/// so that `OPERATING` afterwards can only come from the load.
fn fpga_region_test_program_fpga() {
    let m = mgr();
    let img = image(ICE40);
    let cycles = m.bridge_cycles(0).expect("cycles");
    for round in 1..=2u32 {
        {
            let lock = Device::new(&m, ICE40).lock().expect("lock");
            expect_eq!(lock.reset(), Ok(()));
        }
        expect_eq!(state(ICE40), FpgaState::Reset);
        expect_eq!(hardware(ICE40), Ok(FpgaState::Unknown));
        expect_eq!(m.region_program(REGION_ICE40, 0, TIMEOUT_MS, img), Ok(()));
        let writes = expect_load_sequence(ICE40, 0, img.len() as u32);
        expect_eq!(writes, 1);
        expect_eq!(m.bridge_cycles(0), Ok(cycles + round));
        expect_eq!(m.bridge_state(0), Ok(true));
        expect_operating(ICE40);
        // The region holds neither the lock nor the bridge afterwards.
        drop(Device::new(&m, ICE40).lock().expect("lock after program"));
        expect_eq!(m.bridge_get(0), Ok(()));
        expect_eq!(m.bridge_put(0), Ok(()));
    }
}

// ---------------------------------------------------------------------
// What Linux never tested

/// The driver is unbound (`remove`, Linux's fpga_mgr_unregister) while
/// we hold the device: our next ops fail at once with NoDriver, nothing
/// blocks, and a new incarnation of the driver is bound and loads.
fn test_unregister_while_held() {
    let m = mgr();
    let dev = Device::new(&m, ICE40);
    let old = wait_bound(ICE40, None);
    let lock = dev.lock().expect("lock");
    expect_eq!(lock.remove(), Ok(()));
    let info = dev.info().expect("info");
    expect_eq!(info.bound, 0);
    expect_eq!(
        lock.load(image(ICE40), 0, TIMEOUT_MS),
        Err(FpgaError::NoDriver)
    );
    expect_eq!(
        lock.stream(0, 100, TIMEOUT_MS).err(),
        Some(FpgaError::NoDriver)
    );
    expect_eq!(lock.reset(), Err(FpgaError::NoDriver));
    expect_eq!(dev.status(), Err(FpgaError::NoDriver));
    expect_eq!(hardware(ICE40), Err(FpgaError::NoDriver));
    expect_eq!(lock.remove(), Err(FpgaError::NoDriver));
    // The removed incarnation is never bound again, even if it announces.
    hl::sleep_for(50);
    expect_eq!(dev.info().map(|i| i.bound), Ok(0));
    // A restarted driver is bound anew; we still hold the lock.
    kipc::fault_task(driver_index(ICE40));
    let new = wait_bound(ICE40, Some(old));
    expect!(new.generation() != old.generation(), "same generation");
    expect_eq!(lock.load(image(ICE40), 0, TIMEOUT_MS), Ok(()));
    drop(lock);
    expect_operating(ICE40);
}

/// Each step failing in turn leaves the state at its own `*_ERR`:
/// parse_header (a byte-swapped `.bin`), write_init (the driver dies in
/// it; neither device offers another way to fail it), write (the stream
/// outruns its image, or ends short), write_complete (a bad CRC).
fn test_op_failure_states() {
    let m = mgr();
    // PARSE_HEADER_ERR.
    expect_eq!(
        load_whole(XC7, blob!(xc7_swapped)),
        Err(FpgaError::HeaderInvalid)
    );
    expect_eq!(state(XC7), FpgaState::ParseHeaderErr);
    expect_good_load(XC7, image(XC7));

    // WRITE_INIT_ERR: covered with its counted injection below.
    driver_dies_in_write_init();

    // WRITE_ERR: more bytes than announced, and fewer.
    let img = image(ICE40);
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        let mut load = lock.stream(0, 1000, TIMEOUT_MS).expect("begin");
        expect_eq!(load.chunk(&img[..1001]), Err(FpgaError::DataOutrunsImage));
        drop(load);
        expect_eq!(state(ICE40), FpgaState::WriteErr);
        let mut load = lock.stream(0, 2000, TIMEOUT_MS).expect("begin");
        expect_eq!(load.chunk(&img[..1000]), Ok(()));
        expect_eq!(load.finish(), Err(FpgaError::ImageIncomplete));
        expect_eq!(state(ICE40), FpgaState::WriteErr);
    }
    expect_good_load(ICE40, img);

    // WRITE_COMPLETE_ERR.
    let bad = copy_of(img);
    bad[img.len() / 2] ^= 0x5A;
    expect_eq!(load_whole(ICE40, bad), Err(FpgaError::WriteCompleteFailed));
    expect_eq!(state(ICE40), FpgaState::WriteCompleteErr);
    expect_eq!(m.status(ICE40), Ok(status::OPERATION_ERR));
    expect_good_load(ICE40, img);
}

/// Linux's grow loop: parse_header asks for more until it has the whole
/// header, each request strictly larger. The `.bit` header does not fit
/// the driver's first 64 bytes; a `.bin` behind 304 bytes of padding
/// makes the driver look for its sync word in 64, 128, 256, 512 bytes.
fn test_parse_header_grow() {
    let m = mgr();
    let bit = image(XC7);
    let (header, data) = xc7_bit_sizes();
    // Streamed: a first chunk shorter than the header is refused, with
    // the size the driver asked for; nothing reaches the device.
    {
        let lock = Device::new(&m, XC7).lock().expect("lock");
        let mut load =
            lock.stream(0, bit.len() as u32, TIMEOUT_MS).expect("begin");
        expect_eq!(load.first_chunk_min(), 64);
        let mut first = 64usize;
        let mut asks = 0;
        loop {
            match load.chunk(&bit[..first]) {
                Ok(()) => break,
                Err(FpgaError::FirstChunkTooShort) => {
                    let needed = load.header_needed().expect("needed") as usize;
                    expect!(needed > first, "{needed} does not grow {first}");
                    first = needed;
                    asks += 1;
                }
                Err(e) => panic!("first chunk: {e:?}"),
            }
        }
        expect!(asks >= 1, "the header fit 64 bytes");
        expect_eq!(first as u32, header);
        for chunk in bit[first..].chunks(4096) {
            expect_eq!(load.chunk(chunk), Ok(()));
        }
        expect_eq!(load.finish(), Ok(()));
    }
    expect_sequence(XC7, header, data, false);
    expect_operating(XC7);

    // Whole image: the manager grows the window itself.
    let bin = blob!(xc7_bin);
    let padded = scratch(304 + bin.len());
    padded[..304].fill(0xFF);
    padded[304..].copy_from_slice(bin);
    expect_eq!(load_whole(XC7, padded), Ok(()));
    let (records, n, _) = op_log(XC7);
    let lens: [u32; 4] = core::array::from_fn(|i| records[i].len);
    expect_eq!(lens, [64, 128, 256, 512]);
    expect_eq!(records[4].op, op::WRITE_INIT);
    expect!(n == 7, "{n} calls");
    expect_load_sequence(XC7, 0, padded.len() as u32);
    expect_operating(XC7);
}

/// Linux's sg path without write_sg: one write per fragment. A stream of
/// many chunks reaches the driver as one write each (minus the header on
/// the Artix-7, whose first chunk must hold it).
fn test_per_fragment_write() {
    let m = mgr();
    let img = image(ICE40);
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        expect_eq!(lock.load_in_chunks(img, 1000, 0, TIMEOUT_MS), Ok(()));
    }
    let chunks = img.len().div_ceil(1000);
    expect_eq!(expect_load_sequence(ICE40, 0, img.len() as u32), chunks);
    expect_operating(ICE40);

    let bit = image(XC7);
    let (header, data) = xc7_bit_sizes();
    {
        let lock = Device::new(&m, XC7).lock().expect("lock");
        expect_eq!(lock.load_in_chunks(bit, 997, 0, TIMEOUT_MS), Ok(()));
    }
    // The first chunk is the header (and a little data); then 997 each.
    let writes = expect_load_sequence(XC7, header, data);
    let first = (header as usize).max(997);
    let expected = 1 + (bit.len() - first).div_ceil(997);
    expect_eq!(writes, expected);
    expect_operating(XC7);
}

/// A bridge that fails: region_program fails with BridgeFailed, the
/// bridges already disabled stay disabled, nothing is loaded. A load that
/// fails inside a region program leaves the bridges disabled and the
/// device's *_ERR state. Then everything works again.
fn test_bridge_failure() {
    let m = mgr();
    let good = image(XC7);
    let before = snapshot(XC7);
    let calls = op_log(XC7).2;
    expect_eq!(m.bridge_set_fault(2, true), Ok(()));
    expect_eq!(
        m.region_program(REGION_XC7, 0, TIMEOUT_MS, good),
        Err(FpgaError::BridgeFailed)
    );
    expect_eq!(m.bridge_state(1), Ok(false));
    expect_eq!(m.bridge_state(2), Ok(true));
    expect_eq!(snapshot(XC7), before);
    expect_eq!(op_log(XC7).2, calls);
    // The region did not keep the lock.
    drop(Device::new(&m, XC7).lock().expect("lock"));
    expect_eq!(m.bridge_set_fault(2, false), Ok(()));

    // A bridge someone else holds: -EBUSY before anything changes.
    expect_eq!(m.bridge_enable(1), Ok(()));
    expect_eq!(client(ClientOp::BridgeGet, &[2]), 0);
    expect_eq!(
        m.region_program(REGION_XC7, 0, TIMEOUT_MS, good),
        Err(FpgaError::AlreadyLocked)
    );
    expect_eq!(m.bridge_disable(2), Err(FpgaError::AlreadyLocked));
    expect_eq!((m.bridge_state(1), m.bridge_state(2)), (Ok(true), Ok(true)));
    expect_eq!(snapshot(XC7), before);
    expect_eq!(client(ClientOp::BridgePut, &[2]), 0);

    // The load fails: bridges stay disabled, the state says where.
    let bad = copy_of(good);
    bad[good.len() / 2] ^= 0x01;
    expect_eq!(
        m.region_program(REGION_XC7, 0, TIMEOUT_MS, bad),
        Err(FpgaError::WriteCompleteFailed)
    );
    expect_eq!(
        (m.bridge_state(1), m.bridge_state(2)),
        (Ok(false), Ok(false))
    );
    expect_eq!(state(XC7), FpgaState::WriteCompleteErr);

    expect_eq!(m.region_program(REGION_XC7, 0, TIMEOUT_MS, good), Ok(()));
    expect_eq!((m.bridge_state(1), m.bridge_state(2)), (Ok(true), Ok(true)));
    expect_operating(XC7);
}

// ---------------------------------------------------------------------
// Lifetime

/// Arms a fault at the `nth` next syscall of `dev`'s driver, once it
/// waits for work.
fn inject(dev: u8, nth: u32) {
    let index = driver_index(dev);
    wait_for_state(index, WAITING_FOR_WORK);
    kipc::inject_at_syscall(index, nth, InjectionAction::Fault);
}

/// After a driver death: the client got DriverDied at once, the state
/// shows the step; the driver restarts and is bound anew, and a fresh
/// load of the same image works.
#[track_caller]
fn expect_rebound_and_loading(dev: u8, held: Held, old: TaskId) {
    drop(held);
    wait_bound(dev, Some(old));
    expect_good_load(dev, image(dev));
}

/// The Artix-7 driver dies at the first syscall of write_init. Which
/// syscall that is we count: a refused 64-byte first chunk costs exactly
/// one parse_header, and the op log of a good load says how many
/// parse_headers come before write_init.
fn driver_dies_in_write_init() {
    let m = mgr();
    let img = image(XC7);
    let old = wait_bound(XC7, None);
    let held = Held::new(XC7);
    let index = driver_index(XC7);
    let lock = Device::new(&m, XC7).lock().expect("lock");
    expect_eq!(lock.load(img, 0, TIMEOUT_MS), Ok(()));
    let (records, n, _) = op_log(XC7);
    let parses = records[..n]
        .iter()
        .filter(|r| r.op == op::PARSE_HEADER)
        .count() as u32;
    let per_parse = {
        let mut load =
            lock.stream(0, img.len() as u32, TIMEOUT_MS).expect("begin");
        wait_for_state(index, WAITING_FOR_WORK);
        let before = kipc::read_syscall_count(index);
        expect_eq!(load.chunk(&img[..64]), Err(FpgaError::FirstChunkTooShort));
        wait_for_state(index, WAITING_FOR_WORK);
        kipc::read_syscall_count(index) - before
    };
    inject(XC7, parses * per_parse + 1);
    expect_eq!(lock.load(img, 0, TIMEOUT_MS), Err(FpgaError::DriverDied));
    expect_eq!(state(XC7), FpgaState::WriteInitErr);
    let (records, n, _) = op_log(XC7);
    expect_eq!(records[n - 1].op, op::WRITE_INIT);
    expect_eq!(held.fault(), FaultInfo::Injected(me()));
    expect_eq!(lock.load(img, 0, TIMEOUT_MS), Err(FpgaError::NoDriver));
    drop(lock);
    expect_rebound_and_loading(XC7, held, old);
}

fn test_driver_dies_in_write_init() {
    driver_dies_in_write_init();
}

/// The iCE40 driver dies at the first syscall of a write (the second
/// chunk of a stream).
fn test_driver_dies_in_write() {
    let m = mgr();
    let img = image(ICE40);
    let old = wait_bound(ICE40, None);
    let held = Held::new(ICE40);
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        let mut load =
            lock.stream(0, img.len() as u32, TIMEOUT_MS).expect("begin");
        expect_eq!(load.chunk(&img[..4096]), Ok(()));
        inject(ICE40, 1);
        expect_eq!(load.chunk(&img[4096..8192]), Err(FpgaError::DriverDied));
        expect_eq!(state(ICE40), FpgaState::WriteErr);
        expect_eq!(held.fault(), FaultInfo::Injected(me()));
        // The stream is over; the lock is still ours.
        expect_eq!(load.chunk(&img[8192..]), Err(FpgaError::NoDriver));
    }
    expect_rebound_and_loading(ICE40, held, old);
}

/// The iCE40 driver dies at the first syscall of write_complete.
fn test_driver_dies_in_write_complete() {
    let m = mgr();
    let img = image(ICE40);
    let old = wait_bound(ICE40, None);
    let held = Held::new(ICE40);
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        let mut load =
            lock.stream(0, img.len() as u32, TIMEOUT_MS).expect("begin");
        for chunk in img.chunks(8192) {
            expect_eq!(load.chunk(chunk), Ok(()));
        }
        inject(ICE40, 1);
        expect_eq!(load.finish(), Err(FpgaError::DriverDied));
        expect_eq!(state(ICE40), FpgaState::WriteCompleteErr);
        expect_eq!(held.fault(), FaultInfo::Injected(me()));
    }
    expect_rebound_and_loading(ICE40, held, old);
}

/// The iCE40 driver's SPI grant is revoked between two chunks: its next
/// access faults it (PeripheralGrantRevoked), we get DriverDied, and its
/// restarted incarnation gets the grant back when it is bound.
fn test_driver_revoked_mid_load() {
    let m = mgr();
    let img = image(ICE40);
    let old = wait_bound(ICE40, None);
    let held = Held::new(ICE40);
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        let mut load =
            lock.stream(0, img.len() as u32, TIMEOUT_MS).expect("begin");
        expect_eq!(load.chunk(&img[..4096]), Ok(()));
        kipc::revoke_peripheral(peripherals::SPI_ICE40);
        expect_eq!(load.chunk(&img[4096..]), Err(FpgaError::DriverDied));
        expect_eq!(state(ICE40), FpgaState::WriteErr);
        expect_eq!(
            held.fault(),
            FaultInfo::SyscallUsage(UsageError::PeripheralGrantRevoked)
        );
    }
    expect_rebound_and_loading(ICE40, held, old);
}

/// The client helper dies while the driver holds its forwarded lease (the
/// driver's test hook sleeps in write before streaming): the lease is
/// revoked, the driver finds it gone and puts the device in reset, the
/// state is WRITE_ERR, the lock is released, and the driver lives on.
fn test_client_dies_mid_load() {
    let m = mgr();
    let drv = wait_bound(ICE40, None);
    wait_for_state(tasks::CLIENT, WAITING_FOR_WORK);
    let args = [ICE40 as u32, ClientImage::Ice40Slow as u32, 0, TIMEOUT_MS];
    expect_eq!(client(ClientOp::Load, &args), 0);
    // Wait for the slow write's sleep: the manager waits on the driver,
    // which sleeps, and stays asleep (no syscall) for 20 ms, longer than
    // any sleep of write_init.
    let mgr_waiting = TaskState::Healthy(SchedState::InReply(drv));
    let asleep = || {
        kipc::read_task_status(drv.index()) == SLEEPING
            && kipc::read_task_status(tasks::FPGA_MGR) == mgr_waiting
    };
    let mut found = false;
    for _ in 0..WAIT_MS {
        if asleep() {
            let count = kipc::read_syscall_count(drv.index());
            hl::sleep_for(20);
            if asleep() && kipc::read_syscall_count(drv.index()) == count {
                found = true;
                break;
            }
        }
        hl::sleep_for(1);
    }
    expect!(found, "the driver never slept in write");
    kipc::fault_task(tasks::CLIENT);
    // The manager answers again once the driver gave up the write.
    expect_eq!(state(ICE40), FpgaState::WriteErr);
    let (records, n, _) = op_log(ICE40);
    expect_eq!((records[n - 1].op, n), (op::WRITE, 3));
    expect_eq!(mgr().info(ICE40).map(|i| i.driver_task()), Ok(Some(drv)));
    expect!(
        !kipc::read_task_status(drv.index()).is_faulted(),
        "driver died"
    );
    // The device was put back in reset, CDONE low.
    expect_eq!(hardware(ICE40), Ok(FpgaState::Unknown));
    // The dead client's lock is gone.
    drop(Device::new(&m, ICE40).lock().expect("lock"));
    // A fresh load of the same image, by the restarted client.
    wait_for_state(tasks::CLIENT, WAITING_FOR_WORK);
    expect_eq!(client(ClientOp::Load, &args), 0);
    let mut result = NO_RESULT;
    for _ in 0..WAIT_MS {
        result = client(ClientOp::Result, &[]);
        if result != NO_RESULT {
            break;
        }
        hl::sleep_for(1);
    }
    expect_eq!(result, 0);
    expect_eq!(client(ClientOp::Release, &[ICE40 as u32]), 0);
    expect_operating(ICE40);
}

/// The lock's holder dies: the lock is free at once, and its restarted
/// incarnation does not inherit it.
fn test_lock_holder_dies() {
    let m = mgr();
    let dev = Device::new(&m, ICE40);
    wait_for_state(tasks::CLIENT, WAITING_FOR_WORK);
    expect_eq!(client(ClientOp::Lock, &[ICE40 as u32]), 0);
    expect_eq!(dev.lock().err(), Some(FpgaError::AlreadyLocked));
    kipc::fault_task(tasks::CLIENT);
    let lock = dev.lock().expect("lock after the holder died");
    wait_for_state(tasks::CLIENT, WAITING_FOR_WORK);
    let busy = FpgaError::AlreadyLocked as u32;
    expect_eq!(client(ClientOp::Lock, &[ICE40 as u32]), busy);
    expect_eq!(lock.load(image(ICE40), 0, TIMEOUT_MS), Ok(()));
    drop(lock);
    expect_operating(ICE40);
    expect_eq!(client(ClientOp::Lock, &[ICE40 as u32]), 0);
    expect_eq!(client(ClientOp::Release, &[ICE40 as u32]), 0);
}

/// The iCE40 driver hangs in write_complete (its test hook): jefe's
/// watchdog, armed by the manager with the load's deadline plus grace,
/// faults it; we get Timeout soon after the deadline, the driver is
/// restarted and bound anew, and the image (without the hook) loads.
fn test_driver_hangs_past_deadline() {
    const DEADLINE_MS: u32 = 500;
    let m = mgr();
    let img = image(ICE40);
    let old = wait_bound(ICE40, None);
    let held = Held::new(ICE40);
    let hang = behind_magic(&magic::HANG, img);
    {
        let lock = Device::new(&m, ICE40).lock().expect("lock");
        let start = sys_get_timer().now;
        expect_eq!(lock.load(hang, 0, DEADLINE_MS), Err(FpgaError::Timeout));
        let took = sys_get_timer().now - start;
        expect!(
            took >= u64::from(DEADLINE_MS) && took < 5_000,
            "Timeout after {took} ms"
        );
        expect_eq!(state(ICE40), FpgaState::WriteCompleteErr);
        expect_eq!(held.fault(), FaultInfo::Injected(JEFE.get_task_id()));
        expect_eq!(lock.load(img, 0, TIMEOUT_MS), Err(FpgaError::NoDriver));
    }
    expect_rebound_and_loading(ICE40, held, old);
}

// ---------------------------------------------------------------------
// Bad input: the device's own verdict, the device usable afterwards and
// the other device untouched.

/// Loads `bad` into `dev`, expecting `error` with state `WRITE_COMPLETE
/// _ERR`, status `bits`; then the good image loads and `other` is as it
/// was.
#[track_caller]
fn expect_rejected(
    dev: u8,
    bad: &[u8],
    timeout: u32,
    error: FpgaError,
    bits: u64,
) {
    let other = if dev == ICE40 { XC7 } else { ICE40 };
    let before = snapshot(other);
    let r = {
        let m = mgr();
        let lock = Device::new(&m, dev).lock().expect("lock");
        lock.load(bad, 0, timeout)
    };
    expect_eq!(r, Err(error));
    expect_eq!(state(dev), FpgaState::WriteCompleteErr);
    expect!(hardware(dev) != Ok(FpgaState::Operating), "configured");
    expect_eq!(mgr().status(dev), Ok(bits));
    expect_eq!(snapshot(other), before);
    expect_good_load(dev, image(dev));
    expect_eq!(snapshot(other), before);
}

fn test_ice40_bad_crc() {
    let img = image(ICE40);
    let bad = copy_of(img);
    bad[img.len() / 2] ^= 0x10;
    let e = FpgaError::WriteCompleteFailed;
    expect_rejected(ICE40, bad, TIMEOUT_MS, e, status::OPERATION_ERR);
}

fn test_ice40_truncated() {
    let img = image(ICE40);
    let e = FpgaError::WriteCompleteFailed;
    let half = &img[..img.len() / 2];
    expect_rejected(ICE40, half, TIMEOUT_MS, e, status::OPERATION_ERR);
    let most = &img[..img.len() - 64];
    expect_rejected(ICE40, most, TIMEOUT_MS, e, status::OPERATION_ERR);
}

/// HX8K and UP5K images on the HX1K.
fn test_ice40_wrong_device() {
    let e = FpgaError::WriteCompleteFailed;
    for img in [blob!(ice40_hx8k), blob!(ice40_up5k)] {
        expect_rejected(ICE40, img, TIMEOUT_MS, e, status::OPERATION_ERR);
    }
}

/// A flipped bit in the frame data: the CRC check fails, INIT_B low.
fn test_xc7_bad_crc() {
    let img = image(XC7);
    let bad = copy_of(img);
    bad[img.len() / 2] ^= 0x01;
    let e = FpgaError::WriteCompleteFailed;
    let bits = status::OPERATION_ERR | status::CRC_ERR;
    expect_rejected(XC7, bad, TIMEOUT_MS, e, bits);
}

/// Bad indices, bad flags and calls without the lock get clear errors
/// and change nothing.
fn test_bad_requests() {
    let m = mgr();
    let img = image(ICE40);
    let before = (snapshot(ICE40), snapshot(XC7));
    let none = ALL_DEVICES.len() as u8;
    expect_eq!(m.info(none).err(), Some(FpgaError::BadDevice));
    expect_eq!(m.state(200), Err(FpgaError::BadDevice));
    expect_eq!(m.lock(none), Err(FpgaError::BadDevice));
    expect_eq!(m.load(none, 0, 0, img), Err(FpgaError::BadDevice));
    expect_eq!(m.bridge_state(BRIDGES), Err(FpgaError::BadBridge));
    expect_eq!(m.bridge_get(BRIDGES), Err(FpgaError::BadBridge));
    expect_eq!(
        m.region_program(2, 0, TIMEOUT_MS, img),
        Err(FpgaError::BadRegion)
    );
    // Without the lock.
    expect_eq!(m.load(ICE40, 0, 0, img), Err(FpgaError::NotLocked));
    expect_eq!(m.load_begin(ICE40, 0, 10, 0), Err(FpgaError::NotLocked));
    expect_eq!(m.load_chunk(ICE40, img), Err(FpgaError::NotLocked));
    expect_eq!(m.load_end(ICE40), Err(FpgaError::NotLocked));
    expect_eq!(m.reset(ICE40), Err(FpgaError::NotLocked));
    expect_eq!(m.remove(ICE40), Err(FpgaError::NotLocked));
    expect_eq!(m.release(ICE40), Err(FpgaError::NotLocked));
    expect_eq!(m.bridge_put(0), Err(FpgaError::NotLocked));
    {
        // Someone else's lock is not ours.
        expect_eq!(client(ClientOp::Lock, &[XC7 as u32]), 0);
        expect_eq!(m.load(XC7, 0, 0, image(XC7)), Err(FpgaError::NotLocked));
        expect_eq!(m.release(XC7), Err(FpgaError::NotLocked));
        expect_eq!(client(ClientOp::Release, &[XC7 as u32]), 0);
    }
    let lock = Device::new(&m, ICE40).lock().expect("lock");
    // Flags Linux does not define, and one the iCE40 cannot do.
    for bad in [1 << 5, 1 << 31, flags::PARTIAL_RECONFIG] {
        expect_eq!(lock.load(img, bad, 0), Err(FpgaError::BadFlags));
        expect_eq!(lock.stream(bad, 10, 0).err(), Some(FpgaError::BadFlags));
    }
    // Out of order.
    expect_eq!(m.load_chunk(ICE40, img), Err(FpgaError::InvalidState));
    expect_eq!(m.load_end(ICE40), Err(FpgaError::InvalidState));
    expect_eq!(m.load_header_needed(ICE40), Err(FpgaError::InvalidState));
    expect_eq!(lock.load(&[], 0, 0), Err(FpgaError::InvalidState));
    expect_eq!(m.load_begin(ICE40, 0, 0, 0), Err(FpgaError::InvalidState));
    expect_eq!(m.load_begin(ICE40, 0, 10, 0), Ok(0));
    expect_eq!(m.load_begin(ICE40, 0, 10, 0), Err(FpgaError::InvalidState));
    expect_eq!(lock.load(img, 0, 0), Err(FpgaError::InvalidState));
    expect_eq!(m.load_abort(ICE40), Ok(()));
    drop(lock);
    expect_eq!((snapshot(ICE40), snapshot(XC7)), before);
    expect_good_load(ICE40, img);
}
