//! The firmware store: lends the image's app.toml `[blobs]` assigned to
//! it to the FPGA manager, which loads them by name (`load_by_name`, a
//! region's `default-image`), as Linux's `request_firmware` finds files
//! on the firmware search path.
//!
//! # Why a store that waits
//!
//! Bytes travel between Hubris tasks only as leases, and a lease can be
//! borrowed only while its lender waits on the borrower. So we do not
//! answer requests: we call the manager once, `attach_firmware`, lending
//! our catalog (each image's name, offset and length) and one read-only
//! lease over every blob in our flash, and the manager never answers
//! while it lives. It reads the catalog and, to load an image, forwards
//! that image's window of our lease to the driver: nobody copies the
//! image, and the manager hashes it on the way.
//!
//! If we die (a fault, an injection), the kernel revokes our leases at
//! once: a load in progress fails cleanly (`FirmwareStoreDied`) and jefe
//! restarts us, and we offer our images again. If the manager dies, our
//! call returns its dead code and we offer them to its next incarnation.
//! If the manager refuses our offer (app.toml names another store, or it
//! finds our catalog bad), we say so once and wait forever: offering
//! again would change nothing.
//!
//! We run after the manager in priority, as every client does.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use drv_fpga_api::{CATALOG_MAX, CatalogEntry, FpgaError, FpgaManager};
use ringbuf::{ringbuf, ringbuf_entry};
use userlib::*;
use zerocopy::IntoBytes;

task_slot!(FPGA_MGR, fpga_mgr);

/// The blobs the build linked into our flash.
#[allow(unsafe_code)]
mod blobs {
    include!(concat!(env!("OUT_DIR"), "/blobs.rs"));
}

/// What the store did, for `humility ringbuf store`.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Trace {
    None,
    /// We offer `images` images, `bytes` bytes in all, to the manager.
    Offer {
        manager: TaskId,
        images: u8,
        bytes: u32,
    },
    /// The manager died while holding our offer; we offer again.
    ManagerRestarted,
    /// The manager refused the offer.
    Refused(FpgaError),
}

ringbuf!(Trace, 8, Trace::None);

/// How long we wait before offering again to a manager that died (it is
/// being restarted; jefe throttles restarts at 50 ms).
const RETRY_MS: u64 = 10;

/// Our images as one span of flash, and the catalog describing it.
struct Offer {
    catalog: [CatalogEntry; CATALOG_MAX],
    images: &'static [u8],
}

/// Builds the catalog: each blob's offset from the lowest blob's start.
fn offer() -> Offer {
    let blobs = blobs::blobs();
    let low = blobs.iter().map(|b| b.1).min().unwrap_or(0);
    let high = blobs.iter().map(|b| b.2).max().unwrap_or(low);
    let mut catalog = [CatalogEntry::default(); CATALOG_MAX];
    for (entry, &(name, start, end)) in catalog.iter_mut().zip(&blobs) {
        let n = name.len().min(entry.name.len());
        entry.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        entry.offset = (start - low) as u32;
        entry.length = end.saturating_sub(start) as u32;
    }
    Offer {
        catalog,
        images: span(low, high),
    }
}

/// The flash from `low` to `high` as a slice.
#[allow(unsafe_code)]
fn span(low: usize, high: usize) -> &'static [u8] {
    // Safety: `low` is the first byte of a blob and `high` one past the
    // last byte of a blob; the build links every blob into our flash, in
    // one read-only mapping that never changes, so every byte between is
    // ours and stays put (between two blobs there is only alignment
    // padding or our own read-only data). `userlib::blob!` makes the same
    // claim for one blob.
    unsafe {
        core::slice::from_raw_parts(low as *const u8, high.saturating_sub(low))
    }
}

#[allow(unsafe_code)]
#[unsafe(export_name = "main")]
fn main() -> ! {
    let offer = offer();
    let catalog = offer.catalog[..blobs::COUNT].as_bytes();
    loop {
        let manager = FPGA_MGR.get_task_id();
        ringbuf_entry!(Trace::Offer {
            manager,
            images: blobs::COUNT as u8,
            bytes: offer.images.len() as u32,
        });
        match FpgaManager::from(manager).attach_firmware(catalog, offer.images)
        {
            // The manager died holding the offer (or answered, which it
            // does not do): offer it to the next incarnation.
            Ok(()) | Err(FpgaError::ManagerRestarted) => {
                ringbuf_entry!(Trace::ManagerRestarted);
                hl::sleep_for(RETRY_MS);
            }
            Err(e) => {
                ringbuf_entry!(Trace::Refused(e));
                loop {
                    sys_recv_notification(0);
                }
            }
        }
    }
}
