//! The task table: what a task is, and the state changes every syscall
//! shares (block, resume, fault, restart, notify).

use abi::{
    FAULT_NOTIFICATION, FaultInfo, Generation, InjectionAction, Kipcnum,
    PANIC_MESSAGE_MAX, SchedState, TaskId, TaskState, dead_response_code,
};

/// A memory region a task may touch.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct MemoryRegion {
    pub base: u32,
    pub size: u32,
    pub writable: bool,
}

impl MemoryRegion {
    fn contains(&self, addr: u32, len: u32) -> bool {
        let end = addr as u64 + len as u64;
        addr >= self.base && end <= self.base as u64 + self.size as u64
    }
}

/// One IRQ routed to a task.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct IrqRoute {
    pub peripheral: u16,
    /// The notification bit(s) it posts.
    pub mask: u32,
}

/// The static description of a task, from the image manifest. Never
/// changes after boot.
#[derive(Clone, Debug)]
pub struct TaskDesc {
    pub priority: u8,
    pub start: bool,
    /// Flash (read-only) and RAM (read-write).
    pub regions: [MemoryRegion; 2],
    /// Task indices this task may SEND to (its `task-slots`).
    pub slots: &'static [u16],
    /// Peripheral indices this task may access (its `uses`).
    pub uses: &'static [u16],
    pub irqs: &'static [IrqRoute],
    /// Bit `Kipcnum::grant_bit()` set for each privileged kipc granted.
    pub kipc_grants: u64,
}

impl TaskDesc {
    /// Whether `[addr, addr + len)` lies in one region with the needed
    /// access. Empty slices are always acceptable, as in Hubris.
    pub fn can_access(&self, addr: u32, len: u32, write: bool) -> bool {
        len == 0
            || self
                .regions
                .iter()
                .any(|r| (r.writable || !write) && r.contains(addr, len))
    }

    pub fn may_call(&self, index: usize) -> bool {
        self.slots.iter().any(|&s| s as usize == index)
    }

    pub fn may_kipc(&self, op: Kipcnum, own_index: usize) -> bool {
        own_index == 0
            || op.is_unprivileged()
            || self.kipc_grants & op.grant_bit() != 0
    }

    fn irq_mask(&self) -> u32 {
        self.irqs.iter().fold(0, |m, r| m | r.mask)
    }
}

/// A peripheral and whether its grant is currently revoked.
#[derive(Clone, Debug)]
pub struct Peripheral {
    /// The task that may revoke and restore the grant (besides the
    /// supervisor).
    pub managed_by: Option<u16>,
    pub revoked: bool,
}

/// A task's syscall "registers" (see `abi::SyscallFrame`).
#[derive(Copy, Clone, Debug, Default)]
pub struct SavedState {
    pub args: [u32; 8],
    pub rets: [u32; 8],
}

/// One pending injection.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Injection {
    /// Fires when `syscall_count` reaches this.
    pub at: u32,
    pub action: InjectionAction,
    pub injector: TaskId,
}

/// A task. Fields are private so the invariants hold: a task's generation
/// only moves forward, and a blocked task is named in no one else's state
/// under a stale generation.
#[derive(Clone, Debug)]
pub struct Task {
    pub desc: TaskDesc,
    state: TaskState,
    generation: Generation,
    /// The generation was already bumped for the current death (fault or
    /// restart), so the restart that follows must not bump it again.
    bumped_since_start: bool,
    pub(crate) notifications: u32,
    pub(crate) timer_deadline: Option<u64>,
    pub(crate) timer_notifications: u32,
    pub(crate) irq_enabled: u32,
    pub(crate) irq_pending: u32,
    pub save: SavedState,
    pub(crate) panic_message: [u8; PANIC_MESSAGE_MAX],
    pub(crate) panic_len: usize,
    pub(crate) syscall_count: u32,
    pub(crate) injection: Option<Injection>,
    /// Platform action: answer the task's pending syscall with `save.rets`.
    pub resume: bool,
    /// Platform action: stop the task's execution (it faulted).
    pub stop: bool,
    /// Platform action: throw away the task's execution context and start
    /// it afresh from its image (it was reinitialised); `start` says
    /// whether to run it.
    pub restart: bool,
}

impl Task {
    pub fn new(desc: TaskDesc) -> Self {
        Self {
            desc,
            state: TaskState::default(),
            generation: Generation::ZERO,
            bumped_since_start: false,
            notifications: 0,
            timer_deadline: None,
            timer_notifications: 0,
            irq_enabled: 0,
            irq_pending: 0,
            save: SavedState::default(),
            panic_message: [0; PANIC_MESSAGE_MAX],
            panic_len: 0,
            syscall_count: 0,
            injection: None,
            resume: false,
            stop: false,
            restart: false,
        }
    }

