//! Turns `tasks.fpga-mgr.config` in app.toml into constants
//! (`$OUT_DIR/config.rs`) and generates the `FpgaManager` server support.
//!
//! ```toml
//! [tasks.fpga-mgr.config]
//! announce-notification = "driver-announce"
//! fault-notification = "driver-fault"
//! devices = [{ name = "ice40", driver = "ice40-spi" }]
//! bridges = [{ name = "br0" }]
//! regions = [{ name = "r0", device = "ice40", bridges = ["br0"] }]
//! # Optional: the supervisor's task slot, for the driver watchdog.
//! watchdog = "jefe"
//! # Optional: the task that lends us its [blobs] for load_by_name, and
//! # a region's image to load at boot (one of that task's blobs).
//! firmware-store = "store"
//! # regions = [{ name = "r0", device = "ice40", default-image = "blinky" }]
//! # Optional: a `sha256-engine` peripheral in this task's `uses`, its
//! # `done` IRQ routed to one of our notifications, to hash images with.
//! hash-engine = "hash"
//! ```
//!
//! Names are resolved here, once: a driver to its task index and the
//! peripherals it uses that this task manages (`managed-by`), a region to
//! its device and bridge indices. Every mistake fails the build with the
//! key that is wrong.
//!
//! A host build (the library's unit tests) has no app.toml and needs none
//! of this, so for any target but the task target we stop at once.

use anyhow::{Context, Result, anyhow, bail};
use std::fmt::Write as _;

/// Longest device name; `DeviceInfo::name` holds this many bytes.
const NAME_LEN: usize = 16;

