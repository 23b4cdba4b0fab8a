//! Helpers shared by the tests of the dataset file: temporary paths, a sample dataset and
//! bit-exact comparisons.

use std::ops::Range;
use std::path::PathBuf;

use ndarray::{Array3, s};

use crate::data::assemble::pack_defects;
use crate::data::{Dataset, DatasetInfo, KernelTable, ObservationTable, SPLIT_TRAIN, SPLIT_UNSEEN};
use crate::rng::Rng;

/// A path in a fresh temporary folder (the file itself is not created); the folder, with the
/// file and any writer leftovers, is removed when dropped.
pub(super) struct TempPath(
    pub(super) PathBuf,
    #[allow(dead_code)] // held for its Drop
    tempfile::TempDir,
);

impl TempPath {
    pub(super) fn new(tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("qpik-hdf5-")
            .tempdir()
            .expect("a temporary folder");
        TempPath(dir.path().join(format!("{tag}.h5")), dir)
    }
}

/// A dataset with NaN slots, unicode names and non-square images of `h x w`.
pub(super) fn sample(n: usize, h: usize, w: usize, s: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let nk = 3;
    let kernels = Array3::from_shape_fn((nk, h, w), |_| rng.normal() as f32);
    let observations = Array3::from_shape_fn((n, h, w), |_| rng.normal() as f32 * 1e-3);
    let mut masks = Array3::zeros((n, h, w));
    let mut kernel_index = Vec::with_capacity(n);
    let mut defects = Vec::with_capacity(n);
    for i in 0..n {
        kernel_index.push((rng.next_u64() % nk as u64) as u32);
        let mut row = Vec::new();
        for _ in 0..(i % (s + 1)) {
            let (r, c) = (
                rng.range(0.0, h as f64 - 1.0),
                rng.range(0.0, w as f64 - 1.0),
            );
            row.push(Some(([r as f32, c as f32], rng.range(-2.0, 2.0) as f32)));
            masks[[i, r.round() as usize, c.round() as usize]] = 1;
        }
        defects.push(row);
    }
    let (positions, amplitudes) = pack_defects(defects.into_iter(), s);
    Dataset {
        info: DatasetInfo {
            pixel_size_m: 6.25e-10,
            seed,
            generator: "[lattice]\nname = \"FeSe – ü\"\nn = 64\n".into(),
        },
        kernels: KernelTable {
            kernels,
            names: vec!["square".into(), "FeSe – ü".into(), String::new()],
            symmetry: vec![4, 2, 0],
            split: vec![SPLIT_TRAIN, SPLIT_UNSEEN, SPLIT_TRAIN],
            pixel_size_m: vec![6.25e-10, 6.25e-10, f64::NAN],
        },
        observations: ObservationTable::one_type(
            observations,
            masks,
            kernel_index,
            positions,
            amplitudes,
        ),
    }
}

pub(super) fn bits32<'a>(a: impl IntoIterator<Item = &'a f32>) -> Vec<u32> {
    a.into_iter().map(|v| v.to_bits()).collect()
}

pub(super) fn bits64<'a>(a: impl IntoIterator<Item = &'a f64>) -> Vec<u64> {
    a.into_iter().map(|v| v.to_bits()).collect()
}

/// Bit-exact equality (NaN == NaN), field by field so a failure says which.
pub(super) fn assert_same_observations(a: &ObservationTable, b: &ObservationTable) {
    assert_eq!(a.observations.dim(), b.observations.dim());
    assert_eq!(
        bits32(&a.observations),
        bits32(&b.observations),
        "observations"
    );
    assert_eq!(a.masks, b.masks, "masks");
    assert_eq!(a.kernel_index, b.kernel_index, "kernel_index");
    assert_eq!(a.positions.dim(), b.positions.dim());
    assert_eq!(bits32(&a.positions), bits32(&b.positions), "positions");
    assert_eq!(a.amplitudes.dim(), b.amplitudes.dim());
    assert_eq!(bits32(&a.amplitudes), bits32(&b.amplitudes), "amplitudes");
    assert_eq!(a.types, b.types, "types");
    assert_eq!(a.type_kernels, b.type_kernels, "type_kernels");
}

pub(super) fn assert_same(a: &Dataset, b: &Dataset) {
    assert_eq!(a.info.seed, b.info.seed);
    assert_eq!(a.info.generator, b.info.generator);
    assert_eq!(a.info.pixel_size_m.to_bits(), b.info.pixel_size_m.to_bits());
    let (ka, kb) = (&a.kernels, &b.kernels);
    assert_eq!(ka.kernels.dim(), kb.kernels.dim());
    assert_eq!(bits32(&ka.kernels), bits32(&kb.kernels), "kernels");
    assert_eq!(ka.names, kb.names);
    assert_eq!(ka.symmetry, kb.symmetry);
    assert_eq!(ka.split, kb.split);
    assert_eq!(bits64(&ka.pixel_size_m), bits64(&kb.pixel_size_m));
    assert_same_observations(&a.observations, &b.observations);
}

pub(super) fn rows(t: &ObservationTable, r: Range<usize>) -> ObservationTable {
    ObservationTable {
        observations: t.observations.slice(s![r.clone(), .., ..]).to_owned(),
        masks: t.masks.slice(s![r.clone(), .., ..]).to_owned(),
        kernel_index: t.kernel_index[r.clone()].to_vec(),
        positions: t.positions.slice(s![r.clone(), .., ..]).to_owned(),
        amplitudes: t.amplitudes.slice(s![r.clone(), ..]).to_owned(),
        types: t.types.slice(s![r.clone(), ..]).to_owned(),
        type_kernels: t.type_kernels.slice(s![r, ..]).to_owned(),
    }
}
