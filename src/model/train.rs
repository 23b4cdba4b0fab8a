//! Training: the kernel VAE (step 1), latent alignment (step 2), and the one-step baseline.
//!
//! AdamW, linear warm-up then cosine decay, global gradient-norm clipping, validation every
//! epoch, a checkpoint (the output file itself) every epoch, resume from it. Seeds are explicit:
//! weights are initialised by [`init_deterministic`], batches, VAE sampling noise and
//! augmentation come from [`Rng`] streams of the same seed.

use super::NetConfig;
use super::data::{TrainingData, dihedral};
use super::file::{ModelFile, ModelKind, load_into, to_bytes, write_atomic};
use super::networks::{KernelVae, ObservationEncoder, OneStep};
use super::symmetry::Rotations;
use crate::progress::{Progress, check_cancelled};
use crate::rng::Rng;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Settings of one training run (recorded in the model file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub data: PathBuf,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub warmup_steps: usize,
    pub grad_clip: f64,
    pub seed: u64,
    /// Steps per epoch (VAE: kernel batches; others: limited by the training set).
    pub steps_per_epoch: Option<usize>,
    pub max_per_kernel: Option<usize>,
    pub seen_test_fraction: f64,
    /// VAE loss weights (published: 0.7 and 1e-6).
    pub alpha_sym: f64,
    pub beta_kl: f64,
    pub augment: bool,
    pub net: NetConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: PathBuf::from("data.h5"),
            epochs: 10,
            batch_size: 32,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            warmup_steps: 100,
            grad_clip: 1.0,
            seed: 0,
            steps_per_epoch: None,
            max_per_kernel: None,
            seen_test_fraction: 0.1,
            alpha_sym: 0.7,
            beta_kl: 1e-6,
            augment: true,
            net: NetConfig::default(),
        }
    }
}

/// Largest batch a training run accepts.
const MAX_BATCH_SIZE: usize = 4096;

impl TrainConfig {
    /// Range checks of every setting, with the setting named in the message (the data file
    /// is checked when it is read). Every training entry point calls it first.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid(format!("training config: {m}")));
        if self.epochs == 0 {
            return bad("epochs is 0: train for at least 1 epoch".into());
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return bad(format!(
                "batch size {} is out of range: use 1 to {MAX_BATCH_SIZE}",
                self.batch_size
            ));
        }
        if self.steps_per_epoch == Some(0) {
            return bad(
                "steps per epoch is 0: use at least 1, or leave it unset for one pass".into(),
            );
        }
        // Upper bounds: AdamW steps of the order of the learning rate; above 1 every run
        // diverges to NaN weights.
        let positive = [
            ("learning rate", self.learning_rate, 1.0),
            ("gradient clip", self.grad_clip, 1e6),
        ];
        for (name, v, max) in positive {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return bad(format!(
                    "{name} {} must be above 0 and at most {max}",
                    crate::error::show_number(v)
                ));
            }
        }
        let non_negative = [
            ("weight decay", self.weight_decay, 1.0),
            ("symmetry loss weight (alpha_sym)", self.alpha_sym, 1e6),
            ("KL loss weight (beta_kl)", self.beta_kl, 1e6),
        ];
        for (name, v, max) in non_negative {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return bad(format!(
                    "{name} {} must be between 0 and {max}",
                    crate::error::show_number(v)
                ));
            }
        }
        if !(0.0..1.0).contains(&self.seen_test_fraction) {
            return bad(format!(
                "seen test fraction {} is out of range: use 0 <= fraction < 1",
                self.seen_test_fraction
            ));
        }
        self.net.validate()
    }
}

/// The record stored as `qpik.training` in a model file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub kind: String,
    pub epochs_done: usize,
    pub seconds: f64,
    pub samples_per_second: f64,
    pub final_train_loss: f64,
    pub validation: Vec<f64>,
    pub config: Option<TrainConfig>,
    /// For two-step models: the record of the VAE they were aligned to.
    pub vae: Option<String>,
}

