//! The `FpgaManager` ops: thin methods that check the caller and the
//! device, then hand the work to the loader, the lock or a bridge.

use crate::device::Device;
use crate::driver::{self, Link, Source};
use crate::idl::InOrderFpgaManagerImpl;
use crate::load::{Request, now};
use crate::store::ImageName;
use crate::{ServerImpl, Trace, counted};
use drv_fpga_api::{DeviceInfo, FpgaError, FpgaState, ImageInfo};
use idol_runtime::{Leased, LenLimit, R, RequestError, W};
use ringbuf::ringbuf_entry_root;
use task_fpga_mgr::loader::{Deadline, Stream};
use userlib::{RecvMessage, TaskId};

type Reply<T> = Result<T, RequestError<FpgaError>>;

/// The image lease's length; leases are at most `u32::MAX` bytes.
fn lease_len(image: &Leased<R, [u8]>) -> u32 {
    u32::try_from(image.len()).unwrap_or(u32::MAX)
}

/// A failure whose cause is that the client itself died mid-call gets no
/// reply (there is no one to answer), and its lock goes at once.
fn finish(
    d: &mut Device,
    caller: TaskId,
    r: Result<(), FpgaError>,
) -> Reply<()> {
    if r == Err(FpgaError::ClientWentAway) && !crate::alive(caller) {
        d.reap();
        return Err(RequestError::went_away());
    }
    counted(r)
}

impl InOrderFpgaManagerImpl for ServerImpl {
    fn info(&mut self, _: &RecvMessage, device_index: u8) -> Reply<DeviceInfo> {
        let d = counted(self.device(device_index))?;
        let mut info = DeviceInfo {
            name: d.config.name,
            driver: driver::current_task(d.config).0,
            ..DeviceInfo::default()
        };
        if let Some(b) = d.binding {
            info.driver = b.task.0;
            info.bound = 1;
            info.skip_header = u8::from(b.info.skip_header);
            info.compat_id_h = b.info.compat_id_h;
            info.compat_id_l = b.info.compat_id_l;
            info.supported_flags = b.info.supported_flags;
            let n = info.driver_name.len().min(b.info.name.len());
            info.driver_name[..n].copy_from_slice(&b.info.name[..n]);
        }
        Ok(info)
    }

    fn state(&mut self, _: &RecvMessage, device_index: u8) -> Reply<u8> {
        Ok(u8::from(counted(self.device(device_index))?.state))
    }

    fn status(&mut self, _: &RecvMessage, device_index: u8) -> Reply<u64> {
        let d = counted(self.device(device_index))?;
        let b = counted(d.bound())?;
        match driver::read_status(b.task) {
            Ok(bits) => {
                d.status = Some(bits);
                Ok(bits)
            }
            Err(_) => {
                d.unbind(driver::Unbind::Died);
                counted(Err(FpgaError::DriverDied))
            }
        }
    }

    fn lock(&mut self, msg: &RecvMessage, device_index: u8) -> Reply<()> {
        let d = counted(self.device(device_index))?;
        d.reap();
        counted(d.lock.acquire(msg.sender))?;
        ringbuf_entry_root!(Trace::Locked {
            device: device_index,
            holder: msg.sender
        });
        Ok(())
    }

    fn release(&mut self, msg: &RecvMessage, device_index: u8) -> Reply<()> {
        let d = counted(self.device(device_index))?;
        d.reap();
        counted(d.lock.release(msg.sender))?;
        d.abandon_stream();
        ringbuf_entry_root!(Trace::Released {
            device: device_index,
            holder: msg.sender
        });
        Ok(())
    }

