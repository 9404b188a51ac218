//! One stub per syscall, in `abi::Sysnum` order.

use crate::arch::syscall;
use abi::*;
use core::marker::PhantomData;

fn frame(args: [u32; 8]) -> SyscallFrame {
    SyscallFrame { args, rets: [0; 8] }
}

/// Addresses on the hosted platform fit in 32 bits because the build links
/// every task below 4 GiB; a slice elsewhere cannot exist in a task, and if
/// it did the kernel would fault us for the truncated address.
fn addr<T: ?Sized>(p: *const T) -> u32 {
    p as *const u8 as usize as u32
}

/// A lease: memory lent to the receiver of one SEND. `repr(transparent)`
/// over the kernel's lease-table entry, so a `&[Lease]` is the table.
#[derive(Copy, Clone, Debug)]
#[repr(transparent)]
pub struct Lease<'a> {
    raw: ULease,
    _marker: PhantomData<&'a mut [u8]>,
}

impl<'a> Lease<'a> {
    pub fn read_only(data: &'a [u8]) -> Self {
        Self::raw(LeaseAttributes::READ, addr(data), data.len())
    }

    pub fn write_only(data: &'a mut [u8]) -> Self {
        Self::raw(LeaseAttributes::WRITE, addr(data), data.len())
    }

    pub fn read_write(data: &'a mut [u8]) -> Self {
        let rights = LeaseAttributes::READ | LeaseAttributes::WRITE;
        Self::raw(rights, addr(data), data.len())
    }

    /// Passes on `len` bytes at `offset` of lease `index` that `lender`
    /// lent us, with at most `rights`. Valid only while we are handling
    /// `lender`'s message; the kernel revokes it the moment `lender`
    /// resumes or dies.
    pub fn forwarded(
        lender: TaskId,
        index: u8,
        rights: LeaseAttributes,
        offset: u32,
        len: u32,
    ) -> Lease<'static> {
        Lease {
            raw: ULease::forwarded(lender, index, rights, offset, len),
            _marker: PhantomData,
        }
    }

    fn raw(rights: LeaseAttributes, base: u32, len: usize) -> Self {
        Self {
            raw: ULease::new(rights, base, len as u32),
            _marker: PhantomData,
        }
    }
}

impl<'a> From<&'a [u8]> for Lease<'a> {
    fn from(d: &'a [u8]) -> Self {
        Self::read_only(d)
    }
}

impl<'a> From<&'a mut [u8]> for Lease<'a> {
    fn from(d: &'a mut [u8]) -> Self {
        Self::read_write(d)
    }
}

/// Sends a message and waits for the reply: `(response code, reply
/// length)`. A response code that is a dead code means the peer died; see
/// [`abi::extract_new_generation`].
pub fn sys_send(
    target: TaskId,
    operation: u16,
    outgoing: &[u8],
    incoming: &mut [u8],
    leases: &[Lease<'_>],
) -> (u32, usize) {
    let mut f = frame([
        (target.0 as u32) << 16 | operation as u32,
        addr(outgoing),
        outgoing.len() as u32,
        addr(incoming),
        incoming.len() as u32,
        addr(leases),
        leases.len() as u32,
        0,
    ]);
    syscall(Sysnum::Send, &mut f);
    (f.rets[0], f.rets[1] as usize)
}

fn recv(
    buffer: &mut [u8],
    notification_mask: u32,
    filter: u32,
) -> (u32, RecvMessage) {
    let mut f = frame([
        addr(buffer),
        buffer.len() as u32,
        notification_mask,
        filter,
        0,
        0,
        0,
        0,
    ]);
    syscall(Sysnum::Recv, &mut f);
    received(&f)
}

/// What RECV and REPLY_RECV return: the response code and the message.
fn received(f: &SyscallFrame) -> (u32, RecvMessage) {
    let r = f.rets;
    (
        r[0],
        RecvMessage {
            sender: TaskId(r[1] as u16),
            _reserved: 0,
            operation: r[2],
            message_len: r[3],
            response_capacity: r[4],
            lease_count: r[5],
            described_leases: r[6],
        },
    )
}

/// A reply for [`sys_reply_recv`] to send before it receives.
#[derive(Copy, Clone, Debug)]
pub struct Reply<'a> {
    pub peer: TaskId,
    pub code: u32,
    pub message: &'a [u8],
}

