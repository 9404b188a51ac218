//! The zygote: the one thread of the kernel that runs under the seccomp
//! filter its tasks report through, and that forks every task.
//!
//! Tasks share one listener only if they share one filter, so they must
//! all be forked by a thread that has it: a thread's filter is inherited
//! by the threads and processes *it* creates, never by the rest of its
//! process. Were that thread the event loop's, the filter would run on
//! every host syscall the loop makes, two per trap: measured, about 5% of
//! an IPC round trip. So the loop hands each fork to this thread and its
//! own syscalls stay unfiltered. The zygote also starts the doorbell
//! ([`crate::event_loop`]), whose trap must reach the same listener.
//!
//! A task's parent is the zygote thread, which matters in one place: a
//! child's `PR_SET_PDEATHSIG` fires when that *thread* ends. It ends only
//! when the [`Zygote`] is dropped, after every task has been killed. The
//! event loop still reaps the tasks and traces them: a thread waits for
//! the children of every thread of its process, and ptrace allows any
//! thread of the parent process to seize.

use super::spawn;
use crate::seccomp;
use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc;

/// The event loop's handle on the zygote thread.
pub struct Zygote {
    requests: mpsc::Sender<(RawFd, RawFd)>,
    forked: mpsc::Receiver<std::io::Result<libc::pid_t>>,
}

/// What starting the zygote gives the event loop.
pub struct Started {
    pub zygote: Zygote,
    /// The listener every task and the doorbell report to.
    pub listener: OwnedFd,
    /// The doorbell thread's id, as the listener reports it.
    pub doorbell: libc::pid_t,
}

impl Zygote {
    /// Starts the zygote, which puts itself under the kernel's filter and
    /// starts the doorbell over `epoll` and `timer`. Call after the
    /// signals the loop handles are blocked: both threads inherit the
    /// mask.
    ///
    /// # Errors
    ///
    /// A host without seccomp user notification, or no thread.
    pub fn start(epoll: &OwnedFd, timer: &OwnedFd) -> Result<Started> {
        let epoll = epoll.try_clone().context("dup of the epoll set")?;
        let timer = timer.try_clone().context("dup of the timerfd")?;
        let (requests, inbox) = mpsc::channel::<(RawFd, RawFd)>();
        let (outbox, forked) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::Builder::new()
            .name("zygote".into())
            .spawn(move || {
                let set_up = seccomp::install_kernel_filter()
                    .context("cannot install the seccomp filter tasks report through")
                    .and_then(|listener| {
                        let doorbell = crate::doorbell::start(epoll, timer)?;
                        Ok((listener, doorbell))
                    });
                let ok = set_up.is_ok();
                let _ = ready_tx.send(set_up);
                if ok {
                    // Until the loop drops its `Zygote`.
                    for (elf, ram) in inbox {
                        let _ = outbox.send(spawn::fork_task(elf, ram));
                    }
                }
            })
            .context("starting the zygote thread")?;
        let (listener, doorbell) =
            ready.recv().context("the zygote thread did not start")??;
        let zygote = Zygote { requests, forked };
        Ok(Started {
            zygote,
            listener,
            doorbell,
        })
    }

    /// Forks a task process that will run `elf` with `ram` at the ABI's
    /// descriptor: its pid. Both descriptors stay ours, open for the
    /// call.
    pub fn fork(&self, elf: &OwnedFd, ram: &OwnedFd) -> Result<libc::pid_t> {
        let gone = "the zygote thread is gone";
        self.requests
            .send((elf.as_raw_fd(), ram.as_raw_fd()))
            .context(gone)?;
        let pid = self.forked.recv().context(gone)?.context("fork")?;
        Ok(pid)
    }
}
