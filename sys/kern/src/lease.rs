//! BORROW_READ, BORROW_WRITE and BORROW_INFO, and how a lease is followed
//! to memory.
//!
//! **A lease is an allegation.** The lease table lives in the lender's
//! RAM, and the lender may itself have lent that RAM out writable: a
//! server can rewrite its client's table while the client waits. So the
//! kernel checks an entry every time it uses it, not only at SEND: its
//! attribute bits, that `base + length` does not wrap, that the range lies
//! in the lender's memory with the access its rights claim (a write right
//! never reaches flash), and for a forwarded lease that the window and
//! rights fit inside the lease it passes on, at every link of the chain.
//! A bad entry faults the task whose table it is (Hubris's `InteractFault`
//! blames the side that made the mistake) and the borrower gets `DEFECT`;
//! the borrower is faulted only for its own mistakes (a lease index or an
//! offset past what it was told, a buffer that is not its own).
//!
//! Revocation is not a separate mechanism: every borrow re-checks that the
//! lender is still blocked in `InReply(borrower)`, and for a forwarded
//! lease that every earlier link is still blocked on the next. The moment
//! any link resumes, is faulted or restarts, the check fails and the
//! borrower gets `DEFECT`. The kernel is single-threaded, so nothing can
//! change between the check and the copy.

use crate::args::{LEASE_ENTRY_SIZE, borrow_rights};
use crate::err::{Outcome, UserError};
use crate::task::TaskIndex;
use crate::umem::{USlice, check_slice};
use crate::{Kernel, Platform};
use abi::{
    DEFECT, FaultInfo, LEASE_DESCRIPTOR_SIZE, LEASE_DESCRIPTOR_VALID,
    LeaseAttributes, SchedState, TaskId, ULease, UsageError,
    dead_response_code,
};

/// Longest chain of forwards we follow; deeper is treated as revoked.
const MAX_FORWARD_DEPTH: usize = 8;

/// Where a lease window ends up: an address in the original lender's
/// memory and how many bytes are available there.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Resolved {
    pub owner: TaskIndex,
    pub address: u32,
    pub available: u32,
}

/// Why a lease could not be followed.
#[derive(Copy, Clone, Debug)]
pub(crate) enum LeaseError {
    /// The lease is gone or does not grant what was asked: a link of its
    /// chain stopped waiting, the chain is too deep, or the rights are
    /// missing. The borrower gets `DEFECT`; nobody is faulted.
    Revoked,
    /// Task `lender`'s lease table holds a malformed entry: its mistake.
    BadEntry { lender: TaskIndex, fault: FaultInfo },
}

fn bad_forward() -> FaultInfo {
    FaultInfo::SyscallUsage(UsageError::BadLeaseForward)
}

