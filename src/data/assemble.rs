//! Dataset tables from their parts: NaN-padded defect slots, positions from masks, the
//! seeded held-out split, and whole datasets for the common cases (one kernel, a kernel
//! table alone, your own data with masks).
//!
//! Conventions as in [`crate::data`]: images `[row, col]`, positions `(row, col)` in pixels,
//! kernels with their impurity at `(H/2, W/2)`, pixel sizes in metres.

use ndarray::{Array2, Array3, ArrayView2};

use super::{Dataset, DatasetInfo, KernelTable, ObservationTable, SPLIT_TRAIN, SPLIT_UNSEEN};
use crate::rng::Rng;
use crate::{Error, Result};

/// One defect slot as a dataset records it: position `(row, col)` in pixels and amplitude;
/// `None` leaves the slot unused (NaN).
pub type DefectSlot = Option<([f32; 2], f32)>;

/// Positions `[N, slots, 2]` and amplitudes `[N, slots]`, NaN where unused: row `i` holds
/// the slots `observations` yields for observation `i`, in order; slots past `slots` are
/// dropped.
pub fn pack_defects<O, D>(observations: O, slots: usize) -> (Array3<f32>, Array2<f32>)
where
    O: ExactSizeIterator<Item = D>,
    D: IntoIterator<Item = DefectSlot>,
{
    let n = observations.len();
    let mut positions = Array3::<f32>::from_elem((n, slots, 2), f32::NAN);
    let mut amplitudes = Array2::<f32>::from_elem((n, slots), f32::NAN);
    for (i, defects) in observations.enumerate() {
        for (d, slot) in defects.into_iter().take(slots).enumerate() {
            if let Some(([r, c], a)) = slot {
                positions[[i, d, 0]] = r;
                positions[[i, d, 1]] = c;
                amplitudes[[i, d]] = a;
            }
        }
    }
    (positions, amplitudes)
}

/// The `(row, col)` pixels where `mask` is 1, in row-major order.
pub fn mask_positions(mask: ArrayView2<u8>) -> Vec<[f32; 2]> {
    mask.indexed_iter()
        .filter(|(_, v)| **v == 1)
        .map(|((r, c), _)| [r as f32, c as f32])
        .collect()
}

/// Split codes of `kernels` kernels: `round(unseen_fraction * kernels)` (at most all) marked
/// [`SPLIT_UNSEEN`], the first that many of a shuffle of `0..kernels` by `rng`; the rest
/// [`SPLIT_TRAIN`].
pub fn unseen_split(kernels: usize, unseen_fraction: f64, rng: &mut Rng) -> Vec<u8> {
    let n_unseen = ((unseen_fraction * kernels as f64).round() as usize).min(kernels);
    let mut order: Vec<usize> = (0..kernels).collect();
    rng.shuffle(&mut order);
    let mut split = vec![SPLIT_TRAIN; kernels];
    for &k in &order[..n_unseen] {
        split[k] = SPLIT_UNSEEN;
    }
    split
}

impl ObservationTable {
    /// Observations of one defect type each: `types` all 0 and `type_kernels` `[N, 1]` =
    /// `kernel_index` ([`ObservationTable::single_type`]); the slot count is `positions`'.
    pub fn one_type(
        observations: Array3<f32>,
        masks: Array3<u8>,
        kernel_index: Vec<u32>,
        positions: Array3<f32>,
        amplitudes: Array2<f32>,
    ) -> Self {
        let (types, type_kernels) = ObservationTable::single_type(&kernel_index, positions.dim().1);
        ObservationTable {
            observations,
            masks,
            kernel_index,
            positions,
            amplitudes,
            types,
            type_kernels,
        }
    }

    /// A table of no observations of `h x w` (a file holding kernels only).
    pub fn empty(h: usize, w: usize) -> Self {
        ObservationTable {
            observations: Array3::zeros((0, h, w)),
            masks: Array3::zeros((0, h, w)),
            kernel_index: vec![],
            positions: Array3::zeros((0, 0, 2)),
            amplitudes: Array2::zeros((0, 0)),
            types: Array2::zeros((0, 0)),
            type_kernels: Array2::zeros((0, 1)),
        }
    }
}

impl KernelTable {
    /// One training kernel: `image` (impurity at `(H/2, W/2)`), its name, n-fold symmetry
    /// label (0 = unknown) and pixel size in metres (NaN when unknown).
    pub fn single(name: String, symmetry: u8, image: Array2<f32>, pixel_size_m: f64) -> Self {
        let (h, w) = image.dim();
        KernelTable {
            kernels: image.into_shape_with_order((1, h, w)).expect("same length"),
            names: vec![name],
            symmetry: vec![symmetry],
            split: vec![SPLIT_TRAIN],
            pixel_size_m: vec![pixel_size_m],
        }
    }
}

