//! The FPGA device models under a fuzzer: [`run`] drives an iCE40 or a
//! 7-series model pin by pin and byte by byte as a driver would (or as a
//! broken driver would), in an order and with timing the fuzzer picks,
//! through the models' public API only.
//!
//! What must hold: no panic, whatever the order; a model never shows
//! both done and an error; the PINS debug register agrees with the pin
//! accessors; and for the iCE40, loaded the regular way (reset, SS_B
//! asserted, housekeeping waited out, the stream clocked in in
//! fuzzer-sized transfers), CDONE rises exactly when the IceStorm parser
//! accepts the stream on its own, and a failed load reports the error
//! the parser finds in it.
//!
//! `fuzz/fuzz_targets/fpga_models.rs` calls this. (The `board` target,
//! `crate::fuzz`, drives the whole board through its registers; this one
//! goes to the models directly and checks them against the parser.)

use crate::ice40::Ice40Model;
use crate::xc7::Xc7Model;
use fpga_bitstream::ice40::{self, HOUSEKEEPING_US, Ice40Device};
use fpga_bitstream::xc7;
#[allow(unused_imports)] // the prelude the std-only harness is written in
use std::prelude::rust_2024::*;

/// An invariant that broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Done (CDONE or DONE) high with an error recorded.
    DoneWithError,
    /// The PINS debug register disagrees with the pin accessors.
    PinsDisagree { pins: u32 },
    /// CDONE disagrees with the parser's verdict on the same stream.
    CdoneDisagrees { cdone: bool, verdict: String },
    /// The load failed with an error the parser does not find.
    WrongError(String),
}

/// Byte 0: bit 0 the family (0 iCE40, 1 7-series), bit 1 the regular
/// load (iCE40 only) or free ops, bits 2-3 which die. Byte 1 seeds the
/// transfer sizes. Regular load: the rest is the stream. Free ops: a
/// script of one-byte ops (`op & 3`: 0 pins from bits 2-3, 1 advance
/// time by `(op >> 2) * 100` us, 2 clock in the next `op >> 2` bytes,
/// 3 read debug register `(op >> 2) * 4`).
///
/// # Errors
///
/// The first [`Violation`].
pub fn run(data: &[u8]) -> Result<(), Violation> {
    let [mode, seed, rest @ ..] = data else {
        return Ok(());
    };
    let die = usize::from(mode >> 2 & 3);
    if mode & 1 == 0 {
        let device = Ice40Device::ALL[die % Ice40Device::ALL.len()];
        if mode & 2 == 0 {
            ice40_regular_load(device, *seed, rest)
        } else {
            ice40_free(device, rest)
        }
    } else {
        let parts = [xc7::XC7A35T];
        xc7_free(Xc7Model::new(parts[die % parts.len()]), rest)
    }
}

fn ice40_regular_load(
    device: Ice40Device,
    seed: u8,
    stream: &[u8],
) -> Result<(), Violation> {
    let mut m = Ice40Model::new(device);
    let mut now = 0;
    m.set_inputs(false, true, now);
    m.set_inputs(true, true, now);
    now += HOUSEKEEPING_US;
    let mut size = u32::from(seed);
    let mut rest = stream;
    while !rest.is_empty() {
        size = size.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = ((size >> 16) as usize % 128 + 1).min(rest.len());
        m.shift(&rest[..n], now);
        rest = &rest[n..];
        now += 1;
        ice40_consistent(&mut m, now)?;
    }
    let verdict = ice40::validate(stream, Some(device));
    if m.cdone() != verdict.is_ok() {
        return Err(Violation::CdoneDisagrees {
            cdone: m.cdone(),
            verdict: format!("{verdict:?}"),
        });
    }
    match (m.error(), verdict) {
        (Some(e), Err(v)) if e != v => {
            Err(Violation::WrongError(format!("model {e:?}, parser {v:?}")))
        }
        (Some(e), Ok(_)) => Err(Violation::WrongError(format!("{e:?}"))),
        _ => Ok(()),
    }
}

