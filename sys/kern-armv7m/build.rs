//! The task table is generated per image by `cargo xtask dist` (as
//! Hubris's kconfig is): it names the file in `LEASEHOLD_KCONFIG`, which
//! we copy to `OUT_DIR/kconfig.rs` for `config.rs` to include. Without
//! it (a plain `cargo check`) an empty table is used, which links but
//! boots nothing.
//!
//! The binary comes out as a relocatable object (the Thumb target's
//! rustflags in `.cargo/config.toml` say `-r`, as tasks need); xtask
//! links it with `kernel.ld`.

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=LEASEHOLD_KCONFIG");
    let text = match std::env::var_os("LEASEHOLD_KCONFIG") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", path.to_string_lossy());
            std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("cannot read {}: {e}", path.to_string_lossy())
            })
        }
        None => "pub const IMAGE_ID: u64 = 0;\n\
                 pub const TASK_COUNT: usize = 0;\n\
                 pub const PERIPHERAL_COUNT: usize = 0;\n\
                 pub static TASKS: [TaskConfig; TASK_COUNT] = [];\n\
                 pub static PERIPHERALS: [PeripheralConfig; PERIPHERAL_COUNT] = [];\n\
                 pub static IRQ_LINES: [IrqLine; 0] = [];\n"
            .to_owned(),
    };
    std::fs::write(out.join("kconfig.rs"), text).unwrap();
}
