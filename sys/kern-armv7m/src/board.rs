//! The kernel's state and what every kernel entry does with it: hand the
//! event to the core, carry out the `Effects` it returns, choose the next
//! task.
//!
//! There is one [`Board`], reached only through [`with_board`]. Every
//! exception that calls it runs at the same priority, so it is never
//! entered twice; the flag makes sure of it anyway.

use core::sync::atomic::{AtomicBool, Ordering};

use abi::{FaultInfo, SchedState, TaskState};
use kern::task::MemoryRegion;
use kern::{Effects, Kernel, Peripheral, Task, TaskDesc};

use crate::arch::{self, SavedRegs};
use crate::config::{IRQ_LINES, PERIPHERALS, TASKS};
use crate::console::klog;
use crate::faults;
use crate::mpu;
use crate::platform::Mps2;

use crate::config::{PERIPHERAL_COUNT, TASK_COUNT};

pub struct Board {
    kernel: Kernel<'static, Mps2>,
    /// The task whose registers the CPU holds (or last held).
    current: usize,
    /// Whether a task has run yet (the first SVC comes from boot).
    started: bool,
    /// The next timer deadline the core asked to be woken for.
    deadline: Option<u64>,
    /// When a device model's pins next change by themselves (µs).
    device_deadline: Option<u64>,
    /// Each task's registers while it is not running.
    saves: [SavedRegs; TASK_COUNT],
    /// Which tasks app.toml starts have not had the CPU yet; when the
    /// last one gets it, the kernel logs the boot time (once).
    not_yet_run: [bool; TASK_COUNT],
    /// How many entries of `not_yet_run` are set.
    waiting_to_run: usize,
}

static mut BOARD: Option<Board> = None;
static IN_KERNEL: AtomicBool = AtomicBool::new(false);

/// Runs `f` on the board. Panics if re-entered (a kernel bug: every
/// caller is an exception at kernel priority).
pub fn with_board<R>(f: impl FnOnce(&mut Board) -> R) -> R {
    if IN_KERNEL.swap(true, Ordering::Acquire) {
        panic!("kernel re-entered");
    }
    let slot = &raw mut BOARD;
    // Safety: the flag above makes this the only live reference.
    let board = unsafe { (*slot).as_mut() };
    let Some(board) = board else {
        panic!("kernel entered before boot");
    };
    let r = f(board);
    IN_KERNEL.store(false, Ordering::Release);
    r
}

/// Builds the task table from the configuration and starts the tasks
/// app.toml marks `start`. Called once, from reset, before any
/// exception that uses the board can happen.
pub fn init() {
    static mut TABLE: Option<[Task; TASK_COUNT]> = None;
    static mut PERIPHERAL_TABLE: Option<[Peripheral; PERIPHERAL_COUNT]> = None;
    let tasks = core::array::from_fn(|i| {
        let t = &TASKS[i];
        Task::new(TaskDesc {
            priority: t.priority,
            start: t.start,
            regions: [
                MemoryRegion {
                    base: t.flash.0,
                    size: t.flash.1,
                    writable: false,
                },
                MemoryRegion {
                    base: t.ram.0,
                    size: t.ram.1,
                    writable: true,
                },
            ],
            slots: t.slots,
            post_to: t.post_to,
            uses: t.uses,
            irqs: t.irqs,
            kipc_grants: t.kipc_grants,
            kernel_notifications: t.kernel_notifications,
        })
    });
    let peripherals = core::array::from_fn(|i| Peripheral {
        managed_by: PERIPHERALS[i].managed_by,
        revoked: false,
    });
    // Safety: called once at boot, before interrupts that reach the
    // board are enabled; nothing else refers to these statics.
    let (table, peripheral_table) = (&raw mut TABLE, &raw mut PERIPHERAL_TABLE);
    let (tasks, peripherals) = unsafe {
        (
            (*table).insert(tasks),
            (*peripheral_table).insert(peripherals),
        )
    };
    let mut board = Board {
        kernel: Kernel::new(tasks, peripherals, Mps2::new()),
        current: 0,
        started: false,
        deadline: None,
        device_deadline: None,
        saves: [SavedRegs::ZERO; TASK_COUNT],
        not_yet_run: core::array::from_fn(|i| TASKS[i].start),
        waiting_to_run: TASKS.iter().filter(|t| t.start).count(),
    };
    let effects = board.kernel.boot();
    board.apply(effects);
    let slot = &raw mut BOARD;
    // Safety: as above.
    unsafe { *slot = Some(board) };
}

