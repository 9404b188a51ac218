//! Kernel IPC: SENDs to `TaskId::KERNEL`, answered at once, one function
//! per `Kipcnum`.
//!
//! Arguments are little-endian `u32` words in the message; results go to
//! the reply buffer; the caller gets `rets = [response code, reply
//! length]`.

use crate::args::KipcArgs;
use crate::err::{Outcome, UserError};
use crate::task::{self, TaskIndex};
use crate::umem::check_slice;
use crate::{Kernel, Platform};
use abi::{
    FaultInfo, InjectionAction, KIPC_TASK_NOT_PANICKED, Kipcnum,
    MAX_MESSAGE_LEN, PANIC_MESSAGE_MAX, TaskState, UsageError,
};

/// Most argument words any kipc takes.
const MAX_KIPC_WORDS: usize = 4;

/// A kipc's argument words, as many as the message held.
struct KipcMessage {
    words: [u32; MAX_KIPC_WORDS],
    count: usize,
}

impl KipcMessage {
    /// Word `index`, or `BadKernelMessage` if the message was too short.
    fn word(&self, index: usize) -> Result<u32, UserError> {
        match self.words.get(index) {
            Some(&word) if index < self.count => Ok(word),
            _ => Err(UsageError::BadKernelMessage.into()),
        }
    }
}

/// What a kipc answers: a response code and bytes for the reply buffer,
/// or nothing at all (the caller was restarted by its own call).
enum KipcReply {
    Respond {
        code: u32,
        data: [u8; PANIC_MESSAGE_MAX],
        length: usize,
    },
    NoReply,
}

impl KipcReply {
    fn empty() -> Self {
        Self::code(0)
    }

    fn code(code: u32) -> Self {
        Self::Respond {
            code,
            data: [0; PANIC_MESSAGE_MAX],
            length: 0,
        }
    }

    fn bytes(bytes: &[u8]) -> Self {
        let mut data = [0; PANIC_MESSAGE_MAX];
        let length = bytes.len().min(data.len());
        for (slot, byte) in data.iter_mut().zip(bytes) {
            *slot = *byte;
        }
        Self::Respond {
            code: 0,
            data,
            length,
        }
    }
}

