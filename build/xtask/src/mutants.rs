//! `cargo xtask mutants`: mutation testing of the host crates whose unit
//! tests guard the system's safety (the kernel core and idol's runtime),
//! with cargo-mutants from crates.io.
//!
//! cargo-mutants plants one bug at a time (an operator flipped, a match
//! arm deleted, a function body replaced) and runs the crate's unit
//! tests; a mutant the tests do not notice is *missed*. Every missed
//! mutant must be killed by a test or listed in
//! `build/xtask/mutants-accepted.txt` with a one-line reason (an
//! equivalent mutant, a path no input reaches); anything else fails.
//!
//! A run is slow (each mutant is a build and a test run, about ten
//! seconds: 480 mutants in `kern`, 148 in idol-runtime), so it is not
//! part of `cargo xtask test`. Run it after changing a file it covers,
//! for that file: `cargo xtask mutants --file sys/kern/src/lease.rs`.
//! CI (`.ci/run`) runs it on the covered files the commit changed
//! (`--changed-since HEAD^1`) within a budget (`--budget-minutes`): a run
//! out of time judges the mutants it tested and says how many.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The accepted survivors, relative to the workspace root.
const ACCEPTED: &str = "build/xtask/mutants-accepted.txt";

/// A crate we mutate and the files of it we leave alone: fuzz harnesses
/// (their own fuzz targets check them) and test scaffolding.
struct Target {
    package: &'static str,
    dir: &'static str,
    exclude: &'static [&'static str],
}

const TARGETS: &[Target] = &[
    Target {
        package: "kern",
        dir: "sys/kern",
        exclude: &["sys/kern/src/fuzz.rs", "sys/kern/src/fuzz/**"],
    },
    Target {
        package: "idol-runtime",
        dir: "lib/idol-runtime",
        exclude: &["lib/idol-runtime/src/fuzz.rs"],
    },
];

/// How much of a run to make.
pub struct Limits {
    /// Seconds a mutant's tests may run.
    pub timeout: u64,
    /// Only the covered files changed since this git revision.
    pub changed_since: Option<String>,
    /// Minutes for the whole run, per crate.
    pub budget_minutes: Option<u64>,
}

/// Runs cargo-mutants on `package` (or every target), only on `files` if
/// any are given, and checks what it missed against the accepted list.
pub fn mutants(
    root: &Path,
    package: Option<&str>,
    files: &[PathBuf],
    limits: &Limits,
) -> Result<()> {
    let changed;
    let files = match &limits.changed_since {
        Some(base) => {
            changed = changed_files(root, base)?;
            if changed.is_empty() {
                println!(
                    "mutants: no file of {} changed since {base}; nothing to do",
                    TARGETS
                        .iter()
                        .map(|t| t.dir)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Ok(());
            }
            &changed[..]
        }
        None => files,
    };
    let installed = Command::new("cargo")
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        bail!(
            "cargo-mutants is not installed (`cargo install cargo-mutants \
             --locked`)"
        );
    }
    let accepted = read_accepted(&root.join(ACCEPTED))?;
    let mut missed = vec![];
    let mut ran = false;
    for target in TARGETS {
        if package.is_some_and(|p| p != target.package) {
            continue;
        }
        let mine: Vec<&PathBuf> =
            files.iter().filter(|f| f.starts_with(target.dir)).collect();
        if !files.is_empty() && mine.is_empty() {
            continue;
        }
        ran = true;
        missed.extend(run(root, target, &mine, limits)?);
    }
    if !ran {
        bail!(
            "nothing to mutate: the files and package given are not in {}",
            TARGETS.iter().map(|t| t.dir).collect::<Vec<_>>().join(", ")
        );
    }
    let unaccepted: Vec<&String> = missed
        .iter()
        .filter(|m| !accepted.contains_key(&key(m)))
        .collect();
    println!(
        "mutants: {} missed, {} of them accepted in {ACCEPTED}",
        missed.len(),
        missed.len() - unaccepted.len()
    );
    if unaccepted.is_empty() {
        return Ok(());
    }
    for m in &unaccepted {
        println!("MISSED (not accepted): {m}");
    }
    bail!(
        "{} missed mutants are neither killed by a test nor accepted in \
         {ACCEPTED} (add a test, or the line `<file>: <mutant> | <why>`)",
        unaccepted.len()
    )
}

