//! Kernel extraction from an observation and its defect mask, and evaluation metrics.
//!
//! Input: a `size x size` observation (any units) and a binary defect mask of the same shape.
//! Output: the kernel on the scale of the min-max scaled training kernels (0 = the kernel's
//! minimum, 1 = its maximum; the network's prediction, not clamped or rescaled), impurity at
//! pixel (size/2, size/2).
//! Two-step models decode the aligned encoder's latent mean with the VAE decoder (deterministic).

use crate::model::file::{ModelFile, ModelKind};
use crate::model::networks::{KernelVae, ObservationEncoder, OneStep};
use crate::model::{NetConfig, minmax};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use ndarray::{Array2, ArrayView2};

/// Embedded default models (trained by `scripts/train-default.sh`, see docs/model-card.md).
#[cfg(qpik_embedded_models)]
const DEFAULT_TWO_STEP: &[u8] = include_bytes!("../../models/two-step.safetensors");
#[cfg(not(qpik_embedded_models))]
const DEFAULT_TWO_STEP: &[u8] = &[];
#[cfg(qpik_embedded_models)]
const DEFAULT_ONE_STEP: &[u8] = include_bytes!("../../models/one-step.safetensors");
#[cfg(not(qpik_embedded_models))]
const DEFAULT_ONE_STEP: &[u8] = &[];

/// Which method extracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    TwoStep,
    OneStep,
}

enum Nets {
    TwoStep {
        encoder: ObservationEncoder,
        vae: KernelVae,
    },
    OneStep(OneStep),
}

/// A loaded model ready to extract. Immutable; safe to share between threads.
pub struct Extractor {
    nets: Nets,
    pub config: NetConfig,
    pub device: Device,
    /// The training record stored in the file (TOML).
    pub training: String,
}

/// Pick a device: `cuda` when asked, built with the `cuda` feature and a GPU is present,
/// otherwise the CPU, with the reason in the returned note.
pub fn select_device(want_cuda: bool) -> (Device, Option<String>) {
    if !want_cuda {
        return (Device::Cpu, None);
    }
    match Device::new_cuda(0) {
        Ok(d) => (d, None),
        Err(e) => (
            Device::Cpu,
            Some(format!("CUDA unavailable ({e}); using the CPU")),
        ),
    }
}

fn ce(e: candle_core::Error) -> Error {
    Error::invalid(format!("model: {e}"))
}

impl Extractor {
    /// Build from a parsed model file.
    pub fn from_file(file: &ModelFile, device: &Device) -> Result<Self> {
        let vb = file.var_builder(device);
        let cfg = file.config;
        let nets = match file.kind {
            ModelKind::TwoStep => Nets::TwoStep {
                encoder: ObservationEncoder::new(vb.pp("align"), &cfg).map_err(ce)?,
                vae: KernelVae::decoder_only(vb.pp("vae"), &cfg).map_err(ce)?,
            },
            ModelKind::OneStep => Nets::OneStep(OneStep::new(vb.pp("onestep"), &cfg).map_err(ce)?),
            ModelKind::Vae => {
                return Err(Error::invalid(
                    "a VAE file cannot extract; train an aligned encoder with `qpik train align`",
                ));
            }
        };
        Ok(Extractor {
            nets,
            config: cfg,
            device: device.clone(),
            training: file.training.clone(),
        })
    }

    /// Load a model file from disk.
    pub fn open(path: &std::path::Path, device: &Device) -> Result<Self> {
        Self::from_file(&ModelFile::read(path, device)?, device)
    }

    /// The embedded default model for `method`.
    pub fn embedded(method: Method, device: &Device) -> Result<Self> {
        let bytes = match method {
            Method::TwoStep => DEFAULT_TWO_STEP,
            Method::OneStep => DEFAULT_ONE_STEP,
        };
        if bytes.is_empty() {
            return Err(Error::Unavailable(
                "this build embeds no default model (models/*.safetensors were absent at build time; see docs/model-card.md); load a model file instead (qpik --model FILE, qpik_model_new_from_file)".into(),
            ));
        }
        Self::from_file(
            &ModelFile::from_bytes(bytes, "embedded model", device)?,
            device,
        )
    }

