//! `cargo xtask test`: run test images, or everything.
//!
//! A test image's runner task prints one line per case (`test_<name> ...
//! ok` or `test_<name> ... FAILED <reason>`), then `N passed, M failed`,
//! and shuts the kernel down with exit code 0 or 1. We echo its output,
//! count the case lines ourselves and judge the image: it passes only if
//! the kernel exits 0, at least one case ran and none failed. A runner
//! that crashes, hangs or stops early cannot look like a pass.
//!
//! With no image we run the workspace's host tests (`cargo test`) and then
//! every image in `test/`, and print one combined `N passed, M failed`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::Exit;
use crate::kernel::exit_code;

/// Cases passed and failed, summed over everything run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

pub fn test(images: &[PathBuf], timeout: u64) -> Result<()> {
    let timeout = Duration::from_secs(timeout);
    let mut total = Tally::default();
    let mut last_line = String::new();
    let mut ok = true;
    if images.is_empty() {
        let (host, host_ok) = crate::host_tests::run()?;
        total.add(host);
        ok &= host_ok;
    }
    let images = if images.is_empty() {
        test_images()?
    } else {
        images.to_vec()
    };
    let mut parts = Vec::new();
    for image in &images {
        // Build errors already name the file.
        let run = run_image(image, timeout).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            ImageRun::broken()
        });
        total.add(run.tally);
        ok &= run.passed;
        last_line = run.last_line;
        let root = crate::workspace_root();
        let label = image.strip_prefix(&root).unwrap_or(image);
        parts.push((label.display().to_string(), run.tally));
    }
    if parts.len() > 1 {
        println!("test images (passed, failed):");
        for (label, tally) in &parts {
            println!("  {:>4} {:>2}  {label}", tally.passed, tally.failed);
        }
    }
    let summary = format!("{} passed, {} failed", total.passed, total.failed);
    // One image's runner already ended with the same line.
    if parts.len() > 1 || last_line.trim() != summary {
        println!("{summary}");
    }
    if ok && total.failed == 0 {
        Ok(())
    } else {
        Err(Exit(1).into())
    }
}

/// Every `test/*.toml`, in name order.
fn test_images() -> Result<Vec<PathBuf>> {
    let dir = crate::workspace_root().join("test");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut images: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    images.sort();
    Ok(images)
}

/// What one image did.
struct ImageRun {
    tally: Tally,
    passed: bool,
    last_line: String,
}

impl ImageRun {
    /// An image that could not be built or started: one failure.
    fn broken() -> Self {
        let tally = Tally {
            passed: 0,
            failed: 1,
        };
        Self {
            tally,
            passed: false,
            last_line: String::new(),
        }
    }
}

fn run_image(app_toml: &Path, timeout: Duration) -> Result<ImageRun> {
    let label = app_toml.display().to_string();
    let image = crate::dist::dist(app_toml)?;
    // The attack image also gets host-side cases (build/xtask/src/attack.rs),
    // and its dumps go to a directory of its own.
    let attack = crate::attack::is_attack_image(app_toml);
    let dumps = tempfile::tempdir().context("dump directory")?;
    let mut args: Vec<&std::ffi::OsStr> = Vec::new();
    if attack {
        args.extend(["--dump-dir".as_ref(), dumps.path().as_os_str()]);
    }
    let mut kernel = image.boot(&args, Stdio::null(), Stdio::piped())?;
    let stdout = kernel.take_stdout().context("kernel stdout")?;
    let log = crate::attack::KernelLog::default();
    let reader = std::thread::spawn({
        let log = log.clone();
        move || read_cases(BufReader::new(stdout), &log)
    });
    let host = attack.then(|| crate::attack::run_live(&log, dumps.path()));
    let status = kernel.wait_timeout(timeout)?;
    let hung = status.is_none();
    let status = match status {
        Some(status) => status,
        None => kernel.stop()?,
    };
    // Tasks holding the pipe die with the kernel, so this ends promptly.
    let (mut tally, last_line) = reader.join().unwrap_or_default();
    if let Some(host) = host {
        tally.add(host);
        tally.add(crate::attack::run_hostile(&image.kernel, &image.archive));
    }
    let problem = judge(status, tally, hung, timeout);
    if let Some(problem) = &problem {
        eprintln!("error: image {label}: {problem}");
        // A broken run counts as a failure even if no case said so.
        if tally.failed == 0 {
            tally.failed = 1;
        }
    }
    Ok(ImageRun {
        tally,
        passed: problem.is_none(),
        last_line,
    })
}