/// What one epoch measured.
struct EpochStats {
    loss: f64,
    validation: f64,
    /// Seconds recorded before this run (resume).
    prev_seconds: f64,
    t0: std::time::Instant,
    samples: usize,
}

impl TrainingRecord {
    /// Record a finished epoch (the same bookkeeping for every network).
    fn close_epoch(&mut self, epoch: usize, kind: ModelKind, cfg: &TrainConfig, s: EpochStats) {
        let elapsed = s.t0.elapsed().as_secs_f64();
        self.epochs_done = epoch + 1;
        self.final_train_loss = s.loss;
        self.validation.push(s.validation);
        self.seconds = s.prev_seconds + elapsed;
        self.samples_per_second = s.samples as f64 / elapsed;
        self.kind = kind.as_str().into();
        self.config = Some(cfg.clone());
    }
}

/// A Candle error of the training by its cause ([`Error::from_candle`]).
fn candle_error(e: candle_core::Error) -> Error {
    Error::from_candle("training", e)
}

fn lr_at(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    let warm = ((step + 1) as f64 / cfg.warmup_steps.max(1) as f64).min(1.0);
    let t = (step as f64 / total.max(1) as f64).min(1.0);
    cfg.learning_rate * warm * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

/// One optimiser step with global-norm clipping; returns the loss.
fn step(opt: &mut AdamW, vars: &[Var], loss: &Tensor, clip: f64) -> Result<f64> {
    let value = loss.to_scalar::<f32>().map_err(candle_error)? as f64;
    if !value.is_finite() {
        return Err(Error::invalid(
            "training diverged (the loss is not finite); lower the learning rate",
        ));
    }
    let mut grads = loss.backward().map_err(candle_error)?;
    let mut norm2 = 0.0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            norm2 += g
                .sqr()
                .and_then(|x| x.sum_all())
                .and_then(|x| x.to_scalar::<f32>())
                .map_err(candle_error)? as f64;
        }
    }
    let norm = norm2.sqrt();
    if norm > clip && clip > 0.0 {
        let f = clip / norm;
        for v in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), g.affine(f, 0.0).map_err(candle_error)?);
            }
        }
    }
    opt.step(&grads).map_err(candle_error)?;
    Ok(value)
}

/// Deterministic initialisation from `seed` (Candle cannot seed its CPU RNG): convolution
/// weights Kaiming-normal (`std = sqrt(2 / fan_in)`), convolution biases zero, GroupNorm
/// scales one and shifts zero. Variables are visited in name order.
pub fn init_deterministic(varmap: &VarMap, prefix: &str, seed: u64) -> Result<()> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::invalid("model variables are poisoned"))?;
    let mut names: Vec<&String> = data.keys().filter(|n| n.starts_with(prefix)).collect();
    names.sort();
    let mut rng = Rng::new(seed ^ 0x1417);
    for name in names {
        let var = &data[name];
        let t = var.as_tensor();
        let dims = t.dims().to_vec();
        let n = t.elem_count();
        let values: Vec<f32> = if name.contains("norm") {
            vec![if name.ends_with("weight") { 1.0 } else { 0.0 }; n]
        } else if dims.len() == 4 {
            let fan_in = (dims[1] * dims[2] * dims[3]) as f64;
            let std = (2.0 / fan_in).sqrt();
            (0..n).map(|_| (rng.normal() * std) as f32).collect()
        } else {
            vec![0.0; n]
        };
        var.set(&Tensor::from_vec(values, dims, t.device()).map_err(candle_error)?)
            .map_err(candle_error)?;
    }
    Ok(())
}

fn save(
    varmap: &VarMap,
    prefixes: &[&str],
    kind: ModelKind,
    cfg: &TrainConfig,
    record: &TrainingRecord,
    out: &Path,
) -> Result<()> {
    let text =
        toml::to_string(record).map_err(|e| Error::invalid(format!("training record: {e}")))?;
    write_atomic(out, &to_bytes(varmap, prefixes, kind, &cfg.net, &text)?)
}

