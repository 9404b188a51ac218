//! Where the host runs the event loop, the tasks and the hash engine's
//! worker while the engine hashes.
//!
//! The hosted board has two cores' worth of work during a hashed load:
//! the *chain* (the event loop and the tasks it serves, of which only
//! one runs at a time, each waking the next) and the engine's worker
//! ([`crate::engine`]), which hashes for milliseconds at a stretch. Left
//! to itself, Linux now and then wakes a member of the chain onto the
//! worker's CPU. There it waits for the worker's slice (`perf sched`:
//! up to 4 ms) while the other CPU idles, or the chain splits across both
//! CPUs and every IPC crosses between them. A 30 MiB hashed load then
//! took anything from 0 to 16 ms longer than the same load unhashed.
//!
//! So while a transfer is under way the loop holds the chain on the CPU
//! it is on, and the worker on the others ([`Placement::update`]); when
//! the last transfer ends, all of them go back to the CPUs the kernel was
//! given. That is one `sched_setaffinity` per task and thread at each
//! end of a transfer, nothing per trap. With one CPU (or `--one-cpu`)
//! there is nothing to split and nothing is done.
//!
//! Best effort throughout: an affinity the host refuses (a task that has
//! just died, a container's cpuset) leaves that thread where it is, which
//! costs time, never correctness.

use rustix::process::Pid;
use rustix::thread::CpuSet;

/// The CPUs the kernel may use, and which one the chain is held on.
pub struct Placement {
    /// The kernel process's CPUs at boot; `None` if fewer than two.
    allowed: Option<CpuSet>,
    /// The CPU the chain is held on while a transfer is under way.
    held: Option<usize>,
}

impl Placement {
    /// Reads the CPUs the kernel was given (after `--one-cpu` pinned it,
    /// if asked).
    pub fn new() -> Self {
        Self {
            allowed: kernel_cpus(),
            held: None,
        }
    }

    /// Holds or releases the chain as `hashing` (a transfer is under way)
    /// says, if that changed: `chain` lists the task processes (the
    /// calling thread, the loop, is held too) and `worker` is the
    /// engine's thread. Called before each wait, so a transfer started
    /// by a trap is placed before the loop waits for the next one.
    pub fn update(
        &mut self,
        hashing: bool,
        worker: Option<Pid>,
        chain: impl Iterator<Item = Pid>,
    ) {
        let Some(allowed) = &self.allowed else {
            return;
        };
        match (hashing, self.held) {
            (true, None) => {
                let Some(cpu) = current_cpu() else {
                    return;
                };
                let (only, others) = split(allowed, cpu);
                self.held = Some(cpu);
                set(None, &only);
                chain.for_each(|pid| set(Some(pid), &only));
                set(worker, &others);
            }
            (false, Some(_)) => {
                self.held = None;
                set(None, allowed);
                chain.for_each(|pid| set(Some(pid), allowed));
                set(worker, allowed);
            }
            _ => {}
        }
    }
}

/// `cpu` alone, and the rest of `allowed` (all of `allowed` if `cpu` is
/// its only member, so that nothing is ever left with no CPU).
pub fn split(allowed: &CpuSet, cpu: usize) -> (CpuSet, CpuSet) {
    let mut only = CpuSet::new();
    only.set(cpu);
    let mut others = CpuSet::new();
    for c in (0..CpuSet::MAX_CPU).filter(|&c| c != cpu && allowed.is_set(c)) {
        others.set(c);
    }
    if others.count() == 0 {
        others = *allowed;
    }
    (only, others)
}

/// Moves `pid` (the calling thread if `None`) onto `cpus`, if the host
/// lets us.
fn set(pid: Option<Pid>, cpus: &CpuSet) {
    let _ = rustix::thread::sched_setaffinity(pid, cpus);
}

/// The CPU this thread runs on, if the host says. No host syscall: glibc
/// asks the vDSO (or reads its `rseq` area where it has one).
pub fn current_cpu() -> Option<usize> {
    // Safety: no arguments; a negative answer is an error.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// The CPUs the calling thread may run on (the kernel's, read at boot
/// after `--one-cpu` pinned it, if asked); `None` if fewer than two,
/// where there is nothing to place.
pub fn kernel_cpus() -> Option<CpuSet> {
    rustix::thread::sched_getaffinity(None)
        .ok()
        .filter(|set| set.count() >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(list: &[usize]) -> CpuSet {
        let mut s = CpuSet::new();
        list.iter().for_each(|&c| s.set(c));
        s
    }

    fn members(s: &CpuSet) -> Vec<usize> {
        (0..CpuSet::MAX_CPU).filter(|&c| s.is_set(c)).collect()
    }

    #[test]
    fn the_chain_gets_one_cpu_and_the_worker_the_rest() {
        let (only, others) = split(&cpus(&[0, 1, 2, 3]), 2);
        assert_eq!(members(&only), [2]);
        assert_eq!(members(&others), [0, 1, 3]);
    }

    #[test]
    fn the_worker_only_goes_where_the_kernel_may() {
        // A cpuset of {1, 5}: the worker must not be sent to 0 or 2.
        let (only, others) = split(&cpus(&[1, 5]), 5);
        assert_eq!(members(&only), [5]);
        assert_eq!(members(&others), [1]);
    }

    #[test]
    fn a_lone_cpu_is_shared_rather_than_leaving_the_worker_none() {
        let (only, others) = split(&cpus(&[3]), 3);
        assert_eq!(members(&only), [3]);
        assert_eq!(members(&others), [3]);
    }

    /// On a host with one CPU, or under `--one-cpu`, nothing is held.
    #[test]
    fn one_cpu_holds_nothing() {
        let mut p = Placement {
            allowed: None,
            held: None,
        };
        p.update(true, None, std::iter::empty());
        assert_eq!(p.held, None);
    }

    /// Holding and releasing are transitions: a second `true` (or
    /// `false`) changes nothing, and release forgets the CPU.
    #[test]
    fn hold_then_release() {
        let Ok(mine) = rustix::thread::sched_getaffinity(None) else {
            return;
        };
        let mut p = Placement {
            allowed: Some(cpus(&[0, 1])),
            held: None,
        };
        p.update(true, None, std::iter::empty());
        let held = p.held;
        assert!(held.is_some());
        p.update(true, None, std::iter::empty());
        assert_eq!(p.held, held);
        p.update(false, None, std::iter::empty());
        assert_eq!(p.held, None);
        // Leave the test thread as it was.
        let _ = rustix::thread::sched_setaffinity(None, &mine);
    }
}
