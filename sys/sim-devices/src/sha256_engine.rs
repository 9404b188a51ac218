//! A SHA-256 engine fed by DMA, as the STM32 HASH unit with its DMA
//! request or NXP's DCP: a task starts a transfer of a buffer (PERIPHERAL_IO
//! `WriteFromLease` or `WriteFromMemory` to DATA), the engine reads and
//! hashes it on its own, and raises `done` when it is through.
//!
//! Why the FPGA manager wants one: on the hosted board the FPGA models take
//! bytes about as fast as one core hashes them, and a manager in
//! synchronous IPC cannot hash while its driver writes. With the engine
//! the hash runs on the other core (the hosted platform's worker thread)
//! during the write, as on an MCU it runs beside the CPU.
//!
//! | offset | name | access | meaning |
//! |---|---|---|---|
//! | 0x00 | CTRL | rw | bit 0 INIT (write 1: start a new hash, count 0; reads 0); bit 1 ABORT (write 1: cancel the transfer under way; reads 0); bit 2 IRQ_EN: raise `done` when a transfer ends. Other bits must be 0. |
//! | 0x04 | STATUS | r, w1c | bit 0 BUSY: a transfer is under way; bit 1 DONE: a transfer ended (write 1 to clear); bit 2 ERROR: a transfer was aborted, the hash lost bytes (write 1 to clear; INIT clears it too); bit 3 READY: a hash is open (INIT seen, no abort since) |
//! | 0x08 | COUNT | ro | bytes hashed since INIT (low 32 bits; a transfer under way counts when it ends) |
//! | 0x0C | DATA | bulk only | a bulk write here is a transfer; a register access faults |
//! | 0x10..=0x2C | DIGEST0..7 | ro | the SHA-256 of every byte since INIT, big-endian words (FIPS 180-4's H0..H7 after padding); the hash stays open, so more transfers may follow |
//!
//! Refusals, which the kernel turns into a fault of the task that made the
//! access ([`crate::IoError::Busy`]), as a bus error on the real parts:
//!
//! - while BUSY, any register write but CTRL with only ABORT (and
//!   IRQ_EN as it is), and any read of DIGEST (the context is the
//!   engine's);
//! - a transfer while BUSY, while DONE is still set (so a driver never
//!   takes an old completion for the new one: it must consume each
//!   `done` before it starts the next transfer), or with no hash open
//!   (READY clear: never INIT, or aborted since).
//!
//! The model never reads memory itself: [`Sha256Engine::start`] hands out
//! a [`Job`] holding the hash context, whoever runs it (this thread for
//! the Cortex-M board, a worker thread on the hosted board) feeds it the
//! bytes, and [`Sha256Engine::finish`] takes it back.

use sha256_accel::Sha256;

/// Register offsets.
pub const CTRL: u32 = 0x00;
/// Status register.
pub const STATUS: u32 = 0x04;
/// Byte counter.
pub const COUNT: u32 = 0x08;
/// The DMA data port.
pub const DATA: u32 = 0x0C;
/// The first digest word; DIGEST`i` is at `DIGEST0 + 4 * i`.
pub const DIGEST0: u32 = 0x10;
/// Digest words.
pub const DIGEST_WORDS: u32 = 8;

/// CTRL: start a new hash.
pub const CTRL_INIT: u32 = 1 << 0;
/// CTRL: cancel the transfer under way.
pub const CTRL_ABORT: u32 = 1 << 1;
/// CTRL: raise `done` when a transfer ends.
pub const CTRL_IRQ_EN: u32 = 1 << 2;

/// STATUS: a transfer is under way.
pub const STATUS_BUSY: u32 = 1 << 0;
/// STATUS: a transfer ended (write 1 to clear).
pub const STATUS_DONE: u32 = 1 << 1;
/// STATUS: a transfer was aborted (write 1 to clear).
pub const STATUS_ERROR: u32 = 1 << 2;
/// STATUS: a hash is open.
pub const STATUS_READY: u32 = 1 << 3;

/// The interrupt line raised when a transfer ends and CTRL.IRQ_EN is set.
pub const IRQ_DONE: &str = "done";

/// Why an access was refused (the board maps it to an `IoError`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No such register, or DATA as a register.
    NoSuchRegister,
    /// A write to a read-only register.
    ReadOnly,
    /// Reserved bits set.
    BadValue,
    /// Busy, DONE not cleared, or no hash open (see the module doc).
    Busy,
}

/// One transfer's work: the hash context, out of the engine while the
/// transfer runs.
#[derive(Clone, Debug)]
pub struct Job {
    sha: Sha256,
    len: u64,
    id: u64,
}

impl Job {
    /// Feeds the transfer's next bytes (all of them, in order, in as many
    /// pieces as the runner likes).
    pub fn run(&mut self, data: &[u8]) {
        self.sha.update(data);
    }

    /// The transfer's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the transfer is empty (the kernel never starts one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Which transfer this is; [`Sha256Engine::finish`] drops a job
    /// whose transfer was aborted.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// The engine's state.
#[derive(Debug, Default)]
pub struct Sha256Engine {
    irq_enabled: bool,
    /// DONE and ERROR.
    flags: u32,
    /// The open hash, when not out in a job.
    context: Option<Sha256>,
    /// The transfer under way: its job id.
    busy: Option<u64>,
    /// Transfers started since power-on, to tell stale jobs apart.
    started: u64,
    count: u64,
    /// The digest of the open hash, computed when a transfer ends.
    digest: [u32; 8],
}

impl Sha256Engine {
    /// Power-on state: no hash open, IRQ off.
    pub fn new() -> Self {
        Self {
            digest: digest_words(Sha256::new()),
            ..Self::default()
        }
    }

