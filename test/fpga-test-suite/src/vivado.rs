//! The real Vivado stream (`test/bitstreams/xc7a35t-cmoda7-mandel.bit`,
//! blob `xc7_vivado`) through client, manager, driver and device model,
//! and copies of it edited here, word by word, as they stream out: a
//! flipped frame bit, a truncation, another part's IDCODE, the DEC bit
//! of an encrypted stream, and a compressed form using MFWR.
//!
//! No stream here comes from `fpga-bitstream`: the edits find their words
//! by value, and the compressed copy's CRC comes from this file's own
//! bitwise CRC. The 2 MiB image never sits in our RAM whole: each load
//! streams 16 KiB chunks through a scratch buffer.

use super::*;

/// Bytes per chunk of a streamed load.
const CHUNK: usize = 16 * 1024;

fn vivado() -> &'static [u8] {
    blob!(xc7_vivado)
}

/// Where `pattern` (big-endian words) starts in the first 4 KiB of the
/// image: the packets before the frame data.
#[track_caller]
fn find_words(pattern: &[u32]) -> usize {
    let img = vivado();
    let n = pattern.len() * 4;
    let head = &img[..4096.min(img.len())];
    (0..head.len().saturating_sub(n))
        .find(|&i| {
            pattern
                .iter()
                .enumerate()
                .all(|(k, w)| head[i + 4 * k..i + 4 * k + 4] == w.to_be_bytes())
        })
        .unwrap_or_else(|| panic!("{pattern:x?} not in the image's head"))
}

/// Offset of the sync word in the file.
fn sync_offset() -> usize {
    find_words(&[0xAA99_5566])
}

/// Where the raw data starts: after the `.bit` header's `e` field, 48
/// bytes before the sync word (32 bytes of 0xFF, the bus-width pattern,
/// 8 more of 0xFF).
#[track_caller]
fn raw_offset() -> usize {
    let raw = sync_offset() - 48;
    expect_eq!(vivado()[raw - 5], b'e');
    raw
}

/// Streams `len` bytes from `next` (which fills a buffer and returns how
/// many bytes it wrote, 0 at the end) into `dev` in one locked load.
pub(crate) fn load_streamed(
    dev: u8,
    len: usize,
    timeout: u32,
    next: &mut dyn FnMut(&mut [u8]) -> usize,
) -> Result<(), FpgaError> {
    let m = mgr();
    let lock = Device::new(&m, dev).lock().expect("lock");
    let mut load = lock.stream(0, len as u32, timeout)?;
    let buf = scratch(CHUNK);
    let mut sent = 0;
    loop {
        let n = next(buf);
        if n == 0 {
            break;
        }
        load.chunk(&buf[..n])?;
        sent += n;
    }
    expect_eq!(sent, len);
    load.finish()
}

/// Streams the fixture's bytes `range` with `edit(offset, chunk)`
/// applied to each chunk on its way out (`offset` counts from the start
/// of the file).
fn load_edited(
    range: core::ops::Range<usize>,
    timeout: u32,
    edit: &dyn Fn(usize, &mut [u8]),
) -> Result<(), FpgaError> {
    let img = &vivado()[..range.end];
    let len = range.len();
    let mut at = range.start;
    load_streamed(XC7, len, timeout, &mut |buf| {
        let n = buf.len().min(img.len() - at);
        buf[..n].copy_from_slice(&img[at..at + n]);
        edit(at, &mut buf[..n]);
        at += n;
        n
    })
}

/// XORs `mask` into the byte at image offset `target` if it is in the
/// chunk at `offset`.
pub(crate) fn xor_at(offset: usize, chunk: &mut [u8], target: usize, mask: u8) {
    if let Some(b) = target.checked_sub(offset).and_then(|i| chunk.get_mut(i)) {
        *b ^= mask;
    }
}

