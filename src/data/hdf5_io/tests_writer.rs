//! Tests of the writer: bit-exact round trips, the declared filters, streaming in unaligned
//! blocks, padding, empty datasets, unfinished writers and bad blocks.

use hdf5::types::VarLenUnicode;
use ndarray::{Array2, Array3, s};

use super::test_support::*;
use super::writer::temporaries;
use super::{DatasetWriter, read_dataset, write_dataset};
use crate::data::{DATASET_FORMAT, ObservationTable};

#[test]
fn round_trip_is_bit_exact() {
    let ds = sample(70, 8, 6, 4, 1);
    let tmp = TempPath::new("roundtrip");
    write_dataset(&tmp.0, &ds).unwrap();
    assert!(temporaries(&tmp.0).is_empty(), "temporary file left behind");
    let back = read_dataset(&tmp.0).unwrap();
    assert_same(&ds, &back);
    // Guard against a vacuous comparison: the sample must have both used and unused slots.
    assert!(ds.observations.positions.iter().any(|v| v.is_nan()));
    assert!(ds.observations.positions.iter().any(|v| !v.is_nan()));
}

#[test]
fn file_is_readable_by_plain_libhdf5_with_the_declared_filters() {
    let ds = sample(100, 64, 64, 3, 2);
    let tmp = TempPath::new("filters");
    write_dataset(&tmp.0, &ds).unwrap();
    let file = hdf5::File::open(&tmp.0).unwrap();
    let obs = file.dataset("observations").unwrap();
    assert_eq!(obs.chunk(), Some(vec![32, 64, 64]));
    let filters = obs.filters();
    assert_eq!(
        filters,
        vec![
            hdf5::filters::Filter::Shuffle,
            hdf5::filters::Filter::Deflate(1)
        ]
    );
    // Compressed: the masks are almost all zero.
    let masks = file.dataset("masks").unwrap();
    assert!(
        masks.storage_size() < 100 * 64 * 64 / 20,
        "masks {} bytes",
        masks.storage_size()
    );
    let edge: Array3<f32> = obs.read_slice(s![96..100, .., ..]).unwrap();
    let want = ds.observations.observations.slice(s![96..100, .., ..]);
    assert_eq!(bits32(edge.iter()), bits32(want));
    let attr = file
        .attr("format")
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap();
    assert_eq!(attr.as_str(), DATASET_FORMAT);
}

#[test]
fn streaming_writer_matches_write_dataset_with_unaligned_blocks_in_any_order() {
    // 64x64 images: 32 observations per chunk, so these blocks straddle chunk borders.
    let ds = sample(100, 64, 64, 5, 3);
    let whole = TempPath::new("whole");
    write_dataset(&whole.0, &ds).unwrap();
    let streamed = TempPath::new("streamed");
    let obs = &ds.observations;
    let mut writer = DatasetWriter::create(&streamed.0, &ds.info, &ds.kernels, 100, 5).unwrap();
    for r in [40..77, 0..7, 77..100, 7..40] {
        assert!(!streamed.0.exists(), "final name exists before finish");
        writer.write_block(r.start, &rows(obs, r)).unwrap();
    }
    writer.finish().unwrap();
    let a = read_dataset(&whole.0).unwrap();
    let b = read_dataset(&streamed.0).unwrap();
    assert_same(&a, &b);
    assert_same(&ds, &b);
}

#[test]
fn blocks_with_fewer_defect_slots_are_padded_with_nan() {
    let ds = sample(10, 8, 8, 2, 4);
    let tmp = TempPath::new("pad");
    let mut writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 10, 6).unwrap();
    writer.write_block(0, &ds.observations).unwrap();
    writer.finish().unwrap();
    let back = read_dataset(&tmp.0).unwrap().observations;
    assert_eq!(back.positions.dim(), (10, 6, 2));
    let head = back.positions.slice(s![.., ..2, ..]);
    assert_eq!(bits32(head), bits32(&ds.observations.positions));
    assert!(
        back.positions
            .slice(s![.., 2.., ..])
            .iter()
            .all(|v| v.is_nan())
    );
    assert!(
        back.amplitudes
            .slice(s![.., 2..])
            .iter()
            .all(|v| v.is_nan())
    );
}

#[test]
fn empty_dataset_round_trips() {
    let mut ds = sample(0, 8, 8, 0, 6);
    ds.observations.positions = Array3::zeros((0, 0, 2));
    ds.observations.amplitudes = Array2::zeros((0, 0));
    let tmp = TempPath::new("empty");
    write_dataset(&tmp.0, &ds).unwrap();
    let back = read_dataset(&tmp.0).unwrap();
    assert_same(&ds, &back);
}

#[test]
fn unfinished_writer_leaves_no_file() {
    let ds = sample(40, 8, 8, 2, 7);
    let tmp = TempPath::new("unfinished");
    let mut writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 40, 2).unwrap();
    writer
        .write_block(0, &rows(&ds.observations, 0..20))
        .unwrap();
    let err = writer
        .write_block(10, &rows(&ds.observations, 10..30))
        .unwrap_err();
    assert!(
        err.to_string().contains("observation 10 written twice"),
        "{err}"
    );
    let err = writer.finish().unwrap_err().to_string();
    assert!(
        err.contains("20 observations were never written (first: 20)"),
        "{err}"
    );
    assert!(!tmp.0.exists());
    assert!(temporaries(&tmp.0).is_empty());

    let writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 40, 2).unwrap();
    assert!(temporaries(&tmp.0).len() == 1);
    drop(writer);
    assert!(temporaries(&tmp.0).is_empty() && !tmp.0.exists());
}

#[test]
fn bad_blocks_are_rejected() {
    let ds = sample(10, 8, 8, 2, 8);
    let tmp = TempPath::new("badblock");
    let mut writer = DatasetWriter::create(&tmp.0, &ds.info, &ds.kernels, 10, 2).unwrap();
    let mut block = ds.observations.clone();
    block.kernel_index[3] = 3;
    let err = writer.write_block(0, &block).unwrap_err().to_string();
    assert!(err.contains("observation 3 refers to kernel 3"), "{err}");
    let err = writer
        .write_block(5, &ds.observations)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exceeds the 10 observations"), "{err}");
    let mut small = sample(10, 8, 6, 2, 8).observations;
    let err = writer.write_block(0, &small).unwrap_err().to_string();
    assert!(err.contains("expected 10x8x8"), "{err}");
    small = sample(10, 8, 8, 3, 8).observations;
    let err = writer.write_block(0, &small).unwrap_err().to_string();
    assert!(err.contains("S <= 2"), "{err}");
    // Every table of a block is checked against the block's size, named in the message.
    type Change = fn(&mut ObservationTable);
    let reshaped: [(Change, &str); 4] = [
        (
            |b| b.masks = Array3::zeros((10, 8, 7)),
            "block masks are 10x8x7, expected 10x8x8",
        ),
        (
            |b| b.amplitudes = Array2::zeros((10, 1)),
            "block amplitudes are 10x1, expected 10x2",
        ),
        (
            |b| b.types = Array2::zeros((9, 2)),
            "block types are 9x2, expected 10x2",
        ),
        (
            |b| b.type_kernels = Array2::zeros((10, 2)),
            "block type_kernels are 10x2, expected 10x1 (one kernel per defect type)",
        ),
    ];
    for (change, want) in reshaped {
        let mut block = ds.observations.clone();
        change(&mut block);
        let err = writer.write_block(0, &block).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
}
