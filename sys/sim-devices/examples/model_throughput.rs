//! Measures how fast the xc7 model swallows a large stream through the
//! board facade (SPI bulk writes), next to a memcpy of the same bytes.
//!
//! ```text
//! cargo run --release -p sim-devices --example model_throughput [MIB]
//! ```

use fpga_bitstream::xc7::{FRAME_WORDS, StreamBuilder, XC7A35T};
use serde_json::json;
use sim_devices::{Board, gpio, xc7};
use std::time::Instant;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(32);
    let stream = random_stream(mib);
    let mb = stream.len() as f64 / 1e6;

    // Touch the destination first so the baseline is not page faults.
    let mut copy = vec![1u8; stream.len()];
    let t = Instant::now();
    copy.copy_from_slice(&stream);
    let memcpy = t.elapsed().as_secs_f64();
    std::hint::black_box(&copy);

    for chunk in [4096, 64 * 1024, stream.len()] {
        let secs = load_in_pieces(&stream, chunk);
        println!(
            "xc7 model, {chunk:>9}-byte writes: {:8.0} MB/s ({mb:.1} MB)",
            mb / secs
        );
    }
    println!("memcpy baseline:                 {:8.0} MB/s", mb / memcpy);
}

/// A valid XC7A35T stream of `mib` MiB of pseudo-random frame data.
fn random_stream(mib: usize) -> Vec<u8> {
    let frames = mib * 1024 * 1024 / (FRAME_WORDS * 4);
    let mut x = 1u32;
    let words: Vec<u32> = (0..frames * FRAME_WORDS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect();
    let mut stream = Vec::new();
    StreamBuilder::new(XC7A35T.idcode, &words)
        .expect("whole frames")
        .write(&mut |d| stream.extend_from_slice(d));
    stream
}

/// Seconds a fresh board's xc7 model takes to swallow `stream` in
/// `chunk`-byte SPI bulk writes; checks it ends configured.
fn load_in_pieces(stream: &[u8], chunk: usize) -> f64 {
    let mut board = Board::new(&[
        ("fpga".into(), "xc7a35t".into(), json!({})),
        (
            "spi".into(),
            "spi-controller".into(),
            json!({"device": "fpga"}),
        ),
        (
            "gpio".into(),
            "gpio".into(),
            json!({"device": "fpga", "lines": {"0": "program_b"}}),
        ),
    ])
    .expect("board");
    let now = 10_000;
    // Drive PROGRAM_B high (not pulsed): the power-on housecleaning
    // finished long before `now`.
    board.write_register(2, gpio::OUT, 1, now).expect("out");
    board.write_register(2, gpio::DIR, 1, now).expect("dir");
    let t = Instant::now();
    for piece in stream.chunks(chunk) {
        board.write_bulk(1, piece, now).expect("bulk");
    }
    let secs = t.elapsed().as_secs_f64();
    let state = board.read_register(0, 0, now).expect("state");
    assert_eq!(state, xc7::DONE, "{:?}", board.fpga_error(0));
    secs
}
