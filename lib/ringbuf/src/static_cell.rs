//! A static that hands out one `&mut` at a time, checked at run time.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Interior mutability for a `static`, guarded by a borrow flag.
///
/// This is Hubris's `StaticCell`. A ring buffer must be a plain `static` so
/// that a debugger finds it by name, yet recording an entry mutates it.
/// Tasks are single-threaded, so contention is not the problem; re-entry
/// is: the hosted kernel may record from a signal handler that interrupted
/// a record in progress. A lock would deadlock there, so instead the flag
/// makes the inner call see the cell as taken, and it gives up.
///
/// The flag is an [`AtomicBool`], taken with a swap, because a `static`
/// must be `Sync` and a plain load-then-store would let two threads both
/// take the cell. On Armv7-M the swap is an exclusive load/store pair and
/// cheap; on x86 it is a locked exchange, which is most of the cost of a
/// record on the host (see `benches/ringbuf.rs`). We pay it for soundness
/// rather than trust every user to stay on one thread.
///
/// `#[repr(C)]` keeps the flag first and the value at a fixed place, so a
/// decoder working from DWARF alone reads `cell.value` the same way on
/// every target.
#[repr(C)]
pub struct StaticCell<T> {
    borrowed: AtomicBool,
    cell: UnsafeCell<T>,
}

// Safety: the only way to reach the `UnsafeCell` is through a `StaticRef`,
// and `try_borrow_mut` creates at most one of those at a time (its swap
// either takes the flag or fails), so `&StaticCell` never yields aliasing
// access. What it yields is `&mut T` on possibly another thread, hence
// `T: Send`.
unsafe impl<T: Send> Sync for StaticCell<T> {}

impl<T> StaticCell<T> {
    /// Wraps `value`, unborrowed. `const` so it can initialize a static.
    pub const fn new(value: T) -> Self {
        Self {
            borrowed: AtomicBool::new(false),
            cell: UnsafeCell::new(value),
        }
    }

    /// Borrows the contents mutably, or returns `None` if they are already
    /// borrowed (by code that this call interrupted).
    pub fn try_borrow_mut(&self) -> Option<StaticRef<'_, T>> {
        // Acquire pairs with the Release in `StaticRef::drop`, so writes
        // made under the previous borrow are visible under this one.
        if self.borrowed.swap(true, Ordering::Acquire) {
            return None;
        }
        Some(StaticRef { cell: self })
    }

    /// Borrows the contents mutably.
    ///
    /// # Panics
    ///
    /// If they are already borrowed. Use [`Self::try_borrow_mut`] where
    /// re-entry is possible.
    pub fn borrow_mut(&self) -> StaticRef<'_, T> {
        match self.try_borrow_mut() {
            Some(borrow) => borrow,
            None => panic!("StaticCell borrowed twice"),
        }
    }
}

/// The one live `&mut` into a [`StaticCell`]; dropping it frees the cell.
pub struct StaticRef<'a, T> {
    cell: &'a StaticCell<T>,
}

impl<T> Deref for StaticRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Safety: this `StaticRef` holds the borrow flag, so no other
        // reference into the cell exists until it is dropped.
        unsafe { &*self.cell.cell.get() }
    }
}

impl<T> DerefMut for StaticRef<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // Safety: as in `deref`; `&mut self` also rules out a shared
        // reference handed out by this same `StaticRef`.
        unsafe { &mut *self.cell.cell.get() }
    }
}

impl<T> Drop for StaticRef<'_, T> {
    fn drop(&mut self) {
        self.cell.borrowed.store(false, Ordering::Release);
    }
}
