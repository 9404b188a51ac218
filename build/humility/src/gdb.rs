//! `humility gdb`: a GDB remote-serial-protocol server on a loopback TCP
//! port, backed by the kernel's debug probe (the protocol itself is the
//! `gdbstub` crate's).
//!
//! What GDB sees:
//!
//! - **One thread per task**, thread id = task index + 1 (as in dumps),
//!   named after the task (`info threads`). A task's registers are what
//!   the probe gives (`registers`): all of them for a faulted, held or
//!   running task, and for a task waiting in a kernel call `rip`, `rsp`
//!   and the callee-saved registers userlib's stub hands over; the rest
//!   are *unavailable*, never made up.
//! - **One address space**: tasks' flash and RAM never overlap, so an
//!   address names its task. Reads and writes are checked against the
//!   tasks' regions here and again by the kernel; writes go to RAM only;
//!   anything else is an error reply.
//! - **Software breakpoints** (`Z0`): the kernel puts an `int3` in the
//!   text of the task whose flash has the address; a task reaching it is
//!   held there and GDB is told that thread stopped.
//! - **All-stop, as far as GDB knows; one task at a time, in fact.**
//!   Only a task at a breakpoint (and the task named on the command
//!   line, from attach until the first `continue`; Ctrl-C holds it again)
//!   is held; every other task keeps running, so the system goes on
//!   serving while one task is under the debugger, as `jefe -H` holds a
//!   task. Registers of a running task are those of the moment GDB asks.
//!   `continue` releases the held tasks (stepping over a breakpoint);
//!   detaching releases everything and removes every breakpoint (the
//!   kernel does so too if humility dies: holds belong to the probe
//!   connection).
//! - **Single steps** (`stepi`, and GDB's own step over a breakpoint):
//!   the kernel single-steps the held task (`PTRACE_SINGLESTEP`); a task
//!   held while it waits in a kernel call steps over the whole call, as
//!   it stops when the call returns.
//! - Not supported: watchpoints, hardware breakpoints, writing
//!   registers.
//!
//! The protocol is guarded before gdbstub sees it ([`Framing`]): a packet
//! with a bad checksum is refused with `-` (GDB sends it again), an
//! oversized one with an error reply, stray bytes are dropped, and a
//! packet gdbstub cannot parse gets an error reply instead of ending the
//! session.

use std::collections::{BTreeSet, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use debug_protocol::Registers as ProbeRegisters;
use debug_protocol::wire::{Done, HoldReason, HoldTable, Request};
use gdbstub::arch::{Arch, Registers};
use gdbstub::common::{Signal, Tid};
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::run_blocking::{self, BlockingEventLoop};
use gdbstub::stub::{DisconnectReason, GdbStub, MultiThreadStopReason};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps,
    MultiThreadSchedulerLocking, MultiThreadSchedulerLockingOps,
    MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::ext::thread_extra_info::{
    ThreadExtraInfo, ThreadExtraInfoOps,
};
use gdbstub::target::{TargetError, TargetResult};

use crate::archive::Archive;
use crate::target::Probe;

/// Largest packet accepted, `$`, `#` and checksum included: gdbstub's
/// buffer, which it advertises to GDB as `PacketSize`.
pub const MAX_PACKET: usize = 4096;

/// How often a running target is looked at for a task that reached a
/// breakpoint, while GDB is quiet.
const POLL: Duration = Duration::from_millis(20);

/// The x86_64 machine as GDB's `i386:x86-64` knows it without a
/// description of its own (general registers, `rip`, `eflags`, segments,
/// x87, SSE).
pub enum LeaseholdX86 {}

impl Arch for LeaseholdX86 {
    type Usize = u64;
    type Registers = TaskRegisters;
    type BreakpointKind = usize;
    type RegId = ();

    fn target_description_xml() -> Option<&'static str> {
        Some(
            r#"<target version="1.0"><architecture>i386:x86-64</architecture><feature name="org.gnu.gdb.i386.sse"></feature></target>"#,
        )
    }
}

/// Bytes of GDB's `g` packet for that machine.
const G_BYTES: usize = 0x218;

/// GDB's order of the first 17 registers (`rax rbx rcx rdx rsi rdi rbp
/// rsp r8..r15 rip`), as DWARF numbers ([`ProbeRegisters::values`]).
const GDB_ORDER: [usize; 17] =
    [0, 3, 2, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// A task's registers for GDB: those the probe could read, the rest
/// unavailable (`xx` in the `g` packet).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskRegisters {
    /// By DWARF number, `rflags` at 17.
    pub values: [Option<u64>; 18],
}

