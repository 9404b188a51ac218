//! Generates client and server code for every golden fixture.

fn main() {
    let fixtures = std::path::Path::new("../fixtures");
    for name in ["fpga", "spi", "jefe", "sampler"] {
        let path = fixtures.join(format!("{name}.idol"));
        idol::client::build_client_stub(&path, &format!("{name}_client.rs"))
            .unwrap();
        idol::server::build_server_support(
            &path,
            &format!("{name}_server.rs"),
            idol::ServerStyle::InOrder,
        )
        .unwrap();
    }
    // A restricted server compiles too: jefe's with one op closed to all
    // but tasks 2 and 5, and one closed to everyone.
    let mut allowed = idol::server::AllowedCallers::new();
    allowed.restrict("set_state", [2, 5]);
    allowed.restrict("request_reset", []);
    idol::server::build_restricted_server_support(
        fixtures.join("jefe.idol"),
        "jefe_restricted_server.rs",
        idol::ServerStyle::InOrder,
        &allowed,
    )
    .unwrap();
}
