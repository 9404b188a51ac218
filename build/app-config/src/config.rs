//! The validated configuration and the ways to get one.
//!
//! A [`Config`] can only be built by [`Config::parse`] or [`Config::load`],
//! which run every check, so holding one means app.toml was valid. Its
//! parts have public fields for easy reading but are `#[non_exhaustive]`
//! and only ever handed out by shared reference, so no one outside this
//! crate can make or change one.

use std::path::{Path, PathBuf};

use abi::Kipcnum;

use crate::error::{ConfigError, Reporter};
use crate::layout::TaskLayout;

/// A checked app.toml, with names resolved to indices and the memory
/// layout computed.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) file: String,
    pub(crate) base_dir: PathBuf,
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) board: String,
    pub(crate) kernel: Kernel,
    pub(crate) tasks: Vec<Task>,
    pub(crate) peripherals: Vec<Peripheral>,
    pub(crate) blobs: Vec<Blob>,
    pub(crate) layout: Vec<TaskLayout>,
}

/// `[kernel]`.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Kernel {
    /// Crate to build the kernel from, if not the default.
    pub crate_name: Option<String>,
    /// Cargo features for the kernel build.
    pub features: Vec<String>,
    /// Write a dump file whenever a task faults, so a test that provokes
    /// one can inspect it afterwards.
    pub dump_on_fault: bool,
}

/// One task, with every name it mentions resolved.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Task {
    /// Its key under `[tasks]`.
    pub name: String,
    /// The crate it is built from (app.toml `name`).
    pub crate_name: String,
    /// Position in the file; index 0 is the supervisor.
    pub index: usize,
    /// 0 is the most important.
    pub priority: u8,
    /// Run at boot; otherwise the supervisor starts it on demand.
    pub start: bool,
    /// In bytes, as written (the layout rounds it up).
    pub stacksize: u32,
    /// `max-sizes.flash`, in bytes.
    pub max_flash: u32,
    /// `max-sizes.ram`, in bytes.
    pub max_ram: u32,
    /// Indices into [`Config::peripherals`].
    pub uses: Vec<usize>,
    /// Bit `i` is entry `i`.
    pub notifications: Vec<String>,
    /// IRQs this task receives, in app.toml order.
    pub interrupts: Vec<Interrupt>,
    /// The tasks this task may send to, in app.toml order (the order of
    /// the ELF's slot table).
    pub task_slots: Vec<Slot>,
    /// Indices of the further tasks this task may POST to (`post-to`),
    /// in app.toml order.
    pub post_to: Vec<usize>,
    /// The `config` table as JSON, `Null` when absent.
    pub config: serde_json::Value,
    /// Cargo features for this task's build.
    pub features: Vec<String>,
    /// Privileged kernel calls granted, in app.toml order.
    pub kipc: Vec<Kipcnum>,
    /// Names of the blobs linked into this task's flash.
    pub blobs: Vec<String>,
}

impl Task {
    /// The bit mask of the named notification, for generated constants.
    pub fn notification_mask(&self, name: &str) -> Option<u32> {
        let i = self.notifications.iter().position(|n| n == name)?;
        Some(1 << i)
    }
}

/// An IRQ routed to a task's notification.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interrupt {
    /// Index into [`Config::peripherals`].
    pub peripheral: usize,
    /// The IRQ's name within the peripheral's `irqs`.
    pub line: String,
    /// Index into the task's `notifications`.
    pub notification: usize,
}

impl Interrupt {
    /// The notification bits the kernel posts when the IRQ fires.
    pub fn mask(&self) -> u32 {
        1 << self.notification
    }
}

/// A task slot: the name the code uses (`task_slot!(PEER, peer)`) and the
/// task it is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Slot {
    /// The name the task's code uses; unique within the task.
    pub name: String,
    /// Index into [`Config::tasks`].
    pub task: usize,
}

