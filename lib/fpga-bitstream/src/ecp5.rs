//! Lattice ECP5 sysCONFIG bitstreams (FPGA-TN-02039, "ECP5 and ECP5-5G
//! sysCONFIG Usage Guide"), as `ecppack` and Diamond write them.
//!
//! A `.bit` starts with a comment block (`FF 00`, NUL-terminated strings,
//! `FF`), then the preamble `FF FF BD B3`; the device ignores everything
//! before it. After it come commands: an opcode byte and a 24-bit operand,
//! then the command's data. `0xFF` bytes between commands are no-ops. The
//! commands a configuration uses:
//!
//! | opcode | name | data |
//! |---|---|---|
//! | `3B` | LSC_RESET_CRC | none: the CRC starts again at 0 |
//! | `E2` | VERIFY_ID | the part's IDCODE, checked against the device |
//! | `22` | LSC_PROG_CNTRL0 | control register 0 |
//! | `46` | LSC_INIT_ADDRESS | none: frame address to the start |
//! | `B4` | LSC_WRITE_ADDRESS | a frame address |
//! | `82` | LSC_PROG_INCR_RTI | frames; operand: flags, frame count |
//! | `B8` | LSC_PROG_INCR_CMP | compressed frames (refused here) |
//! | `02` | LSC_WRITE_COMP_DIC | the compression dictionary (refused) |
//! | `C2` | ISC_PROGRAM_USERCODE | the USERCODE, CRC-checked |
//! | `F6` | LSC_EBR_ADDRESS | a block RAM address |
//! | `B2` | LSC_EBR_WRITE | 9-byte block RAM frames, CRC at the end |
//! | `CE` | ISC_PROGRAM_SECURITY | none |
//! | `A2` | LSC_PROG_SED_CRC | the SED CRC word |
//! | `5E` | ISC_PROGRAM_DONE | none: configuration complete |
//!
//! The CRC is CRC-16 with polynomial 0x8005, initial value 0, MSB first
//! and no final XOR (the CRC-16/UMTS parameters), over every byte after
//! LSC_RESET_CRC except the no-op `0xFF` opcodes; the check value follows
//! the data it covers big-endian, and each check starts the CRC again.
//! A frame write's operand says whether a check follows each frame (flags
//! bit 7 set and bit 6 clear, `0x91` from ecppack), only the last one, or
//! none, and how many dummy bytes (low nibble) follow each frame.
//!
//! Like [`crate::xc7`], the parser is incremental and allocates nothing;
//! the device model in `sim-devices` runs it as its configuration engine.
//! What it deliberately does not do: decompress (a compressed stream is
//! refused with its own error, not mis-read), or interpret frame bits.

/// The preamble: the device ignores everything before it.
pub const PREAMBLE: [u8; 4] = [0xFF, 0xFF, 0xBD, 0xB3];

/// The CRC polynomial (x^16 + x^15 + x^2 + 1), MSB first.
pub const CRC_POLY: u16 = 0x8005;

/// Byte-at-a-time table for [`crc16_update`].
const CRC_TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ CRC_POLY
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Extends the CRC-16 (poly 0x8005, MSB first, init 0, no final XOR:
/// CRC-16/UMTS) by one byte.
pub const fn crc16_update(crc: u16, byte: u8) -> u16 {
    (crc << 8) ^ CRC_TABLE[((crc >> 8) as u8 ^ byte) as usize]
}

/// Bytes of a block RAM frame in an LSC_EBR_WRITE (72 bits).
pub const EBR_FRAME_BYTES: usize = 9;

/// An ECP5 part: its IDCODE and configuration frame geometry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The board model name ("lfe5u-25f").
    pub name: &'static str,
    /// The JTAG IDCODE VERIFY_ID checks (FPGA-TN-02039 table B.5).
    pub idcode: u32,
    /// Configuration frames in a full LSC_PROG_INCR_RTI.
    pub frames: u16,
    /// Bytes per frame (the frame's bits and pad bits, byte-aligned).
    pub frame_bytes: u16,
}

/// LFE5U-25F. Geometry: the frame count and frame length of ecppack's
/// real images in `test/bitstreams/` (the same as Lattice's device
/// database for the part).
pub const LFE5U_25F: Part = Part {
    name: "lfe5u-25f",
    idcode: 0x4111_1043,
    frames: 7562,
    frame_bytes: 74,
};

/// LFE5U-85F (geometry: as for the 25F, from its real image).
pub const LFE5U_85F: Part = Part {
    name: "lfe5u-85f",
    idcode: 0x4111_3043,
    frames: 13294,
    frame_bytes: 142,
};

