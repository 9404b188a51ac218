//! A first-fit heap over one fixed block of memory, for a `no_std`
//! kernel.
//!
//! The Cortex-M kernel runs the board's device models (`sim-devices`),
//! which allocate: their peripheral table at boot, then small vectors
//! for interrupts taken and freed on every access, and a scratch buffer
//! that grows to the largest bit-reversed transfer. A bump allocator
//! would leak the per-access vectors, so this one frees: its free list
//! is kept in address order and a freed block merges with the free
//! blocks on either side, so memory returns to one piece.
//!
//! Deliberately simple, because the kernel is: no headers (the caller's
//! `Layout` at `dealloc` gives the size, as `GlobalAlloc` guarantees),
//! every block a multiple of [`UNIT`] and aligned to it, alignments above
//! `UNIT` refused (the models never ask for them). [`LockedHeap`] is the
//! `GlobalAlloc`; the kernel is never re-entered, so its lock is a flag
//! that turns re-entry into a panic instead of corruption.

#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};

/// A free block, written into the free memory itself.
struct Free {
    size: usize,
    next: Option<NonNull<Free>>,
}

/// Block granularity and the largest alignment served: room for a
/// [`Free`] record, and at least 8 (a `u64`'s alignment on ARMv7-M).
pub const UNIT: usize = {
    let s = core::mem::size_of::<Free>();
    if s > 8 { s.next_power_of_two() } else { 8 }
};

/// The size a request takes: a whole number of units, at least one.
fn block_size(size: usize) -> Option<usize> {
    Some(size.max(1).checked_add(UNIT - 1)? & !(UNIT - 1))
}

/// The heap itself (not thread-safe: see [`LockedHeap`]).
pub struct Heap {
    /// Free blocks in increasing address order.
    head: Option<NonNull<Free>>,
    /// Bytes currently allocated.
    used: usize,
}

// Safety: `Heap` owns the memory its pointers reach.
unsafe impl Send for Heap {}

impl Heap {
    /// An empty heap; [`Heap::init`] gives it memory.
    pub const fn empty() -> Self {
        Self {
            head: None,
            used: 0,
        }
    }

    /// Gives the heap `len` bytes at `start` (trimmed to whole units).
    ///
    /// # Safety
    ///
    /// The memory must be valid for reads and writes, unused by anything
    /// else, and outlive the heap; `init` is called once.
    pub unsafe fn init(&mut self, start: *mut u8, len: usize) {
        let addr = start as usize;
        let aligned = (addr + UNIT - 1) & !(UNIT - 1);
        let len = len.saturating_sub(aligned - addr) & !(UNIT - 1);
        if len == 0 {
            return;
        }
        // Safety: aligned, inside the caller's memory, at least a unit.
        unsafe { self.insert(aligned as *mut u8, len) };
    }

    /// Bytes allocated and not yet freed.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Bytes free, in all blocks.
    pub fn free(&self) -> usize {
        let mut n = 0;
        let mut at = self.head;
        while let Some(b) = at {
            // Safety: every listed block is free memory holding a `Free`.
            let b = unsafe { b.as_ref() };
            n += b.size;
            at = b.next;
        }
        n
    }

