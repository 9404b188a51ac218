//! Writes valid 7-series configuration streams.
//!
//! Only the 32 MiB throughput benchmark uses it: every test stream is the
//! real Vivado fixture in `test/bitstreams/` or an edited copy of it, so
//! the model is never checked against streams its own crate wrote. The
//! packet sequence is the real fixture's, packet for packet (a test in
//! `tests/vivado_fixture.rs` compares them): padding, bus-width pattern,
//! sync, TIMER/WBSTAR/CMD NULL/RCRC, RBCRC_SW, COR0/COR1/IDCODE/SWITCH,
//! MASK/CTL0/MASK/CTL1, FAR, WCFG, a type-2 FDRI write of the frames, the
//! first CRC check, GRESTORE, LFRM, 100 NOPs, START, FAR/MASK/CTL0, the
//! second CRC check, DESYNC and 400 NOPs. Frame *contents* are whatever
//! the caller supplies.
//!
//! A stream longer than a part's configuration array is split into FDRI
//! writes of at most [`StreamBuilder::frames_per_write`] frames, each
//! after `FAR <- 0` and WCFG: the same frames written again from the
//! first address, which a device accepts (the 32 MiB benchmark is larger
//! than any single-die 7-series array).

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
    frames_per_write: usize,
}

impl<'a> StreamBuilder<'a> {
    /// A builder writing `frames` (101 words each) to a device with
    /// `idcode`. Defaults: 8 leading dummy words, the CRC checks, 400
    /// NOPs after DESYNC (as Vivado pads its streams, which also gives the
    /// startup sequence its clocks), and all frames in one FDRI write.
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
            trailing_nops: 400,
            crc_check: true,
            frames_per_write: usize::MAX,
        })
    }

    /// Splits the frame data into FDRI writes of at most `frames` frames
    /// (at least 1), each from frame address 0.
    pub fn frames_per_write(mut self, frames: usize) -> Self {
        self.frames_per_write = frames.max(1);
        self
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
        s.write(Register::RbcrcSw, 0);
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
        let per_write = self.frames_per_write.saturating_mul(FRAME_WORDS);
        let mut chunks = self.frames.chunks(per_write.max(FRAME_WORDS));
        let first = chunks.next().unwrap_or(&[]);
        for chunk in core::iter::once(first).chain(chunks) {
            s.write(Register::Far, 0);
            s.command(Command::Wcfg);
            s.w.word(NOP);
            if !chunk.is_empty() {
                s.w.word(Register::Fdri.write_header(0));
                s.w.word(0x5000_0000 | chunk.len() as u32);
                for &f in chunk {
                    s.crc = crc::update(s.crc, Register::Fdri.address(), f);
                }
                s.w.words(chunk);
            }
        }
        s.check(self.crc_check);
        s.w.words(&[NOP; 2]);
        s.command(Command::Grestore);
        s.w.word(NOP);
        s.command(Command::Lfrm);
        s.w.words(&[NOP; 100]);
        s.command(Command::Start);
        s.w.word(NOP);
        s.write(Register::Far, END_FAR);
        s.write(Register::Mask, 0x501);
        s.write(Register::Ctl0, 0x501);
        s.check(self.crc_check);
        s.w.words(&[NOP; 2]);
        s.command(Command::Desync);
        for _ in 0..self.trailing_nops {
            s.w.word(NOP);
        }
    }
}

/// The frame address Vivado writes after START in the XC7A35T fixture.
const END_FAR: u32 = 0x03BE_0000;

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

    /// A CRC check (which starts the CRC again), or nothing.
    fn check(&mut self, enabled: bool) {
        if enabled {
            self.w.words(&[Register::Crc.write_header(1), self.crc]);
            self.crc = 0;
        }
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