    pub fn method(&self) -> Method {
        match self.nets {
            Nets::TwoStep { .. } => Method::TwoStep,
            Nets::OneStep(_) => Method::OneStep,
        }
    }

    /// Batched forward pass on prepared inputs `[B, 2, S, S]` -> kernels `[B, 1, S, S]`.
    pub fn forward(&self, inputs: &Tensor) -> candle_core::Result<Tensor> {
        match &self.nets {
            Nets::TwoStep { encoder, vae } => vae.decode(&encoder.encode(inputs)?.mean),
            Nets::OneStep(n) => n.forward(inputs),
        }
    }

    /// Extract kernels from observations with their masks (all `size x size`).
    pub fn extract_batch(
        &self,
        items: &[(ArrayView2<f32>, ArrayView2<u8>)],
    ) -> Result<Vec<Array2<f32>>> {
        let s = self.config.size;
        let mut input = Vec::with_capacity(items.len() * 2 * s * s);
        for (k, (obs, mask)) in items.iter().enumerate() {
            if obs.dim() != (s, s) || mask.dim() != (s, s) {
                return Err(Error::invalid(format!(
                    "item {k}: observation {:?} and mask {:?} must both be {s}x{s} for this model",
                    obs.dim(),
                    mask.dim()
                )));
            }
            let o: Vec<f32> = obs.iter().copied().collect();
            if o.iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(format!(
                    "item {k}: the observation contains NaN or infinite values"
                )));
            }
            if mask.iter().any(|&m| m > 1) {
                return Err(Error::invalid(format!(
                    "item {k}: the mask must be binary (0 or 1)"
                )));
            }
            input.extend(minmax(&o));
            input.extend(mask.iter().map(|&m| m as f32));
        }
        let x = Tensor::from_vec(input, (items.len(), 2, s, s), &self.device).map_err(ce)?;
        let y = self
            .forward(&x)
            .map_err(ce)?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(ce)?;
        Ok(y.chunks_exact(s * s)
            .map(|c| Array2::from_shape_vec((s, s), c.to_vec()).expect("shape"))
            .collect())
    }

    /// Extract one kernel.
    pub fn extract(
        &self,
        observation: ArrayView2<f32>,
        mask: ArrayView2<u8>,
    ) -> Result<Array2<f32>> {
        Ok(self.extract_batch(&[(observation, mask)])?.remove(0))
    }
}

/// Estimate a defect mask from an observation alone, for users without topography.
///
/// Heuristic: a defect's own site carries the strongest LDOS change of its kernel, so defects
/// show as the sharpest extrema. The map is standardised robustly (median, 1.4826 x MAD);
/// the sign of the strongest extremum is taken as the defects' sign; every local extremum of
/// that sign (5 x 5 neighbourhood) reaching both 6 robust standard deviations and 35 % of the
/// strongest is a defect. Accurate for isolated sharp centres; a mask from the topography is
/// better when one exists.
pub fn estimate_mask(obs: ArrayView2<f32>) -> Array2<u8> {
    let (h, w) = obs.dim();
    let mut mask = Array2::<u8>::zeros((h, w));
    let mut v: Vec<f32> = obs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 9 {
        return mask;
    }
    let mid = v.len() / 2;
    let median = *v.select_nth_unstable_by(mid, f32::total_cmp).1;
    let mut dev: Vec<f32> = v.iter().map(|x| (x - median).abs()).collect();
    let mad = *dev.select_nth_unstable_by(mid, f32::total_cmp).1;
    let scale = if mad > 0.0 { 1.4826 * mad } else { 1.0 };
    let z = obs.mapv(|x| {
        if x.is_finite() {
            (x - median) / scale
        } else {
            0.0
        }
    });
    let (lo, hi) = z
        .iter()
        .fold((0.0f32, 0.0f32), |(a, b), &x| (a.min(x), b.max(x)));
    let sign = if hi >= -lo { 1.0 } else { -1.0 };
    let peak = hi.max(-lo);
    let threshold = (0.35 * peak).max(6.0);
    if peak < threshold {
        return mask;
    }
    for r in 0..h {
        for c in 0..w {
            let x = sign * z[[r, c]];
            if x < threshold {
                continue;
            }
            let mut is_max = true;
            'n: for rr in r.saturating_sub(2)..(r + 3).min(h) {
                for cc in c.saturating_sub(2)..(c + 3).min(w) {
                    let y = sign * z[[rr, cc]];
                    // Ties go to the first pixel in raster order.
                    if y > x || (y == x && (rr, cc) < (r, c)) {
                        is_max = false;
                        break 'n;
                    }
                }
            }
            if is_max {
                mask[[r, c]] = 1;
            }
        }
    }
    mask
}

