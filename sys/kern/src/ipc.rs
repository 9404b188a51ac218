//! SEND, RECV, REPLY and REPLY_FAULT: synchronous message passing.
//!
//! Saved-argument layouts (see userlib's stubs):
//! - SEND: `[target << 16 | op, out, out_len, in, in_len, leases, count]`
//! - RECV: `[buf, buf_len, notification_mask, filter]`
//! - REPLY: `[peer, code, msg, msg_len]`

use crate::err::{Outcome, UserError};
use crate::task::{self, Task};
use crate::{Kernel, Location, Platform};
use abi::{
    FaultInfo, MAX_LEASES, RECV_CLOSED, ReplyFaultReason, SchedState, TaskId,
    ULease, UsageError, dead_response_code,
};

/// Checks a slice a task named: `InvalidSlice` if it wraps,
/// `MemoryAccess` if it is not in the task's memory with the right access.
pub(crate) fn check_slice(
    t: &Task,
    addr: u32,
    len: u32,
    write: bool,
) -> Result<(), UserError> {
    if addr.checked_add(len).is_none() {
        return Err(UsageError::InvalidSlice.into());
    }
    if !t.desc.can_access(addr, len, write) {
        return Err(crate::err::memory_fault(addr));
    }
    Ok(())
}

/// Resolves a `TaskId` a task named: a fault for an impossible index, the
/// dead code for a stale generation or a task that is faulted (so that no
/// one ever blocks on a dead task).
pub(crate) fn check_task_id(
    tasks: &[Task],
    id: TaskId,
) -> Result<usize, UserError> {
    let i = id.index();
    if id == TaskId::KERNEL || i >= tasks.len() {
        return Err(UsageError::TaskOutOfRange.into());
    }
    let g = tasks[i].generation();
    if id.generation() != g || tasks[i].is_faulted() {
        return Err(UserError::Recoverable(dead_response_code(g)));
    }
    Ok(i)
}

