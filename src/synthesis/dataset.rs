//! Paper-scale dataset generation: catalog kernels -> stamps -> observations -> HDF5.

use super::typed_scene::{TypedObservation, synthesize_types};
use super::{Artefacts, DefectConfig, KernelStamps, Observation, synthesize};
use crate::budget::{self, MemoryBudget};
use crate::data::assemble::{pack_defects, unseen_split};
use crate::data::hdf5_io::DatasetWriter;
use crate::data::{DatasetInfo, KernelTable, MAX_DEFECT_TYPES, ObservationTable, SPLIT_UNSEEN};
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
    /// Defect types per observation (1..=[`MAX_DEFECT_TYPES`]). Type 0 is the observation's
    /// kernel; each further type is a kernel drawn per observation from the other kernels of
    /// the same split (so unseen kernels stay out of training observations). Every type
    /// draws its own count and amplitudes from `defects`, type t's amplitudes scaled by
    /// `rms(K_0) / rms(K_t)` ([`balanced_defects`]). More than one type needs a common
    /// `pixel_size_a`.
    #[serde(default = "one_type", skip_serializing_if = "is_one_type")]
    pub types: usize,
}

fn one_type() -> usize {
    1
}

fn is_one_type(t: &usize) -> bool {
    *t == 1
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
            types: 1,
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
        super::check_image_size(self.size)?;
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
        if !(1..=MAX_DEFECT_TYPES).contains(&self.types) {
            return Err(Error::invalid(format!(
                "{} defect types; choose 1 to {MAX_DEFECT_TYPES}",
                self.types
            )));
        }
        if self.types > 1 && self.pixel_size_a.is_none() {
            return Err(Error::invalid(
                "several defect types share one map, so their kernels need a common pixel size: \
                 give one (--pixel-size, e.g. 2.5 Angstrom)",
            ));
        }
        self.defects.validate()?;
        self.artefacts.validate()
    }

    /// For each kernel, the kernels (rows) a further defect type of its observations may
    /// be drawn from: the others of its split. Errors when a split has fewer than `types`.
    fn type_pools(&self, split: &[u8]) -> Result<Vec<Vec<u32>>> {
        let pools: Vec<Vec<u32>> = (0..split.len())
            .map(|k| {
                (0..split.len())
                    .filter(|&j| j != k && split[j] == split[k])
                    .map(|j| j as u32)
                    .collect()
            })
            .collect();
        if self.types > 1 {
            if let Some(k) = pools.iter().position(|p| p.len() + 1 < self.types) {
                return Err(Error::invalid(format!(
                    "{} defect types need {} kernels in each split, but the {} kernels have {}; \
                     use more --kernels or change --unseen-fraction",
                    self.types,
                    self.types,
                    if split[k] == SPLIT_UNSEEN {
                        "unseen"
                    } else {
                        "training"
                    },
                    pools[k].len() + 1
                )));
            }
        }
        Ok(pools)
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
            budget::bytes(&[self.defects.count_max, self.types.max(1), 3, 4]),
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
        let split = unseen_split(self.kernels, self.unseen_fraction, &mut rng);
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
    prepare_kernel_polling(ctx, spec, steps, &crate::progress::NoProgress)
}

