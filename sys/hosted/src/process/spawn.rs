//! Spawning a task: a child process confined by seccomp, traced by us,
//! executing its ELF from a memfd, with its RAM memfd on fd 3.
//!
//! The parent's side is rustix throughout (memfd, socket pair, pidfd,
//! `recvmsg` of the listener, poll, `waitpid`) but for two calls rustix
//! has no safe form of: `fork` (rustix offers only an unstable, `unsafe`
//! raw fork) and `ptrace` ([`super::ptrace`]). The child's side, between
//! `fork` and `execveat`, is in [`super::child`].

use super::{child, ptrace};
use crate::seccomp;
use anyhow::{Context, Result, bail};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use std::io::{IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long a new task may take to hand over its listener and reach its
/// `execveat`, and a killed process to die. Far beyond what either takes
/// on a loaded machine (a spawn is well under a millisecond); what it
/// bounds is a child stopped or killed at the wrong moment, which would
/// otherwise hang the whole kernel in a blocking wait.
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

/// A running task process.
pub struct Process {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
    /// The seccomp listener for this process's trapped syscalls.
    pub listener: OwnedFd,
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

/// Spawns a task process. On return it has passed `execveat` and will
/// next trap at its `mmap` of RAM.
pub fn spawn(elf: &OwnedFd, ram: &OwnedFd) -> Result<Process> {
    let (ours, theirs) = socket_pair()?;
    let f1 = seccomp::listener_filter();
    let f2 = seccomp::confinement_filter();
    let kernel_pid = std::process::id() as libc::pid_t;
    // Safety: between fork and execveat the child calls only
    // async-signal-safe functions on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context("fork");
    }
    if pid == 0 {
        let fds = child::Fds {
            elf: elf.as_raw_fd(),
            ram: ram.as_raw_fd(),
            sock: theirs.as_raw_fd(),
        };
        // Safety: see above; `child::run` never returns.
        unsafe { child::run(kernel_pid, fds, &f1, &f2) }
    }
    drop(theirs);
    let pidfd = pidfd_open(pid)?;
    let listener = match receive_fd(&ours, CHILD_TIMEOUT) {
        Ok(l) => l,
        Err(e) => {
            kill_and_reap(pid, &pidfd);
            return Err(e);
        }
    };
    let p = Process {
        pid,
        pidfd,
        listener,
    };
    if let Err(e) = admit_exec(&p, CHILD_TIMEOUT) {
        kill_and_reap(pid, &p.pidfd);
        return Err(e);
    }
    Ok(p)
}

/// The socket pair the child sends its seccomp listener back over.
fn socket_pair() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .context("socketpair")
}

/// A pidfd for our child `pid`: its exit wakes a wait, and signals
/// through it cannot reach a recycled pid.
fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid).context("pidfd_open")?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .context("pidfd_open")
}

/// Traces the child (so faults arrive with their address) and lets its
/// first `execveat` through.
fn admit_exec(p: &Process, timeout: Duration) -> Result<()> {
    ptrace::seize(p.pid)?;
    seccomp::set_sync_wake_up(p.listener.as_fd());
    // RECV blocks while the child lives and has not trapped: a child
    // stopped before its `execveat` would hold us forever.
    if !wait_ready(&p.listener, PollFlags::IN, timeout) {
        bail!("the task did not reach its execveat within {timeout:?}");
    }
    // The listener is readable (a notification waits) or hung up (RECV
    // fails at once).
    let n = seccomp::receive(p.listener.as_fd())
        .context("waiting for the task's execveat")?;
    if n.data.nr as u32 != seccomp::NR_EXECVEAT {
        bail!("task made syscall {} before execveat", n.data.nr);
    }
    seccomp::respond(p.listener.as_fd(), n.id, true)
        .context("admitting execveat")
}

/// The child's seccomp listener, sent over `sock` as `SCM_RIGHTS`.
fn receive_fd(sock: &OwnedFd, timeout: Duration) -> Result<OwnedFd> {
    if !wait_ready(sock, PollFlags::IN, timeout) {
        bail!(
            "the task did not hand over its seccomp listener within {timeout:?}"
        );
    }
    let mut byte = [0u8; 1];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut byte)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    );
    if !got.is_ok_and(|m| m.bytes > 0) {
        bail!("task died before handing over its seccomp listener");
    }
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = message
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    bail!("task sent no seccomp listener")
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
    fn a_child_that_never_hands_over_its_listener_times_out() {
        // Our end of a socket pair whose other end is alive but silent,
        // as with a child stopped before it could send.
        let (ours, _silent) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let e = receive_fd(&ours, Duration::from_millis(20)).unwrap_err();
        assert!(e.to_string().contains("did not hand over"), "{e}");
    }

    #[test]
    fn a_child_that_dies_before_handing_over_is_an_error_at_once() {
        let (ours, theirs) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        drop(theirs);
        // Hung up: no wait for the (long) timeout.
        let e = receive_fd(&ours, CHILD_TIMEOUT).unwrap_err();
        assert!(e.to_string().contains("died before"), "{e}");
    }

    #[test]
    fn a_listener_that_never_reports_an_exec_times_out() {
        // A pipe with its writer open never becomes readable, as a
        // listener whose child never traps.
        let (read, _write) = rustix::pipe::pipe().unwrap();
        let p = Process {
            pid: 0,
            pidfd: read.try_clone().unwrap(),
            listener: read,
        };
        // SEIZE of pid 0 fails first; what matters is that nothing blocks.
        assert!(admit_exec(&p, Duration::from_millis(20)).is_err());
        assert!(!wait_ready(
            &p.listener,
            PollFlags::IN,
            Duration::from_millis(20)
        ));
    }
}
