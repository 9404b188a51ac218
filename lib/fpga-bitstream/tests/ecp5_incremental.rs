//! The ECP5 parser as a device model drives it: the real images in
//! `test/bitstreams/` (ecppack's output) fed in pieces, with the progress
//! it reports on the way and what it says once it has failed.

use fpga_bitstream::ecp5::{self, ErrorKind, Summary};

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
fn a_real_image_fed_in_pieces_reports_its_progress() {
    for (name, part) in IMAGES {
        let bit = image(name);
        let whole = ecp5::validate(&bit, Some(part)).unwrap();
        let mut p = ecp5::Parser::new(Some(part));
        assert_eq!(p.position(), 0, "{name}");
        assert!(!p.is_done(), "{name}");
        assert_eq!(p.summary(), Summary::default(), "{name}");
        let mut fed = 0;
        let mut done_at = None;
        for piece in bit.chunks(4093) {
            p.feed(piece).unwrap();
            fed += piece.len();
            assert_eq!(p.position(), fed as u64, "{name}");
            let s = p.summary();
            assert!(s.frames <= whole.frames, "{name}");
            if p.is_done() {
                done_at.get_or_insert(fed);
                assert!(s.done, "{name}");
            } else {
                assert!(!s.done, "{name}");
                // Not done yet: the end here would be a truncation.
                let e = p.finish().unwrap_err();
                assert_eq!(e.kind, ErrorKind::Truncated, "{name}");
                assert_eq!(e.offset, fed as u64, "{name}");
            }
        }
        // ISC_PROGRAM_DONE comes in the last piece or so (only padding
        // follows it), after every frame.
        let done_at = done_at.expect("done");
        assert!(done_at + 2 * 4093 > bit.len(), "{name}: done at {done_at}");
        assert_eq!(p.summary(), whole, "{name}");
        assert_eq!(p.finish(), Ok(whole), "{name}");
        // Half way, half the frames or so are in.
        let mut half = ecp5::Parser::new(Some(part));
        half.feed(&bit[..bit.len() / 2]).unwrap();
        let frames = half.summary().frames;
        assert!(frames > 0 && frames < whole.frames, "{name}: {frames}");
        assert_eq!(half.summary().idcode, Some(part.idcode), "{name}");
    }
}

#[test]
fn a_failed_parser_stays_failed_at_the_byte_that_failed() {
    for (name, part) in IMAGES {
        let bit = image(name);
        let other = ecp5::PARTS.into_iter().find(|p| *p != part).unwrap();
        let mut p = ecp5::Parser::new(Some(other));
        let e = p.feed(&bit).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::IdMismatch { .. }),
            "{name}: {e:?}"
        );
        // VERIFY_ID (0xE2), 3 operand bytes and the 4-byte IDCODE: the
        // error names the IDCODE's last byte.
        let at = e.offset as usize;
        assert_eq!(bit[at - 7], 0xE2, "{name}: error at {at}");
        assert_eq!(
            u32::from_be_bytes(bit[at - 3..=at].try_into().unwrap()),
            part.idcode,
            "{name}"
        );
        assert_eq!(p.position(), e.offset, "{name}");
        // Whatever comes after, even nothing, is refused with the same
        // error; the end of the stream too.
        assert_eq!(p.feed(&[]), Err(e), "{name}");
        assert_eq!(p.feed(&bit[at..]), Err(e), "{name}");
        assert_eq!(p.finish(), Err(e), "{name}");
        assert!(!p.is_done(), "{name}");
    }
}
