//! The kernel's single-threaded event loop.
//!
//! One `epoll` set watches every task's seccomp listener (a trapped
//! syscall), a `signalfd` (child exits, ptrace stops, and the signals that
//! stop the system) and a `timerfd` (the next task timer). Each event runs
//! the portable core to completion, then [`Hosted::apply`] carries out what
//! the core decided: kill faulted tasks, start restarted ones, answer the
//! syscalls of tasks that became runnable. Like Hubris's kernel, nothing
//! here is reentrant and nothing runs concurrently.

use crate::image::{self, TaskImage};
use crate::log::klog;
use crate::memory::{HostPlatform, Ram, TaskMemory};
use crate::probe::{Probe, socket::Location};
use crate::seccomp::{self, Notif, NotifResp};
use crate::spawn::{self, Process};
use crate::{devices::Devices, faults};
use abi::{FaultInfo, FaultSource, Kipcnum, SyscallFrame, TaskState};
use anyhow::Result;
use image_manifest::ImageManifest;
use kern::task::{IrqRoute, MemoryRegion};
use kern::{Effects, Kernel, Peripheral, Task, TaskDesc};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

const TOKEN_SIGNAL: u64 = u64::MAX;
const TOKEN_TIMER: u64 = u64::MAX - 1;
const TOKEN_PROBE: u64 = u64::MAX - 2;
/// Kernel log lines about one task printed in full before rate limiting.
const LOG_BURST: u64 = 20;
// Probe connections are `probe::CONNECTION_TOKEN_BASE + id`; a task
// incarnation is `spawn number << 16 | task index`, always below it.

/// Where the kernel listens for a debugger and writes dumps.
pub struct Options {
    pub one_cpu: bool,
    pub verbose: bool,
    /// `--probe`; else the default for the image's name.
    pub probe: Option<std::path::PathBuf>,
    pub dump_dir: std::path::PathBuf,
}

/// What the platform tracks for a task's current process.
struct Slot {
    process: Process,
    /// The id of the trapped syscall we have not answered yet.
    pending: Option<u64>,
    /// Where that syscall's frame is.
    frame: u32,
    ram_mapped: bool,
    /// The epoll token of this incarnation's listener.
    token: u64,
}

struct Hosted {
    manifest: ImageManifest,
    images: Vec<TaskImage>,
    elf_fds: Vec<OwnedFd>,
    slots: Vec<Option<Slot>>,
    /// Processes we killed and have not reaped yet.
    zombies: Vec<Process>,
    epoll: OwnedFd,
    signals: OwnedFd,
    timer: OwnedFd,
    verbose: bool,
    probe: Option<Probe>,
    /// Processes spawned so far; numbers each incarnation's epoll token.
    spawns: u64,
    /// The deadline (µs since boot) the timerfd is armed for.
    armed_us: Option<u64>,
    /// Kernel log lines printed per task, to rate-limit a crash loop.
    logged: Vec<u64>,
    /// What the core decided and we have not carried out yet.
    effects: Effects,
}

