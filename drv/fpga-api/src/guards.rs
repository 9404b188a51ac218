//! RAII wrappers over the generated client: a device handle, its lock and
//! a streamed load, so that a client cannot forget to release a lock or
//! leave a half-sent image behind.

use crate::{DeviceInfo, FpgaError, FpgaManager, FpgaState, ImageInfo};

/// One device of the manager, by index.
#[derive(Copy, Clone, Debug)]
pub struct Device<'a> {
    manager: &'a FpgaManager,
    index: u8,
}

impl<'a> Device<'a> {
    /// Binds device `index` (app.toml order) of `manager`. Nothing is
    /// checked until the first call.
    pub fn new(manager: &'a FpgaManager, index: u8) -> Self {
        Self { manager, index }
    }

    /// The device's index.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// What the manager knows about the device and its driver.
    ///
    /// # Errors
    ///
    /// `BadDevice`.
    pub fn info(&self) -> Result<DeviceInfo, FpgaError> {
        self.manager.info(self.index)
    }

    /// The state the manager recorded; a number it does not know reads as
    /// `Unknown`.
    ///
    /// # Errors
    ///
    /// `BadDevice`.
    pub fn state(&self) -> Result<FpgaState, FpgaError> {
        let raw = self.manager.state(self.index)?;
        Ok(FpgaState::try_from(raw).unwrap_or(FpgaState::Unknown))
    }

    /// The driver's live status bits ([`crate::status`]).
    ///
    /// # Errors
    ///
    /// `BadDevice`, `NoDriver`, `DriverDied`.
    pub fn status(&self) -> Result<u64, FpgaError> {
        self.manager.status(self.index)
    }

    /// What the device runs: the last image that brought it to
    /// `OPERATING`, while it still is.
    ///
    /// # Errors
    ///
    /// `NoImage`, `BadDevice`.
    pub fn image_info(&self) -> Result<ImageInfo, FpgaError> {
        self.manager.image_info(self.index)
    }

    /// Takes the device's lock, without waiting.
    ///
    /// # Errors
    ///
    /// `AlreadyLocked` if anyone holds it, `BadDevice`, `ManagerRestarted`.
    pub fn lock(&self) -> Result<DeviceLock<'a>, FpgaError> {
        self.manager.lock(self.index)?;
        Ok(DeviceLock { device: *self })
    }
}

/// The lock on one device; released when dropped.
///
/// Only a lock holder can load, reset or remove a device, so these are
/// methods here and not on [`Device`].
#[derive(Debug)]
pub struct DeviceLock<'a> {
    device: Device<'a>,
}