impl Board {
    /// A syscall: the task's registers are in `saves[current]`.
    pub fn syscall(&mut self) {
        if !self.started {
            // The boot thread's `svc`: start the first task.
            self.started = true;
            arch::unprivileged_threads();
            self.after_event();
            return;
        }
        let i = self.current;
        let regs = &self.saves[i].r;
        let args = [
            regs[0], regs[1], regs[2], regs[3], regs[4], regs[5], regs[6], 0,
        ];
        let nr = regs[7];
        if let Some(task) = self.kernel.tasks.as_mut_slice().get_mut(i) {
            task.save.args = args;
        }
        let effects = self.kernel.handle_syscall(i, nr);
        self.apply(effects);
        self.after_event();
    }

    /// A fault of the current task, with the status registers.
    pub fn fault(&mut self, status: faults::Status) {
        let i = self.current;
        let t = &TASKS[i];
        let sp = self.saves[i].psp;
        let fault = faults::classify(status, t.ram.0, sp);
        let effects = self.kernel.fault(i, fault);
        self.apply(effects);
        self.after_event();
    }

    /// A millisecond passed; whether a timer or a device model is due
    /// (then PendSV runs [`Board::reschedule`]).
    pub fn tick(&mut self) -> bool {
        let ticks = self.kernel.platform.ticks.wrapping_add(1);
        self.kernel.platform.ticks = ticks;
        self.deadline.is_some_and(|d| d <= ticks)
            || self
                .device_deadline
                .is_some_and(|d| d <= ticks.saturating_mul(1000))
    }

    /// PendSV: let due timers fire, then choose a task.
    pub fn reschedule(&mut self) {
        self.after_event();
    }

    /// What every event ends with: timers, shutdown, the next task.
    fn after_event(&mut self) {
        // Device interrupts the event raised, then what time alone did
        // to the models' pins (INIT_B rising after housecleaning). An
        // image without peripherals skips this (the table is a constant).
        if !PERIPHERALS.is_empty() {
            self.route_irqs();
            let now_us = self.kernel.platform.now_us();
            self.kernel.platform.devices.advance(now_us);
            self.route_irqs();
            self.device_deadline =
                self.kernel.platform.devices.next_deadline_us();
        }
        let (woken, next) = self.kernel.tick();
        self.apply(woken);
        self.deadline = next;
        if let Some(code) = self.kernel.platform.shutdown {
            klog!("shutdown (status {code})");
            crate::semihosting::exit(code);
        }
        self.schedule();
    }

