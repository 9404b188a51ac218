//! Recording into plain, `no_dedup` and counted ring buffers.
//!
//! Each test declares its own buffers: tests run on parallel threads and
//! must not see each other's entries.

#![cfg(not(feature = "disabled"))]

use core::sync::atomic::Ordering;

use ringbuf::{
    Count, Ringbuf, RingbufEntry, StaticCell, counted_ringbuf, ringbuf,
    ringbuf_entry, ringbuf_entry_root,
};

/// The recorded entries, oldest first, as `(payload, count)`.
fn payloads<T: Copy, C: Copy, const N: usize>(
    cell: &StaticCell<Ringbuf<T, C, N>>,
) -> Vec<(T, C)> {
    let ring = cell.borrow_mut();
    ring.iter()
        .map(|entry| (entry.payload, entry.count))
        .collect()
}

fn slots<T: Copy, C: Copy, const N: usize>(
    cell: &StaticCell<Ringbuf<T, C, N>>,
) -> [RingbufEntry<T, C>; N] {
    cell.borrow_mut().buffer
}

#[test]
fn identical_consecutive_entries_bump_count() {
    ringbuf!(TEST_RINGBUF, u32, 8, 0);
    for _ in 0..5 {
        ringbuf_entry!(TEST_RINGBUF, 7);
    }
    assert_eq!(payloads(&TEST_RINGBUF), [(7, 5)]);
    assert_eq!(TEST_RINGBUF.borrow_mut().last, Some(0));
}

#[test]
fn different_payload_takes_a_new_slot() {
    ringbuf!(TEST_RINGBUF, u32, 8, 0);
    for payload in [1, 1, 2, 2, 2, 1] {
        ringbuf_entry!(TEST_RINGBUF, payload);
    }
    assert_eq!(payloads(&TEST_RINGBUF), [(1, 2), (2, 3), (1, 1)]);
}

#[test]
fn same_payload_from_another_line_takes_a_new_slot() {
    ringbuf!(TEST_RINGBUF, u32, 8, 0);
    ringbuf_entry!(TEST_RINGBUF, 3);
    ringbuf_entry!(TEST_RINGBUF, 3);
    let ring = TEST_RINGBUF.borrow_mut();
    let lines: Vec<u16> = ring.iter().map(|entry| entry.line).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], lines[0] + 1);
}

#[test]
fn count_about_to_overflow_starts_a_new_entry() {
    ringbuf!(TEST_RINGBUF, u8, 4, 0);
    for _ in 0..=u32::from(u16::MAX) {
        ringbuf_entry!(TEST_RINGBUF, 9);
    }
    assert_eq!(payloads(&TEST_RINGBUF), [(9, u16::MAX), (9, 1)]);
}

#[test]
fn wraparound_reuses_slots_and_bumps_their_generation() {
    ringbuf!(TEST_RINGBUF, u32, 4, 0);
    for payload in 0..10 {
        ringbuf_entry!(TEST_RINGBUF, payload);
    }
    // Ten records in four slots: slots 0 and 1 written three times, slots
    // 2 and 3 twice; the newest (9) is in slot 1.
    let slots = slots(&TEST_RINGBUF);
    let generations: Vec<u16> = slots.iter().map(|s| s.generation).collect();
    assert_eq!(generations, [3, 3, 2, 2]);
    let in_slots: Vec<u32> = slots.iter().map(|s| s.payload).collect();
    assert_eq!(in_slots, [8, 9, 6, 7]);
    assert_eq!(TEST_RINGBUF.borrow_mut().last, Some(1));
    assert_eq!(payloads(&TEST_RINGBUF), [(6, 1), (7, 1), (8, 1), (9, 1)]);
}

#[test]
fn dedup_hit_does_not_bump_generation() {
    ringbuf!(TEST_RINGBUF, u32, 4, 0);
    for _ in 0..3 {
        ringbuf_entry!(TEST_RINGBUF, 1);
    }
    assert_eq!(slots(&TEST_RINGBUF)[0].generation, 1);
}

/// Deliberately not `PartialEq`: `no_dedup` must not need it.
#[derive(Copy, Clone, Debug)]
struct Sample(u8);

#[test]
fn no_dedup_records_every_entry() {
    ringbuf!(TEST_RINGBUF, Sample, 4, Sample(0), no_dedup);
    for _ in 0..3 {
        ringbuf_entry!(TEST_RINGBUF, Sample(5));
    }
    let recorded = payloads(&TEST_RINGBUF);
    assert_eq!(recorded.len(), 3);
    assert!(recorded.iter().all(|(sample, ())| sample.0 == 5));
}

#[test]
fn no_dedup_wraps_like_the_dedup_buffer() {
    ringbuf!(TEST_RINGBUF, u8, 2, 0, no_dedup);
    for payload in [1, 2, 3] {
        ringbuf_entry!(TEST_RINGBUF, payload);
    }
    let slots = slots(&TEST_RINGBUF);
    assert_eq!(slots.map(|s| (s.payload, s.generation)), [(3, 2), (2, 1)]);
}

