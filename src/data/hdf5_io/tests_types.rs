//! Tests of the defect-type datasets: typed round trips (in this process and in the child),
//! files without types (earlier writers) reading as one type, and inconsistent types refused.

use super::test_support::*;
use super::{DatasetReader, read_dataset, write_dataset};
use crate::data::Dataset;

/// `sample` with 3 defect types: type of slot d is d % 3, type t made by kernel (k0 + t) % 3.
fn typed_sample() -> Dataset {
    let mut ds = sample(40, 8, 6, 5, 3);
    let o = &mut ds.observations;
    let n = o.kernel_index.len();
    let nk = ds.kernels.names.len() as u32;
    o.types = ndarray::Array2::from_shape_fn((n, 5), |(_, d)| (d % 3) as u8);
    o.type_kernels =
        ndarray::Array2::from_shape_fn((n, 3), |(i, t)| (o.kernel_index[i] + t as u32) % nk);
    ds
}

#[test]
fn types_round_trip_here_and_in_the_child() {
    let ds = typed_sample();
    let tmp = TempPath::new("typed");
    write_dataset(&tmp.0, &ds).unwrap();
    let here = DatasetReader::open_in_process(&tmp.0).unwrap();
    assert_eq!(here.n_types(), 3);
    assert_same_observations(&ds.observations, &here.read_observations(0..40).unwrap());
    let child = DatasetReader::open_in_child(&tmp.0).unwrap();
    assert_eq!(child.n_types(), 3);
    let part = child.read_observations(3..29).unwrap();
    assert_same_observations(&rows(&ds.observations, 3..29), &part);
}

#[test]
fn a_file_without_types_reads_as_one_type_all_zero() {
    let ds = sample(12, 8, 6, 4, 7);
    let tmp = TempPath::new("untyped");
    write_dataset(&tmp.0, &ds).unwrap();
    {
        let f = hdf5::File::open_rw(&tmp.0).unwrap();
        f.unlink("types").unwrap();
        f.unlink("type_kernel_index").unwrap();
    }
    let back = read_dataset(&tmp.0).unwrap();
    let o = &back.observations;
    assert!(o.types.iter().all(|&t| t == 0));
    assert_eq!(o.types.dim(), (12, 4));
    assert_eq!(o.type_kernels.dim(), (12, 1));
    assert_eq!(o.type_kernels.column(0).to_vec(), o.kernel_index);
    assert_eq!(o.kernel_index, ds.observations.kernel_index);
}

#[test]
fn inconsistent_types_are_refused_naming_the_dataset() {
    let ds = typed_sample();
    let tmp = TempPath::new("badtypes");
    write_dataset(&tmp.0, &ds).unwrap();
    {
        let f = hdf5::File::open_rw(&tmp.0).unwrap();
        f.unlink("type_kernel_index").unwrap();
    }
    let e = DatasetReader::open(&tmp.0).err().unwrap().to_string();
    assert!(e.contains("'types' without 'type_kernel_index'"), "{e}");
    // A type beyond the type count is refused when writing.
    let mut bad = typed_sample();
    bad.observations.types[[2, 1]] = 3;
    let e = write_dataset(&TempPath::new("badtype").0, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("type 3") && e.contains("3 types"), "{e}");
    let mut bad = typed_sample();
    bad.observations.type_kernels[[4, 0]] += 1;
    let e = write_dataset(&TempPath::new("badfirst").0, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("kernel of type 0"), "{e}");
}
