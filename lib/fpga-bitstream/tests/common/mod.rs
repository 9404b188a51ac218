//! The real Vivado stream in `test/bitstreams/` (its sha256 is checked by
//! `vivado_fixture.rs`), read once per test binary the same way.

#![allow(dead_code)] // each test binary uses some of these

use fpga_bitstream::xc7::bitfile;

/// `xc7a35t-cmoda7-mandel.bit`, whole.
pub fn vivado_bit() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/bitstreams/xc7a35t-cmoda7-mandel.bit"
    );
    std::fs::read(path).expect("the fixture is checked in")
}

/// Its configuration stream: the bytes after the `.bit` header.
pub fn vivado_stream() -> Vec<u8> {
    let bit = vivado_bit();
    let h = bitfile::parse_bit_header(&bit).unwrap();
    bit[h.data_offset..].to_vec()
}

/// The stream as big-endian words (its length is a multiple of 4).
pub fn vivado_words() -> Vec<u32> {
    vivado_stream()
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}
