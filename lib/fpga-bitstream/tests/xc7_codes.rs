//! The 7-series register addresses (UG470 v1.11 table 5-23, plus
//! RBCRC_SW from Vivado's own bitstream dumps) and CMD codes (table
//! 5-25), written out here from the guide rather than taken from the
//! crate, against its decoders.

use fpga_bitstream::xc7::{Command, Register};

const REGISTERS: [(u32, Register); 21] = [
    (0x00, Register::Crc),
    (0x01, Register::Far),
    (0x02, Register::Fdri),
    (0x03, Register::Fdro),
    (0x04, Register::Cmd),
    (0x05, Register::Ctl0),
    (0x06, Register::Mask),
    (0x07, Register::Stat),
    (0x08, Register::Lout),
    (0x09, Register::Cor0),
    (0x0A, Register::Mfwr),
    (0x0B, Register::Cbc),
    (0x0C, Register::Idcode),
    (0x0D, Register::Axss),
    (0x0E, Register::Cor1),
    (0x10, Register::Wbstar),
    (0x11, Register::Timer),
    (0x13, Register::RbcrcSw),
    (0x16, Register::Bootsts),
    (0x18, Register::Ctl1),
    (0x1F, Register::Bspi),
];

const COMMANDS: [(u32, Command); 19] = [
    (0x00, Command::Null),
    (0x01, Command::Wcfg),
    (0x02, Command::Mfw),
    (0x03, Command::Lfrm),
    (0x04, Command::Rcfg),
    (0x05, Command::Start),
    (0x06, Command::Rcap),
    (0x07, Command::Rcrc),
    (0x08, Command::Aghigh),
    (0x09, Command::Switch),
    (0x0A, Command::Grestore),
    (0x0B, Command::Shutdown),
    (0x0C, Command::Gcapture),
    (0x0D, Command::Desync),
    (0x0F, Command::Iprog),
    (0x10, Command::Crcc),
    (0x11, Command::Ltimer),
    (0x12, Command::BspiRead),
    (0x13, Command::FallEdge),
];

#[test]
fn every_register_address_decodes_and_no_other() {
    for address in 0..32 {
        let expected = REGISTERS.iter().find(|(a, _)| *a == address);
        assert_eq!(
            Register::from_address(address),
            expected.map(|(_, r)| *r),
            "{address:#04x}"
        );
    }
    for (address, register) in REGISTERS {
        assert_eq!(register.address(), address, "{register:?}");
    }
}

#[test]
fn a_type_1_write_header_is_op_address_and_count() {
    // UG470 table 5-20: 001 (type 1), 10 (write), 14-bit address of which
    // the low 5 bits are used, 2 reserved bits, 11-bit word count. Vivado
    // writes FAR with one word as 0x30002001 and the CMD header as
    // 0x30008001.
    assert_eq!(Register::Far.write_header(1), 0x3000_2001);
    assert_eq!(Register::Cmd.write_header(1), 0x3000_8001);
    assert_eq!(Register::Bspi.write_header(0x7FF), 0x3003_E7FF);
    // The count keeps its 11 bits only.
    assert_eq!(Register::Crc.write_header(0x801), 0x3000_0001);
}

#[test]
fn every_command_code_decodes_and_no_other() {
    for code in 0..64 {
        let expected = COMMANDS.iter().find(|(c, _)| *c == code);
        assert_eq!(
            Command::from_code(code),
            expected.map(|(_, c)| *c),
            "{code:#04x}"
        );
    }
}
