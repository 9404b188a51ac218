//! The 7-series model driven through the Linux `xilinx-spi` sequence with
//! the checked-in images and StreamBuilder streams.

mod common;

use common::{FPGA, GPIO, Rig, SPI, bitstream};
use fpga_bitstream::xc7::{self, FRAME_WORDS, StreamBuilder, bitfile, parser};
use sim_devices::{gpio, xc7 as model};

const PROGRAM_B: u32 = 0;
const INIT_B: u32 = 1;
const DONE: u32 = 2;

const STATE: u32 = 0x00;
const ERROR: u32 = 0x04;
const DESIGN: u32 = 0x10;
const FRAMES: u32 = 0x18;

fn rig() -> Rig {
    Rig::new("xc7a35t", &["program_b", "init_b", "done"])
}

fn stream(idcode: u32, frames: usize, trailing_nops: usize) -> Vec<u8> {
    let words: Vec<u32> = (0..frames * FRAME_WORDS)
        .map(|i| (i as u32).wrapping_mul(0x9E37_79B9))
        .collect();
    let mut out = Vec::new();
    StreamBuilder::new(idcode, &words)
        .unwrap()
        .trailing_nops(trailing_nops)
        .write(&mut |d| out.extend_from_slice(d));
    out
}

/// Linux `xilinx_spi_write_init`. Returns false where Linux would fail.
fn write_init(r: &mut Rig) -> bool {
    r.set_line(PROGRAM_B, false);
    if r.line(INIT_B) {
        return false; // INIT_B must assert while PROGRAM_B is low
    }
    r.sleep(1);
    r.set_line(PROGRAM_B, true);
    let deadline = r.now + 1_000_000;
    while !r.line(INIT_B) {
        if r.now > deadline {
            return false;
        }
        r.sleep(100);
    }
    if r.line(DONE) {
        return false;
    }
    r.sleep(7500);
    true
}

/// Linux `xilinx_spi_write`: 4 KiB strides.
fn write(r: &mut Rig, data: &[u8]) {
    for piece in data.chunks(4096) {
        r.board.write_bulk(SPI, piece, r.now).unwrap();
    }
}

/// Linux `xilinx_spi_write_complete`: poll DONE, one 0xFF per poll.
/// Returns the number of polls it took, or None on timeout.
fn write_complete(r: &mut Rig) -> Option<u32> {
    for polls in 0..1000 {
        if r.line(DONE) {
            return Some(polls);
        }
        r.board.write_bulk(SPI, &[0xFF], r.now).unwrap();
        r.sleep(10);
    }
    None
}

#[test]
fn linux_sequence_configures_from_the_checked_in_bin() {
    let image = bitstream("xc7a35t-blinky.bin");
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &image);
    assert!(write_complete(&mut r).is_some());
    assert!(r.line(INIT_B) && r.line(DONE));
    assert_eq!(r.debug(STATE), model::DONE);
    let summary = parser::validate(&image, Some(xc7::XC7A35T), false).unwrap();
    assert_eq!(Some(r.debug(DESIGN)), summary.last_crc);
    assert_eq!(r.debug(FRAMES) as u64, summary.frame_words);
}

#[test]
fn driver_strips_the_bit_header_and_configures() {
    let bit = bitstream("xc7a35t-blinky.bit");
    let header = bitfile::parse_bit_header(&bit).unwrap();
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &bit[header.data_offset..]);
    assert!(write_complete(&mut r).is_some());
}

#[test]
fn done_needs_extra_clocks_after_desync() {
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &stream(xc7::XC7A35T.idcode, 4, 0));
    assert!(!r.line(DONE), "startup needs CCLKs after DESYNC");
    assert_eq!(r.debug(STATE), model::STARTUP);
    assert_eq!(write_complete(&mut r), Some(1), "one 0xFF is 8 CCLKs");
}

#[test]
fn wrong_idcode_pulls_init_b_low() {
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &stream(xc7::XC7A50T.idcode, 2, 16));
    assert_eq!(write_complete(&mut r), None);
    assert!(!r.line(INIT_B), "Linux: CRC error or invalid device");
    assert!(!r.line(DONE));
    assert_eq!(r.debug(ERROR), 7, "{:?}", r.board.fpga_error(FPGA));
}

#[test]
fn crc_mismatch_pulls_init_b_low() {
    let mut image = bitstream("xc7a35t-blinky.bin");
    let at = image.len() / 2;
    image[at] ^= 0x80;
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &image);
    assert_eq!(write_complete(&mut r), None);
    assert!(!r.line(INIT_B) && !r.line(DONE));
    assert_eq!(r.debug(ERROR), 10);
}

#[test]
fn truncated_stream_keeps_init_b_high_and_done_low() {
    let image = bitstream("xc7a35t-blinky.bin");
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &image[..image.len() - 200]);
    assert_eq!(write_complete(&mut r), None);
    assert!(r.line(INIT_B), "Linux: missing sync word or incomplete");
    assert!(!r.line(DONE));
    assert_eq!(r.debug(STATE), model::CONFIGURING);
}

#[test]
fn swapped_bin_has_no_sync_until_the_driver_swaps_it() {
    let mut image = bitstream("xc7a35t-blinky-swapped.bin");
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &image);
    assert_eq!(write_complete(&mut r), None);
    assert!(r.line(INIT_B) && !r.line(DONE));
    bitfile::swap_words(&mut image);
    assert!(write_init(&mut r));
    write(&mut r, &image);
    assert!(write_complete(&mut r).is_some());
}

