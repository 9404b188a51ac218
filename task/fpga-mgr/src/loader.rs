//! Linux's load sequence (`fpga_mgr_load()`, `drivers/fpga/fpga-mgr.c`),
//! as a pure state machine over a [`DriverOps`].
//!
//! The manager never holds image bytes. Every driver call names a
//! [`Window`] of the lease the current client lent (lease 0 of the message
//! being served), and the glue in `main.rs` forwards exactly that window.
//! Keeping this module free of syscalls lets the KUnit flows run on the
//! host against a fake driver (see the tests at the bottom).
//!
//! Two paths, as in Linux:
//!
//! - [`load_image`], the whole image in one lease: `PARSE_HEADER` (the
//!   first `initial_header_size` bytes, grown while the driver answers
//!   `need_more`, each request strictly larger), `WRITE_INIT` (the header
//!   window), one `WRITE` (`[header_size if skip_header ..]`, `data_size`
//!   bytes or the rest), `WRITE_COMPLETE`, then `OPERATING`.
//! - [`Stream`], Linux's scatter-gather path with one `write` per fragment:
//!   the header is parsed from the first chunk, and each chunk's data part
//!   goes to the driver as its own `write`.
//!
//! Where Linux copies a header that straddles fragments into a `krealloc`
//! buffer, we refuse: the first chunk must hold the header
//! ([`FpgaError::FirstChunkTooShort`], with [`Stream::header_needed`]), so
//! that the manager stays copy-free. Any failure records the matching
//! `*_ERR` state and ends the load.
//!
//! Both paths also feed every image byte, once and in order, to an
//! [`ImageDigest`] just before the bytes go to the driver ([`DriverOps::
//! digest`]), so that a load that reaches `OPERATING` returns the image's
//! [`Fingerprint`]: what is loaded. With a hash engine, `digest` only
//! starts the engine on the window, which it reads while the driver
//! writes; [`DriverOps::digest_wait`] then waits for it (or, after a
//! failed write, stops it) before the load goes on, and
//! [`DriverOps::digest_seal`] takes the engine's answer at the end. A
//! hash that fails fails the load (`WRITE_ERR`), which then records no
//! identity.

use crate::image::{Fingerprint, ImageDigest};
use drv_fpga_api::{FpgaError, FpgaState};
use drv_fpga_driver_api::{DriverError, DriverInfo, HeaderInfo, flags};

/// The deadline used when a client passes a timeout of 0.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// A byte range of the current client's lease: what one driver call gets.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Window {
    /// Offset into the lease.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Window {
    /// `len` bytes from the start of the lease.
    pub const fn head(len: u32) -> Self {
        Self { offset: 0, len }
    }
}

/// One bound driver, as the load sequence sees it. `main.rs` implements it
/// with IPC (forwarding each [`Window`]); tests implement it with a fake.
///
/// A driver that died answers `DriverError::DriverRestarted`; a lease that
/// became unreadable, `DriverError::LeaseRevoked`.
pub trait DriverOps {
    /// Linux's `parse_header` over `header`.
    ///
    /// # Errors
    ///
    /// The driver's.
    fn parse_header(
        &mut self,
        flags: u32,
        image_len: u32,
        header: Window,
    ) -> Result<HeaderInfo, DriverError>;

    /// Linux's `write_init` with the header bytes.
    ///
    /// # Errors
    ///
    /// The driver's.
    fn write_init(
        &mut self,
        flags: u32,
        image_len: u32,
        header: Window,
    ) -> Result<(), DriverError>;

    /// Linux's `write` of one contiguous piece.
    ///
    /// # Errors
    ///
    /// The driver's.
    fn write(&mut self, data: Window) -> Result<(), DriverError>;

    /// Linux's `write_complete`, waiting at most `timeout_ms`.
    ///
    /// # Errors
    ///
    /// The driver's.
    fn write_complete(
        &mut self,
        flags: u32,
        timeout_ms: u32,
    ) -> Result<(), DriverError>;

