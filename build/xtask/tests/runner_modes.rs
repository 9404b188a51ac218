//! test-runner's own test: a suite that fails on purpose
//! (`test/runner-check`) under each of the runner's two configurations,
//! booted with `cargo xtask test`, and what the runner printed.
//!
//! Every real image's cases pass, so without this nothing would notice a
//! runner that mis-reported a failure, stopped after one, or (under
//! jefe) served a request only a supervisor may. Each image builds real
//! tasks, so the first run takes a minute.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `cargo xtask test` on a fixture; its exit status and stdout.
fn xtask_test(name: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("test")
        .arg(fixture(name))
        .output()
        .expect("xtask runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("cargo build failed"),
        "{name} did not build:\n{stderr}"
    );
    (out.status.success(), stdout)
}

/// The runner's line for `case`, which must be there exactly once.
fn case_line<'a>(stdout: &'a str, case: &str) -> &'a str {
    let prefix = format!("[runner] {case} ... ");
    let lines: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "{case} in:\n{stdout}");
    lines[0]
}

/// What both configurations report the same way.
fn check_common(stdout: &str) {
    for case in [
        "test_passes",
        "test_runs_after_a_panic",
        "test_runs_after_a_hang",
        "test_runs_last",
    ] {
        assert!(case_line(stdout, case).ends_with(" ... ok"), "{stdout}");
    }
    let panic = case_line(stdout, "test_panics_on_purpose");
    assert!(panic.contains("FAILED ("), "{panic}");
    assert!(panic.contains("this case fails on purpose"), "{panic}");
    let hang = case_line(stdout, "test_hangs_on_purpose");
    assert!(hang.ends_with("FAILED (timeout)"), "{hang}");
}

#[test]
fn as_supervisor_the_runner_reports_each_failure_and_carries_on() {
    let (passed, stdout) = xtask_test("runner-supervisor.toml");
    assert!(!passed, "an image with failed cases must fail:\n{stdout}");
    check_common(&stdout);
    let asked = case_line(&stdout, "test_asks_for_auto_restart");
    assert!(asked.ends_with(" ... ok"), "{asked}");
    assert!(stdout.contains("[runner] 5 passed, 2 failed"), "{stdout}");
}

#[test]
fn under_jefe_the_runner_reports_each_failure_and_refuses_supervisor_requests()
{
    let (passed, stdout) = xtask_test("runner-under-jefe.toml");
    assert!(!passed, "an image with failed cases must fail:\n{stdout}");
    check_common(&stdout);
    let asked = case_line(&stdout, "test_asks_for_auto_restart");
    assert!(asked.contains("FAILED (fault: FromServer("), "{asked}");
    assert!(asked.contains("UndefinedOperation"), "{asked}");
    assert!(stdout.contains("[runner] 4 passed, 3 failed"), "{stdout}");
}
