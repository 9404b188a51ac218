//! The ptrace requests the process lifecycle makes of its tasks.
//!
//! Every task is our tracee (`PTRACE_SEIZE` at spawn), so a fault arrives
//! as a signal-delivery stop with its address and registers. ptrace is
//! the one host interface here that rustix does not wrap at all, so these
//! are `libc` calls, each behind a safe function that takes only the pid
//! of our own tracee and local buffers of the right size. (The debugger's
//! holds and steps make their own requests, in `crate::debug` and
//! `crate::registers`.)

use anyhow::Result;

/// Traces our new child `pid` (so its faults stop it, with their
/// address), killing it if we die (`PTRACE_O_EXITKILL`).
pub fn seize(pid: libc::pid_t) -> Result<()> {
    // Safety: seizing our own child; the options are plain flags.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            0,
            libc::PTRACE_O_EXITKILL as libc::c_long,
        )
    };
    if r != 0 {
        return Err(anyhow::anyhow!(
            "ptrace(SEIZE): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Lets stopped tracee `pid` go on, delivering `signal` (0 for none).
/// Fails only if it died meanwhile, which `SIGCHLD` reports.
pub fn cont(pid: libc::pid_t, signal: i32) {
    // Safety: resuming a tracee; no memory is passed.
    unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, signal as libc::c_long) };
}

/// What a fault's signal-delivery stop says: the raw `siginfo_t` (the
/// signal, its code and faulting address, as `faults::classify` reads
/// them) and the instruction pointer.
pub fn fault_record(pid: libc::pid_t) -> ([u8; 128], u64) {
    let mut siginfo = [0u8; 128];
    // Safety: GETSIGINFO and GETREGS write a `siginfo_t` (128 bytes) and
    // a `user_regs_struct` into locals of exactly those sizes.
    let rip = unsafe {
        libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, siginfo.as_mut_ptr());
        let mut regs: libc::user_regs_struct = std::mem::zeroed();
        libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs);
        regs.rip
    };
    (siginfo, rip)
}
