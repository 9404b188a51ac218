//! Loading by name, as Linux's `request_firmware`: the firmware store's
//! standing offer, `load_by_name`, `region_program_by_name`, and the
//! regions' default images loaded at boot.
//!
//! A lease is borrowable only while its lender waits on the borrower, so
//! a task that is to lend us images must wait on us. The store (the task
//! app.toml names as `firmware-store`, less important than us) therefore
//! calls `attach_firmware` with two leases, its catalog and its images,
//! and we never answer: we read the catalog once and keep the store
//! waiting. A load by name then forwards the window of the named image
//! to the driver, exactly as a client's own lease (no byte is copied but
//! those we hash). If the store dies, its leases die with it: a load in
//! progress fails with `FirmwareStoreDied` and the next one with
//! `NoFirmwareStore`, until jefe has restarted it and it has offered its
//! images again, which replaces the old offer.

use crate::driver::Source;
use crate::load::Request;
use crate::{ServerImpl, Trace, alive, config};
use drv_fpga_api::{FpgaError, FpgaState, IMAGE_NAME_LEN};
use idol_runtime::{Leased, R, RequestError};
use ringbuf::ringbuf_entry_root;
use task_fpga_mgr::firmware::{CATALOG_BYTES, Catalog};
use userlib::{TaskId, sys_refresh_task_id};

/// The store's offer: who, what, and how long its images lease is.
#[derive(Copy, Clone, Debug)]
pub struct Store {
    task: TaskId,
    catalog: Catalog,
}

/// An image name as `load_by_name` got it (at most [`IMAGE_NAME_LEN`]
/// bytes: idol refuses a longer lease).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct ImageName {
    bytes: [u8; IMAGE_NAME_LEN],
    len: u8,
}

impl ImageName {
    /// Reads the name from its lease.
    ///
    /// # Errors
    ///
    /// No reply if the client went away while we read.
    pub fn read(
        lease: &Leased<R, [u8]>,
    ) -> Result<Self, RequestError<FpgaError>> {
        let mut bytes = [0; IMAGE_NAME_LEN];
        let n = lease.len().min(IMAGE_NAME_LEN);
        lease
            .read_range(0..n, &mut bytes[..n])
            .map_err(|()| RequestError::went_away())?;
        Ok(Self {
            bytes,
            len: n as u8,
        })
    }

    /// A name from the configuration.
    fn from_config(name: &str) -> Self {
        let mut bytes = [0; IMAGE_NAME_LEN];
        let n = name.len().min(IMAGE_NAME_LEN);
        bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        Self {
            bytes,
            len: n as u8,
        }
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name NUL-padded, as `ImageInfo::name` holds it.
    pub fn padded(&self) -> [u8; IMAGE_NAME_LEN] {
        self.bytes
    }
}

/// The manager's own `TaskId`, the loader of a region's default image.
fn me() -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(
        usize::from(config::SELF_INDEX),
        userlib::Generation::ZERO,
    ))
}

impl ServerImpl {
    /// `attach_firmware`: checks the sender and the catalog, then keeps
    /// the offer (replacing an older incarnation's) and loads any region
    /// default image that was waiting for it.
    pub fn attach_store(
        &mut self,
        sender: TaskId,
        catalog: &Leased<R, [u8]>,
        images: &Leased<R, [u8]>,
    ) -> Result<(), FpgaError> {
        let r = Self::read_catalog(sender, catalog, images);
        let count = r.map_or(0, |c| c.entries().len() as u8);
        ringbuf_entry_root!(Trace::Store {
            store: sender,
            images: count,
            result: r.map(|_| ())
        });
        self.store = Some(Store {
            task: sender,
            catalog: r?,
        });
        self.load_region_defaults();
        Ok(())
    }

