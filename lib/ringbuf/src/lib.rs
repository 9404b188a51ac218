//! Hubris-style ring buffers of trace entries, found by the debugger by symbol
//!
//! A ring buffer keeps the last `N` events a task recorded, in a `static`
//! that a debugger reads out of memory or a dump without the task's help:
//! after a fault we can see what the task did just before. This is
//! Hubris's `lib/ringbuf`, with the same macros, layout and field names,
//! so Hubris habits and Humility-style decoders carry over.
//!
//! # Usage
//!
//! ```
//! use ringbuf::{ringbuf, ringbuf_entry};
//!
//! #[derive(Copy, Clone, Debug, PartialEq)]
//! enum Trace {
//!     None,
//!     Locked(u16),
//!     Released(u16),
//! }
//!
//! // One unnamed buffer per module, called `__RINGBUF`...
//! ringbuf!(Trace, 16, Trace::None);
//! // ...and any number of named ones. End names in `RINGBUF`.
//! ringbuf!(IRQ_RINGBUF, u32, 8, 0);
//!
//! ringbuf_entry!(Trace::Locked(3));
//! ringbuf_entry!(IRQ_RINGBUF, 0x40);
//! ```
//!
//! - [`ringbuf!`]`([NAME,] Type, N, init [, no_dedup])` declares a buffer.
//! - [`ringbuf_entry!`]`([NAME,] payload)` records the payload with the
//!   source line of the call; [`ringbuf_entry_root!`] names a buffer at the
//!   crate root, for code in submodules.
//! - [`counted_ringbuf!`] also keeps per-variant totals through
//!   [`counters::Count`], which survive the entries being overwritten.
//!
//! Payloads must be `Copy`, so recording is a plain store and an entry
//! never owns anything that would need dropping when overwritten.
//!
//! # De-duplication
//!
//! When an entry has the same `line` and `payload` as the newest one, we
//! bump that entry's `count` instead of using a new slot, so a polling
//! loop cannot flush out the history before it. That costs a `PartialEq`
//! comparison per record, and code size for the comparison; buffers
//! declared with `no_dedup` skip it, store `count: ()`, and need only
//! `Copy`. A `count` that would overflow `u16` starts a new entry.
//!
//! # Layout, for debuggers
//!
//! `ringbuf!(NAME, T, N, init)` declares
//! `static NAME: StaticCell<Ringbuf<T, u16, N>>`. [`Ringbuf`] holds `last`
//! (the index of the newest entry, `None` before the first) and `buffer`;
//! each [`RingbufEntry`] holds `line`, `generation` (how many times that
//! slot has been written, so the wrap count: not a task generation),
//! `payload` and `count`. Every type here is `#[repr(C)]` with these
//! names, so a decoder that knows only the DWARF reads them the same way
//! on every target. A debugger finds buffers by a static name ending in
//! `RINGBUF` or a type name containing `Ringbuf`.
//!
//! The statics are `#[used]`, so the compiler keeps them even if no code
//! in the final binary records into them. (`#[used]` does not stop a
//! linker's section garbage collection from dropping a static that
//! nothing references; a buffer that is recorded into is referenced.)
//!
//! # Re-entry instead of locking
//!
//! Tasks are single-threaded, and the hosted kernel is a single-threaded
//! process, but either may record from a handler that interrupted a record
//! in progress. Buffers sit in a [`StaticCell`], whose borrow flag makes
//! the interrupting record find the buffer busy and drop its entry: losing
//! one trace entry is better than a deadlock or a panic in the tracer.
//! There are no locks and no allocation.
//!
//! # Compiling buffers out
//!
//! With the `disabled` feature, `ringbuf!` declares a `()` (still checking
//! that `init` has type `T`) and `ringbuf_entry!` evaluates its payload
//! and discards it. `counted_ringbuf!` keeps its counters, which cost four
//! bytes per variant and are often what we want in production.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

mod static_cell;

pub use counters::Count;
pub use static_cell::{StaticCell, StaticRef};

