//! GroupNorm followed by SiLU, fused, with a hand-written backward pass on the CPU.
//!
//! Candle composes GroupNorm and SiLU from a dozen elementwise and reduction tensors whose
//! backward passes dominated CPU training time; this op makes one pass forward and two
//! backward, groups of images in parallel. Other devices use Candle's own ops.
//! Same parameter names as `candle_nn::group_norm` (`weight` = gamma, `bias` = beta).

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Module, Result, Shape, Tensor};
use candle_nn::{GroupNorm, VarBuilder};
use rayon::prelude::*;

const EPS: f64 = 1e-5;

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let d = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&d[a..b]),
        None => candle_core::bail!("group-norm-silu: inputs must be contiguous"),
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

struct GnSilu {
    groups: usize,
}

/// (batch, channels, pixels per channel) of an NCHW shape.
fn dims(shape: &Shape) -> Result<(usize, usize, usize)> {
    let d = shape.dims();
    if d.len() < 2 {
        candle_core::bail!("group-norm-silu: expected [B, C, ...], got {shape:?}");
    }
    Ok((d[0], d[1], d[2..].iter().product()))
}

/// Per (image, group): mean and 1/std.
fn stats(x: &[f32], c: usize, hw: usize, groups: usize) -> Vec<(f32, f32)> {
    let per = c / groups * hw;
    x.chunks_exact(per)
        .map(|g| {
            let n = g.len() as f64;
            let mean = g.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = g.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            (mean as f32, (1.0 / (var + EPS).sqrt()) as f32)
        })
        .collect()
}

impl CustomOp3 for GnSilu {
    fn name(&self) -> &'static str {
        "qpik-group-norm-silu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, gamma, beta) = (
            contiguous(s1, l1)?,
            contiguous(s2, l2)?,
            contiguous(s3, l3)?,
        );
        let (_, c, hw) = dims(l1.shape())?;
        let cg = c / self.groups;
        let mut out = vec![0.0f32; x.len()];
        out.par_chunks_mut(cg * hw)
            .zip(x.par_chunks(cg * hw))
            .enumerate()
            .for_each(|(gi, (o, g))| {
                let (mean, inv) = stats(g, c, hw, self.groups)[0];
                let c0 = (gi % self.groups) * cg;
                for (k, (oc, xc)) in o.chunks_exact_mut(hw).zip(g.chunks_exact(hw)).enumerate() {
                    let (ga, be) = (gamma[c0 + k], beta[c0 + k]);
                    for (ov, &xv) in oc.iter_mut().zip(xc) {
                        let y = ga * (xv - mean) * inv + be;
                        *ov = y * sigmoid(y);
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, c, hw) = dims(x.shape())?;
        let cg = c / self.groups;
        let xv = x.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let gv = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let ga = gamma.to_vec1::<f32>()?;
        let be = beta.to_vec1::<f32>()?;
        let n = (cg * hw) as f32;
        let mut dx = vec![0.0f32; xv.len()];
        // Per group: d gamma / d beta partial sums per channel, reduced afterwards.
        let partial: Vec<(usize, Vec<f32>, Vec<f32>)> = dx
            .par_chunks_mut(cg * hw)
            .enumerate()
            .map(|(gi, dxg)| {
                let xs = &xv[gi * cg * hw..(gi + 1) * cg * hw];
                let gs = &gv[gi * cg * hw..(gi + 1) * cg * hw];
                let (mean, inv) = stats(xs, c, hw, self.groups)[0];
                let c0 = (gi % self.groups) * cg;
                let (mut dgamma, mut dbeta) = (vec![0.0f32; cg], vec![0.0f32; cg]);
                let (mut sum_dxh, mut sum_dxh_xh) = (0.0f64, 0.0f64);
                // Pass 1: dy, d gamma, d beta, and the two group sums of d x_hat.
                for k in 0..cg {
                    for p in 0..hw {
                        let i = k * hw + p;
                        let xh = (xs[i] - mean) * inv;
                        let y = ga[c0 + k] * xh + be[c0 + k];
                        let s = sigmoid(y);
                        let dy = gs[i] * (s + y * s * (1.0 - s));
                        dgamma[k] += dy * xh;
                        dbeta[k] += dy;
                        let dxh = dy * ga[c0 + k];
                        dxg[i] = dxh;
                        sum_dxh += dxh as f64;
                        sum_dxh_xh += (dxh * xh) as f64;
                    }
                }
                // Pass 2: dx = inv (dxh - mean(dxh) - xh mean(dxh xh)).
                let (m1, m2) = ((sum_dxh / n as f64) as f32, (sum_dxh_xh / n as f64) as f32);
                for (i, d) in dxg.iter_mut().enumerate() {
                    let xh = (xs[i] - mean) * inv;
                    *d = inv * (*d - m1 - xh * m2);
                }
                (c0, dgamma, dbeta)
            })
            .collect();
        let (mut dgamma, mut dbeta) = (vec![0.0f32; c], vec![0.0f32; c]);
        for (c0, g, b) in partial {
            for k in 0..g.len() {
                dgamma[c0 + k] += g[k];
                dbeta[c0 + k] += b[k];
            }
        }
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dgamma, gamma.shape(), dev)?),
            Some(Tensor::from_vec(dbeta, beta.shape(), dev)?),
        ))
    }
}

