//! Writing the image archive, `target/<name>/dist/build-<name>.zip`.
//!
//! The archive is everything the hosted kernel and humility need, in one
//! file: app.toml as given, `manifest.json`, the patched task ELFs, the
//! kernel, each served interface's `.idol` text and the data blobs. We
//! write it to a temporary file and rename it into place, so a reader
//! never sees half an archive.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use app_config::{
    Config, ManifestExtras, TaskLayout, blob_archive_path, task_elf_path,
};
use image_manifest::MANIFEST_PATH;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// The archive entry holding the configuration after `inherit`.
pub const RESOLVED_APP_TOML: &str = "app-resolved.toml";

/// FNV-1a, 64 bits: the image id and the link stamps. Not cryptographic;
/// it only has to tell builds apart.
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// Everything that goes into an archive.
pub struct Contents<'a> {
    pub config: &'a Config,
    /// app.toml as given.
    pub config_text: &'a str,
    /// Linked, patched ELFs in task order.
    pub tasks: Vec<(String, Vec<u8>)>,
    /// Where each task was placed, in task order.
    pub layout: &'a [TaskLayout],
    pub kernel: Vec<u8>,
    /// Interface name to `.idol` text.
    pub idl: BTreeMap<String, String>,
    /// Task name to the interfaces it serves.
    pub serves: BTreeMap<String, Vec<String>>,
    /// See [`git_revision`].
    pub git_revision: String,
    /// For a board QEMU emulates: the image ELF it boots.
    pub image_elf: Option<Vec<u8>>,
}

impl Contents<'_> {
    /// Hash of every task ELF and the configuration.
    pub fn image_id(&self) -> u64 {
        let mut hash = Fnv::new();
        for (name, elf) in &self.tasks {
            hash.write(name.as_bytes());
            hash.write(&(elf.len() as u64).to_le_bytes());
            hash.write(elf);
        }
        hash.write(self.config_text.as_bytes());
        // The bases an app.toml inherits from count too.
        hash.write(self.config.resolved_toml().as_bytes());
        hash.finish()
    }

    /// The manifest the archive will hold.
    pub fn manifest(&self) -> image_manifest::ImageManifest {
        let extras = ManifestExtras {
            git_revision: self.git_revision.clone(),
            image_id: self.image_id(),
            fallback_version: env!("CARGO_PKG_VERSION").to_owned(),
            elf_paths: BTreeMap::new(),
            serves: self.serves.clone(),
            blob_sizes: BTreeMap::new(),
        };
        self.config.to_manifest(self.layout, extras)
    }

    /// Writes the archive to `path` (via a temporary file beside it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let tmp = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)
            .with_context(|| {
                format!("cannot create a file in {}", dir.display())
            })?;
        let mut zip = zip::ZipWriter::new(tmp);
        self.write_entries(&mut zip)?;
        let tmp = zip
            .finish()
            .with_context(|| format!("cannot write {}", path.display()))?;
        tmp.persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    fn write_entries<W: Write + std::io::Seek>(
        &self,
        zip: &mut zip::ZipWriter<W>,
    ) -> Result<()> {
        let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .unix_permissions(0o644);
            zip.start_file(name, options)
                .and_then(|()| Ok(zip.write_all(bytes)?))
                .with_context(|| format!("cannot add {name} to the archive"))
        };
        add("README.TXT", readme(self.config).as_bytes())?;
        add("app.toml", self.config_text.as_bytes())?;
        add(RESOLVED_APP_TOML, self.config.resolved_toml().as_bytes())?;
        add(MANIFEST_PATH, self.manifest().to_json().as_bytes())?;
        add("elf/kernel", &self.kernel)?;
        if let Some(image) = &self.image_elf {
            add(crate::armv7m::IMAGE_ELF_PATH, image)?;
        }
        for (name, elf) in &self.tasks {
            add(&task_elf_path(name), elf)?;
        }
        for (iface, text) in &self.idl {
            add(&format!("idl/{iface}.idol"), text.as_bytes())?;
        }
        for blob in self.config.blobs() {
            let bytes = std::fs::read(&blob.resolved).with_context(|| {
                format!(
                    "blobs.{}: cannot read {}",
                    blob.name,
                    blob.resolved.display()
                )
            })?;
            add(&blob_archive_path(&blob.name), &bytes)?;
        }
        Ok(())
    }
}

fn readme(config: &Config) -> String {
    format!(
        "Leasehold image `{name}`, built by `cargo xtask dist`.\n\
         \n\
         manifest.json  the resolved configuration the kernel boots from\n\
         app.toml       the configuration as written\n\
         app-resolved.toml  the same after `inherit`, as one file\n\
         elf/kernel     the kernel (hosted: run elf/kernel <this archive>)\n\
         img/final.elf  boards QEMU emulates: the whole image, for -kernel\n\
         elf/task/*     each task, linked and with its task slots patched\n\
         idl/*.idol     the interfaces the tasks serve\n\
         blob/*         data files named in app.toml [blobs]\n",
        name = config.name()
    )
}

/// `git rev-parse HEAD`, plus `-dirty` for uncommitted changes; `unknown`
/// outside a git checkout.
pub fn git_revision(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(rev) = git(&["rev-parse", "HEAD"]) else {
        return "unknown".to_owned();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if s.is_empty() => rev,
        _ => format!("{rev}-dirty"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        let hash = |s: &str| {
            let mut h = Fnv::new();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }
}