/// Declares a ring buffer in the current module.
///
/// `ringbuf!(NAME, Type, N, init)` declares a static `NAME` with room for
/// `N` entries of `Type`, whose payloads all start as `init`; `NAME` must
/// be unique in its module, and should end in `RINGBUF` for the debugger's
/// scan. Without a name the static is `__RINGBUF`. A trailing `no_dedup`
/// turns de-duplication off (see the crate docs).
///
/// The static is a `StaticCell<Ringbuf<Type, u16, N>>`, or with `no_dedup`
/// a `StaticCell<Ringbuf<Type, (), N>>`.
#[cfg(not(feature = "disabled"))]
#[macro_export]
macro_rules! ringbuf {
    ($name:ident, $t:ty, $n:expr, $init:expr, no_dedup) => {
        #[used]
        static $name: $crate::StaticCell<$crate::Ringbuf<$t, (), { $n }>> =
            $crate::StaticCell::new($crate::Ringbuf::<$t, (), { $n }>::new(
                $init,
            ));
    };
    ($name:ident, $t:ty, $n:expr, $init:expr) => {
        #[used]
        static $name: $crate::StaticCell<$crate::Ringbuf<$t, u16, { $n }>> =
            $crate::StaticCell::new($crate::Ringbuf::<$t, u16, { $n }>::new(
                $init,
            ));
    };
    ($t:ty, $n:expr, $init:expr, no_dedup) => {
        $crate::ringbuf!(__RINGBUF, $t, $n, $init, no_dedup);
    };
    ($t:ty, $n:expr, $init:expr) => {
        $crate::ringbuf!(__RINGBUF, $t, $n, $init);
    };
}

/// Declares a ring buffer in the current module (compiled out by the
/// `disabled` feature: only a `()` named like the buffer remains).
#[cfg(feature = "disabled")]
#[macro_export]
macro_rules! ringbuf {
    ($name:ident, $t:ty, $n:expr, $init:expr $(, no_dedup)?) => {
        // Still type-check the initializer, so enabling buffers later does
        // not turn up errors.
        #[allow(dead_code)]
        const _: $t = $init;
        #[allow(dead_code)]
        static $name: () = ();
    };
    ($t:ty, $n:expr, $init:expr $(, no_dedup)?) => {
        $crate::ringbuf!(__RINGBUF, $t, $n, $init);
    };
}

/// Declares a ring buffer that also counts entries per variant.
///
/// Takes the same arguments as [`ringbuf!`] and declares a
/// `static NAME: CountedRingbuf<Type, u16, N>` (`()` for `no_dedup`).
/// `Type` must implement [`Count`], usually via `#[derive(Count)]`; every
/// recorded entry also bumps its variant's counter in `NAME.counters`, so
/// the totals outlive the entries that the buffer has overwritten. With
/// the `disabled` feature, only the counters remain.
///
/// `#[derive(Count)]` generates code naming `::counters::Count`, so the
/// declaring crate depends on `counters` itself, not only on `ringbuf`.
#[macro_export]
macro_rules! counted_ringbuf {
    ($name:ident, $t:ty, $n:expr, $init:expr, no_dedup) => {
        #[used]
        static $name: $crate::CountedRingbuf<$t, (), { $n }> =
            $crate::CountedRingbuf::<$t, (), { $n }>::new($init);
    };
    ($name:ident, $t:ty, $n:expr, $init:expr) => {
        #[used]
        static $name: $crate::CountedRingbuf<$t, u16, { $n }> =
            $crate::CountedRingbuf::<$t, u16, { $n }>::new($init);
    };
    ($t:ty, $n:expr, $init:expr, no_dedup) => {
        $crate::counted_ringbuf!(__RINGBUF, $t, $n, $init, no_dedup);
    };
    ($t:ty, $n:expr, $init:expr) => {
        $crate::counted_ringbuf!(__RINGBUF, $t, $n, $init);
    };
}

/// Records an entry in a ring buffer declared with [`ringbuf!`] or
/// [`counted_ringbuf!`].
///
/// `ringbuf_entry!(NAME, payload)` records `payload` in `NAME`, along with
/// the line of this call; `ringbuf_entry!(payload)` uses `__RINGBUF`. If
/// the buffer is busy because this call interrupted another record, the
/// entry is dropped (a counted buffer still counts it).
#[macro_export]
macro_rules! ringbuf_entry {
    ($buf:expr, $payload:expr) => {{
        // Evaluate both in one tuple so that neither expression can see a
        // binding introduced for the other.
        let (payload, buf) = ($payload, &$buf);
        // Fully qualified, so no other `record_entry` can be picked.
        $crate::RecordEntry::record_entry(buf, line!() as u16, payload);
    }};
    ($payload:expr) => {
        $crate::ringbuf_entry!(__RINGBUF, $payload)
    };
}

