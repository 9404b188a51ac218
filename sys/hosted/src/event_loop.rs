//! The kernel's single-threaded event loop: what wakes the kernel, and
//! the state it keeps between wake-ups.
//!
//! The kernel waits in one place: RECV on the seccomp listener every task
//! reports to ([`crate::seccomp`]). A trapped syscall is the common event
//! ([`crate::trap`]), and waiting for it directly, rather than in
//! `epoll_wait` over one listener per task, saves a host syscall on every
//! trap, which is most of what separates an IPC round trip from a pipe's.
//!
//! Everything else that wakes the kernel is a descriptor in one `epoll`
//! set: a `signalfd` (child exits and ptrace stops: [`crate::process`];
//! and the signals that stop the system), a `timerfd` (the next task or
//! device deadline), the hash engine's eventfd and the debug probe
//! ([`crate::probe`]). A *doorbell* thread ([`crate::doorbell`]) waits
//! on that set and, when something is ready, makes a syscall in the
//! kernel's private range, which arrives on the listener like a task's
//! trap (told apart by its thread id, which no task can have). The loop
//! handles what is ready and only then answers the doorbell, which goes
//! back to waiting. A timer expiry or a finished hash while the loop is
//! busy rings nothing: the loop looks for them before it waits. The
//! doorbell thread touches no kernel state.
//!
//! Each event runs the portable core to completion, then
//! [`Hosted::apply`] ([`crate::effects`]) carries out what the core
//! decided before the next event is looked at. Like Hubris's kernel,
//! nothing here is reentrant and nothing runs concurrently.
//!
//! Host calls are rustix's (epoll, timerfd, reads) except those rustix
//! does not offer: `signalfd` (listed as not implemented by rustix),
//! `sigprocmask` (only in rustix's unstable `runtime` module, itself
//! `unsafe`), both in [`block_signals`] and [`signal_fd`].

use crate::doorbell::{self, TOKEN_TIMER};
use crate::image::TaskImage;
use crate::log::klog;
use crate::memory::HostPlatform;
use crate::placement::Placement;
use crate::probe::{Probe, socket::Location};
use crate::process::Process;
use crate::process::zygote::{self, Zygote};
use crate::seccomp;
use crate::trap::Handled;
use anyhow::{Context, Result};
use image_manifest::ImageManifest;
use kern::{Effects, Kernel};
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::time::{Itimerspec, Timespec};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

const TOKEN_SIGNAL: u64 = u64::MAX;
const TOKEN_PROBE: u64 = u64::MAX - 2;
/// The hash engine's worker finished a transfer ([`crate::engine`]).
pub const TOKEN_ENGINE: u64 = u64::MAX - 3;
// Probe connections are `probe::CONNECTION_TOKEN_BASE + id`.

/// Kernel log lines about one task printed in full before rate limiting.
const LOG_BURST: u64 = 20;

/// What the platform tracks for a task's current process.
pub struct Slot {
    pub process: Process,
    /// The id of the trapped syscall we have not answered yet.
    pub pending: Option<u64>,
    /// Where that syscall's frame is.
    pub frame: u32,
    /// Its first `execveat` has been let through; any other is forbidden.
    pub exec_admitted: bool,
    pub ram_mapped: bool,
}

/// The platform's state: the image, each task's process, the loop's
/// descriptors, and what the core decided that is not yet carried out.
pub struct Hosted {
    pub manifest: ImageManifest,
    pub images: Vec<TaskImage>,
    pub elf_fds: Vec<OwnedFd>,
    pub slots: Vec<Option<Slot>>,
    /// Processes we killed and have not reaped yet.
    pub zombies: Vec<Process>,
    /// The seccomp listener every task (and the doorbell) reports to.
    pub listener: OwnedFd,
    /// The thread that forks tasks ([`crate::process::zygote`]).
    pub zygote: Zygote,
    /// The doorbell thread's id, as the listener reports it.
    doorbell: libc::pid_t,
    /// The CPU the doorbell is kept on: the loop's, when it last looked
    /// ([`Hosted::keep_the_doorbell_here`]).
    doorbell_cpu: Option<usize>,
    /// Where the loop, the tasks and the engine's worker run while the
    /// engine hashes.
    placement: Placement,
    pub epoll: OwnedFd,
    signals: OwnedFd,
    timer: OwnedFd,
    pub verbose: bool,
    probe: Option<Probe>,
    /// The deadline (µs since boot) the timerfd is armed for.
    pub armed_us: Option<u64>,
    /// Kernel log lines printed per task, to rate-limit a crash loop.
    logged: Vec<u64>,
    /// What the core decided and we have not carried out yet.
    pub effects: Effects,
}

