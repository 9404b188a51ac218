//! Where the probe socket lives, and what makes its directory private.
//!
//! Whoever can connect to the probe can rewrite any task's memory, so the
//! socket must sit in a directory only its owner can enter:
//!
//! - `$XDG_RUNTIME_DIR` when it is set: private to its user by definition
//!   (the login manager creates it 0700);
//! - otherwise `leasehold-<uid>` in the temporary directory (`$TMPDIR`,
//!   else `/tmp`), which the kernel creates 0700 and then checks with
//!   `lstat`, because on a shared `/tmp` anyone could have made it first.
//!
//! Two kernels of the same image under the same user (and runtime
//! directory) would share a socket; the second refuses to start. Run
//! several systems side by side with one `XDG_RUNTIME_DIR` or `--probe`
//! each.

use std::path::{Path, PathBuf};

/// The socket's file name for image `image_name`.
pub fn probe_file_name(image_name: &str) -> String {
    format!("leasehold-{image_name}.sock")
}

/// The directory the default probe socket goes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeDir {
    /// `$XDG_RUNTIME_DIR`: exists already, and must be private.
    Runtime(PathBuf),
    /// `$TMPDIR/leasehold-<uid>`: the kernel creates it 0700, and it must
    /// be exactly that: ours, a directory (not a link), mode 0700.
    Fallback(PathBuf),
}

impl ProbeDir {
    /// The directory's path.
    pub fn path(&self) -> &Path {
        match self {
            Self::Runtime(p) | Self::Fallback(p) => p,
        }
    }
}

/// Where the default probe socket's directory is, from the environment.
pub fn default_probe_dir() -> ProbeDir {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => ProbeDir::Runtime(PathBuf::from(dir)),
        _ => {
            let uid = rustix::process::getuid().as_raw();
            ProbeDir::Fallback(
                std::env::temp_dir().join(format!("leasehold-{uid}")),
            )
        }
    }
}

/// The probe socket a kernel running image `image_name` listens on when not
/// told otherwise.
pub fn default_probe_path(image_name: &str) -> PathBuf {
    default_probe_dir().path().join(probe_file_name(image_name))
}

/// Why a directory is not private enough for the probe.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotPrivate {
    #[error("cannot examine it: {0}")]
    Unreadable(String),
    #[error("it is a symbolic link")]
    Symlink,
    #[error("it is not a directory")]
    NotADirectory,
    #[error("it belongs to uid {owner}, not to us (uid {us})")]
    Foreign { owner: u32, us: u32 },
    #[error("its mode is {mode:04o}; it must be 0700")]
    NotExactly0700 { mode: u32 },
    #[error("its mode is {mode:04o}; others may write in it")]
    WritableByOthers { mode: u32 },
}

/// How strict [`check_private_dir`] is about the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeRule {
    /// Exactly 0700 (a directory we created ourselves).
    Exactly0700,
    /// Nobody else may write in it (a directory someone gave us: the
    /// socket itself is 0600, so reading the directory gains nothing,
    /// but writing in it would let them replace the socket).
    NotWritableByOthers,
}

/// Checks, without following a link at `dir` itself, that `dir` is a
/// directory of ours that nobody else can change (by `rule`).
pub fn check_private_dir(dir: &Path, rule: ModeRule) -> Result<(), NotPrivate> {
    use rustix::fs::{AtFlags, CWD, FileType, statat};
    let st = statat(CWD, dir, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| NotPrivate::Unreadable(e.to_string()))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {}
        FileType::Symlink => return Err(NotPrivate::Symlink),
        _ => return Err(NotPrivate::NotADirectory),
    }
    let us = rustix::process::geteuid().as_raw();
    if st.st_uid != us {
        return Err(NotPrivate::Foreign {
            owner: st.st_uid,
            us,
        });
    }
    let mode = st.st_mode & 0o7777;
    match rule {
        ModeRule::Exactly0700 if mode != 0o700 => {
            Err(NotPrivate::NotExactly0700 { mode })
        }
        ModeRule::NotWritableByOthers if mode & 0o022 != 0 => {
            Err(NotPrivate::WritableByOthers { mode })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn default_path_names_the_image() {
        let path = default_probe_path("demo");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert_eq!(name, "leasehold-demo.sock", "{}", path.display());
    }

    fn scratch() -> PathBuf {
        let base = std::env::temp_dir().join(format!(
            "debug-protocol-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        base
    }

    #[test]
    fn only_our_own_private_directory_passes() {
        let base = scratch();
        let dir = base.join("d");
        std::fs::create_dir(&dir).unwrap();
        let set = |m| {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m))
                .unwrap()
        };
        set(0o700);
        assert_eq!(check_private_dir(&dir, ModeRule::Exactly0700), Ok(()));
        set(0o777);
        assert_eq!(
            check_private_dir(&dir, ModeRule::Exactly0700),
            Err(NotPrivate::NotExactly0700 { mode: 0o777 })
        );
        assert!(matches!(
            check_private_dir(&dir, ModeRule::NotWritableByOthers),
            Err(NotPrivate::WritableByOthers { .. })
        ));
        set(0o755);
        assert_eq!(
            check_private_dir(&dir, ModeRule::NotWritableByOthers),
            Ok(())
        );
        set(0o500);
        assert_eq!(
            check_private_dir(&dir, ModeRule::NotWritableByOthers),
            Ok(())
        );
        let link = base.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert_eq!(
            check_private_dir(&link, ModeRule::NotWritableByOthers),
            Err(NotPrivate::Symlink)
        );
        let file = base.join("file");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(
            check_private_dir(&file, ModeRule::NotWritableByOthers),
            Err(NotPrivate::NotADirectory)
        );
        assert!(matches!(
            check_private_dir(
                &base.join("missing"),
                ModeRule::NotWritableByOthers
            ),
            Err(NotPrivate::Unreadable(_))
        ));
        set(0o700);
        // Someone else's directory (we can fake one only as root, which is
        // how CI runs).
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
            assert!(matches!(
                check_private_dir(&dir, ModeRule::Exactly0700),
                Err(NotPrivate::Foreign { owner: 65534, .. })
            ));
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
