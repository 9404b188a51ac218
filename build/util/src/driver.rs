//! The build script of every FPGA driver task, as one call: the
//! `FpgaDriver` server stub and `config.rs`, this driver instance's wiring
//! from app.toml:
//!
//! ```toml
//! [tasks.ice40]
//! name = "drv-ice40-spi"
//! uses = ["spi-ice40", "gpio-ice40"]
//! post-to = ["fpga_mgr"]
//! config = { spi = "spi-ice40", gpio = "gpio-ice40", creset-b = 0,
//!            cdone = 1, manager = "fpga_mgr",
//!            announce-notification = "ice40-up" }
//! ```
//!
//! Every driver's `config` has the four wiring keys (`spi`, `gpio`,
//! `manager`, `announce-notification`) and the GPIO lines its device
//! needs, which the driver lists as [`Line`]s. Names are resolved to
//! indices here, against the same app.toml xtask builds the image from,
//! so a wrong name fails the build with the key that holds it rather than
//! faulting the task at run time.

use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow, bail};
use app_config::{Config, Task};
use serde_json::Value;

/// The `.idol` file every driver serves, relative to a driver crate.
const FPGA_DRIVER_IDOL: &str = "../../idl/fpga-driver.idol";

/// The wiring keys every driver's `config` has.
const WIRING_KEYS: [&str; 4] =
    ["spi", "gpio", "manager", "announce-notification"];

/// A GPIO line a driver's `config` names: `key` (kebab-case, as in
/// app.toml) becomes the constant `KEY` in `config.rs`, a `u32`, or an
/// `Option<u32>` for a line boards may leave unwired.
#[derive(Copy, Clone, Debug)]
pub struct Line {
    /// The key in app.toml, e.g. `creset-b`.
    pub key: &'static str,
    /// Whether every board must wire it.
    pub required: bool,
}

impl Line {
    /// A line every board wires.
    pub const fn required(key: &'static str) -> Self {
        Line {
            key,
            required: true,
        }
    }

    /// A line some boards wire.
    pub const fn optional(key: &'static str) -> Self {
        Line {
            key,
            required: false,
        }
    }
}

/// A driver's whole build script: generates `server_stub.rs` (with the
/// task's `allowed-callers`) and `config.rs` in `OUT_DIR`. Host builds of
/// a driver's library half (its unit tests) have no app.toml, so only
/// task builds (no OS) generate anything. Errors go to cargo with the key
/// that caused them, and the build stops.
pub fn build_driver(lines: &[Line]) {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    if let Err(e) = generate(lines) {
        println!("cargo::error={e:#}");
        std::process::exit(1);
    }
}

