//! `cargo xtask mutants`: mutation testing of the host crates whose unit
//! tests guard the system's safety (the kernel core, idol's runtime, the
//! bitstream parsers and the FPGA manager's library), with cargo-mutants
//! from crates.io.
//!
//! cargo-mutants plants one bug at a time (an operator flipped, a match
//! arm deleted, a function body replaced) and runs the crate's unit
//! tests; a mutant the tests do not notice is *missed*. Every missed
//! mutant must be killed by a test or listed in
//! `build/xtask/mutants-accepted.txt` with a one-line reason (an
//! equivalent mutant, a path no input reaches); anything else fails.
//!
//! A run is slow (each mutant is a build and a test run, three to ten
//! seconds: 480 mutants in `kern`, 148 in idol-runtime, 731 in
//! fpga-bitstream, 149 in task-fpga-mgr's library), so it is not part of
//! `cargo xtask test`. Run it after changing a file it covers,
//! for that file: `cargo xtask mutants --file sys/kern/src/lease.rs`.
//! CI (`.ci/run`) runs it on the files the commit changed in the crates
//! whose every survivor has been judged (`judged` below)
//! (`--changed-since HEAD^1`), on a sample of at most `--sample N`
//! mutants. The sample is one of cargo-mutants' round-robin shards, chosen
//! by the commit's hash: the same mutants for the same commit on every
//! machine (a time budget would judge more mutants on a faster machine,
//! so the verdict would depend on speed), and different ones as commits
//! go by.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The accepted survivors, relative to the workspace root.
const ACCEPTED: &str = "build/xtask/mutants-accepted.txt";

/// A crate we mutate and the files of it we leave alone: fuzz harnesses
/// (their own fuzz targets check them) and test scaffolding.
struct Target {
    package: &'static str,
    dir: &'static str,
    exclude: &'static [&'static str],
    /// The tests a mutant must fail, as `cargo test` arguments.
    tests: &'static [&'static str],
    /// Every mutant has been run and each survivor killed or accepted, so
    /// `--changed-since` (CI) holds changes to it to that standard.
    judged: bool,
}

const TARGETS: &[Target] = &[
    Target {
        package: "kern",
        dir: "sys/kern",
        exclude: &["sys/kern/src/fuzz.rs", "sys/kern/src/fuzz/**"],
        tests: UNIT_TESTS,
        judged: true,
    },
    Target {
        package: "idol-runtime",
        dir: "lib/idol-runtime",
        exclude: &["lib/idol-runtime/src/fuzz.rs"],
        tests: UNIT_TESTS,
        judged: true,
    },
    // The FPGA path: the bitstream parsers the device models trust, and
    // the manager's host-testable library (its load sequencing, locks,
    // bridges, image digest, firmware catalog and op log).
    Target {
        package: "fpga-bitstream",
        dir: "lib/fpga-bitstream",
        exclude: &["lib/fpga-bitstream/src/fuzz.rs"],
        // Its integration tests (`tests/`) are host tests too: the real
        // images from Vivado, nextpnr/ecppack and icepack that the
        // parsers must accept.
        tests: &["--lib", "--tests"],
        judged: true,
    },
    Target {
        package: "task-fpga-mgr",
        dir: "task/fpga-mgr",
        // The task's binary modules (main.rs's `mod`s): not compiled into
        // the library whose unit tests judge a mutant, and each makes the
        // syscalls it exists for, so only a booted system runs them:
        // test/fpga.toml (fpga-test-suite).
        exclude: &[
            // RECV loop, notifications, jefe's fault notices.
            "task/fpga-mgr/src/main.rs",
            // The idol ops: caller and device checks around the library
            // (every op runs in fpga-test-suite; test_bad_requests sends
            // bad devices, regions, bridges and flags, calls without the
            // lock and calls out of order).
            "task/fpga-mgr/src/ops.rs",
            // SENDs to the driver, forwarded leases, BORROW_READ for the
            // hash, kipc grants (test_driver_dies_*, test_driver_revoked_
            // mid_load, test_client_dies_mid_load, test_image_identity_*).
            "task/fpga-mgr/src/driver.rs",
            // Binding and unbinding drivers over kipc and the timer
            // (test_unregister_while_held, test_lock_holder_dies).
            "task/fpga-mgr/src/device.rs",
            // A load's glue: the driver link, the timer, region bridges
            // (fpga_mgr_test_img_load_*, fpga_region_test_program_fpga,
            // test_bridge_failure).
            "task/fpga-mgr/src/load.rs",
            // The firmware store's leases (test_load_by_name,
            // test_load_by_unknown_name, test_store_dies_mid_load).
            "task/fpga-mgr/src/store.rs",
            // The hash engine's registers, its IRQ and the timer, and
            // BORROW_READ for software hashing
            // (test_hash_engine_hashed_the_load, test_image_identity_*,
            // test_store_dies_mid_load, the injection campaign).
            "task/fpga-mgr/src/hash.rs",
        ],
        tests: UNIT_TESTS,
        judged: true,
    },
];

/// Unit tests only (no doctests): what the crate is held to.
const UNIT_TESTS: &[&str] = &["--lib"];

