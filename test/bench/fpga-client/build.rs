use std::io::Write;

fn main() {
    let path = build_util::app_toml_path();
    let config = match app_config::Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            println!("cargo::error={e}");
            return;
        }
    };
    let Some(xc7) = config.task_by_name("xc7") else {
        println!("cargo::error=the FPGA benchmark needs a task named xc7");
        return;
    };
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_default())
            .join("tasks.rs");
    if let Err(e) = std::fs::File::create(&out)
        .and_then(|mut f| writeln!(f, "pub const XC7: usize = {};", xc7.index))
    {
        println!("cargo::error=cannot write {}: {e}", out.display());
    }
}
