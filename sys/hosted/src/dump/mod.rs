//! Dump files: every task's RAM and the task table, plus the image's
//! identity (the format is [`debug_protocol::dump`]).
//!
//! A dump is the evidence of a failure, so writing one must never destroy
//! another, nor anything else:
//!
//! - The dump directory is opened once, at boot, and every file is made
//!   relative to that descriptor: replacing the directory by a link later
//!   changes nothing.
//! - Names are unique across boots: `<image>-<boot time>-<n>.dump`, and a
//!   name that is taken (an earlier run, another kernel) is skipped, never
//!   replaced. A debugger may name a dump, but only a plain file name in
//!   the dump directory ([`debug_protocol::is_dump_name`]).
//! - A dump is written to a temporary file made with `O_EXCL |
//!   O_NOFOLLOW` and mode 0600 (it holds every task's RAM), then moved to
//!   its name with `RENAME_NOREPLACE` (or link and unlink where the file
//!   system lacks it), so a reader never sees half a dump and nothing is
//!   overwritten.
//! - A task that crash-loops under a dump-on-fault policy would write a
//!   dump per fault, synchronously in the event loop: at most
//!   [`MAX_PER_TASK`] dumps are written because of any one task and
//!   [`MAX_PER_RUN`] in all; past that, the kernel says so on its log and
//!   skips the dump.

use crate::log::{RateLimit, klog};
use abi::{FaultInfo, PANIC_MESSAGE_MAX, SchedState, TaskState};
use anyhow::{Context, Result};
use debug_protocol::{PanicAt, Range, TaskRow};
use image_manifest::ImageManifest;
use kern::Task;
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Dumps written because of one task, per run.
pub const MAX_PER_TASK: u32 = 8;

/// Dumps written per run, whatever the cause.
pub const MAX_PER_RUN: u32 = 64;

/// Names tried before giving up (each taken by an earlier file).
const NAME_ATTEMPTS: u32 = 1000;

/// Why a dump is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Because of task `index` (a fault, or jefe's `dump_task`).
    Task(usize),
    /// A debugger asked.
    Debugger,
}

/// The dump directory and what this run has written to it.
pub struct DumpDir {
    dir: OwnedFd,
    /// For messages and answers: absolute.
    path: PathBuf,
    /// `<image>-<boot time>`.
    stem: String,
    /// The number the next automatic name tries.
    next: u64,
    per_task: Vec<u32>,
    total: u32,
    temp_serial: u64,
    skip_log: RateLimit,
}