/// The signals the loop reads from its `signalfd`: `SIGCHLD` (a task
/// exited or stopped) and the three that stop the system.
fn handled_signals() -> libc::sigset_t {
    // Safety: a signal set on our stack, initialised before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the signals the loop handles, in this thread and every thread
/// started after (which inherit the mask): blocked, they wait for the
/// loop's `signalfd` instead of interrupting it or, delivered to a worker
/// thread, stopping the process with their default action. Call before
/// starting any thread.
pub fn block_signals() {
    let set = handled_signals();
    // Safety: sigprocmask only reads the set.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// A `signalfd` that reads the signals [`block_signals`] blocked.
fn signal_fd() -> Result<OwnedFd> {
    block_signals();
    let set = handled_signals();
    // Safety: signalfd only reads the set, and the new fd is checked
    // before we own it.
    unsafe {
        let flags = libc::SFD_CLOEXEC | libc::SFD_NONBLOCK;
        let fd = libc::signalfd(-1, &set, flags);
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("signalfd");
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

impl Hosted {
    /// The loop's state, with the zygote and the doorbell started and
    /// the listener they report to as the one place the loop waits.
    pub fn new(
        manifest: ImageManifest,
        images: Vec<TaskImage>,
        elf_fds: Vec<OwnedFd>,
        verbose: bool,
    ) -> Result<Self> {
        use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
        let epoll =
            epoll::create(epoll::CreateFlags::CLOEXEC).context("epoll")?;
        let signals = signal_fd()?;
        let timer = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )
        .context("timerfd")?;
        let zygote::Started {
            zygote,
            listener,
            doorbell,
        } = Zygote::start(&epoll, &timer)?;
        let n = manifest.tasks.len();
        let h = Self {
            manifest,
            images,
            elf_fds,
            slots: (0..n).map(|_| None).collect(),
            zombies: Vec::new(),
            listener,
            zygote,
            doorbell,
            doorbell_cpu: None,
            placement: Placement::new(),
            probe: None,
            armed_us: None,
            logged: vec![0; n],
            effects: Effects::default(),
            epoll,
            signals,
            timer,
            verbose,
        };
        h.watch(h.signals.as_fd(), TOKEN_SIGNAL)?;
        h.watch(h.timer.as_fd(), TOKEN_TIMER)?;
        Ok(h)
    }

    /// Adds `fd` to the epoll set; its events arrive with `token`.
    pub fn watch(&self, fd: BorrowedFd<'_>, token: u64) -> Result<()> {
        let data = EventData::new_u64(token);
        epoll::add(&self.epoll, fd, data, EventFlags::IN)
            .context("epoll_ctl")?;
        Ok(())
    }

    /// Opens the debug probe's socket and watches it for connections.
    pub fn open_probe(&mut self, location: &Location) -> Result<()> {
        let probe = Probe::open(location)?;
        self.watch(probe.listener_fd(), TOKEN_PROBE)?;
        klog!("debug probe at {}", probe.path().display());
        self.probe = Some(probe);
        Ok(())
    }

    /// Runs until a task asks for shutdown or we are told to stop.
    pub fn serve(&mut self, k: &mut Kernel<'_, HostPlatform>) -> u8 {
        loop {
            if let Some(code) = k.platform.shutdown {
                let code = code.min(255) as u8;
                crate::trace::record(crate::trace::Trace::Shutdown { code });
                return code;
            }
            self.place(k);
            doorbell::keep_on(self.doorbell, &mut self.doorbell_cpu);
            if self.take_what_did_not_ring(k) {
                self.apply(k);
                continue;
            }
            let received = self.wait_for_a_trap();
            self.loop_runs(k);
            let n = match received {
                Ok(n) => n,
                // The process that trapped died before we took it (its
                // exit arrives as SIGCHLD), or a signal interrupted us.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT | libc::EINTR)
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    klog!("cannot receive from the seccomp listener: {e}");
                    return 1;
                }
            };
            if n.pid as libc::pid_t == self.doorbell {
                if let Some(code) = self.on_doorbell(k, n.id) {
                    return code;
                }
            } else if self.on_trap(k, &n) == Handled::PlainIpc {
                self.apply_after_ipc(k);
            } else {
                self.apply(k);
            }
        }
    }

    /// Holds the tasks and the loop on this CPU while the hash engine
    /// hashes, and lets them go when it is done ([`crate::placement`]).
    fn place(&mut self, k: &Kernel<'_, HostPlatform>) {
        let (hashing, worker) = k.platform.devices.hashing();
        let chain = self
            .slots
            .iter()
            .flatten()
            .map(|slot| rustix::process::Pid::from_raw(slot.process.pid));
        self.placement.update(hashing, worker, chain.flatten());
    }

    /// Says the loop is about to wait; `true` if the timer expired or the
    /// hash engine finished meanwhile without ringing the doorbell (see
    /// [`crate::doorbell`]), which the loop takes now instead of waiting.
    fn take_what_did_not_ring(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
    ) -> bool {
        let timer = doorbell::loop_will_wait();
        let engine = k.platform.devices.loop_will_wait();
        if !timer && !engine {
            return false;
        }
        self.loop_runs(k);
        if timer {
            self.armed_us = None;
        }
        if engine {
            k.platform.devices.collect_finished();
        }
        true
    }

    /// Waits in RECV for the next trap and takes it.
    fn wait_for_a_trap(&self) -> std::io::Result<seccomp::Notif> {
        seccomp::receive(self.listener.as_fd())
    }

    /// The loop is running again: no one need ring.
    fn loop_runs(&self, k: &Kernel<'_, HostPlatform>) {
        doorbell::loop_runs();
        k.platform.devices.loop_runs();
    }

    /// The doorbell rang: handle every descriptor that is ready, then let
    /// the doorbell wait again. `Some(code)` when the kernel must stop.
    fn on_doorbell(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        doorbell: u64,
    ) -> Option<u8> {
        if doorbell::timer_fired() {
            // Taken by the doorbell, so not among the events below.
            self.armed_us = None;
            self.apply(k);
        }
        let mut events: Vec<epoll::Event> = Vec::with_capacity(16);
        // What rang is still ready (level-triggered): take it without
        // waiting, up to 16 events; any left ring again at once.
        let now = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let ready = spare_capacity(&mut events);
        if epoll::wait(&self.epoll, ready, Some(&now)).is_err() {
            events.clear(); // EINTR: the doorbell rings again
        }
        for ev in &events {
            if let Some(code) = self.on_event(k, ev.data.u64(), ev.flags) {
                return Some(code);
            }
            // Carry out each event's consequences before looking at the
            // next, as for a trap.
            self.apply(k);
        }
        // Only now, so it does not ring again for what we just handled.
        let _ = seccomp::respond(self.listener.as_fd(), doorbell, false);
        None
    }

    /// One epoll event: signals, the probe, the timer or the hash engine.
    /// `Some(code)` when the kernel must stop.
    fn on_event(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        token: u64,
        flags: EventFlags,
    ) -> Option<u8> {
        if token == TOKEN_SIGNAL {
            return self.on_signals(k);
        } else if token == TOKEN_PROBE {
            if let Some(p) = self.probe.as_mut() {
                p.accept(self.epoll.as_fd());
            }
        } else if token == TOKEN_TIMER {
            self.armed_us = None;
            // Draining the expiry count; the deadline is recomputed anyway.
            let _ = rustix::io::read(&self.timer, &mut [0u8; 8]);
        } else if token == TOKEN_ENGINE {
            // The IRQs it raises are routed by `apply`, next.
            k.platform.devices.collect_finished();
        } else if Probe::owns(token) {
            self.on_probe(k, token, flags);
        }
        None
    }

    /// A debugger's connection is ready: answer what it asked.
    fn on_probe(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        token: u64,
        flags: EventFlags,
    ) {
        let effects = &mut self.effects;
        let Some(p) = self.probe.as_mut() else {
            return;
        };
        let closed = p.on_ready(self.epoll.as_fd(), token, flags, |line| {
            crate::probe::requests::answer(k, effects, token, line)
        });
        if closed {
            // What a debugger held or set dies with it.
            k.platform.debug.release_owner(token);
        }
    }

    /// Child exits and ptrace stops (SIGCHLD), or a request to stop.
    fn on_signals(&mut self, k: &mut Kernel<'_, HostPlatform>) -> Option<u8> {
        let mut stop = None;
        // Whole `signalfd_siginfo` records; `ssi_signo` leads.
        let mut si = [0u8; 128];
        while rustix::io::read(&self.signals, &mut si).ok() == Some(128) {
            let signo = u32::from_le_bytes([si[0], si[1], si[2], si[3]]) as i32;
            if signo != libc::SIGCHLD {
                klog!("signal {signo}, stopping");
                stop = Some(130);
            }
        }
        self.reap(k);
        stop
    }

    /// Wakes the loop at `deadline_us` (µs since boot).
    pub fn arm_timer(&self, k: &Kernel<'_, HostPlatform>, deadline_us: u64) {
        let now = k.platform.boot.elapsed().as_micros() as u64;
        let wait_ns = deadline_us.saturating_sub(now).max(1) * 1_000;
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: (wait_ns / 1_000_000_000) as i64,
                tv_nsec: (wait_ns % 1_000_000_000) as i64,
            },
        };
        let flags = rustix::time::TimerfdTimerFlags::empty();
        // Cannot fail for our own timerfd and a valid relative time.
        let _ = rustix::time::timerfd_settime(&self.timer, flags, &spec);
    }

    /// Prints a kernel event about task `i`. A task that faults and
    /// restarts in a loop would drown the log, so after the first
    /// [`LOG_BURST`] lines about one task only every 1000th is printed
    /// (with `-v`, all are).
    pub fn log(&mut self, i: usize, line: &str) {
        let n = self.logged[i];
        self.logged[i] += 1;
        if self.verbose || n < LOG_BURST {
            klog!("{line}");
        } else if n.is_multiple_of(1000) {
            klog!("{line} (event {n} for this task; others not shown)");
        }
    }
}
