//! The hiffy protocol: what humility and hiffy agree on.
//!
//! Every static below is `#[no_mangle]` (humility finds it in the ELF's
//! symbol table) and made of `u32` words, little-endian, at the offsets
//! given; humility checks each symbol's size against them.
//!
//! - `HIFFY_READY`, `u32`: 0 until hiffy runs, then [`VERSION`].
//! - `HIFFY_KICK`, `u32`: the debugger adds 1 to ask for a call.
//! - `HIFFY_REQUEST`, 324 bytes: at 0 `target` (a task index), 4
//!   `operation`, 8 `reply_capacity` (at most 256), 12 `lease_count` (at
//!   most [`MAX_LEASES`]), 16 `args_length` (at most 256), 20 the leases,
//!   [`MAX_LEASES`] of three words each: `kind` (1 read, 2 write, 3
//!   read-write), `offset` and `length` in `HIFFY_DATA`; then at 68
//!   `args` (256 bytes). The leases of one call must lie in
//!   `HIFFY_DATA` in order and must not overlap (each one's `offset` is at
//!   or past the previous one's end), so hiffy can lend each its own
//!   slice; an op that takes two leases (the FPGA manager's
//!   `attach_firmware`) gets both.
//! - `HIFFY_RESULT`, 272 bytes: at 0 `done` (the `HIFFY_KICK` value
//!   served), 4 `status` ([`Status`]), 8 `rc`, 12 `reply_length`, 16
//!   `reply` (256 bytes).
//! - `HIFFY_DATA`, a `StaticCell<[u8; DATA_SIZE]>`: the lease buffer, at
//!   the offset of the cell's value (humility reads it from DWARF).
//!
//! A call goes:
//!
//! 1. the debugger writes the lease data (for read leases) into
//!    `HIFFY_DATA` and the request into `HIFFY_REQUEST`;
//! 2. it writes `HIFFY_KICK + 1` into `HIFFY_KICK`;
//! 3. within [`POLL_MS`] hiffy sees the new kick, checks the request,
//!    SENDs, and fills `HIFFY_RESULT`, writing `done` last;
//! 4. the debugger polls `done` until it equals its kick, then reads the
//!    result (and, for write leases, `HIFFY_DATA`).
//!
//! The target must be one of hiffy's app.toml `task-slots`: the kernel
//! faults a task that sends elsewhere, and a debugger typo should not kill
//! the agent. hiffy refuses such a request with [`Status::NotCallable`].
//!

use core::sync::atomic::AtomicU32;

/// What `HIFFY_READY` holds once hiffy runs; bumped if the layout above
/// ever changes, so an old humility can refuse a new hiffy.
pub const VERSION: u32 = 2;

/// How often hiffy looks at `HIFFY_KICK`, in milliseconds.
pub const POLL_MS: u64 = 10;

/// How often hiffy looks right after a call, when the next is likely to
/// follow at once.
pub const BUSY_POLL_MS: u64 = 1;

/// How long after a call hiffy keeps looking every [`BUSY_POLL_MS`].
pub const BUSY_FOR_MS: u64 = 100;

/// Most leases one call lends (Hubris ops take a few at most).
pub const MAX_LEASES: usize = 4;

/// Largest message and reply, as the kernel allows.
pub const MESSAGE_MAX: usize = 256;
pub const MESSAGE_WORDS: usize = MESSAGE_MAX / 4;

/// What became of a request (`HIFFY_RESULT.status`).
#[derive(Copy, Clone, Debug, PartialEq)]
#[repr(u32)]
pub enum Status {
    /// The SEND happened; `rc`, `reply_length` and `reply` are its result.
    Sent = 0,
    /// The target is not in hiffy's task-slots; nothing was sent.
    NotCallable = 1,
    /// A length, lease kind or op code was out of range; nothing was sent.
    BadRequest = 2,
}

/// `HIFFY_REQUEST`, written by the debugger.
#[repr(C)]
pub struct Request {
    pub target: AtomicU32,
    pub operation: AtomicU32,
    pub reply_capacity: AtomicU32,
    pub lease_count: AtomicU32,
    pub args_length: AtomicU32,
    pub leases: [LeaseRequest; MAX_LEASES],
    pub args: [AtomicU32; MESSAGE_WORDS],
}

/// One lease of a request: a slice of `HIFFY_DATA`.
#[repr(C)]
pub struct LeaseRequest {
    pub kind: AtomicU32,
    pub offset: AtomicU32,
    pub length: AtomicU32,
}

#[allow(clippy::declare_interior_mutable_const)]
pub const NO_LEASE: LeaseRequest = LeaseRequest {
    kind: ZERO,
    offset: ZERO,
    length: ZERO,
};

/// `HIFFY_RESULT`, written by hiffy.
#[repr(C)]
pub struct Outcome {
    pub done: AtomicU32,
    pub status: AtomicU32,
    pub rc: AtomicU32,
    pub reply_length: AtomicU32,
    pub reply: [AtomicU32; MESSAGE_WORDS],
}

/// The initial value of every word; a `const` so it can be repeated in
/// the array initializers below (each use is a fresh atomic).
#[allow(clippy::declare_interior_mutable_const)]
pub const ZERO: AtomicU32 = AtomicU32::new(0);