/// Every part in this table.
///
/// Only parts whose geometry a real image here has confirmed; the 12F and
/// 45F (IDCODEs 0x21111043, 0x41112043) join when an image for them is
/// checked in.
pub const PARTS: [Part; 2] = [LFE5U_25F, LFE5U_85F];

/// What the stream did, in order (one event per command, plus
/// [`Event::Frames`] for frame data).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The preamble: commands follow.
    Preamble,
    /// A command was decoded in full (its data and any CRC check).
    Command(u8),
    /// Whole configuration frames written.
    Frames(u32),
    /// ISC_PROGRAM_DONE: the stream is complete.
    ProgramDone,
}

/// Why a stream was rejected (what the device's status register's BSE
/// error code and flags would say).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// VERIFY_ID named another part (status ID error).
    IdMismatch {
        /// The device's IDCODE.
        expected: u32,
        /// The stream's.
        found: u32,
    },
    /// A CRC check failed (BSE code "CRC mismatch").
    CrcMismatch {
        /// What the device computed.
        computed: u16,
        /// What the stream says.
        found: u16,
    },
    /// An opcode the configuration logic does not know (BSE "illegal
    /// command").
    UnknownCommand {
        /// The opcode.
        opcode: u8,
    },
    /// Frame data before VERIFY_ID.
    FramesBeforeId,
    /// A frame write with a frame count other than the part's, or frames
    /// past the end of the array (BSE "SRAM data overflow").
    FrameCountMismatch {
        /// Frames the part has.
        expected: u16,
        /// Frames the stream writes.
        found: u16,
    },
    /// A compressed stream (LSC_WRITE_COMP_DIC / LSC_PROG_INCR_CMP): this
    /// model does not decompress.
    Compressed,
    /// The stream ended without ISC_PROGRAM_DONE (or never had a
    /// preamble).
    Truncated,
}

/// A rejected stream: what and where.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Offset of the byte where the problem showed.
    pub offset: u64,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// What a complete stream did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The IDCODE VERIFY_ID checked.
    pub idcode: Option<u32>,
    /// Configuration frames written.
    pub frames: u32,
    /// CRC checks that passed.
    pub crc_checks: u32,
    /// The USERCODE written, if any.
    pub usercode: Option<u32>,
    /// Block RAM frames written.
    pub ebr_frames: u32,
    /// Whether ISC_PROGRAM_DONE was reached.
    pub done: bool,
}

/// Where the parser is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    /// Looking for the preamble; `window` holds the last bytes.
    Preamble {
        window: u32,
    },
    /// Between commands.
    Opcode,
    /// Reading a command's operand and fixed data into `buf`.
    Fixed {
        opcode: u8,
        need: u8,
    },
    /// Inside a frame write: `left` frames to go, `at` bytes of the
    /// current frame (data, CRC, dummies) read.
    Frames(FrameWrite),
    /// Inside an EBR write: `left` 9-byte frames to go, then the CRC.
    Ebr {
        left: u32,
        at: u8,
    },
    /// Reading a CRC check's two bytes; then the next opcode.
    Check {
        at: u8,
    },
    /// After ISC_PROGRAM_DONE: everything else is ignored.
    Done,
    Failed(Error),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct FrameWrite {
    left: u16,
    at: u16,
    crc_each: bool,
    crc_last: bool,
    dummies: u8,
}

/// The incremental ECP5 command parser.
#[derive(Clone, Debug)]
pub struct Parser {
    part: Option<Part>,
    state: State,
    buf: [u8; 8],
    have: u8,
    crc: u16,
    /// The first CRC byte of the check in progress.
    check_high: u8,
    pos: u64,
    summary: Summary,
}

