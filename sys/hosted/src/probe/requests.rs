//! Answering one probe request against the running kernel.
//!
//! Every request is checked here before it touches anything: task
//! indices against the table, addresses against the task's regions, read
//! sizes against [`MAX_READ`], dump names against the dump directory. A
//! bad request gets a one-line refusal; nothing a client sends can reach
//! an `unwrap` or an unchecked index.

use crate::dump::Cause;
use crate::memory::HostPlatform;
use abi::{FaultInfo, InjectionAction, TaskId};
use debug_protocol::wire::{
    self, Done, DumpWritten, HoldTable, Identity, InjectAction, MAX_READ,
    MemoryData, Request, TaskTable, TraceEntries,
};
use debug_protocol::{HexBytes, TraceEntry};
use kern::Kernel;

type Kern<'k, 'a> = &'k mut Kernel<'a, HostPlatform>;

/// Answers one request line with one answer line; what the kernel core
/// decided on the way (a fault) is added to `effects` for the event loop
/// to carry out. `owner` is the connection asking: holds and breakpoints
/// are its own.
pub fn answer(
    k: Kern<'_, '_>,
    effects: &mut kern::Effects,
    owner: u64,
    line: &[u8],
) -> String {
    let request = match Request::parse(line) {
        Ok(r) => r,
        Err(why) => return wire::answer_line::<Done>(&Err(why)),
    };
    match request {
        Request::Identity => wire::answer_line(&Ok(identity(k))),
        Request::Tasks => wire::answer_line(&Ok(TaskTable {
            tasks: crate::dump::task_rows(
                &k.platform.manifest,
                k.tasks.as_slice(),
            ),
        })),
        Request::Read {
            task,
            address,
            length,
        } => wire::answer_line(&read(k, task, address, length)),
        Request::Write {
            task,
            address,
            data,
        } => wire::answer_line(&write(k, task, address, &data)),
        Request::Dump { name } => wire::answer_line(&dump(k, name.as_deref())),
        Request::Inject { task, nth, action } => {
            wire::answer_line(&inject(k, task, nth, action))
        }
        Request::Fault { task } => wire::answer_line(&fault(k, effects, task)),
        Request::Trace => wire::answer_line(&Ok(trace())),
        Request::Registers { task } => wire::answer_line(&registers(k, task)),
        Request::Halt { task } => wire::answer_line(&halt(k, owner, task)),
        Request::Release { task } => {
            let r = task_index(k, task)
                .and_then(|i| k.platform.debug.release(i, owner));
            wire::answer_line(&r.map(|()| Done {}))
        }
        Request::Step { task } => {
            let r = task_index(k, task)
                .and_then(|i| k.platform.debug.step(i, owner));
            wire::answer_line(&r.map(|()| Done {}))
        }
        Request::Breakpoint { address, set } => {
            wire::answer_line(&breakpoint(k, owner, address, set))
        }
        Request::Holds => wire::answer_line(&Ok(HoldTable {
            holds: k.platform.debug.holds(owner),
        })),
    }
}

/// Holds `task` for `owner` (stopping it where it is).
fn halt(k: Kern<'_, '_>, owner: u64, task: usize) -> Result<Done, String> {
    let i = task_index(k, task)?;
    k.platform.debug.halt(i, owner).map_err(|why| {
        format!("task {}: {why}", k.platform.manifest.tasks[i].name)
    })?;
    Ok(Done {})
}

/// A breakpoint goes in the text of the task whose flash has `address`
/// (tasks' flash never overlaps).
fn breakpoint(
    k: Kern<'_, '_>,
    owner: u64,
    address: u32,
    set: bool,
) -> Result<Done, String> {
    let p = &mut k.platform;
    let found = p.manifest.tasks.iter().enumerate().find_map(|(i, t)| {
        if !t.flash.contains(u64::from(address), 1) {
            return None;
        }
        let at = usize::try_from(address.checked_sub(t.flash.base)?).ok()?;
        Some((i, *p.memory.get(i)?.flash.get(at)?))
    });
    let Some((i, original)) = found else {
        return Err(format!("{address:#x} is not in any task's flash"));
    };
    p.debug
        .breakpoint(i, address, original, set, owner)
        .map(|()| Done {})
}