/// The `config` table of the fpga-mgr task.
#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    /// The notification (one of this task's `notifications`) that driver
    /// tasks post when they start, asking to be bound.
    announce_notification: String,
    /// The notification (one of this task's `notifications`) jefe posts
    /// when one of our drivers faults (its `on-task-fault` list). Without
    /// it we learn of a death only from our next call to the driver, and a
    /// removed driver that dies never gets its peripherals back.
    #[serde(default)]
    fault_notification: Option<String>,
    /// The FPGA devices, in index order.
    devices: Vec<Device>,
    /// Simulated bridges, in index order.
    #[serde(default)]
    bridges: Vec<Bridge>,
    /// Regions: a device plus the bridges to close while it is programmed.
    #[serde(default)]
    regions: Vec<Region>,
    /// The task slot naming the supervisor (jefe), whose watchdog then
    /// guards every driver call: a driver that hangs is faulted and
    /// restarted instead of holding the manager forever. The slot must be
    /// called `jefe`, and jefe's `allowed-callers` must name this task for
    /// `arm_watchdog` and `disarm_watchdog`. Without it, no watchdog.
    #[serde(default)]
    watchdog: Option<String>,
    /// The firmware store: the task (a key under `[tasks]`, built from
    /// `task-firmware-store`) that lends us the `blobs` app.toml assigns
    /// it, for `load_by_name`. It calls us, so it must be less important
    /// and have us in its `task-slots`. Without it, no load by name.
    #[serde(default)]
    firmware_store: Option<String>,
    /// The board's SHA-256 engine (a `sha256-engine` peripheral in our
    /// `uses`, with `irqs = ["done"]` routed to one of our notifications
    /// in `interrupts`), which hashes an image while its driver writes
    /// it. Without it we hash in software, between the driver's writes.
    #[serde(default)]
    hash_engine: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Device {
    /// What clients call the device (at most 16 bytes, unique).
    name: String,
    /// The driver task (a key under `[tasks]`); it must be in this task's
    /// `task-slots`.
    driver: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Bridge {
    /// The bridge's name (unique).
    name: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Region {
    /// The region's name (unique).
    name: String,
    /// The device that programs it (a `devices` name).
    device: String,
    /// Bridges to disable while programming (`bridges` names).
    #[serde(default)]
    bridges: Vec<String>,
    /// An image of the firmware store (one of its `blobs`) that we load
    /// into the region at boot, as a device-tree overlay's
    /// `firmware-name`; `region_program_by_name` with an empty name loads
    /// it again.
    #[serde(default)]
    default_image: Option<String>,
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(watchdog)");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "none" {
        return;
    }
    build_util::or_fail(generate());
}

fn generate() -> Result<()> {
    let idol = "../../idl/fpga-mgr.idol";
    build_util::build_server_support(idol, "server_stub.rs")
        .map_err(|e| anyhow!("{idol}: {e:#}"))?;

    let name = build_util::task_name();
    let path = build_util::app_toml_path();
    let app = app_config::Config::load(&path).map_err(|e| anyhow!("{e}"))?;
    let me = app
        .task_by_name(&name)
        .ok_or_else(|| anyhow!("{}: no task {name:?}", path.display()))?;
    let config: Config = build_util::task_config()?;
    let code = config_code(&app, me, &config)
        .with_context(|| format!("{}: tasks.{name}.config", path.display()))?;
    let out = std::env::var("OUT_DIR").context("OUT_DIR")?;
    let file = std::path::Path::new(&out).join("config.rs");
    std::fs::write(&file, code)
        .with_context(|| format!("cannot write {}", file.display()))
}

fn config_code(
    app: &app_config::Config,
    me: &app_config::Task,
    config: &Config,
) -> Result<String> {
    let mut out = String::from("// Generated by task/fpga-mgr/build.rs.\n");
    if let Some(slot) = &config.watchdog {
        watchdog(app, me, slot)?;
        println!("cargo::rustc-cfg=watchdog");
    }
    let mask = me
        .notification_mask(&config.announce_notification)
        .ok_or_else(|| {
            anyhow!(
                "announce-notification: {:?} is not one of this task's \
                 notifications",
                config.announce_notification
            )
        })?;
    writeln!(out, "pub const ANNOUNCE_MASK: u32 = {mask:#x};")?;
    let fault = match &config.fault_notification {
        None => 0,
        Some(n) => me.notification_mask(n).ok_or_else(|| {
            anyhow!(
                "fault-notification: {n:?} is not one of this task's \
                 notifications"
            )
        })?,
    };
    writeln!(out, "pub const FAULT_MASK: u32 = {fault:#x};")?;
    // A driver that announced itself before reaching its RECV is asked
    // again a little later, on our `timer` notification if we have one.
    let timer = me.notification_mask("timer").unwrap_or(0);
    writeln!(out, "pub const TIMER_MASK: u32 = {timer:#x};")?;
    writeln!(out, "pub const SELF_INDEX: u16 = {};", me.index)?;
    let store = firmware_store(app, me, config)?;
    writeln!(
        out,
        "pub const FIRMWARE_STORE: Option<u16> = {:?};",
        store.map(|s| s.index)
    )?;

    let engine = hash_engine(app, me, config)?;
    writeln!(
        out,
        "pub const HASH_ENGINE: Option<(u16, u32)> = {engine:?};"
    )?;

    let devices = device_names(config)?;
    out.push_str("pub const DEVICES: &[DeviceConfig] = &[\n");
    for (i, d) in config.devices.iter().enumerate() {
        let key = format!("devices[{i}]");
        let driver = app.task_by_name(&d.driver).ok_or_else(|| {
            anyhow!("{key}.driver: no task named {:?}", d.driver)
        })?;
        if !me.task_slots.iter().any(|s| s.task == driver.index) {
            bail!(
                "{key}.driver: {:?} must be in this task's task-slots, \
                 or the kernel refuses our calls to it",
                d.driver
            );
        }
        let peripherals: Vec<String> = driver
            .uses
            .iter()
            .filter(|&&p| {
                app.peripherals()
                    .get(p)
                    .is_some_and(|p| p.managed_by == Some(me.index))
            })
            .map(|p| p.to_string())
            .collect();
        writeln!(
            out,
            "    DeviceConfig {{ name: {}, driver: {}, peripherals: &[{}] \
             }},",
            padded(&d.name),
            driver.index,
            peripherals.join(", ")
        )?;
    }
    out.push_str("];\n");

    let bridges = unique(config.bridges.iter().map(|b| &b.name), "bridges")?;
    writeln!(out, "pub const BRIDGE_COUNT: usize = {};", bridges.len())?;
    out.push_str("pub const REGIONS: &[RegionConfig] = &[\n");
    unique(config.regions.iter().map(|r| &r.name), "regions")?;
    for (i, r) in config.regions.iter().enumerate() {
        let key = format!("regions[{i}]");
        if r.name.is_empty() || r.name.len() > NAME_LEN {
            bail!("{key}.name: 1 to {NAME_LEN} bytes, not {:?}", r.name);
        }
        let device = index_of(&devices, &r.device)
            .ok_or_else(|| anyhow!("{key}.device: no device {:?}", r.device))?;
        let mut members = Vec::new();
        for (j, b) in r.bridges.iter().enumerate() {
            let bridge = index_of(&bridges, b).ok_or_else(|| {
                anyhow!("{key}.bridges[{j}]: no bridge named {b:?}")
            })?;
            members.push(bridge.to_string());
        }
        let default_image = default_image(store, &key, r)?;
        writeln!(
            out,
            "    RegionConfig {{ device: {device}, bridges: &[{}], name: \
             {:?}, default_image: {default_image:?} }},",
            members.join(", "),
            r.name
        )?;
    }
    out.push_str("];\n");
    Ok(out)
}

/// Longest image name `load_by_name` takes (`drv_fpga_api::IMAGE_NAME_LEN`).
const IMAGE_NAME_LEN: usize = 32;

/// Resolves `firmware-store`: a task that can call us.
fn firmware_store<'a>(
    app: &'a app_config::Config,
    me: &app_config::Task,
    config: &Config,
) -> Result<Option<&'a app_config::Task>> {
    let Some(name) = &config.firmware_store else {
        return Ok(None);
    };
    let store = app
        .task_by_name(name)
        .ok_or_else(|| anyhow!("firmware-store: no task named {name:?}"))?;
    if !store.task_slots.iter().any(|s| s.task == me.index) {
        bail!(
            "firmware-store: task {name:?} must have {:?} in its \
             task-slots, or it cannot offer us its images",
            me.name
        );
    }
    Ok(Some(store))
}

