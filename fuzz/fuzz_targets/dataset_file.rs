//! Dataset loader: arbitrary bytes as an HDF5 dataset file, opened, validated and read.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("qpik-fuzz-{}.h5", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(data).expect("write");
    drop(f);
    if let Ok(reader) = qpik::data::hdf5_io::DatasetReader::open(&path) {
        let n = reader.len().min(3);
        let _ = reader.read_observations(0..n);
    }
    let _ = std::fs::remove_file(&path);
});
