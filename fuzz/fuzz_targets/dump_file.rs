//! Dump files from disk: `debug_protocol::fuzz::dump`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = debug_protocol::fuzz::dump(data) {
        panic!("dump_file: {violation:?}");
    }
});
