//! The three networks as Candle structs with explicit `encode` / `sample` / `decode`.

use super::NetConfig;
use super::blocks::{Decoder, Encoder};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// Diagonal Gaussian posterior: mean and log-variance maps.
#[derive(Debug, Clone)]
pub struct Posterior {
    pub mean: Tensor,
    pub logvar: Tensor,
}

impl Posterior {
    fn split(moments: &Tensor, zc: usize) -> Result<Self> {
        Ok(Posterior {
            mean: moments.narrow(1, 0, zc)?.contiguous()?,
            logvar: moments
                .narrow(1, zc, zc)?
                .contiguous()?
                .clamp(-30.0, 20.0)?,
        })
    }

    /// Reparameterised sample `mean + exp(logvar/2) * eps`, `eps` standard normal from `rng`
    /// (qpik's own seeded generator: Candle cannot seed its CPU RNG).
    pub fn sample(&self, rng: &mut crate::rng::Rng) -> Result<Tensor> {
        let eps: Vec<f32> = (0..self.mean.elem_count())
            .map(|_| rng.normal() as f32)
            .collect();
        let eps = Tensor::from_vec(eps, self.mean.shape(), self.mean.device())?;
        &self.mean + (self.logvar.affine(0.5, 0.0)?.exp()? * eps)?
    }

    /// KL divergence to N(0, 1), averaged over elements.
    pub fn kl(&self) -> Result<Tensor> {
        let t = ((self.mean.sqr()? + self.logvar.exp()?)? - &self.logvar)?;
        t.affine(0.5, -0.5)?.mean_all()
    }
}

/// Step 1: kernel VAE (`vae.encoder`, `vae.decoder`).
#[derive(Debug, Clone)]
pub struct KernelVae {
    pub encoder: Encoder,
    pub decoder: Decoder,
    zc: usize,
}

impl KernelVae {
    pub fn new(vb: VarBuilder, cfg: &NetConfig) -> Result<Self> {
        let zc = cfg.latent_channels;
        Ok(KernelVae {
            encoder: Encoder::new(1, 2 * zc, cfg, vb.pp("encoder"))?,
            decoder: Decoder::new(zc, cfg, vb.pp("decoder"))?,
            zc,
        })
    }
    /// Only the decoder (for extraction files, which carry no VAE encoder): `encode` then fails.
    pub fn decoder_only(vb: VarBuilder, cfg: &NetConfig) -> Result<Self> {
        let zc = cfg.latent_channels;
        let decoder = Decoder::new(zc, cfg, vb.pp("decoder"))?;
        // A zero-size placeholder keeps the struct simple; it is never run.
        let dummy = VarBuilder::zeros(candle_core::DType::F32, vb.device());
        Ok(KernelVae {
            encoder: Encoder::new(1, 2 * zc, cfg, dummy)?,
            decoder,
            zc,
        })
    }

    /// `[B, 1, S, S]` kernels -> posterior.
    pub fn encode(&self, kernels: &Tensor) -> Result<Posterior> {
        Posterior::split(&self.encoder.forward(kernels)?, self.zc)
    }
    /// Latent `[B, zc, S/8, S/8]` -> `[B, 1, S, S]`.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        self.decoder.forward(z)
    }
}

/// Step 2: observation encoder (`align.encoder`), 2 input channels -> the VAE's posterior.
#[derive(Debug, Clone)]
pub struct ObservationEncoder {
    pub encoder: Encoder,
    zc: usize,
}

impl ObservationEncoder {
    pub fn new(vb: VarBuilder, cfg: &NetConfig) -> Result<Self> {
        let zc = cfg.latent_channels;
        Ok(ObservationEncoder {
            encoder: Encoder::new(2, 2 * zc, cfg, vb.pp("encoder"))?,
            zc,
        })
    }
    /// `[B, 2, S, S]` (observation, mask) -> posterior in the kernel VAE's latent space.
    pub fn encode(&self, inputs: &Tensor) -> Result<Posterior> {
        Posterior::split(&self.encoder.forward(inputs)?, self.zc)
    }
}

/// Baseline: the same encoder shape with its own decoder, trained end to end (`onestep.*`).
#[derive(Debug, Clone)]
pub struct OneStep {
    pub encoder: Encoder,
    pub decoder: Decoder,
    zc: usize,
}

impl OneStep {
    pub fn new(vb: VarBuilder, cfg: &NetConfig) -> Result<Self> {
        let zc = cfg.latent_channels;
        Ok(OneStep {
            encoder: Encoder::new(2, 2 * zc, cfg, vb.pp("encoder"))?,
            decoder: Decoder::new(zc, cfg, vb.pp("decoder"))?,
            zc,
        })
    }
    /// Deterministic latent: the mean half of the encoder output.
    pub fn encode(&self, inputs: &Tensor) -> Result<Tensor> {
        self.encoder.forward(inputs)?.narrow(1, 0, self.zc)
    }
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        self.decoder.forward(z)
    }
    pub fn forward(&self, inputs: &Tensor) -> Result<Tensor> {
        self.decode(&self.encode(inputs)?)
    }
}
