//! `cargo xtask fuzz`: runs the coverage-guided fuzz targets in `fuzz/`
//! (cargo-fuzz and libFuzzer, on nightly Rust) for a bounded time.
//!
//! Each target's checked-in corpus (`fuzz/corpus/<target>`) and named
//! regressions (`fuzz/regressions/<target>`) seed the run; what the fuzzer
//! finds goes to a scratch corpus under `target/`, so a run never changes
//! the tree. A crash leaves its input in `fuzz/artifacts/<target>/`: copy
//! it into `fuzz/regressions/<target>/` under a name that says what broke,
//! and the stable replay test of that target's harness keeps it fixed.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What `fuzz` was asked to do.
pub struct FuzzRequest<'a> {
    /// One target, or every target when `None`.
    pub target: Option<&'a str>,
    /// How long each target runs.
    pub seconds: u64,
    /// Without nightly or cargo-fuzz, say so and succeed (CI on a machine
    /// that cannot fuzz) instead of failing.
    pub if_available: bool,
}

/// Why fuzzing cannot run here, in one line, or `None` if it can.
fn missing_tools() -> Option<&'static str> {
    let works = |args: &[&str]| {
        Command::new("cargo")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !works(&["+nightly", "--version"]) {
        return Some(
            "nightly Rust is not installed (`rustup toolchain install \
             nightly`); fuzzing needs it",
        );
    }
    if !works(&["+nightly", "fuzz", "--version"]) {
        return Some(
            "cargo-fuzz is not installed (`cargo install cargo-fuzz`); \
             fuzzing needs it",
        );
    }
    None
}

/// The targets in `fuzz/fuzz_targets`, by name, sorted.
pub fn targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(String::from))
        .collect();
    names.sort();
    Ok(names)
}

pub fn fuzz(root: &Path, request: &FuzzRequest<'_>) -> Result<()> {
    let known = targets(root)?;
    let chosen: Vec<String> = match request.target {
        Some(t) if known.iter().any(|k| k == t) => vec![t.to_owned()],
        Some(t) => bail!("no fuzz target {t:?}; targets: {}", known.join(", ")),
        None => known,
    };
    if let Some(reason) = missing_tools() {
        if request.if_available {
            println!("fuzzing skipped: {reason}");
            return Ok(());
        }
        bail!("{reason}");
    }
    for target in &chosen {
        run_target(root, target, request.seconds)?;
    }
    Ok(())
}

/// Figures libFuzzer prints at the end of a run.
#[derive(Debug, Default, PartialEq)]
pub struct Stats {
    pub runs: u64,
    pub execs_per_sec: u64,
    /// Coverage: points (`cov:`) and features (`ft:`) reached.
    pub coverage: u64,
    pub features: u64,
}

/// Reads libFuzzer's progress lines (`#N ... cov: C ft: F ...`) and
/// final `stat::` lines.
pub fn parse_stats(output: &str) -> Stats {
    let mut stats = Stats::default();
    for line in output.lines() {
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            let value = |w: Option<&str>| w.and_then(|v| v.parse().ok());
            match word {
                "cov:" => stats.coverage = value(words.next()).unwrap_or(0),
                "ft:" => stats.features = value(words.next()).unwrap_or(0),
                _ => {}
            }
        }
        let stat = line.strip_prefix("stat::").and_then(|s| s.split_once(':'));
        if let Some((key, value)) = stat {
            let value = value.trim().parse().unwrap_or(0);
            match key {
                "number_of_executed_units" => stats.runs = value,
                "average_exec_per_sec" => stats.execs_per_sec = value,
                _ => {}
            }
        }
    }
    stats
}

fn run_target(root: &Path, target: &str, seconds: u64) -> Result<()> {
    let scratch: PathBuf = root.join("target/fuzz-corpus").join(target);
    std::fs::create_dir_all(&scratch)?;
    let mut seeds = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = root.join("fuzz").join(kind).join(target);
        if dir.is_dir() {
            seeds.push(dir);
        }
    }
    println!("fuzzing {target} for {seconds} s");
    let output = Command::new("cargo")
        .current_dir(root)
        .args(["+nightly", "fuzz", "run", target])
        .arg(&scratch)
        .args(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run cargo fuzz")?;
    let log = String::from_utf8_lossy(&output.stderr);
    let stats = parse_stats(&log);
    if !output.status.success() {
        eprintln!("{log}");
        bail!(
            "fuzz target {target} failed ({}); its input is in \
             fuzz/artifacts/{target}/: copy it to \
             fuzz/regressions/{target}/<what-broke> and fix the bug",
            output.status
        );
    }
    println!(
        "fuzz {target}: {} runs in {seconds} s, {} exec/s, coverage {} \
         points, {} features, no crash",
        stats.runs, stats.execs_per_sec, stats.coverage, stats.features
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_figures_are_read_from_its_output() {
        let log = "#2\tINITED cov: 12 ft: 13 corp: 3/300b exec/s: 0\n\
                   #1024\tpulse  cov: 301 ft: 977 corp: 40/2kb exec/s: 512\n\
                   Done 50000 runs in 10 second(s)\n\
                   stat::number_of_executed_units: 50000\n\
                   stat::average_exec_per_sec:     5000\n\
                   stat::new_units_added:          37\n";
        assert_eq!(
            parse_stats(log),
            Stats {
                runs: 50_000,
                execs_per_sec: 5_000,
                coverage: 301,
                features: 977,
            }
        );
    }

    #[test]
    fn every_target_has_a_checked_in_corpus() {
        let root = crate::workspace_root();
        let names = targets(&root).unwrap();
        assert!(names.len() >= 2, "{names:?}");
        for name in names {
            let corpus = root.join("fuzz/corpus").join(&name);
            let inputs =
                std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0);
            assert!(inputs > 0, "{} has no seeds", corpus.display());
        }
    }
}
