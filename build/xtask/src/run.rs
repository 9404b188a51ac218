//! `cargo xtask run`: build an image if needed and boot it.
//!
//! The kernel prints the boot log and the tasks' console lines itself; we
//! only wait for it and exit with its status. A Ctrl-C (or a SIGTERM sent
//! to us) makes the kernel kill every task and exit, so nothing is left
//! behind.

use std::path::Path;
use std::process::Stdio;

use anyhow::Result;

use crate::Exit;
use crate::kernel::exit_code;

pub fn run(app_toml: &Path) -> Result<()> {
    let image = crate::dist::dist(app_toml)?;
    let mut kernel = image.boot(&[], Stdio::inherit(), Stdio::inherit())?;
    let status = kernel.wait()?;
    match exit_code(status) {
        0 => Ok(()),
        code => Err(Exit(code).into()),
    }
}
