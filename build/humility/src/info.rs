//! `humility manifest` and `humility map`: what the archive says about the
//! image, with no system attached.

use std::fmt::Write as _;

use crate::archive::Archive;

/// The image and each task's configuration.
pub fn manifest(archive: &Archive) -> String {
    let m = &archive.manifest;
    let mut out = String::new();
    let _ = writeln!(out, "     archive => {}", archive.path().display());
    let _ = writeln!(out, "        name => {}", m.name);
    let _ = writeln!(out, "     version => {}", m.version);
    let _ = writeln!(out, "git revision => {}", m.git_revision);
    let _ = writeln!(out, "    image id => {}", archive.image_id());
    let _ = writeln!(out, "       board => {}", m.board);
    let _ = writeln!(
        out,
        "      kernel => features [{}]{}",
        m.kernel.features.join(", "),
        if m.kernel.dump_on_fault {
            ", dump on fault"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "       tasks => {}", m.tasks.len());
    for t in &m.tasks {
        let _ = writeln!(
            out,
            "{:>4} {} ({}), priority {}{}",
            t.index,
            t.name,
            t.crate_name,
            t.priority,
            if t.start { "" } else { ", not started at boot" }
        );
        let _ = writeln!(
            out,
            "       flash {:#x} bytes, ram {:#x} bytes (stack {:#x})",
            t.flash.size, t.ram.size, t.stack.size
        );
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        let slots = t
            .task_slots
            .iter()
            .map(|s| match archive.manifest.tasks.get(usize::from(s.task)) {
                Some(c) if c.name != s.name => {
                    format!("{} = {}", s.name, c.name)
                }
                _ => s.name.clone(),
            })
            .collect();
        let _ = writeln!(out, "       task-slots: {}", list(slots));
        let uses = t
            .uses
            .iter()
            .map(|&p| peripheral_name(archive, p))
            .collect();
        let _ = writeln!(out, "       uses: {}", list(uses));
        let notif = t
            .notifications
            .iter()
            .enumerate()
            .map(|(i, n)| format!("bit{i}({n})"))
            .collect();
        let _ = writeln!(out, "       notifications: {}", list(notif));
        for irq in &t.interrupts {
            let _ =
                writeln!(out, "       irq {} => mask {:#x}", irq.irq, irq.mask);
        }
        let _ = writeln!(out, "       kipc: {}", list(t.kipc.clone()));
        let _ = writeln!(out, "       features: {}", list(t.features.clone()));
        if !t.serves.is_empty() {
            let _ = writeln!(out, "       serves: {}", t.serves.join(", "));
        }
    }
    let _ = writeln!(out, " peripherals => {}", m.peripherals.len());
    for (i, p) in m.peripherals.iter().enumerate() {
        let managed = p
            .managed_by
            .map(|t| {
                format!(", managed by {}", archive.task_name(usize::from(t)))
            })
            .unwrap_or_default();
        let _ = writeln!(out, "{i:>4} {} ({}){managed}", p.name, p.model);
    }
    let _ = writeln!(out, "       blobs => {}", m.blobs.len());
    for b in &m.blobs {
        let _ =
            writeln!(out, "       {} ({} bytes, {})", b.name, b.size, b.path);
    }
    out
}

fn peripheral_name(archive: &Archive, index: u16) -> String {
    archive
        .manifest
        .peripherals
        .get(usize::from(index))
        .map_or_else(|| format!("peripheral{index}"), |p| p.name.clone())
}

/// Each task's memory ranges, lowest first, and its peripheral grants.
pub fn map(archive: &Archive) -> String {
    let mut rows: Vec<(u64, u64, &str, String)> = Vec::new();
    for t in &archive.manifest.tasks {
        let guard = abi::HOSTED_GUARD_SIZE;
        let ram = t.ram;
        let stack = t.stack;
        rows.push((
            t.flash.base.into(),
            t.flash.end(),
            "flash",
            t.name.clone(),
        ));
        rows.push((
            u64::from(ram.base.saturating_sub(guard)),
            u64::from(ram.base),
            "guard",
            t.name.clone(),
        ));
        rows.push((stack.base.into(), stack.end(), "stack", t.name.clone()));
        rows.push((stack.end(), ram.end(), "ram", t.name.clone()));
    }
    rows.retain(|r| r.1 > r.0);
    rows.sort_by_key(|r| r.0);
    let width = archive
        .manifest
        .tasks
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<6} {:>10} {:>10} {:>8} {:>3} {:<width$}\n",
        "DESC", "LOW", "HIGH", "SIZE", "ID", "TASK"
    );
    for (low, high, desc, task) in rows {
        let id = archive.manifest.task_by_name(&task).map_or(0, |t| t.index);
        let _ = writeln!(
            out,
            "{desc:<6} {low:#010x} {:#010x} {:>8x} {id:>3} {task:<width$}",
            high.saturating_sub(1),
            high - low
        );
    }
    let mut grants = String::new();
    for t in &archive.manifest.tasks {
        for &p in &t.uses {
            let model = archive
                .manifest
                .peripherals
                .get(usize::from(p))
                .map_or("?", |p| p.model.as_str());
            let _ = writeln!(
                grants,
                "{:<width$} {} ({model})",
                t.name,
                peripheral_name(archive, p)
            );
        }
    }
    if !grants.is_empty() {
        let _ = writeln!(out, "\n{:<width$} PERIPHERAL", "TASK");
        out.push_str(&grants);
    }
    out
}
