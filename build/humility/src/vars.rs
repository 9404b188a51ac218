//! Commands that read statics: `readvar`, `ringbuf`, `counters`.
//!
//! Each finds statics in the task ELFs' DWARF by name, reads their memory
//! from the target, and decodes it with the same DWARF, so a trace entry
//! comes back as the enum variant the task recorded.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::archive::Archive;
use crate::dwarf::{DebugInfo, Variable};
use crate::output::{self, Format};
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

/// One ring buffer entry, as `ringbuf -o json|csv` gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RingRow {
    pub task: String,
    pub ringbuf: String,
    pub index: usize,
    pub line: u64,
    pub generation: u64,
    pub count: u64,
    /// As the text shows it (Rust's `Debug` syntax).
    pub payload: String,
}

/// One kind of entry of a ring buffer, as `ringbuf --totals` counts it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TotalRow {
    pub task: String,
    pub ringbuf: String,
    /// The payload's variant (the whole payload if it is not an enum).
    pub variant: String,
    /// Entries of this variant in the buffer now.
    pub entries: u64,
    /// Records they stand for (an entry counts its repeats).
    pub records: u64,
    /// For a counted ring buffer: every record of this variant since
    /// the task started, including those the buffer has overwritten.
    pub ever: Option<u64>,
}

/// The ring buffers matching `filter`.
fn ring_statics(archive: &Archive, filter: Option<&str>) -> Result<Vec<Found>> {
    let found: Vec<Found> = statics(archive, None, |d, v| {
        v.name.ends_with("RINGBUF") || d.type_name(v.ty).contains("Ringbuf")
    })?
    .into_iter()
    .filter(|f| matches(archive, f, filter))
    .collect();
    if found.is_empty() {
        bail!("no ring buffer matches {:?}", filter.unwrap_or(""));
    }
    Ok(found)
}

/// `ringbuf [filter]`: every ring buffer's entries, oldest first, as a
/// table per buffer, or (`format` JSON or CSV) one record per entry.
///
/// # Errors
///
/// If none matches the filter; read errors.
pub fn ringbuf(
    archive: &Archive,
    target: &mut Target,
    filter: Option<&str>,
    format: Format,
) -> Result<String> {
    let found = ring_statics(archive, filter)?;
    let mut out = String::new();
    let mut rows = Vec::new();
    for f in &found {
        let value = read(archive, target, f)?;
        let task = archive.task_name(f.task);
        let _ =
            writeln!(out, "humility: ring buffer {} in {task}:", f.var.path);
        match ring_entries(&value) {
            Some(entries) => {
                out.push_str(" NDX LINE      GEN    COUNT PAYLOAD\n");
                for e in entries {
                    let _ = writeln!(
                        out,
                        "{:>4} {:>4} {:>8} {:>8} {}",
                        e.index, e.line, e.generation, e.count, e.payload
                    );
                    rows.push(RingRow {
                        task: task.clone(),
                        ringbuf: f.var.path.clone(),
                        index: e.index,
                        line: e.line,
                        generation: e.generation,
                        count: e.count,
                        payload: e.payload.to_string(),
                    });
                }
            }
            None => out.push_str(" (not a ring buffer layout we know)\n"),
        }
    }
    match format {
        Format::Text => Ok(out),
        _ => output::render(format, &rows),
    }
}

