//! What the host-side tests of humility share: the default image, built
//! once, and a booted [`System`] that stops its kernel when dropped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the demo may take to boot and load both FPGAs, and how long
/// any awaited condition may take: limits against a hung system, set far
/// above what a loaded machine needs so that no test depends on speed.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
pub const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// A hosted image: its archive and the kernel that runs it.
pub struct Image {
    pub archive: PathBuf,
    pub kernel: PathBuf,
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace().join(d)
            }
        }
        _ => workspace().join("target"),
    }
}

/// Builds `app` (an app.toml, relative to the workspace) with
/// `cargo xtask dist`; returns the archive it wrote.
pub fn dist(app: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["run", "-q", "-p", "xtask", "--", "dist", app])
        .stdin(Stdio::null())
        .output()
        .expect("cannot run cargo xtask dist");
    let text = String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo xtask dist {app}:\n{text}");
    let archive = text
        .lines()
        .find_map(|l| l.strip_prefix("wrote "))
        // xtask names it relative to the workspace root.
        .map(|p| workspace().join(p.trim()))
        .unwrap_or_else(|| panic!("xtask named no archive:\n{text}"));
    assert!(archive.is_file(), "no archive at {}", archive.display());
    archive
}

/// The hosted image built from `app`, with the kernel that runs it.
pub fn hosted_image(app: &str) -> Image {
    let archive = dist(app);
    let kernel = target_dir().join("release/leasehold-kernel");
    assert!(kernel.is_file(), "no kernel at {}", kernel.display());
    Image { archive, kernel }
}

/// The default image, built once for all tests.
pub fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| hosted_image("app.toml"))
}

/// Polls the text file at `path` until `f` holds for it, then returns
/// it; `what` names the condition if it never does (the limit is against
/// a hang, not a speed requirement).
pub fn wait_file(path: &Path, what: &str, f: impl Fn(&str) -> bool) -> String {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if f(&text) {
            return text;
        }
        assert!(
            t0.elapsed() < BOOT_TIMEOUT,
            "{what}: not within {BOOT_TIMEOUT:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `humility <args>` on a dump of `image` and insists it succeeds.
pub fn on_dump(image: &Image, dump: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "-a".to_owned(),
        image.archive.display().to_string(),
        "-d".to_owned(),
        dump.display().to_string(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    succeeded(&humility(&all), args)
}

/// A booted hosted image; dropping it stops the kernel.
pub struct System {
    pub image: &'static Image,
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl System {
    /// Boots the default image and waits until the demo has loaded both
    /// FPGAs, so that every test starts from the same state.
    pub fn boot() -> Self {
        let system = Self::start(image());
        system.wait_log("the demo loading its FPGAs", "xc7: loaded");
        system
    }

    /// Starts `image`'s kernel with its probe and dumps in a directory of
    /// its own, and waits for the probe.
    pub fn start(image: &'static Image) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("probe.sock");
        let log = dir.path().join("kernel.log");
        let out = std::fs::File::create(&log).expect("kernel log");
        let child = Command::new(&image.kernel)
            .arg(&image.archive)
            .arg("--probe")
            .arg(&socket)
            .arg("--dump-dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log fd"))
            .stderr(out)
            .spawn()
            .expect("cannot start the kernel");
        let system = Self {
            image,
            child,
            dir,
            socket,
            log,
        };
        system.wait_log("the debug probe", "debug probe at");
        system
    }

    /// Waits until the kernel's log contains `line`.
    pub fn wait_log(&self, what: &str, line: &str) {
        wait_file(&self.log, what, |log| log.contains(line));
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the kernel with SIGTERM (it kills its tasks), then SIGKILL.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Target for System {
    fn humility(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "-a".to_owned(),
            self.image.archive.display().to_string(),
            "-p".to_owned(),
            self.socket.display().to_string(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        humility(&all)
    }

    fn context(&self) -> String {
        format!("kernel log:\n{}", self.log_text())
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What humility runs against in a test: a hosted kernel's probe or a
/// board's GDB stub. The rest is written once over it.
pub trait Target {
    /// Runs `humility <args>` against this target.
    fn humility(&self, args: &[&str]) -> Output;

    /// Said when a wait fails: the target's own log.
    fn context(&self) -> String;

    /// Runs humility and insists it succeeds; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        succeeded(&self.humility(args), args)
    }

    /// Runs `humility <args>` until it succeeds with output for which `f`
    /// holds. The limit only keeps a broken system from hanging the test;
    /// nothing here depends on how fast the system is.
    fn wait_for(
        &self,
        args: &[&str],
        what: &str,
        f: impl Fn(&str) -> bool,
    ) -> String {
        let t0 = Instant::now();
        loop {
            let out = self.humility(args);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() && f(&text) {
                return text;
            }
            assert!(
                t0.elapsed() < WAIT_LIMIT,
                "{what}: not within {WAIT_LIMIT:?}; humility {args:?}:\n\
                 {text}{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.context()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `humility tasks` until `f` holds for it (jefe acts on the
    /// debugger's requests at its next timer tick).
    fn wait_tasks(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        self.wait_for(&["tasks"], what, f)
    }
}

pub fn humility<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_humility"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run humility")
}

pub fn succeeded<S: std::fmt::Debug>(out: &Output, args: &[S]) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "humility {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Insists humility failed cleanly: exit status 1 (not a panic's 101 or
/// a signal), one `humility: error:` line on stderr containing `want`.
pub fn failed_with(out: &Output, want: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a clean failure; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "humility panicked:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{stderr}");
    assert!(
        lines[0].starts_with("humility: error: ") && lines[0].contains(want),
        "expected an error about {want:?}, got:\n{stderr}"
    );
    stderr
}

/// The `tasks` row of task `name`.
pub fn task_row(tasks: &str, name: &str) -> String {
    tasks
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no task {name} in:\n{tasks}"))
        .to_owned()
}

/// The generation column of task `name`.
pub fn generation(tasks: &str, name: &str) -> u32 {
    let row = task_row(tasks, name);
    row.split_whitespace().nth(2).unwrap().parse().unwrap()
}