/// A failed load left the device failed as the pins say, and the real
/// image loads right after.
#[track_caller]
fn expect_failed_then_good(
    r: Result<(), FpgaError>,
    error: FpgaError,
    bits: u64,
) {
    expect_eq!(r, Err(error));
    expect_eq!(state(XC7), FpgaState::WriteCompleteErr);
    expect!(hardware(XC7) != Ok(FpgaState::Operating), "configured");
    expect_eq!(mgr().status(XC7), Ok(bits));
    expect_good_load(XC7, vivado());
}

/// The real fixture, whole, then streamed: OPERATING and DONE high.
pub fn test_xc7_vivado_real() {
    expect_good_load(XC7, vivado());
    let len = vivado().len();
    expect_eq!(load_edited(0..len, TIMEOUT_MS, &|_, _| {}), Ok(()));
    // As a `.bin`: the raw data after the header.
    let raw = raw_offset();
    expect_eq!(load_edited(raw..len, TIMEOUT_MS, &|_, _| {}), Ok(()));
    expect_operating(XC7);
    expect_operating(XC7);
}

/// One flipped bit in the middle of the frame data: the first CRC check
/// fails, INIT_B goes low.
pub fn test_xc7_vivado_bitflip() {
    let target = vivado().len() / 2;
    let r = load_edited(0..vivado().len(), TIMEOUT_MS, &|at, chunk| {
        xor_at(at, chunk, target, 0x01)
    });
    let bits = status::OPERATION_ERR | status::CRC_ERR;
    expect_failed_then_good(r, FpgaError::WriteCompleteFailed, bits);
}

/// A `.bit` cut short is caught by the driver (its header's length
/// outruns the image). The raw data cut in half, and without its last
/// 2 KiB (DESYNC and the second CRC check gone), reaches the device:
/// INIT_B stays high, DONE low, the driver times out ("missing sync word
/// or incomplete bitstream").
pub fn test_xc7_vivado_truncated() {
    let (raw, len) = (raw_offset(), vivado().len());
    let r = load_edited(0..len - 2048, TIMEOUT_MS, &|_, _| {});
    expect_eq!(r, Err(FpgaError::HeaderInvalid));
    expect_eq!(state(XC7), FpgaState::ParseHeaderErr);
    expect_good_load(XC7, vivado());
    for end in [raw + (len - raw) / 2, len - 2048] {
        let r = load_edited(raw..end, 300, &|_, _| {});
        expect_failed_then_good(r, FpgaError::Timeout, status::OPERATION_ERR);
    }
}

/// The IDCODE write's value made the XC7A100T's (0x03631093, UG470
/// table 1-1): the device's ID check fails, INIT_B low.
pub fn test_xc7_vivado_wrong_part() {
    // Edit: the IDCODE write (header 0x30018001) keeps its header; its
    // value's second byte 0x62 becomes 0x63 and third 0xD0 becomes 0x10.
    let value = find_words(&[0x3001_8001, 0x0362_D093]) + 4;
    let r = load_edited(0..vivado().len(), TIMEOUT_MS, &|at, chunk| {
        xor_at(at, chunk, value + 1, 0x62 ^ 0x63);
        xor_at(at, chunk, value + 2, 0xD0 ^ 0x10);
    });
    let bits = status::OPERATION_ERR | status::CRC_ERR;
    expect_failed_then_good(r, FpgaError::WriteCompleteFailed, bits);
}

/// The first MASK/CTL0 pair (0x401, 0x501) with bit 6, DEC, also set, as
/// an encrypted Vivado stream writes it: the device has no key and
/// refuses at once (INIT_B low); it still loads the plain stream after.
pub fn test_xc7_encrypted_refused() {
    // Edit: the low bytes of both values, 0x01 -> 0x41.
    let at = find_words(&[0x3000_C001, 0x401, 0x3000_A001, 0x501]);
    let r = load_edited(0..vivado().len(), TIMEOUT_MS, &|off, chunk| {
        xor_at(off, chunk, at + 7, 0x40);
        xor_at(off, chunk, at + 15, 0x40);
    });
    let bits = status::OPERATION_ERR | status::CRC_ERR;
    expect_failed_then_good(r, FpgaError::WriteCompleteFailed, bits);
}

