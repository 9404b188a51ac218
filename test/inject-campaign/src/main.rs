//! The restart injection campaign (`test/injection.toml`, issue 6).
//!
//! Three clients (`test/inject-client`) load the iCE40, the Artix-7 and
//! the ECP5 (an LFE5U-25F through `drv/ecp5-spi`) through the FPGA
//! manager at the same time, case after case. In each case we fault or
//! restart one victim (a driver, the manager or a client) at a chosen
//! point:
//!
//! - at its N-th syscall from the start of the case, N swept over every
//!   syscall the victim makes in a whole load and in a streamed load
//!   (counts measured first, in calibration runs without injection);
//! - at the N-th syscall of a named driver operation: the client sends a
//!   checkpoint before each step of a streamed load, and at the step that
//!   reaches `parse_header` + `write_init`, `write`, or `write_complete`
//!   we arm the injection, N swept over that operation's syscalls;
//! - after a delay, with `fault_task` / `reinit_task` from our timer.
//!
//! The firmware store is a victim too: it makes no syscall while the
//! manager forwards its lease (it waits on the manager for good), so it
//! is hit after a delay while both clients load by name from it; they
//! may see `FirmwareStoreDied` (the load in flight) or `NoFirmwareStore`
//! (a load before its new incarnation offered its images again), and the
//! verification loads by name too.
//!
//! Then we check what every client saw: success, or an `FpgaError` that
//! this victim may cause (a driver: `DriverDied`, `NoDriver`; the manager:
//! `ManagerRestarted`, `NoDriver`; the store: `FirmwareStoreDied`,
//! `NoFirmwareStore`; a client: nothing for the others),
//! within a bounded time. Success is not taken on trust: after every
//! `Ok` the client checks that the device is configured by its pins
//! (read live, waiting out a victim's restart: the hardware outlives
//! every task) and, unless the manager itself restarted since, that the
//! manager records `OPERATING` with an image of our image's length and
//! SHA-256; an `Ok` that fails is reported as a code no victim explains
//! (`CODE_OK_UNCONFIRMED`, or `CODE_OK_DRIVER_CHANGED` when the driver
//! also died during the load). A
//! client that has not answered after the watchdog's deadline is a hang
//! (nothing in the kernel times out a call: our timer does). No task but the victim may have a new generation or
//! be faulted. Finally, once jefe has restarted the victim, both clients
//! must load a device again (swapping devices every other case, so a dead
//! client's lock must have been released).
//!
//! The case list is built from the calibrated counts and shuffled with a
//! xorshift generator seeded from app.toml (`config.seed`, or
//! `INJECTION_SEED` at build time), so a run is reproducible from the
//! seed printed first. We print one line per case group, then
//! `injections N, succeeded A, failed cleanly B, hangs H, unexpected
//! faults U`, then `test_injection_campaign ... ok` and shut down.

#![no_std]
#![no_main]

use drv_fpga_api::FpgaError;
use test_inject_api::{
    CODE_OK, CODE_OK_DRIVER_CHANGED, CODE_OK_UNCONFIRMED, CODE_READY, Command,
    OP_CHECKPOINT, OP_REPORT, REPORT_LEN, Report, Step, Workload,
};
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));
#[allow(dead_code)]
mod tasks {
    include!(concat!(env!("OUT_DIR"), "/tasks.rs"));
}
use tasks::*;

/// A client that has not reported this long after its command is hung.
const WATCHDOG_MS: u64 = 3_000;
/// A client call (load plus release) slower than this did not end in a
/// bounded time, even if it ended.
const CALL_BOUND_MS: u32 = 1_500;
/// How long jefe may take to restart a victim (its throttle is 50 ms).
const RESTART_MS: u64 = 1_000;
/// How long the verification loads may retry.
const VERIFY_MS: u32 = 1_500;
/// Injections the campaign must make.
const MIN_INJECTIONS: u32 = 1_000;
/// Cases we build at most (sweeps first, then delays up to the target).
const MAX_CASES: usize = 2_000;
/// Cases we aim for: fired injections fall a little short of cases.
const TARGET_CASES: usize = 1_250;
/// Delays for delayed injections, at most (an xc7 load takes ~10 ms).
const MAX_DELAY_MS: u32 = 14;
/// Consecutive cases without recovery after which we stop.
const MAX_STUCK: u32 = 3;
/// Stop before `cargo xtask test`'s 120 s watchdog would.
const MAX_RUN_MS: u64 = 100_000;
/// Failures described one by one before we only count them.
const MAX_DETAILS: u32 = 25;

// ---------------------------------------------------------------------
// Console

fn say(args: core::fmt::Arguments<'_>) {
    kipc::console_fmt(args);
}

fn now() -> u64 {
    sys_get_timer().now
}

