//! Idol benchmark client: what generated code adds to a null IPC round
//! trip. Prints `bench <name> <median ns> <min ns> <max ns>` for
//!
//! - `raw_null_round_trip`: `sys_send` of an empty message to a server
//!   that answers with `sys_reply_recv` (bench-ipc-server, switched to
//!   its REPLY_RECV loop first);
//! - `idol_null_round_trip`: the generated `IdolTest::null` (an
//!   idempotent op with no arguments and an empty reply) to a server
//!   looping on `idol_runtime::serve` (test-idol-server);
//! - `idol_server_round_trip`: a raw `sys_send` of `null`'s op number to
//!   that server, which splits the overhead between the client and the
//!   server side.
//!
//! All make the same two syscalls per round trip (the client's SEND, the
//! server's REPLY_RECV), so the difference is the generated client, the
//! runtime's checks and the generated stub.
//!
//! Then the same with a 16-byte read lease, which the server reads:
//!
//! - `raw_lease_round_trip`: bench-ipc-server's op 1 (BORROW_READ of the
//!   whole lease), three syscalls;
//! - `idol_lease_round_trip`: the generated `IdolTest::sum`, which adds the
//!   one BORROW_INFO the server stub needs to check the lease's rights and
//!   length before the server reads it.
//!
//! The figures are timed in alternating batches (in rotating order), so
//! that drift in the host's speed during the run hits all alike; and
//! `idol_over_raw_per_mille` (not in ns) is the median over the samples of
//! `idol_null_round_trip / raw_null_round_trip`, each pair timed back to
//! back.
//!
//! The kernel timer has millisecond resolution, so each batch runs for
//! hundreds of milliseconds.

#![no_std]
#![no_main]

use test_idol_api::{IdolTest, IdolTestOperation};
use userlib::*;

task_slot!(RAW, raw);
task_slot!(IDOL, idol);

/// Samples of each figure; the figure is their median.
const SAMPLES: usize = 9;

/// Round trips per sample.
const BATCH: u32 = 20_000;

/// Round trips before timing: fault in pages, settle placement.
const WARM_UP: u32 = 2_000;

/// Figures timed: the null and lease round trips listed above.
const FIGURES: usize = 5;

fn now() -> u64 {
    sys_get_timer().now
}

/// Runs `BATCH` iterations of `f`; returns ns per iteration.
fn batch(f: &mut impl FnMut()) -> u64 {
    let start = now();
    for _ in 0..BATCH {
        f();
    }
    (now() - start) * 1_000_000 / u64::from(BATCH)
}

fn report(name: &str, mut samples: [u64; SAMPLES]) {
    samples.sort_unstable();
    userlib::console!(
        "bench {name} {} {} {}",
        samples[SAMPLES / 2],
        samples[0],
        samples[SAMPLES - 1]
    );
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let raw_server = RAW.get_task_id();
    let idol_server = IDOL.get_task_id();
    let idol = IdolTest::from(idol_server);
    // The idol server loops on `idol_runtime::serve` (REPLY_RECV); the raw
    // server is switched to the same loop, so both cost two traps.
    let (rc, _) = sys_send(raw_server, 2, &[], &mut [], &[]);
    assert_eq!(rc, 0);
    let mut raw = || {
        let (rc, _) = sys_send(raw_server, 0, &[], &mut [], &[]);
        assert_eq!(rc, 0);
    };
    let mut generated = || idol.null();
    let null = IdolTestOperation::null as u16;
    let mut server_only = || {
        let (rc, _) = sys_send(idol_server, null, &[], &mut [], &[]);
        assert_eq!(rc, 0);
    };
    for _ in 0..WARM_UP {
        raw();
        generated();
        server_only();
    }
    let data = [1u8; 16];
    let lease = [Lease::read_only(&data)];
    let mut raw_lease = || {
        let (rc, _) = sys_send(raw_server, 1, &[], &mut [], &lease);
        assert_eq!(rc, 16);
    };
    let mut idol_lease = || assert_eq!(idol.sum(&data), Ok(16));
    for _ in 0..WARM_UP {
        raw_lease();
        idol_lease();
    }
    // rounds[s][figure]: sample `s` of each figure, timed in rotating
    // order.
    let mut rounds = [[0u64; FIGURES]; SAMPLES];
    for (s, round) in rounds.iter_mut().enumerate() {
        for k in 0..FIGURES {
            let figure = (s + k) % FIGURES;
            round[figure] = match figure {
                0 => batch(&mut raw),
                1 => batch(&mut generated),
                2 => batch(&mut server_only),
                3 => batch(&mut raw_lease),
                _ => batch(&mut idol_lease),
            };
        }
    }
    let column = |figure: usize| rounds.map(|round| round[figure]);
    report("raw_null_round_trip", column(0));
    report("idol_null_round_trip", column(1));
    report("idol_server_round_trip", column(2));
    report("raw_lease_round_trip", column(3));
    report("idol_lease_round_trip", column(4));
    // Batches timed side by side saw the same host: their ratio is steadier
    // than the ratio of the medians when the host's load changes.
    let ratios = rounds.map(|round| round[1] * 1000 / round[0].max(1));
    report("idol_over_raw_per_mille", ratios);
    kipc::shutdown(0);
    loop {
        sys_recv_notification(0);
    }
}
