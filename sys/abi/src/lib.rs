//! The Leasehold kernel ABI: every number and wire type shared by the
//! kernel, tasks and tools, in one place.
//!
//! Semantics and values follow Hubris's `sys/abi` bit for bit wherever the
//! meaning is the same, so that what a Hubris user knows transfers: `TaskId`
//! packs a 10-bit index and a 6-bit generation, syscall numbers 0..=13 are
//! Hubris's, dead codes are `0xFFFF_FF00 | generation`, `DEFECT` is 1.
//!
//! What Leasehold adds is appended, never renumbered: syscall 14
//! (`PeripheralIo`), kipc numbers from 32, fault kinds for the hosted
//! platform and for capability violations, and the `FORWARD` lease
//! attribute.
//!
//! The crate is `no_std` and has no dependency on the hosted platform: it
//! describes the contract, not an implementation.

#![no_std]
#![forbid(unsafe_code)]

mod fault;
mod kipc;
mod lease;
mod task_id;

pub use fault::*;
pub use kipc::*;
pub use lease::*;
pub use task_id::*;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Syscall numbers. Values 0..=13 are Hubris's; 14 and 15 are Leasehold's.
///
/// `TryFrom<u32>` is written out by hand rather than derived so that a
/// reader can see every accepted number next to its variant.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum Sysnum {
    Send = 0,
    Recv = 1,
    Reply = 2,
    SetTimer = 3,
    BorrowRead = 4,
    BorrowWrite = 5,
    BorrowInfo = 6,
    IrqControl = 7,
    Panic = 8,
    GetTimer = 9,
    RefreshTaskId = 10,
    Post = 11,
    ReplyFault = 12,
    IrqStatus = 13,
    /// Leasehold: a register or bulk operation on a simulated peripheral,
    /// checked against the caller's (revocable) peripheral grant.
    PeripheralIo = 14,
    /// Leasehold (seL4's `ReplyRecv`): REPLY to one caller, then RECV, in
    /// one trap, so that a server's round trip costs two traps, not three.
    ReplyRecv = 15,
}

impl TryFrom<u32> for Sysnum {
    type Error = ();

    fn try_from(x: u32) -> Result<Self, Self::Error> {
        Ok(match x {
            0 => Self::Send,
            1 => Self::Recv,
            2 => Self::Reply,
            3 => Self::SetTimer,
            4 => Self::BorrowRead,
            5 => Self::BorrowWrite,
            6 => Self::BorrowInfo,
            7 => Self::IrqControl,
            8 => Self::Panic,
            9 => Self::GetTimer,
            10 => Self::RefreshTaskId,
            11 => Self::Post,
            12 => Self::ReplyFault,
            13 => Self::IrqStatus,
            14 => Self::PeripheralIo,
            15 => Self::ReplyRecv,
            _ => return Err(()),
        })
    }
}

/// Returned by BORROW_* when the lender is not (or no longer) waiting on the
/// borrower, or the lease lacks the needed right. The borrower is not
/// faulted: the lender went away, which is not the borrower's mistake.
pub const DEFECT: u32 = 1;

/// First of the 256 dead codes.
pub const FIRST_DEAD_CODE: u32 = 0xFFFF_FF00;

/// The response code a peer gets when the task it talks to has died; the
/// low byte carries the dead task's *new* generation.
pub const fn dead_response_code(new_generation: Generation) -> u32 {
    FIRST_DEAD_CODE | new_generation.get() as u32
}

/// If `code` is a dead code, the generation it carries.
pub const fn extract_new_generation(code: u32) -> Option<Generation> {
    if code & FIRST_DEAD_CODE == FIRST_DEAD_CODE {
        Some(Generation::new(code as u8))
    } else {
        None
    }
}

/// Notification bit the kernel posts to the supervisor (task 0) whenever
/// any task faults.
pub const FAULT_NOTIFICATION: u32 = 1;

/// Notification bit reserved for userlib's `hl::sleep_for`. Because of it a
/// task may name at most 31 notifications in app.toml.
pub const INTERNAL_TIMER_NOTIFICATION: u32 = 1 << 31;