/// `ringbuf --totals [filter]`: per ring buffer, how many entries and
/// records of each payload variant it holds, and for a counted ring
/// buffer how many there have been since the task started.
///
/// # Errors
///
/// If none matches the filter; read errors.
pub fn ringbuf_totals(
    archive: &Archive,
    target: &mut Target,
    filter: Option<&str>,
    format: Format,
) -> Result<String> {
    let found = ring_statics(archive, filter)?;
    let mut rows: Vec<TotalRow> = Vec::new();
    for f in &found {
        let value = read(archive, target, f)?;
        let task = archive.task_name(f.task);
        let start = rows.len();
        for e in ring_entries(&value).unwrap_or_default() {
            let variant = variant_name(&e.payload);
            match rows[start..].iter_mut().find(|r| r.variant == variant) {
                Some(r) => {
                    r.entries += 1;
                    r.records += e.count;
                }
                None => rows.push(TotalRow {
                    task: task.clone(),
                    ringbuf: f.var.path.clone(),
                    variant,
                    entries: 1,
                    records: e.count,
                    ever: None,
                }),
            }
        }
        // A counted ring buffer also counts every record by variant.
        if let Some(counters) = value.field("counters") {
            for (name, n) in counters.counts() {
                match rows[start..].iter_mut().find(|r| r.variant == name) {
                    Some(r) => r.ever = Some(n),
                    None => rows.push(TotalRow {
                        task: task.clone(),
                        ringbuf: f.var.path.clone(),
                        variant: name,
                        entries: 0,
                        records: 0,
                        ever: Some(n),
                    }),
                }
            }
        }
    }
    if format != Format::Text {
        return output::render(format, &rows);
    }
    let mut out = format!(
        "{:<12} {:<28} {:<24} {:>8} {:>8} {:>8}\n",
        "TASK", "RINGBUF", "VARIANT", "ENTRIES", "RECORDS", "EVER"
    );
    for r in &rows {
        let ever = r.ever.map_or("-".to_string(), |n| n.to_string());
        let _ = writeln!(
            out,
            "{:<12} {:<28} {:<24} {:>8} {:>8} {:>8}",
            r.task, r.ringbuf, r.variant, r.entries, r.records, ever
        );
    }
    Ok(out)
}

/// What `--totals` groups a payload by: its variant's name, or the
/// whole value for a payload that is not an enum.
fn variant_name(payload: &Value) -> String {
    match payload.unwrapped() {
        Value::Variant { variant, .. } => variant.clone(),
        Value::CLike {
            name: Some(name), ..
        } => name.clone(),
        other => other.to_string(),
    }
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

/// One counter, as `counters -o json|csv` gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CounterRow {
    pub task: String,
    /// The static's path.
    pub counters: String,
    /// The counter's name (`(total)` for a single count).
    pub counter: String,
    pub count: u64,
}

/// The `counters!` statics (and counted ring buffers) matching `filter`.
fn counter_statics(
    archive: &Archive,
    filter: Option<&str>,
) -> Result<Vec<Found>> {
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
    Ok(found)
}

/// The counts in a counters static's value (a counted ring buffer's are
/// in its `counters` field).
fn counts_of(value: &Value) -> Vec<(String, u64)> {
    let value = value.field("counters").unwrap_or(value);
    value
        .counts()
        .into_iter()
        .map(|(name, n)| {
            let name = if name.is_empty() {
                "(total)".to_string()
            } else {
                name
            };
            (name, n)
        })
        .collect()
}

/// `counters [filter]`: each `counters!` static (and each counted ring
/// buffer's totals), one line per counter, or (`format` JSON or CSV) one
/// record per counter.
///
/// # Errors
///
/// If none matches the filter; read errors.
pub fn counters(
    archive: &Archive,
    target: &mut Target,
    filter: Option<&str>,
    format: Format,
) -> Result<String> {
    let found = counter_statics(archive, filter)?;
    let mut out = String::new();
    let mut rows = Vec::new();
    for f in &found {
        let value = read(archive, target, f)?;
        let task = archive.task_name(f.task);
        let _ = writeln!(out, "{task}: {}", f.var.path);
        for (name, n) in counts_of(&value) {
            let _ = writeln!(out, "  {n:>10} {name}");
            rows.push(CounterRow {
                task: task.clone(),
                counters: f.var.path.clone(),
                counter: name,
                count: n,
            });
        }
    }
    match format {
        Format::Text => Ok(out),
        _ => output::render(format, &rows),
    }
}