fn identity(k: Kern<'_, '_>) -> Identity {
    let m = &k.platform.manifest;
    Identity {
        name: m.name.clone(),
        image_id: format!("{:016x}", m.image_id),
        git_revision: m.git_revision.clone(),
        uptime_ms: millis(k.platform.boot.elapsed()),
        dump_dir: Some(k.platform.dumps.path().display().to_string()),
    }
}

/// A task index the image has.
fn task_index(k: Kern<'_, '_>, task: usize) -> Result<usize, String> {
    let n = k.tasks.len();
    if task < n {
        Ok(task)
    } else {
        Err(format!("no task {task} (the image has {n})"))
    }
}

/// A task the debugger may fault or inject into: not the supervisor,
/// whose death would take the system's recovery with it.
fn supervised_task(k: Kern<'_, '_>, task: usize) -> Result<usize, String> {
    match task_index(k, task)? {
        0 => Err("task 0 is the supervisor; it cannot be faulted".into()),
        i => Ok(i),
    }
}

fn read(
    k: Kern<'_, '_>,
    task: usize,
    address: u32,
    length: u32,
) -> Result<MemoryData, String> {
    let i = task_index(k, task)?;
    if length > MAX_READ {
        return Err(format!(
            "read of {length} bytes is too large (at most {MAX_READ} per \
             request)"
        ));
    }
    let bytes = k.platform.read_any(i, address, length)?;
    Ok(MemoryData {
        data: HexBytes(bytes),
    })
}

fn write(
    k: Kern<'_, '_>,
    task: usize,
    address: u32,
    data: &HexBytes,
) -> Result<Done, String> {
    let i = task_index(k, task)?;
    k.platform.write_ram(i, address, &data.0)?;
    Ok(Done {})
}

fn dump(k: Kern<'_, '_>, name: Option<&str>) -> Result<DumpWritten, String> {
    let path = k.platform.write_dump(
        k.tasks.as_slice(),
        Cause::Debugger,
        name,
        "requested by the debugger",
    )?;
    Ok(DumpWritten {
        path: path.display().to_string(),
    })
}

fn inject(
    k: Kern<'_, '_>,
    task: usize,
    nth: u32,
    action: InjectAction,
) -> Result<Done, String> {
    let i = supervised_task(k, task)?;
    let action = match action {
        InjectAction::Fault => InjectionAction::Fault,
        InjectAction::Restart => InjectionAction::Restart,
    };
    k.arm_injection(i, nth, action, TaskId::KERNEL);
    Ok(Done {})
}

fn fault(
    k: Kern<'_, '_>,
    effects: &mut kern::Effects,
    task: usize,
) -> Result<Done, String> {
    let i = supervised_task(k, task)?;
    effects.merge(k.fault(i, FaultInfo::Injected(TaskId::KERNEL)));
    Ok(Done {})
}

fn registers(
    k: Kern<'_, '_>,
    task: usize,
) -> Result<debug_protocol::Registers, String> {
    let i = task_index(k, task)?;
    let faulted = k.tasks.as_slice()[i].is_faulted();
    k.platform.registers.read(i, faulted).map_err(|why| {
        format!("task {}: {why}", k.platform.manifest.tasks[i].name)
    })
}

fn trace() -> TraceEntries {
    let entries = crate::trace::entries()
        .into_iter()
        .map(|(line, generation, count, event)| TraceEntry {
            line,
            generation,
            count,
            event,
        })
        .collect();
    TraceEntries { entries }
}

/// A duration in whole milliseconds, saturating (uptimes fit for 500
/// million years).
pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
