//! A Xilinx 7-series FPGA in slave-serial configuration mode (UG470).
//!
//! - PROGRAM_B low resets the configuration logic: INIT_B and DONE low.
//! - After PROGRAM_B rises (and at power-on) the device clears its
//!   configuration memory for [`HOUSECLEANING_US`] with INIT_B held low,
//!   then releases INIT_B. Real parts take a few ms at most; we keep it
//!   short so tests run fast, and Linux polls INIT_B for up to 1 s anyway.
//! - While INIT_B is high, bytes on DIN go to the packet parser (MSB
//!   first). Before that, or after a failure, they are dropped.
//! - A wrong IDCODE, a CRC mismatch or any malformed packet drives INIT_B
//!   low (UG470: INIT_B signals a configuration error) and DONE stays low.
//! - START arms the startup sequence and DESYNC ends the stream; DONE rises
//!   [`STARTUP_CCLKS`] CCLK cycles later (the startup phases). Linux
//!   provides them by sending 0xFF bytes while it polls DONE; a stream with
//!   trailing NOPs provides them itself.
//! - Without a START, DESYNC only drops sync: the device waits for more.
//!
//! Debug registers (read only):
//!
//! | offset | name | value |
//! |---|---|---|
//! | 0x00 | STATE | one of the `pub const` state codes below |
//! | 0x04 | ERROR | 0, or [`error_code`] of the failure |
//! | 0x08 | BYTES | bytes the configuration logic consumed (low 32 bits) |
//! | 0x0C | IGNORED | bytes dropped (housecleaning, done, error) |
//! | 0x10 | DESIGN | the last CRC value the stream checked (0 if none) |
//! | 0x14 | PINS | bit 0 DONE, bit 1 INIT_B, bit 2 PROGRAM_B |
//! | 0x18 | FRAMES | frame-data words written to FDRI (low 32 bits) |
//! | 0x1C | IDCODE | the device's IDCODE |

use fpga_bitstream::xc7::Part;
use fpga_bitstream::xc7::parser::{self, ErrorKind, Event, Parser};

/// Housecleaning time after PROGRAM_B rises, in microseconds.
pub const HOUSECLEANING_US: u64 = 1000;

/// CCLK cycles after DESYNC until DONE rises.
pub const STARTUP_CCLKS: u64 = 8;

/// STATE: PROGRAM_B is low.
pub const PROGRAM: u32 = 0;
/// STATE: housecleaning, INIT_B low.
pub const HOUSECLEANING: u32 = 1;
/// STATE: INIT_B high, accepting the stream.
pub const CONFIGURING: u32 = 2;
/// STATE: DESYNC after START; running the startup phases.
pub const STARTUP: u32 = 3;
/// STATE: DONE is high; the design runs.
pub const DONE: u32 = 4;
/// STATE: configuration error; INIT_B low until PROGRAM_B is pulsed.
pub const ERROR: u32 = 5;

/// ERROR register code for a parser error (0 = none).
pub fn error_code(kind: &ErrorKind) -> u32 {
    match kind {
        ErrorKind::BadPacketType { .. } => 1,
        ErrorKind::BadOpcode { .. } => 2,
        ErrorKind::UnknownRegister { .. } => 3,
        ErrorKind::ReadNotSupported { .. } => 4,
        ErrorKind::Type2WithoutType1 => 5,
        ErrorKind::BadCommand { .. } => 6,
        ErrorKind::IdcodeMismatch { .. } => 7,
        ErrorKind::FdriBeforeIdcode => 8,
        ErrorKind::FdriWithoutWcfg => 9,
        ErrorKind::CrcMismatch { .. } => 10,
        ErrorKind::NoSync => 11,
        ErrorKind::Truncated => 12,
        ErrorKind::Encrypted { .. } => 13,
        ErrorKind::FrameOverrun { .. } => 14,
        ErrorKind::MfwrWithoutFrame => 15,
        ErrorKind::ReadOnlyRegister { .. } => 16,
        ErrorKind::UnsupportedCommand { .. } => 17,
    }
}