/// How many times a task faulted or restarted from `a` to `b` (the
/// generation counts modulo 64; no case comes near that).
fn generations_between(a: TaskId, b: TaskId) -> u32 {
    let (a, b) = (
        u32::from(a.generation().get()),
        u32::from(b.generation().get()),
    );
    b.wrapping_sub(a) % 64
}

fn generation(index: usize) -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(index, Generation::ZERO))
}

fn error_name(code: u16) -> &'static str {
    match FpgaError::try_from(u32::from(code)) {
        Ok(e) => fpga_error_name(e),
        Err(()) if code == CODE_OK => "ok",
        Err(()) if code == CODE_READY => "(restarted)",
        // Never allowed (see `allowed`): each counts as unexplained.
        Err(()) if code == CODE_OK_UNCONFIRMED => {
            "Ok, but the device is not configured with the image"
        }
        Err(()) if code == CODE_OK_DRIVER_CHANGED => {
            "Ok, but the driver died during the load and the device is not configured"
        }
        Err(()) => "(undefined code)",
    }
}

fn fpga_error_name(e: FpgaError) -> &'static str {
    use FpgaError::*;
    match e {
        BadDevice => "BadDevice",
        BadBridge => "BadBridge",
        BadRegion => "BadRegion",
        NotLocked => "NotLocked",
        AlreadyLocked => "AlreadyLocked",
        NoDriver => "NoDriver",
        DriverDied => "DriverDied",
        BadFlags => "BadFlags",
        InvalidState => "InvalidState",
        HeaderInvalid => "HeaderInvalid",
        DataOutrunsImage => "DataOutrunsImage",
        WriteInitFailed => "WriteInitFailed",
        WriteFailed => "WriteFailed",
        WriteCompleteFailed => "WriteCompleteFailed",
        Timeout => "Timeout",
        ClientWentAway => "ClientWentAway",
        BridgeFailed => "BridgeFailed",
        ManagerRestarted => "ManagerRestarted",
        FirstChunkTooShort => "FirstChunkTooShort",
        ImageIncomplete => "ImageIncomplete",
        NoImage => "NoImage",
        UnknownImage => "UnknownImage",
        NoFirmwareStore => "NoFirmwareStore",
        FirmwareStoreDied => "FirmwareStoreDied",
        NotFirmwareStore => "NotFirmwareStore",
        BadCatalog => "BadCatalog",
    }
}

// ---------------------------------------------------------------------
// Cases

/// Victims, by their index in [`VICTIMS`].
const V_ICE40: u8 = 0;
const V_XC7: u8 = 1;
const V_MGR: u8 = 2;
const V_CLIENT_A: u8 = 3;
const V_CLIENT_B: u8 = 4;
const V_STORE: u8 = 5;
const V_ECP5: u8 = 6;
const V_CLIENT_C: u8 = 7;
const VICTIMS: [(&str, usize); 8] = [
    ("ice40 driver", ICE40),
    ("xc7 driver", XC7),
    ("manager", MGR),
    ("client a", CLIENT_A),
    ("client b", CLIENT_B),
    ("firmware store", STORE),
    ("ecp5 driver", ECP5),
    ("client c", CLIENT_C),
];
/// Victims swept by syscall count and hit after random delays (the
/// store makes no syscall mid-load: it has delayed cases of its own);
/// the last two only in an image with the ECP5.
const SWEPT_ALL: [u8; 7] = [
    V_ICE40, V_XC7, V_MGR, V_CLIENT_A, V_CLIENT_B, V_ECP5, V_CLIENT_C,
];
const SWEPT: &[u8] = SWEPT_ALL.split_at(if HAS_ECP5 { 7 } else { 5 }).0;
/// Cases that hit the store after a delay, per action.
const STORE_CASES: usize = 40;

/// Clients, by client number: a loads device 0 and b device 1 (they
/// swap every other verification), c always device 2, the ECP5 (only it
/// holds that image).
const NCLIENTS: usize = 3;
const CLIENTS: [usize; NCLIENTS] = [CLIENT_A, CLIENT_B, CLIENT_C];
/// Clients that take part: c only in an image with the ECP5.
const ACTIVE: usize = if HAS_ECP5 { 3 } else { 2 };
/// Each client's own device's driver (task index), by client number.
const DRIVERS: [usize; NCLIENTS] = [ICE40, XC7, ECP5];

/// The client whose device the driver victim `v` serves.
fn driver_client(v: u8) -> Option<usize> {
    match v {
        V_ICE40 => Some(0),
        V_XC7 => Some(1),
        V_ECP5 => Some(2),
        _ => None,
    }
}

