//! The probe's server side (line framing, the line and queue bounds,
//! answers in order) driven by a scripted client:
//! `debug_protocol::fuzz_connection::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = debug_protocol::fuzz_connection::run(data) {
        panic!("probe connection invariant broken: {violation:?}");
    }
});
