//! The task table: what a task is, and the state changes every syscall
//! shares (block, resume, fault, restart, notify).

use crate::effects::Effects;

mod desc;
mod notify;
use abi::{
    FAULT_NOTIFICATION, FaultInfo, Generation, InjectionAction,
    PANIC_MESSAGE_MAX, SchedState, TaskId, TaskState, dead_response_code,
};
pub use desc::{IrqRoute, MemoryRegion, Peripheral, TaskDesc};
pub(crate) use notify::{deliver_notifications, irq_control, irq_status};
pub use notify::{post, raise_irq};

/// A task's syscall "registers" (see `abi::SyscallFrame`). The typed
/// views of `args` live in [`crate::args`].
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

/// An index into the task table that has been checked against it.
///
/// Only [`TaskIndex::new`] makes one, and only for an index below the
/// table's length; the kernel has one task table, whose length is fixed at
/// boot, so indexing it with a `TaskIndex` cannot go out of bounds. This
/// is how the kernel indexes its table without a panic path on input.
#[derive(Copy, Clone, Debug, Eq, PartialEq, PartialOrd, Ord, Hash)]
pub struct TaskIndex(usize);

impl TaskIndex {
    /// `index` if it names a task of `tasks`.
    pub fn new(tasks: &TaskTable<'_>, index: usize) -> Option<Self> {
        (index < tasks.len()).then_some(Self(index))
    }

    /// Any index, unchecked: for unit tests of code that only carries
    /// indices (the effects sets), without a table that large.
    #[cfg(test)]
    pub(crate) fn for_tests(index: usize) -> Self {
        Self(index)
    }

    /// Every index of `tasks`, in table order.
    pub fn all(
        tasks: &TaskTable<'_>,
    ) -> impl Iterator<Item = Self> + Clone + use<> {
        (0..tasks.len()).map(Self)
    }

    pub fn get(self) -> usize {
        self.0
    }

    /// The supervisor is task 0, as in Hubris.
    pub fn is_supervisor(self) -> bool {
        self.0 == 0
    }

    /// The supervisor's index, if `tasks` has one (any real image does).
    pub fn supervisor(tasks: &TaskTable<'_>) -> Option<Self> {
        Self::new(tasks, 0)
    }
}

/// The kernel's task table: the tasks, indexed by [`TaskIndex`].
///
/// It deliberately does not dereference to a slice, so that kernel code
/// cannot index it with a bare `usize` (which could be out of bounds);
/// a platform reads it through [`TaskTable::as_slice`].
///
/// It also gathers what the platform must do ([`Effects`]) as the core
/// changes task states, for the event being handled to return.
#[derive(Debug)]
pub struct TaskTable<'a>(&'a mut [Task], Effects);

impl<'a> TaskTable<'a> {
    pub fn new(tasks: &'a mut [Task]) -> Self {
        Self(tasks, Effects::default())
    }

    /// What the platform must do since the last call.
    pub fn take_effects(&mut self) -> Effects {
        core::mem::take(&mut self.1)
    }

    /// Makes a blocked (or running) task runnable; the platform answers
    /// its syscall.
    pub(crate) fn wake(&mut self, index: TaskIndex) {
        self[index].state = TaskState::Healthy(SchedState::Runnable);
        self.1.resume(index);
    }

    /// Answers the task's syscall with `rets` and wakes it.
    pub(crate) fn wake_with(&mut self, index: TaskIndex, rets: [u32; 8]) {
        self[index].save.rets = rets;
        self.wake(index);
    }

    /// Marks a (re)initialised task runnable; the platform starts it.
    pub(crate) fn start(&mut self, index: TaskIndex) {
        self[index].state = TaskState::Healthy(SchedState::Runnable);
        self.1.restart(index);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Task> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[Task] {
        self.0
    }

    /// For the platform's own bookkeeping (today: the flags it clears
    /// after acting on them, and the saved arguments it fills in).
    pub fn as_mut_slice(&mut self) -> &mut [Task] {
        self.0
    }
}

impl core::ops::Index<TaskIndex> for TaskTable<'_> {
    type Output = Task;

