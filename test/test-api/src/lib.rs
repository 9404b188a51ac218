//! The protocols of the kernel conformance image (`test/kernel.toml`), in
//! the shape of Hubris's `test-api`.
//!
//! The image has five kinds of task, in priority order:
//!
//! - `runner` (0, the supervisor): hands out case numbers, prints results,
//!   restarts whatever a failed case left behind. It never SENDs.
//! - `forward` (1): the far end of a forwarded lease; also a task with no
//!   peripheral grant.
//! - `assist` (2): does what the suite asks, including faulting in every
//!   way the kernel must report ([`AssistOp`]).
//! - `suite` (3): the cases.
//! - `caller` (5): a client *of the suite*. Hubris's assistant sends back
//!   to the suite, but here a task may only SEND to a task in its slots
//!   that is more important, so the roles that need the suite as a server
//!   (`test_recv_reply`, `test_borrow_*`) moved to a less important task.
//!   It parks in a SEND of [`CallerOp::Ready`] to the suite, and the
//!   suite's reply is its next job ([`CallerJob`]).
//!
//! Messages are little-endian `u32` words unless said otherwise.

#![no_std]

use num_enum::TryFromPrimitive;
use userlib::*;

pub use test_harness::{RunnerOp, SuiteRunner, word};

include!(concat!(env!("OUT_DIR"), "/tasks.rs"));

/// Operations the assistant serves. Numbers 0..=24 are Hubris's where the
/// operation exists here; Hubris's `SendBack`, `LastReply` and
/// `SendBackWithLoans` are [`CallerJob`]s (see the crate docs), and its
/// Cortex-M-only faults (`ExecData`, `BusError`, ...) and floating point
/// operations have no hosted equivalent. Leasehold's start at 32.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum AssistOp {
    /// `(x)` → `!x`.
    JustReply = 0,
    /// `(address)`: writes to `address`, before replying.
    BadMemory = 3,
    /// Replies, then panics (Hubris's order).
    Panic = 4,
    /// `(x)` → the previously stored value, storing `x`.
    Store = 5,
    /// Divides by zero (with `div`, not Rust's checked `/`).
    DivZero = 7,
    /// Recurses into the guard below the stack.
    StackOverflow = 8,
    /// Jumps into its own RAM (never executable: the hosted board maps it
    /// without execute, the MPU marks it XN).
    ExecData = 9,
    /// Executes `ud2`.
    IllegalInstruction = 15,
    /// `(index)`: `kipc::read_task_status(index)`, then replies.
    ReadTaskStatus = 18,
    /// `(index)`: `kipc::fault_task(index)`, then replies.
    FaultTask = 19,
    /// `(index)`: `kipc::reinit_task(index, true)`, then replies.
    RestartTask = 20,
    /// Refreshes the id with index `NUM_TASKS`.
    RefreshTaskIdOffByOne = 21,
    /// Refreshes the id with index `NUM_TASKS + 100`.
    RefreshTaskIdOffByMany = 22,
    /// → the notifications pending for us (without [`ASSIST_POKE_MASK`]).
    ReadNotifications = 23,
    /// Panics with [`ASSIST_PANIC_MESSAGE`] before replying.
    FastPanic = 24,
    /// Makes the Linux `getpid` syscall (39); hosted board only (on
    /// Cortex-M it replies `UndefinedOperation`).
    HostSyscall = 32,
    /// → the address just after [`AssistOp::HostSyscall`]'s `syscall`.
    HostSyscallPc = 33,
    /// `(index)`: SENDs to task `index` (not in our task slots).
    SendOutsideSlots = 34,
    /// `(peripheral, register)` → the register's value.
    PeripheralRead = 35,
    /// `(peripheral, register, value)`: writes the register.
    PeripheralWrite = 36,
    /// `(offset, len)` plus a read lease: forwards `len` bytes at `offset`
    /// of it to `forward` ([`ForwardOp::Read`]) and replies with its reply.
    ForwardRead = 37,
    /// Plus a read-only lease: forwards it with READ | WRITE.
    ForwardWiden = 38,
    /// Plus a read lease: forwards it whole to `forward`
    /// ([`ForwardOp::Hold`]) and replies with the response code.
    ForwardHold = 39,
    /// `(k)`: makes `k` GET_TIMER syscalls, then replies `k`.
    CountSyscalls = 40,
    /// `(ms)`: replies, sleeps `ms`, then panics.
    PanicLater = 41,
    /// `(peripheral, lender, lease, offset, len)`: streams `len` bytes at
    /// `offset` of lease `lease` of [`lender`] `lender` to the peripheral
    /// (PERIPHERAL_IO `WriteFromLease`) and replies the response code.
    StreamFromLease = 42,
    /// `(lender, lease, offset, len)`: forwards to `forward`
    /// ([`ForwardOp::Read`]) a read lease naming lease `lease` of
    /// [`lender`] `lender`, whoever that is, and replies with its reply.
    ForwardForged = 43,
}

