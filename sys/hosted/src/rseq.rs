//! The kernel process runs without glibc's restartable sequences.
//!
//! glibc (2.35 and later) registers an `rseq` area for every thread it
//! starts. From then on, each time the host switches to one of those
//! threads it sets a flag that sends the thread through
//! `__rseq_handle_notify_resume` on its way back to user space. The
//! event loop is switched to and from twice per task-to-task hand-off
//! (a task traps, the loop answers and waits in RECV), so on one CPU
//! that bookkeeping is a measurable part of an IPC round trip (about 2%
//! of the reply-and-receive round trip in `cargo xtask bench ipc`, in
//! alternating runs with and without). Nothing in the kernel uses `rseq`
//! (glibc's `sched_getcpu` falls back to the vDSO without it), and tasks
//! are freestanding, so they never had it.
//!
//! glibc reads its tunables once, at start-up, so the only supported way
//! to turn registration off is `GLIBC_TUNABLES=glibc.pthread.rseq=0` in
//! the environment the process starts with: [`exec_without_rseq`] runs
//! this same binary again with it, first thing in `main`, before there
//! is any other thread or open state to lose. It keeps every other
//! tunable the user set, and an explicit `glibc.pthread.rseq` setting
//! wins. If the exec fails, the kernel carries on with `rseq`, slower
//! but correct.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;

const TUNABLES: &str = "GLIBC_TUNABLES";
const RSEQ_TUNABLE: &[u8] = b"glibc.pthread.rseq=";

/// The `GLIBC_TUNABLES` value to start again with, or `None` when the
/// current one already says what to do with `rseq`.
fn tunables_without_rseq(current: Option<&OsStr>) -> Option<OsString> {
    let current = current.map(OsStr::as_bytes).unwrap_or_default();
    if current
        .split(|&b| b == b':')
        .any(|t| t.starts_with(RSEQ_TUNABLE))
    {
        return None;
    }
    let mut value = current.to_vec();
    if !value.is_empty() {
        value.push(b':');
    }
    value.extend_from_slice(RSEQ_TUNABLE);
    value.push(b'0');
    Some(OsString::from_vec(value))
}

/// Runs this binary again, with the same arguments, with glibc's `rseq`
/// registration off; returns only if it need not or cannot.
pub fn exec_without_rseq() {
    // Safety: `getauxval` only reads the auxiliary vector.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    if secure {
        // glibc filters the tunables of a set-id program: the exec would
        // not take, and would repeat.
        return;
    }
    let Some(tunables) =
        tunables_without_rseq(std::env::var_os(TUNABLES).as_deref())
    else {
        return;
    };
    // By its path, not `/proc/self/exe`, which would rename the process
    // `exe` (what `ps`, `perf` and `pgrep` show).
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return carry_on(&e),
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into());
    let e = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(TUNABLES, tunables)
        .exec();
    carry_on(&e);
}

fn carry_on(e: &std::io::Error) {
    crate::log::klog!("running with glibc's rseq (cannot start again: {e})");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(current: Option<&str>) -> Option<String> {
        tunables_without_rseq(current.map(OsStr::new))
            .map(|v| v.into_string().unwrap())
    }

    #[test]
    fn adds_the_tunable_when_there_are_none() {
        assert_eq!(after(None).as_deref(), Some("glibc.pthread.rseq=0"));
        assert_eq!(after(Some("")).as_deref(), Some("glibc.pthread.rseq=0"));
    }

    #[test]
    fn keeps_the_users_other_tunables() {
        assert_eq!(
            after(Some("glibc.malloc.check=3")).as_deref(),
            Some("glibc.malloc.check=3:glibc.pthread.rseq=0")
        );
    }

    #[test]
    fn an_explicit_rseq_setting_wins_and_nothing_repeats() {
        assert_eq!(after(Some("glibc.pthread.rseq=1")), None);
        assert_eq!(
            after(Some("glibc.malloc.check=3:glibc.pthread.rseq=0")),
            None
        );
        // What the exec sets is itself final: no second exec.
        let once = after(Some("glibc.malloc.check=3")).unwrap();
        assert_eq!(after(Some(&once)), None);
    }

    #[test]
    fn a_tunable_that_only_ends_like_it_does_not_count() {
        assert_eq!(
            after(Some("x.glibc.pthread.rseq=1")).as_deref(),
            Some("x.glibc.pthread.rseq=1:glibc.pthread.rseq=0")
        );
    }
}
