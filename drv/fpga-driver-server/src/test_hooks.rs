//! Misbehaviour on demand, for test images only (cargo feature
//! `test-hooks`, which a driver enables through its own `test-hooks`
//! feature and only `test/fpga.toml` turns on). It lives here, not in a
//! driver, so production drivers carry no test code and every device
//! family can be made to misbehave the same way.
//!
//! An image that begins with one of the 16-byte magic words below is
//! loaded as if the magic were not there (the device never sees it), but
//! the driver then misbehaves:
//!
//! - [`HANG_MAGIC`]: `write_complete` never returns; it sleeps forever, as
//!   a driver stuck polling a pin that never changes. Only the
//!   supervisor's watchdog gets the manager out.
//! - [`SLOW_MAGIC`]: `write` sleeps [`SLOW_MS`] before it streams the
//!   lease, so a test can kill the client while the driver holds its
//!   forwarded lease.

use crate::LeaseData;
use userlib::hl;

/// Makes `write_complete` hang.
pub const HANG_MAGIC: [u8; 16] = *b"LEASEHOLD:HANG\0\0";

/// Makes `write` sleep [`SLOW_MS`] first.
pub const SLOW_MAGIC: [u8; 16] = *b"LEASEHOLD:SLOW\0\0";

/// How long a slow `write` sleeps.
pub const SLOW_MS: u64 = 300;

/// What the current load was asked to do.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub enum Hook {
    #[default]
    None,
    Hang,
    Slow,
}

impl Hook {
    /// Reads the magic, if any, from the start of a load's first `write`
    /// lease; returns the hook and how many bytes to skip.
    fn from_lease(lease: LeaseData) -> (Self, u32) {
        let mut head = [0u8; 16];
        if lease.end < head.len() as u32 {
            return (Self::None, 0);
        }
        let (rc, n) =
            userlib::sys_borrow_read(lease.lender, lease.index, 0, &mut head);
        if rc != 0 || n != head.len() {
            return (Self::None, 0);
        }
        match head {
            HANG_MAGIC => (Self::Hang, 16),
            SLOW_MAGIC => (Self::Slow, 16),
            _ => (Self::None, 0),
        }
    }

    /// Before a `write`: on a load's first, reads its magic; a slow load
    /// dawdles on every write. Returns the offset to stream from.
    pub(crate) fn before_write(
        hook: &mut Option<Hook>,
        lease: LeaseData,
    ) -> u32 {
        let (current, skip) = match *hook {
            Some(current) => (current, 0),
            None => Self::from_lease(lease),
        };
        *hook = Some(current);
        if current == Hook::Slow {
            hl::sleep_for(SLOW_MS);
        }
        skip
    }

    /// Before `write_complete`: a hanging load never returns.
    pub(crate) fn before_complete(hook: Option<Hook>) {
        if hook == Some(Hook::Hang) {
            loop {
                hl::sleep_for(1000);
            }
        }
    }
}
