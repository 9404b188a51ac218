//! Probe request lines, as any local client of the user may send them: `debug_protocol::fuzz::request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = debug_protocol::fuzz::request(data) {
        panic!("probe_request: {violation:?}");
    }
});
