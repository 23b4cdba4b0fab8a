//! Nanonis .sxm parser: arbitrary bytes must give a scan or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(scan) = qpik::data::sxm::parse_sxm(data, "fuzz.sxm") {
        let _ = scan.pixel_size_m();
        let _ = scan.image("Z", qpik::data::sxm::Direction::Backward);
    }
});
