//! Holding tasks and breakpoints, for a debugger on the probe
//! (`humility gdb`).
//!
//! Every task is a process we trace (`PTRACE_SEIZE`), so the kernel can
//! stop one without the others noticing:
//!
//! - *Holding* a task is `PTRACE_INTERRUPT` and keeping the stop it
//!   causes instead of continuing it. A task running its own code stops
//!   at once; one waiting in a kernel call (a seccomp notification we
//!   hold, whose wait is killable only) stops as soon as that call
//!   returns, so it runs none of its own code while held, and its peers
//!   see what they would see of any busy task: their calls to it wait.
//!   The kernel core is not told: the task is not faulted, keeps its
//!   generation, and its messages, notifications and timers arrive as
//!   usual.
//! - A *breakpoint* is an `int3` written into the task's text through
//!   `/proc/<pid>/mem` (Linux copies the page on write, so only that
//!   process sees it; our copy of flash, which the probe reads, keeps
//!   the original byte). A task reaching it gets `SIGTRAP`, which the
//!   event loop hands here first: the task is held at the breakpoint's
//!   address, with `rip` moved back onto it.
//! - *Releasing* a task held on a breakpoint steps over it: the original
//!   byte goes back, the task single-steps (`PTRACE_SINGLESTEP`), the
//!   `int3` is put back at the step's trap and the task continues.
//! - *Stepping* a held task is `PTRACE_SINGLESTEP` from its stop, and
//!   the task is held again at the step's trap.
//!
//! Holds and breakpoints belong to the probe connection that made them;
//! when it closes, they are lifted ([`Debugger::release_owner`]). A task
//! that restarts comes back unheld, with its breakpoints written into the
//! new process before it runs its first instruction of its own
//! ([`Debugger::started`]).
//!
//! The ptrace requests stay on `libc`: rustix does not wrap ptrace. Each
//! is a one-line `unsafe` call on our own tracee, with local buffers.

use debug_protocol::wire::{Hold, HoldReason};
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;

/// The x86 breakpoint instruction.
const INT3: u8 = 0xcc;

/// What a probe connection is called here (its epoll token).
pub type Owner = u64;

/// A breakpoint: the byte it replaced and who set it.
#[derive(Clone, Copy, Debug)]
struct Breakpoint {
    original: u8,
    owner: Owner,
}

#[derive(Default)]
struct TaskDebug {
    pid: Option<libc::pid_t>,
    hold: Option<(Owner, HoldReason, Option<u32>)>,
    /// The process sits in a ptrace stop that we keep.
    stopped: bool,
    /// A single step is under way: its trap is ours.
    stepping: bool,
    /// The step is over the breakpoint at this address: put it back at
    /// the step's trap.
    stepping_over: Option<u32>,
    breakpoints: BTreeMap<u32, Breakpoint>,
}

/// What the event loop should do with a ptrace stop it handed us.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// We keep it, or continued it: nothing more to do.
    Handled,
    /// Not ours: a fault or a signal as before.
    NotOurs,
}

/// Debug state of every task.
#[derive(Default)]
pub struct Debugger {
    tasks: Vec<TaskDebug>,
}

impl Debugger {
    pub fn new(tasks: usize) -> Self {
        Self {
            tasks: (0..tasks).map(|_| TaskDebug::default()).collect(),
        }
    }

    fn task(&mut self, i: usize) -> Result<&mut TaskDebug, String> {
        let n = self.tasks.len();
        self.tasks
            .get_mut(i)
            .ok_or_else(|| format!("no task {i} (the image has {n})"))
    }

    /// Task `i` runs as `pid` from now on, and has not yet run its own
    /// code: it starts unheld, with the breakpoints set in it.
    pub fn started(&mut self, i: usize, pid: libc::pid_t) {
        let Ok(t) = self.task(i) else { return };
        t.pid = Some(pid);
        t.hold = None;
        t.stopped = false;
        t.stepping = false;
        t.stepping_over = None;
        for &address in t.breakpoints.keys() {
            // A failure leaves that breakpoint without effect in this
            // incarnation; there is nobody to tell.
            let _ = poke(pid, address, INT3);
        }
    }

    /// Task `i`'s process is gone: so is its hold.
    pub fn gone(&mut self, i: usize) {
        if let Ok(t) = self.task(i) {
            t.pid = None;
            t.hold = None;
            t.stopped = false;
            t.stepping = false;
            t.stepping_over = None;
        }
    }