/// [`prepare_kernel`], polling `progress` for cancellation during the simulation.
pub fn prepare_kernel_polling(
    ctx: &mut SimContext,
    spec: &KernelSpec,
    steps: usize,
    progress: &dyn Progress,
) -> Result<PreparedKernel> {
    let field = spec.simulate_polling(ctx, progress)?;
    let grid: PixelGrid = spec.grid();
    let (h, w) = (grid.height, grid.width);
    let stamps = KernelStamps::for_grid(&field, &grid, steps)?;
    let radius = stamps.radius;
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
        prepared.push(prepare_kernel_polling(
            &mut ctx,
            spec,
            cfg.defects.subpixel_steps,
            progress,
        )?);
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
    let s_max = cfg.defects.count_max * cfg.types;
    let pools = cfg.type_pools(&table.split)?;
    let mut writer = DatasetWriter::create_typed(path, &info, &table, n, s_max, cfg.types)?;

    let t1 = std::time::Instant::now();
    progress.stage("synthesising observations", n as u64);
    for start in (0..n).step_by(BLOCK) {
        if progress.cancelled() {
            drop(writer); // removes the temporary file; an existing file at `path` is untouched
            return Err(Error::Cancelled);
        }
        let end = (start + BLOCK).min(n);
        let block = if cfg.types == 1 {
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
            observation_table(
                &obs,
                (start..end).map(|i| (i / cfg.per_kernel) as u32).collect(),
                s_max,
            )
        } else {
            let made: Vec<(TypedObservation, Vec<u32>)> = (start..end)
                .into_par_iter()
                .map(|idx| typed_observation(cfg, &prepared, &pools, idx))
                .collect::<Result<_>>()?;
            let obs: Vec<Observation> = made.iter().map(|m| m.0.observation.clone()).collect();
            let types: Vec<Vec<u8>> = made.iter().map(|m| m.0.types.clone()).collect();
            let kernels: Vec<Vec<u32>> = made.into_iter().map(|m| m.1).collect();
            typed_observation_table(&obs, &types, &kernels, s_max)
        };
        // Reported from the calling thread only (C callbacks must not run on workers).
        progress.advance((end - start) as u64);
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

/// Observation `idx` of a multi-type dataset and the kernel of each of its types: type 0 is
/// kernel `idx / per_kernel`, the others drawn without repeats from `pools` of that kernel,
/// then the map (all from `Rng::stream(seed, idx)`).
fn typed_observation(
    cfg: &DatasetConfig,
    prepared: &[PreparedKernel],
    pools: &[Vec<u32>],
    idx: usize,
) -> Result<(TypedObservation, Vec<u32>)> {
    let first = idx / cfg.per_kernel;
    let mut rng = Rng::stream(cfg.seed, idx as u64);
    let mut pool = pools[first].clone();
    let mut kernels = vec![first as u32];
    for t in 1..cfg.types {
        // Partial Fisher-Yates: slot t-1 gets a uniform pick of the rest.
        let j = rng.int_inclusive(t - 1, pool.len() - 1);
        pool.swap(t - 1, j);
        kernels.push(pool[t - 1]);
    }
    let stamps: Vec<&KernelStamps> = kernels
        .iter()
        .map(|&k| &prepared[k as usize].stamps)
        .collect();
    let images: Vec<&Array2<f32>> = kernels
        .iter()
        .map(|&k| &prepared[k as usize].image)
        .collect();
    let defects = balanced_defects(&cfg.defects, &images);
    let obs = synthesize_types(
        &stamps,
        cfg.size,
        cfg.size,
        prepared[first].spec.render.pixel_size_a,
        &defects,
        &cfg.artefacts,
        &mut rng,
    )?;
    Ok((obs, kernels))
}

/// One defect config per kernel: `defects` for the first, and for kernel `t` its amplitude
/// range scaled by `rms(K_0) / rms(K_t)` (over the kernel images), so that every type
/// contributes comparably to the map whatever its kernel's units. Stored amplitudes are
/// the scaled ones, so the forward model holds as written.
pub fn balanced_defects(defects: &DefectConfig, kernels: &[&Array2<f32>]) -> Vec<DefectConfig> {
    let rms = |k: &Array2<f32>| {
        (k.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / k.len().max(1) as f64).sqrt()
    };
    let first = kernels.first().map_or(0.0, |k| rms(k));
    kernels
        .iter()
        .map(|k| {
            let r = rms(k);
            let scale = if r > 0.0 && first > 0.0 {
                first / r
            } else {
                1.0
            };
            DefectConfig {
                amplitude_min: defects.amplitude_min * scale,
                amplitude_max: defects.amplitude_max * scale,
                ..*defects
            }
        })
        .collect()
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
    for (i, o) in obs.iter().enumerate() {
        observations.slice_mut(s![i, .., ..]).assign(&o.image);
        masks.slice_mut(s![i, .., ..]).assign(&o.mask);
    }
    let (positions, amplitudes) = pack_defects(
        obs.iter().map(|o| {
            o.positions
                .iter()
                .zip(&o.amplitudes)
                .map(|(p, a)| Some((*p, *a)))
        }),
        s_max,
    );
    ObservationTable::one_type(observations, masks, kernel_index, positions, amplitudes)
}

/// [`observation_table`] of multi-type observations: `types[i]` holds the type of each
/// defect of `obs[i]`, `type_kernels[i]` the kernel-table row of each type (its first is
/// the observation's `kernel_index`); every row of `type_kernels` has the same length T.
pub fn typed_observation_table(
    obs: &[Observation],
    types: &[Vec<u8>],
    type_kernels: &[Vec<u32>],
    s_max: usize,
) -> ObservationTable {
    let t = type_kernels.first().map_or(1, |k| k.len());
    debug_assert!(type_kernels.iter().all(|k| k.len() == t && !k.is_empty()));
    let kernel_index = type_kernels.iter().map(|k| k[0]).collect();
    let mut table = observation_table(obs, kernel_index, s_max);
    for (i, ty) in types.iter().enumerate() {
        for (d, &v) in ty.iter().take(s_max).enumerate() {
            table.types[[i, d]] = v;
        }
    }
    table.type_kernels = Array2::from_shape_fn((obs.len(), t), |(i, j)| type_kernels[i][j]);
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::hdf5_io::read_dataset;
    use crate::progress::NoProgress;

    #[test]
    fn a_two_type_dataset_stores_each_defects_type_and_kernels_from_its_split() {
        let cfg = DatasetConfig {
            kernels: 6,
            per_kernel: 3,
            size: 16,
            seed: 11,
            unseen_fraction: 0.34,
            pixel_size_a: Some(3.0),
            defects: DefectConfig {
                count_min: 2,
                count_max: 4,
                ..DefectConfig::default()
            },
            types: 2,
            ..DatasetConfig::default()
        };
        let path = std::env::temp_dir().join(format!("qpik-typed-{}.h5", std::process::id()));
        generate_dataset(&cfg, &path, &NoProgress).unwrap();
        let ds = read_dataset(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let o = &ds.observations;
        assert_eq!(o.type_kernels.dim(), (18, 2));
        assert_eq!(o.positions.dim().1, 8, "slots: 2 types x count_max");
        let split = &ds.kernels.split;
        assert_eq!(split.iter().filter(|&&s| s == SPLIT_UNSEEN).count(), 2);
        for i in 0..18 {
            let (k0, k1) = (o.type_kernels[[i, 0]], o.type_kernels[[i, 1]]);
            assert_eq!(k0 as usize, i / 3);
            assert_ne!(k0, k1, "two different kernels");
            assert_eq!(split[k0 as usize], split[k1 as usize], "same split");
            for t in 0..2u8 {
                let n = (0..8)
                    .filter(|&d| o.positions[[i, d, 0]].is_finite() && o.types[[i, d]] == t)
                    .count();
                assert!((2..=4).contains(&n), "observation {i} type {t}: {n}");
            }
            // The clean map is the sum over defects of the stamp of its type's kernel.
            let mut expected = vec![0f32; 16 * 16];
            let mut ctx = SimContext::new();
            for d in (0..8).filter(|&d| o.positions[[i, d, 0]].is_finite()) {
                let k = o.type_kernels[[i, o.types[[i, d]] as usize]] as usize;
                let mut spec = crate::physics::catalog::find(&ds.kernels.names[k]).unwrap();
                spec.render.size = [16, 16];
                spec.render.pixel_size_a = 3.0;
                let p = prepare_kernel(&mut ctx, &spec, 4).unwrap();
                let pos = [o.positions[[i, d, 0]] as f64, o.positions[[i, d, 1]] as f64];
                p.stamps
                    .add(&mut expected, 16, pos, o.amplitudes[[i, d]], &|_| [0.0; 2]);
            }
            let got = o.observations.index_axis(ndarray::Axis(0), i);
            for (a, b) in got.iter().zip(&expected) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "obs {i}: {a} vs {b}"
                );
            }
            if i == 2 {
                break; // the stamps are slow to rebuild; three maps suffice
            }
        }
        // One type: unchanged generator TOML (no `types` key), one type column.
        let one = DatasetConfig::default();
        assert!(!toml::to_string(&one).unwrap().contains("types"));
        let bad = DatasetConfig {
            pixel_size_a: None,
            ..cfg
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("pixel size")
        );
    }
}