/// The fixture with every run of identical frames written once and the
/// repeats copied by MFWR (UG470 "Multiple Frame Write", what
/// `BITSTREAM.GENERAL.COMPRESS` does): it configures, and is shorter.
pub fn test_xc7_compressed() {
    let mut c = Compressor::new();
    let len = c.len();
    expect!(len < vivado().len(), "not shorter: {len}");
    let mut c = Compressor::new();
    let r = load_streamed(XC7, len, TIMEOUT_MS, &mut |buf| c.fill(buf));
    expect_eq!(r, Ok(()));
    expect_operating(XC7);
}

// ---------------------------------------------------------------------
// The compressed copy, produced word by word.

const NOP: u32 = 0x2000_0000;
const FRAME: usize = 101;

/// A type-1 write header: `001 10 <address> 00 <count>` (UG470).
const fn t1(address: u32, count: u32) -> u32 {
    0x3000_0000 | (address << 13) | count
}

/// Where we are in the output.
#[derive(Copy, Clone)]
enum Phase {
    /// Copying fixture words up to the FDRI type-1 header.
    Prefix(usize),
    /// Frame words `at..end` (indices into the frame data).
    Data {
        at: usize,
        end: usize,
    },
    /// Copies of frame `of`; `next` is the next frame index.
    Copies {
        of: usize,
        next: usize,
    },
    /// Fixture words after the frame data.
    Suffix(usize),
    Done,
}

/// Writes the compressed stream; fixes the CRC checks as it goes.
struct Compressor {
    /// Word index of the FDRI type-1 header with count 0.
    fdri: usize,
    /// Frames in the fixture's type-2 write.
    frames: usize,
    phase: Phase,
    queue: [u32; 8],
    queued: (usize, usize),
    crc: CrcWalker,
    bytes_total: usize,
}

impl Compressor {
    fn new() -> Self {
        // We send a `.bin`: the raw data after the `.bit` header.
        let raw = raw_offset();
        expect_eq!(raw % 4, 3);
        let fdri = (find_words(&[t1(2, 0)]) - 3) / 4;
        let type2 = word_at_grid(fdri + 1);
        Compressor {
            fdri,
            frames: (type2 & 0x07FF_FFFF) as usize / FRAME,
            phase: Phase::Prefix((raw - 3) / 4),
            queue: [0; 8],
            queued: (0, 0),
            crc: CrcWalker::new(),
            bytes_total: 0,
        }
    }

    /// The length of the whole output, by running a copy of it.
    fn len(&mut self) -> usize {
        let buf = scratch(CHUNK);
        while self.fill(buf) > 0 {}
        self.bytes_total
    }

    fn frame_word(&self, frame: usize, k: usize) -> u32 {
        word_at_grid(self.fdri + 2 + frame * FRAME + k)
    }

    fn same(&self, a: usize, b: usize) -> bool {
        (0..FRAME).all(|k| self.frame_word(a, k) == self.frame_word(b, k))
    }

    fn push(&mut self, words: &[u32]) {
        let (_, end) = self.queued;
        self.queue[end..end + words.len()].copy_from_slice(words);
        self.queued.1 += words.len();
    }

    /// Starts the group of distinct frames at `k`.
    fn group(&mut self, k: usize) -> Phase {
        if k >= self.frames {
            return Phase::Suffix(self.fdri + 2 + self.frames * FRAME);
        }
        let mut end = k + 1;
        while end < self.frames && !self.same(end, end - 1) {
            end += 1;
        }
        let count = ((end - k) * FRAME) as u32;
        self.push(&[t1(1, 1), k as u32, t1(4, 1), 1, NOP]);
        self.push(&[t1(2, 0), 0x5000_0000 | count]);
        Phase::Data {
            at: k * FRAME,
            end: end * FRAME,
        }
    }

