//! The FPGA driver server: everything a low-level FPGA driver task does
//! that does not depend on its device, once.
//!
//! A driver is a task serving `idl/fpga-driver.idol` to the FPGA manager.
//! What differs between device families (how to enter configuration mode,
//! how bytes reach the device, how the device says it is done, what its
//! pins mean as a state) is the [`FpgaDevice`] trait; what does not (only
//! the configured manager may drive the device, a load belongs to the
//! manager generation that began it, flags are checked against what the
//! driver declared, a lease that disappears mid-`write` puts the device
//! back in reset, hardware is first touched after binding, every failure
//! is traced and counted) is [`DriverServer`]. A driver crate is its
//! device code plus [`fpga_driver_main!`].
//!
//! Linux splits the same way: `fpga_manager_ops` is the trait, and
//! `fpga-mgr.c` keeps the sequencing. The difference is that here the
//! sequencing checks run in the driver's own task, so a manager bug (or
//! an impostor) cannot drive a device out of order.

#![no_std]
#![deny(unsafe_code)]

use drv_board_io::{LeaseGone, Spi};
use drv_fpga_driver_api::{
    DriverError, DriverInfo, FpgaState, HeaderInfo, flags,
};
use idol_runtime::{ClientError, Leased, R, RequestError};
use ringbuf::{ringbuf, ringbuf_entry};
use userlib::{Generation, RecvMessage, TaskId, sys_post, sys_refresh_task_id};

pub mod config_pins;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;

pub use drv_board_io as board;
pub use drv_fpga_driver_api as api;

/// What `parse_header` is given: the image's flags and length, and a
/// lease on its first bytes (the lender may stop lending at any time, so
/// reading is fallible).
pub struct ImageStart<'a> {
    /// The load's `FPGA_MGR_*` flags.
    pub flags: u32,
    /// The whole image's length in bytes.
    pub len: u32,
    lease: &'a Leased<R, [u8]>,
}

impl ImageStart<'_> {
    /// The image's first bytes, as many as `buf` holds and the lease
    /// has; [`DriverError::LeaseRevoked`] when the lender stopped lending.
    pub fn read<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], DriverError> {
        let n = self.lease.len().min(buf.len());
        let head = &mut buf[..n];
        self.lease
            .read_range(0..n, head)
            .map_err(|_| DriverError::LeaseRevoked)?;
        Ok(head)
    }
}

/// What a device family needs done, in Linux's `fpga_manager_ops` terms.
///
/// The server calls these only in protocol order, only for the configured
/// manager, and only after [`FpgaDevice::init_hardware`]; a device never
/// checks who is calling or whether a load is in progress.
pub trait FpgaDevice {
    /// What `describe` reports (`fpga_manager_ops`' data members, the
    /// flags this device honours, and the driver's name).
    const INFO: DriverInfo;

    /// Puts the hardware in a known state; returns whether the device is
    /// configured (a running design is left alone, as Linux's probe does).
    ///
    /// Runs on the first call that touches hardware, not at start: a
    /// restarted driver's peripheral grants stay revoked until the manager
    /// has bound this incarnation (after `describe`, which touches none),
    /// so an access before then would fault the task in a loop.
    fn init_hardware(&mut self) -> bool;

    /// Linux's `state` op, from the pins.
    fn state(&self) -> FpgaState;

    /// Linux's `status` op: `FPGA_MGR_STATUS_*` bits, from the pins and
    /// the device's registers. `load_failed` says whether the last load's
    /// [`FpgaDevice::finish`] failed (cleared when the next load enters
    /// configuration mode): every device reports that, so the server
    /// remembers it for them.
    fn status(&self, load_failed: bool) -> u64;

    /// Linux's `parse_header`: reads the first bytes of the image. The
    /// default is a device whose images have no header (Linux's
    /// `initial_header_size` 0 and no `parse_header`).
    ///
    /// # Errors
    ///
    /// [`DriverError::BadHeader`] for an image the device would refuse.
    fn parse_header(
        &mut self,
        image: ImageStart<'_>,
    ) -> Result<HeaderInfo, DriverError> {
        let _ = image;
        Ok(HeaderInfo {
            header_size: 0,
            data_size: 0,
            need_more: false,
        })
    }

    /// Linux's `write_init` once flags are checked: resets the device into
    /// configuration mode for an image with `image_flags`.
    ///
    /// # Errors
    ///
    /// The device did not enter configuration mode.
    fn enter_config(&mut self, image_flags: u32) -> Result<(), DriverError>;

    /// The SPI port the configuration data is shifted out on (fixed by
    /// the driver's app.toml config).
    const CONFIG_PORT: Spi;

