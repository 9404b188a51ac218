//! Lattice iCE40 bitstreams, as written by IceStorm's `icepack`.
//!
//! The format (IceStorm `docs/format.rst`, `icepack.cc`):
//!
//! 1. An optional comment block `FF 00 … 00 FF`, which the device skips
//!    because it scans for the preamble `7E AA 99 7E` byte by byte. We scan
//!    the same way, so leading garbage is ignored exactly as on hardware.
//! 2. Commands: one byte `(opcode << 4) | n` and an `n`-byte big-endian
//!    payload. Opcode 0 is an operation selected by its payload (1 = CRAM
//!    write, 3 = BRAM write, 5 = reset CRC, 6 = wakeup); the others set bank
//!    number (1), check the CRC (2), set the boot address (4), the internal
//!    oscillator range (5), the bank width minus one (6), the bank height (7),
//!    the bank offset (8) and the flags (9).
//! 3. A CRAM or BRAM write is followed by `width * height / 8` data bytes
//!    and two zero bytes.
//! 4. The CRC is CRC-16/CCITT-FALSE (`crc::CRC_16_IBM_3740`). `01 05`
//!    resets it; it then covers every byte up to and including the `0x22`
//!    opcode byte, and the big-endian check value that follows brings the
//!    running CRC to zero (a residue check, which is how we verify it).
//!
//! The parser also checks that the bank geometry fits the device: the CRAM
//! and BRAM bank sizes identify the die, so a bitstream built for another
//! part is caught before a single frame is "written".

use crc::{CRC_16_IBM_3740, Crc, Digest};

/// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no final XOR.
static CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// The synchronisation pattern the device waits for (MSB first on SPI).
pub const PREAMBLE: [u8; 4] = [0x7E, 0xAA, 0x99, 0x7E];

/// Clock cycles the device needs after the wakeup command before the user
/// design's I/O becomes active (iCE40 programming guide; Zephyr's
/// `trailing-clocks` default and Linux's `DIV_ROUND_UP(49, 8)` bytes).
pub const WAKEUP_CLOCKS: u32 = 49;

/// Housekeeping time after CRESET_B rises before the device listens to SPI
/// (Linux `ICE40_SPI_HOUSEKEEPING_DELAY`, Zephyr `config-delay-us`).
pub const HOUSEKEEPING_US: u64 = 1200;

/// Width and height of a configuration bank, in bits and rows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bits per row, as it appears after decoding the stored `width - 1`.
    pub width: u16,
    /// Rows in the bank.
    pub height: u16,
}

impl Geometry {
    const fn new(width: u16, height: u16) -> Self {
        Geometry { width, height }
    }
}

/// The iCE40 dies we can tell apart by their bank geometry.
///
/// Parts sharing a die share a bitstream geometry (HX1K/LP1K, HX8K/LP8K/
/// HX4K), so the names here stand for the die.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ice40Device {
    /// The 1k die: CRAM banks 332 x 144, BRAM banks 64 x 256.
    Hx1k,
    /// The 8k die: CRAM banks 872 x 272, BRAM banks 128 x 256.
    Hx8k,
    /// UltraPlus 5k: CRAM banks 692 x 336 (banks 0, 2) and 692 x 176 (banks
    /// 1, 3), BRAM banks 160 x 256 (0, 2) and 80 x 256 (1, 3), as icepack
    /// writes them.
    Up5k,
}

impl Ice40Device {
    /// Every device this module knows, in detection order.
    pub const ALL: [Ice40Device; 3] =
        [Ice40Device::Hx1k, Ice40Device::Hx8k, Ice40Device::Up5k];

