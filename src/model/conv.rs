//! A fast 3x3 (any k x k) convolution for the CPU: im2col + `gemm`, forward and backward.
//!
//! Candle's generic CPU convolution runs at a few GFLOP/s on our small images; this op packs
//! patches once and hands the work to the same `gemm` kernels Candle's matmul uses, images in
//! parallel across cores. Other devices (CUDA) use Candle's own `conv2d`.

use candle_core::{CpuStorage, CustomOp2, DType, Device, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Conv2dConfig, VarBuilder};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

#[derive(Clone, Copy, Debug)]
struct Geometry {
    b: usize,
    ci: usize,
    h: usize,
    w: usize,
    co: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

impl Geometry {
    fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }
    fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }
    fn patch(&self) -> usize {
        self.ci * self.k * self.k
    }
    fn hw_out(&self) -> usize {
        self.ho() * self.wo()
    }
}

/// Patches of one image: `cols[(c k k + ky k + kx) * HWo + oy Wo + ox]`.
fn im2col(g: &Geometry, x: &[f32], cols: &mut [f32]) {
    im2col_rows(g, x, cols, 0, g.ho());
}

/// Patches of output rows `oy0..oy1` only (`n = (oy1 - oy0) Wo` columns).
fn im2col_rows(g: &Geometry, x: &[f32], cols: &mut [f32], oy0: usize, oy1: usize) {
    let (wo, k, s, p) = (g.wo(), g.k, g.stride, g.pad as isize);
    let n = (oy1 - oy0) * wo;
    for c in 0..g.ci {
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut cols[((c * k + ky) * k + kx) * n..][..n];
                for oy in oy0..oy1 {
                    let iy = (oy * s + ky) as isize - p;
                    let out = &mut row[(oy - oy0) * wo..(oy - oy0 + 1) * wo];
                    if iy < 0 || iy >= g.h as isize {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &x[(c * g.h + iy as usize) * g.w..][..g.w];
                    for (ox, o) in out.iter_mut().enumerate() {
                        let ix = (ox * s + kx) as isize - p;
                        *o = if ix >= 0 && (ix as usize) < g.w {
                            src[ix as usize]
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
    }
}

/// Adjoint of [`im2col`]: accumulate patch gradients back onto the image.
fn col2im(g: &Geometry, cols: &[f32], x: &mut [f32]) {
    let (ho, wo, k, s, p) = (g.ho(), g.wo(), g.k, g.stride, g.pad as isize);
    for c in 0..g.ci {
        for ky in 0..k {
            for kx in 0..k {
                let row = &cols[((c * k + ky) * k + kx) * ho * wo..][..ho * wo];
                for oy in 0..ho {
                    let iy = (oy * s + ky) as isize - p;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut x[(c * g.h + iy as usize) * g.w..][..g.w];
                    for (ox, &v) in row[oy * wo..(oy + 1) * wo].iter().enumerate() {
                        let ix = (ox * s + kx) as isize - p;
                        if ix >= 0 && (ix as usize) < g.w {
                            dst[ix as usize] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Row-major `dst (m x n) = a (m x k) * b (k x n)`, with optional transposes given by strides.
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    a: &[f32],
    a_rs: isize,
    a_cs: isize,
    b: &[f32],
    b_rs: isize,
    b_cs: isize,
    accumulate: bool,
    par: Parallelism,
) {
    // SAFETY: the slices hold at least the addressed elements (checked by the callers' shapes).
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

fn parallelism(batch: usize) -> Parallelism {
    let threads = rayon::current_num_threads();
    if batch >= threads {
        Parallelism::None
    } else {
        Parallelism::Rayon(threads)
    }
}

fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("fast conv2d: {what} must be contiguous"),
    }
}

struct ConvOp {
    stride: usize,
    pad: usize,
}

impl ConvOp {
    fn geometry(&self, xs: &Shape, ws: &Shape) -> Result<Geometry> {
        let (b, ci, h, w) = xs.dims4()?;
        let (co, wci, k, k2) = ws.dims4()?;
        if wci != ci || k != k2 || h + 2 * self.pad < k || w + 2 * self.pad < k {
            candle_core::bail!("fast conv2d: input {xs:?} does not fit weight {ws:?}");
        }
        Ok(Geometry {
            b,
            ci,
            h,
            w,
            co,
            k,
            stride: self.stride,
            pad: self.pad,
        })
    }
}

impl CustomOp2 for ConvOp {
    fn name(&self) -> &'static str {
        "qpik-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geometry(l1.shape(), l2.shape())?;
        let (x, wt) = (slice(s1, l1, "input")?, slice(s2, l2, "weight")?);
        let (hw, kk) = (g.hw_out(), g.patch());
        let mut out = vec![0.0f32; g.b * g.co * hw];
        let threads = rayon::current_num_threads();
        if g.b < threads && g.ho() >= 2 * threads {
            // Few images (single-observation inference): split each image's output rows
            // across the cores instead, one single-threaded gemm per band.
            let ho = g.ho();
            let bands: Vec<(usize, usize)> = (0..threads)
                .map(|t| (t * ho / threads, (t + 1) * ho / threads))
                .collect();
            for i in 0..g.b {
                let xi = &x[i * g.ci * g.h * g.w..][..g.ci * g.h * g.w];
                let parts: Vec<Vec<f32>> = bands
                    .par_iter()
                    .map(|&(r0, r1)| {
                        let n = (r1 - r0) * g.wo();
                        let mut cols = vec![0.0f32; kk * n];
                        im2col_rows(&g, xi, &mut cols, r0, r1);
                        let mut part = vec![0.0f32; g.co * n];
                        matmul(
                            g.co,
                            n,
                            kk,
                            &mut part,
                            wt,
                            kk as isize,
                            1,
                            &cols,
                            n as isize,
                            1,
                            false,
                            Parallelism::None,
                        );
                        part
                    })
                    .collect();
                let oi = &mut out[i * g.co * hw..][..g.co * hw];
                for (&(r0, r1), part) in bands.iter().zip(&parts) {
                    let n = (r1 - r0) * g.wo();
                    for o in 0..g.co {
                        oi[o * hw + r0 * g.wo()..][..n].copy_from_slice(&part[o * n..][..n]);
                    }
                }
            }
            return Ok((
                CpuStorage::F32(out),
                Shape::from((g.b, g.co, g.ho(), g.wo())),
            ));
        }
        let par = parallelism(g.b);
        out.par_chunks_mut(g.co * hw).enumerate().for_each_init(
            || vec![0.0f32; kk * hw],
            |cols, (i, o)| {
                im2col(&g, &x[i * g.ci * g.h * g.w..][..g.ci * g.h * g.w], cols);
                matmul(
                    g.co,
                    hw,
                    kk,
                    o,
                    wt,
                    kk as isize,
                    1,
                    cols,
                    hw as isize,
                    1,
                    false,
                    par,
                );
            },
        );
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.b, g.co, g.ho(), g.wo())),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = self.geometry(x.shape(), w.shape())?;
        let xv = x.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let wv = w.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let gv = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let (hw, kk, img) = (g.hw_out(), g.patch(), g.ci * g.h * g.w);
        let par = parallelism(g.b);
        let mut gx = vec![0.0f32; g.b * img];
        // Per image: d cols = W^T dY -> col2im; dW += dY cols^T (partial sums reduced after).
        let gw = gx
            .par_chunks_mut(img)
            .enumerate()
            .fold(
                || {
                    (
                        vec![0.0f32; g.co * kk],
                        vec![0.0f32; kk * hw],
                        vec![0.0f32; kk * hw],
                    )
                },
                |(mut gw, mut cols, mut dcols), (i, gxi)| {
                    let gy = &gv[i * g.co * hw..][..g.co * hw];
                    im2col(&g, &xv[i * img..][..img], &mut cols);
                    matmul(
                        g.co,
                        kk,
                        hw,
                        &mut gw,
                        gy,
                        hw as isize,
                        1,
                        &cols,
                        1,
                        hw as isize,
                        true,
                        par,
                    );
                    matmul(
                        kk,
                        hw,
                        g.co,
                        &mut dcols,
                        &wv,
                        1,
                        kk as isize,
                        gy,
                        hw as isize,
                        1,
                        false,
                        par,
                    );
                    col2im(&g, &dcols, gxi);
                    (gw, cols, dcols)
                },
            )
            .map(|(gw, _, _)| gw)
            .reduce(
                || vec![0.0f32; g.co * kk],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(gx, x.shape(), dev)?),
            Some(Tensor::from_vec(gw, w.shape(), dev)?),
        ))
    }
}

/// Taps of a 3 x 3 kernel that fall on input offset `t` (0 or 1) for output phase `a`, when the
/// kernel runs over a 2x nearest-neighbour upsampled image (see [`UpConvOp`]).
fn phase_taps(a: usize, t: usize) -> &'static [usize] {
    match (a, t) {
        (0, 0) => &[0],
        (0, _) => &[1, 2],
        (_, 0) => &[0, 1],
        _ => &[2],
    }
}

/// `conv3x3(upsample_nearest_2x(x))` without building the upsampled image (inference only).
///
/// Output pixel `(2i + a, 2j + b)` sees input rows `i + a + t - 1`, `t` in {0, 1}, so each of
/// the four output phases is a 2 x 2 convolution of `x` with summed taps: 2.25x fewer
/// multiply-adds and a quarter of the patch memory. Exact (same sums, regrouped).
struct UpConvOp;

impl CustomOp2 for UpConvOp {
    fn name(&self) -> &'static str {
        "qpik-upsample2-conv3"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, ci, h, w) = l1.shape().dims4()?;
        let (co, wci, k, k2) = l2.shape().dims4()?;
        if wci != ci || k != 3 || k2 != 3 {
            candle_core::bail!(
                "upsample conv: weight {:?} is not 3x3 over {ci} channels",
                l2.shape()
            );
        }
        let (x, wt) = (slice(s1, l1, "input")?, slice(s2, l2, "weight")?);
        let kk = ci * 4;
        // Phase weights: pw[phase][co][ci][ty][tx].
        let mut pw = vec![0.0f32; 4 * co * kk];
        for a in 0..2 {
            for bb in 0..2 {
                for o in 0..co {
                    for c in 0..ci {
                        for ty in 0..2 {
                            for tx in 0..2 {
                                let mut sum = 0.0;
                                for &ky in phase_taps(a, ty) {
                                    for &kx in phase_taps(bb, tx) {
                                        sum += wt[((o * ci + c) * 3 + ky) * 3 + kx];
                                    }
                                }
                                pw[(((a * 2 + bb) * co + o) * ci + c) * 4 + ty * 2 + tx] = sum;
                            }
                        }
                    }
                }
            }
        }
        let hw = h * w;
        let mut out = vec![0.0f32; b * co * 4 * hw];
        let threads = rayon::current_num_threads();
        // Bands of input rows: one per core for single images, whole images otherwise.
        let bands: Vec<(usize, usize)> = if b < threads && h >= 2 * threads {
            (0..threads)
                .map(|t| (t * h / threads, (t + 1) * h / threads))
                .collect()
        } else {
            vec![(0, h)]
        };
        let jobs: Vec<(usize, usize, usize)> = (0..b)
            .flat_map(|i| bands.iter().map(move |&(y0, y1)| (i, y0, y1)))
            .collect();
        // Each job: the four phase outputs of its rows, [phase][co][rows * w].
        let parts: Vec<Vec<f32>> = jobs
            .par_iter()
            .map(|&(i, y0, y1)| {
                let xi = &x[i * ci * hw..][..ci * hw];
                let n = (y1 - y0) * w;
                let mut cols = vec![0.0f32; kk * n];
                let mut res = vec![0.0f32; 4 * co * n];
                for a in 0..2 {
                    for bb in 0..2 {
                        for c in 0..ci {
                            for ty in 0..2 {
                                for tx in 0..2 {
                                    let row = &mut cols[(c * 4 + ty * 2 + tx) * n..][..n];
                                    for y in y0..y1 {
                                        let iy = (y + a + ty) as isize - 1;
                                        let dst = &mut row[(y - y0) * w..(y - y0 + 1) * w];
                                        if iy < 0 || iy >= h as isize {
                                            dst.fill(0.0);
                                            continue;
                                        }
                                        let src = &xi[(c * h + iy as usize) * w..][..w];
                                        for (xx, d) in dst.iter_mut().enumerate() {
                                            let ix = (xx + bb + tx) as isize - 1;
                                            *d = if ix >= 0 && (ix as usize) < w {
                                                src[ix as usize]
                                            } else {
                                                0.0
                                            };
                                        }
                                    }
                                }
                            }
                        }
                        let phase = a * 2 + bb;
                        let pwp = &pw[phase * co * kk..][..co * kk];
                        let dst = &mut res[phase * co * n..][..co * n];
                        matmul(
                            co,
                            n,
                            kk,
                            dst,
                            pwp,
                            kk as isize,
                            1,
                            &cols,
                            n as isize,
                            1,
                            false,
                            Parallelism::None,
                        );
                    }
                }
                res
            })
            .collect();
        let nb = bands.len();
        out.par_chunks_mut(co * 4 * hw)
            .enumerate()
            .for_each(|(i, o)| {
                for (&(_, y0, y1), res) in jobs[i * nb..(i + 1) * nb].iter().zip(&parts[i * nb..]) {
                    let n = (y1 - y0) * w;
                    for a in 0..2 {
                        for bb in 0..2 {
                            let phase = a * 2 + bb;
                            for oc in 0..co {
                                for y in y0..y1 {
                                    let dst = &mut o[(oc * 2 * h + 2 * y + a) * 2 * w..][..2 * w];
                                    let src = &res[(phase * co + oc) * n + (y - y0) * w..][..w];
                                    for (xx, &v) in src.iter().enumerate() {
                                        dst[2 * xx + bb] = v;
                                    }
                                }
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b, co, 2 * h, 2 * w))))
    }
}

/// A k x k convolution with bias; same weight names as `candle_nn::conv2d` (`weight`, `bias`).
#[derive(Debug, Clone)]
pub struct Conv {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    pad: usize,
}

impl Conv {
    pub fn new(cin: usize, cout: usize, k: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let cfg = Conv2dConfig {
            padding: k / 2,
            stride,
            ..Default::default()
        };
        let c = candle_nn::conv2d(cin, cout, k, cfg, vb)?;
        Ok(Conv {
            weight: c.weight().clone(),
            bias: c.bias().expect("conv2d has a bias").clone(),
            stride,
            pad: k / 2,
        })
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = if matches!(x.device(), Device::Cpu) && x.dtype() == DType::F32 {
            x.contiguous()?.apply_op2(
                &self.weight,
                ConvOp {
                    stride: self.stride,
                    pad: self.pad,
                },
            )?
        } else {
            x.conv2d(&self.weight, self.pad, self.stride, 1, 1)?
        };
        y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)
    }
}

impl Conv {
    /// `self.forward(upsample_nearest_2x(x))`. Without gradients to track (inference) and on
    /// the CPU, a fused op skips the upsampled image and 55 % of the multiply-adds.
    pub fn forward_upsampled(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let plain = !x.track_op() && !self.weight.track_op() && !self.bias.track_op();
        if plain
            && self.stride == 1
            && self.weight.dims4()?.2 == 3
            && matches!(x.device(), Device::Cpu)
            && x.dtype() == DType::F32
        {
            let y = x.contiguous()?.apply_op2(&self.weight, UpConvOp)?;
            y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)
        } else {
            self.forward(&x.upsample_nearest2d(2 * h, 2 * w)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn fused_upsample_convolution_equals_upsample_then_convolution() -> Result<()> {
        let dev = Device::Cpu;
        for (b, ci, co, h, w) in [(1usize, 3usize, 4usize, 5usize, 6usize), (3, 8, 2, 8, 8)] {
            let x = Tensor::randn(0f32, 1.0, (b, ci, h, w), &dev)?;
            let vm = candle_nn::VarMap::new();
            let conv = Conv::new(ci, co, 3, 1, VarBuilder::from_varmap(&vm, DType::F32, &dev))?;
            // Plain (untracked) copies of the weights take the fused path.
            let plain = Conv {
                weight: conv.weight.detach(),
                bias: (conv.bias.detach() + 0.25)?,
                stride: 1,
                pad: 1,
            };
            let fused = plain.forward_upsampled(&x)?;
            let slow = plain.forward(&x.upsample_nearest2d(2 * h, 2 * w)?)?;
            assert_eq!(fused.dims(), slow.dims());
            let diff = (&fused - &slow)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "fused differs by {diff}");
            // Tracked weights (training) take the differentiable path.
            assert!(conv.weight.track_op());
        }
        Ok(())
    }

    #[test]
    fn forward_and_gradients_match_candles_own_convolution() -> Result<()> {
        let dev = Device::Cpu;
        for (stride, b) in [(1usize, 3usize), (2, 1), (2, 4)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (b, 5, 9, 7), &dev)?)?;
            let w = Var::from_tensor(&Tensor::randn(0f32, 0.3, (6, 5, 3, 3), &dev)?)?;
            let fast = x
                .as_tensor()
                .apply_op2(w.as_tensor(), ConvOp { stride, pad: 1 })?;
            let slow = x.as_tensor().conv2d(w.as_tensor(), 1, stride, 1, 1)?;
            let diff = (&fast - &slow)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "forward differs by {diff}");
            // A non-uniform upstream gradient via a fixed random projection.
            let proj = Tensor::randn(0f32, 1.0, fast.shape(), &dev)?;
            let gf = (fast * &proj)?.sum_all()?.backward()?;
            let gs = (slow * &proj)?.sum_all()?.backward()?;
            for v in [&x, &w] {
                let (a, b) = (
                    gf.get(v.as_tensor()).unwrap(),
                    gs.get(v.as_tensor()).unwrap(),
                );
                let d = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
                assert!(d < 1e-3, "gradient differs by {d} (stride {stride})");
            }
        }
        Ok(())
    }
}