impl Registers for TaskRegisters {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.values[16].unwrap_or(0)
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        let mut n = 0;
        let mut put = |v: Option<u64>, bytes: usize| {
            for b in 0..bytes {
                write_byte(v.map(|v| (v >> (8 * b)) as u8));
            }
            n += bytes;
        };
        for i in GDB_ORDER {
            put(self.values[i], 8);
        }
        put(self.values[17], 4);
        for _ in n..G_BYTES {
            write_byte(None);
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.len() < 0x8c {
            return Err(());
        }
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        for (k, i) in GDB_ORDER.into_iter().enumerate() {
            self.values[i] = Some(word(8 * k));
        }
        self.values[17] = Some(u64::from(u32::from_le_bytes([
            bytes[0x88],
            bytes[0x89],
            bytes[0x8a],
            bytes[0x8b],
        ])));
        Ok(())
    }
}

impl From<&ProbeRegisters> for TaskRegisters {
    fn from(r: &ProbeRegisters) -> Self {
        Self { values: r.values }
    }
}

/// The system as GDB sees it.
pub struct GdbTarget<'a> {
    archive: &'a Archive,
    probe: &'a mut Probe,
    /// Task named on the command line: held from attach and on Ctrl-C.
    focus: Option<usize>,
    /// Breakpoints we set, to take away at the end.
    breakpoints: BTreeSet<u32>,
    /// The task GDB asked to step in the next resume, then the one being
    /// stepped.
    step: Option<usize>,
}

fn tid_of(task: usize) -> Option<Tid> {
    NonZeroUsize::new(task + 1)
}

fn task_of(tid: Tid) -> usize {
    tid.get() - 1
}

impl<'a> GdbTarget<'a> {
    /// Attaches; holds `focus` (a task index) if given.
    ///
    /// # Errors
    ///
    /// If the kernel will not hold it.
    pub fn new(
        archive: &'a Archive,
        probe: &'a mut Probe,
        focus: Option<usize>,
    ) -> Result<Self> {
        if let Some(task) = focus {
            let _: Done = probe.call(&Request::Halt { task })?;
        }
        Ok(Self {
            archive,
            probe,
            focus,
            breakpoints: BTreeSet::new(),
            step: None,
        })
    }

    /// The task whose flash or RAM has `address`, and how many bytes of
    /// that region follow it.
    fn region_of(&self, address: u64) -> Option<(usize, u64)> {
        self.archive
            .manifest
            .tasks
            .iter()
            .enumerate()
            .find_map(|(i, t)| {
                [&t.ram, &t.flash].into_iter().find_map(|r| {
                    let end = u64::from(r.base) + u64::from(r.size);
                    (u64::from(r.base) <= address && address < end)
                        .then(|| (i, end - address))
                })
            })
    }

    fn holds(&mut self) -> Result<HoldTable, String> {
        self.probe
            .call(&Request::Holds)
            .map_err(|e| format!("{e:#}"))
    }

    /// Releases every task we hold.
    fn release_all(&mut self) -> Result<(), String> {
        for h in self.holds()?.holds.into_iter().filter(|h| h.ours) {
            let _: Done = self
                .probe
                .call(&Request::Release { task: h.task })
                .map_err(|e| format!("{e:#}"))?;
        }
        Ok(())
    }

    /// Takes every breakpoint away and releases every task: what detach
    /// leaves is the system as it was.
    ///
    /// # Errors
    ///
    /// If the probe fails (the kernel lifts them anyway when the
    /// connection closes).
    pub fn finish(&mut self) -> Result<()> {
        for address in std::mem::take(&mut self.breakpoints) {
            let _: Done = self.probe.call(&Request::Breakpoint {
                address,
                set: false,
            })?;
        }
        self.release_all().map_err(|e| anyhow!(e))
    }

