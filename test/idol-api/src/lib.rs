//! The protocols of the idol system test image (`test/idol.toml`).
//!
//! The image has, in priority order:
//!
//! - `runner` (0, the supervisor): test-runner, which prints the results;
//! - `idol` (1): test-idol-server, serving `IdolTest`
//!   (`idl/test-idol.idol`) through generated code and
//!   `idol_runtime::dispatch`;
//! - `helper` (2): test-idol-helper, an `IdolTest` client that misbehaves
//!   on request ([`HelperOp`]). The server faults it, which is the point:
//!   the suite reads the fault and restarts it;
//! - `suite` (3): test-idol-suite, the cases, itself a well-behaved
//!   `IdolTest` client.
//!
//! The types here are those of Hubris's `test-idol-api`, plus ours:
//! [`IdolTestError`] gains [`IdolTestError::ServerRestarted`], so that a
//! non-idempotent op reports server death instead of panicking, and
//! [`Sample`] and [`ScaleError`] exercise Hubpack and a `Complex` error.

#![no_std]

use num_enum::TryFromPrimitive;
use serde::{Deserialize, Serialize};

/// Why an `IdolTest` op failed. Codes from 1, fitting a `u16`. Counted by
/// variant in the server's outcome counters.
#[derive(
    Copy, Clone, Debug, Eq, PartialEq, counters::Count, idol_runtime::ErrorCode,
)]
#[repr(u16)]
pub enum IdolTestError {
    /// Hubris's; never returned.
    UhOh = 1,
    /// `return_err_if_true(true)`.
    YouAskedForThis = 2,
    /// The server died during the call (a non-idempotent op cannot know
    /// whether it took effect).
    #[error_code(server_death)]
    ServerRestarted = 3,
}

/// Hubris's `FancyTestType`, sent with Ssmarshal.
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FancyTestType {
    pub u: u32,
    pub b: bool,
    pub f: f32,
}

// The types below are Hubris's replica of a network stack's metadata; they
// once exposed an idolatry bug in sizing Ssmarshal messages.

/// A socket, by name.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[repr(u8)]
pub enum SocketName {
    Echo = 1,
}

#[derive(Copy, Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ipv6Address(pub [u8; 16]);

#[derive(Copy, Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
pub enum Address {
    Ipv6(Ipv6Address),
}

#[derive(Copy, Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
pub struct UdpMetadata {
    pub addr: Address,
    pub port: u16,
    pub size: u32,
    pub vid: u16,
}

/// What `scale` multiplies, sent with Hubpack: a mix of widths, a signed
/// field and an `Option`, so that the encoding is not the memory image.
#[derive(
    Copy,
    Clone,
    Debug,
    Eq,
    PartialEq,
    Serialize,
    Deserialize,
    hubpack::SerializedSize,
)]
pub struct Sample {
    pub x: u16,
    pub y: i32,
    pub label: Option<u8>,
}

/// A field of [`Sample`].
#[derive(
    Copy,
    Clone,
    Debug,
    Eq,
    PartialEq,
    Serialize,
    Deserialize,
    hubpack::SerializedSize,
)]
pub enum Field {
    X,
    Y,
}

/// Why `scale` failed: a `Complex` error, sent in the reply body.
#[derive(
    Copy,
    Clone,
    Debug,
    Eq,
    PartialEq,
    Serialize,
    Deserialize,
    hubpack::SerializedSize,
    counters::Count,
)]
pub enum ScaleError {
    /// Multiplying this field overflowed its type.
    Overflow { field: Field },
}

/// Operations the helper serves for the suite. Each makes one call to
/// the `IdolTest` server that breaks a rule, for which the server must
/// fault the helper; if the server answers instead, the helper replies
/// `(response code, reply length)` of that call and the case fails.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum HelperOp {
    /// `sum_with_leases` with a 17-byte lease (`max_len` is 16).
    SumTooLong = 1,
    /// A raw SEND of `sum` with no lease (it takes one).
    WrongLeaseCount = 2,
    /// A raw SEND of `increment` with a 4-byte reply buffer (the reply is
    /// a `usize`).
    ReplyTooSmall = 3,
    /// A raw SEND of [`UNKNOWN_OP`].
    UnknownOp = 4,
    /// Replies at once, waits until the server is blocked inside
    /// `wait_forever`, then faults it with kipc `fault_task`.
    FaultServerMidCall = 5,
    /// `restricted_bump`, which test/idol.toml allows only the suite.
    CallRestricted = 6,
    /// Replies at once, then calls `fill` (a write op) lending its buffer
    /// read-only: the server must fault us with `BadLeases` before
    /// `fill` runs (if it ran, its write would fail and we would never be
    /// answered).
    FillReadOnly = 7,
    /// Replies at once, then calls `sum` (a read op) lending its buffer
    /// write-only: likewise.
    SumWriteOnly = 8,
}

/// An op number `IdolTest` does not define.
pub const UNKNOWN_OP: u16 = 0x99;

/// The generated `IdolTest` client.
#[cfg(feature = "client")]
mod client {
    use super::*;

    include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
}

#[cfg(feature = "client")]
pub use client::*;
