//! Task states and faults, and their fixed wire encoding (used by the
//! `read_task_status` kipc, the debug probe and dump files).

use crate::TaskId;

/// Who caused a memory fault.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u8)]
pub enum FaultSource {
    User = 0,
    Kernel = 1,
}

/// Why a task was faulted. Hubris's variants first, then Leasehold's.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum FaultInfo {
    MemoryAccess {
        address: Option<u32>,
        source: FaultSource,
    },
    StackOverflow {
        address: u32,
    },
    BusError {
        address: Option<u32>,
        source: FaultSource,
    },
    DivideByZero,
    IllegalText,
    IllegalInstruction,
    InvalidOperation(u32),
    SyscallUsage(UsageError),
    Panic,
    /// Set by kipc `fault_task` (or the kernel's injector), with the
    /// injector's id.
    Injected(TaskId),
    FromServer(TaskId, ReplyFaultReason),
    /// Hosted platform: the task made a host (Linux) syscall; tasks may only
    /// talk to the kernel. `pc` is the address after the instruction.
    HostSyscall {
        number: u32,
        pc: u32,
    },
    /// Hosted platform: the task died of a host signal that maps onto no
    /// other fault.
    HostSignal {
        signal: u32,
    },
}

/// How a task misused a syscall.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum UsageError {
    BadSyscallNumber = 0,
    InvalidSlice = 1,
    TaskOutOfRange = 2,
    IllegalTask = 3,
    LeaseOutOfRange = 4,
    OffsetOutOfRange = 5,
    NoIrq = 6,
    BadKernelMessage = 7,
    BadReplyFaultReason = 8,
    NotSupervisor = 9,
    ReplyTooBig = 10,
    /// Leasehold: SEND to a task outside the caller's task-slots.
    NotInTaskSlots = 32,
    /// Leasehold: a kipc the caller was not granted in app.toml.
    KipcNotGranted = 33,
    /// Leasehold: PERIPHERAL_IO on a peripheral the caller does not `use`.
    NoPeripheralGrant = 34,
    /// Leasehold: PERIPHERAL_IO after the caller's grant was revoked.
    PeripheralGrantRevoked = 35,
    /// Leasehold: a forwarded lease asked for rights the original lacks,
    /// or named a lease the sender does not hold.
    BadLeaseForward = 36,
    /// Leasehold: a malformed PERIPHERAL_IO request.
    BadPeripheralRequest = 37,
    /// Leasehold: POST to a task outside the caller's task-slots and
    /// `post-to` list.
    PostNotGranted = 38,
    /// Leasehold: POST of a bit only the kernel posts (the target's IRQs,
    /// its timer, the supervisor's fault bit).
    ReservedNotification = 39,
}

impl TryFrom<u32> for UsageError {
    type Error = ();

    fn try_from(x: u32) -> Result<Self, ()> {
        use UsageError::*;
        Ok(match x {
            0 => BadSyscallNumber,
            1 => InvalidSlice,
            2 => TaskOutOfRange,
            3 => IllegalTask,
            4 => LeaseOutOfRange,
            5 => OffsetOutOfRange,
            6 => NoIrq,
            7 => BadKernelMessage,
            8 => BadReplyFaultReason,
            9 => NotSupervisor,
            10 => ReplyTooBig,
            32 => NotInTaskSlots,
            33 => KipcNotGranted,
            34 => NoPeripheralGrant,
            35 => PeripheralGrantRevoked,
            36 => BadLeaseForward,
            37 => BadPeripheralRequest,
            38 => PostNotGranted,
            39 => ReservedNotification,
            _ => return Err(()),
        })
    }
}

/// Why a server faulted its client with REPLY_FAULT.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum ReplyFaultReason {
    UndefinedOperation = 0,
    BadMessageSize = 1,
    BadMessageContents = 2,
    BadLeases = 3,
    ReplyBufferTooSmall = 4,
    AccessViolation = 5,
}

impl TryFrom<u32> for ReplyFaultReason {
    type Error = ();

    fn try_from(x: u32) -> Result<Self, ()> {
        use ReplyFaultReason::*;
        Ok(match x {
            0 => UndefinedOperation,
            1 => BadMessageSize,
            2 => BadMessageContents,
            3 => BadLeases,
            4 => ReplyBufferTooSmall,
            5 => AccessViolation,
            _ => return Err(()),
        })
    }
}