fn resume_record(
    out: &Path,
    varmap: &VarMap,
    prefix: &str,
    device: &Device,
) -> Result<TrainingRecord> {
    let file = ModelFile::read(out, device)?;
    load_into(varmap, &file, prefix)?;
    toml::from_str(&file.training)
        .map_err(|e| Error::format(out.display().to_string(), format!("training record: {e}")))
}

/// Step 1: train the kernel VAE on the training kernels (8 dihedral copies each).
pub fn train_vae(
    cfg: &TrainConfig,
    out: &Path,
    resume: bool,
    device: &Device,
    progress: &dyn Progress,
) -> Result<TrainingRecord> {
    cfg.validate()?;
    let data = TrainingData::load(&cfg.data, Some(0), 0.0)?;
    check_size(cfg, data.size)?;
    let kernels = data.train_kernels();
    if kernels.is_empty() {
        return Err(Error::invalid(
            "the dataset has no training kernels (split = 0)",
        ));
    }
    let varmap = VarMap::new();
    let vae = KernelVae::new(
        VarBuilder::from_varmap(&varmap, DType::F32, device).pp("vae"),
        &cfg.net,
    )
    .map_err(candle_error)?;
    init_deterministic(&varmap, "vae.", cfg.seed)?;
    let mut record = if resume {
        resume_record(out, &varmap, "vae.", device)?
    } else {
        TrainingRecord::default()
    };
    let rot = Rotations::new(data.size, device).map_err(candle_error)?;
    let px = data.size * data.size;
    // Validation: reconstruction MSE (latent mean) of the unseen kernels, else all kernels.
    let val_kernels: Vec<usize> = (0..data.kernels.len())
        .filter(|k| !kernels.contains(k))
        .collect();
    let val_set = if val_kernels.is_empty() {
        kernels.clone()
    } else {
        val_kernels
    };
    let run = EpochLoop {
        cfg,
        varmap: &varmap,
        vars: varmap.all_vars(),
        kind: ModelKind::Vae,
        prefixes: &["vae."],
        out,
        steps: cfg
            .steps_per_epoch
            .unwrap_or((kernels.len() * 8).div_ceil(cfg.batch_size)),
        validation: ("validation MSE", ""),
    };
    run.epochs(
        &mut record,
        &mut |_, _, global| {
            let mut rng = Rng::stream(cfg.seed, global as u64);
            let mut batch = Vec::with_capacity(cfg.batch_size * px);
            let mut sym = Vec::with_capacity(cfg.batch_size);
            for _ in 0..cfg.batch_size {
                let k = kernels[rng.int_inclusive(0, kernels.len() - 1)];
                batch.extend(dihedral(
                    &data.kernels[k],
                    data.size,
                    rng.int_inclusive(0, 7) as u8,
                ));
                sym.push(data.symmetry[k]);
            }
            let x = Tensor::from_vec(batch, (cfg.batch_size, 1, data.size, data.size), device)?;
            let post = vae.encode(&x)?;
            let recon = vae.decode(&post.sample(&mut rng)?)?;
            let mse = (&recon - &x)?.sqr()?.mean_all()?;
            let lsym = rot.loss(&recon, &x, &sym)?;
            mse + lsym.affine(cfg.alpha_sym, 0.0)? + post.kl()?.affine(cfg.beta_kl, 0.0)?
        },
        &|| {
            let xs: Vec<f32> = val_set
                .iter()
                .flat_map(|&k| data.kernels[k].clone())
                .collect();
            let x = Tensor::from_vec(xs, (val_set.len(), 1, data.size, data.size), device)?;
            let mse = (vae.decode(&vae.encode(&x)?.mean)? - &x)?
                .sqr()?
                .mean_all()?
                .to_scalar::<f32>()?;
            Ok(f64::from(mse))
        },
        progress,
    )?;
    Ok(record)
}

