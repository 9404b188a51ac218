//! What app.toml says, exactly as written: the serde schema.
//!
//! These types only give the file its shape (names, types, required keys,
//! no unknown keys). They check nothing that involves two keys; that is
//! `validate`'s job, which turns a [`RawConfig`] into a [`crate::Config`].
//! Keeping the two apart, as Hubris's xtask does, means no code outside
//! this crate ever sees a name that has not been resolved.
//!
//! Tables are [`IndexMap`]s because the order of `[tasks.*]` in the file
//! *is* the task index, and the order of `[peripherals.*]` the peripheral
//! index. That also needs toml's `preserve_order` feature: without it the
//! parser hands entries over sorted by key, whatever we collect them into.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Name of the image (archive name, humility banner).
    pub name: String,
    /// Image version; the workspace version is used when absent.
    #[serde(default)]
    pub version: Option<String>,
    /// Board to build for; only `hosted` exists so far.
    pub board: String,
    /// Default task stack in bytes, for tasks that give none.
    #[serde(default)]
    pub stacksize: Option<u32>,
    /// Kernel build settings.
    #[serde(default)]
    pub kernel: RawKernel,
    /// Tasks in index order; the key is the task name.
    #[serde(default)]
    pub tasks: IndexMap<String, RawTask>,
    /// Simulated devices in index order; the key is the peripheral name.
    #[serde(default)]
    pub peripherals: IndexMap<String, RawPeripheral>,
    /// Data files shipped in the archive: name to path, relative to the
    /// directory holding app.toml.
    #[serde(default)]
    pub blobs: IndexMap<String, String>,
}

/// `[kernel]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawKernel {
    /// Crate the kernel is built from, when not the default.
    #[serde(default)]
    pub name: Option<String>,
    /// Cargo features for the kernel build.
    #[serde(default)]
    pub features: Vec<String>,
    /// Write a dump file whenever a task faults.
    #[serde(default)]
    pub dump_on_fault: bool,
}

/// `[tasks.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawTask {
    /// Crate the task is built from; several tasks may share one.
    pub name: String,
    /// 0 is the most important; only the supervisor has it.
    pub priority: u8,
    /// Run at boot. Defaults to false, as in Hubris, so that a task the
    /// supervisor starts on demand is the explicit choice.
    #[serde(default)]
    pub start: bool,
    /// Stack in bytes; the top-level `stacksize` when absent.
    #[serde(default)]
    pub stacksize: Option<u32>,
    /// Caps on what the task may use; the build measures the task and
    /// sizes its regions itself, so both are optional.
    #[serde(default)]
    pub max_sizes: RawMaxSizes,
    /// Peripherals this task may access (its hardware capabilities).
    #[serde(default)]
    pub uses: Vec<String>,
    /// Notification names; bit `i` is entry `i`.
    #[serde(default)]
    pub notifications: Vec<String>,
    /// `"<peripheral>.<irq>" = "<notification>"`.
    #[serde(default)]
    pub interrupts: IndexMap<String, String>,
    /// Tasks this task may send to, by slot name.
    #[serde(default)]
    pub task_slots: Vec<RawTaskSlot>,
    /// Further tasks this task may POST notifications to, by task name
    /// (its task-slots may always be posted to). POST is a capability, as
    /// SEND is: the kernel refuses a post to any other task.
    #[serde(default)]
    pub post_to: Vec<String>,
    /// The tasks allowed to call this task's idol interfaces: interface
    /// name to a list of task names (the whole interface) or to a table of
    /// op name to task names (those ops; other ops stay open). The
    /// generated server refuses every other caller before dispatch.
    #[serde(default)]
    pub allowed_callers: IndexMap<String, RawAllowedCallers>,
    /// Task-specific settings, read by the task's build script.
    #[serde(default)]
    pub config: Option<toml::Table>,
    /// Cargo features for this task's build.
    #[serde(default)]
    pub features: Vec<String>,
    /// Privileged kernel calls granted to this task (grant names from
    /// `abi::Kipcnum::grant_name`).
    #[serde(default)]
    pub kipc: Vec<String>,
    /// Blobs (from `[blobs]`) linked into this task's flash, where
    /// `userlib::blob!` finds them.
    #[serde(default)]
    pub blobs: Vec<String>,
}

/// `max-sizes = {flash = N, ram = N}`: caps in bytes, each optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawMaxSizes {
    #[serde(default)]
    pub flash: Option<u32>,
    #[serde(default)]
    pub ram: Option<u32>,
}

/// `[peripherals.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawPeripheral {
    /// Device model the hosted kernel instantiates.
    pub model: String,
    /// Task that may revoke and restore grants to this peripheral.
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Names of the IRQ lines the model raises.
    #[serde(default)]
    pub irqs: Vec<String>,
    /// Model-specific wiring and variant.
    #[serde(default)]
    pub config: Option<toml::Table>,
}

/// One `task-slots` entry: `"task"` (slot named like the task) or
/// `{slot = "task"}`.
///
/// Written by hand rather than `#[serde(untagged)]` because an untagged
/// enum's only error is "data did not match any variant", which does not
/// tell the user what a slot may look like.
#[derive(Debug)]
pub(crate) struct RawTaskSlot {
    pub slot: String,
    pub task: String,
}

impl<'de> Deserialize<'de> for RawTaskSlot {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SlotVisitor)
    }
}

struct SlotVisitor;

const SLOT_SHAPE: &str =
    "a task name or a single-entry table {slot_name = \"task\"}";

impl<'de> Visitor<'de> for SlotVisitor {
    type Value = RawTaskSlot;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(SLOT_SHAPE)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTaskSlot, E> {
        Ok(RawTaskSlot {
            slot: v.to_owned(),
            task: v.to_owned(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<RawTaskSlot, A::Error> {
        let Some((slot, task)) = map.next_entry::<String, String>()? else {
            return Err(de::Error::custom(format!(
                "empty table; a task slot is {SLOT_SHAPE}"
            )));
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format!(
                "more than one entry; a task slot is {SLOT_SHAPE}"
            )));
        }
        Ok(RawTaskSlot { slot, task })
    }
}

/// One interface's entry in `allowed-callers`: `Iface = ["task", ...]`
/// restricts every op, `Iface = { op = ["task", ...] }` the ops named.
///
/// Written by hand for the same reason as [`RawTaskSlot`]: an untagged
/// enum's error would not say what the entry may look like.
#[derive(Debug)]
pub(crate) enum RawAllowedCallers {
    Interface(Vec<String>),
    Ops(IndexMap<String, Vec<String>>),
}

impl<'de> Deserialize<'de> for RawAllowedCallers {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AllowedVisitor)
    }
}

struct AllowedVisitor;

impl<'de> Visitor<'de> for AllowedVisitor {
    type Value = RawAllowedCallers;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a list of task names (every op) or a table of op name to a \
             list of task names",
        )
    }

    fn visit_seq<A: de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<RawAllowedCallers, A::Error> {
        let mut tasks = Vec::new();
        while let Some(t) = seq.next_element::<String>()? {
            tasks.push(t);
        }
        Ok(RawAllowedCallers::Interface(tasks))
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<RawAllowedCallers, A::Error> {
        let mut ops = IndexMap::new();
        while let Some((op, tasks)) = map.next_entry::<String, Vec<String>>()? {
            ops.insert(op, tasks);
        }
        Ok(RawAllowedCallers::Ops(ops))
    }
}
