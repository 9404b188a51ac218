//! An incremental parser for 7-series configuration packets.
//!
//! It behaves like the device's configuration logic: it skips bytes until
//! the sync word (the dummy words and the bus-width pattern before it are
//! noise to a serial device), then decodes packets word by word, keeps the
//! running CRC, checks IDCODE and CRC writes, and loses sync at DESYNC
//! (after which it looks for the next sync word again, as the device
//! does). Register values and command effects live in
//! [`ConfigRegisters`].
//!
//! The CRC rules, checked against two real Vivado streams: every register
//! write except to CRC extends it; RCRC resets it to 0; and a CRC check
//! resets it to 0 as well, so a stream's second check covers only what
//! came after the first.
//!
//! Frame data is checked against the part: no more frame words may follow
//! one FAR write than the part's configuration array holds
//! ([`super::Part::frame_words`]), counting each MFWR copy as a frame.
//! Encrypted streams (CBC written, or CTL0.DEC set) are refused: the model
//! holds no AES key.
//!
//! Frame data, the bulk of a stream, never produces per-word events: one
//! [`Event::FrameData`] covers every whole word available in the input, and
//! its CRC is computed over the slice in place ([`super::crc::update_words`]).

use super::registers::ConfigRegisters;
use super::{
    Command, FRAME_WORDS, IDCODE_DIE_MASK, Part, Register, SYNC_WORD, crc,
};

/// What the stream did, in order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The sync word: packets follow.
    Sync,
    /// A word written to a register other than CMD, CRC and FDRI (MFWR
    /// words included: the copy itself is [`Event::FrameCopied`]).
    Write {
        /// The register.
        register: Register,
        /// The word.
        value: u32,
    },
    /// A CMD register write.
    Command(Command),
    /// `words` frame-data words were written to FDRI.
    FrameData {
        /// Words in this event.
        words: u32,
    },
    /// An MFWR write copied the last frame to the frame address.
    FrameCopied,
    /// A CRC register write matched the running CRC.
    CrcOk {
        /// The checked value.
        value: u32,
    },
    /// DESYNC executed: the device ignores data until the next sync word.
    Desync,
}

/// Why a stream was rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A packet header whose type is neither 1 nor 2 (nor a type-0 NOP).
    BadPacketType {
        /// The header word.
        header: u32,
    },
    /// A type-1 header with the reserved opcode `11`.
    BadOpcode {
        /// The header word.
        header: u32,
    },
    /// A write to an address no 7-series register occupies.
    UnknownRegister {
        /// The 14-bit address field.
        address: u32,
    },
    /// A read packet: slave serial cannot return data (readback needs
    /// SelectMAP or JTAG).
    ReadNotSupported {
        /// The header word.
        header: u32,
    },
    /// A type-2 header with no type-1 before it to name the register.
    Type2WithoutType1,
    /// A CMD write with an undefined code.
    BadCommand {
        /// The code.
        code: u32,
    },
    /// The stream's IDCODE is not this device's (UG470: the ID check
    /// fails and no configuration memory is written).
    IdcodeMismatch {
        /// The device's IDCODE.
        expected: u32,
        /// The stream's IDCODE.
        found: u32,
    },
    /// Frame data before a matching IDCODE write.
    FdriBeforeIdcode,
    /// Frame data without a preceding WCFG command.
    FdriWithoutWcfg,
    /// A CRC register write did not match the running CRC.
    CrcMismatch {
        /// The CRC the device computed.
        computed: u32,
        /// The value in the stream.
        found: u32,
    },
    /// The stream ended before any sync word.
    NoSync,
    /// The stream ended after sync but before DESYNC.
    Truncated,
    /// The stream is encrypted (a CBC write, or CTL0.DEC set through
    /// MASK); this device holds no AES key, so it cannot load it.
    Encrypted {
        /// The register whose write showed it.
        register: Register,
    },
    /// More frame data after one FAR write than the part has frames: the
    /// stream is for a larger part, or corrupt.
    FrameOverrun {
        /// Frame words the part takes from one address.
        limit: u32,
    },
    /// An MFWR write without a frame to copy (no MFW command, or no frame
    /// written since WCFG).
    MfwrWithoutFrame,
    /// A write to a read-only register (STAT, FDRO, BOOTSTS).
    ReadOnlyRegister {
        /// The register.
        register: Register,
    },
    /// A command slave serial cannot carry out: IPROG reboots from a boot
    /// flash at WBSTAR, which this configuration mode does not have.
    UnsupportedCommand {
        /// The command.
        command: Command,
    },
}

