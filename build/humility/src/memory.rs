//! Raw memory and registers: `readmem`, `writeword`, `stackmargin` and
//! `registers`.
//!
//! Addresses are the tasks' own (tasks are linked at fixed, distinct
//! addresses), so an address names its task; a symbol is looked up in
//! every task's ELF, and `-t` picks one when several tasks have it. Every
//! access is checked here against the task's regions for a clear error,
//! and again by the kernel.

use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use debug_protocol::registers::{Capture, STACK_PAINT};
use image_manifest::TaskEntry;

use crate::archive::Archive;
use crate::target::Target;

/// `readmem`'s default length, as Humility's.
pub const DEFAULT_LEN: u64 = 256;

/// Largest `readmem`: a task's whole RAM is far less.
pub const MAX_LEN: u64 = 16 << 20;

/// How `readmem` groups bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Byte,
    /// 32 bits.
    Word,
    /// 64 bits.
    Long,
}

impl Unit {
    fn size(self) -> usize {
        match self {
            Self::Byte => 1,
            Self::Word => 4,
            Self::Long => 8,
        }
    }
}

/// An address the user gave, resolved: its task, and the symbol's size
/// if it was a symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub task: usize,
    pub address: u64,
    pub size: Option<u64>,
}

/// Parses `0x...` or decimal.
pub fn parse_number(text: &str) -> Option<u64> {
    let t = text.replace('_', "");
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

/// The task whose flash or RAM holds all of `[address, address + len)`.
fn task_holding(archive: &Archive, address: u64, len: u64) -> Option<usize> {
    archive.manifest.tasks.iter().position(|t| {
        t.flash.contains(address, len) || t.ram.contains(address, len)
    })
}

/// Resolves `what` (an address or a symbol) to a place; `task` narrows a
/// symbol to one task's ELF.
///
/// # Errors
///
/// An unknown symbol, a symbol several tasks have (without `task`), or
/// an address outside every task.
pub fn resolve(
    archive: &Archive,
    what: &str,
    task: Option<&str>,
    len: u64,
) -> Result<Place> {
    let only = match task {
        Some(name) => Some(usize::from(archive.task(name)?.index)),
        None => None,
    };
    if let Some(address) = parse_number(what) {
        let found = task_holding(archive, address, len.max(1));
        return match (found, only) {
            (Some(t), Some(o)) if t != o => bail!(
                "{address:#x}+{len:#x} is task {}'s, not {}'s",
                archive.task_name(t),
                archive.task_name(o)
            ),
            (Some(t), _) => Ok(Place {
                task: t,
                address,
                size: None,
            }),
            (None, _) => bail!(
                "{address:#x}+{len:#x} is outside every task's memory \
                 (`humility map` lists the regions)"
            ),
        };
    }
    let mut hits = Vec::new();
    for (i, _) in archive.manifest.tasks.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        if let Some(sym) = archive.elf(i)?.symbol(what) {
            hits.push(Place {
                task: i,
                address: sym.address,
                size: Some(sym.size),
            });
        }
    }
    match hits.len() {
        0 => bail!("no symbol {what:?} in any task (or not an address)"),
        1 => Ok(hits.remove(0)),
        _ => {
            let names: Vec<String> =
                hits.iter().map(|p| archive.task_name(p.task)).collect();
            bail!(
                "{what:?} is in several tasks ({}); pick one with -t",
                names.join(", ")
            )
        }
    }
}

