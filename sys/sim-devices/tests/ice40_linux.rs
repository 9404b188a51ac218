//! The iCE40 model driven through the Linux `ice40-spi` sequence (and the
//! Zephyr and Hubris variants) with real IceStorm bitstreams.

mod common;

use common::{FPGA, GPIO, Rig, SPI, bitstream};
use sim_devices::{gpio, ice40, spi};

const CRESET_B: u32 = 0;
const CDONE: u32 = 1;

const STATE: u32 = 0x00;
const ERROR: u32 = 0x04;
const IGNORED: u32 = 0x0C;
const DESIGN: u32 = 0x10;

fn rig() -> Rig {
    Rig::new("ice40-hx1k", &["creset_b", "cdone"])
}

/// Linux `ice40_fpga_ops_write_init`; returns whether CDONE was low after
/// reset, as the driver checks.
fn write_init(r: &mut Rig, housekeeping_us: u64) -> bool {
    r.set_line(CRESET_B, false);
    r.cs(true); // empty transfer with cs_change: SS_B stays asserted
    r.sleep(1);
    r.set_line(CRESET_B, true);
    let cdone_low = !r.line(CDONE);
    r.sleep(housekeeping_us);
    r.cs(false);
    cdone_low
}

/// Linux `ice40_fpga_ops_write_complete`: CDONE must be high, then 7 zero
/// bytes (>= 49 clocks) start the design.
fn write_complete(r: &mut Rig) -> bool {
    if !r.line(CDONE) {
        return false;
    }
    r.spi_write(&[0; 7], 7);
    true
}

fn load(r: &mut Rig, image: &[u8], chunk: usize) -> bool {
    assert!(write_init(r, 1200));
    r.spi_write(image, chunk);
    write_complete(r)
}

#[test]
fn linux_sequence_configures_hx1k_with_a_real_bitstream() {
    let mut r = rig();
    assert!(!r.line(CDONE), "unconfigured at power-on");
    assert!(load(
        &mut r,
        &bitstream("ice40-hx1k-blinky.bin"),
        usize::MAX
    ));
    assert!(r.line(CDONE));
    assert_eq!(r.debug(STATE), ice40::USER_MODE);
    assert_eq!(r.debug(ERROR), 0);
    assert_ne!(r.debug(DESIGN), 0);
}

#[test]
fn hubris_style_128_byte_chunks_configure_up5k_and_hx8k() {
    for (model, file) in [
        ("ice40-up5k", "ice40-up5k-blinky.bin"),
        ("ice40-hx8k", "ice40-hx8k-blinky.bin"),
    ] {
        let mut r = Rig::new(model, &["creset_b", "cdone"]);
        assert!(load(&mut r, &bitstream(file), 128), "{model}");
        assert_eq!(r.debug(STATE), ice40::USER_MODE, "{model}");
    }
}

#[test]
fn zephyr_sequence_with_leading_and_trailing_clocks_configures() {
    let mut r = rig();
    assert!(write_init(&mut r, 1200));
    r.write(SPI, spi::CLOCKS, 1); // 8 leading clocks, SS_B high
    r.spi_write(&bitstream("ice40-hx1k-blinky.bin"), 4096);
    r.write(SPI, spi::CLOCKS, 7); // 56 trailing clocks, SS_B high
    assert!(r.line(CDONE));
    assert_eq!(r.debug(STATE), ice40::USER_MODE);
}

#[test]
fn design_runs_only_after_49_clocks_past_wakeup() {
    let mut r = rig();
    assert!(write_init(&mut r, 1200));
    // icepack ends the image with one padding byte after wakeup: 8 clocks.
    r.spi_write(&bitstream("ice40-hx1k-blinky.bin"), usize::MAX);
    assert!(r.line(CDONE), "CDONE rises at wakeup");
    assert_eq!(r.debug(STATE), ice40::WAKING);
    r.spi_write(&[0; 5], 5); // 8 + 40 = 48 clocks
    assert_eq!(r.debug(STATE), ice40::WAKING);
    r.spi_write(&[0], 1);
    assert_eq!(r.debug(STATE), ice40::USER_MODE);
}

#[test]
fn bad_crc_leaves_cdone_low() {
    let mut image = bitstream("ice40-hx1k-blinky.bin");
    image[5000] ^= 0x01;
    let mut r = rig();
    assert!(!load(&mut r, &image, 4096));
    assert!(!r.line(CDONE));
    assert_eq!(r.debug(STATE), ice40::FAILED);
    assert_eq!(r.debug(ERROR), 9, "{:?}", r.board.fpga_error(FPGA));
}