/// A rejected stream: what and where.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Offset of the first byte of the offending word (or of the end).
    pub offset: u64,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// What a complete stream did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The IDCODE written, if any.
    pub idcode: Option<u32>,
    /// Frame-data words written to FDRI (MFWR copies not included).
    pub frame_words: u64,
    /// CRC checks that passed.
    pub crc_checks: u32,
    /// The last CRC value checked.
    pub last_crc: Option<u32>,
    /// Whether START was issued.
    pub started: bool,
    /// Frames copied by MFWR (a compressed stream).
    pub frames_copied: u32,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    Presync { window: u32 },
    Header,
    Payload { register: Register, remaining: u32 },
    Failed(Error),
}

/// The incremental 7-series packet parser.
#[derive(Clone, Debug)]
pub struct Parser {
    state: State,
    swapped: bool,
    part: Option<Part>,
    partial: [u8; 4],
    partial_len: usize,
    pos: u64,
    crc: u32,
    last_type1: Option<Register>,
    regs: ConfigRegisters,
    desynced: bool,
    frame_words: u64,
    /// Frame words since the last FAR write (the overrun check).
    run_words: u64,
    /// Whether a whole frame was written since WCFG (MFWR copies it).
    have_frame: bool,
    frames_copied: u32,
    crc_checks: u32,
    last_crc: Option<u32>,
}

impl Parser {
    /// A parser for `part` (its IDCODE and array size are checked), or
    /// for any device when `None`. `swapped` reads byte-swapped (Zynq
    /// PCAP order) words.
    pub fn new(part: Option<Part>, swapped: bool) -> Self {
        Parser {
            state: State::Presync { window: 0 },
            swapped,
            part,
            partial: [0; 4],
            partial_len: 0,
            pos: 0,
            crc: 0,
            last_type1: None,
            regs: ConfigRegisters::default(),
            desynced: false,
            frame_words: 0,
            run_words: 0,
            have_frame: false,
            frames_copied: 0,
            crc_checks: 0,
            last_crc: None,
        }
    }

