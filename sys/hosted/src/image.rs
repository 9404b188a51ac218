//! Loading an image archive: the manifest and each task's ELF, split into
//! what the kernel needs (flash contents, the initial RAM image).

use anyhow::{Context, Result, bail};
use image_manifest::{ImageManifest, MANIFEST_PATH, Region, TaskEntry};
use object::{Object, ObjectSegment};
use std::io::Read;

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
    let mut f = zip
        .by_name(name)
        .with_context(|| format!("archive has no {name}"))?;
    let mut v = Vec::new();
    f.read_to_end(&mut v)
        .with_context(|| format!("reading {name}"))?;
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
    let mut tasks = Vec::new();
    for t in &manifest.tasks {
        let elf = read_entry(&mut zip, &t.elf)?;
        tasks.push(split(t, elf).with_context(|| format!("task {}", t.name))?);
    }
    Ok(Image { manifest, tasks })
}

/// Places each loadable segment in flash or RAM; anything outside the
/// task's regions means the archive does not match its manifest.
fn split(t: &TaskEntry, elf: Vec<u8>) -> Result<TaskImage> {
    let mut flash = vec![0u8; t.flash.size as usize];
    let mut ram_init = vec![0u8; t.ram.size as usize];
    {
        let obj = object::File::parse(&*elf).context("not an ELF file")?;
        for seg in obj.segments() {
            let data = seg.data().context("bad segment")?;
            let (addr, size) = (seg.address(), seg.size());
            let place = |r: &Region, buf: &mut [u8]| -> bool {
                if !r.contains(addr, size) {
                    return false;
                }
                let off = (addr - r.base as u64) as usize;
                buf[off..off + data.len()].copy_from_slice(data);
                true
            };
            if !place(&t.flash, &mut flash) && !place(&t.ram, &mut ram_init) {
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
