//! Packets a 7-series device refuses or skips (UG470 chapter 5) spliced
//! into the real Vivado stream in `test/bitstreams/`: each edit is made
//! and documented here, with packet headers written out from UG470's
//! table 5-20 rather than taken from the crate.

use fpga_bitstream::xc7::parser::{self, ErrorKind};
mod common;

use common::vivado_words as words;
use fpga_bitstream::xc7::{self, Command, Register};

fn validate(words: &[u32]) -> Result<parser::Summary, parser::Error> {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
    parser::validate(&bytes, Some(xc7::XC7A35T), false)
}

/// Type-1 write: 001 10 <14-bit address> 00 <11-bit count>.
const fn t1(address: u32, count: u32) -> u32 {
    0x3000_0000 | (address << 13) | count
}

const CMD: u32 = 0x04;
const SYNC: u32 = 0xAA99_5566;

fn find(w: &[u32], pattern: &[u32]) -> usize {
    w.windows(pattern.len())
        .position(|x| x == pattern)
        .unwrap_or_else(|| panic!("{pattern:08x?} not in the stream"))
}

/// The stream with `packets` just after the sync word; and their index.
fn after_sync(packets: &[u32]) -> (Vec<u32>, usize) {
    let mut w = words();
    let at = find(&w, &[SYNC]) + 1;
    w.splice(at..at, packets.iter().copied());
    (w, at)
}

#[test]
fn type_0_words_and_empty_writes_are_skipped() {
    let base = validate(&words()).unwrap();
    // Type 0 (top bits 000) carries nothing; a type-1 write of 0 words to
    // CMD runs no command, and one to MFWR copies no frame. None of them
    // is covered by the CRC.
    for packets in [
        &[0x0000_0000, 0x0ABC_DEF0][..],
        &[t1(CMD, 0)][..],
        &[t1(0x0A, 0)][..],
    ] {
        let (w, _) = after_sync(packets);
        assert_eq!(validate(&w), Ok(base), "{packets:08x?}");
    }
}

#[test]
fn the_reserved_opcode_is_refused() {
    // Opcode 11 (bits 28-27) is reserved.
    let header = 0x3800_8001;
    let (w, at) = after_sync(&[header, 0]);
    let e = validate(&w).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadOpcode { header });
    assert_eq!(e.offset as usize, at * 4);
}

#[test]
fn read_only_registers_refuse_writes() {
    // STAT (0x07), FDRO (0x03) and BOOTSTS (0x16) are read only.
    for (address, register) in [
        (0x07, Register::Stat),
        (0x03, Register::Fdro),
        (0x16, Register::Bootsts),
    ] {
        let (w, at) = after_sync(&[t1(address, 1), 0]);
        let e = validate(&w).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ReadOnlyRegister { register });
        assert_eq!(e.offset as usize, at * 4);
    }
}

#[test]
fn iprog_is_refused_in_slave_serial() {
    let (w, at) = after_sync(&[t1(CMD, 1), 0x0F]);
    let e = validate(&w).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::UnsupportedCommand {
            command: Command::Iprog
        }
    );
    assert_eq!(e.offset as usize, (at + 1) * 4);
}

#[test]
fn frame_data_needs_the_idcode_and_wcfg_first() {
    // Vivado's FDRI write: a type-1 header of 0 words, then the type-2
    // header with the count, where the device refuses it.
    let fdri = t1(0x02, 0);
    // Edit: CMD WCFG (the one before FDRI) becomes CMD NULL.
    let mut w = words();
    let wcfg = find(&w, &[t1(CMD, 1), 0x01]);
    w[wcfg + 1] = 0;
    let e = validate(&w).unwrap_err();
    assert_eq!(e.kind, ErrorKind::FdriWithoutWcfg);
    assert_eq!(e.offset as usize, (find(&w, &[fdri]) + 1) * 4);
    // Edit: the IDCODE write (header and value) becomes two NOPs.
    let mut w = words();
    let id = find(&w, &[t1(0x0C, 1), xc7::XC7A35T.idcode]);
    w[id..id + 2].copy_from_slice(&[0x2000_0000; 2]);
    let e = validate(&w).unwrap_err();
    assert_eq!(e.kind, ErrorKind::FdriBeforeIdcode);
    assert_eq!(e.offset as usize, (find(&w, &[fdri]) + 1) * 4);
}

#[test]
fn wcfg_starts_a_new_write_with_no_frame_to_copy() {
    // Edit: after the frame data's CRC check, WCFG, MFW and an MFWR
    // write. WCFG began a new write, so no frame of it exists to copy.
    let mut w = words();
    let crc = find(&w, &[t1(0x00, 1), 0x84B6_95C3]) + 2;
    let mfwr = t1(0x0A, 2);
    w.splice(crc..crc, [t1(CMD, 1), 0x01, t1(CMD, 1), 0x02, mfwr, 0, 0]);
    let e = validate(&w).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MfwrWithoutFrame);
    assert_eq!(e.offset as usize, (crc + 4) * 4);
}
