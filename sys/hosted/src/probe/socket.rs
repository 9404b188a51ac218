//! Where the probe listens: a socket in a directory only we can enter.
//!
//! The default directory comes from [`debug_protocol::path`]; an explicit
//! `--probe` path's directory must be ours and not writable by others. Anything
//! that is not right is a one-line error naming the path, before any
//! task starts: the kernel refuses to run with a probe someone else could
//! reach, and never removes anything but a dead socket of its own.

use anyhow::{Result, anyhow, bail};
use debug_protocol::path::{ModeRule, ProbeDir, check_private_dir};
use rustix::fs::{AtFlags, CWD, FileType, Mode, statat};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Where the socket goes, and how its directory is vouched for.
pub enum Location {
    /// The default: `$XDG_RUNTIME_DIR` or our own `leasehold-<uid>`.
    Default { dir: ProbeDir, file: String },
    /// `--probe <path>`: its directory must be ours and closed to
    /// others' writes.
    Explicit(PathBuf),
}

impl Location {
    pub fn path(&self) -> PathBuf {
        match self {
            Self::Default { dir, file } => dir.path().join(file),
            Self::Explicit(p) => p.clone(),
        }
    }
}

/// Makes sure the directory is private (creating our fallback directory
/// 0700 if need be), clears a dead socket of ours, and listens.
pub fn listen(location: &Location) -> Result<(UnixListener, PathBuf)> {
    let path = location.path();
    match location {
        Location::Default {
            dir: ProbeDir::Fallback(dir),
            ..
        } => {
            create_private_dir(dir)?;
            vouch(dir, ModeRule::Exactly0700)?;
        }
        Location::Default {
            dir: ProbeDir::Runtime(dir),
            ..
        } => vouch(dir, ModeRule::NotWritableByOthers)?,
        Location::Explicit(p) => {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => PathBuf::from("."),
            };
            vouch(&dir, ModeRule::NotWritableByOthers)?;
        }
    }
    clear_dead_socket(&path)?;
    let listener = UnixListener::bind(&path)
        .map_err(|e| anyhow!("probe socket {}: {e}", path.display()))?;
    rustix::fs::chmod(&path, Mode::from_raw_mode(0o600))
        .map_err(|e| anyhow!("probe socket {}: chmod: {e}", path.display()))?;
    listener.set_nonblocking(true)?;
    Ok((listener, path))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    match rustix::fs::mkdir(dir, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => {
            bail!("probe directory {}: cannot create it: {e}", dir.display())
        }
    }
}

fn vouch(dir: &Path, rule: ModeRule) -> Result<()> {
    check_private_dir(dir, rule).map_err(|why| {
        anyhow!(
            "probe directory {} is not private: {why} (fix or remove it, \
             or set XDG_RUNTIME_DIR or --probe)",
            dir.display()
        )
    })
}

/// A socket left by a kernel that died is removed; a live kernel's
/// socket, or anything that is not a socket, is an error.
fn clear_dead_socket(path: &Path) -> Result<()> {
    let st = match statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => bail!("probe socket {}: {e}", path.display()),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Socket {
        bail!(
            "probe socket {} exists and is not a socket; refusing to \
             replace it",
            path.display()
        );
    }
    if UnixStream::connect(path).is_ok() {
        bail!(
            "another kernel is already listening on {} (stop it, or give \
             this one its own XDG_RUNTIME_DIR or --probe)",
            path.display()
        );
    }
    std::fs::remove_file(path).map_err(|e| {
        anyhow!(
            "probe socket {}: cannot remove the dead one: {e}",
            path.display()
        )
    })
}