    /// Linux's `write`: shifts the configuration data to the device. The
    /// default streams it to [`FpgaDevice::CONFIG_PORT`] as it is; a
    /// device that frames the data (a chip select, a command) overrides
    /// it.
    ///
    /// # Errors
    ///
    /// [`LeaseGone`] when the lender went away; the server then calls
    /// [`FpgaDevice::abort`].
    fn write(&mut self, data: LeaseData) -> Result<(), LeaseGone> {
        data.stream_to(Self::CONFIG_PORT)
    }

    /// Linux's `write_complete`: waits (at most `timeout_ms`) for the
    /// device to start the design. (Linux also passes the image's flags;
    /// no device here finishes differently for any of them.)
    ///
    /// # Errors
    ///
    /// What the device's pins say went wrong.
    fn finish(&mut self, timeout_ms: u32) -> Result<(), DriverError>;

    /// Abandons a load: the device is put back into a defined reset state
    /// so nothing half-sent can complete later.
    fn abort(&mut self);
}

/// Bytes of a client's lease, possibly forwarded by the manager, to be
/// streamed to a device in place.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct LeaseData {
    /// The task that lent (or forwarded) the lease to us.
    pub lender: TaskId,
    /// Its index among the lender's leases.
    pub index: usize,
    /// The first byte to send.
    pub offset: u32,
    /// One past the last byte to send (the lease's length).
    pub end: u32,
}

impl LeaseData {
    /// Streams the bytes through `spi`.
    ///
    /// # Errors
    ///
    /// [`LeaseGone`] when a piece could not be read.
    pub fn stream_to(self, spi: Spi) -> Result<(), LeaseGone> {
        spi.stream_lease(self.lender, self.index, self.offset, self.end)
    }
}

/// What the driver did, newest last; carries the caller's `TaskId` with
/// its generation, so a dump tells a restarted manager from its
/// predecessor.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Trace {
    None,
    /// Hardware first touched; whether the device was configured (then it
    /// is left running).
    Start {
        configured: bool,
    },
    /// Posted our announcement; POST's return code.
    Announced(u32),
    ParseHeader(TaskId, u32),
    WriteInit(TaskId, u32),
    /// In configuration mode: the device takes data.
    Listening(TaskId),
    Write(TaskId, u32),
    WriteComplete(TaskId),
    /// The device runs the design.
    Operating(TaskId),
    /// A load was abandoned and the device put back into reset.
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

/// An idol op's result.
pub type RequestResult<T> = Result<T, RequestError<DriverError>>;

/// The server over one device: the `FpgaDriver` protocol's checks and
/// sequencing. [`fpga_driver_main!`] implements the generated server
/// trait by forwarding each op to the method of the same name here.
pub struct DriverServer<D> {
    device: D,
    /// The manager's task index (app.toml `config.manager`).
    manager: usize,
    /// Whether [`FpgaDevice::init_hardware`] has run.
    initialized: bool,
    phase: Phase,
    /// Whether the last load's `finish` failed, for `status`.
    load_failed: bool,
    #[cfg(feature = "test-hooks")]
    hook: Option<test_hooks::Hook>,
}

impl<D: FpgaDevice> DriverServer<D> {
    /// A server for `device`, driven only by task `manager`.
    pub fn new(device: D, manager: usize) -> Self {
        DriverServer {
            device,
            manager,
            initialized: false,
            phase: Phase::Idle,
            load_failed: false,
            #[cfg(feature = "test-hooks")]
            hook: None,
        }
    }

    /// The device, for a driver's own tests and traces.
    pub fn device(&self) -> &D {
        &self.device
    }

    fn init_hardware(&mut self) {
        if !self.initialized {
            self.initialized = true;
            let configured = self.device.init_hardware();
            ringbuf_entry!(Trace::Start { configured });
        }
    }

    /// Records and counts a failure, and passes it on.
    fn fail<T>(caller: TaskId, e: DriverError) -> RequestResult<T> {
        ringbuf_entry!(Trace::Failed(caller, e));
        counters::count!(e);
        Err(e.into())
    }

    /// Only the configured manager may change the device. Anyone else is
    /// faulted, as for any other protocol violation: a task that can reach
    /// us is more important than the manager's clients, and must not
    /// bypass the manager's locking.
    fn check_manager(&self, msg: &RecvMessage) -> RequestResult<()> {
        if msg.sender.index() == self.manager {
            Ok(())
        } else {
            Err(RequestError::Fail(ClientError::AccessViolation))
        }
    }

    /// Checks that `msg.sender` is the manager that began the load in
    /// progress.
    fn check_loader(&self, msg: &RecvMessage) -> RequestResult<()> {
        self.check_manager(msg)?;
        match self.phase {
            Phase::Loading { loader } if loader == msg.sender => Ok(()),
            _ => Self::fail(msg.sender, DriverError::BadState),
        }
    }

