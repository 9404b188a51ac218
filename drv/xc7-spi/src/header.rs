//! `parse_header` for 7-series images: where the configuration data
//! starts and how long it is.
//!
//! Linux's xilinx-spi has no `parse_header`: it sends whatever it is
//! given, so a `.bit` file's TLV header reaches the device as garbage
//! before the sync word (harmless on silicon, which hunts for the sync
//! word) and a byte-swapped `.bin` never configures at all. We use the
//! header hook the framework gained in 6.0 instead:
//!
//! - `.bit` (starts with [`BIT_MAGIC`]): `header_size` is the offset of
//!   the raw data and `data_size` the `e` field; the manager's
//!   `skip_header` then sends exactly the raw data.
//! - `.bin` with the sync word in device order: `header_size` 0,
//!   `data_size` 0 (to the end of the image).
//! - `.bin` with every 32-bit word byte-swapped (Zynq PCAP order):
//!   refused with [`DriverError::BadHeader`]. Swapping on the fly would
//!   mean copying each piece through our memory, which the zero-copy path
//!   (the device reads the client's lease in place) exists to avoid.
//!
//! When the bytes given end inside the header, or before a sync word
//! appears, we answer `need_more` (Linux's `-EAGAIN`) with a larger
//! size, always strictly more than we were given, as the manager's grow
//! loop requires. We look at most [`MAX_HEADER`] bytes: Vivado headers
//! are ~100 bytes and `.bin` files have their sync word in the first 64.
//!
//! What we deliberately do not check here: the packets after the sync
//! word (IDCODE, CRC). The device checks those and says so on INIT_B.

use drv_fpga_driver_server::api::{DriverError, HeaderInfo, flags};
use fpga_bitstream::xc7::bitfile::{self, BIT_MAGIC, HeaderError};

/// The most image bytes `parse_header` reads (on the driver's stack).
pub const MAX_HEADER: usize = 1024;

/// The first size we ask for when a `.bin`'s sync word is not in sight.
const FIRST_ASK: usize = 64;

/// Puts header bytes into the order the device sees them: an image
/// flagged `LSB_FIRST` holds each byte bit-reversed (the controller
/// reverses it again on the wire), so its `.bit` magic and sync word only
/// appear once we undo that. `buf` is our own copy of the header.
pub fn to_wire_order(buf: &mut [u8], image_flags: u32) {
    if image_flags & flags::LSB_FIRST != 0 {
        for b in buf {
            *b = b.reverse_bits();
        }
    }
}

/// Decides what `parse_header` answers for an image of `image_len` bytes
/// whose first bytes are `buf` (at most [`MAX_HEADER`] of them).
///
/// # Errors
///
/// [`DriverError::InvalidArgument`] if `buf` is longer than the image;
/// [`DriverError::BadHeader`] for a malformed or truncated `.bit` header,
/// a byte-swapped `.bin`, or no sync word within [`MAX_HEADER`] bytes.
pub fn parse(buf: &[u8], image_len: usize) -> Result<HeaderInfo, DriverError> {
    if buf.len() > image_len || buf.len() > MAX_HEADER {
        return Err(DriverError::InvalidArgument);
    }
    let looks_like_bit = if buf.len() >= BIT_MAGIC.len() {
        buf.starts_with(&BIT_MAGIC)
    } else {
        BIT_MAGIC.starts_with(buf)
    };
    if looks_like_bit {
        bit_file(buf, image_len)
    } else {
        bin_file(buf, image_len)
    }
}

fn bit_file(buf: &[u8], image_len: usize) -> Result<HeaderInfo, DriverError> {
    match bitfile::parse_bit_header(buf) {
        Ok(header) => {
            let end = header.data_offset.checked_add(header.data_len as usize);
            if header.data_len == 0 || end.is_none_or(|end| end > image_len) {
                // Linux: "Bitstream data outruns FPGA image".
                return Err(DriverError::BadHeader);
            }
            Ok(HeaderInfo {
                header_size: to_u32(header.data_offset)?,
                data_size: header.data_len,
                need_more: false,
            })
        }
        Err(HeaderError::NeedMore { needed }) => {
            need_more(buf.len(), needed, image_len)
        }
        Err(_) => Err(DriverError::BadHeader),
    }
}

fn bin_file(buf: &[u8], image_len: usize) -> Result<HeaderInfo, DriverError> {
    match bitfile::find_sync(buf) {
        Some((_, false)) => Ok(HeaderInfo {
            header_size: 0,
            data_size: 0,
            need_more: false,
        }),
        Some((_, true)) => Err(DriverError::BadHeader),
        None => {
            let ask = (buf.len() * 2).clamp(FIRST_ASK, MAX_HEADER);
            need_more(buf.len(), ask.min(image_len), image_len)
        }
    }
}

/// `need_more` with `needed` bytes, if the image and our buffer have
/// them and that is progress past the `given` bytes; otherwise the header
/// is unusable (truncated, or longer than we look).
fn need_more(
    given: usize,
    needed: usize,
    image_len: usize,
) -> Result<HeaderInfo, DriverError> {
    if needed <= given || needed > image_len || needed > MAX_HEADER {
        return Err(DriverError::BadHeader);
    }
    Ok(HeaderInfo {
        header_size: to_u32(needed)?,
        data_size: 0,
        need_more: true,
    })
}

