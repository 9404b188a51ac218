//! Build-script helpers for tasks: notification masks, peripheral indices
//! and task config from app.toml.
//!
//! `cargo xtask dist` builds every task with two environment variables set:
//! `LEASEHOLD_TASK_NAME` (the task's key under `[tasks]`) and
//! `LEASEHOLD_APP_TOML` (the absolute path of the image's app.toml). A
//! task's `build.rs` calls the functions here to turn its part of app.toml
//! into Rust constants in `OUT_DIR`, which `main.rs` then `include!`s:
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     build_util::generate_notifications();
//!     build_util::generate_peripherals();
//! }
//! // main.rs
//! include!(concat!(env!("OUT_DIR"), "/notifications.rs"));
//! ```
//!
//! A build script has no one to hand an error to but cargo, so the
//! generators report problems with `cargo::error=` and exit; only the
//! config readers, whose callers decide what a bad table means, return
//! `Result`.
//!
//! We deliberately re-read and re-check the whole app.toml with
//! `app-config` rather than receive pre-digested values through the
//! environment: the build script then sees exactly the indices and masks
//! xtask puts in the manifest.

#![forbid(unsafe_code)]

pub mod driver;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use app_config::{Config, Task};
use serde::de::DeserializeOwned;

/// Environment variable naming the task being built.
pub const TASK_NAME_ENV: &str = "LEASEHOLD_TASK_NAME";
/// Environment variable holding the absolute path of the image's app.toml.
pub const APP_TOML_ENV: &str = "LEASEHOLD_APP_TOML";

/// What a plain `cargo build` of a task is told.
const HOW_TO_BUILD: &str = "build tasks with `cargo xtask dist <app.toml>`";

