//! The real Vivado stream in `test/bitstreams/` (its README gives the
//! source and licence) against the parser: an oracle the parser's authors
//! did not write.
//!
//! Every variant here is the real stream with a few words edited in the
//! test, each edit documented where it is made; the words are decoded and
//! re-encoded by this file's own helpers and its own bitwise CRC, never
//! by the crate under test.

use fpga_bitstream::xc7::{self, bitfile, parser, parser::ErrorKind};
use sha2::{Digest, Sha256};

/// sha256 of `xc7a35t-cmoda7-mandel.bit`, so a changed file is noticed.
const FIXTURE_SHA256: &str =
    "b5bcedb7074106b12e3419987ba6bac089f38e3a8c19cb0165a4f6fe1ea59448";

fn fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/bitstreams/xc7a35t-cmoda7-mandel.bit"
    );
    let bit = std::fs::read(path).expect("the fixture is checked in");
    let hash: String = Sha256::digest(&bit)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hash, FIXTURE_SHA256, "the fixture changed");
    bit
}

/// The raw stream as big-endian words (its length is a multiple of 4).
fn words() -> Vec<u32> {
    let bit = fixture();
    let h = bitfile::parse_bit_header(&bit).unwrap();
    bit[h.data_offset..]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

fn validate(words: &[u32]) -> Result<parser::Summary, parser::Error> {
    parser::validate(&bytes(words), Some(xc7::XC7A35T), false)
}

/// Index of the first occurrence of `pattern` in `words`.
fn find(words: &[u32], pattern: &[u32]) -> usize {
    words
        .windows(pattern.len())
        .position(|w| w == pattern)
        .unwrap_or_else(|| panic!("{pattern:08x?} not in the stream"))
}

// UG470 packet encodings, written out here rather than taken from the
// crate: type-1 write = 001 10 <14-bit address> 00 <11-bit count>.
const fn t1(address: u32, count: u32) -> u32 {
    0x3000_0000 | (address << 13) | count
}
const CRC: u32 = 0x00;
const FAR: u32 = 0x01;
const FDRI: u32 = 0x02;
const CMD: u32 = 0x04;
const CTL0: u32 = 0x05;
const MASK: u32 = 0x06;
const MFWR: u32 = 0x0A;
const IDCODE: u32 = 0x0C;
const NOP: u32 = 0x2000_0000;
const CMD_WCFG: u32 = 0x1;
const CMD_MFW: u32 = 0x2;
const CMD_RCRC: u32 = 0x7;

/// prjxray's `icap_crc`, bit by bit: the 37-bit (address, data) value
/// shifted LSB first through reflected CRC-32C.
fn crc_step(mut crc: u32, address: u32, data: u32) -> u32 {
    let mut v = ((address as u64) << 32) | data as u64;
    for _ in 0..37 {
        let fb = (crc ^ v as u32) & 1;
        crc >>= 1;
        if fb != 0 {
            crc ^= 0x82F6_3B78;
        }
        v >>= 1;
    }
    crc
}

/// Recomputes every CRC check value of a (possibly edited) stream with
/// the rules the two real streams show: RCRC and each check reset it.
/// Walks type-1/type-2 packets after the sync word until DESYNC.
fn fix_crcs(words: &mut [u32]) {
    let mut i = find(words, &[0xAA99_5566]) + 1;
    let (mut crc, mut last) = (0u32, 0u32);
    while i < words.len() {
        let h = words[i];
        i += 1;
        let (address, count) = match h >> 29 {
            1 if (h >> 27) & 3 == 2 => {
                last = (h >> 13) & 0x1F;
                (last, h & 0x7FF)
            }
            2 if (h >> 27) & 3 == 2 => (last, h & 0x07FF_FFFF),
            _ => continue,
        };
        let end = (i + count as usize).min(words.len());
        for word in &mut words[i..end] {
            if address == CRC {
                *word = crc;
                crc = 0;
                continue;
            }
            crc = crc_step(crc, address, *word);
            if address == CMD && *word == CMD_RCRC {
                crc = 0;
            }
            if address == CMD && *word == 0xD {
                return;
            }
        }
        i += count as usize;
    }
}

#[test]
fn the_real_vivado_stream_validates_for_its_part() {
    let bit = fixture();
    let h = bitfile::parse_bit_header(&bit).unwrap();
    assert_eq!(h.part, b"7a35tcpg236");
    let raw = &bit[h.data_offset..];
    let d = bitfile::detect(&bit).unwrap();
    assert_eq!(d.format, bitfile::Format::Bit);
    assert_eq!(d.sync_offset, 163);
    let s = parser::validate(raw, Some(xc7::XC7A35T), false).unwrap();
    assert_eq!(s.idcode, Some(xc7::XC7A35T.idcode));
    assert_eq!(s.crc_checks, 2);
    assert_eq!(s.last_crc, Some(0xE3AD_7EA5));
    assert_eq!(s.frame_words, xc7::XC7A35T.frame_words() as u64);
    assert_eq!(s.frames_copied, 0);
    assert!(s.started);
}

#[test]
fn our_crc_rules_reproduce_both_real_check_values() {
    // Recomputing every check from scratch with this file's CRC gives the
    // values Vivado wrote: the reset-after-check rule is Vivado's.
    let real = words();
    let mut again = real.clone();
    fix_crcs(&mut again);
    assert_eq!(again, real);
}

#[test]
fn a_byte_swapped_bin_of_the_real_stream_is_detected_and_parses() {
    let mut raw = bytes(&words());
    bitfile::swap_words(&mut raw);
    let d = bitfile::detect(&raw).unwrap();
    assert_eq!(d.format, bitfile::Format::BinSwapped);
    let s = parser::validate(&raw, Some(xc7::XC7A35T), true).unwrap();
    assert_eq!(s.crc_checks, 2);
    // Read in device order, it is noise before a sync word never seen.
    let e = parser::validate(&raw, Some(xc7::XC7A35T), false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSync);
}

#[test]
fn a_flipped_frame_bit_fails_the_first_crc_check() {
    let mut w = words();
    // Edit: flip bit 0 of a word in the middle of the frame data.
    let fdri = find(&w, &[t1(FDRI, 0)]) + 2;
    w[fdri + 1000] ^= 1;
    let e = validate(&w).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::CrcMismatch { found, .. }
        if found == 0x84B6_95C3),
        "{e:?}"
    );
}

