//! The board's side of its SHA-256 engines ([`crate::sha256_engine`]):
//! transfers started here and run elsewhere (the hosted board's worker
//! thread), and the refusals mapped to [`IoError`]s.
//!
//! [`Board::write_bulk`] runs a transfer at once, on the caller's thread
//! (the Cortex-M board does that). A platform with another core to spare
//! instead calls [`Board::start_hash`], runs the [`Job`] wherever it
//! likes over the same bytes, and hands it back to [`Board::finish_hash`],
//! which raises `done`. Meanwhile STATUS reads BUSY.

use super::{Board, IoError, Kind};
use crate::sha256_engine::{self, Job, Refused};

/// The [`IoError`] for an engine's refusal of an access to `reg`.
pub(super) fn refused(periph: usize, reg: u32, why: Refused) -> IoError {
    match why {
        Refused::NoSuchRegister => IoError::NoSuchRegister { periph, reg },
        Refused::ReadOnly => IoError::ReadOnly { periph, reg },
        Refused::BadValue => IoError::BadValue {
            periph,
            reg,
            value: 0,
        },
        Refused::Busy => IoError::Busy { periph, reg },
    }
}

impl Board {
    /// Whether peripheral `periph` is a SHA-256 engine.
    pub fn is_hash_engine(&self, periph: usize) -> bool {
        matches!(
            self.periphs.get(periph).map(|p| &p.kind),
            Some(Kind::Hash(_))
        )
    }

    /// Starts a transfer of `len` bytes on engine `periph` without
    /// running it: the caller feeds the returned job the bytes and gives
    /// it back to [`Board::finish_hash`].
    ///
    /// # Errors
    ///
    /// [`IoError::NoBulk`] if `periph` is not an engine;
    /// [`IoError::Busy`] as the engine refuses.
    pub fn start_hash(
        &mut self,
        periph: usize,
        len: u64,
    ) -> Result<Job, IoError> {
        self.check(periph)?;
        let Kind::Hash(h) = &mut self.periphs[periph].kind else {
            return Err(IoError::NoBulk { periph });
        };
        h.start(len)
            .map_err(|r| refused(periph, sha256_engine::DATA, r))
    }

    /// Ends the transfer `job` ran on engine `periph` and raises `done`
    /// if the driver asked for it. A job whose transfer was aborted (or
    /// whose engine was reset) since is dropped.
    pub fn finish_hash(&mut self, periph: usize, job: Job) {
        let Some(Kind::Hash(h)) =
            self.periphs.get_mut(periph).map(|p| &mut p.kind)
        else {
            return;
        };
        if h.finish(job) {
            self.irqs.push((periph, sha256_engine::IRQ_DONE));
        }
    }

    /// Engines whose transfer under way was aborted or reset since the
    /// last call: whoever runs their jobs may stop them.
    pub fn take_aborted(&mut self) -> alloc::vec::Vec<usize> {
        core::mem::take(&mut self.aborted)
    }
}
