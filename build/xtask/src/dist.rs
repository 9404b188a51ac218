//! `cargo xtask dist`: app.toml to an image archive.
//!
//! The steps, in order: load and check app.toml; check that every crate
//! it names exists in the workspace; build each task and link it once
//! with the whole memory to itself, to measure what it uses; have
//! app-config check the uses against the `max-sizes` caps and place every
//! task under the board's rules; link each task at its place and patch
//! its task slots; build the kernel; write the archive. Everything a
//! no-change run would redo is skipped (cargo's own caching, link stamps,
//! an archive stamp), so it takes about as long as asking cargo whether
//! anything changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use app_config::{Config, Task, TaskLayout, TaskUsage};

use crate::archive::{Contents, Fnv};
use crate::armv7m;
use crate::cargo::{KERNEL_BIN, KERNEL_PACKAGE, Package, TaskBuild, Workspace};
use crate::elf::{self, Sections, UnknownSlot};
use crate::link::{self, Link, write_if_changed};
use crate::progress::Progress;

/// A built image.
pub struct Image {
    /// `target/<name>/dist/build-<name>.zip`.
    pub archive: PathBuf,
    /// The kernel binary that boots it.
    pub kernel: PathBuf,
    /// For a board QEMU emulates: the image ELF it boots.
    pub image_elf: Option<PathBuf>,
    /// The configuration it was built from.
    pub config: Config,
    /// What each task uses and where it was placed, in task order.
    pub sizes: Vec<TaskSizes>,
}

impl Image {
    /// Boots the image: the hosted kernel with the archive (and `args`),
    /// or QEMU with the image ELF.
    pub fn boot(
        &self,
        args: &[&std::ffi::OsStr],
        stdin: std::process::Stdio,
        stdout: std::process::Stdio,
    ) -> Result<crate::kernel::Kernel> {
        match &self.image_elf {
            Some(elf) => crate::kernel::Kernel::spawn_command(
                armv7m::qemu_command(elf)?,
                stdin,
                stdout,
            ),
            None => crate::kernel::Kernel::spawn_with_args(
                &self.kernel,
                &self.archive,
                args,
                stdin,
                stdout,
            ),
        }
    }
}

/// One task's measurements and placement: what `cargo xtask sizes` shows.
#[derive(Clone, Debug)]
pub struct TaskSizes {
    /// Bytes used in each region, from the trial link.
    pub usage: TaskUsage,
    /// The sections that make them up, from the final ELF.
    pub sections: Sections,
    /// The regions assigned.
    pub layout: TaskLayout,
}

/// Builds the image described by `app_toml`.
pub fn dist(app_toml: &Path) -> Result<Image> {
    let config = Config::load(app_toml).map_err(|e| anyhow!("{e}"))?;
    let app_toml = std::path::absolute(app_toml)
        .with_context(|| format!("cannot resolve {}", app_toml.display()))?;
    let text = std::fs::read_to_string(&app_toml)
        .with_context(|| format!("cannot read {}", app_toml.display()))?;
    let ws = Workspace::new(crate::workspace_root());
    check_crates(&config, &ws.packages()?)?;
    crate::callers::check(&config, &ws.root.join("idl"))?;
    let target = crate::cargo::task_target(config.board());
    let armv7m = target == crate::cargo::ARMV7M_TARGET;
    crate::cargo::ensure_target(target)?;
    let lld = link::rust_lld()?;
    let out = ws.target.join(config.name());

    // Per task: build, trial link, final link; and the kernel.
    let steps = 3 * config.tasks().len() as u64 + 1;
    let p = Progress::new(steps);
    let mut objects = Vec::new();
    let mut usage = Vec::new();
    for task in config.tasks() {
        let object = build_task(&ws, &config, task, target, &app_toml, &p)?;
        p.step(format!("measuring {}", task.name));
        usage.push(measure(&out, &config, task, &object, &lld)?);
        objects.push(object);
    }
    let layout = config.place(&usage).map_err(|e| anyhow!("{e}"))?;

    let mut contents = Contents {
        config: &config,
        config_text: &text,
        tasks: Vec::new(),
        layout: &layout,
        kernel: Vec::new(),
        idl: BTreeMap::new(),
        serves: BTreeMap::new(),
        git_revision: crate::archive::git_revision(&ws.root),
        image_elf: None,
    };
    let mut sizes = Vec::new();
    for ((task, object), (&usage, &place)) in config
        .tasks()
        .iter()
        .zip(&objects)
        .zip(usage.iter().zip(&layout))
    {
        p.step(format!("linking {}", task.name));
        let elf = link_at(&out, &config, task, object, &lld, &place)?;
        let sections = elf::sections(&elf)
            .with_context(|| format!("task {}: linked ELF", task.name))?;
        add_interfaces(&mut contents, task, &elf)?;
        let serves = contents.serves.get(&task.name).map_or(&[][..], |s| s);
        crate::callers::check_served(&config, task, serves)?;
        contents.tasks.push((task.name.clone(), elf));
        sizes.push(TaskSizes {
            usage,
            sections,
            layout: place,
        });
    }

    p.step("building kernel".to_owned());
    let (kernel, image_elf) = if armv7m {
        let dir = out.join("kconfig");
        let kconfig =
            armv7m::write_kconfig(&contents.manifest(), &contents.tasks, &dir)?;
        let kernel =
            armv7m::build_kernel(&ws, &kconfig, &lld, &out.join("link"), &p)?;
        let kernel_elf = std::fs::read(&kernel)
            .with_context(|| format!("cannot read {}", kernel.display()))?;
        let image = armv7m::image_elf(&kernel_elf, &contents.tasks)?;
        let path = out.join("dist").join(format!("{}.elf", config.name()));
        write_if_changed(&path, &image)?;
        contents.image_elf = Some(image);
        (kernel, Some(path))
    } else {
        (ws.build_kernel(kernel_package(&config), &p)?, None)
    };
    contents.kernel = std::fs::read(&kernel)
        .with_context(|| format!("cannot read {}", kernel.display()))?;

    let name = config.name();
    let archive = out.join("dist").join(format!("build-{name}.zip"));
    write_archive(&contents, &archive)?;
    p.finish(&format!("wrote {}", relative(&archive, &ws.root)));
    Ok(Image {
        archive,
        kernel,
        image_elf,
        config,
        sizes,
    })
}

