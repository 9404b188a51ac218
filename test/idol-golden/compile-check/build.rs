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
}
