//! `cargo xtask bench humility`: what the debugger's heavier commands
//! cost against the live default image, next to plain `humility tasks`
//! measured in the same run.
//!
//! Figures (each the median of [`SAMPLES`] runs of the release
//! `humility` binary, process start to exit, in ms):
//!
//! - `tasks`: the baseline (one `tasks` request, each task's stack read
//!   for the overflow mark);
//! - `tasks -s`: every task's registers and stack, unwound and named
//!   (target: under 300 ms);
//! - `dump`: the kernel writing a dump of the whole system (target: under
//!   100 ms);
//! - `tasks -s` on that dump.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::Figure;

/// Runs per figure.
const SAMPLES: usize = 11;

/// How long the demo may take to boot and load both FPGAs.
const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// Median, min and max of `SAMPLES` timings of `f`, in ms.
fn time_ms(mut f: impl FnMut() -> Result<()>) -> Result<Figure> {
    let mut v = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    Ok(Figure {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    })
}

fn row(name: &str, f: &Figure) {
    println!(
        "{name:<40} {:>10.1} {:>10.1} {:>10.1}",
        f.median, f.min, f.max
    );
}

/// The benchmark.
///
/// # Errors
///
/// If the image, humility or the kernel cannot be built or run.
pub fn humility(root: &Path) -> Result<()> {
    let image = crate::dist::dist(&root.join("app.toml"))?;
    let ws = crate::cargo::Workspace::new(root.to_owned());
    let built = ws
        .cargo()
        .args(["build", "-q", "--release", "-p", "humility"])
        .status()
        .context("cannot run cargo to build humility")?;
    if !built.success() {
        bail!("building humility failed ({built})");
    }
    let bin = ws.target.join("release/humility");
    let dir = tempfile::tempdir().context("temporary directory")?;
    let socket = dir.path().join("probe.sock");
    let log = dir.path().join("kernel.log");
    let out = std::fs::File::create(&log)?;
    let mut kernel = Command::new(&image.kernel)
        .arg(&image.archive)
        .arg("--probe")
        .arg(&socket)
        .arg("--dump-dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot run {}", image.kernel.display()))?;
    let result = (|| {
        let t0 = Instant::now();
        while !std::fs::read_to_string(&log)?.contains("xc7: loaded") {
            if t0.elapsed() > BOOT_LIMIT {
                bail!("the demo did not load within {BOOT_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let run = |args: &[&str]| -> Result<()> {
            let out = Command::new(&bin)
                .arg("-a")
                .arg(&image.archive)
                .args(args)
                .stdin(Stdio::null())
                .output()?;
            if !out.status.success() {
                bail!(
                    "humility {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(())
        };
        let probe = socket.display().to_string();
        let live = |extra: &[&str]| {
            let mut a = vec!["-p", probe.as_str()];
            a.extend_from_slice(extra);
            run(&a)
        };
        let tasks = time_ms(|| live(&["tasks"]))?;
        let stacks = time_ms(|| live(&["tasks", "-s"]))?;
        let mut n = 0;
        let dump = time_ms(|| {
            n += 1;
            live(&["dump", &format!("bench-{n}.dump")])
        })?;
        let file = dir.path().join("bench-1.dump").display().to_string();
        let on_dump = time_ms(|| run(&["-d", &file, "tasks", "-s"]))?;
        println!(
            "{:<40} {:>10} {:>10} {:>10}",
            "figure (ms)", "median", "min", "max"
        );
        row("humility tasks (baseline), live", &tasks);
        row("humility tasks -s, live", &stacks);
        row("humility dump (kernel writes it)", &dump);
        row("humility tasks -s, on a dump", &on_dump);
        println!("ratio tasks-s/tasks {:.2}", stacks.median / tasks.median);
        println!("ratio dump/tasks {:.2}", dump.median / tasks.median);
        println!(
            "ratio dump-tasks-s/tasks {:.2}",
            on_dump.median / tasks.median
        );
        Ok(())
    })();
    let _ = kernel.kill();
    let _ = kernel.wait();
    result
}