/// Answers `reply` (if any) and then receives, in one trap: seL4's
/// `ReplyRecv`, a server loop's whole turn. Receives from anyone, or with
/// `sender` only from that task (or a notification in `notification_mask`).
/// As with [`sys_reply`], a reply to a peer that stopped waiting is
/// dropped; the receive happens regardless.
pub fn sys_reply_recv(
    reply: Option<Reply<'_>>,
    buffer: &mut [u8],
    notification_mask: u32,
    sender: Option<TaskId>,
) -> Result<RecvMessage, ClosedRecvError> {
    let (peer, code, message) = match reply {
        Some(r) => (r.peer, r.code, r.message),
        None => (TaskId::KERNEL, 0, &[][..]),
    };
    let reply = (peer, code, addr(message), message.len() as u32);
    let filter = sender.map_or(0, |s| RECV_CLOSED | s.0 as u32);
    reply_recv(reply, buffer, notification_mask, filter, sender)
}

/// As [`sys_reply_recv`], with the reply `(peer, code, length)` in the
/// first `length` bytes of `buffer` itself: the kernel sends the reply
/// before it receives into the same bytes, so a server loop needs only
/// one buffer. A length past the buffer is cut to it.
///
/// It also asks for lease descriptors ([`abi::RECV_LEASE_INFO`]): when
/// they fit, the message's leases are described after it in `buffer`
/// (see `RecvMessage::described_leases`), so a server checks them
/// without a BORROW_INFO each.
pub fn sys_reply_recv_in_place(
    reply: Option<(TaskId, u32, usize)>,
    buffer: &mut [u8],
    notification_mask: u32,
    sender: Option<TaskId>,
) -> Result<RecvMessage, ClosedRecvError> {
    let reply = match reply {
        Some((peer, code, length)) => {
            (peer, code, addr(buffer), length.min(buffer.len()) as u32)
        }
        None => (TaskId::KERNEL, 0, 0, 0),
    };
    let filter = sender.map_or(0, |s| RECV_CLOSED | s.0 as u32);
    reply_recv(
        reply,
        buffer,
        notification_mask,
        filter | RECV_LEASE_INFO,
        sender,
    )
}

fn reply_recv(
    (peer, code, message, message_len): (TaskId, u32, u32, u32),
    buffer: &mut [u8],
    notification_mask: u32,
    filter: u32,
    sender: Option<TaskId>,
) -> Result<RecvMessage, ClosedRecvError> {
    let mut f = frame([
        peer.0 as u32,
        code,
        message,
        message_len,
        addr(buffer),
        buffer.len() as u32,
        notification_mask,
        filter,
    ]);
    syscall(Sysnum::ReplyRecv, &mut f);
    let (rc, m) = received(&f);
    match extract_new_generation(rc) {
        Some(g) if sender.is_some() => Err(ClosedRecvError::Dead(g)),
        _ => Ok(m),
    }
}

/// Receives a message from anyone, or a notification in `notification_mask`.
pub fn sys_recv_open(buffer: &mut [u8], notification_mask: u32) -> RecvMessage {
    recv(buffer, notification_mask, 0).1
}

/// Why a closed receive failed.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum ClosedRecvError {
    /// The named sender died; it now has this generation.
    Dead(Generation),
}

/// Receives only from `sender` (or a notification in `notification_mask`).
/// Naming [`TaskId::KERNEL`] receives notifications only.
pub fn sys_recv_closed(
    buffer: &mut [u8],
    notification_mask: u32,
    sender: TaskId,
) -> Result<RecvMessage, ClosedRecvError> {
    let (rc, m) =
        recv(buffer, notification_mask, RECV_CLOSED | sender.0 as u32);
    match extract_new_generation(rc) {
        Some(g) => Err(ClosedRecvError::Dead(g)),
        None => Ok(m),
    }
}

