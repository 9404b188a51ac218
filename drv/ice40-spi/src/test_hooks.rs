//! Misbehaviour on demand, for test images only (cargo feature
//! `test-hang`, which only `test/fpga.toml` enables).
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

use drv_fpga_driver_api::driver::STREAM_CHUNK;
use drv_fpga_driver_api::{DriverError, driver::Spi};
use userlib::{TaskId, hl, sys_write_bulk_from_lease};

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
    pub fn from_lease(lender: TaskId, index: usize, len: usize) -> (Self, u32) {
        let mut head = [0u8; 16];
        if len < head.len() {
            return (Self::None, 0);
        }
        let (rc, n) = userlib::sys_borrow_read(lender, index, 0, &mut head);
        if rc != 0 || n != head.len() {
            return (Self::None, 0);
        }
        match head {
            HANG_MAGIC => (Self::Hang, 16),
            SLOW_MAGIC => (Self::Slow, 16),
            _ => (Self::None, 0),
        }
    }

    /// Never returns.
    pub fn hang() -> ! {
        loop {
            hl::sleep_for(1000);
        }
    }

    /// The slow write's pause.
    pub fn dawdle() {
        hl::sleep_for(SLOW_MS);
    }
}

/// [`Spi::stream_lease`] from byte `skip` on.
///
/// # Errors
///
/// `LeaseRevoked` when a piece could not be read.
pub fn stream_from(
    spi: Spi,
    lender: TaskId,
    index: usize,
    skip: u32,
    len: usize,
) -> Result<(), DriverError> {
    let len = u32::try_from(len).map_err(|_| DriverError::InvalidArgument)?;
    let mut offset = skip;
    while offset < len {
        let n = STREAM_CHUNK.min(len - offset);
        if sys_write_bulk_from_lease(spi.0, lender, index, offset, n) != 0 {
            return Err(DriverError::LeaseRevoked);
        }
        offset += n;
    }
    Ok(())
}