    /// Why the target stopped, if it has: a task we hold reached a
    /// breakpoint, or the task being stepped has made its step.
    fn stop_reason(
        &mut self,
    ) -> Result<Option<MultiThreadStopReason<u64>>, String> {
        let step = self.step;
        for h in self.holds()?.holds {
            if !(h.ours && h.stopped) {
                continue;
            }
            let Some(tid) = tid_of(h.task) else { continue };
            match h.reason {
                HoldReason::Breakpoint => {
                    self.step = None;
                    return Ok(Some(MultiThreadStopReason::SwBreak(tid)));
                }
                HoldReason::Step if step == Some(h.task) => {
                    self.step = None;
                    return Ok(Some(MultiThreadStopReason::SignalWithThread {
                        tid,
                        signal: Signal::SIGTRAP,
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

impl gdbstub::target::Target for GdbTarget<'_> {
    type Arch = LeaseholdX86;
    type Error = String;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    // Acks stay on: a session gdbstub had to restart after a packet it
    // could not parse must agree with GDB on them.
    fn use_no_ack_mode(&self) -> bool {
        false
    }
}

impl MultiThreadBase for GdbTarget<'_> {
    fn read_registers(
        &mut self,
        regs: &mut TaskRegisters,
        tid: Tid,
    ) -> TargetResult<(), Self> {
        let task = task_of(tid);
        if task >= self.archive.manifest.tasks.len() {
            return Err(TargetError::Errno(3)); // ESRCH
        }
        // A task with no registers (never started, or not running) has
        // none to show: all unavailable.
        *regs = match self
            .probe
            .call::<ProbeRegisters>(&Request::Registers { task })
        {
            Ok(r) => TaskRegisters::from(&r),
            Err(_) => TaskRegisters::default(),
        };
        Ok(())
    }

    fn write_registers(
        &mut self,
        _regs: &TaskRegisters,
        _tid: Tid,
    ) -> TargetResult<(), Self> {
        // The kernel offers no way to change a task's registers.
        Err(TargetError::Errno(1)) // EPERM
    }

    fn read_addrs(
        &mut self,
        start: u64,
        data: &mut [u8],
        _tid: Tid,
    ) -> TargetResult<usize, Self> {
        let Some((task, left)) = self.region_of(start) else {
            return Err(TargetError::Errno(14)); // EFAULT
        };
        let len = (data.len() as u64).min(left);
        let bytes = self
            .probe
            .read(task, start, len)
            .map_err(|_| TargetError::Errno(14))?;
        let n = bytes.len().min(data.len());
        data[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn write_addrs(
        &mut self,
        start: u64,
        data: &[u8],
        _tid: Tid,
    ) -> TargetResult<(), Self> {
        let Some((task, left)) = self.region_of(start) else {
            return Err(TargetError::Errno(14));
        };
        if data.len() as u64 > left {
            return Err(TargetError::Errno(14));
        }
        // The kernel refuses anything but RAM.
        self.probe
            .write(task, start, data)
            .map_err(|_| TargetError::Errno(14))
    }

    fn list_active_threads(
        &mut self,
        thread_is_active: &mut dyn FnMut(Tid),
    ) -> Result<(), String> {
        for i in 0..self.archive.manifest.tasks.len() {
            if let Some(tid) = tid_of(i) {
                thread_is_active(tid);
            }
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(
        &mut self,
    ) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadResume for GdbTarget<'_> {
    fn resume(&mut self) -> Result<(), String> {
        let Some(task) = self.step else {
            return self.release_all();
        };
        // Step one task; the others GDB thinks stopped stay as they are.
        let call = |p: &mut Probe, r: Request| {
            p.call::<Done>(&r).map(|_| ()).map_err(|e| format!("{e:#}"))
        };
        call(self.probe, Request::Halt { task })?;
        call(self.probe, Request::Step { task })
    }

    fn clear_resume_actions(&mut self) -> Result<(), String> {
        self.step = None;
        Ok(())
    }

    fn support_single_step(
        &mut self,
    ) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(
        &mut self,
    ) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }

    fn set_resume_action_continue(
        &mut self,
        _tid: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), String> {
        // Continuing is releasing every held task (`resume`); signals
        // are not a Leasehold task's business.
        Ok(())
    }
}

impl MultiThreadSchedulerLocking for GdbTarget<'_> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), String> {
        // Only the tasks GDB names move: a step moves one task, and the
        // tasks not held run anyway (GDB's all-stop is a fiction here).
        Ok(())
    }
}

impl MultiThreadSingleStep for GdbTarget<'_> {
    fn set_resume_action_step(
        &mut self,
        tid: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), String> {
        self.step = Some(task_of(tid));
        Ok(())
    }
}

impl Breakpoints for GdbTarget<'_> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for GdbTarget<'_> {
    fn add_sw_breakpoint(
        &mut self,
        addr: u64,
        _kind: usize,
    ) -> TargetResult<bool, Self> {
        let Ok(address) = u32::try_from(addr) else {
            return Ok(false);
        };
        let set = Request::Breakpoint { address, set: true };
        if self.probe.call::<Done>(&set).is_err() {
            return Ok(false);
        }
        self.breakpoints.insert(address);
        Ok(true)
    }

    fn remove_sw_breakpoint(
        &mut self,
        addr: u64,
        _kind: usize,
    ) -> TargetResult<bool, Self> {
        let Ok(address) = u32::try_from(addr) else {
            return Ok(false);
        };
        if !self.breakpoints.remove(&address) {
            return Ok(false);
        }
        let clear = Request::Breakpoint {
            address,
            set: false,
        };
        Ok(self.probe.call::<Done>(&clear).is_ok())
    }
}

impl ThreadExtraInfo for GdbTarget<'_> {
    fn thread_extra_info(
        &self,
        tid: Tid,
        buf: &mut [u8],
    ) -> Result<usize, String> {
        let name = self.archive.task_name(task_of(tid));
        let n = name.len().min(buf.len());
        buf[..n].copy_from_slice(&name.as_bytes()[..n]);
        Ok(n)
    }
}

/// The GDB connection, framed and checked before gdbstub sees it.
pub struct Framing {
    stream: TcpStream,
    out: Vec<u8>,
    /// Checked bytes for gdbstub.
    ready: VecDeque<u8>,
    /// The packet being received, from its `$`.
    packet: Vec<u8>,
    /// Checksum digits still to come (0: not in a packet's checksum).
    sum_left: u8,
    /// Whether we are inside a packet.
    in_packet: bool,
    /// The packet being received is too long for gdbstub: its bytes are
    /// dropped, and it is refused when it ends.
    oversized: bool,
    closed: bool,
}

impl Framing {
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            out: Vec::new(),
            ready: VecDeque::new(),
            packet: Vec::new(),
            sum_left: 0,
            in_packet: false,
            oversized: false,
            closed: false,
        }
    }

    fn send_now(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.extend_from_slice(bytes);
        self.flush_out()
    }

    fn flush_out(&mut self) -> std::io::Result<()> {
        let out = std::mem::take(&mut self.out);
        Write::write_all(&mut self.stream, &out)?;
        Write::flush(&mut self.stream)
    }

    /// One byte from GDB through the framing rules.
    fn take(&mut self, b: u8) -> std::io::Result<()> {
        if !self.in_packet {
            match b {
                b'$' => {
                    self.in_packet = true;
                    self.packet.clear();
                    self.packet.push(b);
                }
                // Acks and Ctrl-C. A `-` (GDB asking for the last reply
                // again) would end gdbstub's session: dropped.
                b'+' | 0x03 => self.ready.push_back(b),
                _ => {}
            }
            return Ok(());
        }
        if !self.oversized {
            self.packet.push(b);
        }
        if self.sum_left > 0 {
            self.sum_left -= 1;
            if self.sum_left == 0 {
                self.in_packet = false;
                return self.end_packet();
            }
        } else if b == b'#' {
            self.sum_left = 2;
        } else if self.packet.len() > MAX_PACKET - 3 {
            // Too long for gdbstub: skip to its end, then refuse it.
            self.oversized = true;
            self.packet.clear();
        }
        Ok(())
    }

    fn end_packet(&mut self) -> std::io::Result<()> {
        let p = std::mem::take(&mut self.packet);
        if std::mem::take(&mut self.oversized) {
            // Taken (so GDB does not send it again) and refused.
            return self.send_now(&error_packet(0x22));
        }
        let n = p.len();
        if n < 4 {
            return self.send_now(b"-");
        }
        let body = &p[1..n - 3];
        let sum = body.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        let given = std::str::from_utf8(&p[n - 2..])
            .ok()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if given != Some(sum) {
            // Damaged on the way: GDB sends it again.
            return self.send_now(b"-");
        }
        self.ready.extend(p);
        Ok(())
    }

    /// Reads what the socket has (waiting up to `wait`, or for ever)
    /// through the framing.
    fn fill(&mut self, wait: Option<Duration>) -> std::io::Result<()> {
        if self.closed {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(wait) = wait {
            let mut fds = [rustix::event::PollFd::new(
                &self.stream,
                rustix::event::PollFlags::IN,
            )];
            let timeout = rustix::time::Timespec {
                tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(wait.subsec_nanos()),
            };
            if rustix::event::poll(&mut fds, Some(&timeout)).unwrap_or(0) == 0 {
                return Ok(());
            }
        }
        let mut buf = [0u8; 4096];
        let n = Read::read(&mut self.stream, &mut buf)?;
        if n == 0 {
            self.closed = true;
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        for &b in &buf[..n] {
            self.take(b)?;
        }
        Ok(())
    }
}

/// `$E<code>#<sum>`, with the ack of the packet it answers.
fn error_packet(code: u8) -> Vec<u8> {
    let body = format!("E{code:02x}");
    let sum = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
    format!("+${body}#{sum:02x}").into_bytes()
}

/// What gdbstub holds: our [`Framing`], borrowed, so that the session
/// can be started again on the same connection.
pub struct Link<'f>(&'f mut Framing);

impl Connection for Link<'_> {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> std::io::Result<()> {
        self.0.out.push(byte);
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.out.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush_out()
    }

    fn on_session_start(&mut self) -> std::io::Result<()> {
        self.0.stream.set_nodelay(true)
    }
}

impl ConnectionExt for Link<'_> {
    fn read(&mut self) -> std::io::Result<u8> {
        loop {
            if let Some(b) = self.0.ready.pop_front() {
                return Ok(b);
            }
            self.0.fill(None)?;
        }
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        if self.0.ready.is_empty() {
            self.0.fill(Some(Duration::ZERO))?;
        }
        Ok(self.0.ready.front().copied())
    }
}

/// How the target runs: released tasks run by themselves; we wait for
/// GDB to say something or a task to reach a breakpoint.
struct Running<'a, 'f>(std::marker::PhantomData<(&'a (), &'f ())>);

impl<'a, 'f> BlockingEventLoop for Running<'a, 'f> {
    type Target = GdbTarget<'a>;
    type Connection = Link<'f>;
    type StopReason = MultiThreadStopReason<u64>;

