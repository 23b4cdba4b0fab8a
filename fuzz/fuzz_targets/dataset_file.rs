//! Dataset loader in this process: arbitrary bytes as an HDF5 dataset file, opened, validated
//! and read with libhdf5 here (`DatasetReader::open_in_process`), so libhdf5's own bugs show
//! up as crashes (fuzz/findings). `dataset_file_child` fuzzes the default, isolated reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("qpik-fuzz-{}.h5", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(data).expect("write");
    drop(f);
    if let Ok(reader) = qpik::data::hdf5_io::DatasetReader::open_in_process(&path) {
        let n = reader.len().min(3);
        let _ = reader.read_observations(0..n);
    }
    let _ = std::fs::remove_file(&path);
});
