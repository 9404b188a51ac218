//! Handles on memory a client lent for the duration of one call.
//!
//! The data stays in the client: every access is a BORROW syscall that
//! copies. That is what lets a server survive its client's death mid-call:
//! the borrow fails (we return `None`/`Err(())`) instead of faulting us,
//! and the server answers `RequestError::went_away()`.

use crate::dispatch::{LeaseAccess, LeaseSpec, check_lease};
use core::marker::PhantomData;
use core::ops::Range;
use userlib::{BorrowInfo, ClientError, TaskId};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// Whether a BORROW's `(response code, bytes copied)` moved all `want`
/// bytes: anything less (`DEFECT`, a dead client, a short lease) is a
/// client that went away.
fn borrowed_all((rc, n): (u32, usize), want: usize) -> bool {
    rc == 0 && n == want
}

/// The rights a [`Leased`] was checked for; one of [`R`], [`W`], [`RW`].
pub trait Access {
    /// What the lease must grant.
    const ACCESS: LeaseAccess;
}

/// Marks an [`Access`] that allows reading.
pub trait ReadAccess: Access {}

/// Marks an [`Access`] that allows writing.
pub trait WriteAccess: Access {}

/// Read-only access.
pub enum R {}

/// Write-only access.
pub enum W {}

/// Read-write access.
pub enum RW {}

impl Access for R {
    const ACCESS: LeaseAccess = LeaseAccess::Read;
}

impl Access for W {
    const ACCESS: LeaseAccess = LeaseAccess::Write;
}

impl Access for RW {
    const ACCESS: LeaseAccess = LeaseAccess::ReadWrite;
}

impl ReadAccess for R {}
impl ReadAccess for RW {}
impl WriteAccess for W {}
impl WriteAccess for RW {}

/// A lease of a `T` (or, for `T = [E]`, of elements `E`) that has been
/// checked to grant rights `A` and to have the right size.
///
/// Generated server stubs build these before calling the server; a lease
/// that fails the checks faults the client with `BadLeases` instead.
pub struct Leased<A: Access, T: ?Sized> {
    lender: TaskId,
    index: usize,
    /// Elements for a slice; 1 for a sized `T`.
    len: usize,
    _marker: PhantomData<(A, *const T)>,
}

impl<A: Access, T: ?Sized> Leased<A, T> {
    /// The task that lent the data.
    pub fn lender(&self) -> TaskId {
        self.lender
    }

    /// The lease's index in the lender's lease table, for raw syscalls.
    pub fn lease_index(&self) -> usize {
        self.index
    }

    /// Checks lease `index` against `spec`, from its descriptor when the
    /// kernel gave one with the message, else by asking BORROW_INFO.
    fn checked(
        lender: TaskId,
        index: usize,
        spec: LeaseSpec,
        described: Option<BorrowInfo>,
    ) -> Result<Self, ClientError> {
        let info =
            described.or_else(|| userlib::sys_borrow_info(lender, index));
        let len = check_lease(&spec, info)?;
        Ok(Self {
            lender,
            index,
            len,
            _marker: PhantomData,
        })
    }
}

impl<A: Access, T> Leased<A, T> {
    fn sized(lender: TaskId, index: usize) -> Result<Self, ClientError> {
        Self::described(lender, index, None)
    }

    /// As the `read_only`/`write_only`/`read_write` constructors, with the
    /// lease's descriptor from the message if there is one
    /// ([`crate::lease_info`]); `None` asks the kernel.
    ///
    /// # Errors
    ///
    /// `BadLease` if the lease does not match; `WentAway` if the lender
    /// is gone.
    pub fn described(
        lender: TaskId,
        index: usize,
        described: Option<BorrowInfo>,
    ) -> Result<Self, ClientError> {
        let spec = LeaseSpec::sized::<T>(A::ACCESS);
        Self::checked(lender, index, spec, described)
    }
}

impl<T> Leased<R, T> {
    /// Checks that lease `index` of `lender` is one readable `T`.
    ///
    /// # Errors
    ///
    /// `BadLease` if it is not; `WentAway` if the lender is gone.
    pub fn read_only(
        lender: TaskId,
        index: usize,
    ) -> Result<Self, ClientError> {
        Self::sized(lender, index)
    }
}

impl<T> Leased<W, T> {
    /// Checks that lease `index` of `lender` is one writable `T`.
    ///
    /// # Errors
    ///
    /// `BadLease` if it is not; `WentAway` if the lender is gone.
    pub fn write_only(
        lender: TaskId,
        index: usize,
    ) -> Result<Self, ClientError> {
        Self::sized(lender, index)
    }
}

