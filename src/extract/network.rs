//! Network extraction (arXiv 2506.05325): a trained model maps a `size x size` observation
//! and its defect mask to the kernel.
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

/// A Candle error of a network by its cause ([`Error::from_candle`]).
pub(crate) fn candle_error(e: candle_core::Error) -> Error {
    Error::from_candle("model", e)
}

impl Extractor {
    /// Build from a parsed model file.
    pub fn from_file(file: &ModelFile, device: &Device) -> Result<Self> {
        let vb = file.var_builder(device);
        let cfg = file.config;
        let nets = match file.kind {
            ModelKind::TwoStep => Nets::TwoStep {
                encoder: ObservationEncoder::new(vb.pp("align"), &cfg).map_err(candle_error)?,
                vae: KernelVae::decoder_only(vb.pp("vae"), &cfg).map_err(candle_error)?,
            },
            ModelKind::OneStep => {
                Nets::OneStep(OneStep::new(vb.pp("onestep"), &cfg).map_err(candle_error)?)
            }
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
        let x =
            Tensor::from_vec(input, (items.len(), 2, s, s), &self.device).map_err(candle_error)?;
        let y = self
            .forward(&x)
            .map_err(candle_error)?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(candle_error)?;
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