/// Builds one task with cargo and copies its relocatable object to
/// `target/<image>/obj/<task>.o`.
fn build_task(
    ws: &Workspace,
    config: &Config,
    task: &Task,
    target: &str,
    app_toml: &Path,
    p: &Progress,
) -> Result<PathBuf> {
    p.step(format!("building task {}", task.name));
    let built = ws.build_task(
        &TaskBuild {
            name: &task.name,
            crate_name: &task.crate_name,
            features: &task.features,
            target,
            app_toml,
        },
        p,
    )?;
    let out = ws.target.join(config.name());
    let object = out.join("obj").join(format!("{}.o", task.name));
    let bytes = std::fs::read(&built)
        .with_context(|| format!("cannot read {}", built.display()))?;
    write_if_changed(&object, &bytes)?;
    Ok(object)
}

/// Links a task where it has the whole of both areas, and measures what
/// it uses. Sizes do not depend on the addresses (every relocation the
/// tasks use has a fixed size), which the final link checks.
fn measure(
    out: &Path,
    config: &Config,
    task: &Task,
    object: &Path,
    lld: &Path,
) -> Result<TaskUsage> {
    let trial = link::trial_layout(&config.board_info().memory, task.stacksize);
    let dir = out.join("trial");
    let elf = run_link(&dir, config, task, object, lld, &trial)?;
    let used = elf::usage(&elf, trial.flash.base, trial.ram.base)
        .with_context(|| format!("task {}: trial-linked ELF", task.name))?;
    Ok(TaskUsage {
        flash: used.flash,
        ram: used.ram,
    })
}

/// Links a task at its place, checks it fits and patches its slots;
/// returns the finished ELF.
fn link_at(
    out: &Path,
    config: &Config,
    task: &Task,
    object: &Path,
    lld: &Path,
    place: &TaskLayout,
) -> Result<Vec<u8>> {
    let mut elf =
        run_link(&out.join("link"), config, task, object, lld, place)?;
    check_fits(task, &elf, place)?;
    patch_slots(config, task, &mut elf)?;
    Ok(elf)
}

/// Links `object` (and the task's blobs) with the script for `layout`,
/// into `dir/<task>`, unless nothing changed; returns the ELF's bytes.
fn run_link(
    dir: &Path,
    config: &Config,
    task: &Task,
    object: &Path,
    lld: &Path,
    layout: &TaskLayout,
) -> Result<Vec<u8>> {
    let script = dir.join(format!("{}.ld", task.name));
    let output = dir.join(&task.name);
    let mut extra = Vec::new();
    if !task.blobs.is_empty() {
        let mut blobs = Vec::new();
        for name in &task.blobs {
            let b =
                config.blobs().iter().find(|b| &b.name == name).ok_or_else(
                    || anyhow!("task {}: no blob {name}", task.name),
                )?;
            let bytes = std::fs::read(&b.resolved).with_context(|| {
                format!("cannot read blob {name} ({})", b.resolved.display())
            })?;
            blobs.push((name.clone(), bytes));
        }
        let path = dir.join(format!("{}-blobs.o", task.name));
        write_if_changed(
            &path,
            &link::blob_object(
                &blobs,
                config.board() == app_config::MPS2_AN386_BOARD,
            )?,
        )?;
        extra.push(path);
    }
    let link = Link {
        lld,
        extra,
        object,
        script: &script,
        output: &output,
    };
    link.run_if_changed(&link::linker_script(layout))
        .with_context(|| format!("linking task {}", task.name))?;
    std::fs::read(&output)
        .with_context(|| format!("cannot read {}", output.display()))
}

