//! `cargo xtask fuzz`: runs the coverage-guided fuzz targets in `fuzz/`
//! (cargo-fuzz and libFuzzer, on nightly Rust) for a bounded time.
//!
//! Each target's checked-in corpus (`fuzz/corpus/<target>`) and named
//! regressions (`fuzz/regressions/<target>`) seed the run; what the fuzzer
//! finds goes to a scratch corpus under `target/`, so a run never changes
//! the tree. A crash leaves its input in `fuzz/artifacts/<target>/`: copy
//! it into `fuzz/regressions/<target>/` under a name that says what broke,
//! and the stable replay test of that target's harness keeps it fixed.
//!
//! A timed run explores as far as the machine's speed allows, so two
//! machines try different inputs: right for hunting bugs, wrong for a CI
//! verdict (a run that finds a crash only on a fast or lucky machine is a
//! test that fails only sometimes). `--ci` therefore runs each target for
//! the fixed number of inputs and the fixed seed in `fuzz/ci.toml`, from
//! an empty scratch corpus: every machine tries the same inputs.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What `fuzz` was asked to do.
pub struct FuzzRequest<'a> {
    /// One target, or every target when `None`.
    pub target: Option<&'a str>,
    /// How long each target runs.
    pub budget: Budget,
    /// Without nightly or cargo-fuzz, say so and succeed (CI on a machine
    /// that cannot fuzz) instead of failing.
    pub if_available: bool,
}

/// How long each target runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Wall-clock seconds.
    Seconds(u64),
    /// The deterministic plan in `fuzz/ci.toml`.
    Ci,
}

/// `fuzz/ci.toml`: what CI runs of each target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiPlan {
    /// libFuzzer's `-seed`, the same for every target.
    pub seed: u32,
    /// Inputs each target tries (libFuzzer's `-runs`), by target name;
    /// every target must have one, so a new target cannot be left out.
    pub runs: BTreeMap<String, u64>,
}

/// Reads `fuzz/ci.toml` and checks that it names exactly `targets`.
pub fn ci_plan(root: &Path, targets: &[String]) -> Result<CiPlan> {
    let path = root.join("fuzz/ci.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let plan: CiPlan = toml::from_str(&text)
        .with_context(|| format!("{} is not a fuzz CI plan", path.display()))?;
    for target in targets {
        if !plan.runs.contains_key(target) {
            bail!(
                "{}: no run count for fuzz target {target:?}",
                path.display()
            );
        }
    }
    if let Some(stale) = plan.runs.keys().find(|k| !targets.contains(k)) {
        bail!("{}: {stale:?} is not a fuzz target", path.display());
    }
    if let Some((name, _)) = plan.runs.iter().find(|(_, runs)| **runs == 0) {
        bail!("{}: {name:?} would try no input (runs = 0)", path.display());
    }
    Ok(plan)
}

/// Where one target's run stops.
#[derive(Clone, Copy, Debug)]
enum Limit {
    Seconds(u64),
    Runs { runs: u64, seed: u32 },
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
    let plan = match request.budget {
        Budget::Ci => Some(ci_plan(root, &known)?),
        Budget::Seconds(_) => None,
    };
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
        let limit = match (&plan, request.budget) {
            (Some(plan), _) => Limit::Runs {
                runs: plan.runs[target],
                seed: plan.seed,
            },
            (None, Budget::Seconds(s)) => Limit::Seconds(s),
            (None, Budget::Ci) => unreachable!("the plan was read above"),
        };
        run_target(root, target, limit)?;
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

fn run_target(root: &Path, target: &str, limit: Limit) -> Result<()> {
    // A timed run keeps what it finds for the next timed run; a CI run
    // starts from the checked-in seeds alone, or it would not be the same
    // run on every machine.
    let scratch: PathBuf = match limit {
        Limit::Seconds(_) => root.join("target/fuzz-corpus").join(target),
        Limit::Runs { .. } => {
            let dir = root.join("target/fuzz-corpus-ci").join(target);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| {
                    format!("cannot empty {}", dir.display())
                })?;
            }
            dir
        }
    };
    std::fs::create_dir_all(&scratch)?;
    let mut seeds = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = root.join("fuzz").join(kind).join(target);
        if dir.is_dir() {
            seeds.push(dir);
        }
    }
    let (what, flags) = match limit {
        Limit::Seconds(s) => {
            (format!("for {s} s"), vec![format!("-max_total_time={s}")])
        }
        Limit::Runs { runs, seed } => (
            format!("for {runs} inputs from seed {seed}"),
            vec![format!("-runs={runs}"), format!("-seed={seed}")],
        ),
    };
    println!("fuzzing {target} {what}");
    let started = std::time::Instant::now();
    let output = Command::new("cargo")
        .current_dir(root)
        .args(["+nightly", "fuzz", "run", target])
        .arg(&scratch)
        .args(&seeds)
        .arg("--")
        .args(&flags)
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
        "fuzz {target}: {} runs in {:.0} s, {} exec/s, coverage {} \
         points, {} features, no crash",
        stats.runs,
        started.elapsed().as_secs_f64(),
        stats.execs_per_sec,
        stats.coverage,
        stats.features
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
    fn the_ci_plan_gives_every_target_a_run_count() {
        let root = crate::workspace_root();
        let names = targets(&root).unwrap();
        let plan = ci_plan(&root, &names).unwrap();
        assert_eq!(plan.runs.keys().cloned().collect::<Vec<_>>(), names);
    }

    #[test]
    fn a_ci_plan_missing_or_naming_a_target_wrongly_is_refused() {
        let dir = std::env::temp_dir()
            .join(format!("fuzz-plan-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fuzz")).unwrap();
        let names = ["a".to_owned(), "b".to_owned()];
        let cases = [
            (
                "seed = 1\n[runs]\na = 5\n",
                "no run count for fuzz target \"b\"",
            ),
            (
                "seed = 1\n[runs]\na = 5\nb = 5\nc = 5\n",
                "\"c\" is not a fuzz target",
            ),
            ("seed = 1\n[runs]\na = 5\nb = 0\n", "would try no input"),
            ("seed = 1\nrun = 3\n", "not a fuzz CI plan"),
        ];
        for (text, wanted) in cases {
            std::fs::write(dir.join("fuzz/ci.toml"), text).unwrap();
            let err = format!("{:#}", ci_plan(&dir, &names).unwrap_err());
            assert!(err.contains(wanted), "{text:?}: {err}");
        }
        std::fs::write(
            dir.join("fuzz/ci.toml"),
            "seed = 7\n[runs]\na = 5\nb = 9\n",
        )
        .unwrap();
        let plan = ci_plan(&dir, &names).unwrap();
        assert_eq!((plan.seed, plan.runs["b"]), (7, 9));
        std::fs::remove_dir_all(&dir).unwrap();
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