    /// IceStorm's name for the die ("1k", "8k", "5k").
    pub const fn name(self) -> &'static str {
        match self {
            Ice40Device::Hx1k => "1k",
            Ice40Device::Hx8k => "8k",
            Ice40Device::Up5k => "5k",
        }
    }

    /// The full size of CRAM bank `bank` (0..=3).
    pub const fn cram_bank(self, bank: u8) -> Geometry {
        match (self, bank & 1) {
            (Ice40Device::Hx1k, _) => Geometry::new(332, 144),
            (Ice40Device::Hx8k, _) => Geometry::new(872, 272),
            (Ice40Device::Up5k, 0) => Geometry::new(692, 336),
            (Ice40Device::Up5k, _) => Geometry::new(692, 176),
        }
    }

    /// The full size of BRAM bank `bank` (0..=3).
    pub const fn bram_bank(self, bank: u8) -> Geometry {
        match (self, bank & 1) {
            (Ice40Device::Hx1k, _) => Geometry::new(64, 256),
            (Ice40Device::Hx8k, _) => Geometry::new(128, 256),
            (Ice40Device::Up5k, 0) => Geometry::new(160, 256),
            (Ice40Device::Up5k, _) => Geometry::new(80, 256),
        }
    }

    /// Whether a block write of `kind` with this geometry fits the device:
    /// the width must match the bank exactly (it selects the die) and the
    /// rows `offset .. offset + height` must lie inside the bank.
    pub const fn fits(
        self,
        kind: BlockKind,
        bank: u8,
        geometry: Geometry,
        offset: u16,
    ) -> bool {
        let full = match kind {
            BlockKind::Cram => self.cram_bank(bank),
            BlockKind::Bram => self.bram_bank(bank),
        };
        geometry.width == full.width
            && offset as u32 + geometry.height as u32 <= full.height as u32
    }
}

/// Which memory a data block configures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Configuration RAM: logic, routing and I/O settings.
    Cram,
    /// Block RAM initial contents.
    Bram,
}

/// One thing the bitstream said, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The preamble was found; commands follow.
    Preamble,
    /// Internal oscillator range for the configuration engine (0..=2).
    FrequencyRange(u8),
    /// `01 05`: the CRC restarts from 0xFFFF after this command.
    CrcReset,
    /// Flags (IceStorm: bit 5 = warm boot enabled, bit 0 = no sleep).
    Flags(u16),
    /// Bank width (already decoded from the stored `width - 1`).
    BankWidth(u16),
    /// Bank height in rows.
    BankHeight(u16),
    /// First row the next block writes.
    BankOffset(u16),
    /// Bank the next block writes (0..=3).
    Bank(u8),
    /// Warm-boot address.
    BootAddress(u32),
    /// A CRAM or BRAM write begins; `len` data bytes follow.
    BlockStart {
        /// CRAM or BRAM.
        kind: BlockKind,
        /// Target bank.
        bank: u8,
        /// Width and height of the block.
        geometry: Geometry,
        /// First row written.
        offset: u16,
        /// Data bytes in the block (`width * height / 8`).
        len: u32,
    },
    /// Some of the current block's data bytes, borrowed from the input.
    BlockData(&'a [u8]),
    /// The block and its two zero terminator bytes are complete.
    BlockEnd,
    /// A CRC check passed; the value is the stored check value.
    CrcOk(u16),
    /// Wakeup: the device starts up. Everything after it is ignored.
    Wakeup,
}

/// Why a bitstream was rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The stream ended before the preamble `7E AA 99 7E` appeared.
    BadPreamble,
    /// A command byte with an opcode IceStorm does not define.
    UnknownCommand {
        /// The whole command byte.
        command: u8,
    },
    /// A command with a payload length it cannot have (for example a CRC
    /// check without exactly two bytes, or more than four bytes anywhere).
    BadPayloadLength {
        /// The whole command byte.
        command: u8,
    },
    /// An opcode-0 operation a SPI-slave load cannot perform (reads,
    /// reboot, or an undefined code).
    UnsupportedOperation {
        /// The payload that selected the operation.
        operation: u32,
    },
    /// A command value out of its range (bank > 3, frequency range > 2,
    /// width 0 or more than 16 bits ...).
    BadValue {
        /// The command byte.
        command: u8,
        /// The payload.
        value: u32,
    },
    /// A data block before the bank width and height were set.
    MissingGeometry,
    /// The block geometry does not fit the device the bitstream is loaded
    /// into: it was built for another part.
    WrongGeometry {
        /// CRAM or BRAM.
        kind: BlockKind,
        /// Target bank.
        bank: u8,
        /// The device's bank size.
        expected: Geometry,
        /// The block's size.
        found: Geometry,
        /// The block's first row.
        offset: u16,
    },
    /// No known device has this bank geometry (only when the parser was
    /// asked to detect the device).
    UnknownDevice {
        /// The geometry of the first block.
        found: Geometry,
    },
    /// The CRC residue was not zero after the check value.
    CrcMismatch {
        /// The running CRC after the check value (zero when valid).
        residue: u16,
    },
    /// A data block was not followed by `00 00`.
    NonZeroBlockTerminator {
        /// The two bytes found.
        found: [u8; 2],
    },
    /// Wakeup without a passing CRC check covering every block written.
    UncheckedWakeup,
    /// The stream ended before the wakeup command.
    Truncated,
}

