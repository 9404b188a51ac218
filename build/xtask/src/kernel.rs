//! Running the hosted kernel as a child process, and stopping it cleanly.
//!
//! The kernel owns its tasks: on SIGINT or SIGTERM it kills every task and
//! exits. Our job is only to pass such signals on and to wait for it, so
//! that nothing outlives `cargo xtask run`. The kernel stays in our
//! process group, so a Ctrl-C on the terminal reaches it directly; we
//! forward only the signals another process sent us (`kill`), which it
//! would otherwise never see, and so the kernel gets each signal once.
//!
//! We signal the kernel through a pidfd, so a signal can never reach an
//! unrelated process that happens to reuse the kernel's pid.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::{Handle, SignalsInfo};
use signal_hook::low_level::siginfo::Cause;

/// How long the kernel gets to stop its tasks after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running kernel.
pub struct Kernel {
    child: Child,
    pidfd: Arc<OwnedFd>,
    forwarder: Option<(Handle, JoinHandle<()>)>,
}

impl Kernel {
    /// Starts `kernel <archive> <args>` with the given stdin and stdout
    /// (stderr is always ours) and starts forwarding signals to it.
    pub fn spawn_with_args(
        kernel: &Path,
        archive: &Path,
        args: &[&std::ffi::OsStr],
        stdin: Stdio,
        stdout: Stdio,
    ) -> Result<Self> {
        let mut cmd = Command::new(kernel);
        cmd.arg(archive).args(args);
        Self::spawn_command(cmd, stdin, stdout)
            .with_context(|| format!("cannot run {}", kernel.display()))
    }

    /// Starts any command that runs a system (the hosted kernel, or QEMU
    /// for a microcontroller board) and forwards signals to it.
    pub fn spawn_command(
        mut cmd: Command,
        stdin: Stdio,
        stdout: Stdio,
    ) -> Result<Self> {
        // Catch signals before the child exists, so none is lost between.
        let signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])
            .context("cannot install signal handlers")?;
        let child =
            cmd.stdin(stdin).stdout(stdout).spawn().with_context(|| {
                format!("cannot run {}", cmd.get_program().to_string_lossy())
            })?;
        let pidfd = pidfd_open(Pid::from_child(&child), PidfdFlags::empty())
            .context("cannot open a pidfd for the kernel")?;
        let pidfd = Arc::new(pidfd);
        let handle = signals.handle();
        let thread = std::thread::spawn({
            let pidfd = Arc::clone(&pidfd);
            move || forward(signals, &pidfd)
        });
        Ok(Self {
            child,
            pidfd,
            forwarder: Some((handle, thread)),
        })
    }

    /// Takes the child's stdout, if it was piped.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Waits for the kernel to exit.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        let status = self.child.wait().context("waiting for the kernel")?;
        self.stop_forwarding();
        Ok(status)
    }

    /// Waits at most `timeout`; `None` if the kernel is still running.
    pub fn wait_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&*self.pidfd, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(0) if left.is_zero() => return Ok(None),
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => return self.wait().map(Some),
                Err(e) => return Err(e).context("waiting for the kernel"),
            }
        }
    }

    /// Asks the kernel to stop (SIGTERM), then kills it if it has not
    /// exited after a grace period.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let _ = pidfd_send_signal(&*self.pidfd, Signal::TERM);
        if let Some(status) = self.wait_timeout(STOP_GRACE)? {
            return Ok(status);
        }
        let _ = pidfd_send_signal(&*self.pidfd, Signal::KILL);
        self.wait()
    }

    fn stop_forwarding(&mut self) {
        if let Some((handle, thread)) = self.forwarder.take() {
            handle.close();
            let _ = thread.join();
        }
    }
}

impl Drop for Kernel {
    /// Never leave a kernel behind, even on an error path.
    fn drop(&mut self) {
        if self.forwarder.is_some() {
            let _ = self.stop();
        }
    }
}

/// Passes signals sent to us by other processes on to the kernel.
fn forward(mut signals: SignalsInfo<WithOrigin>, pidfd: &OwnedFd) {
    for origin in signals.forever() {
        // The terminal's signals (Ctrl-C, hangup) went to the kernel too.
        if matches!(origin.cause, Cause::Kernel) {
            continue;
        }
        if let Some(signal) = Signal::from_named_raw(origin.signal) {
            let _ = pidfd_send_signal(pidfd, signal);
        }
    }
}

/// The exit code a process's status maps to, as a shell would report it.
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}