fn check_size(cfg: &TrainConfig, size: usize) -> Result<()> {
    if cfg.net.size != size {
        return Err(Error::invalid(format!(
            "the dataset's images are {size}x{size} but the network is configured for {}",
            cfg.net.size
        )));
    }
    Ok(())
}

fn shuffled(items: &[usize], seed: u64, epoch: usize) -> Vec<usize> {
    let mut v = items.to_vec();
    Rng::stream(seed ^ 0x5EED, epoch as u64).shuffle(&mut v);
    v
}

/// Validation: extraction RMSE (on [0, 1]) over up to 256 seen-test observations.
fn extraction_validation_loss(
    data: &TrainingData,
    device: &Device,
    predict: &PredictFn,
) -> candle_core::Result<f64> {
    let items: Vec<usize> = data.seen_test.iter().copied().take(256).collect();
    if items.is_empty() {
        return Ok(f64::NAN);
    }
    let mut se = 0.0;
    for chunk in items.chunks(64) {
        let (x, y) = data.batch(chunk, None, device)?;
        se += f64::from((predict(&x)? - y)?.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    Ok((se / (items.len() * data.size * data.size) as f64).sqrt())
}

/// Step 2: align an observation encoder to a trained VAE's posterior of the true kernel.
pub fn train_align(
    cfg: &TrainConfig,
    vae_path: &Path,
    out: &Path,
    resume: bool,
    device: &Device,
    progress: &dyn Progress,
) -> Result<TrainingRecord> {
    cfg.validate()?;
    let vae_file = ModelFile::read(vae_path, device)?;
    if vae_file.kind == ModelKind::OneStep {
        return Err(Error::invalid(format!(
            "{} is a one-step model; alignment needs a VAE",
            vae_path.display()
        )));
    }
    let mut cfg = cfg.clone();
    cfg.net = vae_file.config;
    let data = TrainingData::load(&cfg.data, cfg.max_per_kernel, cfg.seen_test_fraction)?;
    check_size(&cfg, data.size)?;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let vae = KernelVae::new(vb.pp("vae"), &cfg.net).map_err(candle_error)?;
    load_into(&varmap, &vae_file, "vae.")?;
    let enc = ObservationEncoder::new(vb.pp("align"), &cfg.net).map_err(candle_error)?;
    init_deterministic(&varmap, "align.", cfg.seed)?;
    let mut record = if resume {
        resume_record(out, &varmap, "align.", device)?
    } else {
        TrainingRecord::default()
    };
    record.vae = Some(vae_file.training.clone());
    // Targets: the frozen VAE's posterior of every (unaugmented) kernel.
    let s = data.size;
    let all: Vec<f32> = data.kernels.iter().flatten().copied().collect();
    let kt = Tensor::from_vec(all, (data.kernels.len(), 1, s, s), device).map_err(candle_error)?;
    let post = vae.encode(&kt).map_err(candle_error)?;
    let (t_mean, t_logvar) = (post.mean.detach(), post.logvar.detach());
    let vars = vars_with_prefix(&varmap, "align.")?;
    let run = ObservationRun {
        cfg: &cfg,
        data: &data,
        device,
        varmap: &varmap,
        vars,
        kind: ModelKind::TwoStep,
        prefixes: &["vae.decoder.", "align."],
        out,
    };
    run.epochs(
        &mut record,
        &|x, _, items| {
            let ki: Vec<u32> = items.iter().map(|&i| data.kernel_index[i]).collect();
            let ki = Tensor::new(ki.as_slice(), device)?;
            let p = enc.encode(x)?;
            let lm = (p.mean - t_mean.index_select(&ki, 0)?)?.sqr()?.mean_all()?;
            let lv = (p.logvar - t_logvar.index_select(&ki, 0)?)?
                .sqr()?
                .mean_all()?;
            lm + lv
        },
        &|x| vae.decode(&enc.encode(x)?.mean),
        progress,
    )?;
    Ok(record)
}

/// The one-step baseline: the same encoder shape with its own decoder, MSE to the kernel.
pub fn train_one_step(
    cfg: &TrainConfig,
    out: &Path,
    resume: bool,
    device: &Device,
    progress: &dyn Progress,
) -> Result<TrainingRecord> {
    cfg.validate()?;
    let data = TrainingData::load(&cfg.data, cfg.max_per_kernel, cfg.seen_test_fraction)?;
    check_size(cfg, data.size)?;
    let varmap = VarMap::new();
    let net = OneStep::new(
        VarBuilder::from_varmap(&varmap, DType::F32, device).pp("onestep"),
        &cfg.net,
    )
    .map_err(candle_error)?;
    init_deterministic(&varmap, "onestep.", cfg.seed)?;
    let mut record = if resume {
        resume_record(out, &varmap, "onestep.", device)?
    } else {
        TrainingRecord::default()
    };
    let vars = varmap.all_vars();
    let run = ObservationRun {
        cfg,
        data: &data,
        device,
        varmap: &varmap,
        vars,
        kind: ModelKind::OneStep,
        prefixes: &["onestep."],
        out,
    };
    run.epochs(
        &mut record,
        &|x, y, _| (net.forward(x)? - y)?.sqr()?.mean_all(),
        &|x| net.forward(x),
        progress,
    )?;
    Ok(record)
}

fn vars_with_prefix(varmap: &VarMap, prefix: &str) -> Result<Vec<Var>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::invalid("model variables are poisoned"))?;
    let mut named: Vec<(&String, &Var)> =
        data.iter().filter(|(n, _)| n.starts_with(prefix)).collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    Ok(named.into_iter().map(|(_, v)| v.clone()).collect())
}

