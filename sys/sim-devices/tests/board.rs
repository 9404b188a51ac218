//! Board construction errors and bad accesses.

use serde_json::{Value, json};
use sim_devices::{Board, BoardError, IoError, gpio, spi};

fn entry(name: &str, model: &str, config: Value) -> (String, String, Value) {
    (name.into(), model.into(), config)
}

fn board() -> Board {
    Board::new(&[
        entry("fpga", "xc7a50t", Value::Null),
        entry("spi", "spi-controller", json!({"device": "fpga"})),
        entry("gpio", "gpio", json!({"lines": {"3": "fpga.done"}})),
    ])
    .unwrap()
}

#[test]
fn configuration_errors_name_the_peripheral_and_the_problem() {
    let e = |entries: &[(String, String, Value)]| {
        Board::new(entries).err().expect("error")
    };
    assert!(matches!(
        e(&[entry("x", "ice40-lp384", json!({}))]),
        BoardError::UnknownModel { .. }
    ));
    assert_eq!(
        e(&[entry("a", "gpio", json!({})), entry("a", "gpio", json!({}))]),
        BoardError::DuplicateName("a".into())
    );
    assert!(matches!(
        e(&[entry("s", "spi-controller", json!({"device": "nope"}))]),
        BoardError::UnknownDevice { .. }
    ));
    assert!(matches!(
        e(&[
            entry("g", "gpio", json!({})),
            entry("s", "spi-controller", json!({"device": "g"}))
        ]),
        BoardError::NotAnFpga { .. }
    ));
    assert!(matches!(
        e(&[
            entry("f", "ice40-hx1k", json!({})),
            entry("g", "gpio", json!({"device": "f", "lines": {"0": "done"}}))
        ]),
        BoardError::UnknownPin { .. }
    ));
    let msg = e(&[entry("f", "xc7a35t", json!({"speed": 1}))]).to_string();
    assert!(msg.contains("`f`") && msg.contains("speed"), "{msg}");
    assert!(matches!(
        e(&[entry("g", "gpio", json!({"lines": {"40": "x"}}))]),
        BoardError::BadConfig { .. }
    ));
    assert!(matches!(
        e(&[entry("g", "gpio", json!({"lines": {"0": "creset_b"}}))]),
        BoardError::BadConfig { .. }
    ));
}

#[test]
fn bad_accesses_are_io_errors() {
    let mut b = board();
    assert_eq!(
        b.read_register(9, 0, 0),
        Err(IoError::NoSuchPeripheral { periph: 9 })
    );
    assert_eq!(
        b.read_register(1, 0x02, 0),
        Err(IoError::NoSuchRegister { periph: 1, reg: 2 })
    );
    assert_eq!(
        b.write_register(1, spi::STATUS, 0, 0),
        Err(IoError::ReadOnly {
            periph: 1,
            reg: spi::STATUS
        })
    );
    assert_eq!(
        b.write_register(1, spi::CTRL, 0x80, 0),
        Err(IoError::BadValue {
            periph: 1,
            reg: spi::CTRL,
            value: 0x80
        })
    );
    assert_eq!(
        b.write_register(1, spi::TXDATA, 0x100, 0),
        Err(IoError::BadValue {
            periph: 1,
            reg: spi::TXDATA,
            value: 0x100
        })
    );
    assert_eq!(
        b.write_register(2, gpio::IN, 0, 0),
        Err(IoError::ReadOnly {
            periph: 2,
            reg: gpio::IN
        })
    );
    assert_eq!(
        b.write_register(0, 0x00, 1, 0),
        Err(IoError::ReadOnly { periph: 0, reg: 0 })
    );
    assert_eq!(
        b.write_register(0, 0x400, 1, 0),
        Err(IoError::NoSuchRegister {
            periph: 0,
            reg: 0x400
        })
    );
    assert_eq!(b.write_bulk(2, &[1], 0), Err(IoError::NoBulk { periph: 2 }));
    assert_eq!(
        b.read_bulk(0, &mut [0], 0),
        Err(IoError::NoBulk { periph: 0 })
    );
}

/// One CLOCKS write clocks its bytes inside the kernel, so a count past
/// the 16-bit field is refused instead of clocking 4 GiB (found by the
/// `board` fuzz target: a driver could stop every task for minutes).
#[test]
fn a_clocks_count_past_its_field_is_refused() {
    let mut b = board();
    b.write_register(1, spi::CLOCKS, spi::MAX_CLOCKS, 0)
        .unwrap();
    assert_eq!(
        b.read_register(1, spi::COUNT, 0),
        Ok(u64::from(spi::MAX_CLOCKS) as u32)
    );
    for value in [spi::MAX_CLOCKS + 1, u32::MAX] {
        assert_eq!(
            b.write_register(1, spi::CLOCKS, value, 0),
            Err(IoError::BadValue {
                periph: 1,
                reg: spi::CLOCKS,
                value
            })
        );
    }
}

#[test]
fn read_bulk_clocks_the_device_and_returns_idle_miso() {
    let mut b = board();
    let mut buf = [0u8; 5];
    b.read_bulk(1, &mut buf, 0).unwrap();
    assert_eq!(buf, [0xFF; 5]);
    assert_eq!(b.read_register(1, spi::COUNT, 0), Ok(5));
}

#[test]
fn reset_restores_power_on_state() {
    let mut b = board();
    b.write_register(2, gpio::DIR, 0xF0, 5).unwrap();
    b.write_register(1, spi::CTRL, spi::CTRL_CS, 5).unwrap();
    b.reset(2);
    b.reset(1);
    b.reset(99);
    assert_eq!(b.read_register(2, gpio::DIR, 6), Ok(0));
    assert_eq!(b.read_register(1, spi::CTRL, 6), Ok(0));
    assert_eq!(b.read_register(1, spi::STATUS, 6), Ok(1 << 2));
}

#[test]
fn unwired_lines_read_what_is_driven() {
    let mut b = board();
    b.write_register(2, gpio::OUT, 0b01, 0).unwrap();
    b.write_register(2, gpio::DIR, 0b11, 0).unwrap();
    // Line 3 is DONE (low, unconfigured); lines 0/1 driven 1/0.
    assert_eq!(b.read_register(2, gpio::IN, 0), Ok(0b01));
}

#[test]
fn every_7_series_part_is_a_board_model() {
    for part in fpga_bitstream::xc7::PARTS {
        assert!(sim_devices::MODELS.contains(&part.name), "{}", part.name);
    }
}
