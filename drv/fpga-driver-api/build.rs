//! Generates the `FpgaDriver` client stub from `idl/fpga-driver.idol`.

fn main() {
    let idol = "../../idl/fpga-driver.idol";
    println!("cargo::rerun-if-changed={idol}");
    if let Err(e) = idol::client::build_client_stub(idol, "client_stub.rs") {
        println!("cargo::error={idol}: {e}");
        std::process::exit(1);
    }
}