fn check(r: libc::c_int, what: &str) -> Result<libc::c_int> {
    if r < 0 {
        Err(anyhow::anyhow!(
            "{what}: {}",
            std::io::Error::last_os_error()
        ))
    } else {
        Ok(r)
    }
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn task_table(m: &ImageManifest) -> Vec<Task> {
    m.tasks
        .iter()
        .map(|t| {
            let grants = t
                .kipc
                .iter()
                .filter_map(|n| {
                    Kipcnum::ALL.iter().find(|k| k.grant_name() == n)
                })
                .fold(0, |g, k| g | k.grant_bit());
            Task::new(TaskDesc {
                priority: t.priority,
                start: t.start,
                regions: [
                    MemoryRegion {
                        base: t.flash.base,
                        size: t.flash.size,
                        writable: false,
                    },
                    MemoryRegion {
                        base: t.ram.base,
                        size: t.ram.size,
                        writable: true,
                    },
                ],
                slots: leak(t.task_slots.iter().map(|s| s.task).collect()),
                post_to: leak(t.post_to.clone()),
                uses: leak(t.uses.clone()),
                irqs: leak(
                    t.interrupts
                        .iter()
                        .map(|i| IrqRoute {
                            peripheral: i.peripheral,
                            mask: i.mask,
                        })
                        .collect(),
                ),
                kipc_grants: grants,
                kernel_notifications: t.kernel_notifications(),
            })
        })
        .collect()
}

pub fn run(archive: &std::path::Path, opts: Options) -> Result<u8> {
    let started = std::time::Instant::now();
    let img = image::load(archive)?;
    if opts.one_cpu {
        pin_to_one_cpu();
    }
    let manifest = img.manifest;
    let mut tasks = task_table(&manifest);
    let mut peripherals: Vec<Peripheral> = manifest
        .peripherals
        .iter()
        .map(|p| Peripheral {
            managed_by: p.managed_by,
            revoked: false,
        })
        .collect();
    let (platform, elf_fds) =
        host_platform(&manifest, &img.tasks, started, &opts)?;
    let mut kernel = Kernel::new(&mut tasks, &mut peripherals, platform);
    let location = match &opts.probe {
        Some(path) => Location::Explicit(path.clone()),
        None => Location::Default {
            dir: debug_protocol::path::default_probe_dir(),
            file: debug_protocol::path::probe_file_name(&manifest.name),
        },
    };
    let mut hosted = Hosted::new(manifest, img.tasks, elf_fds, opts.verbose)?;
    hosted.open_probe(&location)?;
    klog!(
        "booting image {} ({:016x}), {} tasks",
        hosted.manifest.name,
        hosted.manifest.image_id,
        hosted.manifest.tasks.len()
    );
    hosted.effects.merge(kernel.boot());
    crate::trace::record(crate::trace::Trace::Booted {
        tasks: kernel.tasks.len() as u16,
    });
    hosted.apply(&mut kernel);
    klog!("all tasks started in {} us", started.elapsed().as_micros());
    let code = hosted.serve(&mut kernel);
    hosted.stop_all(&mut kernel);
    Ok(code)
}

/// Runs the kernel and every task on CPU 0 (`--one-cpu`), so benchmarks
/// measure IPC without cross-CPU wake-ups.
fn pin_to_one_cpu() {
    // Safety: a CPU set on the stack for our own process; children
    // inherit it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
    }
}

/// The platform half of the kernel: each task's memory, the board's
/// devices, the dump directory; and each task's ELF as a memfd to exec.
fn host_platform(
    manifest: &ImageManifest,
    images: &[TaskImage],
    started: std::time::Instant,
    opts: &Options,
) -> Result<(HostPlatform, Vec<OwnedFd>)> {
    let mut memory = Vec::new();
    let mut elf_fds = Vec::new();
    for (t, ti) in manifest.tasks.iter().zip(images) {
        memory.push(TaskMemory {
            flash_base: t.flash.base,
            flash: ti.flash.clone(),
            ram_base: t.ram.base,
            ram: Ram::new(&t.name, &ti.ram_init)?,
        });
        elf_fds.push(spawn::elf_memfd(&t.name, &ti.elf)?);
    }
    let platform = HostPlatform {
        memory,
        devices: Devices::new(manifest)?,
        names: manifest.tasks.iter().map(|t| t.name.clone()).collect(),
        boot: started,
        image_id: manifest.image_id,
        shutdown: None,
        manifest: manifest.clone(),
        dumps: crate::dump::DumpDir::open(
            &opts.dump_dir,
            &manifest.name,
            manifest.tasks.len(),
        )?,
        registers: crate::registers::Registry::new(manifest.tasks.len()),
        debug: crate::debug::Debugger::new(manifest.tasks.len()),
    };
    Ok((platform, elf_fds))
}