impl Parser {
    /// A parser for `part` (its IDCODE and frame count are checked), or
    /// for any device when `None` (frame length is then unknown, so frame
    /// data is refused: pass a part to parse frames).
    pub fn new(part: Option<Part>) -> Self {
        Parser {
            part,
            state: State::Preamble { window: 0 },
            buf: [0; 8],
            have: 0,
            crc: 0,
            check_high: 0,
            pos: 0,
            summary: Summary::default(),
        }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Whether ISC_PROGRAM_DONE has been reached.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// What the stream has done so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Consumes all of `input`, stopping at the first error.
    ///
    /// # Errors
    ///
    /// The first violation; the parser then stays failed.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Error> {
        for &b in input {
            match self.byte(b) {
                Ok(()) => self.pos += 1,
                Err(kind) => {
                    let e = Error {
                        offset: self.pos,
                        kind,
                    };
                    self.state = State::Failed(e);
                    return Err(e);
                }
            }
        }
        match self.state {
            State::Failed(e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Declares the end of the stream.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Truncated`] unless ISC_PROGRAM_DONE was reached, or
    /// the error that stopped the parser.
    pub fn finish(&self) -> Result<Summary, Error> {
        match self.state {
            State::Done => Ok(self.summary),
            State::Failed(e) => Err(e),
            _ => Err(Error {
                offset: self.pos,
                kind: ErrorKind::Truncated,
            }),
        }
    }

    fn byte(&mut self, b: u8) -> Result<(), ErrorKind> {
        match self.state {
            State::Preamble { window } => {
                let window = (window << 8) | b as u32;
                self.state = if window == u32::from_be_bytes(PREAMBLE) {
                    State::Opcode
                } else {
                    State::Preamble { window }
                };
                Ok(())
            }
            State::Opcode => self.opcode(b),
            State::Fixed { opcode, need } => {
                self.crc = crc16_update(self.crc, b);
                self.buf[self.have as usize] = b;
                self.have += 1;
                if self.have == need {
                    self.command(opcode)?;
                }
                Ok(())
            }
            State::Frames(w) => self.frame_byte(w, b),
            State::Ebr { left, at } => self.ebr_byte(left, at, b),
            State::Check { at } => {
                if self.check_byte(at, b)? {
                    self.state = State::Opcode;
                } else {
                    self.state = State::Check { at: at + 1 };
                }
                Ok(())
            }
            State::Done | State::Failed(_) => Ok(()),
        }
    }

    /// Bytes of operand and fixed data after each opcode (with a CRC
    /// check's two bytes where the command always carries one).
    fn fixed_len(opcode: u8) -> Option<u8> {
        Some(match opcode {
            0x3B | 0x46 | 0xCE | 0x5E | 0x82 | 0xB2 | 0xB8 => 3,
            0xE2 | 0x22 | 0xB4 | 0xF6 | 0xA2 => 7,
            0x02 => 11,
            // USERCODE: operand, value; its CRC check is read after.
            0xC2 => 7,
            _ => return None,
        })
    }

    fn opcode(&mut self, b: u8) -> Result<(), ErrorKind> {
        if b == 0xFF {
            return Ok(()); // no-op, outside the CRC
        }
        let need = Self::fixed_len(b)
            .ok_or(ErrorKind::UnknownCommand { opcode: b })?;
        if b == 0x02 || b == 0xB8 {
            return Err(ErrorKind::Compressed);
        }
        self.crc = crc16_update(self.crc, b);
        self.have = 0;
        self.state = State::Fixed { opcode: b, need };
        Ok(())
    }

    fn word(&self) -> u32 {
        u32::from_be_bytes([self.buf[3], self.buf[4], self.buf[5], self.buf[6]])
    }

    /// A command's operand and fixed data are in; carries it out.
    fn command(&mut self, opcode: u8) -> Result<(), ErrorKind> {
        self.state = State::Opcode;
        match opcode {
            0x3B => self.crc = 0,
            0xE2 => {
                let found = self.word();
                if let Some(p) = self.part
                    && p.idcode != found
                {
                    return Err(ErrorKind::IdMismatch {
                        expected: p.idcode,
                        found,
                    });
                }
                self.summary.idcode = Some(found);
            }
            0xC2 => {
                self.summary.usercode = Some(self.word());
                if self.buf[0] & 0x80 != 0 {
                    self.state = State::Check { at: 0 };
                }
            }
            0x82 => return self.start_frames(),
            0xB2 => {
                let left =
                    u32::from(u16::from_be_bytes([self.buf[1], self.buf[2]]));
                self.state = if left == 0 {
                    State::Check { at: 0 }
                } else {
                    State::Ebr { left, at: 0 }
                };
            }
            0x5E => {
                self.summary.done = true;
                self.state = State::Done;
            }
            _ => {}
        }
        Ok(())
    }

    /// Takes CRC byte `at` (0 or 1) of a check; `Ok(true)` once the check
    /// is complete (and passed: the CRC then starts again).
    fn check_byte(&mut self, at: u8, b: u8) -> Result<bool, ErrorKind> {
        if at == 0 {
            self.check_high = b;
            return Ok(false);
        }
        let found = u16::from_be_bytes([self.check_high, b]);
        let computed = core::mem::replace(&mut self.crc, 0);
        if found != computed {
            return Err(ErrorKind::CrcMismatch { computed, found });
        }
        self.summary.crc_checks += 1;
        Ok(true)
    }

    /// LSC_PROG_INCR_RTI's operand is in: flags, then the frame count.
    fn start_frames(&mut self) -> Result<(), ErrorKind> {
        if self.summary.idcode.is_none() {
            return Err(ErrorKind::FramesBeforeId);
        }
        let flags = self.buf[0];
        let count = u16::from_be_bytes([self.buf[1], self.buf[2]]);
        let expected = self.part.map_or(0, |p| p.frames);
        if self.part.is_none() || count != expected {
            return Err(ErrorKind::FrameCountMismatch {
                expected,
                found: count,
            });
        }
        let check = flags & 0x80 != 0;
        let w = FrameWrite {
            left: count,
            at: 0,
            crc_each: check && flags & 0x40 == 0,
            crc_last: check,
            dummies: flags & 0x0F,
        };
        self.state = if count == 0 {
            State::Opcode
        } else {
            State::Frames(w)
        };
        Ok(())
    }

    /// One byte of a frame write: frame data, its CRC check (after each
    /// frame, or the last only), then its dummy bytes.
    fn frame_byte(
        &mut self,
        mut w: FrameWrite,
        b: u8,
    ) -> Result<(), ErrorKind> {
        let data = self.part.map_or(0, |p| p.frame_bytes);
        let checked = w.crc_each || (w.crc_last && w.left == 1);
        let crc_end = data + if checked { 2 } else { 0 };
        let end = crc_end + u16::from(w.dummies);
        if w.at < data || w.at >= crc_end {
            self.crc = crc16_update(self.crc, b);
        } else {
            self.check_byte((w.at - data) as u8, b)?;
        }
        w.at += 1;
        if w.at == end {
            self.summary.frames += 1;
            w.at = 0;
            w.left -= 1;
        }
        self.state = if w.left == 0 {
            State::Opcode
        } else {
            State::Frames(w)
        };
        Ok(())
    }

    /// One byte of an EBR write's 9-byte frames; the check follows them.
    fn ebr_byte(&mut self, left: u32, at: u8, b: u8) -> Result<(), ErrorKind> {
        self.crc = crc16_update(self.crc, b);
        let at = at + 1;
        self.state = if usize::from(at) < EBR_FRAME_BYTES {
            State::Ebr { left, at }
        } else {
            self.summary.ebr_frames += 1;
            if left > 1 {
                State::Ebr {
                    left: left - 1,
                    at: 0,
                }
            } else {
                State::Check { at: 0 }
            }
        };
        Ok(())
    }
}

/// What the bytes before the preamble say (see [`scan_header`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Header {
    /// The preamble starts at this offset; everything before it is a
    /// well-formed comment block or `0xFF` padding.
    Preamble(usize),
    /// The bytes so far are a valid start; the preamble is further on.
    NeedMore,
    /// Not an ECP5 image: something other than a comment block or
    /// padding before the preamble.
    Invalid,
}

/// Finds where the commands of an ECP5 image start, as a loader that
/// wants to refuse a foreign file before touching the device does: the
/// bytes before [`PREAMBLE`] must be `0xFF` padding, or the comment block
/// `ecppack` and Diamond write (`FF 00`, printable text and NULs, `FF`)
/// followed by padding. The device itself ignores them all; this only
/// tells an ECP5 image from, say, a Xilinx `.bit` sent to the wrong port.
pub fn scan_header(data: &[u8]) -> Header {
    let mut at = 0;
    if data.len() >= 2 && data[..2] == [0xFF, 0x00] {
        at = 2;
        loop {
            match data.get(at) {
                None => return Header::NeedMore,
                Some(0xFF) => break,
                Some(&b) if comment_byte(b) => at += 1,
                Some(_) => return Header::Invalid,
            }
        }
    }
    // Padding (including the comment's closing 0xFF), whose last two
    // bytes open the preamble.
    let pad = data[at..].iter().take_while(|&&b| b == 0xFF).count();
    let end = at + pad;
    match data.get(end..end + 2) {
        _ if end - at < 2 && end < data.len() => Header::Invalid,
        None if data.get(end).is_none_or(|&b| b == PREAMBLE[2]) => {
            Header::NeedMore
        }
        Some(&[a, b]) if a == PREAMBLE[2] && b == PREAMBLE[3] => {
            Header::Preamble(end - 2)
        }
        _ => Header::Invalid,
    }
}

/// NULs, printable ASCII and white space: what a comment block holds.
fn comment_byte(b: u8) -> bool {
    b == 0 || b.is_ascii_whitespace() || b.is_ascii_graphic()
}

/// Parses a whole stream held in memory.
///
/// # Errors
///
/// The first problem, as [`Parser::feed`] and [`Parser::finish`] report
/// it.
pub fn validate(data: &[u8], part: Option<Part>) -> Result<Summary, Error> {
    let mut p = Parser::new(part);
    p.feed(data)?;
    p.finish()
}

/// The part with this IDCODE.
pub fn part_by_idcode(idcode: u32) -> Option<Part> {
    PARTS.into_iter().find(|p| p.idcode == idcode)
}