fn ice40_free(device: Ice40Device, mut script: &[u8]) -> Result<(), Violation> {
    let mut m = Ice40Model::new(device);
    let mut now = 0u64;
    while let Some((&op, rest)) = script.split_first() {
        script = rest;
        let arg = op >> 2;
        match op & 3 {
            0 => m.set_inputs(arg & 1 != 0, arg & 2 != 0, now),
            1 => now += u64::from(arg) * 100,
            2 => {
                let n = usize::from(arg).min(script.len());
                m.shift(&script[..n], now);
                script = &script[n..];
            }
            _ => {
                let _ = m.read_debug(u32::from(arg) * 4, now);
            }
        }
        ice40_consistent(&mut m, now)?;
    }
    Ok(())
}

fn ice40_consistent(m: &mut Ice40Model, now: u64) -> Result<(), Violation> {
    if m.cdone() && m.error().is_some() {
        return Err(Violation::DoneWithError);
    }
    let pins = m.read_debug(0x14, now).unwrap_or(u32::MAX);
    if pins & 1 != u32::from(m.cdone()) {
        return Err(Violation::PinsDisagree { pins });
    }
    Ok(())
}

fn xc7_free(mut m: Xc7Model, mut script: &[u8]) -> Result<(), Violation> {
    let mut now = 0u64;
    while let Some((&op, rest)) = script.split_first() {
        script = rest;
        let arg = op >> 2;
        match op & 3 {
            0 => m.set_program_b(arg & 1 != 0, now),
            1 => now += u64::from(arg) * 100,
            2 => {
                let n = usize::from(arg).min(script.len());
                m.shift(&script[..n], now);
                script = &script[n..];
            }
            _ => {
                let _ = m.read_debug(u32::from(arg) * 4, now);
                let _ = m.next_deadline();
            }
        }
        let done = m.done(now);
        let init_b = m.init_b(now);
        if done && m.error().is_some() {
            return Err(Violation::DoneWithError);
        }
        let pins = m.read_debug(0x14, now).unwrap_or(u32::MAX);
        if pins & 3 != u32::from(done) | u32::from(init_b) << 1 {
            return Err(Violation::PinsDisagree { pins });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    fn fuzz_dir() -> PathBuf {
        fuzz_replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"))
    }

    /// Seeds: the real hx1k bitstream loaded whole (CDONE must rise),
    /// cut short, and with a byte flipped (CRC error); free-running pin
    /// and clock scripts for both families, one clocking in the start of
    /// the real 7-series image.
    fn seeds() -> Vec<(String, Vec<u8>)> {
        let ice = std::fs::read(repo("test/bitstreams/ice40-hx1k-blinky.bin"))
            .unwrap();
        let bin =
            std::fs::read(repo("test/bitstreams/xc7a35t-blinky.bin")).unwrap();
        let with = |mode: u8, bytes: &[u8]| [&[mode, 5][..], bytes].concat();
        let mut flipped = ice.clone();
        flipped[2000] ^= 0x40;
        let mut xc7_script = vec![0, 1, 1 | 20 << 2, 2 | 63 << 2];
        xc7_script.extend_from_slice(&bin[..63]);
        xc7_script.extend([3, 3 | 5 << 2, 1 << 2, 1 | 63 << 2, 3 | 7 << 2]);
        let ice_script = [
            0,
            3 << 2, // pins
            1 | 15 << 2,
            2 | 4 << 2,
            0x7E,
            0xAA,
            0x99,
            0x7E,
            3 | 2 << 2,
            1 << 2, // pins
        ];
        [
            ("ice40-hx1k-load", with(0, &ice)),
            ("ice40-hx1k-cut", with(0, &ice[..1000])),
            ("ice40-hx1k-flipped", with(0, &flipped)),
            ("ice40-free", with(2, &ice_script)),
            ("xc7-free", with(1, &xc7_script)),
        ]
        .into_iter()
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .collect()
    }

    #[test]
    fn seeds_hold_and_the_real_bitstream_configures() {
        for (name, bytes) in seeds() {
            assert_eq!(run(&bytes), Ok(()), "{name}");
        }
        // The oracle has teeth: the whole real stream gives CDONE.
        let ice = std::fs::read(repo("test/bitstreams/ice40-hx1k-blinky.bin"))
            .unwrap();
        assert!(ice40::validate(&ice, Some(Ice40Device::Hx1k)).is_ok());
    }

    #[test]
    fn the_checked_in_corpus_and_regressions_replay_clean() {
        fuzz_replay::bless(&fuzz_dir(), "fpga_models", &seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "fpga_models", run);
        assert!(n >= seeds().len(), "only {n} inputs replayed");
    }
}
