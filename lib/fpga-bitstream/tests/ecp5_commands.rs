//! ECP5 commands the real images in `test/bitstreams/` do not carry (an
//! LSC_EBR_WRITE of block RAM frames, a USERCODE without its CRC check),
//! spliced into a real image just before its ISC_PROGRAM_DONE. Their CRC
//! is computed here, bit by bit, not by the crate under test.

use fpga_bitstream::ecp5::{self, ErrorKind};

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

/// `command` with its CRC check appended.
fn checked(command: &[u8]) -> Vec<u8> {
    let mut v = command.to_vec();
    v.extend_from_slice(&crc16(command).to_be_bytes());
    v
}

/// The image with `commands` before ISC_PROGRAM_DONE (0x5E 00 00 00, which
/// ecppack writes after the USERCODE and its check, so the CRC starts
/// from 0 there).
fn with(commands: &[u8]) -> Vec<u8> {
    let bit = image();
    let done = bit
        .windows(4)
        .rposition(|w| w == [0x5E, 0, 0, 0])
        .expect("ISC_PROGRAM_DONE");
    // What ecppack wrote before it: USERCODE 0 with its check.
    assert_eq!(
        bit[done - 10..done],
        [0xC2, 0x80, 0, 0, 0, 0, 0, 0, 0x88, 0x88]
    );
    let mut v = bit[..done].to_vec();
    v.extend_from_slice(commands);
    v.extend_from_slice(&bit[done..]);
    v
}

fn baseline() -> ecp5::Summary {
    ecp5::validate(&image(), Some(ecp5::LFE5U_25F)).unwrap()
}

#[test]
fn an_ebr_write_counts_its_frames_and_checks_its_crc() {
    let base = baseline();
    assert_eq!(base.ebr_frames, 0);
    for frames in [1u16, 2, 5] {
        // LSC_EBR_WRITE: opcode, a flags byte and the frame count, then
        // 9-byte (72-bit) frames, then one CRC check over it all.
        let mut cmd = vec![0xB2, 0x00];
        cmd.extend_from_slice(&frames.to_be_bytes());
        cmd.extend((0..9 * frames).map(|i| i as u8));
        let s = ecp5::validate(&with(&checked(&cmd)), Some(ecp5::LFE5U_25F))
            .unwrap_or_else(|e| panic!("{frames} frames: {e:?}"));
        assert_eq!(s.ebr_frames, u32::from(frames));
        assert_eq!(s.crc_checks, base.crc_checks + 1);
        assert_eq!(s.frames, base.frames);
        assert!(s.done);
        // One byte of frame data changed after the CRC was made.
        let mut bad = checked(&cmd);
        bad[4] ^= 0x10;
        let e = ecp5::validate(&with(&bad), Some(ecp5::LFE5U_25F));
        assert!(
            matches!(
                e,
                Err(ecp5::Error {
                    kind: ErrorKind::CrcMismatch { .. },
                    ..
                })
            ),
            "{frames} frames: {e:?}"
        );
    }
}

#[test]
fn an_ebr_write_of_no_frames_is_only_its_check() {
    let base = baseline();
    let cmd = checked(&[0xB2, 0x00, 0x00, 0x00]);
    let s = ecp5::validate(&with(&cmd), Some(ecp5::LFE5U_25F)).unwrap();
    assert_eq!(s.ebr_frames, 0);
    assert_eq!(s.crc_checks, base.crc_checks + 1);
    assert!(s.done);
}

#[test]
fn a_usercode_without_the_check_bit_has_no_check() {
    let base = baseline();
    // USERCODE: operand 00 00 00 (bit 7 of its first byte clear: no CRC
    // check follows), then the value.
    let cmd = [0xC2, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78];
    let s = ecp5::validate(&with(&cmd), Some(ecp5::LFE5U_25F)).unwrap();
    assert_eq!(s.usercode, Some(0x1234_5678));
    assert_eq!(s.crc_checks, base.crc_checks);
    assert!(s.done);
    // With the bit set, the check follows and counts.
    let mut cmd = cmd;
    cmd[1] = 0x80;
    let s =
        ecp5::validate(&with(&checked(&cmd)), Some(ecp5::LFE5U_25F)).unwrap();
    assert_eq!(s.usercode, Some(0x1234_5678));
    assert_eq!(s.crc_checks, base.crc_checks + 1);
}

#[test]
fn compressed_commands_are_refused_at_their_opcode() {
    // Spliced in where ISC_PROGRAM_DONE was.
    let at = image()
        .windows(4)
        .rposition(|w| w == [0x5E, 0, 0, 0])
        .unwrap();
    // LSC_WRITE_COMP_DIC (0x02, 11 bytes of operand and dictionary) and
    // LSC_PROG_INCR_CMP (0xB8, 3 bytes): this model does not decompress.
    for cmd in [&[0x02; 12][..], &[0xB8, 0x91, 0x1D, 0x8A][..]] {
        let e = ecp5::validate(&with(cmd), Some(ecp5::LFE5U_25F)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Compressed, "{:#04x}", cmd[0]);
        assert_eq!(e.offset as usize, at, "{:#04x}", cmd[0]);
    }
}
