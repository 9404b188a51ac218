//! The configuration pins Xilinx 7-series (PROGRAM_B, INIT_B, DONE) and
//! Lattice ECP5 (PROGRAMN, INITN, DONE) devices have in common, and the
//! sequences both families run on them: a low pulse on PROGRAM clears the
//! configuration, INIT is held low while the device clears itself and
//! rises when it is ready for a stream, DONE rises once the design runs.
//! UG470 and Lattice TN-02039 describe the same handshake; here it is
//! written once, so that neither driver holds a copy.

use crate::api::{DriverError, FpgaState};
use crate::board::Pin;
use userlib::{hl, sys_get_timer};

/// Polls of DONE before we start sleeping a tick between polls. Linux
/// polls in a busy loop for the whole timeout; a good stream needs one or
/// two polls, and a task that spins for a second at driver priority would
/// starve everything below it.
const FAST_POLLS: u32 = 16;

/// PROGRAM (driven by us), INIT and DONE (open drain, driven by the FPGA).
#[derive(Copy, Clone, Debug)]
pub struct ConfigPins {
    pub program: Pin,
    pub init: Pin,
    pub done: Pin,
}

impl ConfigPins {
    /// The three lines of GPIO peripheral `gpio`.
    pub fn new(gpio: u16, program: u32, init: u32, done: u32) -> Self {
        let pin = |line| Pin { gpio, line };
        ConfigPins {
            program: pin(program),
            init: pin(init),
            done: pin(done),
        }
    }

    /// From the PROGRAM pulse to a device that waits for a stream: INIT
    /// must fall (the device is clearing itself) and rise again (ready)
    /// within `init_timeout_ms` each, and DONE must be low. PROGRAM is
    /// released on every path, so a failed pulse never holds the device
    /// in reset.
    pub fn program_pulse(
        &self,
        init_timeout_ms: u64,
    ) -> Result<(), DriverError> {
        self.program.drive(false);
        let cleared = self.init.wait_for(false, init_timeout_ms);
        self.program.drive(true);
        if !cleared || !self.init.wait_for(true, init_timeout_ms) {
            return Err(DriverError::Timeout);
        }
        if self.done.is_high() {
            return Err(DriverError::DeviceNotReady);
        }
        Ok(())
    }

    /// DONE high is `OPERATING`; low is `RESET` (Linux says `UNKNOWN`
    /// for high, but a restarted manager needs to tell a configured
    /// device).
    pub fn state(&self) -> FpgaState {
        if self.done.is_high() {
            FpgaState::Operating
        } else {
            FpgaState::Reset
        }
    }

    /// Linux `xilinx_spi_write_complete`'s loop, which the ECP5 shares:
    /// `Some(polls)` once DONE is high, `None` when `timeout_ms` passed
    /// first. Whether time is up is decided *before* reading DONE, so a
    /// poll always happens after the last clocks. `after_read` runs after
    /// every read of DONE (the 7-series clocks 0xFF there, as Linux does).
    pub fn poll_done(
        &self,
        timeout_ms: u32,
        mut after_read: impl FnMut(),
    ) -> Option<u32> {
        let deadline =
            sys_get_timer().now.saturating_add(u64::from(timeout_ms));
        let mut polls = 0;
        loop {
            let expired = sys_get_timer().now >= deadline;
            let done = self.done.is_high();
            after_read();
            if done {
                return Some(polls);
            }
            if expired {
                return None;
            }
            polls += 1;
            if polls > FAST_POLLS {
                hl::sleep_for(1);
            }
        }
    }
}
