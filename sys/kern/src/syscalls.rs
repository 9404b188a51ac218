//! Syscall entry: one `match` from `Sysnum` to a same-named method, and
//! the small syscalls that need no module of their own.

use crate::effects::Effects;
use crate::err::{Outcome, UserError};
use crate::ipc::check_task_id;
use crate::task::{self, Injection, TaskIndex};
use crate::umem::check_slice;
use crate::{Kernel, Platform};
use abi::{
    FaultInfo, InjectionAction, IrqControlFlags, PANIC_MESSAGE_MAX, Sysnum,
    TaskId, UsageError,
};

impl<P: Platform> Kernel<'_, P> {
    /// Handles syscall `nr` from task `caller`, whose arguments are in its
    /// `save.args`, and says what the platform must do: afterwards the
    /// caller is resumed (answered with `save.rets`), blocked, faulted
    /// (stopped) or restarted, and so may be others it woke or faulted. A
    /// caller that is not a task of the table, or is faulted, is ignored.
    pub fn handle_syscall(&mut self, caller: usize, nr: u32) -> Effects {
        self.syscall(caller, nr);
        self.tasks.take_effects()
    }

    fn syscall(&mut self, caller: usize, nr: u32) {
        let Some(caller) = TaskIndex::new(&self.tasks, caller) else {
            return;
        };
        if self.tasks[caller].is_faulted() || self.fire_injection(caller) {
            return;
        }
        let result = self.dispatch(caller, nr);
        // A call can fault its own caller on the way (a bad lease table,
        // a kipc aimed at itself); a faulted task is never resumed.
        if self.tasks[caller].is_faulted() {
            return;
        }
        match result {
            Ok(Outcome::Resume) => self.tasks.wake(caller),
            Ok(Outcome::Blocked) => {}
            Err(UserError::Recoverable(code)) => {
                self.tasks.wake_with(caller, [code, 0, 0, 0, 0, 0, 0, 0]);
            }
            Err(UserError::Unrecoverable(fault)) => {
                task::force_fault(&mut self.tasks, caller, fault)
            }
        }
    }

    fn dispatch(
        &mut self,
        caller: TaskIndex,
        nr: u32,
    ) -> Result<Outcome, UserError> {
        match Sysnum::try_from(nr) {
            Ok(Sysnum::Send) => self.send(caller),
            Ok(Sysnum::Recv) => self.recv(caller),
            Ok(Sysnum::Reply) => self.reply(caller),
            Ok(Sysnum::SetTimer) => self.set_timer(caller),
            Ok(Sysnum::BorrowRead) => self.borrow_read(caller),
            Ok(Sysnum::BorrowWrite) => self.borrow_write(caller),
            Ok(Sysnum::BorrowInfo) => self.borrow_info(caller),
            Ok(Sysnum::IrqControl) => self.irq_control(caller),
            Ok(Sysnum::Panic) => self.panic(caller),
            Ok(Sysnum::GetTimer) => self.get_timer(caller),
            Ok(Sysnum::RefreshTaskId) => self.refresh_task_id(caller),
            Ok(Sysnum::Post) => self.post(caller),
            Ok(Sysnum::ReplyFault) => self.reply_fault(caller),
            Ok(Sysnum::IrqStatus) => self.irq_status(caller),
            Ok(Sysnum::PeripheralIo) => self.peripheral_io(caller),
            Ok(Sysnum::ReplyRecv) => self.reply_recv(caller),
            Err(()) => Err(UsageError::BadSyscallNumber.into()),
        }
    }

    /// Counts the syscall and, if an injection is armed for this count,
    /// performs it instead of the call. Returns whether it did.
    fn fire_injection(&mut self, caller: TaskIndex) -> bool {
        let task = &mut self.tasks[caller];
        task.syscall_count = task.syscall_count.wrapping_add(1);
        let count = task.syscall_count;
        let Some(injection) = task.injection.filter(|i| i.at == count) else {
            return false;
        };
        task.injection = None;
        match injection.action {
            InjectionAction::Fault => {
                let fault = FaultInfo::Injected(injection.injector);
                task::force_fault(&mut self.tasks, caller, fault)
            }
            InjectionAction::Restart => {
                task::reinit(&mut self.tasks, caller, true)
            }
        }
        true
    }

    /// Arms an injection into task `index` at its `nth` next syscall, on
    /// behalf of `injector` (a task, or `TaskId::KERNEL` for the test
    /// harness). `nth == 0` disarms. An index past the table is ignored.
    pub fn arm_injection(
        &mut self,
        index: usize,
        nth: u32,
        action: InjectionAction,
        injector: TaskId,
    ) {
        let Some(index) = TaskIndex::new(&self.tasks, index) else {
            return;
        };
        let task = &mut self.tasks[index];
        task.injection = (nth != 0).then(|| Injection {
            at: task.syscall_count.wrapping_add(nth),
            action,
            injector,
        });
    }

    fn set_timer(&mut self, caller: TaskIndex) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_set_timer_args();
        let task = &mut self.tasks[caller];
        task.timer_deadline = args.deadline;
        task.timer_notifications = args.notifications;
        // A deadline already past fires at once.
        crate::time::tick(&mut self.tasks, self.platform.now());
        Ok(Outcome::Resume)
    }

    fn get_timer(&mut self, caller: TaskIndex) -> Result<Outcome, UserError> {
        let now = self.platform.now();
        let task = &mut self.tasks[caller];
        let deadline = task.timer_deadline.unwrap_or(0);
        let rets = [
            now as u32,
            (now >> 32) as u32,
            u32::from(task.timer_deadline.is_some()),
            deadline as u32,
            (deadline >> 32) as u32,
            task.timer_notifications,
        ];
        task.save.set_rets(&rets);
        Ok(Outcome::Resume)
    }

    /// The caller's IRQ mask argument: non-empty, and only its own IRQs.
    fn irq_mask_arg(&self, caller: TaskIndex) -> Result<u32, UserError> {
        let mask = self.tasks[caller].save.as_irq_args().mask;
        if mask == 0 || mask & !self.tasks[caller].desc.irq_mask() != 0 {
            return Err(UsageError::NoIrq.into());
        }
        Ok(mask)
    }

    fn irq_control(&mut self, caller: TaskIndex) -> Result<Outcome, UserError> {
        let mask = self.irq_mask_arg(caller)?;
        let raw_flags = self.tasks[caller].save.as_irq_args().flags;
        let flags = IrqControlFlags::from_bits(raw_flags)
            .ok_or(UsageError::BadKernelMessage)?;
        let enable = flags.contains(IrqControlFlags::ENABLED);
        let clear = flags.contains(IrqControlFlags::CLEAR_PENDING);
        task::irq_control(&mut self.tasks, caller, mask, enable, clear);
        // Enabling may have posted to ourselves; we are not receiving, so
        // it stays pending until we are.
        Ok(Outcome::Resume)
    }

    fn irq_status(&mut self, caller: TaskIndex) -> Result<Outcome, UserError> {
        let mask = self.irq_mask_arg(caller)?;
        let status = task::irq_status(&self.tasks[caller], mask);
        self.tasks[caller].save.set_rets(&[status]);
        Ok(Outcome::Resume)
    }

    fn panic(&mut self, caller: TaskIndex) -> Result<Outcome, UserError> {
        let alleged = self.tasks[caller].save.as_panic_args();
        let message = alleged.prefix(PANIC_MESSAGE_MAX as u32);
        check_slice(&self.tasks[caller], message, false)?;
        let mut kept = [0u8; PANIC_MESSAGE_MAX];
        let length = (message.length as usize).min(PANIC_MESSAGE_MAX);
        let (text, _) = kept.split_at_mut(length);
        if let Err(error) = self.read_user(caller, message.base, text) {
            return Err(error.fault().into());
        }
        let task = &mut self.tasks[caller];
        task.panic_message = kept;
        task.panic_len = length;
        Err(FaultInfo::Panic.into())
    }

    fn refresh_task_id(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let named = self.tasks[caller].save.as_refresh_args();
        let index = TaskIndex::new(&self.tasks, named.index())
            .filter(|_| named != TaskId::KERNEL)
            .ok_or(UsageError::TaskOutOfRange)?;
        let current = self.task_id_of(index);
        self.tasks[caller].save.set_rets(&[u32::from(current.0)]);
        Ok(Outcome::Resume)
    }

    /// POST is a capability, as SEND is: a task may post to the tasks in
    /// its task-slots and its `post-to` list (servers call back their
    /// less important clients this way, drivers announce themselves to
    /// their manager); the supervisor may post to anyone. The bits the
    /// kernel posts itself (IRQs, timers, the supervisor's fault bit) are
    /// the kernel's: a task that could post them could fake an interrupt
    /// or cut a sleep short.
    fn post(&mut self, caller: TaskIndex) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_post_args();
        let target = TaskIndex::new(&self.tasks, args.target.index())
            .filter(|_| args.target != TaskId::KERNEL)
            .ok_or(UsageError::TaskOutOfRange)?;
        let desc = &self.tasks[caller].desc;
        if !caller.is_supervisor() && !desc.may_post(target.get()) {
            return Err(UsageError::PostNotGranted.into());
        }
        if args.bits & self.tasks[target].desc.kernel_notifications != 0 {
            return Err(UsageError::ReservedNotification.into());
        }
        match check_task_id(&self.tasks, args.target) {
            Ok(_) => {}
            // Posting to a faulted task with its current name still works.
            Err(UserError::Recoverable(_))
                if self.tasks[target].generation()
                    == args.target.generation() => {}
            Err(error) => return Err(error),
        }
        task::post(&mut self.tasks, target, args.bits);
        self.tasks[caller].save.set_rets(&[0]);
        Ok(Outcome::Resume)
    }
}
