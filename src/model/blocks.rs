//! Building blocks: residual blocks, a convolutional encoder and decoder (GroupNorm + SiLU).
//!
//! Shapes: images `[B, C, H, W]` with `H = W = size` (64); latents `[B, zc, size/8, size/8]`.

use super::NetConfig;
use super::conv::Conv;
use super::norm::NormSilu;
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

type Conv2d = Conv;

fn conv3(cin: usize, cout: usize, stride: usize, vb: VarBuilder) -> Result<Conv> {
    Conv::new(cin, cout, 3, stride, vb)
}

/// GroupNorm then SiLU (fused on the CPU).
fn norm(groups: usize, channels: usize, vb: VarBuilder) -> Result<NormSilu> {
    NormSilu::new(groups, channels, vb)
}

/// `x + conv(silu(norm(conv(silu(norm(x))))))`.
#[derive(Debug, Clone)]
pub struct ResBlock {
    norm1: NormSilu,
    conv1: Conv2d,
    norm2: NormSilu,
    conv2: Conv2d,
}

impl ResBlock {
    pub fn new(channels: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        Ok(ResBlock {
            norm1: norm(groups, channels, vb.pp("norm1"))?,
            conv1: conv3(channels, channels, 1, vb.pp("conv1"))?,
            norm2: norm(groups, channels, vb.pp("norm2"))?,
            conv2: conv3(channels, channels, 1, vb.pp("conv2"))?,
        })
    }
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward(x)?)?;
        let h = self.conv2.forward(&self.norm2.forward(&h)?)?;
        x + h
    }
}

/// Image (`in_channels`) -> latent map (`out_channels` at size/8): three stride-2 stages.
#[derive(Debug, Clone)]
pub struct Encoder {
    conv_in: Conv2d,
    stages: Vec<(Conv2d, ResBlock)>,
    norm_out: NormSilu,
    conv_out: Conv2d,
}

impl Encoder {
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        cfg: &NetConfig,
        vb: VarBuilder,
    ) -> Result<Self> {
        let [c1, c2, c3] = cfg.channels;
        let conv_in = conv3(in_channels, c1, 1, vb.pp("conv_in"))?;
        let widths = [(c1, c1), (c1, c2), (c2, c3)];
        let mut stages = Vec::new();
        for (i, &(cin, cout)) in widths.iter().enumerate() {
            let vbi = vb.pp(format!("down{i}"));
            stages.push((
                conv3(cin, cout, 2, vbi.pp("conv"))?,
                ResBlock::new(cout, cfg.groups, vbi.pp("res"))?,
            ));
        }
        Ok(Encoder {
            conv_in,
            stages,
            norm_out: norm(cfg.groups, c3, vb.pp("norm_out"))?,
            conv_out: conv3(c3, out_channels, 1, vb.pp("conv_out"))?,
        })
    }
}

impl Module for Encoder {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.conv_in.forward(x)?;
        for (down, res) in &self.stages {
            h = res.forward(&down.forward(&h)?)?;
        }
        self.conv_out.forward(&self.norm_out.forward(&h)?)
    }
}

/// Latent map -> image (1 channel): three nearest-neighbour upsampling stages.
#[derive(Debug, Clone)]
pub struct Decoder {
    conv_in: Conv2d,
    res_in: ResBlock,
    stages: Vec<(Conv2d, ResBlock)>,
    norm_out: NormSilu,
    conv_out: Conv2d,
}

impl Decoder {
    pub fn new(latent_channels: usize, cfg: &NetConfig, vb: VarBuilder) -> Result<Self> {
        let [c1, c2, c3] = cfg.channels;
        let conv_in = conv3(latent_channels, c3, 1, vb.pp("conv_in"))?;
        let res_in = ResBlock::new(c3, cfg.groups, vb.pp("res_in"))?;
        let widths = [(c3, c3), (c3, c2), (c2, c1)];
        let mut stages = Vec::new();
        for (i, &(cin, cout)) in widths.iter().enumerate() {
            let vbi = vb.pp(format!("up{i}"));
            stages.push((
                conv3(cin, cout, 1, vbi.pp("conv"))?,
                ResBlock::new(cout, cfg.groups, vbi.pp("res"))?,
            ));
        }
        Ok(Decoder {
            conv_in,
            res_in,
            stages,
            norm_out: norm(cfg.groups, c1, vb.pp("norm_out"))?,
            conv_out: conv3(c1, 1, 1, vb.pp("conv_out"))?,
        })
    }
}

impl Module for Decoder {
    fn forward(&self, z: &Tensor) -> Result<Tensor> {
        let mut h = self.res_in.forward(&self.conv_in.forward(z)?)?;
        for (conv, res) in &self.stages {
            h = res.forward(&conv.forward_upsampled(&h)?)?;
        }
        self.conv_out.forward(&self.norm_out.forward(&h)?)
    }
}
