//! Starting a task: a child process confined by seccomp, traced by us,
//! executing its ELF from a memfd, with its RAM memfd on fd 3.

use crate::seccomp::{self, Notif, NotifResp};
use anyhow::{Result, bail};
use rustix::event::{PollFd, PollFlags, Timespec};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
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

fn last_error(what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: {}", std::io::Error::last_os_error())
}

/// An ELF image in a sealed-enough memfd, executed with `execveat`.
pub fn elf_memfd(name: &str, elf: &[u8]) -> Result<OwnedFd> {
    let cname = std::ffi::CString::new(name).unwrap_or_default();
    // Safety: plain syscalls with checked results.
    unsafe {
        let fd = libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC);
        if fd < 0 {
            return Err(last_error("memfd_create"));
        }
        let owned = OwnedFd::from_raw_fd(fd);
        let mut off = 0;
        while off < elf.len() {
            let n = libc::write(
                fd,
                elf[off..].as_ptr() as *const _,
                elf.len() - off,
            );
            if n <= 0 {
                return Err(last_error("writing task ELF"));
            }
            off += n as usize;
        }
        Ok(owned)
    }
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
        return Err(last_error("fork"));
    }
    if pid == 0 {
        // Safety: see above; `child` never returns.
        unsafe {
            child(
                kernel_pid,
                elf.as_raw_fd(),
                ram.as_raw_fd(),
                theirs.as_raw_fd(),
                &f1,
                &f2,
            )
        }
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
    let mut sv = [0 as RawFd; 2];
    // Safety: socketpair into a local array.
    let flags = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
    if unsafe { libc::socketpair(libc::AF_UNIX, flags, 0, sv.as_mut_ptr()) }
        != 0
    {
        return Err(last_error("socketpair"));
    }
    // Safety: both fds are fresh and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}

/// A pidfd for our child `pid`: its exit wakes the event loop, and signals
/// through it cannot reach a recycled pid.
fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd> {
    // Safety: `pid` is our child.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if pidfd < 0 {
        return Err(last_error("pidfd_open"));
    }
    // Safety: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(pidfd) })
}