    /// Feeds `window` of the image lease to `digest`, in order. The bytes
    /// are only looked at (the manager reads them through a small buffer
    /// and keeps nothing).
    ///
    /// # Errors
    ///
    /// `DriverError::LeaseRevoked` if the lease became unreadable.
    fn digest(
        &mut self,
        window: Window,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError>;

    /// Waits until the hashing [`DriverOps::digest`] started is through
    /// (a hash engine's transfer), or, when `stop` (the load failed),
    /// stops it. Hashing done on the spot has nothing to wait for.
    ///
    /// # Errors
    ///
    /// The engine failed or overran the deadline (not when stopping).
    fn digest_wait(
        &mut self,
        _digest: &mut ImageDigest,
        _stop: bool,
    ) -> Result<(), DriverError> {
        Ok(())
    }

    /// Puts the finished hash into `digest` (an engine's digest
    /// registers); hashing done on the spot is in it already.
    ///
    /// # Errors
    ///
    /// The engine could not give it.
    fn digest_seal(
        &mut self,
        _digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        Ok(())
    }

    /// Records the device's new state (and traces it).
    fn set_state(&mut self, state: FpgaState);

    /// Milliseconds since boot.
    fn now_ms(&self) -> u64;
}

/// What a load needs to know about the bound driver (from `describe`).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Profile {
    /// Linux's `initial_header_size`.
    pub initial_header_size: u32,
    /// Linux's `skip_header`.
    pub skip_header: bool,
    /// Image flags the driver accepts.
    pub supported_flags: u32,
}

impl From<&DriverInfo> for Profile {
    fn from(info: &DriverInfo) -> Self {
        Self {
            initial_header_size: info.initial_header_size,
            skip_header: info.skip_header,
            supported_flags: info.supported_flags,
        }
    }
}

impl Profile {
    /// Refuses flags Linux does not define or the driver cannot honour,
    /// before anything touches the device (no state change).
    ///
    /// # Errors
    ///
    /// `BadFlags`.
    pub fn check_flags(&self, image_flags: u32) -> Result<(), FpgaError> {
        let allowed = flags::ALL & self.supported_flags;
        if image_flags & !allowed != 0 {
            return Err(FpgaError::BadFlags);
        }
        Ok(())
    }
}

/// When a load must be finished by, in `now_ms` time.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Deadline {
    end_ms: u64,
}

impl Deadline {
    /// `timeout_ms` from `now_ms`; 0 means [`DEFAULT_TIMEOUT_MS`].
    pub fn new(now_ms: u64, timeout_ms: u32) -> Self {
        let timeout = if timeout_ms == 0 {
            DEFAULT_TIMEOUT_MS
        } else {
            timeout_ms
        };
        Self {
            end_ms: now_ms.saturating_add(u64::from(timeout)),
        }
    }

    /// The deadline itself, in `now_ms` time.
    pub fn at_ms(&self) -> u64 {
        self.end_ms
    }

    /// Milliseconds left, or `None` once the deadline has passed.
    pub fn remaining(&self, now_ms: u64) -> Option<u32> {
        match self.end_ms.checked_sub(now_ms) {
            Some(0) | None => None,
            Some(left) => Some(u32::try_from(left).unwrap_or(u32::MAX)),
        }
    }
}

/// The `*_ERR` state for a failure while in `state`, if it has one.
///
/// Used when a load is abandoned between steps (an abort, or its lock
/// holder died), so the device shows where it stopped.
pub fn error_state_of(state: FpgaState) -> Option<FpgaState> {
    Some(match state {
        FpgaState::ParseHeader => FpgaState::ParseHeaderErr,
        FpgaState::WriteInit => FpgaState::WriteInitErr,
        FpgaState::Write => FpgaState::WriteErr,
        FpgaState::WriteComplete => FpgaState::WriteCompleteErr,
        _ => return None,
    })
}

/// Records `failed` and returns the error for a driver failure in a step
/// whose own error is `step`: a dead driver, an unreadable lease and a
/// driver-side timeout keep their meaning, anything else is the step's.
fn fail<D: DriverOps>(
    d: &mut D,
    failed: FpgaState,
    step: FpgaError,
    e: DriverError,
) -> FpgaError {
    d.set_state(failed);
    match e {
        DriverError::DriverRestarted => FpgaError::DriverDied,
        DriverError::LeaseRevoked => FpgaError::ClientWentAway,
        DriverError::Timeout => FpgaError::Timeout,
        _ => step,
    }
}

/// Fails with `Timeout` in state `overran` if the deadline has passed.
fn check_deadline<D: DriverOps>(
    d: &mut D,
    deadline: &Deadline,
    overran: FpgaState,
) -> Result<(), FpgaError> {
    if deadline.remaining(d.now_ms()).is_none() {
        d.set_state(overran);
        return Err(FpgaError::Timeout);
    }
    Ok(())
}

