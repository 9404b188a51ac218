//! What idol refuses, and that its messages name the file, the op and the
//! rule.

/// Parses `text` as `bad.idol`, expecting an error; returns its message.
fn error_for(text: &str) -> String {
    match idol::parse(text, "bad.idol") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// An interface with one op `op` whose body is `body`.
fn one_op(body: &str) -> String {
    format!("Interface(name: \"Thing\", ops: {{ \"op\": ({body}) }})")
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

const OK_REPLY: &str = "reply: Result(ok: \"()\", err: CLike(\"E\"))";

#[test]
fn malformed_ron_gives_file_line_and_column() {
    let e = error_for("Interface(name: \"Thing\",\n  ops: { \"op\": ( }");
    assert!(e.starts_with("bad.idol:2:"), "{e}");
}

#[test]
fn the_top_level_must_be_called_interface() {
    let e = error_for("Iface(name: \"Thing\", ops: {})");
    assert_contains(&e, &["bad.idol:1:", "Interface"]);
}

#[test]
fn an_unknown_encoding_is_refused() {
    let e = error_for(&one_op(&format!("{OK_REPLY}, encoding: Postcard")));
    assert_contains(&e, &["bad.idol:", "Postcard"]);
}

#[test]
fn an_unknown_field_is_refused_rather_than_ignored() {
    let e = error_for(&one_op(&format!("{OK_REPLY}, idempotnet: true")));
    assert_contains(&e, &["bad.idol:", "idempotnet"]);
}

#[test]
fn a_duplicate_op_is_refused() {
    let text = format!(
        "Interface(name: \"Thing\", ops: {{ \"a\": ({OK_REPLY}), \
         \"b\": ({OK_REPLY}), \"a\": ({OK_REPLY}) }})"
    );
    let e = error_for(&text);
    assert_contains(&e, &["bad.idol:1:", "duplicate name `a`"]);
}

#[test]
fn a_duplicate_arg_or_lease_is_refused() {
    let e = error_for(&one_op(&format!(
        "args: {{ \"x\": \"u8\", \"x\": \"u16\" }}, {OK_REPLY}"
    )));
    assert_contains(&e, &["duplicate name `x`"]);
    let e = error_for(&one_op(&format!(
        "leases: {{ \"d\": (type: \"[u8]\", read: true), \
         \"d\": (type: \"[u8]\", read: true) }}, {OK_REPLY}"
    )));
    assert_contains(&e, &["duplicate name `d`"]);
}

#[test]
fn an_idempotent_op_with_a_read_write_lease_is_refused() {
    let e = error_for(&one_op(&format!(
        "leases: {{ \"buf\": (type: \"[u8]\", read: true, write: true) }}, \
         {OK_REPLY}, idempotent: true"
    )));
    assert_contains(
        &e,
        &[
            "bad.idol: op `Thing.op`",
            "idempotent",
            "lease `buf`",
            "read-write",
        ],
    );
}

#[test]
fn an_idempotent_op_may_lend_one_way() {
    // As in Hubris: a retry re-reads or overwrites the whole buffer.
    for rights in ["read: true", "write: true"] {
        let text = one_op(&format!(
            "leases: {{ \"buf\": (type: \"[u8]\", {rights}) }}, {OK_REPLY}, \
             idempotent: true"
        ));
        idol::parse(&text, "ok.idol").unwrap();
    }
}

#[test]
fn an_idempotent_op_with_a_server_death_error_is_refused() {
    let e = error_for(&one_op(
        "reply: Result(ok: \"u8\", err: ServerDeath), idempotent: true",
    ));
    assert_contains(&e, &["bad.idol: op `Thing.op`", "ServerDeath"]);
}

#[test]
fn a_non_idempotent_simple_reply_compiles_with_a_warning_naming_remedies() {
    let iface = idol::parse(&one_op("reply: Simple(\"u32\")"), "ok.idol")
        .expect("accepted, as Hubris's fmc-demo.idol needs");
    assert_eq!(iface.warnings.len(), 1);
    let w = iface.warnings[0].to_string();
    assert_eq!(
        w,
        "ok.idol: op `Thing.op`: is not idempotent and its `Simple` reply \
         cannot say that the server died during the call, so its client \
         returns `Result<u32, idol_runtime::ServerDeath>` instead of \
         `u32`; mark it `idempotent: true` if repeating it is harmless \
         (the client then retries), or make the death part of the \
         interface with `reply: Result(ok: \"u32\", err: ServerDeath)`"
    );
    let client = idol::client::generate_client_stub(&iface).expect("code");
    assert!(
        client.contains(
            "pub fn op(&self) -> core::result::Result<u32, \
             idol_runtime::ServerDeath>"
        ),
        "{client}"
    );
    // Neither an idempotent Simple op nor a Result op warns.
    for body in [
        "reply: Simple(\"u32\"), idempotent: true",
        "reply: Result(ok: \"u32\", err: ServerDeath)",
    ] {
        let iface = idol::parse(&one_op(body), "ok.idol").expect("ok");
        assert!(iface.warnings.is_empty(), "{body}");
    }
}

#[test]
fn a_complex_error_needs_hubpack() {
    let e = error_for(&one_op(
        "reply: Result(ok: \"u8\", err: Complex(\"E\")), encoding: Ssmarshal",
    ));
    assert_contains(&e, &["op `Thing.op`", "Hubpack", "Ssmarshal"]);
}

#[test]
fn a_lease_must_grant_something() {
    let e = error_for(&one_op(&format!(
        "leases: {{ \"buf\": (type: \"[u8]\") }}, {OK_REPLY}"
    )));
    assert_contains(&e, &["op `Thing.op`", "lease `buf`", "neither"]);
}

#[test]
fn max_len_is_only_for_slices() {
    let e = error_for(&one_op(&format!(
        "leases: {{ \"v\": (type: \"u32\", read: true, max_len: Some(4)) }}, \
         {OK_REPLY}"
    )));
    assert_contains(&e, &["lease `v`", "max_len", "slices"]);
}

#[test]
fn max_len_zero_is_refused() {
    let e = error_for(&one_op(&format!(
        "leases: {{ \"v\": (type: \"[u8]\", read: true, max_len: Some(0)) }}, \
         {OK_REPLY}"
    )));
    assert!(e.starts_with("bad.idol:1:"), "{e}");
}

#[test]
fn names_and_types_must_be_rust() {
    let e =
        error_for(&one_op(&format!("args: {{ \"a b\": \"u8\" }}, {OK_REPLY}")));
    assert_contains(&e, &["op `Thing.op`", "arg `a b`", "identifier"]);
    let e = error_for(&one_op(&format!(
        "args: {{ \"a\": \"u8 u8\" }}, {OK_REPLY}"
    )));
    assert_contains(&e, &["arg `a`", "`u8 u8` is not a Rust type"]);
    let e = error_for(&format!(
        "Interface(name: \"fn\", ops: {{ \"op\": ({OK_REPLY}) }})"
    ));
    assert_contains(&e, &["bad.idol: interface `fn`", "identifier"]);
}

#[test]
fn from_primitive_needs_an_integer() {
    let e = error_for(&one_op(&format!(
        "args: {{ \"s\": (type: \"State\", recv: FromPrimitive(\"f32\")) }}, \
         {OK_REPLY}"
    )));
    assert_contains(&e, &["arg `s`", "FromPrimitive(\"f32\")", "integer"]);
}

#[test]
fn reserved_names_are_refused() {
    let e =
        error_for(&one_op(&format!("args: {{ \"msg\": \"u8\" }}, {OK_REPLY}")));
    assert_contains(&e, &["arg `msg`", "reserved"]);
    let e = error_for(&format!(
        "Interface(name: \"T\", ops: {{ \"recv_source\": ({OK_REPLY}) }})"
    ));
    assert_contains(&e, &["op `T.recv_source`", "reserved"]);
}

#[test]
fn an_arg_and_a_lease_may_not_share_a_name() {
    let e = error_for(&one_op(&format!(
        "args: {{ \"d\": \"u8\" }}, \
         leases: {{ \"d\": (type: \"[u8]\", read: true) }}, {OK_REPLY}"
    )));
    assert_contains(&e, &["op `Thing.op`", "`d` is both"]);
}

#[test]
fn an_interface_needs_ops() {
    let e = error_for("Interface(name: \"Thing\", ops: {})");
    assert_contains(&e, &["interface `Thing`", "no ops"]);
}

#[test]
fn a_missing_file_names_the_file() {
    let e = idol::load("/nonexistent/x.idol").unwrap_err().to_string();
    assert_contains(&e, &["/nonexistent/x.idol"]);
}

#[test]
fn build_helpers_outside_a_build_script_say_so() {
    // SAFETY-free: tests in this binary never set OUT_DIR.
    if std::env::var_os("OUT_DIR").is_some() {
        return;
    }
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/idol-golden/fixtures/spi.idol"
    );
    let e = idol::client::build_client_stub(fixture, "x.rs").unwrap_err();
    assert!(matches!(e, idol::IdolError::NoOutDir), "{e}");
}

#[test]
fn an_arg_named_leases_is_reserved_in_an_op_with_leases() {
    let e = error_for(&one_op(&format!(
        "args: {{ \"leases\": \"u8\" }}, \
         leases: {{ \"d\": (type: \"[u8]\", read: true) }}, {OK_REPLY}"
    )));
    assert_contains(&e, &["op `Thing.op`", "`leases` is reserved"]);
    // Without leases there is no lease-table method, so the name is free.
    let ok = one_op(&format!("args: {{ \"leases\": \"u8\" }}, {OK_REPLY}"));
    assert!(idol::parse(&ok, "ok.idol").is_ok());
}

#[test]
fn an_op_may_not_take_the_name_of_a_lease_table_method() {
    let text = format!(
        "Interface(name: \"T\", ops: {{ \
         \"load\": (leases: {{ \"d\": (type: \"[u8]\", read: true) }}, \
         {OK_REPLY}), \"load_with_leases\": ({OK_REPLY}) }})"
    );
    let e = error_for(&text);
    assert_contains(&e, &["op `T.load_with_leases`", "reserved"]);
}
