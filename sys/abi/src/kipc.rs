//! Kernel IPC: messages SENT to [`crate::TaskId::KERNEL`].
//!
//! Hubris encodes kipc arguments with ssmarshal; ours are fixed
//! little-endian words, which is what ssmarshal produces for these
//! argument shapes anyway, without a serde dependency in the kernel.

/// Kipc operation numbers. 1..=10 are Hubris's; Leasehold's start at 32.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u16)]
pub enum Kipcnum {
    /// `(index: u32)` → [`crate::TaskState`] wire form.
    ReadTaskStatus = 1,
    /// `(index: u32, start: u32 as bool)`.
    ReinitTask = 2,
    /// `(index: u32)`.
    FaultTask = 3,
    ReadImageId = 4,
    Reset = 5,
    GetTaskDumpRegion = 6,
    ReadTaskDumpRegion = 7,
    /// `(index: u32, notification mask: u32)`.
    SoftwareIrq = 8,
    /// `(start index: u32)` → `u32` first faulted index ≥ start, or 0.
    FindFaultedTask = 9,
    /// `(index: u32)`, write lease for the message → length.
    ReadPanicMessage = 10,
    /// Leasehold: `(peripheral: u32)` revokes the peripheral's grant to the
    /// task that uses it.
    RevokePeripheral = 32,
    /// Leasehold: `(peripheral: u32)` restores it.
    RestorePeripheral = 33,
    /// Leasehold: `(index: u32, nth syscall: u32, action: u32)`; see
    /// [`InjectionAction`]. `nth` counts from the task's next syscall
    /// (1 = the very next one); 0 clears a pending injection.
    InjectAtSyscall = 34,
    /// Leasehold: `(index: u32)` → `u32` syscalls made since the task's
    /// last (re)start.
    ReadSyscallCount = 35,
    /// Leasehold, hosted: the message bytes are printed on the kernel's
    /// console as one line, prefixed with the caller's name.
    ConsoleWrite = 36,
    /// Leasehold, hosted: `(exit code: u32)` stops every task and ends the
    /// kernel process with that exit code (test images use it to finish).
    Shutdown = 37,
    /// Leasehold, hosted: `(index: u32)` writes a dump file (every task's
    /// memory and the task table) because of task `index`; the reply's
    /// code is 0, or 1 if the dump could not be written.
    DumpTask = 38,
}

impl TryFrom<u16> for Kipcnum {
    type Error = ();

    fn try_from(x: u16) -> Result<Self, ()> {
        use Kipcnum::*;
        Ok(match x {
            1 => ReadTaskStatus,
            2 => ReinitTask,
            3 => FaultTask,
            4 => ReadImageId,
            5 => Reset,
            6 => GetTaskDumpRegion,
            7 => ReadTaskDumpRegion,
            8 => SoftwareIrq,
            9 => FindFaultedTask,
            10 => ReadPanicMessage,
            32 => RevokePeripheral,
            33 => RestorePeripheral,
            34 => InjectAtSyscall,
            35 => ReadSyscallCount,
            36 => ConsoleWrite,
            37 => Shutdown,
            38 => DumpTask,
            _ => return Err(()),
        })
    }
}

impl Kipcnum {
    /// The name app.toml uses to grant this kipc (`kipc = [...]`).
    pub const fn grant_name(self) -> &'static str {
        use Kipcnum::*;
        match self {
            ReadTaskStatus => "read_task_status",
            ReinitTask => "reinit_task",
            FaultTask => "fault_task",
            ReadImageId => "read_image_id",
            Reset => "reset",
            GetTaskDumpRegion => "get_task_dump_region",
            ReadTaskDumpRegion => "read_task_dump_region",
            SoftwareIrq => "software_irq",
            FindFaultedTask => "find_faulted_task",
            ReadPanicMessage => "read_panic_message",
            RevokePeripheral => "revoke_peripheral",
            RestorePeripheral => "restore_peripheral",
            InjectAtSyscall => "inject_at_syscall",
            ReadSyscallCount => "read_syscall_count",
            ConsoleWrite => "console_write",
            Shutdown => "shutdown",
            DumpTask => "dump_task",
        }
    }

    /// Every kipc, for tools that map grant names.
    pub const ALL: [Kipcnum; 17] = {
        use Kipcnum::*;
        [
            ReadTaskStatus,
            ReinitTask,
            FaultTask,
            ReadImageId,
            Reset,
            GetTaskDumpRegion,
            ReadTaskDumpRegion,
            SoftwareIrq,
            FindFaultedTask,
            ReadPanicMessage,
            RevokePeripheral,
            RestorePeripheral,
            InjectAtSyscall,
            ReadSyscallCount,
            ConsoleWrite,
            Shutdown,
            DumpTask,
        ]
    };

    /// Whether every task may make this call without a grant: the
    /// read-only queries. The supervisor may make every call.
    pub const fn is_unprivileged(self) -> bool {
        matches!(
            self,
            Self::ReadTaskStatus
                | Self::FindFaultedTask
                | Self::ReadImageId
                | Self::ReadPanicMessage
                | Self::ReadSyscallCount
        )
    }

    /// Bit of this kipc in a task's grant mask.
    pub const fn grant_bit(self) -> u64 {
        1 << (self as u16 as u64 & 63)
    }
}

/// What an injection does when it fires.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum InjectionAction {
    /// Fault the task (`FaultInfo::Injected`) instead of running the call.
    Fault = 1,
    /// Restart the task instead of running the call.
    Restart = 2,
}

impl TryFrom<u32> for InjectionAction {
    type Error = ();

    fn try_from(x: u32) -> Result<Self, ()> {
        match x {
            1 => Ok(Self::Fault),
            2 => Ok(Self::Restart),
            _ => Err(()),
        }
    }
}

/// `read_panic_message` error codes (Hubris's).
pub const KIPC_TASK_NOT_PANICKED: u32 = 1;
pub const KIPC_BAD_PANIC_BUFFER: u32 = 2;

/// Longest panic message the kernel keeps, as Hubris.
pub const PANIC_MESSAGE_MAX: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kipc_numbers_match_hubris() {
        assert_eq!(Kipcnum::ReadTaskStatus as u16, 1);
        assert_eq!(Kipcnum::ReinitTask as u16, 2);
        assert_eq!(Kipcnum::FaultTask as u16, 3);
        assert_eq!(Kipcnum::SoftwareIrq as u16, 8);
        assert_eq!(Kipcnum::FindFaultedTask as u16, 9);
        assert_eq!(Kipcnum::ReadPanicMessage as u16, 10);
        for k in Kipcnum::ALL {
            assert_eq!(Kipcnum::try_from(k as u16), Ok(k));
        }
        assert!(Kipcnum::try_from(0).is_err());
        assert!(Kipcnum::try_from(11).is_err());
    }
}