/// `humility readmem`: `len` bytes (default: the symbol's size, else
/// [`DEFAULT_LEN`]) at `what`, as hex and ASCII.
///
/// # Errors
///
/// As [`resolve`], a length over [`MAX_LEN`] or not a multiple of the
/// unit, a range leaving the task's region, or the target's refusal.
pub fn readmem(
    archive: &Archive,
    target: &mut Target,
    what: &str,
    task: Option<&str>,
    len: Option<u64>,
    unit: Unit,
) -> Result<String> {
    let first = resolve(archive, what, task, len.unwrap_or(1))?;
    let len = len.or(first.size.filter(|&s| s > 0)).unwrap_or(DEFAULT_LEN);
    if len == 0 || len > MAX_LEN {
        bail!("length {len} is out of range (1 to {MAX_LEN})");
    }
    if !len.is_multiple_of(unit.size() as u64) {
        bail!(
            "length {len} is not a whole number of {}-byte units",
            unit.size()
        );
    }
    let entry = &archive.manifest.tasks[first.task];
    if !(entry.flash.contains(first.address, len)
        || entry.ram.contains(first.address, len))
    {
        bail!(
            "{:#x}+{len:#x} runs out of task {}'s {}",
            first.address,
            entry.name,
            region_name(entry, first.address)
        );
    }
    let bytes = target.read(archive, first.task, first.address, len)?;
    Ok(hexdump(first.address, &bytes, unit))
}

fn region_name(entry: &TaskEntry, address: u64) -> &'static str {
    if entry.ram.contains(address, 1) {
        "RAM"
    } else {
        "flash"
    }
}

/// Sixteen bytes a line: address, units (little-endian), ASCII.
pub fn hexdump(address: u64, bytes: &[u8], unit: Unit) -> String {
    let mut out = String::new();
    for (n, line) in bytes.chunks(16).enumerate() {
        let at = address + 16 * n as u64;
        let _ = write!(out, "{at:#010x}:");
        for u in line.chunks(unit.size()) {
            let mut v = [0u8; 8];
            v[..u.len()].copy_from_slice(u);
            let value = u64::from_le_bytes(v);
            let digits = 2 * u.len();
            let _ = write!(out, " {value:0digits$x}");
        }
        let pad = (16 - line.len()) / unit.size() * (2 * unit.size() + 1);
        let ascii: String = line
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        let _ = writeln!(out, "{:pad$}  |{ascii}|", "");
    }
    out
}

/// `humility writeword`: writes a 32-bit little-endian `value` at
/// `what`, which must be in a task's RAM.
///
/// # Errors
///
/// As [`resolve`]; flash; on a dump; the kernel's refusal.
pub fn writeword(
    archive: &Archive,
    target: &mut Target,
    what: &str,
    task: Option<&str>,
    value: &str,
) -> Result<String> {
    let value = parse_number(value)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| anyhow!("{value:?} is not a 32-bit number"))?;
    let place = resolve(archive, what, task, 4)?;
    let entry = &archive.manifest.tasks[place.task];
    if !entry.ram.contains(place.address, 4) {
        bail!(
            "{:#x} is in task {}'s flash, which cannot be written",
            place.address,
            entry.name
        );
    }
    target.write(place.task, place.address, &value.to_le_bytes())?;
    Ok(format!(
        "humility: wrote {value:#010x} at {:#x} ({})\n",
        place.address, entry.name
    ))
}

/// How deep a task's stack has been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackUse {
    pub size: u64,
    /// Bytes below the top that are no longer the paint.
    pub used: u64,
}

impl StackUse {
    pub fn margin(&self) -> u64 {
        self.size.saturating_sub(self.used)
    }

    /// Within 10% of overflowing.
    pub fn near_overflow(&self) -> bool {
        self.margin() * 10 < self.size
    }
}

/// Measures a stack from its contents (lowest address first): the lowest
/// word that is not [`STACK_PAINT`] is the deepest the stack has been.
pub fn stack_use(stack: &[u8]) -> StackUse {
    let paint = STACK_PAINT.to_le_bytes();
    let untouched =
        stack.chunks_exact(4).take_while(|w| *w == paint).count() as u64 * 4;
    StackUse {
        size: stack.len() as u64,
        used: stack.len() as u64 - untouched,
    }
}

/// Task `index`'s stack use.
///
/// # Errors
///
/// If its stack cannot be read.
pub fn task_stack_use(
    archive: &Archive,
    target: &mut Target,
    index: usize,
) -> Result<StackUse> {
    let e = archive
        .manifest
        .tasks
        .get(index)
        .ok_or_else(|| anyhow!("no task {index} in the image"))?;
    let stack = target.read(
        archive,
        index,
        u64::from(e.stack.base),
        u64::from(e.stack.size),
    )?;
    Ok(stack_use(&stack))
}

