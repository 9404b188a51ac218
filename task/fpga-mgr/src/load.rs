//! A load's glue: what a load is asked ([`Request`]), a device's whole-
//! image load through a [`Link`] and the record of what it then runs, and
//! Linux's region program and bridge switching around a load.

use crate::device::Device;
use crate::driver::{self, Link, Record, Source};
use crate::hash::Hasher;
use crate::store::ImageName;
use crate::{ServerImpl, Trace, counted};
use drv_fpga_api::{FpgaError, ImageInfo};
use idol_runtime::RequestError;
use ringbuf::ringbuf_entry_root;
use task_fpga_mgr::bridge;
use task_fpga_mgr::image::Fingerprint;
use task_fpga_mgr::loader::{self, Deadline};
use userlib::TaskId;

/// Milliseconds since boot.
pub fn now() -> u64 {
    userlib::sys_get_timer().now
}

/// What a load is asked to do besides its bytes: for whom, with which
/// flags, by when, and under which name (if by name).
#[derive(Copy, Clone, Debug)]
pub struct Request {
    /// The task that asked (recorded as the image's loader).
    pub loader: TaskId,
    pub flags: u32,
    pub timeout_ms: u32,
    /// The store's name for the image, when loaded by name.
    pub name: Option<ImageName>,
    /// Hash the image (always, but for the benchmark's
    /// `BENCH_SKIP_DIGEST` loads).
    pub digest: bool,
}

impl Device {
    /// Runs a whole-image load of `source` for `request`, lock already
    /// checked; on success records what the device now runs.
    pub fn load_image(
        &mut self,
        source: Source,
        request: &Request,
        hasher: Hasher<'_>,
    ) -> Result<(), FpgaError> {
        if self.stream.is_some() {
            return Err(FpgaError::InvalidState);
        }
        let b = self.bound()?;
        let deadline = Deadline::new(now(), request.timeout_ms);
        self.log.clear();
        let mut link =
            Link::new(b.task, source, deadline, self.record(), hasher);
        if !request.digest {
            link.skip_digest();
        }
        let (flags, len) = (request.flags, source.len);
        let r =
            loader::load_image(&mut link, &b.profile(), flags, len, &deadline);
        let died = link.died();
        let r = r.map(|f| {
            if request.digest {
                self.loaded(&f, request);
            }
        });
        ringbuf_entry_root!(Trace::Load {
            device: self.index,
            result: r
        });
        self.refresh_status();
        self.note(r, died)
    }

    /// Records the image that just brought the device to `OPERATING`.
    pub fn loaded(&mut self, f: &Fingerprint, request: &Request) {
        let mut info = ImageInfo {
            loaded_at_ms: now(),
            sha256: f.sha256,
            length: f.length,
            flags: request.flags,
            loader: request.loader.0,
            design: f.design,
            part: f.part,
            ..ImageInfo::default()
        };
        if let Some(name) = &request.name {
            info.name = name.padded();
        }
        self.image = Some(info);
    }

    /// Reads the driver's status bits for the record (a dump shows them);
    /// a driver that does not answer leaves the old ones.
    pub fn refresh_status(&mut self) {
        if let Some(b) = self.binding
            && let Ok(bits) = driver::read_status(b.task)
        {
            self.status = Some(bits);
        }
    }

    /// Where a [`Link`] records this device's states, driver calls and
    /// image.
    pub fn record(&mut self) -> Record<'_> {
        Record {
            device: self.index,
            state: &mut self.state,
            log: &mut self.log,
            image: &mut self.image,
        }
    }
}

impl ServerImpl {
    pub fn set_bridge(
        &mut self,
        caller: TaskId,
        index: u8,
        enabled: bool,
    ) -> Result<(), RequestError<FpgaError>> {
        let bridge = counted(self.bridge(index))?;
        counted(bridge.check_user(caller, crate::alive))?;
        counted(bridge.set(enabled))?;
        ringbuf_entry_root!(Trace::Bridge {
            bridge: index,
            enabled
        });
        Ok(())
    }

    /// Linux's `fpga_region_program_fpga`: lock, disable the bridges,
    /// load, enable them, unlock. The lock is ours for the call only, and
    /// so are the bridges (Linux keeps them held until `fpga_bridges_put`;
    /// we never do). A failure leaves the bridges disabled.
    pub fn program(
        &mut self,
        region: &crate::config::RegionConfig,
        source: Source,
        request: &Request,
    ) -> Result<(), FpgaError> {
        let d = self.device(region.device)?;
        d.reap();
        d.lock.acquire(request.loader)?;
        let r = self.program_locked(region, source, request);
        self.device(region.device)?.lock.clear();
        r
    }

    fn program_locked(
        &mut self,
        region: &crate::config::RegionConfig,
        source: Source,
        request: &Request,
    ) -> Result<(), FpgaError> {
        self.device(region.device)?.bound()?;
        // Linux's get_bridges: a bridge someone else holds is -EBUSY,
        // before anything changes.
        for &b in region.bridges {
            self.bridge(b)?.check_user(request.loader, crate::alive)?;
        }
        self.set_region_bridges(region, false)?;
        self.reclaim_engine();
        let d = self
            .devices
            .get_mut(usize::from(region.device))
            .ok_or(FpgaError::BadDevice)?;
        d.load_image(
            source,
            request,
            crate::hash::hasher(&mut self.scratch[..], &mut self.engine),
        )?;
        self.set_region_bridges(region, true)
    }

    fn set_region_bridges(
        &mut self,
        region: &crate::config::RegionConfig,
        enabled: bool,
    ) -> Result<(), FpgaError> {
        let r = bridge::set_all(&mut self.bridges, region.bridges, enabled);
        for &b in region.bridges {
            if let Some(bridge) = self.bridges.get(usize::from(b)) {
                let enabled = bridge.enabled();
                ringbuf_entry_root!(Trace::Bridge { bridge: b, enabled });
            }
        }
        r.map_err(|(_, e)| e)
    }
}
