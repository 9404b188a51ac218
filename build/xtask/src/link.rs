//! Linking a task at the addresses app-config assigned it.
//!
//! cargo leaves each task as one relocatable object; we link it with
//! rust-lld (shipped with every rustup toolchain, so nothing to install)
//! and a linker script generated from the task's [`TaskLayout`]. Flash
//! holds text and read-only data behind the ELF headers, and the
//! call-frame information (`.eh_frame`, which `-C force-unwind-tables`
//! makes rustc emit even with `panic = "abort"`) that humility unwinds
//! stacks with; RAM starts with the stack, so an overflow runs into the
//! unmapped guard below it.
//!
//! A link is skipped when a stamp file shows that the object, the script
//! and the command are what they were last time, which keeps a no-change
//! `cargo xtask dist` from rewriting anything.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use app_config::{MemoryMap, TaskLayout};
use image_manifest::Region;

use crate::archive::Fnv;

/// The linker script for one task's layout.
pub fn linker_script(layout: &TaskLayout) -> String {
    let flash = layout.flash.base;
    let ram = layout.ram.base;
    let stack = layout.stack.size;
    let ram_size = layout.ram.size;
    format!(
        "\
ENTRY(_start)
PHDRS {{ text PT_LOAD FLAGS(5); ram PT_LOAD FLAGS(6); }}
SECTIONS {{
  . = {flash:#x} + SIZEOF_HEADERS;
  .text : {{ KEEP(*(.text.start)) *(.text .text.*) }} :text
  .rodata : {{ *(.rodata .rodata.*) *(.data.rel.ro .data.rel.ro.*) *(.got .got.plt) }} :text
  .ARM.exidx : {{ *(.ARM.exidx .ARM.exidx.*) }} :text
  .task_slot_table : {{ KEEP(*(.task_slot_table)) }} :text
  .idolatry : {{ KEEP(*(.idolatry)) }} :text
  .eh_frame : {{ KEEP(*(.eh_frame)) }} :text
  __flash_end = .;
  . = {ram:#x};
  __ram_base = .;
  __stack_bottom = .;
  . = {ram:#x} + {stack:#x};
  __stack_top = .;
  .data : {{ *(.data .data.*) LONG(0) }} :ram
  .bss (NOLOAD) : {{ *(.bss .bss.*) *(COMMON) }} :ram
  __ram_used_end = .;
  __ram_end = {ram:#x} + {ram_size:#x};
  /DISCARD/ : {{ *(.note*) *(.comment) }}
}}
"
    )
}

/// The most a trial link gives each region. Tasks refer to their RAM
/// symbols (`__ram_end`, `__stack_top`) with 32-bit PC-relative
/// relocations, so the trial RAM region must end within 2 GiB of the
/// text; 512 MiB of flash and 1 GiB of RAM keep it there and are far more
/// than any task uses.
const TRIAL_FLASH: u32 = 512 << 20;
const TRIAL_RAM: u32 = 1 << 30;

/// Where a task is linked to be measured: each region at the start of its
/// area and as large as it may be, so that anything reasonable fits.
pub fn trial_layout(map: &MemoryMap, stacksize: u32) -> TaskLayout {
    let flash = Region {
        base: map.flash.base,
        size: (map.flash.end - map.flash.base).min(TRIAL_FLASH),
    };
    let ram_base = map.ram.base.saturating_add(map.ram_guard);
    let ram = Region {
        base: ram_base,
        size: map.ram.end.saturating_sub(ram_base).min(TRIAL_RAM),
    };
    let stack = Region {
        base: ram_base,
        size: stacksize
            .next_multiple_of(app_config::STACK_ALIGN)
            .min(ram.size),
    };
    TaskLayout { flash, ram, stack }
}

/// rust-lld from the active toolchain's sysroot.
pub fn rust_lld() -> Result<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc --print sysroot")?;
    if !out.status.success() {
        bail!("rustc --print sysroot failed ({})", out.status);
    }
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let lld = Path::new(&sysroot)
        .join("lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld");
    if !lld.is_file() {
        bail!(
            "{} not found (install it with `rustup component add \
             llvm-tools` or a toolchain that ships rust-lld)",
            lld.display()
        );
    }
    Ok(lld)
}

/// What to link and where.
pub struct Link<'a> {
    pub lld: &'a Path,
    pub object: &'a Path,
    /// Further objects (the task's blobs), linked after the task.
    pub extra: Vec<PathBuf>,
    pub script: &'a Path,
    pub output: &'a Path,
}

impl Link<'_> {
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> =
            ["-flavor", "gnu", "-static", "--gc-sections", "-T"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.push(self.script.display().to_string());
        args.push("-o".into());
        args.push(self.output.display().to_string());
        args.push(self.object.display().to_string());
        args.extend(self.extra.iter().map(|p| p.display().to_string()));
        args
    }

    fn stamp_path(&self) -> PathBuf {
        self.output.with_extension("stamp")
    }

    /// Links unless nothing changed; returns whether it linked.
    pub fn run_if_changed(&self, script_text: &str) -> Result<bool> {
        let object = std::fs::read(self.object).with_context(|| {
            format!("cannot read {}", self.object.display())
        })?;
        let mut hash = Fnv::new();
        hash.write(&object);
        for extra in &self.extra {
            let bytes = std::fs::read(extra)
                .with_context(|| format!("cannot read {}", extra.display()))?;
            hash.write(&bytes);
        }
        hash.write(script_text.as_bytes());
        hash.write(self.args().join("\0").as_bytes());
        let stamp = format!("{:016x}\n", hash.finish());
        let stamp_path = self.stamp_path();
        write_if_changed(self.script, script_text.as_bytes())?;
        let old = std::fs::read_to_string(&stamp_path).unwrap_or_default();
        if old == stamp && self.output.is_file() {
            return Ok(false);
        }
        self.run()?;
        std::fs::write(&stamp_path, stamp).with_context(|| {
            format!("cannot write {}", stamp_path.display())
        })?;
        Ok(true)
    }

    fn run(&self) -> Result<()> {
        let out = Command::new(self.lld)
            .args(self.args())
            .output()
            .with_context(|| format!("cannot run {}", self.lld.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("").trim();
            bail!("rust-lld failed ({}): {first}", out.status);
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` unless it already holds exactly them, so
/// that unchanged files keep their modification times.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// An object file holding `blobs` (name, bytes) as read-only data, each
/// bracketed by the symbols `__blob_<name>_start` and `__blob_<name>_end`
/// that `userlib::blob!` refers to. Each blob has its own section, so the
/// final link's garbage collection drops any blob the task never names.
pub fn blob_object(blobs: &[(String, Vec<u8>)], arm: bool) -> Result<Vec<u8>> {
    use object::write::{Object, Symbol, SymbolSection};
    use object::{
        Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags,
        SymbolKind, SymbolScope,
    };
    let architecture = if arm {
        Architecture::Arm
    } else {
        Architecture::X86_64
    };
    let mut obj =
        Object::new(BinaryFormat::Elf, architecture, Endianness::Little);
    if arm {
        // EABI version 5, hard-float: what rustc's Thumb objects say, so
        // that the linker sees one ABI.
        obj.flags = object::FileFlags::Elf {
            os_abi: object::elf::OsAbi(0),
            abi_version: 0,
            e_flags: object::elf::FileFlags(
                object::elf::EF_ARM_EABI_VER5.0
                    | object::elf::EF_ARM_ABI_FLOAT_HARD,
            ),
        };
    }
    for (name, bytes) in blobs {
        let section = obj.add_section(
            Vec::new(),
            format!(".rodata.blob.{name}").into_bytes(),
            SectionKind::ReadOnlyData,
        );
        let offset = obj.append_section_data(section, bytes, 16);
        for (suffix, value) in
            [("start", offset), ("end", offset + bytes.len() as u64)]
        {
            obj.add_symbol(Symbol {
                name: format!("__blob_{name}_{suffix}").into_bytes(),
                value,
                size: 0,
                kind: SymbolKind::Data,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Section(section),
                flags: SymbolFlags::None,
            });
        }
    }
    obj.write()
        .map_err(|e| anyhow::anyhow!("cannot build blob object: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSymbol};

    fn layout() -> TaskLayout {
        TaskLayout {
            flash: Region {
                base: 0x1000_0000,
                size: 0x2000,
            },
            ram: Region {
                base: 0x4001_0000,
                size: 0x3000,
            },
            stack: Region {
                base: 0x4001_0000,
                size: 0x800,
            },
        }
    }

    #[test]
    fn script_places_flash_ram_and_stack_from_the_layout() {
        let script = linker_script(&layout());
        assert!(script.contains(". = 0x10000000 + SIZEOF_HEADERS;"));
        assert!(script.contains(". = 0x40010000 + 0x800;"));
        assert!(script.contains("__ram_end = 0x40010000 + 0x3000;"));
        assert!(script.contains("KEEP(*(.task_slot_table))"));
    }

    /// A relocatable object with `_start` in `.text.start`, some data and
    /// some bss, as cargo would leave a task.
    fn task_object() -> Vec<u8> {
        use object::write::{Object as Obj, Symbol, SymbolSection};
        use object::{
            Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags,
            SymbolKind, SymbolScope,
        };
        let mut obj = Obj::new(
            BinaryFormat::Elf,
            Architecture::X86_64,
            Endianness::Little,
        );
        let text =
            obj.add_section(vec![], b".text.start".to_vec(), SectionKind::Text);
        let off = obj.append_section_data(text, &[0x0f, 0x0b], 1);
        obj.add_symbol(Symbol {
            name: b"_start".to_vec(),
            value: off,
            size: 2,
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
        let data =
            obj.add_section(vec![], b".data.x".to_vec(), SectionKind::Data);
        obj.append_section_data(data, &[1; 24], 8);
        let bss = obj.add_section(
            vec![],
            b".bss.y".to_vec(),
            SectionKind::UninitializedData,
        );
        obj.append_section_bss(bss, 100, 8);
        obj.write().expect("object writes")
    }

    #[test]
    fn rust_lld_links_a_task_at_its_addresses() {
        let Ok(lld) = rust_lld() else {
            eprintln!("no rust-lld; skipping");
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let object = dir.path().join("t.o");
        std::fs::write(&object, task_object()).expect("write");
        let script = dir.path().join("t.ld");
        let output = dir.path().join("t.elf");
        let link = Link {
            extra: Vec::new(),
            lld: &lld,
            object: &object,
            script: &script,
            output: &output,
        };
        let text = linker_script(&layout());
        assert!(link.run_if_changed(&text).expect("links"));
        assert!(!link.run_if_changed(&text).expect("no relink"));
        let elf = std::fs::read(&output).expect("read");
        let file = object::File::parse(&*elf).expect("parse");
        let sym = |name: &str| {
            file.symbols()
                .find(|s| s.name() == Ok(name))
                .map(|s| s.address())
        };
        assert_eq!(file.entry(), sym("_start").expect("_start"));
        assert!(file.entry() > 0x1000_0000 && file.entry() < 0x1000_1000);
        assert_eq!(sym("__stack_top"), Some(0x4001_0800));
        assert_eq!(sym("__ram_end"), Some(0x4001_3000));
        // Nothing refers to the data and bss, so --gc-sections drops
        // them: RAM holds the stack and the LONG(0) that keeps `.data`.
        let used = sym("__ram_used_end").expect("used end") - 0x4001_0000;
        assert_eq!(used, 0x804);
    }
}
