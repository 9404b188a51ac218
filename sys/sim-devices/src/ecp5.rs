//! A Lattice ECP5 in slave-SPI configuration mode (FPGA-TN-02039, the
//! sequence Hubris's `drv/fpga-devices` ECP5 code drives).
//!
//! - PROGRAMN low resets the configuration logic: INITN and DONE low.
//! - After PROGRAMN rises (and at power-on) the device clears its SRAM for
//!   [`INIT_US`] with INITN low, then releases INITN and listens on SPI.
//! - SPI commands are framed by chip select: an opcode byte and a 24-bit
//!   operand; read commands return their data on MISO in the same frame.
//!   The ones we model: `E0` READ_ID, `3C` LSC_READ_STATUS, `C6`
//!   ISC_ENABLE (configuration mode), `0E` ISC_ERASE, `7A`
//!   LSC_BITSTREAM_BURST (the rest of the frame is the bitstream, through
//!   the `fpga-bitstream` parser), `26` ISC_DISABLE (leave configuration
//!   mode: after a complete, good bitstream the device wakes up and DONE
//!   rises), `79` LSC_REFRESH (as a PROGRAMN pulse), `FF` no-op. Any other
//!   opcode sets the status register's "invalid command" flag.
//! - A bitstream error (wrong IDCODE, CRC mismatch, illegal command)
//!   drives INITN low and sets the status register's fail flag and BSE
//!   error code; the device stays in configuration mode until PROGRAMN or
//!   LSC_REFRESH.
//!
//! Status register bits (Hubris's `Status`, TN-02039 table 4.2): 8 DONE,
//! 9 ISC enabled, 10 write enabled, 12 busy, 13 fail, 23..=25 BSE error
//! code, 27 ID error, 28 invalid command.
//!
//! Debug registers (read only): 0x00 STATE, 0x04 ERROR ([`error_code`]),
//! 0x08 BYTES (bitstream bytes consumed), 0x0C FRAMES (configuration
//! frames written), 0x10 IDCODE (the part's).

use fpga_bitstream::ecp5::{self, ErrorKind, Parser, Part};

/// SRAM clearing time after PROGRAMN rises, in microseconds.
pub const INIT_US: u64 = 1000;

/// STATE: PROGRAMN is low.
pub const PROGRAM: u32 = 0;
/// STATE: clearing, INITN low.
pub const INIT: u32 = 1;
/// STATE: INITN high, SPI port listening.
pub const READY: u32 = 2;
/// STATE: DONE high; the design runs.
pub const DONE: u32 = 3;
/// STATE: a bitstream error; INITN low.
pub const ERROR: u32 = 4;

/// Status register bits.
pub mod status {
    /// The device is in user mode.
    pub const DONE: u32 = 1 << 8;
    /// ISC_ENABLE is in force.
    pub const ISC_ENABLED: u32 = 1 << 9;
    /// Configuration SRAM may be written.
    pub const WRITE_ENABLED: u32 = 1 << 10;
    /// A bitstream failed.
    pub const FAIL: u32 = 1 << 13;
    /// Shift of the 3-bit BSE error code.
    pub const BSE_SHIFT: u32 = 23;
    /// VERIFY_ID failed.
    pub const ID_ERROR: u32 = 1 << 27;
    /// An SPI command the device does not know.
    pub const INVALID_COMMAND: u32 = 1 << 28;
}

/// BSE error code of a parser error (TN-02039 table 4.2: 1 ID, 2 illegal
/// command, 3 CRC, 4 preamble, 6 data overflow).
pub fn bse_code(kind: &ErrorKind) -> u32 {
    match kind {
        ErrorKind::IdMismatch { .. } => 1,
        ErrorKind::UnknownCommand { .. } | ErrorKind::Compressed => 2,
        ErrorKind::CrcMismatch { .. } => 3,
        ErrorKind::Truncated => 4,
        ErrorKind::FramesBeforeId | ErrorKind::FrameCountMismatch { .. } => 6,
    }
}

/// ERROR debug register code (0 = none).
pub fn error_code(kind: &ErrorKind) -> u32 {
    bse_code(kind)
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum State {
    Program,
    Init { until: u64 },
    Ready,
    Done,
    Error(ecp5::Error),
}

/// What the current chip-select frame is doing.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Frame {
    /// Collecting the opcode and operand.
    Command { have: usize },
    /// LSC_BITSTREAM_BURST: bytes go to the parser until CS rises.
    Burst,
    /// A read: MISO carries `value`'s bytes, MSB first, from byte `at`.
    Read { value: u32, at: usize },
    /// The command is done; further bytes are ignored.
    Idle,
}

/// The ECP5 configuration logic and its pins.
pub struct Ecp5Model {
    part: Part,
    programn: bool,
    cs: bool,
    state: State,
    frame: Frame,
    command: [u8; 4],
    isc: bool,
    invalid_command: bool,
    parser: Parser,
    bytes: u64,
}

impl Ecp5Model {
    /// A device just powered up: clearing until [`INIT_US`].
    pub fn new(part: Part) -> Self {
        Ecp5Model {
            part,
            programn: true,
            cs: false,
            state: State::Init { until: INIT_US },
            frame: Frame::Idle,
            command: [0; 4],
            isc: false,
            invalid_command: false,
            parser: Parser::new(Some(part)),
            bytes: 0,
        }
    }

    /// The part this model is.
    pub fn part(&self) -> Part {
        self.part
    }

    fn tick(&mut self, now: u64) {
        if let State::Init { until } = self.state
            && now >= until
        {
            self.state = State::Ready;
        }
    }

