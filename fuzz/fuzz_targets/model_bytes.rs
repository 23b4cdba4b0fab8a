//! Model loader: arbitrary bytes as a model file, then building the extractor from it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let device = candle_core::Device::Cpu;
    if let Ok(file) = qpik::model::file::ModelFile::from_bytes(data, "fuzz", &device) {
        let _ = qpik::extract::Extractor::from_file(&file, &device);
    }
});
