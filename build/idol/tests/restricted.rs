//! Restricted servers: the generated server refuses callers app.toml does
//! not list, before it decodes anything or calls the server.

use idol::server::{AllowedCallers, generate_restricted_server_support};
use idol::{ServerStyle, parse};

const IFACE: &str = r#"
Interface(
    name: "Lamp",
    ops: {
        "get": (reply: Simple("u32"), idempotent: true),
        "set": (
            args: { "level": "u32" },
            reply: Result(ok: "()", err: CLike("LampError")),
        ),
    },
)
"#;

fn generate(allowed: &AllowedCallers) -> Result<String, idol::IdolError> {
    let iface = parse(IFACE, "lamp.idol").expect("valid");
    generate_restricted_server_support(&iface, ServerStyle::InOrder, allowed)
}

/// The generated body of `fn name`, up to the next top-level item.
fn function<'a>(code: &'a str, name: &str) -> &'a str {
    let start = code
        .find(&format!("fn {name}<"))
        .unwrap_or_else(|| panic!("no fn {name} in:\n{code}"));
    let rest = &code[start..];
    let end = rest.find("\n}\n").map_or(rest.len(), |e| e + 3);
    &rest[..end]
}

#[test]
fn a_restricted_op_checks_its_caller_before_decoding() {
    let mut allowed = AllowedCallers::new();
    allowed.restrict("set", [3, 7]);
    let code = generate(&allowed).expect("generates");
    assert!(code.contains("const SET_ALLOWED_CALLERS: &[u16] = &[3, 7];"));
    let call = function(&code, "call_set");
    let check = call
        .find("caller_allowed(msg.sender, SET_ALLOWED_CALLERS)")
        .expect("the check");
    let refusal = call.find("ClientError::AccessViolation").expect("refusal");
    let decode = call.find("read_from_bytes").expect("decode");
    let method = call.find("InOrderLampImpl>::set(").expect("method call");
    assert!(
        check < refusal && refusal < decode && decode < method,
        "{call}"
    );
    // The open op has no check.
    assert!(!function(&code, "call_get").contains("caller_allowed"));
    assert!(!code.contains("GET_ALLOWED_CALLERS"));
}

#[test]
fn an_unrestricted_server_has_no_checks() {
    let code = generate(&AllowedCallers::new()).expect("generates");
    assert!(!code.contains("caller_allowed"));
    let iface = parse(IFACE, "lamp.idol").expect("valid");
    let plain =
        idol::server::generate_server_support(&iface, ServerStyle::InOrder)
            .expect("generates");
    assert_eq!(code, plain);
}

#[test]
fn an_empty_list_closes_the_op_to_everyone() {
    let mut allowed = AllowedCallers::new();
    allowed.restrict("get", []);
    let code = generate(&allowed).expect("generates");
    assert!(code.contains("const GET_ALLOWED_CALLERS: &[u16] = &[];"));
}

#[test]
fn restricting_again_replaces_the_list() {
    let mut allowed = AllowedCallers::new();
    allowed.restrict("set", [1]);
    allowed.restrict("set", [2]);
    assert_eq!(allowed.callers("set"), Some(&[2][..]));
    assert!(allowed.is_restricted("set"));
    assert!(!allowed.is_restricted("get"));
}

#[test]
fn an_unknown_op_is_one_line_naming_the_file_and_the_ops() {
    let mut allowed = AllowedCallers::new();
    allowed.restrict("toggle", [1]);
    let e = generate(&allowed).unwrap_err().to_string();
    assert_eq!(
        e,
        "lamp.idol: interface `Lamp`: allowed callers name op `toggle`, \
         which it does not have (it has get, set)"
    );
}

#[test]
fn every_op_counts_its_outcomes_by_variant() {
    let code = generate(&AllowedCallers::new()).expect("generates");
    assert!(
        code.contains(
            "pub static __LAMP_OUTCOME_COUNTERS: LampOutcomeCounters"
        )
    );
    assert!(
        code.contains("pub set: idol_runtime::OutcomeCounters<LampError>,")
    );
    assert!(code.contains(
        "pub get: idol_runtime::OutcomeCounters<core::convert::Infallible>,"
    ));
    let serve = function(&code, "serve_set");
    assert!(
        serve.contains(
            "idol_runtime::count_outcome(&result, &__LAMP_OUTCOME_COUNTERS.set)"
        ),
        "{serve}"
    );
}