/// Client `c`'s device in a verification round: a and b swap when
/// `swap`; c has only the ECP5 image.
fn verify_device(c: usize, swap: bool) -> u8 {
    if c < 2 {
        c as u8 ^ u8::from(swap)
    } else {
        c as u8
    }
}

#[derive(Copy, Clone, Debug, Eq, PartialEq)]
enum Trigger {
    /// At the victim's n-th syscall from the start of the case.
    Syscall(u16),
    /// At the victim driver's n-th syscall from the client's checkpoint
    /// before this step.
    Step(Step, u16),
    /// `fault_task` / `reinit_task` after this many ms.
    Delay(u16),
}

impl Trigger {
    fn kind(self) -> usize {
        match self {
            Self::Syscall(_) => 0,
            Self::Step(..) => 1,
            Self::Delay(_) => 2,
        }
    }
}

const TRIGGER_NAMES: [&str; 3] = ["at syscall", "in named op", "after delay"];
const ACTION_NAMES: [&str; 2] = ["fault", "restart"];

#[derive(Copy, Clone, Debug)]
struct Case {
    victim: u8,
    restart: bool,
    trigger: Trigger,
    workload: Workload,
    /// Chunk-length choice for streamed loads.
    chunk_sel: u8,
}

impl Case {
    const EMPTY: Case = Case {
        victim: 0,
        restart: false,
        trigger: Trigger::Delay(0),
        workload: Workload::Load,
        chunk_sel: 0,
    };

    fn action(&self) -> InjectionAction {
        if self.restart {
            InjectionAction::Restart
        } else {
            InjectionAction::Fault
        }
    }

    /// The store's cases load by name, so that its death matters.
    fn by_name(&self) -> bool {
        self.victim == V_STORE
    }

    fn group(&self) -> usize {
        (usize::from(self.victim) * 3 + self.trigger.kind()) * 2
            + usize::from(self.restart)
    }
}

/// Chunk lengths of streamed loads per device: several chunks per image.
fn chunk_len(device: usize, sel: u8) -> u32 {
    const ICE40: [u32; 3] = [2048, 4096, 12288];
    const XC7: [u32; 3] = [2048, 8192, 16384];
    // The ECP5 image is 582 KB: 5 to 18 chunks.
    const ECP5: [u32; 3] = [32768, 65536, 131072];
    let table = match device {
        0 => &ICE40,
        1 => &XC7,
        _ => &ECP5,
    };
    table[usize::from(sel) % 3]
}

/// xorshift64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n.max(1))) as u32
    }
}

// ---------------------------------------------------------------------
// Tallies

#[derive(Copy, Clone, Default)]
struct Tally {
    cases: u32,
    injections: u32,
    succeeded: u32,
    failed_cleanly: u32,
    hangs: u32,
    unexpected_faults: u32,
    /// An error this victim cannot explain, or an undefined code.
    wrong_errors: u32,
    /// No successful load after the victim's restart.
    not_recovered: u32,
    /// Slowest client call, ms.
    max_call_ms: u32,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.cases += o.cases;
        self.injections += o.injections;
        self.succeeded += o.succeeded;
        self.failed_cleanly += o.failed_cleanly;
        self.hangs += o.hangs;
        self.unexpected_faults += o.unexpected_faults;
        self.wrong_errors += o.wrong_errors;
        self.not_recovered += o.not_recovered;
        self.max_call_ms = self.max_call_ms.max(o.max_call_ms);
    }
}

const GROUPS: usize = VICTIMS.len() * 3 * 2;

// ---------------------------------------------------------------------
// The campaign

/// Syscalls a victim made while a step ran, measured in calibration.
#[derive(Copy, Clone, Default)]
struct StepCounts {
    /// Indexed by `Step as usize`; 0 = not seen.
    k: [u32; 8],
}

struct Campaign {
    /// A client blocked in its report SEND, waiting for a command.
    parked: [Option<TaskId>; NCLIENTS],
    /// What each client reported in this phase.
    report: [Option<Report>; NCLIENTS],
    /// Checkpoint bookkeeping of the calibration: (step, driver syscall
    /// count) at the client's last checkpoint.
    last_cp: [Option<(Step, u32)>; NCLIENTS],
    steps: [StepCounts; NCLIENTS],
    /// The case in progress, for checkpoints.
    armed_step: Option<(usize, Step, u16, InjectionAction)>,
    details: u32,
    /// The clients' reports of the last case proper (not its verify).
    seen: [Report; NCLIENTS],
}

/// A message or the timer.
enum Event {
    Timer,
    Client,
}

impl Campaign {
    fn new() -> Self {
        Self {
            parked: [None; NCLIENTS],
            report: [None; NCLIENTS],
            last_cp: [None; NCLIENTS],
            steps: [StepCounts::default(); NCLIENTS],
            armed_step: None,
            details: 0,
            seen: [Report::READY; NCLIENTS],
        }
    }

