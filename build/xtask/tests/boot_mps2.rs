//! The default image on the Cortex-M4F board: `cargo xtask dist
//! app-mps2.toml` (app.toml with the board switched), then a boot under
//! QEMU in which every FPGA the demo loads reaches OPERATING, with the
//! device models running inside the Cortex-M kernel, and no task faults.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) if !d.is_empty() => root().join(d),
        _ => root().join("target"),
    }
}

/// Kills QEMU however the test ends.
struct QemuGuard(std::process::Child);

impl Drop for QemuGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn default_image_on_mps2_loads_both_fpgas() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dist")
        .arg(root().join("app-mps2.toml"))
        .output()
        .expect("xtask runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let elf =
        target_dir().join("leasehold-demo-mps2/dist/leasehold-demo-mps2.elf");
    assert!(elf.is_file(), "no image ELF at {}", elf.display());

    // The command `cargo xtask run` uses (build/xtask/src/armv7m.rs).
    let mut child = Command::new("qemu-system-arm")
        .args(["-M", "mps2-an386", "-cpu", "cortex-m4"])
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(&elf)
        .stdout(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm starts (.ci/run installs it)");
    let stdout = child.stdout.take().expect("stdout");
    let _guard = QemuGuard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut operating = Vec::new();
    let mut all_running = false;
    // A limit against a hang only: the boot takes well under a second.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut log = String::new();
    while operating.len() < 3 || !all_running {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("boot incomplete:\n{log}"));
        log.push_str(&line);
        log.push('\n');
        assert!(!line.contains("faulted"), "unexpected fault:\n{log}");
        assert!(!line.contains("panic"), "kernel panic:\n{log}");
        all_running |= line.starts_with("kernel: all tasks running ");
        if let Some(rest) = line.strip_prefix("[demo] ")
            && rest.ends_with("state Operating")
            && let Some((device, _)) = rest.split_once(':')
        {
            operating.push(device.to_owned());
        }
    }
    operating.sort();
    assert_eq!(operating, ["ecp5", "ice40", "xc7"], "{log}");
}