    /// The next output word, before the CRC fix.
    fn next_word(&mut self) -> Option<u32> {
        loop {
            let (at, end) = self.queued;
            if at < end {
                self.queued.0 += 1;
                return Some(self.queue[at]);
            }
            self.queued = (0, 0);
            match self.phase {
                Phase::Prefix(i) if i < self.fdri => {
                    self.phase = Phase::Prefix(i + 1);
                    return Some(word_at_grid(i));
                }
                Phase::Prefix(_) => self.phase = self.group(0),
                Phase::Data { at, end } if at < end => {
                    self.phase = Phase::Data { at: at + 1, end };
                    return Some(word_at_grid(self.fdri + 2 + at));
                }
                Phase::Data { end, .. } => {
                    let of = end / FRAME - 1;
                    self.phase = Phase::Copies { of, next: of + 1 };
                }
                Phase::Copies { of, next } => {
                    if next < self.frames && self.same(next, of) {
                        if next == of + 1 {
                            // CMD MFW, then one MFWR packet per copy.
                            self.push(&[t1(4, 1), 2, NOP]);
                        }
                        self.push(&[t1(1, 1), next as u32, t1(0x0A, 2), 0, 0]);
                        self.phase = Phase::Copies { of, next: next + 1 };
                    } else {
                        self.phase = self.group(next);
                    }
                }
                Phase::Suffix(i) if 4 * i + 3 + 4 <= vivado().len() => {
                    self.phase = Phase::Suffix(i + 1);
                    return Some(word_at_grid(i));
                }
                Phase::Suffix(_) | Phase::Done => {
                    self.phase = Phase::Done;
                    return None;
                }
            }
        }
    }

    /// Fills `buf` with the next words. Returns the bytes written.
    fn fill(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n + 4 <= buf.len() {
            let Some(w) = self.next_word() else { break };
            let w = self.crc.word(w);
            buf[n..n + 4].copy_from_slice(&w.to_be_bytes());
            n += 4;
        }
        self.bytes_total += n;
        n
    }
}

/// Word `i` of the grid that starts 3 bytes into the file (where the
/// raw data and the sync word, at offset 163, fall on word boundaries).
fn word_at_grid(i: usize) -> u32 {
    let b = &vivado()[3 + 4 * i..3 + 4 * i + 4];
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Follows the packets of the words passing through and replaces each
/// CRC check's value with the CRC of what came before it, by the rules
/// of the real streams: every write but CRC's extends it (prjxray's
/// 37-bit CRC-32C, bit by bit), and RCRC and each check reset it.
struct CrcWalker {
    synced: bool,
    done: bool,
    crc: u32,
    address: u32,
    remaining: u32,
}

impl CrcWalker {
    fn new() -> Self {
        CrcWalker {
            synced: false,
            done: false,
            crc: 0,
            address: 0,
            remaining: 0,
        }
    }

    fn word(&mut self, w: u32) -> u32 {
        if self.done {
            return w;
        }
        if !self.synced {
            self.synced = w == 0xAA99_5566;
            return w;
        }
        if self.remaining > 0 {
            self.remaining -= 1;
            return self.payload(w);
        }
        let write = (w >> 27) & 3 == 2;
        match w >> 29 {
            1 if write => {
                self.address = (w >> 13) & 0x1F;
                self.remaining = w & 0x7FF;
            }
            2 if write => self.remaining = w & 0x07FF_FFFF,
            _ => {}
        }
        w
    }

    fn payload(&mut self, w: u32) -> u32 {
        if self.address == 0 {
            let value = self.crc;
            self.crc = 0;
            return value;
        }
        self.crc = crc_step(self.crc, self.address, w);
        if self.address == 4 && w == 7 {
            self.crc = 0;
        }
        if self.address == 4 && w == 0xD {
            self.done = true;
        }
        w
    }
}

fn crc_step(mut crc: u32, address: u32, data: u32) -> u32 {
    let mut v = ((address as u64) << 32) | data as u64;
    for _ in 0..37 {
        let feedback = (crc ^ v as u32) & 1;
        crc >>= 1;
        if feedback != 0 {
            crc ^= 0x82F6_3B78;
        }
        v >>= 1;
    }
    crc
}