    /// Waits for one client message (handled here) or the timer at
    /// `deadline`.
    fn event(&mut self, deadline: u64) -> Event {
        sys_set_timer(Some(deadline), notifications::TIMER_MASK);
        loop {
            let mut buf = [0u8; REPORT_LEN];
            let msg = sys_recv_open(&mut buf, notifications::TIMER_MASK);
            if msg.sender == TaskId::KERNEL {
                if now() >= deadline {
                    return Event::Timer;
                }
                sys_set_timer(Some(deadline), notifications::TIMER_MASK);
                continue;
            }
            let Some(c) = CLIENTS[..ACTIVE]
                .iter()
                .position(|&i| i == msg.sender.index())
            else {
                sys_reply(msg.sender, 1, &[]);
                continue;
            };
            let data = &buf[..(msg.message_len as usize).min(REPORT_LEN)];
            match msg.operation as u16 {
                OP_REPORT => {
                    let Some(r) = Report::decode(data) else {
                        sys_reply(msg.sender, 1, &[]);
                        continue;
                    };
                    self.note_checkpoint(c, None);
                    self.parked[c] = Some(msg.sender);
                    self.report[c] = Some(r);
                    return Event::Client;
                }
                OP_CHECKPOINT if msg.message_len == 1 => {
                    let step = Step::from_u8(data[0]);
                    self.note_checkpoint(c, Some(step));
                    if let Some((victim, s, n, action)) = self.armed_step
                        && s == step
                        && c == victim_client(victim)
                    {
                        kipc::inject_at_syscall(victim, u32::from(n), action);
                        self.armed_step = None;
                    }
                    sys_reply(msg.sender, 0, &[]);
                }
                _ => sys_reply(msg.sender, 1, &[]),
            }
        }
    }

    /// Calibration: the driver of client `c`'s device made this many
    /// syscalls since the last checkpoint; attribute them to that step
    /// (its first occurrence).
    fn note_checkpoint(&mut self, c: usize, step: Option<Step>) {
        let count = kipc::read_syscall_count(DRIVERS[c]);
        if let Some((s, at)) = self.last_cp[c] {
            let k = &mut self.steps[c].k[s as usize];
            if *k == 0 {
                *k = count.wrapping_sub(at).max(1);
            }
        }
        self.last_cp[c] = step.map(|s| (s, count));
    }

    /// Waits until every client is parked and current (a restarted one
    /// reports READY first), or `deadline`. Returns whether they are.
    fn wait_parked(&mut self, deadline: u64) -> bool {
        loop {
            let ready = (0..ACTIVE).all(|c| {
                self.parked[c].is_some_and(|t| generation(t.index()) == t)
            });
            if ready {
                return true;
            }
            if now() >= deadline {
                return false;
            }
            let _ = self.event(deadline.min(now() + 5));
        }
    }

    /// Hands each client its command.
    // Indexes several per-client arrays in step.
    #[allow(clippy::needless_range_loop)]
    fn dispatch(&mut self, cmds: [Command; NCLIENTS]) {
        for c in 0..ACTIVE {
            self.report[c] = None;
            self.last_cp[c] = None;
            if let Some(t) = self.parked[c].take() {
                sys_reply(t, 0, &cmds[c].encode());
            }
        }
    }

    /// Restarts everything below us after a hang.
    fn reset_system(&mut self) {
        let all = [ICE40, XC7, MGR, CLIENT_A, CLIENT_B, ECP5, CLIENT_C];
        for t in &all[..all.len() - 2 * usize::from(!HAS_ECP5)] {
            let t = *t;
            kipc::inject_at_syscall(t, 0, InjectionAction::Fault);
            kipc::reinit_task(t, true);
        }
        self.parked = [None; NCLIENTS];
        let _ = self.wait_parked(now() + 2_000);
    }

    fn detail(&mut self, args: core::fmt::Arguments<'_>) {
        self.details += 1;
        if self.details <= MAX_DETAILS {
            say(args);
        }
    }

    /// Describes case `n` and what the clients saw in it (their reports
    /// of the case proper are kept in `seen`).
    fn describe_case(&mut self, n: usize, case: &Case) {
        let [a, b, c] = self.seen;
        self.detail(format_args!(
            "  case {n} was: {} {} {:?} {:?} chunks {}; client a saw {} at {:?} ({} ms), b saw {} at {:?} ({} ms), c saw {} at {:?} ({} ms)",
            VICTIMS[usize::from(case.victim)].0,
            ACTION_NAMES[usize::from(case.restart)],
            case.trigger,
            case.workload,
            case.chunk_sel,
            error_name(a.code),
            a.step,
            a.elapsed_ms,
            error_name(b.code),
            b.step,
            b.elapsed_ms,
            error_name(c.code),
            c.step,
            c.elapsed_ms
        ));
    }