/// Largest message (and reply) the kernel copies in one SEND, as in Hubris
/// where the copy must not be interruptible.
pub const MAX_MESSAGE_LEN: usize = 256;

/// The word every board's kernel fills each task's stack with before the
/// task starts (Hubris's pattern), so a debugger can find the deepest the
/// stack has ever been: the lowest word that is no longer this.
pub const STACK_PAINT: u32 = 0xbadd_cafe;

/// Largest lease table a SEND may carry.
pub const MAX_LEASES: usize = 255;

/// Bit 31 of RECV's sender filter: receive only from the named task.
pub const RECV_CLOSED: u32 = 1 << 31;

/// Bit 30 of RECV's (and REPLY_RECV's) sender filter: Leasehold's lease
/// descriptors. With it, the kernel also writes one descriptor per lease
/// of the delivered message into the receive buffer, right after the
/// message at the next 4-byte boundary, when all of them fit; RECV's
/// seventh result says how many it wrote (all or none). A server then
/// checks each lease's rights and length without a BORROW_INFO trap.
pub const RECV_LEASE_INFO: u32 = 1 << 30;

/// Bytes per lease descriptor: the lease's attributes (with
/// [`LEASE_DESCRIPTOR_VALID`]) and its length, each a little-endian `u32`,
/// as BORROW_INFO would answer for it.
pub const LEASE_DESCRIPTOR_SIZE: u32 = 8;

/// Set in a descriptor's attributes word when the kernel could describe
/// the lease; clear when the server must ask BORROW_INFO (whose answer,
/// for a malformed entry, is a fault of the lender).
pub const LEASE_DESCRIPTOR_VALID: u32 = 1 << 31;

bitflags_like! {
    /// Flags to IRQ_CONTROL.
    IrqControlFlags: u32 {
        ENABLED = 1 << 0,
        CLEAR_PENDING = 1 << 1,
    }
}

bitflags_like! {
    /// What IRQ_STATUS reports for the IRQs behind a notification mask.
    IrqStatus: u32 {
        ENABLED = 1 << 0,
        PENDING = 1 << 1,
        POSTED = 1 << 2,
    }
}

/// What RECV tells the receiver about the message it got.
///
/// For a notification, `sender` is [`TaskId::KERNEL`], `operation` holds
/// the notification bits that fired, and everything else is zero.
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    Eq,
    PartialEq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C)]
pub struct RecvMessage {
    pub sender: TaskId,
    pub _reserved: u16,
    pub operation: u32,
    pub message_len: u32,
    pub response_capacity: u32,
    pub lease_count: u32,
    /// Lease descriptors the kernel wrote after the message (see
    /// [`RECV_LEASE_INFO`]): `lease_count`, or 0.
    pub described_leases: u32,
}

/// The hosted platform's "register file" for one syscall.
///
/// On Cortex-M, Hubris passes syscall arguments in r4..r11 and returns
/// results in the same registers. A hosted task can only hand the kernel one
/// 64-bit value per trap and get one back, so userlib's stubs put the
/// arguments in a frame on their own stack and pass its address; the kernel
/// writes the results into the same frame before resuming the task. The
/// frame is ordinary task RAM, so the kernel checks it like any other slice.
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    Eq,
    PartialEq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C)]
pub struct SyscallFrame {
    /// Arguments, as Hubris's r4..r11.
    pub args: [u32; 8],
    /// Results, as Hubris's r4..r11 on return.
    pub rets: [u32; 8],
}

/// Hosted trap ABI: a task makes syscall `n` by executing the x86_64
/// `syscall` instruction with `rax = HOSTED_SYSCALL_BASE + n` and `rdi` the
/// address of its [`SyscallFrame`]. Host syscall numbers are all far below
/// this, so nothing else can be confused with a kernel call.
pub const HOSTED_SYSCALL_BASE: u64 = 0x1000;

/// How the hosted platform lays out a task's address space: flash at a
/// build-assigned address, an unmapped guard below the RAM region, and the
/// stack at the bottom of RAM so that an overflow runs into the guard.
pub const HOSTED_GUARD_SIZE: u32 = 64 * 1024;

/// The file descriptor through which a hosted task receives its RAM memfd;
/// `_start` maps it over the task's RAM range before touching the stack.
pub const HOSTED_RAM_FD: u32 = 3;

