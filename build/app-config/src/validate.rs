//! [`RawConfig`] to [`Config`]: resolve every name, check every rule.
//!
//! This file resolves what one task or peripheral says on its own (its
//! names, sizes, slots, notifications, interrupts, kipc grants); `rules`
//! holds the checks that compare tasks with each other and the layout.
//! Each check returns the first error it finds, in file order, so the
//! same bad file always gives the same message.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use abi::Kipcnum;
use indexmap::IndexMap;

use crate::config::{
    AllowedCallers, Blob, CallerScope, Config, Interrupt, Kernel, Peripheral,
    Slot, Task,
};
use crate::error::{ConfigError, Reporter};
use crate::inherit::Provenance;
use crate::raw::{RawAllowedCallers, RawConfig, RawPeripheral, RawTask};
use crate::rules;

/// Bit 31 is `abi::INTERNAL_TIMER_NOTIFICATION`, so a task may name the 31
/// bits below it.
pub const MAX_NOTIFICATIONS: usize =
    abi::INTERNAL_TIMER_NOTIFICATION.trailing_zeros() as usize;

/// Task indices are the 10-bit index of a `TaskId`; the top two values are
/// taken (`TaskId::UNBOUND` marks an unpatched slot, the all-ones index is
/// the kernel's).
pub const MAX_TASKS: usize = abi::TaskId::UNBOUND.0 as usize;

/// Peripheral indices travel as `u16` in the manifest.
pub const MAX_PERIPHERALS: usize = u16::MAX as usize;

/// Reserved, as in Hubris: humility and the archive use it for the kernel.
const RESERVED_TASK_NAME: &str = "kernel";

pub(crate) fn validate(
    raw: RawConfig,
    provenance: Provenance,
    resolved: toml::Table,
) -> Result<Config, ConfigError> {
    let r = Reporter {
        provenance: &provenance,
    };
    check_top_level(r, &raw)?;
    let names = Names::new(r, &raw)?;
    let peripherals = raw
        .peripherals
        .iter()
        .enumerate()
        .map(|(i, (name, p))| peripheral(r, &names, i, name, p))
        .collect::<Result<Vec<_>, _>>()?;
    let tasks = raw
        .tasks
        .iter()
        .enumerate()
        .map(|(i, (name, t))| {
            task(r, &names, &peripherals, raw.stacksize, i, name, t)
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules::check_supervisor(r, &tasks)?;
    rules::check_idle(r, &tasks)?;
    rules::check_slot_priorities(r, &tasks)?;
    rules::check_irqs_routed_once(r, &tasks, &peripherals)?;
    let blobs = blobs(r, &raw.blobs, &provenance)?;
    check_task_blobs(r, &tasks, &blobs)?;
    Ok(Config {
        name: raw.name,
        version: raw.version,
        board: raw.board,
        kernel: Kernel {
            crate_name: raw.kernel.name,
            features: raw.kernel.features,
            dump_on_fault: raw.kernel.dump_on_fault,
        },
        tasks,
        peripherals,
        blobs,
        provenance,
        resolved,
    })
}

fn check_top_level(r: Reporter, raw: &RawConfig) -> Result<(), ConfigError> {
    if raw.name.is_empty() {
        return Err(r.error("name", "must not be empty"));
    }
    if !image_manifest::is_image_name(&raw.name) {
        return Err(r.error(
            "name",
            format!(
                "{:?} is not a valid image name: it names the probe socket \
                 and dump files, so use letters, digits, '-' or '_' (at \
                 most 64, starting with a letter or digit)",
                raw.name
            ),
        ));
    }
    if crate::board::board(&raw.board).is_none() {
        let known: Vec<String> = crate::board::BOARDS
            .iter()
            .map(|b| format!("{:?}", b.name))
            .collect();
        return Err(r.error(
            "board",
            format!(
                "unknown board {:?}; the boards are {}",
                raw.board,
                known.join(", ")
            ),
        ));
    }
    if raw.stacksize == Some(0) {
        return Err(r.error("stacksize", "must be greater than 0"));
    }
    if raw.kernel.name.as_deref() == Some("") {
        return Err(r.error("kernel.name", "must not be empty"));
    }
    Ok(())
}

/// Name to index for tasks and peripherals, built after checking that
/// every name is well formed.
struct Names<'a> {
    tasks: HashMap<&'a str, usize>,
    peripherals: HashMap<&'a str, usize>,
}

impl<'a> Names<'a> {
    fn new(r: Reporter, raw: &'a RawConfig) -> Result<Self, ConfigError> {
        if raw.tasks.len() > MAX_TASKS {
            return Err(r.error(
                "tasks",
                format!(
                    "{} tasks; at most {MAX_TASKS} fit a TaskId",
                    raw.tasks.len()
                ),
            ));
        }
        if raw.peripherals.len() > MAX_PERIPHERALS {
            return Err(r.error(
                "peripherals",
                format!("more than {MAX_PERIPHERALS} peripherals"),
            ));
        }
        for name in raw.tasks.keys() {
            check_name(r, "tasks", name)?;
            if name == RESERVED_TASK_NAME {
                return Err(r.error(
                    format!("tasks.{name}"),
                    "\"kernel\" is reserved and cannot be a task name",
                ));
            }
        }
        for name in raw.peripherals.keys() {
            check_name(r, "peripherals", name)?;
        }
        Ok(Self {
            tasks: index_by_name(&raw.tasks),
            peripherals: index_by_name(&raw.peripherals),
        })
    }

    fn task(&self, name: &str) -> Option<usize> {
        self.tasks.get(name).copied()
    }
}

fn index_by_name<T>(map: &IndexMap<String, T>) -> HashMap<&str, usize> {
    map.keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect()
}

/// Task, peripheral, slot and blob names: they become archive paths,
/// generated identifiers and dotted keys, so we keep them plain.
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
        })
}

