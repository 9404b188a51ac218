//! Writes the checked-in Xilinx test images to `test/bitstreams/`:
//! `xc7a35t-blinky.bit`, `.bin` and `-swapped.bin` (Zynq PCAP order).
//!
//! Without Vivado we cannot produce a real design, so the frames are a
//! deterministic pseudo-random payload; the packet structure, IDCODE and
//! CRC are exactly what a device checks. Run:
//!
//! ```text
//! cargo run -p fpga-bitstream --example gen_xc7_bitstreams [OUT_DIR]
//! ```

use fpga_bitstream::xc7::{FRAME_WORDS, StreamBuilder, XC7A35T, bitfile};
use std::path::PathBuf;

/// Frames in the image: enough for several FDRI chunks, small enough to
/// check in (~26 KiB).
const FRAMES: usize = 64;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../test/bitstreams")
        });
    // xorshift32: deterministic, so regenerating gives identical files.
    let mut x = 0x2545_F491u32;
    let frames: Vec<u32> = (0..FRAMES * FRAME_WORDS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect();
    let builder = StreamBuilder::new(XC7A35T.idcode, &frames)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut bin = Vec::new();
    builder.write(&mut |d| bin.extend_from_slice(d));
    let mut bit = Vec::new();
    builder
        .write_bit(
            "blinky;UserID=0XFFFFFFFF;Version=leasehold-synthetic",
            "7a35tcpg236",
            "2026/11/24",
            "00:00:00",
            &mut |d| bit.extend_from_slice(d),
        )
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut swapped = bin.clone();
    bitfile::swap_words(&mut swapped);
    for (name, data) in [
        ("xc7a35t-blinky.bit", &bit),
        ("xc7a35t-blinky.bin", &bin),
        ("xc7a35t-blinky-swapped.bin", &swapped),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, data)?;
        println!("{} ({} bytes)", path.display(), data.len());
    }
    Ok(())
}
