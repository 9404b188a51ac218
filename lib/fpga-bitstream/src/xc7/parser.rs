//! An incremental parser for 7-series configuration packets.
//!
//! It behaves like the device's configuration logic: it skips bytes until
//! the sync word, then decodes packets word by word, keeps the running CRC,
//! checks IDCODE and CRC writes, and loses sync at DESYNC (after which it
//! looks for the next sync word again, as the device does).
//!
//! Frame data, the bulk of a stream, never produces per-word events: one
//! [`Event::FrameData`] covers every whole word available in the input, and
//! its CRC is computed over the slice in place ([`super::crc::update_words`]).

use super::{Command, IDCODE_DIE_MASK, Register, SYNC_WORD, crc};

/// What the stream did, in order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The sync word: packets follow.
    Sync,
    /// A word written to a register other than CMD, CRC and FDRI.
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
    /// Frame-data words written to FDRI.
    pub frame_words: u64,
    /// CRC checks that passed.
    pub crc_checks: u32,
    /// The last CRC value checked.
    pub last_crc: Option<u32>,
    /// Whether START was issued.
    pub started: bool,
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
    expected_idcode: Option<u32>,
    partial: [u8; 4],
    partial_len: usize,
    pos: u64,
    crc: u32,
    last_type1: Option<Register>,
    idcode: Option<u32>,
    wcfg: bool,
    started: bool,
    synced_once: bool,
    desynced: bool,
    frame_words: u64,
    crc_checks: u32,
    last_crc: Option<u32>,
}

impl Parser {
    /// A parser for a device whose IDCODE is `expected_idcode` (or any
    /// device, when `None`). `swapped` reads byte-swapped (Zynq PCAP
    /// order) words.
    pub fn new(expected_idcode: Option<u32>, swapped: bool) -> Self {
        Parser {
            state: State::Presync { window: 0 },
            swapped,
            expected_idcode,
            partial: [0; 4],
            partial_len: 0,
            pos: 0,
            crc: 0,
            last_type1: None,
            idcode: None,
            wcfg: false,
            started: false,
            synced_once: false,
            desynced: false,
            frame_words: 0,
            crc_checks: 0,
            last_crc: None,
        }
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
        self.started
    }

    /// What the stream has done so far.
    pub fn summary(&self) -> Summary {
        Summary {
            idcode: self.idcode,
            frame_words: self.frame_words,
            crc_checks: self.crc_checks,
            last_crc: self.last_crc,
            started: self.started,
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
                let words = remaining.min((rest.len() / 4) as u32);
                let n = self.frame_data(rest, words);
                return Ok((used + n, Some(Event::FrameData { words })));
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
                self.synced_once = true;
                return (i + 1, true);
            }
        }
        self.pos += rest.len() as u64;
        self.state = State::Presync { window };
        (rest.len(), false)
    }

    /// Consumes `words` whole FDRI words from the front of `rest`.
    fn frame_data(&mut self, rest: &[u8], words: u32) -> usize {
        let n = words as usize * 4;
        let address = Register::Fdri.address();
        self.crc =
            crc::update_words(self.crc, address, &rest[..n], self.swapped);
        self.pos += n as u64;
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
        if register == Register::Fdri && count > 0 {
            if self.expected_idcode.is_some() && self.idcode.is_none() {
                return Err(ErrorKind::FdriBeforeIdcode);
            }
            if !self.wcfg {
                return Err(ErrorKind::FdriWithoutWcfg);
            }
        }
        if count > 0 {
            self.state = State::Payload {
                register,
                remaining: count,
            };
        }
        Ok(None)
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
            self.crc_checks += 1;
            self.last_crc = Some(value);
            return Ok(Some(Event::CrcOk { value }));
        }
        self.crc = crc::update(self.crc, register.address(), value);
        match register {
            Register::Cmd => self.command(value).map(Some),
            Register::Fdri => {
                self.frame_words += 1;
                Ok(Some(Event::FrameData { words: 1 }))
            }
            Register::Idcode => {
                if let Some(expected) = self.expected_idcode
                    && expected & IDCODE_DIE_MASK != value & IDCODE_DIE_MASK
                {
                    return Err(ErrorKind::IdcodeMismatch {
                        expected,
                        found: value,
                    });
                }
                self.idcode = Some(value);
                Ok(Some(Event::Write { register, value }))
            }
            _ => Ok(Some(Event::Write { register, value })),
        }
    }

    fn command(&mut self, code: u32) -> Result<Event, ErrorKind> {
        let command =
            Command::from_code(code).ok_or(ErrorKind::BadCommand { code })?;
        match command {
            Command::Rcrc => self.crc = 0,
            Command::Wcfg => self.wcfg = true,
            Command::Start => self.started = true,
            Command::Desync => {
                self.desynced = true;
                self.wcfg = false;
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
    expected_idcode: Option<u32>,
    swapped: bool,
) -> Result<Summary, Error> {
    let mut parser = Parser::new(expected_idcode, swapped);
    let mut rest = raw;
    while !rest.is_empty() {
        let (used, _) = parser.feed(rest)?;
        rest = &rest[used..];
    }
    parser.finish()
}