/// Notification and IRQ names: like [`is_name`] but may start with a
/// digit. No dots, because `interrupts` keys are `periph.irq`.
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
        })
}

fn check_name(r: Reporter, table: &str, name: &str) -> Result<(), ConfigError> {
    if is_name(name) {
        return Ok(());
    }
    Err(r.error(
        format!("{table}.{}", quote_key(name)),
        format!(
            "{name:?} is not a valid name: use a lowercase letter, then \
             lowercase letters, digits, '_' or '-'"
        ),
    ))
}

/// A key as TOML would need it written in a dotted path.
pub(crate) fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn peripheral(
    r: Reporter,
    names: &Names,
    index: usize,
    name: &str,
    p: &RawPeripheral,
) -> Result<Peripheral, ConfigError> {
    let key = |k: &str| format!("peripherals.{name}.{k}");
    if p.model.is_empty() {
        return Err(r.error(key("model"), "must not be empty"));
    }
    let managed_by = match &p.managed_by {
        None => None,
        Some(task) => Some(names.task(task).ok_or_else(|| {
            r.error(key("managed-by"), format!("no task named {task:?}"))
        })?),
    };
    check_labels(r, &key("irqs"), "IRQ", &p.irqs)?;
    Ok(Peripheral {
        name: name.to_owned(),
        index,
        model: p.model.clone(),
        managed_by,
        irqs: p.irqs.clone(),
        config: table_json(r, &key("config"), p.config.as_ref())?,
    })
}

/// Checks a list of notification or IRQ names: well formed, no repeats.
fn check_labels(
    r: Reporter,
    key: &str,
    what: &str,
    labels: &[String],
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for label in labels {
        if !is_label(label) {
            return Err(r.error(
                key,
                format!(
                    "{label:?} is not a valid {what} name: use lowercase \
                     letters, digits, '_' or '-'"
                ),
            ));
        }
        if !seen.insert(label) {
            return Err(r.error(key, format!("{label:?} is listed twice")));
        }
    }
    Ok(())
}

