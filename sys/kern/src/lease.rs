//! BORROW_READ, BORROW_WRITE and BORROW_INFO, and the resolution of
//! forwarded lease chains.
//!
//! Saved-argument layout: `[lender, index, offset, buf, buf_len]`.
//!
//! Revocation is not a separate mechanism: every borrow re-checks that the
//! lender is still blocked in `InReply(borrower)`, and for a forwarded
//! lease that every earlier link is still blocked on the next. The moment
//! any link resumes, is faulted or restarts, the check fails and the
//! borrower gets `DEFECT`. The kernel is single-threaded, so nothing can
//! change between the check and the copy.

use crate::err::{Outcome, UserError};
use crate::ipc::check_slice;
use crate::{Kernel, Location, Platform};
use abi::{
    DEFECT, LeaseAttributes, SchedState, TaskId, UsageError, dead_response_code,
};

/// Longest chain of forwards we follow; deeper is treated as revoked.
const MAX_FORWARD_DEPTH: usize = 8;

/// Where a lease window ends up: a location in the original lender's
/// memory and how many bytes are available there.
pub(crate) struct Resolved {
    pub at: Location,
    pub available: u32,
}

impl<P: Platform> Kernel<'_, P> {
    /// The lender's index if `lender` is blocked on `borrower` with at least
    /// `index + 1` leases.
    pub(crate) fn check_lender(
        &self,
        borrower: usize,
        lender: TaskId,
        index: usize,
    ) -> Result<usize, UserError> {
        let l = lender.index();
        if lender == TaskId::KERNEL || l >= self.tasks.len() {
            return Err(UsageError::TaskOutOfRange.into());
        }
        let g = self.tasks[l].generation();
        if lender.generation() != g {
            return Err(UserError::Recoverable(dead_response_code(g)));
        }
        let me = self.task_id(borrower);
        if self.tasks[l].sched() != Some(SchedState::InReply(me)) {
            return Err(UserError::Recoverable(DEFECT));
        }
        if index >= self.tasks[l].save.args[6] as usize {
            return Err(UsageError::LeaseOutOfRange.into());
        }
        Ok(l)
    }

    /// Follows lease `index` of task `lender` (known to be blocked on its
    /// borrower) to real memory, requiring `rights`, starting `offset` bytes
    /// in. `Err(DEFECT)` if the lease lacks the rights or a link of a
    /// forwarded chain is no longer waiting.
    pub(crate) fn resolve(
        &self,
        mut lender: usize,
        mut index: usize,
        mut offset: u32,
        rights: LeaseAttributes,
    ) -> Result<Resolved, u32> {
        let mut limit = u32::MAX;
        for _ in 0..MAX_FORWARD_DEPTH {
            let l = self.lease_entry(lender, index);
            if !l.rights().contains(rights) || offset > l.length {
                return Err(DEFECT);
            }
            limit = limit.min(l.length - offset);
            if !l.is_forwarded() {
                return Ok(Resolved {
                    at: Location {
                        task: lender,
                        address: l.base_address + offset,
                    },
                    available: limit,
                });
            }
            let (src, j) = l.forward_source();
            let s = src.index();
            let waiting = s < self.tasks.len()
                && self.tasks[s].generation() == src.generation()
                && self.tasks[s].sched()
                    == Some(SchedState::InReply(self.task_id(lender)))
                && j < self.tasks[s].save.args[6] as usize;
            if !waiting {
                return Err(DEFECT);
            }
            offset = l.base_address.checked_add(offset).ok_or(DEFECT)?;
            lender = s;
            index = j;
        }
        Err(DEFECT)
    }

    fn borrow(
        &mut self,
        caller: usize,
        write: bool,
    ) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        check_slice(&self.tasks[caller], a[3], a[4], !write)?;
        let lender =
            self.check_lender(caller, TaskId(a[0] as u16), a[1] as usize)?;
        let top = self.lease_entry(lender, a[1] as usize);
        if a[2] > top.length {
            return Err(UsageError::OffsetOutOfRange.into());
        }
        let rights = if write {
            LeaseAttributes::WRITE
        } else {
            LeaseAttributes::READ
        };
        let r = self
            .resolve(lender, a[1] as usize, a[2], rights)
            .map_err(UserError::Recoverable)?;
        let n = a[4].min(r.available);
        if n > 0 {
            let mine = Location {
                task: caller,
                address: a[3],
            };
            let (src, dst) = if write { (mine, r.at) } else { (r.at, mine) };
            self.mem_copy(src, dst, n as usize);
        }
        self.tasks[caller].save.rets = [0, n, 0, 0, 0, 0, 0, 0];
        Ok(Outcome::Resume)
    }

    pub(crate) fn borrow_read(
        &mut self,
        caller: usize,
    ) -> Result<Outcome, UserError> {
        self.borrow(caller, false)
    }

    pub(crate) fn borrow_write(
        &mut self,
        caller: usize,
    ) -> Result<Outcome, UserError> {
        self.borrow(caller, true)
    }

    pub(crate) fn borrow_info(
        &mut self,
        caller: usize,
    ) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let lender =
            self.check_lender(caller, TaskId(a[0] as u16), a[1] as usize)?;
        // We describe the lease as its direct lender lent it, even if it
        // forwards one whose chain has since broken: that lender is alive
        // and waiting for our reply, so answering "the lender went away"
        // would leave it blocked forever (a server must not reply to a
        // client that is gone). The revocation shows where it must anyway,
        // on the data: every read or write through the lease gets DEFECT,
        // as it would if the chain broke a moment after this call.
        let top = self.lease_entry(lender, a[1] as usize);
        self.tasks[caller].save.rets =
            [0, top.rights().0, top.length, 0, 0, 0, 0, 0];
        Ok(Outcome::Resume)
    }
}
