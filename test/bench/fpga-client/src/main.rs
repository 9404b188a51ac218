//! `cargo xtask bench fpga` (test/bench/fpga.toml): loads through client,
//! manager, driver and device model, and what a driver's death costs.
//!
//! 1. Builds a 30 MiB Xilinx 7-series stream for the XC7A35T in RAM with
//!    `fpga-bitstream`'s `StreamBuilder` (valid UG470: sync, IDCODE,
//!    ~79,000 frames in type-2 FDRI writes of one 35T array each, CRC,
//!    START, DESYNC), so the device model checks every word of it.
//! 2. Loads it whole, several times (`xc7_load_30mib`, end to end: parse
//!    the header, write_init with its PROGRAM_B pulse and 7.5 ms program
//!    latency, the write, write_complete), and streamed with the data in
//!    one chunk timed alone (`xc7_data_30mib`, the write path only).
//! 3. Loads the real Vivado XC7A35T stream whole, end to end
//!    (`xc7_load_vivado`), the real ecppack LFE5U-85F image through the
//!    ECP5 slave-SPI driver (`ecp5_load_85f`), and the real iCE40 blinky
//!    image (`ice40_load_blinky`).
//! 4. Copies the 30 MiB in our own RAM (`memcpy_30mib_task`).
//! 5. Kills the xc7 driver at its first syscall inside a streamed load's
//!    third chunk (after write_init and 1 MiB of data) and times, from
//!    the call that kills it, the client's `DriverDied`
//!    (`driver_death_to_error`), the manager binding the restarted driver
//!    (`driver_death_to_rebound`) and the next successful load of the
//!    blinky image (`driver_death_to_next_load`).
//!
//! Times come from the TSC (an instruction, not a syscall), calibrated
//! against the kernel's millisecond timer. Each figure is printed as
//! `bench <name> <median ns> <min ns> <max ns>`; sizes as `bench
//! size_<name> <bytes> <bytes> <bytes>`. Then we shut the system down.

#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use drv_fpga_api::{
    BENCH_SKIP_DIGEST, BENCH_SOFTWARE_DIGEST, Device, DeviceLock, FpgaError,
    FpgaManager,
};
use fpga_bitstream::xc7::{FRAME_WORDS, StreamBuilder, XC7A35T};
use sha256_accel::Sha256;
use userlib::*;

task_slot!(FPGA_MGR, fpga_mgr);

mod tasks {
    include!(concat!(env!("OUT_DIR"), "/tasks.rs"));
}

/// The stream is at most this long; frames fill it but for the packets.
const STREAM_MAX: usize = 30 << 20;
const FRAMES: usize = (STREAM_MAX - 4096) / (FRAME_WORDS * 4);
const FRAME_DATA_WORDS: usize = FRAMES * FRAME_WORDS;
const LOADS: usize = 7;
const ICE40_LOADS: usize = 15;
const DEATHS: usize = 5;
/// Hashed/not-hashed pairs of the real images (short loads: more pairs
/// for a steadier median on a busy host).
const MAX_PAIRS: usize = 15;
const TIMEOUT_MS: u32 = 10_000;

/// Our big buffers, in .bss (the kernel hands us zeroed RAM).
struct Big {
    frames: UnsafeCell<[u32; FRAME_DATA_WORDS]>,
    stream: UnsafeCell<[u8; STREAM_MAX]>,
}

// Safety: one thread; `main` takes each buffer once.
unsafe impl Sync for Big {}

static BIG: Big = Big {
    frames: UnsafeCell::new([0; FRAME_DATA_WORDS]),
    stream: UnsafeCell::new([0; STREAM_MAX]),
};

fn say(args: core::fmt::Arguments<'_>) {
    kipc::console_fmt(args);
}

fn fail(what: &str, e: FpgaError) -> ! {
    say(format_args!("bench failed: {what}: {e:?}"));
    kipc::shutdown(1);
    loop {
        sys_recv_notification(0);
    }
}

