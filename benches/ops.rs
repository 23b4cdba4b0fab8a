//! qpik's own CPU ops against Candle's (`cargo bench --bench ops`): the im2col + `gemm` 3x3
//! convolution ([`qpik::model::conv::Conv`]) against `Tensor::conv2d`, and the fused
//! GroupNorm + SiLU ([`qpik::model::norm::NormSilu`]) against `candle_nn::GroupNorm` then
//! `silu`, forward and forward + backward, at the default network's shapes (batch 32, channels
//! 8/16/32 at 64/32/16 pixels, 4 groups). Median of 5 runs after a warm-up. Re-run on each
//! Candle upgrade: the ops are kept only while they beat Candle's.
//!
//! Each line also gives the largest difference between the two results (forward), so a
//! speed-up of a wrong op shows.

use candle_core::{DType, Device, Module, Result, Tensor, Var};
use candle_nn::{GroupNorm, VarBuilder, VarMap};
use qpik::model::conv::Conv;
use qpik::model::norm::NormSilu;

#[path = "common/timing.rs"]
#[allow(dead_code)]
mod timing;
use timing::time;

const REPS: usize = 5;
const BATCH: usize = 32;
const GROUPS: usize = 4;

/// Largest absolute difference of two tensors.
fn max_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
}

/// The variable `name` of `vm` (the ops' weights are made at the root of the map).
fn var(vm: &VarMap, name: &str) -> Var {
    vm.data()
        .lock()
        .expect("an unpoisoned map")
        .get(name)
        .unwrap_or_else(|| panic!("a variable named {name}"))
        .clone()
}

/// Median seconds of `reps` runs of `f`, panicking on an error (a benchmark has no caller).
fn seconds(mut f: impl FnMut() -> Result<Tensor>) -> f64 {
    time(REPS, || {
        f().expect("the op runs");
    })
}

fn line(what: &str, ours: f64, candle: f64, diff: f32) {
    println!(
        "{what:<44} qpik {:>8.2} ms  candle {:>8.2} ms  speed-up {:>5.2}x  max |diff| {diff:.1e}",
        ours * 1e3,
        candle * 1e3,
        candle / ours
    );
}

/// Times `ours` against `candle` on `x`, forward and forward + backward (the gradient of the
/// sum with respect to `wrt`), and prints both lines.
fn compare(
    what: &str,
    ours: impl Fn(&Tensor) -> Result<Tensor>,
    candle: impl Fn(&Tensor) -> Result<Tensor>,
    x: &Var,
    wrt: &Tensor,
) -> Result<()> {
    let x = x.as_tensor();
    let diff = max_diff(&ours(x)?, &candle(x)?)?;
    line(
        &format!("{what}, forward"),
        seconds(|| ours(x)),
        seconds(|| candle(x)),
        diff,
    );
    let backward = |y: Tensor| -> Result<Tensor> {
        let g = y.sum_all()?.backward()?;
        Ok(g.get(wrt).expect("a gradient").clone())
    };
    line(
        &format!("{what}, + backward"),
        seconds(|| backward(ours(x)?)),
        seconds(|| backward(candle(x)?)),
        diff,
    );
    Ok(())
}

fn convolution(c: usize, size: usize, dev: &Device) -> Result<()> {
    let vm = VarMap::new();
    let conv = Conv::new(c, c, 3, 1, VarBuilder::from_varmap(&vm, DType::F32, dev))?;
    let (weight, bias) = (var(&vm, "weight"), var(&vm, "bias"));
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (BATCH, c, size, size), dev)?)?;
    let candle = |x: &Tensor| -> Result<Tensor> {
        x.conv2d(weight.as_tensor(), 1, 1, 1, 1)?
            .broadcast_add(&bias.as_tensor().reshape((1, c, 1, 1))?)
    };
    let what = format!("conv 3x3 {c}->{c}, {BATCH}x{size}x{size}");
    compare(&what, |x| conv.forward(x), candle, &x, weight.as_tensor())
}

fn group_norm_silu(c: usize, size: usize, dev: &Device) -> Result<()> {
    let vm = VarMap::new();
    let fused = NormSilu::new(GROUPS, c, VarBuilder::from_varmap(&vm, DType::F32, dev))?;
    let (gamma, beta) = (var(&vm, "weight"), var(&vm, "bias"));
    let reference = GroupNorm::new(
        gamma.as_tensor().clone(),
        beta.as_tensor().clone(),
        c,
        GROUPS,
        1e-5,
    )?;
    let x = Var::from_tensor(&Tensor::randn(0.3f32, 1.5, (BATCH, c, size, size), dev)?)?;
    let candle = |x: &Tensor| reference.forward(x)?.silu();
    let what = format!("GroupNorm+SiLU {c} ch, {BATCH}x{size}x{size}");
    compare(&what, |x| fused.forward(x), candle, &x, x.as_tensor())
}

fn main() -> Result<()> {
    let dev = Device::Cpu;
    println!(
        "qpik's CPU ops against Candle's, {} threads, median of {REPS}",
        rayon::current_num_threads()
    );
    for (c, size) in [(8, 64), (16, 32), (32, 16)] {
        convolution(c, size, &dev)?;
    }
    for (c, size) in [(8, 64), (16, 32), (32, 16)] {
        group_norm_silu(c, size, &dev)?;
    }
    Ok(())
}
