//! The image archive (`cargo xtask dist`'s zip): the manifest, each task's
//! ELF, the interface definitions.
//!
//! Everything humility knows about an image that is not in the running
//! system's memory comes from here, so every command starts by opening
//! one. ELFs and their debug info are loaded on first use and kept, since
//! a command such as `ringbuf` looks at every task.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, anyhow, bail};
use image_manifest::{ImageManifest, MANIFEST_PATH, TaskEntry};

use crate::dwarf::DebugInfo;
use crate::elf::Elf;

/// An opened image archive.
pub struct Archive {
    path: PathBuf,
    /// The resolved configuration the image was built from.
    pub manifest: ImageManifest,
    zip: RefCell<zip::ZipArchive<std::fs::File>>,
    elfs: RefCell<HashMap<usize, Rc<Elf>>>,
    debug: RefCell<HashMap<usize, Rc<DebugInfo>>>,
}

impl Archive {
    /// Opens an archive and reads its manifest.
    ///
    /// # Errors
    ///
    /// One line naming the file: it cannot be opened, is not a zip (or is
    /// truncated), or has no readable manifest.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| {
            anyhow!("cannot open archive {}: {e}", path.display())
        })?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| {
            anyhow!(
                "{} is not an image archive (corrupt or truncated zip: {e})",
                path.display()
            )
        })?;
        let text = read_entry(&mut zip, MANIFEST_PATH)
            .map_err(|e| {
                anyhow!("{} is not an image archive: {e}", path.display())
            })
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|_| {
                    anyhow!("{}: {MANIFEST_PATH} is not UTF-8", path.display())
                })
            })?;
        let manifest = ImageManifest::from_json(&text).map_err(|e| {
            anyhow!("{}: {MANIFEST_PATH} is malformed: {e}", path.display())
        })?;
        Ok(Self {
            path: path.to_owned(),
            manifest,
            zip: RefCell::new(zip),
            elfs: RefCell::default(),
            debug: RefCell::default(),
        })
    }

    /// Where the archive is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The manifest's image id, as the probe and dumps print it.
    pub fn image_id(&self) -> String {
        format!("{:016x}", self.manifest.image_id)
    }

    /// Reads one file of the archive.
    ///
    /// # Errors
    ///
    /// If it is missing or its data is corrupt.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        read_entry(&mut self.zip.borrow_mut(), name)
            .with_context(|| format!("archive {}", self.path.display()))
    }

    /// Names of the files in the archive.
    pub fn file_names(&self) -> Vec<String> {
        let zip = self.zip.borrow();
        zip.file_names()
            .filter_map(|n| n.ok())
            .map(Into::into)
            .collect()
    }

    /// The task called `name`.
    ///
    /// # Errors
    ///
    /// "unknown task", listing the image's tasks.
    pub fn task(&self, name: &str) -> Result<&TaskEntry> {
        self.manifest.task_by_name(name).ok_or_else(|| {
            let names: Vec<&str> = self
                .manifest
                .tasks
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            anyhow!(
                "unknown task {name:?} (this image has: {})",
                names.join(", ")
            )
        })
    }

    /// Task `index`'s manifest entry.
    ///
    /// # Errors
    ///
    /// "no task N in the image" past the last task.
    pub fn task_at(&self, index: usize) -> Result<&TaskEntry> {
        self.manifest
            .tasks
            .get(index)
            .ok_or_else(|| anyhow!("no task {index} in the image"))
    }

    /// The name of task `index`, or `task<index>` if there is none.
    pub fn task_name(&self, index: usize) -> String {
        self.manifest
            .tasks
            .get(index)
            .map_or_else(|| format!("task{index}"), |t| t.name.clone())
    }

    /// Task `index`'s linked ELF.
    ///
    /// # Errors
    ///
    /// If the index is out of range, or the ELF is missing or unreadable.
    pub fn elf(&self, index: usize) -> Result<Rc<Elf>> {
        if let Some(elf) = self.elfs.borrow().get(&index) {
            return Ok(elf.clone());
        }
        let entry = self.task_at(index)?;
        let bytes = self.read(&entry.elf)?;
        let elf =
            Rc::new(Elf::parse(bytes).with_context(|| {
                format!("task {}: {}", entry.name, entry.elf)
            })?);
        self.elfs.borrow_mut().insert(index, elf.clone());
        Ok(elf)
    }

    /// Task `index`'s debug info (statics and types).
    ///
    /// # Errors
    ///
    /// As [`Self::elf`], or if the DWARF is malformed.
    pub fn debug(&self, index: usize) -> Result<Rc<DebugInfo>> {
        if let Some(d) = self.debug.borrow().get(&index) {
            return Ok(d.clone());
        }
        let elf = self.elf(index)?;
        let info = Rc::new(DebugInfo::load(&elf).with_context(|| {
            format!("task {}: reading debug info", self.task_name(index))
        })?);
        self.debug.borrow_mut().insert(index, info.clone());
        Ok(info)
    }

    /// The interface definitions the image carries: `idl/<name>.idol` in
    /// the archive, then any other found in a task's `.idolatry` section.
    /// Each comes with the tasks serving it.
    ///
    /// # Errors
    ///
    /// If an ELF cannot be read; a definition that does not parse is an
    /// error naming it.
    pub fn interfaces(&self) -> Result<Vec<Served>> {
        let mut out: Vec<Served> = Vec::new();
        for name in self.file_names() {
            let Some(stem) = name
                .strip_prefix("idl/")
                .and_then(|n| n.strip_suffix(".idol"))
            else {
                continue;
            };
            let text = String::from_utf8(self.read(&name)?)
                .map_err(|_| anyhow!("{name} is not UTF-8"))?;
            let iface = idol::parse(&text, &name)
                .map_err(|e| anyhow!("archive {name}: {e}"))?;
            let servers = self
                .manifest
                .tasks
                .iter()
                .filter(|t| t.serves.iter().any(|s| s == stem))
                .map(|t| usize::from(t.index))
                .collect();
            out.push(Served { iface, servers });
        }
        for index in 0..self.manifest.tasks.len() {
            for text in self.elf(index)?.idol_definitions() {
                let file = format!("{}:.idolatry", self.task_name(index));
                let iface = idol::parse(&text, &file)
                    .map_err(|e| anyhow!("{file}: {e}"))?;
                let name = iface.name.to_string();
                match out.iter_mut().find(|s| s.iface.name == name) {
                    Some(s) if !s.servers.contains(&index) => {
                        s.servers.push(index)
                    }
                    Some(_) => {}
                    None => out.push(Served {
                        iface,
                        servers: vec![index],
                    }),
                }
            }
        }
        out.sort_by_key(|s| s.iface.name.to_string());
        Ok(out)
    }
}

/// An interface and the tasks that serve it.
pub struct Served {
    pub iface: idol::Interface,
    /// Task indices.
    pub servers: Vec<usize>,
}

fn read_entry(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
) -> Result<Vec<u8>> {
    let mut file = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => bail!("no {name}"),
        Err(e) => bail!("cannot read {name}: {e}"),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| anyhow!("{name} is corrupt: {e}"))?;
    Ok(bytes)
}