/// A rejected bitstream: what went wrong and where.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Stream offset (bytes from the first byte fed) of the offending byte:
    /// for a bad command value, the byte that completed the command.
    pub offset: u64,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// What a complete, valid bitstream configured.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The device the geometry matched.
    pub device: Ice40Device,
    /// CRAM blocks written.
    pub cram_blocks: u32,
    /// BRAM blocks written.
    pub bram_blocks: u32,
    /// The last CRC check value.
    pub crc: u16,
    /// Offset just past the wakeup command.
    pub wakeup_end: u64,
}

#[derive(Clone)]
enum State {
    /// Looking for the preamble; `window` holds the last four bytes.
    Scan { window: u32 },
    /// Expecting a command byte.
    Command,
    /// Collecting a command's payload.
    Payload {
        command: u8,
        remaining: u8,
        value: u32,
    },
    /// Passing through a data block.
    Block { remaining: u32 },
    /// Checking the two terminator bytes; `first` is set once one is seen.
    Terminator { first: Option<u8> },
    /// Wakeup executed; the rest is ignored.
    Woken,
    /// Rejected; every later call reports this error again.
    Failed(Error),
}

/// An incremental iCE40 bitstream parser.
///
/// Feed it bytes with [`Parser::feed`] in chunks of any size; it returns one
/// [`Event`] at a time. Call [`Parser::finish`] at the end of the stream.
#[derive(Clone)]
pub struct Parser {
    state: State,
    /// Offset of the next byte to be consumed.
    pos: u64,
    crc: Digest<'static, u16>,
    /// True once a CRC check passed and no block was written since.
    crc_valid: bool,
    last_crc: u16,
    device: Option<Ice40Device>,
    width: Option<u16>,
    height: Option<u16>,
    offset: u16,
    bank: u8,
    cram_blocks: u32,
    bram_blocks: u32,
    /// Offset just past the wakeup command, once executed.
    wakeup_at: u64,
}

impl Parser {
    /// A parser for `device`, or one that detects the device from the first
    /// block's geometry when `device` is `None`.
    pub fn new(device: Option<Ice40Device>) -> Self {
        Parser {
            state: State::Scan { window: 0 },
            pos: 0,
            crc: CRC16.digest(),
            crc_valid: false,
            last_crc: 0,
            device,
            width: None,
            height: None,
            offset: 0,
            bank: 0,
            cram_blocks: 0,
            bram_blocks: 0,
            wakeup_at: 0,
        }
    }