/// A simulated device.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Peripheral {
    /// Its key under `[peripherals]`.
    pub name: String,
    /// Position in the file.
    pub index: usize,
    /// Device model the hosted kernel instantiates (`spi-controller`).
    pub model: String,
    /// Index of the task that may revoke and restore grants to it.
    pub managed_by: Option<usize>,
    /// IRQ line names the model raises.
    pub irqs: Vec<String>,
    /// The `config` table as JSON, `Null` when absent.
    pub config: serde_json::Value,
}

/// A data file shipped in the image archive.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Blob {
    /// Its key under `[blobs]`.
    pub name: String,
    /// The path as written in app.toml.
    pub path: String,
    /// `path` joined to the directory holding app.toml.
    pub resolved: PathBuf,
    /// Size on disk, known only when the config was loaded from a file.
    pub size: Option<u64>,
}

impl Config {
    /// Reads, parses and checks app.toml, and checks that every blob it
    /// names is a readable file (relative to the file's directory).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] if the file cannot be read, otherwise as
    /// [`Config::parse`], plus an `Invalid` error for a missing blob.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| {
            ConfigError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
        let mut config = Self::parse(&text, path)?;
        config.check_blob_files()?;
        Ok(config)
    }

    /// Parses and checks app.toml text. `path_for_messages` names the file
    /// in errors and is the base for blob paths, but is not read, and blob
    /// files are not checked: that is [`Config::load`]'s business.
    ///
    /// # Errors
    ///
    /// `Parse` for bad TOML or a schema mismatch, `Invalid` for a broken
    /// rule; each renders as one line naming the file and the key.
    pub fn parse(
        text: &str,
        path_for_messages: impl AsRef<Path>,
    ) -> Result<Config, ConfigError> {
        let path = path_for_messages.as_ref();
        let file = path.display().to_string();
        let raw = crate::parse::parse_raw(text, &file)?;
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        crate::validate::validate(raw, file, base_dir)
    }

    /// Fills in each blob's size, or reports the first that is missing.
    fn check_blob_files(&mut self) -> Result<(), ConfigError> {
        let report = Reporter { file: &self.file };
        for blob in &mut self.blobs {
            let meta = std::fs::metadata(&blob.resolved).map_err(|e| {
                report.error(
                    format!("blobs.{}", blob.name),
                    format!("cannot read {}: {e}", blob.resolved.display()),
                )
            })?;
            if !meta.is_file() {
                return Err(report.error(
                    format!("blobs.{}", blob.name),
                    format!("{} is not a file", blob.resolved.display()),
                ));
            }
            blob.size = Some(meta.len());
        }
        Ok(())
    }

    /// The file name used in messages.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The directory blob paths are relative to.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// app.toml `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// app.toml `version`, if given.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// app.toml `board` (always `hosted` for now).
    pub fn board(&self) -> &str {
        &self.board
    }

    /// `[kernel]`, with defaults filled in.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// All tasks in index order; never empty.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Task 0. Validation guarantees it exists.
    pub fn supervisor(&self) -> Option<&Task> {
        self.tasks.first()
    }

    /// The task with this index, if there is one.
    pub fn task(&self, index: usize) -> Option<&Task> {
        self.tasks.get(index)
    }

    /// The task with this name (its key under `[tasks]`).
    pub fn task_by_name(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// All peripherals in index order.
    pub fn peripherals(&self) -> &[Peripheral] {
        &self.peripherals
    }

    /// The peripheral with this name (its key under `[peripherals]`).
    pub fn peripheral_by_name(&self, name: &str) -> Option<&Peripheral> {
        self.peripherals.iter().find(|p| p.name == name)
    }

    /// All blobs in file order.
    pub fn blobs(&self) -> &[Blob] {
        &self.blobs
    }

    /// Every task's regions, in task order (`layout()[i]` is task `i`'s).
    pub fn layout(&self) -> &[TaskLayout] {
        &self.layout
    }

    /// One task's regions.
    pub fn task_layout(&self, index: usize) -> Option<&TaskLayout> {
        self.layout.get(index)
    }
}