/// The Rust files of our targets (fuzz harnesses aside) that differ
/// between `base` and the working tree's commit.
fn changed_files(root: &Path, base: &str) -> Result<Vec<PathBuf>> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["diff", "--name-only", base, "HEAD", "--"])
        .args(TARGETS.iter().map(|t| format!("{}/src", t.dir)))
        .output()
        .context("cannot run git diff")?;
    if !out.status.success() {
        bail!(
            "git diff {base} HEAD failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8(out.stdout).context("git diff output")?;
    Ok(covered(&text, root))
}

/// The paths of a `git diff --name-only` listing that are mutated: Rust
/// files of a target, not excluded, that still exist under `root`.
fn covered(listing: &str, root: &Path) -> Vec<PathBuf> {
    listing
        .lines()
        .filter(|f| f.ends_with(".rs"))
        .filter(|f| {
            TARGETS.iter().any(|t| {
                f.starts_with(t.dir)
                    && !t.exclude.iter().any(|x| excluded(f, x))
            })
        })
        .map(PathBuf::from)
        .filter(|f| root.join(f).exists())
        .collect()
}

/// Whether `file` matches an exclude pattern (a path, or `dir/**`).
fn excluded(file: &str, pattern: &str) -> bool {
    match pattern.strip_suffix("/**") {
        Some(dir) => file.starts_with(&format!("{dir}/")),
        None => file == pattern,
    }
}

/// One cargo-mutants run; returns the missed mutants as it lists them.
fn run(
    root: &Path,
    target: &Target,
    files: &[&PathBuf],
    limits: &Limits,
) -> Result<Vec<String>> {
    let out = root.join("target/mutants").join(target.package);
    // cargo-mutants makes `mutants.out` but not the directories above it.
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .args(["mutants", "--package", target.package])
        // One build at a time: the machine is shared, and a mutant's
        // build already uses every core.
        .args(["--jobs", "1", "--timeout", &limits.timeout.to_string()])
        // Unit tests only (no doctests): they are what we hold to it.
        .arg("--cargo-test-arg=--lib")
        .arg("--output")
        .arg(&out)
        // Optimised tests: the kernel's property tests run ten times
        // faster, which is most of a mutant's cost.
        .env("CARGO_PROFILE_DEV_OPT_LEVEL", "1")
        // Its own process group, so that running out of budget stops
        // its builds and tests too.
        .process_group(0);
    for file in files {
        cmd.arg("--file").arg(file);
    }
    for pattern in target.exclude {
        cmd.args(["--exclude", pattern]);
    }
    println!("mutants: {}", target.package);
    let mut child = cmd.spawn().context("cannot run cargo mutants")?;
    let budget = limits
        .budget_minutes
        .map(|m| Instant::now() + Duration::from_secs(m * 60));
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if budget.is_some_and(|end| Instant::now() >= end) {
            // The group's id is the child's pid (process_group(0)).
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-INT", "--", &group]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let listed = |name: &str| {
        std::fs::read_to_string(out.join("mutants.out").join(name))
            .map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
    };
    match status {
        // cargo-mutants exits 2 when it found missed mutants, 3 on
        // timeouts; we judge the missed ones ourselves. Anything else is
        // a failure to run (a baseline that does not build or pass).
        Some(status) if !matches!(status.code(), Some(0 | 2 | 3)) => {
            bail!("cargo mutants on {} failed: {status}", target.package);
        }
        Some(_) => {}
        None => {
            let tested: usize = ["caught.txt", "missed.txt", "timeout.txt"]
                .iter()
                .map(|f| listed(f).map_or(0, |l| l.len()))
                .sum();
            println!(
                "mutants: {}: out of budget after {tested} mutants tested; \
                 judging those (the rest were not run)",
                target.package
            );
        }
    }
    // Written as mutants are tested, so a stopped run has it too.
    let list = out.join("mutants.out/missed.txt");
    listed("missed.txt")
        .with_context(|| format!("cannot read {}", list.display()))
}

/// A mutant without its line and column (`file:line:col: what` becomes
/// `file: what`), so that the list survives edits elsewhere in the file.
fn key(mutant: &str) -> String {
    let mut parts = mutant.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(file), Some(line), Some(col), Some(rest))
            if line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok() =>
        {
            format!("{file}:{}", rest.trim_end())
        }
        _ => mutant.trim().to_owned(),
    }
}

/// The accepted list: `<file>: <mutant> | <reason>` per line, `#`
/// comments and blank lines ignored; a line without a reason is an
/// error.
fn read_accepted(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut accepted = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((mutant, reason)) = line.rsplit_once(" | ") else {
            bail!("{}:{}: no ` | <reason>`", path.display(), n + 1);
        };
        if reason.trim().is_empty() {
            bail!("{}:{}: empty reason", path.display(), n + 1);
        }
        accepted.insert(key(mutant), reason.trim().to_owned());
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_covers_only_target_sources_that_are_not_excluded() {
        let listing = "sys/kern/src/lease.rs\nsys/kern/src/fuzz.rs\n\
                       sys/kern/src/fuzz/corpus.rs\nsys/kern/Cargo.toml\n\
                       lib/idol-runtime/src/leased.rs\n\
                       lib/idol-runtime/src/fuzz.rs\nsys/abi/src/lib.rs\n\
                       sys/kern/src/gone.rs\n";
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        assert_eq!(
            covered(listing, root),
            [
                PathBuf::from("sys/kern/src/lease.rs"),
                PathBuf::from("lib/idol-runtime/src/leased.rs"),
            ]
        );
    }

    #[test]
    fn a_mutant_is_keyed_without_its_position() {
        assert_eq!(
            key("sys/kern/src/ipc.rs:208:47: replace > with >= in f"),
            "sys/kern/src/ipc.rs: replace > with >= in f"
        );
        assert_eq!(key("no position"), "no position");
    }

    #[test]
    fn the_accepted_list_needs_a_reason_on_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accepted.txt");
        std::fs::write(
            &path,
            "# comment\n\na.rs:1:2: replace x in f | equivalent\n",
        )
        .unwrap();
        let accepted = read_accepted(&path).unwrap();
        assert_eq!(accepted["a.rs: replace x in f"], "equivalent");
        std::fs::write(&path, "a.rs:1:2: replace x in f\n").unwrap();
        let e = read_accepted(&path).unwrap_err().to_string();
        assert!(e.contains(":1: no ` | <reason>`"), "{e}");
        std::fs::write(&path, "a.rs: replace x in f |  \n").unwrap();
        assert!(read_accepted(&path).is_err());
    }

    #[test]
    fn the_checked_in_list_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        read_accepted(&root.join(ACCEPTED)).unwrap();
    }
}
