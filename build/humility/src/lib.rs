//! humility: a Humility-style debugger for Leasehold images.
//!
//! It reads an image archive (`cargo xtask dist`'s zip) and inspects the
//! system built from it, either running (through the hosted kernel's
//! debug probe socket) or after the fact (a dump file the kernel wrote):
//!
//! ```text
//! $ humility -a target/demo/dist/build-demo.zip tasks
//! ID TASK      GEN PRI STATE
//!  0 jefe        0   0 recv, notif: bit0(fault) bit1(timer)
//!  1 ice40       1   1 FAULT: killed by jefe/gen0 (was: recv)
//! ```
//!
//! Every command is a library function returning the text to print, so
//! tests drive them without a terminal; `main.rs` only parses arguments.
//! Errors are one line (`humility: error: ...`), never a backtrace: the
//! reader is debugging their system, not humility.
//!
//! Deliberately not here (yet): Humility's `readmem`, `stackmargin`,
//! `registers` and `flash`; a hosted task's registers live in the kernel
//! process and the probe does not expose them.

#![forbid(unsafe_code)]

pub mod archive;
pub mod decode;
pub mod dwarf;
pub mod elf;
pub mod hiffy;
pub mod info;
pub mod jefe;
pub mod target;
pub mod tasks;
pub mod value;
pub mod vars;
pub mod wire;

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use archive::Archive;
use target::{Dump, Probe, Target};

/// Where to look: the archive, and a dump or a probe socket.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub archive: Option<PathBuf>,
    pub dump: Option<PathBuf>,
    pub probe: Option<PathBuf>,
}

/// An opened archive, and the target once a command needs one.
pub struct Session {
    pub archive: Archive,
    dump: Option<PathBuf>,
    probe: Option<PathBuf>,
    target: Option<Target>,
}

impl Session {
    /// Opens the archive (`-a`, else `$HUMILITY_ARCHIVE`).
    ///
    /// # Errors
    ///
    /// "no archive" if neither is given; archive errors.
    pub fn open(opts: &Options) -> Result<Self> {
        let path = opts
            .archive
            .clone()
            .or_else(|| std::env::var_os("HUMILITY_ARCHIVE").map(PathBuf::from))
            .ok_or_else(|| {
                anyhow!(
                    "no archive: give one with -a <archive.zip> or \
                     HUMILITY_ARCHIVE (cargo xtask dist writes \
                     target/<name>/dist/build-<name>.zip)"
                )
            })?;
        Ok(Self {
            archive: Archive::open(&path)?,
            dump: opts.dump.clone(),
            probe: opts.probe.clone(),
            target: None,
        })
    }

    /// The archive and the target, attaching on first use.
    ///
    /// # Errors
    ///
    /// Dump or probe errors (not running, another image, corrupt dump).
    pub fn parts(&mut self) -> Result<(&Archive, &mut Target)> {
        if self.target.is_none() {
            let t = match &self.dump {
                Some(d) => Target::Dump(Dump::open(d, &self.archive)?),
                None => {
                    let path = self.probe.clone().unwrap_or_else(|| {
                        default_probe_path(&self.archive.manifest.name)
                    });
                    Target::Live(Probe::attach(&path, &self.archive)?)
                }
            };
            self.target = Some(t);
        }
        match &mut self.target {
            Some(t) => Ok((&self.archive, t)),
            None => Err(anyhow!("no target")),
        }
    }
}

pub use debug_protocol::default_probe_path;

/// `humility dump [file]`: asks the kernel to write a dump; returns its
/// path.
///
/// # Errors
///
/// On a dump, or if the kernel cannot write it.
pub fn dump(target: &mut Target, path: Option<&Path>) -> Result<String> {
    let probe = target.live("dump")?;
    let mut request = serde_json::json!({ "op": "dump" });
    if let Some(p) = path {
        // The kernel resolves relative paths against its own directory;
        // make it ours.
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        request["path"] = p.display().to_string().into();
    }
    let answer = probe.request(request)?;
    let written = answer["path"].as_str().unwrap_or("?");
    Ok(format!("humility: dump written to {written}\n"))
}

#[cfg(test)]
mod tests;
