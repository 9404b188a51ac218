//! Replays a fuzz target's checked-in inputs as an ordinary test.
//!
//! Every target in `fuzz/` has a harness in the crate it tests; that
//! crate's unit test hands the harness to [`replay`], which runs it on each
//! file in `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`. So the
//! inputs the fuzzer started from, and every crash it ever found, run on
//! stable Rust in every `cargo xtask test`, without nightly or libFuzzer.
//!
//! [`bless`] writes a target's seed inputs (built by the test from real
//! files or from the format's own rules) into its corpus directory when
//! `LEASEHOLD_BLESS_CORPUS` is set, so a seed can be rebuilt rather than
//! edited by hand.

use std::path::{Path, PathBuf};

/// The repository's `fuzz/` directory, from a crate's manifest directory
/// (`env!("CARGO_MANIFEST_DIR")`), which is two levels below the root.
pub fn fuzz_dir(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("../../fuzz")
}

/// Runs `harness` on every checked-in input of `target`; returns how many
/// ran.
///
/// # Panics
///
/// On the first input the harness rejects, naming the file and the reason
/// (this is a test helper: a panic is how it fails), or if a directory
/// cannot be read.
pub fn replay<E: std::fmt::Debug>(
    fuzz_dir: &Path,
    target: &str,
    mut harness: impl FnMut(&[u8]) -> Result<(), E>,
) -> usize {
    let mut replayed = 0;
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(e) = harness(&bytes) {
                panic!("{}: {e:?}", path.display());
            }
            replayed += 1;
        }
    }
    replayed
}

/// With `LEASEHOLD_BLESS_CORPUS` set, writes `seeds` (name, bytes) into
/// `fuzz/corpus/<target>/`; otherwise does nothing.
///
/// # Panics
///
/// If a file cannot be written.
pub fn bless(fuzz_dir: &Path, target: &str, seeds: &[(String, Vec<u8>)]) {
    if std::env::var_os("LEASEHOLD_BLESS_CORPUS").is_none() {
        return;
    }
    let dir = fuzz_dir.join("corpus").join(target);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for (name, bytes) in seeds {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_corpus_then_regressions_and_names_a_failing_file() {
        let root = std::env::temp_dir()
            .join(format!("fuzz-replay-test-{}", std::process::id()));
        for (kind, name, bytes) in [
            ("corpus", "a", &b"ok"[..]),
            ("regressions", "b", &b"ok too"[..]),
        ] {
            let dir = root.join(kind).join("t");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let mut seen = Vec::new();
        let n = replay(&root, "t", |d: &[u8]| -> Result<(), ()> {
            seen.push(d.to_vec());
            Ok(())
        });
        assert_eq!(n, 2);
        assert_eq!(seen, [b"ok".to_vec(), b"ok too".to_vec()]);
        let failed = std::panic::catch_unwind(|| {
            replay(&root, "t", |d: &[u8]| {
                if d == b"ok too" {
                    Err("rejected")
                } else {
                    Ok(())
                }
            })
        });
        let message = failed.unwrap_err();
        let text = message.downcast_ref::<String>().unwrap();
        assert!(text.contains("regressions/t/b") && text.contains("rejected"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
