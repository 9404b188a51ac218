//! Reading a task's registers for the debugger and for dumps.
//!
//! Every task is a process we trace (`PTRACE_SEIZE`), but Linux hands out
//! a tracee's registers only while it sits in a ptrace stop, and our
//! tasks are almost always somewhere else: blocked in a kernel call (a
//! seccomp notification we hold; the wait is killable only, so no ptrace
//! stop can happen until we answer) or running their own code. So:
//!
//! - at a fault, the event loop sees the task's signal-delivery stop and
//!   records every register there ([`Registry::at_fault`]); the process is
//!   killed right after, and the record stays until the task restarts;
//! - a task blocked in a syscall is read through `/proc/<pid>/syscall`:
//!   `rip`, `rsp` and the argument registers, into which userlib's stub
//!   copies the callee-saved registers an unwinder needs
//!   ([`Capture::Syscall`]);
//! - a task running its own code is stopped with `PTRACE_INTERRUPT` and
//!   read with `PTRACE_GETREGS` ([`Capture::Stopped`]); the event loop
//!   lets it go when it reaps that stop, right after.
//!
//! A task that faults without a signal (a bad syscall, a panic, an
//! injected fault) is read the same way just before it is killed.
//!
//! `PTRACE_GETREGS` and `PTRACE_INTERRUPT` stay on `libc` (rustix does
//! not wrap ptrace); the wait for the interrupt's stop is rustix's.

use debug_protocol::registers::{Capture, RFLAGS, RIP, RSP, Registers};
use rustix::process::{Pid, WaitId, WaitIdOptions};
use std::time::{Duration, Instant};

/// How long a task we interrupted may take to stop. It stops at its next
/// instruction; only a process already dying takes longer.
const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// The registers of every task, as far as they can be read.
#[derive(Default)]
pub struct Registry {
    /// Task `i`'s current process.
    pids: Vec<Option<libc::pid_t>>,
    /// Task `i`'s registers at its fault, until it restarts.
    faults: Vec<Option<Registers>>,
}

impl Registry {
    pub fn new(tasks: usize) -> Self {
        Self {
            pids: vec![None; tasks],
            faults: vec![None; tasks],
        }
    }

    /// Task `i` now runs as `pid`; what was recorded at its last fault is
    /// history.
    pub fn started(&mut self, i: usize, pid: libc::pid_t) {
        if let Some(p) = self.pids.get_mut(i) {
            *p = Some(pid);
        }
        if let Some(f) = self.faults.get_mut(i) {
            *f = None;
        }
    }

    /// Task `i`'s process is gone (killed or exited).
    pub fn gone(&mut self, i: usize) {
        if let Some(p) = self.pids.get_mut(i) {
            *p = None;
        }
    }

    /// Task `i` faulted with a signal; its process is in a ptrace stop.
    pub fn at_fault(&mut self, i: usize, pid: libc::pid_t, siginfo: &[u8]) {
        let Some(mut regs) = getregs(pid, Capture::Fault) else {
            return;
        };
        let word = |at: usize| {
            siginfo.get(at..at + 8).map(|b| {
                let mut w = [0u8; 8];
                w.copy_from_slice(b);
                u64::from_le_bytes(w)
            })
        };
        regs.signal = siginfo
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        // `si_addr`, for the signals that have one.
        if matches!(
            regs.signal.map(|s| s as i32),
            Some(libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE)
        ) {
            regs.fault_address = word(16);
        }
        if let Some(f) = self.faults.get_mut(i) {
            *f = Some(regs);
        }
    }

    /// Task `i` faulted without a signal and is about to be killed: keep
    /// what can be read of it now (a signal fault was recorded already).
    pub fn before_kill(&mut self, i: usize) {
        if self.faults.get(i).is_some_and(Option::is_some) {
            return;
        }
        let Some(Some(pid)) = self.pids.get(i).copied() else {
            return;
        };
        if let Ok(regs) = read_live(pid)
            && let Some(f) = self.faults.get_mut(i)
        {
            *f = Some(regs);
        }
    }

    /// Task `i`'s registers: those of its fault if it is faulted, else
    /// read now.
    ///
    /// # Errors
    ///
    /// One line: the task has no process (it was never started, or is
    /// stopped), or Linux would not say.
    pub fn read(&self, i: usize, faulted: bool) -> Result<Registers, String> {
        if faulted {
            return self.faults.get(i).cloned().flatten().ok_or_else(|| {
                "the task faulted before its registers could be read".into()
            });
        }
        match self.pids.get(i).copied().flatten() {
            Some(pid) => read_live(pid),
            None => Err("the task is not running (never started, or \
                         stopped); it has no registers"
                .into()),
        }
    }

    /// Every task's registers, for a dump; `None` where there are none.
    pub fn all(&self, faulted: &[bool]) -> Vec<Option<Registers>> {
        (0..self.pids.len())
            .map(|i| {
                self.read(i, faulted.get(i).copied().unwrap_or(false)).ok()
            })
            .collect()
    }
}

