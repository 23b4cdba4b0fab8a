//! Dataset loader as users call it (`DatasetReader::open`): libhdf5 runs in a child process,
//! so no input may crash or hang this process; every input ends in data or an error. The
//! child's coverage is not seen by libFuzzer, so this target is best run over the corpus and
//! crash artefacts of `dataset_file` (scripts/fuzz.sh does).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("qpik-fuzz-child-{}.h5", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(data).expect("write");
    drop(f);
    let options = qpik::data::hdf5_io::ChildOptions {
        time_limit: Some(std::time::Duration::from_secs(3)),
        ..Default::default()
    };
    if let Ok(reader) = qpik::data::hdf5_io::DatasetReader::open_in_child_with(&path, &options) {
        let _ = reader.read_observations(0..reader.len());
    }
    let _ = std::fs::remove_file(&path);
});
