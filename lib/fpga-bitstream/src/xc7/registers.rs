//! The configuration registers a stream writes, and what each command
//! does to the configuration logic (UG470 tables 5-23 to 5-25).
//!
//! The parser keeps one [`ConfigRegisters`] per configuration: every
//! value written, CTL0/CTL1 through MASK as the silicon applies them, and
//! the flags the commands set. The device model reads it to decide what
//! the pins do (DONE after START and DESYNC, INIT_B low on an error).
//!
//! What we deliberately do not model: the meaning of COR0/COR1 options
//! (startup clock, DONE cycle, CCLK frequency), the watchdog TIMER, and
//! MultiBoot (WBSTAR, IPROG): slave serial has no boot flash to fall back
//! to, so IPROG is refused rather than silently ignored.

use super::{Command, Register};

/// CTL0 bit 6, DEC: the AES decryptor is enabled (UG470 table 5-27).
pub const CTL0_DEC: u32 = 1 << 6;

/// The writable configuration registers, as the stream left them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigRegisters {
    /// Frame address of the next frame.
    pub far: u32,
    /// CTL0 after masking.
    pub ctl0: u32,
    /// CTL1 after masking.
    pub ctl1: u32,
    /// MASK for CTL0/CTL1 writes.
    pub mask: u32,
    /// Configuration options 0.
    pub cor0: u32,
    /// Configuration options 1.
    pub cor1: u32,
    /// The IDCODE the stream checked, if any.
    pub idcode: Option<u32>,
    /// Warm boot start address.
    pub wbstar: u32,
    /// Watchdog timer.
    pub timer: u32,
    /// Readback CRC software check value.
    pub rbcrc_sw: u32,
    /// User access register.
    pub axss: u32,
    /// BPI/SPI options.
    pub bspi: u32,
    /// Legacy daisy-chain output (the words are passed on, not kept: this
    /// is the last one).
    pub lout: u32,
    /// Effects of the commands so far.
    pub flags: CommandFlags,
}

/// What the commands of one configuration have done.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandFlags {
    /// WCFG: FDRI writes go to configuration memory.
    pub wcfg: bool,
    /// MFW: MFWR writes copy the last frame to FAR.
    pub mfw: bool,
    /// LFRM: the last frame is written, GHIGH_B deasserted.
    pub last_frame: bool,
    /// GRESTORE: flip-flops took their initial values.
    pub grestore: bool,
    /// START: the startup sequence runs at DESYNC.
    pub started: bool,
    /// SHUTDOWN: the shutdown sequence ran (for partial reconfiguration).
    pub shutdown: bool,
    /// SWITCH: CCLK frequency switched (master modes; no effect here).
    pub switched: bool,
    /// AGHIGH: GHIGH_B asserted (interconnect held off).
    pub ghigh: bool,
}

impl ConfigRegisters {
    /// Stores a register write; returns `false` for the registers this
    /// file does not hold (CRC, FDRI, CMD, MFWR and the read-only ones).
    pub fn write(&mut self, register: Register, value: u32) -> bool {
        match register {
            Register::Far => self.far = value,
            Register::Mask => self.mask = value,
            Register::Ctl0 => {
                self.ctl0 = (self.ctl0 & !self.mask) | (value & self.mask);
            }
            Register::Ctl1 => {
                self.ctl1 = (self.ctl1 & !self.mask) | (value & self.mask);
            }
            Register::Cor0 => self.cor0 = value,
            Register::Cor1 => self.cor1 = value,
            Register::Idcode => self.idcode = Some(value),
            Register::Wbstar => self.wbstar = value,
            Register::Timer => self.timer = value,
            Register::RbcrcSw => self.rbcrc_sw = value,
            Register::Axss => self.axss = value,
            Register::Bspi => self.bspi = value,
            Register::Lout => self.lout = value,
            _ => return false,
        }
        true
    }

    /// Whether the stream turned the AES decryptor on.
    pub fn decrypting(&self) -> bool {
        self.ctl0 & CTL0_DEC != 0
    }

    /// Applies a command's effect on the flags (RCRC and DESYNC, which
    /// touch the parser's own state, are the parser's business).
    pub fn command(&mut self, command: Command) {
        let f = &mut self.flags;
        match command {
            Command::Wcfg => {
                f.wcfg = true;
                f.mfw = false;
            }
            Command::Mfw => f.mfw = true,
            Command::Lfrm => {
                f.last_frame = true;
                f.ghigh = false;
            }
            Command::Aghigh => f.ghigh = true,
            Command::Start => f.started = true,
            Command::Grestore => f.grestore = true,
            Command::Shutdown => f.shutdown = true,
            Command::Switch => f.switched = true,
            Command::Rcfg => f.wcfg = false,
            // NULL, RCAP, GCAPTURE, CRCC, LTIMER, BSPI_READ, FALL_EDGE
            // change nothing a slave-serial load can observe; RCRC,
            // DESYNC and IPROG are handled by the parser.
            _ => {}
        }
    }
}