/// Waits for any notification in `mask` and returns the bits that fired.
pub fn sys_recv_notification(mask: u32) -> u32 {
    match sys_recv_closed(&mut [], mask, TaskId::KERNEL) {
        Ok(m) => m.operation,
        // The kernel never dies, so this cannot happen.
        Err(_) => 0,
    }
}

/// Answers a client. A reply to a peer that is no longer waiting is
/// dropped silently.
pub fn sys_reply(peer: TaskId, code: u32, message: &[u8]) {
    let mut f = frame([
        peer.0 as u32,
        code,
        addr(message),
        message.len() as u32,
        0,
        0,
        0,
        0,
    ]);
    syscall(Sysnum::Reply, &mut f);
}

/// Faults a client for breaking the protocol.
pub fn sys_reply_fault(peer: TaskId, reason: ReplyFaultReason) {
    let mut f = frame([peer.0 as u32, reason as u32, 0, 0, 0, 0, 0, 0]);
    syscall(Sysnum::ReplyFault, &mut f);
}

/// Sets (or with `None`, clears) this task's timer; at `deadline` (ms
/// since boot) the kernel posts `notifications` to us.
pub fn sys_set_timer(deadline: Option<u64>, notifications: u32) {
    let d = deadline.unwrap_or(0);
    let mut f = frame([
        deadline.is_some() as u32,
        d as u32,
        (d >> 32) as u32,
        notifications,
        0,
        0,
        0,
        0,
    ]);
    syscall(Sysnum::SetTimer, &mut f);
}

/// This task's timer, as GET_TIMER reports it.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct TimerState {
    pub now: u64,
    pub deadline: Option<u64>,
    pub on_dl: u32,
}

pub fn sys_get_timer() -> TimerState {
    let mut f = frame([0; 8]);
    syscall(Sysnum::GetTimer, &mut f);
    let r = f.rets;
    TimerState {
        now: r[0] as u64 | (r[1] as u64) << 32,
        deadline: (r[2] != 0).then_some(r[3] as u64 | (r[4] as u64) << 32),
        on_dl: r[5],
    }
}

fn borrow(
    n: Sysnum,
    lender: TaskId,
    index: usize,
    offset: usize,
    buf: *const [u8],
    len: usize,
) -> (u32, usize) {
    let mut f = frame([
        lender.0 as u32,
        index as u32,
        offset as u32,
        addr(buf),
        len as u32,
        0,
        0,
        0,
    ]);
    syscall(n, &mut f);
    (f.rets[0], f.rets[1] as usize)
}

/// Copies from lease `index` of `lender`, starting at `offset`:
/// `(0, bytes copied)`, or `(DEFECT, 0)` if the lender went away, or a dead
/// code.
pub fn sys_borrow_read(
    lender: TaskId,
    index: usize,
    offset: usize,
    dest: &mut [u8],
) -> (u32, usize) {
    let len = dest.len();
    borrow(Sysnum::BorrowRead, lender, index, offset, dest, len)
}

/// Copies into lease `index` of `lender`, starting at `offset`.
pub fn sys_borrow_write(
    lender: TaskId,
    index: usize,
    offset: usize,
    src: &[u8],
) -> (u32, usize) {
    let len = src.len();
    borrow(Sysnum::BorrowWrite, lender, index, offset, src, len)
}

/// What a lease grants.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct BorrowInfo {
    pub attributes: LeaseAttributes,
    pub len: usize,
}

/// Describes lease `index` of `lender`; `None` if the lender went away.
pub fn sys_borrow_info(lender: TaskId, index: usize) -> Option<BorrowInfo> {
    let mut f = frame([lender.0 as u32, index as u32, 0, 0, 0, 0, 0, 0]);
    syscall(Sysnum::BorrowInfo, &mut f);
    (f.rets[0] == 0).then_some(BorrowInfo {
        attributes: LeaseAttributes(f.rets[1]),
        len: f.rets[2] as usize,
    })
}

