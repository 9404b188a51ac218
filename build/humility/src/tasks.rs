//! `humility tasks`: the task table with Humility's state strings.
//!
//! ```text
//! ID TASK      GEN PRI STATE
//!  0 jefe        0   0 recv, notif: bit0(fault) bit1(timer)
//!  1 ice40       2   1 FAULT: killed by jefe/gen0 (was: recv)
//!  2 fpga_mgr    0   2 wait: reply from ice40/gen1
//!  3 hiffy       0   6 ready
//! ```

use std::fmt::Write as _;

use abi::{FaultInfo, FaultSource, SchedState, TaskId, TaskState};
use anyhow::Result;
use serde::Serialize;

use crate::archive::Archive;
use crate::output::Format;
use crate::target::{Target, TaskRow};

/// What `tasks` shows besides the table.
#[derive(Clone, Copy, Debug, Default)]
pub struct Show {
    /// Counts, notifications, timer, memory and registers.
    pub verbose: bool,
    /// Each task's stack trace.
    pub stack: bool,
}

/// The table; with `show.verbose`, each task's counts, pending
/// notifications, timer, memory and registers follow its row, and with
/// `show.stack` its stack trace. `only` limits it to one task. A task
/// within 10% of overflowing its stack is marked.
///
/// # Errors
///
/// If the task table cannot be read or holds an undecodable state, or
/// `only` names no task.
pub fn tasks(
    archive: &Archive,
    target: &mut Target,
    show: Show,
    only: Option<&str>,
) -> Result<String> {
    let only = match only {
        Some(name) => Some(usize::from(archive.task(name)?.index)),
        None => None,
    };
    let rows = target.tasks()?;
    let now = target.uptime_ms();
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:>2} {:<width$} {:>3} {:>3} STATE\n",
        "ID", "TASK", "GEN", "PRI"
    );
    for row in rows.iter().filter(|r| only.is_none_or(|o| o == r.index)) {
        let mut text = state_text(archive, target, row, now)?;
        if let Ok(u) = crate::memory::task_stack_use(archive, target, row.index)
            && u.near_overflow()
        {
            let _ = write!(
                text,
                " [stack {} of {} bytes used: within 10% of overflow]",
                u.used, u.size
            );
        }
        let _ = writeln!(
            out,
            "{:>2} {:<width$} {:>3} {:>3} {text}",
            row.index, row.name, row.generation, row.priority
        );
        if show.verbose {
            out.push_str(&details(archive, row, now));
        }
        if show.verbose || show.stack {
            out.push_str(&machine_state(archive, target, row.index, show));
        }
    }
    Ok(out)
}

/// The STATE column: the state, with a panicked task's message.
fn state_text(
    archive: &Archive,
    target: &mut Target,
    row: &TaskRow,
    now: u64,
) -> Result<String> {
    let state = row.decode_state()?;
    Ok(match (&state, panic_message(archive, target, row)) {
        (TaskState::Faulted { original_state, .. }, Some(msg)) => format!(
            "FAULT: panicked: {msg} (was: {})",
            sched_string(archive, original_state, row, now)
        ),
        _ => state_string(archive, &state, row, now),
    })
}

/// One task, as `tasks -o json|csv` gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskRecord {
    pub index: usize,
    pub name: String,
    pub generation: u8,
    pub priority: u8,
    /// As the table's STATE column (without the stack warning, which
    /// `stack_used` and `stack_size` carry).
    pub state: String,
    pub faulted: bool,
    pub syscalls: u64,
    /// Pending notification bits.
    pub notifications: u32,
    /// The timer's deadline, ms since boot.
    pub timer: Option<u64>,
    pub ram_base: u32,
    pub ram_size: u32,
    pub flash_base: u32,
    pub flash_size: u32,
    /// The deepest the stack has been, in bytes (from its paint).
    pub stack_used: Option<u64>,
    pub stack_size: Option<u64>,
}

