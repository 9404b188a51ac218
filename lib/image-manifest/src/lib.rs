//! The manifest of a built image (`manifest.json` in the archive).
//!
//! xtask writes it after checking app.toml and linking every task; the
//! hosted kernel boots from it and humility reads it. It holds only
//! resolved facts (indices, addresses, masks), never names to look up, so
//! that the kernel does no configuration checking of its own: a manifest
//! that exists was already validated.

use serde::{Deserialize, Serialize};

/// Is `name` acceptable as an image name? It becomes part of the probe
/// socket's and every dump's file name, so it must be one plain path
/// component: letters, digits, `-` and `_`, at most 64, starting with a
/// letter or digit. (`../x` would move the socket and the dumps.)
pub fn is_image_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(ok)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// File name of the manifest inside an image archive.
pub const MANIFEST_PATH: &str = "manifest.json";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageManifest {
    /// app.toml `name`.
    pub name: String,
    /// app.toml `version`, or the workspace version.
    pub version: String,
    /// `git rev-parse HEAD` at build time, with `-dirty` if applicable.
    pub git_revision: String,
    /// Always `hosted` for now.
    pub board: String,
    /// A hash of every task ELF and the configuration; the kernel reports
    /// it (kipc `read_image_id`, the debug probe) so tools can tell whether
    /// an archive matches a running system.
    pub image_id: u64,
    pub kernel: KernelConfig,
    /// In task-index order; index 0 is the supervisor.
    pub tasks: Vec<TaskEntry>,
    pub peripherals: Vec<PeripheralEntry>,
    pub blobs: Vec<BlobEntry>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KernelConfig {
    /// Write a dump file whenever a task faults.
    #[serde(default)]
    pub dump_on_fault: bool,
    /// Extra kernel features from app.toml `[kernel] features`.
    #[serde(default)]
    pub features: Vec<String>,
}

/// An address range `[base, base + size)`.
#[derive(Copy, Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub base: u32,
    pub size: u32,
}

/// The notification a task names `timer` is the one its timer posts, by
/// the convention every Leasehold (and Hubris) task follows; the kernel
/// keeps it, like every bit it posts itself, away from other tasks' POST.
pub const TIMER_NOTIFICATION_NAME: &str = "timer";

impl TaskEntry {
    /// The notification bits only the kernel may post to this task: its
    /// routed IRQs, its `timer` notification, userlib's internal timer
    /// bit, and for the supervisor (task 0) the fault bit.
    pub fn kernel_notifications(&self) -> u32 {
        let irqs = self.interrupts.iter().fold(0, |mask, i| mask | i.mask);
        let timer = self
            .notifications
            .iter()
            .position(|n| n == TIMER_NOTIFICATION_NAME)
            .and_then(|bit| 1u32.checked_shl(u32::try_from(bit).ok()?))
            .unwrap_or(0);
        let fault = if self.index == 0 {
            abi::FAULT_NOTIFICATION
        } else {
            0
        };
        irqs | timer | fault | abi::INTERNAL_TIMER_NOTIFICATION
    }
}

impl Region {
    pub fn end(&self) -> u64 {
        self.base as u64 + self.size as u64
    }

    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.base as u64
            && addr.checked_add(len).is_some_and(|e| e <= self.end())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskEntry {
    /// The task's name (its key under `[tasks]`).
    pub name: String,
    /// The crate it is built from.
    pub crate_name: String,
    pub index: u16,
    /// 0 is the most important.
    pub priority: u8,
    /// Run at boot.
    pub start: bool,
    /// Text and read-only data.
    pub flash: Region,
    /// Stack (at the bottom), data and bss; the guard page sits below.
    pub ram: Region,
    /// The stack, a prefix of `ram`.
    pub stack: Region,
    /// Path of the linked ELF inside the archive (`elf/task/<name>`).
    pub elf: String,
    /// `(slot name, callee task index)` as patched into the ELF.
    pub task_slots: Vec<TaskSlot>,
    /// Indices of the further tasks (beyond `task_slots`) this task may
    /// POST to: app.toml's `post-to`.
    #[serde(default)]
    pub post_to: Vec<u16>,
    /// Indices into `peripherals` this task may access.
    pub uses: Vec<u16>,
    /// Notification names; bit `i` is entry `i`.
    pub notifications: Vec<String>,
    /// IRQs routed to this task.
    pub interrupts: Vec<InterruptRoute>,
    /// kipc names granted beyond the unprivileged ones.
    pub kipc: Vec<String>,
    pub features: Vec<String>,
    /// The task's `config` table, as JSON.
    #[serde(default)]
    pub config: serde_json::Value,
    /// Names of the IDL interfaces this task serves (archive `idl/<name>`).
    #[serde(default)]
    pub serves: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskSlot {
    pub name: String,
    pub task: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InterruptRoute {
    /// `"<peripheral>.<irq>"`, e.g. `"spi1.irq"`.
    pub irq: String,
    /// Index into `ImageManifest::peripherals`.
    pub peripheral: u16,
    /// The IRQ's name within the peripheral (`"irq"` above).
    pub line: String,
    /// The notification bit mask it posts.
    pub mask: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeripheralEntry {
    pub name: String,
    /// Device model name, e.g. `"spi-controller"`, `"gpio"`, `"ice40"`.
    pub model: String,
    /// Task that may revoke and restore grants to this peripheral (the
    /// supervisor always may).
    pub managed_by: Option<u16>,
    /// Model-specific settings (wiring, device variant), as JSON.
    #[serde(default)]
    pub config: serde_json::Value,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlobEntry {
    pub name: String,
    /// Path inside the archive (`blob/<name>`).
    pub path: String,
    pub size: u64,
}

impl ImageManifest {
    pub fn to_json(&self) -> String {
        // A manifest is plain data; serialising it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn task_by_name(&self, name: &str) -> Option<&TaskEntry> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_contains_checks_both_ends_without_overflow() {
        let r = Region {
            base: 0x1000,
            size: 0x100,
        };
        assert!(r.contains(0x1000, 0x100));
        assert!(!r.contains(0x1000, 0x101));
        assert!(!r.contains(0xFFF, 1));
        assert!(!r.contains(u64::MAX, 2));
    }

    #[test]
    fn image_names_are_one_plain_path_component() {
        for good in ["leasehold-demo", "kernel-tests", "a", "x_1", "7up"] {
            assert!(is_image_name(good), "{good}");
        }
        let long = "x".repeat(65);
        for bad in [
            "", "../x", "a/b", ".hidden", "-rf", "_x", "a b", "ä", "a.b",
            "a\n", &long,
        ] {
            assert!(!is_image_name(bad), "{bad:?}");
        }
    }
}