    /// The first free block that fits; null when none does (or the
    /// alignment is above [`UNIT`]).
    pub fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(size) = block_size(layout.size()) else {
            return ptr::null_mut();
        };
        if layout.align() > UNIT {
            return ptr::null_mut();
        }
        let mut link: *mut Option<NonNull<Free>> = &mut self.head;
        // Safety: `link` points at `head` or at a listed block's `next`;
        // listed blocks are free memory holding a `Free`.
        unsafe {
            while let Some(block) = *link {
                let b = block.as_ptr();
                let have = (*b).size;
                if have >= size {
                    let next = (*b).next;
                    if have == size {
                        *link = next;
                    } else {
                        let rest = (b as *mut u8).add(size) as *mut Free;
                        rest.write(Free {
                            size: have - size,
                            next,
                        });
                        *link = NonNull::new(rest);
                    }
                    self.used += size;
                    return b as *mut u8;
                }
                link = &mut (*b).next;
            }
        }
        ptr::null_mut()
    }

    /// Returns a block [`Heap::alloc`] gave out for `layout`.
    ///
    /// # Safety
    ///
    /// `at` came from `alloc` on this heap with the same `layout`, and is
    /// not used again.
    pub unsafe fn dealloc(&mut self, at: *mut u8, layout: Layout) {
        let Some(size) = block_size(layout.size()) else {
            return;
        };
        self.used -= size;
        // Safety: the caller's promise.
        unsafe { self.insert(at, size) };
    }

    /// Puts `[at, at + size)` on the free list in address order, merged
    /// with the free blocks that touch it.
    ///
    /// # Safety
    ///
    /// The range is unit-aligned, a whole number of units, free memory
    /// of this heap, and on the list nowhere.
    unsafe fn insert(&mut self, at: *mut u8, size: usize) {
        let addr = at as usize;
        let mut prev: Option<NonNull<Free>> = None;
        let mut next = self.head;
        // Safety (whole body): listed blocks are free memory holding a
        // `Free`; `at` is ours to write, per the caller.
        unsafe {
            while let Some(n) = next {
                if n.as_ptr() as usize > addr {
                    break;
                }
                prev = Some(n);
                next = (*n.as_ptr()).next;
            }
            let mut block = at as *mut Free;
            block.write(Free { size, next });
            // Merge with the following block if they touch.
            if let Some(n) = next
                && addr + size == n.as_ptr() as usize
            {
                (*block).size += (*n.as_ptr()).size;
                (*block).next = (*n.as_ptr()).next;
            }
            match prev {
                None => self.head = NonNull::new(block),
                Some(p) => {
                    let p = p.as_ptr();
                    if p as usize + (*p).size == addr {
                        // Merge into the preceding block.
                        (*p).size += (*block).size;
                        (*p).next = (*block).next;
                        block = p;
                    } else {
                        (*p).next = NonNull::new(block);
                    }
                }
            }
            let _ = block;
        }
    }
}

/// A [`Heap`] as the global allocator: `#[global_allocator] static HEAP:
/// LockedHeap = LockedHeap::empty();`, then [`LockedHeap::init`] once.
pub struct LockedHeap {
    busy: AtomicBool,
    heap: UnsafeCell<Heap>,
}

// Safety: every access to `heap` holds `busy`.
unsafe impl Sync for LockedHeap {}

impl LockedHeap {
    pub const fn empty() -> Self {
        Self {
            busy: AtomicBool::new(false),
            heap: UnsafeCell::new(Heap::empty()),
        }
    }

    /// Runs `f` on the heap. Panics on re-entry (an allocation from an
    /// interrupt handler while the kernel was allocating, which this
    /// kernel's single exception priority rules out).
    fn with<R>(&self, f: impl FnOnce(&mut Heap) -> R) -> R {
        if self.busy.swap(true, Ordering::Acquire) {
            panic!("kernel heap re-entered");
        }
        // Safety: the flag makes this the only reference.
        let r = f(unsafe { &mut *self.heap.get() });
        self.busy.store(false, Ordering::Release);
        r
    }

    /// See [`Heap::init`].
    ///
    /// # Safety
    ///
    /// As [`Heap::init`].
    pub unsafe fn init(&self, start: *mut u8, len: usize) {
        // Safety: the caller's promise.
        self.with(|h| unsafe { h.init(start, len) });
    }

    /// Bytes allocated and free.
    pub fn usage(&self) -> (usize, usize) {
        self.with(|h| (h.used(), h.free()))
    }
}

