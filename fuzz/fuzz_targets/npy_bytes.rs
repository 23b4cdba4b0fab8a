//! .npy parser: arbitrary bytes must give a 2-D/3-D array or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = qpik::data::npy::parse_npy(data, "fuzz.npy") {
        assert!((2..=3).contains(&a.ndim()));
        let _ = qpik::data::npy::as_stack(a);
    }
});