/// The epoch loop every training run shares: optimiser steps on the learning-rate schedule,
/// progress and cancellation, validation, a checkpoint and a log line per epoch.
struct EpochLoop<'a> {
    cfg: &'a TrainConfig,
    varmap: &'a VarMap,
    /// The variables trained (the rest of `varmap` is frozen).
    vars: Vec<Var>,
    kind: ModelKind,
    /// Weights saved in each checkpoint.
    prefixes: &'a [&'a str],
    out: &'a Path,
    steps: usize,
    /// The validation figure's name in log lines, and a note after the value.
    validation: (&'a str, &'a str),
}

/// Loss of the batch at (epoch, step in the epoch, global step).
type BatchLoss<'a> = dyn FnMut(usize, usize, usize) -> candle_core::Result<Tensor> + 'a;
/// Computes the validation loss of the current weights (lower is better).
type ValidationLoss<'a> = dyn Fn() -> candle_core::Result<f64> + 'a;

impl EpochLoop<'_> {
    fn epochs(
        &self,
        record: &mut TrainingRecord,
        batch_loss: &mut BatchLoss,
        validation_loss: &ValidationLoss,
        progress: &dyn Progress,
    ) -> Result<()> {
        let cfg = self.cfg;
        let params = ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        };
        let mut opt = AdamW::new(self.vars.clone(), params).map_err(candle_error)?;
        let steps = self.steps;
        let total = steps * cfg.epochs;
        let t0 = std::time::Instant::now();
        let prev_seconds = record.seconds;
        let mut samples = 0usize;
        for epoch in record.epochs_done..cfg.epochs {
            progress.stage(
                &format!("{} epoch {}/{}", self.kind.as_str(), epoch + 1, cfg.epochs),
                steps as u64,
            );
            let mut loss_sum = 0.0;
            for st in 0..steps {
                check_cancelled(progress)?;
                let global = epoch * steps + st;
                opt.set_learning_rate(lr_at(cfg, global, total));
                let l = batch_loss(epoch, st, global).map_err(candle_error)?;
                loss_sum += step(&mut opt, &self.vars, &l, cfg.grad_clip)?;
                samples += cfg.batch_size;
                progress.advance(1);
                progress.message(&format!("loss {:.5}", loss_sum / (st + 1) as f64));
            }
            // Validation and the checkpoint take a while: not for a cancelled run.
            check_cancelled(progress)?;
            let val = validation_loss().map_err(candle_error)?;
            let stats = EpochStats {
                loss: loss_sum / steps as f64,
                validation: val,
                prev_seconds,
                t0,
                samples,
            };
            record.close_epoch(epoch, self.kind, cfg, stats);
            save(self.varmap, self.prefixes, self.kind, cfg, record, self.out)?;
            progress.note(&format!(
                "{} epoch {}/{}: train loss {:.5}, {} {:.5}{}",
                self.kind.as_str(),
                epoch + 1,
                cfg.epochs,
                record.final_train_loss,
                self.validation.0,
                val,
                self.validation.1
            ));
        }
        // A cancel on the last report: the checkpoint stays, the call says it was cancelled.
        check_cancelled(progress)
    }
}

