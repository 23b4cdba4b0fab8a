//! Option parser: arbitrary `key=value` lines are set, then every config is built from them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Errors are expected; a panic or crash is the bug this looks for.
    let _ = qpik::capi::fuzz_options(&text);
});