impl<P: Platform> Kernel<'_, P> {
    pub(crate) fn send(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let target = TaskId((a[0] >> 16) as u16);
        if target == TaskId::KERNEL {
            return self.kipc(caller);
        }
        if target.index() >= self.tasks.len() {
            return Err(UsageError::TaskOutOfRange.into());
        }
        if !self.tasks[caller].desc.may_call(target.index()) {
            return Err(UsageError::NotInTaskSlots.into());
        }
        self.check_send_buffers(caller)?;
        self.check_leases(caller)?;
        let t = check_task_id(self.tasks, target)?;
        let me = self.task_id(caller);
        let ready = match self.tasks[t].sched() {
            Some(SchedState::InRecv(None)) => true,
            Some(SchedState::InRecv(Some(from))) => from == me,
            _ => false,
        };
        self.tasks[caller].set_sched(SchedState::InSend(target));
        if ready {
            self.deliver(caller, t);
        }
        Ok(Outcome::Blocked)
    }

    fn check_send_buffers(&self, caller: usize) -> Result<(), UserError> {
        let t = &self.tasks[caller];
        let a = t.save.args;
        check_slice(t, a[1], a[2], false)?;
        check_slice(t, a[3], a[4], true)?;
        if a[6] as usize > MAX_LEASES || !a[5].is_multiple_of(4) {
            return Err(UsageError::InvalidSlice.into());
        }
        check_slice(t, a[5], a[6] * 12, false)
    }

    /// Reads entry `index` of task `t`'s current lease table.
    pub(crate) fn lease_entry(&self, t: usize, index: usize) -> ULease {
        let base = self.tasks[t].save.args[5];
        let mut raw = [0u8; 12];
        let at = Location {
            task: t,
            address: base + 12 * index as u32,
        };
        self.mem_read(at, &mut raw);
        let w = |i: usize| {
            u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]])
        };
        ULease {
            attributes: w(0),
            base_address: w(4),
            length: w(8),
        }
    }

    /// Validates every lease of a SEND at send time, so that blame for a
    /// bad lease lands on the sender at once rather than on whoever
    /// borrows it later.
    fn check_leases(&self, caller: usize) -> Result<(), UserError> {
        let count = self.tasks[caller].save.args[6] as usize;
        for i in 0..count {
            let l = self.lease_entry(caller, i);
            if !l.attributes_valid() {
                return Err(UsageError::InvalidSlice.into());
            }
            if l.is_forwarded() {
                self.check_forward(caller, &l)?;
            } else {
                let write = l.rights().contains(abi::LeaseAttributes::WRITE);
                check_slice(
                    &self.tasks[caller],
                    l.base_address,
                    l.length,
                    write,
                )?;
            }
        }
        Ok(())
    }

    /// A forwarded lease may only pass on part of a lease our current
    /// client lent us, with no more rights. If the named lender is no
    /// longer waiting on us the lease is simply dead (borrows get DEFECT);
    /// if it is, any widening is our bug and faults us.
    fn check_forward(
        &self,
        caller: usize,
        l: &ULease,
    ) -> Result<(), UserError> {
        let (src, j) = l.forward_source();
        if src.index() >= self.tasks.len() || src.index() == caller {
            return Err(UsageError::BadLeaseForward.into());
        }
        let s = &self.tasks[src.index()];
        let me = self.task_id(caller);
        if s.generation() != src.generation()
            || s.sched() != Some(SchedState::InReply(me))
        {
            return Ok(());
        }
        if j >= s.save.args[6] as usize {
            return Err(UsageError::BadLeaseForward.into());
        }
        let orig = self.lease_entry(src.index(), j);
        let end = l.base_address as u64 + l.length as u64;
        if !orig.rights().contains(l.rights()) || end > orig.length as u64 {
            return Err(UsageError::BadLeaseForward.into());
        }
        Ok(())
    }

    /// Copies sender `s`'s message into receiver `r`'s buffer and wakes
    /// `r`; `s` now waits for the reply.
    fn deliver(&mut self, s: usize, r: usize) {
        let sa = self.tasks[s].save.args;
        let ra = self.tasks[r].save.args;
        let n = sa[2].min(ra[1]) as usize;
        if n > 0 {
            self.mem_copy(
                Location {
                    task: s,
                    address: sa[1],
                },
                Location {
                    task: r,
                    address: ra[0],
                },
                n,
            );
        }
        let sender = self.task_id(s);
        let rt = &mut self.tasks[r];
        rt.save.rets = [
            0,
            sender.0 as u32,
            sa[0] & 0xFFFF,
            sa[2],
            sa[4],
            sa[6],
            0,
            0,
        ];
        rt.wake();
        let rid = self.task_id(r);
        self.tasks[s].set_sched(SchedState::InReply(rid));
    }

    pub(crate) fn recv(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        check_slice(&self.tasks[caller], a[0], a[1], true)?;
        let filter = if a[3] & RECV_CLOSED != 0 {
            Some(TaskId(a[3] as u16))
        } else {
            None
        };
        self.tasks[caller].set_sched(SchedState::InRecv(filter));
        if deliver_notifications(&mut self.tasks[caller]) {
            return Ok(Outcome::Blocked);
        }
        let me = self.task_id(caller);
        let sender = match filter {
            Some(TaskId::KERNEL) => None,
            Some(from) => {
                let s = check_task_id(self.tasks, from).inspect_err(|_| {
                    self.tasks[caller].set_sched(SchedState::Runnable);
                })?;
                let waiting =
                    self.tasks[s].sched() == Some(SchedState::InSend(me));
                waiting.then_some(s)
            }
            None => self.highest_priority_sender(caller, me),
        };
        if let Some(s) = sender {
            self.deliver(s, caller);
        }
        Ok(Outcome::Blocked)
    }

    /// The most important task waiting to send to us; among equals, the
    /// first after us in table order, so that equals take turns.
    fn highest_priority_sender(
        &self,
        me_index: usize,
        me: TaskId,
    ) -> Option<usize> {
        let n = self.tasks.len();
        (1..n)
            .map(|k| (me_index + k) % n)
            .filter(|&i| self.tasks[i].sched() == Some(SchedState::InSend(me)))
            .min_by_key(|&i| self.tasks[i].desc.priority)
    }

    pub(crate) fn reply(
        &mut self,
        caller: usize,
    ) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        check_slice(&self.tasks[caller], a[2], a[3], false)?;
        let Some(p) = self.waiting_client(caller, TaskId(a[0] as u16))? else {
            return Ok(Outcome::Resume);
        };
        let capacity = self.tasks[p].save.args[4];
        if a[3] > capacity {
            return Err(UsageError::ReplyTooBig.into());
        }
        if a[3] > 0 {
            let dst = self.tasks[p].save.args[3];
            self.mem_copy(
                Location {
                    task: caller,
                    address: a[2],
                },
                Location {
                    task: p,
                    address: dst,
                },
                a[3] as usize,
            );
        }
        let pt = &mut self.tasks[p];
        pt.save.rets = [a[1], a[3], 0, 0, 0, 0, 0, 0];
        pt.wake();
        Ok(Outcome::Resume)
    }

    /// The index of `peer` if it is waiting for our reply; `None` (a reply
    /// to be dropped silently, as Hubris) if it is stale or not waiting.
    fn waiting_client(
        &self,
        caller: usize,
        peer: TaskId,
    ) -> Result<Option<usize>, UserError> {
        if peer == TaskId::KERNEL || peer.index() >= self.tasks.len() {
            return Err(UsageError::TaskOutOfRange.into());
        }
        let p = peer.index();
        let me = self.task_id(caller);
        let waiting = self.tasks[p].generation() == peer.generation()
            && self.tasks[p].sched() == Some(SchedState::InReply(me));
        Ok(waiting.then_some(p))
    }

    pub(crate) fn reply_fault(
        &mut self,
        caller: usize,
    ) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let reason = ReplyFaultReason::try_from(a[1])
            .map_err(|()| UsageError::BadReplyFaultReason)?;
        if let Some(p) = self.waiting_client(caller, TaskId(a[0] as u16))? {
            let me = self.task_id(caller);
            task::force_fault(self.tasks, p, FaultInfo::FromServer(me, reason));
        }
        Ok(Outcome::Resume)
    }
}

/// If `t` is receiving and has a notification it is waiting for, delivers
/// it (clearing those bits) and wakes `t`. Returns whether it did.
pub(crate) fn deliver_notifications(t: &mut Task) -> bool {
    if !matches!(t.sched(), Some(SchedState::InRecv(_))) {
        return false;
    }
    let fired = t.notifications & t.save.args[2];
    if fired == 0 {
        return false;
    }
    t.notifications &= !fired;
    t.save.rets = [0, TaskId::KERNEL.0 as u32, fired, 0, 0, 0, 0, 0];
    t.wake();
    true
}
