//! Reading and patching linked task ELFs: sizes, task slots and the
//! interface definitions a task serves.

use anyhow::{Context, Result, anyhow, bail};
use object::{Object, ObjectSection, ObjectSymbol};

/// Size of one `.task_slot_table` entry (userlib's `TaskSlot`).
pub const SLOT_SIZE: usize = 32;
/// Longest slot name (userlib's `MAX_SLOT_NAME`).
const SLOT_NAME_MAX: usize = 28;

/// How much of its regions a linked task uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub flash: u64,
    pub ram: u64,
}

/// Reads `__flash_end` and `__ram_used_end` relative to the regions'
/// bases.
pub fn usage(elf: &[u8], flash_base: u32, ram_base: u32) -> Result<Usage> {
    let file = object::File::parse(elf).context("not an ELF file")?;
    let symbol = |name: &str| -> Result<u64> {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
            .ok_or_else(|| anyhow!("no symbol {name}"))
    };
    let flash = symbol("__flash_end")?.saturating_sub(u64::from(flash_base));
    let ram = symbol("__ram_used_end")?.saturating_sub(u64::from(ram_base));
    Ok(Usage { flash, ram })
}

/// The sizes of a linked task's sections, by kind: what
/// `cargo xtask sizes` breaks flash and RAM use into.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Sections {
    /// `.text`: code.
    pub text: u64,
    /// `.rodata`: constants (and the blobs linked into the task).
    pub rodata: u64,
    /// `.data`: initialised statics (copied into RAM at start).
    pub data: u64,
    /// `.bss`: zeroed statics.
    pub bss: u64,
}

/// Reads the section sizes of a linked task.
pub fn sections(elf: &[u8]) -> Result<Sections> {
    let file = object::File::parse(elf).context("not an ELF file")?;
    let size = |name: &str| file.section_by_name(name).map_or(0, |s| s.size());
    Ok(Sections {
        text: size(".text"),
        rodata: size(".rodata"),
        data: size(".data"),
        bss: size(".bss"),
    })
}

/// Writes each slot's callee index into `.task_slot_table`, looking the
/// slot's name up with `lookup`; returns the slot names found, in order.
///
/// # Errors
///
/// If an entry is malformed or `lookup` does not know its name; the
/// caller turns the latter into a message naming the app.toml key.
pub fn patch_task_slots(
    elf: &mut [u8],
    lookup: impl Fn(&str) -> Option<u16>,
) -> Result<Vec<String>> {
    let Some((offset, size)) = section_range(elf, ".task_slot_table")? else {
        return Ok(Vec::new());
    };
    if size % SLOT_SIZE != 0 {
        bail!(".task_slot_table is {size} bytes, not a multiple of 32");
    }
    let table = elf
        .get_mut(offset..offset + size)
        .ok_or_else(|| anyhow!(".task_slot_table lies outside the file"))?;
    let mut names = Vec::new();
    for entry in table.chunks_exact_mut(SLOT_SIZE) {
        let len = usize::from(u16::from_le_bytes([entry[2], entry[3]]));
        if len > SLOT_NAME_MAX {
            bail!("a task slot name is {len} bytes long (at most 28)");
        }
        let name = std::str::from_utf8(&entry[4..4 + len])
            .context("a task slot name is not UTF-8")?
            .to_owned();
        let index = lookup(&name).ok_or_else(|| UnknownSlot(name.clone()))?;
        entry[..2].copy_from_slice(&index.to_le_bytes());
        names.push(name);
    }
    Ok(names)
}

/// A slot the code declares that app.toml does not give.
#[derive(Debug)]
pub struct UnknownSlot(pub String);

impl std::fmt::Display for UnknownSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown task slot \"{}\"", self.0)
    }
}

impl std::error::Error for UnknownSlot {}

/// The interface definitions in `.idolatry`, NUL-separated.
pub fn idol_definitions(elf: &[u8]) -> Result<Vec<String>> {
    let file = object::File::parse(elf).context("not an ELF file")?;
    let Some(section) = file.section_by_name(".idolatry") else {
        return Ok(Vec::new());
    };
    let data = section.data().context("cannot read .idolatry")?;
    data.split(|&b| b == 0)
        .filter(|text| !text.is_empty())
        .map(|text| {
            String::from_utf8(text.to_vec())
                .context(".idolatry holds text that is not UTF-8")
        })
        .collect()
}