impl<P: Platform> Kernel<'_, P> {
    /// The lender's index if `lender` is blocked on `borrower` with more
    /// than `index` leases.
    pub(crate) fn check_lender(
        &self,
        borrower: TaskIndex,
        lender: TaskId,
        index: u32,
    ) -> Result<TaskIndex, UserError> {
        let found = TaskIndex::new(&self.tasks, lender.index())
            .filter(|_| lender != TaskId::KERNEL)
            .ok_or(UsageError::TaskOutOfRange)?;
        let current = self.tasks[found].generation();
        if lender.generation() != current {
            return Err(UserError::Recoverable(dead_response_code(current)));
        }
        let me = self.task_id_of(borrower);
        if self.tasks[found].sched() != Some(SchedState::InReply(me)) {
            return Err(UserError::Recoverable(DEFECT));
        }
        let (_, count) = self.tasks[found].save.lease_table();
        if index >= count {
            return Err(UsageError::LeaseOutOfRange.into());
        }
        Ok(found)
    }

    /// Reads entry `index` of `lender`'s current lease table and checks
    /// it; `Err` is the fault the lender takes for a bad one.
    pub(crate) fn lease_entry(
        &self,
        lender: TaskIndex,
        index: u32,
    ) -> Result<ULease, FaultInfo> {
        let (base, count) = self.tasks[lender].save.lease_table();
        if index >= count {
            return Err(UsageError::LeaseOutOfRange.into_fault());
        }
        let address = index
            .checked_mul(LEASE_ENTRY_SIZE)
            .and_then(|offset| base.checked_add(offset))
            .ok_or(UsageError::InvalidSlice.into_fault())?;
        let mut raw = [0u8; LEASE_ENTRY_SIZE as usize];
        self.read_user(lender, address, &mut raw)
            .map_err(|error| error.fault())?;
        let [a0, a1, a2, a3, b0, b1, b2, b3, l0, l1, l2, l3] = raw;
        let entry = ULease {
            attributes: u32::from_le_bytes([a0, a1, a2, a3]),
            base_address: u32::from_le_bytes([b0, b1, b2, b3]),
            length: u32::from_le_bytes([l0, l1, l2, l3]),
        };
        self.check_entry(lender, &entry)?;
        Ok(entry)
    }

    /// The checks an entry must pass wherever it is used: defined
    /// attribute bits; for an ordinary lease, a range in the lender's
    /// memory with the access its rights claim; for a forwarded one, a
    /// source that is another task of the table.
    fn check_entry(
        &self,
        lender: TaskIndex,
        entry: &ULease,
    ) -> Result<(), FaultInfo> {
        if !entry.attributes_valid() {
            return Err(UsageError::InvalidSlice.into_fault());
        }
        if entry.is_forwarded() {
            let (source, _) = entry.forward_source();
            let valid = TaskIndex::new(&self.tasks, source.index())
                .is_some_and(|s| s != lender);
            return if valid { Ok(()) } else { Err(bad_forward()) };
        }
        let write = entry.rights().contains(LeaseAttributes::WRITE);
        let range = USlice::new(entry.base_address, entry.length);
        check_slice(&self.tasks[lender], range, write).map_err(|e| match e {
            UserError::Unrecoverable(fault) => fault,
            UserError::Recoverable(_) => UsageError::InvalidSlice.into_fault(),
        })
    }

    /// For forwarded `entry` of `forwarder`: the lease it passes on, if
    /// its lender still waits on the forwarder. The forward's window and
    /// rights must fit inside that lease, or it is the forwarder's fault.
    fn forward_source(
        &self,
        forwarder: TaskIndex,
        entry: &ULease,
    ) -> Result<(TaskIndex, ULease), LeaseError> {
        let bad = LeaseError::BadEntry {
            lender: forwarder,
            fault: bad_forward(),
        };
        let (source_id, source_lease) = entry.forward_source();
        let source =
            TaskIndex::new(&self.tasks, source_id.index()).ok_or(bad)?;
        let waiting_on = SchedState::InReply(self.task_id_of(forwarder));
        let lender = &self.tasks[source];
        if lender.generation() != source_id.generation()
            || lender.sched() != Some(waiting_on)
        {
            return Err(LeaseError::Revoked);
        }
        let (_, count) = lender.save.lease_table();
        let index = u32::try_from(source_lease).unwrap_or(u32::MAX);
        if index >= count {
            return Err(bad);
        }
        let original = self.lease_entry(source, index).map_err(|fault| {
            LeaseError::BadEntry {
                lender: source,
                fault,
            }
        })?;
        let end = entry.base_address.checked_add(entry.length);
        let fits = end.is_some_and(|end| end <= original.length);
        if !fits || !original.rights().contains(entry.rights()) {
            return Err(bad);
        }
        Ok((source, original))
    }

    /// Follows checked `entry` of `lender` to real memory, requiring
    /// `rights`, starting `offset` (at most the entry's length) bytes in.
    pub(crate) fn resolve(
        &self,
        lender: TaskIndex,
        entry: ULease,
        offset: u32,
        rights: LeaseAttributes,
    ) -> Result<Resolved, LeaseError> {
        let (mut task, mut entry, mut offset) = (lender, entry, offset);
        let mut available = u32::MAX;
        for _ in 0..MAX_FORWARD_DEPTH {
            if !entry.rights().contains(rights) {
                return Err(LeaseError::Revoked);
            }
            let bad = LeaseError::BadEntry {
                lender: task,
                fault: bad_forward(),
            };
            // Every link's offset is within its entry: the borrower's was
            // checked, and each forward's window fits its source.
            let remaining = entry.length.checked_sub(offset).ok_or(bad)?;
            available = available.min(remaining);
            let address = entry.base_address.checked_add(offset).ok_or(bad)?;
            if !entry.is_forwarded() {
                return Ok(Resolved {
                    owner: task,
                    address,
                    available,
                });
            }
            (task, entry) = self.forward_source(task, &entry)?;
            offset = address;
        }
        Err(LeaseError::Revoked)
    }

    /// What a failed lease costs: the lender of a bad entry is faulted,
    /// and the borrower gets `DEFECT` either way.
    pub(crate) fn lease_failed(&mut self, error: LeaseError) -> UserError {
        if let LeaseError::BadEntry { lender, fault } = error {
            crate::task::force_fault(&mut self.tasks, lender, fault);
        }
        UserError::Recoverable(DEFECT)
    }

    /// Lease `index` of `lender` (known to be waiting on the borrower)
    /// from `offset` on, with `rights`: where it is and how much of it.
    /// An offset past the lease is the borrower's fault.
    pub(crate) fn lease_window(
        &mut self,
        lender: TaskIndex,
        index: u32,
        offset: u32,
        rights: LeaseAttributes,
    ) -> Result<Resolved, UserError> {
        let top = match self.lease_entry(lender, index) {
            Ok(entry) => entry,
            Err(fault) => {
                let error = LeaseError::BadEntry { lender, fault };
                return Err(self.lease_failed(error));
            }
        };
        if offset > top.length {
            return Err(UsageError::OffsetOutOfRange.into());
        }
        self.resolve(lender, top, offset, rights)
            .map_err(|error| self.lease_failed(error))
    }

    fn borrow(
        &mut self,
        caller: TaskIndex,
        write: bool,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_borrow_args();
        check_slice(&self.tasks[caller], args.buffer, !write)?;
        let lender =
            self.check_lender(caller, args.lender, args.lease_index)?;
        let rights = borrow_rights(write);
        let window =
            self.lease_window(lender, args.lease_index, args.offset, rights)?;
        let length = args.buffer.length.min(window.available);
        let mine = (caller, args.buffer.base);
        let theirs = (window.owner, window.address);
        let (source, destination) = if write {
            (mine, theirs)
        } else {
            (theirs, mine)
        };
        if let Err(error) = self.copy_user(source, destination, length) {
            self.blame(caller, error)?;
            return Err(UserError::Recoverable(DEFECT));
        }
        self.tasks[caller].save.set_rets(&[0, length]);
        Ok(Outcome::Resume)
    }

    pub(crate) fn borrow_read(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        self.borrow(caller, false)
    }

    pub(crate) fn borrow_write(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        self.borrow(caller, true)
    }

    /// For a RECV with `RECV_LEASE_INFO`: writes a descriptor for each of
    /// `sender`'s `count` leases into `receiver`'s `buffer`, after the
    /// `message_len` bytes of the message at the next 4-byte boundary, as
    /// BORROW_INFO would describe each. Returns how many it wrote: all, or
    /// none when they do not fit (the server asks BORROW_INFO instead). A
    /// malformed entry gets a descriptor without the valid bit, so that
    /// the server's BORROW_INFO finds it and the lender takes the fault
    /// there, not here in the middle of a delivery.
    pub(crate) fn describe_leases(
        &mut self,
        sender: TaskIndex,
        (receiver, buffer, message_len): (TaskIndex, USlice, u32),
        count: u32,
    ) -> u32 {
        let Some(at) = message_len.checked_add(3).map(|n| n & !3) else {
            return 0;
        };
        let size = count.checked_mul(LEASE_DESCRIPTOR_SIZE);
        let end = size.and_then(|size| at.checked_add(size));
        if count == 0 || end.is_none_or(|end| end > buffer.length) {
            return 0;
        }
        for index in 0..count {
            let (attributes, length) = match self.lease_entry(sender, index) {
                Ok(entry) => {
                    (entry.rights().0 | LEASE_DESCRIPTOR_VALID, entry.length)
                }
                Err(_) => (0, 0),
            };
            let mut bytes = [0u8; LEASE_DESCRIPTOR_SIZE as usize];
            let (attr, len) = bytes.split_at_mut(4);
            attr.copy_from_slice(&attributes.to_le_bytes());
            len.copy_from_slice(&length.to_le_bytes());
            let address = index
                .checked_mul(LEASE_DESCRIPTOR_SIZE)
                .and_then(|offset| at.checked_add(offset))
                .and_then(|offset| buffer.base.checked_add(offset));
            let written = address
                .map(|address| self.write_user(receiver, address, &bytes));
            if !matches!(written, Some(Ok(()))) {
                return 0;
            }
        }
        count
    }

    /// Describes a lease as its direct lender lent it, even if it forwards
    /// one whose chain has since broken: that lender is alive and waiting
    /// for our reply, so answering "the lender went away" would leave it
    /// blocked forever (a server must not reply to a client that is
    /// gone). The revocation shows where it must anyway, on the data:
    /// every read or write through the lease gets DEFECT, as it would if
    /// the chain broke a moment after this call. A malformed entry faults
    /// the lender, as any use of it does.
    pub(crate) fn borrow_info(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_borrow_args();
        let lender =
            self.check_lender(caller, args.lender, args.lease_index)?;
        let top = match self.lease_entry(lender, args.lease_index) {
            Ok(entry) => entry,
            Err(fault) => {
                let error = LeaseError::BadEntry { lender, fault };
                return Err(self.lease_failed(error));
            }
        };
        let rets = [0, top.rights().0, top.length];
        self.tasks[caller].save.set_rets(&rets);
        Ok(Outcome::Resume)
    }
}

/// Converts a usage error into the fault it causes.
trait IntoFault {
    fn into_fault(self) -> FaultInfo;
}

impl IntoFault for UsageError {
    fn into_fault(self) -> FaultInfo {
        FaultInfo::SyscallUsage(self)
    }
}