fn task(
    r: Reporter,
    names: &Names,
    peripherals: &[Peripheral],
    default_stacksize: Option<u32>,
    index: usize,
    name: &str,
    t: &RawTask,
) -> Result<Task, ConfigError> {
    let key = |k: &str| format!("tasks.{name}.{k}");
    if t.name.is_empty() {
        return Err(r.error(key("name"), "must not be empty"));
    }
    let stacksize = check_sizes(r, name, t, default_stacksize)?;
    check_labels(r, &key("notifications"), "notification", &t.notifications)?;
    if t.notifications.len() > MAX_NOTIFICATIONS {
        return Err(r.error(
            key("notifications"),
            format!(
                "{} notifications; at most {MAX_NOTIFICATIONS} are allowed \
                 (bit 31 is reserved for userlib's internal timer)",
                t.notifications.len()
            ),
        ));
    }
    let uses = resolve_uses(r, names, name, &t.uses)?;
    Ok(Task {
        name: name.to_owned(),
        crate_name: t.name.clone(),
        index,
        priority: t.priority,
        start: t.start,
        stacksize,
        max_flash: t.max_sizes.flash,
        max_ram: t.max_sizes.ram,
        interrupts: resolve_interrupts(r, peripherals, name, t, &uses)?,
        uses,
        notifications: t.notifications.clone(),
        task_slots: resolve_slots(r, names, name, t)?,
        post_to: resolve_post_to(r, names, name, &t.post_to)?,
        allowed_callers: resolve_allowed_callers(r, names, name, t)?,
        config: table_json(r, &key("config"), t.config.as_ref())?,
        features: t.features.clone(),
        kipc: resolve_kipc(r, name, &t.kipc)?,
        blobs: t.blobs.clone(),
    })
}

/// Checks the caps and the stack, returning the effective stack size.
fn check_sizes(
    r: Reporter,
    name: &str,
    t: &RawTask,
    default_stacksize: Option<u32>,
) -> Result<u32, ConfigError> {
    let key = |k: &str| format!("tasks.{name}.{k}");
    if t.max_sizes.flash == Some(0) {
        return Err(r.error(key("max-sizes.flash"), "must be greater than 0"));
    }
    if t.max_sizes.ram == Some(0) {
        return Err(r.error(key("max-sizes.ram"), "must be greater than 0"));
    }
    let stacksize = t.stacksize.or(default_stacksize).ok_or_else(|| {
        r.error(
            key("stacksize"),
            "not set, and there is no top-level stacksize to default to",
        )
    })?;
    if stacksize == 0 {
        return Err(r.error(key("stacksize"), "must be greater than 0"));
    }
    // The stack alone must leave room under a RAM cap: the build would
    // refuse the task anyway, but only after building it.
    let stack = crate::layout::round_up(stacksize, crate::STACK_ALIGN);
    if let Some(cap) = t.max_sizes.ram
        && stack >= u64::from(cap)
    {
        return Err(r.error(
            key("stacksize"),
            format!(
                "a {stack}-byte stack leaves no room for data under \
                 max-sizes.ram ({cap}); raise max-sizes.ram or lower \
                 stacksize"
            ),
        ));
    }
    Ok(stacksize)
}

fn resolve_uses(
    r: Reporter,
    names: &Names,
    task: &str,
    uses: &[String],
) -> Result<Vec<usize>, ConfigError> {
    let key = format!("tasks.{task}.uses");
    let mut out = Vec::with_capacity(uses.len());
    for p in uses {
        let index =
            names.peripherals.get(p.as_str()).copied().ok_or_else(|| {
                r.error(&key, format!("no peripheral named {p:?}"))
            })?;
        if out.contains(&index) {
            return Err(r.error(&key, format!("{p:?} is listed twice")));
        }
        out.push(index);
    }
    Ok(out)
}

fn resolve_interrupts(
    r: Reporter,
    peripherals: &[Peripheral],
    task: &str,
    t: &RawTask,
    uses: &[usize],
) -> Result<Vec<Interrupt>, ConfigError> {
    let used: Vec<&Peripheral> =
        uses.iter().filter_map(|&i| peripherals.get(i)).collect();
    t.interrupts
        .iter()
        .map(|(irq, notification)| {
            let key = format!("tasks.{task}.interrupts.{}", quote_key(irq));
            interrupt(task, &used, irq, notification, &t.notifications)
                .map_err(|message| r.error(key, message))
        })
        .collect()
}