    // A `TaskIndex` was checked against this table's length, which never
    // changes (see `TaskIndex`).
    #[allow(clippy::indexing_slicing)]
    fn index(&self, index: TaskIndex) -> &Task {
        &self.0[index.0]
    }
}

impl core::ops::IndexMut<TaskIndex> for TaskTable<'_> {
    // As `index`: a `TaskIndex` is in bounds by construction.
    #[allow(clippy::indexing_slicing)]
    fn index_mut(&mut self, index: TaskIndex) -> &mut Task {
        &mut self.0[index.0]
    }
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

    /// The message a panicking task left (empty unless it panicked).
    pub fn panic_message(&self) -> &[u8] {
        self.panic_message.get(..self.panic_len).unwrap_or(&[])
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

    /// Is this task blocked in a way that names `index` under a generation
    /// other than `current`?
    fn blocked_on_stale(&self, index: usize, current: Generation) -> bool {
        let stale = |peer: TaskId| {
            peer.index() == index && peer.generation() != current
        };
        match self.sched() {
            Some(SchedState::InSend(peer) | SchedState::InReply(peer)) => {
                stale(peer)
            }
            Some(SchedState::InRecv(Some(peer))) => stale(peer),
            _ => false,
        }
    }

    /// The `TaskId` of this task, which sits at `index`.
    pub(crate) fn id_at(&self, index: TaskIndex) -> TaskId {
        TaskId::for_index_and_gen(index.get(), self.generation)
    }
}

/// Bumps task `index`'s generation (once per death) and wakes everyone
/// blocked on its previous incarnation with the dead code.
fn bury(tasks: &mut TaskTable<'_>, index: TaskIndex) {
    let dead = &mut tasks[index];
    if !dead.bumped_since_start {
        dead.generation = dead.generation.next();
        dead.bumped_since_start = true;
    }
    let current = dead.generation;
    for other in TaskIndex::all(tasks).filter(|&other| other != index) {
        if tasks[other].blocked_on_stale(index.get(), current) {
            let mut rets = [0; 8];
            rets[0] = dead_response_code(current);
            tasks.wake_with(other, rets);
        }
    }
}

/// Faults task `index`: records the fault, stops it, bumps its generation
/// and releases its peers at once (Leasehold improvement 2: no client hangs
/// on a faulted server, even one the supervisor holds), and tells the
/// supervisor.
pub fn force_fault(
    tasks: &mut TaskTable<'_>,
    index: TaskIndex,
    fault: FaultInfo,
) {
    let task = &mut tasks[index];
    task.state = match task.state {
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
    task.timer_deadline = None;
    tasks.1.stop(index);
    bury(tasks, index);
    if let Some(supervisor) = TaskIndex::supervisor(tasks) {
        post(tasks, supervisor, FAULT_NOTIFICATION);
    }
}

/// Reinitialises task `index` (kipc `reinit_task`): a new incarnation with a
/// new generation (unless its death already took one), its timer,
/// notifications and IRQs cleared, stopped or started.
pub fn reinit(tasks: &mut TaskTable<'_>, index: TaskIndex, start: bool) {
    bury(tasks, index);
    let task = &mut tasks[index];
    task.bumped_since_start = false;
    task.state = TaskState::default();
    task.notifications = 0;
    task.timer_deadline = None;
    task.timer_notifications = 0;
    task.irq_enabled = 0;
    task.irq_pending = 0;
    task.panic_len = 0;
    task.syscall_count = 0;
    task.injection = None;
    tasks.1.stop(index);
    tasks.1.restart(index);
    if start {
        tasks.start(index);
    }
}

/// Tests look tasks up by plain index; a bad one fails the test.
#[cfg(test)]
impl core::ops::Index<usize> for TaskTable<'_> {
    type Output = Task;

    fn index(&self, index: usize) -> &Task {
        &self.0[index]
    }
}

#[cfg(test)]
impl core::ops::IndexMut<usize> for TaskTable<'_> {
    fn index_mut(&mut self, index: usize) -> &mut Task {
        &mut self.0[index]
    }
}
