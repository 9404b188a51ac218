//! The 7-series parser as a device model drives it: the real Vivado
//! stream in `test/bitstreams/` fed in pieces, with the position, running
//! CRC, START and DESYNC it reports on the way.

mod common;

use common::vivado_stream as stream;
use fpga_bitstream::xc7::{self, Command, parser};

/// The two CRC register writes Vivado put in the stream (after the frame
/// data, and before DESYNC): type-1 header 0x30000001, then the value.
const CRC_VALUES: [u32; 2] = [0x84B6_95C3, 0xE3AD_7EA5];

#[test]
fn a_real_stream_in_pieces_reports_position_crc_start_and_desync() {
    let raw = stream();
    // Where each CRC value word starts (the last occurrence of header and
    // value: frame data cannot hold the pair after itself).
    let stops: Vec<usize> = CRC_VALUES
        .iter()
        .map(|v| {
            let mut pair = 0x3000_0001u32.to_be_bytes().to_vec();
            pair.extend_from_slice(&v.to_be_bytes());
            raw.windows(8).rposition(|w| w == pair).unwrap() + 4
        })
        .collect();
    let mut p = parser::Parser::new(Some(xc7::XC7A35T), false);
    assert_eq!((p.position(), p.crc()), (0, 0));
    assert!(!p.started() && !p.desynced());
    let (mut at, mut started, mut desynced, mut checks) = (0, false, false, 0);
    let mut data_events = 0;
    let mut feed = |p: &mut parser::Parser, to: usize, at: &mut usize| {
        while *at < to {
            // Odd-sized pieces, so words straddle them.
            let end = (*at + 4093).min(to);
            let (used, event) = p.feed(&raw[*at..end]).unwrap();
            *at += used;
            assert_eq!(p.position(), *at as u64);
            match event {
                Some(parser::Event::Command(Command::Start)) => started = true,
                Some(parser::Event::Desync) => desynced = true,
                Some(parser::Event::FrameData { .. }) => data_events += 1,
                Some(parser::Event::CrcOk { value }) => {
                    assert_eq!(value, CRC_VALUES[checks]);
                    checks += 1;
                    // A check starts the CRC again.
                    assert_eq!(p.crc(), 0);
                }
                _ => {}
            }
            assert_eq!(p.started(), started, "at {at}");
            assert_eq!(p.desynced(), desynced, "at {at}");
        }
    };
    for (stop, value) in stops.iter().zip(CRC_VALUES) {
        feed(&mut p, *stop, &mut at);
        // Just before the CRC register takes its value, the running CRC
        // is what Vivado computed over the writes since the last reset.
        assert_eq!(p.crc(), value, "before the check at {stop}");
    }
    feed(&mut p, raw.len(), &mut at);
    assert!(started && desynced);
    // Frame data goes to the device model a piece at a time, not a word
    // at a time: 547,420 words in 4093-byte pieces are some 535 events.
    assert!(data_events < raw.len() / 4093 + 10, "{data_events} events");
    let s = p.finish().unwrap();
    assert_eq!(s.crc_checks, 2);
    assert_eq!(s.last_crc, Some(CRC_VALUES[1]));
}

#[test]
fn a_failed_parser_reports_its_error_to_the_end() {
    let mut raw = stream();
    // Edit: the first CRC value (after the frame data) off by one bit.
    let mut pair = 0x3000_0001u32.to_be_bytes().to_vec();
    pair.extend_from_slice(&CRC_VALUES[0].to_be_bytes());
    let at = raw.windows(8).rposition(|w| w == pair).unwrap() + 4;
    raw[at + 3] ^= 1;
    let mut p = parser::Parser::new(Some(xc7::XC7A35T), false);
    let mut rest = &raw[..];
    let e = loop {
        match p.feed(rest) {
            Ok((used, _)) => rest = &rest[used..],
            Err(e) => break e,
        }
    };
    assert_eq!(
        e.kind,
        parser::ErrorKind::CrcMismatch {
            computed: CRC_VALUES[0],
            found: CRC_VALUES[0] ^ 1
        }
    );
    assert_eq!(e.offset as usize, at);
    assert_eq!(p.feed(&raw[at + 4..]), Err(e));
    assert_eq!(p.finish(), Err(e));
}
