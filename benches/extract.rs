//! Extraction and training-throughput benchmarks (`cargo bench --bench extract`); medians.
//!
//! - one 64 x 64 observation through the embedded two-step and one-step models (target < 5 ms);
//! - batched throughput (64 observations per call);
//! - training throughput of each network (samples/s) on random data.

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use ndarray::Array2;
use qpik::extract::{Extractor, Method};
use qpik::model::NetConfig;
use qpik::model::networks::{KernelVae, ObservationEncoder, OneStep};

#[path = "common/timing.rs"]
mod timing;
use timing::time;

fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    println!("threads: {}", rayon::current_num_threads());
    let obs = Array2::from_shape_fn((64, 64), |(i, j)| {
        (i as f32 * 0.3).sin() + (j as f32 * 0.2).cos()
    });
    let mut mask = Array2::<u8>::zeros((64, 64));
    mask[[20, 30]] = 1;
    mask[[40, 12]] = 1;
    for method in [Method::TwoStep, Method::OneStep] {
        // The embedded model, else a file named by QPIK_BENCH_MODEL_DIR (two-step / one-step).
        let file = std::env::var("QPIK_BENCH_MODEL_DIR").ok().map(|d| {
            std::path::Path::new(&d).join(if method == Method::TwoStep {
                "two-step.safetensors"
            } else {
                "one-step.safetensors"
            })
        });
        let ex = match (Extractor::embedded(method, &dev), file) {
            (Ok(ex), _) => ex,
            (Err(_), Some(f)) if f.exists() => Extractor::open(&f, &dev).expect("model file loads"),
            _ => {
                println!("{method:?}: no embedded model in this build and no QPIK_BENCH_MODEL_DIR");
                continue;
            }
        };
        let one = time(51, || {
            std::hint::black_box(ex.extract(obs.view(), mask.view()).unwrap());
        });
        let items: Vec<_> = (0..64).map(|_| (obs.view(), mask.view())).collect();
        let batch = time(9, || {
            std::hint::black_box(ex.extract_batch(&items).unwrap());
        });
        println!(
            "{method:?}: one observation {:.2} ms (median), batch of 64 {:.1} ms = {:.0} observations/s",
            one * 1e3,
            batch * 1e3,
            64.0 / batch
        );
    }
    let cfg = NetConfig::default();
    let b = 32;
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
    let vae = KernelVae::new(vb.pp("vae"), &cfg)?;
    let enc = ObservationEncoder::new(vb.pp("align"), &cfg)?;
    let one = OneStep::new(vb.pp("onestep"), &cfg)?;
    let mut opt = candle_nn::AdamW::new(vm.all_vars(), Default::default())?;
    let k = Tensor::rand(0f32, 1.0, (b, 1, 64, 64), &dev)?;
    let o = Tensor::rand(0f32, 1.0, (b, 2, 64, 64), &dev)?;
    let vae_t = time(5, || {
        let mut rng = qpik::rng::Rng::new(0);
        let l = (vae
            .decode(&vae.encode(&k).unwrap().sample(&mut rng).unwrap())
            .unwrap()
            - &k)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        opt.backward_step(&l).unwrap();
    });
    let align_t = time(5, || {
        let l = enc
            .encode(&o)
            .unwrap()
            .mean
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        opt.backward_step(&l).unwrap();
    });
    let one_t = time(5, || {
        let l = (one.forward(&o).unwrap() - &k)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        opt.backward_step(&l).unwrap();
    });
    println!(
        "training samples/s (batch {b}, CPU): vae {:.0}, align {:.0}, one-step {:.0}",
        b as f64 / vae_t,
        b as f64 / align_t,
        b as f64 / one_t
    );
    Ok(())
}