/// Enables and/or clears the IRQs behind `mask` (our notification bits).
pub fn sys_irq_control(mask: u32, flags: IrqControlFlags) {
    let mut f = frame([mask, flags.0, 0, 0, 0, 0, 0, 0]);
    syscall(Sysnum::IrqControl, &mut f);
}

pub fn sys_irq_status(mask: u32) -> IrqStatus {
    let mut f = frame([mask, 0, 0, 0, 0, 0, 0, 0]);
    syscall(Sysnum::IrqStatus, &mut f);
    IrqStatus(f.rets[0])
}

/// Faults this task with `FaultInfo::Panic`, leaving `message` for
/// `read_panic_message`. Never returns.
pub fn sys_panic(message: &[u8]) -> ! {
    let mut f = frame([addr(message), message.len() as u32, 0, 0, 0, 0, 0, 0]);
    loop {
        syscall(Sysnum::Panic, &mut f);
    }
}

/// `task` with its current generation.
pub fn sys_refresh_task_id(task: TaskId) -> TaskId {
    let mut f = frame([task.0 as u32, 0, 0, 0, 0, 0, 0, 0]);
    syscall(Sysnum::RefreshTaskId, &mut f);
    TaskId(f.rets[0] as u16)
}

/// ORs `bits` into `task`'s notifications: 0, or a dead code if `task` is
/// stale.
pub fn sys_post(task: TaskId, bits: u32) -> u32 {
    let mut f = frame([task.0 as u32, bits, 0, 0, 0, 0, 0, 0]);
    syscall(Sysnum::Post, &mut f);
    f.rets[0]
}

/// Raw PERIPHERAL_IO: `(status, value)`.
pub fn sys_peripheral_io(
    peripheral: u16,
    op: PeripheralOp,
    args: [u32; 5],
) -> (u32, u32) {
    let mut f = frame([
        peripheral as u32,
        op as u32,
        args[0],
        args[1],
        args[2],
        args[3],
        args[4],
        0,
    ]);
    syscall(Sysnum::PeripheralIo, &mut f);
    (f.rets[0], f.rets[1])
}

/// Reads a device register.
pub fn sys_read_register(peripheral: u16, register: u32) -> u32 {
    let args = [register, 0, 0, 0, 0];
    sys_peripheral_io(peripheral, PeripheralOp::ReadRegister, args).1
}

/// Writes a device register.
pub fn sys_write_register(peripheral: u16, register: u32, value: u32) {
    let args = [register, value, 0, 0, 0];
    sys_peripheral_io(peripheral, PeripheralOp::WriteRegister, args);
}

/// Streams `data` from our memory to the device ("DMA").
pub fn sys_write_bulk(peripheral: u16, data: &[u8]) -> u32 {
    let args = [addr(data), data.len() as u32, 0, 0, 0];
    sys_peripheral_io(peripheral, PeripheralOp::WriteFromMemory, args).0
}

/// Fills `buf` from the device ("DMA" in): for an SPI controller, clocks
/// `buf.len()` bytes and stores what MISO carried.
pub fn sys_read_bulk(peripheral: u16, buf: &mut [u8]) -> u32 {
    let args = [addr(&*buf), buf.len() as u32, 0, 0, 0];
    sys_peripheral_io(peripheral, PeripheralOp::ReadIntoMemory, args).0
}

/// Streams `len` bytes at `offset` of lease `index` of `lender` straight to
/// the device: `0`, `DEFECT` if the lease was revoked, or a dead code.
pub fn sys_write_bulk_from_lease(
    peripheral: u16,
    lender: TaskId,
    index: usize,
    offset: u32,
    len: u32,
) -> u32 {
    let args = [lender.0 as u32, index as u32, offset, len, 0];
    sys_peripheral_io(peripheral, PeripheralOp::WriteFromLease, args).0
}
