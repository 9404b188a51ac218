//! Syscall entry: one `match` from `Sysnum` to a same-named method, and
//! the small syscalls that need no module of their own.

use crate::err::{Outcome, UserError};
use crate::ipc::{check_slice, check_task_id};
use crate::task::{self, Injection};
use crate::{Kernel, Location, Platform};
use abi::{
    FaultInfo, InjectionAction, IrqControlFlags, LeaseAttributes,
    PANIC_MESSAGE_MAX, PeripheralOp, Sysnum, TaskId, UsageError,
};

impl<P: Platform> Kernel<'_, P> {
    /// Handles syscall `nr` from task `caller`, whose arguments are in its
    /// `save.args`. Afterwards the task is either flagged `resume` (answer
    /// it with `save.rets`), blocked, faulted (`stop`), or restarted.
    pub fn handle_syscall(&mut self, caller: usize, nr: u32) {
        if self.tasks[caller].is_faulted() {
            return;
        }
        if self.fire_injection(caller) {
            return;
        }
        let result = match Sysnum::try_from(nr) {
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
            Err(()) => Err(UsageError::BadSyscallNumber.into()),
        };
        let t = &mut self.tasks[caller];
        match result {
            Ok(Outcome::Resume) => t.wake(),
            Ok(Outcome::Blocked) => {}
            Err(UserError::Recoverable(code)) => {
                t.save.rets = [code, 0, 0, 0, 0, 0, 0, 0];
                t.wake();
            }
            Err(UserError::Unrecoverable(f)) => {
                task::force_fault(self.tasks, caller, f)
            }
        }
    }

    /// Counts the syscall and, if an injection is armed for this count,
    /// performs it instead of the call. Returns whether it did.
    fn fire_injection(&mut self, caller: usize) -> bool {
        let t = &mut self.tasks[caller];
        t.syscall_count = t.syscall_count.wrapping_add(1);
        let Some(inj) = t.injection.filter(|i| i.at == t.syscall_count) else {
            return false;
        };
        t.injection = None;
        match inj.action {
            InjectionAction::Fault => task::force_fault(
                self.tasks,
                caller,
                FaultInfo::Injected(inj.injector),
            ),
            InjectionAction::Restart => task::reinit(self.tasks, caller, true),
        }
        true
    }

    /// Arms an injection into task `index` at its `nth` next syscall, on
    /// behalf of `injector` (a task, or `TaskId::KERNEL` for the test
    /// harness). `nth == 0` disarms.
    pub fn arm_injection(
        &mut self,
        index: usize,
        nth: u32,
        action: InjectionAction,
        injector: TaskId,
    ) {
        let t = &mut self.tasks[index];
        t.injection = (nth != 0).then(|| Injection {
            at: t.syscall_count.wrapping_add(nth),
            action,
            injector,
        });
    }

    fn set_timer(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let deadline = (a[0] != 0).then_some(a[1] as u64 | (a[2] as u64) << 32);
        let t = &mut self.tasks[caller];
        t.timer_deadline = deadline;
        t.timer_notifications = a[3];
        // A deadline already past fires at once.
        crate::time::tick(self.tasks, self.platform.now());
        Ok(Outcome::Resume)
    }

    fn get_timer(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let now = self.platform.now();
        let t = &mut self.tasks[caller];
        let d = t.timer_deadline.unwrap_or(0);
        t.save.rets = [
            now as u32,
            (now >> 32) as u32,
            t.timer_deadline.is_some() as u32,
            d as u32,
            (d >> 32) as u32,
            t.timer_notifications,
            0,
            0,
        ];
        Ok(Outcome::Resume)
    }

    fn irq_mask_arg(&self, caller: usize) -> Result<u32, UserError> {
        let mask = self.tasks[caller].save.args[0];
        if mask == 0 || mask & !self.tasks[caller].irq_mask() != 0 {
            return Err(UsageError::NoIrq.into());
        }
        Ok(mask)
    }

    fn irq_control(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let mask = self.irq_mask_arg(caller)?;
        let flags = IrqControlFlags::from_bits(self.tasks[caller].save.args[1])
            .ok_or(UsageError::BadKernelMessage)?;
        let enable = flags.contains(IrqControlFlags::ENABLED);
        let clear = flags.contains(IrqControlFlags::CLEAR_PENDING);
        task::irq_control(self.tasks, caller, mask, enable, clear);
        // Enabling may have posted to ourselves; we are not receiving, so
        // it stays pending until we are.
        Ok(Outcome::Resume)
    }

    fn irq_status(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let mask = self.irq_mask_arg(caller)?;
        let s = task::irq_status(&self.tasks[caller], mask);
        self.tasks[caller].save.rets = [s, 0, 0, 0, 0, 0, 0, 0];
        Ok(Outcome::Resume)
    }

    fn panic(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let n = a[1].min(PANIC_MESSAGE_MAX as u32);
        check_slice(&self.tasks[caller], a[0], n, false)?;
        let mut msg = [0u8; PANIC_MESSAGE_MAX];
        let at = Location {
            task: caller,
            address: a[0],
        };
        self.mem_read(at, &mut msg[..n as usize]);
        let t = &mut self.tasks[caller];
        t.panic_message = msg;
        t.panic_len = n as usize;
        Err(FaultInfo::Panic.into())
    }

    fn refresh_task_id(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let id = TaskId(self.tasks[caller].save.args[0] as u16);
        if id == TaskId::KERNEL || id.index() >= self.tasks.len() {
            return Err(UsageError::TaskOutOfRange.into());
        }
        let current = self.task_id(id.index());
        self.tasks[caller].save.rets = [current.0 as u32, 0, 0, 0, 0, 0, 0, 0];
        Ok(Outcome::Resume)
    }

    /// POST is not checked against task slots: a notification carries no
    /// data and cannot block the poster, and servers use it to call back
    /// their (less important) clients, which are never in their slots.
    fn post(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let target = TaskId(a[0] as u16);
        let i = match check_task_id(self.tasks, target) {
            Ok(i) => i,
            // Posting to a faulted task with its current name still works.
            Err(UserError::Recoverable(_))
                if target.index() < self.tasks.len()
                    && self.tasks[target.index()].generation()
                        == target.generation() =>
            {
                target.index()
            }
            Err(e) => return Err(e),
        };
        task::post(self.tasks, i, a[1]);
        self.tasks[caller].save.rets = [0; 8];
        Ok(Outcome::Resume)
    }

    fn peripheral_io(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let p = a[0] as u16;
        if !self.tasks[caller].desc.uses.contains(&p) {
            return Err(UsageError::NoPeripheralGrant.into());
        }
        if self.peripherals.get(p as usize).is_none_or(|x| x.revoked) {
            return Err(UsageError::PeripheralGrantRevoked.into());
        }
        let op = PeripheralOp::try_from(a[1])
            .map_err(|()| UsageError::BadPeripheralRequest)?;
        let own = |write| -> Result<Option<(Location, usize)>, UserError> {
            check_slice(&self.tasks[caller], a[2], a[3], write)?;
            Ok(Some((
                Location {
                    task: caller,
                    address: a[2],
                },
                a[3] as usize,
            )))
        };
        let memory = match op {
            PeripheralOp::ReadRegister | PeripheralOp::WriteRegister => None,
            PeripheralOp::WriteFromMemory => own(false)?,
            PeripheralOp::ReadIntoMemory => own(true)?,
            PeripheralOp::WriteFromLease => {
                let l = self.check_lender(
                    caller,
                    TaskId(a[2] as u16),
                    a[3] as usize,
                )?;
                let r = self
                    .resolve(l, a[3] as usize, a[4], LeaseAttributes::READ)
                    .map_err(UserError::Recoverable)?;
                if a[5] > r.available {
                    return Err(UsageError::OffsetOutOfRange.into());
                }
                Some((r.at, a[5] as usize))
            }
        };
        let value = self
            .platform
            .peripheral_io(p, op, a[2], a[3], memory)
            .map_err(|_| UsageError::BadPeripheralRequest)?;
        self.tasks[caller].save.rets = [0, value, 0, 0, 0, 0, 0, 0];
        Ok(Outcome::Resume)
    }
}
