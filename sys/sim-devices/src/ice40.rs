//! An iCE40 in SPI-slave configuration mode.
//!
//! What the model does, following the iCE40 programming guide as Linux
//! `ice40-spi.c`, Zephyr and Hubris use it:
//!
//! - CRESET_B low holds the device in reset: CDONE low, configuration
//!   memory cleared.
//! - On CRESET_B's rising edge the device samples SS_B. Asserted (low):
//!   SPI-slave configuration. Not asserted: it would boot from an SPI flash
//!   as master; the board has none, so it stays unconfigured ([`NO_FLASH`]).
//! - It then needs [`HOUSEKEEPING_US`] before it listens; bytes clocked in
//!   earlier (with SS_B asserted) are lost, which breaks the load.
//! - Bytes with SS_B asserted go through the IceStorm parser. CDONE rises
//!   on the wakeup command, which the parser allows only after a passing
//!   CRC check; any error leaves CDONE low until the next reset.
//! - After [`WAKEUP_CLOCKS`] more SPI clocks (SS_B either way) the user
//!   design runs ([`USER_MODE`]).
//!
//! Debug registers (read only; the device has no bus of its own, these are
//! the simulator's probes):
//!
//! | offset | name | value |
//! |---|---|---|
//! | 0x00 | STATE | one of the `pub const` state codes below |
//! | 0x04 | ERROR | 0, or [`error_code`] of the load's failure |
//! | 0x08 | BYTES | bytes the configuration engine consumed (low 32 bits) |
//! | 0x0C | IGNORED | bytes clocked in but dropped (housekeeping, no SS_B) |
//! | 0x10 | DESIGN | CRC-32 (ISO-HDLC) of all CRAM/BRAM data of the load |
//! | 0x14 | PINS | bit 0 CDONE, bit 1 CRESET_B, bit 2 SS_B asserted |

use fpga_bitstream::ice40::{
    self, ErrorKind, Event, HOUSEKEEPING_US, Ice40Device, Parser, WAKEUP_CLOCKS,
};

/// STATE: CRESET_B is low.
pub const RESET: u32 = 0;
/// STATE: waiting out the housekeeping delay after CRESET_B rose.
pub const HOUSEKEEPING: u32 = 1;
/// STATE: listening for / consuming the bitstream.
pub const CONFIGURING: u32 = 2;
/// STATE: wakeup done, CDONE high, counting the trailing clocks.
pub const WAKING: u32 = 3;
/// STATE: the user design runs.
pub const USER_MODE: u32 = 4;
/// STATE: the load failed; CDONE stays low until CRESET_B is pulsed.
pub const FAILED: u32 = 5;
/// STATE: CRESET_B rose without SS_B asserted: master (flash) boot, with no
/// flash on this board. Also the power-on state.
pub const NO_FLASH: u32 = 6;

/// ERROR register code for a parser error (0 = none).
pub fn error_code(kind: &ErrorKind) -> u32 {
    match kind {
        ErrorKind::BadPreamble => 1,
        ErrorKind::UnknownCommand { .. } => 2,
        ErrorKind::BadPayloadLength { .. } => 3,
        ErrorKind::UnsupportedOperation { .. } => 4,
        ErrorKind::BadValue { .. } => 5,
        ErrorKind::MissingGeometry => 6,
        ErrorKind::WrongGeometry { .. } => 7,
        ErrorKind::UnknownDevice { .. } => 8,
        ErrorKind::CrcMismatch { .. } => 9,
        ErrorKind::NonZeroBlockTerminator { .. } => 10,
        ErrorKind::UncheckedWakeup => 11,
        ErrorKind::Truncated => 12,
    }
}

static CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

#[derive(Clone, Debug)]
enum State {
    Reset,
    Housekeeping { ready_at: u64 },
    Configuring,
    Waking { clocks: u64 },
    UserMode,
    Failed(ice40::Error),
    NoFlash,
}