impl<T> Leased<RW, T> {
    /// Checks that lease `index` of `lender` is one readable and writable
    /// `T`.
    ///
    /// # Errors
    ///
    /// `BadLease` if it is not; `WentAway` if the lender is gone.
    pub fn read_write(
        lender: TaskId,
        index: usize,
    ) -> Result<Self, ClientError> {
        Self::sized(lender, index)
    }
}

impl<A: ReadAccess, T: FromBytes + IntoBytes> Leased<A, T> {
    /// Copies the value out of the client; `None` if the client is gone.
    pub fn read(&self) -> Option<T> {
        let mut value = T::new_zeroed();
        let bytes = value.as_mut_bytes();
        let (rc, n) =
            userlib::sys_borrow_read(self.lender, self.index, 0, bytes);
        borrowed_all((rc, n), core::mem::size_of::<T>()).then_some(value)
    }
}

impl<A: WriteAccess, T: IntoBytes + Immutable> Leased<A, T> {
    /// Copies `value` into the client; `Err` if the client is gone.
    #[allow(clippy::result_unit_err)]
    pub fn write(&self, value: T) -> Result<(), ()> {
        let bytes = value.as_bytes();
        let (rc, n) =
            userlib::sys_borrow_write(self.lender, self.index, 0, bytes);
        borrowed_all((rc, n), bytes.len()).then_some(()).ok_or(())
    }
}

impl<A: Access, T> Leased<A, [T]> {
    fn slice(
        lender: TaskId,
        index: usize,
        max_len: Option<u32>,
    ) -> Result<Self, ClientError> {
        Self::described_slice(lender, index, max_len, None)
    }

    /// As the `*_slice` constructors, with the lease's descriptor from the
    /// message if there is one ([`crate::lease_info`]); `None` asks the
    /// kernel.
    ///
    /// # Errors
    ///
    /// `BadLease` if the lease does not match; `WentAway` if the lender
    /// is gone.
    pub fn described_slice(
        lender: TaskId,
        index: usize,
        max_len: Option<u32>,
        described: Option<BorrowInfo>,
    ) -> Result<Self, ClientError> {
        let spec = LeaseSpec::slice::<T>(A::ACCESS, max_len);
        Self::checked(lender, index, spec, described)
    }

    /// The number of elements lent.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was lent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte offset and length of `range`, if it is within the lease.
    fn byte_range(&self, range: &Range<usize>) -> Option<(usize, usize)> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        let size = core::mem::size_of::<T>();
        Some((range.start * size, (range.end - range.start) * size))
    }
}

impl<T> Leased<R, [T]> {
    /// Checks that lease `index` of `lender` is a readable `[T]` of at
    /// most `max_len` elements.
    ///
    /// # Errors
    ///
    /// `BadLease` if it is not; `WentAway` if the lender is gone.
    pub fn read_only_slice(
        lender: TaskId,
        index: usize,
        max_len: Option<u32>,
    ) -> Result<Self, ClientError> {
        Self::slice(lender, index, max_len)
    }
}

impl<T> Leased<W, [T]> {
    /// Checks that lease `index` of `lender` is a writable `[T]` of at
    /// most `max_len` elements.
    ///
    /// # Errors
    ///
    /// `BadLease` if it is not; `WentAway` if the lender is gone.
    pub fn write_only_slice(
        lender: TaskId,
        index: usize,
        max_len: Option<u32>,
    ) -> Result<Self, ClientError> {
        Self::slice(lender, index, max_len)
    }
}

impl<T> Leased<RW, [T]> {
    /// Checks that lease `index` of `lender` is a readable and writable
    /// `[T]` of at most `max_len` elements.
    ///
    /// # Errors
    ///
    /// `BadLease` if it is not; `WentAway` if the lender is gone.
    pub fn read_write_slice(
        lender: TaskId,
        index: usize,
        max_len: Option<u32>,
    ) -> Result<Self, ClientError> {
        Self::slice(lender, index, max_len)
    }
}

impl<A: ReadAccess, T: FromBytes + IntoBytes> Leased<A, [T]> {
    /// Copies element `index` out of the client; `None` if it is out of
    /// range or the client is gone.
    pub fn read_at(&self, index: usize) -> Option<T> {
        let (offset, _) = self.byte_range(&(index..index + 1))?;
        let mut value = T::new_zeroed();
        let bytes = value.as_mut_bytes();
        let (rc, n) =
            userlib::sys_borrow_read(self.lender, self.index, offset, bytes);
        borrowed_all((rc, n), core::mem::size_of::<T>()).then_some(value)
    }

