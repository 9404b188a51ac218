fn main() {
    build_util::generate_notifications();
    let config = build_util::app_config();
    let index = |name: &str| config.task_by_name(name).map_or(0, |t| t.index);
    build_util::write_out(
        "tasks.rs",
        &format!(
            "pub const FUZZ: usize = {};\npub const PONG: usize = {};\n\
             pub const TASKS: usize = {};\n",
            index("fuzz"),
            index("pong"),
            config.tasks().len()
        ),
    );
}
