//! Turns jefe's part of app.toml into constants: the server stub from
//! `idl/jefe.idol`, the notification masks, and `jefe_config.rs` with the
//! restart policy and the mailing lists, every task and notification name
//! resolved to an index or a mask here, so that a typo fails the build
//! instead of a fault going unreported.
//!
//! Who may call which op is not jefe's config but the task's
//! `allowed-callers`, which the generated server enforces (as for any idol
//! server), with one difference: the watchdog ops are closed to every task
//! not listed, because faulting another task is not for any task with a
//! jefe slot.
//!
//! ```toml
//! [tasks.jefe]
//! allowed-callers = { Jefe = { set_disposition = ["hiffy", "test_suite"], arm_watchdog = ["fpga_mgr"], disarm_watchdog = ["fpga_mgr"] } }
//!
//! [tasks.jefe.config]
//! tasks-to-hold = ["fpga_mgr"]
//! # fpga_mgr hears of its drivers' faults; logger of every task's.
//! on-task-fault.fpga_mgr = { notification = "driver-fault", tasks = ["xc7"] }
//! on-task-fault.logger = "any-fault"
//! on-state-change = { fpga_mgr = "state-change" }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow, bail};
use app_config::Config;
use serde::Deserialize;

const IDL: &str = "../../idl/jefe.idol";

/// `[tasks.jefe.config]`; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct JefeConfig {
    /// Tasks whose disposition starts as `Hold`: when they fault, jefe
    /// leaves them faulted for inspection instead of restarting them.
    #[serde(default)]
    tasks_to_hold: Vec<String>,
    /// Tasks whose every fault jefe has the kernel record in a dump file
    /// (every task's memory and the task table) before anything restarts
    /// them, so the evidence survives a restart policy.
    #[serde(default)]
    dump_on_fault: Vec<String>,
    /// The fault mailing list: subscriber task name → what it is told.
    /// jefe posts the subscriber's named notification when a task it
    /// watches faults, and then waits `MIN_RESTART_DELAY` before the
    /// restart so the subscriber can read the fault.
    #[serde(default)]
    on_task_fault: BTreeMap<String, Subscription>,
    /// Task name → notification posted when `set_state` changes the
    /// system state.
    #[serde(default)]
    on_state_change: BTreeMap<String, String>,
    /// Where `allowed-callers` used to be; now refused with a pointer to
    /// the task key that replaced it.
    #[serde(default)]
    allowed_callers: Option<serde::de::IgnoredAny>,
}

/// Ops closed to every task that `allowed-callers` does not name.
const CLOSED_UNLESS_LISTED: &[&str] = &["arm_watchdog", "disarm_watchdog"];

/// One entry of `on-task-fault`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Subscription {
    /// `subscriber = "notification"`: told of every task's faults, as in
    /// Hubris.
    All(String),
    /// `subscriber = { notification = "...", tasks = [...] }`: told only
    /// of these tasks' faults (the FPGA manager watching its drivers).
    Some(Watch),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Watch {
    notification: String,
    tasks: Vec<String>,
}

fn main() {
    build_util::or_fail(run());
}

fn run() -> Result<()> {
    let iface = idol::load(IDL)?;
    let mut allowed = build_util::allowed_callers(&iface)?;
    for op in CLOSED_UNLESS_LISTED {
        if !allowed.is_restricted(op) {
            allowed.restrict(*op, []);
        }
    }
    idol::server::build_restricted_server_support(
        IDL,
        "server_stub.rs",
        idol::server::ServerStyle::InOrder,
        &allowed,
    )?;
    build_util::generate_notifications();
    let name = build_util::task_name();
    let path = build_util::app_toml_path();
    let app = Config::load(&path).map_err(|e| anyhow!("{e}"))?;
    let jefe: JefeConfig = build_util::task_maybe_config()?.unwrap_or_default();
    let key = format!("tasks.{name}.config");
    if jefe.allowed_callers.is_some() {
        bail!(
            "{}: {key}.allowed-callers: moved to the task: \
             `[tasks.{name}] allowed-callers = {{ Jefe = {{ op = [\"task\"] }} }}`",
            path.display()
        );
    }
    check_supervisor(&app, &name)?;
    let code = generate(&app, &jefe, &key)
        .with_context(|| format!("{}: {key}", path.display()))?;
    let out = std::env::var("OUT_DIR").context("OUT_DIR is not set")?;
    let file = std::path::Path::new(&out).join("jefe_config.rs");
    std::fs::write(&file, code)
        .with_context(|| format!("cannot write {}", file.display()))
}

