//! Createc .dat parser: arbitrary bytes must give a scan or an error, never a panic; what a
//! header declares stays within the budget given (256 MiB, under libFuzzer's memory limit).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let budget = qpik::budget::MemoryBudget::new(256 << 20).expect("above the minimum");
    if let Ok(scan) = qpik::data::createc::parse_createc(data, "fuzz.dat", &budget) {
        let _ = scan.pixel_size_m();
        assert!(scan.missing_lines < scan.shape.0);
    }
});
