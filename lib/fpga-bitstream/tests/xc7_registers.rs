//! The 7-series register file and command effects against UG470 (v1.11,
//! tables 5-23 to 5-25) and against what the real Vivado stream in
//! `test/bitstreams/` leaves behind: the device model decides DONE and
//! INIT_B from these, so a command that stops doing what UG470 says must
//! fail here.

use fpga_bitstream::xc7::registers::{CommandFlags, ConfigRegisters};
mod common;

use common::vivado_stream;
use fpga_bitstream::xc7::{self, Command, Register, parser};

#[test]
fn the_vivado_stream_leaves_what_its_writes_and_commands_say() {
    // The stream's packets, decoded by hand (UG470 table 5-23 addresses):
    // TIMER=0, WBSTAR=0, NULL, RCRC, RBCRC_SW=0, COR0=0x02003FE5, COR1=0,
    // IDCODE=0x0362D093, SWITCH, MASK=0x401, CTL0=0x501, MASK=0, CTL1=0,
    // FAR=0, WCFG, FDRI..., CRC, GRESTORE, LFRM, START, FAR=0x03BE0000,
    // MASK=0x501, CTL0=0x501, CRC, DESYNC.
    let raw = vivado_stream();
    let mut p = parser::Parser::new(Some(xc7::XC7A35T), false);
    let mut rest = &raw[..];
    while !rest.is_empty() {
        let (used, _) = p.feed(rest).unwrap();
        rest = &rest[used..];
    }
    p.finish().unwrap();
    let expected = ConfigRegisters {
        far: 0x03BE_0000,
        // CTL0 through MASK: 0x501 under 0x401 keeps 0x401; the second
        // write, under 0x501, adds bit 8.
        ctl0: 0x501,
        ctl1: 0,
        mask: 0x501,
        cor0: 0x0200_3FE5,
        cor1: 0,
        idcode: Some(0x0362_D093),
        wbstar: 0,
        timer: 0,
        rbcrc_sw: 0,
        axss: 0,
        bspi: 0,
        lout: 0,
        flags: CommandFlags {
            // DESYNC ends the write (the parser clears WCFG and MFW).
            wcfg: false,
            mfw: false,
            last_frame: true,
            grestore: true,
            started: true,
            shutdown: false,
            switched: true,
            ghigh: false,
        },
    };
    assert_eq!(*p.registers(), expected);
    assert!(!p.registers().decrypting(), "CTL0 bit 6 (DEC) is clear");
}

#[test]
fn each_command_has_its_ug470_effect_and_no_other() {
    let none = CommandFlags::default();
    let after = |before: CommandFlags, command| {
        let mut r = ConfigRegisters {
            flags: before,
            ..ConfigRegisters::default()
        };
        r.command(command);
        r.flags
    };
    // Table 5-25, one command at a time from a fresh device.
    let set = [
        (Command::Wcfg, CommandFlags { wcfg: true, ..none }),
        (Command::Mfw, CommandFlags { mfw: true, ..none }),
        (
            Command::Lfrm,
            CommandFlags {
                last_frame: true,
                ..none
            },
        ),
        (
            Command::Aghigh,
            CommandFlags {
                ghigh: true,
                ..none
            },
        ),
        (
            Command::Start,
            CommandFlags {
                started: true,
                ..none
            },
        ),
        (
            Command::Grestore,
            CommandFlags {
                grestore: true,
                ..none
            },
        ),
        (
            Command::Shutdown,
            CommandFlags {
                shutdown: true,
                ..none
            },
        ),
        (
            Command::Switch,
            CommandFlags {
                switched: true,
                ..none
            },
        ),
    ];
    for (command, flags) in set {
        assert_eq!(after(none, command), flags, "{command:?}");
    }
    // WCFG ends a multiple-frame write; LFRM deasserts the GHIGH_B that
    // AGHIGH asserted; RCFG turns FDRI writes off (readback).
    let mfw = CommandFlags { mfw: true, ..none };
    assert_eq!(
        after(mfw, Command::Wcfg),
        CommandFlags { wcfg: true, ..none }
    );
    let ghigh = CommandFlags {
        ghigh: true,
        ..none
    };
    let lfrm = CommandFlags {
        last_frame: true,
        ..none
    };
    assert_eq!(after(ghigh, Command::Lfrm), lfrm);
    let wcfg = CommandFlags { wcfg: true, ..none };
    assert_eq!(after(wcfg, Command::Rcfg), none);
    // Commands whose effect a slave-serial load cannot observe, and those
    // the parser handles itself, leave every flag as it was.
    let all = CommandFlags {
        wcfg: true,
        mfw: true,
        last_frame: true,
        grestore: true,
        started: true,
        shutdown: true,
        switched: true,
        ghigh: true,
    };
    for command in [
        Command::Null,
        Command::Rcap,
        Command::Rcrc,
        Command::Gcapture,
        Command::Desync,
        Command::Iprog,
        Command::Crcc,
        Command::Ltimer,
        Command::BspiRead,
        Command::FallEdge,
    ] {
        assert_eq!(after(none, command), none, "{command:?}");
        assert_eq!(after(all, command), all, "{command:?}");
    }
}