    /// Runs every client once without injecting; returns each victim's
    /// syscalls over the case.
    fn calibrate(
        &mut self,
        workload: Workload,
        checkpoints: bool,
    ) -> [u32; VICTIMS.len()] {
        let count = |t: usize| {
            if t < TASKS {
                kipc::read_syscall_count(t)
            } else {
                0
            }
        };
        let before = VICTIMS.map(|(_, t)| count(t));
        let cmds = [0, 1, 2].map(|d| Command {
            workload,
            device: d as u8,
            checkpoints,
            chunk_len: chunk_len(d, 0),
            deadline_ms: 0,
            by_name: false,
        });
        self.dispatch(cmds);
        let deadline = now() + WATCHDOG_MS;
        while self.report[..ACTIVE].iter().any(Option::is_none) {
            if let Event::Timer = self.event(deadline) {
                say(format_args!("calibration hung"));
                finish(None, 0);
            }
        }
        let mut k = [0; VICTIMS.len()];
        for (i, (_, t)) in VICTIMS.iter().enumerate() {
            k[i] = count(*t).wrapping_sub(before[i]);
        }
        for c in 0..ACTIVE {
            let r = self.report[c].unwrap_or(Report::READY);
            if r.code != CODE_OK {
                say(format_args!(
                    "calibration: client {c} failed: {} at {:?}",
                    error_name(r.code),
                    r.step
                ));
                finish(None, 0);
            }
        }
        k
    }

    /// One verification round: every client loads (a's and b's devices
    /// swapped if `swap`; a and b from the firmware store if `by_name`)
    /// and must succeed. Returns (ok, slowest call ms, hung).
    fn verify(&mut self, swap: bool, by_name: bool) -> (bool, u32, bool) {
        let cmds = [0usize, 1, 2].map(|c| Command {
            workload: Workload::Verify,
            device: verify_device(c, swap),
            checkpoints: false,
            chunk_len: 0,
            deadline_ms: VERIFY_MS,
            by_name: by_name && c < 2,
        });
        self.dispatch(cmds);
        let deadline = now() + u64::from(VERIFY_MS) + WATCHDOG_MS;
        while self.report[..ACTIVE].iter().any(Option::is_none) {
            if let Event::Timer = self.event(deadline) {
                return (false, 0, true);
            }
        }
        let mut ok = true;
        let mut slowest = 0;
        for c in 0..ACTIVE {
            let r = self.report[c].unwrap_or(Report::READY);
            slowest = slowest.max(r.elapsed_ms);
            if r.code != CODE_OK {
                ok = false;
                self.detail(format_args!(
                    "  verify: client {c} on device {}: {} at {:?} after {} attempts, {} ms",
                    verify_device(c, swap),
                    error_name(r.code),
                    r.step,
                    r.attempts,
                    r.elapsed_ms
                ));
            }
        }
        (ok, slowest, false)
    }