#[derive(Copy, Clone, Debug)]
enum State {
    Program,
    Housecleaning { until: u64 },
    Configuring,
    Startup { clocks: u64 },
    Done,
    Error(parser::Error),
}

/// The 7-series configuration logic and its pins.
pub struct Xc7Model {
    part: Part,
    program_b: bool,
    state: State,
    parser: Parser,
    bytes: u64,
    ignored: u64,
}

impl Xc7Model {
    /// A device just powered up: housecleaning until [`HOUSECLEANING_US`].
    pub fn new(part: Part) -> Self {
        Xc7Model {
            part,
            program_b: true,
            state: State::Housecleaning {
                until: HOUSECLEANING_US,
            },
            parser: Parser::new(Some(part), false),
            bytes: 0,
            ignored: 0,
        }
    }

    /// The part this model is.
    pub fn part(&self) -> Part {
        self.part
    }

    fn tick(&mut self, now: u64) {
        if let State::Housecleaning { until } = self.state
            && now >= until
        {
            self.parser = Parser::new(Some(self.part), false);
            self.state = State::Configuring;
        }
    }

    /// When the pins will next change by themselves (end of housecleaning).
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Housecleaning { until } => Some(until),
            _ => None,
        }
    }

    /// INIT_B (open drain, pulled up): low while housecleaning or after an
    /// error.
    pub fn init_b(&mut self, now: u64) -> bool {
        self.tick(now);
        matches!(
            self.state,
            State::Configuring | State::Startup { .. } | State::Done
        )
    }

    /// DONE: high once startup completed.
    pub fn done(&mut self, now: u64) -> bool {
        self.tick(now);
        matches!(self.state, State::Done)
    }

    /// The failure that stopped the last load, if any.
    pub fn error(&self) -> Option<parser::Error> {
        match self.state {
            State::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Applies the PROGRAM_B level.
    pub fn set_program_b(&mut self, program_b: bool, now: u64) {
        self.tick(now);
        if !program_b {
            self.state = State::Program;
        } else if !self.program_b {
            self.state = State::Housecleaning {
                until: now.saturating_add(HOUSECLEANING_US),
            };
        }
        self.program_b = program_b;
    }

    /// Clocks `data` in on DIN at time `now`.
    pub fn shift(&mut self, data: &[u8], now: u64) {
        self.tick(now);
        match self.state {
            State::Configuring => self.configure(data),
            State::Startup { clocks } => self.startup(clocks, data.len()),
            _ => self.ignored += data.len() as u64,
        }
    }

    fn configure(&mut self, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            match self.parser.feed(rest) {
                Ok((used, event)) => {
                    self.bytes += used as u64;
                    rest = &rest[used..];
                    if event == Some(Event::Desync) && self.parser.started() {
                        self.startup(0, rest.len());
                        return;
                    }
                }
                Err(e) => {
                    self.state = State::Error(e);
                    self.ignored += rest.len() as u64;
                    return;
                }
            }
        }
    }

    fn startup(&mut self, clocks: u64, bytes: usize) {
        let clocks = clocks + 8 * bytes as u64;
        self.state = if clocks >= STARTUP_CCLKS {
            State::Done
        } else {
            State::Startup { clocks }
        };
    }

    /// Reads a debug register (see the module docs).
    pub fn read_debug(&mut self, reg: u32, now: u64) -> Option<u32> {
        self.tick(now);
        Some(match reg {
            0x00 => match self.state {
                State::Program => PROGRAM,
                State::Housecleaning { .. } => HOUSECLEANING,
                State::Configuring => CONFIGURING,
                State::Startup { .. } => STARTUP,
                State::Done => DONE,
                State::Error(_) => ERROR,
            },
            0x04 => self.error().map_or(0, |e| error_code(&e.kind)),
            0x08 => self.bytes as u32,
            0x0C => self.ignored as u32,
            0x10 => self.parser.summary().last_crc.unwrap_or(0),
            0x14 => {
                self.done(now) as u32
                    | (self.init_b(now) as u32) << 1
                    | (self.program_b as u32) << 2
            }
            0x18 => self.parser.summary().frame_words as u32,
            0x1C => self.part.idcode,
            _ => return None,
        })
    }
}
