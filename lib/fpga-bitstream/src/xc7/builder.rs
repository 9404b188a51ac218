//! Writes valid 7-series configuration streams.
//!
//! We cannot run Vivado here, so test images come from this builder: the
//! packet sequence is the one Vivado writes and prjxray documents for the
//! XC7A50T (UG470 table 5-18 shape): padding, bus-width pattern, sync,
//! TIMER/WBSTAR/CMD NULL/RCRC, COR0/COR1/IDCODE/SWITCH, MASK/CTL0/CTL1,
//! FAR, WCFG, one type-2 FDRI write of all frames, the CRC check, then
//! GRESTORE, LFRM, START and DESYNC. Frame *contents* are whatever the
//! caller supplies; the device model checks the stream's structure, IDCODE
//! and CRC, not the meaning of the frames.

use super::{
    BUS_WIDTH_PATTERN, Command, DUMMY, FRAME_WORDS, NOP, Register, SYNC_WORD,
    bitfile, crc,
};

/// Why a stream could not be built.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The frame data is not a whole number of 101-word frames.
    PartialFrame {
        /// Words supplied.
        words: usize,
    },
    /// More frame words than a type-2 packet can count (2^27 - 1).
    TooLarge,
    /// A `.bit` header string is too long, or the data exceeds 4 GiB.
    HeaderField,
}

/// COR0 value from the prjxray XC7A50T walk-through.
const COR0: u32 = 0x0200_3FE5;

/// Builds a configuration stream for one device and frame payload.
#[derive(Copy, Clone, Debug)]
pub struct StreamBuilder<'a> {
    idcode: u32,
    frames: &'a [u32],
    leading_dummies: usize,
    trailing_nops: usize,
    crc_check: bool,
}

impl<'a> StreamBuilder<'a> {
    /// A builder writing `frames` (101 words each) to a device with
    /// `idcode`. Defaults: 8 leading dummy words, a CRC check, and 16 NOPs
    /// after DESYNC (Vivado pads its streams the same way, which also
    /// gives the startup sequence its clocks).
    ///
    /// # Errors
    ///
    /// [`BuildError::PartialFrame`], [`BuildError::TooLarge`].
    pub fn new(idcode: u32, frames: &'a [u32]) -> Result<Self, BuildError> {
        if !frames.len().is_multiple_of(FRAME_WORDS) {
            return Err(BuildError::PartialFrame {
                words: frames.len(),
            });
        }
        if frames.len() >= 1 << 27 {
            return Err(BuildError::TooLarge);
        }
        Ok(StreamBuilder {
            idcode,
            frames,
            leading_dummies: 8,
            trailing_nops: 16,
            crc_check: true,
        })
    }

    /// Sets the NOP words after DESYNC (0 ends the stream at DESYNC, so
    /// the host must clock the device on, as Linux's write_complete does).
    pub fn trailing_nops(mut self, n: usize) -> Self {
        self.trailing_nops = n;
        self
    }

    /// Leaves out the CRC check (prjxray notes that it is optional).
    pub fn without_crc_check(mut self) -> Self {
        self.crc_check = false;
        self
    }

    /// Length of the raw stream in bytes.
    pub fn len(&self) -> usize {
        let mut count = WordCounter(0);
        self.emit(&mut count);
        count.0 * 4
    }

    /// Whether the stream is empty (never: it always has packets).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the raw stream (`.bin`, device byte order) to `out`.
    pub fn write(&self, out: &mut impl FnMut(&[u8])) {
        let mut sink = ByteSink {
            out,
            buf: [0; 1024],
            len: 0,
        };
        self.emit(&mut sink);
        sink.flush();
    }