    /// Holds task `i` for `owner`.
    ///
    /// # Errors
    ///
    /// No such task, it has no process, another connection holds it, or
    /// Linux refuses.
    pub fn halt(&mut self, i: usize, owner: Owner) -> Result<(), String> {
        let t = self.task(i)?;
        let pid = t.pid.ok_or("the task is not running; it cannot be held")?;
        match t.hold {
            Some((o, ..)) if o != owner => {
                return Err("another debugger holds the task".into());
            }
            Some(_) => return Ok(()),
            None => {}
        }
        t.hold = Some((owner, HoldReason::Halted, None));
        if t.stopped || t.stepping {
            // Already stopped (or about to be, at its step's trap).
            return Ok(());
        }
        // Safety: PTRACE_INTERRUPT of our own tracee.
        if unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0) } != 0 {
            t.hold = None;
            return Err(format!(
                "cannot stop the task: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// Lets task `i` go on, if `owner` holds it.
    ///
    /// # Errors
    ///
    /// No such task, or another connection holds it. Releasing a task
    /// nobody holds is not an error.
    pub fn release(&mut self, i: usize, owner: Owner) -> Result<(), String> {
        let t = self.task(i)?;
        match t.hold {
            None => return Ok(()),
            Some((o, ..)) if o != owner => {
                return Err("another debugger holds the task".into());
            }
            Some(_) => {}
        }
        t.hold = None;
        if t.stopped {
            t.stopped = false;
            if let Some(pid) = t.pid {
                go_on(t, pid, false);
            }
        }
        // A task held while it waited in a kernel call and has not
        // stopped yet will: the event loop continues that stop when it
        // comes, as nobody holds it any more.
        Ok(())
    }

    /// Lets task `i`, which `owner` holds, execute one instruction and
    /// stop again (still held, as [`HoldReason::Step`]). A task held
    /// while it waits in a kernel call has that call as its instruction:
    /// it stops when the call returns.
    ///
    /// # Errors
    ///
    /// No such task, or `owner` does not hold it.
    pub fn step(&mut self, i: usize, owner: Owner) -> Result<(), String> {
        let t = self.task(i)?;
        match t.hold {
            Some((o, ..)) if o == owner => {}
            Some(_) => return Err("another debugger holds the task".into()),
            None => return Err("the task is not held; halt it first".into()),
        }
        t.hold = Some((owner, HoldReason::Step, None));
        if t.stopped {
            t.stopped = false;
            if let Some(pid) = t.pid {
                go_on(t, pid, true);
            }
        }
        Ok(())
    }

    /// Sets (`set`) or clears the breakpoint at `address` in task `i`.
    /// `original` is the byte there in the image.
    ///
    /// # Errors
    ///
    /// Setting one that is set, clearing one that is not, or Linux
    /// refusing the write.
    pub fn breakpoint(
        &mut self,
        i: usize,
        address: u32,
        original: u8,
        set: bool,
        owner: Owner,
    ) -> Result<(), String> {
        let t = self.task(i)?;
        if set {
            if t.breakpoints.contains_key(&address) {
                return Err(format!("a breakpoint is set at {address:#x}"));
            }
            if let Some(pid) = t.pid {
                poke(pid, address, INT3)?;
            }
            t.breakpoints
                .insert(address, Breakpoint { original, owner });
        } else {
            let Some(b) = t.breakpoints.remove(&address) else {
                return Err(format!("no breakpoint is set at {address:#x}"));
            };
            // While stepping over it, the original is in place already.
            if let Some(pid) = t.pid
                && t.stepping_over != Some(address)
            {
                poke(pid, address, b.original)?;
            }
        }
        Ok(())
    }

    /// Lifts every hold and breakpoint of `owner` (its connection closed).
    pub fn release_owner(&mut self, owner: Owner) {
        for i in 0..self.tasks.len() {
            let _ = self.release(i, owner);
            let theirs: Vec<(u32, u8)> = self.tasks[i]
                .breakpoints
                .iter()
                .filter(|(_, b)| b.owner == owner)
                .map(|(a, b)| (*a, b.original))
                .collect();
            for (address, original) in theirs {
                let _ = self.breakpoint(i, address, original, false, owner);
            }
        }
    }

    /// Every held task, as `owner` sees them.
    pub fn holds(&self, owner: Owner) -> Vec<Hold> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(task, t)| {
                let (o, reason, address) = t.hold?;
                Some(Hold {
                    task,
                    reason,
                    address,
                    stopped: t.stopped,
                    ours: o == owner,
                })
            })
            .collect()
    }

    /// A ptrace stop of task `i` (`status` as `waitid` gives it): ours
    /// if it is the stop a hold asked for, a breakpoint, or the end of a
    /// step over one.
    pub fn on_stop(&mut self, i: usize, pid: libc::pid_t, status: i32) -> Stop {
        let Ok(t) = self.task(i) else {
            return Stop::NotOurs;
        };
        if t.pid != Some(pid) {
            return Stop::NotOurs;
        }
        if status >> 8 == libc::PTRACE_EVENT_STOP {
            return t.on_event_stop(pid);
        }
        if status & 0x7f != libc::SIGTRAP {
            return Stop::NotOurs;
        }
        if t.stepping {
            t.stepping = false;
            if let Some(address) = t.stepping_over.take()
                && t.breakpoints.contains_key(&address)
            {
                let _ = poke(pid, address, INT3);
            }
            if t.hold.is_some() {
                t.stopped = true;
            } else {
                cont(pid);
            }
            return Stop::Handled;
        }
        let Some(mut regs) = getregs(pid) else {
            return Stop::NotOurs;
        };
        let at = regs.rip.wrapping_sub(1);
        let Ok(address) = u32::try_from(at) else {
            return Stop::NotOurs;
        };
        let Some(b) = t.breakpoints.get(&address).copied() else {
            return Stop::NotOurs;
        };
        regs.rip = at;
        // Safety: SETREGS of our tracee in a ptrace stop, from its own
        // registers with rip moved back onto the breakpoint.
        unsafe { libc::ptrace(libc::PTRACE_SETREGS, pid, 0, &regs) };
        // A hold already there (a halt that crossed the breakpoint) stays;
        // else the breakpoint's owner holds it.
        if t.hold.is_none() {
            t.hold = Some((b.owner, HoldReason::Breakpoint, Some(address)));
        }
        t.stopped = true;
        Stop::Handled
    }
}