impl Hosted {
    fn new(
        manifest: ImageManifest,
        images: Vec<TaskImage>,
        elf_fds: Vec<OwnedFd>,
        verbose: bool,
    ) -> Result<Self> {
        // Safety: plain fd-creating syscalls, checked; the signal set is
        // local.
        unsafe {
            let epoll = OwnedFd::from_raw_fd(check(
                libc::epoll_create1(libc::EPOLL_CLOEXEC),
                "epoll",
            )?);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
            {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            let signals = OwnedFd::from_raw_fd(check(
                libc::signalfd(
                    -1,
                    &set,
                    libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
                ),
                "signalfd",
            )?);
            let timer = OwnedFd::from_raw_fd(check(
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
                ),
                "timerfd",
            )?);
            let n = manifest.tasks.len();
            let h = Self {
                manifest,
                images,
                elf_fds,
                slots: (0..n).map(|_| None).collect(),
                zombies: Vec::new(),
                probe: None,
                spawns: 0,
                armed_us: None,
                logged: vec![0; n],
                effects: Effects::default(),
                epoll,
                signals,
                timer,
                verbose,
            };
            h.watch(h.signals.as_raw_fd(), TOKEN_SIGNAL)?;
            h.watch(h.timer.as_raw_fd(), TOKEN_TIMER)?;
            Ok(h)
        }
    }

