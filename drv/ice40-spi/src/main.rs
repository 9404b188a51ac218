//! Lattice iCE40 driver: SPI slave configuration, as Linux's ice40-spi.
//!
//! One task per iCE40, serving `idl/fpga-driver.idol` to the FPGA manager
//! (its only client; see `drv/fpga-driver-api`). The load sequence is
//! Linux's `drivers/fpga/ice40-spi.c` step for step:
//!
//! 1. `write_init`: refuse `PARTIAL_RECONFIG` (`-ENOTSUPP`); assert
//!    CRESET_B (low) and SS_B; wait ≥ 1 µs (`ICE40_SPI_RESET_DELAY`; we
//!    sleep a 1 ms tick); release CRESET_B, so the device samples SS_B low
//!    and enters SPI slave mode; CDONE must be low ("Device reset failed,
//!    CDONE is asserted"); wait ≥ 1200 µs of housekeeping
//!    (`ICE40_SPI_HOUSEKEEPING_DELAY`; 2 ms); release SS_B.
//! 2. `write`: shift the bitstream with SS_B asserted, straight from the
//!    client's lease (the kernel reads it in place).
//! 3. `write_complete`: CDONE must be high ("CDONE was not asserted after
//!    firmware transfer"); then 7 zero bytes, ≥ 49 clocks, start the
//!    design.
//!
//! `state` is Linux's: CDONE high is `OPERATING`, anything else
//! `UNKNOWN`. The device's only error signal is CDONE staying low; we
//! never read the simulator's debug registers to decide anything.
//!
//! Beyond Linux: only the configured manager may drive the device, and a
//! load belongs to the manager generation that began it; a lease that
//! disappears mid-`write` (the client died) puts the device back into
//! reset, so it is never left half-configured. What we deliberately do
//! not do: Zephyr's and Hubris's 8 leading clocks with SS_B high (Linux
//! does without them), or checking the bitstream's contents (the device
//! does, and says so on CDONE).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use drv_fpga_driver_api::driver::{Pin, Spi, announce};
use drv_fpga_driver_api::{
    DriverError, DriverInfo, FpgaState, HeaderInfo, flags, status,
};
use idol_runtime::{ClientError, Leased, NotificationHandler, R, RequestError};
use ringbuf::{ringbuf, ringbuf_entry};
use userlib::{RecvMessage, TaskId, hl};

#[cfg(feature = "test-hang")]
mod test_hooks;

/// The flags we honour: `LSB_FIRST` (the controller reverses each byte)
/// and `EXTERNAL_CONFIG` (nothing for a driver to do: the manager does
/// not load). iCE40 has no partial reconfiguration, and icepack images are
/// neither compressed nor encrypted.
const SUPPORTED_FLAGS: u32 = flags::LSB_FIRST | flags::EXTERNAL_CONFIG;

/// CRESET_B low time. Linux waits 1 µs (datasheet: > 200 ns); our timer
/// ticks in milliseconds.
const RESET_DELAY_MS: u64 = 1;

/// Housekeeping after CRESET_B rises before the device listens. Linux
/// waits 1200 µs; bytes sent earlier are lost. Two ticks guarantee at
/// least one full millisecond past the 1 ms boundary, as Hubris's 2 ms.
/// The timer ticks in whole milliseconds, so a 2 ms sleep can end 1.0 ms
/// after it starts; 3 guarantees the datasheet's 1200 µs.
const HOUSEKEEPING_MS: u64 = 3;

/// Zero bytes after CDONE rises: Linux sends `DIV_ROUND_UP(49, 8)` bytes,
/// the ≥ 49 clocks the iCE40 needs to hand its pins to the design.
const WAKEUP_BYTES: [u8; 7] = [0; 7];