/// Per-sample errors on the [0, 1] scale, reported x2 (i.e. on a [-1, 1] scale) as published.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleMetrics {
    pub mae2: f64,
    pub rmse2: f64,
    pub pearson: f64,
}

/// Metrics of a prediction against the truth (both already on [0, 1]).
pub fn sample_metrics(pred: &[f32], truth: &[f32]) -> SampleMetrics {
    let n = pred.len() as f64;
    let (mut ae, mut se) = (0.0, 0.0);
    for (&p, &t) in pred.iter().zip(truth) {
        let d = (p - t) as f64;
        ae += d.abs();
        se += d * d;
    }
    let mp = pred.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mt = truth.iter().map(|&x| x as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&p, &t) in pred.iter().zip(truth) {
        let (a, b) = (p as f64 - mp, t as f64 - mt);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    let pearson = if sxx > 0.0 && syy > 0.0 {
        sxy / (sxx * syy).sqrt()
    } else {
        0.0
    };
    SampleMetrics {
        mae2: 2.0 * ae / n,
        rmse2: 2.0 * (se / n).sqrt(),
        pearson,
    }
}

/// Mean and max of each metric over a group of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GroupMetrics {
    pub count: usize,
    pub mae2_mean: f64,
    pub mae2_max: f64,
    pub rmse2_mean: f64,
    pub rmse2_max: f64,
    pub pearson_mean: f64,
}

impl GroupMetrics {
    pub fn of(samples: &[SampleMetrics]) -> Self {
        let n = samples.len();
        if n == 0 {
            return GroupMetrics::default();
        }
        let mean =
            |f: &dyn Fn(&SampleMetrics) -> f64| samples.iter().map(f).sum::<f64>() / n as f64;
        let max = |f: &dyn Fn(&SampleMetrics) -> f64| {
            samples.iter().map(f).fold(f64::NEG_INFINITY, f64::max)
        };
        GroupMetrics {
            count: n,
            mae2_mean: mean(&|s| s.mae2),
            mae2_max: max(&|s| s.mae2),
            rmse2_mean: mean(&|s| s.rmse2),
            rmse2_max: max(&|s| s.rmse2),
            pearson_mean: mean(&|s| s.pearson),
        }
    }

    pub fn to_json(&self) -> String {
        format!(
            "{{\"count\":{},\"mae2_mean\":{:.6},\"mae2_max\":{:.6},\"rmse2_mean\":{:.6},\"rmse2_max\":{:.6},\"pearson_mean\":{:.6}}}",
            self.count,
            self.mae2_mean,
            self.mae2_max,
            self.rmse2_mean,
            self.rmse2_max,
            self.pearson_mean
        )
    }
}

