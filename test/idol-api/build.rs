//! Generates the `IdolTest` client stub from `idl/test-idol.idol`.

fn main() {
    if let Err(e) = idol::client::build_client_stub(
        "../../idl/test-idol.idol",
        "client_stub.rs",
    ) {
        println!("cargo::error={e}");
        std::process::exit(1);
    }
}
