//! `cargo xtask graph`: an image's tasks as a Graphviz graph.
//!
//! One box per task (its index, priority and notification names), one
//! ellipse per peripheral. Edges say who may reach whom:
//!
//! - a solid arrow from a task to each task in its `task-slots` (labelled
//!   with the slot name when it differs from the callee's), which always
//!   points up in importance;
//! - a bold open-headed arrow labelled `post` from a task to each task in
//!   its `post-to` (POST is a capability too; a task may always post to
//!   its task slots, so those have no second edge), which may point down;
//! - a dashed arrow from a task to each peripheral it `uses`;
//! - a dotted arrow for each notification someone else raises: from a
//!   peripheral for each routed IRQ (`irq → notification`), and from the
//!   kernel to the supervisor for `fault`.
//!
//! Render it with `cargo xtask graph app.toml | dot -Tsvg > image.svg`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};
use app_config::Config;

pub fn graph(app_toml: &Path) -> Result<()> {
    let config = Config::load(app_toml).map_err(|e| anyhow!("{e}"))?;
    print!("{}", dot(&config));
    Ok(())
}

/// The DOT text for `config`.
pub fn dot(config: &Config) -> String {
    let mut out = format!("digraph {} {{\n", quote(config.name()));
    out.push_str("    rankdir = BT;\n    node [shape = box];\n");
    for t in config.tasks() {
        let mut label =
            format!("{}\\ntask {}, priority {}", t.name, t.index, t.priority);
        if !t.notifications.is_empty() {
            let _ = write!(
                label,
                "\\nnotifications: {}",
                t.notifications.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "    {} [label = \"{label}\"];",
            quote(&task_node(&t.name))
        );
    }
    for p in config.peripherals() {
        let _ = writeln!(
            out,
            "    {} [shape = ellipse, label = \"{}\\n{}\"];",
            quote(&peripheral_node(&p.name)),
            p.name,
            p.model
        );
    }
    if let Some(sup) = config.supervisor() {
        out.push_str("    \"kernel\" [shape = diamond];\n");
        let _ = writeln!(
            out,
            "    \"kernel\" -> {} [style = dotted, label = \"{}\"];",
            quote(&task_node(&sup.name)),
            app_config::FAULT_NOTIFICATION_NAME
        );
    }
    for t in config.tasks() {
        let from = quote(&task_node(&t.name));
        for slot in &t.task_slots {
            let Some(callee) = config.task(slot.task) else {
                continue;
            };
            let label = if slot.name == callee.name {
                String::new()
            } else {
                format!(" [label = {}]", quote(&slot.name))
            };
            let _ = writeln!(
                out,
                "    {from} -> {}{label};",
                quote(&task_node(&callee.name))
            );
        }
        for &target in &t.post_to {
            if let Some(target) = config.task(target) {
                let _ = writeln!(
                    out,
                    "    {from} -> {} [style = bold, arrowhead = empty, label = \"post\"];",
                    quote(&task_node(&target.name))
                );
            }
        }
        for &p in &t.uses {
            if let Some(p) = config.peripherals().get(p) {
                let _ = writeln!(
                    out,
                    "    {from} -> {} [style = dashed];",
                    quote(&peripheral_node(&p.name))
                );
            }
        }
        for irq in &t.interrupts {
            let (Some(p), Some(n)) = (
                config.peripherals().get(irq.peripheral),
                t.notifications.get(irq.notification),
            ) else {
                continue;
            };
            let _ = writeln!(
                out,
                "    {} -> {from} [style = dotted, label = \"{} → {n}\"];",
                quote(&peripheral_node(&p.name)),
                irq.line
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Tasks and peripherals may share a name (`ice40` is both in the default
/// image), so their node ids carry a kind.
fn task_node(name: &str) -> String {
    format!("task:{name}")
}

fn peripheral_node(name: &str) -> String {
    format!("peripheral:{name}")
}

/// A DOT quoted id. Names are validated (task and peripheral names:
/// lowercase, digits, `-`, `_`; the image name: a file-name-safe
/// identifier), but escape anyway: the quoting must not depend on it.
fn quote(id: &str) -> String {
    format!("\"{}\"", id.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_posts_uses_irqs_and_the_fault_notification_are_edges() {
        let text = r#"
            name = "g-1"
            board = "hosted"
            stacksize = 1024
            [tasks.jefe]
            name = "task-jefe"
            priority = 0
            notifications = ["fault", "timer"]
            [tasks.drv]
            name = "drv"
            priority = 1
            uses = ["spi"]
            notifications = ["spi-irq"]
            interrupts = {"spi.irq" = "spi-irq"}
            task-slots = [{sys = "jefe"}]
            post-to = ["idle"]
            [tasks.idle]
            name = "task-idle"
            priority = 2
            task-slots = ["drv"]
            [peripherals.spi]
            model = "spi-controller"
            irqs = ["irq"]
        "#;
        let c = Config::parse(text, "app.toml").expect("valid");
        let dot = dot(&c);
        assert!(dot.starts_with("digraph \"g-1\" {\n"), "{dot}");
        for line in [
            "\"task:drv\" -> \"task:jefe\" [label = \"sys\"];",
            "\"task:idle\" -> \"task:drv\";",
            "\"task:drv\" -> \"task:idle\" [style = bold, arrowhead = empty, label = \"post\"];",
            "\"task:drv\" -> \"peripheral:spi\" [style = dashed];",
            "\"peripheral:spi\" -> \"task:drv\" [style = dotted, label = \"irq → spi-irq\"];",
            "\"kernel\" -> \"task:jefe\" [style = dotted, label = \"fault\"];",
            "\"task:jefe\" [label = \"jefe\\ntask 0, priority 0\\nnotifications: fault, timer\"];",
        ] {
            assert!(dot.contains(line), "missing {line} in\n{dot}");
        }
        assert!(dot.ends_with("}\n"));
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quote(r#"g "1" \ x"#), r#""g \"1\" \\ x""#);
    }
}