/// Traces the child (so faults arrive with their address) and lets its
/// first `execveat` through.
fn admit_exec(p: &Process, timeout: Duration) -> Result<()> {
    // Safety: seizing our own child; options are plain flags.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            p.pid,
            0,
            libc::PTRACE_O_EXITKILL as libc::c_long,
        )
    };
    if r != 0 {
        return Err(last_error("ptrace(SEIZE)"));
    }
    let fd = p.listener.as_raw_fd();
    // Best effort: without it, cross-CPU wake-ups are ~12x slower.
    // Safety: flag-only ioctl on our listener.
    unsafe {
        libc::ioctl(
            fd,
            seccomp::IOCTL_NOTIF_SET_FLAGS,
            seccomp::USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
    // RECV blocks while the child lives and has not trapped: a child
    // stopped before its `execveat` would hold us forever.
    if !wait_ready(&p.listener, PollFlags::IN, timeout) {
        bail!("the task did not reach its execveat within {timeout:?}");
    }
    let mut n = Notif::default();
    // Safety: RECV fills our zeroed struct; the listener is readable (a
    // notification waits) or hung up (RECV fails at once).
    if unsafe { libc::ioctl(fd, seccomp::IOCTL_NOTIF_RECV, &mut n) } != 0 {
        return Err(last_error("waiting for the task's execveat"));
    }
    if n.data.nr as u32 != seccomp::NR_EXECVEAT {
        bail!("task made syscall {} before execveat", n.data.nr);
    }
    let resp = NotifResp {
        id: n.id,
        val: 0,
        error: 0,
        flags: seccomp::USER_NOTIF_FLAG_CONTINUE,
    };
    // Safety: answering the notification we just received.
    if unsafe { libc::ioctl(fd, seccomp::IOCTL_NOTIF_SEND, &resp) } != 0 {
        return Err(last_error("admitting execveat"));
    }
    Ok(())
}

fn receive_fd(sock: &OwnedFd, timeout: Duration) -> Result<OwnedFd> {
    if !wait_ready(sock, PollFlags::IN, timeout) {
        bail!(
            "the task did not hand over its seccomp listener within {timeout:?}"
        );
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut _,
        iov_len: 1,
    };
    let mut cbuf = [0u64; 8];
    // Safety: a msghdr over local buffers; the kernel fills the cmsg.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut _;
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n =
            libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n <= 0 {
            bail!("task died before handing over its seccomp listener");
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            bail!("task sent no seccomp listener");
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Kills our child and reaps it, waiting at most [`CHILD_TIMEOUT`] for it
/// to die; `false` if it has not (the event loop reaps it when it does).
pub fn kill_and_reap(pid: libc::pid_t, pidfd: &OwnedFd) -> bool {
    let _ = rustix::process::pidfd_send_signal(
        pidfd,
        rustix::process::Signal::KILL,
    );
    // A pidfd becomes readable when its process exits.
    if !wait_ready(pidfd, PollFlags::IN, CHILD_TIMEOUT) {
        return false;
    }
    // Safety: reaping our own child, without blocking.
    let r = unsafe {
        libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL | libc::WNOHANG)
    };
    r == pid
}

/// The child between `fork` and `execveat`. Only async-signal-safe calls.
unsafe fn child(
    kernel: libc::pid_t,
    elf: RawFd,
    ram: RawFd,
    sock: RawFd,
    f1: &[libc::sock_filter],
    f2: &[libc::sock_filter],
) -> ! {
    // Safety: the function's contract; every call below is a plain
    // syscall wrapper on values prepared before fork.
    unsafe {
        if !child_detach(kernel)
            || !child_place_fds(ram)
            || !child_confine(sock, f1, f2)
        {
            libc::_exit(127);
        }
        let argv: [*const libc::c_char; 2] =
            [c"task".as_ptr(), std::ptr::null()];
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        libc::syscall(
            libc::SYS_execveat,
            elf,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
        libc::_exit(127)
    }
}

/// The child's ties to the world: it dies with the kernel (and gives up
/// if the kernel is already gone), keeps out of the terminal's process
/// group (a terminal's ^C or ^Z reaches the kernel, which decides what
/// happens to tasks), writes no core files, and has /dev/null for stdio.
unsafe fn child_detach(kernel: libc::pid_t) -> bool {
    // Safety: plain syscall wrappers (the caller's contract).
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != kernel {
            return false;
        }
        libc::setpgid(0, 0);
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        true
    }
}

/// Puts the task's RAM at the descriptor the ABI names and marks every
/// other descriptor (including the ELF and the socket) close-on-exec.
unsafe fn child_place_fds(ram: RawFd) -> bool {
    // Safety: plain syscall wrappers (the caller's contract).
    unsafe {
        // dup2 onto itself would leave CLOEXEC set, so clear it by hand.
        let ram_fd = abi::HOSTED_RAM_FD as i32;
        if ram == ram_fd {
            libc::fcntl(ram_fd, libc::F_SETFD, 0);
        } else if libc::dup2(ram, ram_fd) < 0 {
            return false;
        }
        libc::syscall(
            libc::SYS_close_range,
            4u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        true
    }
}

/// Installs the two seccomp filters: `f1` with a user-notify listener,
/// which goes back to the kernel over `sock`, then the confinement `f2`.
unsafe fn child_confine(
    sock: RawFd,
    f1: &[libc::sock_filter],
    f2: &[libc::sock_filter],
) -> bool {
    // Safety: plain syscall wrappers on filters prepared before fork (the
    // caller's contract).
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return false;
        }
        let install = |f: &[libc::sock_filter], flags: libc::c_uint| {
            let prog = libc::sock_fprog {
                len: f.len() as u16,
                filter: f.as_ptr() as *mut _,
            };
            libc::syscall(
                libc::SYS_seccomp,
                seccomp::SET_MODE_FILTER,
                flags,
                &prog,
            ) as RawFd
        };
        let listener = install(
            f1,
            seccomp::FLAG_NEW_LISTENER | seccomp::FLAG_WAIT_KILLABLE_RECV,
        );
        if listener < 0 {
            return false;
        }
        send_fd(sock, listener);
        install(f2, 0) >= 0
    }
}

unsafe fn send_fd(sock: RawFd, fd: RawFd) {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut _,
        iov_len: 1,
    };
    let mut cbuf = [0u64; 8];
    // Safety: a msghdr over local buffers carrying one fd.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut _;
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut RawFd, fd);
        libc::sendmsg(sock, &msg, 0);
    }
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
