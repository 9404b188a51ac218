//! The process lifecycle: each task incarnation is one Linux process,
//! which the kernel spawns ([`spawn`]), traces ([`ptrace`]), kills and
//! reaps here; the [`zygote`] thread forks them. Each asks the host for
//! a short time slice ([`slice`] says why).
//!
//! The core decides *that* a task stops or restarts (see
//! [`crate::effects`]); this module is *how*: a killed process leaves
//! its slot at once (traps are matched to slots by pid, so nothing it did
//! last, such as a trap already on the listener, can be mistaken for its
//! successor's) and waits among the zombies until `SIGCHLD` lets us reap
//! it; until then its pid cannot be reused. A process that ends on its
//! own, or stops at a fault, is found the same way, through `SIGCHLD`.
//!
//! Host calls are rustix's (`pidfd_send_signal`, `waitpid`)
//! except ptrace and `sched_setattr`, which rustix does not offer
//! ([`ptrace`], [`slice`]), and the
//! child's set-up between `fork` and `execveat` ([`spawn`] says why).

mod child;
pub mod ptrace;
mod slice;
mod spawn;
pub mod zygote;

pub use spawn::{CHILD_TIMEOUT, Process, elf_memfd, kill_and_reap};

use crate::event_loop::{Hosted, Slot};
use crate::log::klog;
use crate::memory::HostPlatform;
use crate::{faults, trace};
use abi::FaultInfo;
use kern::Kernel;
use rustix::process::{Signal, WaitOptions, WaitStatus};

impl Hosted {
    /// Starts a process for task `i`, whose fresh RAM is in place; a
    /// spawn that fails faults the task.
    pub fn start(&mut self, k: &mut Kernel<'_, HostPlatform>, i: usize) {
        let name = self.manifest.tasks[i].name.clone();
        let ram = &k.platform.memory[i].ram.fd;
        let process = match spawn::spawn(&self.zygote, &self.elf_fds[i], ram) {
            Ok(p) => p,
            Err(e) => {
                klog!("task {name}: cannot start: {e:#}");
                self.effects
                    .merge(k.fault(i, FaultInfo::HostSignal { signal: 0 }));
                return;
            }
        };
        let generation = k.tasks.as_slice()[i].generation().get();
        let line = format!(
            "task {name} started (pid {}, gen {generation})",
            process.pid
        );
        self.log(i, &line);
        trace::record(trace::Trace::Started {
            task: i as u16,
            generation,
            pid: process.pid,
        });
        k.platform.registers.started(i, process.pid);
        self.slots[i] = Some(Slot {
            process,
            pending: None,
            frame: 0,
            exec_admitted: false,
            ram_mapped: false,
        });
    }

    /// Ends task `i`'s process, if it has one: out of its slot now,
    /// reaped when `SIGCHLD` says it has died.
    pub fn kill(&mut self, i: usize) {
        let Some(slot) = self.slots[i].take() else {
            return;
        };
        // Through the pidfd, so the signal cannot reach a recycled pid.
        let _ = rustix::process::pidfd_send_signal(
            &slot.process.pidfd,
            Signal::KILL,
        );
        trace::record(trace::Trace::Killed {
            task: i as u16,
            pid: slot.process.pid,
        });
        self.zombies.push(slot.process);
    }

    /// The task whose current process is `pid`.
    pub fn task_of_pid(&self, pid: libc::pid_t) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.process.pid == pid))
    }

    /// Collects every child event waiting: ptrace stops, and exits (of
    /// processes we killed, or of tasks that died on their own).
    pub fn reap(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        // `__WALL`: our children are tracees, whose events a plain wait
        // does not report. `UNTRACED` is `WSTOPPED`.
        let all = WaitOptions::from_bits_retain(libc::__WALL as u32);
        let options = WaitOptions::NOHANG | WaitOptions::UNTRACED | all;
        while let Ok(Some((pid, status))) = rustix::process::wait(options) {
            let pid = pid.as_raw_nonzero().get();
            if status.stopped() {
                // A tracee's stop: the signal, and a ptrace event above it
                // (`waitid`'s `si_status` of a `CLD_TRAPPED`).
                let signo = (status.as_raw() >> 8) & 0xFFFF;
                self.on_stop(k, pid, signo);
            } else {
                self.on_exit(k, pid, status);
            }
        }
    }

    /// Process `pid` is gone. If it was a task's current process and the
    /// core does not know it ended (it was not killed for a fault), its
    /// end is the task's fault.
    fn on_exit(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        pid: libc::pid_t,
        status: WaitStatus,
    ) {
        trace::record(trace::Trace::Reaped { pid });
        self.zombies.retain(|z| z.pid != pid);
        let Some(i) = self.task_of_pid(pid) else {
            return;
        };
        self.slots[i] = None;
        k.platform.registers.gone(i);
        k.platform.debug.gone(i);
        if !k.tasks.as_slice()[i].is_faulted() {
            let signal = status.terminating_signal().unwrap_or(0) as u32;
            self.effects
                .merge(k.fault(i, FaultInfo::HostSignal { signal }));
        }
    }

    /// A ptrace stop of `pid` with `signo` (the signal, and any ptrace
    /// event in the bits above it): the debugger's, a stray one to let
    /// go, or a fault, with its address.
    fn on_stop(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        pid: libc::pid_t,
        signo: i32,
    ) {
        let Some(i) = self.task_of_pid(pid) else {
            ptrace::cont(pid, 0); // let a stray tracee go on
            return;
        };
        if k.platform.debug.on_stop(i, pid, signo)
            == crate::debug::Stop::Handled
        {
            // A held task's stop, a breakpoint, or a step over one.
            return;
        }
        if signo >> 8 == libc::PTRACE_EVENT_STOP {
            // A stop the debugger's register read asked for and did not
            // collect itself (see `registers`), or a group stop: go on.
            ptrace::cont(pid, 0);
            return;
        }
        if !faults::is_fault_signal(signo & 0x7F) {
            // Resume it with the signal it was getting.
            ptrace::cont(pid, signo & 0x7F);
            return;
        }
        let (siginfo, rip) = ptrace::fault_record(pid);
        k.platform.registers.at_fault(i, pid, &siginfo);
        let f = faults::classify(&self.manifest.tasks[i], &siginfo, rip);
        self.effects.merge(k.fault(i, f));
    }

    /// Kills every task and reaps every process, so nothing outlives us.
    pub fn stop_all(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        if self.verbose {
            for (i, t) in k.tasks.iter().enumerate() {
                klog!(
                    "task {}: gen {}, {} syscalls, {:?}",
                    self.manifest.tasks[i].name,
                    t.generation().get(),
                    t.syscall_count(),
                    t.state()
                );
            }
        }
        for i in 0..self.slots.len() {
            self.kill(i);
        }
        for z in self.zombies.drain(..) {
            if !kill_and_reap(z.pid, &z.pidfd) {
                klog!(
                    "task process {} did not die within {:?}",
                    z.pid,
                    CHILD_TIMEOUT
                );
            }
        }
    }
}
