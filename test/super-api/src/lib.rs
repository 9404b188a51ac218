//! What the supervision test image's tasks agree on (`test/supervision.toml`).
//!
//! - The suite calls the victim, a server that answers [`VictimOp::Ping`]
//!   and panics, before replying, on [`VictimOp::Panic`], so the caller is
//!   still blocked on it when it dies and must get the dead code.
//! - The looper asks jefe for the system state when it starts and panics
//!   at once if it is [`CRASH_LOOP_STATE`]: a crash-looping task for as
//!   long as the suite leaves that state set, since jefe's state survives
//!   the looper's restarts.

#![no_std]

use num_enum::TryFromPrimitive;

/// The victim's operations.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum VictimOp {
    /// Replies with the argument word plus one.
    Ping = 1,
    /// Panics with [`VICTIM_PANIC_MESSAGE`] without replying.
    Panic = 2,
}

/// What the victim panics with.
pub const VICTIM_PANIC_MESSAGE: &str = "victim: panic on request";

/// jefe's system state that makes the looper panic as soon as it starts.
pub const CRASH_LOOP_STATE: u32 = 0x100b;