/// What the driver did, newest last; carries the caller's `TaskId` with
/// its generation, so a dump tells a restarted manager from its
/// predecessor.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Trace {
    None,
    /// Started; CDONE was high (a configured device is left running).
    Start {
        cdone: bool,
    },
    /// Posted our announcement; POST's return code.
    Announced(u32),
    WriteInit(TaskId, u32),
    /// Reset done, housekeeping over: the device listens.
    Listening(TaskId),
    Write(TaskId, u32),
    WriteComplete(TaskId),
    /// CDONE high and wakeup clocks sent.
    Operating(TaskId),
    /// A load was abandoned and the device held in reset.
    Aborted(TaskId),
    Removed(TaskId),
    Failed(TaskId, DriverError),
}

ringbuf!(Trace, 32, Trace::None);
counters::counters!(DriverError);

/// Where a load stands.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Phase {
    /// No load in progress.
    Idle,
    /// `write_init` succeeded for `loader`: `write` and `write_complete`
    /// are allowed, from it alone.
    Loading { loader: TaskId, lsb_first: bool },
}

/// All driver state.
struct ServerImpl {
    /// Whether [`ServerImpl::init_hardware`] has run.
    initialized: bool,
    spi: Spi,
    creset_b: Pin,
    cdone: Pin,
    ss_b: Option<Pin>,
    phase: Phase,
    /// The last load ended with CDONE low; reported by `status` while
    /// CDONE stays low.
    load_failed: bool,
    /// Test images only: whether the next `write` is a load's first, and
    /// the misbehaviour its image asked for.
    #[cfg(feature = "test-hang")]
    hook: Option<test_hooks::Hook>,
}

type RequestResult<T> = Result<T, RequestError<DriverError>>;

impl ServerImpl {
    /// Puts the hardware in a known state. Chip select off, MSB first. A
    /// configured device (CDONE high) is left running, as Linux leaves a
    /// device alone until the first load; any other (unconfigured, or
    /// half-loaded by a predecessor of ours that died) is held in reset,
    /// as Linux's probe requests CRESET_B asserted.
    fn start() -> Self {
        let gpio = config::GPIO;
        ServerImpl {
            spi: Spi(config::SPI),
            creset_b: Pin {
                gpio,
                line: config::CRESET_B,
            },
            cdone: Pin {
                gpio,
                line: config::CDONE,
            },
            ss_b: config::SS_B.map(|line| Pin { gpio, line }),
            phase: Phase::Idle,
            load_failed: false,
            initialized: false,
            #[cfg(feature = "test-hang")]
            hook: None,
        }
    }

    /// Puts the device in a known state: SS released, and held in reset
    /// unless it is already configured (as Linux's probe does).
    ///
    /// This runs on the first call that touches hardware, not at start: a
    /// restarted driver's peripheral grants stay revoked until the manager
    /// has bound this incarnation (after `describe`, which touches none), so
    /// an access before then would fault us in a loop.
    fn init_hardware(&mut self) {
        if self.initialized {
            return;
        }
        self.initialized = true;
        self.set_ss(false);
        self.cdone.release();
        let cdone = self.cdone.is_high();
        self.creset_b.drive(cdone);
        ringbuf_entry!(Trace::Start { cdone });
    }

    /// Asserts or releases SS_B: the controller's CS, and the GPIO line
    /// too on boards that wire one.
    fn set_ss(&self, asserted: bool) {
        let lsb_first = matches!(
            self.phase,
            Phase::Loading {
                lsb_first: true,
                ..
            }
        );
        self.spi.configure(asserted, lsb_first);
        if let Some(pin) = self.ss_b {
            pin.drive(!asserted);
        }
    }

    /// Abandons a load: SS_B released, device held in reset (CDONE low,
    /// configuration cleared), so nothing half-sent can complete later.
    fn abort(&mut self, caller: TaskId) {
        self.phase = Phase::Idle;
        self.set_ss(false);
        self.creset_b.drive(false);
        ringbuf_entry!(Trace::Aborted(caller));
    }

    /// Records and counts a failure, and passes it on.
    fn fail<T>(&mut self, caller: TaskId, e: DriverError) -> RequestResult<T> {
        ringbuf_entry!(Trace::Failed(caller, e));
        counters::count!(e);
        Err(e.into())
    }

