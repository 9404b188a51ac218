fn main() {
    let config = build_util::app_config();
    let Some(xc7) = config.task_by_name("xc7") else {
        println!("cargo::error=the FPGA benchmark needs a task named xc7");
        std::process::exit(1);
    };
    build_util::write_out(
        "tasks.rs",
        &format!("pub const XC7: usize = {};\n", xc7.index),
    );
}
