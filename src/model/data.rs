//! Training data: a qpik dataset scaled the way the models see it, with the paper's splits.
//!
//! Splits: kernels with `split = 1` are "unseen" (never trained on); of each training kernel's
//! observations the last `seen_test_fraction` are held out as the "seen" test set.

use super::minmax;
use crate::data::SPLIT_UNSEEN;
use crate::data::hdf5_io::DatasetReader;
use crate::rng::Rng;
use crate::synthesis::{Artefacts, apply_artefacts};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use std::path::Path;

/// A dataset in memory: raw observations (for augmentation), masks, scaled kernels.
pub struct TrainingData {
    pub size: usize,
    /// Per kernel, min-max scaled, `size * size`.
    pub kernels: Vec<Vec<f32>>,
    pub symmetry: Vec<u8>,
    pub split: Vec<u8>,
    /// Raw observations, `n * size * size`.
    observations: Vec<f32>,
    masks: Vec<u8>,
    pub kernel_index: Vec<u32>,
    pub train: Vec<usize>,
    pub seen_test: Vec<usize>,
    pub unseen_test: Vec<usize>,
}

impl TrainingData {
    /// Load `path`, keeping at most `max_per_kernel` observations of each kernel.
    pub fn load(
        path: &Path,
        max_per_kernel: Option<usize>,
        seen_test_fraction: f64,
    ) -> Result<Self> {
        let reader = DatasetReader::open(path)?;
        let (h, w) = reader.image_shape();
        if h != w || h % 8 != 0 {
            return Err(Error::invalid(format!(
                "{}: images are {h}x{w}; the models need square sizes divisible by 8",
                path.display()
            )));
        }
        let kt = reader.kernels().clone();
        let size = h;
        let table = reader.read_observations(0..reader.len())?;
        let n = table.kernel_index.len();
        let mut per_kernel: Vec<Vec<usize>> = vec![vec![]; kt.names.len()];
        for i in 0..n {
            per_kernel[table.kernel_index[i] as usize].push(i);
        }
        let mut keep = Vec::new();
        let (mut train, mut seen_test, mut unseen_test) = (vec![], vec![], vec![]);
        for (k, list) in per_kernel.iter().enumerate() {
            let list: Vec<usize> = match max_per_kernel {
                Some(m) => list.iter().copied().take(m).collect(),
                None => list.clone(),
            };
            let held = ((list.len() as f64) * seen_test_fraction).round() as usize;
            for (j, &i) in list.iter().enumerate() {
                let new = keep.len();
                keep.push(i);
                if kt.split[k] == SPLIT_UNSEEN {
                    unseen_test.push(new);
                } else if j >= list.len() - held {
                    seen_test.push(new);
                } else {
                    train.push(new);
                }
            }
        }
        let px = size * size;
        let obs = table.observations.as_slice().expect("contiguous");
        let masks = table.masks.as_slice().expect("contiguous");
        let mut observations = Vec::with_capacity(keep.len() * px);
        let mut mask_out = Vec::with_capacity(keep.len() * px);
        let mut kernel_index = Vec::with_capacity(keep.len());
        for &i in &keep {
            observations.extend_from_slice(&obs[i * px..(i + 1) * px]);
            mask_out.extend_from_slice(&masks[i * px..(i + 1) * px]);
            kernel_index.push(table.kernel_index[i]);
        }
        let kernels = (0..kt.names.len())
            .map(|k| minmax(&kt.kernels.as_slice().expect("contiguous")[k * px..(k + 1) * px]))
            .collect();
        Ok(TrainingData {
            size,
            kernels,
            symmetry: kt.symmetry,
            split: kt.split,
            observations,
            masks: mask_out,
            kernel_index,
            train,
            seen_test,
            unseen_test,
        })
    }

    /// Training kernel indices (split 0).
    pub fn train_kernels(&self) -> Vec<usize> {
        (0..self.kernels.len())
            .filter(|&k| self.split[k] != SPLIT_UNSEEN)
            .collect()
    }

    /// Raw observation `i` and its mask.
    pub fn observation(&self, i: usize) -> (&[f32], &[u8]) {
        let px = self.size * self.size;
        (
            &self.observations[i * px..(i + 1) * px],
            &self.masks[i * px..(i + 1) * px],
        )
    }

    /// Model inputs `[B, 2, S, S]` (scaled observation, mask) and targets `[B, 1, S, S]`.
    /// With `augment`, half the samples get random-strength STM artefacts first.
    pub fn batch(
        &self,
        items: &[usize],
        augment: Option<(u64, u64)>,
        device: &Device,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let (s, px) = (self.size, self.size * self.size);
        let mut input = Vec::with_capacity(items.len() * 2 * px);
        let mut target = Vec::with_capacity(items.len() * px);
        for (slot, &i) in items.iter().enumerate() {
            let (obs, mask) = self.observation(i);
            let scaled = match augment {
                Some((seed, step)) => {
                    let mut rng = Rng::stream(seed, step * 1_000_003 + slot as u64);
                    let mut x = obs.to_vec();
                    if rng.uniform() < 0.5 {
                        let a = Artefacts::realistic();
                        let f = rng.uniform();
                        let strength = Artefacts {
                            snr: a.snr.map(|v| v / f.max(0.05)),
                            flicker: a.flicker * f,
                            line_offsets: a.line_offsets * f,
                            tip_changes: a.tip_changes * f,
                            tip_change_size: a.tip_change_size,
                            spikes: a.spikes * f,
                            spike_size: a.spike_size,
                            plane: a.plane * f,
                            drift_px: 0.0,
                        };
                        apply_artefacts(&mut x, s, s, &strength, &mut rng);
                    }
                    minmax(&x)
                }
                None => minmax(obs),
            };
            input.extend_from_slice(&scaled);
            input.extend(mask.iter().map(|&m| m as f32));
            target.extend_from_slice(&self.kernels[self.kernel_index[i] as usize]);
        }
        let b = items.len();
        Ok((
            Tensor::from_vec(input, (b, 2, s, s), device)?,
            Tensor::from_vec(target, (b, 1, s, s), device)?,
        ))
    }
}

/// Kernels `[B, 1, S, S]` with one of the 8 dihedral transforms each (`code` 0..8 per sample):
/// rotations by multiples of 90 degrees about (S/2, S/2) and a mirror keep every n-fold label.
pub fn dihedral(kernel: &[f32], size: usize, code: u8) -> Vec<f32> {
    let c = (size / 2) as i64;
    let mut out = vec![0.0; size * size];
    for i in 0..size as i64 {
        for j in 0..size as i64 {
            let (mut y, mut x) = (i - c, j - c);
            if code & 4 != 0 {
                x = -x;
            }
            for _ in 0..(code & 3) {
                (y, x) = (x, -y);
            }
            let (si, sj) = (y + c, x + c);
            if (0..size as i64).contains(&si) && (0..size as i64).contains(&sj) {
                out[(i * size as i64 + j) as usize] = kernel[(si * size as i64 + sj) as usize];
            }
        }
    }
    out
}