/// The name of the task being built (its key under `[tasks]`).
///
/// Also tells cargo to rerun the build script when the task, the app.toml
/// path or the file's contents change.
///
/// # Panics
///
/// Never; if the variables are missing (a plain `cargo build`), it fails
/// the build with a `cargo::error=` saying how to build tasks.
pub fn task_name() -> String {
    println!("cargo::rerun-if-env-changed={TASK_NAME_ENV}");
    println!("cargo::rerun-if-env-changed={APP_TOML_ENV}");
    let name = required_env(TASK_NAME_ENV);
    let app_toml = required_env(APP_TOML_ENV);
    println!("cargo::rerun-if-changed={app_toml}");
    // The files app.toml inherits from shape the build as much as app.toml
    // itself does. A chain that cannot be read is reported by whatever
    // loads the configuration next.
    for file in app_config::inherit_chain(&app_toml).iter().skip(1) {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    name
}

/// The path of the image's app.toml (see [`task_name`] for the checks).
pub fn app_toml_path() -> PathBuf {
    // task_name prints the rerun lines and checks both variables.
    let _ = task_name();
    PathBuf::from(required_env(APP_TOML_ENV))
}

/// Writes `$OUT_DIR/notifications.rs`: a `notifications` module with
/// `<NAME>_MASK` for each of this task's notifications (bit `i` for entry
/// `i`) and `ALL_MASK`, their union.
pub fn generate_notifications() {
    let task = this_task().unwrap_or_else(|e| fail(&e));
    write_out("notifications.rs", &notifications_code(&task));
}

/// Writes `$OUT_DIR/peripherals.rs`: a `peripherals` module with one
/// `u16` constant per peripheral this task `uses`, holding its index (what
/// the kernel's peripheral calls take).
pub fn generate_peripherals() {
    let (config, task) = load_config().unwrap_or_else(|e| fail(&e));
    write_out("peripherals.rs", &peripherals_code(&config, &task));
}

/// Writes `$OUT_DIR/out_name`: server support for the idol interface in
/// `idl`, restricted as this task's app.toml `allowed-callers` says for
/// that interface (open when it says nothing). Every server task's build
/// script should use this rather than `idol::server` directly, so that
/// what app.toml restricts is restricted.
///
/// # Errors
///
/// If the `.idol` file or app.toml does not load, or app.toml names an op
/// the interface lacks.
pub fn build_server_support(
    idl: impl AsRef<Path>,
    out_name: &str,
) -> Result<()> {
    let iface = idol::load(idl.as_ref())?;
    let allowed = allowed_callers(&iface)?;
    idol::server::build_restricted_server_support(
        idl.as_ref(),
        out_name,
        idol::ServerStyle::InOrder,
        &allowed,
    )?;
    Ok(())
}

/// This task's app.toml `allowed-callers` for `iface`, as idol takes
/// them: a whole-interface list becomes one list per op.
///
/// # Errors
///
/// If app.toml cannot be loaded, or names an op `iface` lacks (the
/// message names the file and the key).
pub fn allowed_callers(
    iface: &idol::Interface,
) -> Result<idol::server::AllowedCallers> {
    let (config, task) = load_config()?;
    let key = format!("tasks.{}.allowed-callers", task.name);
    allowed_callers_of(&task, iface)
        .map_err(|e| anyhow!("{}: {e}", config.file_of(&key)))
}

fn allowed_callers_of(
    task: &Task,
    iface: &idol::Interface,
) -> Result<idol::server::AllowedCallers> {
    let mut out = idol::server::AllowedCallers::new();
    let name = iface.name.to_string();
    let Some(entry) = task.allowed_callers.iter().find(|a| a.interface == name)
    else {
        return Ok(out);
    };
    let ops: Vec<String> =
        iface.ops.iter().map(|o| o.name.to_string()).collect();
    for op in entry.op_names() {
        if !ops.iter().any(|o| o == op) {
            bail!(
                "tasks.{}.allowed-callers.{name}.{op}: interface {name} has \
                 no op `{op}` (it has {})",
                task.name,
                ops.join(", ")
            );
        }
    }
    for op in &ops {
        if let Some(callers) = entry.for_op(op) {
            let callers = callers.iter().map(|&c| {
                // Task indices are below MAX_TASKS, so they fit a u16.
                u16::try_from(c).unwrap_or(u16::MAX)
            });
            out.restrict(op.as_str(), callers);
        }
    }
    Ok(out)
}

/// This task's `config` table, deserialized.
///
/// # Errors
///
/// If app.toml cannot be loaded, the task has no `config` table, or the
/// table does not have `T`'s shape; the message names the key.
pub fn task_config<T: DeserializeOwned>() -> Result<T> {
    let task = this_task()?;
    task_maybe_config_of(&task)?.ok_or_else(|| {
        anyhow!("tasks.{}: this task needs a `config` table", task.name)
    })
}

/// This task's `config` table, deserialized, or `None` if it has none.
///
/// # Errors
///
/// As [`task_config`], except that a missing table is not an error.
pub fn task_maybe_config<T: DeserializeOwned>() -> Result<Option<T>> {
    task_maybe_config_of(&this_task()?)
}

fn task_maybe_config_of<T: DeserializeOwned>(task: &Task) -> Result<Option<T>> {
    if task.config.is_null() {
        return Ok(None);
    }
    serde_json::from_value(task.config.clone())
        .map(Some)
        .with_context(|| format!("tasks.{}.config", task.name))
}

/// Loads app.toml and finds the task being built: for a build script
/// that needs more of the image than its own task's entry.
///
/// # Errors
///
/// If app.toml cannot be loaded or has no task of this name.
pub fn load_config() -> Result<(Config, Task)> {
    let name = task_name();
    let path = app_toml_path();
    let config = Config::load(&path).map_err(|e| anyhow!("{e}"))?;
    let task = config.task_by_name(&name).cloned().ok_or_else(|| {
        anyhow!(
            "{}: no task named \"{name}\" ({TASK_NAME_ENV})",
            path.display()
        )
    })?;
    Ok((config, task))
}

/// The image's app.toml, or the build fails with its error (a build
/// script has no one else to tell).
pub fn app_config() -> Config {
    let path = app_toml_path();
    Config::load(&path).unwrap_or_else(|e| fail(&anyhow!("{e}")))
}

fn this_task() -> Result<Task> {
    load_config().map(|(_, task)| task)
}

/// One `pub const <TASK>: usize = <index>;` line per task of `config`
/// (names as [`upper_snake`] makes them), then `NUM_TASKS`: for test
/// tasks that must name tasks they have no slot for.
pub fn task_index_consts(config: &Config) -> String {
    let mut out = String::new();
    for t in config.tasks() {
        out += &format!(
            "    pub const {}: usize = {};\n",
            upper_snake(&t.name),
            t.index
        );
    }
    out + &format!(
        "    pub const NUM_TASKS: usize = {};\n",
        config.tasks().len()
    )
}

/// `ping-pong.fault` → `PING_PONG_FAULT`.
pub fn upper_snake(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '-' | '.' | ' ' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

fn notifications_code(task: &Task) -> String {
    let mut out = String::from(
        "/// Notification masks from app.toml, generated by build-util.\n\
         #[allow(dead_code)]\npub mod notifications {\n",
    );
    let mut all = 0u32;
    for (i, name) in task.notifications.iter().enumerate() {
        let _ = writeln!(
            out,
            "    pub const {}_MASK: u32 = 1 << {i};",
            upper_snake(name)
        );
        all |= 1u32
            .checked_shl(u32::try_from(i).unwrap_or(u32::MAX))
            .unwrap_or(0);
    }
    let _ = writeln!(out, "    pub const ALL_MASK: u32 = {all:#010x};\n}}");
    out
}

fn peripherals_code(config: &Config, task: &Task) -> String {
    let mut out = String::from(
        "/// Peripheral indices from app.toml, generated by build-util.\n\
         #[allow(dead_code)]\npub mod peripherals {\n",
    );
    for &index in &task.uses {
        if let Some(p) = config.peripherals().get(index) {
            let _ = writeln!(
                out,
                "    pub const {}: u16 = {index};",
                upper_snake(&p.name)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// The value of `r`, or the build fails with its error and causes (a
/// build script's `main` is `build_util::or_fail(generate())`).
pub fn or_fail<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| fail(&e))
}

/// Writes `code` to `$OUT_DIR/file`, or fails the build saying why.
pub fn write_out(file: &str, code: &str) {
    let dir = required_env("OUT_DIR");
    let path = Path::new(&dir).join(file);
    if let Err(e) = std::fs::write(&path, code) {
        fail(&anyhow!("cannot write {}: {e}", path.display()));
    }
}

fn required_env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => fail(&anyhow!("{var} is not set: {HOW_TO_BUILD}")),
    }
}

/// Fails the build with one cargo error line.
fn fail(e: &anyhow::Error) -> ! {
    println!("cargo::error={e:#}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"
        name = "tiny"
        board = "hosted"
        stacksize = 1024
        [peripherals.spi1]
        model = "spi-controller"
        [peripherals.gpio-a]
        model = "gpio"
        [tasks.jefe]
        name = "task-jefe"
        priority = 0
        max-sizes = {flash = 8192, ram = 8192}
        notifications = ["fault", "timer-tick"]
        uses = ["gpio-a"]
        config = { retries = 3 }
        [tasks.idle]
        name = "task-idle"
        priority = 1
        max-sizes = {flash = 128, ram = 8192}
    "#;

    fn jefe() -> (Config, Task) {
        let config = Config::parse(APP, "app.toml").expect("valid");
        let task = config.task_by_name("jefe").cloned().expect("jefe");
        (config, task)
    }

    #[test]
    fn notification_masks_are_bits_in_order_with_their_union() {
        let code = notifications_code(&jefe().1);
        assert!(code.contains("pub const FAULT_MASK: u32 = 1 << 0;"));
        assert!(code.contains("pub const TIMER_TICK_MASK: u32 = 1 << 1;"));
        assert!(code.contains("pub const ALL_MASK: u32 = 0x00000003;"));
    }

    #[test]
    fn peripheral_constants_hold_global_indices_of_used_ones_only() {
        let (config, task) = jefe();
        let code = peripherals_code(&config, &task);
        assert!(code.contains("pub const GPIO_A: u16 = 1;"));
        assert!(!code.contains("SPI1"));
    }

    #[test]
    fn config_table_deserializes_and_names_the_key_on_mismatch() {
        #[derive(serde::Deserialize)]
        struct Good {
            retries: u32,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Bad {
            missing: u32,
        }
        let task = jefe().1;
        let good: Option<Good> = task_maybe_config_of(&task).expect("ok");
        assert_eq!(good.map(|g| g.retries), Some(3));
        let err = task_maybe_config_of::<Bad>(&task).expect_err("mismatch");
        assert!(format!("{err:#}").starts_with("tasks.jefe.config"));
    }
}