/// jefe relies on being task 0 (the kernel's supervisor) with `fault` as
/// notification bit 0 (where the kernel posts faults) and a `timer`.
fn check_supervisor(app: &Config, name: &str) -> Result<()> {
    let task = app
        .task_by_name(name)
        .ok_or_else(|| anyhow!("no task named \"{name}\""))?;
    if task.index != 0 {
        bail!(
            "tasks.{name}: jefe must be the first task (the supervisor), \
             but it is task {}",
            task.index
        );
    }
    if task.notifications.first().map(String::as_str) != Some("fault") {
        bail!(
            "tasks.{name}.notifications: the first must be \"fault\" \
             (the kernel posts faults on bit 0)"
        );
    }
    if !task.notifications.iter().any(|n| n == "timer") {
        bail!("tasks.{name}.notifications: jefe needs a \"timer\"");
    }
    Ok(())
}

fn generate(app: &Config, jefe: &JefeConfig, key: &str) -> Result<String> {
    let mut out =
        String::from("// jefe's app.toml config, generated by build.rs.\n\n");
    let n = app.tasks().len();
    writeln!(
        out,
        "/// Tasks in the image.\npub const NUM_TASKS: usize = {n};"
    )?;

    let hold = jefe
        .tasks_to_hold
        .iter()
        .map(|t| task_index(app, t, &format!("{key}.tasks-to-hold")))
        .collect::<Result<Vec<_>>>()?;
    writeln!(
        out,
        "/// Tasks whose disposition starts as `Hold`.\n\
         pub const TASKS_TO_HOLD: &[u16] = &{hold:?};"
    )?;
    let dump = jefe
        .dump_on_fault
        .iter()
        .map(|t| task_index(app, t, &format!("{key}.dump-on-fault")))
        .collect::<Result<Vec<_>>>()?;
    writeln!(
        out,
        "/// Tasks whose faults are dumped (`dump-on-fault`).\n\
         pub const DUMP_ON_FAULT: &[u16] = &{dump:?};"
    )?;

    out.push_str(
        "/// The fault mailing list (`on-task-fault`).\n\
         pub const FAULT_MAILING_LIST: &[crate::FaultSubscriber] = &[\n",
    );
    for (subscriber, sub) in &jefe.on_task_fault {
        let at = format!("{key}.on-task-fault.{subscriber}");
        let (notification, watched) = match sub {
            Subscription::All(n) => (n, Vec::new()),
            Subscription::Some(w) => {
                let watched = w
                    .tasks
                    .iter()
                    .map(|t| task_index(app, t, &format!("{at}.tasks")))
                    .collect::<Result<Vec<_>>>()?;
                if watched.is_empty() {
                    bail!("{at}.tasks: empty; drop `tasks` to watch all");
                }
                (&w.notification, watched)
            }
        };
        let (task, mask) = recipient(app, subscriber, notification, &at)?;
        writeln!(
            out,
            "    crate::FaultSubscriber {{ recipient: crate::Recipient \
             {{ task: {task}, mask: {mask:#x} }}, watches: &{watched:?} }},"
        )?;
    }
    out.push_str("];\n");

    out.push_str(
        "/// Told when the system state changes (`on-state-change`).\n\
         pub const STATE_CHANGE_LIST: &[crate::Recipient] = &[\n",
    );
    for (subscriber, notification) in &jefe.on_state_change {
        let at = format!("{key}.on-state-change.{subscriber}");
        let (task, mask) = recipient(app, subscriber, notification, &at)?;
        writeln!(
            out,
            "    crate::Recipient {{ task: {task}, mask: {mask:#x} }},"
        )?;
    }
    out.push_str("];\n");
    Ok(out)
}

fn task_index(app: &Config, name: &str, at: &str) -> Result<u16> {
    let task = app
        .task_by_name(name)
        .ok_or_else(|| anyhow!("{at}: no task named \"{name}\""))?;
    if task.index == 0 {
        bail!("{at}: \"{name}\" is jefe itself (task 0)");
    }
    Ok(u16::try_from(task.index)?)
}

/// A subscriber's index and the mask of its named notification.
fn recipient(
    app: &Config,
    subscriber: &str,
    notification: &str,
    at: &str,
) -> Result<(u16, u32)> {
    let index = task_index(app, subscriber, at)?;
    let task = &app.tasks()[usize::from(index)];
    let mask = task.notification_mask(notification).ok_or_else(|| {
        anyhow!(
            "{at}: task \"{subscriber}\" has no notification \
             \"{notification}\" (it has {:?}); add it to its \
             `notifications`",
            task.notifications
        )
    })?;
    Ok((index, mask))
}
