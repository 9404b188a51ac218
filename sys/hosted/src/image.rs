//! Loading an image archive: the manifest and each task's ELF, split into
//! what the kernel needs (flash contents, the initial RAM image).
//!
//! The archive is a file from disk: xtask wrote it after checking
//! app.toml, but nothing stops someone from handing the kernel another
//! one. So before anything is allocated or spawned, the manifest's
//! structure is checked (every index in range, regions sane and apart),
//! and every ELF segment must fit the region it lands in, file bytes
//! included. A bad archive is a one-line error, never a panic.

use anyhow::{Context, Result, bail};
use image_manifest::{ImageManifest, MANIFEST_PATH, Region, TaskEntry};
use object::{Object, ObjectSegment};
use std::io::Read;

/// Largest flash or RAM region a task may have: far beyond any real
/// image, small enough that a lying manifest cannot make the kernel
/// allocate the machine away.
const MAX_REGION: u32 = 64 << 20;

/// Largest archive entry we read (a task ELF or the manifest).
const MAX_ENTRY: u64 = 256 << 20;

/// One task's program, ready to spawn.
pub struct TaskImage {
    pub elf: Vec<u8>,
    /// The whole flash region, as the task will see it.
    pub flash: Vec<u8>,
    /// The whole RAM region at reset: `.data` copied, the rest zero.
    pub ram_init: Vec<u8>,
}

pub struct Image {
    pub manifest: ImageManifest,
    pub tasks: Vec<TaskImage>,
}

fn read_entry(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
) -> Result<Vec<u8>> {
    let f = zip
        .by_name(name)
        .with_context(|| format!("archive has no {name}"))?;
    let mut v = Vec::new();
    f.take(MAX_ENTRY.saturating_add(1))
        .read_to_end(&mut v)
        .with_context(|| format!("reading {name}"))?;
    if v.len() as u64 > MAX_ENTRY {
        bail!("{name} is over {MAX_ENTRY} bytes");
    }
    Ok(v)
}

pub fn load(path: &std::path::Path) -> Result<Image> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| {
        format!("{} is not an image archive", path.display())
    })?;
    let text = String::from_utf8(read_entry(&mut zip, MANIFEST_PATH)?)
        .context("manifest is not UTF-8")?;
    let manifest = ImageManifest::from_json(&text).context("bad manifest")?;
    check_manifest(&manifest).context("bad manifest")?;
    let mut tasks = Vec::new();
    for t in &manifest.tasks {
        let elf = read_entry(&mut zip, &t.elf)?;
        tasks.push(split(t, elf).with_context(|| format!("task {}", t.name))?);
    }
    Ok(Image { manifest, tasks })
}

/// Everything the kernel indexes or allocates by, checked once.
pub fn check_manifest(m: &ImageManifest) -> Result<()> {
    if !image_manifest::is_image_name(&m.name) {
        bail!("image name {:?} is not a plain file-name component", m.name);
    }
    let max_tasks = usize::from(abi::TaskId::INDEX_MASK);
    if m.tasks.is_empty() || m.tasks.len() > max_tasks {
        bail!("{} tasks (1 to {max_tasks} allowed)", m.tasks.len());
    }
    let (tasks, peripherals) = (m.tasks.len(), m.peripherals.len());
    let in_range = |i: u16, n: usize| usize::from(i) < n;
    for (i, t) in m.tasks.iter().enumerate() {
        let at = |what: &str| format!("task {i} ({:?}): {what}", t.name);
        if usize::from(t.index) != i {
            bail!(at(&format!("index {} out of order", t.index)));
        }
        check_regions(t).map_err(|e| anyhow::anyhow!(at(&e)))?;
        if !t.task_slots.iter().all(|s| in_range(s.task, tasks)) {
            bail!(at("a task slot names no task"));
        }
        if !t.uses.iter().all(|&p| in_range(p, peripherals)) {
            bail!(at("`uses` names no peripheral"));
        }
        if !t
            .interrupts
            .iter()
            .all(|r| in_range(r.peripheral, peripherals))
        {
            bail!(at("an interrupt names no peripheral"));
        }
        if t.notifications.len() > 32 {
            bail!(at("more than 32 notifications"));
        }
    }
    for p in &m.peripherals {
        if p.managed_by.is_some_and(|t| !in_range(t, tasks)) {
            bail!("peripheral {:?}: managed by no task", p.name);
        }
    }
    Ok(())
}

