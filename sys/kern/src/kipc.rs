//! Kernel IPC: SENDs to `TaskId::KERNEL`, answered at once.
//!
//! Arguments are little-endian `u32` words in the message; results go to
//! the reply buffer; `rets = [response code, reply length]`.

use crate::err::{Outcome, UserError};
use crate::task;
use crate::{Kernel, Location, Platform};
use abi::{
    FaultInfo, InjectionAction, KIPC_TASK_NOT_PANICKED, Kipcnum, UsageError,
};

impl<P: Platform> Kernel<'_, P> {
    pub(crate) fn kipc(&mut self, caller: usize) -> Result<Outcome, UserError> {
        let a = self.tasks[caller].save.args;
        let op = Kipcnum::try_from(a[0] as u16)
            .map_err(|()| UsageError::BadKernelMessage)?;
        crate::ipc::check_slice(&self.tasks[caller], a[1], a[2], false)?;
        crate::ipc::check_slice(&self.tasks[caller], a[3], a[4], true)?;
        if !self.may_kipc(caller, op) {
            return Err(UsageError::KipcNotGranted.into());
        }
        let mut words = [0u32; 4];
        let mut raw = [0u8; 16];
        let n = (a[2] as usize).min(16);
        self.mem_read(
            Location {
                task: caller,
                address: a[1],
            },
            &mut raw[..n],
        );
        for (w, c) in words.iter_mut().zip(raw.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let arg_count = n / 4;
        let need = |k: usize| -> Result<(), UserError> {
            if arg_count < k {
                Err(UsageError::BadKernelMessage.into())
            } else {
                Ok(())
            }
        };
        let index = |i: u32| -> Result<usize, UserError> {
            if (i as usize) < self.tasks.len() {
                Ok(i as usize)
            } else {
                Err(UsageError::TaskOutOfRange.into())
            }
        };
        let mut reply = [0u8; abi::PANIC_MESSAGE_MAX];
        let mut code = 0;
        let len = match op {
            Kipcnum::ReadTaskStatus => {
                need(1)?;
                let s = self.tasks[index(words[0])?].state().encode();
                reply[..s.len()].copy_from_slice(&s);
                s.len()
            }
            Kipcnum::ReinitTask => {
                need(2)?;
                let i = index(words[0])?;
                task::reinit(self.tasks, i, words[1] != 0);
                if i == caller {
                    return Ok(Outcome::Blocked);
                }
                0
            }
            Kipcnum::FaultTask => {
                need(1)?;
                let i = index(words[0])?;
                if i == 0 || i == caller {
                    return Err(UsageError::IllegalTask.into());
                }
                let me = self.task_id(caller);
                task::force_fault(self.tasks, i, FaultInfo::Injected(me));
                0
            }
            Kipcnum::ReadImageId => {
                reply[..8]
                    .copy_from_slice(&self.platform.image_id().to_le_bytes());
                8
            }
            Kipcnum::Reset => {
                for i in 0..self.tasks.len() {
                    let start = self.tasks[i].desc.start;
                    task::reinit(self.tasks, i, start);
                }
                return Ok(Outcome::Blocked);
            }
            // Dumps on the hosted platform are written by the kernel itself
            // (the debug probe and dump-on-fault); there are no dump
            // regions for a task to manage.
            Kipcnum::GetTaskDumpRegion | Kipcnum::ReadTaskDumpRegion => {
                return Err(UsageError::BadKernelMessage.into());
            }
            Kipcnum::SoftwareIrq => {
                need(2)?;
                let i = index(words[0])?;
                if words[1] == 0 || words[1] & !self.tasks[i].irq_mask() != 0 {
                    return Err(UsageError::NoIrq.into());
                }
                task::raise_irq(self.tasks, i, words[1]);
                0
            }
            Kipcnum::FindFaultedTask => {
                need(1)?;
                let start = words[0] as usize;
                let found = (start..self.tasks.len())
                    .find(|&i| self.tasks[i].is_faulted())
                    .unwrap_or(0);
                reply[..4].copy_from_slice(&(found as u32).to_le_bytes());
                4
            }
            Kipcnum::ReadPanicMessage => {
                need(1)?;
                let t = &self.tasks[index(words[0])?];
                match t.state() {
                    abi::TaskState::Faulted {
                        fault: FaultInfo::Panic,
                        ..
                    } => {
                        reply[..t.panic_len]
                            .copy_from_slice(&t.panic_message[..t.panic_len]);
                        t.panic_len
                    }
                    _ => {
                        code = KIPC_TASK_NOT_PANICKED;
                        0
                    }
                }
            }
            Kipcnum::RevokePeripheral | Kipcnum::RestorePeripheral => {
                need(1)?;
                let p = self
                    .peripherals
                    .get_mut(words[0] as usize)
                    .ok_or(UsageError::BadPeripheralRequest)?;
                p.revoked = op == Kipcnum::RevokePeripheral;
                0
            }
            Kipcnum::InjectAtSyscall => {
                need(3)?;
                let i = index(words[0])?;
                if i == 0 {
                    return Err(UsageError::IllegalTask.into());
                }
                let action = if words[1] == 0 {
                    InjectionAction::Fault
                } else {
                    InjectionAction::try_from(words[2])
                        .map_err(|()| UsageError::BadKernelMessage)?
                };
                let me = self.task_id(caller);
                self.arm_injection(i, words[1], action, me);
                0
            }
            Kipcnum::ConsoleWrite => {
                let mut line = [0u8; abi::MAX_MESSAGE_LEN];
                let n = (a[2] as usize).min(line.len());
                let at = Location {
                    task: caller,
                    address: a[1],
                };
                self.mem_read(at, &mut line[..n]);
                self.platform.console_write(caller, &line[..n]);
                0
            }
            Kipcnum::DumpTask => {
                need(1)?;
                let i = index(words[0])?;
                if !self.platform.dump(self.tasks, i) {
                    code = 1;
                }
                0
            }
            Kipcnum::Shutdown => {
                need(1)?;
                self.platform.shutdown(words[0]);
                0
            }
            Kipcnum::ReadSyscallCount => {
                need(1)?;
                let c = self.tasks[index(words[0])?].syscall_count();
                reply[..4].copy_from_slice(&c.to_le_bytes());
                4
            }
        };
        let n = len.min(a[4] as usize);
        if n > 0 {
            let dst = Location {
                task: caller,
                address: a[3],
            };
            self.mem_write(dst, &reply[..n]);
        }
        self.tasks[caller].save.rets = [code, n as u32, 0, 0, 0, 0, 0, 0];
        Ok(Outcome::Resume)
    }

    /// Privileged kipcs need a grant; revoking a peripheral's grant needs to
    /// be its manager (or the supervisor).
    fn may_kipc(&self, caller: usize, op: Kipcnum) -> bool {
        let desc = &self.tasks[caller].desc;
        match op {
            Kipcnum::RevokePeripheral | Kipcnum::RestorePeripheral => {
                let a = self.tasks[caller].save.args;
                let mut raw = [0u8; 4];
                if a[2] >= 4 {
                    let at = Location {
                        task: caller,
                        address: a[1],
                    };
                    self.mem_read(at, &mut raw);
                }
                let p = u32::from_le_bytes(raw) as usize;
                let manager =
                    self.peripherals.get(p).and_then(|x| x.managed_by);
                caller == 0
                    || manager == Some(caller as u16)
                    || desc.may_kipc(op, caller)
            }
            _ => desc.may_kipc(op, caller),
        }
    }
}
