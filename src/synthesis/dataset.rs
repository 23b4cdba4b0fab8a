//! Paper-scale dataset generation: catalog kernels -> stamps -> observations -> HDF5.

use super::{Artefacts, DefectConfig, KernelStamps, Observation, synthesize};
use crate::budget::{self, MemoryBudget};
use crate::data::hdf5_io::DatasetWriter;
use crate::data::{DatasetInfo, KernelTable, ObservationTable, SPLIT_TRAIN, SPLIT_UNSEEN};
use crate::physics::{KernelSpec, PixelGrid, SimContext, catalog::catalog};
use crate::progress::{Progress, check_cancelled};
use crate::rng::Rng;
use crate::{Error, Result};
use ndarray::{Array2, Array3, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything that determines a generated dataset (stored as TOML in the file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Number of catalog kernels (chosen by the seed when fewer than the catalog holds).
    pub kernels: usize,
    /// Observations per kernel.
    pub per_kernel: usize,
    /// Kernel and observation size in pixels (square).
    pub size: usize,
    pub seed: u64,
    /// Seed of the kernel choice and the train/unseen split, kept apart from `seed` so test
    /// sets drawn with other seeds share the training set's split.
    #[serde(default)]
    pub split_seed: u64,
    /// Fraction of kernels held out as "unseen" (split = 1).
    pub unseen_fraction: f64,
    /// Common pixel size in Angstrom; `None` keeps each catalog kernel's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_size_a: Option<f64>,
    pub defects: DefectConfig,
    pub artefacts: Artefacts,
}

impl Default for DatasetConfig {
    /// The paper's scale: 100 kernels x 500 observations of 64 x 64, 80/20 kernel split.
    fn default() -> Self {
        DatasetConfig {
            kernels: 100,
            per_kernel: 500,
            size: 64,
            seed: 0,
            split_seed: 0,
            unseen_fraction: 0.2,
            pixel_size_a: None,
            defects: DefectConfig::default(),
            artefacts: Artefacts::default(),
        }
    }
}

impl DatasetConfig {
    pub fn validate(&self) -> Result<()> {
        if self.kernels == 0 || self.per_kernel == 0 {
            return Err(Error::invalid(
                "a dataset needs at least one kernel and one observation per kernel",
            ));
        }
        if !(8..=1024).contains(&self.size) {
            return Err(Error::invalid(format!(
                "size {} must be between 8 and 1024 pixels",
                self.size
            )));
        }
        if !(0.0..1.0).contains(&self.unseen_fraction) {
            return Err(Error::invalid(format!(
                "unseen fraction {} must be in [0, 1)",
                self.unseen_fraction
            )));
        }
        if let Some(p) = self.pixel_size_a {
            if !(p.is_finite() && p > 0.0) {
                return Err(Error::invalid(format!(
                    "pixel size {p} Angstrom must be positive"
                )));
            }
        }
        if self.defects.density_per_nm2.is_some() {
            return Err(Error::invalid(
                "datasets use a defect count range (count_min..count_max); density is for single large observations",
            ));
        }
        self.defects.validate()?;
        self.artefacts.validate()
    }

    /// Number of observations, `kernels x per_kernel`; `None` when the product overflows.
    pub fn observations(&self) -> Option<usize> {
        self.kernels.checked_mul(self.per_kernel)
    }

    /// Upper bound of the bytes [`generate_dataset`] holds at once (`None` on overflow):
    /// every kernel's stamps (`subpixel_steps^2` renders of a `2 size` square window, f32,
    /// plus one f64 render per worker), the kernel table, a block of [`BLOCK`] observations
    /// three times over (synthesised, packed, padded for the file) and the writer's row table
    /// (one byte per observation).
    pub fn memory_bytes(&self) -> Option<u64> {
        let n = self.observations()?;
        let steps = self.defects.subpixel_steps;
        let side = self.size.checked_mul(2)?;
        let threads = rayon::current_num_threads();
        let per_obs = budget::sum(&[
            budget::bytes(&[self.size, self.size, 4 + 1]),
            budget::bytes(&[self.defects.count_max, 3, 4]),
        ])?;
        budget::sum(&[
            budget::bytes(&[self.kernels, steps, steps, side, side, 4]),
            budget::bytes(&[threads, side, side, 8]),
            budget::bytes(&[self.kernels, self.size, self.size, 4]),
            per_obs.checked_mul(3 * BLOCK.min(n) as u64),
            Some(n as u64),
        ])
    }

    /// Refuses a config whose observation count overflows or whose generation needs more
    /// memory than `budget` ([`DatasetConfig::memory_bytes`]).
    pub fn check_memory(&self, budget: &MemoryBudget) -> Result<()> {
        let what = format!(
            "a dataset of {} kernels x {} observations of {} x {} pixels",
            self.kernels, self.per_kernel, self.size, self.size
        );
        if self.observations().is_none() {
            return budget.check(&what, None);
        }
        budget.check(&what, self.memory_bytes())
    }

    /// The kernels this config uses, with their split, in file order.
    pub fn select_kernels(&self) -> Result<Vec<(KernelSpec, u8)>> {
        let all = catalog();
        if self.kernels > all.len() {
            return Err(Error::invalid(format!(
                "asked for {} kernels but the catalog has {}; use --kernels {} or fewer",
                self.kernels,
                all.len(),
                all.len()
            )));
        }
        let mut rng = Rng::new(self.split_seed ^ 0x006B_6572_6E65_6C73);
        let mut order: Vec<usize> = (0..all.len()).collect();
        if self.kernels < all.len() {
            rng.shuffle(&mut order);
            order.truncate(self.kernels);
            order.sort_unstable();
        }
        let n_unseen = (self.unseen_fraction * self.kernels as f64).round() as usize;
        let mut pick: Vec<usize> = (0..self.kernels).collect();
        rng.shuffle(&mut pick);
        let mut split = vec![SPLIT_TRAIN; self.kernels];
        for &i in &pick[..n_unseen] {
            split[i] = SPLIT_UNSEEN;
        }
        Ok(order
            .into_iter()
            .zip(split)
            .map(|(i, s)| {
                let mut spec = all[i].clone();
                spec.render.size = [self.size, self.size];
                if let Some(p) = self.pixel_size_a {
                    spec.render.pixel_size_a = p;
                }
                (spec, s)
            })
            .collect())
    }
}

/// A kernel ready for synthesis: its stamps and its ground-truth image.
pub struct PreparedKernel {
    pub spec: KernelSpec,
    pub stamps: KernelStamps,
    /// `size x size`, impurity at `(size/2, size/2)`.
    pub image: Array2<f32>,
}

/// Simulate and stamp one kernel for observations of `size x size`.
pub fn prepare_kernel(
    ctx: &mut SimContext,
    spec: &KernelSpec,
    steps: usize,
) -> Result<PreparedKernel> {
    let field = spec.simulate(ctx)?;
    let grid: PixelGrid = spec.grid();
    let (h, w) = (grid.height, grid.width);
    let radius = h.max(w);
    let stamps = KernelStamps::new(&field, &grid, radius, steps)?;
    // Phase (0, 0) has its impurity at (radius, radius): crop so it lands at (h/2, w/2).
    let full = stamps.phase(0, 0);
    let side = 2 * radius;
    let (r0, c0) = (radius - h / 2, radius - w / 2);
    let image = Array2::from_shape_fn((h, w), |(i, j)| full[(r0 + i) * side + c0 + j]);
    Ok(PreparedKernel {
        spec: spec.clone(),
        stamps,
        image,
    })
}

/// What a generation run did.
#[derive(Clone, Debug)]
pub struct DatasetSummary {
    pub kernels: usize,
    pub unseen: usize,
    pub observations: usize,
    pub seconds_kernels: f64,
    pub seconds_observations: f64,
}

/// Observations synthesised and written at a time.
const BLOCK: usize = 2048;

/// Generate the dataset described by `cfg` and write it to `path` (HDF5, qpik-dataset v1),
/// within the default memory budget.
pub fn generate_dataset(
    cfg: &DatasetConfig,
    path: &Path,
    progress: &dyn Progress,
) -> Result<DatasetSummary> {
    generate_dataset_within(cfg, path, &MemoryBudget::default(), progress)
}

/// [`generate_dataset`] refused with [`Error::OverBudget`] before anything is allocated when
/// it would need more than `budget` ([`DatasetConfig::memory_bytes`]).
pub fn generate_dataset_within(
    cfg: &DatasetConfig,
    path: &Path,
    budget: &MemoryBudget,
    progress: &dyn Progress,
) -> Result<DatasetSummary> {
    cfg.validate()?;
    cfg.check_memory(budget)?;
    crate::data::output_file::check_target(path)?;
    let selected = cfg.select_kernels()?;
    let t0 = std::time::Instant::now();
    progress.stage("simulating kernels", selected.len() as u64);
    let mut ctx = SimContext::new();
    ctx.memory_budget = *budget;
    let mut prepared = Vec::with_capacity(selected.len());
    for (spec, _) in &selected {
        check_cancelled(progress)?;
        prepared.push(prepare_kernel(&mut ctx, spec, cfg.defects.subpixel_steps)?);
        progress.advance(1);
    }
    let seconds_kernels = t0.elapsed().as_secs_f64();

    let k = prepared.len();
    let size = cfg.size;
    let mut kernels = Array3::<f32>::zeros((k, size, size));
    for (i, p) in prepared.iter().enumerate() {
        kernels.slice_mut(s![i, .., ..]).assign(&p.image);
    }
    let pixel_sizes: Vec<f64> = prepared
        .iter()
        .map(|p| p.spec.render.pixel_size_a * 1e-10)
        .collect();
    let common = pixel_sizes.iter().all(|&p| p == pixel_sizes[0]);
    let table = KernelTable {
        kernels,
        names: prepared.iter().map(|p| p.spec.name.clone()).collect(),
        symmetry: prepared.iter().map(|p| p.spec.symmetry).collect(),
        split: selected.iter().map(|(_, s)| *s).collect(),
        pixel_size_m: pixel_sizes.clone(),
    };
    let info = DatasetInfo {
        pixel_size_m: if common { pixel_sizes[0] } else { f64::NAN },
        seed: cfg.seed,
        generator: toml::to_string(cfg).expect("config serialises"),
    };
    let n = cfg
        .observations()
        .ok_or_else(|| Error::invalid("observation count overflows"))?;
    let s_max = cfg.defects.count_max;
    let mut writer = DatasetWriter::create(path, &info, &table, n, s_max)?;

    let t1 = std::time::Instant::now();
    progress.stage("synthesising observations", n as u64);
    for start in (0..n).step_by(BLOCK) {
        if progress.cancelled() {
            drop(writer); // removes the temporary file; an existing file at `path` is untouched
            return Err(Error::Cancelled);
        }
        let end = (start + BLOCK).min(n);
        let obs: Vec<Observation> = (start..end)
            .into_par_iter()
            .map(|idx| {
                let p = &prepared[idx / cfg.per_kernel];
                let mut rng = Rng::stream(cfg.seed, idx as u64);
                synthesize(
                    &p.stamps,
                    size,
                    size,
                    p.spec.render.pixel_size_a,
                    &cfg.defects,
                    &cfg.artefacts,
                    &mut rng,
                )
            })
            .collect::<Result<_>>()?;
        // Reported from the calling thread only (C callbacks must not run on workers).
        progress.advance((end - start) as u64);
        let block = observation_table(
            &obs,
            (start..end).map(|i| (i / cfg.per_kernel) as u32).collect(),
            s_max,
        );
        writer.write_block(start, &block)?;
    }
    if progress.cancelled() {
        drop(writer); // a cancel on the last report still leaves no file
        return Err(Error::Cancelled);
    }
    writer.finish()?;
    Ok(DatasetSummary {
        kernels: k,
        unseen: table.split.iter().filter(|&&s| s == SPLIT_UNSEEN).count(),
        observations: n,
        seconds_kernels,
        seconds_observations: t1.elapsed().as_secs_f64(),
    })
}

/// Pack observations into the file's table layout (positions/amplitudes NaN-padded to `s_max`).
pub fn observation_table(
    obs: &[Observation],
    kernel_index: Vec<u32>,
    s_max: usize,
) -> ObservationTable {
    let n = obs.len();
    let (h, w) = obs.first().map(|o| o.image.dim()).unwrap_or((0, 0));
    let mut observations = Array3::<f32>::zeros((n, h, w));
    let mut masks = Array3::<u8>::zeros((n, h, w));
    let mut positions = Array3::<f32>::from_elem((n, s_max, 2), f32::NAN);
    let mut amplitudes = Array2::<f32>::from_elem((n, s_max), f32::NAN);
    for (i, o) in obs.iter().enumerate() {
        observations.slice_mut(s![i, .., ..]).assign(&o.image);
        masks.slice_mut(s![i, .., ..]).assign(&o.mask);
        for (d, (p, a)) in o
            .positions
            .iter()
            .zip(&o.amplitudes)
            .take(s_max)
            .enumerate()
        {
            positions[[i, d, 0]] = p[0];
            positions[[i, d, 1]] = p[1];
            amplitudes[[i, d]] = *a;
        }
    }
    ObservationTable {
        observations,
        masks,
        kernel_index,
        positions,
        amplitudes,
    }
}