fn to_u32(n: usize) -> Result<u32, DriverError> {
    u32::try_from(n).map_err(|_| DriverError::InvalidArgument)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use fpga_bitstream::xc7::{SYNC_WORD, bitfile::write_bit_header};
    use std::vec::Vec;

    /// A Vivado-like `.bin`: dummy words, bus width pattern, sync.
    fn bin(len: usize) -> Vec<u8> {
        let mut out = std::vec![0xFF; 32];
        out.extend_from_slice(&[0, 0, 0, 0xBB, 0x11, 0x22, 0, 0x44]);
        out.extend_from_slice(&[0xFF; 8]);
        out.extend_from_slice(&SYNC_WORD.to_be_bytes());
        out.resize(len, 0x20);
        out
    }

    fn bit(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_bit_header(
            "top;UserID=0XFFFFFFFF;Version=2019.1",
            "7a35tcpg236",
            "2024/01/01",
            "12:00:00",
            data.len() as u32,
            &mut |d| out.extend_from_slice(d),
        )
        .expect("fits");
        out.extend_from_slice(data);
        out
    }

    /// What the manager's grow loop does: start with `initial`, feed what
    /// is asked, insisting on strict growth.
    fn grow(image: &[u8], initial: usize) -> Result<HeaderInfo, DriverError> {
        let mut given = initial.min(image.len());
        loop {
            let info = parse(&image[..given], image.len())?;
            if !info.need_more {
                return Ok(info);
            }
            let next = info.header_size as usize;
            assert!(next > given, "must strictly grow: {given} -> {next}");
            given = next;
        }
    }

    #[test]
    fn bit_header_gives_offset_and_e_length() {
        let data = bin(400);
        let image = bit(&data);
        let info = grow(&image, 64).expect("parses");
        assert_eq!(info.data_size, 400);
        assert_eq!(&image[info.header_size as usize..], &data[..]);
    }

    #[test]
    fn bit_header_grows_from_nothing() {
        let image = bit(&bin(100));
        let info = grow(&image, 0).expect("parses");
        assert_eq!(info.header_size as usize, image.len() - 100);
    }

    #[test]
    fn bin_in_device_order_is_sent_whole() {
        let info = grow(&bin(4096), 64).expect("parses");
        assert_eq!((info.header_size, info.data_size), (0, 0));
        assert!(!info.need_more);
    }

    #[test]
    fn sync_word_beyond_the_first_bytes_is_found_by_growing() {
        let mut image = std::vec![0xFF; 300];
        image.extend_from_slice(&bin(500));
        let info = grow(&image, 64).expect("parses");
        assert_eq!(info.header_size, 0);
    }

    #[test]
    fn byte_swapped_bin_is_refused() {
        let mut image = bin(256);
        bitfile::swap_words(&mut image);
        assert_eq!(grow(&image, 64), Err(DriverError::BadHeader));
    }

    #[test]
    fn no_sync_word_at_all_is_a_bad_header() {
        assert_eq!(grow(&[0x20; 5000], 64), Err(DriverError::BadHeader));
        assert_eq!(grow(&[0x20; 100], 64), Err(DriverError::BadHeader));
    }

    #[test]
    fn truncated_bit_files_are_bad_headers() {
        let image = bit(&bin(400));
        // Header cut short: it asks for more than the image has.
        assert_eq!(grow(&image[..30], 16), Err(DriverError::BadHeader));
        // Header whole, data short of the `e` length.
        let short = &image[..image.len() - 1];
        assert_eq!(grow(short, 64), Err(DriverError::BadHeader));
    }

    #[test]
    fn corrupt_bit_keys_are_bad_headers() {
        let mut image = bit(&bin(100));
        image[BIT_MAGIC.len()] = b'z';
        assert_eq!(grow(&image, 64), Err(DriverError::BadHeader));
    }

    #[test]
    fn lsb_first_images_are_parsed_in_wire_order() {
        let mut image = bit(&bin(200));
        let expected = grow(&image, 64).expect("parses");
        to_wire_order(&mut image, flags::LSB_FIRST);
        assert_eq!(grow(&image, 64), Err(DriverError::BadHeader));
        to_wire_order(&mut image, flags::LSB_FIRST);
        assert_eq!(grow(&image, 64), Ok(expected));
        to_wire_order(&mut image, 0);
        assert_eq!(grow(&image, 64), Ok(expected));
    }

    #[test]
    fn checked_in_images_parse_as_the_bitstream_crate_says() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test/bitstreams");
        let read = |name: &str| {
            std::fs::read(std::format!("{dir}/{name}")).expect("bitstream")
        };
        let bit = read("xc7a35t-blinky.bit");
        let header = bitfile::parse_bit_header(&bit).expect("header");
        let info = grow(&bit, 64).expect("parses");
        assert_eq!(info.header_size as usize, header.data_offset);
        assert_eq!(info.data_size, header.data_len);
        let info = grow(&read("xc7a35t-blinky.bin"), 64).expect("parses");
        assert_eq!((info.header_size, info.data_size), (0, 0));
        let swapped = read("xc7a35t-blinky-swapped.bin");
        assert_eq!(grow(&swapped, 64), Err(DriverError::BadHeader));
    }

    #[test]
    fn more_bytes_than_the_image_is_an_invalid_argument() {
        assert_eq!(parse(&[0; 10], 5), Err(DriverError::InvalidArgument));
    }
}