#[test]
fn without_a_program_b_pulse_a_failed_device_stays_failed() {
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &stream(xc7::XC7A50T.idcode, 1, 16));
    assert!(!r.line(INIT_B));
    // Reload the right image but skip write_init.
    write(&mut r, &bitstream("xc7a35t-blinky.bin"));
    assert_eq!(write_complete(&mut r), None);
    assert!(!r.line(INIT_B) && !r.line(DONE));
    // The pulse recovers it.
    assert!(write_init(&mut r));
    write(&mut r, &bitstream("xc7a35t-blinky.bin"));
    assert!(write_complete(&mut r).is_some());
}

#[test]
fn without_a_program_b_pulse_a_configured_device_ignores_a_new_image() {
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &bitstream("xc7a35t-blinky.bin"));
    assert!(write_complete(&mut r).is_some());
    let design = r.debug(DESIGN);
    write(&mut r, &stream(xc7::XC7A35T.idcode, 3, 16));
    assert_eq!(
        r.debug(DESIGN),
        design,
        "slave serial pins are user I/O now"
    );
}

#[test]
fn bytes_during_housecleaning_are_dropped() {
    let mut r = rig();
    r.set_line(PROGRAM_B, false);
    r.set_line(PROGRAM_B, true);
    assert!(!r.line(INIT_B));
    write(&mut r, &bitstream("xc7a35t-blinky.bin"));
    assert_eq!(write_complete(&mut r), None);
    assert_eq!(r.debug(STATE), model::CONFIGURING);
}

#[test]
fn init_b_rising_after_housecleaning_raises_an_edge_on_advance() {
    let mut r = rig();
    r.write(GPIO, gpio::RISE_EN, 1 << INIT_B);
    r.set_line(PROGRAM_B, false);
    r.set_line(PROGRAM_B, true);
    let deadline = r.board.next_deadline().expect("housecleaning");
    assert_eq!(deadline, r.now + model::HOUSECLEANING_US);
    r.write(GPIO, gpio::EDGES, !0);
    r.board.take_irqs();
    r.board.advance(deadline - 1);
    assert!(r.board.take_irqs().is_empty());
    r.board.advance(deadline);
    assert_eq!(r.board.take_irqs(), vec![(GPIO, gpio::IRQ_EDGE)]);
}

/// The real Vivado stream (test/bitstreams/README.md says where it came
/// from): its raw data after the `.bit` header.
fn vivado_raw() -> Vec<u8> {
    let bit = bitstream("xc7a35t-cmoda7-mandel.bit");
    let header = bitfile::parse_bit_header(&bit).unwrap();
    bit[header.data_offset..].to_vec()
}

#[test]
fn the_real_vivado_stream_configures_the_35t_model() {
    let raw = vivado_raw();
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &raw);
    // Vivado's 400 trailing NOPs give startup its clocks: DONE is up
    // without a single poll.
    assert_eq!(write_complete(&mut r), Some(0));
    assert!(r.line(INIT_B) && r.line(DONE));
    assert_eq!(r.debug(DESIGN), 0xE3AD_7EA5);
    assert_eq!(r.debug(FRAMES), xc7::XC7A35T.frame_words());
    // And again after a PROGRAM_B pulse: the model starts clean.
    assert!(write_init(&mut r));
    write(&mut r, &raw);
    assert_eq!(write_complete(&mut r), Some(0));
}

#[test]
fn the_real_35t_stream_fails_every_other_part_with_init_b_low() {
    let raw = vivado_raw();
    for part in xc7::PARTS.into_iter().filter(|p| *p != xc7::XC7A35T) {
        let mut r = Rig::new(part.name, &["program_b", "init_b", "done"]);
        assert!(write_init(&mut r), "{}", part.name);
        write(&mut r, &raw);
        assert_eq!(write_complete(&mut r), None, "{}", part.name);
        assert!(!r.line(INIT_B) && !r.line(DONE), "{}", part.name);
        let e = r.board.fpga_error(FPGA).unwrap();
        assert!(e.contains("IdcodeMismatch"), "{}: {e}", part.name);
        assert_eq!(r.debug(ERROR), 7);
    }
}

#[test]
fn an_encrypted_stream_is_refused_with_its_reason() {
    let mut raw = vivado_raw();
    // Edit: MASK 0x401 -> 0x441 and CTL0 0x501 -> 0x541 (the DEC bit, as
    // an encrypted Vivado stream sets it); both words are found by value.
    let words = [0x3000_C001u32, 0x401, 0x3000_A001, 0x501];
    let pattern: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
    let at = raw.windows(16).position(|w| w == pattern).unwrap();
    raw[at + 7] |= 0x40;
    raw[at + 15] |= 0x40;
    let mut r = rig();
    assert!(write_init(&mut r));
    write(&mut r, &raw);
    assert_eq!(write_complete(&mut r), None);
    assert!(!r.line(INIT_B));
    let e = r.board.fpga_error(FPGA).unwrap();
    assert!(e.contains("Encrypted"), "{e}");
    assert_eq!(r.debug(ERROR), 13);
}