/// Records an entry in a ring buffer declared at the root of the current
/// crate: `__RINGBUF`, or the named one. Saves submodules a `use`.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! ringbuf_entry_root {
    ($payload:expr) => {
        $crate::ringbuf_entry!(crate::__RINGBUF, $payload)
    };
    ($buf:ident, $payload:expr) => {
        $crate::ringbuf_entry!(crate::$buf, $payload)
    };
}

/// One slot of a [`Ringbuf`].
///
/// `C` is `u16` for de-duplicating buffers and `()` for `no_dedup` ones.
#[derive(Debug, Copy, Clone)]
#[repr(C)]
pub struct RingbufEntry<T: Copy, C> {
    /// Source line of the `ringbuf_entry!` that wrote this slot; 0 if it
    /// was never written (no source line is 0).
    pub line: u16,
    /// How many times this slot has been written, wrapping; the ring's
    /// wrap count, not a task generation.
    pub generation: u16,
    /// What was recorded.
    pub payload: T,
    /// How many identical records in a row this entry stands for.
    pub count: C,
}

/// A ring buffer of `N` entries; declare one with [`ringbuf!`].
#[derive(Debug)]
#[repr(C)]
pub struct Ringbuf<T: Copy, C, const N: usize> {
    /// Index of the newest entry; `None` until the first record.
    pub last: Option<usize>,
    /// The entries, oldest after `last`, wrapping.
    pub buffer: [RingbufEntry<T, C>; N],
}

impl<T: Copy, const N: usize> Ringbuf<T, u16, N> {
    /// An empty de-duplicating buffer whose payloads all start as `init`.
    pub const fn new(init: T) -> Self {
        let entry = RingbufEntry {
            line: 0,
            generation: 0,
            payload: init,
            count: 0,
        };
        Self {
            last: None,
            buffer: [entry; N],
        }
    }
}

impl<T: Copy, const N: usize> Ringbuf<T, (), N> {
    /// An empty `no_dedup` buffer whose payloads all start as `init`.
    pub const fn new(init: T) -> Self {
        let entry = RingbufEntry {
            line: 0,
            generation: 0,
            payload: init,
            count: (),
        };
        Self {
            last: None,
            buffer: [entry; N],
        }
    }
}

impl<T: Copy, C, const N: usize> Ringbuf<T, C, N> {
    /// The recorded entries, oldest first.
    ///
    /// For code that reads its own buffer (tests, a kernel dumping its
    /// trace on panic); a debugger reads the memory directly instead.
    pub fn iter(&self) -> impl Iterator<Item = &RingbufEntry<T, C>> {
        let split = self.last.map_or(0, |last| last.saturating_add(1).min(N));
        let (newer, older) = self.buffer.split_at(split);
        older.iter().chain(newer).filter(|entry| entry.line != 0)
    }

    /// Writes a new entry in the slot after `last`, wrapping.
    ///
    /// `last` is `usize::MAX` before the first record, which wraps to
    /// slot 0, and a corrupted `last` past the end restarts at 0 too.
    fn advance(&mut self, last: usize, line: u16, count: C, payload: T) {
        let next = last.wrapping_add(1);
        // A compare rather than `%`: Armv7-M divides slowly and Armv6-M
        // not at all.
        let index = if next >= N { 0 } else { next };
        // `None` only when N is 0, and then there is nowhere to record.
        let Some(entry) = self.buffer.get_mut(index) else {
            return;
        };
        entry.generation = entry.generation.wrapping_add(1);
        entry.line = line;
        entry.payload = payload;
        entry.count = count;
        self.last = Some(index);
    }
}