    pub fn state(&self) -> TaskState {
        self.state
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    pub fn syscall_count(&self) -> u32 {
        self.syscall_count
    }

    pub fn notifications(&self) -> u32 {
        self.notifications
    }

    pub fn timer(&self) -> (Option<u64>, u32) {
        (self.timer_deadline, self.timer_notifications)
    }

    pub fn is_faulted(&self) -> bool {
        self.state.is_faulted()
    }

    pub fn sched(&self) -> Option<SchedState> {
        match self.state {
            TaskState::Healthy(s) => Some(s),
            TaskState::Faulted { .. } => None,
        }
    }

    pub(crate) fn set_sched(&mut self, s: SchedState) {
        self.state = TaskState::Healthy(s);
    }

    /// Makes a blocked (or running) task runnable and asks the platform to
    /// answer its syscall.
    pub(crate) fn wake(&mut self) {
        self.state = TaskState::Healthy(SchedState::Runnable);
        self.resume = true;
    }

    /// Marks a (re)initialised task runnable; the platform starts it.
    pub(crate) fn start(&mut self) {
        self.state = TaskState::Healthy(SchedState::Runnable);
        self.restart = true;
    }

    /// Is this task blocked in a way that names `index` under a generation
    /// other than `current`?
    fn blocked_on_stale(&self, index: usize, current: Generation) -> bool {
        let stale = |t: TaskId| t.index() == index && t.generation() != current;
        match self.sched() {
            Some(SchedState::InSend(t) | SchedState::InReply(t)) => stale(t),
            Some(SchedState::InRecv(Some(t))) => stale(t),
            _ => false,
        }
    }
}

/// Bumps task `index`'s generation (once per death) and wakes everyone
/// blocked on its previous incarnation with the dead code.
fn bury(tasks: &mut [Task], index: usize) {
    if !tasks[index].bumped_since_start {
        tasks[index].generation = tasks[index].generation.next();
        tasks[index].bumped_since_start = true;
    }
    let g = tasks[index].generation;
    for (i, t) in tasks.iter_mut().enumerate() {
        if i != index && t.blocked_on_stale(index, g) {
            t.save.rets = [0; 8];
            t.save.rets[0] = dead_response_code(g);
            t.wake();
        }
    }
}

/// Faults task `index`: records the fault, stops it, bumps its generation
/// and releases its peers at once (Leasehold improvement 2: no client hangs
/// on a faulted server, even one the supervisor holds), and tells the
/// supervisor.
pub fn force_fault(tasks: &mut [Task], index: usize, fault: FaultInfo) {
    let t = &mut tasks[index];
    t.state = match t.state {
        TaskState::Healthy(s) => TaskState::Faulted {
            fault,
            original_state: s,
        },
        // A double fault keeps the original state and takes the new fault.
        TaskState::Faulted { original_state, .. } => TaskState::Faulted {
            fault,
            original_state,
        },
    };
    t.resume = false;
    t.stop = true;
    t.timer_deadline = None;
    bury(tasks, index);
    post(tasks, 0, FAULT_NOTIFICATION);
}

/// Reinitialises task `index` (kipc `reinit_task`): a new incarnation with a
/// new generation (unless its death already took one), its timer,
/// notifications and IRQs cleared, stopped or started.
pub fn reinit(tasks: &mut [Task], index: usize, start: bool) {
    bury(tasks, index);
    let t = &mut tasks[index];
    t.bumped_since_start = false;
    t.state = TaskState::default();
    t.notifications = 0;
    t.timer_deadline = None;
    t.timer_notifications = 0;
    t.irq_enabled = 0;
    t.irq_pending = 0;
    t.panic_len = 0;
    t.syscall_count = 0;
    t.injection = None;
    t.resume = false;
    t.stop = true;
    t.restart = true;
    if start {
        t.start();
    }
}

/// ORs `bits` into task `index`'s notifications and delivers them if it
/// is waiting for any of them.
pub fn post(tasks: &mut [Task], index: usize, bits: u32) {
    let t = &mut tasks[index];
    t.notifications |= bits;
    crate::ipc::deliver_notifications(t);
}

/// A device interrupt for task `index`'s notification bits `mask`: posted
/// if enabled (and then disabled until the task re-enables it, as
/// Hubris), otherwise left pending.
pub fn raise_irq(tasks: &mut [Task], index: usize, mask: u32) {
    let t = &mut tasks[index];
    let mask = mask & t.desc.irq_mask();
    let fire = mask & t.irq_enabled;
    t.irq_pending |= mask & !fire;
    t.irq_enabled &= !fire;
    if fire != 0 {
        post(tasks, index, fire);
    }
}

/// `IrqStatus` for a mask (bits of the task's IRQs).
pub(crate) fn irq_status(t: &Task, mask: u32) -> u32 {
    let mut s = 0;
    if t.irq_enabled & mask != 0 {
        s |= abi::IrqStatus::ENABLED.0;
    }
    if t.irq_pending & mask != 0 {
        s |= abi::IrqStatus::PENDING.0;
    }
    if t.notifications & mask != 0 {
        s |= abi::IrqStatus::POSTED.0;
    }
    s
}

/// Enables and/or clears IRQs; an enable with a pending IRQ fires it.
pub(crate) fn irq_control(
    tasks: &mut [Task],
    index: usize,
    mask: u32,
    enable: bool,
    clear: bool,
) {
    let t = &mut tasks[index];
    if clear {
        t.irq_pending &= !mask;
    }
    if enable {
        t.irq_enabled |= mask;
        let pending = t.irq_pending & mask;
        if pending != 0 {
            t.irq_pending &= !pending;
            t.irq_enabled &= !pending;
            post(tasks, index, pending);
        }
    } else {
        t.irq_enabled &= !mask;
    }
}

impl Task {
    pub(crate) fn irq_mask(&self) -> u32 {
        self.desc.irq_mask()
    }
}