impl<'a> DeviceLock<'a> {
    /// The locked device.
    pub fn device(&self) -> Device<'a> {
        self.device
    }

    fn manager(&self) -> &'a FpgaManager {
        self.device.manager
    }

    /// Loads a whole image with `flags` ([`crate::flags`]), within
    /// `timeout_ms` (0: the manager's default).
    ///
    /// # Errors
    ///
    /// The step that failed (`HeaderInvalid`, `WriteInitFailed`, ...),
    /// `DriverDied`, `NoDriver`, `BadFlags`, `Timeout`.
    pub fn load(
        &self,
        image: &[u8],
        flags: u32,
        timeout_ms: u32,
    ) -> Result<(), FpgaError> {
        self.manager()
            .load(self.device.index, flags, timeout_ms, image)
    }

    /// Loads the firmware store's image `name` (an app.toml `[blobs]`
    /// key assigned to the store), like Linux's `request_firmware`.
    ///
    /// # Errors
    ///
    /// As [`DeviceLock::load`], plus `NoFirmwareStore`, `UnknownImage`
    /// and `FirmwareStoreDied`.
    pub fn load_by_name(
        &self,
        name: &[u8],
        flags: u32,
        timeout_ms: u32,
    ) -> Result<(), FpgaError> {
        self.manager()
            .load_by_name(self.device.index, flags, timeout_ms, name)
    }

    /// Begins a streamed load of `image_len` bytes; feed it with
    /// [`Load::chunk`] and end it with [`Load::finish`].
    ///
    /// # Errors
    ///
    /// As [`DeviceLock::load`], plus `InvalidState` if a stream is already
    /// under way.
    pub fn stream(
        &self,
        flags: u32,
        image_len: u32,
        timeout_ms: u32,
    ) -> Result<Load<'_, 'a>, FpgaError> {
        let first_chunk_min = self.manager().load_begin(
            self.device.index,
            flags,
            image_len,
            timeout_ms,
        )?;
        Ok(Load {
            lock: self,
            first_chunk_min,
            done: false,
        })
    }

    /// Streams `image` in chunks of `chunk_len` bytes, one driver `write`
    /// each, making the first chunk as long as the header needs.
    ///
    /// # Errors
    ///
    /// As [`Load::chunk`] and [`Load::finish`].
    pub fn load_in_chunks(
        &self,
        image: &[u8],
        chunk_len: usize,
        flags: u32,
        timeout_ms: u32,
    ) -> Result<(), FpgaError> {
        let len = u32::try_from(image.len()).map_err(|_| {
            // No image this long fits a lease; treat it as an outrun.
            FpgaError::DataOutrunsImage
        })?;
        let mut load = self.stream(flags, len, timeout_ms)?;
        let chunk_len = chunk_len.max(1);
        let mut first = chunk_len.max(load.first_chunk_min() as usize);
        let sent = loop {
            let end = first.min(image.len());
            match load.chunk(&image[..end]) {
                Ok(()) => break end,
                Err(FpgaError::FirstChunkTooShort) if end < image.len() => {
                    first = (load.header_needed()? as usize).max(end + 1);
                }
                Err(e) => return Err(e),
            }
        };
        for chunk in image[sent..].chunks(chunk_len) {
            load.chunk(chunk)?;
        }
        load.finish()
    }

    /// Clears the device's configuration (state `RESET`).
    ///
    /// # Errors
    ///
    /// `NoDriver`, `DriverDied`, `WriteInitFailed`.
    pub fn reset(&self) -> Result<(), FpgaError> {
        self.manager().reset(self.device.index)
    }

    /// Unbinds the device's driver (Linux's `fpga_mgr_unregister`).
    ///
    /// # Errors
    ///
    /// `NoDriver` if none is bound.
    pub fn remove(&self) -> Result<(), FpgaError> {
        self.manager().remove(self.device.index)
    }
}

impl Drop for DeviceLock<'_> {
    fn drop(&mut self) {
        // If the manager restarted, it holds no locks: nothing to undo.
        // Any other error means the lock is already gone.
        let _ = self.manager().release(self.device.index);
    }
}

/// A streamed load under way; aborted if dropped before [`Load::finish`].
#[derive(Debug)]
pub struct Load<'l, 'a> {
    lock: &'l DeviceLock<'a>,
    first_chunk_min: u32,
    done: bool,
}

impl Load<'_, '_> {
    /// The shortest first chunk the driver is sure to accept (its
    /// `initial_header_size`); it may still ask for more.
    pub fn first_chunk_min(&self) -> u32 {
        self.first_chunk_min
    }

    /// After `FirstChunkTooShort`: how long the first chunk must be.
    ///
    /// # Errors
    ///
    /// `InvalidState` if no first chunk was refused.
    pub fn header_needed(&self) -> Result<u32, FpgaError> {
        self.lock
            .manager()
            .load_header_needed(self.lock.device.index)
    }

    /// Sends the next chunk; the driver gets it in one `write` (minus any
    /// header bytes when it skips the header).
    ///
    /// # Errors
    ///
    /// `FirstChunkTooShort` (the load stays open), or the step that failed
    /// (the load is over).
    pub fn chunk(&mut self, data: &[u8]) -> Result<(), FpgaError> {
        self.lock.manager().load_chunk(self.lock.device.index, data)
    }

    /// Ends the load: `write_complete`, then `OPERATING`.
    ///
    /// # Errors
    ///
    /// `ImageIncomplete`, `WriteCompleteFailed`, `Timeout`, `DriverDied`.
    pub fn finish(mut self) -> Result<(), FpgaError> {
        self.done = true;
        self.lock.manager().load_end(self.lock.device.index)
    }

    /// Abandons the load now (dropping it does the same).
    pub fn abort(self) {}
}

impl Drop for Load<'_, '_> {
    fn drop(&mut self) {
        if !self.done {
            // A failed load is already over on the manager's side, and a
            // restarted manager has none: both answers are fine.
            let _ = self.lock.manager().load_abort(self.lock.device.index);
        }
    }
}
