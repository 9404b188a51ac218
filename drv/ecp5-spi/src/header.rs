//! `parse_header` for ECP5 images: where the commands start.
//!
//! An `ecppack` or Diamond `.bit` opens with a comment block (`FF 00`,
//! NUL-terminated strings naming the part and the tool, `FF`), then
//! padding and the preamble `FF FF BD B3`; a raw stream starts at the
//! padding. The device ignores everything before the preamble, so Linux's
//! lattice-sysconfig sends it all. We answer `header_size` = the
//! preamble's offset, so the manager's `skip_header` sends the commands
//! only, and we refuse an image with anything else before the preamble
//! (a Xilinx `.bit`, an iCE40 image): on a real board it would clock
//! through the configuration logic unseen and fail only at DONE.
//!
//! When the bytes given end before the preamble, we answer `need_more`
//! (Linux's `-EAGAIN`) with a larger size, strictly more than we were
//! given, up to [`MAX_HEADER`] bytes (ecppack's comment is ~30 bytes,
//! Diamond's a few hundred).
//!
//! What we deliberately do not check here: VERIFY_ID and the CRCs. The
//! device checks those and says so in its status register and on INITN.

use drv_fpga_driver_server::api::{DriverError, HeaderInfo};
use fpga_bitstream::ecp5::{self, Header};

/// The most image bytes `parse_header` reads (on the driver's stack).
pub const MAX_HEADER: usize = 1024;

/// Decides what `parse_header` answers for an image of `image_len` bytes
/// whose first bytes are `buf` (at most [`MAX_HEADER`] of them).
///
/// # Errors
///
/// [`DriverError::InvalidArgument`] if `buf` is longer than the image or
/// than [`MAX_HEADER`]; [`DriverError::BadHeader`] when the bytes before
/// the preamble are not a comment block or padding, or no preamble shows
/// within [`MAX_HEADER`] bytes or before the image ends.
pub fn parse(buf: &[u8], image_len: usize) -> Result<HeaderInfo, DriverError> {
    if buf.len() > image_len || buf.len() > MAX_HEADER {
        return Err(DriverError::InvalidArgument);
    }
    match ecp5::scan_header(buf) {
        Header::Preamble(at) => Ok(HeaderInfo {
            header_size: u32::try_from(at)
                .map_err(|_| DriverError::BadHeader)?,
            data_size: 0,
            need_more: false,
        }),
        Header::NeedMore => {
            let ask = (buf.len() * 2).clamp(64, MAX_HEADER).min(image_len);
            if ask <= buf.len() {
                return Err(DriverError::BadHeader);
            }
            Ok(HeaderInfo {
                header_size: ask as u32,
                data_size: 0,
                need_more: true,
            })
        }
        Header::Invalid => Err(DriverError::BadHeader),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn image(name: &str) -> Vec<u8> {
        let path = std::format!(
            "{}/../../test/bitstreams/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Runs the manager's grow loop: start at 64 bytes, ask again while
    /// `need_more`, each ask strictly larger.
    fn grow(img: &[u8]) -> Result<HeaderInfo, DriverError> {
        let mut n = 64.min(img.len());
        loop {
            let info = parse(&img[..n], img.len())?;
            if !info.need_more {
                return Ok(info);
            }
            assert!(info.header_size as usize > n);
            n = info.header_size as usize;
        }
    }

    #[test]
    fn real_images_start_at_their_preamble() {
        for name in ["ecp5-25f-blinky.bit", "ecp5-85f-blinky.bit"] {
            let img = image(name);
            let info = grow(&img).unwrap();
            let at = info.header_size as usize;
            assert_eq!(&img[at..at + 4], &ecp5::PREAMBLE, "{name}");
            assert_eq!(info.data_size, 0);
            // The raw stream, from the preamble on, needs no skipping.
            assert_eq!(grow(&img[at..]).unwrap().header_size, 0);
        }
    }

    #[test]
    fn a_comment_longer_than_the_first_ask_grows() {
        let mut img = Vec::from(&b"\xFF\x00"[..]);
        img.extend(core::iter::repeat_n(b'x', 300));
        img.extend_from_slice(b"\x00\xFF\xFF\xFF\xBD\xB3\x3B\x00\x00\x00");
        let info = grow(&img).unwrap();
        // The preamble's first two 0xFF follow the closing one.
        assert_eq!(info.header_size, 304);
    }

    #[test]
    fn foreign_truncated_and_endless_headers_are_refused() {
        for name in ["xc7a35t-blinky.bit", "ice40-hx1k-blinky.bin"] {
            assert_eq!(grow(&image(name)), Err(DriverError::BadHeader));
        }
        // Padding that never ends in a preamble within MAX_HEADER.
        assert_eq!(grow(&[0xFF; 4096]), Err(DriverError::BadHeader));
        // An image that ends inside its comment block.
        assert_eq!(grow(b"\xFF\x00Part: LFE5U"), Err(DriverError::BadHeader));
        assert_eq!(grow(&[]), Err(DriverError::BadHeader));
        assert_eq!(parse(&[0; 8], 4), Err(DriverError::InvalidArgument));
    }
}
