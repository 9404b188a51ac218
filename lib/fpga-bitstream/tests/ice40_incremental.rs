//! The iCE40 parser as a device model drives it: the real images in
//! `test/bitstreams/` (yosys, nextpnr-ice40 and icepack) fed in pieces,
//! with what it reports on the way, after the wakeup, and once failed.

use fpga_bitstream::ice40::{self, Event, Ice40Device, Parser};

fn image(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../test/bitstreams/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const IMAGES: [(&str, Ice40Device); 3] = [
    ("ice40-hx1k-blinky.bin", Ice40Device::Hx1k),
    ("ice40-hx8k-blinky.bin", Ice40Device::Hx8k),
    ("ice40-up5k-blinky.bin", Ice40Device::Up5k),
];

#[test]
fn a_real_image_in_pieces_names_its_device_and_wakes_once() {
    for (name, device) in IMAGES {
        let bin = image(name);
        let whole = ice40::validate(&bin, None).unwrap();
        assert_eq!(whole.device, device, "{name}");
        let mut p = Parser::new(None);
        assert_eq!((p.device(), p.position(), p.is_awake()), (None, 0, false));
        let mut fed = 0u64;
        let mut woke_at = None;
        let mut blocks = [0u32; 2];
        for piece in bin.chunks(1000) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (used, event) = p.feed(rest).unwrap();
                fed += used as u64;
                assert_eq!(p.position(), fed, "{name}");
                if let Some(Event::BlockStart { kind, .. }) = event {
                    // The first block's geometry names the die.
                    assert_eq!(p.device(), Some(device), "{name}");
                    blocks[kind as usize] += 1;
                }
                if matches!(event, Some(Event::Wakeup)) {
                    assert!(woke_at.is_none(), "{name}: woke twice");
                    woke_at = Some(fed);
                }
                assert_eq!(p.is_awake(), woke_at.is_some(), "{name}");
                rest = &rest[used..];
            }
        }
        assert_eq!(woke_at, Some(whole.wakeup_end), "{name}");
        // The summary counts the blocks the stream wrote, by kind: icepack
        // writes each of the 4 CRAM banks whole and each of the 4 BRAM
        // banks as two 128-row halves (offsets 0 and 128).
        assert_eq!(blocks, [4, 8], "{name}");
        assert_eq!((whole.cram_blocks, whole.bram_blocks), (4, 8), "{name}");
        // After the wakeup the device no longer listens: anything more is
        // taken whole and silently, and changes nothing.
        let junk = [0x7E, 0xAA, 0x99, 0x7E, 0x01, 0x06, 0x55];
        assert_eq!(p.feed(&junk), Ok((junk.len(), None)), "{name}");
        assert_eq!(p.position(), fed + junk.len() as u64, "{name}");
        assert!(p.is_awake(), "{name}");
        assert_eq!(p.finish(), Ok(whole), "{name}");
    }
}

#[test]
fn a_failed_parser_stays_failed_and_takes_no_more() {
    for (name, device) in IMAGES {
        let bin = image(name);
        let other =
            Ice40Device::ALL.into_iter().find(|&d| d != device).unwrap();
        let mut p = Parser::new(Some(other));
        let mut rest = &bin[..];
        let e = loop {
            match p.feed(rest) {
                Ok((used, _)) => rest = &rest[used..],
                Err(e) => break e,
            }
        };
        let at = p.position();
        assert!(!p.is_awake(), "{name}");
        // The same error for anything after, and not a byte consumed.
        assert_eq!(p.feed(&bin[at as usize..]), Err(e), "{name}");
        assert_eq!(p.feed(&[0]), Err(e), "{name}");
        assert_eq!(p.position(), at, "{name}");
        assert_eq!(p.finish(), Err(e), "{name}");
    }
}

#[test]
fn each_die_has_icestorms_name() {
    // IceStorm's names for the dies, as the `.device` line of the `.asc`
    // files nextpnr-ice40 writes for build-ice40.sh has them.
    let names = Ice40Device::ALL.map(Ice40Device::name);
    assert_eq!(names, ["1k", "8k", "5k"]);
}
