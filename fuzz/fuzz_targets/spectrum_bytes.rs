//! Nanonis .dat point-spectrum parser: arbitrary bytes must give a spectrum or an error,
//! never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = qpik::data::nanonis_dat::parse_nanonis_dat(data, "fuzz.dat") {
        let _ = s.energies_ev();
        assert!(s.columns.iter().all(|c| c.values.len() == s.len()));
    }
});
