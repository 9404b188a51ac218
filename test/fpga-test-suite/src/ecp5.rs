//! The ECP5 cases: the real `ecppack` images (`test/bitstreams/ecp5-*`,
//! blobs `ecp5_25f` and `ecp5_85f`) through client, manager, the
//! `drv-ecp5-spi` driver and the slave-SPI device model of an LFE5U-25F
//! (device `ecp5`) and an LFE5U-85F (device `ecp5_85`), and copies
//! edited here as they stream out: a flipped frame bit, a truncation,
//! the other part's image.
//!
//! Besides what the manager says (state and status as Linux names them),
//! each case reads the device model's own state register, which the
//! suite is granted: INITN is high in READY and DONE, DONE high in DONE
//! only (`sim-devices`' ECP5 docs), and its error register holds the
//! bitstream error code the device would report.

use super::*;

/// The model's debug registers (read only; `sim-devices` ECP5 docs).
const STATE: u32 = 0x00;
const ERROR: u32 = 0x04;
const FRAMES: u32 = 0x0C;
/// STATE values.
const READY: u32 = 2;
const DONE: u32 = 3;
/// ERROR values: the BSE codes of TN-02039 (1 ID, 3 CRC).
const BSE_ID: u32 = 1;
const BSE_CRC: u32 = 3;

/// Configuration frames of each part (its image writes them all).
const FRAMES_25F: u32 = 7562;
const FRAMES_85F: u32 = 13294;

fn ecp5_image(dev: u8) -> &'static [u8] {
    if dev == ECP5 {
        blob!(ecp5_25f)
    } else {
        blob!(ecp5_85f)
    }
}

fn model(dev: u8) -> u16 {
    if dev == ECP5 {
        peripherals::ECP5
    } else {
        peripherals::ECP5_85
    }
}

/// The model's pins, (INITN, DONE), from its state register.
fn pins(dev: u8) -> (bool, bool) {
    let s = sys_read_register(model(dev), STATE);
    (s == READY || s == DONE, s == DONE)
}

fn bse(dev: u8) -> u32 {
    sys_read_register(model(dev), ERROR)
}

/// Configured: the manager says OPERATING (and the driver, from the
/// DONE pin), status 0, and the model has DONE and INITN high with
/// every frame written.
#[track_caller]
fn expect_ecp5_operating(dev: u8, frames: u32) {
    expect_operating(dev);
    expect_eq!(pins(dev), (true, true));
    expect_eq!(bse(dev), 0);
    expect_eq!(sys_read_register(model(dev), FRAMES), frames);
}

/// Streams `img[range]` into `dev` with `edit(offset, chunk)` applied
/// on the way (offsets count from the start of `img`).
fn load_edited_into(
    dev: u8,
    img: &[u8],
    range: core::ops::Range<usize>,
    timeout: u32,
    edit: &dyn Fn(usize, &mut [u8]),
) -> Result<(), FpgaError> {
    let img = &img[..range.end];
    let mut at = range.start;
    load_streamed(dev, range.len(), timeout, &mut |buf| {
        let n = buf.len().min(img.len() - at);
        buf[..n].copy_from_slice(&img[at..at + n]);
        edit(at, &mut buf[..n]);
        at += n;
        n
    })
}

/// A failed load: `error`, WRITE_COMPLETE_ERR, status `bits`, the model
/// with `pins` and error code `code`; then the real image loads.
#[track_caller]
fn expect_ecp5_failed_then_good(
    dev: u8,
    r: Result<(), FpgaError>,
    error: FpgaError,
    bits: u64,
    pins_after: (bool, bool),
    code: u32,
) {
    expect_eq!(r, Err(error));
    expect_eq!(state(dev), FpgaState::WriteCompleteErr);
    expect_eq!(hardware(dev), Ok(FpgaState::Reset));
    expect_eq!(mgr().status(dev), Ok(bits));
    expect_eq!(pins(dev), pins_after);
    expect_eq!(bse(dev), code);
    expect_good_load(dev, ecp5_image(dev));
    let frames = if dev == ECP5 { FRAMES_25F } else { FRAMES_85F };
    expect_ecp5_operating(dev, frames);
}