#[test]
fn a_truncated_stream_is_reported_as_truncated() {
    let w = words();
    for keep in [w.len() / 2, w.len() - 420, 100] {
        let e = validate(&w[..keep]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated, "keeping {keep} words");
    }
}

#[test]
fn the_real_stream_fails_the_idcode_check_on_every_other_part() {
    let raw = bytes(&words());
    for part in xc7::PARTS.into_iter().filter(|p| *p != xc7::XC7A35T) {
        let e = parser::validate(&raw, Some(part), false).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::IdcodeMismatch {
                expected: part.idcode,
                found: xc7::XC7A35T.idcode
            },
            "{}",
            part.name
        );
    }
}

#[test]
fn a_stream_with_an_edited_idcode_and_fixed_crc_still_fails_on_the_35t() {
    let mut w = words();
    // Edit: the IDCODE write's value becomes the 50T's, and the CRC
    // checks are recomputed, so only the IDCODE is wrong.
    let at = find(&w, &[t1(IDCODE, 1)]) + 1;
    w[at] = 0x0362_C093;
    fix_crcs(&mut w);
    let e = validate(&w).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::IdcodeMismatch { .. }), "{e:?}");
    let ok = parser::validate(&bytes(&w), Some(xc7::XC7A50T), false);
    assert_eq!(ok.map(|s| s.crc_checks), Ok(2));
}

#[test]
fn setting_ctl0_dec_marks_the_stream_encrypted() {
    let mut w = words();
    // Edit: the first MASK/CTL0 pair (0x401, 0x501) also sets bit 6,
    // DEC, as an encrypted Vivado stream does.
    let at = find(&w, &[t1(MASK, 1), 0x401, t1(CTL0, 1), 0x501]);
    w[at + 1] |= 1 << 6;
    w[at + 3] |= 1 << 6;
    let e = validate(&w).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Encrypted { .. }), "{e:?}");
    // DEC written but masked off changes nothing: MASK keeps bit 6 clear.
    let mut w = words();
    w[at + 3] |= 1 << 6;
    fix_crcs(&mut w);
    assert!(validate(&w).is_ok());
}

#[test]
fn a_cbc_write_marks_the_stream_encrypted() {
    let mut w = words();
    // Edit: the NOP before the first FAR write becomes a CBC (0x0B)
    // write header with one word, eating the FAR header as its IV.
    let at = find(&w, &[NOP, t1(FAR, 1), 0]);
    w[at] = t1(0x0B, 1);
    let e = validate(&w).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Encrypted { .. }), "{e:?}");
}

/// The real stream with every run of identical frames written once and
/// copied by MFWR, as `BITSTREAM.GENERAL.COMPRESS` does (UG470 "Multiple
/// Frame Write"): FAR, CMD MFW, then one MFWR packet per copy. The frame
/// address written is the frame's index (the model does not decode FAR,
/// and real addresses need the die's column map).
fn compressed() -> (Vec<u32>, usize) {
    let w = words();
    let type1 = find(&w, &[t1(FDRI, 0)]);
    let n = (w[type1 + 1] & 0x07FF_FFFF) as usize;
    let data = &w[type1 + 2..type1 + 2 + n];
    let frames: Vec<&[u32]> = data.chunks(101).collect();
    let mut out = w[..type1].to_vec();
    let mut copies = 0;
    let mut k = 0;
    while k < frames.len() {
        // A run of distinct frames, then the copies of its last one.
        let mut end = k + 1;
        while end < frames.len() && frames[end] != frames[end - 1] {
            end += 1;
        }
        out.extend([t1(FAR, 1), k as u32, t1(CMD, 1), CMD_WCFG, NOP]);
        out.extend([t1(FDRI, 0), 0x5000_0000 | ((end - k) * 101) as u32]);
        for f in &frames[k..end] {
            out.extend_from_slice(f);
        }
        let mut copy = end;
        while copy < frames.len() && frames[copy] == frames[end - 1] {
            if copy == end {
                out.extend([t1(CMD, 1), CMD_MFW, NOP]);
            }
            out.extend([t1(FAR, 1), copy as u32, t1(MFWR, 2), 0, 0]);
            copies += 1;
            copy += 1;
        }
        k = copy;
    }
    out.extend_from_slice(&w[type1 + 2 + n..]);
    fix_crcs(&mut out);
    (out, copies)
}