    fn load(
        &mut self,
        msg: &RecvMessage,
        device_index: u8,
        flags: u32,
        timeout_ms: u32,
        image: Leased<R, [u8]>,
    ) -> Reply<()> {
        let source = Source::client(msg.sender, lease_len(&image));
        // The benchmark's flags, known to its build only (see
        // BENCH_SKIP_DIGEST); elsewhere they stay and are refused.
        let skip_bit = drv_fpga_api::BENCH_SKIP_DIGEST;
        let soft_bit = drv_fpga_api::BENCH_SOFTWARE_DIGEST;
        let bench = cfg!(feature = "bench-skip-digest");
        let skip = bench && flags & skip_bit != 0;
        let soft = bench && flags & soft_bit != 0;
        let bench_bits = if bench { skip_bit | soft_bit } else { 0 };
        let request = Request {
            loader: msg.sender,
            flags: flags & !bench_bits,
            timeout_ms,
            name: None,
            digest: !skip,
        };
        self.reclaim_engine();
        let d = counted(
            self.devices
                .get_mut(usize::from(device_index))
                .ok_or(FpgaError::BadDevice),
        )?;
        counted(d.check_holder(msg.sender))?;
        // BENCH_SOFTWARE_DIGEST: as if we had no engine.
        let hasher = crate::hash::Hasher {
            scratch: &mut self.scratch[..],
            engine: self.engine.as_mut().filter(|_| !soft),
        };
        let r = d.load_image(source, &request, hasher);
        finish(d, msg.sender, r)
    }

    fn load_begin(
        &mut self,
        msg: &RecvMessage,
        device_index: u8,
        flags: u32,
        image_len: u32,
        timeout_ms: u32,
    ) -> Reply<u32> {
        let d = counted(self.device(device_index))?;
        counted(d.check_holder(msg.sender))?;
        let b = counted(d.bound())?;
        if d.stream.is_some() {
            return counted(Err(FpgaError::InvalidState));
        }
        let deadline = Deadline::new(now(), timeout_ms);
        let (stream, min) =
            counted(Stream::begin(&b.profile(), flags, image_len, deadline))?;
        d.log.clear();
        d.stream = Some(stream);
        Ok(min)
    }

    fn load_chunk(
        &mut self,
        msg: &RecvMessage,
        device_index: u8,
        chunk: Leased<R, [u8]>,
    ) -> Reply<()> {
        self.reclaim_engine();
        let d = self.devices.get_mut(usize::from(device_index));
        let d = counted(d.ok_or(FpgaError::BadDevice))?;
        counted(d.check_holder(msg.sender))?;
        let b = counted(d.bound())?;
        let Some(mut stream) = d.stream.take() else {
            return counted(Err(FpgaError::InvalidState));
        };
        let source = Source::client(msg.sender, lease_len(&chunk));
        let deadline = stream.deadline();
        let hasher =
            crate::hash::hasher(&mut self.scratch[..], &mut self.engine);
        let mut link = Link::new(b.task, source, deadline, d.record(), hasher);
        let r = stream.chunk(&mut link, &b.profile(), source.len);
        let died = link.died();
        // Only a refused first chunk leaves the stream open.
        if matches!(r, Ok(()) | Err(FpgaError::FirstChunkTooShort)) {
            d.stream = Some(stream);
        } else {
            ringbuf_entry_root!(Trace::Load {
                device: device_index,
                result: r
            });
        }
        let r = d.note(r, died);
        finish(d, msg.sender, r)
    }

    fn load_header_needed(
        &mut self,
        msg: &RecvMessage,
        device_index: u8,
    ) -> Reply<u32> {
        let d = counted(self.device(device_index))?;
        counted(d.check_holder(msg.sender))?;
        let needed = d.stream.as_ref().and_then(Stream::header_needed);
        counted(needed.ok_or(FpgaError::InvalidState))
    }

    fn load_end(&mut self, msg: &RecvMessage, device_index: u8) -> Reply<()> {
        let d = self.devices.get_mut(usize::from(device_index));
        let d = counted(d.ok_or(FpgaError::BadDevice))?;
        counted(d.check_holder(msg.sender))?;
        let b = counted(d.bound())?;
        let Some(stream) = d.stream.take() else {
            return counted(Err(FpgaError::InvalidState));
        };
        let deadline = stream.deadline();
        let request = Request {
            loader: msg.sender,
            flags: stream.flags(),
            timeout_ms: 0,
            name: None,
            digest: true,
        };
        let source = Source::client(msg.sender, 0);
        let hasher =
            crate::hash::hasher(&mut self.scratch[..], &mut self.engine);
        let mut link = Link::new(b.task, source, deadline, d.record(), hasher);
        let r = stream.end(&mut link);
        let died = link.died();
        let r = r.map(|f| d.loaded(&f, &request));
        ringbuf_entry_root!(Trace::Load {
            device: device_index,
            result: r
        });
        d.refresh_status();
        counted(d.note(r, died))
    }