/// Resolves one `"periph.irq" = "notification"` entry, or says what is
/// wrong with it.
fn interrupt(
    task: &str,
    used: &[&Peripheral],
    irq: &str,
    notification: &str,
    notifications: &[String],
) -> Result<Interrupt, String> {
    let (periph, line) = irq
        .split_once('.')
        .ok_or("expected \"<peripheral>.<irq>\"")?;
    let p = used.iter().find(|p| p.name == periph).ok_or_else(|| {
        format!("peripheral {periph:?} is not in this task's uses")
    })?;
    if !p.irqs.iter().any(|l| l == line) {
        let irqs = match p.irqs.is_empty() {
            true => "it raises none".to_owned(),
            false => format!("its irqs: {}", p.irqs.join(", ")),
        };
        return Err(format!(
            "peripheral {periph} has no IRQ {line:?} ({irqs})"
        ));
    }
    let bit = notifications
        .iter()
        .position(|n| n == notification)
        .ok_or_else(|| {
            format!(
                "no notification named {notification:?} in \
                 tasks.{task}.notifications"
            )
        })?;
    Ok(Interrupt {
        peripheral: p.index,
        line: line.to_owned(),
        notification: bit,
    })
}

fn resolve_slots(
    r: Reporter,
    names: &Names,
    task: &str,
    t: &RawTask,
) -> Result<Vec<Slot>, ConfigError> {
    let key = format!("tasks.{task}.task-slots");
    let mut out: Vec<Slot> = Vec::with_capacity(t.task_slots.len());
    for s in &t.task_slots {
        if !is_name(&s.slot) {
            return Err(r.error(
                &key,
                format!("{:?} is not a valid slot name", s.slot),
            ));
        }
        if out.iter().any(|o| o.name == s.slot) {
            return Err(
                r.error(&key, format!("slot name {:?} is used twice", s.slot))
            );
        }
        let callee = names.task(&s.task).ok_or_else(|| {
            r.error(&key, format!("no task named {:?}", s.task))
        })?;
        if s.task == task {
            return Err(
                r.error(&key, format!("task {task} may not name itself"))
            );
        }
        out.push(Slot {
            name: s.slot.clone(),
            task: callee,
        });
    }
    Ok(out)
}

/// `post-to`: tasks by name, each once, never the task itself. Unlike a
/// task slot a post may go to a less important task (servers call back
/// their clients this way), so there is no priority rule.
fn resolve_post_to(
    r: Reporter,
    names: &Names,
    task: &str,
    targets: &[String],
) -> Result<Vec<usize>, ConfigError> {
    let key = format!("tasks.{task}.post-to");
    let mut out = Vec::with_capacity(targets.len());
    for target in targets {
        let index = names.task(target).ok_or_else(|| {
            r.error(&key, format!("no task named {target:?}"))
        })?;
        if target == task {
            return Err(r.error(
                &key,
                format!(
                    "task {task} may not name itself (a task's own bits \
                         are not posted)"
                ),
            ));
        }
        if out.contains(&index) {
            return Err(r.error(&key, format!("{target:?} is listed twice")));
        }
        out.push(index);
    }
    Ok(out)
}

/// `allowed-callers`: interface and op names shaped like identifiers
/// (whether the interface and its ops exist is checked against the `.idol`
/// files by xtask and by the server's build), callers that exist, each
/// once per list. A task may list itself (it cannot call itself anyway).
fn resolve_allowed_callers(
    r: Reporter,
    names: &Names,
    task: &str,
    t: &RawTask,
) -> Result<Vec<AllowedCallers>, ConfigError> {
    let mut out = Vec::with_capacity(t.allowed_callers.len());
    for (interface, raw) in &t.allowed_callers {
        let key =
            format!("tasks.{task}.allowed-callers.{}", quote_key(interface));
        if !is_identifier(interface) {
            return Err(r.error(
                key,
                format!("{interface:?} is not an interface name"),
            ));
        }
        let scope = match raw {
            RawAllowedCallers::Interface(tasks) => {
                CallerScope::Interface(resolve_callers(r, names, &key, tasks)?)
            }
            RawAllowedCallers::Ops(ops) => {
                if ops.is_empty() {
                    return Err(r.error(
                        key,
                        "empty table: name the ops to restrict, or give a \
                         list of tasks to restrict the whole interface",
                    ));
                }
                let mut resolved = Vec::with_capacity(ops.len());
                for (op, tasks) in ops {
                    let key = format!("{key}.{}", quote_key(op));
                    if !is_identifier(op) {
                        return Err(
                            r.error(key, format!("{op:?} is not an op name"))
                        );
                    }
                    let tasks = resolve_callers(r, names, &key, tasks)?;
                    resolved.push((op.clone(), tasks));
                }
                CallerScope::Ops(resolved)
            }
        };
        out.push(AllowedCallers {
            interface: interface.clone(),
            scope,
        });
    }
    Ok(out)
}

