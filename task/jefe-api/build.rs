//! Generates the `Jefe` client stub from `idl/jefe.idol`.

fn main() {
    if let Err(e) =
        idol::client::build_client_stub("../../idl/jefe.idol", "client_stub.rs")
    {
        println!("cargo::error={e}");
        std::process::exit(1);
    }
}