fn generate(lines: &[Line]) -> Result<()> {
    println!("cargo::rerun-if-changed={FPGA_DRIVER_IDOL}");
    crate::build_server_support(FPGA_DRIVER_IDOL, "server_stub.rs")
        .map_err(|e| anyhow!("{FPGA_DRIVER_IDOL}: {e:#}"))?;
    let (app, task) = crate::load_config()?;
    let code = config_code(&app, &task, lines)?;
    let dir = std::env::var("OUT_DIR").context("OUT_DIR")?;
    let path = std::path::Path::new(&dir).join("config.rs");
    std::fs::write(&path, code)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `config.rs` for driver `task`: `SPI`, `GPIO`, `MANAGER`,
/// `ANNOUNCE_MASK` and one constant per line.
///
/// # Errors
///
/// A missing, unknown or mistyped key, a peripheral the task may not use,
/// a bad line, or a manager the driver cannot announce itself to; the
/// message names the key.
pub fn config_code(
    app: &Config,
    task: &Task,
    lines: &[Line],
) -> Result<String> {
    let prefix = format!("tasks.{}.config", task.name);
    let Some(table) = task.config.as_object() else {
        bail!(
            "{prefix}: a driver needs a `config` table with {}",
            expected(lines)
        );
    };
    for key in table.keys() {
        if !WIRING_KEYS.contains(&key.as_str())
            && !lines.iter().any(|l| l.key == key)
        {
            bail!(
                "{prefix}.{key}: unknown key; a driver's config has {}",
                expected(lines)
            );
        }
    }
    let text = |key: &str| -> Result<&str> {
        match table.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => bail!("{prefix}.{key}: must be a name (a string)"),
            None => bail!("{prefix}.{key}: missing"),
        }
    };
    let key = |k: &str| format!("{prefix}.{k}");
    let spi = granted(app, task, text("spi")?).with_context(|| key("spi"))?;
    let gpio =
        granted(app, task, text("gpio")?).with_context(|| key("gpio"))?;
    let (manager_index, mask) =
        manager(app, task, text("manager")?, text("announce-notification")?)
            .with_context(|| key("manager"))?;

    let mut wired = Vec::new();
    for line in lines {
        match table.get(line.key) {
            None if line.required => {
                bail!("{prefix}.{}: missing (a GPIO line, 0..=31)", line.key)
            }
            None => {}
            Some(v) => {
                let n = v
                    .as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| {
                        anyhow!(
                            "{prefix}.{}: {v} is not a GPIO line (0..=31)",
                            line.key
                        )
                    })?;
                wired.push((line.key, n));
            }
        }
    }
    check_lines(&wired).with_context(|| key("<gpio line>"))?;

    let mut out = format!(
        "// Driver task `{task}`'s wiring, from app.toml; generated by \
         build_util::driver.\n\
         /// Index of the SPI controller peripheral (`{spi_name}`).\n\
         pub const SPI: u16 = {spi};\n\
         /// Index of the GPIO peripheral (`{gpio_name}`).\n\
         pub const GPIO: u16 = {gpio};\n\
         /// Task index of the manager (`{manager_name}`).\n\
         pub const MANAGER: usize = {manager_index};\n\
         /// The manager's `{notification}` notification.\n\
         pub const ANNOUNCE_MASK: u32 = {mask:#010x};\n",
        task = task.name,
        spi_name = text("spi")?,
        gpio_name = text("gpio")?,
        manager_name = text("manager")?,
        notification = text("announce-notification")?,
    );
    for line in lines {
        let name = crate::upper_snake(line.key);
        let value = wired.iter().find(|(k, _)| *k == line.key).map(|(_, n)| *n);
        let _ = match (line.required, value) {
            (true, Some(n)) => writeln!(
                out,
                "/// GPIO line wired to {name}.\npub const {name}: u32 = {n};"
            ),
            (false, Some(n)) => writeln!(
                out,
                "/// GPIO line wired to {name}, if any.\npub const {name}: Option<u32> = Some({n});"
            ),
            (_, None) => writeln!(
                out,
                "/// GPIO line wired to {name}, if any.\npub const {name}: Option<u32> = None;"
            ),
        };
    }
    Ok(out)
}

/// The keys a driver's config takes, for error messages.
fn expected(lines: &[Line]) -> String {
    let mut keys: Vec<String> =
        WIRING_KEYS.iter().map(|k| format!("`{k}`")).collect();
    keys.extend(lines.iter().map(|l| {
        if l.required {
            format!("`{}`", l.key)
        } else {
            format!("`{}` (optional)", l.key)
        }
    }));
    keys.join(", ")
}

/// The index of peripheral `name`, which `task` must be granted.
pub fn granted(
    app: &app_config::Config,
    task: &app_config::Task,
    name: &str,
) -> Result<u16> {
    let p = app
        .peripheral_by_name(name)
        .ok_or_else(|| anyhow!("no peripheral named \"{name}\""))?;
    if !task.uses.contains(&p.index) {
        bail!("peripheral \"{name}\" is not in the task's `uses`; add it");
    }
    u16::try_from(p.index).context("peripheral index")
}

/// Lines must exist and be distinct: two pins on one line would make the
/// driver read its own drive back.
pub fn check_lines(lines: &[(&str, u8)]) -> Result<()> {
    for (i, (key, line)) in lines.iter().enumerate() {
        if *line >= 32 {
            bail!("`{key}` = {line}: a GPIO block has lines 0..=31");
        }
        if let Some((other, _)) = lines[..i].iter().find(|(_, l)| l == line) {
            bail!("`{key}` and `{other}` are both line {line}");
        }
    }
    Ok(())
}