/// `humility stackmargin`: each task's stack size, deepest use and
/// margin.
///
/// # Errors
///
/// If a stack cannot be read.
pub fn stackmargin(archive: &Archive, target: &mut Target) -> Result<String> {
    let width = archive
        .manifest
        .tasks
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:>2} {:<width$} {:>8} {:>8} {:>8}\n",
        "ID", "TASK", "STACK", "DEEPEST", "MARGIN"
    );
    for (i, t) in archive.manifest.tasks.iter().enumerate() {
        let u = task_stack_use(archive, target, i)?;
        let warn = if u.near_overflow() {
            "  (within 10% of overflow)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{i:>2} {:<width$} {:>8} {:>8} {:>8}{warn}",
            t.name,
            u.size,
            u.used,
            u.margin()
        );
    }
    Ok(out)
}

/// `humility registers`: a task's registers (and with `stack`, its
/// trace).
///
/// # Errors
///
/// An unknown task, or registers the kernel cannot read.
pub fn registers(
    archive: &Archive,
    target: &mut Target,
    task: &str,
    stack: bool,
) -> Result<String> {
    let index = usize::from(archive.task(task)?.index);
    let regs = target.registers(index)?;
    let mut out = format_registers(&regs, "");
    if stack {
        let frames = crate::stack::trace_from(archive, target, index, &regs)?;
        out.push_str("stack:\n");
        out.push_str(&crate::stack::format_frames(&frames, "  "));
    }
    Ok(out)
}

/// Registers, four a line; the unknown ones as `-`.
pub fn format_registers(
    regs: &debug_protocol::Registers,
    indent: &str,
) -> String {
    let how = match regs.capture {
        Capture::Fault => "at the fault",
        Capture::Stopped => "stopped briefly to read",
        Capture::Syscall => {
            "waiting in a kernel call (- : not visible to the kernel there)"
        }
    };
    let mut out = format!("{indent}registers {how}:\n");
    let all: Vec<_> = regs.iter().collect();
    for line in all.chunks(4) {
        out.push_str(indent);
        for (name, value) in line {
            let v = match value {
                Some(v) => format!("{v:#018x}"),
                None => format!("{:>18}", "-"),
            };
            let _ = write!(out, " {name:>6} = {v}");
        }
        out.push('\n');
    }
    if let Some(a) = regs.fault_address {
        let _ = writeln!(out, "{indent}fault address: {a:#x}");
    }
    if let Some(s) = regs.signal {
        let _ = writeln!(out, "{indent}signal: {s}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_hex_or_decimal() {
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("0X1_0"), Some(16));
        assert_eq!(parse_number("16"), Some(16));
        assert_eq!(parse_number("x"), None);
        assert_eq!(parse_number("0xzz"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn the_deepest_use_is_the_lowest_unpainted_word() {
        let paint = STACK_PAINT.to_le_bytes();
        let mut stack: Vec<u8> = paint.repeat(256); // 1 KiB
        assert_eq!(stack_use(&stack).used, 0);
        stack[1000] = 0;
        let u = stack_use(&stack);
        assert_eq!((u.size, u.used, u.margin()), (1024, 24, 1000));
        assert!(!u.near_overflow());
        stack[40] = 1;
        assert_eq!(stack_use(&stack).used, 984);
        assert!(stack_use(&stack).near_overflow());
        assert_eq!(stack_use(&[]).used, 0);
    }

    #[test]
    fn hexdumps_show_units_little_endian_and_ascii() {
        let bytes = b"leasehold-debug!\x01\x02";
        let text = hexdump(0x1000, bytes, Unit::Word);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "0x00001000: 7361656c 6c6f6865 65642d64 21677562  \
             |leasehold-debug!|"
        );
        assert!(lines[1].starts_with("0x00001010: 0201"), "{}", lines[1]);
        assert!(lines[1].ends_with("|..|"), "{}", lines[1]);
        let b = hexdump(0, b"AB", Unit::Byte);
        assert!(b.starts_with("0x00000000: 41 42 "), "{b}");
    }
}
