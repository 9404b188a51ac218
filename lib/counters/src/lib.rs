//! Hubris-style event counters, found by the debugger by symbol
//!
//! A ring buffer forgets; a counter does not. This crate counts how often
//! each kind of event happened, in four bytes per kind, so that a
//! debugger can show "`SpiError::Timeout` 3, `SpiError::Busy` 1 024" for a
//! task that has been up for a week.
//!
//! - [`Count`] says how to count one event type. Derive it for enums with
//!   `#[derive(Count)]` (re-exported from `counters-derive`), which makes a
//!   struct of one `AtomicU32` per variant.
//! - [`counters!`] declares a static set of counters, named `__COUNTERS`
//!   unless given a name; [`count!`] bumps it.
//!
//! ```
//! use counters::{Count, count, counters};
//!
//! #[derive(Copy, Clone, Count)]
//! enum Event {
//!     Started,
//!     Failed(u32),
//! }
//!
//! counters!(Event);
//!
//! count!(Event::Failed(7));
//! let failed = &__COUNTERS.Failed;
//! assert_eq!(failed.load(core::sync::atomic::Ordering::Relaxed), 1);
//! ```
//!
//! # Finding counters from a debugger
//!
//! The statics are `#[used]` and keep the name they were declared with, so
//! the debugger finds them in DWARF by a name ending in `COUNTERS` (as
//! `humility counters` does) and prints each field by variant name.
//!
//! # Why atomics, and why relaxed
//!
//! Tasks are single-threaded, but a static must be `Sync`, and the hosted
//! kernel may count from a signal handler that interrupts itself mid-count.
//! `AtomicU32` gives both without a lock. Counts are independent of each
//! other and of other memory, so `Relaxed` is enough. Both of our targets
//! (x86_64 and Armv7E-M) have native atomic read-modify-write; unlike
//! Hubris we carry no Armv6-M workaround.
//!
//! Counts wrap at `u32::MAX` rather than saturate: a saturating update
//! would need a compare-exchange loop on every event, and a counter that
//! has wrapped has long since told its story.

#![no_std]
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(feature = "derive")]
pub use counters_derive::Count;

/// A countable event.
///
/// Usually derived with `#[derive(Count)]`. Implemented here for
/// [`Result`] and [`Option`] of countable types, so that
/// `counters!(RESULT_COUNTERS, Result<(), MyError>)` counts successes and
/// each error kind, and for `()`, a single plain counter.
pub trait Count {
    /// The counters for this event type, normally a struct of
    /// [`AtomicU32`]s (or nested counters) that is `Sync` and so can sit in
    /// a static.
    type Counters;

    /// The counters, all zero.
    ///
    /// A `const` rather than a `fn` so that [`counters!`] can initialize a
    /// static with it.
    const NEW_COUNTERS: Self::Counters;

    /// Records one occurrence of `self` in `counters`.
    fn count(&self, counters: &Self::Counters);
}

/// Declares a static set of counters for an event type.
///
/// `counters!(NAME, Type)` declares `static NAME: <Type as
/// Count>::Counters`, all zero; `counters!(Type)` names it `__COUNTERS`,
/// so there can be one unnamed set per module. End a name in `COUNTERS`
/// so that the debugger's scan finds it.
///
/// The static is `#[used]` so that it is kept, with its debug info, even
/// if the only code that counts into it is compiled out.
#[macro_export]
macro_rules! counters {
    ($name:ident, $Type:ty) => {
        #[used]
        static $name: <$Type as $crate::Count>::Counters =
            <$Type as $crate::Count>::NEW_COUNTERS;
    };
    ($Type:ty) => {
        $crate::counters!(__COUNTERS, $Type);
    };
}

/// Counts an event.
///
/// `count!(NAME, event)` counts `event` in the static `NAME`;
/// `count!(event)` uses `__COUNTERS`.
#[macro_export]
macro_rules! count {
    ($counters:expr, $event:expr) => {{
        // Evaluate both in one tuple so that neither expression can see a
        // binding introduced for the other.
        let (event, counters) = ($event, &$counters);
        // Fully qualified, so that no other method named `count` on the
        // event type is picked instead.
        $crate::Count::count(&event, counters);
    }};
    ($event:expr) => {
        $crate::count!(__COUNTERS, $event)
    };
}

/// Adds one to a counter; the single place that picks the ordering.
fn bump(counter: &AtomicU32) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Counters for a [`Result`]`<T, E>`: `T`'s under `Ok`, `E`'s under `Err`.
///
/// Fields are named after the variants, like derived counters, so a
/// debugger prints `Err: { Timeout: 3 }`.
#[allow(non_snake_case)]
pub struct ResultCounters<T: Count, E: Count> {
    /// Counters for the [`Ok`] values.
    pub Ok: T::Counters,
    /// Counters for the [`Err`] values.
    pub Err: E::Counters,
}

/// Counters for an [`Option`]`<T>`: `T`'s under `Some`, and a total of
/// `None`s.
#[allow(non_snake_case)]
pub struct OptionCounters<T: Count> {
    /// Counters for the [`Some`] values.
    pub Some: T::Counters,
    /// How many [`None`]s have been counted.
    pub None: AtomicU32,
}

impl<T: Count, E: Count> Count for Result<T, E> {
    type Counters = ResultCounters<T, E>;

    const NEW_COUNTERS: Self::Counters = ResultCounters {
        Ok: T::NEW_COUNTERS,
        Err: E::NEW_COUNTERS,
    };

    fn count(&self, counters: &Self::Counters) {
        match self {
            Ok(value) => value.count(&counters.Ok),
            Err(error) => error.count(&counters.Err),
        }
    }
}

impl<T: Count> Count for Option<T> {
    type Counters = OptionCounters<T>;

    // Only ever used to initialize a static, where a fresh copy per use is
    // exactly what we want.
    #[allow(clippy::declare_interior_mutable_const)]
    const NEW_COUNTERS: Self::Counters = OptionCounters {
        Some: T::NEW_COUNTERS,
        None: AtomicU32::new(0),
    };

    fn count(&self, counters: &Self::Counters) {
        match self {
            Some(value) => value.count(&counters.Some),
            None => bump(&counters.None),
        }
    }
}

/// `Infallible` has no values, so no counters: a `Result<T, Infallible>`
/// (an idol op that cannot fail) counts only its `Ok`s.
impl Count for core::convert::Infallible {
    type Counters = ();

    const NEW_COUNTERS: Self::Counters = ();

    fn count(&self, _: &Self::Counters) {
        match *self {}
    }
}

/// `()` has one value, so one plain counter: `Result<(), E>` then counts
/// successes as a single number.
impl Count for () {
    type Counters = AtomicU32;

    // As above: a fresh copy per static is intended.
    #[allow(clippy::declare_interior_mutable_const)]
    const NEW_COUNTERS: Self::Counters = AtomicU32::new(0);

    fn count(&self, counters: &Self::Counters) {
        bump(counters);
    }
}
