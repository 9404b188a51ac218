//! Typed views of a task's saved syscall arguments, one per syscall, as
//! Hubris's `as_send_args()`: each layout is written down once, here,
//! instead of as raw `args[5]` wherever it is read.
//!
//! The views hold what the task *alleges*: a [`USlice`] is an address and
//! a length the kernel has not checked yet (see [`crate::umem`]).

use crate::task::SavedState;
use crate::umem::USlice;
use abi::{LeaseAttributes, RECV_CLOSED, RECV_LEASE_INFO, TaskId};

/// Size of one lease-table entry (`abi::ULease`), in bytes.
pub const LEASE_ENTRY_SIZE: u32 = 12;

/// SEND: `[target << 16 | operation, out, out_len, in, in_len, leases,
/// lease_count]`.
#[derive(Copy, Clone, Debug)]
pub struct SendArgs {
    pub target: TaskId,
    pub operation: u16,
    pub outgoing: USlice,
    pub incoming: USlice,
    /// The lease table's address; its length is `lease_count` entries.
    pub lease_table_base: u32,
    pub lease_count: u32,
}

impl SendArgs {
    /// The lease table as a slice, or `None` if its size overflows.
    pub fn lease_table(&self) -> Option<USlice> {
        let length = self.lease_count.checked_mul(LEASE_ENTRY_SIZE)?;
        Some(USlice::new(self.lease_table_base, length))
    }
}

/// RECV: `[buffer, buffer_len, notification_mask, sender filter]`.
#[derive(Copy, Clone, Debug)]
pub struct RecvArgs {
    pub buffer: USlice,
    pub notification_mask: u32,
    /// `Some(task)` for a closed receive (bit 31 of the filter).
    pub from: Option<TaskId>,
    /// Lease descriptors wanted after the message (bit 30).
    pub lease_info: bool,
}

/// REPLY: `[peer, code, message, message_len]`.
#[derive(Copy, Clone, Debug)]
pub struct ReplyArgs {
    pub peer: TaskId,
    pub code: u32,
    pub message: USlice,
}

/// REPLY_RECV: `[peer, code, message, message_len, buffer, buffer_len,
/// notification_mask, sender filter]`: a REPLY's four words, then a
/// RECV's. A peer of `TaskId::KERNEL` means there is no one to answer yet
/// (a server's first receive).
#[derive(Copy, Clone, Debug)]
pub struct ReplyRecvArgs {
    pub reply: Option<ReplyArgs>,
    pub recv: RecvArgs,
}

/// REPLY_FAULT: `[peer, reason]`.
#[derive(Copy, Clone, Debug)]
pub struct ReplyFaultArgs {
    pub peer: TaskId,
    pub reason: u32,
}

/// BORROW_READ / BORROW_WRITE: `[lender, index, offset, buffer,
/// buffer_len]`; BORROW_INFO uses only the first two.
#[derive(Copy, Clone, Debug)]
pub struct BorrowArgs {
    pub lender: TaskId,
    pub lease_index: u32,
    pub offset: u32,
    pub buffer: USlice,
}

/// SET_TIMER: `[enabled, deadline_lo, deadline_hi, notifications]`.
#[derive(Copy, Clone, Debug)]
pub struct SetTimerArgs {
    pub deadline: Option<u64>,
    pub notifications: u32,
}

/// IRQ_CONTROL / IRQ_STATUS: `[notification_mask, flags]`.
#[derive(Copy, Clone, Debug)]
pub struct IrqArgs {
    pub mask: u32,
    pub flags: u32,
}

/// POST: `[task, bits]`.
#[derive(Copy, Clone, Debug)]
pub struct PostArgs {
    pub target: TaskId,
    pub bits: u32,
}

/// PERIPHERAL_IO: `[peripheral, op, a, b, c, d]`, where `a..d` mean what
/// the operation says ([`PeripheralArgs`]'s accessors).
#[derive(Copy, Clone, Debug)]
pub struct PeripheralArgs {
    pub peripheral: u16,
    pub op: u32,
    pub operands: [u32; 4],
}

impl PeripheralArgs {
    /// Register operations: `(register, value)`.
    pub fn register(&self) -> (u32, u32) {
        (self.operands[0], self.operands[1])
    }

    /// Bulk operations on the caller's own memory: `(address, length)`.
    pub fn own_memory(&self) -> USlice {
        USlice::new(self.operands[0], self.operands[1])
    }

    /// `WriteFromLease`: `(lender, lease index, offset, length)`.
    pub fn lease(&self) -> (TaskId, u32, u32, u32) {
        let [lender, index, offset, length] = self.operands;
        (TaskId(lender as u16), index, offset, length)
    }
}

/// Kernel IPC (a SEND to `TaskId::KERNEL`): the operation and the two
/// buffers; the message words are decoded by each kipc.
#[derive(Copy, Clone, Debug)]
pub struct KipcArgs {
    pub operation: u16,
    pub message: USlice,
    pub response: USlice,
}