/// Errors an idol server returns instead of calling user code; codes as
/// Hubris's `idol_runtime::ClientError`.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum ClientError {
    UnknownOperation = 0xFFFF_FE00,
    BadMessageSize = 0xFFFF_FE01,
    BadLease = 0xFFFF_FE02,
    WentAway = 0xFFFF_FE03,
    BadMessageContents = 0xFFFF_FE04,
    ReplyBufferTooSmall = 0xFFFF_FE05,
    AccessViolation = 0xFFFF_FE06,
}

impl ClientError {
    /// The fault this error inflicts on the client; `None` for `WentAway`,
    /// which gets no reply at all.
    pub const fn into_fault(self) -> Option<ReplyFaultReason> {
        Some(match self {
            Self::UnknownOperation => ReplyFaultReason::UndefinedOperation,
            Self::BadMessageSize => ReplyFaultReason::BadMessageSize,
            Self::BadLease => ReplyFaultReason::BadLeases,
            Self::BadMessageContents => ReplyFaultReason::BadMessageContents,
            Self::ReplyBufferTooSmall => ReplyFaultReason::ReplyBufferTooSmall,
            Self::AccessViolation => ReplyFaultReason::AccessViolation,
            Self::WentAway => return None,
        })
    }
}

/// A healthy task's scheduling state.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub enum SchedState {
    #[default]
    Stopped,
    Runnable,
    InSend(TaskId),
    InReply(TaskId),
    /// `None` is an open receive; `Some(t)` a closed one.
    InRecv(Option<TaskId>),
}

/// A task's state as the kernel reports it.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum TaskState {
    Healthy(SchedState),
    Faulted {
        fault: FaultInfo,
        original_state: SchedState,
    },
}

impl Default for TaskState {
    fn default() -> Self {
        Self::Healthy(SchedState::Stopped)
    }
}

impl TaskState {
    pub const fn is_faulted(&self) -> bool {
        matches!(self, Self::Faulted { .. })
    }
}

/// Size of [`TaskState::encode`]'s output.
pub const TASK_STATE_WIRE_SIZE: usize = 20;

// Wire format: five little-endian u32 words.
//   w0: bit 31 = faulted; bits 7:0 sched kind; bits 31:16 unused otherwise
//   w1: sched state's TaskId (or 0xFFFF_FFFF for an open recv)
//   w2: fault kind; w3, w4: fault fields
impl SchedState {
    fn encode(self) -> (u32, u32) {
        match self {
            Self::Stopped => (0, 0),
            Self::Runnable => (1, 0),
            Self::InSend(t) => (2, t.0 as u32),
            Self::InReply(t) => (3, t.0 as u32),
            Self::InRecv(None) => (4, u32::MAX),
            Self::InRecv(Some(t)) => (4, t.0 as u32),
        }
    }

    fn decode(kind: u32, who: u32) -> Option<Self> {
        let t = TaskId(who as u16);
        Some(match kind {
            0 => Self::Stopped,
            1 => Self::Runnable,
            2 => Self::InSend(t),
            3 => Self::InReply(t),
            4 if who == u32::MAX => Self::InRecv(None),
            4 => Self::InRecv(Some(t)),
            _ => return None,
        })
    }
}

impl FaultInfo {
    fn encode(self) -> [u32; 3] {
        use FaultInfo::*;
        let opt = |a: Option<u32>| a.map_or((0, 0), |a| (1, a));
        match self {
            MemoryAccess { address, source } => {
                let (has, a) = opt(address);
                [1, has | (source as u32) << 1, a]
            }
            StackOverflow { address } => [2, 0, address],
            BusError { address, source } => {
                let (has, a) = opt(address);
                [3, has | (source as u32) << 1, a]
            }
            DivideByZero => [4, 0, 0],
            IllegalText => [5, 0, 0],
            IllegalInstruction => [6, 0, 0],
            InvalidOperation(x) => [7, x, 0],
            SyscallUsage(u) => [8, u as u32, 0],
            Panic => [9, 0, 0],
            Injected(t) => [10, t.0 as u32, 0],
            FromServer(t, r) => [11, t.0 as u32, r as u32],
            HostSyscall { number, pc } => [12, number, pc],
            HostSignal { signal } => [13, signal, 0],
        }
    }