    fn wait_for_stop_reason(
        target: &mut GdbTarget<'a>,
        conn: &mut Link<'f>,
    ) -> Result<
        run_blocking::Event<Self::StopReason>,
        run_blocking::WaitForStopReasonError<String, std::io::Error>,
    > {
        use run_blocking::{Event, WaitForStopReasonError as E};
        loop {
            if let Some(b) = conn.0.ready.pop_front() {
                return Ok(Event::IncomingData(b));
            }
            conn.0.fill(Some(POLL)).map_err(E::Connection)?;
            if !conn.0.ready.is_empty() {
                continue;
            }
            if let Some(reason) = target.stop_reason().map_err(E::Target)? {
                return Ok(Event::TargetStopped(reason));
            }
        }
    }

    fn on_interrupt(
        target: &mut GdbTarget<'a>,
    ) -> Result<Option<Self::StopReason>, String> {
        let Some(task) = target.focus else {
            return Ok(Some(MultiThreadStopReason::Signal(Signal::SIGINT)));
        };
        let _: Done = target
            .probe
            .call(&Request::Halt { task })
            .map_err(|e| format!("{e:#}"))?;
        Ok(
            tid_of(task).map(|tid| MultiThreadStopReason::SignalWithThread {
                tid,
                signal: Signal::SIGINT,
            }),
        )
    }
}

/// Serves one GDB session on `stream` until GDB detaches or goes away.
///
/// # Errors
///
/// If the probe fails for good; a protocol error ends nothing.
pub fn serve(
    archive: &Archive,
    probe: &mut Probe,
    focus: Option<usize>,
    stream: TcpStream,
) -> Result<DisconnectReason> {
    let mut framing = Framing::new(stream);
    let mut target = GdbTarget::new(archive, probe, focus)?;
    let result = loop {
        let stub = GdbStub::builder(Link(&mut framing))
            .packet_buffer_size(MAX_PACKET)
            .build()
            .map_err(|e| anyhow!("gdbstub: {e:?}"))?;
        match stub.run_blocking::<Running>(&mut target) {
            Ok(reason) => break Ok(reason),
            Err(e) if e.is_connection_error() => {
                break Err(anyhow!("the GDB connection failed: {e}"));
            }
            Err(e) if e.is_target_error() => {
                break Err(anyhow!("the target failed: {e}"));
            }
            Err(e) => {
                // A packet gdbstub could not make sense of: refuse it and
                // go on with a fresh session on the same connection.
                eprintln!("humility: gdb: refused a packet: {e}");
                if framing.send_now(&error_packet(0x01)).is_err() {
                    break Ok(DisconnectReason::Disconnect);
                }
            }
        }
    };
    // Whatever ended the session, leave the system running.
    let finished = target.finish();
    let reason = result?;
    finished?;
    Ok(reason)
}

/// `humility gdb`: writes a GDB script that loads every task's ELF and
/// connects, listens on 127.0.0.1:`port` (0: any free port), says where,
/// and serves one session.
///
/// # Errors
///
/// If the port cannot be had, the ELFs cannot be written, or the probe
/// fails.
pub fn run(
    archive: &Archive,
    probe: &mut Probe,
    focus: Option<usize>,
    port: u16,
    dir: &Path,
    mut say: impl FnMut(&str),
) -> Result<DisconnectReason> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let port = listener.local_addr()?.port();
    let script = write_script(archive, focus, port, dir)?;
    say(&format!(
        "humility: GDB server for {} on 127.0.0.1:{port}; connect with: \
         gdb -x {}",
        archive.manifest.name,
        script.display()
    ));
    let (stream, _) = listener.accept()?;
    drop(listener);
    serve(archive, probe, focus, stream)
}