fn tsc() -> u64 {
    // Safety: RDTSC has no preconditions; user mode may run it on Linux.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// TSC ticks per microsecond, measured over ~100 ms of the kernel's
/// millisecond timer, from tick edge to tick edge.
fn calibrate_tsc() -> u64 {
    let edge = || {
        let t = sys_get_timer().now;
        loop {
            let now = sys_get_timer().now;
            if now != t {
                return (now, tsc());
            }
        }
    };
    let (ms0, t0) = edge();
    hl::sleep_for(99);
    let (ms1, t1) = edge();
    ((t1 - t0) / (ms1 - ms0).max(1) / 1000).max(1)
}

struct Clock {
    per_us: u64,
}

impl Clock {
    fn ns(&self, ticks: u64) -> u64 {
        ticks * 1000 / self.per_us
    }
}

fn report(name: &str, samples: &mut [u64]) {
    samples.sort_unstable();
    say(format_args!(
        "bench {name} {} {} {}",
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1]
    ));
}

fn size(name: &str, n: usize) {
    say(format_args!("bench size_{name} {n} {n} {n}"));
}

/// Waits until the manager has a driver bound to `dev` other than
/// `not`; returns it.
fn wait_bound(dev: &Device<'_>, not: Option<TaskId>) -> TaskId {
    let deadline = sys_get_timer().now + 5_000;
    loop {
        if let Ok(info) = dev.info()
            && let Some(t) = info.driver_task()
            && Some(t) != not
        {
            return t;
        }
        if sys_get_timer().now > deadline {
            fail("driver never bound", FpgaError::NoDriver);
        }
    }
}

/// Streams `image` with the first chunk `first` bytes long, then the
/// rest in one chunk, returning the TSC ticks of that second chunk.
fn streamed(lock: &DeviceLock<'_>, image: &[u8], first: usize) -> u64 {
    let mut load = lock
        .stream(0, image.len() as u32, TIMEOUT_MS)
        .unwrap_or_else(|e| fail("load_begin", e));
    load.chunk(&image[..first])
        .unwrap_or_else(|e| fail("first chunk", e));
    let t0 = tsc();
    load.chunk(&image[first..])
        .unwrap_or_else(|e| fail("data chunk", e));
    let t1 = tsc();
    load.finish().unwrap_or_else(|e| fail("load_end", e));
    t1 - t0
}

