//! The protocol between the restart injection campaign
//! (`test/inject-campaign`) and its workload clients
//! (`test/inject-client`), as in `test/injection.toml`.
//!
//! Clients are less important than the campaign, so they call it and it
//! never calls them: a client SENDs a [`Report`] (op [`OP_REPORT`]) and
//! the campaign's REPLY is the next [`Command`]; it holds the reply until
//! it wants the client to work. Inside a streamed load with checkpoints
//! the client SENDs [`OP_CHECKPOINT`] with the [`Step`] it is about to
//! take, and the campaign replies (empty) once it has armed whatever
//! injection belongs to that step.

#![no_std]

/// A [`Report`]; the reply is a [`Command`].
pub const OP_REPORT: u16 = 1;
/// One byte, the [`Step`] about to be taken; the reply is empty.
pub const OP_CHECKPOINT: u16 = 2;

/// What a client does.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u8)]
pub enum Workload {
    /// lock, one whole-image `load`, release.
    Load = 1,
    /// lock, `load_begin`, chunks of `chunk_len`, `load_end`, release.
    Stream = 2,
    /// Until `deadline_ms`: wait for a bound driver, lock, load, release,
    /// retrying on the errors a recovering system may still give.
    Verify = 3,
}

impl Workload {
    pub fn from_u8(x: u8) -> Option<Self> {
        match x {
            1 => Some(Self::Load),
            2 => Some(Self::Stream),
            3 => Some(Self::Verify),
            _ => None,
        }
    }
}

/// Where a client call stands (reported with failures, and named by
/// checkpoints).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u8)]
pub enum Step {
    None = 0,
    Lock = 1,
    Load = 2,
    Begin = 3,
    /// The first chunk: the driver's `parse_header`, `write_init` and
    /// first `write`.
    FirstChunk = 4,
    /// A later chunk: one driver `write`.
    Chunk = 5,
    /// `load_end`: the driver's `write_complete`.
    End = 6,
    Bind = 7,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Self::None,
        Self::Lock,
        Self::Load,
        Self::Begin,
        Self::FirstChunk,
        Self::Chunk,
        Self::End,
        Self::Bind,
    ];

    pub fn from_u8(x: u8) -> Self {
        Self::ALL.get(usize::from(x)).copied().unwrap_or(Self::None)
    }
}

/// Work for a client: the campaign's reply to a [`Report`].
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Command {
    pub workload: Workload,
    pub device: u8,
    /// Send [`OP_CHECKPOINT`] before each step of a streamed load.
    pub checkpoints: bool,
    /// Chunk length of a streamed load.
    pub chunk_len: u32,
    /// For [`Workload::Verify`]: how long to keep retrying.
    pub deadline_ms: u32,
    /// Load the firmware store's image by name (`load_by_name`) instead
    /// of lending our own copy ([`Workload::Load`] and
    /// [`Workload::Verify`]).
    pub by_name: bool,
}

pub const COMMAND_LEN: usize = 12;

impl Command {
    pub fn encode(&self) -> [u8; COMMAND_LEN] {
        let mut b = [0u8; COMMAND_LEN];
        b[0] = self.workload as u8;
        b[1] = self.device;
        b[2] = self.checkpoints as u8;
        b[3] = self.by_name as u8;
        b[4..8].copy_from_slice(&self.chunk_len.to_le_bytes());
        b[8..12].copy_from_slice(&self.deadline_ms.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != COMMAND_LEN {
            return None;
        }
        Some(Self {
            workload: Workload::from_u8(b[0])?,
            device: b[1],
            checkpoints: b[2] != 0,
            by_name: b[3] != 0,
            chunk_len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            deadline_ms: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        })
    }
}

/// `Report::code` of a call that succeeded.
pub const CODE_OK: u16 = 0;
/// `Report::code` before any command ran: the client just started.
pub const CODE_READY: u16 = 0xFFFF;
/// `Report::code` of a call the manager answered `Ok` although the device
/// is not configured with our image afterwards: its pins (CDONE / DONE,
/// read live by the bound driver) say otherwise, or the manager that
/// answered still records another state or image (length and SHA-256).
/// An `Ok` must mean a configured device (issue 16).
pub const CODE_OK_UNCONFIRMED: u16 = 0xFFFE;
/// `Report::code` of an `Ok` after which the pins say the device is not
/// configured, from a load during which the device's driver changed
/// generation: the manager answered for a driver that died mid-load.
pub const CODE_OK_DRIVER_CHANGED: u16 = 0xFFFD;

/// What a client saw.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Report {
    /// [`CODE_OK`], an `FpgaError` code, or [`CODE_READY`].
    pub code: u16,
    /// The step that failed.
    pub step: Step,
    /// From the command to the last guard dropped, by the client's clock.
    pub elapsed_ms: u32,
    /// Attempts (verify retries).
    pub attempts: u32,
}

pub const REPORT_LEN: usize = 12;

impl Report {
    pub const READY: Report = Report {
        code: CODE_READY,
        step: Step::None,
        elapsed_ms: 0,
        attempts: 0,
    };

    pub fn encode(&self) -> [u8; REPORT_LEN] {
        let mut b = [0u8; REPORT_LEN];
        b[0..2].copy_from_slice(&self.code.to_le_bytes());
        b[2] = self.step as u8;
        b[4..8].copy_from_slice(&self.elapsed_ms.to_le_bytes());
        b[8..12].copy_from_slice(&self.attempts.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != REPORT_LEN {
            return None;
        }
        Some(Self {
            code: u16::from_le_bytes([b[0], b[1]]),
            step: Step::from_u8(b[2]),
            elapsed_ms: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            attempts: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        })
    }
}
