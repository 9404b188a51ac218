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

const SAMPLES: usize = 7;

static mut SOURCE: [u8; 1 << 20] = [0; 1 << 20];

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

#[unsafe(export_name = "main")]
fn main() -> ! {
    let server = SERVER.get_task_id();
    // Safety: single-threaded; only read here, through a lease.
    let source = unsafe { &*core::ptr::addr_of!(SOURCE) };
    // Warm up: fault in pages and settle placement.
    for _ in 0..2000 {
        sys_send(server, 0, &[], &mut [], &[]);
    }
    let null = measure(20_000, || {
        let (rc, _) = sys_send(server, 0, &[], &mut [], &[]);
        assert_eq!(rc, 0);
    });
    report("null_round_trip", &null);
    let leases = [Lease::read_only(source)];
    let borrow = measure(500, || {
        let (rc, _) = sys_send(server, 1, &[], &mut [], &leases);
        assert_eq!(rc, 1 << 20);
    });
    report("borrow_1mib_round_trip", &borrow);
    // The same null round trip with the server on REPLY_RECV.
    let (rc, _) = sys_send(server, 2, &[], &mut [], &[]);
    assert_eq!(rc, 0);
    for _ in 0..2000 {
        sys_send(server, 0, &[], &mut [], &[]);
    }
    let combined = measure(20_000, || {
        let (rc, _) = sys_send(server, 0, &[], &mut [], &[]);
        assert_eq!(rc, 0);
    });
    report("null_round_trip_reply_recv", &combined);
    kipc::shutdown(0);
    loop {
        sys_recv_notification(0);
    }
}
