//! The host half of `cargo xtask bench fpga`: `humility fpga load` of a
//! 2 MB XC7A35T image into the live default image, the operator's path
//! (file → probe socket → hiffy's buffer → manager → driver → device
//! model, one hiffy call per 64 KiB chunk).
//!
//! The 2 MB image is the real Vivado one (`test/bitstreams/
//! xc7a35t-cmoda7-mandel.bit`) when it is checked in and the 7-series
//! model takes it; otherwise a stream of 5,200 frames built with
//! `fpga-bitstream`, as `gen_xc7_bitstreams` builds the blinky.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::Figure;

/// Loads timed.
const SAMPLES: usize = 7;
/// How long the demo may take to boot and load its FPGAs.
const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// What the host load measured.
pub struct HostLoad {
    /// Image bytes.
    pub bytes: usize,
    /// Which image.
    pub what: String,
    /// `humility fpga load`, process start to exit, ns.
    pub load: Figure,
}

/// A 2 MB XC7A35T image: the Vivado file if present, else a built one.
fn image(root: &Path, dir: &Path) -> Result<(PathBuf, String)> {
    let real = root.join("test/bitstreams/xc7a35t-cmoda7-mandel.bit");
    if real.is_file() {
        return Ok((real, "Vivado xc7a35t-cmoda7-mandel.bit".into()));
    }
    use fpga_bitstream::xc7::{FRAME_WORDS, StreamBuilder, XC7A35T};
    let mut x = 0x2545_F491u32;
    let frames: Vec<u32> = (0..5200 * FRAME_WORDS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect();
    let builder = StreamBuilder::new(XC7A35T.idcode, &frames)
        .map_err(|e| anyhow::anyhow!("building the 2 MB stream: {e:?}"))?;
    let mut bit = Vec::new();
    builder
        .write_bit(
            "bench;UserID=0XFFFFFFFF",
            "7a35tcpg236",
            "2026/12/04",
            "00:00:00",
            &mut |d| bit.extend_from_slice(d),
        )
        .map_err(|e| anyhow::anyhow!("building the 2 MB stream: {e:?}"))?;
    let path = dir.join("xc7a35t-2mb.bit");
    std::fs::write(&path, &bit)?;
    Ok((path, "built 5,200-frame stream (fpga-bitstream)".into()))
}

/// Boots the default image and times `humility fpga load xc7 <2 MB>`.
///
/// # Errors
///
/// If the image, humility or the kernel cannot be built or run, or a load
/// fails.
pub fn host_load(root: &Path) -> Result<HostLoad> {
    let image_built = crate::dist::dist(&root.join("app.toml"))?;
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
    let (file, what) = image(root, dir.path())?;
    let bytes = std::fs::metadata(&file)?.len() as usize;
    let socket = dir.path().join("probe.sock");
    let log = dir.path().join("kernel.log");
    let out = std::fs::File::create(&log)?;
    let mut kernel = Command::new(&image_built.kernel)
        .arg(&image_built.archive)
        .arg("--probe")
        .arg(&socket)
        .arg("--dump-dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| {
            format!("cannot run {}", image_built.kernel.display())
        })?;
    let result = (|| {
        let t0 = Instant::now();
        while !std::fs::read_to_string(&log)?.contains("xc7: loaded") {
            if t0.elapsed() > BOOT_LIMIT {
                bail!("the demo did not load within {BOOT_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut v = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let t = Instant::now();
            let out = Command::new(&bin)
                .arg("-a")
                .arg(&image_built.archive)
                .arg("-p")
                .arg(&socket)
                .args(["fpga", "load", "xc7"])
                .arg(&file)
                .stdin(Stdio::null())
                .output()?;
            let ns = t.elapsed().as_secs_f64() * 1e9;
            if !out.status.success() {
                bail!(
                    "humility fpga load xc7 {}: {}",
                    file.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            v.push(ns);
        }
        v.sort_by(f64::total_cmp);
        Ok(Figure {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
        })
    })();
    let _ = kernel.kill();
    let _ = kernel.wait();
    Ok(HostLoad {
        bytes,
        what,
        load: result?,
    })
}
