//! The bitstream parsers under a fuzzer. A bitstream is a file from
//! anywhere (a user's disk, a host tool, a lease from a client task), and
//! both parsers are incremental, fed in whatever chunks a transfer
//! happens to have: so besides never panicking, a parser must reach the
//! same verdict (the same summary, or the same error at the same offset)
//! however the stream is cut.
//!
//! Input: byte 0 picks the format and option (iCE40 for any device or one
//! named die; 7-series with or without an expected IDCODE, in device or
//! byte-swapped order), byte 1 seeds the chunk sizes, the rest is the
//! stream. Each run also classifies the stream as `.bit`/`.bin` with
//! [`bitfile::detect`], whose offsets must lie inside the input.
//!
//! `fuzz/fuzz_targets/bitstreams.rs` calls [`run`]; the unit test replays
//! the checked-in corpus, whose seeds are real images from real tools
//! (`test/bitstreams/`: IceStorm's iCE40 images and Vivado-format
//! 7-series images).

use crate::ice40;
use crate::xc7::{self, bitfile, parser};

/// What a run found wrong.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// The iCE40 parser's verdict depended on how the stream was cut.
    Ice40ChunkingChangedVerdict,
    /// The 7-series parser's verdict depended on how the stream was cut.
    Xc7ChunkingChangedVerdict,
    /// `detect` reported an offset outside the input.
    DetectOutOfBounds,
}

/// Chunk sizes from a seed: 1 to 256 bytes, a small xorshift.
struct Chunks(u32);

impl Chunks {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 % 256) as usize + 1
    }
}

/// One stream through the parsers.
///
/// # Errors
///
/// The first [`Violation`].
pub fn run(data: &[u8]) -> Result<(), Violation> {
    let (&mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let (&seed, stream) = rest.split_first().unwrap_or((&0, &[]));
    let mut chunks = Chunks(u32::from(seed) | 0x100);
    if let Ok(found) = bitfile::detect(stream) {
        let end = found.data_offset.max(found.sync_offset.saturating_add(4));
        if end > stream.len() {
            return Err(Violation::DetectOutOfBounds);
        }
    }
    if mode & 1 == 0 {
        let device = match (mode >> 1) % 4 {
            0 => None,
            n => ice40::Ice40Device::ALL.get(usize::from(n - 1)).copied(),
        };
        let whole = ice40::validate(stream, device);
        if ice40_chunked(stream, device, &mut chunks) != whole {
            return Err(Violation::Ice40ChunkingChangedVerdict);
        }
    } else {
        let idcode = (mode & 2 != 0).then_some(0x0362_D093);
        let swapped = mode & 4 != 0;
        let whole = parser::validate(stream, idcode, swapped);
        if xc7_chunked(stream, idcode, swapped, &mut chunks) != whole {
            return Err(Violation::Xc7ChunkingChangedVerdict);
        }
    }
    Ok(())
}

fn ice40_chunked(
    stream: &[u8],
    device: Option<ice40::Ice40Device>,
    chunks: &mut Chunks,
) -> Result<ice40::Summary, ice40::Error> {
    let mut parser = ice40::Parser::new(device);
    let mut rest = stream;
    while !rest.is_empty() && !parser.is_awake() {
        let (piece, after) = rest.split_at(chunks.next().min(rest.len()));
        let mut piece = piece;
        while !piece.is_empty() && !parser.is_awake() {
            let (used, _) = parser.feed(piece)?;
            piece = piece.get(used..).unwrap_or_default();
        }
        rest = after;
    }
    parser.finish()
}

fn xc7_chunked(
    stream: &[u8],
    idcode: Option<u32>,
    swapped: bool,
    chunks: &mut Chunks,
) -> Result<parser::Summary, parser::Error> {
    let mut parser = xc7::Parser::new(idcode, swapped);
    let mut rest = stream;
    while !rest.is_empty() {
        let (mut piece, after) = rest.split_at(chunks.next().min(rest.len()));
        while !piece.is_empty() {
            let (used, _) = parser.feed(piece)?;
            piece = piece.get(used..).unwrap_or_default();
        }
        rest = after;
    }
    parser.finish()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::borrow::ToOwned;
    use std::string::String;
    use std::vec::Vec;

    fn fuzz_dir() -> std::path::PathBuf {
        fuzz_replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"))
    }

    /// Real images from `test/bitstreams/`, each with the mode that reads
    /// it (the large ones cut to their first 16 KiB, which a corpus file
    /// should not exceed; a cut stream is a truncation seed).
    fn seeds() -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../test/bitstreams");
        let images: [(&str, u8); 5] = [
            ("ice40-hx1k-blinky.bin", 2),
            ("ice40-up5k-blinky.bin", 0),
            ("xc7a35t-blinky.bin", 3),
            ("xc7a35t-blinky-swapped.bin", 5),
            ("xc7a35t-blinky.bit", 1),
        ];
        images
            .iter()
            .map(|&(name, mode)| {
                let image = std::fs::read(dir.join(name)).unwrap();
                let mut seed = std::vec![mode, 7];
                seed.extend_from_slice(&image[..image.len().min(16 << 10)]);
                (name.to_owned(), seed)
            })
            .collect()
    }

    #[test]
    fn the_checked_in_corpus_replays_clean() {
        fuzz_replay::bless(&fuzz_dir(), "bitstreams", &seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "bitstreams", run);
        assert!(n >= seeds().len(), "only {n} inputs replayed");
    }

    #[test]
    fn whole_real_images_reach_the_same_verdict_in_any_chunks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../test/bitstreams");
        let hx1k = std::fs::read(dir.join("ice40-hx1k-blinky.bin")).unwrap();
        let xc7a = std::fs::read(dir.join("xc7a35t-blinky.bin")).unwrap();
        for seed in [1u8, 2, 200] {
            let mut input = std::vec![2, seed];
            input.extend_from_slice(&hx1k);
            assert_eq!(run(&input), Ok(()));
            let mut input = std::vec![3, seed];
            input.extend_from_slice(&xc7a);
            assert_eq!(run(&input), Ok(()));
        }
        // And the whole images are good ones, so the verdict compared
        // above is a success, not two identical failures.
        assert!(ice40::validate(&hx1k, Some(ice40::Ice40Device::Hx1k)).is_ok());
        assert!(parser::validate(&xc7a, Some(0x0362_D093), false).is_ok());
    }
}
