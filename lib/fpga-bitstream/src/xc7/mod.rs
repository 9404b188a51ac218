//! Xilinx 7-series configuration streams (UG470 chapter 5).
//!
//! A configuration stream is a sequence of 32-bit big-endian words. The
//! device ignores everything until the sync word `AA 99 55 66`; after it come
//! *packets*: a type-1 header names a configuration register and a word
//! count, a type-2 header reuses the last type-1 register with a 27-bit
//! count (used for the long FDRI frame-data write). Writes to the CMD
//! register run commands (RCRC, WCFG, START, DESYNC ...). A running CRC-32C
//! covers every register write as a 37-bit (5-bit address, 32-bit data)
//! value; writing the CRC register checks it.
//!
//! Submodules:
//! - [`bitfile`]: the `.bit` file header, `.bin` and byte-swapped `.bin`
//!   detection.
//! - [`crc`]: the 37-bit CRC-32C, bitwise reference and fast tables.
//! - [`parser`]: the incremental packet parser a device model runs.
//! - [`registers`]: the register file and command effects it keeps.
//! - [`builder`]: [`StreamBuilder`], which writes a valid stream.

pub mod bitfile;
pub mod builder;
pub mod crc;
pub mod parser;
pub mod registers;

pub use builder::StreamBuilder;
pub use parser::Parser;

/// The sync word; the device ignores every bit before it (UG470 table 5-17).
pub const SYNC_WORD: u32 = 0xAA99_5566;

/// A type-1 NOP packet header.
pub const NOP: u32 = 0x2000_0000;

/// Dummy/padding word before the sync word.
pub const DUMMY: u32 = 0xFFFF_FFFF;

/// Bus width auto-detection pattern (SelectMAP; ignored by serial mode but
/// present in every Vivado stream, UG470 "Bus Width Auto Detection").
pub const BUS_WIDTH_PATTERN: [u32; 2] = [0x0000_00BB, 0x1122_0044];

/// 32-bit words in one configuration frame on every 7-series device.
pub const FRAME_WORDS: usize = 101;

/// Configuration registers (UG470 table 5-23), by 5-bit address.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Register {
    /// CRC check.
    Crc = 0x00,
    /// Frame address.
    Far = 0x01,
    /// Frame data input.
    Fdri = 0x02,
    /// Frame data output (readback).
    Fdro = 0x03,
    /// Command.
    Cmd = 0x04,
    /// Control 0.
    Ctl0 = 0x05,
    /// Mask for CTL0/CTL1 writes.
    Mask = 0x06,
    /// Status (read only).
    Stat = 0x07,
    /// Legacy output for daisy chains.
    Lout = 0x08,
    /// Configuration option 0.
    Cor0 = 0x09,
    /// Multiple frame write.
    Mfwr = 0x0A,
    /// Initial CBC value (encryption).
    Cbc = 0x0B,
    /// Device ID check.
    Idcode = 0x0C,
    /// User access.
    Axss = 0x0D,
    /// Configuration option 1.
    Cor1 = 0x0E,
    /// Warm boot start address.
    Wbstar = 0x10,
    /// Watchdog timer.
    Timer = 0x11,
    /// Readback CRC software check (RBCRC_SW in Vivado's own bitstream
    /// dumps; not in UG470's table). Vivado writes 0 to it after RCRC.
    RbcrcSw = 0x13,
    /// Boot history status (read only).
    Bootsts = 0x16,
    /// Control 1.
    Ctl1 = 0x18,
    /// BPI/SPI configuration options.
    Bspi = 0x1F,
}