#[test]
fn truncated_bitstream_leaves_cdone_low() {
    let image = bitstream("ice40-hx1k-blinky.bin");
    let mut r = rig();
    assert!(!load(&mut r, &image[..image.len() / 2], 4096));
    assert_eq!(r.debug(STATE), ice40::CONFIGURING, "still waiting for data");
    assert_eq!(r.debug(ERROR), 0);
}

#[test]
fn bitstream_for_another_device_leaves_cdone_low() {
    let mut r = rig();
    assert!(!load(&mut r, &bitstream("ice40-up5k-blinky.bin"), 4096));
    assert_eq!(r.debug(ERROR), 7, "{:?}", r.board.fpga_error(FPGA));
}

#[test]
fn data_sent_during_housekeeping_is_lost_and_config_fails() {
    let mut r = rig();
    assert!(write_init(&mut r, 100)); // far short of 1200 us
    let image = bitstream("ice40-hx1k-blinky.bin");
    r.spi_write(&image, usize::MAX);
    assert!(!write_complete(&mut r));
    assert_eq!(r.debug(IGNORED), image.len() as u32);
    assert_eq!(r.debug(STATE), ice40::HOUSEKEEPING);
    r.sleep(2000);
    assert_eq!(r.debug(STATE), ice40::CONFIGURING, "listening, too late");
    assert!(!r.line(CDONE));
}

#[test]
fn reset_released_without_ss_asserted_boots_from_absent_flash() {
    let mut r = rig();
    r.set_line(CRESET_B, false);
    r.sleep(1);
    r.set_line(CRESET_B, true);
    r.sleep(1200);
    r.spi_write(&bitstream("ice40-hx1k-blinky.bin"), 4096);
    assert!(!r.line(CDONE));
    assert_eq!(r.debug(STATE), ice40::NO_FLASH);
}

#[test]
fn reset_after_configuration_drops_cdone_and_reload_works() {
    let image = bitstream("ice40-hx1k-blinky.bin");
    let mut r = rig();
    assert!(load(&mut r, &image, 4096));
    let design = r.debug(DESIGN);
    r.set_line(CRESET_B, false);
    assert!(!r.line(CDONE));
    assert_eq!(r.debug(STATE), ice40::RESET);
    assert!(load(&mut r, &image, 333));
    assert_eq!(r.debug(DESIGN), design, "same design id on reload");
}

#[test]
fn lsb_first_controller_needs_bit_reversed_bytes() {
    let image = bitstream("ice40-hx1k-blinky.bin");
    let mut r = rig();
    r.write(SPI, spi::CTRL, spi::CTRL_LSB_FIRST);
    assert!(!load(&mut r, &image, 4096), "bits arrive reversed");
    let reversed: Vec<u8> = image.iter().map(|b| b.reverse_bits()).collect();
    assert!(load(&mut r, &reversed, 4096));
}

#[test]
fn cdone_rising_edge_raises_the_gpio_interrupt() {
    let mut r = rig();
    r.write(GPIO, gpio::RISE_EN, 1 << CDONE);
    assert!(write_init(&mut r, 1200));
    assert!(r.board.take_irqs().is_empty());
    r.spi_write(&bitstream("ice40-hx1k-blinky.bin"), 4096);
    assert_eq!(r.board.take_irqs(), vec![(GPIO, gpio::IRQ_EDGE)]);
    assert_eq!(r.read(GPIO, gpio::EDGES), 1 << CDONE);
    r.write(GPIO, gpio::EDGES, 1 << CDONE);
    assert_eq!(r.read(GPIO, gpio::EDGES), 0);
}

#[test]
fn spi_done_interrupt_follows_each_transfer_when_enabled() {
    let mut r = rig();
    r.write(SPI, spi::CTRL, spi::CTRL_IRQ_EN);
    r.board.write_bulk(SPI, &[1, 2, 3], r.now).unwrap();
    r.write(SPI, spi::TXDATA, 0x42);
    assert_eq!(
        r.board.take_irqs(),
        vec![(SPI, spi::IRQ_DONE), (SPI, spi::IRQ_DONE)]
    );
    assert_eq!(r.read(SPI, spi::COUNT), 4);
}