/// How much of a run to make.
pub struct Limits {
    /// Seconds a mutant's tests may run.
    pub timeout: u64,
    /// Only the covered files changed since this git revision.
    pub changed_since: Option<String>,
    /// At most this many mutants per crate: a shard picked by the commit.
    pub sample: Option<usize>,
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
        .args(
            TARGETS
                .iter()
                .filter(|t| t.judged)
                .map(|t| format!("{}/src", t.dir)),
        )
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
                t.judged
                    && f.starts_with(t.dir)
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
    let mut cmd = cargo_mutants(root, target, files);
    // One build at a time: the machine is shared, and a mutant's build
    // already uses every core.
    cmd.args(["--jobs", "1", "--timeout", &limits.timeout.to_string()]);
    // The tests select what is built too (not the examples or benches):
    // a mutant's build is most of its cost.
    for arg in target.tests {
        cmd.arg(format!("--cargo-arg={arg}"));
    }
    cmd.arg("--output")
        .arg(&out)
        // Optimised tests: the kernel's property tests run ten times
        // faster, which is most of a mutant's cost.
        .env("CARGO_PROFILE_DEV_OPT_LEVEL", "1")
        // No debug info: a mutant's failing test needs only its message,
        // and linking without it is several times faster.
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
    if let Some(sample) = limits.sample {
        let (shard, shards) = pick_shard(root, target, files, sample)?;
        cmd.arg(format!("--shard={shard}/{shards}"))
            .arg("--sharding=round-robin");
    }
    println!("mutants: {}", target.package);
    let status = cmd.status().context("cannot run cargo mutants")?;
    // cargo-mutants exits 2 when it found missed mutants, 3 on timeouts;
    // we judge the missed ones ourselves. Anything else is a failure to
    // run (a baseline that does not build or pass).
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        bail!("cargo mutants on {} failed: {status}", target.package);
    }
    let listed = |name: &str| {
        std::fs::read_to_string(out.join("mutants.out").join(name))
            .map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
    };
    let list = out.join("mutants.out/missed.txt");
    listed("missed.txt")
        .with_context(|| format!("cannot read {}", list.display()))
}

/// `cargo mutants` on `target`, limited to `files` when any are given.
fn cargo_mutants(root: &Path, target: &Target, files: &[&PathBuf]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .args(["mutants", "--package", target.package]);
    for file in files {
        cmd.arg("--file").arg(file);
    }
    for pattern in target.exclude {
        cmd.args(["--exclude", pattern]);
    }
    cmd
}

/// The shard of at most `sample` mutants to test: as many round-robin
/// shards as that needs, and among them the one the commit's hash picks.
fn pick_shard(
    root: &Path,
    target: &Target,
    files: &[&PathBuf],
    sample: usize,
) -> Result<(u64, u64)> {
    let listing = cargo_mutants(root, target, files)
        .arg("--list")
        .output()
        .context("cannot run cargo mutants --list")?;
    if !listing.status.success() {
        bail!(
            "cargo mutants --list on {} failed: {}",
            target.package,
            String::from_utf8_lossy(&listing.stderr).trim()
        );
    }
    let count = String::from_utf8_lossy(&listing.stdout).lines().count();
    let head = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .context("cannot run git rev-parse")?;
    let hash = String::from_utf8_lossy(&head.stdout);
    let (shard, shards) = shard_for(count, sample, hash.trim())?;
    println!(
        "mutants: {}: {count} mutants, testing shard {shard} of {shards} \
         (at most {sample})",
        target.package
    );
    Ok((shard, shards))
}

/// Which of `ceil(count / sample)` shards the commit `hash` picks.
fn shard_for(count: usize, sample: usize, hash: &str) -> Result<(u64, u64)> {
    if sample == 0 {
        bail!("a sample of 0 mutants tests nothing");
    }
    let shards = count.div_ceil(sample).max(1) as u64;
    let prefix = hash.get(..12).unwrap_or(hash);
    let picked = u64::from_str_radix(prefix, 16)
        .with_context(|| format!("{hash:?} is not a commit hash"))?;
    Ok((picked % shards, shards))
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
    fn the_sample_is_a_shard_the_commit_picks() {
        let hash = "00000000000a0123456789abcdef012345678901";
        // 100 mutants, at most 30 a run: 4 shards; 0xa % 4 = 2.
        assert_eq!(shard_for(100, 30, hash).unwrap(), (2, 4));
        // Fewer mutants than the sample: one shard, all of them.
        assert_eq!(shard_for(7, 30, hash).unwrap(), (0, 1));
        assert_eq!(shard_for(0, 30, hash).unwrap(), (0, 1));
        // The same commit picks the same shard; another may not.
        let other = "00000000000b0123456789abcdef012345678901";
        assert_eq!(shard_for(100, 30, other).unwrap(), (3, 4));
        assert!(shard_for(100, 0, hash).is_err());
        assert!(shard_for(100, 30, "not-hex").is_err());
    }

    #[test]
    fn a_change_covers_only_target_sources_that_are_not_excluded() {
        let listing = "sys/kern/src/lease.rs\nsys/kern/src/fuzz.rs\n\
                       sys/kern/src/fuzz/corpus.rs\nsys/kern/Cargo.toml\n\
                       lib/idol-runtime/src/leased.rs\n\
                       lib/idol-runtime/src/fuzz.rs\nsys/abi/src/lib.rs\n\
                       sys/kern/src/gone.rs\n\
                       lib/fpga-bitstream/src/xc7/registers.rs\n\
                       lib/fpga-bitstream/src/fuzz.rs\n\
                       task/fpga-mgr/src/loader.rs\n\
                       task/fpga-mgr/src/ops.rs\n\
                       task/fpga-mgr/src/hash.rs\n";
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        // ops.rs and hash.rs are the manager's syscall glue, excluded.
        assert_eq!(
            covered(listing, root),
            [
                PathBuf::from("sys/kern/src/lease.rs"),
                PathBuf::from("lib/idol-runtime/src/leased.rs"),
                PathBuf::from("lib/fpga-bitstream/src/xc7/registers.rs"),
                PathBuf::from("task/fpga-mgr/src/loader.rs"),
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
