//! The probe's and the dump reader's inputs under a fuzzer. Both come from
//! outside the kernel's trust: a probe request is a line any local client
//! of the user may send, and a dump is a file from disk.
//!
//! - [`request`]: any bytes as a request line. Parsing never panics, an
//!   error is one line, and a request that parses survives the round trip
//!   through [`Request::to_line`] unchanged (so what humility sends is
//!   what the kernel reads).
//! - [`dump`]: any bytes as a dump file, read for an image whose RAM sizes
//!   the first bytes choose. Reading never panics, an error is one line,
//!   and a dump that reads is written back and read again unchanged.
//!
//! `fuzz/fuzz_targets/{probe_request,dump_file}.rs` call these; the unit
//! tests below replay their checked-in corpora on stable Rust.

use crate::dump;
use crate::wire::Request;
use std::io::Cursor;

/// What a run found wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum Violation {
    /// An error message spans lines (the probe answers one line each).
    MultiLineError(String),
    /// A parsed value changed through its own writer and reader.
    RoundTrip(String),
}

/// One request line.
///
/// # Errors
///
/// The first [`Violation`].
pub fn request(data: &[u8]) -> Result<(), Violation> {
    match Request::parse(data) {
        Err(reason) => one_line(reason),
        Ok(parsed) => {
            let line = parsed.to_line();
            let again = Request::parse(line.trim_end().as_bytes());
            if again.as_ref() == Ok(&parsed) {
                Ok(())
            } else {
                Err(Violation::RoundTrip(format!("{parsed:?} -> {again:?}")))
            }
        }
    }
}

/// One dump file: byte 0 is the number of tasks (0..=3), then each task's
/// RAM size in a byte (times 16); the rest is the file.
///
/// # Errors
///
/// The first [`Violation`].
pub fn dump(data: &[u8]) -> Result<(), Violation> {
    let (count, rest) = match data.split_first() {
        Some((&n, rest)) => (usize::from(n % 4), rest),
        None => (0, data),
    };
    let (sizes, file) = rest.split_at(count.min(rest.len()));
    let sizes: Vec<u64> = sizes.iter().map(|&s| u64::from(s) * 16).collect();
    let read = match dump::read(Cursor::new(file), &sizes) {
        Err(e) => return one_line(e.to_string()),
        Ok(read) => read,
    };
    let rams: Vec<&[u8]> = read.ram.iter().map(Vec::as_slice).collect();
    let written = dump::write(Cursor::new(Vec::new()), &read.header, &rams)
        .map_err(|e| Violation::RoundTrip(format!("cannot write back: {e}")))?
        .into_inner();
    match dump::read(Cursor::new(written), &sizes) {
        Ok(again) if again == read => Ok(()),
        other => Err(Violation::RoundTrip(format!("{read:?} -> {other:?}"))),
    }
}

fn one_line(message: String) -> Result<(), Violation> {
    if message.contains('\n') {
        Err(Violation::MultiLineError(message))
    } else {
        Ok(())
    }
}

/// A dump as the kernel would write it (an ELF core if `core`, else the
/// older zip), for seeds and tests.
pub fn sample_dump(sizes: &[u64], core: bool) -> Vec<u8> {
    let tasks = sizes
        .iter()
        .enumerate()
        .map(|(index, &size)| crate::TaskRow {
            index,
            name: format!("task{index}"),
            generation: 1,
            priority: 1,
            state: crate::HexBytes(abi::TaskState::default().encode().to_vec()),
            syscalls: 7,
            notifications: 0,
            timer: None,
            ram: crate::Range {
                base: 0x2000_0000 + 0x1_0000 * index as u32,
                size: size as u32,
            },
            flash: crate::Range {
                base: 0x1000_0000,
                size: 0x1000,
            },
            recv_mask: Some(1),
            panic: None,
        })
        .collect();
    let header = dump::DumpHeader {
        format: dump::FORMAT.into(),
        name: "fuzz".into(),
        image_id: "0011223344556677".into(),
        git_revision: "seed".into(),
        uptime_ms: 42,
        reason: "seed".into(),
        registers: sizes
            .iter()
            .enumerate()
            .map(|(i, _)| (i == 0).then(sample_registers))
            .collect(),
        tasks,
    };
    let rams: Vec<Vec<u8>> =
        sizes.iter().map(|&s| vec![0xA5; s as usize]).collect();
    let refs: Vec<&[u8]> = rams.iter().map(Vec::as_slice).collect();
    if core {
        let flash = [0xc3u8; 16];
        let flashes = vec![&flash[..]; sizes.len()];
        return crate::coredump::write(Vec::new(), &header, &refs, &flashes)
            .unwrap_or_default();
    }
    dump::write(Cursor::new(Vec::new()), &header, &refs)
        .map(Cursor::into_inner)
        .unwrap_or_default()
}

