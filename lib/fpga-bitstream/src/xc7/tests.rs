use super::bitfile::{self, Format};
use super::parser::{self, ErrorKind, Event, Parser};
use super::*;

extern crate std;
use std::vec::Vec;

fn frames(n: usize) -> Vec<u32> {
    let mut x = 0x1234_5678u32;
    (0..n * FRAME_WORDS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect()
}

fn build(idcode: u32, f: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    let b = StreamBuilder::new(idcode, f).unwrap().trailing_nops(16);
    b.write(&mut |d| out.extend_from_slice(d));
    assert_eq!(out.len(), b.len());
    out
}

#[test]
fn built_stream_validates_for_its_device_in_any_chunking() {
    let f = frames(12);
    let raw = build(XC7A35T.idcode, &f);
    let whole = parser::validate(&raw, Some(XC7A35T), false).unwrap();
    assert_eq!(whole.frame_words, f.len() as u64);
    assert_eq!(whole.crc_checks, 2);
    assert!(whole.started);
    for chunk in [1, 3, 5, 4096] {
        let mut p = Parser::new(Some(XC7A35T), false);
        for piece in raw.chunks(chunk) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (n, _) = p.feed(rest).unwrap();
                rest = &rest[n..];
            }
        }
        assert_eq!(p.finish(), Ok(whole), "chunk {chunk}");
    }
}

#[test]
fn events_follow_the_ug470_sequence() {
    let raw = build(XC7A50T.idcode, &frames(1));
    let mut p = Parser::new(None, false);
    let mut rest = &raw[..];
    let mut seen = Vec::new();
    while !rest.is_empty() {
        let (n, e) = p.feed(rest).unwrap();
        seen.extend(e);
        rest = &rest[n..];
    }
    let commands: Vec<Command> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Command(c) => Some(*c),
            _ => None,
        })
        .collect();
    use Command::*;
    assert_eq!(commands, [Null, Rcrc, Switch, Wcfg, Grestore, Lfrm, Start]);
    assert_eq!(seen.first(), Some(&Event::Sync));
    assert!(seen.contains(&Event::Write {
        register: Register::Idcode,
        value: 0x0362_C093
    }));
    assert!(seen.contains(&Event::Desync));
}

#[test]
fn wrong_idcode_is_rejected_at_the_idcode_write() {
    let raw = build(XC7A50T.idcode, &frames(2));
    let e = parser::validate(&raw, Some(XC7A35T), false).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::IdcodeMismatch {
            expected: XC7A35T.idcode,
            found: XC7A50T.idcode
        }
    );
    assert_eq!(
        &raw[e.offset as usize..][..4],
        &XC7A50T.idcode.to_be_bytes()
    );
}

#[test]
fn idcode_revision_nibble_is_ignored() {
    let raw = build(0x1362_D093, &frames(1));
    assert!(parser::validate(&raw, Some(XC7A35T), false).is_ok());
}

#[test]
fn corrupted_frame_word_is_a_crc_mismatch() {
    let mut raw = build(XC7A35T.idcode, &frames(3));
    // Into the frame data: past the type-2 FDRI header.
    let type2 = raw.windows(4).position(|w| w[0] == 0x50).unwrap();
    raw[type2 + 200] ^= 1;
    let e = parser::validate(&raw, Some(XC7A35T), false).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::CrcMismatch { .. }), "{e:?}");
}

#[test]
fn stream_without_crc_check_still_configures() {
    let f = frames(1);
    let b = StreamBuilder::new(XC7A35T.idcode, &f)
        .unwrap()
        .without_crc_check();
    let mut raw = Vec::new();
    b.write(&mut |d| raw.extend_from_slice(d));
    let s = parser::validate(&raw, None, false).unwrap();
    assert_eq!(s.crc_checks, 0);
}

#[test]
fn truncated_and_unsynced_streams_are_reported() {
    let raw = build(XC7A35T.idcode, &frames(2));
    let e = parser::validate(&raw[..raw.len() / 3], None, false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated);
    let e = parser::validate(&[0xFF; 64], None, false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSync);
}

#[test]
fn swapped_bin_parses_only_in_swapped_mode() {
    let mut raw = build(XC7A35T.idcode, &frames(2));
    let normal = parser::validate(&raw, None, false).unwrap();
    bitfile::swap_words(&mut raw);
    assert_eq!(parser::validate(&raw, None, true), Ok(normal));
    let e = parser::validate(&raw, None, false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSync);
    assert_eq!(bitfile::detect(&raw).unwrap().format, Format::BinSwapped);
}

#[test]
fn bit_header_round_trips_and_reports_need_more() {
    let f = frames(1);
    let b = StreamBuilder::new(XC7A35T.idcode, &f).unwrap();
    let mut bit = Vec::new();
    b.write_bit(
        "blinky;UserID=0XFFFFFFFF",
        "7a35tcpg236",
        "2026/11/24",
        "12:00:00",
        &mut |d| bit.extend_from_slice(d),
    )
    .unwrap();
    let h = bitfile::parse_bit_header(&bit).unwrap();
    assert_eq!(h.part, b"7a35tcpg236");
    assert_eq!(h.design, b"blinky;UserID=0XFFFFFFFF");
    assert_eq!(h.data_len as usize, b.len());
    assert_eq!(h.data_offset + b.len(), bit.len());
    let d = bitfile::detect(&bit).unwrap();
    assert_eq!(d.format, Format::Bit);
    // Every proper prefix of the header asks for more, never more than
    // the header itself, and the request strictly grows.
    let mut last = 0;
    for len in 0..h.data_offset {
        match bitfile::parse_bit_header(&bit[..len]) {
            Err(bitfile::HeaderError::NeedMore { needed }) => {
                assert!(needed > len && needed <= h.data_offset);
                assert!(needed >= last);
                last = needed;
            }
            other => panic!("prefix {len}: {other:?}"),
        }
    }
    assert_eq!(
        bitfile::parse_bit_header(b"not a bit file at all"),
        Err(bitfile::HeaderError::BadMagic)
    );
}

#[test]
fn parts_resolve_by_name_and_idcode() {
    assert_eq!(part_by_name("7a35tcpg236"), Some(XC7A35T));
    assert_eq!(part_by_name("xc7a50t-csg324-1"), Some(XC7A50T));
    assert_eq!(part_by_name("xc7a200tfbg484"), Some(XC7A200T));
    assert_eq!(part_by_name("xc7a3"), None);
    assert_eq!(part_by_idcode(0x0362_D093), Some(XC7A35T));
    assert_eq!(part_by_idcode(0x0362_0093), None);
}

#[test]
fn builder_rejects_partial_frames() {
    let words = [0u32; 100];
    assert_eq!(
        StreamBuilder::new(XC7A35T.idcode, &words).unwrap_err(),
        builder::BuildError::PartialFrame { words: 100 }
    );
}

#[test]
fn type2_without_type1_and_reads_are_rejected() {
    let mut raw = Vec::new();
    for w in [DUMMY, SYNC_WORD, 0x5000_0001, 0] {
        raw.extend_from_slice(&u32::to_be_bytes(w));
    }
    let e = parser::validate(&raw, None, false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type2WithoutType1);
    assert_eq!(e.offset, 8);
    let mut raw = Vec::new();
    for w in [SYNC_WORD, 0x2800_E001] {
        raw.extend_from_slice(&u32::to_be_bytes(w));
    }
    let e = parser::validate(&raw, None, false).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::ReadNotSupported { .. }));
}