impl Register {
    /// The register at a 5-bit address, if one is defined there.
    pub const fn from_address(address: u32) -> Option<Register> {
        Some(match address {
            0x00 => Register::Crc,
            0x01 => Register::Far,
            0x02 => Register::Fdri,
            0x03 => Register::Fdro,
            0x04 => Register::Cmd,
            0x05 => Register::Ctl0,
            0x06 => Register::Mask,
            0x07 => Register::Stat,
            0x08 => Register::Lout,
            0x09 => Register::Cor0,
            0x0A => Register::Mfwr,
            0x0B => Register::Cbc,
            0x0C => Register::Idcode,
            0x0D => Register::Axss,
            0x0E => Register::Cor1,
            0x10 => Register::Wbstar,
            0x11 => Register::Timer,
            0x13 => Register::RbcrcSw,
            0x16 => Register::Bootsts,
            0x18 => Register::Ctl1,
            0x1F => Register::Bspi,
            _ => return None,
        })
    }

    /// The 5-bit address, as used in packet headers and the CRC.
    pub const fn address(self) -> u32 {
        self as u32
    }

    /// A type-1 write header for `count` words to this register.
    pub const fn write_header(self, count: u32) -> u32 {
        0x3000_0000 | (self.address() << 13) | (count & 0x7FF)
    }
}

/// CMD register codes (UG470 table 5-25).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Command {
    /// No operation.
    Null = 0x00,
    /// Write configuration data (arms FDRI).
    Wcfg = 0x01,
    /// Multiple frame write.
    Mfw = 0x02,
    /// Last frame / deassert GHIGH_B.
    Lfrm = 0x03,
    /// Read configuration data.
    Rcfg = 0x04,
    /// Begin the startup sequence (takes effect after DESYNC).
    Start = 0x05,
    /// Reset capture.
    Rcap = 0x06,
    /// Reset the CRC register.
    Rcrc = 0x07,
    /// Assert GHIGH_B.
    Aghigh = 0x08,
    /// Switch the CCLK frequency.
    Switch = 0x09,
    /// Pulse GRESTORE.
    Grestore = 0x0A,
    /// Begin the shutdown sequence.
    Shutdown = 0x0B,
    /// Pulse GCAPTURE.
    Gcapture = 0x0C,
    /// End of configuration: the device loses sync.
    Desync = 0x0D,
    /// Internal PROG (reconfigure from WBSTAR).
    Iprog = 0x0F,
    /// Recalculate the CRC after readback.
    Crcc = 0x10,
    /// Reload the watchdog timer.
    Ltimer = 0x11,
    /// BPI/SPI re-initiate bitstream read.
    BspiRead = 0x12,
    /// Switch to negative-edge clocking.
    FallEdge = 0x13,
}

impl Command {
    /// The command with this code, if defined.
    pub const fn from_code(code: u32) -> Option<Command> {
        Some(match code {
            0x00 => Command::Null,
            0x01 => Command::Wcfg,
            0x02 => Command::Mfw,
            0x03 => Command::Lfrm,
            0x04 => Command::Rcfg,
            0x05 => Command::Start,
            0x06 => Command::Rcap,
            0x07 => Command::Rcrc,
            0x08 => Command::Aghigh,
            0x09 => Command::Switch,
            0x0A => Command::Grestore,
            0x0B => Command::Shutdown,
            0x0C => Command::Gcapture,
            0x0D => Command::Desync,
            0x0F => Command::Iprog,
            0x10 => Command::Crcc,
            0x11 => Command::Ltimer,
            0x12 => Command::BspiRead,
            0x13 => Command::FallEdge,
            _ => return None,
        })
    }
}

/// A 7-series part: its JTAG IDCODE and the size of its configuration
/// array.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Vivado's part name without package/speed ("xc7a35t"); also the
    /// board's peripheral model name.
    pub name: &'static str,
    /// IDCODE as written in the bitstream (revision nibble zero).
    pub idcode: u32,
    /// The full bitstream's length in bits (UG470 table 1-1, "Bitstream
    /// Length"): what Vivado writes for this part with default options.
    pub bitstream_bits: u32,
}

