//! Dump files: every task's RAM and the task table, plus the image's
//! identity, in one zip (`dump.json` and `ram/<index>.bin`).
//!
//! Flash is not dumped: it is in the image archive, which a dump is always
//! read together with (humility checks the image id matches).

use crate::memory::HostPlatform;
use abi::{FaultInfo, PANIC_MESSAGE_MAX, SchedState, TaskState};
use anyhow::{Context, Result};
use image_manifest::ImageManifest;
use kern::Task;
use serde_json::json;
use std::io::Write;

/// Format tag, so a reader can refuse something else.
pub const FORMAT: &str = "leasehold-dump-1";

pub fn task_table_json(m: &ImageManifest, tasks: &[Task]) -> serde_json::Value {
    let rows: Vec<_> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let e = &m.tasks[i];
            let mut row = json!({
                "index": i,
                "name": e.name,
                "generation": t.generation().get(),
                "priority": t.desc.priority,
                "state": crate::probe::hex(&t.state().encode()),
                "syscalls": t.syscall_count(),
                "notifications": t.notifications(),
                "timer": t.timer().0,
                "ram": { "base": e.ram.base, "size": e.ram.size },
                "flash": { "base": e.flash.base, "size": e.flash.size },
            });
            // What a debugger cannot work out from the state alone, from
            // the arguments of the task's last syscall (kept until it runs
            // again, or is restarted):
            match t.state() {
                // The RECV's notification mask: what would wake it.
                TaskState::Healthy(SchedState::InRecv(_)) => {
                    row["recv_mask"] = t.save.args[2].into();
                }
                // Where its panic message is: the kernel copied it, but
                // the copy is the kernel's; the original stays in the
                // task's RAM (and so in dumps) until the restart.
                TaskState::Faulted {
                    fault: FaultInfo::Panic,
                    ..
                } => {
                    let len = t.save.args[1].min(PANIC_MESSAGE_MAX as u32);
                    row["panic"] =
                        json!({ "address": t.save.args[0], "length": len });
                }
                _ => {}
            }
            row
        })
        .collect();
    json!(rows)
}

/// Writes a dump to `path` (through a temporary file, so a reader never
/// sees half a dump).
pub fn write(
    path: &std::path::Path,
    m: &ImageManifest,
    tasks: &[Task],
    platform: &HostPlatform,
    reason: &str,
) -> Result<()> {
    let tmp = path.with_extension("partial");
    let file = std::fs::File::create(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    let header = json!({
        "format": FORMAT,
        "name": m.name,
        "image_id": format!("{:016x}", m.image_id),
        "git_revision": m.git_revision,
        "uptime_ms": platform.boot.elapsed().as_millis() as u64,
        "reason": reason,
        "tasks": task_table_json(m, tasks),
    });
    zip.start_file("dump.json", opts)?;
    zip.write_all(serde_json::to_string_pretty(&header)?.as_bytes())?;
    for (i, mem) in platform.memory.iter().enumerate() {
        zip.start_file(format!("ram/{i}.bin"), opts)?;
        zip.write_all(mem.ram.bytes())?;
    }
    zip.finish()?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
