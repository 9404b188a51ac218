//! Spawning a task: a child process confined by seccomp, traced by us,
//! executing its ELF from a memfd, with its RAM memfd on fd 3.
//!
//! The parent's side is rustix throughout (memfd, pidfd, poll, `waitpid`)
//! but for two calls rustix has no safe form of: `fork` (rustix offers
//! only an unstable, `unsafe` raw fork) and `ptrace` ([`super::ptrace`]).
//! The child's side, between `fork` and `execveat`, is in
//! [`super::child`].
//!
//! A spawn does not wait for the child: its `execveat` reaches the
//! kernel's listener like any trap and is let through there
//! ([`crate::trap`]), so a child that never gets that far (stopped, or
//! killed by the host) holds up nothing but itself.

use super::{child, ptrace, zygote::Zygote};
use crate::seccomp;
use anyhow::{Context, Result};
use rustix::event::{PollFd, PollFlags, Timespec};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// How long a killed process may take to die when we must wait for it
/// (at shutdown). Far beyond what it takes on a loaded machine; what it
/// bounds is a process the host will not let die, which would otherwise
/// hang the kernel's exit.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits until `fd` is ready for `events` or `timeout` passes; `false`
/// on timeout. Only then may a blocking call on it follow.
fn wait_ready(fd: impl AsFd, events: PollFlags, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&fd, events)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) if left.is_zero() => return false,
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            // Ready, or hung up / in error: the call that follows reports
            // which, without blocking.
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
}

/// A running task process. Its trapped syscalls reach the kernel's one
/// listener, which tells them apart by `pid`.
pub struct Process {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
}

/// An ELF image in a memfd, executed with `execveat`: the task runs from
/// the archive's bytes without a file on disk.
pub fn elf_memfd(name: &str, elf: &[u8]) -> Result<OwnedFd> {
    use rustix::fs::MemfdFlags;
    let cname = std::ffi::CString::new(name).unwrap_or_default();
    let fd = rustix::fs::memfd_create(cname.as_c_str(), MemfdFlags::CLOEXEC)
        .context("memfd_create")?;
    let mut file = std::fs::File::from(fd);
    file.write_all(elf).context("writing task ELF")?;
    Ok(file.into())
}

/// Spawns a task process, traced by us: forked by the `zygote` (see
/// there why), then seized here, by the thread that will trace it. It is
/// stopped at its `execveat`, a trap the event loop lets through only
/// after this returns; it next traps at its `mmap` of RAM.
pub fn spawn(zygote: &Zygote, elf: &OwnedFd, ram: &OwnedFd) -> Result<Process> {
    let pid = zygote.fork(elf, ram)?;
    let pidfd = pidfd_open(pid)?;
    // Before its `execveat` is let through, so it runs none of its own
    // code untraced.
    if let Err(e) = ptrace::seize(pid) {
        kill_and_reap(pid, &pidfd);
        return Err(e);
    }
    super::slice::ask_for_a_short_slice(pid);
    Ok(Process { pid, pidfd })
}

/// Forks a child that confines itself and executes `elf` with `ram` as
/// its RAM: its pid. Runs on the zygote thread; the descriptors are the
/// process's, open for the call.
pub fn fork_task(elf: RawFd, ram: RawFd) -> std::io::Result<libc::pid_t> {
    let f2 = seccomp::confinement_filter();
    let kernel_pid = std::process::id() as libc::pid_t;
    // Safety: between fork and execveat the child calls only
    // async-signal-safe functions on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        let fds = child::Fds { elf, ram };
        // Safety: see above; `child::run` never returns.
        unsafe { child::run(kernel_pid, fds, &f2) }
    }
    Ok(pid)
}

/// A pidfd for our child `pid`: its exit wakes a wait, and signals
/// through it cannot reach a recycled pid.
fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid).context("pidfd_open")?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .context("pidfd_open")
}

/// Kills our child and reaps it, waiting at most [`CHILD_TIMEOUT`] for it
/// to die; `false` if it has not (the event loop reaps it when it does).
pub fn kill_and_reap(pid: libc::pid_t, pidfd: &OwnedFd) -> bool {
    use rustix::process::{Pid, Signal, WaitOptions};
    let _ = rustix::process::pidfd_send_signal(pidfd, Signal::KILL);
    // A pidfd becomes readable when its process exits.
    if !wait_ready(pidfd, PollFlags::IN, CHILD_TIMEOUT) {
        return false;
    }
    // Without blocking; `__WALL` because our children are tracees.
    let all = WaitOptions::from_bits_retain(libc::__WALL as u32);
    let reaped =
        rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::NOHANG | all);
    matches!(reaped, Ok(Some((p, _))) if p.as_raw_nonzero().get() == pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_that_never_becomes_ready_times_out() {
        // A pipe with its writer open never becomes readable, as a
        // pidfd whose process will not die.
        let (read, _write) = rustix::pipe::pipe().unwrap();
        assert!(!wait_ready(&read, PollFlags::IN, Duration::from_millis(20)));
    }

    #[test]
    fn a_hung_up_descriptor_is_ready_at_once() {
        let (read, write) = rustix::pipe::pipe().unwrap();
        drop(write);
        assert!(wait_ready(&read, PollFlags::IN, CHILD_TIMEOUT));
    }
}
