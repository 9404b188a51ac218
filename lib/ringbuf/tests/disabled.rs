//! With the `disabled` feature, buffers vanish but counters stay.
//!
//! Run with `cargo test -p ringbuf --features disabled`.

#![cfg(feature = "disabled")]

use core::sync::atomic::Ordering;

use ringbuf::{Count, counted_ringbuf, ringbuf, ringbuf_entry};

#[derive(Copy, Clone, Debug, PartialEq, Count)]
enum Trace {
    None,
    Ping,
}

#[test]
fn disabled_buffer_is_a_unit_and_still_evaluates_the_payload() {
    ringbuf!(TEST_RINGBUF, u32, 64, 0);
    ringbuf!(NO_DEDUP_RINGBUF, u32, 64, 0, no_dedup);
    let mut evaluations = 0;
    ringbuf_entry!(TEST_RINGBUF, {
        evaluations += 1;
        evaluations
    });
    ringbuf_entry!(NO_DEDUP_RINGBUF, 1);
    assert_eq!(evaluations, 1);
    assert_eq!(core::mem::size_of_val(&TEST_RINGBUF), 0);
}

#[test]
fn disabled_counted_buffer_keeps_counting() {
    counted_ringbuf!(TEST_RINGBUF, Trace, 64, Trace::None);
    ringbuf_entry!(TEST_RINGBUF, Trace::Ping);
    assert_eq!(TEST_RINGBUF.counters.Ping.load(Ordering::Relaxed), 1);
    assert_eq!(
        core::mem::size_of_val(&TEST_RINGBUF),
        core::mem::size_of::<<Trace as Count>::Counters>()
    );
}