impl DumpDir {
    /// Opens `dir` for the run of image `image` with `tasks` tasks.
    ///
    /// # Errors
    ///
    /// If `dir` cannot be opened as a directory.
    pub fn open(dir: &Path, image: &str, tasks: usize) -> Result<Self> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(dir, flags, Mode::empty())
            .with_context(|| format!("dump directory {}", dir.display()))?;
        let path =
            std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let stamp =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(['-', ':'], "");
        Ok(Self {
            dir: fd,
            path,
            stem: format!("{image}-{stamp}"),
            next: 1,
            per_task: vec![0; tasks],
            total: 0,
            temp_serial: 0,
            skip_log: RateLimit::new(10, 100),
        })
    }

    /// The directory, absolute.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a dump whose bytes `fill` produces, under `name` (a plain
    /// file name) or the next automatic name; returns its path.
    ///
    /// # Errors
    ///
    /// A one-line reason: over a cap (also logged), a bad or taken name,
    /// or a file-system error.
    pub fn write(
        &mut self,
        cause: Cause,
        name: Option<&str>,
        fill: impl FnOnce(std::fs::File) -> Result<()>,
    ) -> Result<PathBuf, String> {
        self.admit(cause)?;
        if let Some(n) = name
            && !debug_protocol::is_dump_name(n)
        {
            return Err(format!(
                "{n:?} is not a plain file name (letters, digits, '-', '_', \
                 '.'; dumps go only in {})",
                self.path.display()
            ));
        }
        let temp = self.create_temp().map_err(|e| format!("{e:#}"))?;
        let (temp_name, file) = temp;
        let placed = fill(file)
            .map_err(|e| format!("{e:#}"))
            .and_then(|()| self.place(&temp_name, name));
        if placed.is_err() {
            let _ =
                rustix::fs::unlinkat(&self.dir, &temp_name, AtFlags::empty());
        }
        let final_name = placed?;
        self.total = self.total.saturating_add(1);
        if let Cause::Task(i) = cause
            && let Some(n) = self.per_task.get_mut(i)
        {
            *n = n.saturating_add(1);
        }
        Ok(self.path.join(final_name))
    }

    /// The caps: `Err` (logged, rate-limited) when this dump is skipped.
    fn admit(&mut self, cause: Cause) -> Result<(), String> {
        let why = if self.total >= MAX_PER_RUN {
            format!("{MAX_PER_RUN} dumps already written this run")
        } else if let Cause::Task(i) = cause
            && self.per_task.get(i).is_some_and(|&n| n >= MAX_PER_TASK)
        {
            format!("{MAX_PER_TASK} dumps already written because of task {i}")
        } else {
            return Ok(());
        };
        if let Some(n) = self.skip_log.admit() {
            klog!("dump skipped: {why} (skip {})", n.saturating_add(1));
        }
        Err(format!("dump skipped: {why}"))
    }

    /// A new, empty, private temporary file in the directory.
    fn create_temp(&mut self) -> Result<(String, std::fs::File)> {
        let flags = OFlags::WRONLY
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC;
        for _ in 0..NAME_ATTEMPTS {
            self.temp_serial = self.temp_serial.wrapping_add(1);
            let name = format!(
                ".{}-{}-{}.partial",
                self.stem,
                std::process::id(),
                self.temp_serial
            );
            match rustix::fs::openat(
                &self.dir,
                &name,
                flags,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => return Ok((name, std::fs::File::from(fd))),
                Err(Errno::EXIST) => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "cannot create a file in {}",
                            self.path.display()
                        )
                    });
                }
            }
        }
        anyhow::bail!("no free temporary name in {}", self.path.display())
    }

    /// Moves the finished temporary file to its name without replacing
    /// anything; returns the name.
    fn place(
        &mut self,
        temp: &str,
        name: Option<&str>,
    ) -> Result<String, String> {
        if let Some(name) = name {
            return match self.rename_noreplace(temp, name) {
                Ok(()) => Ok(name.to_owned()),
                Err(Errno::EXIST) => Err(format!(
                    "{} already exists; a dump never replaces a file",
                    self.path.join(name).display()
                )),
                Err(e) => Err(format!("cannot write {name}: {e}")),
            };
        }
        for _ in 0..NAME_ATTEMPTS {
            let name = format!("{}-{}.dump", self.stem, self.next);
            self.next = self.next.saturating_add(1);
            match self.rename_noreplace(temp, &name) {
                Ok(()) => return Ok(name),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(format!("cannot write {name}: {e}")),
            }
        }
        Err(format!("no free dump name in {}", self.path.display()))
    }

    fn rename_noreplace(&self, from: &str, to: &str) -> Result<(), Errno> {
        let dir = self.dir.as_fd();
        match rustix::fs::renameat_with(
            dir,
            from,
            dir,
            to,
            RenameFlags::NOREPLACE,
        ) {
            // A file system without RENAME_NOREPLACE: a hard link also
            // fails rather than replace.
            Err(Errno::INVAL | Errno::NOSYS) => {
                rustix::fs::linkat(dir, from, dir, to, AtFlags::empty())?;
                let _ = rustix::fs::unlinkat(dir, from, AtFlags::empty());
                Ok(())
            }
            other => other,
        }
    }
}

/// The task table as the probe and dumps give it.
pub fn task_rows(m: &ImageManifest, tasks: &[Task]) -> Vec<TaskRow> {
    m.tasks
        .iter()
        .zip(tasks)
        .enumerate()
        .map(|(index, (e, t))| TaskRow {
            index,
            name: e.name.clone(),
            generation: t.generation().get(),
            priority: t.desc.priority,
            state: t.state().encode().to_vec().into(),
            syscalls: u64::from(t.syscall_count()),
            notifications: t.notifications(),
            timer: t.timer().0,
            ram: Range {
                base: e.ram.base,
                size: e.ram.size,
            },
            flash: Range {
                base: e.flash.base,
                size: e.flash.size,
            },
            recv_mask: recv_mask(t),
            panic: panic_at(t),
        })
        .collect()
}

/// What would wake a task in RECV: its RECV's notification mask, kept in
/// its saved arguments until it runs again.
fn recv_mask(t: &Task) -> Option<u32> {
    match t.state() {
        TaskState::Healthy(SchedState::InRecv(_)) => Some(t.save.args[2]),
        _ => None,
    }
}

/// Where a panicked task's message is: the kernel copied it, but the
/// original stays in the task's RAM (and so in dumps) until the restart.
fn panic_at(t: &Task) -> Option<PanicAt> {
    match t.state() {
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            ..
        } => Some(PanicAt {
            address: t.save.args[0],
            length: t.save.args[1].min(PANIC_MESSAGE_MAX as u32),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
