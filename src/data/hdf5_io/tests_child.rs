//! Tests of reading in a child: same results as in process, many threads, a changed file, the
//! header bytes, absurd declared sizes and files that crash or hang libhdf5.

use std::path::{Path, PathBuf};

use super::child::{decode_header, encode_header};
use super::reader::Source;
use super::test_support::*;
use super::{ChildOptions, DatasetReader, write_dataset};
use crate::Error;

/// Both readers, for tests that must hold for each.
fn both_readers(path: &Path, options: &ChildOptions) -> [DatasetReader; 2] {
    [
        DatasetReader::open_in_process(path).unwrap(),
        DatasetReader::open_in_child_with(path, options).unwrap(),
    ]
}

#[test]
fn reading_in_a_child_matches_reading_here_block_by_block() {
    let ds = sample(57, 16, 12, 4, 21);
    let tmp = TempPath::new("child");
    write_dataset(&tmp.0, &ds).unwrap();
    // Blocks of 1 and 5 rows exercise the streaming across many frames.
    for rows_per_block in [1, 5, 1000] {
        let options = ChildOptions {
            block_bytes: rows_per_block * (16 * 12 * 5 + 4 * 12 + 4),
            ..ChildOptions::default()
        };
        let [here, child] = both_readers(&tmp.0, &options);
        assert!(matches!(child.source, Source::Child(_)));
        assert_eq!(child.len(), here.len());
        assert_eq!(child.max_defects(), here.max_defects());
        assert_eq!(child.info(), here.info());
        assert_eq!(
            bits64(
                &child
                    .info()
                    .pixel_size_m
                    .to_bits()
                    .to_ne_bytes()
                    .map(f64::from)
            ),
            bits64(
                &here
                    .info()
                    .pixel_size_m
                    .to_bits()
                    .to_ne_bytes()
                    .map(f64::from)
            )
        );
        let (a, b) = (child.kernels(), here.kernels());
        assert_eq!(bits32(&a.kernels), bits32(&b.kernels));
        assert_eq!(
            (&a.names, &a.symmetry, &a.split),
            (&b.names, &b.symmetry, &b.split)
        );
        assert_eq!(bits64(&a.pixel_size_m), bits64(&b.pixel_size_m));
        for r in [0..57, 3..4, 10..33, 57..57] {
            let want = rows(&ds.observations, r.clone());
            assert_same_observations(&here.read_observations(r.clone()).unwrap(), &want);
            assert_same_observations(&child.read_observations(r).unwrap(), &want);
        }
    }
}

#[test]
fn many_threads_read_through_children_at_once() {
    let ds = sample(40, 16, 16, 2, 8);
    let tmp = TempPath::new("threads");
    write_dataset(&tmp.0, &ds).unwrap();
    let reader = DatasetReader::open_in_child(&tmp.0).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (reader, ds) = (&reader, &ds);
            scope.spawn(move || {
                for i in 0..5 {
                    let r = (t * 5 + i) % 40..40;
                    let got = reader.read_observations(r.clone()).unwrap();
                    assert_same_observations(&got, &rows(&ds.observations, r));
                }
            });
        }
    });
}

#[test]
fn a_file_changed_after_opening_is_reported() {
    let tmp = TempPath::new("changed");
    write_dataset(&tmp.0, &sample(20, 8, 8, 2, 3)).unwrap();
    let reader = DatasetReader::open_in_child(&tmp.0).unwrap();
    write_dataset(&tmp.0, &sample(30, 8, 8, 2, 3)).unwrap();
    let err = reader.read_observations(0..5).unwrap_err().to_string();
    assert!(err.contains("changed since it was opened"), "{err}");
}

#[test]
fn header_bytes_round_trip_and_garbage_is_refused() {
    let tmp = TempPath::new("header");
    write_dataset(&tmp.0, &sample(5, 8, 6, 2, 4)).unwrap();
    let here = DatasetReader::open_in_process(&tmp.0).unwrap();
    let bytes = encode_header(&here);
    let (info, kernels, n, s, t) = decode_header(&bytes).unwrap();
    assert_eq!((n, s, t), (5, 2, 1));
    assert_eq!(info.generator, here.info().generator);
    assert_eq!(kernels.names, here.kernels().names);
    for cut in [0, 8, 55, bytes.len() - 1] {
        assert!(decode_header(&bytes[..cut]).is_none(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode_header(&longer).is_none());
    // A kernel count far beyond the bytes is refused before anything is allocated.
    let mut huge = bytes;
    huge[32..40].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(decode_header(&huge).is_none());
}

/// Inputs on which Debian 12's libhdf5 1.10.8 crashes or hangs (found by fuzzing).
fn libhdf5_findings() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/findings");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "h5"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "reproducers in {}", dir.display());
    files
}

#[test]
fn files_that_crash_or_hang_libhdf5_give_errors_in_a_child() {
    let options = ChildOptions {
        time_limit: Some(std::time::Duration::from_secs(3)),
        ..ChildOptions::default()
    };
    for path in libhdf5_findings() {
        let start = std::time::Instant::now();
        let err = match DatasetReader::open_in_child_with(&path, &options) {
            Ok(r) => r.read_observations(0..r.len()).map(|_| ()),
            Err(e) => Err(e),
        };
        let err = err.expect_err("a damaged file was accepted");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        // The global-heap ones read stale memory: whether libhdf5 crashes on them depends
        // on the heap left by the tests running beside; either way it is an error here.
        let name = path.file_name().unwrap().to_string_lossy();
        let want = match name.as_ref() {
            "hdf5-vlen-attribute-hang.h5" => Some("did not finish reading this file"),
            "hdf5-chunk-dims-divide-by-zero.h5" => Some("libhdf5 crashed with SIGFPE"),
            _ => None,
        };
        if let Some(want) = want {
            assert!(matches!(err, Error::Hdf5 { .. }), "{text}");
            assert!(text.contains(want), "{text}");
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
    }
}

#[test]
fn absurd_declared_sizes_are_an_error_not_an_abort() {
    // A few kB that declare 2^40 defect slots per observation (chunked, never written:
    // libhdf5 would hand out fill values). Reading must not try to allocate terabytes.
    let tmp = TempPath::new("absurd");
    write_dataset(&tmp.0, &sample(2, 8, 8, 1, 4)).unwrap();
    {
        let file = hdf5::File::open_rw(&tmp.0).unwrap();
        // As an untyped file (types follow the slots of 'positions').
        file.unlink("types").unwrap();
        file.unlink("type_kernel_index").unwrap();
        let slots = 1usize << 40;
        for (name, shape) in [
            ("positions", vec![2, slots, 2]),
            ("amplitudes", vec![2, slots]),
        ] {
            file.unlink(name).unwrap();
            let mut chunk = shape.clone();
            chunk[1] = 1024;
            file.new_dataset::<f32>()
                .chunk(chunk)
                .shape(shape)
                .create(name)
                .unwrap();
        }
    }
    assert!(std::fs::metadata(&tmp.0).unwrap().len() < 1 << 20);
    // Refused when opened: more than the file can hold (issue 11), in the child and here.
    for open in [DatasetReader::open_in_child, DatasetReader::open_in_process] {
        let err = match open(&tmp.0) {
            Ok(_) => panic!("a file declaring 2^40 defect slots was opened"),
            Err(e) => e,
        };
        assert!(matches!(err, crate::Error::Format { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("'positions'"), "{text}");
        assert!(text.contains(&tmp.0.display().to_string()), "{text}");
    }
}