impl TaskDebug {
    /// A `PTRACE_EVENT_STOP` (an interrupt's stop): ours if the task is
    /// held or stepping.
    fn on_event_stop(&mut self, pid: libc::pid_t) -> Stop {
        if self.stepping {
            // Someone stopped the task mid-step (a register read):
            // the step has not happened yet, so step again.
            // Safety: single-stepping our own stopped tracee.
            unsafe { libc::ptrace(libc::PTRACE_SINGLESTEP, pid, 0, 0) };
            return Stop::Handled;
        }
        if self.hold.is_some() {
            self.stopped = true;
            return Stop::Handled;
        }
        // Nobody holds it (any more): the event loop continues it.
        Stop::NotOurs
    }
}

/// Continues a stopped task, or makes it execute one instruction
/// (`step`); either way over a breakpoint under `rip`: a single step
/// with the original byte back, which the step's trap undoes.
fn go_on(t: &mut TaskDebug, pid: libc::pid_t, step: bool) {
    let on_breakpoint = getregs(pid)
        .and_then(|r| u32::try_from(r.rip).ok())
        .and_then(|a| t.breakpoints.get(&a).map(|b| (a, b.original)));
    if let Some((address, original)) = on_breakpoint
        && poke(pid, address, original).is_ok()
    {
        t.stepping_over = Some(address);
    }
    if step || t.stepping_over.is_some() {
        t.stepping = true;
        // Safety: single-stepping our own stopped tracee.
        unsafe { libc::ptrace(libc::PTRACE_SINGLESTEP, pid, 0, 0) };
    } else {
        cont(pid);
    }
}

fn cont(pid: libc::pid_t) {
    // Safety: continuing our own stopped tracee, with no signal.
    unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, 0) };
}

fn getregs(pid: libc::pid_t) -> Option<libc::user_regs_struct> {
    // Safety: GETREGS into a zeroed local struct of the right type.
    unsafe {
        let mut r: libc::user_regs_struct = std::mem::zeroed();
        (libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut r) == 0).then_some(r)
    }
}

/// Writes one byte of a task's text through `/proc/<pid>/mem` (which a
/// tracer may do to a running tracee, copying the page on write).
fn poke(pid: libc::pid_t, address: u32, byte: u8) -> Result<(), String> {
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/mem"))
        .map_err(|e| format!("cannot open the task's memory: {e}"))?;
    mem.write_all_at(&[byte], u64::from(address))
        .map_err(|e| format!("cannot write the breakpoint: {e}"))
}
