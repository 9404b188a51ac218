//! Boot: from an image archive to a running system.
//!
//! [`run`] is the hosted platform's `start_kernel`: it loads the archive,
//! builds the kernel's task table and the platform half of the kernel
//! (each task's memory, the board's devices, the dump directory), opens
//! the debug probe, lets the core start the tasks, and hands over to the
//! event loop until the system stops. Everything that is fixed for the
//! life of the image is decided here, once; nothing later allocates a
//! task slot or a device.
//!
//! The first thing it does is block the signals the event loop handles,
//! so that every thread started afterwards inherits the mask.
//!
//! No `unsafe` and no `libc` here: pinning to one CPU is rustix's
//! `sched_setaffinity`.

use crate::event_loop::Hosted;
use crate::image::{self, TaskImage};
use crate::log::klog;
use crate::memory::{HostPlatform, Ram, TaskMemory};
use crate::probe::socket::Location;
use crate::{devices::Devices, process};
use abi::Kipcnum;
use anyhow::Result;
use image_manifest::ImageManifest;
use kern::task::{IrqRoute, MemoryRegion};
use kern::{Kernel, Peripheral, Task, TaskDesc};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// How the kernel was asked to run (the command line).
pub struct Options {
    pub one_cpu: bool,
    pub verbose: bool,
    /// `--probe`; else the default for the image's name.
    pub probe: Option<PathBuf>,
    pub dump_dir: PathBuf,
}

/// Boots the image in `archive` and serves it until a task asks for
/// shutdown (its code) or a signal stops us (130).
///
/// # Errors
///
/// One chain of contexts when the image cannot boot: a bad archive, no
/// memory for a task, a probe socket that is not private, or a host
/// without seccomp user notification.
pub fn run(archive: &Path, opts: Options) -> Result<u8> {
    let started = std::time::Instant::now();
    let img = image::load(archive)?;
    crate::event_loop::block_signals();
    if opts.one_cpu {
        pin_to_one_cpu();
    }
    let manifest = img.manifest;
    let mut tasks = task_table(&manifest);
    let mut peripherals: Vec<Peripheral> = manifest
        .peripherals
        .iter()
        .map(|p| Peripheral {
            managed_by: p.managed_by,
            revoked: false,
        })
        .collect();
    let (platform, elf_fds) =
        host_platform(&manifest, &img.tasks, started, &opts)?;
    let mut kernel = Kernel::new(&mut tasks, &mut peripherals, platform);
    let location = probe_location(&opts, &manifest.name);
    let mut hosted = Hosted::new(manifest, img.tasks, elf_fds, opts.verbose)?;
    hosted.open_probe(&location)?;
    if let Some(fd) = kernel.platform.devices.engine_wake_fd() {
        hosted.watch(fd, crate::event_loop::TOKEN_ENGINE)?;
    }
    klog!(
        "booting image {} ({:016x}), {} tasks",
        hosted.manifest.name,
        hosted.manifest.image_id,
        hosted.manifest.tasks.len()
    );
    hosted.effects.merge(kernel.boot());
    crate::trace::record(crate::trace::Trace::Booted {
        tasks: kernel.tasks.len() as u16,
    });
    hosted.apply(&mut kernel);
    klog!("all tasks started in {} us", started.elapsed().as_micros());
    let code = hosted.serve(&mut kernel);
    hosted.stop_all(&mut kernel);
    Ok(code)
}

/// `--probe`, or the default socket for an image of this name (the path
/// humility computes too, from `debug_protocol::path`).
fn probe_location(opts: &Options, image_name: &str) -> Location {
    match &opts.probe {
        Some(path) => Location::Explicit(path.clone()),
        None => Location::Default {
            dir: debug_protocol::path::default_probe_dir(),
            file: debug_protocol::path::probe_file_name(image_name),
        },
    }
}

/// The task table lives as long as the kernel, which is the whole
/// process: its slices are leaked rather than borrowed from the manifest.
fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

/// The kernel's task table, from the manifest's task entries.
fn task_table(m: &ImageManifest) -> Vec<Task> {
    m.tasks.iter().map(task_desc).map(Task::new).collect()
}

/// One task's descriptor: its regions, slots, IRQ routes and the kernel
/// IPC operations its app.toml grants by name.
fn task_desc(t: &image_manifest::TaskEntry) -> TaskDesc {
    let grants = t
        .kipc
        .iter()
        .filter_map(|n| Kipcnum::ALL.iter().find(|k| k.grant_name() == n))
        .fold(0, |g, k| g | k.grant_bit());
    let irqs = t.interrupts.iter().map(|i| IrqRoute {
        peripheral: i.peripheral,
        mask: i.mask,
    });
    TaskDesc {
        priority: t.priority,
        start: t.start,
        regions: [
            MemoryRegion {
                base: t.flash.base,
                size: t.flash.size,
                writable: false,
            },
            MemoryRegion {
                base: t.ram.base,
                size: t.ram.size,
                writable: true,
            },
        ],
        slots: leak(t.task_slots.iter().map(|s| s.task).collect()),
        post_to: leak(t.post_to.clone()),
        uses: leak(t.uses.clone()),
        irqs: leak(irqs.collect()),
        kipc_grants: grants,
        kernel_notifications: t.kernel_notifications(),
    }
}

/// Runs the kernel and every task on CPU 0 (`--one-cpu`), so benchmarks
/// measure IPC without cross-CPU wake-ups. Children inherit the mask.
/// Best effort: a host that refuses leaves the benchmark on more CPUs,
/// which its baseline (run the same way) shows.
fn pin_to_one_cpu() {
    let mut set = rustix::thread::CpuSet::new();
    set.set(0);
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// The platform half of the kernel: each task's memory, the board's
/// devices, the dump directory; and each task's ELF as a memfd to exec.
fn host_platform(
    manifest: &ImageManifest,
    images: &[TaskImage],
    started: std::time::Instant,
    opts: &Options,
) -> Result<(HostPlatform, Vec<OwnedFd>)> {
    let mut memory = Vec::new();
    let mut elf_fds = Vec::new();
    for (t, ti) in manifest.tasks.iter().zip(images) {
        memory.push(TaskMemory {
            flash_base: t.flash.base,
            flash: ti.flash.clone().into(),
            ram_base: t.ram.base,
            ram: Ram::new(&t.name, &ti.ram_init)?,
        });
        elf_fds.push(process::elf_memfd(&t.name, &ti.elf)?);
    }
    let platform = HostPlatform {
        memory,
        devices: Devices::new(manifest)?,
        names: manifest.tasks.iter().map(|t| t.name.clone()).collect(),
        boot: started,
        image_id: manifest.image_id,
        shutdown: None,
        manifest: manifest.clone(),
        dumps: crate::dump::DumpDir::open(
            &opts.dump_dir,
            &manifest.name,
            manifest.tasks.len(),
        )?,
        registers: crate::registers::Registry::new(manifest.tasks.len()),
        debug: crate::debug::Debugger::new(manifest.tasks.len()),
    };
    Ok((platform, elf_fds))
}