    fn watch(&self, fd: RawFd, token: u64) -> Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // Safety: registering an fd we own with our epoll set.
        check(
            unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    fd,
                    &mut ev,
                )
            },
            "epoll_ctl",
        )?;
        Ok(())
    }

    /// Runs until a task asks for shutdown or we are told to stop.
    fn serve(&mut self, k: &mut Kernel<'_, HostPlatform>) -> u8 {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
        loop {
            if let Some(code) = k.platform.shutdown {
                let code = code.min(255) as u8;
                crate::trace::record(crate::trace::Trace::Shutdown { code });
                return code;
            }
            // Safety: waiting on our epoll set into a local array.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    16,
                    -1,
                )
            };
            if n < 0 {
                continue; // EINTR
            }
            for ev in &events[..n as usize] {
                if let Some(code) = self.on_event(k, ev) {
                    return code;
                }
                // Carry out each event's consequences before looking at the
                // next: a later event in the same batch may be a trap from
                // a process this one condemned (a task just restarted or
                // faulted), and it must meet that process already gone.
                self.apply(k);
            }
        }
    }

    /// One epoll event: signals, the probe, the timer, or a task's trap.
    /// `Some(code)` when the kernel must stop.
    fn on_event(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        ev: &libc::epoll_event,
    ) -> Option<u8> {
        let token = ev.u64;
        if token == TOKEN_SIGNAL {
            return self.on_signals(k);
        } else if token == TOKEN_PROBE {
            if let Some(p) = self.probe.as_mut() {
                p.accept(self.epoll.as_fd());
            }
        } else if token == TOKEN_TIMER {
            self.armed_us = None;
            let mut buf = [0u8; 8];
            // Safety: draining our own timerfd.
            unsafe {
                libc::read(
                    self.timer.as_raw_fd(),
                    buf.as_mut_ptr() as *mut _,
                    8,
                )
            };
        } else if Probe::owns(token) {
            let flags =
                rustix::event::epoll::EventFlags::from_bits_retain(ev.events);
            let effects = &mut self.effects;
            if let Some(p) = self.probe.as_mut() {
                let closed =
                    p.on_ready(self.epoll.as_fd(), token, flags, |line| {
                        crate::probe::requests::answer(k, effects, token, line)
                    });
                if closed {
                    // What a debugger held or set dies with it.
                    k.platform.debug.release_owner(token);
                }
            }
        } else if ev.events & libc::EPOLLIN as u32 != 0 {
            self.on_trap(k, token);
        }
        None
    }

    /// A task trapped: one of the kernel's syscalls, or the one `mmap` of
    /// its RAM, or something forbidden.
    ///
    /// `token` names the incarnation as well as the task: a killed
    /// process's listener can still report (a hang-up, or a syscall it made
    /// just before dying), and a blocking RECV on the *new* incarnation's
    /// listener for it would stop the kernel.
    fn on_trap(&mut self, k: &mut Kernel<'_, HostPlatform>, token: u64) {
        let i = (token & 0xFFFF) as usize;
        let Some(slot) = self.slots.get_mut(i).and_then(|s| s.as_mut()) else {
            return;
        };
        if slot.token != token {
            return;
        }
        let mut n = Notif::default();
        let fd = slot.process.listener.as_raw_fd();
        // Safety: RECV into a zeroed struct after EPOLLIN.
        if unsafe { libc::ioctl(fd, seccomp::IOCTL_NOTIF_RECV, &mut n) } != 0 {
            return; // the task died meanwhile; its exit arrives as SIGCHLD
        }
        if self.effects.stops(i) || self.effects.restarts(i) {
            // The core has already faulted or restarted this incarnation;
            // what its process asked for since is void (it is about to be
            // killed, and its successor starts from scratch).
            return;
        }
        let nr = n.data.nr as u32;
        let base = abi::HOSTED_SYSCALL_BASE as u32;
        let t = &self.manifest.tasks[i];
        if (base..base + 0x100).contains(&nr) {
            let frame = n.data.args[0];
            let Some(args) = read_frame_args(t, &k.platform.memory[i], frame)
            else {
                let f = FaultInfo::MemoryAccess {
                    address: u32::try_from(frame).ok(),
                    source: FaultSource::User,
                };
                self.effects.merge(k.fault(i, f));
                return;
            };
            slot.pending = Some(n.id);
            slot.frame = frame as u32;
            k.tasks.as_mut_slice()[i].save.args = args;
            self.effects.merge(k.handle_syscall(i, nr - base));
        } else if nr == seccomp::NR_MMAP
            && !slot.ram_mapped
            && is_ram_mmap(t, &n)
        {
            slot.ram_mapped = true;
            // The task has not run its own code yet: its breakpoints go
            // in before it does.
            k.platform.debug.started(i, slot.process.pid);
            let_through(fd, n.id);
        } else {
            let pc = u32::try_from(n.data.instruction_pointer).unwrap_or(0);
            crate::trace::record(crate::trace::Trace::ForbiddenTrap {
                task: i as u16,
                number: nr,
            });
            self.effects
                .merge(k.fault(i, FaultInfo::HostSyscall { number: nr, pc }));
        }
    }

    /// Child exits and ptrace stops (SIGCHLD), or a request to stop.
    fn on_signals(&mut self, k: &mut Kernel<'_, HostPlatform>) -> Option<u8> {
        let mut stop = None;
        loop {
            let mut si = [0u8; 128];
            // Safety: reading whole siginfo records from our signalfd.
            let r = unsafe {
                libc::read(
                    self.signals.as_raw_fd(),
                    si.as_mut_ptr() as *mut _,
                    128,
                )
            };
            if r != 128 {
                break;
            }
            let signo = u32::from_le_bytes([si[0], si[1], si[2], si[3]]) as i32;
            if signo != libc::SIGCHLD {
                klog!("signal {signo}, stopping");
                stop = Some(130);
            }
        }
        self.reap(k);
        stop
    }

    fn task_of_pid(&self, pid: libc::pid_t) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.process.pid == pid))
    }

    fn reap(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        loop {
            // Safety: waitid into a zeroed siginfo.
            let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let flags =
                libc::WEXITED | libc::WSTOPPED | libc::WNOHANG | libc::__WALL;
            if unsafe { libc::waitid(libc::P_ALL, 0, &mut si, flags) } != 0 {
                return;
            }
            // Safety: waitid filled these fields for a child event.
            let (pid, status) = unsafe { (si.si_pid(), si.si_status()) };
            if pid == 0 {
                return;
            }
            if si.si_code == libc::CLD_TRAPPED {
                self.on_stop(k, pid, status);
                continue;
            }
            crate::trace::record(crate::trace::Trace::Reaped { pid });
            self.zombies.retain(|z| z.pid != pid);
            if let Some(i) = self.task_of_pid(pid) {
                self.slots[i] = None;
                k.platform.registers.gone(i);
                k.platform.debug.gone(i);
                if !k.tasks.as_mut_slice()[i].is_faulted() {
                    let f = if si.si_code == libc::CLD_EXITED {
                        FaultInfo::HostSignal { signal: 0 }
                    } else {
                        FaultInfo::HostSignal {
                            signal: status as u32,
                        }
                    };
                    self.effects.merge(k.fault(i, f));
                }
            }
        }
    }

    /// A ptrace signal-delivery stop: a fault, with its address.
    fn on_stop(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        pid: libc::pid_t,
        signo: i32,
    ) {
        let Some(i) = self.task_of_pid(pid) else {
            // Safety: let a stray tracee go on.
            unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, 0) };
            return;
        };
        if k.platform.debug.on_stop(i, pid, signo)
            == crate::debug::Stop::Handled
        {
            // A held task's stop, a breakpoint, or a step over one.
            return;
        }
        if signo >> 8 == libc::PTRACE_EVENT_STOP {
            // A stop the debugger's register read asked for and did not
            // collect itself (see `registers`), or a group stop: go on.
            // Safety: resuming our own tracee.
            unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, 0) };
            return;
        }
        if !faults::is_fault_signal(signo & 0x7F) {
            // Safety: resume it with the signal it was getting.
            unsafe {
                libc::ptrace(
                    libc::PTRACE_CONT,
                    pid,
                    0,
                    (signo & 0x7F) as libc::c_long,
                )
            };
            return;
        }
        let mut raw = [0u8; 128];
        // Safety: GETSIGINFO/GETREGS into local buffers of the right size.
        let rip = unsafe {
            libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, raw.as_mut_ptr());
            let mut regs: libc::user_regs_struct = std::mem::zeroed();
            libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs);
            regs.rip
        };
        k.platform.registers.at_fault(i, pid, &raw);
        let f = faults::classify(&self.manifest.tasks[i], &raw, rip);
        self.effects.merge(k.fault(i, f));
    }

    /// Routes device interrupts to the tasks their app.toml names.
    fn route_irqs(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        for (p, line) in k.platform.devices.take_irqs() {
            for (i, t) in self.manifest.tasks.iter().enumerate() {
                for r in &t.interrupts {
                    if r.peripheral as usize == p && r.line == line {
                        self.effects.merge(k.raise_irq(i, r.mask));
                    }
                }
            }
        }
    }

    /// Carries out what the core decided, then lets devices and timers
    /// move on (which may decide more).
    fn apply(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        self.route_irqs(k);
        self.carry_out(k);
        let now_us = k.platform.boot.elapsed().as_micros() as u64;
        k.platform.devices.advance(now_us);
        self.route_irqs(k);
        let (woken, deadline_ms) = k.tick();
        self.effects.merge(woken);
        let task_us = deadline_ms.map(|ms| ms.saturating_mul(1000));
        let device_us = k.platform.devices.next_deadline_us();
        let next = match (task_us, device_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Re-arm only for a new deadline: this runs after every trap, and
        // a timerfd_settime per trap would be a host syscall on the IPC
        // path for nothing.
        if let Some(next) = next.filter(|&n| self.armed_us != Some(n)) {
            self.armed_us = Some(next);
            self.arm_timer(k, next);
        }
        // Timers may have woken someone.
        self.carry_out(k);
    }

    /// Stops, restarts and answers tasks as the core's effects say. Doing
    /// so can decide more (a spawn that fails faults the task), so we go
    /// on until nothing is left.
    fn carry_out(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        while !self.effects.is_empty() {
            let effects = std::mem::take(&mut self.effects);
            for i in effects.stopped() {
                self.stop(k, i);
            }
            for i in effects.restarted() {
                self.restart(k, i);
            }
            for i in effects.resumed() {
                self.resume(k, i);
            }
        }
    }

    /// Ends task `i`'s execution; logs (and dumps, if asked) its fault.
    fn stop(&mut self, k: &mut Kernel<'_, HostPlatform>, i: usize) {
        if k.tasks.as_slice().get(i).is_some_and(Task::is_faulted) {
            k.platform.registers.before_kill(i);
        }
        self.kill(i);
        k.platform.registers.gone(i);
        k.platform.debug.gone(i);
        let Some(task) = k.tasks.as_slice().get(i) else {
            return;
        };
        if let TaskState::Faulted { fault, .. } = task.state() {
            let name = &self.manifest.tasks[i].name;
            let line = format!("task {name} faulted: {fault:?}");
            crate::trace::record(crate::trace::Trace::Faulted {
                task: i as u16,
                fault,
            });
            self.log(i, &line);
            if self.manifest.kernel.dump_on_fault {
                let cause = crate::dump::Cause::Task(i);
                let _ = k.platform.write_dump(
                    k.tasks.as_slice(),
                    cause,
                    None,
                    &line,
                );
            }
        }
    }

    /// Prints a kernel event about task `i`. A task that faults and
    /// restarts in a loop would drown the log, so after the first
    /// [`LOG_BURST`] lines about one task only every 1000th is printed
    /// (with `-v`, all are).
    fn log(&mut self, i: usize, line: &str) {
        let n = self.logged[i];
        self.logged[i] += 1;
        if self.verbose || n < LOG_BURST {
            klog!("{line}");
        } else if n.is_multiple_of(1000) {
            klog!("{line} (event {n} for this task; others not shown)");
        }
    }

    /// Wakes the loop at `deadline_us` (µs since boot).
    fn arm_timer(&self, k: &Kernel<'_, HostPlatform>, deadline_us: u64) {
        let now = k.platform.boot.elapsed().as_micros() as u64;
        let wait_ns = deadline_us.saturating_sub(now).max(1) * 1_000;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (wait_ns / 1_000_000_000) as i64,
                tv_nsec: (wait_ns % 1_000_000_000) as i64,
            },
        };
        // Safety: arming our own timerfd.
        unsafe {
            libc::timerfd_settime(
                self.timer.as_raw_fd(),
                0,
                &spec,
                std::ptr::null_mut(),
            )
        };
    }

    fn kill(&mut self, i: usize) {
        if let Some(slot) = self.slots[i].take() {
            // Safety: removing our own fd from our epoll set; the zombie
            // keeps the fd open until it is reaped, so it must go now.
            unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    slot.process.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                )
            };
            // Safety: signalling our own child through its pidfd.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    slot.process.pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    0,
                    0,
                )
            };
            crate::trace::record(crate::trace::Trace::Killed {
                task: i as u16,
                pid: slot.process.pid,
            });
            self.zombies.push(slot.process);
        }
    }

    /// A fresh incarnation: new RAM from the image, and a new process if
    /// the core started the task.
    fn restart(&mut self, k: &mut Kernel<'_, HostPlatform>, i: usize) {
        self.kill(i);
        k.platform.registers.gone(i);
        k.platform.debug.gone(i);
        let name = self.manifest.tasks[i].name.clone();
        let t = &self.manifest.tasks[i];
        match Ram::new(&t.name, &self.images[i].ram_init) {
            Ok(ram) => k.platform.memory[i].ram = ram,
            Err(e) => {
                klog!("task {}: cannot allocate RAM: {e}", t.name)
            }
        }
        if k.tasks.as_mut_slice()[i].state()
            == TaskState::Healthy(abi::SchedState::Stopped)
        {
            return;
        }
        match spawn::spawn(&self.elf_fds[i], &k.platform.memory[i].ram.fd) {
            Ok(process) => {
                let fd = process.listener.as_raw_fd();
                let line = format!(
                    "task {} started (pid {}, gen {})",
                    name,
                    process.pid,
                    k.tasks.as_mut_slice()[i].generation().get()
                );
                self.log(i, &line);
                crate::trace::record(crate::trace::Trace::Started {
                    task: i as u16,
                    generation: k.tasks.as_mut_slice()[i].generation().get(),
                    pid: process.pid,
                });
                k.platform.registers.started(i, process.pid);
                self.spawns += 1;
                let token = (self.spawns << 16) | i as u64;
                self.slots[i] = Some(Slot {
                    process,
                    pending: None,
                    frame: 0,
                    ram_mapped: false,
                    token,
                });
                if let Err(e) = self.watch(fd, token) {
                    klog!("task {name}: {e:#}");
                }
            }
            Err(e) => {
                klog!("task {name}: cannot start: {e:#}");
                self.effects
                    .merge(k.fault(i, FaultInfo::HostSignal { signal: 0 }));
            }
        }
    }

    /// Answers the task's pending syscall with its `rets`.
    fn resume(&mut self, k: &mut Kernel<'_, HostPlatform>, i: usize) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        let Some(id) = slot.pending.take() else {
            return;
        };
        let rets = k.tasks.as_mut_slice()[i].save.rets;
        let mut bytes = [0u8; 32];
        for (c, r) in bytes.chunks_exact_mut(4).zip(rets) {
            c.copy_from_slice(&r.to_le_bytes());
        }
        let at = kern::Location {
            task: i,
            address: slot.frame + 32,
        };
        if let Err(e) = kern::Platform::write(&mut k.platform, at, &bytes) {
            // The frame was checked to be in the task's RAM at the trap,
            // so this cannot happen; if it did, the task cannot be
            // answered and is faulted rather than left hanging.
            self.effects.merge(k.fault(i, e.fault()));
            return;
        }
        let resp = NotifResp {
            id,
            val: 0,
            error: 0,
            flags: 0,
        };
        // Safety: answering the notification we hold. ENOENT means the task
        // died meanwhile, which SIGCHLD will tell us about.
        unsafe {
            libc::ioctl(
                slot.process.listener.as_raw_fd(),
                seccomp::IOCTL_NOTIF_SEND,
                &resp,
            )
        };
    }

    /// Kills every task and reaps every process, so nothing outlives us.
    fn stop_all(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        if self.verbose {
            for (i, t) in k.tasks.iter().enumerate() {
                klog!(
                    "task {}: gen {}, {} syscalls, {:?}",
                    self.manifest.tasks[i].name,
                    t.generation().get(),
                    t.syscall_count(),
                    t.state()
                );
            }
        }
        for i in 0..self.slots.len() {
            self.kill(i);
        }
        for z in self.zombies.drain(..) {
            if !spawn::kill_and_reap(z.pid, &z.pidfd) {
                klog!(
                    "task process {} did not die within {:?}",
                    z.pid,
                    spawn::CHILD_TIMEOUT
                );
            }
        }
    }
}