    /// Copies elements `range` out of the client into `dest`, which must
    /// be as long as the range.
    ///
    /// # Errors
    ///
    /// If the range is outside the lease or `dest` has the wrong length
    /// (the server's mistake), or the client is gone.
    #[allow(clippy::result_unit_err)]
    pub fn read_range(
        &self,
        range: Range<usize>,
        dest: &mut [T],
    ) -> Result<(), ()> {
        let (offset, length) = self.byte_range(&range).ok_or(())?;
        let bytes = dest.as_mut_bytes();
        if bytes.len() != length {
            return Err(());
        }
        let (rc, n) =
            userlib::sys_borrow_read(self.lender, self.index, offset, bytes);
        borrowed_all((rc, n), length).then_some(()).ok_or(())
    }
}

impl<A: WriteAccess, T: IntoBytes + Immutable> Leased<A, [T]> {
    /// Copies `value` into element `index` of the client's slice.
    ///
    /// # Errors
    ///
    /// If `index` is out of range, or the client is gone.
    #[allow(clippy::result_unit_err)]
    pub fn write_at(&self, index: usize, value: T) -> Result<(), ()> {
        let (offset, _) = self.byte_range(&(index..index + 1)).ok_or(())?;
        let bytes = value.as_bytes();
        let (rc, n) =
            userlib::sys_borrow_write(self.lender, self.index, offset, bytes);
        borrowed_all((rc, n), bytes.len()).then_some(()).ok_or(())
    }

    /// Copies `src` into elements `range` of the client's slice; `src`
    /// must be as long as the range.
    ///
    /// # Errors
    ///
    /// If the range is outside the lease or `src` has the wrong length,
    /// or the client is gone.
    #[allow(clippy::result_unit_err)]
    pub fn write_range(
        &self,
        range: Range<usize>,
        src: &[T],
    ) -> Result<(), ()> {
        let (offset, length) = self.byte_range(&range).ok_or(())?;
        let bytes = src.as_bytes();
        if bytes.len() != length {
            return Err(());
        }
        let (rc, n) =
            userlib::sys_borrow_write(self.lender, self.index, offset, bytes);
        borrowed_all((rc, n), length).then_some(()).ok_or(())
    }
}

/// A leased slice known to hold at most `N` elements, so a server can
/// copy it into an `[E; N]` without checking again.
pub struct LenLimit<T, const N: usize>(T);

impl<A: Access, E, const N: usize> LenLimit<Leased<A, [E]>, N> {
    /// Wraps `leased` if it holds at most `N` elements.
    ///
    /// # Errors
    ///
    /// `BadLease` if it is longer.
    pub fn new(leased: Leased<A, [E]>) -> Result<Self, ClientError> {
        if leased.len() <= N {
            Ok(Self(leased))
        } else {
            Err(ClientError::BadLease)
        }
    }
}

impl<T, const N: usize> LenLimit<T, N> {
    /// The wrapped lease.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T, const N: usize> core::ops::Deref for LenLimit<T, N> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease of `len` `u32`s, as a checked stub would hold it.
    fn words(len: usize) -> Leased<R, [u32]> {
        Leased {
            lender: TaskId(3),
            // Not 0 or 1, so that a constant index cannot pass for it.
            index: 2,
            len,
            _marker: PhantomData,
        }
    }

    #[test]
    fn a_range_inside_the_lease_is_its_bytes() {
        let lease = words(4);
        assert_eq!(lease.byte_range(&(0..4)), Some((0, 16)));
        assert_eq!(lease.byte_range(&(1..3)), Some((4, 8)));
        assert_eq!(lease.byte_range(&(3..4)), Some((12, 4)));
        assert_eq!(lease.byte_range(&(4..4)), Some((16, 0)));
        assert_eq!(lease.byte_range(&(2..2)), Some((8, 0)));
    }

    #[test]
    fn a_range_past_the_lease_or_backwards_is_refused() {
        let lease = words(4);
        assert_eq!(lease.byte_range(&(0..5)), None);
        assert_eq!(lease.byte_range(&(4..5)), None);
        assert_eq!(lease.byte_range(&(5..5)), None);
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 3..2;
        assert_eq!(lease.byte_range(&backwards), None);
    }

    #[test]
    fn a_lease_knows_its_length_lender_and_index() {
        assert_eq!((words(4).len(), words(4).is_empty()), (4, false));
        assert_eq!((words(0).len(), words(0).is_empty()), (0, true));
        assert_eq!(words(1).lender(), TaskId(3));
        assert_eq!(words(1).lease_index(), 2);
    }

    #[test]
    fn only_a_whole_successful_borrow_counts() {
        assert!(borrowed_all((0, 8), 8));
        assert!(borrowed_all((0, 0), 0));
        assert!(!borrowed_all((0, 7), 8), "short");
        assert!(!borrowed_all((abi::DEFECT, 8), 8), "refused");
        assert!(!borrowed_all((1, 0), 0), "dead client");
    }
}