    fn load_abort(&mut self, msg: &RecvMessage, device_index: u8) -> Reply<()> {
        let d = counted(self.device(device_index))?;
        counted(d.check_holder(msg.sender))?;
        d.abandon_stream();
        Ok(())
    }

    fn reset(&mut self, msg: &RecvMessage, device_index: u8) -> Reply<()> {
        let d = counted(self.device(device_index))?;
        counted(d.check_holder(msg.sender))?;
        d.abandon_stream();
        let b = counted(d.bound())?;
        let client = drv_fpga_driver_api::FpgaDriver::from(b.task);
        let timeout = driver::CONTROL_TIMEOUT_MS;
        let r =
            driver::guarded(b.task, timeout, || client.write_init(0, 0, &[]));
        let r = match r {
            Ok(()) => {
                d.set_state(FpgaState::Reset);
                Ok(())
            }
            Err(e) => {
                d.set_state(FpgaState::WriteInitErr);
                if e == drv_fpga_driver_api::DriverError::DriverRestarted {
                    Err(FpgaError::DriverDied)
                } else {
                    Err(FpgaError::WriteInitFailed)
                }
            }
        };
        counted(d.note(r, false))
    }

    fn remove(&mut self, msg: &RecvMessage, device_index: u8) -> Reply<()> {
        let d = counted(self.device(device_index))?;
        counted(d.check_holder(msg.sender))?;
        let b = counted(d.bound())?;
        // Linux calls fpga_remove and unregisters whatever it answers; a
        // driver that died meanwhile is simply gone already.
        let client = drv_fpga_driver_api::FpgaDriver::from(b.task);
        let timeout = driver::CONTROL_TIMEOUT_MS;
        let _ = driver::guarded(b.task, timeout, || client.remove());
        d.unbind(driver::Unbind::Removed);
        Ok(())
    }

    fn bridge_enable(
        &mut self,
        msg: &RecvMessage,
        bridge_index: u8,
    ) -> Reply<()> {
        self.set_bridge(msg.sender, bridge_index, true)
    }

    fn bridge_disable(
        &mut self,
        msg: &RecvMessage,
        bridge_index: u8,
    ) -> Reply<()> {
        self.set_bridge(msg.sender, bridge_index, false)
    }

    fn bridge_state(
        &mut self,
        _: &RecvMessage,
        bridge_index: u8,
    ) -> Reply<bool> {
        Ok(counted(self.bridge(bridge_index))?.enabled())
    }

    fn bridge_set_fault(
        &mut self,
        _: &RecvMessage,
        bridge_index: u8,
        failing: bool,
    ) -> Reply<()> {
        counted(self.bridge(bridge_index))?.set_failing(failing);
        Ok(())
    }

    fn region_program(
        &mut self,
        msg: &RecvMessage,
        region_index: u8,
        flags: u32,
        timeout_ms: u32,
        image: Leased<R, [u8]>,
    ) -> Reply<()> {
        let region = crate::config::REGIONS
            .get(usize::from(region_index))
            .ok_or(FpgaError::BadRegion);
        let region = counted(region)?;
        let source = Source::client(msg.sender, lease_len(&image));
        let request = Request {
            loader: msg.sender,
            flags,
            timeout_ms,
            name: None,
            digest: true,
        };
        let r = self.program(region, source, &request);
        ringbuf_entry_root!(Trace::Region {
            region: region_index,
            result: r
        });
        let d = counted(self.device(region.device))?;
        finish(d, msg.sender, r)
    }

