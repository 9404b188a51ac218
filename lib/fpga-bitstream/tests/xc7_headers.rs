//! The `.bit` header parser's "need more" answers on the real Vivado file
//! in `test/bitstreams/` cut at every length (the contract the xc7 driver's
//! `parse_header` follows, Linux's -EAGAIN with a size), and how the
//! stream builder hands its bytes out.

use fpga_bitstream::xc7::bitfile::{self, BIT_MAGIC, HeaderError};
use fpga_bitstream::xc7::{self, StreamBuilder};

fn fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/bitstreams/xc7a35t-cmoda7-mandel.bit"
    );
    std::fs::read(path).expect("the fixture is checked in")
}

#[test]
fn a_cut_header_asks_for_more_but_never_past_the_header() {
    let bit = fixture();
    let whole = bitfile::parse_bit_header(&bit).unwrap();
    let end = whole.data_offset;
    for cut in 0..end {
        let Err(HeaderError::NeedMore { needed }) =
            bitfile::parse_bit_header(&bit[..cut])
        else {
            panic!("cut at {cut}: not NeedMore");
        };
        // More than it has, and no more than the header is long: a
        // driver that reads `needed` bytes never reads image data for it.
        assert!(cut < needed && needed <= end, "cut {cut}: needed {needed}");
        // Given what it asked for, it gets further.
        match bitfile::parse_bit_header(&bit[..needed]) {
            Ok(h) => assert_eq!(h, whole),
            Err(HeaderError::NeedMore { needed: next }) => {
                assert!(next > needed, "cut {cut}: {needed} then {next}")
            }
            Err(e) => panic!("cut {cut}: {e:?}"),
        }
    }
    // Short of the magic, it needs the magic and the key `a` after it.
    for cut in 0..BIT_MAGIC.len() {
        assert_eq!(
            bitfile::parse_bit_header(&bit[..cut]),
            Err(HeaderError::NeedMore {
                needed: BIT_MAGIC.len() + 1
            })
        );
    }
}

#[test]
fn the_builder_hands_out_whole_kilobytes() {
    // 40 frames of a counting pattern: 16 KiB or so of stream.
    let frames: Vec<u32> = (0..40 * xc7::FRAME_WORDS as u32).collect();
    let b = StreamBuilder::new(xc7::XC7A35T.idcode, &frames).unwrap();
    assert!(!b.is_empty());
    let mut pieces = Vec::new();
    b.write(&mut |piece: &[u8]| pieces.push(piece.to_vec()));
    let total: usize = pieces.iter().map(Vec::len).sum();
    assert_eq!(total, b.len());
    // A few large slices, not one per word: every one but the last is
    // 1 KiB, and none is empty.
    let (last, rest) = pieces.split_last().unwrap();
    assert!(rest.iter().all(|p| p.len() == 1024));
    assert!(!last.is_empty() && last.len() <= 1024);
    assert_eq!(pieces.len(), total.div_ceil(1024));
    // The bytes are the stream the parser accepts.
    let raw: Vec<u8> = pieces.concat();
    let s = xc7::parser::validate(&raw, None, false).unwrap();
    assert_eq!(s.frame_words, frames.len() as u64);
}
