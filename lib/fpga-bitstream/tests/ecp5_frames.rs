//! An ECP5 frame write's CRC options (LSC_PROG_INCR_RTI's flags byte:
//! bit 7 "check", bit 6 "only after the last frame", bits 3-0 dummy bytes
//! per frame) against the real 25F image in `test/bitstreams/`, which
//! checks every frame (flags 0x91), rewritten here to check only the last
//! frame or none. CRCs are computed here, bit by bit.

use fpga_bitstream::ecp5::{self, ErrorKind};

const PART: ecp5::Part = ecp5::LFE5U_25F;

fn image() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/bitstreams/ecp5-25f-blinky.bit"
    );
    std::fs::read(path).expect("the image is checked in")
}

/// CRC-16/UMTS (poly 0x8005, MSB first, init 0), one bit at a time.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in bytes {
        for i in (0..8).rev() {
            let top = (crc >> 15) as u8 ^ ((b >> i) & 1);
            crc <<= 1;
            if top != 0 {
                crc ^= 0x8005;
            }
        }
    }
    crc
}

/// Where ecppack's image is laid out: LSC_RESET_CRC (0x3B) ends at
/// `crc_from`, the frame write (0x82, flags 0x91, 7562 frames) starts at
/// `write`, and each frame is 74 data bytes, its CRC and one dummy byte.
struct Layout {
    crc_from: usize,
    write: usize,
}

fn layout(bit: &[u8]) -> Layout {
    let write = bit
        .windows(4)
        .position(|w| w == [0x82, 0x91, 0x1D, 0x8A])
        .expect("LSC_PROG_INCR_RTI");
    let reset = bit
        .windows(4)
        .position(|w| w == [0x3B, 0, 0, 0])
        .expect("LSC_RESET_CRC");
    Layout {
        crc_from: reset + 4,
        write,
    }
}

const FRAME: usize = 74;
const STRIDE: usize = FRAME + 2 + 1;

/// The image with its frame write's flags set to `flags` (0x11: no check;
/// 0xD1: a check after the last frame only), the frames' CRCs rewritten
/// to match, and the USERCODE check after them too when nothing checked
/// the last frame.
fn rewritten(flags: u8) -> Vec<u8> {
    let bit = image();
    let l = layout(&bit);
    let frames = usize::from(PART.frames);
    let last_checked = flags & 0x80 != 0;
    let mut out = bit[..l.write].to_vec();
    out.extend_from_slice(&[0x82, flags, 0x1D, 0x8A]);
    let mut at = l.write + 4;
    for k in 0..frames {
        out.extend_from_slice(&bit[at..at + FRAME]);
        if k == frames - 1 && last_checked {
            let crc = crc16(&out[l.crc_from..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        out.push(bit[at + FRAME + 2]);
        at += STRIDE;
    }
    let tail = out.len();
    out.extend_from_slice(&bit[at..]);
    if !last_checked {
        // The USERCODE command's check now covers everything since the
        // CRC was reset (0xFF bytes between commands are no-ops outside
        // it).
        let user = tail
            + out[tail..]
                .windows(2)
                .position(|w| w == [0xC2, 0x80])
                .expect("USERCODE");
        let mut covered = out[l.crc_from..tail].to_vec();
        covered.extend_from_slice(&out[user..user + 8]);
        let crc = crc16(&covered);
        out[user + 8..user + 10].copy_from_slice(&crc.to_be_bytes());
    }
    out
}

#[test]
fn the_real_image_checks_every_frame() {
    let s = ecp5::validate(&image(), Some(PART)).unwrap();
    // One check per frame, then the USERCODE's.
    assert_eq!(s.crc_checks, u32::from(PART.frames) + 1);
}

#[test]
fn a_frame_write_may_check_only_its_last_frame() {
    let s = ecp5::validate(&rewritten(0xD1), Some(PART)).unwrap();
    assert_eq!(s.frames, u32::from(PART.frames));
    assert_eq!(s.crc_checks, 2);
    assert!(s.done);
}

#[test]
fn a_frame_write_without_the_check_bit_has_no_check() {
    let s = ecp5::validate(&rewritten(0x11), Some(PART)).unwrap();
    assert_eq!(s.frames, u32::from(PART.frames));
    assert_eq!(s.crc_checks, 1);
    assert!(s.done);
}

#[test]
fn a_changed_frame_fails_the_one_check_at_the_end() {
    let mut bad = rewritten(0xD1);
    let l = layout(&image());
    // Frame 100's first data byte.
    bad[l.write + 4 + 100 * (FRAME + 1)] ^= 0x01;
    let e = ecp5::validate(&bad, Some(PART)).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::CrcMismatch { .. }), "{e:?}");
    // Found at the last frame's CRC (its second byte), not at frame 100.
    let last = l.write + 4 + (usize::from(PART.frames) - 1) * (FRAME + 1);
    assert_eq!(e.offset as usize, last + FRAME + 1);
}

#[test]
fn without_a_part_frame_data_is_refused() {
    // The frame length is the part's: with none, no frame can be parsed.
    let e = ecp5::validate(&image(), None).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::FrameCountMismatch {
            expected: 0,
            found: PART.frames
        }
    );
    let l = layout(&image());
    assert_eq!(e.offset as usize, l.write + 3);
}