/// A RECV's four argument words, wherever they sit in the frame.
fn recv_args(buffer: u32, length: u32, mask: u32, filter: u32) -> RecvArgs {
    RecvArgs {
        buffer: USlice::new(buffer, length),
        notification_mask: mask,
        from: (filter & RECV_CLOSED != 0).then_some(TaskId(filter as u16)),
        lease_info: filter & RECV_LEASE_INFO != 0,
    }
}

/// Combines two 32-bit words into a 64-bit value (low word first).
fn u64_from_words(low: u32, high: u32) -> u64 {
    u64::from(low) | (u64::from(high) << 32)
}

impl SavedState {
    pub fn as_send_args(&self) -> SendArgs {
        let [target_op, out, out_len, inc, inc_len, leases, count, _] =
            self.args;
        SendArgs {
            target: TaskId((target_op >> 16) as u16),
            operation: target_op as u16,
            outgoing: USlice::new(out, out_len),
            incoming: USlice::new(inc, inc_len),
            lease_table_base: leases,
            lease_count: count,
        }
    }

    pub fn as_kipc_args(&self) -> KipcArgs {
        let send = self.as_send_args();
        KipcArgs {
            operation: send.operation,
            message: send.outgoing,
            response: send.incoming,
        }
    }

    pub fn as_recv_args(&self) -> RecvArgs {
        let [buffer, length, mask, filter, ..] = self.args;
        recv_args(buffer, length, mask, filter)
    }

    pub fn as_reply_args(&self) -> ReplyArgs {
        let [peer, code, message, length, ..] = self.args;
        ReplyArgs {
            peer: TaskId(peer as u16),
            code,
            message: USlice::new(message, length),
        }
    }

    pub fn as_reply_recv_args(&self) -> ReplyRecvArgs {
        let [
            peer,
            code,
            message,
            length,
            buffer,
            buffer_len,
            mask,
            filter,
        ] = self.args;
        let peer = TaskId(peer as u16);
        ReplyRecvArgs {
            reply: (peer != TaskId::KERNEL).then_some(ReplyArgs {
                peer,
                code,
                message: USlice::new(message, length),
            }),
            recv: recv_args(buffer, buffer_len, mask, filter),
        }
    }

    /// Turns a REPLY_RECV whose reply is done into the RECV it now is:
    /// the receive words move to where RECV keeps them. (The argument
    /// words are the task's to lose: results overwrite them anyway.)
    pub fn become_recv(&mut self) {
        let [_, _, _, _, buffer, length, mask, filter] = self.args;
        self.args = [buffer, length, mask, filter, 0, 0, 0, 0];
    }

    pub fn as_reply_fault_args(&self) -> ReplyFaultArgs {
        let [peer, reason, ..] = self.args;
        ReplyFaultArgs {
            peer: TaskId(peer as u16),
            reason,
        }
    }

    pub fn as_borrow_args(&self) -> BorrowArgs {
        let [lender, index, offset, buffer, length, ..] = self.args;
        BorrowArgs {
            lender: TaskId(lender as u16),
            lease_index: index,
            offset,
            buffer: USlice::new(buffer, length),
        }
    }

    pub fn as_set_timer_args(&self) -> SetTimerArgs {
        let [enabled, low, high, notifications, ..] = self.args;
        SetTimerArgs {
            deadline: (enabled != 0).then_some(u64_from_words(low, high)),
            notifications,
        }
    }

    pub fn as_irq_args(&self) -> IrqArgs {
        let [mask, flags, ..] = self.args;
        IrqArgs { mask, flags }
    }

    pub fn as_post_args(&self) -> PostArgs {
        let [target, bits, ..] = self.args;
        PostArgs {
            target: TaskId(target as u16),
            bits,
        }
    }

    /// PANIC: `[message, message_len]`.
    pub fn as_panic_args(&self) -> USlice {
        let [message, length, ..] = self.args;
        USlice::new(message, length)
    }

    /// REFRESH_TASK_ID: `[task]`.
    pub fn as_refresh_args(&self) -> TaskId {
        TaskId(self.args[0] as u16)
    }

    pub fn as_peripheral_args(&self) -> PeripheralArgs {
        let [peripheral, op, a, b, c, d, ..] = self.args;
        PeripheralArgs {
            peripheral: peripheral as u16,
            op,
            operands: [a, b, c, d],
        }
    }

    /// For a task blocked in SEND or waiting for its reply: its lease
    /// table, as it alleged it at SEND.
    pub fn lease_table(&self) -> (u32, u32) {
        let send = self.as_send_args();
        (send.lease_table_base, send.lease_count)
    }

    /// For a task blocked in SEND or waiting for its reply: where the
    /// reply goes.
    pub fn reply_buffer(&self) -> USlice {
        self.as_send_args().incoming
    }

    /// Sets the results: `[code, values...]`, the rest zero.
    pub fn set_rets(&mut self, values: &[u32]) {
        self.rets = [0; 8];
        for (slot, value) in self.rets.iter_mut().zip(values) {
            *slot = *value;
        }
    }
}

/// The rights a borrow needs.
pub fn borrow_rights(write: bool) -> LeaseAttributes {
    if write {
        LeaseAttributes::WRITE
    } else {
        LeaseAttributes::READ
    }
}
