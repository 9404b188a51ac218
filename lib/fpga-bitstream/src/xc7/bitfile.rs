//! Xilinx `.bit` headers, raw `.bin` files and byte-swapped `.bin` files.
//!
//! A `.bit` file is a tag-length-value header that the device never sees,
//! followed by the raw configuration data. The header starts with a 9-byte
//! field (`00 09` + `0F F0 0F F0 0F F0 0F F0 00`) and a 1-byte field
//! (`00 01` + `61`), then keys `a`..`d` each with a BE16 length and a
//! NUL-terminated string (design, part, date, time), and key `e` with a
//! BE32 length of the raw data (the layout U-Boot's `fpga loadb` and
//! Genode's `bitstream.h` parse).
//!
//! A `.bin` is the raw data alone. Zynq's PCAP (and Linux zynq-fpga) wants
//! every 32-bit word byte-swapped, so such files show the sync word as
//! `66 55 99 AA`; we detect either order by finding the sync word.

use super::SYNC_WORD;

/// The first 13 bytes of every `.bit` file; the 14th is the key `a`.
pub const BIT_MAGIC: [u8; 13] = [
    0x00, 0x09, 0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0x00, 0x00,
    0x01,
];

/// The fields of a `.bit` header. Strings exclude their terminating NUL.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BitHeader<'a> {
    /// `a`: design name, e.g. `top;UserID=0XFFFFFFFF;Version=2019.1`.
    pub design: &'a [u8],
    /// `b`: part, e.g. `7a35tcpg236`.
    pub part: &'a [u8],
    /// `c`: date, `YYYY/MM/DD`.
    pub date: &'a [u8],
    /// `d`: time, `HH:MM:SS`.
    pub time: &'a [u8],
    /// Offset of the raw data (the header's length).
    pub data_offset: usize,
    /// `e`: length of the raw data in bytes.
    pub data_len: u32,
}

/// Why a header could not be parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The buffer ends inside the header; at least `needed` bytes are
    /// required to continue (the Linux `parse_header` -EAGAIN contract).
    NeedMore {
        /// Total bytes needed from the start of the file.
        needed: usize,
    },
    /// The file does not start with the `.bit` magic.
    BadMagic,
    /// A key other than the expected `a`..`e`, in order.
    UnexpectedKey {
        /// Offset of the key byte.
        offset: usize,
        /// The key found.
        key: u8,
    },
    /// No sync word (in either byte order) in the buffer.
    NoSync,
}

/// A string field for [`write_bit_header`] was longer than 65534 bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FieldTooLong;

/// Parses a `.bit` header from the start of `buf`.
///
/// # Errors
///
/// [`HeaderError::NeedMore`] if `buf` is too short (retry with more),
/// [`HeaderError::BadMagic`] or [`HeaderError::UnexpectedKey`] if it is
/// not a `.bit` file.
pub fn parse_bit_header(buf: &[u8]) -> Result<BitHeader<'_>, HeaderError> {
    let need = |n: usize| HeaderError::NeedMore { needed: n };
    let magic = buf
        .get(..BIT_MAGIC.len())
        .ok_or(need(BIT_MAGIC.len() + 1))?;
    if magic != BIT_MAGIC {
        return Err(HeaderError::BadMagic);
    }
    let mut at = BIT_MAGIC.len();
    let mut strings: [&[u8]; 4] = [&[]; 4];
    for (i, key) in (b'a'..=b'd').enumerate() {
        let field = buf.get(at..at + 3).ok_or(need(at + 3))?;
        if field[0] != key {
            return Err(HeaderError::UnexpectedKey {
                offset: at,
                key: field[0],
            });
        }
        let len = u16::from_be_bytes([field[1], field[2]]) as usize;
        let start = at + 3;
        let body = buf.get(start..start + len).ok_or(need(start + len))?;
        strings[i] = body.strip_suffix(&[0]).unwrap_or(body);
        at = start + len;
    }
    let field = buf.get(at..at + 5).ok_or(need(at + 5))?;
    if field[0] != b'e' {
        return Err(HeaderError::UnexpectedKey {
            offset: at,
            key: field[0],
        });
    }
    let data_len = u32::from_be_bytes([field[1], field[2], field[3], field[4]]);
    Ok(BitHeader {
        design: strings[0],
        part: strings[1],
        date: strings[2],
        time: strings[3],
        data_offset: at + 5,
        data_len,
    })
}