fn check_regions(t: &TaskEntry) -> Result<(), String> {
    let sane = |r: &Region| r.size <= MAX_REGION && r.end() <= 1 << 32;
    if !sane(&t.flash) || !sane(&t.ram) {
        return Err(format!(
            "flash or RAM over {MAX_REGION} bytes or past 4 GiB"
        ));
    }
    if t.ram.base < abi::HOSTED_GUARD_SIZE {
        return Err("RAM leaves no room for the stack guard below it".into());
    }
    let apart = t.flash.end() <= u64::from(t.ram.base)
        || t.ram.end() <= u64::from(t.flash.base);
    if !apart {
        return Err("flash and RAM overlap".into());
    }
    if !t
        .ram
        .contains(u64::from(t.stack.base), u64::from(t.stack.size))
    {
        return Err("the stack is not inside RAM".into());
    }
    Ok(())
}

/// Places each loadable segment in flash or RAM; anything outside the
/// task's regions (addresses, memory size or file bytes) means the
/// archive does not match its manifest.
fn split(t: &TaskEntry, elf: Vec<u8>) -> Result<TaskImage> {
    let mut flash = vec![0u8; t.flash.size as usize];
    let mut ram_init = vec![0u8; t.ram.size as usize];
    paint_stack(t, &mut ram_init);
    {
        let obj = object::File::parse(&*elf).context("not an ELF file")?;
        for seg in obj.segments() {
            let data = seg.data().context("bad segment")?;
            let (addr, size) = (seg.address(), seg.size());
            if data.len() as u64 > size {
                bail!(
                    "segment at {addr:#x} has {} file bytes but {size:#x} in \
                     memory",
                    data.len()
                );
            }
            let placed = place(&t.flash, &mut flash, addr, size, data)
                || place(&t.ram, &mut ram_init, addr, size, data);
            if !placed {
                bail!("segment at {addr:#x}+{size:#x} is outside its regions");
            }
        }
    }
    Ok(TaskImage {
        elf,
        flash,
        ram_init,
    })
}

/// Fills the stack part of a task's initial RAM with
/// [`debug_protocol::registers::STACK_PAINT`], so that a debugger can
/// tell how deep the stack has ever gone (`humility stackmargin`): every
/// incarnation starts from this image. Segments placed after this win,
/// though no segment lives in the stack.
fn paint_stack(t: &TaskEntry, ram_init: &mut [u8]) {
    let start = t.stack.base.saturating_sub(t.ram.base) as usize;
    let end = start.saturating_add(t.stack.size as usize);
    if let Some(stack) = ram_init.get_mut(start..end) {
        let paint = debug_protocol::registers::STACK_PAINT.to_le_bytes();
        for word in stack.chunks_mut(4) {
            word.copy_from_slice(&paint[..word.len()]);
        }
    }
}

