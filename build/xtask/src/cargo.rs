//! Running cargo: the workspace's packages, task builds and the kernel
//! build.
//!
//! Every build uses one target directory — `CARGO_TARGET_DIR` if it is
//! set (as cargo itself does), else the workspace's `target/` — so that
//! task builds are cached across runs and shared with the rest of the
//! workspace, and several checkouts or engineers can build side by side.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::progress::Progress;

/// The target hosted tasks are built for.
pub const TASK_TARGET: &str = "x86_64-unknown-none";
/// The target of the Cortex-M4F board's kernel and tasks.
pub const ARMV7M_TARGET: &str = "thumbv7em-none-eabihf";

/// The target an image's tasks are built for, by its board.
pub fn task_target(board: &str) -> &'static str {
    if board == app_config::MPS2_AN386_BOARD {
        ARMV7M_TARGET
    } else {
        TASK_TARGET
    }
}
/// The hosted kernel's default package and its binary.
pub const KERNEL_PACKAGE: &str = "hosted";
pub const KERNEL_BIN: &str = "leasehold-kernel";

/// The workspace xtask builds in.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub target: PathBuf,
}

/// What we need to know about one workspace package.
#[derive(Clone, Debug, Default)]
pub struct Package {
    pub bins: BTreeSet<String>,
    pub features: BTreeSet<String>,
}

impl Workspace {
    pub fn new(root: PathBuf) -> Self {
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    root.join(dir)
                }
            }
            _ => root.join("target"),
        };
        Self { root, target }
    }

    /// A `cargo` command run at the workspace root.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO")
            .unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target);
        cmd
    }

    /// The workspace's packages by name, from `cargo metadata`.
    pub fn packages(&self) -> Result<BTreeMap<String, Package>> {
        let out = self
            .cargo()
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .output()
            .context("cannot run cargo metadata")?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            bail!("cargo metadata failed: {}", stderr.trim());
        }
        parse_metadata(&out.stdout)
    }

    /// Builds one task instance and returns the relocatable object cargo
    /// left in `target/`.
    pub fn build_task(
        &self,
        task: &TaskBuild<'_>,
        p: &Progress,
    ) -> Result<PathBuf> {
        let mut cmd = self.cargo();
        cmd.args(["build", "--release", "--target", task.target])
            .args(["-p", task.crate_name, "--bin", task.crate_name])
            .env(build_util::TASK_NAME_ENV, task.name)
            .env(build_util::APP_TOML_ENV, task.app_toml)
            // Task objects must be relocatable (.cargo/config.toml's
            // target rustflags); RUSTFLAGS would silently replace those.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        if !task.features.is_empty() {
            cmd.arg("--features").arg(task.features.join(","));
        }
        run(cmd, p).with_context(|| {
            format!("building task {} (crate {})", task.name, task.crate_name)
        })?;
        Ok(self
            .target
            .join(task.target)
            .join("release")
            .join(task.crate_name))
    }

    /// Builds the hosted kernel for the host and returns its path.
    pub fn build_kernel(&self, package: &str, p: &Progress) -> Result<PathBuf> {
        let mut cmd = self.cargo();
        cmd.args(["build", "--release", "-p", package])
            .args(["--bin", KERNEL_BIN]);
        run(cmd, p).context("building the kernel")?;
        Ok(self.target.join("release").join(KERNEL_BIN))
    }
}

/// One task instance to build.
pub struct TaskBuild<'a> {
    pub name: &'a str,
    pub crate_name: &'a str,
    pub features: &'a [String],
    /// The rustc target (see [`task_target`]).
    pub target: &'a str,
    /// Absolute path of app.toml, for the task's build script.
    pub app_toml: &'a Path,
}

/// Runs a cargo build quietly, showing its diagnostics only when it has
/// any, so that a progress bar is not torn up by `Compiling` lines.
pub(crate) fn run(mut cmd: Command, p: &Progress) -> Result<()> {
    cmd.arg("--quiet");
    if p.is_terminal() {
        cmd.arg("--color=always");
    }
    let out = cmd.output().context("cannot run cargo")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        p.println(stderr.trim_end());
    }
    if !out.status.success() {
        bail!("cargo build failed ({})", out.status);
    }
    Ok(())
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    targets: Vec<MetaTarget>,
    features: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct MetaTarget {
    name: String,
    kind: Vec<String>,
}

fn parse_metadata(json: &[u8]) -> Result<BTreeMap<String, Package>> {
    let meta: Metadata = serde_json::from_slice(json)
        .context("cannot parse the output of cargo metadata")?;
    Ok(meta
        .packages
        .into_iter()
        .map(|p| {
            let bins = p
                .targets
                .into_iter()
                .filter(|t| t.kind.iter().any(|k| k == "bin"))
                .map(|t| t.name)
                .collect();
            let features = p.features.into_keys().collect();
            (p.name, Package { bins, features })
        })
        .collect())
}

/// Makes sure the standard library for `target` is installed, so that
/// the README's two commands work on a fresh machine: if the active
/// toolchain lacks it, `rustup target add` fetches it (a few seconds).
pub fn ensure_target(target: &str) -> Result<()> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc")?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let lib = Path::new(&sysroot).join("lib/rustlib").join(target);
    if lib.is_dir() {
        return Ok(());
    }
    eprintln!("installing the {target} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .with_context(|| format!("cannot run rustup (install the target by hand: `rustup target add {target}`)"))?;
    if !status.success() {
        bail!("`rustup target add {target}` failed ({status})");
    }
    Ok(())
}
