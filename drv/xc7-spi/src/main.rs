//! Xilinx 7-series driver: slave serial configuration, as Linux's
//! xilinx-spi.
//!
//! One task per device, serving `idl/fpga-driver.idol` to the FPGA
//! manager (its only client; see `drv/fpga-driver-api`). The sequence is
//! Linux's `drivers/fpga/xilinx-spi.c` / `xilinx-core.c`:
//!
//! 1. `write_init`: refuse `PARTIAL_RECONFIG`; assert PROGRAM_B (low) and
//!    wait for INIT_B to go low; release PROGRAM_B and wait for INIT_B to
//!    go high (housecleaning done; 1 ms polls, 1 s timeout, Linux's
//!    `-ETIMEDOUT`); DONE must be low ("Unexpected DONE pin state");
//!    sleep the 7.5 ms "program latency".
//! 2. `write`: shift the configuration data MSB first (LSB first when the
//!    image says `LSB_FIRST`, which Linux ignores), straight from the
//!    client's lease.
//! 3. `write_complete`: poll DONE, sending one 0xFF (8 CCLKs for the
//!    startup sequence) per poll, until DONE is high or the timeout
//!    passes; then INIT_B low means "CRC error or invalid device"
//!    ([`DriverError::ConfigFailed`]), INIT_B high "missing sync word or
//!    incomplete bitstream" ([`DriverError::Timeout`]).
//!
//! `parse_header` (which Linux's driver lacks) strips a `.bit` header and
//! refuses byte-swapped `.bin` files; see [`drv_xc7_spi::header`]. The
//! device's verdict comes from its pins alone (INIT_B, DONE); we never
//! read the simulator's debug registers.
//!
//! Deliberate differences from Linux: `state` says `OPERATING` when DONE
//! is high (Linux: `UNKNOWN`; DONE low is `RESET` in both), so a
//! restarted manager can tell a configured device; only the configured
//! manager may drive the device; and a load whose lease disappears
//! mid-`write` is abandoned with a PROGRAM_B pulse, clearing the
//! half-written configuration.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use drv_fpga_driver_api::driver::{Pin, Spi, announce};
use drv_fpga_driver_api::{
    DriverError, DriverInfo, FpgaState, HeaderInfo, flags, status,
};
use drv_xc7_spi::header::{self, MAX_HEADER};
use idol_runtime::{ClientError, Leased, NotificationHandler, R, RequestError};
use ringbuf::{ringbuf, ringbuf_entry};
use userlib::{RecvMessage, TaskId, hl, sys_get_timer};

/// The flags we honour. `LSB_FIRST` sets the controller's bit order;
/// encryption and compression are properties of the stream that the
/// 7-series configuration engine decodes itself (UG470 ch. 5 and
/// `BITSTREAM.GENERAL.COMPRESS`), so the driver passes them through;
/// `EXTERNAL_CONFIG` needs nothing from a driver. Slave serial cannot do
/// partial reconfiguration here (Linux's xilinx-spi refuses it too).
const SUPPORTED_FLAGS: u32 = flags::LSB_FIRST
    | flags::EXTERNAL_CONFIG
    | flags::ENCRYPTED
    | flags::COMPRESSED;

/// How many bytes `parse_header` wants first: enough for a Vivado `.bit`
/// header's magic and first fields, or a `.bin`'s sync word, in one go.
const INITIAL_HEADER_SIZE: u32 = 64;

/// Linux's limit on INIT_B changing after a PROGRAM_B edge.
const INIT_B_TIMEOUT_MS: u64 = 1000;

/// Linux's "program latency" sleep after housecleaning (7.5 ms), rounded
/// up to our millisecond tick.
const PROGRAM_LATENCY_MS: u64 = 8;

/// Polls of DONE in `write_complete` before we start sleeping a tick
/// between polls. Linux polls in a busy loop for the whole timeout; a
/// good stream needs one or two polls, and a task that spins for a second
/// at driver priority would starve everything below it.
const FAST_POLLS: u32 = 16;

/// What the driver did, newest last; carries the caller's `TaskId` with
/// its generation.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Trace {
    None,
    /// Started; DONE was high (a configured device is left running).
    Start {
        done: bool,
    },
    /// Posted our announcement; POST's return code.
    Announced(u32),
    ParseHeader(TaskId, u32),
    WriteInit(TaskId, u32),
    /// Housecleaning done, INIT_B high: the device takes data.
    Listening(TaskId),
    Write(TaskId, u32),
    WriteComplete(TaskId),
    /// DONE high after this many polls.
    Operating(TaskId, u32),
    /// A load was abandoned and the configuration cleared.
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
    Loading { loader: TaskId },
}