    fn decode(w: [u32; 3]) -> Option<Self> {
        use FaultInfo::*;
        let source = |x: u32| {
            if x & 2 != 0 {
                FaultSource::Kernel
            } else {
                FaultSource::User
            }
        };
        let addr = |x: u32, a: u32| if x & 1 != 0 { Some(a) } else { None };
        Some(match w[0] {
            1 => MemoryAccess {
                address: addr(w[1], w[2]),
                source: source(w[1]),
            },
            2 => StackOverflow { address: w[2] },
            3 => BusError {
                address: addr(w[1], w[2]),
                source: source(w[1]),
            },
            4 => DivideByZero,
            5 => IllegalText,
            6 => IllegalInstruction,
            7 => InvalidOperation(w[1]),
            8 => SyscallUsage(UsageError::try_from(w[1]).ok()?),
            9 => Panic,
            10 => Injected(TaskId(w[1] as u16)),
            11 => FromServer(
                TaskId(w[1] as u16),
                ReplyFaultReason::try_from(w[2]).ok()?,
            ),
            12 => HostSyscall {
                number: w[1],
                pc: w[2],
            },
            13 => HostSignal { signal: w[1] },
            _ => return None,
        })
    }
}

impl TaskState {
    /// Encodes into the fixed 20-byte wire form.
    pub fn encode(&self) -> [u8; TASK_STATE_WIRE_SIZE] {
        let words = match *self {
            Self::Healthy(s) => {
                let (k, w) = s.encode();
                [k, w, 0, 0, 0]
            }
            Self::Faulted {
                fault,
                original_state,
            } => {
                let (k, w) = original_state.encode();
                let f = fault.encode();
                [k | 1 << 31, w, f[0], f[1], f[2]]
            }
        };
        let mut out = [0; TASK_STATE_WIRE_SIZE];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Decodes the wire form; `None` if it is malformed.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < TASK_STATE_WIRE_SIZE {
            return None;
        }
        let mut w = [0u32; 5];
        for (i, c) in bytes[..TASK_STATE_WIRE_SIZE].chunks_exact(4).enumerate()
        {
            w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let sched = SchedState::decode(w[0] & 0xFF, w[1])?;
        if w[0] & 1 << 31 == 0 {
            Some(Self::Healthy(sched))
        } else {
            Some(Self::Faulted {
                fault: FaultInfo::decode([w[2], w[3], w[4]])?,
                original_state: sched,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Generation;

    #[test]
    fn reply_fault_reasons_match_hubris() {
        for (n, r) in [
            (0, ReplyFaultReason::UndefinedOperation),
            (1, ReplyFaultReason::BadMessageSize),
            (2, ReplyFaultReason::BadMessageContents),
            (3, ReplyFaultReason::BadLeases),
            (4, ReplyFaultReason::ReplyBufferTooSmall),
            (5, ReplyFaultReason::AccessViolation),
        ] {
            assert_eq!(ReplyFaultReason::try_from(n), Ok(r));
        }
        assert!(ReplyFaultReason::try_from(6).is_err());
    }

    #[test]
    fn client_error_codes_match_hubris() {
        assert_eq!(ClientError::UnknownOperation as u32, 0xFFFF_FE00);
        assert_eq!(ClientError::AccessViolation as u32, 0xFFFF_FE06);
        assert_eq!(ClientError::WentAway.into_fault(), None);
        assert_eq!(
            ClientError::BadLease.into_fault(),
            Some(ReplyFaultReason::BadLeases)
        );
    }

    #[test]
    fn task_states_round_trip_through_the_wire_form() {
        let t = TaskId::for_index_and_gen(3, Generation::new(9));
        let states = [
            TaskState::Healthy(SchedState::Stopped),
            TaskState::Healthy(SchedState::InRecv(None)),
            TaskState::Healthy(SchedState::InRecv(Some(t))),
            TaskState::Healthy(SchedState::InReply(t)),
            TaskState::Faulted {
                fault: FaultInfo::MemoryAccess {
                    address: Some(0x1234),
                    source: FaultSource::User,
                },
                original_state: SchedState::Runnable,
            },
            TaskState::Faulted {
                fault: FaultInfo::FromServer(t, ReplyFaultReason::BadLeases),
                original_state: SchedState::InReply(t),
            },
            TaskState::Faulted {
                fault: FaultInfo::SyscallUsage(UsageError::NotInTaskSlots),
                original_state: SchedState::Runnable,
            },
            TaskState::Faulted {
                fault: FaultInfo::HostSyscall {
                    number: 39,
                    pc: 0x1000_0010,
                },
                original_state: SchedState::Runnable,
            },
        ];
        for s in states {
            assert_eq!(TaskState::decode(&s.encode()), Some(s));
        }
        assert_eq!(TaskState::decode(&[0xFF; 20]), None);
        assert_eq!(TaskState::decode(&[0; 3]), None);
    }
}
