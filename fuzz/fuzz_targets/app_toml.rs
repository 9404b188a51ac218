//! app.toml parsing and checking: `app_config::fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = app_config::fuzz::run(data) {
        panic!("app_toml: {violation:?}");
    }
});
