fn main() {
    build_util::generate_notifications();
    println!("cargo::rerun-if-env-changed=INJECTION_SEED");
    let config = build_util::app_config();
    let mut missing = Vec::new();
    let mut index = |name: &str| match config.task_by_name(name) {
        Some(t) => t.index,
        None => {
            missing.push(name.to_owned());
            0
        }
    };
    let names = [
        "jefe", "ice40", "xc7", "fpga_mgr", "client_a", "client_b", "store",
    ];
    let mut indices: Vec<usize> = names.iter().map(|n| index(n)).collect();
    // The ECP5 and its client come together or not at all (the mps2
    // variant leaves them out; see test/injection-mps2.toml).
    let ecp5 = ["ecp5", "client_c"].map(|n| config.task_by_name(n));
    let has_ecp5 = match ecp5 {
        [Some(d), Some(c)] => {
            indices.extend([d.index, c.index]);
            true
        }
        [None, None] => {
            // Never used: every ECP5 case and client-c step is skipped.
            indices.extend([usize::from(u16::MAX); 2]);
            false
        }
        _ => {
            println!(
                "cargo::error=the campaign needs both tasks ecp5 and client_c, or neither"
            );
            return;
        }
    };
    if !missing.is_empty() {
        println!(
            "cargo::error=the campaign needs tasks named {}",
            missing.join(", ")
        );
        return;
    }
    let this = config.task_by_name(&build_util::task_name());
    let seed = match std::env::var("INJECTION_SEED") {
        Ok(s) => match s.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                println!("cargo::error=INJECTION_SEED `{s}` is not a u64");
                return;
            }
        },
        Err(_) => this
            .and_then(|t| t.config.get("seed"))
            .and_then(|v| v.as_u64())
            .unwrap_or(0x1EA5_E401D),
    };
    let consts = format!(
        "pub const JEFE: usize = {};\npub const ICE40: usize = {};\n\
         pub const XC7: usize = {};\npub const MGR: usize = {};\n\
         pub const CLIENT_A: usize = {};\npub const CLIENT_B: usize = {};\n\
         pub const STORE: usize = {};\npub const ECP5: usize = {};\n\
         pub const CLIENT_C: usize = {};\npub const HAS_ECP5: bool = {has_ecp5};\n\
         pub const TASKS: usize = {};\npub const SEED: u64 = {seed:#x};",
        indices[0],
        indices[1],
        indices[2],
        indices[3],
        indices[4],
        indices[5],
        indices[6],
        indices[7],
        indices[8],
        config.tasks().len()
    );
    build_util::write_out("tasks.rs", &(consts + "\n"));
}
