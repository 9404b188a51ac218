//! `cargo xtask clippy [image.toml...]`: clippy on every task crate.
//!
//! Plain `cargo clippy` covers only host crates (the workspace's
//! `default-members`): a task crate builds for the task target, and its
//! build script needs the image it belongs to. This runs clippy on each
//! task of the images (by default `app.toml`, every `test/` image,
//! `test/debugger/app.toml` and the runner's test fixtures) the way
//! `dist` builds it, once per crate and feature set, with warnings
//! denied.

use anyhow::{Context, Result, anyhow, bail};
use app_config::Config;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cargo::{ARMV7M_TARGET, Workspace};

/// The images host-side tests boot that are not in `test/` (they fail by
/// design, or are not test images): the runner's own test's.
const HOST_TEST_IMAGES: [&str; 2] = [
    "build/xtask/tests/fixtures/runner-supervisor.toml",
    "build/xtask/tests/fixtures/runner-under-jefe.toml",
];

/// The default images: `app.toml`, `test/*.toml`, and the images
/// host-side tests boot (`test/debugger/app.toml`, humility's, and
/// [`HOST_TEST_IMAGES`]).
pub fn default_images(root: &Path) -> Result<Vec<PathBuf>> {
    let mut images = vec![root.join("app.toml")];
    let debugger = root.join("test/debugger/app.toml");
    let mut tests: Vec<PathBuf> = std::fs::read_dir(root.join("test"))
        .context("cannot list test/")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    tests.sort();
    images.extend(tests);
    if debugger.is_file() {
        images.push(debugger);
    }
    images.extend(HOST_TEST_IMAGES.iter().map(|i| root.join(i)));
    Ok(images)
}

pub fn clippy(images: &[PathBuf], fix: bool) -> Result<()> {
    let root = crate::workspace_root();
    let images = if images.is_empty() {
        default_images(&root)?
    } else {
        images.to_vec()
    };
    let ws = Workspace::new(root);
    let mut seen = BTreeSet::new();
    let mut failed = Vec::new();
    for image in &images {
        let config = Config::load(image).map_err(|e| anyhow!("{e}"))?;
        let app_toml = std::path::absolute(image)?;
        let target = crate::cargo::task_target(config.board());
        crate::cargo::ensure_target(target)?;
        for task in config.tasks() {
            let key = (task.crate_name.clone(), task.features.clone(), target);
            if !seen.insert(key) {
                continue;
            }
            eprintln!(
                "clippy {} for {target} ({})",
                task.crate_name,
                image.display()
            );
            let mut cmd = ws.cargo();
            cmd.args(["clippy", "--quiet", "--release", "--target", target])
                .args(["-p", &task.crate_name, "--bin", &task.crate_name])
                .env(build_util::TASK_NAME_ENV, &task.name)
                .env(build_util::APP_TOML_ENV, &app_toml)
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS");
            if !task.features.is_empty() {
                cmd.arg("--features").arg(task.features.join(","));
            }
            if fix {
                cmd.args(["--fix", "--allow-dirty", "--allow-staged"]);
            } else {
                cmd.args(["--", "-D", "warnings"]);
            }
            let status = cmd.status().context("cannot run cargo clippy")?;
            if !status.success() {
                failed.push(task.crate_name.clone());
            }
        }
    }
    // Task libraries with tests are also built for the host by `cargo
    // xtask test`; their test code is checked the same way.
    let libraries = crate::host_tests::task_libraries_with_tests(&ws)?;
    if !libraries.is_empty() {
        eprintln!("clippy --lib --tests {} (host)", libraries.join(" "));
        let mut cmd = ws.cargo();
        cmd.args(["clippy", "--quiet", "--lib", "--tests"]);
        for library in &libraries {
            cmd.args(["-p", library]);
        }
        if fix {
            cmd.args(["--fix", "--allow-dirty", "--allow-staged"]);
        } else {
            cmd.args(["--", "-D", "warnings"]);
        }
        let status = cmd.status().context("cannot run cargo clippy")?;
        if !status.success() {
            failed.extend(libraries.iter().map(|l| format!("{l} (tests)")));
        }
    }
    // The ARMv7-M kernel, with the empty task table it gets outside an
    // image build.
    if seen.iter().any(|(_, _, target)| *target == ARMV7M_TARGET) {
        eprintln!(
            "clippy {} for {ARMV7M_TARGET}",
            crate::armv7m::KERNEL_PACKAGE
        );
        let mut cmd = ws.cargo();
        cmd.args(["clippy", "--quiet", "--release", "--target", ARMV7M_TARGET])
            .args(["-p", crate::armv7m::KERNEL_PACKAGE])
            .env_remove("LEASEHOLD_KCONFIG")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        if fix {
            cmd.args(["--fix", "--allow-dirty", "--allow-staged"]);
        } else {
            cmd.args(["--", "-D", "warnings"]);
        }
        let status = cmd.status().context("cannot run cargo clippy")?;
        if !status.success() {
            failed.push(crate::armv7m::KERNEL_PACKAGE.to_owned());
        }
    }
    if !failed.is_empty() {
        bail!("clippy found problems in {}", failed.join(", "));
    }
    eprintln!(
        "clippy: {} task crates and {} task libraries' tests clean",
        seen.len(),
        libraries.len()
    );
    Ok(())
}