/// The manager's task index and the mask of its announce notification.
pub fn manager(
    app: &app_config::Config,
    task: &app_config::Task,
    manager: &str,
    notification: &str,
) -> Result<(usize, u32)> {
    let m = app
        .task_by_name(manager)
        .ok_or_else(|| anyhow!("no task named \"{manager}\""))?;
    if m.priority <= task.priority {
        bail!(
            "the manager \"{manager}\" (priority {}) must be less important \
             than this driver (priority {}): it sends to us",
            m.priority,
            task.priority
        );
    }
    if !task.post_to.contains(&m.index) {
        bail!(
            "the driver announces itself to its manager by POST, which needs \
             the capability: add \"{manager}\" to this task's `post-to`"
        );
    }
    let mask = m.notification_mask(notification).ok_or_else(|| {
        anyhow!(
            "task \"{manager}\" has no notification \"{notification}\" \
             (announce-notification); add it to its `notifications`"
        )
    })?;
    Ok((m.index, mask))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"
        name = "drivers"
        board = "hosted"
        stacksize = 1024
        [peripherals.spi-a]
        model = "spi-controller"
        [peripherals.gpio-a]
        model = "gpio"
        [peripherals.gpio-b]
        model = "gpio"
        [tasks.jefe]
        name = "task-jefe"
        priority = 0
        notifications = ["fault"]
        [tasks.drv]
        name = "drv-any"
        priority = 1
        uses = ["spi-a", "gpio-a"]
        post-to = ["mgr"]
        config = { spi = "spi-a", gpio = "gpio-a", manager = "mgr", announce-notification = "up", reset = 3, done = 4 }
        [tasks.mgr]
        name = "task-fpga-mgr"
        priority = 2
        notifications = ["timer", "up"]
        [tasks.idle]
        name = "task-idle"
        priority = 3
    "#;

    const LINES: [Line; 3] = [
        Line::required("reset"),
        Line::required("done"),
        Line::optional("ss-b"),
    ];

    fn code_for(
        edit: impl Fn(&mut serde_json::Map<String, Value>),
    ) -> Result<String> {
        let app = Config::parse(APP, "app.toml").expect("valid");
        let mut task = app.task_by_name("drv").cloned().expect("drv");
        edit(task.config.as_object_mut().expect("table"));
        config_code(&app, &task, &LINES)
    }

    #[test]
    fn wiring_and_lines_become_constants() {
        let code = code_for(|_| {}).expect("valid");
        assert!(code.contains("pub const SPI: u16 = 0;"), "{code}");
        assert!(code.contains("pub const GPIO: u16 = 1;"), "{code}");
        assert!(code.contains("pub const MANAGER: usize = 2;"), "{code}");
        assert!(
            code.contains("pub const ANNOUNCE_MASK: u32 = 0x00000002;"),
            "{code}"
        );
        assert!(code.contains("pub const RESET: u32 = 3;"), "{code}");
        assert!(code.contains("pub const DONE: u32 = 4;"), "{code}");
        assert!(
            code.contains("pub const SS_B: Option<u32> = None;"),
            "{code}"
        );
        let code = code_for(|t| {
            t.insert("ss-b".into(), 7.into());
        })
        .expect("valid");
        assert!(
            code.contains("pub const SS_B: Option<u32> = Some(7);"),
            "{code}"
        );
    }

    fn error(edit: impl Fn(&mut serde_json::Map<String, Value>)) -> String {
        format!("{:#}", code_for(edit).expect_err("must be refused"))
    }

    #[test]
    fn each_mistake_names_its_key() {
        let e = error(|t| {
            t.insert("cdone".into(), 1.into());
        });
        assert!(e.starts_with("tasks.drv.config.cdone: unknown key"), "{e}");
        assert!(e.contains("`ss-b` (optional)"), "{e}");
        let e = error(|t| {
            t.remove("done");
        });
        assert!(e.starts_with("tasks.drv.config.done: missing"), "{e}");
        let e = error(|t| {
            t.insert("done".into(), 32.into());
        });
        assert!(e.contains("0..=31"), "{e}");
        let e = error(|t| {
            t.insert("done".into(), "four".into());
        });
        assert!(e.contains("tasks.drv.config.done"), "{e}");
        let e = error(|t| {
            t.insert("done".into(), 3.into());
        });
        assert!(e.contains("both line 3"), "{e}");
        let e = error(|t| {
            t.insert("gpio".into(), "gpio-b".into());
        });
        assert!(e.starts_with("tasks.drv.config.gpio"), "{e}");
        assert!(e.contains("not in the task's `uses`"), "{e}");
        let e = error(|t| {
            t.insert("spi".into(), 5.into());
        });
        assert!(e.starts_with("tasks.drv.config.spi: must be a name"), "{e}");
        let e = error(|t| {
            t.insert("announce-notification".into(), "down".into());
        });
        assert!(e.contains("no notification \"down\""), "{e}");
    }
}