/// `tasks -o json|csv [TASK]`: the table as records.
///
/// # Errors
///
/// As [`tasks`].
pub fn task_records(
    archive: &Archive,
    target: &mut Target,
    only: Option<&str>,
    format: Format,
) -> Result<String> {
    let only = match only {
        Some(name) => Some(usize::from(archive.task(name)?.index)),
        None => None,
    };
    let rows = target.tasks()?;
    let now = target.uptime_ms();
    let mut records = Vec::new();
    for row in rows.iter().filter(|r| only.is_none_or(|o| o == r.index)) {
        let state = state_text(archive, target, row, now)?;
        let stack = crate::memory::task_stack_use(archive, target, row.index);
        records.push(TaskRecord {
            index: row.index,
            name: row.name.clone(),
            generation: row.generation,
            priority: row.priority,
            faulted: matches!(row.decode_state()?, TaskState::Faulted { .. }),
            state,
            syscalls: row.syscalls,
            notifications: row.notifications,
            timer: row.timer,
            ram_base: row.ram.base,
            ram_size: row.ram.size,
            flash_base: row.flash.base,
            flash_size: row.flash.size,
            stack_used: stack.as_ref().ok().map(|u| u.used),
            stack_size: stack.as_ref().ok().map(|u| u.size),
        });
    }
    crate::output::render(format, &records)
}

/// Registers (`-v`) and the stack trace (`-s`) of one task, or why they
/// cannot be had (a task that is not running has neither).
fn machine_state(
    archive: &Archive,
    target: &mut Target,
    index: usize,
    show: Show,
) -> String {
    let regs = match target.registers(index) {
        Ok(r) => r,
        Err(e) => return format!("     (no registers: {e:#})\n"),
    };
    let mut out = String::new();
    if show.verbose {
        out.push_str(&crate::memory::format_registers(&regs, "     "));
    }
    if show.stack {
        match crate::stack::trace_from(archive, target, index, &regs) {
            Ok(frames) => {
                out.push_str(&crate::stack::format_frames(&frames, "     "))
            }
            Err(e) => {
                let _ = writeln!(out, "     (no stack trace: {e:#})");
            }
        }
    }
    out
}

/// The message of a task that panicked, on one line, if the kernel says
/// where it is and it can still be read.
pub fn panic_message(
    archive: &Archive,
    target: &mut Target,
    row: &TaskRow,
) -> Option<String> {
    let at = row.panic?;
    let bytes = target
        .read(
            archive,
            row.index,
            u64::from(at.address),
            u64::from(at.length),
        )
        .ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let words: Vec<&str> = text.split_whitespace().collect();
    Some(words.join(" ")).filter(|m| !m.is_empty())
}

/// The extra lines `-v` prints under a task.
fn details(archive: &Archive, row: &TaskRow, now: u64) -> String {
    let mut out = String::new();
    let entry = archive.manifest.tasks.get(row.index);
    let _ = writeln!(out, "     syscalls: {}", row.syscalls);
    if row.notifications != 0 {
        let _ = writeln!(
            out,
            "     pending notifications: {}",
            bits(archive, row, row.notifications, now)
        );
    }
    if let Some(deadline) = row.timer {
        let _ = writeln!(out, "     timer: {}", relative(deadline, now));
    }
    if let Some(e) = entry {
        let _ = writeln!(
            out,
            "     flash {:#010x}+{:#x}, ram {:#010x}+{:#x} (stack {:#x})",
            e.flash.base, e.flash.size, e.ram.base, e.ram.size, e.stack.size
        );
    }
    out
}

/// `T+71` for a deadline 71 ms away, `T-5` for one 5 ms past.
fn relative(deadline: u64, now: u64) -> String {
    if deadline >= now {
        format!("T+{}", deadline - now)
    } else {
        format!("T-{}", now - deadline)
    }
}

/// The state column: `ready`, `recv, notif: ...`, `wait: reply from
/// x/gen1`, `FAULT: <why> (was: <state>)`, `stopped`.
pub fn state_string(
    archive: &Archive,
    state: &TaskState,
    row: &TaskRow,
    now: u64,
) -> String {
    match state {
        TaskState::Healthy(s) => sched_string(archive, s, row, now),
        TaskState::Faulted {
            fault,
            original_state,
        } => format!(
            "FAULT: {} (was: {})",
            fault_string(archive, fault),
            sched_string(archive, original_state, row, now)
        ),
    }
}

