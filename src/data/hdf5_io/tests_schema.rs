//! Tests of the schema checks: damaged, foreign and missing files give clear errors.

use hdf5::types::VarLenUnicode;
use ndarray::s;

use super::test_support::*;
use super::{DatasetReader, read_dataset, write_dataset};
use crate::Error;

/// Writes a valid file, lets `spoil` damage it with the hdf5 crate, returns the open error.
fn open_error(tag: &str, spoil: impl FnOnce(&hdf5::File)) -> (String, TempPath) {
    let ds = sample(20, 8, 8, 2, 9);
    let tmp = TempPath::new(tag);
    write_dataset(&tmp.0, &ds).unwrap();
    {
        let file = hdf5::File::open_rw(&tmp.0).unwrap();
        spoil(&file);
    }
    let err = match read_dataset(&tmp.0) {
        Ok(_) => panic!("{tag}: damaged file was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&tmp.0.display().to_string()),
        "{tag}: no file name in {err}"
    );
    (err, tmp)
}

type Spoil = Box<dyn FnOnce(&hdf5::File)>;

fn replace_dataset<T: hdf5::H5Type>(file: &hdf5::File, name: &str, shape: &[usize]) {
    file.unlink(name).unwrap();
    file.new_dataset::<T>()
        .shape(shape.to_vec())
        .create(name)
        .unwrap();
}

#[test]
fn damaged_files_give_clear_errors() {
    let string_attr = |file: &hdf5::File, name: &str, value: &str| {
        file.delete_attr(name).unwrap();
        let v: VarLenUnicode = value.parse().unwrap();
        file.new_attr::<VarLenUnicode>()
            .create(name)
            .unwrap()
            .write_scalar(&v)
            .unwrap();
    };
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "noformat",
            Box::new(|f| f.delete_attr("format").unwrap()),
            "not a qpik dataset: no 'format' attribute",
        ),
        (
            "otherformat",
            Box::new(move |f| string_attr(f, "format", "nexus")),
            "not a qpik dataset: 'format' is \"nexus\"",
        ),
        (
            "version2",
            Box::new(|f| {
                f.delete_attr("version").unwrap();
                f.new_attr::<u32>()
                    .create("version")
                    .unwrap()
                    .write_scalar(&2u32)
                    .unwrap();
            }),
            "unsupported dataset version 2",
        ),
        (
            "noversion",
            Box::new(|f| f.delete_attr("version").unwrap()),
            "missing attribute 'version'",
        ),
        (
            "seedtype",
            Box::new(|f| {
                f.delete_attr("seed").unwrap();
                f.new_attr::<f64>()
                    .create("seed")
                    .unwrap()
                    .write_scalar(&1.0)
                    .unwrap();
            }),
            "attribute 'seed' has type f64, expected u64",
        ),
        (
            "nomasks",
            Box::new(|f| f.unlink("masks").unwrap()),
            "missing dataset 'masks'",
        ),
        (
            "kernelsu8",
            Box::new(|f| replace_dataset::<u8>(f, "kernels", &[3, 8, 8])),
            "dataset 'kernels' has type u8, expected f32",
        ),
        (
            "kernelsrank",
            Box::new(|f| replace_dataset::<f32>(f, "kernels", &[3, 64])),
            "dataset 'kernels' has 2 dimensions [3, 64], expected 3",
        ),
        (
            "names",
            Box::new(|f| {
                f.unlink("kernel_names").unwrap();
                let names: Vec<VarLenUnicode> = vec!["a".parse().unwrap(); 2];
                f.new_dataset_builder()
                    .with_data(&names)
                    .create("kernel_names")
                    .unwrap();
            }),
            "dataset 'kernel_names' has 2 entries, but 'kernels' has 3 kernels",
        ),
        (
            "split",
            Box::new(|f| f.dataset("split").unwrap().write(&[0u8, 7, 1]).unwrap()),
            "dataset 'split' row 1 has value 7",
        ),
        (
            "kernelindex",
            Box::new(|f| {
                let ds = f.dataset("kernel_index").unwrap();
                ds.write_slice(&[99u32], s![5..6]).unwrap();
            }),
            "dataset 'kernel_index' row 5 refers to kernel 99, but the file has 3 kernels",
        ),
        (
            "imagesize",
            Box::new(|f| replace_dataset::<f32>(f, "observations", &[20, 8, 9])),
            "dataset 'observations' has images 8x9, but 'kernels' has 8x8",
        ),
        (
            "maskshape",
            Box::new(|f| replace_dataset::<u8>(f, "masks", &[19, 8, 8])),
            "dataset 'masks' has shape [19, 8, 8], but 'observations' has [20, 8, 8]",
        ),
        (
            "positions",
            Box::new(|f| replace_dataset::<f32>(f, "positions", &[20, 2, 3])),
            "dataset 'positions' has shape [20, 2, 3], expected [20, S, 2]",
        ),
        (
            "amplitudes",
            Box::new(|f| replace_dataset::<f32>(f, "amplitudes", &[20, 3])),
            "dataset 'amplitudes' has shape [20, 3], expected [20, 2]",
        ),
        (
            "indexcount",
            Box::new(|f| replace_dataset::<u32>(f, "kernel_index", &[21])),
            "dataset 'kernel_index' has 21 entries, but 'observations' has 20",
        ),
    ];
    for (tag, spoil, want) in cases {
        let (err, _tmp) = open_error(tag, spoil);
        assert!(err.contains(want), "{tag}: expected {want:?} in {err:?}");
    }
}

#[test]
fn foreign_and_missing_files_are_reported() {
    let tmp = TempPath::new("text");
    std::fs::write(&tmp.0, "row,col\n1,2\n").unwrap();
    let err = read_dataset(&tmp.0).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert!(
        msg.contains("not an HDF5 file") && msg.contains(&tmp.0.display().to_string()),
        "{msg}"
    );

    let missing = TempPath::new("missing");
    let err = DatasetReader::open(&missing.0)
        .err()
        .expect("missing file accepted");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");

    // An HDF5 file that is not a qpik dataset at all.
    let other = TempPath::new("other");
    hdf5::File::create(&other.0)
        .unwrap()
        .new_dataset::<f32>()
        .shape([3])
        .create("x")
        .unwrap();
    let msg = read_dataset(&other.0).unwrap_err().to_string();
    assert!(msg.contains("not a qpik dataset"), "{msg}");
}