/// Operations of the PERIPHERAL_IO syscall (Leasehold). The peripheral is
/// named by its index in the image's peripheral table; the device model
/// interprets `register` and the data.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum PeripheralOp {
    /// Read a 32-bit register: `rets[1]` = value.
    ReadRegister = 0,
    /// Write a 32-bit register.
    WriteRegister = 1,
    /// Bulk write ("DMA") from the caller's memory: `(address, length)`.
    WriteFromMemory = 2,
    /// Bulk read ("DMA") into the caller's memory: `(address, length)`.
    ReadIntoMemory = 3,
    /// Bulk write straight from a lease the caller was lent:
    /// `(lender, lease index, offset, length)`. The device reads the
    /// lender's memory in place, so a bitstream lent by a client and
    /// forwarded by the manager is never copied by anyone.
    WriteFromLease = 4,
}

impl TryFrom<u32> for PeripheralOp {
    type Error = ();

    fn try_from(x: u32) -> Result<Self, ()> {
        Ok(match x {
            0 => Self::ReadRegister,
            1 => Self::WriteRegister,
            2 => Self::WriteFromMemory,
            3 => Self::ReadIntoMemory,
            4 => Self::WriteFromLease,
            _ => return Err(()),
        })
    }
}

/// A tiny stand-in for the `bitflags` crate: a transparent `u32` newtype
/// with named constants and the usual set operations.
#[macro_export]
macro_rules! bitflags_like {
    ($(#[$m:meta])* $name:ident : u32 { $($flag:ident = $v:expr,)* }) => {
        $(#[$m])*
        #[derive(Copy, Clone, Debug, Default, Eq, PartialEq, Hash)]
        #[repr(transparent)]
        pub struct $name(pub u32);
        impl $name {
            $(pub const $flag: Self = Self($v);)*
            /// Every defined bit.
            pub const ALL: Self = Self(0 $(| $v)*);
            pub const fn bits(self) -> u32 { self.0 }
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            /// `None` if `bits` has an undefined bit set.
            pub const fn from_bits(bits: u32) -> Option<Self> {
                if bits & !Self::ALL.0 == 0 { Some(Self(bits)) } else { None }
            }
        }
        impl core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, o: Self) -> Self { Self(self.0 | o.0) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins each number to `shared/reference/hubris-semantics.md`.
    #[test]
    fn syscall_numbers_match_hubris() {
        let expected = [
            (0, Sysnum::Send),
            (1, Sysnum::Recv),
            (2, Sysnum::Reply),
            (3, Sysnum::SetTimer),
            (4, Sysnum::BorrowRead),
            (5, Sysnum::BorrowWrite),
            (6, Sysnum::BorrowInfo),
            (7, Sysnum::IrqControl),
            (8, Sysnum::Panic),
            (9, Sysnum::GetTimer),
            (10, Sysnum::RefreshTaskId),
            (11, Sysnum::Post),
            (12, Sysnum::ReplyFault),
            (13, Sysnum::IrqStatus),
        ];
        for (n, s) in expected {
            assert_eq!(Sysnum::try_from(n), Ok(s));
            assert_eq!(s as u32, n);
        }
        assert_eq!(Sysnum::try_from(15), Ok(Sysnum::ReplyRecv));
        assert_eq!(Sysnum::try_from(16), Err(()));
        assert_eq!(Sysnum::try_from(u32::MAX), Err(()));
    }

    #[test]
    fn dead_codes_carry_the_new_generation() {
        assert_eq!(DEFECT, 1);
        let g = Generation::new(5);
        assert_eq!(dead_response_code(g), 0xFFFF_FF05);
        assert_eq!(extract_new_generation(0xFFFF_FF05), Some(g));
        assert_eq!(extract_new_generation(0xFFFF_FE05), None);
        assert_eq!(extract_new_generation(0), None);
    }

    #[test]
    fn irq_flags_reject_undefined_bits() {
        assert_eq!(IrqControlFlags::from_bits(3), Some(IrqControlFlags(3)));
        assert_eq!(IrqControlFlags::from_bits(4), None);
        assert_eq!(IrqStatus::ALL.0, 7);
    }
}