#[test]
fn each_register_write_lands_in_its_own_field() {
    let mut r = ConfigRegisters {
        // All bits writable, so CTL0/CTL1 take the value whole.
        mask: u32::MAX,
        ..ConfigRegisters::default()
    };
    let writes = [
        (Register::Far, 0x01),
        (Register::Ctl0, 0x05),
        (Register::Ctl1, 0x18),
        (Register::Cor0, 0x09),
        (Register::Cor1, 0x0E),
        (Register::Idcode, 0x0C),
        (Register::Wbstar, 0x10),
        (Register::Timer, 0x11),
        (Register::RbcrcSw, 0x13),
        (Register::Axss, 0x0D),
        (Register::Bspi, 0x1F),
        (Register::Lout, 0x08),
    ];
    for (register, value) in writes {
        assert!(r.write(register, 0xA500_0000 | value), "{register:?}");
    }
    let v = |a: u32| 0xA500_0000 | a;
    let expected = ConfigRegisters {
        far: v(0x01),
        ctl0: v(0x05),
        ctl1: v(0x18),
        mask: u32::MAX,
        cor0: v(0x09),
        cor1: v(0x0E),
        idcode: Some(v(0x0C)),
        wbstar: v(0x10),
        timer: v(0x11),
        rbcrc_sw: v(0x13),
        axss: v(0x0D),
        bspi: v(0x1F),
        lout: v(0x08),
        flags: CommandFlags::default(),
    };
    assert_eq!(r, expected);
    assert!(r.write(Register::Mask, 0x0F));
    assert_eq!(r.mask, 0x0F);
    // CRC, FDRI, CMD and MFWR are the parser's; STAT, FDRO, CBC and
    // BOOTSTS are not held here. None of them changes the file.
    let before = r;
    for register in [
        Register::Crc,
        Register::Fdri,
        Register::Fdro,
        Register::Cmd,
        Register::Stat,
        Register::Mfwr,
        Register::Cbc,
        Register::Bootsts,
    ] {
        assert!(!r.write(register, 0xFFFF_FFFF), "{register:?}");
        assert_eq!(r, before, "{register:?}");
    }
}

#[test]
fn ctl_writes_change_only_the_bits_mask_allows() {
    // UG470 table 5-23: MASK selects the CTL0/CTL1 bits a write changes.
    let mut r = ConfigRegisters {
        ctl0: 0b1100,
        ctl1: 0b1100_0000,
        mask: 0b1010,
        ..ConfigRegisters::default()
    };
    assert!(r.write(Register::Ctl0, 0b0110));
    // Bits 3 and 1 from the write (0, 1), bits 2 and 0 kept (1, 0).
    assert_eq!(r.ctl0, 0b0110);
    r.mask = 0b1010_0000;
    assert!(r.write(Register::Ctl1, 0b0110_0000));
    assert_eq!(r.ctl1, 0b0110_0000);
    // The same write under an empty mask changes nothing.
    r.mask = 0;
    assert!(r.write(Register::Ctl0, u32::MAX));
    assert_eq!(r.ctl0, 0b0110);
}

#[test]
fn only_ctl0_dec_means_decrypting() {
    let with = |ctl0| ConfigRegisters {
        ctl0,
        ..ConfigRegisters::default()
    };
    assert!(with(1 << 6).decrypting());
    assert!(with(u32::MAX).decrypting());
    assert!(!with(0).decrypting());
    assert!(!with(!(1 << 6)).decrypting());
}