    /// The registers as the stream has written them so far.
    pub fn registers(&self) -> &ConfigRegisters {
        &self.regs
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The running CRC.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// Whether a DESYNC has executed (after a START, this begins startup).
    pub fn desynced(&self) -> bool {
        self.desynced
    }

    /// Whether START has been issued.
    pub fn started(&self) -> bool {
        self.regs.flags.started
    }

    /// What the stream has done so far.
    pub fn summary(&self) -> Summary {
        Summary {
            idcode: self.regs.idcode,
            frame_words: self.frame_words,
            crc_checks: self.crc_checks,
            last_crc: self.last_crc,
            started: self.regs.flags.started,
            frames_copied: self.frames_copied,
        }
    }

    /// Consumes bytes from `input` up to and including the next event.
    ///
    /// Returns the bytes consumed and the event (`None`: all of `input`
    /// was consumed without one).
    ///
    /// # Errors
    ///
    /// The first violation; the parser then stays failed.
    pub fn feed(
        &mut self,
        input: &[u8],
    ) -> Result<(usize, Option<Event>), Error> {
        let mut used = 0;
        loop {
            if let State::Failed(e) = self.state {
                return Err(e);
            }
            if let State::Presync { window } = self.state {
                match self.scan(window, &input[used..]) {
                    (n, true) => return Ok((used + n, Some(Event::Sync))),
                    (n, false) => return Ok((used + n, None)),
                }
            }
            let rest = &input[used..];
            if let State::Payload {
                register: Register::Fdri,
                remaining,
            } = self.state
                && self.partial_len == 0
                && rest.len() >= 4
            {
                let room = self.frame_room();
                if room > 0 {
                    let words =
                        remaining.min((rest.len() / 4) as u32).min(room);
                    let n = self.frame_data(rest, words);
                    return Ok((used + n, Some(Event::FrameData { words })));
                }
                // No room: the next word fails through the slow path.
            }
            // One word, possibly assembled across calls.
            let need = 4 - self.partial_len;
            if rest.len() < need {
                self.partial[self.partial_len..self.partial_len + rest.len()]
                    .copy_from_slice(rest);
                self.partial_len += rest.len();
                self.pos += rest.len() as u64;
                return Ok((input.len(), None));
            }
            self.partial[self.partial_len..].copy_from_slice(&rest[..need]);
            self.partial_len = 0;
            self.pos += need as u64;
            used += need;
            let word = self.decode(self.partial);
            match self.word(word) {
                Ok(Some(event)) => return Ok((used, Some(event))),
                Ok(None) => {}
                Err(kind) => {
                    let e = Error {
                        offset: self.pos - 4,
                        kind,
                    };
                    self.state = State::Failed(e);
                    return Err(e);
                }
            }
        }
    }

    /// Declares the end of the stream.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSync`], [`ErrorKind::Truncated`] (synced, no
    /// DESYNC since), or the error that stopped the parser.
    pub fn finish(&self) -> Result<Summary, Error> {
        let kind = match self.state {
            State::Failed(e) => return Err(e),
            State::Presync { .. } if self.desynced => {
                return Ok(self.summary());
            }
            State::Presync { .. } => ErrorKind::NoSync,
            _ => ErrorKind::Truncated,
        };
        Err(Error {
            offset: self.pos,
            kind,
        })
    }

    fn decode(&self, bytes: [u8; 4]) -> u32 {
        if self.swapped {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        }
    }

    /// Scans for the sync word; returns bytes consumed and whether found.
    fn scan(&mut self, mut window: u32, rest: &[u8]) -> (usize, bool) {
        let target = if self.swapped {
            SYNC_WORD.swap_bytes()
        } else {
            SYNC_WORD
        };
        for (i, &b) in rest.iter().enumerate() {
            window = (window << 8) | b as u32;
            if window == target {
                self.pos += i as u64 + 1;
                self.state = State::Header;
                self.partial_len = 0;
                return (i + 1, true);
            }
        }
        self.pos += rest.len() as u64;
        self.state = State::Presync { window };
        (rest.len(), false)
    }

    /// Frame words the part still takes from the current frame address
    /// (`u32::MAX` when no part is checked).
    fn frame_room(&self) -> u32 {
        match self.part {
            Some(p) => {
                let limit = p.frame_words() as u64;
                limit.saturating_sub(self.run_words) as u32
            }
            None => u32::MAX,
        }
    }

    /// Counts `words` more frame words from the current address.
    fn take_frame_words(&mut self, words: u32) -> Result<(), ErrorKind> {
        if words > self.frame_room() {
            let limit = self.part.map_or(u32::MAX, |p| p.frame_words());
            return Err(ErrorKind::FrameOverrun { limit });
        }
        self.run_words += words as u64;
        if self.run_words >= FRAME_WORDS as u64 {
            self.have_frame = true;
        }
        Ok(())
    }

    /// Consumes `words` whole FDRI words (at most [`Self::frame_room`])
    /// from the front of `rest`.
    fn frame_data(&mut self, rest: &[u8], words: u32) -> usize {
        let n = words as usize * 4;
        let address = Register::Fdri.address();
        self.crc =
            crc::update_words(self.crc, address, &rest[..n], self.swapped);
        self.pos += n as u64;
        // Cannot fail: the caller kept `words` within the room.
        let _ = self.take_frame_words(words);
        self.frame_words += words as u64;
        self.finish_payload_words(Register::Fdri, words);
        n
    }

    fn finish_payload_words(&mut self, register: Register, words: u32) {
        if let State::Payload { remaining, .. } = self.state {
            let remaining = remaining - words;
            self.state = if remaining == 0 {
                State::Header
            } else {
                State::Payload {
                    register,
                    remaining,
                }
            };
        }
    }

    /// Handles one word after sync.
    fn word(&mut self, word: u32) -> Result<Option<Event>, ErrorKind> {
        match self.state {
            State::Header => self.header(word),
            State::Payload { register, .. } => {
                self.finish_payload_words(register, 1);
                self.payload(register, word)
            }
            State::Presync { .. } | State::Failed(_) => Ok(None),
        }
    }

    fn header(&mut self, header: u32) -> Result<Option<Event>, ErrorKind> {
        let opcode = (header >> 27) & 0b11;
        if header == super::DUMMY {
            // All ones is what an idle DIN line clocks in (Linux sends
            // 0xFF while polling DONE); the device treats it as padding,
            // so an incomplete stream leaves INIT_B high.
            return Ok(None);
        }
        let (register, count) = match header >> 29 {
            // Type 0 carries nothing; treat it as padding.
            0 => return Ok(None),
            1 => {
                if opcode == 0 {
                    return Ok(None); // NOP
                }
                let address = (header >> 13) & 0x3FFF;
                let register = Register::from_address(address)
                    .ok_or(ErrorKind::UnknownRegister { address })?;
                self.last_type1 = Some(register);
                (register, header & 0x7FF)
            }
            2 => {
                if opcode == 0 {
                    return Ok(None);
                }
                let register =
                    self.last_type1.ok_or(ErrorKind::Type2WithoutType1)?;
                (register, header & 0x07FF_FFFF)
            }
            _ => return Err(ErrorKind::BadPacketType { header }),
        };
        match opcode {
            0b01 => return Err(ErrorKind::ReadNotSupported { header }),
            0b11 => return Err(ErrorKind::BadOpcode { header }),
            _ => {}
        }
        if count > 0 {
            self.check_packet(register)?;
            self.state = State::Payload {
                register,
                remaining: count,
            };
        }
        if register == Register::Mfwr && count > 0 {
            // One MFWR packet copies the last frame once, to FAR.
            self.take_frame_words(FRAME_WORDS as u32)?;
            self.frames_copied += 1;
            return Ok(Some(Event::FrameCopied));
        }
        Ok(None)
    }

    /// Refuses a packet the device would refuse before its first word.
    fn check_packet(&self, register: Register) -> Result<(), ErrorKind> {
        match register {
            Register::Fdri => {
                if self.part.is_some() && self.regs.idcode.is_none() {
                    return Err(ErrorKind::FdriBeforeIdcode);
                }
                if !self.regs.flags.wcfg {
                    return Err(ErrorKind::FdriWithoutWcfg);
                }
            }
            Register::Mfwr if !self.regs.flags.mfw || !self.have_frame => {
                return Err(ErrorKind::MfwrWithoutFrame);
            }
            Register::Cbc => return Err(ErrorKind::Encrypted { register }),
            Register::Stat | Register::Fdro | Register::Bootsts => {
                return Err(ErrorKind::ReadOnlyRegister { register });
            }
            _ => {}
        }
        Ok(())
    }

    fn payload(
        &mut self,
        register: Register,
        value: u32,
    ) -> Result<Option<Event>, ErrorKind> {
        if register == Register::Crc {
            if value != self.crc {
                return Err(ErrorKind::CrcMismatch {
                    computed: self.crc,
                    found: value,
                });
            }
            // A check starts the CRC again: the next check covers only
            // the writes after this one (both real Vivado streams we
            // have need this for their second check to match).
            self.crc = 0;
            self.crc_checks += 1;
            self.last_crc = Some(value);
            return Ok(Some(Event::CrcOk { value }));
        }
        self.crc = crc::update(self.crc, register.address(), value);
        match register {
            Register::Cmd => self.command(value).map(Some),
            Register::Fdri => {
                self.take_frame_words(1)?;
                self.frame_words += 1;
                Ok(Some(Event::FrameData { words: 1 }))
            }
            Register::Idcode => {
                if let Some(part) = self.part
                    && part.idcode & IDCODE_DIE_MASK != value & IDCODE_DIE_MASK
                {
                    return Err(ErrorKind::IdcodeMismatch {
                        expected: part.idcode,
                        found: value,
                    });
                }
                self.regs.write(register, value);
                Ok(Some(Event::Write { register, value }))
            }
            Register::Far => {
                self.regs.write(register, value);
                self.run_words = 0;
                Ok(Some(Event::Write { register, value }))
            }
            _ => {
                self.regs.write(register, value);
                if self.regs.decrypting() {
                    return Err(ErrorKind::Encrypted { register });
                }
                Ok(Some(Event::Write { register, value }))
            }
        }
    }

    fn command(&mut self, code: u32) -> Result<Event, ErrorKind> {
        let command =
            Command::from_code(code).ok_or(ErrorKind::BadCommand { code })?;
        self.regs.command(command);
        match command {
            Command::Rcrc => self.crc = 0,
            Command::Wcfg => self.have_frame = false,
            Command::Iprog => {
                return Err(ErrorKind::UnsupportedCommand { command });
            }
            Command::Desync => {
                self.desynced = true;
                self.regs.flags.wcfg = false;
                self.regs.flags.mfw = false;
                self.state = State::Presync { window: 0 };
                return Ok(Event::Desync);
            }
            _ => {}
        }
        Ok(Event::Command(command))
    }
}

/// Parses a whole stream held in memory.
///
/// # Errors
///
/// The first problem found, as [`Parser::feed`] and [`Parser::finish`]
/// report it.
pub fn validate(
    raw: &[u8],
    part: Option<Part>,
    swapped: bool,
) -> Result<Summary, Error> {
    let mut parser = Parser::new(part, swapped);
    let mut rest = raw;
    while !rest.is_empty() {
        let (used, _) = parser.feed(rest)?;
        rest = &rest[used..];
    }
    parser.finish()
}
