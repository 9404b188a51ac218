//! Both engines against `sha2::Sha256` and the FIPS 180-2 examples.

use super::*;
use proptest::prelude::*;
use sha2::Digest;

fn reference(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

fn engines() -> impl Iterator<Item = fn() -> Sha256> {
    [Sha256::new as fn() -> Sha256, Sha256::portable].into_iter()
}

fn hex(s: &str) -> [u8; 32] {
    let mut out = [0; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn fips_examples() {
    let abc =
        hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let two_blocks =
        hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    let empty =
        hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for new in engines() {
        let mut h = new();
        h.update(b"abc");
        assert_eq!(h.finalize(), abc);
        let mut h = new();
        h.update(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
        assert_eq!(h.finalize(), two_blocks);
        assert_eq!(new().finalize(), empty);
    }
}

#[test]
fn every_length_around_the_padding_edges() {
    let data: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8);
    for len in 0..data.len() {
        for new in engines() {
            let mut h = new();
            h.update(&data[..len]);
            assert_eq!(h.finalize(), reference(&data[..len]), "len {len}");
        }
    }
}

#[test]
fn this_cpu_uses_the_sha_extensions_when_it_has_them() {
    #[cfg(target_arch = "x86_64")]
    {
        let has = std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("sse4.1")
            && std::is_x86_feature_detected!("ssse3");
        assert_eq!(Sha256::new().engine() == Engine::ShaNi, has);
    }
    assert_eq!(Sha256::portable().engine(), Engine::Portable);
}

extern crate std;

proptest! {
    #[test]
    fn pieces_in_any_cut_hash_like_sha2(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(0usize..2000, 0..12),
    ) {
        let mut cuts: std::vec::Vec<usize> =
            cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        for new in engines() {
            let mut h = new();
            for pair in cuts.windows(2) {
                h.update(&data[pair[0]..pair[1]]);
            }
            prop_assert_eq!(h.finalize(), reference(&data));
        }
    }
}
