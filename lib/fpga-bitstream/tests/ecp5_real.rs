//! The real ECP5 images in `test/bitstreams/` (built by yosys, nextpnr-ecp5
//! and ecppack from PyPI; `build-ecp5.sh`) against the ECP5 parser, and
//! copies of them edited here.

use fpga_bitstream::ecp5::{self, ErrorKind};

fn image(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../test/bitstreams/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const IMAGES: [(&str, ecp5::Part); 2] = [
    ("ecp5-25f-blinky.bit", ecp5::LFE5U_25F),
    ("ecp5-85f-blinky.bit", ecp5::LFE5U_85F),
];

#[test]
fn the_crc_is_crc16_umts() {
    // The catalogue check value of CRC-16/UMTS over "123456789".
    let crc = b"123456789"
        .iter()
        .fold(0, |c, &b| ecp5::crc16_update(c, b));
    assert_eq!(crc, 0xFEE8);
}

#[test]
fn each_real_image_validates_for_its_part() {
    for (name, part) in IMAGES {
        let bit = image(name);
        // The comment block ecppack writes names the part.
        assert_eq!(&bit[..2], &[0xFF, 0x00], "{name}");
        let s = ecp5::validate(&bit, Some(part))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(s.idcode, Some(part.idcode), "{name}");
        assert_eq!(s.frames, u32::from(part.frames), "{name}");
        assert!(s.crc_checks >= u32::from(part.frames), "{name}");
        assert!(s.done, "{name}");
    }
}

#[test]
fn each_real_image_fails_verify_id_on_the_other_parts() {
    for (name, part) in IMAGES {
        let bit = image(name);
        for other in ecp5::PARTS.into_iter().filter(|p| *p != part) {
            let e = ecp5::validate(&bit, Some(other)).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::IdMismatch {
                    expected: other.idcode,
                    found: part.idcode
                },
                "{name} on {}",
                other.name
            );
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_in_the_frames_fails_a_crc_check() {
    for (name, part) in IMAGES {
        let bit = image(name);
        for at in [bit.len() / 3, bit.len() / 2, 2 * bit.len() / 3] {
            let mut bad = bit.clone();
            // Edit: one bit of a byte in the frame data.
            bad[at] ^= 0x04;
            let e = ecp5::validate(&bad, Some(part)).unwrap_err();
            assert!(
                matches!(e.kind, ErrorKind::CrcMismatch { .. }),
                "{name} at {at}: {e:?}"
            );
        }
    }
}

#[test]
fn a_truncated_image_is_reported_as_truncated() {
    for (name, part) in IMAGES {
        let bit = image(name);
        for keep in [100, bit.len() / 2, bit.len() - 8] {
            let e = ecp5::validate(&bit[..keep], Some(part)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Truncated, "{name} keeping {keep}");
        }
    }
}

#[test]
fn any_chunking_reaches_the_same_verdict() {
    let bit = image("ecp5-25f-blinky.bit");
    let whole = ecp5::validate(&bit, Some(ecp5::LFE5U_25F));
    for chunk in [1, 7, 4096] {
        let mut p = ecp5::Parser::new(Some(ecp5::LFE5U_25F));
        for piece in bit.chunks(chunk) {
            let _ = p.feed(piece);
        }
        assert_eq!(p.finish(), whole, "chunk {chunk}");
    }
}

#[test]
fn scan_header_finds_the_preamble_of_each_real_image_at_every_cut() {
    use ecp5::Header;
    for (name, _) in IMAGES {
        let bit = image(name);
        let at = bit
            .windows(4)
            .position(|w| w == ecp5::PREAMBLE)
            .expect("preamble");
        assert!(at > 16 && at < 100, "{name}: preamble at {at}");
        assert_eq!(ecp5::scan_header(&bit), Header::Preamble(at), "{name}");
        // Every shorter prefix is a valid start, never a wrong answer.
        for cut in 0..at + 4 {
            assert_eq!(
                ecp5::scan_header(&bit[..cut]),
                Header::NeedMore,
                "{name} cut at {cut}"
            );
        }
        // Without the comment block, as a raw stream.
        assert_eq!(ecp5::scan_header(&bit[at..]), Header::Preamble(0));
    }
}

#[test]
fn scan_header_refuses_what_is_not_an_ecp5_image() {
    use ecp5::Header;
    let xc7 = image("xc7a35t-blinky.bit");
    let ice40 = image("ice40-hx1k-blinky.bin");
    for (what, data) in [
        ("xilinx .bit", &xc7[..]),
        ("ice40 .bin", &ice40[..]),
        ("zeros", &[0u8; 64][..]),
        ("one pad byte", &[0xFF, 0xBD, 0xB3, 0x00][..]),
        ("binary in the comment", &[0xFF, 0x00, b'a', 0x80, 0xFF][..]),
        ("junk after padding", &[0xFF, 0xFF, 0xFF, 0x3B, 0, 0][..]),
        ("half a preamble", &[0xFF, 0xFF, 0xBD, 0xB4][..]),
        // A comment closed by one 0xFF, then the preamble's second half:
        // the preamble needs both of its 0xFF bytes after the comment.
        (
            "comment, one pad byte",
            &[0xFF, 0x00, b'a', 0xFF, 0xBD, 0xB3][..],
        ),
        // Padding, then a byte that cannot start the preamble's tail.
        ("padding then junk", &[0xFF, 0xFF, 0x00][..]),
    ] {
        assert_eq!(ecp5::scan_header(data), Header::Invalid, "{what}");
    }
}

#[test]
fn each_real_image_names_its_part_by_idcode() {
    for (name, part) in IMAGES {
        let bit = image(name);
        let s = ecp5::validate(&bit, Some(part)).unwrap();
        let idcode = s.idcode.expect("VERIFY_ID");
        assert_eq!(ecp5::part_by_idcode(idcode), Some(part), "{name}");
    }
    // The 12F's and 45F's IDCODEs: no real image here yet, so no part.
    assert_eq!(ecp5::part_by_idcode(0x2111_1043), None);
    assert_eq!(ecp5::part_by_idcode(0x4111_2043), None);
}
