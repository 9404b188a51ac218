//! What the hosted kernel's debug probe and its clients agree on.
//!
//! The kernel (`sys/hosted`) serves the probe and humility (`build/humility`)
//! talks to it; anything both sides must spell the same way lives here, once,
//! so that the two cannot drift apart.

use std::path::PathBuf;

/// The probe socket a kernel running image `image_name` listens on when not
/// told otherwise.
///
/// `$XDG_RUNTIME_DIR` is private to its user by definition (the login
/// manager creates it 0700), so when it is set we use it. Otherwise we fall
/// back to a per-user directory under `/tmp`, which the kernel must create
/// and check itself. Two kernels of the same image under the same user (and
/// runtime directory) would share a socket; a developer running several
/// systems at once gives each its own `XDG_RUNTIME_DIR` or `--probe`.
pub fn default_probe_path(image_name: &str) -> PathBuf {
    let file = format!("leasehold-{image_name}.sock");
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(file),
        _ => {
            let uid = rustix::process::getuid().as_raw();
            PathBuf::from(format!("/tmp/leasehold-{uid}/{image_name}.sock"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_names_the_image() {
        let path = default_probe_path("demo");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(name.ends_with("demo.sock"), "{}", path.display());
    }
}
