//! Counting through `#[derive(Count)]`, the blanket impls and the macros.
//!
//! Each test declares its own static: tests run on parallel threads and
//! must not see each other's counts.

use core::sync::atomic::{AtomicU32, Ordering};

use counters::{Count, count, counters};

fn get(counter: &AtomicU32) -> u32 {
    counter.load(Ordering::Relaxed)
}

#[derive(Copy, Clone, Debug, PartialEq, Count)]
enum Fault {
    Timeout,
    Busy,
}

#[derive(Copy, Clone, Debug, PartialEq, Count)]
enum Trace {
    #[count(skip)]
    None,
    Start,
    Read(u32),
    Write {
        address: u32,
        value: u8,
    },
    #[count(children)]
    Failed(Fault),
    Retried {
        attempt: u8,
        #[count(children)]
        fault: Fault,
    },
    Gave(u8, #[count(children)] Fault),
}

#[test]
fn derive_counts_each_variant_separately() {
    counters!(TRACE_COUNTERS, Trace);
    count!(TRACE_COUNTERS, Trace::Start);
    count!(TRACE_COUNTERS, Trace::Read(1));
    count!(TRACE_COUNTERS, Trace::Read(2));
    count!(
        TRACE_COUNTERS,
        Trace::Write {
            address: 4,
            value: 5
        }
    );
    assert_eq!(get(&TRACE_COUNTERS.Start), 1);
    assert_eq!(get(&TRACE_COUNTERS.Read), 2, "fields do not split counts");
    assert_eq!(get(&TRACE_COUNTERS.Write), 1);
}

#[test]
fn skipped_variant_has_no_counter_and_is_ignored() {
    counters!(TRACE_COUNTERS, Trace);
    count!(TRACE_COUNTERS, Trace::None);
    // Start, Read and Write are flat; three children variants hold two
    // counters each; None has no field at all.
    assert_eq!(
        core::mem::size_of::<<Trace as Count>::Counters>(),
        (3 + 3 * 2) * 4
    );
    assert_eq!(get(&TRACE_COUNTERS.Start), 0);
    assert_eq!(get(&TRACE_COUNTERS.Read), 0);
}

#[test]
fn children_nest_the_field_types_counters() {
    counters!(TRACE_COUNTERS, Trace);
    count!(TRACE_COUNTERS, Trace::Failed(Fault::Busy));
    count!(TRACE_COUNTERS, Trace::Failed(Fault::Busy));
    count!(
        TRACE_COUNTERS,
        Trace::Retried {
            attempt: 2,
            fault: Fault::Timeout
        }
    );
    count!(TRACE_COUNTERS, Trace::Gave(3, Fault::Timeout));
    assert_eq!(get(&TRACE_COUNTERS.Failed.Busy), 2);
    assert_eq!(get(&TRACE_COUNTERS.Failed.Timeout), 0);
    assert_eq!(get(&TRACE_COUNTERS.Retried.Timeout), 1);
    assert_eq!(get(&TRACE_COUNTERS.Retried.Busy), 0);
    assert_eq!(get(&TRACE_COUNTERS.Gave.Timeout), 1);
}

#[test]
fn result_counts_ok_and_each_error_kind() {
    counters!(RESULT_COUNTERS, Result<(), Fault>);
    count!(RESULT_COUNTERS, Ok::<(), Fault>(()));
    count!(RESULT_COUNTERS, Ok::<(), Fault>(()));
    count!(RESULT_COUNTERS, Err::<(), Fault>(Fault::Timeout));
    assert_eq!(get(&RESULT_COUNTERS.Ok), 2);
    assert_eq!(get(&RESULT_COUNTERS.Err.Timeout), 1);
    assert_eq!(get(&RESULT_COUNTERS.Err.Busy), 0);
}

#[test]
fn option_counts_some_by_kind_and_none_in_total() {
    counters!(OPTION_COUNTERS, Option<Fault>);
    count!(OPTION_COUNTERS, Some(Fault::Busy));
    count!(OPTION_COUNTERS, None::<Fault>);
    count!(OPTION_COUNTERS, None::<Fault>);
    assert_eq!(get(&OPTION_COUNTERS.Some.Busy), 1);
    assert_eq!(get(&OPTION_COUNTERS.None), 2);
}

#[test]
fn unnamed_counters_default_to_dunder_counters() {
    counters!(Fault);
    count!(Fault::Timeout);
    assert_eq!(get(&__COUNTERS.Timeout), 1);
}

#[test]
fn count_evaluates_the_event_once() {
    counters!(FAULT_COUNTERS, Fault);
    let mut evaluations = 0;
    count!(FAULT_COUNTERS, {
        evaluations += 1;
        Fault::Busy
    });
    assert_eq!(evaluations, 1);
    assert_eq!(get(&FAULT_COUNTERS.Busy), 1);
}

#[derive(Copy, Clone, Count)]
enum Generic<E> {
    Idle,
    Payload(E),
    #[count(children)]
    Nested(E),
}

#[test]
fn generic_enum_counts_children_of_the_parameter() {
    counters!(GENERIC_COUNTERS, Generic<Fault>);
    count!(GENERIC_COUNTERS, Generic::Nested(Fault::Timeout));
    count!(GENERIC_COUNTERS, Generic::Payload(Fault::Busy));
    count!(GENERIC_COUNTERS, Generic::<Fault>::Idle);
    assert_eq!(get(&GENERIC_COUNTERS.Nested.Timeout), 1);
    assert_eq!(get(&GENERIC_COUNTERS.Payload), 1);
    assert_eq!(get(&GENERIC_COUNTERS.Idle), 1);
}

#[derive(Count)]
enum Never {}

#[test]
fn empty_enum_has_empty_counters() {
    assert_eq!(core::mem::size_of::<<Never as Count>::Counters>(), 0);
}