/// A [`Ringbuf`] plus per-variant totals of everything recorded in it;
/// declare one with [`counted_ringbuf!`].
#[repr(C)]
pub struct CountedRingbuf<T: Count + Copy, C, const N: usize> {
    /// The `N` newest entries.
    #[cfg(not(feature = "disabled"))]
    pub ringbuf: StaticCell<Ringbuf<T, C, N>>,
    /// Keeps `C` in the type when the buffer is compiled out, so the
    /// declaration does not change with the feature.
    #[cfg(feature = "disabled")]
    pub _count: core::marker::PhantomData<fn() -> C>,
    /// How many times each variant of `T` has been recorded, as `T`'s
    /// [`Count`] impl defines.
    pub counters: T::Counters,
}

#[cfg(not(feature = "disabled"))]
impl<T: Count + Copy, const N: usize> CountedRingbuf<T, u16, N> {
    /// An empty de-duplicating buffer, payloads `init`, counters zero.
    pub const fn new(init: T) -> Self {
        Self {
            ringbuf: StaticCell::new(Ringbuf::<T, u16, N>::new(init)),
            counters: T::NEW_COUNTERS,
        }
    }
}

#[cfg(not(feature = "disabled"))]
impl<T: Count + Copy, const N: usize> CountedRingbuf<T, (), N> {
    /// An empty `no_dedup` buffer, payloads `init`, counters zero.
    pub const fn new(init: T) -> Self {
        Self {
            ringbuf: StaticCell::new(Ringbuf::<T, (), N>::new(init)),
            counters: T::NEW_COUNTERS,
        }
    }
}

#[cfg(feature = "disabled")]
impl<T: Count + Copy, C, const N: usize> CountedRingbuf<T, C, N> {
    /// Counters only: the buffer is compiled out, and `init` unused.
    pub const fn new(_init: T) -> Self {
        Self {
            _count: core::marker::PhantomData,
            counters: T::NEW_COUNTERS,
        }
    }
}

/// Something `ringbuf_entry!` can record into.
///
/// Lets one macro serve plain, `no_dedup`, counted and compiled-out
/// buffers; other types have no reason to implement it.
pub trait RecordEntry<T: Copy> {
    /// Records `payload` as coming from source line `line`.
    fn record_entry(&self, line: u16, payload: T);
}

impl<T: Copy + PartialEq, const N: usize> RecordEntry<T>
    for StaticCell<Ringbuf<T, u16, N>>
{
    fn record_entry(&self, line: u16, payload: T) {
        let Some(mut ring) = self.try_borrow_mut() else {
            return;
        };
        // Treating "no entry yet" as an index past the end lets one
        // `get_mut` cover both it and a corrupted `last`.
        let last = ring.last.unwrap_or(usize::MAX);
        if let Some(entry) = ring.buffer.get_mut(last)
            && entry.line == line
            && entry.payload == payload
            && let Some(count) = entry.count.checked_add(1)
        {
            entry.count = count;
            return;
        }
        ring.advance(last, line, 1, payload);
    }
}

impl<T: Copy, const N: usize> RecordEntry<T> for StaticCell<Ringbuf<T, (), N>> {
    fn record_entry(&self, line: u16, payload: T) {
        let Some(mut ring) = self.try_borrow_mut() else {
            return;
        };
        let last = ring.last.unwrap_or(usize::MAX);
        ring.advance(last, line, (), payload);
    }
}

#[cfg(not(feature = "disabled"))]
impl<T, C, const N: usize> RecordEntry<T> for CountedRingbuf<T, C, N>
where
    T: Count + Copy,
    StaticCell<Ringbuf<T, C, N>>: RecordEntry<T>,
{
    fn record_entry(&self, line: u16, payload: T) {
        // Count first: the count must not be lost even when the buffer is
        // busy and the entry is dropped.
        payload.count(&self.counters);
        self.ringbuf.record_entry(line, payload);
    }
}

#[cfg(feature = "disabled")]
impl<T: Count + Copy, C, const N: usize> RecordEntry<T>
    for CountedRingbuf<T, C, N>
{
    fn record_entry(&self, _line: u16, payload: T) {
        payload.count(&self.counters);
    }
}

/// What `ringbuf!` declares under the `disabled` feature.
#[cfg(feature = "disabled")]
impl<T: Copy> RecordEntry<T> for () {
    fn record_entry(&self, _line: u16, _payload: T) {}
}