    /// Only the configured manager may change the device. Anyone else is
    /// faulted, as for any other protocol violation: a task that can
    /// reach us is more important than the manager's clients, and must
    /// not bypass the manager's locking.
    fn check_manager(msg: &RecvMessage) -> RequestResult<()> {
        if msg.sender.index() == config::MANAGER {
            Ok(())
        } else {
            Err(RequestError::Fail(ClientError::AccessViolation))
        }
    }

    /// The load `msg.sender` began, or `BadState`.
    fn loading(&mut self, msg: &RecvMessage) -> RequestResult<bool> {
        Self::check_manager(msg)?;
        match self.phase {
            Phase::Loading { loader, lsb_first } if loader == msg.sender => {
                Ok(lsb_first)
            }
            _ => self.fail(msg.sender, DriverError::BadState),
        }
    }

    /// Linux `ice40_fpga_ops_write_init` steps 2 to 6 (see the crate
    /// docs).
    fn reset_into_slave_mode(&mut self) -> Result<(), DriverError> {
        self.creset_b.drive(false);
        self.set_ss(true);
        hl::sleep_for(RESET_DELAY_MS);
        self.creset_b.drive(true);
        if self.cdone.is_high() {
            self.set_ss(false);
            return Err(DriverError::DeviceNotReady);
        }
        hl::sleep_for(HOUSEKEEPING_MS);
        self.set_ss(false);
        Ok(())
    }
}

impl idl::InOrderFpgaDriverImpl for ServerImpl {
    fn describe(
        &mut self,
        _msg: &RecvMessage,
    ) -> Result<DriverInfo, RequestError<core::convert::Infallible>> {
        Ok(DriverInfo {
            initial_header_size: 0,
            skip_header: false,
            supported_flags: SUPPORTED_FLAGS,
            compat_id_h: 0,
            compat_id_l: 0,
            name: DriverInfo::pad_name("ice40-spi"),
        })
    }

    fn state(
        &mut self,
        _msg: &RecvMessage,
    ) -> Result<u8, RequestError<core::convert::Infallible>> {
        self.init_hardware();
        // Linux ice40_fpga_ops_state.
        let state = if self.cdone.is_high() {
            FpgaState::Operating
        } else {
            FpgaState::Unknown
        };
        Ok(state.into())
    }

    fn status(
        &mut self,
        _msg: &RecvMessage,
    ) -> Result<u64, RequestError<core::convert::Infallible>> {
        self.init_hardware();
        // CDONE low after a full transfer is all an iCE40 says; it cannot
        // tell a CRC error from a wrong device, so we claim neither.
        let failed = self.load_failed && !self.cdone.is_high();
        Ok(if failed { status::OPERATION_ERR } else { 0 })
    }

    fn parse_header(
        &mut self,
        _msg: &RecvMessage,
        _flags: u32,
        _image_len: u32,
        _header: Leased<R, [u8]>,
    ) -> RequestResult<HeaderInfo> {
        // Linux's ice40-spi has no parse_header and initial_header_size 0:
        // the image is sent whole, as icepack wrote it.
        Ok(HeaderInfo {
            header_size: 0,
            data_size: 0,
            need_more: false,
        })
    }

    fn write_init(
        &mut self,
        msg: &RecvMessage,
        image_flags: u32,
        _image_len: u32,
        _header: Leased<R, [u8]>,
    ) -> RequestResult<()> {
        self.init_hardware();
        Self::check_manager(msg)?;
        ringbuf_entry!(Trace::WriteInit(msg.sender, image_flags));
        if self.phase != Phase::Idle {
            self.abort(msg.sender);
        }
        if image_flags & !flags::ALL != 0 {
            return self.fail(msg.sender, DriverError::InvalidArgument);
        }
        if image_flags & !SUPPORTED_FLAGS != 0 {
            return self.fail(msg.sender, DriverError::NotSupported);
        }
        self.load_failed = false;
        #[cfg(feature = "test-hang")]
        {
            self.hook = None;
        }
        self.phase = Phase::Loading {
            loader: msg.sender,
            lsb_first: image_flags & flags::LSB_FIRST != 0,
        };
        if let Err(e) = self.reset_into_slave_mode() {
            self.phase = Phase::Idle;
            return self.fail(msg.sender, e);
        }
        ringbuf_entry!(Trace::Listening(msg.sender));
        Ok(())
    }

