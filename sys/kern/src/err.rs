//! Kernel errors as values; applied to the caller in one place,
//! [`crate::Kernel::handle_syscall`].

use abi::{FaultInfo, FaultSource, UsageError};

/// What went wrong in a syscall.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum UserError {
    /// The caller gets this response code in `rets[0]` and carries on
    /// (dead codes, `DEFECT`).
    Recoverable(u32),
    /// The caller is faulted.
    Unrecoverable(FaultInfo),
}

impl From<UsageError> for UserError {
    fn from(e: UsageError) -> Self {
        Self::Unrecoverable(FaultInfo::SyscallUsage(e))
    }
}

impl From<FaultInfo> for UserError {
    fn from(f: FaultInfo) -> Self {
        Self::Unrecoverable(f)
    }
}

/// A slice the task named does not lie in memory it may access.
pub fn memory_fault(address: u32) -> UserError {
    UserError::Unrecoverable(FaultInfo::MemoryAccess {
        address: Some(address),
        source: FaultSource::User,
    })
}

/// What a syscall handler leaves the caller doing.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[must_use = "the caller must be resumed or left blocked"]
pub enum Outcome {
    /// Done: resume the caller with its `rets`.
    Resume,
    /// The caller is now blocked (or was faulted or restarted by its own
    /// call); do not resume it.
    Blocked,
}