/// The iCE40 configuration engine and its pins.
pub struct Ice40Model {
    device: Ice40Device,
    creset_b: bool,
    ss_asserted: bool,
    state: State,
    parser: Parser,
    design: crc::Digest<'static, u32>,
    design_id: u32,
    bytes: u64,
    ignored: u64,
}

impl Ice40Model {
    /// A powered-up device: CRESET_B pulled high, no flash, unconfigured.
    pub fn new(device: Ice40Device) -> Self {
        Ice40Model {
            device,
            creset_b: true,
            ss_asserted: false,
            state: State::NoFlash,
            parser: Parser::new(Some(device)),
            design: CRC32.digest(),
            design_id: 0,
            bytes: 0,
            ignored: 0,
        }
    }

    /// The die this model is.
    pub fn device(&self) -> Ice40Device {
        self.device
    }

    /// CDONE: high once the wakeup command ran after a good CRC.
    pub fn cdone(&self) -> bool {
        matches!(self.state, State::Waking { .. } | State::UserMode)
    }

    /// The failure that stopped the last load, if any.
    pub fn error(&self) -> Option<ice40::Error> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Applies the input pin levels (CRESET_B, and SS_B as "asserted").
    pub fn set_inputs(&mut self, creset_b: bool, ss_asserted: bool, now: u64) {
        let rising = creset_b && !self.creset_b;
        self.creset_b = creset_b;
        self.ss_asserted = ss_asserted;
        if !creset_b {
            if !matches!(self.state, State::Reset) {
                self.state = State::Reset;
            }
        } else if rising {
            self.parser = Parser::new(Some(self.device));
            self.design = CRC32.digest();
            self.design_id = 0;
            self.state = if ss_asserted {
                State::Housekeeping {
                    ready_at: now.saturating_add(HOUSEKEEPING_US),
                }
            } else {
                State::NoFlash
            };
        }
    }

    fn tick(&mut self, now: u64) {
        if let State::Housekeeping { ready_at } = self.state
            && now >= ready_at
        {
            self.state = State::Configuring;
        }
    }

    /// Clocks `data` in on MOSI (MSB first) at time `now`.
    pub fn shift(&mut self, data: &[u8], now: u64) {
        self.tick(now);
        match self.state {
            State::Configuring if self.ss_asserted => self.configure(data),
            State::Waking { clocks } => self.count_clocks(clocks, data.len()),
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
                    match event {
                        Some(Event::BlockData(d)) => self.design.update(d),
                        Some(Event::Wakeup) => {
                            self.design_id = self.design.clone().finalize();
                            self.state = State::Waking { clocks: 0 };
                            // Bytes after wakeup in this transfer are clocks.
                            self.count_clocks(0, rest.len());
                            return;
                        }
                        _ => {}
                    }
                }
                Err(e) => {
                    self.state = State::Failed(e);
                    self.ignored += rest.len() as u64;
                    return;
                }
            }
        }
    }

    fn count_clocks(&mut self, clocks: u64, bytes: usize) {
        let clocks = clocks + 8 * bytes as u64;
        self.state = if clocks >= WAKEUP_CLOCKS as u64 {
            State::UserMode
        } else {
            State::Waking { clocks }
        };
    }

    /// Reads a debug register (see the module docs).
    pub fn read_debug(&mut self, reg: u32, now: u64) -> Option<u32> {
        self.tick(now);
        Some(match reg {
            0x00 => match self.state {
                State::Reset => RESET,
                State::Housekeeping { .. } => HOUSEKEEPING,
                State::Configuring => CONFIGURING,
                State::Waking { .. } => WAKING,
                State::UserMode => USER_MODE,
                State::Failed(_) => FAILED,
                State::NoFlash => NO_FLASH,
            },
            0x04 => self.error().map_or(0, |e| error_code(&e.kind)),
            0x08 => self.bytes as u32,
            0x0C => self.ignored as u32,
            0x10 => self.design_id,
            0x14 => {
                self.cdone() as u32
                    | (self.creset_b as u32) << 1
                    | (self.ss_asserted as u32) << 2
            }
            _ => return None,
        })
    }
}