#[test]
fn unnamed_buffer_defaults_to_dunder_ringbuf() {
    ringbuf!(u16, 4, 0);
    ringbuf_entry!(42);
    assert_eq!(payloads(&__RINGBUF), [(42, 1)]);
}

#[test]
fn unnamed_no_dedup_buffer_defaults_to_dunder_ringbuf() {
    ringbuf!(u16, 4, 0, no_dedup);
    ringbuf_entry!(42);
    ringbuf_entry!(42);
    assert_eq!(payloads(&__RINGBUF), [(42, ()), (42, ())]);
}

#[test]
fn record_while_borrowed_is_dropped_not_a_panic() {
    ringbuf!(TEST_RINGBUF, u32, 4, 0);
    {
        let _held = TEST_RINGBUF.borrow_mut();
        // What a signal handler interrupting a record would do.
        ringbuf_entry!(TEST_RINGBUF, 1);
    }
    ringbuf_entry!(TEST_RINGBUF, 2);
    assert_eq!(payloads(&TEST_RINGBUF), [(2, 1)]);
}

#[test]
fn payload_is_evaluated_once() {
    ringbuf!(TEST_RINGBUF, u32, 4, 0);
    let mut evaluations = 0;
    ringbuf_entry!(TEST_RINGBUF, {
        evaluations += 1;
        evaluations
    });
    assert_eq!(evaluations, 1);
}

#[test]
fn empty_buffer_iterates_nothing() {
    ringbuf!(TEST_RINGBUF, u32, 4, 0);
    assert!(payloads(&TEST_RINGBUF).is_empty());
}

#[test]
fn zero_sized_buffer_records_nothing_and_does_not_panic() {
    ringbuf!(TEST_RINGBUF, u32, 0, 0);
    ringbuf_entry!(TEST_RINGBUF, 1);
    assert!(payloads(&TEST_RINGBUF).is_empty());
}

ringbuf!(ROOT_RINGBUF, u8, 4, 0);
ringbuf!(u8, 4, 0);

mod nested {
    pub fn record() {
        ringbuf::ringbuf_entry_root!(ROOT_RINGBUF, 1);
        ringbuf::ringbuf_entry_root!(2);
    }
}

#[test]
fn entry_root_reaches_buffers_at_the_crate_root() {
    nested::record();
    ringbuf_entry_root!(ROOT_RINGBUF, 3);
    assert_eq!(payloads(&ROOT_RINGBUF), [(1, 1), (3, 1)]);
    assert_eq!(payloads(&__RINGBUF), [(2, 1)]);
}

#[derive(Copy, Clone, Debug, PartialEq, Count)]
enum Trace {
    #[count(skip)]
    None,
    Locked(u16),
    Released(u16),
}

fn counter(counter: &core::sync::atomic::AtomicU32) -> u32 {
    counter.load(Ordering::Relaxed)
}

#[test]
fn counted_totals_survive_overwrite() {
    counted_ringbuf!(TEST_RINGBUF, Trace, 2, Trace::None);
    for task in 0..5 {
        ringbuf_entry!(TEST_RINGBUF, Trace::Locked(task));
        ringbuf_entry!(TEST_RINGBUF, Trace::Released(task));
    }
    assert_eq!(
        payloads(&TEST_RINGBUF.ringbuf),
        [(Trace::Locked(4), 1), (Trace::Released(4), 1)]
    );
    assert_eq!(counter(&TEST_RINGBUF.counters.Locked), 5);
    assert_eq!(counter(&TEST_RINGBUF.counters.Released), 5);
}

#[test]
fn counted_dedup_hits_still_count_every_record() {
    counted_ringbuf!(TEST_RINGBUF, Trace, 4, Trace::None);
    for _ in 0..3 {
        ringbuf_entry!(TEST_RINGBUF, Trace::Locked(1));
    }
    assert_eq!(payloads(&TEST_RINGBUF.ringbuf), [(Trace::Locked(1), 3)]);
    assert_eq!(counter(&TEST_RINGBUF.counters.Locked), 3);
}

#[test]
fn counted_record_while_borrowed_still_counts() {
    counted_ringbuf!(TEST_RINGBUF, Trace, 4, Trace::None);
    {
        let _held = TEST_RINGBUF.ringbuf.borrow_mut();
        ringbuf_entry!(TEST_RINGBUF, Trace::Released(1));
    }
    assert!(payloads(&TEST_RINGBUF.ringbuf).is_empty());
    assert_eq!(counter(&TEST_RINGBUF.counters.Released), 1);
}

#[test]
fn counted_no_dedup_counts_and_records_each() {
    counted_ringbuf!(Trace, 4, Trace::None, no_dedup);
    ringbuf_entry!(Trace::Locked(2));
    ringbuf_entry!(Trace::Locked(2));
    assert_eq!(payloads(&__RINGBUF.ringbuf).len(), 2);
    assert_eq!(counter(&__RINGBUF.counters.Locked), 2);
}

const DEPTH: usize = 4;

#[test]
fn size_can_be_a_const_expression() {
    ringbuf!(TEST_RINGBUF, u8, DEPTH * 2, 0);
    ringbuf_entry!(TEST_RINGBUF, 1);
    assert_eq!(slots(&TEST_RINGBUF).len(), 8);
}
