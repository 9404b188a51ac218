//! The validated configuration and the ways to get one.
//!
//! A [`Config`] can only be built by [`Config::parse`] or [`Config::load`],
//! which run every check, so holding one means app.toml was valid. Its
//! parts have public fields for easy reading but are `#[non_exhaustive]`
//! and only ever handed out by shared reference, so no one outside this
//! crate can make or change one.

use std::path::{Path, PathBuf};

use abi::Kipcnum;

use crate::board::Board;
use crate::error::{ConfigError, Reporter};
use crate::inherit::{Provenance, Source};
use crate::layout::{MemoryMap, TaskLayout, TaskUsage};

/// A checked app.toml, with names resolved to indices. Where each task
/// goes is decided once the build has measured it ([`Config::place`]).
#[derive(Clone, Debug)]
pub struct Config {
    /// Which file each key came from (several with `inherit`).
    pub(crate) provenance: Provenance,
    /// The merged document, as `cargo xtask print` shows it.
    pub(crate) resolved: toml::Table,
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) board: String,
    pub(crate) kernel: Kernel,
    pub(crate) tasks: Vec<Task>,
    pub(crate) peripherals: Vec<Peripheral>,
    pub(crate) blobs: Vec<Blob>,
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
    /// `max-sizes.flash`: the most flash the task may use, in bytes.
    pub max_flash: Option<u32>,
    /// `max-sizes.ram`: the most RAM (stack, data, bss) it may use.
    pub max_ram: Option<u32>,
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
    /// `allowed-callers`: who may call this task's idol interfaces, in
    /// app.toml order. Interfaces not named are open to every task with
    /// this one in its `task-slots`.
    pub allowed_callers: Vec<AllowedCallers>,
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

/// The callers one idol interface of a task accepts
/// (`allowed-callers.<interface>`), with task names resolved to indices.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllowedCallers {
    /// The interface's name, as in its `.idol` file (`Jefe`).
    pub interface: String,
    /// What is restricted.
    pub scope: CallerScope,
}

/// Which ops of an interface an [`AllowedCallers`] entry restricts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerScope {
    /// Every op, to these task indices (`Iface = ["a", "b"]`).
    Interface(Vec<usize>),
    /// The ops named, each to its task indices (`Iface = { op = [...] }`);
    /// ops not named are open.
    Ops(Vec<(String, Vec<usize>)>),
}

impl AllowedCallers {
    /// The task indices allowed to call `op`, or `None` if it is open.
    pub fn for_op(&self, op: &str) -> Option<&[usize]> {
        match &self.scope {
            CallerScope::Interface(tasks) => Some(tasks),
            CallerScope::Ops(ops) => ops
                .iter()
                .find(|(name, _)| name == op)
                .map(|(_, tasks)| tasks.as_slice()),
        }
    }

    /// The op names this entry names (none for a whole-interface entry).
    pub fn op_names(&self) -> impl Iterator<Item = &str> {
        let ops = match &self.scope {
            CallerScope::Interface(_) => &[][..],
            CallerScope::Ops(ops) => ops.as_slice(),
        };
        ops.iter().map(|(name, _)| name.as_str())
    }
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

/// The files `path` is made of: itself, then each base its `inherit`
/// chain names, as far as they can be read. For build scripts, which must
/// tell cargo to watch all of them.
pub fn inherit_chain(path: impl AsRef<Path>) -> Vec<PathBuf> {
    let path = path.as_ref();
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![path.to_owned()];
    };
    let top = Source {
        name: path.display().to_string(),
        path: path.to_owned(),
        text,
    };
    match crate::inherit::read_chain(top) {
        Ok(chain) => chain.into_iter().map(|s| s.path).collect(),
        Err(_) => vec![path.to_owned()],
    }
}

impl Config {
    /// Reads, parses and checks app.toml (and the files it inherits
    /// from), and checks that every blob it names is a readable file
    /// (relative to the directory of the file that names it).
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
    /// in errors and is where relative paths start: blob paths, and the
    /// base file an `inherit` key names, which *is* read. Blob files are
    /// not checked: that is [`Config::load`]'s business.
    ///
    /// # Errors
    ///
    /// `Parse` for bad TOML or a schema mismatch, `Invalid` for a broken
    /// rule or an unreadable or cyclic `inherit`; each renders as one line
    /// naming the file the offending key came from, and the key.
    pub fn parse(
        text: &str,
        path_for_messages: impl AsRef<Path>,
    ) -> Result<Config, ConfigError> {
        let path = path_for_messages.as_ref();
        let top = Source {
            name: path.display().to_string(),
            path: path.to_owned(),
            text: text.to_owned(),
        };
        let parsed = crate::parse::parse_chain(top)?;
        crate::validate::validate(
            parsed.raw,
            parsed.provenance,
            parsed.resolved,
        )
    }

    /// Fills in each blob's size, or reports the first that is missing.
    fn check_blob_files(&mut self) -> Result<(), ConfigError> {
        let report = Reporter {
            provenance: &self.provenance,
        };
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

    /// The name of the file given, as messages use it.
    pub fn file(&self) -> &str {
        self.provenance.top_file()
    }

    /// The file the value of a dotted `key` came from (one of the files
    /// of an `inherit` chain), for messages about it.
    pub fn file_of(&self, key: &str) -> &str {
        self.provenance.file_of(key)
    }

    /// Every file the configuration was read from, the given one first
    /// and then its bases: what a build must watch for changes.
    pub fn source_files(&self) -> &[PathBuf] {
        self.provenance.paths()
    }

    /// The configuration after `inherit` is resolved, as TOML: one
    /// self-contained app.toml with no `inherit` or `remove-*` keys.
    pub fn resolved_toml(&self) -> String {
        toml::to_string(&self.resolved).unwrap_or_default()
    }

    /// app.toml `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// app.toml `version`, if given.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// app.toml `board`.
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

    /// The board this image is for (validation checked it exists).
    pub fn board_info(&self) -> &'static Board {
        crate::board::board(&self.board).unwrap_or(&crate::board::BOARDS[0])
    }

    /// Places every task, given what each uses (in task order), under
    /// the board's placement policy.
    ///
    /// # Errors
    ///
    /// One line naming the task and the app.toml key when a task uses
    /// more than its `max-sizes` cap (the task, the memory and both
    /// numbers), or when a region cannot be placed in the board's area
    /// under its rule.
    pub fn place(
        &self,
        usage: &[TaskUsage],
    ) -> Result<Vec<TaskLayout>, ConfigError> {
        let r = Reporter {
            provenance: &self.provenance,
        };
        crate::rules::place(r, &self.board_info().memory, &self.tasks, usage)
    }

    /// As [`Config::place`], but under another memory map: for tools and
    /// tests that check a layout against another board's policy.
    ///
    /// # Errors
    ///
    /// As [`Config::place`].
    pub fn place_in(
        &self,
        map: &MemoryMap,
        usage: &[TaskUsage],
    ) -> Result<Vec<TaskLayout>, ConfigError> {
        let r = Reporter {
            provenance: &self.provenance,
        };
        crate::rules::place(r, map, &self.tasks, usage)
    }
}
