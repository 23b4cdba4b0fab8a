//! Candle models for kernel extraction (arXiv 2506.05325, compact re-design):
//! a kernel VAE, an observation encoder aligned to its latent space, and a one-step baseline.
//!
//! Conventions: inputs and outputs are 64 x 64 images min-max scaled to [0, 1] each
//! ([`minmax`]); the observation encoder takes 2 channels (observation, defect mask);
//! latents are `[zc, 8, 8]` maps; kernels have their impurity at pixel (32, 32).

pub mod blocks;
pub mod conv;
pub mod data;
pub mod file;
pub mod networks;
pub mod norm;
pub mod symmetry;
pub mod train;

use serde::{Deserialize, Serialize};

/// Network sizes (stored in every model file).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Image size (square, divisible by 8).
    pub size: usize,
    /// Channels of the three resolution stages.
    pub channels: [usize; 3],
    /// Latent channels at size/8.
    pub latent_channels: usize,
    /// GroupNorm groups.
    pub groups: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            size: 64,
            channels: [8, 16, 32],
            latent_channels: 4,
            groups: 4,
        }
    }
}

impl NetConfig {
    /// Check the sizes before any network is built (model files come from outside).
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::invalid(format!("network config: {m}")));
        if self.size < 8 || self.size > 1024 || self.size % 8 != 0 {
            return bad(format!(
                "size {} must be a multiple of 8 in 8..=1024",
                self.size
            ));
        }
        if self.groups == 0 || self.groups > 256 {
            return bad(format!("groups {} must be in 1..=256", self.groups));
        }
        for &c in &self.channels {
            if c == 0 || c > 1024 || c % self.groups != 0 {
                return bad(format!(
                    "channels {:?} must be in 1..=1024 and divisible by groups {}",
                    self.channels, self.groups
                ));
            }
        }
        if self.latent_channels == 0 || self.latent_channels > 256 {
            return bad(format!(
                "latent channels {} must be in 1..=256",
                self.latent_channels
            ));
        }
        Ok(())
    }
}

/// Min-max scale an image to [0, 1] (a constant image becomes zeros).
pub fn minmax(x: &[f32]) -> Vec<f32> {
    // In f64: the range of finite f32 values near +-3.4e38 overflows f32, and the reciprocal
    // of a subnormal range is infinite in f32; both would turn every pixel into NaN.
    let (lo, hi) = x
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(f64::from(v)), b.max(f64::from(v)))
        });
    if hi <= lo {
        return vec![0.0; x.len()];
    }
    let s = 1.0 / (hi - lo);
    x.iter()
        .map(|&v| {
            if v.is_finite() {
                ((f64::from(v) - lo) * s) as f32
            } else {
                0.0
            }
        })
        .collect()
}