    /// Runs one case; returns its tally (one case, at most one injection).
    #[allow(clippy::needless_range_loop)] // per-client arrays in step
    fn run(&mut self, n: usize, case: &Case) -> Tally {
        let mut t = Tally {
            cases: 1,
            ..Tally::default()
        };
        let (vname, victim) = VICTIMS[usize::from(case.victim)];
        let before: [TaskId; TASKS] = core::array::from_fn(generation);
        let cmds = [0usize, 1, 2].map(|d| Command {
            workload: case.workload,
            device: d as u8,
            checkpoints: matches!(case.trigger, Trigger::Step(..))
                && driver_client(case.victim) == Some(d),
            chunk_len: chunk_len(d, case.chunk_sel),
            deadline_ms: 0,
            // The store holds the iCE40 and Artix-7 images.
            by_name: case.by_name() && d < 2,
        });
        let mut delay_at = None;
        match case.trigger {
            Trigger::Syscall(k) => {
                kipc::inject_at_syscall(victim, u32::from(k), case.action());
            }
            Trigger::Step(s, k) => {
                self.armed_step = Some((victim, s, k, case.action()));
            }
            Trigger::Delay(ms) => delay_at = Some(now() + u64::from(ms)),
        }
        self.dispatch(cmds);
        let start = now();
        let watchdog = start + WATCHDOG_MS;
        let mut hung = false;
        // Until both clients have reported (a killed client reports READY
        // from its next incarnation) and a delayed injection is done.
        while self.report[..ACTIVE].iter().any(Option::is_none)
            || delay_at.is_some()
        {
            let deadline = delay_at.map_or(watchdog, |d: u64| d.min(watchdog));
            if let Event::Timer = self.event(deadline) {
                if let Some(d) = delay_at
                    && now() >= d
                {
                    delay_at = None;
                    if case.restart {
                        kipc::reinit_task(victim, true);
                    } else {
                        kipc::fault_task(victim);
                    }
                }
                if now() >= watchdog {
                    hung = true;
                    break;
                }
            }
        }
        self.armed_step = None;
        kipc::inject_at_syscall(victim, 0, InjectionAction::Fault);
        let fired = generation(victim) != before[victim];
        if fired {
            t.injections = 1;
        }
        if hung {
            t.hangs = 1;
            t.injections = 1;
            let missing =
                [0, 1, 2].map(|c| c < ACTIVE && self.report[c].is_none());
            self.detail(format_args!(
                "case {n}: HANG: {vname} {} {:?} {:?}: no report from client a: {}, b: {}, c: {} after {WATCHDOG_MS} ms",
                ACTION_NAMES[usize::from(case.restart)],
                case.trigger,
                case.workload,
                missing[0],
                missing[1],
                missing[2]
            ));
            if self.details <= MAX_DETAILS {
                for i in 1..TASKS {
                    say(format_args!(
                        "  task {i} gen {}: {:?}",
                        generation(i).generation().get(),
                        kipc::read_task_status(i)
                    ));
                }
            }
            self.reset_system();
            return t;
        }

        // What every client saw.
        self.seen = [0, 1, 2].map(|c| self.report[c].unwrap_or(Report::READY));
        let mut cut = false;
        let mut errors = false;
        for c in 0..ACTIVE {
            let r = self.report[c].unwrap_or(Report::READY);
            t.max_call_ms = t.max_call_ms.max(r.elapsed_ms);
            let is_victim = CLIENTS[c] == victim;
            if r.code == CODE_READY {
                // Restarted: expected only of a client that was the victim;
                // anyone else's restart shows as a new generation below.
                cut |= is_victim;
                continue;
            }
            if r.elapsed_ms > CALL_BOUND_MS {
                t.hangs = 1;
                self.detail(format_args!(
                    "case {n}: client {c} took {} ms ({vname} {:?})",
                    r.elapsed_ms, case.trigger
                ));
            }
            if r.code == CODE_OK {
                continue;
            }
            errors = true;
            if !allowed(case.victim, c, case.workload, r.code) {
                t.wrong_errors += 1;
                self.detail(format_args!(
                    "case {n}: client {c} got {} at {:?} from {vname} {} {:?} {:?}",
                    error_name(r.code),
                    r.step,
                    ACTION_NAMES[usize::from(case.restart)],
                    case.trigger,
                    case.workload
                ));
            }
        }

        // The victim is restarted (by jefe after a fault) and every client
        // is back and waiting.
        let restart_deadline = now() + RESTART_MS;
        while kipc::read_task_status(victim).is_faulted() {
            if now() >= restart_deadline {
                break;
            }
            let _ = self.event(now() + 1);
        }
        let parked = self.wait_parked(now() + RESTART_MS);
        let (recovered, slowest, vhung) = if parked {
            self.verify(n % 2 == 1, case.by_name())
        } else {
            (false, 0, false)
        };
        t.max_call_ms = t.max_call_ms.max(slowest);
        if vhung {
            t.hangs = 1;
            self.detail(format_args!(
                "case {n}: verification load hung after {vname} {:?}",
                case.trigger
            ));
            self.reset_system();
            return t;
        }
        if !recovered {
            t.not_recovered = 1;
            self.describe_case(n, case);
            self.detail(format_args!(
                "case {n}: no successful load after {vname} {} {:?} {:?} (fired {fired}, clients parked {parked})",
                ACTION_NAMES[usize::from(case.restart)],
                case.trigger,
                case.workload
            ));
        }

        // Nobody else faulted or restarted, the victim only once, and
        // nothing is left faulted.
        for i in 1..TASKS {
            let status = kipc::read_task_status(i);
            let bumps = generations_between(before[i], generation(i));
            let moved = bumps > u32::from(i == victim);
            if moved || status.is_faulted() {
                t.unexpected_faults += 1;
                let fault = match status {
                    TaskState::Faulted { fault, .. } => Some(fault),
                    _ => None,
                };
                self.detail(format_args!(
                    "case {n}: task {i} faulted or restarted {bumps} times ({fault:?}) when {vname} was hit {:?}",
                    case.trigger
                ));
            }
        }

        if fired && t.hangs == 0 {
            if cut || errors {
                t.failed_cleanly = 1;
            } else {
                t.succeeded = 1;
            }
        }
        t
    }
}

/// The client whose device the driver `victim` (a task index) serves.
fn victim_client(victim: usize) -> usize {
    DRIVERS.iter().position(|&d| d == victim).unwrap_or(0)
}