/// A region's `default-image`, checked against the store's blobs.
fn default_image(
    store: Option<&app_config::Task>,
    key: &str,
    region: &Region,
) -> Result<Option<String>> {
    let Some(image) = &region.default_image else {
        return Ok(None);
    };
    let Some(store) = store else {
        bail!("{key}.default-image: needs a firmware-store to load it from");
    };
    if !store.blobs.contains(image) {
        bail!(
            "{key}.default-image: {image:?} is not one of the blobs of \
             task {:?} (its `blobs`)",
            store.name
        );
    }
    if image.len() > IMAGE_NAME_LEN {
        bail!("{key}.default-image: at most {IMAGE_NAME_LEN} bytes");
    }
    Ok(Some(image.clone()))
}

/// Resolves `hash-engine`: (peripheral index, the notification mask its
/// `done` IRQ posts to us).
fn hash_engine(
    app: &app_config::Config,
    me: &app_config::Task,
    config: &Config,
) -> Result<Option<(u16, u32)>> {
    let Some(name) = &config.hash_engine else {
        return Ok(None);
    };
    let p = app
        .peripheral_by_name(name)
        .ok_or_else(|| anyhow!("hash-engine: no peripheral named {name:?}"))?;
    if p.model != "sha256-engine" {
        bail!(
            "hash-engine: peripheral {name:?} is a {:?}, not a \
             \"sha256-engine\"",
            p.model
        );
    }
    if !me.uses.contains(&p.index) {
        bail!(
            "hash-engine: {name:?} must be in this task's `uses`, or the \
             kernel refuses our access to it"
        );
    }
    let irq = me
        .interrupts
        .iter()
        .find(|i| i.peripheral == p.index && i.line == "done")
        .ok_or_else(|| {
            anyhow!(
                "hash-engine: route its IRQ to us: `interrupts = \
                 {{\"{name}.done\" = \"hash-done\"}}` (and \"hash-done\" \
                 in `notifications`, `irqs = [\"done\"]` on the peripheral)"
            )
        })?;
    let index = u16::try_from(p.index).context("peripheral index")?;
    Ok(Some((index, irq.mask())))
}

/// Checks the `watchdog` slot: called `jefe` (the name the code uses),
/// in our task-slots, naming the supervisor.
fn watchdog(
    app: &app_config::Config,
    me: &app_config::Task,
    slot: &str,
) -> Result<()> {
    if slot != "jefe" {
        bail!("watchdog: the slot must be called \"jefe\", not {slot:?}");
    }
    let s = me
        .task_slots
        .iter()
        .find(|s| s.name == slot)
        .ok_or_else(|| {
            anyhow!("watchdog: {slot:?} is not in this task's task-slots")
        })?;
    if s.task != 0 {
        let name = &app.tasks()[s.task].name;
        bail!("watchdog: slot {slot:?} names {name:?}, not the supervisor");
    }
    Ok(())
}

/// Checks device names (unique, short enough, at most 255 devices).
fn device_names(config: &Config) -> Result<Vec<&String>> {
    if config.devices.len() > usize::from(u8::MAX) {
        bail!("devices: at most 255 (indices are a u8)");
    }
    for (i, d) in config.devices.iter().enumerate() {
        if d.name.is_empty() || d.name.len() > NAME_LEN {
            bail!("devices[{i}].name: 1 to {NAME_LEN} bytes, not {:?}", d.name);
        }
    }
    unique(config.devices.iter().map(|d| &d.name), "devices")
}

/// The names in order, refusing repeats and more than 255.
fn unique<'a>(
    names: impl Iterator<Item = &'a String>,
    key: &str,
) -> Result<Vec<&'a String>> {
    let mut seen: Vec<&String> = Vec::new();
    for (i, n) in names.enumerate() {
        if seen.contains(&n) {
            bail!("{key}[{i}].name: {n:?} is used twice");
        }
        seen.push(n);
    }
    if seen.len() > usize::from(u8::MAX) {
        bail!("{key}: at most 255 (indices are a u8)");
    }
    Ok(seen)
}

fn index_of(names: &[&String], name: &str) -> Option<usize> {
    names.iter().position(|n| n.as_str() == name)
}

/// `"ice40"` as a NUL-padded `[u8; NAME_LEN]` literal.
fn padded(name: &str) -> String {
    let mut bytes: Vec<String> =
        name.bytes().map(|b| format!("{b:#04x}")).collect();
    bytes.resize(NAME_LEN, "0".to_string());
    format!("[{}]", bytes.join(", "))
}