/// The header the driver parsed; `need_more` is always false here.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Header {
    /// Linux's `header_size`.
    pub header_size: u32,
    /// Linux's `data_size` (0: to the end of the image).
    pub data_size: u32,
}

impl Header {
    /// The image range `write` must cover: Linux's mapped-path rule
    /// (skip `header_size` bytes if `skip_header`, then `data_size` bytes
    /// or everything left). `header_size + data_size <= image_len` holds.
    fn data_range(&self, skip_header: bool, image_len: u32) -> (u32, u32) {
        let start = if skip_header { self.header_size } else { 0 };
        let end = if self.data_size != 0 {
            start + self.data_size
        } else {
            image_len
        };
        (start, end.min(image_len))
    }
}

/// Why parsing the header stopped short of a header.
enum Parse {
    /// A load-ending failure (state already recorded).
    Failed(FpgaError),
    /// The driver needs this many bytes, more than the lease holds.
    NeedMore(u32),
}

/// `PARSE_HEADER`: the grow loop, with `available` bytes in the lease.
fn parse_header<D: DriverOps>(
    d: &mut D,
    profile: &Profile,
    image_flags: u32,
    image_len: u32,
    available: u32,
    deadline: &Deadline,
) -> Result<Header, Parse> {
    let failed = FpgaState::ParseHeaderErr;
    let mut size = profile.initial_header_size.min(image_len);
    if size > available {
        return Err(Parse::NeedMore(size));
    }
    d.set_state(FpgaState::ParseHeader);
    loop {
        let info = d
            .parse_header(image_flags, image_len, Window::head(size))
            .map_err(|e| {
            Parse::Failed(fail(d, failed, FpgaError::HeaderInvalid, e))
        })?;
        if !info.need_more {
            let end = u64::from(info.header_size) + u64::from(info.data_size);
            if end > u64::from(image_len) {
                d.set_state(failed);
                return Err(Parse::Failed(FpgaError::DataOutrunsImage));
            }
            if info.header_size > available {
                return Err(Parse::NeedMore(info.header_size));
            }
            return Ok(Header {
                header_size: info.header_size,
                data_size: info.data_size,
            });
        }
        // Linux: "Requested invalid header size" unless it strictly grows;
        // and no header can be longer than the image.
        if info.header_size <= size || info.header_size > image_len {
            d.set_state(failed);
            return Err(Parse::Failed(FpgaError::HeaderInvalid));
        }
        if info.header_size > available {
            return Err(Parse::NeedMore(info.header_size));
        }
        check_deadline(d, deadline, failed).map_err(Parse::Failed)?;
        size = info.header_size;
    }
}

/// `WRITE_INIT` with the header window.
fn write_init<D: DriverOps>(
    d: &mut D,
    image_flags: u32,
    image_len: u32,
    header: &Header,
    deadline: &Deadline,
) -> Result<(), FpgaError> {
    check_deadline(d, deadline, FpgaState::ParseHeaderErr)?;
    d.set_state(FpgaState::WriteInit);
    let window = Window::head(header.header_size);
    d.write_init(image_flags, image_len, window).map_err(|e| {
        fail(d, FpgaState::WriteInitErr, FpgaError::WriteInitFailed, e)
    })?;
    check_deadline(d, deadline, FpgaState::WriteInitErr)
}

/// Hashes `window` on its way to the driver. It changes no state (it is
/// no driver op, so the states Linux's KUnit fakes record stay as they
/// are); an unreadable lease fails the write that was to follow.
fn digest<D: DriverOps>(
    d: &mut D,
    digest: &mut ImageDigest,
    window: Window,
) -> Result<(), FpgaError> {
    d.digest(window, digest)
        .map_err(|e| fail(d, FpgaState::WriteErr, FpgaError::WriteFailed, e))
}

/// Waits for the hashing of the windows [`digest`] started, once the
/// driver has had them: `written` is how that went. A failed write stops
/// the hash and keeps its own error; a failed hash fails the load.
fn digest_wait<D: DriverOps>(
    d: &mut D,
    digest: &mut ImageDigest,
    written: Result<(), FpgaError>,
) -> Result<(), FpgaError> {
    let hashed = d.digest_wait(digest, written.is_err());
    written?;
    hashed.map_err(|e| fail(d, FpgaState::WriteErr, FpgaError::WriteFailed, e))
}

