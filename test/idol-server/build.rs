//! Generates the `IdolTest` server support from `idl/test-idol.idol`.

fn main() {
    if let Err(e) = idol::server::build_server_support(
        "../../idl/test-idol.idol",
        "server_stub.rs",
        idol::ServerStyle::InOrder,
    ) {
        println!("cargo::error={e}");
        std::process::exit(1);
    }
}
