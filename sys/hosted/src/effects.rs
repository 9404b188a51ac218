//! Carrying out the core's decisions.
//!
//! Every event method of `kern::Kernel` returns a typed
//! [`kern::Effects`]: which tasks to stop, restart and resume. The event
//! loop collects them in `Hosted::effects` while it handles one event and
//! then calls [`Hosted::apply`], which does what they say in the order
//! `kern::effects` prescribes (stop, then restart, then resume), routes
//! device interrupts, lets time move on, and re-arms the timer. Doing so
//! can decide more (a spawn that fails faults its task; a timer wakes a
//! task), so it goes on until nothing is left.
//!
//! This module makes no host calls of its own: killing and spawning are
//! [`crate::process`]'s, answering a trap is [`crate::trap`]'s.

use crate::event_loop::Hosted;
use crate::log::klog;
use crate::memory::{HostPlatform, Ram};
use abi::TaskState;
use kern::{Kernel, Task};

impl Hosted {
    /// Carries out what the core decided, then lets devices and timers
    /// move on (which may decide more).
    pub fn apply(&mut self, k: &mut Kernel<'_, HostPlatform>) {
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

    /// After a [`crate::trap::Handled::PlainIpc`] trap: carries out what
    /// the core decided, without the device and timer pass. That pass
    /// finds something only when time has reached a deadline, and then
    /// the timer (armed for the earliest one) rings the loop's doorbell,
    /// which runs [`Hosted::apply`]; a plain IPC call sets no deadline, so
    /// the armed one is still the earliest. Skipping it keeps two clock
    /// reads and a walk over every task and device off IPC's hot path.
    pub fn apply_after_ipc(&mut self, k: &mut Kernel<'_, HostPlatform>) {
        self.route_irqs(k);
        self.carry_out(k);
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
                self.answer(k, i);
            }
        }
    }

    /// Ends task `i`'s execution; logs (and dumps, if asked) its fault.
    fn stop(&mut self, k: &mut Kernel<'_, HostPlatform>, i: usize) {
        if k.tasks.as_slice().get(i).is_some_and(Task::is_faulted) {
            // Its registers, while its process is still there to read.
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

    /// A fresh incarnation: new RAM from the image, and a new process if
    /// the core started the task (one reinitialised into `Stopped` waits
    /// for a later start with its RAM fresh).
    fn restart(&mut self, k: &mut Kernel<'_, HostPlatform>, i: usize) {
        self.kill(i);
        k.platform.registers.gone(i);
        k.platform.debug.gone(i);
        let t = &self.manifest.tasks[i];
        match Ram::new(&t.name, &self.images[i].ram_init) {
            Ok(ram) => k.platform.memory[i].ram = ram,
            Err(e) => {
                klog!("task {}: cannot allocate RAM: {e}", t.name)
            }
        }
        if k.tasks.as_slice()[i].state()
            == TaskState::Healthy(abi::SchedState::Stopped)
        {
            return;
        }
        self.start(k, i);
    }
}
