//! What is loaded: an image's identity, computed while its bytes stream
//! past on their way to the driver.
//!
//! The manager never keeps image bytes. To know *what* a device runs, it
//! reads each piece of the image once, in order, through a small buffer
//! (`main.rs`'s scratch), and feeds it to an [`ImageDigest`]: a SHA-256,
//! the byte count, and the `.bit` header's design name and part when the
//! image starts with one. The lease still goes to the driver forwarded,
//! untouched; the digest only looks.
//!
//! Linux records nothing of the kind (sysfs has `state` and `status`, not
//! what was loaded); Zephyr's iCE40 driver keeps a CRC-32 for the same
//! reason we keep a SHA-256: so an operator can tell which image runs.

use drv_fpga_api::{DESIGN_LEN, PART_LEN};
use fpga_bitstream::xc7::bitfile::parse_bit_header;
use sha256_accel::Sha256;

/// A running SHA-256 over an image, fed in order: by us ([`update`]), or
/// by a hash engine that reads the image itself ([`hand_to_engine`]), in
/// which case we only count and, at the end, take the engine's answer
/// ([`seal`]).
///
/// [`update`]: ImageDigest::update
/// [`hand_to_engine`]: ImageDigest::hand_to_engine
/// [`seal`]: ImageDigest::seal
#[derive(Clone, Debug)]
pub struct ImageDigest {
    sha: Sha256,
    length: u32,
    design: [u8; DESIGN_LEN],
    part: [u8; PART_LEN],
    /// The engine context holding the hash (its owner's ticket), if an
    /// engine hashes this image.
    engine: Option<u32>,
    /// The engine's digest, once read.
    sealed: Option<[u8; 32]>,
}

impl Default for ImageDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageDigest {
    /// An empty digest.
    pub fn new() -> Self {
        Self {
            sha: Sha256::new(),
            length: 0,
            design: [0; DESIGN_LEN],
            part: [0; PART_LEN],
            engine: None,
            sealed: None,
        }
    }

    /// The ticket of the engine context hashing this image, if any.
    pub fn engine(&self) -> Option<u32> {
        self.engine
    }

    /// From now on an engine hashes the image (context `ticket`); `head`
    /// is the image's first bytes, looked at for a `.bit` header. Only
    /// before anything was fed: a hash cannot move halfway.
    pub fn hand_to_engine(&mut self, ticket: u32, head: &[u8]) {
        if self.length == 0 {
            self.sniff_bit_header(head);
            self.engine = Some(ticket);
        }
    }

    /// Counts `len` bytes the engine hashed.
    pub fn engine_fed(&mut self, len: u32) {
        self.length = self.length.saturating_add(len);
    }

    /// Takes the engine's digest of everything it was fed.
    pub fn seal(&mut self, sha256: [u8; 32]) {
        self.sealed = Some(sha256);
    }

    /// Bytes fed so far.
    pub fn length(&self) -> u32 {
        self.length
    }

    /// Feeds the image's next `bytes`. The first piece is also looked at
    /// for a `.bit` header; one shorter than the header simply yields no
    /// design and part (the manager's first piece is a whole scratch
    /// buffer, far longer than any real header).
    pub fn update(&mut self, bytes: &[u8]) {
        if self.length == 0 {
            self.sniff_bit_header(bytes);
        }
        self.sha.update(bytes);
        let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.length = self.length.saturating_add(n);
    }

    fn sniff_bit_header(&mut self, head: &[u8]) {
        if let Ok(header) = parse_bit_header(head) {
            copy_padded(&mut self.design, header.design);
            copy_padded(&mut self.part, header.part);
        }
    }

    /// The finished identity; `None` if an engine hashed the image and
    /// its digest was never [`sealed`](ImageDigest::seal) in.
    pub fn finish(self) -> Option<Fingerprint> {
        let sha256 = match self.engine {
            None => self.sha.finalize(),
            Some(_) => self.sealed?,
        };
        Some(Fingerprint {
            sha256,
            length: self.length,
            design: self.design,
            part: self.part,
        })
    }
}

