//! The ECP5 model driven through the slave-SPI sysCONFIG sequence (as
//! Hubris's `drv/fpga-devices` ECP5 code does it: PROGRAMN pulse, INITN,
//! ISC_ENABLE, LSC_BITSTREAM_BURST, status, ISC_DISABLE, DONE) with the
//! real ecppack images in `test/bitstreams/` and edited copies.

mod common;

use common::{FPGA, Rig, SPI, bitstream};
use sim_devices::ecp5::{self as model, status};

const PROGRAMN: u32 = 0;
const INITN: u32 = 1;
const DONE: u32 = 2;

fn rig(model: &str) -> Rig {
    Rig::new(model, &["programn", "initn", "done"])
}

/// One command frame: opcode, 24-bit zero operand, then `read` bytes.
fn command(r: &mut Rig, opcode: u8, read: usize) -> u32 {
    r.cs(true);
    r.board.write_bulk(SPI, &[opcode, 0, 0, 0], r.now).unwrap();
    let mut out = [0u8; 4];
    r.board.read_bulk(SPI, &mut out[..read], r.now).unwrap();
    r.cs(false);
    u32::from_be_bytes(out)
}

/// PROGRAMN pulse, then INITN high (clearing done). False on a timeout.
fn program(r: &mut Rig) -> bool {
    r.set_line(PROGRAMN, false);
    r.sleep(25);
    if r.line(INITN) || r.line(DONE) {
        return false;
    }
    r.set_line(PROGRAMN, true);
    for _ in 0..100 {
        if r.line(INITN) {
            return true;
        }
        r.sleep(100);
    }
    false
}

/// The whole load; returns the status register after the burst.
fn load(r: &mut Rig, image: &[u8]) -> u32 {
    assert!(program(r));
    command(r, 0xC6, 0); // ISC_ENABLE
    let s = command(r, 0x3C, 4);
    assert_ne!(s & status::WRITE_ENABLED, 0, "status {s:#x}");
    r.cs(true);
    r.board.write_bulk(SPI, &[0x7A, 0, 0, 0], r.now).unwrap();
    for piece in image.chunks(4096) {
        r.board.write_bulk(SPI, piece, r.now).unwrap();
    }
    r.cs(false);
    let s = command(r, 0x3C, 4);
    command(r, 0x26, 0); // ISC_DISABLE
    s
}

#[test]
fn read_id_answers_with_the_parts_idcode() {
    let mut r = rig("lfe5u-85f");
    r.sleep(model::INIT_US);
    assert_eq!(command(&mut r, 0xE0, 4), 0x4111_3043);
}

#[test]
fn each_real_image_configures_its_part() {
    for (model, image) in [
        ("lfe5u-25f", "ecp5-25f-blinky.bit"),
        ("lfe5u-85f", "ecp5-85f-blinky.bit"),
    ] {
        let bit = bitstream(image);
        let mut r = rig(model);
        let s = load(&mut r, &bit);
        assert_eq!(s & status::FAIL, 0, "{model}: {s:#x}");
        assert!(r.line(DONE) && r.line(INITN), "{model}");
        assert_ne!(command(&mut r, 0x3C, 4) & status::DONE, 0);
    }
}

#[test]
fn the_wrong_part_is_an_id_error_and_the_device_loads_after() {
    let mut r = rig("lfe5u-85f");
    let s = load(&mut r, &bitstream("ecp5-25f-blinky.bit"));
    assert_ne!(s & status::ID_ERROR, 0, "{s:#x}");
    assert_eq!(s >> status::BSE_SHIFT & 7, 1);
    assert!(!r.line(INITN) && !r.line(DONE));
    assert!(r.board.fpga_error(FPGA).unwrap().contains("IdMismatch"));
    let s = load(&mut r, &bitstream("ecp5-85f-blinky.bit"));
    assert_eq!(s & status::FAIL, 0);
    assert!(r.line(DONE));
}

#[test]
fn a_flipped_bit_is_a_crc_error_and_the_device_loads_after() {
    let good = bitstream("ecp5-25f-blinky.bit");
    let mut bad = good.clone();
    // Edit: one bit in the middle of the frame data.
    bad[good.len() / 2] ^= 0x10;
    let mut r = rig("lfe5u-25f");
    let s = load(&mut r, &bad);
    assert_ne!(s & status::FAIL, 0, "{s:#x}");
    assert_eq!(s >> status::BSE_SHIFT & 7, 3, "CRC mismatch");
    assert!(!r.line(INITN) && !r.line(DONE));
    let s = load(&mut r, &good);
    assert_eq!(s & status::FAIL, 0);
    assert!(r.line(DONE));
}

#[test]
fn a_truncated_image_never_wakes_and_the_device_loads_after() {
    let good = bitstream("ecp5-25f-blinky.bit");
    let mut r = rig("lfe5u-25f");
    let s = load(&mut r, &good[..good.len() / 2]);
    assert_eq!(s & status::FAIL, 0, "no error the device can see");
    assert!(r.line(INITN) && !r.line(DONE));
    let s = load(&mut r, &good);
    assert_eq!(s & status::FAIL, 0);
    assert!(r.line(DONE));
}

#[test]
fn an_unknown_command_sets_its_status_flag() {
    let mut r = rig("lfe5u-25f");
    r.sleep(model::INIT_US);
    command(&mut r, 0x55, 0);
    assert_ne!(command(&mut r, 0x3C, 4) & status::INVALID_COMMAND, 0);
}
