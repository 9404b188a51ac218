//! The checks that compare tasks with each other, and the placement of
//! measured tasks.
//!
//! The priority rules are Hubris's (`check_task_priorities` in its xtask)
//! and exist for the same reason: a task may only send to a strictly more
//! important task, so a chain of sends always moves up in priority and the
//! scheduler can never be made to wait on a less important task. That
//! needs the supervisor at the top and `idle` at the bottom.

use std::collections::HashMap;

use crate::config::{Peripheral, Task};
use crate::error::{ConfigError, Reporter};
use crate::layout::{
    self, Memory, MemoryMap, Need, PlaceError, TaskLayout, TaskUsage,
};

/// The task that runs when nothing else can.
pub const IDLE_TASK: &str = "idle";

/// The supervisor's first notification: the kernel posts bit 0 to task 0
/// on every fault (`abi::FAULT_NOTIFICATION`).
pub const FAULT_NOTIFICATION_NAME: &str = "fault";

/// Task 0 is the supervisor: priority 0, which no one else may have, and
/// `fault` as its first notification.
pub(crate) fn check_supervisor(
    r: Reporter,
    tasks: &[Task],
) -> Result<(), ConfigError> {
    let Some(sup) = tasks.first() else {
        return Err(r.error(
            "tasks",
            "no tasks; the first [tasks.*] table is the supervisor",
        ));
    };
    if sup.priority != 0 {
        return Err(r.error(
            format!("tasks.{}.priority", sup.name),
            format!(
                "the supervisor (task 0) must have priority 0, not {}",
                sup.priority
            ),
        ));
    }
    if let Some(t) = tasks.iter().skip(1).find(|t| t.priority == 0) {
        return Err(r.error(
            format!("tasks.{}.priority", t.name),
            format!(
                "priority 0 is reserved for the supervisor (task 0, {})",
                sup.name
            ),
        ));
    }
    if sup.notifications.first().map(String::as_str)
        != Some(FAULT_NOTIFICATION_NAME)
    {
        return Err(r.error(
            format!("tasks.{}.notifications", sup.name),
            "the supervisor's first notification must be \"fault\" (the \
             kernel posts bit 0 to it on every fault)",
        ));
    }
    Ok(())
}

/// `idle` exists and every other task is strictly more important.
pub(crate) fn check_idle(
    r: Reporter,
    tasks: &[Task],
) -> Result<(), ConfigError> {
    let Some(idle) = tasks.iter().find(|t| t.name == IDLE_TASK) else {
        return Err(r.error(
            "tasks",
            "no task named \"idle\"; every image needs one, less important \
             than all others, to run when nothing else can",
        ));
    };
    for t in tasks.iter().filter(|t| t.index != idle.index) {
        if t.priority >= idle.priority {
            return Err(r.error(
                format!("tasks.{}.priority", t.name),
                format!(
                    "priority {} is not more important than idle's ({}); \
                     every other task needs a numerically lower priority",
                    t.priority, idle.priority
                ),
            ));
        }
    }
    Ok(())
}

/// Every slot's callee is strictly more important than its caller.
pub(crate) fn check_slot_priorities(
    r: Reporter,
    tasks: &[Task],
) -> Result<(), ConfigError> {
    for caller in tasks {
        for slot in &caller.task_slots {
            let Some(callee) = tasks.get(slot.task) else {
                continue; // resolved from the same list; cannot happen
            };
            if callee.priority >= caller.priority {
                return Err(r.error(
                    format!("tasks.{}.task-slots", caller.name),
                    format!(
                        "priority inversion: task {} (priority {}) calls {} \
                         (priority {})",
                        caller.name,
                        caller.priority,
                        callee.name,
                        callee.priority
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// An IRQ posts to one task; two owners would race to re-arm it.
pub(crate) fn check_irqs_routed_once(
    r: Reporter,
    tasks: &[Task],
    peripherals: &[Peripheral],
) -> Result<(), ConfigError> {
    let mut owner: HashMap<(usize, &str), &str> = HashMap::new();
    for t in tasks {
        for irq in &t.interrupts {
            let line = (irq.peripheral, irq.line.as_str());
            if let Some(first) = owner.insert(line, &t.name) {
                let periph = peripherals
                    .get(irq.peripheral)
                    .map_or("?", |p| p.name.as_str());
                return Err(r.error(
                    format!(
                        "tasks.{}.interrupts.\"{periph}.{}\"",
                        t.name, irq.line
                    ),
                    format!("already routed to task {first}"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks each task's measured use against its caps, then places every
/// task in the board's memory, reporting the first that does not fit.
pub(crate) fn place(
    r: Reporter,
    map: &MemoryMap,
    tasks: &[Task],
    usage: &[TaskUsage],
) -> Result<Vec<TaskLayout>, ConfigError> {
    if usage.len() != tasks.len() {
        return Err(r.error(
            "tasks",
            format!(
                "{} tasks but {} measurements (a bug in the build)",
                tasks.len(),
                usage.len()
            ),
        ));
    }
    for (t, used) in tasks.iter().zip(usage) {
        for (memory, used, cap) in [
            (Memory::Flash, used.flash, t.max_flash),
            (Memory::Ram, used.ram, t.max_ram),
        ] {
            if let Some(cap) = cap
                && used > u64::from(cap)
            {
                let what = memory.key();
                return Err(r.error(
                    format!("tasks.{}.max-sizes.{what}", t.name),
                    format!(
                        "task {} needs {used} bytes of {what}, over its \
                         cap of {cap}",
                        t.name
                    ),
                ));
            }
        }
    }
    let needs: Vec<Need> = tasks
        .iter()
        .zip(usage)
        .map(|(t, &usage)| Need {
            usage,
            stack: t.stacksize,
        })
        .collect();
    layout::place(map, &needs).map_err(|e| place_error(r, map, tasks, e))
}

fn place_error(
    r: Reporter,
    map: &MemoryMap,
    tasks: &[Task],
    e: PlaceError,
) -> ConfigError {
    let name = |index: usize| tasks.get(index).map_or("?", |t| t.name.as_str());
    match e {
        PlaceError::TooBig {
            index,
            memory,
            used,
        } => r.error(
            format!("tasks.{}", name(index)),
            format!(
                "task {} needs {used} bytes of {}: no region of the board \
                 is that large",
                name(index),
                memory.key()
            ),
        ),
        PlaceError::NoRoom {
            index,
            memory,
            size,
            base,
            end,
        } => {
            let area = match memory {
                Memory::Flash => map.flash,
                Memory::Ram => map.ram,
            };
            let what = memory.key();
            r.error(
                format!("tasks.{}", name(index)),
                format!(
                    "task {}'s {what} region ({size} bytes: {}) would be \
                     {base:#x}..{end:#x}, past the end of the board's {what} \
                     area {:#x}..{:#x}; make the tasks smaller or fewer",
                    name(index),
                    map.rule.describe(),
                    area.base,
                    area.end
                ),
            )
        }
    }
}
