//! PERIPHERAL_IO: a task's access to a simulated device, checked against
//! its (revocable) grant, with bulk data from its own memory or from a
//! lease it was lent (checked as every borrow is: see `lease.rs`).

use crate::args::PeripheralArgs;
use crate::err::{Outcome, UserError};
use crate::task::TaskIndex;
use crate::umem::{USlice, check_slice};
use crate::{Kernel, Location, Platform};
use abi::{LeaseAttributes, PeripheralOp, UsageError};

impl<P: Platform> Kernel<'_, P> {
    pub(crate) fn peripheral_io(
        &mut self,
        caller: TaskIndex,
    ) -> Result<Outcome, UserError> {
        let args = self.tasks[caller].save.as_peripheral_args();
        if !self.tasks[caller].desc.uses.contains(&args.peripheral) {
            return Err(UsageError::NoPeripheralGrant.into());
        }
        let grant = self.peripherals.get(usize::from(args.peripheral));
        if grant.is_none_or(|peripheral| peripheral.revoked) {
            return Err(UsageError::PeripheralGrantRevoked.into());
        }
        let op = PeripheralOp::try_from(args.op)
            .map_err(|()| UsageError::BadPeripheralRequest)?;
        let memory = match op {
            PeripheralOp::ReadRegister | PeripheralOp::WriteRegister => None,
            PeripheralOp::WriteFromMemory => {
                Some(self.own_memory(caller, args.own_memory(), false)?)
            }
            PeripheralOp::ReadIntoMemory => {
                Some(self.own_memory(caller, args.own_memory(), true)?)
            }
            PeripheralOp::WriteFromLease => {
                Some(self.lease_memory(caller, &args)?)
            }
        };
        // An empty transfer is done before it starts: an empty slice is
        // valid at any address, and the platform never sees one.
        if memory.is_some_and(|(_, length)| length == 0) {
            self.tasks[caller].save.set_rets(&[0, 0]);
            return Ok(Outcome::Resume);
        }
        let (register, value) = args.register();
        let value = self
            .platform
            .peripheral_io(args.peripheral, op, register, value, memory)
            .map_err(|_| UsageError::BadPeripheralRequest)?;
        self.tasks[caller].save.set_rets(&[0, value]);
        Ok(Outcome::Resume)
    }

    /// The caller's own buffer for a bulk operation.
    fn own_memory(
        &self,
        caller: TaskIndex,
        buffer: USlice,
        write: bool,
    ) -> Result<(Location, usize), UserError> {
        check_slice(&self.tasks[caller], buffer, write)?;
        let at = Location {
            task: caller.get(),
            address: buffer.base,
        };
        Ok((at, buffer.length as usize))
    }

    /// `WriteFromLease`'s window: `length` bytes at `offset` of a lease
    /// the caller was lent (the device reads the lender's memory in
    /// place). Streaming past the lease is the caller's mistake.
    fn lease_memory(
        &mut self,
        caller: TaskIndex,
        args: &PeripheralArgs,
    ) -> Result<(Location, usize), UserError> {
        let (lender, index, offset, length) = args.lease();
        let lender = self.check_lender(caller, lender, index)?;
        let rights = LeaseAttributes::READ;
        let window = self.lease_window(lender, index, offset, rights)?;
        if length > window.available {
            return Err(UsageError::OffsetOutOfRange.into());
        }
        let at = Location {
            task: window.owner.get(),
            address: window.address,
        };
        Ok((at, length as usize))
    }
}