    /// Posts each interrupt the device models raised to the tasks
    /// app.toml wires its line to.
    fn route_irqs(&mut self) {
        let raised: alloc::vec::Vec<(usize, &'static str)> =
            self.kernel.platform.devices.take_irqs().collect();
        for (peripheral, line) in raised {
            for r in IRQ_LINES.iter().filter(|r| {
                usize::from(r.peripheral) == peripheral && r.line == line
            }) {
                let effects = self.kernel.raise_irq(r.task, r.mask);
                self.apply(effects);
            }
        }
    }

    /// Carries out what the core decided: stopped tasks simply never run
    /// again (the scheduler only picks runnable ones), restarted ones get
    /// fresh RAM and registers, resumed ones get their results.
    fn apply(&mut self, effects: Effects) {
        for i in effects.stopped() {
            let Some(task) = self.kernel.tasks.as_slice().get(i) else {
                continue;
            };
            if let TaskState::Faulted { fault, .. } = task.state() {
                let name = TASKS.get(i).map_or("?", |t| t.name);
                log_fault(name, fault);
            }
        }
        for i in effects.restarted() {
            self.restart(i);
        }
        for i in effects.resumed() {
            let Some(task) = self.kernel.tasks.as_slice().get(i) else {
                continue;
            };
            if let Some(save) = self.saves.get_mut(i) {
                save.r = task.save.rets;
            }
        }
    }

    /// Re-initialises task `i`'s RAM from the image and points its
    /// registers at its entry point with an empty stack. The stack (at
    /// the bottom of RAM) is painted with [`abi::STACK_PAINT`] instead of
    /// zeroed, so that a debugger sees how deep it has been
    /// (`humility stackmargin`), as on the hosted board.
    fn restart(&mut self, i: usize) {
        let (Some(t), Some(save)) = (TASKS.get(i), self.saves.get_mut(i))
        else {
            return;
        };
        let ram_end = t.ram.0.saturating_add(t.ram.1);
        let stack_top = t.stack_top.clamp(t.ram.0, ram_end);
        let words = ((stack_top - t.ram.0) / 4) as usize;
        // Safety: the task's RAM region, which no one else owns; the
        // build checked `.data` lies inside it, the stack is clamped to
        // it, and RAM regions are word-aligned (the MPU's rule).
        unsafe {
            core::slice::from_raw_parts_mut(t.ram.0 as *mut u32, words)
                .fill(abi::STACK_PAINT);
            core::ptr::write_bytes(
                stack_top as *mut u8,
                0,
                (ram_end - stack_top) as usize,
            );
            core::ptr::copy_nonoverlapping(
                t.data.as_ptr(),
                t.data_at as *mut u8,
                t.data.len(),
            );
        }
        *save = SavedRegs::initial(t.stack_top, t.entry);
    }

    /// Chooses the most important runnable task (the one after the
    /// current in table order among equals, so they take turns) and
    /// makes the CPU return into it.
    fn schedule(&mut self) {
        let tasks = self.kernel.tasks.as_slice();
        let runnable = |i: usize| {
            tasks[i].state() == TaskState::Healthy(SchedState::Runnable)
        };
        let mut best: Option<usize> = None;
        for step in (0..TASK_COUNT).map(|s| s + 1) {
            let i = (self.current + step).checked_rem(TASK_COUNT).unwrap_or(0);
            if !runnable(i) {
                continue;
            }
            // Lower numbers are more important.
            let better = best.is_none_or(|b| {
                tasks[i].desc.priority < tasks[b].desc.priority
            });
            if better {
                best = Some(i);
            }
        }
        let Some(next) = best else {
            panic!("no task is runnable (an image needs an idle task)");
        };
        self.current = next;
        if self.waiting_to_run > 0 {
            self.first_run(next);
        }
        let t = &TASKS[next];
        mpu::apply(t.flash, t.ram);
        arch::set_current(&mut self.saves[next]);
    }
}

impl Board {
    /// Task `i` is about to get the CPU: when it is the last of the
    /// started tasks to run for the first time, logs the boot time,
    /// which `cargo xtask bench ipc-mps2` reports.
    fn first_run(&mut self, i: usize) {
        let Some(waiting) = self.not_yet_run.get_mut(i) else {
            return;
        };
        if !core::mem::take(waiting) {
            return;
        }
        self.waiting_to_run = self.waiting_to_run.saturating_sub(1);
        if self.waiting_to_run == 0 {
            let ns = arch::uptime_ns(self.kernel.platform.ticks);
            klog!("all tasks running {ns} ns after boot");
        }
    }
}

fn log_fault(name: &str, fault: FaultInfo) {
    klog!("task {name} faulted: {fault:?}");
}