impl Dataset {
    /// A dataset of kernels and no observations; `pixel_size_m` is the common pixel size in
    /// metres (NaN when the kernels differ), `generator` the settings that made it (TOML).
    pub fn kernels_only(kernels: KernelTable, pixel_size_m: f64, generator: String) -> Self {
        let (_, h, w) = kernels.kernels.dim();
        Dataset {
            info: DatasetInfo {
                pixel_size_m,
                seed: 0,
                generator,
            },
            kernels,
            observations: ObservationTable::empty(h, w),
        }
    }

    /// A dataset of one training kernel (see [`KernelTable::single`]) and no observations.
    pub fn single_kernel(
        name: String,
        symmetry: u8,
        image: Array2<f32>,
        pixel_size_m: f64,
        generator: String,
    ) -> Self {
        let table = KernelTable::single(name, symmetry, image, pixel_size_m);
        Dataset::kernels_only(table, pixel_size_m, generator)
    }

    /// Your own data as a dataset: `kernels` `[K, H, W]` (ground truth, impurity at
    /// `(H/2, W/2)`), `observations` and binary `masks` `[N, H, W]`, `kernel_index` (N rows
    /// of the kernel table), one pixel size in metres. Kernels are named `kernel-0`, ... , all
    /// in the training split with symmetry 0 (unknown); the defects are the mask pixels
    /// (row-major order), with unknown (NaN) amplitudes, one type; seed 0, no generator.
    pub fn from_masks(
        kernels: Array3<f32>,
        observations: Array3<f32>,
        masks: Array3<u8>,
        kernel_index: Vec<u32>,
        pixel_size_m: f64,
    ) -> Result<Self> {
        let (k, h, w) = kernels.dim();
        let n = kernel_index.len();
        if observations.dim() != (n, h, w) || masks.dim() != (n, h, w) {
            return Err(Error::invalid(format!(
                "observations {:?} and masks {:?} must both be {n} x {h} x {w} \
                 ({n} kernel indices, {h} x {w} kernels)",
                observations.dim(),
                masks.dim()
            )));
        }
        if let Some((i, &bad)) = kernel_index
            .iter()
            .enumerate()
            .find(|(_, x)| **x as usize >= k)
        {
            return Err(Error::invalid(format!(
                "kernel_index[{i}] = {bad} but there are {k} kernels"
            )));
        }
        if let Some(bad) = masks.iter().find(|&&v| v > 1) {
            return Err(Error::invalid(format!(
                "masks must be binary (0 or 1) but hold {bad}"
            )));
        }
        if !(pixel_size_m > 0.0 && pixel_size_m.is_finite()) {
            return Err(Error::invalid(format!(
                "pixel size {pixel_size_m} m must be positive and finite"
            )));
        }
        let found: Vec<Vec<[f32; 2]>> = masks.outer_iter().map(mask_positions).collect();
        let slots = found.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let (positions, amplitudes) = pack_defects(
            found
                .iter()
                .map(|p| p.iter().map(|&rc| Some((rc, f32::NAN)))),
            slots,
        );
        Ok(Dataset {
            info: DatasetInfo {
                pixel_size_m,
                seed: 0,
                generator: String::new(),
            },
            kernels: KernelTable {
                kernels,
                names: (0..k).map(|i| format!("kernel-{i}")).collect(),
                symmetry: vec![0; k],
                split: vec![SPLIT_TRAIN; k],
                pixel_size_m: vec![pixel_size_m; k],
            },
            observations: ObservationTable::one_type(
                observations,
                masks,
                kernel_index,
                positions,
                amplitudes,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defects_are_packed_in_their_slots_and_padded_with_nan() {
        let rows: Vec<Vec<DefectSlot>> = vec![
            vec![Some(([1.0, 2.0], 0.5)), None, Some(([3.0, 4.0], -1.0))],
            vec![],
            vec![Some(([5.0, 6.0], 2.0)); 5],
        ];
        let (p, a) = pack_defects(rows.iter().map(|r| r.iter().copied()), 3);
        assert_eq!(p.dim(), (3, 3, 2));
        for (i, row) in rows.iter().enumerate() {
            for d in 0..3 {
                match row.get(d).copied().flatten() {
                    Some(([r, c], amp)) => {
                        assert_eq!((p[[i, d, 0]], p[[i, d, 1]], a[[i, d]]), (r, c, amp));
                    }
                    None => {
                        assert!(p[[i, d, 0]].is_nan() && p[[i, d, 1]].is_nan());
                        assert!(a[[i, d]].is_nan());
                    }
                }
            }
        }
    }

    #[test]
    fn mask_positions_are_the_one_pixels_row_major() {
        let mut m = Array2::<u8>::zeros((4, 5));
        for (r, c) in [(3, 0), (0, 4), (2, 2)] {
            m[[r, c]] = 1;
        }
        assert_eq!(
            mask_positions(m.view()),
            vec![[0.0, 4.0], [2.0, 2.0], [3.0, 0.0]]
        );
    }

    #[test]
    fn the_unseen_split_marks_the_rounded_fraction_by_the_seeded_shuffle() {
        for (k, f) in [(10, 0.25), (7, 1.0), (5, 0.0), (1, 0.6)] {
            let split = unseen_split(k, f, &mut Rng::new(9));
            let want = (f * k as f64).round() as usize;
            assert_eq!(split.iter().filter(|&&s| s == SPLIT_UNSEEN).count(), want);
            // The same shuffle, made independently, picks the same kernels.
            let mut order: Vec<usize> = (0..k).collect();
            Rng::new(9).shuffle(&mut order);
            for (i, &s) in split.iter().enumerate() {
                assert_eq!(s == SPLIT_UNSEEN, order[..want].contains(&i));
            }
        }
    }

    #[test]
    fn a_dataset_from_masks_records_the_mask_pixels_and_checks_its_parts() {
        let (k, n, h, w) = (2, 3, 6, 7);
        let kernels = Array3::from_shape_fn((k, h, w), |(a, b, c)| (a * 100 + b * 10 + c) as f32);
        let obs = Array3::from_shape_fn((n, h, w), |(a, b, c)| (a + b + c) as f32);
        let mut masks = Array3::<u8>::zeros((n, h, w));
        masks[[0, 1, 2]] = 1;
        masks[[0, 5, 6]] = 1;
        masks[[2, 0, 0]] = 1;
        let ds = Dataset::from_masks(
            kernels.clone(),
            obs.clone(),
            masks.clone(),
            vec![1, 0, 1],
            3e-10,
        )
        .unwrap();
        let o = &ds.observations;
        assert_eq!(o.positions.dim(), (n, 2, 2));
        assert_eq!((o.positions[[0, 0, 0]], o.positions[[0, 0, 1]]), (1.0, 2.0));
        assert_eq!((o.positions[[0, 1, 0]], o.positions[[0, 1, 1]]), (5.0, 6.0));
        assert!(o.positions[[1, 0, 0]].is_nan() && o.positions[[2, 1, 0]].is_nan());
        assert_eq!((o.positions[[2, 0, 0]], o.positions[[2, 0, 1]]), (0.0, 0.0));
        assert!(o.amplitudes.iter().all(|a| a.is_nan()));
        assert_eq!(o.type_kernels.column(0).to_vec(), vec![1, 0, 1]);
        assert_eq!(ds.kernels.names, vec!["kernel-0", "kernel-1"]);
        assert_eq!(ds.kernels.kernels, kernels);
        assert_eq!(o.observations, obs);
        // An empty mask set still has one (unused) slot.
        let none = Dataset::from_masks(
            kernels.clone(),
            obs.clone(),
            Array3::zeros((n, h, w)),
            vec![0; n],
            1e-10,
        )
        .unwrap();
        assert_eq!(none.observations.positions.dim(), (n, 1, 2));

        let bad_index = Dataset::from_masks(
            kernels.clone(),
            obs.clone(),
            masks.clone(),
            vec![0, 2, 0],
            1e-10,
        );
        assert!(
            matches!(bad_index, Err(Error::InvalidInput(m)) if m.contains("kernel_index[1] = 2"))
        );
        let short =
            Dataset::from_masks(kernels.clone(), obs.clone(), masks.clone(), vec![0], 1e-10);
        assert!(matches!(short, Err(Error::InvalidInput(_))));
        masks[[1, 1, 1]] = 2;
        assert!(Dataset::from_masks(kernels, obs, masks, vec![0; n], 1e-10).is_err());
    }

    #[test]
    fn a_single_kernel_dataset_holds_the_image_and_no_observations() {
        let image = Array2::from_shape_fn((4, 6), |(r, c)| (r * 6 + c) as f32);
        let ds = Dataset::single_kernel("k".into(), 4, image.clone(), 2e-10, "g".into());
        assert_eq!(ds.kernels.kernels.index_axis(ndarray::Axis(0), 0), image);
        assert_eq!(ds.kernels.symmetry, vec![4]);
        assert_eq!(ds.kernels.split, vec![SPLIT_TRAIN]);
        assert_eq!(ds.info.pixel_size_m, 2e-10);
        assert_eq!(ds.observations.observations.dim(), (0, 4, 6));
        assert_eq!(ds.observations.type_kernels.dim(), (0, 1));
    }
}