/// The file range of a section, if the ELF has it.
fn section_range(elf: &[u8], name: &str) -> Result<Option<(usize, usize)>> {
    let file = object::File::parse(elf).context("not an ELF file")?;
    let Some(section) = file.section_by_name(name) else {
        return Ok(None);
    };
    let Some((offset, size)) = section.file_range() else {
        return Ok(None);
    };
    let offset = usize::try_from(offset).context("section offset")?;
    let size = usize::try_from(size).context("section size")?;
    Ok(Some((offset, size)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::write::{Object as Obj, Symbol, SymbolSection};
    use object::{
        Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags,
        SymbolKind, SymbolScope,
    };

    fn slot(name: &str) -> [u8; SLOT_SIZE] {
        let mut entry = [0; SLOT_SIZE];
        entry[..2].copy_from_slice(&0xFFFFu16.to_le_bytes());
        let len = u16::try_from(name.len()).expect("short");
        entry[2..4].copy_from_slice(&len.to_le_bytes());
        entry[4..4 + name.len()].copy_from_slice(name.as_bytes());
        entry
    }

    fn elf_with(
        sections: &[(&str, Vec<u8>)],
        symbols: &[(&str, u64)],
    ) -> Vec<u8> {
        let mut obj = Obj::new(
            BinaryFormat::Elf,
            Architecture::X86_64,
            Endianness::Little,
        );
        for (name, data) in sections {
            let id = obj.add_section(
                vec![],
                name.as_bytes().to_vec(),
                SectionKind::ReadOnlyData,
            );
            obj.append_section_data(id, data, 4);
        }
        for (name, value) in symbols {
            obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: *value,
                size: 0,
                kind: SymbolKind::Data,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Absolute,
                flags: SymbolFlags::None,
            });
        }
        obj.write().expect("object writes")
    }

    #[test]
    fn slots_get_their_callee_index_written_in_place() {
        let table = [slot("pong"), slot("jefe")].concat();
        let mut elf = elf_with(&[(".task_slot_table", table)], &[]);
        let names = patch_task_slots(&mut elf, |n| match n {
            "pong" => Some(2),
            "jefe" => Some(0),
            _ => None,
        })
        .expect("patches");
        assert_eq!(names, ["pong", "jefe"]);
        let (offset, _) = section_range(&elf, ".task_slot_table")
            .expect("parses")
            .expect("has the table");
        assert_eq!(elf[offset..offset + 2], [2, 0]);
        assert_eq!(elf[offset + 32..offset + 34], [0, 0]);
        assert_eq!(&elf[offset + 4..offset + 8], b"pong");
    }

    #[test]
    fn a_slot_app_toml_does_not_give_is_reported_by_name() {
        let mut elf =
            elf_with(&[(".task_slot_table", slot("nope").to_vec())], &[]);
        let err = patch_task_slots(&mut elf, |_| None).expect_err("unknown");
        let unknown = err.downcast_ref::<UnknownSlot>().expect("UnknownSlot");
        assert_eq!(unknown.0, "nope");
    }

    #[test]
    fn a_task_without_slots_patches_nothing() {
        let mut elf = elf_with(&[], &[]);
        let before = elf.clone();
        assert!(patch_task_slots(&mut elf, |_| None).expect("ok").is_empty());
        assert_eq!(elf, before);
    }

    #[test]
    fn usage_is_measured_from_the_region_bases() {
        let elf = elf_with(
            &[],
            &[
                ("__flash_end", 0x1000_0123),
                ("__ram_used_end", 0x4000_2000),
            ],
        );
        let used = usage(&elf, 0x1000_0000, 0x4000_1000).expect("symbols");
        assert_eq!(
            used,
            Usage {
                flash: 0x123,
                ram: 0x1000
            }
        );
    }

    #[test]
    fn idolatry_splits_on_nul_and_skips_padding() {
        let data =
            b"Interface(name: \"A\")\0Interface(name: \"B\")\0\0\0".to_vec();
        let elf = elf_with(&[(".idolatry", data)], &[]);
        let defs = idol_definitions(&elf).expect("reads");
        assert_eq!(defs, ["Interface(name: \"A\")", "Interface(name: \"B\")"]);
    }
}