/// One list of callers: task names to indices, each once. An empty list is
/// allowed and means nobody.
fn resolve_callers(
    r: Reporter,
    names: &Names,
    key: &str,
    tasks: &[String],
) -> Result<Vec<usize>, ConfigError> {
    let mut out = Vec::with_capacity(tasks.len());
    for caller in tasks {
        let index = names
            .task(caller)
            .ok_or_else(|| r.error(key, format!("no task named {caller:?}")))?;
        if out.contains(&index) {
            return Err(r.error(key, format!("{caller:?} is listed twice")));
        }
        out.push(index);
    }
    Ok(out)
}

/// An idol interface or op name: a Rust identifier in ASCII.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn resolve_kipc(
    r: Reporter,
    task: &str,
    grants: &[String],
) -> Result<Vec<Kipcnum>, ConfigError> {
    let key = format!("tasks.{task}.kipc");
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        let Some(k) = Kipcnum::ALL.into_iter().find(|k| k.grant_name() == g)
        else {
            let known: Vec<_> =
                Kipcnum::ALL.iter().map(|k| k.grant_name()).collect();
            return Err(r.error(
                key,
                format!("unknown kipc {g:?}; known: {}", known.join(", ")),
            ));
        };
        if out.contains(&k) {
            return Err(r.error(key, format!("{g:?} is listed twice")));
        }
        out.push(k);
    }
    Ok(out)
}

/// Every blob a task links must be declared under `[blobs]`, once.
fn check_task_blobs(
    r: Reporter,
    tasks: &[Task],
    blobs: &[Blob],
) -> Result<(), ConfigError> {
    for t in tasks {
        let key = format!("tasks.{}.blobs", t.name);
        for (i, b) in t.blobs.iter().enumerate() {
            if !blobs.iter().any(|x| &x.name == b) {
                return Err(r.error(
                    key,
                    format!("no blob named {b:?} (declare it under [blobs])"),
                ));
            }
            if t.blobs[..i].contains(b) {
                return Err(r.error(key, format!("{b:?} is listed twice")));
            }
        }
    }
    Ok(())
}

fn blobs(
    r: Reporter,
    raw: &IndexMap<String, String>,
    provenance: &Provenance,
) -> Result<Vec<Blob>, ConfigError> {
    let mut out = Vec::with_capacity(raw.len());
    for (name, path) in raw {
        check_name(r, "blobs", name)?;
        let key = format!("blobs.{name}");
        if path.is_empty() {
            return Err(r.error(key, "path must not be empty"));
        }
        if Path::new(path).is_absolute() {
            return Err(r.error(
                key,
                format!(
                    "{path:?} is absolute; blob paths are relative to the \
                     directory holding app.toml"
                ),
            ));
        }
        out.push(Blob {
            name: name.clone(),
            path: path.clone(),
            resolved: provenance.dir_of(&key).join(path),
            size: None,
        });
    }
    Ok(out)
}

/// A free-form `config` table as JSON (`Null` when absent), which is what
/// the manifest carries.
fn table_json(
    r: Reporter,
    key: &str,
    table: Option<&toml::Table>,
) -> Result<serde_json::Value, ConfigError> {
    let Some(table) = table else {
        return Ok(serde_json::Value::Null);
    };
    let mut map = serde_json::Map::new();
    for (k, v) in table {
        let key = format!("{key}.{}", quote_key(k));
        map.insert(k.clone(), value_json(r, &key, v)?);
    }
    Ok(serde_json::Value::Object(map))
}

/// TOML has two things JSON lacks: datetimes (carried as their TOML text)
/// and non-finite floats (rejected, so the manifest stays valid JSON).
fn value_json(
    r: Reporter,
    key: &str,
    v: &toml::Value,
) -> Result<serde_json::Value, ConfigError> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map(J::Number).ok_or_else(
                || r.error(key, format!("{f} cannot be represented in JSON")),
            )?
        }
        toml::Value::Array(a) => J::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| value_json(r, &format!("{key}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => table_json(r, key, Some(t))?,
    })
}
