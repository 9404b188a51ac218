//! How a load hashes its image: with the board's SHA-256 engine when
//! app.toml grants us one (`hash-engine`), else ourselves.
//!
//! Ourselves: we read each window through `scratch` (one BORROW_READ a
//! piece) and hash it before the driver gets it; the manager is blocked
//! in the driver's call afterwards, so the hash and the write take turns.
//!
//! With the engine: we start a DMA transfer of the window straight from
//! the lender's lease (PERIPHERAL_IO `WriteFromLease` to its DATA, checked
//! by the kernel like any lease access), which returns at once; the
//! engine reads and hashes while the driver writes, and we wait for its
//! `done` interrupt afterwards, within the load's deadline. A streamed
//! load feeds each chunk the same way and waits before replying, because
//! the chunk's lease ends with our reply. On the hosted board the engine
//! runs on the other core; the Cortex-M board's engine is done before
//! the start call returns. The code is the same.
//!
//! The engine has one hash context. A load takes it when it starts and
//! it is free, and keeps it to its end: a whole-image load for one call,
//! a stream until it ends (the server reclaims the context of a stream
//! that is gone, [`crate::ServerImpl::reclaim_engine`]). A load that
//! finds it taken hashes itself, as a driver with one DMA channel would.
//!
//! Any engine failure (an error bit, the deadline) ends the load in
//! `WRITE_ERR` with no identity recorded; an abort stops a transfer a
//! failed write leaves running.

use crate::{ServerImpl, config};
use drv_board_io::regs::sha256_engine as regs;
use drv_fpga_driver_api::DriverError;
use task_fpga_mgr::image::ImageDigest;
use userlib::{
    IrqControlFlags, TaskId, sys_borrow_read, sys_get_timer, sys_irq_control,
    sys_read_register, sys_recv_notification, sys_set_timer,
    sys_write_bulk_from_lease, sys_write_register,
};

/// Bytes we read of an image's start, for its `.bit` header, when the
/// engine hashes it (real headers are about a hundred bytes).
const HEAD_LEN: usize = 512;

/// The board's SHA-256 engine, as we use it.
pub struct Engine {
    /// Its peripheral index.
    periph: u16,
    /// Our notification bit its `done` IRQ posts.
    mask: u32,
    /// The ticket of the load holding the hash context.
    pub owner: Option<u32>,
    /// Tickets handed out so far.
    tickets: u32,
}

impl Engine {
    /// The engine app.toml grants us, if any.
    pub fn configured() -> Option<Self> {
        let (periph, mask) = config::HASH_ENGINE?;
        Some(Self {
            periph,
            mask,
            owner: None,
            tickets: 0,
        })
    }

    /// Takes the hash context for a new image (INIT), if it is free.
    fn claim(&mut self) -> Option<u32> {
        if self.owner.is_some() {
            return None;
        }
        self.tickets = self.tickets.wrapping_add(1);
        self.owner = Some(self.tickets);
        // A transfer our previous incarnation started may still run (it
        // died waiting): INIT would be refused while busy.
        self.abort();
        let init = regs::CTRL_INIT | regs::CTRL_IRQ_EN;
        sys_write_register(self.periph, regs::CTRL, init);
        self.owner
    }

    /// Starts a transfer of `len` bytes at `offset` of lease `index` of
    /// `lender`; returns at once.
    fn start(
        &self,
        lender: TaskId,
        index: usize,
        offset: u32,
        len: u32,
    ) -> Result<(), DriverError> {
        // An IRQ left pending by an earlier transfer (one we stopped, or
        // our previous incarnation's) is not this one's.
        let on = IrqControlFlags::ENABLED | IrqControlFlags::CLEAR_PENDING;
        sys_irq_control(self.mask, on);
        let rc =
            sys_write_bulk_from_lease(self.periph, lender, index, offset, len);
        if rc != 0 {
            return Err(DriverError::LeaseRevoked);
        }
        Ok(())
    }

    /// Waits for the transfer under way to end, at most until
    /// `deadline_ms`; clears DONE for the next one.
    fn wait(&self, deadline_ms: u64) -> Result<(), DriverError> {
        let saved = sys_get_timer();
        let mut timer_seen = false;
        let r = loop {
            let status = sys_read_register(self.periph, regs::STATUS);
            if status & regs::STATUS_DONE != 0 {
                let done = regs::STATUS_DONE;
                sys_write_register(self.periph, regs::STATUS, done);
                break Ok(());
            }
            if status & regs::STATUS_BUSY == 0 {
                break Err(DriverError::DeviceNotReady);
            }
            if sys_get_timer().now >= deadline_ms {
                break Err(DriverError::Timeout);
            }
            if config::TIMER_MASK != 0 {
                sys_set_timer(Some(deadline_ms), config::TIMER_MASK);
            }
            let bits = sys_recv_notification(self.mask | config::TIMER_MASK);
            timer_seen |= bits & config::TIMER_MASK != 0;
            // Woken but still busy (a stale notification, or the timer):
            // the IRQ may have fired and disarmed itself; arm it again
            // (one that came meanwhile is pending and fires at once).
            sys_irq_control(self.mask, IrqControlFlags::ENABLED);
        };
        // Our timer also retries driver binds: give it back as it was (a
        // deadline that passed meanwhile fires at once), or, if we took a
        // timer notification meant for that, fire it now.
        if config::TIMER_MASK != 0 {
            let now = sys_get_timer().now;
            let deadline = if timer_seen {
                Some(now)
            } else {
                saved.deadline
            };
            sys_set_timer(deadline, config::TIMER_MASK);
        }
        r
    }

