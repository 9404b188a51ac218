//! Bad input to `cargo xtask dist`: each is one `error:` line naming the
//! problem and a non-zero exit, never a panic or a backtrace.

use std::path::Path;
use std::process::Command;

/// Runs `xtask dist <app_toml>` and returns its stderr after checking
/// that it failed with exactly one line.
fn dist_error(app_toml: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dist")
        .arg(app_toml)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("xtask runs");
    assert!(!out.status.success(), "xtask dist succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    stderr
}

const GOOD: &str = r#"
name = "bad-input"
board = "hosted"
stacksize = 1024

[tasks.jefe]
name = "task-jefe"
priority = 0
max-sizes = {flash = 8192, ram = 8192}
notifications = ["fault"]

[tasks.idle]
name = "task-idle"
priority = 1
max-sizes = {flash = 8192, ram = 8192}
"#;

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("app.toml");
    std::fs::write(&path, text).expect("write app.toml");
    path
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = dist_error(&dir.path().join("nope.toml"));
    assert!(err.contains("cannot read"), "{err}");
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn invalid_toml_gives_the_file_and_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "name = \"x\"\n[tasks\n");
    let err = dist_error(&path);
    assert!(err.contains("app.toml:"), "{err}");
}

#[test]
fn an_unknown_key_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = GOOD.replace("priority = 1", "priority = 1\nprioritee = 3");
    let err = dist_error(&write(dir.path(), &text));
    assert!(err.contains("prioritee"), "{err}");
}

#[test]
fn a_missing_crate_names_the_task_and_the_crate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = GOOD.replace("task-jefe", "task-nonexistent");
    let err = dist_error(&write(dir.path(), &text));
    assert!(err.contains("tasks.jefe.name"), "{err}");
    assert!(err.contains("\"task-nonexistent\""), "{err}");
}

/// On the Cortex-M board the device models run in the kernel, which is
/// built per image: a peripheral configuration they refuse must stop the
/// build with their one-line reason, not panic the kernel at boot.
#[test]
fn a_device_config_the_models_refuse_stops_an_mps2_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = GOOD
        .replace("\"hosted\"", "\"mps2-an386\"")
        .replace("[\"fault\"]", "[\"fault\", \"timer\"]")
        .replace("flash = 8192", "flash = 32768")
        + r#"
[peripherals.fpga]
model = "ice40-hx1k"

[peripherals.gpio]
model = "gpio"
config = { device = "fpga", lines = { "0" = "program_b" } }
"#;
    // The tasks are built first, so progress lines come before it.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dist")
        .arg(write(dir.path(), &text))
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("xtask runs");
    assert!(!out.status.success(), "xtask dist succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> =
        stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let err = errors[0];
    assert!(err.starts_with("error: board: peripheral `gpio`"), "{err}");
    assert!(err.contains("has no pin `program_b`"), "{err}");
}
