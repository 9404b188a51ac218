use std::io::Write;

fn main() {
    build_util::generate_notifications();
    let path = build_util::app_toml_path();
    let config = match app_config::Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            println!("cargo::error={e}");
            return;
        }
    };
    let index = |name: &str| config.task_by_name(name).map_or(0, |t| t.index);
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_default())
            .join("tasks.rs");
    let mut f = match std::fs::File::create(&out) {
        Ok(f) => f,
        Err(e) => {
            println!("cargo::error=cannot write {}: {e}", out.display());
            return;
        }
    };
    let _ = writeln!(
        f,
        "pub const FUZZ: usize = {};\npub const PONG: usize = {};\npub const TASKS: usize = {};",
        index("fuzz"),
        index("pong"),
        config.tasks().len()
    );
}