#[test]
fn a_compressed_copy_of_the_real_stream_loads() {
    let (w, copies) = compressed();
    assert!(copies > 1000, "only {copies} repeated frames");
    assert!(w.len() < words().len(), "did not shrink");
    eprintln!(
        "compressed: {} words of {}, {copies} copies",
        w.len(),
        words().len()
    );
    let s = validate(&w).unwrap();
    assert_eq!(s.frames_copied as usize, copies);
    assert_eq!(s.crc_checks, 2);
    // Written plus copied, the frames are the whole array.
    let total = s.frame_words + 101 * s.frames_copied as u64;
    assert_eq!(total, xc7::XC7A35T.frame_words() as u64);
}

#[test]
fn mfwr_without_mfw_is_refused() {
    let (mut w, _) = compressed();
    // Edit: the first CMD MFW becomes CMD NULL.
    let at = find(&w, &[t1(CMD, 1), CMD_MFW]);
    w[at + 1] = 0;
    fix_crcs(&mut w);
    let e = validate(&w).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MfwrWithoutFrame);
}

#[test]
fn more_frames_than_the_part_has_overrun() {
    let mut w = words();
    // Edit: the type-2 FDRI count grows by one frame, and one frame of
    // zeros is inserted after the frame data.
    let type2 = find(&w, &[t1(FDRI, 0)]) + 1;
    let n = (w[type2] & 0x07FF_FFFF) as usize;
    w[type2] += 101;
    let end = type2 + 1 + n;
    w.splice(end..end, [0u32; 101]);
    fix_crcs(&mut w);
    let e = validate(&w).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::FrameOverrun {
            limit: xc7::XC7A35T.frame_words()
        }
    );
    // A larger part takes it (its IDCODE aside).
    let mut big = w.clone();
    let at = find(&big, &[t1(IDCODE, 1)]) + 1;
    big[at] = xc7::XC7A100T.idcode;
    fix_crcs(&mut big);
    let s = parser::validate(&bytes(&big), Some(xc7::XC7A100T), false);
    assert!(s.is_ok(), "{s:?}");
}

#[test]
fn every_part_has_a_whole_number_of_frames() {
    for p in xc7::PARTS {
        assert_eq!(p.frame_words() % 101, 0, "{}", p.name);
    }
    assert_eq!(xc7::XC7A35T.frames(), 5420);
}

/// A stream from its sync word as packets: NOP runs, and each write as
/// (address, word count, its value unless it is frame data or a CRC).
fn packets(w: &[u32]) -> Vec<String> {
    let mut i = find(w, &[0xAA99_5566]) + 1;
    let (mut out, mut nops, mut last) = (Vec::new(), 0, 0);
    while i < w.len() {
        let h = w[i];
        i += 1;
        if h == NOP {
            nops += 1;
            continue;
        }
        if nops > 0 {
            out.push(format!("NOP x{nops}"));
            nops = 0;
        }
        let (address, count) = match h >> 29 {
            1 => {
                last = (h >> 13) & 0x1F;
                (last, h & 0x7FF)
            }
            2 => (last, h & 0x07FF_FFFF),
            _ => panic!("word {h:08x} at {i}"),
        };
        let shown = match (address, h >> 29) {
            (FDRI, _) | (CRC, _) => "data".to_string(),
            (_, _) if count == 1 => format!("{:#x}", w[i]),
            _ => format!("{count} words"),
        };
        out.push(format!("write {address:#04x} {shown}"));
        i += count as usize;
    }
    out.push(format!("NOP x{nops}"));
    out
}

#[test]
fn the_benchmark_builder_writes_the_real_streams_packets() {
    let frames: Vec<u32> = (0..12 * 101).collect();
    let mut built = Vec::new();
    xc7::StreamBuilder::new(xc7::XC7A35T.idcode, &frames)
        .unwrap()
        .write(&mut |d| built.extend_from_slice(d));
    let built: Vec<u32> = built
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    assert_eq!(packets(&built), packets(&words()));
    // And the split form the 32 MiB benchmark uses loads on the part.
    let mut split = Vec::new();
    let many: Vec<u32> = (0..(5420 + 7) * 101).collect();
    xc7::StreamBuilder::new(xc7::XC7A35T.idcode, &many)
        .unwrap()
        .frames_per_write(xc7::XC7A35T.frames() as usize)
        .write(&mut |d| split.extend_from_slice(d));
    let s = parser::validate(&split, Some(xc7::XC7A35T), false).unwrap();
    assert_eq!(s.frame_words, many.len() as u64);
    assert_eq!(s.crc_checks, 2);
}