/// A faulted task's registers, as a dump carries them.
fn sample_registers() -> crate::Registers {
    use crate::registers::{Capture, RIP, RSP};
    let mut r = crate::Registers::new(Capture::Fault);
    r.values[RIP] = Some(0x1000_0123);
    r.values[RSP] = Some(0x2000_0ff0);
    r.fault_address = Some(0);
    r.signal = Some(11);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::InjectAction;

    fn fuzz_dir() -> std::path::PathBuf {
        fuzz_replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"))
    }

    fn request_seeds() -> Vec<(String, Vec<u8>)> {
        let requests = [
            ("identity", Request::Identity),
            ("tasks", Request::Tasks),
            (
                "read",
                Request::Read {
                    task: 1,
                    address: 0x2000_0000,
                    length: 16,
                },
            ),
            (
                "write",
                Request::Write {
                    task: 2,
                    address: 0x2000_0010,
                    data: crate::HexBytes(vec![0xde, 0xad]),
                },
            ),
            (
                "dump",
                Request::Dump {
                    name: Some("x".into()),
                },
            ),
            (
                "inject",
                Request::Inject {
                    task: 3,
                    nth: 2,
                    action: InjectAction::Restart,
                },
            ),
            ("fault", Request::Fault { task: 1 }),
            ("trace", Request::Trace),
            ("registers", Request::Registers { task: 2 }),
            ("halt", Request::Halt { task: 4 }),
            ("release", Request::Release { task: 4 }),
            ("step", Request::Step { task: 4 }),
            (
                "breakpoint",
                Request::Breakpoint {
                    address: 0x10_1000,
                    set: true,
                },
            ),
            ("holds", Request::Holds),
        ];
        requests
            .into_iter()
            .map(|(name, r)| (name.to_owned(), r.to_line().into_bytes()))
            .collect()
    }

    fn dump_seeds() -> Vec<(String, Vec<u8>)> {
        let mut good = vec![2, 2, 3];
        good.extend(sample_dump(&[32, 48], false));
        let mut none = vec![0];
        none.extend(sample_dump(&[], false));
        let mut core = vec![2, 2, 3];
        core.extend(sample_dump(&[32, 48], true));
        vec![
            ("two-tasks".into(), good),
            ("no-tasks".into(), none),
            ("two-tasks-core".into(), core),
        ]
    }

    #[test]
    fn request_corpus_replays_clean() {
        fuzz_replay::bless(&fuzz_dir(), "probe_request", &request_seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "probe_request", request);
        assert!(n >= request_seeds().len(), "only {n} inputs replayed");
    }

    #[test]
    fn dump_corpus_replays_clean() {
        fuzz_replay::bless(&fuzz_dir(), "dump_file", &dump_seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "dump_file", dump);
        assert!(n >= dump_seeds().len(), "only {n} inputs replayed");
    }

    #[test]
    fn the_oracles_notice_what_they_check() {
        assert_eq!(
            one_line("two\nlines".into()),
            Err(Violation::MultiLineError("two\nlines".into()))
        );
        // A seed dump reads back, and a damaged one is a one-line error.
        assert_eq!(dump(&dump_seeds()[0].1), Ok(()));
        let mut cut = dump_seeds()[0].1.clone();
        cut.truncate(cut.len() / 2);
        assert_eq!(dump(&cut), Ok(()));
        assert!(dump::read(Cursor::new(&cut[3..]), &[32, 48]).is_err());
    }
}