/// Loads `image` whole `LOADS` times in triples: as every load runs (the
/// manager hashes it on the way, with the hash engine), with
/// `BENCH_SKIP_DIGEST` (the same load, not hashed) and with
/// `BENCH_SOFTWARE_DIGEST` (hashed by the manager itself, as without an
/// engine), in rotating order so that drift on a busy host falls on
/// all. Reports under `names`: the hashed load, the load without
/// hashing, per triple the hashed load's extra time as a share of it
/// (per mille), the software-hashed load and its share likewise.
fn with_and_without_digest(
    clock: &Clock,
    lock: &DeviceLock<'_>,
    image: &[u8],
    pairs: usize,
    names: [&str; 5],
) {
    let pairs = pairs.clamp(1, MAX_PAIRS);
    let mut hashed = [0u64; MAX_PAIRS];
    let mut plain = [0u64; MAX_PAIRS];
    let mut soft = [0u64; MAX_PAIRS];
    let mut share = [0u64; MAX_PAIRS];
    let mut soft_share = [0u64; MAX_PAIRS];
    let flags = [0, BENCH_SKIP_DIGEST, BENCH_SOFTWARE_DIGEST];
    for i in 0..pairs {
        let mut t = [0u64; 3];
        for k in 0..3 {
            let which = (i + k) % 3;
            let t0 = tsc();
            lock.load(image, flags[which], TIMEOUT_MS)
                .unwrap_or_else(|e| fail("load", e));
            t[which] = clock.ns(tsc() - t0);
        }
        [hashed[i], plain[i], soft[i]] = t;
        let extra = |with: u64| with.saturating_sub(t[1]) * 1000 / with.max(1);
        share[i] = extra(t[0]);
        soft_share[i] = extra(t[2]);
    }
    let [h, p, s, sw, sws] = names;
    report(h, &mut hashed[..pairs]);
    report(p, &mut plain[..pairs]);
    report(s, &mut share[..pairs]);
    report(sw, &mut soft[..pairs]);
    report(sws, &mut soft_share[..pairs]);
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let clock = Clock {
        per_us: calibrate_tsc(),
    };
    // Safety: the only references to BIG's buffers, taken once.
    let frames = unsafe { &mut *BIG.frames.get() };
    let buf = unsafe { &mut *BIG.stream.get() };
    let mut x: u32 = 0x2545_F491;
    for w in frames.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *w = x;
    }
    // More frames than the 35T has: written in passes from frame 0.
    let builder = StreamBuilder::new(XC7A35T.idcode, &frames[..])
        .unwrap_or_else(|_| fail("StreamBuilder", FpgaError::BadFlags))
        .frames_per_write(XC7A35T.frames() as usize);
    let mut len = 0;
    builder.write(&mut |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    });
    let stream: &[u8] = &buf[..len];
    size("xc7_stream", len);

    // memcpy of the same 30 MiB in our RAM (into the frame buffer, whose
    // job is done).
    let scratch = frames.as_mut_bytes_ish();
    let n = len.min(scratch.len());
    size("memcpy", n);
    let mut memcpy = [0u64; LOADS];
    for s in memcpy.iter_mut() {
        let t0 = tsc();
        scratch[..n].copy_from_slice(core::hint::black_box(&stream[..n]));
        core::hint::black_box(&mut scratch[..]);
        *s = clock.ns(tsc() - t0);
    }
    report("memcpy_30mib_task", &mut memcpy);

    // SHA-256 of the same 30 MiB with the manager's hash engine, in
    // pieces of its scratch buffer's size (the engine alone: no
    // BORROW_READ, no load).
    let mut hash = [0u64; LOADS];
    for s in hash.iter_mut() {
        let t0 = tsc();
        let mut h = Sha256::new();
        for piece in stream.chunks(256 * 1024) {
            h.update(core::hint::black_box(piece));
        }
        core::hint::black_box(h.finalize());
        *s = clock.ns(tsc() - t0);
    }
    report("sha256_30mib_task", &mut hash);

    let mgr = FpgaManager::from(FPGA_MGR.get_task_id());
    let ice40 = Device::new(&mgr, 0);
    let xc7 = Device::new(&mgr, 1);
    let ecp5 = Device::new(&mgr, 2);
    wait_bound(&ice40, None);
    wait_bound(&xc7, None);
    wait_bound(&ecp5, None);

    {
        let lock = xc7.lock().unwrap_or_else(|e| fail("lock xc7", e));
        with_and_without_digest(
            &clock,
            &lock,
            stream,
            LOADS,
            [
                "xc7_load_30mib",
                "xc7_load_30mib_nodigest",
                "xc7_digest_share_30mib",
                "xc7_load_30mib_software",
                "xc7_digest_share_30mib_software",
            ],
        );
        let mut data = [0u64; LOADS];
        for s in data.iter_mut() {
            *s = clock.ns(streamed(&lock, stream, 4096));
        }
        size("xc7_data", len - 4096);
        report("xc7_data_30mib", &mut data);
    }

    {
        // The real Vivado stream (test/bitstreams), whole `.bit`.
        let image = blob!(xc7_vivado);
        let lock = xc7.lock().unwrap_or_else(|e| fail("lock xc7", e));
        with_and_without_digest(
            &clock,
            &lock,
            image,
            MAX_PAIRS,
            [
                "xc7_load_vivado",
                "xc7_load_vivado_nodigest",
                "xc7_digest_share_vivado",
                "xc7_load_vivado_software",
                "xc7_digest_share_vivado_software",
            ],
        );
        size("xc7_vivado", image.len());
    }

    {
        // The real ecppack LFE5U-85F image (test/bitstreams), whole.
        let image = blob!(ecp5_85f);
        let lock = ecp5.lock().unwrap_or_else(|e| fail("lock ecp5", e));
        with_and_without_digest(
            &clock,
            &lock,
            image,
            MAX_PAIRS,
            [
                "ecp5_load_85f",
                "ecp5_load_85f_nodigest",
                "ecp5_digest_share_85f",
                "ecp5_load_85f_software",
                "ecp5_digest_share_85f_software",
            ],
        );
        size("ecp5_85f", image.len());
    }

    {
        let image = blob!(ice40_blinky);
        let lock = ice40.lock().unwrap_or_else(|e| fail("lock ice40", e));
        let mut t = [0u64; ICE40_LOADS];
        for s in t.iter_mut() {
            let t0 = tsc();
            lock.load(image, 0, TIMEOUT_MS)
                .unwrap_or_else(|e| fail("ice40 load", e));
            *s = clock.ns(tsc() - t0);
        }
        size("ice40_image", image.len());
        report("ice40_load_blinky", &mut t);
    }

    // The same image from our lease and by name from the firmware store
    // (the manager forwards the store's lease instead of ours).
    {
        let image = blob!(xc7_blinky);
        let lock = xc7.lock().unwrap_or_else(|e| fail("lock xc7", e));
        // The store offers its images once it has run.
        loop {
            match lock.load_by_name(b"xc7_store", 0, TIMEOUT_MS) {
                Ok(()) => break,
                Err(FpgaError::NoFirmwareStore) => hl::sleep_for(1),
                Err(e) => fail("load_by_name", e),
            }
        }
        let mut lease = [0u64; ICE40_LOADS];
        let mut named = [0u64; ICE40_LOADS];
        for i in 0..ICE40_LOADS {
            let t0 = tsc();
            lock.load(image, 0, TIMEOUT_MS)
                .unwrap_or_else(|e| fail("xc7 load", e));
            let t1 = tsc();
            lock.load_by_name(b"xc7_store", 0, TIMEOUT_MS)
                .unwrap_or_else(|e| fail("xc7 load_by_name", e));
            let t2 = tsc();
            lease[i] = clock.ns(t1 - t0);
            named[i] = clock.ns(t2 - t1);
        }
        size("xc7_blinky", image.len());
        report("xc7_blinky_lease", &mut lease);
        report("xc7_blinky_by_name", &mut named);
    }

    // A driver's death mid-load.
    let blinky = blob!(xc7_blinky);
    let mut to_error = [0u64; DEATHS];
    let mut to_rebound = [0u64; DEATHS];
    let mut to_load = [0u64; DEATHS];
    for i in 0..DEATHS {
        // Past jefe's restart throttle for a task that just started.
        hl::sleep_for(60);
        let old = wait_bound(&xc7, None);
        let lock = xc7.lock().unwrap_or_else(|e| fail("lock xc7", e));
        let mut load = lock
            .stream(0, stream.len() as u32, TIMEOUT_MS)
            .unwrap_or_else(|e| fail("load_begin", e));
        load.chunk(&stream[..4096])
            .unwrap_or_else(|e| fail("first chunk", e));
        load.chunk(&stream[4096..(1 << 20)])
            .unwrap_or_else(|e| fail("second chunk", e));
        // The driver dies at its first syscall serving the next write.
        kipc::inject_at_syscall(tasks::XC7, 1, InjectionAction::Fault);
        let t0 = tsc();
        let r = load.chunk(&stream[(1 << 20)..(2 << 20)]);
        let t1 = tsc();
        if r != Err(FpgaError::DriverDied) {
            say(format_args!("death {i}: the chunk got {r:?}"));
            kipc::shutdown(1);
        }
        drop(load);
        drop(lock);
        wait_bound(&xc7, Some(old));
        let t2 = tsc();
        // The next successful load (the driver may still be settling).
        let t3 = loop {
            let r = xc7.lock().and_then(|l| l.load(blinky, 0, TIMEOUT_MS));
            match r {
                Ok(()) => break tsc(),
                Err(FpgaError::NoDriver | FpgaError::DriverDied) => {}
                Err(e) => fail("load after death", e),
            }
        };
        to_error[i] = clock.ns(t1 - t0);
        to_rebound[i] = clock.ns(t2 - t0);
        to_load[i] = clock.ns(t3 - t0);
    }
    report("driver_death_to_error", &mut to_error);
    report("driver_death_to_rebound", &mut to_rebound);
    report("driver_death_to_next_load", &mut to_load);
    kipc::shutdown(0);
    loop {
        sys_recv_notification(0);
    }
}

/// The frame buffer's bytes.
trait AsBytes {
    fn as_mut_bytes_ish(&mut self) -> &mut [u8];
}

impl AsBytes for [u32; FRAME_DATA_WORDS] {
    fn as_mut_bytes_ish(&mut self) -> &mut [u8] {
        let len = core::mem::size_of_val(self);
        // Safety: u8 has no alignment or validity requirements, and the
        // slice covers exactly this array, borrowed mutably.
        unsafe {
            core::slice::from_raw_parts_mut(self.as_mut_ptr().cast(), len)
        }
    }
}
