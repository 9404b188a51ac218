//! The firmware store's catalog, as the manager keeps it: which images
//! the store lends and where each lies in its images lease.
//!
//! Linux's `request_firmware(name)` finds a file on the firmware search
//! path and copies it into kernel memory. Our store is a task holding the
//! image's app.toml `[blobs]` in its flash; it lends them all to us for
//! good (`attach_firmware`, never answered), and `load_by_name` forwards
//! the window of the named image to the driver. The catalog is the only
//! part we copy: names and offsets, read once when the store attaches.
//!
//! We trust the store no more than any client: a catalog that is not
//! whole records, is too long, repeats a name, has an empty name, or
//! points outside the images lease is refused whole.

use drv_fpga_api::{CATALOG_MAX, CatalogEntry, FpgaError};
use zerocopy::FromBytes;

/// Bytes of one catalog record.
pub const ENTRY_LEN: usize = core::mem::size_of::<CatalogEntry>();

/// Longest catalog lease we read.
pub const CATALOG_BYTES: usize = ENTRY_LEN * CATALOG_MAX;

/// Where one image lies in the store's images lease.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Blob {
    /// Offset in the images lease.
    pub offset: u32,
    /// Length in bytes.
    pub length: u32,
}

/// A checked catalog.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Catalog {
    entries: [CatalogEntry; CATALOG_MAX],
    count: usize,
}

impl Catalog {
    /// A catalog with no images.
    pub const EMPTY: Self = Self {
        entries: [CatalogEntry {
            name: [0; drv_fpga_api::IMAGE_NAME_LEN],
            offset: 0,
            length: 0,
        }; CATALOG_MAX],
        count: 0,
    };

    /// Checks `bytes` (the catalog lease) against an images lease of
    /// `images_len` bytes.
    ///
    /// # Errors
    ///
    /// `BadCatalog` for any of the faults in the module docs.
    pub fn parse(bytes: &[u8], images_len: u32) -> Result<Self, FpgaError> {
        if !bytes.len().is_multiple_of(ENTRY_LEN) || bytes.len() > CATALOG_BYTES
        {
            return Err(FpgaError::BadCatalog);
        }
        let mut catalog = Self::EMPTY;
        for record in bytes.chunks_exact(ENTRY_LEN) {
            let entry = CatalogEntry::read_from_bytes(record)
                .map_err(|_| FpgaError::BadCatalog)?;
            let end = u64::from(entry.offset) + u64::from(entry.length);
            let name = entry.name();
            let named_before = catalog.find(name).is_some();
            if name.is_empty() || named_before || end > u64::from(images_len) {
                return Err(FpgaError::BadCatalog);
            }
            catalog.entries[catalog.count] = entry;
            catalog.count += 1;
        }
        Ok(catalog)
    }

    /// The image called `name`.
    pub fn find(&self, name: &[u8]) -> Option<Blob> {
        self.entries()
            .iter()
            .find(|e| e.name() == name)
            .map(|e| Blob {
                offset: e.offset,
                length: e.length,
            })
    }

    /// Every image, in the store's order.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries[..self.count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    fn entry(name: &str, offset: u32, length: u32) -> CatalogEntry {
        let mut e = CatalogEntry {
            offset,
            length,
            ..CatalogEntry::default()
        };
        e.name[..name.len()].copy_from_slice(name.as_bytes());
        e
    }

    fn bytes(entries: &[CatalogEntry]) -> Vec<u8> {
        entries.iter().flat_map(|e| e.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_good_catalog_finds_each_image_by_name() {
        let c = Catalog::parse(
            &bytes(&[entry("ice40", 0, 100), entry("xc7_blinky", 128, 72)]),
            200,
        )
        .expect("good");
        assert_eq!(c.entries().len(), 2);
        let blob = |offset, length| Some(Blob { offset, length });
        assert_eq!(c.find(b"xc7_blinky"), blob(128, 72));
        assert_eq!(c.find(b"ice40"), blob(0, 100));
        assert_eq!(c.find(b"ice4"), None);
        assert_eq!(c.find(b""), None);
        assert_eq!(Catalog::parse(&[], 0).expect("empty").find(b"a"), None);
    }

    #[test]
    fn a_bad_catalog_is_refused_whole() {
        let bad = FpgaError::BadCatalog;
        let one = bytes(&[entry("a", 0, 10)]);
        assert_eq!(Catalog::parse(&one[..39], 10), Err(bad));
        assert_eq!(Catalog::parse(&one, 9), Err(bad), "outside the images");
        let twice = bytes(&[entry("a", 0, 1), entry("a", 1, 1)]);
        assert_eq!(Catalog::parse(&twice, 10), Err(bad), "a name twice");
        let unnamed = bytes(&[entry("", 0, 1)]);
        assert_eq!(Catalog::parse(&unnamed, 10), Err(bad), "no name");
        let wraps = bytes(&[entry("a", u32::MAX, 2)]);
        assert_eq!(Catalog::parse(&wraps, u32::MAX), Err(bad));
        let many: Vec<CatalogEntry> = (0..=CATALOG_MAX)
            .map(|i| entry(&format!("n{i}"), 0, 1))
            .collect();
        assert_eq!(Catalog::parse(&bytes(&many), 10), Err(bad), "too many");
        let full = &many[..CATALOG_MAX];
        assert!(Catalog::parse(&bytes(full), 10).is_ok());
    }
}