    fn write(
        &mut self,
        msg: &RecvMessage,
        data: Leased<R, [u8]>,
    ) -> RequestResult<()> {
        self.init_hardware();
        self.loading(msg)?;
        ringbuf_entry!(Trace::Write(msg.sender, data.len() as u32));
        #[cfg(feature = "test-hang")]
        let skip = {
            let (lender, index) = (data.lender(), data.lease_index());
            let (hook, skip) = match self.hook {
                Some(hook) => (hook, 0),
                None => test_hooks::Hook::from_lease(lender, index, data.len()),
            };
            self.hook = Some(hook);
            if hook == test_hooks::Hook::Slow {
                test_hooks::Hook::dawdle();
            }
            skip
        };
        // Linux's write is spi_write: SS_B asserted around the transfer.
        self.set_ss(true);
        #[cfg(feature = "test-hang")]
        let sent = test_hooks::stream_from(
            self.spi,
            data.lender(),
            data.lease_index(),
            skip,
            data.len(),
        );
        #[cfg(not(feature = "test-hang"))]
        let sent = self.spi.stream_lease(
            data.lender(),
            data.lease_index(),
            data.len(),
        );
        self.set_ss(false);
        if let Err(e) = sent {
            self.abort(msg.sender);
            return self.fail(msg.sender, e);
        }
        Ok(())
    }

    fn write_complete(
        &mut self,
        msg: &RecvMessage,
        _flags: u32,
        _timeout_ms: u32,
    ) -> RequestResult<()> {
        self.init_hardware();
        // Linux ignores config_complete_timeout for iCE40: CDONE is
        // checked once, right after the transfer.
        self.loading(msg)?;
        ringbuf_entry!(Trace::WriteComplete(msg.sender));
        #[cfg(feature = "test-hang")]
        if self.hook == Some(test_hooks::Hook::Hang) {
            test_hooks::Hook::hang();
        }
        if !self.cdone.is_high() {
            self.phase = Phase::Idle;
            self.load_failed = true;
            return self.fail(msg.sender, DriverError::ConfigFailed);
        }
        self.set_ss(true);
        self.spi.write(&WAKEUP_BYTES);
        self.phase = Phase::Idle;
        self.set_ss(false);
        ringbuf_entry!(Trace::Operating(msg.sender));
        Ok(())
    }

    fn remove(&mut self, msg: &RecvMessage) -> RequestResult<()> {
        self.init_hardware();
        // Linux's fpga_mgr_unregister leaves a running design alone; we do
        // too, but a load in progress is abandoned.
        Self::check_manager(msg)?;
        if self.phase != Phase::Idle {
            self.abort(msg.sender);
        }
        ringbuf_entry!(Trace::Removed(msg.sender));
        Ok(())
    }
}

impl NotificationHandler for ServerImpl {
    fn current_notification_mask(&self) -> u32 {
        0
    }

    fn handle_notification(&mut self, _bits: u32) {}
}

#[allow(unsafe_code)] // export_name: the entry point userlib's _start calls
#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut server = ServerImpl::start();
    let rc = announce(config::MANAGER, config::ANNOUNCE_MASK);
    ringbuf_entry!(Trace::Announced(rc));
    let mut buffer = [0u8; idl::INCOMING_SIZE];
    idol_runtime::serve(&mut buffer, &mut server)
}

mod config {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}

#[allow(unsafe_code)] // its `.idolatry` link_section, for the debugger
mod idl {
    use drv_fpga_driver_api::{DriverError, DriverInfo, HeaderInfo};

    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}