/// Lets trapped host syscall `id` (the task's one `mmap` of its RAM) run
/// as the task asked.
fn let_through(listener: RawFd, id: u64) {
    let resp = NotifResp {
        id,
        val: 0,
        error: 0,
        flags: seccomp::USER_NOTIF_FLAG_CONTINUE,
    };
    // Safety: answering a notification we received on this listener.
    unsafe { libc::ioctl(listener, seccomp::IOCTL_NOTIF_SEND, &resp) };
}

/// The arguments of the [`SyscallFrame`] a task says is at `frame`, or
/// `None` when that is not a word-aligned frame inside its RAM (the task
/// faults: a syscall's frame is a pointer like any other).
fn read_frame_args(
    t: &image_manifest::TaskEntry,
    memory: &TaskMemory,
    frame: u64,
) -> Option<[u32; 8]> {
    let size = std::mem::size_of::<SyscallFrame>() as u64;
    if !frame.is_multiple_of(4) || !t.ram.contains(frame, size) {
        return None;
    }
    let off = usize::try_from(frame - u64::from(t.ram.base)).ok()?;
    let bytes = memory.ram.bytes().get(off..off + 32)?;
    let mut args = [0u32; 8];
    for (a, word) in args.iter_mut().zip(bytes.chunks_exact(4)) {
        *a = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
    }
    Some(args)
}

/// The one `mmap` a task may make: its RAM memfd over its RAM range.
fn is_ram_mmap(t: &image_manifest::TaskEntry, n: &Notif) -> bool {
    let r = &t.ram;
    let args = [
        r.base as u64,
        r.size as u64,
        3,
        0x11,
        abi::HOSTED_RAM_FD as u64,
        0,
    ];
    n.data.args == args
}

impl Hosted {
    fn open_probe(&mut self, location: &Location) -> Result<()> {
        let probe = Probe::open(location)?;
        self.watch(probe.listener_fd().as_raw_fd(), TOKEN_PROBE)?;
        klog!("debug probe at {}", probe.path().display());
        self.probe = Some(probe);
        Ok(())
    }
}