    /// Writes a `.bit` file: header fields, then the raw stream.
    ///
    /// # Errors
    ///
    /// [`BuildError::HeaderField`] for an over-long string.
    pub fn write_bit(
        &self,
        design: &str,
        part: &str,
        date: &str,
        time: &str,
        out: &mut impl FnMut(&[u8]),
    ) -> Result<(), BuildError> {
        let len =
            u32::try_from(self.len()).map_err(|_| BuildError::HeaderField)?;
        bitfile::write_bit_header(design, part, date, time, len, out)
            .map_err(|_| BuildError::HeaderField)?;
        self.write(out);
        Ok(())
    }

    fn emit(&self, w: &mut impl Words) {
        for _ in 0..self.leading_dummies {
            w.word(DUMMY);
        }
        w.words(&BUS_WIDTH_PATTERN);
        w.words(&[DUMMY, DUMMY, SYNC_WORD, NOP]);
        let mut s = Stream { w, crc: 0 };
        s.write(Register::Timer, 0);
        s.write(Register::Wbstar, 0);
        s.command(Command::Null);
        s.w.word(NOP);
        s.command(Command::Rcrc);
        s.w.words(&[NOP, NOP]);
        s.write(Register::Reserved13, 0);
        s.write(Register::Cor0, COR0);
        s.write(Register::Cor1, 0);
        s.write(Register::Idcode, self.idcode);
        s.command(Command::Switch);
        s.w.word(NOP);
        s.write(Register::Mask, 0x401);
        s.write(Register::Ctl0, 0x501);
        s.write(Register::Mask, 0);
        s.write(Register::Ctl1, 0);
        s.w.words(&[NOP; 8]);
        s.write(Register::Far, 0);
        s.command(Command::Wcfg);
        s.w.word(NOP);
        if !self.frames.is_empty() {
            s.w.word(Register::Fdri.write_header(0));
            s.w.word(0x5000_0000 | self.frames.len() as u32);
            for &f in self.frames {
                s.crc = crc::update(s.crc, Register::Fdri.address(), f);
            }
            s.w.words(self.frames);
        }
        if self.crc_check {
            let value = s.crc;
            s.w.words(&[Register::Crc.write_header(1), value]);
        }
        s.command(Command::Grestore);
        s.w.word(NOP);
        s.command(Command::Lfrm);
        s.w.words(&[NOP; 4]);
        s.command(Command::Start);
        s.w.word(NOP);
        s.command(Command::Desync);
        for _ in 0..self.trailing_nops {
            s.w.word(NOP);
        }
    }
}

/// Register writes with the CRC kept as the device keeps it.
struct Stream<'w, W: Words> {
    w: &'w mut W,
    crc: u32,
}

impl<W: Words> Stream<'_, W> {
    fn write(&mut self, register: Register, value: u32) {
        self.w.words(&[register.write_header(1), value]);
        self.crc = crc::update(self.crc, register.address(), value);
    }

    fn command(&mut self, command: Command) {
        self.write(Register::Cmd, command as u32);
        if command == Command::Rcrc {
            self.crc = 0;
        }
    }
}

trait Words {
    fn word(&mut self, w: u32);
    fn words(&mut self, ws: &[u32]) {
        for &w in ws {
            self.word(w);
        }
    }
}

struct WordCounter(usize);

impl Words for WordCounter {
    fn word(&mut self, _: u32) {
        self.0 += 1;
    }
    fn words(&mut self, ws: &[u32]) {
        self.0 += ws.len();
    }
}

/// Batches words into big-endian bytes so `out` sees a few large slices.
struct ByteSink<'o, F: FnMut(&[u8])> {
    out: &'o mut F,
    buf: [u8; 1024],
    len: usize,
}

impl<F: FnMut(&[u8])> ByteSink<'_, F> {
    fn flush(&mut self) {
        if self.len > 0 {
            (self.out)(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<F: FnMut(&[u8])> Words for ByteSink<'_, F> {
    fn word(&mut self, w: u32) {
        if self.len == self.buf.len() {
            self.flush();
        }
        self.buf[self.len..self.len + 4].copy_from_slice(&w.to_be_bytes());
        self.len += 4;
    }
}
