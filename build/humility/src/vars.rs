//! Commands that read statics: `readvar`, `ringbuf`, `counters`.
//!
//! Each finds statics in the task ELFs' DWARF by name, reads their memory
//! from the target, and decodes it with the same DWARF, so a trace entry
//! comes back as the enum variant the task recorded.

use std::fmt::Write as _;

use anyhow::{Result, bail};

use crate::archive::Archive;
use crate::dwarf::{DebugInfo, Variable};
use crate::target::Target;
use crate::value::Value;

/// A static in a task, and where it lives.
struct Found {
    task: usize,
    var: Variable,
}

/// Statics of every task (or only `task`) that `pick` accepts and that
/// live in the task's own memory (not, say, a core static at address 0).
fn statics(
    archive: &Archive,
    task: Option<usize>,
    mut pick: impl FnMut(&DebugInfo, &Variable) -> bool,
) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    for entry in &archive.manifest.tasks {
        let index = usize::from(entry.index);
        if task.is_some_and(|t| t != index) {
            continue;
        }
        let debug = archive.debug(index)?;
        for var in &debug.variables {
            let size = debug.size_of(var.ty).max(1);
            let inside = entry.ram.contains(var.address, size)
                || entry.flash.contains(var.address, size);
            // Compiler-made statics (`{vtable}`s) are nobody's state.
            let made_up =
                var.name.starts_with('{') || var.name.starts_with('<');
            if inside && !made_up && pick(&debug, var) {
                out.push(Found {
                    task: index,
                    var: var.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Reads and decodes one static.
fn read(archive: &Archive, target: &mut Target, f: &Found) -> Result<Value> {
    let debug = archive.debug(f.task)?;
    let size = debug.size_of(f.var.ty);
    let bytes = target.read(archive, f.task, f.var.address, size)?;
    Ok(debug.decode(f.var.ty, &bytes))
}

/// `readvar -l`: every static with its task, address and size.
///
/// # Errors
///
/// If an ELF or its DWARF cannot be read.
pub fn list(archive: &Archive, task: Option<usize>) -> Result<String> {
    let found = statics(archive, task, |_, _| true)?;
    let mut out = format!("{:<12} {:>10} {:>8} NAME\n", "TASK", "ADDR", "SIZE");
    for f in &found {
        let size = archive.debug(f.task)?.size_of(f.var.ty);
        let _ = writeln!(
            out,
            "{:<12} {:#010x} {:>8} {}",
            archive.task_name(f.task),
            f.var.address,
            size,
            f.var.path
        );
    }
    Ok(out)
}

/// `readvar NAME`: the static(s) whose path is or ends in `NAME`.
///
/// # Errors
///
/// "unknown symbol" if no task has one; read errors.
pub fn readvar(
    archive: &Archive,
    target: &mut Target,
    task: Option<usize>,
    name: &str,
) -> Result<String> {
    let suffix = format!("::{name}");
    let found = statics(archive, task, |_, v| {
        v.path == name || v.path.ends_with(&suffix)
    })?;
    if found.is_empty() {
        bail!("unknown symbol {name:?} (`humility readvar -l` lists them)");
    }
    let mut out = String::new();
    for f in &found {
        let value = read(archive, target, f)?;
        let _ = writeln!(
            out,
            "{}: {} ({:#x}) = {}",
            archive.task_name(f.task),
            f.var.path,
            f.var.address,
            value.unwrapped()
        );
    }
    Ok(out)
}

/// Whether `filter` (if any) picks this static: a substring of its task's
/// name or of its path.
fn matches(archive: &Archive, f: &Found, filter: Option<&str>) -> bool {
    filter.is_none_or(|s| {
        archive.task_name(f.task).contains(s) || f.var.path.contains(s)
    })
}

/// `ringbuf [filter]`: every ring buffer's entries, oldest first.
///
/// # Errors
///
/// If none matches the filter; read errors.
pub fn ringbuf(
    archive: &Archive,
    target: &mut Target,
    filter: Option<&str>,
) -> Result<String> {
    let found: Vec<Found> = statics(archive, None, |d, v| {
        v.name.ends_with("RINGBUF") || d.type_name(v.ty).contains("Ringbuf")
    })?
    .into_iter()
    .filter(|f| matches(archive, f, filter))
    .collect();
    if found.is_empty() {
        bail!("no ring buffer matches {:?}", filter.unwrap_or(""));
    }
    let mut out = String::new();
    for f in &found {
        let value = read(archive, target, f)?;
        let _ = writeln!(
            out,
            "humility: ring buffer {} in {}:",
            f.var.path,
            archive.task_name(f.task)
        );
        match ring_entries(&value) {
            Some(entries) => {
                out.push_str(" NDX LINE      GEN    COUNT PAYLOAD\n");
                for e in entries {
                    let _ = writeln!(
                        out,
                        "{:>4} {:>4} {:>8} {:>8} {}",
                        e.index, e.line, e.generation, e.count, e.payload
                    );
                }
            }
            None => out.push_str(" (not a ring buffer layout we know)\n"),
        }
    }
    Ok(out)
}

/// One decoded ring buffer entry.
#[derive(Debug, PartialEq)]
pub struct Entry {
    pub index: usize,
    pub line: u64,
    pub generation: u64,
    pub count: u64,
    pub payload: Value,
}

/// The recorded entries of the `Ringbuf` inside `value`, oldest first;
/// `None` if there is no `{ last, buffer }` struct in it.
pub fn ring_entries(value: &Value) -> Option<Vec<Entry>> {
    let ring = value
        .structs()
        .into_iter()
        .find(|s| s.field("last").is_some() && s.field("buffer").is_some())?;
    let Value::Array(buffer) = ring.field("buffer")?.unwrapped() else {
        return None;
    };
    // `last: Option<usize>`: the newest slot, `None` before any record.
    let last = match ring.field("last")? {
        Value::Variant {
            variant, fields, ..
        } if variant == "Some" => fields.first().and_then(|(_, v)| v.as_u64()),
        _ => None,
    };
    let n = buffer.len();
    let start = last.map_or(0, |l| (l as usize + 1) % n.max(1));
    let mut out = Vec::new();
    for i in 0..n {
        let index = (start + i) % n;
        let e = &buffer[index];
        let line = e.field("line").and_then(Value::as_u64).unwrap_or(0);
        if line == 0 {
            continue; // never written
        }
        out.push(Entry {
            index,
            line,
            generation: e
                .field("generation")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            // `()` for a `no_dedup` buffer: each entry is one record.
            count: e.field("count").and_then(Value::as_u64).unwrap_or(1),
            payload: e.field("payload").cloned().unwrap_or(Value::Unreadable),
        });
    }
    Some(out)
}

fn is_ipc(name: &str) -> bool {
    name.ends_with("_CLIENT_COUNTERS") || name.ends_with("_SERVER_COUNTERS")
}

/// `counters [filter]`: each `counters!` static (and each counted ring
/// buffer's totals), one line per counter.
///
/// # Errors
///
/// If none matches the filter; read errors.
pub fn counters(
    archive: &Archive,
    target: &mut Target,
    filter: Option<&str>,
) -> Result<String> {
    let found: Vec<Found> = statics(archive, None, |d, v| {
        (v.name.ends_with("COUNTERS") && !is_ipc(&v.name))
            || d.type_name(v.ty).starts_with("CountedRingbuf")
    })?
    .into_iter()
    .filter(|f| matches(archive, f, filter))
    .collect();
    if found.is_empty() {
        bail!("no counters match {:?}", filter.unwrap_or(""));
    }
    let mut out = String::new();
    for f in &found {
        let mut value = read(archive, target, f)?;
        if let Some(c) = value.field("counters") {
            value = c.clone();
        }
        let _ = writeln!(out, "{}: {}", archive.task_name(f.task), f.var.path);
        for (name, n) in value.counts() {
            let name = if name.is_empty() { "(total)" } else { &name };
            let _ = writeln!(out, "  {n:>10} {name}");
        }
    }
    Ok(out)
}

/// `counters ipc [filter]`: the calls, errors and server deaths idol's
/// generated clients and servers counted, per op.
///
/// # Errors
///
/// If none matches the filter; read errors.
pub fn counters_ipc(
    archive: &Archive,
    target: &mut Target,
    filter: Option<&str>,
) -> Result<String> {
    let found: Vec<Found> = statics(archive, None, |_, v| is_ipc(&v.name))?
        .into_iter()
        .filter(|f| matches(archive, f, filter))
        .collect();
    if found.is_empty() {
        bail!("no IPC counters match {:?}", filter.unwrap_or(""));
    }
    let mut out = format!(
        "{:<12} {:<16} {:<6} {:<24} {:>8} {:>8} {:>8}\n",
        "TASK", "INTERFACE", "SIDE", "OP", "CALLS", "ERRORS", "DEATHS"
    );
    for f in &found {
        let value = read(archive, target, f)?;
        let debug = archive.debug(f.task)?;
        let ty = debug.type_name(f.var.ty);
        let (side, suffix) = if f.var.name.ends_with("_CLIENT_COUNTERS") {
            ("client", "ClientCounters")
        } else {
            ("server", "ServerCounters")
        };
        let iface = ty.strip_suffix(suffix).unwrap_or(&ty).to_string();
        let Value::Struct { fields, .. } = value.unwrapped() else {
            continue;
        };
        for (op, counts) in fields {
            let get = |n: &str| {
                counts
                    .field(n)
                    .and_then(|v| v.unwrapped().as_u64())
                    .map_or("-".to_string(), |v| v.to_string())
            };
            let _ = writeln!(
                out,
                "{:<12} {:<16} {:<6} {:<24} {:>8} {:>8} {:>8}",
                archive.task_name(f.task),
                iface,
                side,
                op,
                get("calls"),
                get("errors"),
                get("server_deaths"),
            );
        }
    }
    Ok(out)
}