// Safety: `Heap` hands out disjoint unit-aligned blocks of its memory,
// each at least `layout.size()` bytes, and refuses larger alignments.
unsafe impl GlobalAlloc for LockedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with(|h| h.alloc(layout))
    }

    unsafe fn dealloc(&self, at: *mut u8, layout: Layout) {
        // Safety: `GlobalAlloc`'s contract is `Heap::dealloc`'s.
        self.with(|h| unsafe { h.dealloc(at, layout) });
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A heap over `len` bytes of a leaked, unit-aligned buffer.
    fn heap(len: usize) -> (Heap, usize) {
        let buf: &'static mut [u128] =
            Vec::leak(std::vec![0u128; len / 16 + 1]);
        let start = buf.as_mut_ptr() as *mut u8;
        let mut h = Heap::empty();
        // Safety: leaked, so ours for ever.
        unsafe { h.init(start, len) };
        (h, start as usize)
    }

    fn l(size: usize) -> Layout {
        Layout::from_size_align(size, 4).unwrap()
    }

    #[test]
    fn blocks_are_disjoint_aligned_and_inside() {
        let (mut h, base) = heap(4096);
        let mut got: Vec<(usize, usize)> = Vec::new();
        for size in [1, 7, 8, 9, 100, 3, 64, 200] {
            let p = h.alloc(l(size)) as usize;
            assert_ne!(p, 0);
            assert_eq!(p % UNIT, 0);
            assert!(p >= base && p + size <= base + 4096);
            for &(q, qs) in &got {
                assert!(p + size <= q || q + qs <= p, "overlap");
            }
            got.push((p, size));
        }
    }

    #[test]
    fn freeing_everything_in_any_order_merges_back_to_one_block() {
        let (mut h, _) = heap(4096);
        let total = h.free();
        let sizes = [24, 8, 300, 16, 40, 1000, 8, 56];
        let ps: Vec<*mut u8> = sizes.iter().map(|&s| h.alloc(l(s))).collect();
        // Free in an order that leaves holes on both sides of later frees.
        for i in [1, 5, 3, 0, 7, 2, 6, 4] {
            // Safety: allocated above with the same layout, freed once.
            unsafe { h.dealloc(ps[i], l(sizes[i])) };
        }
        assert_eq!(h.used(), 0);
        assert_eq!(h.free(), total);
        // One block again: the whole heap can be taken in one piece.
        assert!(!h.alloc(l(total)).is_null());
    }

    #[test]
    fn exhaustion_is_null_and_a_freed_block_is_reused() {
        let (mut h, _) = heap(256);
        let a = h.alloc(l(200));
        assert!(!a.is_null());
        assert!(h.alloc(l(200)).is_null());
        // Safety: as above.
        unsafe { h.dealloc(a, l(200)) };
        assert_eq!(h.alloc(l(200)), a);
    }

    #[test]
    fn refused_requests_are_null() {
        let (mut h, _) = heap(1024);
        let big_align = Layout::from_size_align(8, UNIT * 2).unwrap();
        assert!(h.alloc(big_align).is_null());
        assert!(h.alloc(l(isize::MAX as usize & !3)).is_null());
        assert!(h.alloc(l(2048)).is_null());
        assert_eq!(h.used(), 0);
    }

    #[test]
    fn churn_like_the_models_keeps_memory_from_leaking() {
        // A long-lived table, then many short-lived vectors (interrupts
        // taken on every access) and a growing scratch buffer.
        let (mut h, _) = heap(64 * 1024);
        let table = h.alloc(l(1200));
        let free_after_table = h.free();
        let mut scratch = (h.alloc(l(16)), 16);
        for round in 0..10_000usize {
            let v = h.alloc(l(8 * (1 + round % 4)));
            assert!(!v.is_null());
            if round % 1000 == 0 {
                let grown = scratch.1 * 2;
                let n = h.alloc(l(grown));
                assert!(!n.is_null());
                // Safety: as above.
                unsafe { h.dealloc(scratch.0, l(scratch.1)) };
                scratch = (n, grown);
            }
            // Safety: as above.
            unsafe { h.dealloc(v, l(8 * (1 + round % 4))) };
        }
        // Safety: as above.
        unsafe { h.dealloc(scratch.0, l(scratch.1)) };
        assert_eq!(h.free(), free_after_table);
        // Safety: as above.
        unsafe { h.dealloc(table, l(1200)) };
        assert_eq!(h.used(), 0);
    }
}
