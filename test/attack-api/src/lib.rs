//! The protocols of the attack image (`test/attack.toml`).
//!
//! - `suite` runs one case per attack. It never attacks itself: the
//!   attacks that get their author faulted are made by `mallory`, a client
//!   of the suite that parks in a SEND of [`MalloryOp::Ready`] and gets its
//!   next [`Job`] as the reply (the suite may not SEND to a less important
//!   task). A job that mallory survives ends with a [`MalloryOp::Report`]
//!   carrying what it saw.
//! - `srv` and `far` are one crate, `attack-server`: puppets that do to a
//!   client's leases exactly what the message says ([`Action`]), so that
//!   an attacking server can be played on demand. `srv` may forward to
//!   `far`. Each keeps the response codes of its last action for the
//!   suite ([`ServerOp::LastResult`]).
//!
//! Messages are little-endian `u32` words.

#![no_std]

use num_enum::TryFromPrimitive;
use userlib::{LeaseAttributes, TaskId, ULease};

/// Operations `srv` and `far` serve.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum ServerOp {
    /// Do the [`Action`] in the message to the sender's leases; reply its
    /// two response codes.
    Puppet = 1,
    /// → the two response codes of the last action.
    LastResult = 2,
    /// → `!x`: the server is alive and answering.
    Ping = 3,
}

/// What a puppet server does to its client's leases (first word).
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum Action {
    /// `(write index, write offset, read index, read length, read as a
    /// write?, forged entry: 3 words)`: BORROW_WRITE the forged entry's
    /// 12 bytes into the first lease, then borrow the second.
    RewriteThenBorrow = 1,
    /// `(index, offset, length)`: one BORROW_READ.
    BorrowAt = 2,
    /// `(rights, offset, length, lend our table?, inner action words...)`:
    /// forward part of the client's lease 0 to `far` (with our own lease
    /// table lent writable as lease 1 if asked), asking it for the inner
    /// action.
    Forward = 3,
    /// Reply 64 bytes, whatever the client's reply buffer holds.
    ReplyTooBig = 4,
    /// `(length)`: stream `length` bytes of lease 0 to the test device.
    PeripheralFromLease = 5,
    /// `(offset, length)`: INIT the hash engine, stream `length` bytes
    /// at `offset` of lease 0 to it, wait for DONE; reply the digest's
    /// first two words (or the stream's response code and `u32::MAX`).
    HashFromLease = 6,
    /// INIT the engine, then stream lease 0 to it twice without clearing
    /// DONE in between: the second start is refused.
    HashTwice = 7,
    /// INIT the engine and start it on the whole of lease 0; reply at
    /// once `(response code, STATUS)`, the transfer still running.
    HashStart = 8,
    /// Wait until the engine is not busy; reply `(STATUS, COUNT)`.
    HashReport = 9,
}

/// The hash engine's peripheral index (app.toml order: after testdev).
pub const HASH_DEVICE: u16 = 1;

/// Bytes mallory lends the engine in [`Job::HashLenderDies`].
pub const BIG_LEASE: u32 = 1 << 20;

/// Operations of the messages mallory sends the suite.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u16)]
pub enum MalloryOp {
    /// "Give me a job"; the reply is `(Job, argument)`.
    Ready = 1,
    /// What a job saw, when mallory survived it: up to four words.
    Report = 2,
}