/// Whether client `c` may see `code` when `victim` was hit.
fn allowed(victim: u8, c: usize, workload: Workload, code: u16) -> bool {
    let Ok(e) = FpgaError::try_from(u32::from(code)) else {
        return false;
    };
    use FpgaError::*;
    let streamed = workload == Workload::Stream;
    match victim {
        // Only the client of the hit driver's device sees anything: the
        // call in progress died with it, or a later call found it unbound
        // (a stream it was part of is gone with the binding).
        V_ICE40 | V_XC7 | V_ECP5 if driver_client(victim) == Some(c) => {
            matches!(e, DriverDied | NoDriver)
                || (streamed && e == InvalidState)
        }
        // Everyone talks to the manager: the call in progress gets the dead
        // code, and a restarted manager may not have bound a driver yet.
        V_MGR => matches!(e, ManagerRestarted | NoDriver),
        // Every by-name load borrows the store's lease: the one in flight
        // dies with it, and a later one may come before its restarted
        // incarnation has offered its images again.
        // (Client c never loads by name.)
        V_STORE => {
            workload == Workload::Load
                && c < 2
                && matches!(e, FirmwareStoreDied | NoFirmwareStore)
        }
        // A dead client is nobody else's business; other drivers' clients
        // see nothing either.
        V_CLIENT_A | V_CLIENT_B | V_CLIENT_C | V_ICE40 | V_XC7 | V_ECP5 => {
            false
        }
        _ => false,
    }
}

/// Builds the case list: every sweep, then delayed injections up to
/// [`TARGET_CASES`], shuffled.
fn build_cases(
    rng: &mut Rng,
    cases: &mut [Case; MAX_CASES],
    k_load: &[u32; VICTIMS.len()],
    k_stream: &[u32; VICTIMS.len()],
    steps: &[StepCounts; NCLIENTS],
) -> usize {
    let mut n = 0;
    let mut push = |n: &mut usize, c: Case| {
        if *n < MAX_CASES {
            cases[*n] = c;
            *n += 1;
        }
    };
    for restart in [false, true] {
        for &victim in SWEPT {
            // Streamed loads take many more syscalls: every third one, from
            // a seeded offset.
            for (workload, k, stride) in [
                (Workload::Load, k_load[usize::from(victim)], 1),
                (Workload::Stream, k_stream[usize::from(victim)], 3),
            ] {
                let first = 1 + rng.below(stride) as usize;
                let last = k.min(400) as usize;
                for s in (first..=last).step_by(stride as usize) {
                    push(
                        &mut n,
                        Case {
                            victim,
                            restart,
                            trigger: Trigger::Syscall(s as u16),
                            workload,
                            chunk_sel: 0,
                        },
                    );
                }
            }
        }
        for victim in [V_ICE40, V_XC7, V_ECP5] {
            let Some(c) = driver_client(victim).filter(|&c| c < ACTIVE) else {
                continue;
            };
            let counts = &steps[c];
            for step in [Step::FirstChunk, Step::Chunk, Step::End] {
                for s in 1..=counts.k[step as usize].min(200) {
                    push(
                        &mut n,
                        Case {
                            victim,
                            restart,
                            trigger: Trigger::Step(step, s as u16),
                            workload: Workload::Stream,
                            chunk_sel: 0,
                        },
                    );
                }
            }
        }
    }
    for i in 0..2 * STORE_CASES {
        push(
            &mut n,
            Case {
                victim: V_STORE,
                restart: i % 2 == 1,
                trigger: Trigger::Delay(rng.below(MAX_DELAY_MS + 1) as u16),
                workload: Workload::Load,
                chunk_sel: 0,
            },
        );
    }
    let goal = (n + 100).clamp(TARGET_CASES, MAX_CASES);
    while n < goal {
        let workload = if rng.below(2) == 0 {
            Workload::Load
        } else {
            Workload::Stream
        };
        push(
            &mut n,
            Case {
                victim: SWEPT[rng.below(SWEPT.len() as u32) as usize],
                restart: rng.below(2) == 1,
                trigger: Trigger::Delay(rng.below(MAX_DELAY_MS + 1) as u16),
                workload,
                chunk_sel: rng.below(3) as u8,
            },
        );
    }
    // Fisher-Yates: spreads each victim's cases apart, so jefe's restart
    // throttle (50 ms) rarely delays us.
    for i in (1..n).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        cases.swap(i, j);
    }
    n
}

