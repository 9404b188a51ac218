//! Parses every image checked in under `test/bitstreams/`, so a file that
//! rots (or a parser change that rejects real files) fails CI.

use fpga_bitstream::ice40::{self, Ice40Device};
use fpga_bitstream::xc7::{self, bitfile, bitfile::Format, parser};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/bitstreams")
}

fn images() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir())
        .expect("test/bitstreams exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin" || x == "bit"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable image"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_checked_in_image_parses() {
    let images = images();
    assert!(images.len() >= 6, "found only {images:?}");
    for (name, data) in &images {
        if let Some(rest) = name.strip_prefix("ice40-") {
            let device = match &rest[..4] {
                "hx1k" => Ice40Device::Hx1k,
                "hx8k" => Ice40Device::Hx8k,
                "up5k" => Ice40Device::Up5k,
                other => panic!("{name}: unknown device {other}"),
            };
            let s = ice40::validate(data, Some(device)).unwrap_or_either(name);
            assert_eq!(s.device, device, "{name}");
            assert_eq!(s.cram_blocks, 4, "{name}");
            // Every other device rejects it as the wrong geometry.
            for other in Ice40Device::ALL.into_iter().filter(|d| *d != device) {
                let e = ice40::validate(data, Some(other)).unwrap_err();
                assert!(
                    matches!(e.kind, ice40::ErrorKind::WrongGeometry { .. }),
                    "{name} on {other:?}: {e:?}"
                );
            }
        } else if name.starts_with("xc7") {
            let part = xc7::part_by_name(name).expect("part in name");
            let d = bitfile::detect(data).unwrap_or_either(name);
            let raw = match d.format {
                Format::Bit => {
                    let h = bitfile::parse_bit_header(data).unwrap();
                    assert_eq!(
                        xc7::part_by_name(std::str::from_utf8(h.part).unwrap()),
                        Some(part)
                    );
                    assert_eq!(h.data_offset + h.data_len as usize, data.len());
                    &data[h.data_offset..]
                }
                _ => &data[..],
            };
            let swapped = d.format == Format::BinSwapped;
            assert_eq!(swapped, name.contains("swapped"), "{name}");
            let s = parser::validate(raw, Some(part), swapped)
                .unwrap_or_either(name);
            assert_eq!(s.idcode, Some(part.idcode));
            assert!(s.crc_checks >= 1, "{name}");
            assert!(s.frame_words > 0 && s.started);
        } else if let Some(rest) = name.strip_prefix("ecp5-") {
            let part = match &rest[..3] {
                "25f" => fpga_bitstream::ecp5::LFE5U_25F,
                "85f" => fpga_bitstream::ecp5::LFE5U_85F,
                other => panic!("{name}: unknown part {other}"),
            };
            let s = fpga_bitstream::ecp5::validate(data, Some(part))
                .unwrap_or_either(name);
            assert!(s.done && s.frames == u32::from(part.frames), "{name}");
        } else {
            panic!("{name}: no parser for this file name");
        }
    }
}

#[test]
fn xc7_bit_bin_and_swapped_bin_hold_the_same_stream() {
    let read = |n: &str| std::fs::read(dir().join(n)).unwrap();
    let bit = read("xc7a35t-blinky.bit");
    let bin = read("xc7a35t-blinky.bin");
    let mut swapped = read("xc7a35t-blinky-swapped.bin");
    let h = bitfile::parse_bit_header(&bit).unwrap();
    assert_eq!(&bit[h.data_offset..], &bin[..]);
    bitfile::swap_words(&mut swapped);
    assert_eq!(swapped, bin);
}

trait UnwrapOrEither<T> {
    fn unwrap_or_either(self, name: &str) -> T;
}

impl<T, E: std::fmt::Debug> UnwrapOrEither<T> for Result<T, E> {
    fn unwrap_or_either(self, name: &str) -> T {
        self.unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }
}