/// The attacks mallory makes, given as `(job, argument)`.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum Job {
    /// Report `(flash data address, RAM base, own TaskId)`.
    Describe = 1,
    /// Lend our lease table writable to `srv`, which rewrites entry 1 to
    /// [`Forged`] `argument` and borrows through it.
    RewriteOwnTable = 2,
    /// SEND `srv` one lease that is bad at SEND: [`BadLease`] `argument`.
    SendBadLease = 3,
    /// Lend 16 bytes to `srv`, which forwards them to `far` with its own
    /// table lent writable; `far` widens the forward and reads.
    ForwardedRewrite = 4,
    /// Lend 16 read-only bytes to `srv`, which forwards them wider than
    /// lent: `argument` 0 = read-write, 1 = past the end.
    ForwardWider = 5,
    /// POST to task `argument & 0xFFFF` the bits `1 << (argument >> 16)`.
    Post = 6,
    /// kipc `reinit_task(0)` (we hold the grant).
    ReinitSupervisor = 7,
    /// A malformed kipc: `argument` 0 = empty message, 1 = task index
    /// past the table, 2 = unknown kipc number.
    BadKipc = 8,
    /// RECV into our flash.
    RecvIntoFlash = 9,
    /// SEND to `srv` with the reply buffer in our flash.
    ReplyIntoFlash = 10,
    /// Syscall number 99, or the argument if it is not 0.
    BadSyscallNumber = 11,
    /// A syscall whose frame is in our flash.
    FrameInFlash = 12,
    /// Lend 16 bytes to `srv`, which borrows at offset `u32::MAX`.
    HugeOffset = 13,
    /// Ask `srv` for a reply bigger than our 4-byte buffer.
    OversizedReply = 14,
    /// Lend 16 bytes to `srv`, which streams 17 of them to a device.
    PeripheralPastWindow = 15,
    /// Lend 16 bytes to `srv`, which streams 17 of them to the hash
    /// engine.
    HashPastWindow = 16,
    /// Read the hash engine's STATUS, which we have no grant for.
    HashNoGrant = 17,
    /// Lend 16 bytes to `srv`, which starts the engine on them twice.
    HashTwice = 18,
    /// Lend [`BIG_LEASE`] bytes of our RAM to `srv`, which starts the
    /// engine on them and replies at once; then die (panic) while the
    /// engine may still be reading them.
    HashLenderDies = 19,
    /// Lend our 16 bytes of 0x5A to `srv`, which hashes them with the
    /// engine; report the digest's first two words.
    HashData = 20,
}

/// What [`Job::RewriteOwnTable`] rewrites our lease 1 to.
pub mod forged {
    /// Read-write at [`super::WILD_ADDRESS`].
    pub const OUTSIDE: u32 = 0;
    /// Read-write over our own flash data (a write lands there).
    pub const INTO_FLASH: u32 = 1;
    /// `base + length` wraps around the address space.
    pub const WRAPPING: u32 = 2;
    /// Read-write on the unmapped guard below our stack.
    pub const GUARD: u32 = 3;
}

/// What [`Job::SendBadLease`] sends.
pub mod bad_lease {
    pub const WRAPPING: u32 = 0;
    pub const GUARD: u32 = 1;
    pub const WRITE_TO_FLASH: u32 = 2;
    pub const UNDEFINED_BITS: u32 = 3;
    pub const MISALIGNED_TABLE: u32 = 4;
}

/// An address no task has: far above every task's flash and RAM.
pub const WILD_ADDRESS: u32 = 0x3F00_0000;

/// Bytes between a task's guard page and its RAM base: the guard is the
/// page just below.
pub const GUARD_OFFSET: u32 = 4096;

/// A lease-table entry as its three words.
pub fn entry_words(lease: ULease) -> [u32; 3] {
    [lease.attributes, lease.base_address, lease.length]
}

/// Read and write.
pub const RW: LeaseAttributes = LeaseAttributes(3);

/// The entry [`forged`] `kind` stands for, for a task whose flash data is
/// at `flash` and RAM at `ram_base`.
pub fn forged_entry(kind: u32, flash: u32, ram_base: u32) -> ULease {
    match kind {
        forged::INTO_FLASH => ULease::new(RW, flash, 16),
        forged::WRAPPING => ULease::new(RW, 0xFFFF_FFF0, 0x20),
        forged::GUARD => ULease::new(RW, ram_base - GUARD_OFFSET, 16),
        _ => ULease::new(RW, WILD_ADDRESS, 16),
    }
}

/// A forwarded entry of `lender`'s lease 0.
pub fn forward_of(
    lender: TaskId,
    rights: LeaseAttributes,
    offset: u32,
    length: u32,
) -> ULease {
    ULease::forwarded(lender, 0, rights, offset, length)
}

/// Word `i` of a message (zero past its end).
pub fn word(data: &[u8], i: usize) -> u32 {
    let mut b = [0u8; 4];
    for (k, x) in b.iter_mut().enumerate() {
        *x = data.get(4 * i + k).copied().unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

/// Packs words into `buf`; returns the used prefix.
pub fn words<'a>(buf: &'a mut [u8], ws: &[u32]) -> &'a [u8] {
    let n = (ws.len() * 4).min(buf.len());
    for (c, w) in buf[..n].chunks_exact_mut(4).zip(ws) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    &buf[..n]
}