/// Alignment and the one-step baseline: [`EpochLoop`] over shuffled, augmented observation
/// batches, validated by extraction RMSE on held-out observations.
struct ObservationRun<'a> {
    cfg: &'a TrainConfig,
    data: &'a TrainingData,
    device: &'a Device,
    varmap: &'a VarMap,
    vars: Vec<Var>,
    kind: ModelKind,
    prefixes: &'a [&'a str],
    out: &'a Path,
}

/// Loss of a batch: inputs, target kernels, the observations' indices.
type LossFn<'a> = dyn Fn(&Tensor, &Tensor, &[usize]) -> candle_core::Result<Tensor> + 'a;
type PredictFn<'a> = dyn Fn(&Tensor) -> candle_core::Result<Tensor> + 'a;

impl ObservationRun<'_> {
    fn epochs(
        self,
        record: &mut TrainingRecord,
        loss: &LossFn,
        predict: &PredictFn,
        progress: &dyn Progress,
    ) -> Result<()> {
        let (cfg, data, device) = (self.cfg, self.data, self.device);
        let run = EpochLoop {
            cfg,
            varmap: self.varmap,
            vars: self.vars,
            kind: self.kind,
            prefixes: self.prefixes,
            out: self.out,
            steps: cfg
                .steps_per_epoch
                .unwrap_or(data.train.len() / cfg.batch_size)
                .max(1),
            validation: ("validation RMSE", " (held-out observations)"),
        };
        // The epoch's shuffled order, made at its first step.
        let mut order: (usize, Vec<usize>) = (usize::MAX, Vec::new());
        run.epochs(
            record,
            &mut |epoch, st, global| {
                if order.0 != epoch {
                    order = (epoch, shuffled(&data.train, cfg.seed, epoch));
                }
                let items: Vec<usize> = (0..cfg.batch_size)
                    .map(|j| order.1[(st * cfg.batch_size + j) % order.1.len()])
                    .collect();
                let (x, y) = data.batch(
                    &items,
                    cfg.augment.then_some((cfg.seed, global as u64)),
                    device,
                )?;
                loss(&x, &y, &items)
            },
            &|| extraction_validation_loss(data, device, predict),
            progress,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setting's name and how to break it.
    type Case = (&'static str, fn(&mut TrainConfig));

    #[test]
    fn validate_names_each_bad_setting() {
        assert!(TrainConfig::default().validate().is_ok());
        let cases: [Case; 9] = [
            ("epochs", |c| c.epochs = 0),
            ("batch size", |c| c.batch_size = 0),
            ("batch size", |c| c.batch_size = MAX_BATCH_SIZE + 1),
            ("steps per epoch", |c| c.steps_per_epoch = Some(0)),
            ("learning rate", |c| c.learning_rate = 0.0),
            ("gradient clip", |c| c.grad_clip = f64::NAN),
            ("weight decay", |c| c.weight_decay = -1e-3),
            ("seen test fraction", |c| c.seen_test_fraction = 1.0),
            ("channels", |c| c.net.channels = [8, 16, 30]),
        ];
        for (name, break_it) in cases {
            let mut c = TrainConfig::default();
            break_it(&mut c);
            let e = c
                .validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(name), "{name}: got '{e}'");
        }
    }
}