/// Writes a `.bit` header for `data_len` bytes of raw data.
///
/// # Errors
///
/// [`FieldTooLong`] if a string (plus its NUL) does not fit a BE16 length.
pub fn write_bit_header(
    design: &str,
    part: &str,
    date: &str,
    time: &str,
    data_len: u32,
    out: &mut impl FnMut(&[u8]),
) -> Result<(), FieldTooLong> {
    let fields = [design, part, date, time];
    if fields.iter().any(|f| f.len() >= u16::MAX as usize) {
        return Err(FieldTooLong);
    }
    out(&BIT_MAGIC);
    for (key, field) in (b'a'..=b'd').zip(fields) {
        let len = (field.len() + 1) as u16;
        out(&[key]);
        out(&len.to_be_bytes());
        out(field.as_bytes());
        out(&[0]);
    }
    out(b"e");
    out(&data_len.to_be_bytes());
    Ok(())
}

/// How a configuration image is packaged.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.bit`: header, then raw data in device order.
    Bit,
    /// Raw data in device (big-endian word) order.
    Bin,
    /// Raw data with every 32-bit word byte-swapped (Zynq PCAP order).
    BinSwapped,
}

/// What [`detect`] found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    /// The packaging.
    pub format: Format,
    /// Where the raw configuration data starts.
    pub data_offset: usize,
    /// Its length, when the header states it.
    pub data_len: Option<u32>,
    /// Offset of the sync word's first byte, from the start of `buf`.
    pub sync_offset: usize,
}

/// Finds the first sync word in `raw`: its offset and whether it appears
/// byte-swapped.
pub fn find_sync(raw: &[u8]) -> Option<(usize, bool)> {
    let normal = SYNC_WORD.to_be_bytes();
    let swapped = SYNC_WORD.to_le_bytes();
    raw.windows(4).enumerate().find_map(|(i, w)| {
        if w == normal {
            Some((i, false))
        } else if w == swapped {
            Some((i, true))
        } else {
            None
        }
    })
}

/// Classifies an image as `.bit`, `.bin` or byte-swapped `.bin`.
///
/// # Errors
///
/// Header errors for a malformed `.bit`, [`HeaderError::NoSync`] when no
/// sync word appears in the raw data.
pub fn detect(buf: &[u8]) -> Result<Detected, HeaderError> {
    if buf.starts_with(&BIT_MAGIC) {
        let header = parse_bit_header(buf)?;
        let raw = &buf[header.data_offset..];
        let (sync, _) = find_sync(raw).ok_or(HeaderError::NoSync)?;
        return Ok(Detected {
            format: Format::Bit,
            data_offset: header.data_offset,
            data_len: Some(header.data_len),
            sync_offset: header.data_offset + sync,
        });
    }
    let (sync, swapped) = find_sync(buf).ok_or(HeaderError::NoSync)?;
    Ok(Detected {
        format: if swapped {
            Format::BinSwapped
        } else {
            Format::Bin
        },
        data_offset: 0,
        data_len: None,
        sync_offset: sync,
    })
}

/// Byte-swaps every whole 32-bit word of `buf` in place (a trailing partial
/// word is left alone), turning a PCAP-order `.bin` into device order and
/// back.
pub fn swap_words(buf: &mut [u8]) {
    for word in buf.chunks_exact_mut(4) {
        word.reverse();
    }
}