/// Why an image failed, or `None` if it passed.
fn judge(
    status: ExitStatus,
    tally: Tally,
    hung: bool,
    timeout: Duration,
) -> Option<String> {
    if hung {
        return Some(format!("timed out after {} s (hang)", timeout.as_secs()));
    }
    match exit_code(status) {
        0 if tally.passed + tally.failed == 0 => {
            Some("no test case ran".into())
        }
        0 if tally.failed > 0 => Some(format!("{} cases failed", tally.failed)),
        0 => None,
        code => Some(format!("kernel exited with status {code}")),
    }
}

/// Echoes the kernel's output and counts case lines; returns the counts
/// and the last line.
fn read_cases(
    input: impl BufRead,
    log: &crate::attack::KernelLog,
) -> (Tally, String) {
    let mut tally = Tally::default();
    let mut last = String::new();
    let mut out = std::io::stdout();
    for line in input.lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(out, "{line}");
        log.push(&line);
        match case_result(&line) {
            Some(true) => tally.passed += 1,
            Some(false) => tally.failed += 1,
            None => {}
        }
        last = line;
    }
    log.close();
    (tally, last)
}

/// `<case> ... ok` is `Some(true)`, `<case> ... FAILED ...` is
/// `Some(false)`, where `<case>` is a test name: an identifier starting
/// with `test_`, or a translated Linux KUnit name, which has `_test_` in
/// the middle (`fpga_mgr_test_lock`). A console prefix before it is
/// ignored. Anything else is `None`.
pub fn case_result(line: &str) -> Option<bool> {
    let (left, right) = line.split_once(" ... ")?;
    let name = left.split_whitespace().last()?;
    let is_ident = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let is_test = name.starts_with("test_") || name.contains("_test_");
    if !(is_ident && is_test) {
        return None;
    }
    let word = right.split_whitespace().next()?;
    match word {
        "ok" => Some(true),
        w if w.starts_with("FAILED") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_lines_are_recognised_with_or_without_a_prefix() {
        assert_eq!(case_result("test_send ... ok"), Some(true));
        assert_eq!(case_result("[runner] test_send ... ok"), Some(true));
        assert_eq!(
            case_result("test_panic ... FAILED expected fault"),
            Some(false)
        );
        assert_eq!(case_result("test_x ... FAILED: no reply"), Some(false));
        assert_eq!(case_result("send ... ok"), None);
        assert_eq!(
            case_result("[suite] fpga_mgr_test_lock ... ok"),
            Some(true)
        );
        assert_eq!(
            case_result("fpga_bridge_test_get ... FAILED x"),
            Some(false)
        );
        assert_eq!(case_result("3 passed, 0 failed"), None);
        assert_eq!(case_result("test_x ... running"), None);
    }

    #[test]
    fn a_clean_exit_with_no_cases_or_a_hang_is_a_failure() {
        use std::os::unix::process::ExitStatusExt;
        let zero = ExitStatus::from_raw(0);
        let none = Tally::default();
        let one = Tally {
            passed: 1,
            failed: 0,
        };
        let t = Duration::from_secs(7);
        assert_eq!(judge(zero, one, false, t), None);
        assert!(judge(zero, none, false, t).is_some());
        assert_eq!(
            judge(zero, one, true, t).as_deref(),
            Some("timed out after 7 s (hang)")
        );
        let exit1 = ExitStatus::from_raw(1 << 8);
        assert!(judge(exit1, one, false, t).is_some());
    }
}