    /// Stops a transfer under way and drops the hash context. While
    /// busy the engine takes only ABORT with IRQ_EN as it is, so we keep
    /// whatever IRQ_EN holds.
    fn abort(&self) {
        let irq_en = sys_read_register(self.periph, regs::CTRL);
        let abort = regs::CTRL_ABORT | (irq_en & regs::CTRL_IRQ_EN);
        sys_write_register(self.periph, regs::CTRL, abort);
    }

    /// The digest of everything fed since INIT.
    fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in (0u32..).zip(out.chunks_exact_mut(4)) {
            let word = sys_read_register(self.periph, regs::DIGEST0 + 4 * i);
            o.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// What one load hashes with: a scratch buffer for hashing ourselves,
/// and the engine if we have one.
pub struct Hasher<'a> {
    pub scratch: &'a mut [u8],
    pub engine: Option<&'a mut Engine>,
}

impl Hasher<'_> {
    /// Hashes (or starts the engine on) `len` bytes at `offset` of lease
    /// `index` of `lender`, the image's next bytes.
    pub fn digest(
        &mut self,
        lender: TaskId,
        index: usize,
        offset: u32,
        len: u32,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        if digest.length() == 0 && digest.engine().is_none() {
            self.try_engine(lender, index, offset, len, digest)?;
        }
        let Some(ticket) = digest.engine() else {
            return self.read_and_hash(lender, index, offset, len, digest);
        };
        let engine = self.engine_for(ticket)?;
        engine.start(lender, index, offset, len)?;
        digest.engine_fed(len);
        Ok(())
    }

    /// Hands a new image's hash to the engine if it is free.
    fn try_engine(
        &mut self,
        lender: TaskId,
        index: usize,
        offset: u32,
        len: u32,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        let Some(engine) = self.engine.as_deref_mut() else {
            return Ok(());
        };
        // The `.bit` header is ours to read: the engine only hashes.
        let n = HEAD_LEN.min(len as usize).min(self.scratch.len());
        let head = &mut self.scratch[..n];
        let (rc, got) = sys_borrow_read(lender, index, offset as usize, head);
        if rc != 0 {
            return Err(DriverError::LeaseRevoked);
        }
        if let Some(ticket) = engine.claim() {
            digest.hand_to_engine(ticket, &head[..got]);
        }
        Ok(())
    }

    /// The engine, if `ticket` still holds its context.
    fn engine_for(&mut self, ticket: u32) -> Result<&Engine, DriverError> {
        match self.engine.as_deref() {
            Some(e) if e.owner == Some(ticket) => Ok(e),
            _ => Err(DriverError::BadState),
        }
    }

    /// Hashes the bytes ourselves, a scratch buffer at a time. A lender
    /// that stopped waiting answers DEFECT or a dead code: the lease is
    /// gone.
    fn read_and_hash(
        &mut self,
        lender: TaskId,
        index: usize,
        offset: u32,
        len: u32,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        let (start, len) = (offset as usize, len as usize);
        let mut done = 0;
        while done < len {
            let n = self.scratch.len().min(len - done);
            let buf = &mut self.scratch[..n];
            let (rc, got) = sys_borrow_read(lender, index, start + done, buf);
            if rc != 0 || got != n {
                return Err(DriverError::LeaseRevoked);
            }
            digest.update(buf);
            done += n;
        }
        Ok(())
    }

    /// Waits for the engine's transfer (or stops it when `stop`).
    pub fn wait(
        &mut self,
        digest: &ImageDigest,
        stop: bool,
        deadline_ms: u64,
    ) -> Result<(), DriverError> {
        let Some(ticket) = digest.engine() else {
            return Ok(());
        };
        let engine = self.engine_for(ticket)?;
        if stop {
            engine.abort();
            return Ok(());
        }
        engine.wait(deadline_ms).inspect_err(|_| engine.abort())
    }

    /// Reads the engine's digest into `digest`.
    pub fn seal(
        &mut self,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        let Some(ticket) = digest.engine() else {
            return Ok(());
        };
        let sha256 = self.engine_for(ticket)?.digest();
        digest.seal(sha256);
        Ok(())
    }
}

/// The [`Hasher`] of one load.
pub fn hasher<'a>(
    scratch: &'a mut [u8],
    engine: &'a mut Option<Engine>,
) -> Hasher<'a> {
    Hasher {
        scratch,
        engine: engine.as_mut(),
    }
}

impl ServerImpl {
    /// Frees the engine's hash context if the load that took it is over:
    /// a whole-image load always is by the next op, a stream once no
    /// device's stream holds its ticket (it ended, failed or was
    /// abandoned). Called before every load that may take it.
    pub fn reclaim_engine(&mut self) {
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        let Some(ticket) = engine.owner else {
            return;
        };
        let held = self.devices.iter().any(|d| {
            d.stream.as_ref().and_then(|s| s.engine()) == Some(ticket)
        });
        if !held {
            engine.owner = None;
        }
    }
}
