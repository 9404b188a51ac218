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
//! Stack traces (`tasks -s`) are unwound from the registers the kernel
//! reads for the probe or records in a dump, with the task ELF's CFI
//! ([`stack`]); `stackmargin` reads the stack paint the kernel lays down
//! at each start ([`memory`]). Deliberately not here (yet): Humility's
//! `flash`.

#![forbid(unsafe_code)]

pub mod archive;
pub mod decode;
pub mod dwarf;
pub mod elf;
pub mod fpga;
pub mod gdb;
pub mod gdb_client;
pub mod hiffy;
pub mod info;
pub mod jefe;
pub mod memory;
pub mod output;
pub mod qemu;
pub mod stack;
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
    /// A QEMU board's GDB stub (`IP:PORT`, loopback).
    pub qemu: Option<String>,
}

/// An opened archive, and the target once a command needs one.
pub struct Session {
    pub archive: Archive,
    dump: Option<PathBuf>,
    probe: Option<PathBuf>,
    qemu: Option<String>,
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
            qemu: opts.qemu.clone(),
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
            let t = match (&self.dump, &self.qemu) {
                (Some(d), _) => Target::Dump(Dump::open(d, &self.archive)?),
                (None, Some(addr)) => Target::Qemu(Box::new(
                    qemu::Board::attach(addr, &self.archive)?,
                )),
                (None, None) => {
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
/// path. For a QEMU board humility writes it itself, from the board's
/// memory, in the same format.
///
/// The kernel writes dumps only in its own dump directory and never over
/// an existing file, so `file` is a file name, or a path in that
/// directory.
///
/// # Errors
///
/// On a dump, a path elsewhere, or if the kernel cannot write it.
pub fn dump(
    archive: &Archive,
    target: &mut Target,
    path: Option<&Path>,
) -> Result<String> {
    if let Target::Qemu(board) = target {
        let path = path.map_or_else(
            || {
                PathBuf::from(format!(
                    "{}-qemu-{}.dump",
                    archive.manifest.name, board.uptime_ms
                ))
            },
            Path::to_path_buf,
        );
        board.dump(archive, &path)?;
        return Ok(format!("humility: dump written to {}\n", path.display()));
    }
    let probe = target.live("dump")?;
    let name = match path {
        None => None,
        Some(p) => Some(dump_name(p, probe.identity.dump_dir.as_deref())?),
    };
    let written = probe.dump(name.as_deref())?;
    Ok(format!("humility: dump written to {written}\n"))
}

/// The file name to ask the kernel for, given what the user typed.
fn dump_name(path: &Path, dump_dir: Option<&str>) -> Result<String> {
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} names no file", path.display()))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        let same = dump_dir.is_some_and(|k| {
            let ours = std::fs::canonicalize(dir).ok();
            ours.is_some() && ours == std::fs::canonicalize(k).ok()
        });
        if !same {
            return Err(anyhow!(
                "the kernel writes dumps only in its dump directory ({}); \
                 give a file name, or start the kernel with --dump-dir",
                dump_dir.unwrap_or("unknown")
            ));
        }
    }
    Ok(file.to_owned())
}

#[cfg(test)]
mod tests;