/// A live task's registers: at its syscall if it is blocked in one, else
/// by stopping it for a moment.
fn read_live(pid: libc::pid_t) -> Result<Registers, String> {
    // Already in a ptrace stop (a fault the event loop has not reaped yet).
    if let Some(regs) = getregs(pid, Capture::Stopped) {
        return Ok(regs);
    }
    match proc_syscall(pid)? {
        Some(regs) => Ok(regs),
        None => interrupt_and_read(pid),
    }
}

/// `PTRACE_GETREGS`; `None` unless `pid` is our tracee in a ptrace stop.
fn getregs(pid: libc::pid_t, capture: Capture) -> Option<Registers> {
    // Safety: GETREGS into a zeroed local struct of the right type.
    let r = unsafe {
        let mut r: libc::user_regs_struct = std::mem::zeroed();
        if libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut r) != 0 {
            return None;
        }
        r
    };
    let mut regs = Registers::new(capture);
    let all = [
        r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9,
        r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.eflags,
    ];
    for (v, a) in regs.values.iter_mut().zip(all) {
        *v = Some(a);
    }
    Some(regs)
}

/// Parses `/proc/<pid>/syscall`: `None` if the task is not blocked in a
/// syscall (`running`, or `-1 sp pc` when it is not in one).
fn proc_syscall(pid: libc::pid_t) -> Result<Option<Registers>, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .map_err(|e| format!("cannot read the task's state: {e}"))?;
    Ok(parse_proc_syscall(&text))
}

/// The registers in a `/proc/<pid>/syscall` line: `nr a1 .. a6 sp pc`,
/// numbers in decimal (`nr`) and hex (the rest).
pub fn parse_proc_syscall(text: &str) -> Option<Registers> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 9 {
        return None;
    }
    let nr: i64 = fields[0].parse().ok()?;
    if nr < 0 {
        return None;
    }
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16);
    let mut v = [0u64; 8];
    for (slot, f) in v.iter_mut().zip(&fields[1..]) {
        *slot = hex(f).ok()?;
    }
    let mut regs = Registers::new(Capture::Syscall);
    // rdi, rsi, rdx, r10, r8, r9 carry: the frame, then what userlib's
    // stub copied in: rbp, rbx, r12, r13, r14.
    let r = &mut regs.values;
    r[0] = Some(nr as u64); // rax
    r[5] = Some(v[0]); // rdi
    r[6] = Some(v[1]); // rbp
    r[3] = Some(v[2]); // rbx
    r[12] = Some(v[3]); // r12
    r[13] = Some(v[4]); // r13
    r[14] = Some(v[5]); // r14
    r[RSP] = Some(v[6]);
    r[RIP] = Some(v[7]);
    let _ = RFLAGS; // unknown: the syscall instruction moved it into r11
    Some(regs)
}

/// Stops a task running its own code, reads it, and lets it go.
fn interrupt_and_read(pid: libc::pid_t) -> Result<Registers, String> {
    // Safety: PTRACE_INTERRUPT of our own tracee.
    if unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0) } != 0 {
        return Err(format!(
            "cannot stop the task: {}",
            std::io::Error::last_os_error()
        ));
    }
    let target = Pid::from_raw(pid).ok_or("no such task process")?;
    // `__WALL`: our children are tracees.
    let all = WaitIdOptions::from_bits_retain(libc::__WALL as u32);
    let options = WaitIdOptions::STOPPED
        | WaitIdOptions::EXITED
        | WaitIdOptions::NOHANG
        | WaitIdOptions::NOWAIT
        | all;
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        // Look without consuming: the stop may be another one (a fault),
        // which the event loop must still see.
        let event = match rustix::process::waitid(WaitId::Pid(target), options)
        {
            Ok(event) => event,
            Err(_) => return Err("the task's process is gone".into()),
        };
        if let Some(status) = event {
            if !status.trapped() {
                return Err("the task's process exited".into());
            }
            let Some(regs) = getregs(pid, Capture::Stopped) else {
                return Err("the task stopped but cannot be read".into());
            };
            // The stop is left for the event loop, which reaps it next
            // (SIGCHLD is queued) and lets the task go on, unless a
            // debugger holds it meanwhile (`debug`): continuing it here
            // would run a task that was just halted.
            return Ok(regs);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the task did not stop within {STOP_TIMEOUT:?}"
            ));
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_syscall_lines_give_the_stub_registers() {
        let r = parse_proc_syscall(
            "4097 0x2000ff00 0x2000ff40 0x0 0x5 0x6 0x7 0x2000fee8 0x101234\n",
        )
        .unwrap();
        assert_eq!(r.capture, Capture::Syscall);
        assert_eq!(r.named("rax"), Some(Some(4097)));
        assert_eq!(r.named("rdi"), Some(Some(0x2000_ff00)));
        assert_eq!(r.named("rbp"), Some(Some(0x2000_ff40)));
        assert_eq!(r.named("r14"), Some(Some(7)));
        assert_eq!(r.sp(), Some(0x2000_fee8));
        assert_eq!(r.pc(), Some(0x10_1234));
        assert_eq!(r.named("r15"), Some(None));
        for not_in_syscall in
            ["running\n", "-1 0x2000fee8 0x101234\n", "", "4097 zz"]
        {
            assert!(parse_proc_syscall(not_in_syscall).is_none());
        }
    }
}