/// The identity of a load that reached `OPERATING`: the hash sealed in.
fn identity<D: DriverOps>(
    d: &mut D,
    mut digest: ImageDigest,
) -> Result<Fingerprint, FpgaError> {
    let sealed = d.digest_seal(&mut digest);
    let f = sealed.ok().and_then(|()| digest.finish());
    // Operating, but we cannot say with what: a failed load, so that
    // nothing is recorded.
    f.ok_or_else(|| {
        d.set_state(FpgaState::WriteCompleteErr);
        FpgaError::WriteCompleteFailed
    })
}

/// `WRITE` of one window.
fn write<D: DriverOps>(
    d: &mut D,
    window: Window,
    deadline: &Deadline,
) -> Result<(), FpgaError> {
    d.set_state(FpgaState::Write);
    d.write(window)
        .map_err(|e| fail(d, FpgaState::WriteErr, FpgaError::WriteFailed, e))?;
    check_deadline(d, deadline, FpgaState::WriteErr)
}

/// `WRITE_COMPLETE` with what is left of the deadline, then `OPERATING`.
fn write_complete<D: DriverOps>(
    d: &mut D,
    image_flags: u32,
    deadline: &Deadline,
) -> Result<(), FpgaError> {
    let Some(left) = deadline.remaining(d.now_ms()) else {
        d.set_state(FpgaState::WriteErr);
        return Err(FpgaError::Timeout);
    };
    d.set_state(FpgaState::WriteComplete);
    d.write_complete(image_flags, left).map_err(|e| {
        let step = FpgaError::WriteCompleteFailed;
        fail(d, FpgaState::WriteCompleteErr, step, e)
    })?;
    d.set_state(FpgaState::Operating);
    Ok(())
}

/// Loads a whole image of `image_len` bytes (the client's lease 0);
/// returns its identity once it is `OPERATING`.
///
/// # Errors
///
/// `BadFlags` or `InvalidState` (empty image) before any state change;
/// otherwise the failing step's error, its `*_ERR` state recorded.
pub fn load_image<D: DriverOps>(
    d: &mut D,
    profile: &Profile,
    image_flags: u32,
    image_len: u32,
    deadline: &Deadline,
) -> Result<Fingerprint, FpgaError> {
    profile.check_flags(image_flags)?;
    if image_len == 0 {
        return Err(FpgaError::InvalidState);
    }
    // First, so that a hash engine reads the image while the driver
    // parses the header, readies the device and writes.
    let mut hash = ImageDigest::new();
    digest(d, &mut hash, Window::head(image_len))?;
    let written =
        header_and_write(d, profile, image_flags, image_len, deadline);
    digest_wait(d, &mut hash, written)?;
    write_complete(d, image_flags, deadline)?;
    identity(d, hash)
}

/// A whole image's `PARSE_HEADER`, `WRITE_INIT` and `WRITE`.
fn header_and_write<D: DriverOps>(
    d: &mut D,
    profile: &Profile,
    image_flags: u32,
    image_len: u32,
    deadline: &Deadline,
) -> Result<(), FpgaError> {
    let header = match parse_header(
        d,
        profile,
        image_flags,
        image_len,
        image_len,
        deadline,
    ) {
        Ok(header) => header,
        Err(Parse::Failed(e)) => return Err(e),
        // The driver asked for more than the whole image.
        Err(Parse::NeedMore(_)) => {
            d.set_state(FpgaState::ParseHeaderErr);
            return Err(FpgaError::HeaderInvalid);
        }
    };
    write_init(d, image_flags, image_len, &header, deadline)?;
    let (start, end) = header.data_range(profile.skip_header, image_len);
    let window = Window {
        offset: start,
        len: end.saturating_sub(start),
    };
    write(d, window, deadline)
}

/// A streamed load under way (Linux's sg path, one `write` per chunk).
#[derive(Clone, Debug)]
pub struct Stream {
    image_flags: u32,
    image_len: u32,
    deadline: Deadline,
    /// Image bytes accepted so far.
    received: u32,
    /// Set by the first accepted chunk.
    header: Option<Header>,
    /// The first-chunk length the driver asked for, after a refusal.
    needed: Option<u32>,
    /// Every accepted chunk, hashed.
    digest: ImageDigest,
}