    /// Abandons a load in progress, if any.
    fn abort(&mut self, caller: TaskId) {
        if self.phase != Phase::Idle {
            self.phase = Phase::Idle;
            self.device.abort();
            ringbuf_entry!(Trace::Aborted(caller));
        }
    }

    /// `describe`: touches no hardware, so a restarted driver can be bound.
    pub fn describe(&mut self) -> DriverInfo {
        D::INFO
    }

    /// `state`.
    pub fn state(&mut self) -> u8 {
        self.init_hardware();
        self.device.state().into()
    }

    /// `status`.
    pub fn status(&mut self) -> u64 {
        self.init_hardware();
        self.device.status(self.load_failed)
    }

    /// `parse_header`: touches no hardware.
    pub fn parse_header(
        &mut self,
        msg: &RecvMessage,
        image_flags: u32,
        image_len: u32,
        header: Leased<R, [u8]>,
    ) -> RequestResult<HeaderInfo> {
        ringbuf_entry!(Trace::ParseHeader(msg.sender, header.len() as u32));
        let image = ImageStart {
            flags: image_flags,
            len: image_len,
            lease: &header,
        };
        match self.device.parse_header(image) {
            Ok(info) => Ok(info),
            Err(e) => Self::fail(msg.sender, e),
        }
    }

    /// `write_init`: a load in progress is abandoned, the flags checked
    /// against Linux's and the device's, and the device reset into
    /// configuration mode.
    pub fn write_init(
        &mut self,
        msg: &RecvMessage,
        image_flags: u32,
    ) -> RequestResult<()> {
        self.init_hardware();
        self.check_manager(msg)?;
        ringbuf_entry!(Trace::WriteInit(msg.sender, image_flags));
        self.abort(msg.sender);
        if image_flags & !flags::ALL != 0 {
            return Self::fail(msg.sender, DriverError::InvalidArgument);
        }
        if image_flags & !D::INFO.supported_flags != 0 {
            return Self::fail(msg.sender, DriverError::NotSupported);
        }
        #[cfg(feature = "test-hooks")]
        {
            self.hook = None;
        }
        self.load_failed = false;
        if let Err(e) = self.device.enter_config(image_flags) {
            return Self::fail(msg.sender, e);
        }
        self.phase = Phase::Loading { loader: msg.sender };
        ringbuf_entry!(Trace::Listening(msg.sender));
        Ok(())
    }

    /// `write`: the lease goes to the device in place; if it disappears
    /// (the client died), the load is abandoned.
    pub fn write(
        &mut self,
        msg: &RecvMessage,
        data: Leased<R, [u8]>,
    ) -> RequestResult<()> {
        self.init_hardware();
        self.check_loader(msg)?;
        ringbuf_entry!(Trace::Write(msg.sender, data.len() as u32));
        let Ok(end) = u32::try_from(data.len()) else {
            return Self::fail(msg.sender, DriverError::InvalidArgument);
        };
        #[allow(unused_mut)]
        let mut lease = LeaseData {
            lender: data.lender(),
            index: data.lease_index(),
            offset: 0,
            end,
        };
        #[cfg(feature = "test-hooks")]
        {
            lease.offset =
                test_hooks::Hook::before_write(&mut self.hook, lease);
        }
        if self.device.write(lease).is_err() {
            self.abort(msg.sender);
            return Self::fail(msg.sender, DriverError::LeaseRevoked);
        }
        Ok(())
    }

    /// `write_complete`: the load ends here, started or failed. The op
    /// carries the image's flags as Linux's does; no device here finishes
    /// differently for any of them.
    pub fn write_complete(
        &mut self,
        msg: &RecvMessage,
        _image_flags: u32,
        timeout_ms: u32,
    ) -> RequestResult<()> {
        self.init_hardware();
        self.check_loader(msg)?;
        ringbuf_entry!(Trace::WriteComplete(msg.sender));
        self.phase = Phase::Idle;
        #[cfg(feature = "test-hooks")]
        test_hooks::Hook::before_complete(self.hook);
        match self.device.finish(timeout_ms) {
            Ok(()) => {
                ringbuf_entry!(Trace::Operating(msg.sender));
                Ok(())
            }
            Err(e) => {
                self.load_failed = true;
                Self::fail(msg.sender, e)
            }
        }
    }

    /// `remove`: Linux's `fpga_mgr_unregister` leaves a running design
    /// alone; so do we, but a load in progress is abandoned.
    pub fn remove(&mut self, msg: &RecvMessage) -> RequestResult<()> {
        self.init_hardware();
        self.check_manager(msg)?;
        self.abort(msg.sender);
        ringbuf_entry!(Trace::Removed(msg.sender));
        Ok(())
    }
}

