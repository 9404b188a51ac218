//! The 7-series configuration CRC: CRC-32C over 37-bit register writes.
//!
//! Every register write (except to CRC itself) extends the CRC with the
//! value `(address << 32) | data`, 37 bits shifted in LSB first through the
//! reflected Castagnoli polynomial 0x82F63B78, starting from 0 after RCRC
//! and with no final XOR (prjxray `xc7series/crc.h`, `icap_crc`).
//!
//! A bit-serial update costs 37 iterations per word, far too slow for a
//! 32 MiB stream. Because the update is linear over GF(2), one word's
//! update is `F(crc ^ data) ^ G(address)`, where `F` advances the register
//! by 37 zero bits and `G(a)` is the effect of the address bits alone. `F`
//! splits into four byte-indexed tables (like slicing-by-4). Two words at
//! a time: `W(crc ^ d0) ^ F(d1) ^ H(a)` with `W = F∘F` and
//! `H(a) = F(G(a)) ^ G(a)`: eight independent lookups per 8 bytes, the
//! same shape as slicing-by-8, which is what frame data (all to FDRI) uses.

/// Reflected CRC-32C (Castagnoli) polynomial.
pub const POLY: u32 = 0x82F6_3B78;

/// Reference update, one bit at a time, exactly as prjxray computes it.
pub const fn update_bitwise(crc: u32, address: u32, data: u32) -> u32 {
    let mut value = ((address as u64 & 0x1F) << 32) | data as u64;
    let mut crc = crc;
    let mut i = 0;
    while i < 37 {
        let feedback = (crc ^ value as u32) & 1;
        crc >>= 1;
        if feedback != 0 {
            crc ^= POLY;
        }
        value >>= 1;
        i += 1;
    }
    crc
}

/// `F`: 37 zero bits through the register.
const fn advance(crc: u32) -> u32 {
    update_bitwise(crc, 0, 0)
}

const fn byte_tables(twice: bool) -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut k = 0;
    while k < 4 {
        let mut b = 0;
        while b < 256 {
            let x = advance((b as u32) << (8 * k));
            t[k][b] = if twice { advance(x) } else { x };
            b += 1;
        }
        k += 1;
    }
    t
}

const fn address_table(twice: bool) -> [u32; 32] {
    let mut t = [0u32; 32];
    let mut a = 0;
    while a < 32 {
        let g = update_bitwise(0, a as u32, 0);
        t[a] = if twice { advance(g) ^ g } else { g };
        a += 1;
    }
    t
}

/// `F` by byte position.
static ONE: [[u32; 256]; 4] = byte_tables(false);
/// `F∘F` by byte position.
static TWO: [[u32; 256]; 4] = byte_tables(true);
/// `G(a)`.
static ADDRESS_ONE: [u32; 32] = address_table(false);
/// `F(G(a)) ^ G(a)`.
static ADDRESS_TWO: [u32; 32] = address_table(true);

#[inline(always)]
fn apply(t: &[[u32; 256]; 4], x: u32) -> u32 {
    t[0][(x & 0xFF) as usize]
        ^ t[1][((x >> 8) & 0xFF) as usize]
        ^ t[2][((x >> 16) & 0xFF) as usize]
        ^ t[3][(x >> 24) as usize]
}

/// Extends `crc` with one write of `data` to register `address`.
#[inline]
pub fn update(crc: u32, address: u32, data: u32) -> u32 {
    apply(&ONE, crc ^ data) ^ ADDRESS_ONE[(address & 0x1F) as usize]
}

/// Extends `crc` with writes of consecutive 32-bit words from `bytes` to
/// one register. Words are big-endian, or little-endian when `swapped`
/// (a byte-swapped `.bin`). A trailing partial word is ignored.
pub fn update_words(
    crc: u32,
    address: u32,
    bytes: &[u8],
    swapped: bool,
) -> u32 {
    let word = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if swapped {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let a = (address & 0x1F) as usize;
    let mut crc = crc;
    let mut pairs = bytes.chunks_exact(8);
    for p in &mut pairs {
        let (d0, d1) = (word(&p[..4]), word(&p[4..]));
        crc = apply(&TWO, crc ^ d0) ^ apply(&ONE, d1) ^ ADDRESS_TWO[a];
    }
    let rest = pairs.remainder();
    if rest.len() >= 4 {
        crc = update(crc, address, word(rest));
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize, seed: u32) -> ([u8; 64], usize) {
        let mut out = [0u8; 64];
        let mut x = seed;
        for chunk in out[..n * 4].chunks_exact_mut(4) {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            chunk.copy_from_slice(&x.to_be_bytes());
        }
        (out, n * 4)
    }

    #[test]
    fn table_update_matches_bitwise_reference() {
        let mut a = 0x1234_5678;
        let mut b = a;
        for i in 0..2000u32 {
            let data = i.wrapping_mul(0x9E37_79B9);
            let address = i % 32;
            a = update(a, address, data);
            b = update_bitwise(b, address, data);
            assert_eq!(a, b, "word {i}");
        }
    }

    #[test]
    fn word_slices_match_word_by_word_for_every_length() {
        for n in 0..16 {
            let (buf, len) = words(n, n as u32);
            let mut expected = 0xDEAD_BEEF;
            for w in buf[..len].chunks_exact(4) {
                let w = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
                expected = update_bitwise(expected, 2, w);
            }
            assert_eq!(
                update_words(0xDEAD_BEEF, 2, &buf[..len], false),
                expected
            );
            let mut swapped = buf;
            for w in swapped[..len].chunks_exact_mut(4) {
                w.reverse();
            }
            assert_eq!(
                update_words(0xDEAD_BEEF, 2, &swapped[..len], true),
                expected
            );
        }
    }

    #[test]
    fn data_bits_go_first_as_in_byte_wise_crc32c() {
        // The 32 data bits, LSB first, are a raw CRC-32C update over the
        // word's little-endian bytes; the crc crate's iSCSI algorithm is
        // that update with inversion on entry and exit. The five address
        // bits (zero here) then shift the register on.
        let crc32c = ::crc::Crc::<u32>::new(&::crc::CRC_32_ISCSI);
        for data in [0u32, 1, 0x0362_D093, 0xFFFF_FFFF, 0xAA99_5566] {
            let mut raw = !crc32c.checksum(&data.to_le_bytes());
            for _ in 0..5 {
                raw = (raw >> 1) ^ if raw & 1 != 0 { POLY } else { 0 };
            }
            assert_eq!(update_bitwise(0xFFFF_FFFF, 0, data), raw);
        }
    }
}
