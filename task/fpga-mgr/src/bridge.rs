//! Simulated FPGA bridges: state the manager toggles, like the fake
//! bridges of Linux's KUnit tests (`fpga-bridge-test.c`).
//!
//! A real bridge would be a driver task like an FPGA driver; ours only
//! records whether traffic may pass, counts disable→enable cycles, and can
//! be told to fail (`bridge_set_fault`) so that region failures can be
//! provoked. A task may take a bridge exclusively (`bridge_get`, Linux's
//! `fpga_bridge_get`), held like a device lock by its `TaskId` with
//! generation, so it dies with its holder.

use crate::lock::Lock;
use drv_fpga_api::FpgaError;
use userlib::TaskId;

/// One bridge.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Bridge {
    enabled: bool,
    failing: bool,
    cycles: u32,
    holder: Lock,
}

impl Default for Bridge {
    /// Enabled, as Linux's fake bridge starts and as sysfs reports a
    /// bridge without `enable_show`.
    fn default() -> Self {
        Self {
            enabled: true,
            failing: false,
            cycles: 0,
            holder: Lock::default(),
        }
    }
}

impl Bridge {
    /// Whether traffic passes.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Disabled→enabled transitions so far (the region test's
    /// `cycles_count`).
    pub fn cycles(&self) -> u32 {
        self.cycles
    }

    /// Linux's `fpga_bridge_get`: takes the bridge for `caller`, after
    /// dropping a dead holder (`alive` says who lives).
    ///
    /// # Errors
    ///
    /// `AlreadyLocked` (Linux's `-EBUSY`) if anyone holds it.
    pub fn get(
        &mut self,
        caller: TaskId,
        alive: impl Fn(TaskId) -> bool,
    ) -> Result<(), FpgaError> {
        self.holder.reap(alive);
        self.holder.acquire(caller)
    }

    /// Linux's `fpga_bridge_put`.
    ///
    /// # Errors
    ///
    /// `NotLocked` if `caller` does not hold it.
    pub fn put(&mut self, caller: TaskId) -> Result<(), FpgaError> {
        self.holder.release(caller)
    }

    /// Checks that `caller` may change the bridge: nobody else (alive)
    /// holds it.
    ///
    /// # Errors
    ///
    /// `AlreadyLocked` if another task holds it.
    pub fn check_user(
        &mut self,
        caller: TaskId,
        alive: impl Fn(TaskId) -> bool,
    ) -> Result<(), FpgaError> {
        self.holder.reap(alive);
        match self.holder.holder() {
            Some(h) if h != caller => Err(FpgaError::AlreadyLocked),
            _ => Ok(()),
        }
    }

    /// Makes later state changes fail (or work again).
    pub fn set_failing(&mut self, failing: bool) {
        self.failing = failing;
    }

    /// Linux's `enable_set`.
    ///
    /// # Errors
    ///
    /// `BridgeFailed` while failing; the state is then unchanged.
    pub fn set(&mut self, enable: bool) -> Result<(), FpgaError> {
        if self.failing {
            return Err(FpgaError::BridgeFailed);
        }
        if enable && !self.enabled {
            self.cycles = self.cycles.wrapping_add(1);
        }
        self.enabled = enable;
        Ok(())
    }
}

/// Linux's `fpga_bridges_enable/disable`: sets each bridge of `members`
/// in turn and stops at the first error without undoing the others.
///
/// # Errors
///
/// The index of the bridge that failed, with `BridgeFailed`.
pub fn set_all(
    bridges: &mut [Bridge],
    members: &[u8],
    enable: bool,
) -> Result<(), (u8, FpgaError)> {
    for &m in members {
        let bridge = bridges
            .get_mut(usize::from(m))
            .ok_or((m, FpgaError::BadBridge))?;
        bridge.set(enable).map_err(|e| (m, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use userlib::Generation;

    fn task(index: usize, generation: u8) -> TaskId {
        TaskId::for_index_and_gen(index, Generation::new(generation))
    }

    /// fpga_bridge_test_get: the first get works, the second is -EBUSY.
    #[test]
    fn a_bridge_is_got_exclusively_until_put_or_death() {
        let mut b = Bridge::default();
        let all = |_: TaskId| true;
        assert_eq!(b.get(task(3, 0), all), Ok(()));
        assert_eq!(b.get(task(3, 0), all), Err(FpgaError::AlreadyLocked));
        assert_eq!(b.get(task(4, 0), all), Err(FpgaError::AlreadyLocked));
        assert_eq!(b.check_user(task(3, 0), all), Ok(()));
        assert_eq!(
            b.check_user(task(4, 0), all),
            Err(FpgaError::AlreadyLocked)
        );
        assert_eq!(b.put(task(4, 0)), Err(FpgaError::NotLocked));
        assert_eq!(b.put(task(3, 0)), Ok(()));
        assert_eq!(b.check_user(task(4, 0), all), Ok(()));
        b.get(task(3, 0), all).unwrap();
        // Its holder died: the next get reaps it.
        let alive = |t: TaskId| t != task(3, 0);
        assert_eq!(b.get(task(4, 0), alive), Ok(()));
    }

    /// fpga_bridge_test_toggle.
    #[test]
    fn disable_then_enable_toggles_and_counts_a_cycle() {
        let mut b = Bridge::default();
        assert!(b.enabled());
        assert_eq!(b.set(false), Ok(()));
        assert!(!b.enabled());
        assert_eq!(b.set(true), Ok(()));
        assert!(b.enabled());
        assert_eq!(b.cycles(), 1);
        // Enabling an enabled bridge is not a cycle.
        b.set(true).unwrap();
        assert_eq!(b.cycles(), 1);
        // A fresh bridge has cycled none; each round trip counts once.
        assert_eq!(Bridge::default().cycles(), 0);
        b.set(false).unwrap();
        b.set(true).unwrap();
        assert_eq!(b.cycles(), 2);
    }

    /// fpga_bridge_test_get_put_list, the list part.
    #[test]
    fn a_list_is_disabled_and_enabled_as_a_whole() {
        let mut bridges = [Bridge::default(); 2];
        assert_eq!(set_all(&mut bridges, &[1, 0], false), Ok(()));
        assert!(bridges.iter().all(|b| !b.enabled()));
        assert_eq!(set_all(&mut bridges, &[1, 0], true), Ok(()));
        assert!(bridges.iter().all(|b| b.enabled()));
    }

    #[test]
    fn a_failing_bridge_stops_the_list_without_undoing() {
        let mut bridges = [Bridge::default(); 3];
        bridges[1].set_failing(true);
        let r = set_all(&mut bridges, &[0, 1, 2], false);
        assert_eq!(r, Err((1, FpgaError::BridgeFailed)));
        assert!(!bridges[0].enabled());
        assert!(bridges[1].enabled());
        assert!(bridges[2].enabled());
        assert_eq!(
            set_all(&mut bridges, &[7], true),
            Err((7, FpgaError::BadBridge))
        );
    }
}