/// Drivers wait for nothing but the manager's messages.
impl<D> idol_runtime::NotificationHandler for DriverServer<D> {
    fn current_notification_mask(&self) -> u32 {
        0
    }

    fn handle_notification(&mut self, _bits: u32) {}
}

/// Tells the manager (task `index`) that this driver has started, by
/// posting `mask` to it; returns what POST returned (0, or a dead code if
/// the manager restarted between our lookup and the post, in which case
/// we try once more with its new generation). Traced as
/// [`Trace::Announced`].
///
/// A notification rather than a message, because IPC only flows from
/// less to more important tasks and drivers sit above the manager. POST
/// is a capability: app.toml's `post-to` names the manager (the build
/// script checks it).
pub fn announce(index: usize, mask: u32) -> u32 {
    let mut rc = 0;
    for _ in 0..2 {
        let manager = sys_refresh_task_id(TaskId::for_index_and_gen(
            index,
            Generation::ZERO,
        ));
        rc = sys_post(manager, mask);
        if rc == 0 {
            break;
        }
    }
    ringbuf_entry!(Trace::Announced(rc));
    rc
}

/// A driver task's `main`, its generated server stub and config, for a
/// device built by `$device` (an expression of a type implementing
/// [`FpgaDevice`]). The driver's `build.rs` calls
/// `build_util::driver::build_driver`, which writes `server_stub.rs` and
/// `config.rs` (with `MANAGER` and `ANNOUNCE_MASK`) into `OUT_DIR`.
///
/// ```ignore
/// drv_fpga_driver_server::fpga_driver_main!(Ice40::new());
/// ```
#[macro_export]
macro_rules! fpga_driver_main {
    ($device:expr) => {
        #[allow(unsafe_code)] // export_name: the entry point userlib's _start calls
        #[unsafe(export_name = "main")]
        fn main() -> ! {
            let mut server = $crate::DriverServer::new($device, config::MANAGER);
            $crate::announce(config::MANAGER, config::ANNOUNCE_MASK);
            let mut buffer = [0u8; idl::INCOMING_SIZE];
            idol_runtime::serve(&mut buffer, &mut server)
        }

        #[allow(unsafe_code)] // its `.idolatry` link_section, for the debugger
        mod idl {
            use $crate::api::{DriverError, DriverInfo, HeaderInfo};

            include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
        }

        impl<D: $crate::FpgaDevice> idl::InOrderFpgaDriverImpl for $crate::DriverServer<D> {
            fn describe(
                &mut self,
                _msg: &userlib::RecvMessage,
            ) -> Result<$crate::api::DriverInfo, idol_runtime::RequestError<core::convert::Infallible>>
            {
                Ok($crate::DriverServer::describe(self))
            }

            fn state(
                &mut self,
                _msg: &userlib::RecvMessage,
            ) -> Result<u8, idol_runtime::RequestError<core::convert::Infallible>> {
                Ok($crate::DriverServer::state(self))
            }

            fn status(
                &mut self,
                _msg: &userlib::RecvMessage,
            ) -> Result<u64, idol_runtime::RequestError<core::convert::Infallible>> {
                Ok($crate::DriverServer::status(self))
            }

            fn parse_header(
                &mut self,
                msg: &userlib::RecvMessage,
                image_flags: u32,
                image_len: u32,
                header: idol_runtime::Leased<idol_runtime::R, [u8]>,
            ) -> $crate::RequestResult<$crate::api::HeaderInfo> {
                $crate::DriverServer::parse_header(self, msg, image_flags, image_len, header)
            }

            fn write_init(
                &mut self,
                msg: &userlib::RecvMessage,
                image_flags: u32,
                _image_len: u32,
                _header: idol_runtime::Leased<idol_runtime::R, [u8]>,
            ) -> $crate::RequestResult<()> {
                $crate::DriverServer::write_init(self, msg, image_flags)
            }

            fn write(
                &mut self,
                msg: &userlib::RecvMessage,
                data: idol_runtime::Leased<idol_runtime::R, [u8]>,
            ) -> $crate::RequestResult<()> {
                $crate::DriverServer::write(self, msg, data)
            }

            fn write_complete(
                &mut self,
                msg: &userlib::RecvMessage,
                image_flags: u32,
                timeout_ms: u32,
            ) -> $crate::RequestResult<()> {
                $crate::DriverServer::write_complete(self, msg, image_flags, timeout_ms)
            }

            fn remove(&mut self, msg: &userlib::RecvMessage) -> $crate::RequestResult<()> {
                $crate::DriverServer::remove(self, msg)
            }
        }

        mod config {
            include!(concat!(env!("OUT_DIR"), "/config.rs"));
        }
    };
}