impl Stream {
    /// Begins a stream; returns it and the first chunk the driver is sure
    /// to accept. Nothing is sent to the driver yet.
    ///
    /// # Errors
    ///
    /// `BadFlags`, or `InvalidState` for an empty image.
    pub fn begin(
        profile: &Profile,
        image_flags: u32,
        image_len: u32,
        deadline: Deadline,
    ) -> Result<(Self, u32), FpgaError> {
        profile.check_flags(image_flags)?;
        if image_len == 0 {
            return Err(FpgaError::InvalidState);
        }
        let stream = Self {
            image_flags,
            image_len,
            deadline,
            received: 0,
            header: None,
            needed: None,
            digest: ImageDigest::new(),
        };
        Ok((stream, profile.initial_header_size.min(image_len)))
    }

    /// After a `FirstChunkTooShort`: the length the first chunk must have.
    pub fn header_needed(&self) -> Option<u32> {
        self.needed
    }

    /// The image flags it was begun with.
    pub fn flags(&self) -> u32 {
        self.image_flags
    }

    /// When the stream must be finished by.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Image bytes accepted so far.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Feeds the next chunk of `chunk_len` bytes (the client's lease 0).
    ///
    /// # Errors
    ///
    /// `FirstChunkTooShort` leaves the stream open and untouched; any
    /// other error ends it (its `*_ERR` state recorded).
    pub fn chunk<D: DriverOps>(
        &mut self,
        d: &mut D,
        profile: &Profile,
        chunk_len: u32,
    ) -> Result<(), FpgaError> {
        let start = self.received;
        let end = u64::from(start) + u64::from(chunk_len);
        if end > u64::from(self.image_len) {
            d.set_state(FpgaState::WriteErr);
            return Err(FpgaError::DataOutrunsImage);
        }
        let header = match self.header {
            Some(header) => header,
            None => self.first_chunk(d, profile, chunk_len)?,
        };
        let (data_start, data_end) =
            header.data_range(profile.skip_header, self.image_len);
        digest(d, &mut self.digest, Window::head(chunk_len))?;
        // The part of [start, start + chunk_len) that is data.
        let from = data_start.max(start);
        let to = data_end.min(start + chunk_len);
        let written = if from < to {
            let window = Window {
                offset: from - start,
                len: to - from,
            };
            write(d, window, &self.deadline)
        } else {
            check_deadline(d, &self.deadline, FpgaState::WriteErr)
        };
        // Before we reply: the lease ends with our answer.
        digest_wait(d, &mut self.digest, written)?;
        self.received = start + chunk_len;
        Ok(())
    }

    /// Parses the header from the first chunk and runs `write_init`.
    fn first_chunk<D: DriverOps>(
        &mut self,
        d: &mut D,
        profile: &Profile,
        chunk_len: u32,
    ) -> Result<Header, FpgaError> {
        let parsed = parse_header(
            d,
            profile,
            self.image_flags,
            self.image_len,
            chunk_len,
            &self.deadline,
        );
        let header = match parsed {
            Ok(header) => header,
            Err(Parse::Failed(e)) => return Err(e),
            Err(Parse::NeedMore(n)) => {
                self.needed = Some(n);
                return Err(FpgaError::FirstChunkTooShort);
            }
        };
        let (flags, len) = (self.image_flags, self.image_len);
        write_init(d, flags, len, &header, &self.deadline)?;
        self.header = Some(header);
        self.needed = None;
        Ok(header)
    }

    /// Ends the stream: `write_complete`, then `OPERATING`; returns the
    /// image's identity.
    ///
    /// # Errors
    ///
    /// `ImageIncomplete` (state `WRITE_ERR`) if bytes are missing, or the
    /// failing step's error.
    pub fn end<D: DriverOps>(
        self,
        d: &mut D,
    ) -> Result<Fingerprint, FpgaError> {
        if self.received != self.image_len || self.header.is_none() {
            d.set_state(FpgaState::WriteErr);
            return Err(FpgaError::ImageIncomplete);
        }
        write_complete(d, self.image_flags, &self.deadline)?;
        identity(d, self.digest)
    }

    /// The engine context hashing this stream, if an engine does.
    pub fn engine(&self) -> Option<u32> {
        self.digest.engine()
    }
}

#[cfg(test)]
mod tests;