    /// The device, once given or detected.
    pub fn device(&self) -> Option<Ice40Device> {
        self.device
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Whether the wakeup command has executed.
    pub fn is_awake(&self) -> bool {
        matches!(self.state, State::Woken)
    }

    /// Consumes bytes from `input` up to and including the next event.
    ///
    /// Returns how many bytes were consumed and the event, if one occurred
    /// (`None` means all of `input` was consumed without one). After
    /// [`Event::Wakeup`] every byte is consumed silently, as the device no
    /// longer listens.
    ///
    /// # Errors
    ///
    /// The first violation of the format; the parser then stays failed and
    /// returns the same error for any further input.
    pub fn feed<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), Error> {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match self.state {
                State::Failed(e) => return Err(e),
                State::Woken => {
                    self.pos += rest.len() as u64;
                    return Ok((input.len(), None));
                }
                State::Block { remaining } => {
                    let n = rest.len().min(remaining as usize);
                    let data = &rest[..n];
                    self.crc.update(data);
                    self.pos += n as u64;
                    let remaining = remaining - n as u32;
                    self.state = if remaining == 0 {
                        State::Terminator { first: None }
                    } else {
                        State::Block { remaining }
                    };
                    return Ok((used + n, Some(Event::BlockData(data))));
                }
                _ => {
                    let byte = rest[0];
                    used += 1;
                    match self.step(byte) {
                        Ok(None) => {}
                        Ok(Some(event)) => return Ok((used, Some(event))),
                        Err(kind) => return Err(self.fail(kind)),
                    }
                }
            }
        }
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        Ok((used, None))
    }

    /// Declares the end of the stream.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BadPreamble`] if the preamble never appeared,
    /// [`ErrorKind::Truncated`] if the wakeup command did not, or the error
    /// that already stopped the parser.
    pub fn finish(&self) -> Result<Summary, Error> {
        let kind = match self.state {
            State::Failed(e) => return Err(e),
            State::Scan { .. } => ErrorKind::BadPreamble,
            State::Woken => {
                return match self.device {
                    Some(device) => Ok(Summary {
                        device,
                        cram_blocks: self.cram_blocks,
                        bram_blocks: self.bram_blocks,
                        crc: self.last_crc,
                        wakeup_end: self.wakeup_at,
                    }),
                    // A CRC check and wakeup with no block written at all
                    // configures nothing; no device could be named.
                    None => Err(Error {
                        offset: self.pos,
                        kind: ErrorKind::MissingGeometry,
                    }),
                };
            }
            _ => ErrorKind::Truncated,
        };
        Err(Error {
            offset: self.pos,
            kind,
        })
    }

    fn fail(&mut self, kind: ErrorKind) -> Error {
        // `pos` already counts the offending byte.
        let e = Error {
            offset: self.pos.saturating_sub(1),
            kind,
        };
        self.state = State::Failed(e);
        e
    }

    /// Consumes one byte outside data blocks.
    fn step(&mut self, byte: u8) -> Result<Option<Event<'static>>, ErrorKind> {
        self.pos += 1;
        if let State::Scan { window } = self.state {
            let window = (window << 8) | byte as u32;
            if window == u32::from_be_bytes(PREAMBLE) {
                self.state = State::Command;
                self.crc = CRC16.digest();
                return Ok(Some(Event::Preamble));
            }
            self.state = State::Scan { window };
            return Ok(None);
        }
        self.crc.update(&[byte]);
        match self.state {
            State::Command => {
                if matches!(byte >> 4, 0x3 | 0xA..) {
                    return Err(ErrorKind::UnknownCommand { command: byte });
                }
                let n = byte & 0x0F;
                if n > 4 {
                    return Err(ErrorKind::BadPayloadLength { command: byte });
                }
                if n == 0 {
                    return self.execute(byte, 0);
                }
                self.state = State::Payload {
                    command: byte,
                    remaining: n,
                    value: 0,
                };
                Ok(None)
            }
            State::Payload {
                command,
                remaining,
                value,
            } => {
                let value = (value << 8) | byte as u32;
                if remaining > 1 {
                    self.state = State::Payload {
                        command,
                        remaining: remaining - 1,
                        value,
                    };
                    return Ok(None);
                }
                self.state = State::Command;
                self.execute(command, value)
            }
            State::Terminator { first: None } => {
                self.state = State::Terminator { first: Some(byte) };
                Ok(None)
            }
            State::Terminator { first: Some(first) } => {
                if first != 0 || byte != 0 {
                    return Err(ErrorKind::NonZeroBlockTerminator {
                        found: [first, byte],
                    });
                }
                self.state = State::Command;
                Ok(Some(Event::BlockEnd))
            }
            // Handled by `feed` before calling us.
            State::Scan { .. }
            | State::Block { .. }
            | State::Woken
            | State::Failed(_) => Ok(None),
        }
    }

    /// Runs a complete command (`command` byte, big-endian payload `value`).
    fn execute(
        &mut self,
        command: u8,
        value: u32,
    ) -> Result<Option<Event<'static>>, ErrorKind> {
        let n = command & 0x0F;
        let bad = || ErrorKind::BadValue { command, value };
        let event = match command >> 4 {
            0x0 => return self.operation(value),
            0x1 => {
                if value > 3 {
                    return Err(bad());
                }
                self.bank = value as u8;
                Event::Bank(self.bank)
            }
            0x2 => {
                if n != 2 {
                    return Err(ErrorKind::BadPayloadLength { command });
                }
                let residue = self.crc.clone().finalize();
                if residue != 0 {
                    return Err(ErrorKind::CrcMismatch { residue });
                }
                self.crc_valid = true;
                self.last_crc = value as u16;
                Event::CrcOk(value as u16)
            }
            0x4 => Event::BootAddress(value),
            0x5 => {
                if value > 2 {
                    return Err(bad());
                }
                Event::FrequencyRange(value as u8)
            }
            0x6 => {
                // The field holds width - 1; u32::MAX + 1 must be refused,
                // not wrapped to a zero-wide bank.
                let width = value
                    .checked_add(1)
                    .and_then(|w| u16::try_from(w).ok())
                    .ok_or_else(bad)?;
                self.width = Some(width);
                Event::BankWidth(width)
            }
            0x7 => {
                let height = u16::try_from(value).map_err(|_| bad())?;
                if height == 0 {
                    return Err(bad());
                }
                self.height = Some(height);
                Event::BankHeight(height)
            }
            0x8 => {
                self.offset = u16::try_from(value).map_err(|_| bad())?;
                Event::BankOffset(self.offset)
            }
            0x9 => Event::Flags(u16::try_from(value).map_err(|_| bad())?),
            // Rejected at the command byte, in `step`.
            _ => return Err(ErrorKind::UnknownCommand { command }),
        };
        Ok(Some(event))
    }

    /// Opcode 0: the operation named by the payload.
    fn operation(
        &mut self,
        operation: u32,
    ) -> Result<Option<Event<'static>>, ErrorKind> {
        match operation {
            1 => self.start_block(BlockKind::Cram),
            3 => self.start_block(BlockKind::Bram),
            5 => {
                // The CRC covers the bytes *after* `01 05`.
                self.crc = CRC16.digest();
                Ok(Some(Event::CrcReset))
            }
            6 => {
                if !self.crc_valid {
                    return Err(ErrorKind::UncheckedWakeup);
                }
                self.state = State::Woken;
                self.wakeup_at = self.pos;
                Ok(Some(Event::Wakeup))
            }
            _ => Err(ErrorKind::UnsupportedOperation { operation }),
        }
    }

    fn start_block(
        &mut self,
        kind: BlockKind,
    ) -> Result<Option<Event<'static>>, ErrorKind> {
        let (Some(width), Some(height)) = (self.width, self.height) else {
            return Err(ErrorKind::MissingGeometry);
        };
        let geometry = Geometry { width, height };
        let (bank, offset) = (self.bank, self.offset);
        let device = match self.device {
            Some(device) => device,
            None => Ice40Device::ALL
                .into_iter()
                .find(|d| d.fits(kind, bank, geometry, offset))
                .ok_or(ErrorKind::UnknownDevice { found: geometry })?,
        };
        if !device.fits(kind, bank, geometry, offset) {
            let expected = match kind {
                BlockKind::Cram => device.cram_bank(bank),
                BlockKind::Bram => device.bram_bank(bank),
            };
            return Err(ErrorKind::WrongGeometry {
                kind,
                bank,
                expected,
                found: geometry,
                offset,
            });
        }
        let bits = width as u32 * height as u32;
        if !bits.is_multiple_of(8) {
            // The data block is sent in whole bytes; icepack only writes
            // blocks of 16-row multiples.
            return Err(ErrorKind::BadValue {
                command: 0x72,
                value: height as u32,
            });
        }
        self.device = Some(device);
        let len = bits / 8;
        match kind {
            BlockKind::Cram => self.cram_blocks += 1,
            BlockKind::Bram => self.bram_blocks += 1,
        }
        self.crc_valid = false;
        self.state = if len == 0 {
            State::Terminator { first: None }
        } else {
            State::Block { remaining: len }
        };
        Ok(Some(Event::BlockStart {
            kind,
            bank,
            geometry,
            offset,
            len,
        }))
    }
}

/// Parses a whole bitstream held in memory.
///
/// # Errors
///
/// The first problem found, as [`Parser::feed`] and [`Parser::finish`]
/// report it.
pub fn validate(
    stream: &[u8],
    device: Option<Ice40Device>,
) -> Result<Summary, Error> {
    let mut parser = Parser::new(device);
    let mut rest = stream;
    while !rest.is_empty() && !parser.is_awake() {
        let (used, _) = parser.feed(rest)?;
        rest = &rest[used..];
    }
    parser.finish()
}

#[cfg(test)]
mod tests;
