//! The default image end to end: `cargo xtask dist app.toml`, the
//! archive's entries and manifest, a boot in which every task starts and
//! the FPGAs the demo reports (two regions' default images and one load by
//! name) reach OPERATING, a stop, and no task process left behind.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image_manifest::ImageManifest;

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

/// Kills the kernel if the test fails before stopping it.
struct KernelGuard(std::process::Child);

impl Drop for KernelGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn process_exists(pid: u32) -> bool {
    // A task's argv[0] is "task"; a recycled pid would be someone else.
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.starts_with(b"task\0"))
}

#[test]
fn default_image_builds_boots_loads_both_fpgas_and_stops_cleanly() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dist")
        .arg(root().join("app.toml"))
        .output()
        .expect("xtask runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let archive =
        target_dir().join("leasehold-demo/dist/build-leasehold-demo.zip");
    let mut zip = zip::ZipArchive::new(
        std::fs::File::open(&archive).expect("archive exists"),
    )
    .expect("a zip");
    let mut json = String::new();
    zip.by_name("manifest.json")
        .expect("manifest")
        .read_to_string(&mut json)
        .expect("read");
    let manifest = ImageManifest::from_json(&json).expect("valid manifest");
    assert_eq!(manifest.name, "leasehold-demo");
    assert_eq!(manifest.tasks[0].name, "jefe");
    assert_eq!(manifest.tasks[0].priority, 0);
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| Some(n.ok()?.into_owned()))
        .collect();
    let mut expected = vec![
        "app.toml".to_owned(),
        "manifest.json".into(),
        "elf/kernel".into(),
        "idl/FpgaManager.idol".into(),
        "idl/FpgaDriver.idol".into(),
        "idl/Jefe.idol".into(),
        "blob/ice40_blinky".into(),
        "blob/xc7_blinky".into(),
        "blob/hx8k_blinky".into(),
        "blob/ecp5_25f".into(),
    ];
    expected.extend(manifest.tasks.iter().map(|t| t.elf.clone()));
    for e in &expected {
        assert!(names.contains(e), "{e} missing from {names:?}");
    }
    let mgr = manifest.task_by_name("fpga_mgr").expect("fpga_mgr task");
    assert_eq!(mgr.serves, vec!["FpgaManager".to_owned()]);
    // jefe (for the watchdog) and the four drivers.
    assert_eq!(mgr.task_slots.len(), 5);

    let kernel = target_dir().join("release/leasehold-kernel");
    // The kernel refuses a probe socket in a directory others may write
    // (such as /tmp itself), so the socket goes in a private one.
    let probe_dir = tempfile::tempdir().expect("private probe directory");
    let probe = probe_dir.path().join("probe.sock");
    let mut child = Command::new(&kernel)
        .arg(&archive)
        .arg("--probe")
        .arg(&probe)
        .env_remove("GLIBC_TUNABLES") // checked below
        .stdout(Stdio::piped())
        .spawn()
        .expect("kernel starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut guard = KernelGuard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut started = Vec::new();
    let mut pids = Vec::new();
    let mut loaded = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    while loaded < 3 || started.len() < manifest.tasks.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("boot incomplete:\n{log}"));
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.strip_prefix("kernel: task ")
            && let Some((name, tail)) = rest.split_once(" started (pid ")
        {
            started.push(name.to_owned());
            let pid = tail.split(',').next().and_then(|p| p.parse().ok());
            pids.push(pid.expect("pid in the boot log"));
        }
        if line.starts_with("[demo] ") && line.ends_with("state Operating") {
            loaded += 1;
        }
        assert!(!line.contains("faulted"), "unexpected fault:\n{log}");
    }
    for t in &manifest.tasks {
        assert!(
            started.contains(&t.name),
            "{} never started:\n{log}",
            t.name
        );
    }
    assert!(
        pids.iter().all(|&p| process_exists(p)),
        "tasks are processes"
    );

    // The kernel started itself again without glibc's rseq (see
    // `sys/hosted/src/rseq.rs`), under its own name, with its arguments.
    let pid = guard.0.id() as i32;
    let environ =
        std::fs::read(format!("/proc/{pid}/environ")).expect("kernel environ");
    assert!(
        environ
            .split(|&b| b == 0)
            .any(|v| v == b"GLIBC_TUNABLES=glibc.pthread.rseq=0"),
        "the kernel runs without rseq"
    );
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .expect("kernel comm");
    assert_eq!(comm.trim_end(), "leasehold-kerne", "the kernel's name");
    let cmdline =
        std::fs::read(format!("/proc/{pid}/cmdline")).expect("kernel cmdline");
    assert!(
        cmdline.ends_with(format!("{}\0", probe.display()).as_bytes()),
        "the kernel's arguments survive"
    );

    // Ctrl-C: the kernel stops every task and exits.
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    let status = guard.0.wait().expect("kernel exits");
    assert_eq!(status.code(), Some(130), "a stop by signal exits 130");
    for p in pids {
        assert!(!process_exists(p), "task process {p} outlived the kernel");
    }
    assert!(!probe.exists(), "the probe socket is removed on exit");
}
