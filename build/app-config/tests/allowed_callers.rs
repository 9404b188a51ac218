//! `allowed-callers`: who may call a task's idol interfaces. app-config
//! resolves the callers and checks their names; whether the interface and
//! its ops exist is checked against the `.idol` files by xtask (see
//! `build/xtask/src/callers.rs`).

use app_config::{CallerScope, Config};

const HEAD: &str = "name = \"t\"\nboard = \"hosted\"\nstacksize = 1024\n";

/// jefe with `allowed` on it, then `ping` and `pong` (which call it), idle.
fn image(allowed: &str) -> String {
    format!(
        "{HEAD}[tasks.jefe]\nname = \"task-jefe\"\npriority = 0\n\
         notifications = [\"fault\"]\n{allowed}\n\
         [tasks.ping]\nname = \"ping\"\npriority = 1\ntask-slots = [\"jefe\"]\n\
         [tasks.pong]\nname = \"pong\"\npriority = 2\ntask-slots = [\"jefe\"]\n\
         [tasks.idle]\nname = \"task-idle\"\npriority = 3\n"
    )
}

fn parse(allowed: &str) -> Config {
    Config::parse(&image(allowed), "app.toml").expect("valid")
}

fn error(allowed: &str) -> String {
    match Config::parse(&image(allowed), "app.toml") {
        Ok(_) => panic!("accepted: {allowed}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn no_entry_means_open() {
    let c = parse("");
    assert!(c.tasks()[0].allowed_callers.is_empty());
}

#[test]
fn per_op_lists_resolve_to_task_indices_and_leave_other_ops_open() {
    let c = parse(
        r#"allowed-callers = { Jefe = { set_state = ["pong", "ping"], request_reset = [] } }"#,
    );
    let entry = &c.tasks()[0].allowed_callers[0];
    assert_eq!(entry.interface, "Jefe");
    assert_eq!(entry.for_op("set_state"), Some(&[2, 1][..]));
    assert_eq!(entry.for_op("request_reset"), Some(&[][..]));
    assert_eq!(entry.for_op("get_state"), None);
    let names: Vec<&str> = entry.op_names().collect();
    assert_eq!(names, ["set_state", "request_reset"]);
}

#[test]
fn a_list_restricts_the_whole_interface() {
    let c = parse(r#"allowed-callers = { Jefe = ["ping"] }"#);
    let entry = &c.tasks()[0].allowed_callers[0];
    assert_eq!(entry.scope, CallerScope::Interface(vec![1]));
    assert_eq!(entry.for_op("anything"), Some(&[1][..]));
    assert_eq!(entry.op_names().count(), 0);
}

#[test]
fn the_table_form_under_the_task_works_too() {
    let c =
        parse("[tasks.jefe.allowed-callers.Jefe]\nset_state = [\"ping\"]\n");
    assert_eq!(
        c.tasks()[0].allowed_callers[0].for_op("set_state"),
        Some(&[1][..])
    );
}

#[test]
fn an_unknown_caller_names_the_key() {
    assert_eq!(
        error(r#"allowed-callers = { Jefe = { set_state = ["pnig"] } }"#),
        "app.toml: tasks.jefe.allowed-callers.Jefe.set_state: no task named \"pnig\""
    );
    assert_eq!(
        error(r#"allowed-callers = { Jefe = ["pnig"] }"#),
        "app.toml: tasks.jefe.allowed-callers.Jefe: no task named \"pnig\""
    );
}

#[test]
fn a_caller_listed_twice_is_refused() {
    assert_eq!(
        error(
            r#"allowed-callers = { Jefe = { set_state = ["ping", "ping"] } }"#
        ),
        "app.toml: tasks.jefe.allowed-callers.Jefe.set_state: \"ping\" is listed twice"
    );
}

#[test]
fn names_that_cannot_be_interfaces_or_ops_are_refused() {
    assert_eq!(
        error(r#"allowed-callers = { "Je fe" = ["ping"] }"#),
        "app.toml: tasks.jefe.allowed-callers.\"Je fe\": \"Je fe\" is not an interface name"
    );
    assert_eq!(
        error(r#"allowed-callers = { Jefe = { "set-state" = ["ping"] } }"#),
        "app.toml: tasks.jefe.allowed-callers.Jefe.set-state: \"set-state\" is not an op name"
    );
}

#[test]
fn an_empty_table_says_what_to_write() {
    let e = error("allowed-callers = { Jefe = {} }");
    assert!(
        e.starts_with("app.toml: tasks.jefe.allowed-callers.Jefe: empty table"),
        "{e}"
    );
}

#[test]
fn a_wrong_shape_is_one_line_saying_what_fits() {
    for bad in [
        "allowed-callers = { Jefe = \"ping\" }",
        "allowed-callers = { Jefe = { set_state = \"ping\" } }",
        "allowed-callers = { Jefe = [1] }",
        "allowed-callers = [\"ping\"]",
    ] {
        let e = error(bad);
        assert!(e.starts_with("app.toml:"), "{bad}: {e}");
        assert!(!e.contains('\n'), "{bad}: {e}");
        assert!(e.contains("allowed-callers"), "{bad}: {e}");
    }
}
