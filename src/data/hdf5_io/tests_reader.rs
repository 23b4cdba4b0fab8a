//! Tests of the reader: partial reads and where it reads by default.

use super::reader::Source;
use super::test_support::*;
use super::{DatasetReader, write_dataset};

#[test]
fn partial_reads_return_the_requested_rows() {
    let ds = sample(100, 64, 64, 3, 5);
    let tmp = TempPath::new("partial");
    write_dataset(&tmp.0, &ds).unwrap();
    let reader = DatasetReader::open(&tmp.0).unwrap();
    assert_eq!(reader.len(), 100);
    assert_eq!(reader.image_shape(), (64, 64));
    assert_eq!(reader.max_defects(), 3);
    assert_eq!(reader.info().seed, 5);
    assert_eq!(reader.kernels().names, ds.kernels.names);
    for r in [0..1, 30..35, 31..97, 99..100, 50..50] {
        let got = reader.read_observations(r.clone()).unwrap();
        assert_same_observations(&got, &rows(&ds.observations, r));
    }
    let err = reader.read_observations(90..101).unwrap_err().to_string();
    assert!(err.contains("90..101") && err.contains("100"), "{err}");
}

#[test]
fn readers_open_in_a_child_by_default() {
    let tmp = TempPath::new("default");
    write_dataset(&tmp.0, &sample(3, 8, 8, 1, 2)).unwrap();
    let reader = DatasetReader::open(&tmp.0).unwrap();
    // The test environment does not set QPIK_DATASET_CHECK.
    assert!(matches!(reader.source, Source::Child(_)));
}