/// All driver state.
struct ServerImpl {
    /// Whether [`ServerImpl::init_hardware`] has run.
    initialized: bool,
    spi: Spi,
    program_b: Pin,
    init_b: Pin,
    done: Pin,
    phase: Phase,
    /// INIT_B has been seen high since the last PROGRAM_B pulse, so INIT_B
    /// low now is the device reporting an error (UG470), not
    /// housecleaning.
    armed: bool,
    /// The last load did not end with DONE high.
    load_failed: bool,
}

type RequestResult<T> = Result<T, RequestError<DriverError>>;

impl ServerImpl {
    /// Puts the hardware in a known state: controller idle and MSB first,
    /// PROGRAM_B driven high (released, as Linux requests it), INIT_B and
    /// DONE inputs. A device that is not configured (DONE low) may hold a
    /// half-written configuration from a predecessor of ours that died;
    /// a PROGRAM_B pulse clears it, so stale data can never complete.
    fn start() -> Self {
        let gpio = config::GPIO;
        let pin = |line| Pin { gpio, line };
        ServerImpl {
            spi: Spi(config::SPI),
            program_b: pin(config::PROGRAM_B),
            init_b: pin(config::INIT_B),
            done: pin(config::DONE),
            phase: Phase::Idle,
            armed: false,
            load_failed: false,
            initialized: false,
        }
    }