/// One counter a task has, as `counters list` names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CounterName {
    pub task: String,
    pub counters: String,
    /// `counters`, `counted ringbuf`, `ipc client` or `ipc server`.
    pub kind: String,
    pub counter: String,
}

/// `counters list [filter]`: every counter of every task, by name, from
/// the DWARF alone (no system needed): the statics' types decoded from
/// zeros give the counters' names.
///
/// # Errors
///
/// If none matches the filter; archive errors.
pub fn counters_list(
    archive: &Archive,
    filter: Option<&str>,
    format: Format,
) -> Result<String> {
    let found: Vec<Found> = statics(archive, None, |d, v| {
        v.name.ends_with("COUNTERS")
            || d.type_name(v.ty).starts_with("CountedRingbuf")
    })?
    .into_iter()
    .filter(|f| matches(archive, f, filter))
    .collect();
    if found.is_empty() {
        bail!("no counters match {:?}", filter.unwrap_or(""));
    }
    let mut rows = Vec::new();
    for f in &found {
        let debug = archive.debug(f.task)?;
        let size = usize::try_from(debug.size_of(f.var.ty)).unwrap_or(0);
        let zeros = debug.decode(f.var.ty, &vec![0; size.min(1 << 20)]);
        let kind = if f.var.name.ends_with("_CLIENT_COUNTERS") {
            "ipc client"
        } else if f.var.name.ends_with("_SERVER_COUNTERS") {
            "ipc server"
        } else if zeros.field("counters").is_some() {
            "counted ringbuf"
        } else {
            "counters"
        };
        for (counter, _) in counts_of(&zeros) {
            rows.push(CounterName {
                task: archive.task_name(f.task),
                counters: f.var.path.clone(),
                kind: kind.to_string(),
                counter,
            });
        }
    }
    if format != Format::Text {
        return output::render(format, &rows);
    }
    let mut out =
        format!("{:<12} {:<16} {:<36} COUNTER\n", "TASK", "KIND", "COUNTERS");
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<12} {:<16} {:<36} {}",
            r.task, r.kind, r.counters, r.counter
        );
    }
    Ok(out)
}

/// One op's IPC counts, as `counters ipc -o json|csv` gives them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IpcRow {
    pub task: String,
    pub interface: String,
    /// `client` or `server`.
    pub side: String,
    pub op: String,
    pub calls: Option<u64>,
    pub errors: Option<u64>,
    pub server_deaths: Option<u64>,
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
    format: Format,
) -> Result<String> {
    let found: Vec<Found> = statics(archive, None, |_, v| is_ipc(&v.name))?
        .into_iter()
        .filter(|f| matches(archive, f, filter))
        .collect();
    if found.is_empty() {
        bail!("no IPC counters match {:?}", filter.unwrap_or(""));
    }
    let mut rows = Vec::new();
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
            let get =
                |n: &str| counts.field(n).and_then(|v| v.unwrapped().as_u64());
            rows.push(IpcRow {
                task: archive.task_name(f.task),
                interface: iface.clone(),
                side: side.to_string(),
                op: op.clone(),
                calls: get("calls"),
                errors: get("errors"),
                server_deaths: get("server_deaths"),
            });
        }
    }
    if format != Format::Text {
        return output::render(format, &rows);
    }
    let mut out = format!(
        "{:<12} {:<16} {:<6} {:<24} {:>8} {:>8} {:>8}\n",
        "TASK", "INTERFACE", "SIDE", "OP", "CALLS", "ERRORS", "DEATHS"
    );
    let dash = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<12} {:<16} {:<6} {:<24} {:>8} {:>8} {:>8}",
            r.task,
            r.interface,
            r.side,
            r.op,
            dash(r.calls),
            dash(r.errors),
            dash(r.server_deaths),
        );
    }
    Ok(out)
}