/// Words of a default (uncompressed, unencrypted) Vivado stream that are
/// not frame data: padding, bus-width pattern, sync, the register writes
/// around FDRI and the trailing NOPs. Measured on the real XC7A35T stream
/// in `test/bitstreams/` (548,003 words of which FDRI takes 547,420), and
/// the same for every single-die 7-series part: UG470's bitstream length
/// minus these words is a whole number of 101-word frames for each part
/// in [`PARTS`] (a unit test checks it).
pub const VIVADO_OVERHEAD_WORDS: u32 = 583;

impl Part {
    /// Frame-data words a full configuration writes through FDRI: the
    /// configuration array, including the pad frames Vivado writes at the
    /// end of each row. A stream may not write more from one frame
    /// address.
    pub const fn frame_words(&self) -> u32 {
        self.bitstream_bits / 32 - VIVADO_OVERHEAD_WORDS
    }

    /// The configuration array in 101-word frames.
    pub const fn frames(&self) -> u32 {
        self.frame_words() / FRAME_WORDS as u32
    }
}

const fn part(name: &'static str, idcode: u32, bitstream_bits: u32) -> Part {
    Part {
        name,
        idcode,
        bitstream_bits,
    }
}

// IDCODEs and bitstream lengths: UG470 (v1.11) table 1-1, "Bitstream
// Length", which lists both for every 7-series part.

/// Artix-7 35T (the real fixture's part).
pub const XC7A35T: Part = part("xc7a35t", 0x0362_D093, 17_536_096);
/// Artix-7 50T: the 35T's die size with its own IDCODE.
pub const XC7A50T: Part = part("xc7a50t", 0x0362_C093, 17_536_096);
/// Artix-7 100T.
pub const XC7A100T: Part = part("xc7a100t", 0x0363_1093, 30_606_304);
/// Artix-7 200T.
pub const XC7A200T: Part = part("xc7a200t", 0x0363_6093, 77_845_216);
/// Kintex-7 70T.
pub const XC7K70T: Part = part("xc7k70t", 0x0364_7093, 24_090_592);
/// Kintex-7 325T.
pub const XC7K325T: Part = part("xc7k325t", 0x0365_1093, 91_548_896);
/// Spartan-7 25.
pub const XC7S25: Part = part("xc7s25", 0x037C_4093, 9_934_432);
/// Spartan-7 50.
pub const XC7S50: Part = part("xc7s50", 0x0362_F093, 17_536_096);

/// Every part in this table.
pub const PARTS: [Part; 8] = [
    XC7A35T, XC7A50T, XC7A100T, XC7A200T, XC7K70T, XC7K325T, XC7S25, XC7S50,
];

/// The bits of an IDCODE that identify the die. The top nibble is the
/// silicon revision, which differs between chips of one part and which the
/// bitstream's IDCODE check does not care about.
pub const IDCODE_DIE_MASK: u32 = 0x0FFF_FFFF;

/// The part with this IDCODE (revision ignored).
pub fn part_by_idcode(idcode: u32) -> Option<Part> {
    PARTS
        .into_iter()
        .find(|p| p.idcode & IDCODE_DIE_MASK == idcode & IDCODE_DIE_MASK)
}

/// The part with this name (`"xc7a35t"`), or whose name starts a longer
/// Vivado part string (`"xc7a35tcpg236-1"`, and the `.bit` header's
/// `"7a35tcpg236"` without the `xc` prefix).
pub fn part_by_name(name: &str) -> Option<Part> {
    let bare = name.strip_prefix("xc").unwrap_or(name);
    PARTS.into_iter().find(|p| {
        let pname = p.name.strip_prefix("xc").unwrap_or(p.name);
        bare.strip_prefix(pname).is_some_and(|rest| {
            // "7a35t" must not match "7a35tx..."-like longer die names; a
            // package code starts with a letter other than 't', so accept
            // an exact match or a following package/speed suffix.
            rest.is_empty() || !rest.starts_with(|c: char| c.is_ascii_digit())
        })
    })
}

#[cfg(test)]
mod tests;