/// Where the preamble starts (after ecppack's comment block).
fn preamble(img: &[u8]) -> usize {
    img.windows(4)
        .position(|w| w == [0xFF, 0xFF, 0xBD, 0xB3])
        .expect("preamble")
}

#[track_caller]
fn real(dev: u8, frames: u32) {
    let img = ecp5_image(dev);
    expect_good_load(dev, img);
    expect_ecp5_operating(dev, frames);
    // Streamed in 16 KiB chunks, and as a raw stream from the preamble.
    let len = img.len();
    expect_eq!(
        load_edited_into(dev, img, 0..len, TIMEOUT_MS, &|_, _| {}),
        Ok(())
    );
    expect_ecp5_operating(dev, frames);
    let raw = preamble(img);
    expect_eq!(
        load_edited_into(dev, img, raw..len, TIMEOUT_MS, &|_, _| {}),
        Ok(())
    );
    expect_ecp5_operating(dev, frames);
}

/// The LFE5U-25F image on the LFE5U-25F: OPERATING, DONE and INITN high.
pub fn test_ecp5_real_25f() {
    real(ECP5, FRAMES_25F);
}

/// The LFE5U-85F image on the LFE5U-85F.
pub fn test_ecp5_real_85f() {
    real(ECP5_85, FRAMES_85F);
}

/// Each part's image on the other: VERIFY_ID fails (BSE code 1, the
/// status register's ID error), INITN low; Linux's "incompatible image".
pub fn test_ecp5_wrong_part() {
    let bits = status::OPERATION_ERR | status::INCOMPATIBLE_IMAGE_ERR;
    for (dev, other) in [(ECP5, ECP5_85), (ECP5_85, ECP5)] {
        let r = load_whole(dev, ecp5_image(other));
        let e = FpgaError::WriteCompleteFailed;
        expect_ecp5_failed_then_good(dev, r, e, bits, (false, false), BSE_ID);
    }
}

/// One flipped bit in the frame data: that frame's CRC-16 check fails
/// (BSE code 3), INITN low; Linux's "CRC error".
pub fn test_ecp5_bad_crc() {
    for dev in [ECP5, ECP5_85] {
        let img = ecp5_image(dev);
        let target = img.len() / 2;
        let r =
            load_edited_into(dev, img, 0..img.len(), TIMEOUT_MS, &|at, c| {
                xor_at(at, c, target, 0x10)
            });
        let bits = status::OPERATION_ERR | status::CRC_ERR;
        let e = FpgaError::WriteCompleteFailed;
        expect_ecp5_failed_then_good(dev, r, e, bits, (false, false), BSE_CRC);
    }
}

/// Images cut short (in the frame data, and just before their last
/// command, ISC_PROGRAM_DONE): the device sees no error, INITN stays high
/// and DONE low, and the driver times out. An image cut inside its
/// comment block is refused by the driver's parse_header before the
/// device is touched.
pub fn test_ecp5_truncated() {
    let img = ecp5_image(ECP5);
    let len = img.len();
    for end in [len / 2, len - 8] {
        let r = load_edited_into(ECP5, img, 0..end, 300, &|_, _| {});
        let e = FpgaError::Timeout;
        let bits = status::OPERATION_ERR;
        expect_ecp5_failed_then_good(ECP5, r, e, bits, (true, false), 0);
    }
    let before = pins(ECP5);
    let r = load_edited_into(ECP5, img, 0..20, TIMEOUT_MS, &|_, _| {});
    expect_eq!(r, Err(FpgaError::HeaderInvalid));
    expect_eq!(state(ECP5), FpgaState::ParseHeaderErr);
    expect_eq!(pins(ECP5), before);
    expect_good_load(ECP5, img);
    expect_ecp5_operating(ECP5, FRAMES_25F);
}
