//! `tests/shapes.idol` holds every construct Hubris's `idl/*.idol` files
//! use (the shapes of fmc-demo.idol, ignition-flash.idol, sprot.idol,
//! jefe.idol, fpga.idol, spi.idol), written for this test. It must parse,
//! check and generate both halves, with exactly the warnings the
//! non-idempotent `Simple` ops call for.

use std::path::Path;

fn shapes() -> idol::Interface {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shapes.idol");
    idol::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_hubris_construct_parses_in_file_order() {
    let iface = shapes();
    let names: Vec<String> =
        iface.ops.iter().map(|o| o.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "peek32",
            "poke16",
            "set_flag",
            "get_reg",
            "read_id",
            "bulk_erase",
            "page_program",
            "read",
            "select",
            "status",
            "write_one_block",
            "abort_update",
            "read_region",
            "attest",
            "set_mode",
            "get_mode",
            "set_wide",
            "read_counts",
            "set_reason",
            "restart_me_raw",
            "exchange",
        ]
    );
    let numbers: Vec<u16> = iface.ops.iter().map(|o| o.number).collect();
    assert_eq!(numbers, (1..=21).collect::<Vec<u16>>());
}

#[test]
fn each_nonidempotent_simple_op_warns_with_both_remedies() {
    let iface = shapes();
    let warned: Vec<&str> =
        iface.warnings.iter().map(|w| w.op.as_str()).collect();
    assert_eq!(
        warned,
        ["peek32", "poke16", "set_flag", "get_reg", "select"]
    );
    for w in &iface.warnings {
        let text = w.to_string();
        assert!(text.starts_with("shapes.idol: op `Shapes."), "{text}");
        assert!(text.contains("idempotent"), "{text}");
        assert!(text.contains("Result"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

#[test]
fn both_halves_generate_and_simple_ops_report_death() {
    let iface = shapes();
    let client = idol::client::generate_client_stub(&iface).expect("client");
    let server = idol::server::generate_server_support(
        &iface,
        idol::ServerStyle::InOrder,
    )
    .expect("server");
    // Compared without whitespace: the layout is prettyplease's.
    let flat: String = client.chars().filter(|c| !c.is_whitespace()).collect();
    // A non-idempotent Simple op's client method returns the reply
    // wrapped in a Result carrying the server's death.
    for signature in [
        "pubfnpeek32(&self,addr:u32,)->core::result::Result<u32,idol_runtime::ServerDeath>{",
        "pubfnselect(&self)->core::result::Result<(),idol_runtime::ServerDeath>{",
        // An idempotent Simple op keeps its plain return.
        "pubfnset_wide(&self,value:Wide){",
    ] {
        assert!(flat.contains(signature), "{signature} not in\n{client}");
    }
    for op in ["peek32", "read_id", "status", "attest", "exchange"] {
        assert!(server.contains(&format!("fn serve_{op}<")), "{op}");
    }
}
