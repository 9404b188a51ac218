//! Generates `image.rs`: what the runner must know of its image, from the
//! app.toml xtask builds it from. This is the runner's image-specific
//! part; the code is the same for every image.
//!
//! - Whether the runner is the image's supervisor (task 0). A supervisor
//!   sees every fault (the kernel's fault notification) and restarts
//!   whatever a failed case left behind; a runner under another
//!   supervisor (jefe, in the FPGA image) hears only of the suite's
//!   faults, from that supervisor, and leaves the rest to its policy.
//! - Its `config` table, all optional:
//!   `fault-notification` (default `"fault"`), the notification that says
//!   a task faulted: the kernel's as supervisor, else the one the
//!   supervisor posts (jefe's `on-task-fault`); and `case-timeout-ms`
//!   (default 10 000), after which a running case has hung.
//! - The indices it restarts: the suite's, our own, the task count and
//!   the peripheral count; and with the `host-cases` feature the `gate`
//!   task's (see the crate docs).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::fmt::Write as _;

/// The runner's `config` table in app.toml.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RunnerConfig {
    fault_notification: Option<String>,
    case_timeout_ms: Option<u64>,
}

fn main() {
    build_util::or_fail(generate());
}

fn generate() -> Result<()> {
    let (config, this) = build_util::load_config()?;
    let name = &this.name;
    let ours: RunnerConfig =
        build_util::task_maybe_config()?.unwrap_or_default();
    let index_of = |task: &str| {
        config
            .tasks()
            .iter()
            .find(|t| t.name == task)
            .map(|t| t.index)
    };
    let suite = index_of("suite")
        .context("the runner needs a task named `suite` (the cases it runs)")?;
    let fault = ours.fault_notification.as_deref().unwrap_or("fault");
    let Some(bit) = this.notifications.iter().position(|n| n == fault) else {
        bail!(
            "tasks.{name}: no notification `{fault}` (the runner learns of \
             faults through it; set `config.fault-notification`)"
        );
    };
    let mut out = String::from(
        "/// This image's shape, from app.toml (the runner's build.rs).\n\
         #[allow(dead_code)]\nmod image {\n",
    );
    let mut line = |text: String| {
        let _ = writeln!(out, "    {text}");
    };
    line(format!("pub const THIS_TASK: usize = {};", this.index));
    line(format!("pub const SUPERVISOR: bool = {};", this.index == 0));
    line(format!("pub const SUITE: usize = {suite};"));
    line(format!(
        "pub const NUM_TASKS: usize = {};",
        config.tasks().len()
    ));
    line(format!(
        "pub const NUM_PERIPHERALS: usize = {};",
        config.peripherals().len()
    ));
    line(format!("pub const FAULT_MASK: u32 = 1 << {bit};"));
    line(format!(
        "pub const CASE_TIMEOUT_MS: u64 = {};",
        ours.case_timeout_ms.unwrap_or(10_000)
    ));
    if std::env::var_os("CARGO_FEATURE_HOST_CASES").is_some() {
        let gate = index_of("gate")
            .context("the `host-cases` runner needs a task named `gate`")?;
        line(format!("pub const GATE: usize = {gate};"));
    }
    out.push_str("}\n");
    let dir = std::env::var("OUT_DIR").context("OUT_DIR is not set")?;
    std::fs::write(format!("{dir}/image.rs"), out)
        .context("cannot write image.rs")?;
    build_util::generate_notifications();
    Ok(())
}