/// Whose lease [`AssistOp::StreamFromLease`] and
/// [`AssistOp::ForwardForged`] name: the kernel must check every one.
pub mod lender {
    /// The task whose message we are serving (the legitimate lender).
    pub const SENDER: u32 = 0;
    /// The caller task at its current generation (alive, and lending to
    /// the suite in the cases that use it, not to the assistant).
    pub const CALLER: u32 = 1;
    /// The assistant itself.
    pub const ITSELF: u32 = 2;
    /// The sender, but one generation ahead (a stale or forged id).
    pub const SENDER_WRONG_GENERATION: u32 = 3;
}

/// Jobs the suite gives the caller, as the reply to its
/// [`CallerOp::Ready`]: `(job, argument)`.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum CallerJob {
    /// SEND [`CallerOp::SendBack`] with the argument; keep the reply.
    SendBack = 1,
    /// SEND [`CallerOp::SendBackWithLoans`] with the two loans of
    /// [`LOAN0_LEN`] and [`LOAN1`].
    SendBackWithLoans = 2,
    /// SEND [`CallerOp::LastReply`] with the reply kept by `SendBack`.
    LastReply = 3,
    /// SEND [`AssistOp::ForwardHold`] to the assistant, lending
    /// [`CALLER_LEASE_DATA`] read-only.
    LendToAssist = 4,
}

/// Operations of the messages the caller sends to the suite.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u16)]
pub enum CallerOp {
    /// "Give me a job"; the reply is `(CallerJob, argument)`.
    Ready = 1,
    /// Hubris's assistant sends 42 for this, and so do we.
    SendBack = 42,
    SendBackWithLoans = 43,
    LastReply = 44,
}

/// Length of the caller's first loan (read-write, zeroed).
pub const LOAN0_LEN: usize = 16;
/// Contents of the caller's second loan (read-only).
pub const LOAN1: &[u8; 5] = b"hello";

/// What the caller lends the assistant in [`CallerJob::LendToAssist`].
pub const CALLER_LEASE_DATA: &[u8; 16] = b"lent by caller!!";

/// Operations `forward` serves.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum ForwardOp {
    /// Plus a lease: replies `(attributes, length)` from BORROW_INFO, then
    /// the lease's bytes (up to 64), with the BORROW_READ response code.
    Read = 1,
    /// Plus a lease: borrows it, waits for [`FORWARD_GO_MASK`], borrows it
    /// again, and keeps both outcomes as a [`HoldReport`].
    Hold = 2,
    /// → the last [`HoldReport`].
    Report = 3,
    /// `(peripheral, register)` → the register (we have no grant).
    PeripheralRead = 4,
}

/// `forward`'s "go on" notification: its first in kernel.toml.
pub const FORWARD_GO_MASK: u32 = 1 << 0;
/// The assistant's notification `test_post` posts: its first.
pub const ASSIST_POST_MASK: u32 = 1 << 0;
/// The assistant's notification for polling its own notifications: its
/// second (see [`poll_notifications`]).
pub const ASSIST_POKE_MASK: u32 = 1 << 1;

/// What the assistant panics with in [`AssistOp::FastPanic`].
pub const ASSIST_PANIC_MESSAGE: &str = "the suite asked me to panic";

/// An address no task has mapped: inside the flash area but far above
/// any task's flash, and not in any stack guard.
pub const BAD_ADDRESS: u32 = 0x3F00_0000;

/// What `forward` saw of a lease held across its lender's death.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub struct HoldReport {
    /// BORROW_READ before the lender died: response code and length.
    pub before: (u32, u32),
    /// BORROW_READ after.
    pub after: (u32, u32),
    /// Whether BORROW_INFO still described the lease after.
    pub info_after: bool,
    /// The bytes read before.
    pub data: [u8; 16],
}

impl HoldReport {
    pub const SIZE: usize = 36;

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0; Self::SIZE];
        let words = [
            self.before.0,
            self.before.1,
            self.after.0,
            self.after.1,
            self.info_after as u32,
        ];
        for (c, w) in out.chunks_exact_mut(4).zip(words) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        out[20..].copy_from_slice(&self.data);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Self {
        let mut data = [0; 16];
        let n = b.len().saturating_sub(20).min(16);
        data[..n].copy_from_slice(&b[20..20 + n]);
        Self {
            before: (word(b, 0), word(b, 1)),
            after: (word(b, 2), word(b, 3)),
            info_after: word(b, 4) != 0,
            data,
        }
    }
}

/// Packs words into a message buffer; returns the used prefix.
pub fn words<'a>(buf: &'a mut [u8], ws: &[u32]) -> &'a [u8] {
    let n = (ws.len() * 4).min(buf.len());
    for (c, w) in buf[..n].chunks_exact_mut(4).zip(ws) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    &buf[..n]
}

/// The current `TaskId` of task `index`.
pub fn task_id(index: usize) -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(index, Generation::ZERO))
}

/// Our own current `TaskId`: what a server sees as our sender.
pub fn my_task_id() -> TaskId {
    task_id(tasks::THIS_TASK)
}

/// The notifications in `mask` that are pending, without blocking.
///
/// There is no non-blocking RECV, so we set our timer to a deadline that
/// has already passed, which posts `poke` at once, and receive on
/// `mask | poke`. Clobbers our timer.
pub fn poll_notifications(mask: u32, poke: u32) -> u32 {
    let now = sys_get_timer().now;
    sys_set_timer(Some(now), poke);
    sys_recv_notification(mask | poke) & !poke & mask
}