    /// Puts the device in a known state: a PROGRAM_B pulse clears anything
    /// half-written by a predecessor, unless the device is configured.
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
        self.spi.configure(false, false);
        self.init_b.release();
        self.done.release();
        let done = self.done.is_high();
        if !done {
            self.program_b.drive(false);
        }
        self.program_b.drive(true);
        ringbuf_entry!(Trace::Start { done });
    }

    /// Abandons a load: a PROGRAM_B pulse clears the configuration
    /// memory, and the device waits for a new one.
    fn abort(&mut self, caller: TaskId) {
        self.phase = Phase::Idle;
        self.armed = false;
        self.program_b.drive(false);
        self.program_b.drive(true);
        self.spi.configure(false, false);
        ringbuf_entry!(Trace::Aborted(caller));
    }

    /// Records and counts a failure, and passes it on.
    fn fail<T>(&mut self, caller: TaskId, e: DriverError) -> RequestResult<T> {
        ringbuf_entry!(Trace::Failed(caller, e));
        counters::count!(e);
        Err(e.into())
    }

    /// Only the configured manager may change the device; anyone else is
    /// faulted, as for any protocol violation, so that no task bypasses
    /// the manager's locking.
    fn check_manager(msg: &RecvMessage) -> RequestResult<()> {
        if msg.sender.index() == config::MANAGER {
            Ok(())
        } else {
            Err(RequestError::Fail(ClientError::AccessViolation))
        }
    }

    /// Checks that `msg.sender` began the load in progress.
    fn loading(&mut self, msg: &RecvMessage) -> RequestResult<()> {
        Self::check_manager(msg)?;
        match self.phase {
            Phase::Loading { loader } if loader == msg.sender => Ok(()),
            _ => self.fail(msg.sender, DriverError::BadState),
        }
    }

    /// Waits until `pin` reads `high`, polling every millisecond for at
    /// most `timeout_ms` (Linux `xilinx_core_wait_for_init_b`). It always
    /// looks at least once, however late we run.
    fn wait_for(pin: Pin, high: bool, timeout_ms: u64) -> bool {
        let deadline = sys_get_timer().now.saturating_add(timeout_ms);
        loop {
            if pin.is_high() == high {
                return true;
            }
            if sys_get_timer().now >= deadline {
                return false;
            }
            hl::sleep_for(1);
        }
    }

    /// Linux `xilinx_core_write_init` from the PROGRAM_B pulse on.
    fn program(&mut self) -> Result<(), DriverError> {
        self.armed = false;
        self.program_b.drive(false);
        if !Self::wait_for(self.init_b, false, INIT_B_TIMEOUT_MS) {
            self.program_b.drive(true);
            return Err(DriverError::Timeout);
        }
        self.program_b.drive(true);
        if !Self::wait_for(self.init_b, true, INIT_B_TIMEOUT_MS) {
            return Err(DriverError::Timeout);
        }
        if self.done.is_high() {
            return Err(DriverError::DeviceNotReady);
        }
        self.armed = true;
        hl::sleep_for(PROGRAM_LATENCY_MS);
        Ok(())
    }

    /// Linux `xilinx_spi_write_complete`'s loop: `Some(polls)` once DONE
    /// is high, `None` when `timeout_ms` passed first. Like Linux, it
    /// decides whether time is up *before* reading DONE, so a poll always
    /// happens after the last clocks, and it clocks 0xFF after each read.
    fn poll_done(&self, timeout_ms: u32) -> Option<u32> {
        let now = sys_get_timer().now;
        let deadline = now.saturating_add(u64::from(timeout_ms));
        let mut polls = 0;
        loop {
            let expired = sys_get_timer().now >= deadline;
            let done = self.done.is_high();
            self.spi.write(&[0xFF]);
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

impl idl::InOrderFpgaDriverImpl for ServerImpl {
    fn describe(
        &mut self,
        _msg: &RecvMessage,
    ) -> Result<DriverInfo, RequestError<core::convert::Infallible>> {
        Ok(DriverInfo {
            initial_header_size: INITIAL_HEADER_SIZE,
            skip_header: true,
            supported_flags: SUPPORTED_FLAGS,
            compat_id_h: 0,
            compat_id_l: 0,
            name: DriverInfo::pad_name("xc7-spi"),
        })
    }

    fn state(
        &mut self,
        _msg: &RecvMessage,
    ) -> Result<u8, RequestError<core::convert::Infallible>> {
        self.init_hardware();
        let state = if self.done.is_high() {
            FpgaState::Operating
        } else {
            FpgaState::Reset
        };
        Ok(state.into())
    }

    fn status(
        &mut self,
        _msg: &RecvMessage,
    ) -> Result<u64, RequestError<core::convert::Infallible>> {
        self.init_hardware();
        // UG470: INIT_B pulled low after housecleaning signals a
        // configuration error, a CRC mismatch or a wrong IDCODE; the pin
        // cannot say which, so we report the CRC error Linux names first.
        let bits = if self.done.is_high() {
            0
        } else if self.armed && !self.init_b.is_high() {
            status::OPERATION_ERR | status::CRC_ERR
        } else if self.load_failed {
            status::OPERATION_ERR
        } else {
            0
        };
        Ok(bits)
    }

    fn parse_header(
        &mut self,
        msg: &RecvMessage,
        image_flags: u32,
        image_len: u32,
        header_lease: Leased<R, [u8]>,
    ) -> RequestResult<HeaderInfo> {
        ringbuf_entry!(Trace::ParseHeader(
            msg.sender,
            header_lease.len() as u32
        ));
        let mut buf = [0u8; MAX_HEADER];
        let n = header_lease.len().min(MAX_HEADER);
        if header_lease.read_range(0..n, &mut buf[..n]).is_err() {
            return self.fail(msg.sender, DriverError::LeaseRevoked);
        }
        header::to_wire_order(&mut buf[..n], image_flags);
        match header::parse(&buf[..n], image_len as usize) {
            Ok(info) => Ok(info),
            Err(e) => self.fail(msg.sender, e),
        }
    }

    fn write_init(
        &mut self,
        msg: &RecvMessage,
        image_flags: u32,
        _image_len: u32,
        _header: Leased<R, [u8]>,
    ) -> RequestResult<()> {
        self.init_hardware();
        // Like Linux, write_init does not look at the header: the PROGRAM_B
        // pulse is the same for every image, and parse_header has vetted it.
        Self::check_manager(msg)?;
        ringbuf_entry!(Trace::WriteInit(msg.sender, image_flags));
        self.phase = Phase::Idle;
        self.load_failed = false;
        if image_flags & !flags::ALL != 0 {
            return self.fail(msg.sender, DriverError::InvalidArgument);
        }
        if image_flags & !SUPPORTED_FLAGS != 0 {
            return self.fail(msg.sender, DriverError::NotSupported);
        }
        self.spi
            .configure(false, image_flags & flags::LSB_FIRST != 0);
        if let Err(e) = self.program() {
            return self.fail(msg.sender, e);
        }
        self.phase = Phase::Loading { loader: msg.sender };
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
        let sent = self.spi.stream_lease(
            data.lender(),
            data.lease_index(),
            data.len(),
        );
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
        timeout_ms: u32,
    ) -> RequestResult<()> {
        self.init_hardware();
        self.loading(msg)?;
        ringbuf_entry!(Trace::WriteComplete(msg.sender));
        self.phase = Phase::Idle;
        let polled = self.poll_done(timeout_ms);
        self.spi.configure(false, false);
        match polled {
            Some(polls) => {
                ringbuf_entry!(Trace::Operating(msg.sender, polls));
                Ok(())
            }
            None => {
                self.load_failed = true;
                let e = if self.init_b.is_high() {
                    // Linux: "Missing sync word or incomplete bitstream".
                    DriverError::Timeout
                } else {
                    // Linux: "CRC error or invalid device".
                    DriverError::ConfigFailed
                };
                self.fail(msg.sender, e)
            }
        }
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
