//! A task's linked ELF: its symbols, its flash contents and its
//! `.idolatry` section.
//!
//! Tasks are linked at fixed addresses, so a symbol's address is where the
//! static lives at run time; no relocation is needed.

use anyhow::{Result, anyhow};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};

/// A parsed-on-demand ELF image.
pub struct Elf {
    bytes: Vec<u8>,
}

/// A symbol's address and size.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub address: u64,
    pub size: u64,
}

impl Elf {
    /// Checks that `bytes` is an ELF we can read.
    ///
    /// # Errors
    ///
    /// If it is not.
    pub fn parse(bytes: Vec<u8>) -> Result<Self> {
        object::File::parse(&*bytes)
            .map_err(|e| anyhow!("not a readable ELF: {e}"))?;
        Ok(Self { bytes })
    }

    /// The parsed file. `parse` already checked it, so this cannot fail
    /// in practice; it still reports rather than panics.
    pub fn file(&self) -> Result<object::File<'_>> {
        object::File::parse(&*self.bytes)
            .map_err(|e| anyhow!("not a readable ELF: {e}"))
    }

    /// The symbol `name` (exact, as `#[no_mangle]` statics are).
    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        let file = self.file().ok()?;
        let sym = file.symbol_by_name(name)?;
        Some(Symbol {
            address: sym.address(),
            size: sym.size(),
        })
    }

    /// Reads `len` bytes at `address` from the file's loadable segments
    /// (zeros where a segment is longer in memory than in the file).
    pub fn read(&self, address: u64, len: u64) -> Option<Vec<u8>> {
        let file = self.file().ok()?;
        for seg in file.segments() {
            let (start, size) = (seg.address(), seg.size());
            let end = address.checked_add(len)?;
            if address < start || end > start.saturating_add(size) {
                continue;
            }
            let data = seg.data().ok()?;
            let offset = usize::try_from(address - start).ok()?;
            let len = usize::try_from(len).ok()?;
            let mut out = vec![0u8; len];
            if offset < data.len() {
                let n = (data.len() - offset).min(len);
                out[..n].copy_from_slice(&data[offset..offset + n]);
            }
            return Some(out);
        }
        None
    }

    /// The section `name`'s contents, decompressed.
    pub fn section(&self, name: &str) -> Option<Vec<u8>> {
        let file = self.file().ok()?;
        let section = file.section_by_name(name)?;
        section.uncompressed_data().ok().map(|d| d.into_owned())
    }

    /// The interface definitions embedded by idol in `.idolatry`, one
    /// NUL-terminated text per interface this task serves.
    pub fn idol_definitions(&self) -> Vec<String> {
        let Some(data) = self.section(".idolatry") else {
            return Vec::new();
        };
        data.split(|&b| b == 0)
            .filter(|t| !t.iter().all(u8::is_ascii_whitespace))
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    }
}