    fn restart(&mut self, now: u64) {
        self.state = State::Init {
            until: now.saturating_add(INIT_US),
        };
        self.isc = false;
        self.invalid_command = false;
        self.parser = Parser::new(Some(self.part));
    }

    /// When the pins will next change by themselves.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Init { until } => Some(until),
            _ => None,
        }
    }

    /// INITN (open drain): low while clearing or after an error.
    pub fn initn(&mut self, now: u64) -> bool {
        self.tick(now);
        matches!(self.state, State::Ready | State::Done)
    }

    /// DONE: high in user mode.
    pub fn done(&mut self, now: u64) -> bool {
        self.tick(now);
        self.state == State::Done
    }

    /// The failure that stopped the last load, if any.
    pub fn error(&self) -> Option<ecp5::Error> {
        match self.state {
            State::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Applies PROGRAMN and chip select.
    pub fn set_inputs(&mut self, programn: bool, cs: bool, now: u64) {
        self.tick(now);
        if !programn {
            self.state = State::Program;
        } else if !self.programn {
            self.restart(now);
        }
        self.programn = programn;
        if cs != self.cs {
            if self.frame == Frame::Burst {
                self.end_burst();
            }
            self.frame = if cs {
                Frame::Command { have: 0 }
            } else {
                Frame::Idle
            };
        }
        self.cs = cs;
    }

    /// The status register.
    fn status(&self) -> u32 {
        let mut s = 0;
        if self.state == State::Done {
            s |= status::DONE;
        }
        if self.isc {
            s |= status::ISC_ENABLED | status::WRITE_ENABLED;
        }
        if self.invalid_command {
            s |= status::INVALID_COMMAND;
        }
        if let State::Error(e) = self.state {
            s |= status::FAIL | bse_code(&e.kind) << status::BSE_SHIFT;
            if matches!(e.kind, ErrorKind::IdMismatch { .. }) {
                s |= status::ID_ERROR;
            }
        }
        s
    }

    /// Clocks `data` in on MOSI; returns nothing on MISO (see
    /// [`Ecp5Model::read`] for a read).
    pub fn shift(&mut self, data: &[u8], now: u64) {
        self.tick(now);
        let mut rest = data;
        while !rest.is_empty() {
            match self.frame {
                Frame::Burst => {
                    self.burst(rest);
                    return;
                }
                Frame::Command { have } if self.listening() => {
                    self.command[have] = rest[0];
                    rest = &rest[1..];
                    self.frame = Frame::Command { have: have + 1 };
                    if have + 1 == 4 {
                        self.execute(now);
                    }
                }
                Frame::Read { value, at } => {
                    self.frame = Frame::Read { value, at: at + 1 };
                    rest = &rest[1..];
                }
                _ => return,
            }
        }
    }

    /// Clocks `out.len()` bytes (MOSI high) and returns what MISO carried:
    /// a read command's answer, else 0xFF.
    pub fn read(&mut self, out: &mut [u8], now: u64) {
        self.tick(now);
        for b in out.iter_mut() {
            *b = match self.frame {
                Frame::Read { value, at } if at < 4 => {
                    self.frame = Frame::Read { value, at: at + 1 };
                    value.to_be_bytes()[at]
                }
                Frame::Burst | Frame::Command { .. } => {
                    self.shift(&[0xFF], now);
                    0xFF
                }
                _ => 0xFF,
            };
        }
    }

    /// Whether the SPI port takes commands (INITN high, or an error the
    /// status register reports).
    fn listening(&self) -> bool {
        matches!(self.state, State::Ready | State::Done | State::Error(_))
    }

    fn execute(&mut self, now: u64) {
        self.frame = Frame::Idle;
        match self.command[0] {
            0xE0 => {
                self.frame = Frame::Read {
                    value: self.part.idcode,
                    at: 0,
                };
            }
            0x3C => {
                self.frame = Frame::Read {
                    value: self.status(),
                    at: 0,
                };
            }
            0xC6 => self.isc = true,
            0x0E if self.isc => {
                if self.state == State::Done {
                    self.state = State::Ready;
                }
                self.parser = Parser::new(Some(self.part));
            }
            0x7A if self.isc && self.state == State::Ready => {
                self.parser = Parser::new(Some(self.part));
                self.frame = Frame::Burst;
            }
            0x26 => {
                self.isc = false;
                if self.state == State::Ready && self.parser.is_done() {
                    self.state = State::Done;
                }
            }
            0x79 => self.restart(now),
            0xFF => {}
            _ => self.invalid_command = true,
        }
    }

    fn burst(&mut self, data: &[u8]) {
        if let Err(e) = self.parser.feed(data) {
            self.state = State::Error(e);
            self.frame = Frame::Idle;
        }
        self.bytes += data.len() as u64;
    }

    /// CS rose during a burst: the bitstream is over. A stream that
    /// simply stopped short is no error the device can see: it just never
    /// reached ISC_PROGRAM_DONE, so ISC_DISABLE will not wake it up.
    fn end_burst(&mut self) {
        if let State::Ready = self.state
            && let Err(e) = self.parser.finish()
            && e.kind != ErrorKind::Truncated
        {
            self.state = State::Error(e);
        }
    }

    /// Reads a debug register (see the module docs).
    pub fn read_debug(&mut self, reg: u32, now: u64) -> Option<u32> {
        self.tick(now);
        Some(match reg {
            0x00 => match self.state {
                State::Program => PROGRAM,
                State::Init { .. } => INIT,
                State::Ready => READY,
                State::Done => DONE,
                State::Error(_) => ERROR,
            },
            0x04 => self.error().map_or(0, |e| error_code(&e.kind)),
            0x08 => self.bytes as u32,
            0x0C => self.parser.summary().frames,
            0x10 => self.part.idcode,
            _ => return None,
        })
    }
}
