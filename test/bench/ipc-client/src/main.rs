//! IPC benchmark client: times null round trips and 1 MiB borrows, and
//! prints `bench <name> <median ns> <min ns> <max ns>` per figure.
//!
//! The kernel timer has millisecond resolution, so each sample is a batch
//! long enough (hundreds of milliseconds) that the resolution error is a
//! fraction of a percent; the figure is the median of several samples.

#![no_std]
#![no_main]

use userlib::*;

task_slot!(SERVER, server);

/// What a borrow moves, how many round trips make a sample, how many
/// samples: the Cortex-M board (4 MiB of RAM) lends 64 KiB. Under QEMU's
/// `-icount shift=0` a timer millisecond is a million guest instructions,
/// so batches are longer there (a null round trip resolves to 20
/// instructions); the figures are deterministic, so three samples show
/// any spread, and the run stays near half a minute of host time (QEMU
/// emulates about 100 million instructions a second under `-icount`).
#[cfg(not(target_arch = "arm"))]
mod sizes {
    pub const SAMPLES: usize = 7;
    pub const SOURCE_LEN: usize = 1 << 20;
    pub const BORROW_NAME: &str = "borrow_1mib_round_trip";
    pub const NULL_BATCH: u32 = 20_000;
    pub const BORROW_BATCH: u32 = 500;
}
#[cfg(target_arch = "arm")]
mod sizes {
    pub const SAMPLES: usize = 3;
    pub const SOURCE_LEN: usize = 64 << 10;
    pub const BORROW_NAME: &str = "borrow_64kib_round_trip";
    pub const NULL_BATCH: u32 = 50_000;
    pub const BORROW_BATCH: u32 = 1_000;
}
use sizes::*;

static mut SOURCE: [u8; SOURCE_LEN] = [0; SOURCE_LEN];
/// The in-task copy a borrow is compared with (Cortex-M board only).
#[cfg(target_arch = "arm")]
static mut COPY: [u8; SOURCE_LEN] = [0; SOURCE_LEN];

fn now() -> u64 {
    sys_get_timer().now
}

/// Runs `batch` iterations of `f` per sample; returns ns per iteration for
/// each sample, sorted.
fn measure(batch: u32, mut f: impl FnMut()) -> [u64; SAMPLES] {
    let mut out = [0u64; SAMPLES];
    for s in out.iter_mut() {
        let start = now();
        for _ in 0..batch {
            f();
        }
        let ms = now() - start;
        *s = ms * 1_000_000 / batch as u64;
    }
    out.sort_unstable();
    out
}

fn report(name: &str, s: &[u64; SAMPLES]) {
    userlib::console!(
        "bench {name} {} {} {}",
        s[SAMPLES / 2],
        s[0],
        s[SAMPLES - 1]
    );
}

/// Baselines from the same boot on the Cortex-M board, where the host's
/// pipe and memcpy figures mean nothing: the cheapest syscall (one trap
/// into the kernel and back, no second task), and the same bytes copied
/// by the task itself.
#[cfg(target_arch = "arm")]
fn baselines(source: &'static [u8; SOURCE_LEN]) {
    let syscall = measure(NULL_BATCH, || {
        core::hint::black_box(sys_get_timer());
    });
    report("syscall_round_trip", &syscall);
    // Safety: single-threaded; COPY is only written here.
    let copy = unsafe { &mut *core::ptr::addr_of_mut!(COPY) };
    let memcpy = measure(BORROW_BATCH, || {
        copy.copy_from_slice(core::hint::black_box(source));
        core::hint::black_box(&mut *copy);
    });
    report("memcpy_64kib", &memcpy);
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let server = SERVER.get_task_id();
    // Safety: single-threaded; only read here, through a lease.
    let source = unsafe { &*core::ptr::addr_of!(SOURCE) };
    // Let boot finish: every task, idle included, runs before the client
    // starts measuring (on the Cortex-M board the kernel logs the boot
    // time when the last one first gets the CPU).
    hl::sleep_for(1);
    // Warm up: fault in pages and settle placement.
    for _ in 0..2000 {
        sys_send(server, 0, &[], &mut [], &[]);
    }
    let null = measure(NULL_BATCH, || {
        let (rc, _) = sys_send(server, 0, &[], &mut [], &[]);
        assert_eq!(rc, 0);
    });
    report("null_round_trip", &null);
    let leases = [Lease::read_only(source)];
    let borrow = measure(BORROW_BATCH, || {
        let (rc, _) = sys_send(server, 1, &[], &mut [], &leases);
        assert_eq!(rc as usize, SOURCE_LEN);
    });
    report(BORROW_NAME, &borrow);
    #[cfg(target_arch = "arm")]
    baselines(source);
    // The same null round trip with the server on REPLY_RECV.
    let (rc, _) = sys_send(server, 2, &[], &mut [], &[]);
    assert_eq!(rc, 0);
    for _ in 0..2000 {
        sys_send(server, 0, &[], &mut [], &[]);
    }
    let combined = measure(NULL_BATCH, || {
        let (rc, _) = sys_send(server, 0, &[], &mut [], &[]);
        assert_eq!(rc, 0);
    });
    report("null_round_trip_reply_recv", &combined);
    kipc::shutdown(0);
    loop {
        sys_recv_notification(0);
    }
}
