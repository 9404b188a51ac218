//! A device's lock: held by a `TaskId` *with its generation*.
//!
//! Hubris's fpga-server holds its one lock with a closed RECV from the
//! holder, so the kernel tells it when the holder dies. That trick serves
//! one lock; with several devices the manager must hear from everyone.
//! Instead, every lock-related call first asks whether the holder is still
//! the same incarnation (`sys_refresh_task_id`, passed in as `alive`), and
//! a dead holder's lock is dropped on the spot. A restarted holder has a
//! new generation, so it does not inherit its predecessor's lock.

use drv_fpga_api::FpgaError;
use userlib::TaskId;

/// One device's lock.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub struct Lock {
    holder: Option<TaskId>,
}

impl Lock {
    /// The current holder, if any (possibly dead: see [`Lock::reap`]).
    pub fn holder(&self) -> Option<TaskId> {
        self.holder
    }

    /// Drops the lock if its holder died; returns the dead holder.
    pub fn reap(&mut self, alive: impl Fn(TaskId) -> bool) -> Option<TaskId> {
        let dead = self.holder.filter(|&h| !alive(h))?;
        self.holder = None;
        Some(dead)
    }

    /// Linux's `fpga_mgr_lock`: a trylock, which also refuses the holder
    /// itself (a mutex is not recursive).
    ///
    /// # Errors
    ///
    /// `AlreadyLocked` if anyone holds it.
    pub fn acquire(&mut self, caller: TaskId) -> Result<(), FpgaError> {
        if self.holder.is_some() {
            return Err(FpgaError::AlreadyLocked);
        }
        self.holder = Some(caller);
        Ok(())
    }

    /// Checks that `caller` holds the lock.
    ///
    /// # Errors
    ///
    /// `NotLocked` otherwise.
    pub fn check(&self, caller: TaskId) -> Result<(), FpgaError> {
        if self.holder == Some(caller) {
            Ok(())
        } else {
            Err(FpgaError::NotLocked)
        }
    }

    /// Linux's `fpga_mgr_unlock`, for the holder only.
    ///
    /// # Errors
    ///
    /// `NotLocked` if `caller` does not hold it.
    pub fn release(&mut self, caller: TaskId) -> Result<(), FpgaError> {
        self.check(caller)?;
        self.holder = None;
        Ok(())
    }

    /// Drops the lock whoever holds it (a region program's own lock).
    pub fn clear(&mut self) {
        self.holder = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userlib::Generation;

    fn task(index: usize, generation: u8) -> TaskId {
        TaskId::for_index_and_gen(index, Generation::new(generation))
    }

    /// fpga_mgr_test_lock: the first lock succeeds, the second is -EBUSY.
    #[test]
    fn a_second_lock_is_already_locked_even_for_the_holder() {
        let mut lock = Lock::default();
        assert_eq!(lock.acquire(task(3, 0)), Ok(()));
        assert_eq!(lock.acquire(task(3, 0)), Err(FpgaError::AlreadyLocked));
        assert_eq!(lock.acquire(task(4, 0)), Err(FpgaError::AlreadyLocked));
        assert_eq!(lock.release(task(3, 0)), Ok(()));
        assert_eq!(lock.acquire(task(4, 0)), Ok(()));
    }

    #[test]
    fn only_the_holder_passes_the_check_or_releases() {
        let mut lock = Lock::default();
        assert_eq!(lock.check(task(3, 0)), Err(FpgaError::NotLocked));
        lock.acquire(task(3, 0)).unwrap();
        assert_eq!(lock.check(task(3, 0)), Ok(()));
        assert_eq!(lock.check(task(4, 0)), Err(FpgaError::NotLocked));
        assert_eq!(lock.release(task(4, 0)), Err(FpgaError::NotLocked));
        assert_eq!(lock.holder(), Some(task(3, 0)));
    }

    #[test]
    fn a_restarted_holder_does_not_inherit_the_lock() {
        let mut lock = Lock::default();
        lock.acquire(task(3, 0)).unwrap();
        // Task 3 died and came back as generation 1.
        let alive = |t: TaskId| t == task(3, 1);
        assert_eq!(lock.reap(alive), Some(task(3, 0)));
        assert_eq!(lock.holder(), None);
        assert_eq!(lock.check(task(3, 1)), Err(FpgaError::NotLocked));
        assert_eq!(lock.acquire(task(3, 1)), Ok(()));
        assert_eq!(lock.reap(alive), None);
    }

    /// A region program holds the lock for the call only, in the name of
    /// its caller, and then clears it: nobody holds it after.
    #[test]
    fn clearing_drops_the_lock_whoever_holds_it() {
        let mut lock = Lock::default();
        lock.acquire(task(3, 0)).unwrap();
        lock.clear();
        assert_eq!(lock.holder(), None);
        assert_eq!(lock.check(task(3, 0)), Err(FpgaError::NotLocked));
        assert_eq!(lock.acquire(task(4, 0)), Ok(()));
    }
}
