//! SEND, RECV, REPLY and REPLY_FAULT: synchronous message passing.
//!
//! Argument layouts are the typed views in [`crate::args`].

use crate::args::{RecvArgs, ReplyArgs, SendArgs};
use crate::err::{Outcome, UserError};
use crate::lease::LeaseError;
use crate::task::{self, TaskIndex, TaskTable};
use crate::umem::check_slice;
use crate::{Kernel, Platform};
use abi::{
    FaultInfo, MAX_LEASES, ReplyFaultReason, SchedState, TaskId, UsageError,
    dead_response_code,
};

/// Resolves a `TaskId` a task named: a fault for an impossible index, the
/// dead code for a stale generation or a task that is faulted (so that no
/// one ever blocks on a dead task).
pub(crate) fn check_task_id(
    tasks: &TaskTable<'_>,
    id: TaskId,
) -> Result<TaskIndex, UserError> {
    let index = TaskIndex::new(tasks, id.index())
        .filter(|_| id != TaskId::KERNEL)
        .ok_or(UsageError::TaskOutOfRange)?;
    let current = tasks[index].generation();
    if id.generation() != current || tasks[index].is_faulted() {
        return Err(UserError::Recoverable(dead_response_code(current)));
    }
    Ok(index)
}

impl<P: Platform> Kernel<'_, P> {
    pub(crate) fn send(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_send_args();
        if args.target == TaskId::KERNEL {
            return self.kipc(caller);
        }
        let callee = TaskIndex::new(&self.tasks, args.target.index())
            .ok_or(UsageError::TaskOutOfRange)?;
        if !self.tasks[caller].desc.may_call(callee.get()) {
            return Err(UsageError::NotInTaskSlots.into());
        }
        self.check_send_buffers(caller, &args)?;
        self.check_leases(caller, &args)?;
        let callee = check_task_id(&self.tasks, args.target)?;
        let me = self.task_id_of(caller);
        let ready = match self.tasks[callee].sched() {
            Some(SchedState::InRecv(None)) => true,
            Some(SchedState::InRecv(Some(from))) => from == me,
            _ => false,
        };
        self.tasks[caller].set_sched(SchedState::InSend(args.target));
        if ready {
            self.deliver(caller, callee);
        }
        Ok(Outcome::Blocked)
    }

    fn check_send_buffers(
        &self,
        caller: TaskIndex,
        args: &SendArgs,
    ) -> Result<(), UserError> {
        let task = &self.tasks[caller];
        check_slice(task, args.outgoing, false)?;
        check_slice(task, args.incoming, true)?;
        let table = args.lease_table().ok_or(UsageError::InvalidSlice)?;
        let too_many = usize::try_from(args.lease_count)
            .map_or(true, |count| count > MAX_LEASES);
        if too_many || !args.lease_table_base.is_multiple_of(4) {
            return Err(UsageError::InvalidSlice.into());
        }
        check_slice(task, table, false)
    }

    /// Checks every lease of a SEND at send time, so that blame for a bad
    /// lease lands on the sender at once rather than on whoever borrows it
    /// later (each borrow checks again: see `lease.rs`). A forwarded lease
    /// whose source no longer waits on us is simply dead, not a mistake.
    fn check_leases(
        &self,
        caller: TaskIndex,
        args: &SendArgs,
    ) -> Result<(), UserError> {
        for index in 0..args.lease_count {
            let entry = self.lease_entry(caller, index)?;
            match self.resolve(caller, entry, 0, Default::default()) {
                Ok(_) | Err(LeaseError::Revoked) => {}
                Err(LeaseError::BadEntry { lender, fault }) => {
                    // Only our own table is ours to answer for here; a
                    // broken link further up will be blamed on use.
                    if lender == caller {
                        return Err(fault.into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Copies sender `sender`'s message into receiver `receiver`'s buffer
    /// and wakes `receiver`; `sender` now waits for the reply. If either
    /// buffer is refused, its owner is faulted (which releases the other).
    fn deliver(&mut self, sender: TaskIndex, receiver: TaskIndex) {
        let send = self.tasks[sender].save.as_send_args();
        let recv = self.tasks[receiver].save.as_recv_args();
        let length = send.outgoing.length.min(recv.buffer.length);
        let copied = self.copy_user(
            (sender, send.outgoing.base),
            (receiver, recv.buffer.base),
            length,
        );
        if let Err(error) = copied {
            if let Some(owner) = TaskIndex::new(&self.tasks, error.task) {
                task::force_fault(&mut self.tasks, owner, error.fault());
            }
            return;
        }
        let sender_id = u32::from(self.task_id_of(sender).0);
        let receiver_id = self.task_id_of(receiver);
        self.tasks[sender].set_sched(SchedState::InReply(receiver_id));
        let described = if recv.lease_info {
            let after = (receiver, recv.buffer, length);
            self.describe_leases(sender, after, send.lease_count)
        } else {
            0
        };
        self.tasks.wake_with(
            receiver,
            [
                0,
                sender_id,
                u32::from(send.operation),
                send.outgoing.length,
                send.incoming.length,
                send.lease_count,
                described,
                0,
            ],
        );
    }

    pub(crate) fn recv(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_recv_args();
        self.recv_with(caller, args)
    }

    /// REPLY_RECV: the REPLY, then the RECV. A mistake in the reply faults
    /// the caller before it receives anything, exactly as a REPLY would;
    /// a reply to a client that is no longer waiting is dropped and the
    /// receive goes ahead.
    pub(crate) fn reply_recv(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_reply_recv_args();
        // Both halves are checked before either acts, so a bad receive
        // buffer cannot leave a reply half delivered by a faulted server.
        check_slice(&self.tasks[caller], args.recv.buffer, true)?;
        if let Some(reply) = args.reply {
            self.reply_with(caller, reply)?;
        }
        // From here on the task is in a plain RECV, and whoever delivers
        // to it later (a sender, a notification) reads RECV's layout.
        self.tasks[caller].save.become_recv();
        self.recv(caller)
    }

    fn recv_with(
        &mut self,
        caller: TaskIndex,
        args: RecvArgs,
    ) -> Result<Outcome, UserError> {
        check_slice(&self.tasks[caller], args.buffer, true)?;
        self.tasks[caller].set_sched(SchedState::InRecv(args.from));
        if task::deliver_notifications(&mut self.tasks, caller) {
            return Ok(Outcome::Blocked);
        }
        let me = self.task_id_of(caller);
        let sender = match args.from {
            Some(TaskId::KERNEL) => None,
            Some(from) => {
                let sender =
                    check_task_id(&self.tasks, from).inspect_err(|_| {
                        self.tasks[caller].set_sched(SchedState::Runnable);
                    })?;
                let waiting =
                    self.tasks[sender].sched() == Some(SchedState::InSend(me));
                waiting.then_some(sender)
            }
            None => self.highest_priority_sender(caller, me),
        };
        if let Some(sender) = sender {
            self.deliver(sender, caller);
        }
        Ok(Outcome::Blocked)
    }

    /// The most important task waiting to send to us; among equals, the
    /// first after us in table order, so that equals take turns.
    fn highest_priority_sender(
        &self,
        receiver: TaskIndex,
        me: TaskId,
    ) -> Option<TaskIndex> {
        let all = TaskIndex::all(&self.tasks);
        let after = all.clone().filter(|&i| i > receiver);
        let before = all.filter(|&i| i < receiver);
        after
            .chain(before)
            .filter(|&i| self.tasks[i].sched() == Some(SchedState::InSend(me)))
            .min_by_key(|&i| self.tasks[i].desc.priority)
    }

    pub(crate) fn reply(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_reply_args();
        self.reply_with(caller, args)?;
        Ok(Outcome::Resume)
    }

    /// Delivers a reply; the caller's own outcome is its syscall's to say.
    fn reply_with(
        &mut self,
        caller: TaskIndex,
        args: ReplyArgs,
    ) -> Result<(), UserError> {
        check_slice(&self.tasks[caller], args.message, false)?;
        let Some(client) = self.waiting_client(caller, args.peer)? else {
            return Ok(());
        };
        let reply_buffer = self.tasks[client].save.reply_buffer();
        if args.message.length > reply_buffer.length {
            return Err(UsageError::ReplyTooBig.into());
        }
        let copied = self.copy_user(
            (caller, args.message.base),
            (client, reply_buffer.base),
            args.message.length,
        );
        if let Err(error) = copied {
            // The client's reply buffer was refused: its fault, and
            // faulting it is all the reply there is.
            return self.blame(caller, error);
        }
        let rets = [args.code, args.message.length, 0, 0, 0, 0, 0, 0];
        self.tasks.wake_with(client, rets);
        Ok(())
    }

    /// The index of `peer` if it is waiting for our reply; `None` (a reply
    /// to be dropped silently, as Hubris) if it is stale or not waiting.
    fn waiting_client(
        &self,
        caller: TaskIndex,
        peer: TaskId,
    ) -> Result<Option<TaskIndex>, UserError> {
        let client = TaskIndex::new(&self.tasks, peer.index())
            .filter(|_| peer != TaskId::KERNEL)
            .ok_or(UsageError::TaskOutOfRange)?;
        let me = self.task_id_of(caller);
        let task = &self.tasks[client];
        let waiting = task.generation() == peer.generation()
            && task.sched() == Some(SchedState::InReply(me));
        Ok(waiting.then_some(client))
    }

    pub(crate) fn reply_fault(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_reply_fault_args();
        let reason = ReplyFaultReason::try_from(args.reason)
            .map_err(|()| UsageError::BadReplyFaultReason)?;
        if let Some(client) = self.waiting_client(caller, args.peer)? {
            let me = self.task_id_of(caller);
            let fault = FaultInfo::FromServer(me, reason);
            task::force_fault(&mut self.tasks, client, fault);
        }
        Ok(Outcome::Resume)
    }
}