/// Copies a segment's file bytes into `buf` (region `r`'s contents) if
/// the whole segment lies inside `r`.
fn place(
    r: &Region,
    buf: &mut [u8],
    addr: u64,
    size: u64,
    data: &[u8],
) -> bool {
    if !r.contains(addr, size) {
        return false;
    }
    let dst = usize::try_from(addr.saturating_sub(u64::from(r.base)))
        .ok()
        .and_then(|start| buf.get_mut(start..))
        .and_then(|rest| rest.get_mut(..data.len()));
    match dst {
        Some(dst) => {
            dst.copy_from_slice(data);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::write::elf::{FileHeader, ProgramHeader, Writer};

    fn entry() -> TaskEntry {
        serde_json::from_value(serde_json::json!({
            "name": "t", "crate_name": "t", "index": 0, "priority": 0,
            "start": true,
            "flash": {"base": 0x10_0000, "size": 0x1000},
            "ram": {"base": 0x20_0000, "size": 0x1000},
            "stack": {"base": 0x20_0000, "size": 0x400},
            "elf": "elf/task/t", "task_slots": [], "uses": [],
            "notifications": [], "interrupts": [], "kipc": [],
            "features": [],
        }))
        .unwrap()
    }

    /// An ELF with one PT_LOAD segment: `file` bytes at `vaddr`, `mem`
    /// bytes in memory.
    fn elf(vaddr: u64, file: &[u8], mem: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(object::Endianness::Little, true, &mut out);
        w.reserve_file_header();
        w.reserve_program_headers(1);
        let offset = w.reserve(file.len() as u64, 16);
        w.write_file_header(&FileHeader {
            os_abi: object::elf::ELFOSABI_NONE,
            abi_version: 0,
            e_type: object::elf::ET_EXEC,
            e_machine: object::elf::EM_X86_64,
            e_entry: vaddr,
            e_flags: object::elf::FileFlags(0),
        })
        .unwrap();
        w.write_align_program_headers();
        w.write_program_header(&ProgramHeader {
            p_type: object::elf::PT_LOAD,
            p_flags: object::elf::PF_R,
            p_offset: offset,
            p_vaddr: vaddr,
            p_paddr: vaddr,
            p_filesz: file.len() as u64,
            p_memsz: mem,
            p_align: 16,
        });
        w.write_align(16);
        w.write(file);
        out
    }

    #[test]
    fn a_segment_lands_in_its_region() {
        let img = split(&entry(), elf(0x10_0010, &[1, 2, 3], 8)).unwrap();
        assert_eq!(&img.flash[0x10..0x13], &[1, 2, 3]);
        let img = split(&entry(), elf(0x20_0100, &[9], 4)).unwrap();
        assert_eq!(img.ram_init[0x100], 9);
    }

    #[test]
    fn file_bytes_beyond_memory_size_are_an_error_not_a_panic() {
        // Memory size 4 at the very end of flash, 64 file bytes: copying
        // the file bytes would run past the region.
        let e = split(&entry(), elf(0x10_0ffc, &[0xaa; 64], 4))
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("64 file bytes but 0x4 in memory"));
    }

    #[test]
    fn a_segment_outside_the_regions_or_garbage_is_an_error() {
        assert!(split(&entry(), elf(0x30_0000, &[1], 1)).is_err());
        assert!(split(&entry(), elf(0x10_0ff0, &[1], 0x20)).is_err());
        assert!(split(&entry(), b"not an elf".to_vec()).is_err());
        assert!(split(&entry(), Vec::new()).is_err());
    }

    fn manifest(tasks: Vec<TaskEntry>) -> ImageManifest {
        ImageManifest {
            name: "img".into(),
            version: "0".into(),
            git_revision: "x".into(),
            board: "hosted".into(),
            image_id: 1,
            kernel: Default::default(),
            tasks,
            peripherals: vec![],
            blobs: vec![],
        }
    }

    /// A change that makes a manifest malformed.
    type Spoil = Box<dyn Fn(&mut ImageManifest)>;

    #[test]
    fn malformed_manifests_are_refused_with_a_reason() {
        assert!(check_manifest(&manifest(vec![entry()])).is_ok());
        let cases: Vec<(&str, Spoil)> = vec![
            ("plain file-name", Box::new(|m| m.name = "../x".into())),
            ("0 tasks", Box::new(|m| m.tasks.clear())),
            ("out of order", Box::new(|m| m.tasks[0].index = 3)),
            (
                "names no task",
                Box::new(|m| {
                    m.tasks[0].task_slots.push(image_manifest::TaskSlot {
                        name: "x".into(),
                        task: 9,
                    })
                }),
            ),
            ("names no peripheral", Box::new(|m| m.tasks[0].uses.push(0))),
            ("over", Box::new(|m| m.tasks[0].ram.size = u32::MAX)),
            (
                "stack guard",
                Box::new(|m| {
                    m.tasks[0].ram.base = 0x100;
                    m.tasks[0].stack.base = 0x100;
                }),
            ),
            ("overlap", Box::new(|m| m.tasks[0].flash.base = 0x20_0800)),
            (
                "stack is not inside",
                Box::new(|m| m.tasks[0].stack.size = 0x2000),
            ),
        ];
        for (why, spoil) in cases {
            let mut m = manifest(vec![entry()]);
            spoil(&mut m);
            let e = format!("{:#}", check_manifest(&m).unwrap_err());
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