/// `silu(group_norm(x))` with learnable per-channel scale and shift.
#[derive(Debug, Clone)]
pub struct NormSilu {
    gamma: Tensor,
    beta: Tensor,
    groups: usize,
    fallback: GroupNorm,
}

impl NormSilu {
    pub fn new(groups: usize, channels: usize, vb: VarBuilder) -> Result<Self> {
        let groups = groups.min(channels);
        let gamma = vb.get_with_hints(channels, "weight", candle_nn::Init::Const(1.0))?;
        let beta = vb.get_with_hints(channels, "bias", candle_nn::Init::Const(0.0))?;
        let fallback = GroupNorm::new(gamma.clone(), beta.clone(), channels, groups, EPS)?;
        Ok(NormSilu {
            gamma,
            beta,
            groups,
            fallback,
        })
    }
}

impl Module for NormSilu {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if matches!(x.device(), Device::Cpu) && x.dtype() == candle_core::DType::F32 {
            x.contiguous()?.apply_op3(
                &self.gamma,
                &self.beta,
                GnSilu {
                    groups: self.groups,
                },
            )
        } else {
            self.fallback.forward(x)?.silu()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn matches_candles_group_norm_then_silu_forward_and_backward() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0.3f32, 1.5, (3, 8, 5, 6), &dev)?)?;
        let g = Var::from_tensor(&Tensor::randn(1f32, 0.3, 8, &dev)?)?;
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 8, &dev)?)?;
        let fast = x
            .as_tensor()
            .apply_op3(g.as_tensor(), b.as_tensor(), GnSilu { groups: 4 })?;
        let slow = GroupNorm::new(g.as_tensor().clone(), b.as_tensor().clone(), 8, 4, EPS)?
            .forward(x.as_tensor())?
            .silu()?;
        let d = (&fast - &slow)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < 1e-4, "forward differs by {d}");
        let proj = Tensor::randn(0f32, 1.0, fast.shape(), &dev)?;
        let gf = (fast * &proj)?.sum_all()?.backward()?;
        let gs = (slow * &proj)?.sum_all()?.backward()?;
        for v in [&x, &g, &b] {
            let diff = (gf.get(v.as_tensor()).unwrap() - gs.get(v.as_tensor()).unwrap())?
                .abs()?
                .max_all()?
                .to_scalar::<f32>()?;
            assert!(diff < 1e-3, "gradient differs by {diff}");
        }
        Ok(())
    }
}
