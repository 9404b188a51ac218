//! iCE40 commands icepack did not write into the real images in
//! `test/bitstreams/` (a warm-boot address, the top oscillator range,
//! bad payload lengths and values), spliced in right after the
//! preamble: before `01 05` resets the CRC, so the image's own CRC checks
//! still hold (IceStorm's `icepack` writes `51 00`, then `01 05`).

use fpga_bitstream::ice40::{self, ErrorKind, Event, Ice40Device, Parser};

fn image() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/bitstreams/ice40-hx1k-blinky.bin"
    );
    std::fs::read(path).expect("the image is checked in")
}

const PREAMBLE: [u8; 4] = [0x7E, 0xAA, 0x99, 0x7E];

/// The image with `commands` after its preamble; and where they start.
fn with(commands: &[u8]) -> (Vec<u8>, usize) {
    let bin = image();
    let at = bin.windows(4).position(|w| w == PREAMBLE).unwrap() + 4;
    // What icepack wrote there: the oscillator range, then the CRC reset.
    assert_eq!(bin[at..at + 4], [0x51, 0x00, 0x01, 0x05]);
    let mut v = bin[..at].to_vec();
    v.extend_from_slice(commands);
    v.extend_from_slice(&bin[at..]);
    (v, at)
}

/// Every event until the wakeup, as owned values where it matters here.
fn events(stream: &[u8]) -> Vec<String> {
    let mut p = Parser::new(None);
    let mut rest = stream;
    let mut seen = Vec::new();
    while !rest.is_empty() && !p.is_awake() {
        let (used, event) = p.feed(rest).unwrap();
        if let Some(e) = event
            && !matches!(e, Event::BlockData(_))
        {
            seen.push(format!("{e:?}"));
        }
        rest = &rest[used..];
    }
    seen
}

#[test]
fn a_warm_boot_address_takes_four_payload_bytes() {
    let (stream, _) = with(&[0x44, 0x12, 0x34, 0x56, 0x78]);
    let s = ice40::validate(&stream, None).unwrap();
    assert_eq!(s.device, Ice40Device::Hx1k);
    let seen = events(&stream);
    assert_eq!(seen[..2], ["Preamble", "BootAddress(305419896)"]);
}

#[test]
fn more_than_four_payload_bytes_is_a_bad_length() {
    for command in [0x45, 0x4F, 0x55, 0x0F] {
        let (stream, at) = with(&[command, 0, 0, 0, 0, 0]);
        let e = ice40::validate(&stream, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadPayloadLength { command });
        assert_eq!(e.offset as usize, at);
    }
}

#[test]
fn the_oscillator_range_is_0_to_2() {
    for range in 0..=2u8 {
        let (stream, _) = with(&[0x51, range]);
        ice40::validate(&stream, None).unwrap();
        let seen = events(&stream);
        assert_eq!(seen[1], format!("FrequencyRange({range})"));
    }
    for range in [3u8, 0xFF] {
        let (stream, at) = with(&[0x51, range]);
        let e = ice40::validate(&stream, None).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::BadValue {
                command: 0x51,
                value: u32::from(range)
            }
        );
        assert_eq!(e.offset as usize, at + 1);
    }
}