/// Every task's crate exists, has a binary of its own name and the
/// features app.toml asks for; so does the kernel's.
fn check_crates(
    config: &Config,
    packages: &BTreeMap<String, Package>,
) -> Result<()> {
    let file = config.file();
    for task in config.tasks() {
        let key = format!("tasks.{}", task.name);
        let krate = &task.crate_name;
        let Some(package) = packages.get(krate) else {
            bail!(
                "{file}: {key}.name: no crate named \"{krate}\" in the workspace"
            );
        };
        if !package.bins.contains(krate) {
            bail!(
                "{file}: {key}.name: crate \"{krate}\" has no binary named \"{krate}\""
            );
        }
        if let Some(f) = task
            .features
            .iter()
            .find(|f| !package.features.contains(*f))
        {
            bail!(
                "{file}: {key}.features: crate \"{krate}\" has no feature \"{f}\""
            );
        }
    }
    let kernel = kernel_package(config);
    if config.board() == app_config::MPS2_AN386_BOARD {
        return Ok(());
    }
    if !packages
        .get(kernel)
        .is_some_and(|p| p.bins.contains(KERNEL_BIN))
    {
        bail!(
            "{file}: kernel: no crate \"{kernel}\" with a binary \"{KERNEL_BIN}\""
        );
    }
    Ok(())
}

fn kernel_package(config: &Config) -> &str {
    config
        .kernel()
        .crate_name
        .as_deref()
        .unwrap_or(KERNEL_PACKAGE)
}

/// The final link uses what the trial link measured; a task that came
/// out bigger would be a linker surprise, not the user's mistake.
fn check_fits(task: &Task, elf: &[u8], place: &TaskLayout) -> Result<()> {
    let used = elf::usage(elf, place.flash.base, place.ram.base)
        .with_context(|| format!("task {}: linked ELF", task.name))?;
    for (what, used, region) in [
        ("flash", used.flash, place.flash.size),
        ("ram", used.ram, place.ram.size),
    ] {
        if used > u64::from(region) {
            bail!(
                "task {}: linked at its place it uses {used} bytes of \
                 {what}, more than the {region}-byte region sized from its \
                 trial link (a bug in xtask's sizing)",
                task.name
            );
        }
    }
    Ok(())
}

fn patch_slots(config: &Config, task: &Task, elf: &mut [u8]) -> Result<()> {
    let lookup = |slot: &str| {
        let s = task.task_slots.iter().find(|s| s.name == slot)?;
        config
            .task(s.task)
            .map(|t| u16::try_from(t.index).unwrap_or(u16::MAX))
    };
    match elf::patch_task_slots(elf, lookup) {
        Ok(_) => Ok(()),
        Err(e) => match e.downcast_ref::<UnknownSlot>() {
            Some(UnknownSlot(slot)) => bail!(
                "task {0} uses task slot \"{slot}\", which app.toml does not \
                 give it (add it to tasks.{0}.task-slots)",
                task.name
            ),
            None => Err(e.context(format!("task {}", task.name))),
        },
    }
}

/// Records the interfaces a task's `.idolatry` section says it serves.
fn add_interfaces(
    contents: &mut Contents<'_>,
    task: &Task,
    elf: &[u8],
) -> Result<()> {
    let context = || format!("task {}: .idolatry", task.name);
    for text in elf::idol_definitions(elf).with_context(context)? {
        let file = format!("{}.idolatry", task.name);
        let iface = idol::parse(&text, &file)
            .map_err(|e| anyhow!("{e}"))
            .with_context(context)?;
        let name = iface.name.to_string();
        if let Some(old) = contents.idl.get(&name)
            && *old != text
        {
            bail!(
                "task {}: serves a different interface {name} than another task",
                task.name
            );
        }
        contents.idl.insert(name.clone(), text);
        contents
            .serves
            .entry(task.name.clone())
            .or_default()
            .push(name);
    }
    Ok(())
}

/// Writes the archive unless an identical one is already there.
fn write_archive(contents: &Contents<'_>, path: &Path) -> Result<()> {
    let mut hash = Fnv::new();
    hash.write(&contents.image_id().to_le_bytes());
    hash.write(&contents.kernel);
    hash.write(contents.git_revision.as_bytes());
    for (name, text) in &contents.idl {
        hash.write(name.as_bytes());
        hash.write(text.as_bytes());
    }
    for blob in contents.config.blobs() {
        let bytes = std::fs::read(&blob.resolved).unwrap_or_default();
        hash.write(blob.name.as_bytes());
        hash.write(&bytes);
    }
    let stamp = format!("{:016x}\n", hash.finish());
    let stamp_path = path.with_extension("zip.stamp");
    let old = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    if old == stamp && path.is_file() {
        return Ok(());
    }
    contents.write(path)?;
    std::fs::write(&stamp_path, stamp)
        .with_context(|| format!("cannot write {}", stamp_path.display()))
}

/// `path` relative to the workspace root, for messages.
fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
