//! The protocols of the FPGA system-test image (`test/fpga.toml`).
//!
//! jefe must be task 0 there (the cases test its restart policy and its
//! watchdog), so the runner is an ordinary task. In priority order:
//!
//! - `jefe` (0), the drivers (1), `fpga_mgr` (2): the system under test,
//!   as in app.toml, the iCE40 driver built with `test-hooks`.
//! - `runner` (3): the same `test-runner` as every image's, configured
//!   in fpga.toml as a runner that is not the supervisor. It hands out
//!   case numbers, prints `test_<name> ... ok` or `... FAILED (<why>)`
//!   and `N passed, M failed`, then shuts down. jefe holds the suite when
//!   it faults (a failed assert is a panic) and tells the runner, which
//!   reads the panic message and restarts the suite; a case that hangs
//!   past the runner's `case-timeout-ms` (30 s here) fails, and the
//!   runner restarts every task but jefe and itself.
//! - `client` (4): a second client of the manager, for the cases where a
//!   client other than the suite holds a lock or dies mid-load
//!   ([`ClientOp`]).
//! - `suite` (5): the cases.
//!
//! Messages are little-endian `u32` words.

#![no_std]

use num_enum::TryFromPrimitive;

include!(concat!(env!("OUT_DIR"), "/indices.rs"));

pub use test_harness::{SuiteRunner, word};

/// What the suite asks of the client helper. The helper answers at once
/// and then does the work, so that the suite stays free to watch (and
/// kill) it while the manager serves it.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum ClientOp {
    /// `(device)` → the manager's answer to `lock` (0 or an `FpgaError`
    /// code); the lock is kept until [`ClientOp::Release`] or death.
    Lock = 1,
    /// `(device)` → the manager's answer to `release`.
    Release = 2,
    /// `(device, image, flags, timeout_ms)` → 0 at once; then the helper
    /// takes the lock if it does not hold it and loads [`ClientImage`]
    /// `image`, keeping the answer for [`ClientOp::Result`].
    Load = 3,
    /// `()` → the last load's answer ([`NO_RESULT`] if none).
    Result = 4,
    /// `(bridge)` → the manager's answer to `bridge_get`; kept until
    /// [`ClientOp::BridgePut`] or death.
    BridgeGet = 5,
    /// `(bridge)` → the manager's answer to `bridge_put`.
    BridgePut = 6,
    /// `(device, image, flags, timeout_ms)` → 0 at once; then the helper
    /// takes the lock if it does not hold it and loads the firmware store's image [`NamedImage`] `image` by
    /// name, keeping the answer for [`ClientOp::Result`].
    LoadByName = 7,
}

/// Images the client helper can load.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum ClientImage {
    /// The iCE40 HX1K blinky.
    Ice40 = 0,
    /// The Artix-7 blinky `.bit`.
    Xc7 = 1,
    /// The iCE40 blinky behind the driver's `SLOW` test magic: its
    /// `write` sleeps before streaming the lease.
    Ice40Slow = 2,
}

/// Images of the firmware store (`test/fpga.toml`'s `store` task) the
/// client helper can load by name.
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum NamedImage {
    /// `ice40_blinky`, the iCE40 HX1K blinky.
    Ice40 = 0,
    /// `ice40_slow`: the same behind the driver's `SLOW` magic
    /// (`test/bitstreams/hooks/ice40-hx1k-blinky-slow.bin`).
    Ice40Slow = 1,
}

impl NamedImage {
    /// Its name in the store (its app.toml `[blobs]` key).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ice40 => "ice40_blinky",
            Self::Ice40Slow => "ice40_slow",
        }
    }
}

/// [`ClientOp::Result`] before any load finished.
pub const NO_RESULT: u32 = u32::MAX;

/// A driver's test magics (`drv/fpga-driver-server`, feature `test-hooks`):
/// an image starting with one of them makes the driver misbehave.
pub mod magic {
    /// `write_complete` never returns.
    pub const HANG: [u8; 16] = *b"LEASEHOLD:HANG\0\0";
    /// `write` sleeps 300 ms before streaming the lease.
    pub const SLOW: [u8; 16] = *b"LEASEHOLD:SLOW\0\0";
}

/// Puts `words` into `buf` little-endian; returns the bytes used.
pub fn words<'a>(buf: &'a mut [u8], words: &[u32]) -> &'a [u8] {
    let mut n = 0;
    for (chunk, w) in buf.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
        n += 4;
    }
    &buf[..n]
}