/// Copies `from` into the NUL-padded `to`, cut to fit.
fn copy_padded(to: &mut [u8], from: &[u8]) {
    let n = from.len().min(to.len());
    to[..n].copy_from_slice(&from[..n]);
    to[n..].fill(0);
}

/// An image's identity: what [`ImageDigest::finish`] gives.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Fingerprint {
    /// SHA-256 of every byte fed.
    pub sha256: [u8; 32],
    /// How many bytes were fed.
    pub length: u32,
    /// The `.bit` header's design name, NUL-padded (zeros if none).
    pub design: [u8; DESIGN_LEN],
    /// The `.bit` header's part, NUL-padded (zeros if none).
    pub part: [u8; PART_LEN],
}

#[cfg(test)]
mod tests {
    use super::*;
    use fpga_bitstream::xc7::bitfile::write_bit_header;

    /// SHA-256("abc"), FIPS 180-2 appendix B.1.
    const ABC: [u8; 32] = [
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
        0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    ];

    #[test]
    fn pieces_in_order_hash_like_the_whole() {
        let image: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut whole = ImageDigest::new();
        whole.update(&image);
        let mut pieces = ImageDigest::new();
        assert_eq!(pieces.length(), 0);
        for (n, piece) in image.chunks(4093).enumerate() {
            pieces.update(piece);
            // Bytes fed so far, after each piece.
            assert_eq!(pieces.length() as usize, (4093 * (n + 1)).min(100_000));
        }
        assert_eq!(whole.clone().finish(), pieces.finish());
        let whole = whole.finish().expect("hashed by us");
        assert_eq!(whole.length, 100_000);
    }

    #[test]
    fn a_known_vector() {
        let mut d = ImageDigest::new();
        d.update(b"ab");
        d.update(b"c");
        let f = d.finish().expect("hashed by us");
        assert_eq!(f.sha256, ABC);
        assert_eq!((f.design, f.part), ([0; DESIGN_LEN], [0; PART_LEN]));
    }

    fn bit_file(design: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_bit_header(
            design,
            "7a35tcpg236",
            "2026/02/01",
            "12:00:00",
            4,
            &mut |b| out.extend_from_slice(b),
        )
        .expect("fits");
        out.extend_from_slice(&[0xAA, 0x99, 0x55, 0x66]);
        out
    }

    #[test]
    fn a_bit_header_gives_design_and_part() {
        let mut d = ImageDigest::new();
        d.update(&bit_file("top;UserID=0XFFFFFFFF;Version=2025.2"));
        let f = d.finish().expect("hashed by us");
        assert_eq!(&f.design[..36], b"top;UserID=0XFFFFFFFF;Version=2025.2");
        assert_eq!(f.design[36], 0);
        assert_eq!(&f.part[..12], b"7a35tcpg236\0");
    }

    #[test]
    fn a_long_design_name_is_cut_and_a_raw_image_has_none() {
        let long = "d".repeat(200);
        let mut d = ImageDigest::new();
        d.update(&bit_file(&long));
        assert_eq!(d.finish().expect("ours").design, [b'd'; DESIGN_LEN]);
        let mut raw = ImageDigest::new();
        raw.update(&[0xFF; 64]);
        raw.update(&bit_file("late"));
        assert_eq!(raw.finish().expect("ours").design, [0; DESIGN_LEN]);
    }

    #[test]
    fn an_engine_hash_is_counted_here_and_needs_the_engines_answer() {
        let bit = bit_file("top");
        let mut d = ImageDigest::new();
        d.hand_to_engine(7, &bit);
        d.engine_fed(1000);
        d.engine_fed(24);
        assert_eq!(d.engine(), Some(7));
        assert_eq!(d.clone().finish(), None, "no digest sealed in");
        d.seal(ABC);
        let f = d.finish().expect("sealed");
        assert_eq!((f.sha256, f.length), (ABC, 1024));
        assert_eq!(&f.design[..4], b"top\0");
    }

    #[test]
    fn a_hash_begun_by_us_stays_ours() {
        let mut d = ImageDigest::new();
        d.update(b"ab");
        d.hand_to_engine(1, b"c");
        assert_eq!(d.engine(), None);
        d.update(b"c");
        assert_eq!(d.finish().expect("ours").sha256, ABC);
    }
}
