//! The child's side of a spawn: what runs between `fork` and `execveat`.
//!
//! Only async-signal-safe calls may run here (the child is a copy of the
//! kernel taken at an arbitrary moment: no allocation, no locks), on
//! values prepared before the fork. rustix's calls are raw syscalls and
//! qualify, so the child's ties to the world use them. What stays on
//! `libc`, and why:
//!
//! - `dup2` onto descriptors 0-2 and 3 and `fcntl(F_SETFD)` on 3: rustix
//!   takes these targets only as `OwnedFd`s, which we cannot own here
//!   (0-2 are the kernel's stdio, inherited);
//! - `close_range`, `seccomp(SET_MODE_FILTER)` (in
//!   [`seccomp::install`]), `execveat` and `_exit`: rustix has no wrapper
//!   for the first two, and only `unsafe` unstable ones (`runtime`) or
//!   ones that need borrowed descriptors we do not have for the rest.
//!
//! The child needs no listener of its own: it inherited the kernel's F1
//! at `fork`, so its `execveat` and everything after it already report to
//! the kernel's one listener.

use crate::seccomp;
use rustix::process::{Resource, Rlimit, Signal};
use std::os::fd::{AsRawFd, RawFd};

/// The parent's descriptors the child needs, as numbers (it owns none of
/// them: they are the parent's, inherited).
pub struct Fds {
    pub elf: RawFd,
    pub ram: RawFd,
}

/// The child between `fork` and `execveat`. Only async-signal-safe calls.
///
/// # Safety
///
/// Call only in the child of a `fork`, with `fds` open and `f2`
/// prepared before it. Never returns.
pub unsafe fn run(
    kernel: libc::pid_t,
    fds: Fds,
    f2: &[libc::sock_filter],
) -> ! {
    // Safety: the function's contract; every call below is a plain
    // syscall wrapper on values prepared before fork.
    unsafe {
        if !detach(kernel)
            || !place_fds(fds.ram)
            || seccomp::install(f2, false).is_err()
        {
            libc::_exit(127);
        }
        let argv: [*const libc::c_char; 2] =
            [c"task".as_ptr(), std::ptr::null()];
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        libc::syscall(
            libc::SYS_execveat,
            fds.elf,
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
///
/// # Safety
///
/// As [`run`].
unsafe fn detach(kernel: libc::pid_t) -> bool {
    let _ =
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    let parent = rustix::process::getppid();
    if parent.map(|p| p.as_raw_nonzero().get()) != Some(kernel) {
        return false;
    }
    let _ = rustix::process::setpgid(None, None);
    let no_core = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = rustix::process::setrlimit(Resource::Core, no_core);
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDWR | OFlags::CLOEXEC;
    let Ok(null) = rustix::fs::open(c"/dev/null", flags, Mode::empty()) else {
        return false;
    };
    for fd in 0..3 {
        // Safety: a plain syscall wrapper (the caller's contract); the
        // targets are numbers, not descriptors anything here owns.
        unsafe { libc::dup2(null.as_raw_fd(), fd) };
    }
    true
}

/// Puts the task's RAM at the descriptor the ABI names and marks every
/// other descriptor (including the ELF) close-on-exec.
///
/// # Safety
///
/// As [`run`].
unsafe fn place_fds(ram: RawFd) -> bool {
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