/// The task ELFs in `dir`, and `dir/gdbinit` that loads them (the focus
/// task's, else the first's, as the main file) and connects.
fn write_script(
    archive: &Archive,
    focus: Option<usize>,
    port: u16,
    dir: &Path,
) -> Result<std::path::PathBuf> {
    let tasks = &archive.manifest.tasks;
    let first = focus.unwrap_or(0);
    let mut order: Vec<usize> = vec![first];
    order.extend((0..tasks.len()).filter(|&i| i != first));
    let mut script = String::from(
        "set pagination off\nset confirm off\nset width 0\nset osabi none\n\
         set debuginfod enabled off\n",
    );
    for (n, &i) in order.iter().enumerate() {
        let name = &tasks[i].name;
        let elf = archive
            .read(&format!("elf/task/{name}"))
            .with_context(|| format!("task {name}'s ELF"))?;
        let path = dir.join(format!("{name}.elf"));
        std::fs::write(&path, elf)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let command = if n == 0 { "file" } else { "add-symbol-file" };
        script.push_str(&format!("{command} {}\n", path.display()));
    }
    script.push_str(&format!("target remote 127.0.0.1:{port}\n"));
    let path = dir.join("gdbinit");
    std::fs::write(&path, script)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A private directory for the task ELFs and the GDB script, removed
/// when the session ends.
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    /// `$TMPDIR/humility-gdb-<pid>`, mode 0700, new.
    ///
    /// # Errors
    ///
    /// If it exists already or cannot be made.
    pub fn new() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir()
            .join(format!("humility-gdb-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_g_packet_has_gdbs_layout_and_unknown_registers_stay_unknown() {
        let mut r = TaskRegisters::default();
        r.values[16] = Some(0x1000_1234); // rip
        r.values[3] = Some(0xb); // rbx: GDB's second register
        let mut bytes = Vec::new();
        r.gdb_serialize(|b| bytes.push(b));
        assert_eq!(bytes.len(), G_BYTES);
        assert_eq!(bytes[0], None, "rax is unknown");
        assert_eq!(bytes[8], Some(0xb));
        assert_eq!(
            &bytes[0x80..0x84],
            &[Some(0x34), Some(0x12), Some(0), Some(0x10)]
        );
        assert!(bytes[0x88..].iter().all(Option::is_none));
        assert_eq!(r.pc(), 0x1000_1234);
        // And back, for what GDB would send.
        let raw: Vec<u8> = bytes.iter().map(|b| b.unwrap_or(0)).collect();
        let mut back = TaskRegisters::default();
        back.gdb_deserialize(&raw).unwrap();
        assert_eq!(back.values[16], Some(0x1000_1234));
        assert_eq!(back.values[3], Some(0xb));
        assert!(back.gdb_deserialize(&raw[..8]).is_err());
    }

    #[test]
    fn error_replies_carry_their_checksum() {
        assert_eq!(error_packet(1), b"+$E01#a6");
        assert_eq!(error_packet(0x22), b"+$E22#a9");
    }
}