    fn read_catalog(
        sender: TaskId,
        catalog: &Leased<R, [u8]>,
        images: &Leased<R, [u8]>,
    ) -> Result<Catalog, FpgaError> {
        if config::FIRMWARE_STORE != Some(sender.index() as u16) {
            return Err(FpgaError::NotFirmwareStore);
        }
        let mut bytes = [0u8; CATALOG_BYTES];
        let n = catalog.len();
        if n > CATALOG_BYTES {
            return Err(FpgaError::BadCatalog);
        }
        catalog
            .read_range(0..n, &mut bytes[..n])
            .map_err(|()| FpgaError::BadCatalog)?;
        let images_len =
            u32::try_from(images.len()).map_err(|_| FpgaError::BadCatalog)?;
        Catalog::parse(&bytes[..n], images_len)
    }

    /// Where the store's image `name` is, if the store is (still) there.
    ///
    /// # Errors
    ///
    /// `NoFirmwareStore` (never offered, or dead since), `UnknownImage`.
    fn find_image(&mut self, name: &ImageName) -> Result<Source, FpgaError> {
        let store = self.store.ok_or(FpgaError::NoFirmwareStore)?;
        if !alive(store.task) {
            self.store = None;
            return Err(FpgaError::NoFirmwareStore);
        }
        let blob = store
            .catalog
            .find(name.as_bytes())
            .ok_or(FpgaError::UnknownImage)?;
        Ok(Source {
            lender: store.task,
            index: 1,
            base: blob.offset,
            len: blob.length,
        })
    }

    /// A failure of a load from the store: if the store died meanwhile,
    /// that is why (its lease went), and its offer is forgotten.
    fn store_outcome(
        &mut self,
        r: Result<(), FpgaError>,
        source: &Source,
    ) -> Result<(), FpgaError> {
        if r.is_err() && !alive(source.lender) {
            self.store = None;
            return Err(FpgaError::FirmwareStoreDied);
        }
        r
    }

    /// `load_by_name` for a lock holder.
    pub fn load_named(
        &mut self,
        device_index: u8,
        request: &Request,
    ) -> Result<(), FpgaError> {
        let d = self.device(device_index)?;
        d.check_holder(request.loader)?;
        let name = request.name.ok_or(FpgaError::UnknownImage)?;
        let source = self.find_image(&name)?;
        self.reclaim_engine();
        let d = self
            .devices
            .get_mut(usize::from(device_index))
            .ok_or(FpgaError::BadDevice)?;
        let r = d.load_image(
            source,
            request,
            crate::hash::hasher(&mut self.scratch[..], &mut self.engine),
        );
        self.store_outcome(r, &source)
    }

    /// `region_program_by_name`; an empty name means the region's
    /// default image.
    pub fn program_named(
        &mut self,
        region_index: u8,
        mut request: Request,
    ) -> Result<(), FpgaError> {
        let region = config::REGIONS
            .get(usize::from(region_index))
            .ok_or(FpgaError::BadRegion)?;
        let name = match request.name {
            Some(n) if !n.as_bytes().is_empty() => n,
            _ => ImageName::from_config(
                region.default_image.ok_or(FpgaError::UnknownImage)?,
            ),
        };
        request.name = Some(name);
        let source = self.find_image(&name)?;
        let r = self.program(region, source, &request);
        self.store_outcome(r, &source)
    }

    /// Loads each region's default image once after we start, as soon as
    /// the store has offered its images and the device's driver is bound;
    /// not if the device already runs something (we restarted), and not
    /// while someone holds the device's lock (that is their load).
    pub fn load_region_defaults(&mut self) {
        for (i, region) in config::REGIONS.iter().enumerate() {
            if region.default_image.is_none() || self.defaults_tried[i] {
                continue;
            }
            let Ok(d) = self.device(region.device) else {
                continue;
            };
            d.reap();
            let ready = d.binding.is_some() && d.lock.holder().is_none();
            let running = d.state == FpgaState::Operating;
            if !ready || self.store.is_none() {
                continue;
            }
            self.defaults_tried[i] = true;
            if running {
                continue;
            }
            let request = Request {
                loader: me(),
                flags: 0,
                timeout_ms: 0,
                name: None,
                digest: true,
            };
            let r = self.program_named(i as u8, request);
            ringbuf_entry_root!(Trace::DefaultImage {
                region: i as u8,
                result: r
            });
        }
    }
}
