use super::*;

extern crate std;
use std::vec;

static HX1K: &[u8] =
    include_bytes!("../../../../test/bitstreams/ice40-hx1k-blinky.bin");
static UP5K: &[u8] =
    include_bytes!("../../../../test/bitstreams/ice40-up5k-blinky.bin");

/// Feeds `stream` in `chunk`-sized pieces; returns the events' kinds count
/// and the result of `finish`.
fn run(
    stream: &[u8],
    device: Option<Ice40Device>,
    chunk: usize,
) -> (u32, u64, Result<Summary, Error>) {
    let mut parser = Parser::new(device);
    let (mut events, mut data) = (0u32, 0u64);
    for piece in stream.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            match parser.feed(rest) {
                Ok((used, event)) => {
                    if let Some(Event::BlockData(d)) = &event {
                        data += d.len() as u64;
                    }
                    events += event.is_some() as u32;
                    rest = &rest[used..];
                }
                Err(e) => return (events, data, Err(e)),
            }
        }
    }
    (events, data, parser.finish())
}

#[test]
fn real_hx1k_bitstream_parses_in_any_chunking() {
    let mut first = None;
    for chunk in [1, 3, 7, 64, 4096, HX1K.len()] {
        let (_, data, result) = run(HX1K, Some(Ice40Device::Hx1k), chunk);
        let summary = result.expect("valid");
        assert_eq!(summary.device, Ice40Device::Hx1k);
        assert_eq!(summary.cram_blocks, 4);
        assert_eq!(summary.crc, 0x5B80);
        // 4 CRAM banks of 332*144/8 plus 8 BRAM chunks of 64*128/8.
        assert_eq!(data, 4 * 5976 + 8 * 1024);
        assert_eq!(summary.wakeup_end, HX1K.len() as u64 - 1);
        assert!(first.is_none_or(|f| f == summary));
        first = Some(summary);
    }
}

#[test]
fn device_is_detected_from_geometry() {
    assert_eq!(
        validate(HX1K, None).map(|s| s.device),
        Ok(Ice40Device::Hx1k)
    );
    assert_eq!(
        validate(UP5K, None).map(|s| s.device),
        Ok(Ice40Device::Up5k)
    );
}

#[test]
fn bitstream_for_another_device_is_wrong_geometry() {
    let e = validate(HX1K, Some(Ice40Device::Up5k)).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::WrongGeometry {
            kind: BlockKind::Cram,
            bank: 0,
            expected: Geometry::new(692, 336),
            found: Geometry::new(332, 144),
            offset: 0,
        }
    );
    assert_eq!(e.offset, 27, "at the 01 01 CRAM write command");
}

#[test]
fn flipped_data_bit_is_a_crc_mismatch_at_the_check() {
    let mut bad = HX1K.to_vec();
    bad[1000] ^= 0x10;
    let e = validate(&bad, None).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::CrcMismatch { residue } if residue != 0)
    );
    assert_eq!(e.offset, 32216, "last byte of `22 5b 80`");
}

#[test]
fn truncated_stream_is_reported_at_finish() {
    let e = validate(&HX1K[..20_000], None).unwrap_err();
    assert_eq!(
        e,
        Error {
            offset: 20_000,
            kind: ErrorKind::Truncated
        }
    );
    // Cut right before the wakeup command: CRC fine, still truncated.
    let e = validate(&HX1K[..HX1K.len() - 3], None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated);
}

#[test]
fn missing_preamble_is_bad_preamble() {
    let mut bad = HX1K.to_vec();
    bad[5] = 0;
    assert_eq!(
        validate(&bad, None).unwrap_err().kind,
        ErrorKind::BadPreamble
    );
    assert_eq!(
        validate(&[], None).unwrap_err().kind,
        ErrorKind::BadPreamble
    );
}

#[test]
fn leading_garbage_before_the_preamble_is_skipped() {
    let mut stream = vec![0xFFu8; 37];
    stream.extend_from_slice(HX1K);
    assert!(validate(&stream, None).is_ok());
}

#[test]
fn nonzero_block_terminator_is_rejected() {
    // The first CRAM block starts after `01 01` at offset 28.
    let end = 28 + 5976;
    let mut bad = HX1K.to_vec();
    assert_eq!(&bad[end..end + 2], &[0, 0]);
    bad[end + 1] = 0x55;
    let e = validate(&bad, None).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::NonZeroBlockTerminator { found: [0, 0x55] }
    );
    assert_eq!(e.offset, end as u64 + 1);
}

#[test]
fn unknown_opcode_is_rejected() {
    let mut bad = HX1K.to_vec();
    assert_eq!(bad[8], 0x51);
    bad[8] = 0x31;
    let e = validate(&bad, None).unwrap_err();
    assert_eq!(
        e,
        Error {
            offset: 8,
            kind: ErrorKind::UnknownCommand { command: 0x31 }
        }
    );
}

#[test]
fn wakeup_without_crc_check_is_rejected() {
    let stream = [0x7E, 0xAA, 0x99, 0x7E, 0x01, 0x05, 0x01, 0x06];
    let e = validate(&stream, None).unwrap_err();
    assert_eq!(
        e,
        Error {
            offset: 7,
            kind: ErrorKind::UncheckedWakeup
        }
    );
}

#[test]
fn crc_check_matches_crc_crate_over_documented_coverage() {
    // Coverage: after `01 05` (offset 12) up to and including 0x22.
    let check = HX1K.len() - 6;
    assert_eq!(HX1K[check], 0x22);
    let crc = CRC16.checksum(&HX1K[12..=check]);
    assert_eq!(crc.to_be_bytes(), [HX1K[check + 1], HX1K[check + 2]]);
}

#[test]
fn errors_are_sticky() {
    let mut p = Parser::new(None);
    let bad = [0x7E, 0xAA, 0x99, 0x7E, 0xF1, 0x00];
    let e = p.feed(&bad).and_then(|_| p.feed(&bad[5..])).unwrap_err();
    assert_eq!(p.feed(&[0x00]), Err(e));
    assert_eq!(p.finish(), Err(e));
}
