//! Hubris-style `.idol` text parses, with its quirks, and op numbers follow
//! file order.

/// Quirks seen in Hubris's idl/ folder: `//` comments, spaces before colons
/// and parentheses, `args: { }`, tabs, trailing commas, fields in any
/// order, `description`, `From` with a function.
const HUBRIS_STYLE: &str = r#"
// Update interface, in the style of Hubris's idl files
Interface(
    name: "Update",
    ops: {
        "block_size": (
            doc: "The block size",
            args: { },
            reply : Result (
                ok: "usize",
                err: CLike("UpdateError"),
            ),
            idempotent: true,
        ),
        "write_one_block": (
            encoding: Hubpack,
            description: "Writes one block",
            args: {
		"block_num" : "u32",
            },
            leases : {
                "block": (type: "[u8]", read: true, max_len: Some(512)),
            },
            reply: Result(
                ok: "()",
                err: Complex("UpdateError"),
            ),
        ),
        "status": (
            reply: Simple((type: "Status", recv: From("u8", Some("Status::decode")))),
            idempotent: true,
        ),
        "abort": (
            reply: Result(ok: "()", err: ServerDeath),
        ),
    },
)
"#;

#[test]
fn hubris_style_text_parses() {
    let iface = idol::parse(HUBRIS_STYLE, "update.idol").unwrap();
    assert_eq!(iface.name.to_string(), "Update");
    let names: Vec<String> =
        iface.ops.iter().map(|op| op.name.to_string()).collect();
    assert_eq!(names, ["block_size", "write_one_block", "status", "abort"]);
}

#[test]
fn ops_are_numbered_from_one_in_file_order() {
    let iface = idol::parse(HUBRIS_STYLE, "update.idol").unwrap();
    let numbers: Vec<u16> = iface.ops.iter().map(|op| op.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
}

#[test]
fn doc_and_description_are_joined() {
    let iface = idol::parse(HUBRIS_STYLE, "update.idol").unwrap();
    assert_eq!(iface.ops[0].doc.as_deref(), Some("The block size"));
    assert_eq!(iface.ops[1].doc.as_deref(), Some("Writes one block"));
    assert_eq!(iface.ops[2].doc, None);
}

#[test]
fn every_fixture_parses_and_numbers_its_ops() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test/idol-golden");
    let fpga = idol::load(format!("{dir}/fixtures/fpga.idol")).unwrap();
    assert_eq!(fpga.ops.len(), 17);
    assert_eq!(fpga.ops[6].name.to_string(), "continue_bitstream_load");
    assert_eq!(fpga.ops[6].number, 7);
    assert_eq!(fpga.ops[16].name.to_string(), "release");
    let lease = &fpga.ops[6].leases[0];
    assert!(lease.read && !lease.write);
    assert_eq!(lease.max_len.map(|n| n.get()), Some(128));
}