fn sched_string(
    archive: &Archive,
    s: &SchedState,
    row: &TaskRow,
    now: u64,
) -> String {
    match s {
        SchedState::Stopped => "stopped".into(),
        SchedState::Runnable => "ready".into(),
        SchedState::InSend(t) => {
            format!("wait: send to {}", task_name(archive, *t))
        }
        SchedState::InReply(t) => {
            format!("wait: reply from {}", task_name(archive, *t))
        }
        SchedState::InRecv(from) => {
            let mut s = match from {
                Some(t) if *t != TaskId::KERNEL => {
                    format!("recv from {}", task_name(archive, *t))
                }
                Some(_) => "notif".into(),
                None => "recv".into(),
            };
            if let Some(mask) = row.recv_mask.filter(|m| *m != 0) {
                // A closed RECV from the kernel waits only for these.
                let sep = if s == "notif" { ": " } else { ", notif: " };
                let _ = write!(s, "{sep}{}", bits(archive, row, mask, now));
            }
            s
        }
    }
}

/// `bit0(fault) bit1(timer T+71)`: each set bit with its app.toml name,
/// and when the timer posts it, when.
fn bits(archive: &Archive, row: &TaskRow, mask: u32, now: u64) -> String {
    let names = archive
        .manifest
        .tasks
        .get(row.index)
        .map(|t| t.notifications.as_slice())
        .unwrap_or(&[]);
    (0..32)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| {
            let name = names.get(b).map(String::as_str).unwrap_or(if b == 31 {
                "sleep"
            } else {
                ""
            });
            match (name, row.timer) {
                ("", _) => format!("bit{b}"),
                (n, Some(d)) if n.contains("timer") || b == 31 => {
                    format!("bit{b}({n} {})", relative(d, now))
                }
                (n, _) => format!("bit{b}({n})"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `fpga_mgr/gen3`, or `kernel`.
pub fn task_name(archive: &Archive, t: TaskId) -> String {
    if t == TaskId::KERNEL {
        return "kernel".into();
    }
    format!(
        "{}/gen{}",
        archive.task_name(t.index()),
        t.generation().get()
    )
}

/// What happened, in Humility's words where Humility has words for it.
pub fn fault_string(archive: &Archive, fault: &FaultInfo) -> String {
    let source = |s: &FaultSource| match s {
        FaultSource::User => "",
        FaultSource::Kernel => " in kernel",
    };
    let at = |a: &Option<u32>| match a {
        Some(a) => format!("(precise: {a:#x})"),
        None => "(imprecise)".into(),
    };
    match fault {
        FaultInfo::MemoryAccess { address, source: s } => {
            format!("mem fault {}{}", at(address), source(s))
        }
        FaultInfo::StackOverflow { address } => {
            format!("stack overflow; sp={address:#x}")
        }
        FaultInfo::BusError { address, source: s } => {
            format!("bus error {}{}", at(address), source(s))
        }
        FaultInfo::DivideByZero => "divide by zero".into(),
        FaultInfo::IllegalText => "illegal text".into(),
        FaultInfo::IllegalInstruction => "illegal instruction".into(),
        FaultInfo::InvalidOperation(bits) => {
            format!("invalid operation ({bits:#x})")
        }
        FaultInfo::SyscallUsage(e) => format!("in syscall: {e:?}"),
        FaultInfo::Panic => "panicked".into(),
        FaultInfo::Injected(by) => {
            format!("killed by {}", task_name(archive, *by))
        }
        FaultInfo::FromServer(server, reason) => format!(
            "reply fault from {}: {reason:?}",
            task_name(archive, *server)
        ),
        FaultInfo::HostSyscall { number, pc } => {
            format!("forbidden host syscall {number} at {pc:#x}")
        }
        FaultInfo::HostSignal { signal } => {
            format!("host signal {signal}{}", signal_name(*signal))
        }
    }
}

fn signal_name(signal: u32) -> &'static str {
    match signal {
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        8 => " (SIGFPE)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        31 => " (SIGSYS)",
        _ => "",
    }
}