    /// Whether a transfer is under way.
    pub fn is_busy(&self) -> bool {
        self.busy.is_some()
    }

    /// Reads register `reg`.
    ///
    /// # Errors
    ///
    /// [`Refused`] for a register that does not exist, DATA, or DIGEST
    /// while busy.
    pub fn read(&self, reg: u32) -> Result<u32, Refused> {
        Ok(match reg {
            CTRL => (self.irq_enabled as u32) * CTRL_IRQ_EN,
            STATUS => self.status(),
            COUNT => self.count as u32,
            _ => {
                let i = digest_index(reg).ok_or(Refused::NoSuchRegister)?;
                if self.is_busy() {
                    return Err(Refused::Busy);
                }
                self.digest[i]
            }
        })
    }

    fn status(&self) -> u32 {
        let busy = (self.is_busy() as u32) * STATUS_BUSY;
        let ready = (self.context.is_some() || self.is_busy()) as u32;
        busy | self.flags | (ready * STATUS_READY)
    }

    /// Writes register `reg`. Returns whether a transfer under way was
    /// aborted (so whoever runs its job may stop).
    ///
    /// # Errors
    ///
    /// [`Refused`] as the module doc says.
    pub fn write(&mut self, reg: u32, value: u32) -> Result<bool, Refused> {
        match reg {
            CTRL => self.write_ctrl(value),
            STATUS => {
                if value & !(STATUS_DONE | STATUS_ERROR) != 0 {
                    return Err(Refused::BadValue);
                }
                self.refuse_if_busy()?;
                self.flags &= !value;
                Ok(false)
            }
            COUNT => Err(Refused::ReadOnly),
            _ if digest_index(reg).is_some() => Err(Refused::ReadOnly),
            _ => Err(Refused::NoSuchRegister),
        }
    }

    fn write_ctrl(&mut self, value: u32) -> Result<bool, Refused> {
        if value & !(CTRL_INIT | CTRL_ABORT | CTRL_IRQ_EN) != 0 {
            return Err(Refused::BadValue);
        }
        let irq_enabled = value & CTRL_IRQ_EN != 0;
        if self.is_busy() {
            // Only ABORT, leaving IRQ_EN as it is.
            let abort_only = value & CTRL_INIT == 0
                && value & CTRL_ABORT != 0
                && irq_enabled == self.irq_enabled;
            if !abort_only {
                return Err(Refused::Busy);
            }
            self.busy = None;
            self.context = None;
            self.flags |= STATUS_ERROR;
            return Ok(true);
        }
        self.irq_enabled = irq_enabled;
        if value & CTRL_ABORT != 0 {
            // Nothing under way: the open hash is dropped all the same.
            self.context = None;
        }
        if value & CTRL_INIT != 0 {
            self.context = Some(Sha256::new());
            self.count = 0;
            self.flags = 0;
            self.digest = digest_words(Sha256::new());
        }
        Ok(false)
    }

    fn refuse_if_busy(&self) -> Result<(), Refused> {
        if self.is_busy() {
            Err(Refused::Busy)
        } else {
            Ok(())
        }
    }

    /// Starts a transfer of `len` bytes (DATA's bulk write): the job to
    /// run over them.
    ///
    /// # Errors
    ///
    /// [`Refused::Busy`] while busy, with DONE set, or with no hash open.
    pub fn start(&mut self, len: u64) -> Result<Job, Refused> {
        self.refuse_if_busy()?;
        if self.flags & STATUS_DONE != 0 {
            return Err(Refused::Busy);
        }
        let sha = self.context.take().ok_or(Refused::Busy)?;
        self.started += 1;
        self.busy = Some(self.started);
        Ok(Job {
            sha,
            len,
            id: self.started,
        })
    }

    /// Ends the transfer `job` ran: the hash takes its bytes, DONE is set.
    /// Returns whether to raise `done`; a job of an aborted transfer
    /// changes nothing.
    pub fn finish(&mut self, job: Job) -> bool {
        if self.busy != Some(job.id) {
            return false;
        }
        self.busy = None;
        self.count = self.count.wrapping_add(job.len);
        self.digest = digest_words(job.sha.clone());
        self.context = Some(job.sha);
        self.flags |= STATUS_DONE;
        self.irq_enabled
    }

    /// A whole transfer at once, on the caller's thread: start, hash
    /// `data`, finish. Returns whether to raise `done`.
    ///
    /// # Errors
    ///
    /// As [`Sha256Engine::start`].
    pub fn transfer(&mut self, data: &[u8]) -> Result<bool, Refused> {
        let mut job = self.start(data.len() as u64)?;
        job.run(data);
        Ok(self.finish(job))
    }
}

/// Which DIGEST word `reg` is.
fn digest_index(reg: u32) -> Option<usize> {
    let word = reg.checked_sub(DIGEST0)?;
    (word % 4 == 0 && word / 4 < DIGEST_WORDS).then_some((word / 4) as usize)
}

/// The digest of `sha` as big-endian words.
fn digest_words(sha: Sha256) -> [u32; 8] {
    let bytes = sha.finalize();
    let mut words = [0u32; 8];
    for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    words
}