fn finish(total: Option<&Tally>, ms: u64) -> ! {
    let pass = total.is_some_and(|t| {
        t.hangs == 0
            && t.unexpected_faults == 0
            && t.injections >= MIN_INJECTIONS
            && t.wrong_errors == 0
            && t.not_recovered == 0
    });
    if pass {
        say(format_args!("test_injection_campaign ... ok"));
        say(format_args!("1 passed, 0 failed"));
        kipc::shutdown(0);
    } else {
        match total {
            Some(t) => say(format_args!(
                "test_injection_campaign ... FAILED (injections {}, hangs {}, unexpected faults {}, unexplained errors {}, not recovered {}, {ms} ms)",
                t.injections,
                t.hangs,
                t.unexpected_faults,
                t.wrong_errors,
                t.not_recovered
            )),
            None => say(format_args!(
                "test_injection_campaign ... FAILED (calibration)"
            )),
        }
        say(format_args!("0 passed, 1 failed"));
        kipc::shutdown(1);
    }
    loop {
        sys_recv_notification(0);
    }
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let t0 = now();
    say(format_args!("injection campaign: seed {SEED:#x}"));
    let mut rng = Rng(SEED | 1);
    let mut campaign = Campaign::new();
    if !campaign.wait_parked(now() + 5_000) {
        say(format_args!("clients never reported ready"));
        finish(None, 0);
    }
    // Both devices bound and loadable before we start.
    let (ok, _, _) = campaign.verify(false, false);
    // And the firmware store has offered its images.
    let (ok, _, _) = if ok {
        campaign.verify(false, true)
    } else {
        (ok, 0, false)
    };
    if !ok {
        finish(None, 0);
    }
    // Calibration: each victim's syscalls over a whole load and a
    // streamed load (the larger of two runs), and each driver's per step.
    let mut k_load = [0u32; VICTIMS.len()];
    let mut k_stream = [0u32; VICTIMS.len()];
    for _ in 0..2 {
        let k = campaign.calibrate(Workload::Load, false);
        k_load = core::array::from_fn(|i| k_load[i].max(k[i]));
        let k = campaign.calibrate(Workload::Stream, false);
        k_stream = core::array::from_fn(|i| k_stream[i].max(k[i]));
    }
    let _ = campaign.calibrate(Workload::Stream, true);
    let steps = campaign.steps;
    say(format_args!(
        "calibration: syscalls per load (ice40 drv, xc7 drv, mgr, client a, client b, store, ecp5 drv, client c): whole {k_load:?}, streamed {k_stream:?}"
    ));
    for (c, name) in ["ice40", "xc7", "ecp5"][..ACTIVE].iter().enumerate() {
        let k = &steps[c].k;
        say(format_args!(
            "calibration: {name} driver syscalls in parse_header+write_init+write {}, write {}, write_complete {}",
            k[Step::FirstChunk as usize],
            k[Step::Chunk as usize],
            k[Step::End as usize]
        ));
    }

    let mut cases = [Case::EMPTY; MAX_CASES];
    let n = build_cases(&mut rng, &mut cases, &k_load, &k_stream, &steps);
    say(format_args!("{n} cases"));
    let mut groups = [Tally::default(); GROUPS];
    let mut total = Tally::default();
    let mut stuck = 0;
    for (i, case) in cases[..n].iter().enumerate() {
        let t = campaign.run(i, case);
        groups[case.group()].add(&t);
        total.add(&t);
        stuck = if t.not_recovered > 0 { stuck + 1 } else { 0 };
        if stuck >= MAX_STUCK || now() - t0 > MAX_RUN_MS {
            say(format_args!(
                "campaign stopped after case {i}: {}",
                if stuck >= MAX_STUCK {
                    "the system did not recover for 3 cases in a row"
                } else {
                    "out of time"
                }
            ));
            break;
        }
    }
    for (g, t) in groups.iter().enumerate() {
        if t.cases == 0 {
            continue;
        }
        let victim = g / 6;
        let trigger = (g / 2) % 3;
        say(format_args!(
            "{} {} {}: cases {}, injections {}, succeeded {}, failed cleanly {}, hangs {}, unexpected faults {}, unexplained errors {}, not recovered {}, slowest call {} ms",
            VICTIMS[victim].0,
            ACTION_NAMES[g % 2],
            TRIGGER_NAMES[trigger],
            t.cases,
            t.injections,
            t.succeeded,
            t.failed_cleanly,
            t.hangs,
            t.unexpected_faults,
            t.wrong_errors,
            t.not_recovered,
            t.max_call_ms
        ));
    }
    let ms = now() - t0;
    say(format_args!(
        "campaign: {} cases in {ms} ms; unexplained errors {}, not recovered {}, slowest client call {} ms",
        total.cases, total.wrong_errors, total.not_recovered, total.max_call_ms
    ));
    say(format_args!(
        "injections {}, succeeded {}, failed cleanly {}, hangs {}, unexpected faults {}",
        total.injections,
        total.succeeded,
        total.failed_cleanly,
        total.hangs,
        total.unexpected_faults
    ));
    finish(Some(&total), ms)
}