    fn hardware_state(
        &mut self,
        _: &RecvMessage,
        device_index: u8,
    ) -> Reply<u8> {
        let d = counted(self.device(device_index))?;
        let b = counted(d.bound())?;
        match driver::read_state(b.task) {
            Ok(state) => Ok(u8::from(state)),
            Err(_) => {
                d.unbind(driver::Unbind::Died);
                counted(Err(FpgaError::DriverDied))
            }
        }
    }

    fn op_log(
        &mut self,
        _: &RecvMessage,
        device_index: u8,
        log: Leased<W, [u8]>,
    ) -> Reply<u32> {
        use zerocopy::IntoBytes;
        let d = counted(self.device(device_index))?;
        let bytes = d.log.records().as_bytes();
        let n = bytes.len().min(log.len());
        // Whole records only.
        let n = n - n % core::mem::size_of::<drv_fpga_api::OpRecord>();
        log.write_range(0..n, &bytes[..n])
            .map_err(|()| RequestError::went_away())?;
        Ok(d.log.count())
    }

    fn bridge_get(&mut self, msg: &RecvMessage, bridge_index: u8) -> Reply<()> {
        let bridge = counted(self.bridge(bridge_index))?;
        counted(bridge.get(msg.sender, crate::alive))
    }

    fn bridge_put(&mut self, msg: &RecvMessage, bridge_index: u8) -> Reply<()> {
        counted(counted(self.bridge(bridge_index))?.put(msg.sender))
    }

    fn bridge_cycles(
        &mut self,
        _: &RecvMessage,
        bridge_index: u8,
    ) -> Reply<u32> {
        Ok(counted(self.bridge(bridge_index))?.cycles())
    }

    fn image_info(
        &mut self,
        _: &RecvMessage,
        device_index: u8,
    ) -> Reply<ImageInfo> {
        let d = counted(self.device(device_index))?;
        counted(d.image.ok_or(FpgaError::NoImage))
    }

    fn load_by_name(
        &mut self,
        msg: &RecvMessage,
        device_index: u8,
        flags: u32,
        timeout_ms: u32,
        name: LenLimit<Leased<R, [u8]>, 32>,
    ) -> Reply<()> {
        let name = ImageName::read(&name)?;
        let request = Request {
            loader: msg.sender,
            flags,
            timeout_ms,
            name: Some(name),
            digest: true,
        };
        counted(self.load_named(device_index, &request))
    }

    fn region_program_by_name(
        &mut self,
        msg: &RecvMessage,
        region_index: u8,
        flags: u32,
        timeout_ms: u32,
        name: LenLimit<Leased<R, [u8]>, 32>,
    ) -> Reply<()> {
        let name = ImageName::read(&name)?;
        let request = Request {
            loader: msg.sender,
            flags,
            timeout_ms,
            name: Some(name),
            digest: true,
        };
        let r = self.program_named(region_index, request);
        ringbuf_entry_root!(Trace::Region {
            region: region_index,
            result: r
        });
        counted(r)
    }

    fn attach_firmware(
        &mut self,
        msg: &RecvMessage,
        catalog: Leased<R, [u8]>,
        images: Leased<R, [u8]>,
    ) -> Reply<()> {
        counted(self.attach_store(msg.sender, &catalog, &images))?;
        // The store waits on us for good: its leases stay borrowable.
        Err(RequestError::went_away())
    }

    fn region_find(
        &mut self,
        _: &RecvMessage,
        name: Leased<R, [u8]>,
    ) -> Reply<u8> {
        // No region name is longer than a device name (build.rs), so a
        // longer lease matches nothing and is not read.
        let mut buf = [0u8; drv_fpga_api::DEVICE_NAME_LEN];
        let n = name.len();
        let found = if n <= buf.len() {
            name.read_range(0..n, &mut buf[..n])
                .map_err(|()| RequestError::went_away())?;
            crate::config::REGIONS
                .iter()
                .position(|r| r.name.as_bytes() == &buf[..n])
                .and_then(|i| u8::try_from(i).ok())
        } else {
            None
        };
        counted(found.ok_or(FpgaError::BadRegion))
    }
}