impl<P: Platform> Kernel<'_, P> {
    pub(crate) fn kipc(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_kipc_args();
        let op = Kipcnum::try_from(args.operation)
            .map_err(|()| UsageError::BadKernelMessage)?;
        check_slice(&self.tasks[caller], args.message, false)?;
        check_slice(&self.tasks[caller], args.response, true)?;
        let message = self.kipc_message(caller, &args)?;
        if !self.may_kipc(caller, op, &message) {
            return Err(UsageError::KipcNotGranted.into());
        }
        match self.kipc_op(caller, op, &args, &message)? {
            KipcReply::NoReply => Ok(Outcome::Blocked),
            KipcReply::Respond { code, data, length } => {
                let length = length.min(args.response.length as usize);
                let written = data.get(..length).unwrap_or(&[]);
                let at = args.response.base;
                if let Err(error) = self.write_user(caller, at, written) {
                    return Err(error.fault().into());
                }
                let length = u32::try_from(length).unwrap_or(0);
                self.tasks[caller].save.set_rets(&[code, length]);
                Ok(Outcome::Resume)
            }
        }
    }

    /// One arm per kipc, each calling the function of the same name.
    fn kipc_op(
        &mut self,
        caller: TaskIndex,
        op: Kipcnum,
        args: &KipcArgs,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        match op {
            Kipcnum::ReadTaskStatus => self.read_task_status(message),
            Kipcnum::ReinitTask => self.reinit_task(caller, message),
            Kipcnum::FaultTask => self.fault_task(caller, message),
            Kipcnum::ReadImageId => Ok(self.read_image_id()),
            Kipcnum::Reset => Ok(self.reset()),
            // Dumps on the hosted platform are written by the kernel
            // itself (the debug probe and dump-on-fault); there are no
            // dump regions for a task to manage.
            Kipcnum::GetTaskDumpRegion | Kipcnum::ReadTaskDumpRegion => {
                Err(UsageError::BadKernelMessage.into())
            }
            Kipcnum::SoftwareIrq => self.software_irq(message),
            Kipcnum::FindFaultedTask => self.find_faulted_task(message),
            Kipcnum::ReadPanicMessage => self.read_panic_message(message),
            Kipcnum::RevokePeripheral => self.set_revoked(message, true),
            Kipcnum::RestorePeripheral => self.set_revoked(message, false),
            Kipcnum::InjectAtSyscall => self.inject_at_syscall(caller, message),
            Kipcnum::ReadSyscallCount => self.read_syscall_count(message),
            Kipcnum::ConsoleWrite => self.console_write(caller, args),
            Kipcnum::DumpTask => self.dump_task(message),
            Kipcnum::Shutdown => self.shutdown(message),
        }
    }

    /// Reads up to [`MAX_KIPC_WORDS`] argument words from the message.
    fn kipc_message(
        &self,
        caller: TaskIndex,
        args: &KipcArgs,
    ) -> Result<KipcMessage, UserError> {
        let mut raw = [0u8; 4 * MAX_KIPC_WORDS];
        let length = (args.message.length as usize).min(raw.len());
        let (prefix, _) = raw.split_at_mut(length);
        if let Err(error) = self.read_user(caller, args.message.base, prefix) {
            return Err(error.fault().into());
        }
        let mut words = [0u32; MAX_KIPC_WORDS];
        for (word, bytes) in words.iter_mut().zip(raw.chunks_exact(4)) {
            let mut le = [0u8; 4];
            le.copy_from_slice(bytes);
            *word = u32::from_le_bytes(le);
        }
        Ok(KipcMessage {
            words,
            count: length / 4,
        })
    }

    /// Privileged kipcs need a grant; revoking or restoring a
    /// peripheral's grant needs a grant or to be its manager.
    fn may_kipc(
        &self,
        caller: TaskIndex,
        op: Kipcnum,
        message: &KipcMessage,
    ) -> bool {
        let granted = self.tasks[caller].desc.may_kipc(op, caller);
        let peripheral_op = matches!(
            op,
            Kipcnum::RevokePeripheral | Kipcnum::RestorePeripheral
        );
        if granted || !peripheral_op {
            return granted;
        }
        let manager = message
            .word(0)
            .ok()
            .and_then(|index| self.peripherals.get(index as usize))
            .and_then(|peripheral| peripheral.managed_by);
        manager.is_some_and(|m| usize::from(m) == caller.get())
    }

    /// Argument word `index` as a task of the table.
    fn task_arg(
        &self,
        message: &KipcMessage,
        index: usize,
    ) -> Result<TaskIndex, UserError> {
        let raw = message.word(index)?;
        TaskIndex::new(&self.tasks, raw as usize)
            .ok_or(UsageError::TaskOutOfRange.into())
    }

    fn read_task_status(
        &self,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = self.task_arg(message, 0)?;
        Ok(KipcReply::bytes(&self.tasks[task].state().encode()))
    }

    /// Restarts a task; never the supervisor, whose death the system
    /// cannot recover from (nobody would restart it).
    fn reinit_task(
        &mut self,
        caller: TaskIndex,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = self.task_arg(message, 0)?;
        let start = message.word(1)? != 0;
        if task.is_supervisor() {
            return Err(UsageError::IllegalTask.into());
        }
        task::reinit(&mut self.tasks, task, start);
        if task == caller {
            return Ok(KipcReply::NoReply);
        }
        Ok(KipcReply::empty())
    }

    fn fault_task(
        &mut self,
        caller: TaskIndex,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = self.task_arg(message, 0)?;
        if task.is_supervisor() || task == caller {
            return Err(UsageError::IllegalTask.into());
        }
        let me = self.task_id_of(caller);
        task::force_fault(&mut self.tasks, task, FaultInfo::Injected(me));
        Ok(KipcReply::empty())
    }

    fn read_image_id(&self) -> KipcReply {
        KipcReply::bytes(&self.platform.image_id().to_le_bytes())
    }

    /// Restarts every task (the caller too, so nobody is answered).
    fn reset(&mut self) -> KipcReply {
        for task in TaskIndex::all(&self.tasks) {
            let start = self.tasks[task].desc.start;
            task::reinit(&mut self.tasks, task, start);
        }
        KipcReply::NoReply
    }

    fn software_irq(
        &mut self,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = self.task_arg(message, 0)?;
        let mask = message.word(1)?;
        if mask == 0 || mask & !self.tasks[task].desc.irq_mask() != 0 {
            return Err(UsageError::NoIrq.into());
        }
        task::raise_irq(&mut self.tasks, task, mask);
        Ok(KipcReply::empty())
    }

    fn find_faulted_task(
        &self,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let start = message.word(0)? as usize;
        let found = TaskIndex::all(&self.tasks)
            .find(|&task| task.get() >= start && self.tasks[task].is_faulted())
            .map_or(0, TaskIndex::get);
        let found = u32::try_from(found).unwrap_or(0);
        Ok(KipcReply::bytes(&found.to_le_bytes()))
    }

    fn read_panic_message(
        &self,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = &self.tasks[self.task_arg(message, 0)?];
        match task.state() {
            TaskState::Faulted {
                fault: FaultInfo::Panic,
                ..
            } => Ok(KipcReply::bytes(task.panic_message())),
            _ => Ok(KipcReply::code(KIPC_TASK_NOT_PANICKED)),
        }
    }

    fn set_revoked(
        &mut self,
        message: &KipcMessage,
        revoked: bool,
    ) -> Result<KipcReply, UserError> {
        let index = message.word(0)? as usize;
        let peripheral = self
            .peripherals
            .get_mut(index)
            .ok_or(UsageError::BadPeripheralRequest)?;
        peripheral.revoked = revoked;
        Ok(KipcReply::empty())
    }

    fn inject_at_syscall(
        &mut self,
        caller: TaskIndex,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = self.task_arg(message, 0)?;
        let nth = message.word(1)?;
        if task.is_supervisor() {
            return Err(UsageError::IllegalTask.into());
        }
        let action = if nth == 0 {
            InjectionAction::Fault
        } else {
            InjectionAction::try_from(message.word(2)?)
                .map_err(|()| UsageError::BadKernelMessage)?
        };
        let me = self.task_id_of(caller);
        self.arm_injection(task.get(), nth, action, me);
        Ok(KipcReply::empty())
    }

    fn read_syscall_count(
        &self,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = self.task_arg(message, 0)?;
        let count = self.tasks[task].syscall_count();
        Ok(KipcReply::bytes(&count.to_le_bytes()))
    }

    /// The whole message is the line (not words).
    fn console_write(
        &mut self,
        caller: TaskIndex,
        args: &KipcArgs,
    ) -> Result<KipcReply, UserError> {
        let mut line = [0u8; MAX_MESSAGE_LEN];
        let length = (args.message.length as usize).min(line.len());
        let (text, _) = line.split_at_mut(length);
        if let Err(error) = self.read_user(caller, args.message.base, text) {
            return Err(error.fault().into());
        }
        self.platform.console_write(caller.get(), text);
        Ok(KipcReply::empty())
    }

    fn dump_task(
        &mut self,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        let task = self.task_arg(message, 0)?;
        let written = self.platform.dump(self.tasks.as_slice(), task.get());
        Ok(KipcReply::code(u32::from(!written)))
    }

    fn shutdown(
        &mut self,
        message: &KipcMessage,
    ) -> Result<KipcReply, UserError> {
        self.platform.shutdown(message.word(0)?);
        Ok(KipcReply::empty())
    }
}