/// Evaluate on the seen-test and unseen observations of a dataset (up to `limit` each).
pub fn evaluate(
    ex: &Extractor,
    data: &crate::model::data::TrainingData,
    limit: usize,
) -> Result<(GroupMetrics, GroupMetrics)> {
    let group = |items: &[usize]| -> Result<GroupMetrics> {
        let items: Vec<usize> = items.iter().copied().take(limit).collect();
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(64) {
            let (x, _) = data.batch(chunk, None, &ex.device).map_err(ce)?;
            let y = ex
                .forward(&x)
                .map_err(ce)?
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(ce)?;
            let px = data.size * data.size;
            for (j, &i) in chunk.iter().enumerate() {
                out.push(sample_metrics(
                    &y[j * px..(j + 1) * px],
                    &data.kernels[data.kernel_index[i] as usize],
                ));
            }
        }
        Ok(GroupMetrics::of(&out))
    };
    Ok((group(&data.seen_test)?, group(&data.unseen_test)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimated_masks_find_simulated_defects() {
        use crate::physics::{SimContext, catalog::find};
        use crate::synthesis::{Artefacts, DefectConfig, KernelStamps, synthesize};
        let spec = find("shockley-cu111-0meV").expect("catalog kernel");
        let mut ctx = SimContext::new();
        let field = spec.simulate(&mut ctx).unwrap();
        let grid = spec.grid();
        let stamps = KernelStamps::new(&field, &grid, 64, 4).unwrap();
        let defects = DefectConfig {
            count_min: 3,
            count_max: 6,
            ..DefectConfig::default()
        };
        let (mut hits, mut truth, mut found) = (0, 0, 0);
        for seed in 0..10 {
            let mut rng = crate::rng::Rng::new(seed);
            let o = synthesize(
                &stamps,
                64,
                64,
                grid.pixel_size_a,
                &defects,
                &Artefacts::default(),
                &mut rng,
            )
            .unwrap();
            let m = estimate_mask(o.image.view());
            truth += o.mask.iter().filter(|&&x| x == 1).count();
            found += m.iter().filter(|&&x| x == 1).count();
            // A hit: an estimated defect within one pixel of a true one.
            for ((r, c), &x) in m.indexed_iter() {
                if x == 1 {
                    let near = (r.saturating_sub(1)..(r + 2).min(64)).any(|rr| {
                        (c.saturating_sub(1)..(c + 2).min(64)).any(|cc| o.mask[[rr, cc]] == 1)
                    });
                    hits += near as usize;
                }
            }
        }
        let (precision, recall) = (hits as f64 / found as f64, hits as f64 / truth as f64);
        assert!(
            precision > 0.9 && recall > 0.8,
            "precision {precision}, recall {recall} ({found} found, {truth} true)"
        );
    }

    #[test]
    fn metrics_match_a_hand_computed_example() {
        // pred - truth = [0.1, -0.1, 0.3, -0.1]: MAE 0.15, RMSE sqrt(0.12/4) = 0.17320508.
        let pred = [0.1f32, 0.2, 0.9, 0.3];
        let truth = [0.0f32, 0.3, 0.6, 0.4];
        let m = sample_metrics(&pred, &truth);
        assert!((m.mae2 - 0.30).abs() < 1e-6, "{m:?}");
        assert!((m.rmse2 - 2.0 * 0.173_205_08).abs() < 1e-6, "{m:?}");
        // Pearson by hand: means 0.375 and 0.325; sxy = 0.2325, sxx = 0.3875, syy = 0.1875.
        let r = 0.2325 / (0.3875f64 * 0.1875).sqrt();
        assert!((m.pearson - r).abs() < 1e-5, "{} vs {r}", m.pearson);
        let g = GroupMetrics::of(&[
            m,
            SampleMetrics {
                mae2: 0.5,
                rmse2: 0.7,
                pearson: 0.1,
            },
        ]);
        assert!(
            (g.mae2_mean - 0.4).abs() < 1e-6 && g.rmse2_max == 0.7 && g.count == 2,
            "{g:?}"
        );
    }
}
