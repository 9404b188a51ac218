//! [`Config`] to [`ImageManifest`]: the resolved facts the kernel boots
//! from.
//!
//! The manifest also needs facts app.toml cannot know (the git revision,
//! the image hash, where the ELFs went, what each task serves); xtask
//! learns those while building and passes them in [`ManifestExtras`].

use std::collections::BTreeMap;

use image_manifest::{
    BlobEntry, ImageManifest, InterruptRoute, KernelConfig, PeripheralEntry,
    TaskEntry, TaskSlot,
};

use crate::config::{Config, Task};
use crate::layout::TaskLayout;

/// What the build adds to app.toml to make a manifest.
///
/// Maps are keyed by task or blob name. A name that matches nothing is
/// ignored: the config, not the build, decides what the image holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestExtras {
    /// `git rev-parse HEAD`, with `-dirty` if applicable.
    pub git_revision: String,
    /// Hash of every task ELF and the configuration.
    pub image_id: u64,
    /// Recorded when app.toml has no `version` (the workspace version).
    pub fallback_version: String,
    /// Task name to its ELF's path in the archive; absent means the
    /// conventional [`task_elf_path`].
    pub elf_paths: BTreeMap<String, String>,
    /// Task name to the IDL interfaces it serves (archive `idl/<name>`).
    pub serves: BTreeMap<String, Vec<String>>,
    /// Blob name to its size in the archive; absent means the size found
    /// by [`Config::load`], or 0 if the config was only parsed.
    pub blob_sizes: BTreeMap<String, u64>,
}

/// Where a task's ELF goes in the archive unless told otherwise.
pub fn task_elf_path(task: &str) -> String {
    format!("elf/task/{task}")
}

/// Where a blob goes in the archive.
pub fn blob_archive_path(blob: &str) -> String {
    format!("blob/{blob}")
}

/// Validation bounds task and peripheral counts well below `u16::MAX`, so
/// the fallback is never taken; it only keeps this free of `as` casts.
fn index16(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

impl Config {
    /// Builds the manifest for this configuration with each task at its
    /// `layout` entry (from [`Config::place`]). Infallible: every index in
    /// it was checked when the config was made, every address when the
    /// layout was.
    pub fn to_manifest(
        &self,
        layout: &[TaskLayout],
        extras: ManifestExtras,
    ) -> ImageManifest {
        let tasks = self
            .tasks
            .iter()
            .map(|t| {
                let place = layout.get(t.index).copied().unwrap_or_default();
                self.task_entry(t, place, &extras)
            })
            .collect();
        ImageManifest {
            name: self.name.clone(),
            version: self.version.clone().unwrap_or(extras.fallback_version),
            git_revision: extras.git_revision,
            board: self.board.clone(),
            image_id: extras.image_id,
            kernel: KernelConfig {
                dump_on_fault: self.kernel.dump_on_fault,
                features: self.kernel.features.clone(),
            },
            tasks,
            peripherals: self
                .peripherals
                .iter()
                .map(|p| PeripheralEntry {
                    name: p.name.clone(),
                    model: p.model.clone(),
                    managed_by: p.managed_by.map(index16),
                    config: p.config.clone(),
                })
                .collect(),
            blobs: self
                .blobs
                .iter()
                .map(|b| BlobEntry {
                    name: b.name.clone(),
                    path: blob_archive_path(&b.name),
                    size: extras
                        .blob_sizes
                        .get(&b.name)
                        .copied()
                        .or(b.size)
                        .unwrap_or(0),
                })
                .collect(),
        }
    }

    fn task_entry(
        &self,
        t: &Task,
        layout: TaskLayout,
        extras: &ManifestExtras,
    ) -> TaskEntry {
        TaskEntry {
            name: t.name.clone(),
            crate_name: t.crate_name.clone(),
            index: index16(t.index),
            priority: t.priority,
            start: t.start,
            flash: layout.flash,
            ram: layout.ram,
            stack: layout.stack,
            elf: extras
                .elf_paths
                .get(&t.name)
                .cloned()
                .unwrap_or_else(|| task_elf_path(&t.name)),
            task_slots: t
                .task_slots
                .iter()
                .map(|s| TaskSlot {
                    name: s.name.clone(),
                    task: index16(s.task),
                })
                .collect(),
            uses: t.uses.iter().copied().map(index16).collect(),
            notifications: t.notifications.clone(),
            interrupts: t
                .interrupts
                .iter()
                .map(|i| {
                    let periph = self
                        .peripherals
                        .get(i.peripheral)
                        .map_or("", |p| p.name.as_str());
                    InterruptRoute {
                        irq: format!("{periph}.{}", i.line),
                        peripheral: index16(i.peripheral),
                        line: i.line.clone(),
                        mask: i.mask(),
                    }
                })
                .collect(),
            kipc: t.kipc.iter().map(|k| k.grant_name().to_owned()).collect(),
            features: t.features.clone(),
            config: t.config.clone(),
            serves: extras.serves.get(&t.name).cloned().unwrap_or_default(),
        }
    }
}
