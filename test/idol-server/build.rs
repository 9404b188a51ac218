//! Generates the `IdolTest` server support from `idl/test-idol.idol`,
//! restricted as the image's app.toml `allowed-callers` says.

fn main() {
    build_util::or_fail(build_util::build_server_support(
        "../../idl/test-idol.idol",
        "server_stub.rs",
    ));
}
