//! `qpik train`, `qpik eval` and network extraction (`qpik extract --method two-step|one-step`).

use super::*;
use crate::cli::outputs::Outputs;
use crate::cli::progress::Bars;
use crate::cli::{MethodArg, TrainArgs, TrainWhat};
use crate::data::Dataset;
use crate::data::hdf5_io::{DatasetReader, write_dataset};
use crate::extract::{Extractor, Method, evaluate};
use crate::model::train::{TrainConfig, train_align, train_one_step, train_vae};
use crate::picture::{Colormap, Panel, Scale, write_panels};
use crate::synthesis::dataset::observation_table;
use crate::{Error, Result};
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(super) fn train(what: TrainWhat, a: &TrainArgs) -> Result<()> {
    let mut cfg = TrainConfig {
        data: a.data.clone(),
        epochs: a.epochs,
        batch_size: a.batch_size,
        learning_rate: a.lr,
        seed: a.seed,
        steps_per_epoch: a.steps_per_epoch,
        max_per_kernel: a.max_per_kernel,
        augment: !a.no_augment,
        ..TrainConfig::default()
    };
    if let Some(c) = &a.channels {
        let [a, b, c] = c.as_slice() else {
            return Err(Error::invalid(format!(
                "--channels needs three channel counts (e.g. 8,16,32), not {}",
                c.len()
            )));
        };
        cfg.net.channels = [*a, *b, *c];
    }
    // Ranges (--channels, --batch-size, --lr, ...) are the config's own.
    cfg.validate()?;
    // Checkpoints are written to --out during training (and read back by --resume): it may
    // be neither the dataset nor the VAE.
    let inputs: Vec<&Path> = [Some(a.data.as_path()), a.vae.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    Outputs::plan(&inputs, &[&a.out])?;
    let dev = device(a.cuda);
    let bars = Bars::default();
    let t = Instant::now();
    let record = match what {
        TrainWhat::Vae => train_vae(&cfg, &a.out, a.resume, &dev, &bars)?,
        TrainWhat::Align => {
            let vae = a.vae.as_ref().ok_or_else(|| {
                Error::invalid("`qpik train align` needs --vae FILE (from `qpik train vae`)")
            })?;
            train_align(&cfg, vae, &a.out, a.resume, &dev, &bars)?
        }
        TrainWhat::OneStep => train_one_step(&cfg, &a.out, a.resume, &dev, &bars)?,
    };
    drop(bars);
    let validation = match record.validation.last() {
        Some(v) if v.is_finite() => format!("validation RMSE {v:.5}"),
        _ => "no validation (no held-out seen kernels)".to_string(),
    };
    println!(
        "trained {} for {} epochs in {:.1} s ({:.1} samples/s): final loss {:.5}, {validation} -> {}",
        record.kind,
        record.epochs_done,
        t.elapsed().as_secs_f64(),
        record.samples_per_second,
        record.final_train_loss,
        a.out.display()
    );
    Ok(())
}

pub(super) fn extractor(
    method: MethodArg,
    model: Option<PathBuf>,
    cuda: bool,
) -> Result<Extractor> {
    let dev = device(cuda);
    let ex = match model {
        Some(p) => Extractor::open(&p, &dev)?,
        None => Extractor::embedded(
            match method {
                MethodArg::TwoStep => Method::TwoStep,
                MethodArg::OneStep => Method::OneStep,
                MethodArg::Forward | MethodArg::Blind => {
                    return Err(Error::invalid(
                        "the forward and blind methods (the map engine) have no network model",
                    ));
                }
            },
            &dev,
        )?,
    };
    Ok(ex)
}

/// What `qpik eval --json` prints.
#[derive(serde::Serialize)]
struct EvalReport<'a> {
    method: &'a str,
    data: String,
    seen: &'a crate::extract::GroupMetrics,
    unseen: &'a crate::extract::GroupMetrics,
}

pub(super) fn eval(
    data: &Path,
    method: MethodArg,
    model: Option<PathBuf>,
    limit: usize,
    json: bool,
    cuda: bool,
) -> Result<()> {
    let (name, seen, unseen) = if matches!(method, MethodArg::Forward | MethodArg::Blind) {
        let blind = method == MethodArg::Blind;
        let settings = crate::extract::map::MapSettings {
            bootstrap: 0,
            blind,
            ..Default::default()
        };
        let (seen, unseen) = crate::extract::evaluate_forward(
            data,
            &settings,
            limit,
            &crate::cli::progress::Bars::default(),
        )?;
        (if blind { "blind" } else { "forward" }, seen, unseen)
    } else {
        let ex = extractor(method, model, cuda)?;
        // A test set is held out as a whole: every observation of a training kernel is "seen".
        let td = crate::model::data::TrainingData::load(data, None, 1.0)?;
        let (seen, unseen) = evaluate(&ex, &td, limit)?;
        let name = match ex.method() {
            Method::TwoStep => "two-step",
            Method::OneStep => "one-step",
        };
        (name, seen, unseen)
    };
    if json {
        let report = EvalReport {
            method: name,
            data: data.display().to_string(),
            seen: &seen,
            unseen: &unseen,
        };
        println!(
            "{}",
            serde_json::to_string(&report).unwrap_or_else(|_| "null".into())
        );
    } else {
        println!(
            "{name} on {} (errors on the [-1, 1] scale, i.e. x2 on [0, 1]):",
            data.display()
        );
        println!(
            "{:<8} {:>6} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
            "group", "n", "MAE mean", "MAE max", "RMSE mean", "RMSE max", "Pearson", "maxdot"
        );
        for (g, m) in [("seen", seen), ("unseen", unseen)] {
            println!(
                "{:<8} {:>6} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>8.4} {:>8.4}",
                g,
                m.count,
                m.mae2_mean,
                m.mae2_max,
                m.rmse2_mean,
                m.rmse2_max,
                m.pearson_mean,
                m.maxdot_mean
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn extract(
    input: &Path,
    mask: Option<PathBuf>,
    index: usize,
    method: MethodArg,
    model: Option<PathBuf>,
    out: &Path,
    png: Option<PathBuf>,
    cuda: bool,
) -> Result<()> {
    let png = png.unwrap_or_else(|| out.with_extension("png"));
    let inputs: Vec<&Path> = [Some(input), mask.as_deref(), model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let mut outputs = Outputs::plan(&inputs, &[out, &png])?;
    let ex = extractor(method, model, cuda)?;
    let is_npy = input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let (obs, m, truth) = if is_npy {
        let mask = mask.ok_or_else(|| {
            Error::invalid("a .npy observation needs --mask MASK.npy (1 at each defect)")
        })?;
        let o = crate::data::npy::read_f32(input)?;
        let mv = crate::data::npy::read_f32(&mask)?;
        let name = format!("the mask {}", mask.display());
        let flat =
            crate::extract::mask::binary_mask(&mv.iter().copied().collect::<Vec<_>>(), &name)?;
        let mk = ndarray::Array2::from_shape_vec(mv.dim(), flat).expect("same shape");
        (o, mk, None)
    } else {
        let reader = DatasetReader::open(input)?;
        if index >= reader.len() {
            return Err(Error::invalid(format!(
                "{} has {} observations; --index {index} is out of range",
                input.display(),
                reader.len()
            )));
        }
        let t = reader.read_observations(index..index + 1)?;
        let k = t.kernel_index[0] as usize;
        let truth = reader
            .kernels()
            .kernels
            .index_axis(ndarray::Axis(0), k)
            .to_owned();
        (
            t.observations.index_axis(ndarray::Axis(0), 0).to_owned(),
            t.masks.index_axis(ndarray::Axis(0), 0).to_owned(),
            Some(truth),
        )
    };
    let t0 = Instant::now();
    let kernel = ex.extract(obs.view(), m.view())?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let (h, w) = kernel.dim();
    let mut ds = Dataset::single_kernel(
        format!("extracted from {} #{index}", input.display()),
        0,
        kernel.clone(),
        f64::NAN,
        format!("# qpik extract\nmethod = \"{:?}\"\n", ex.method()),
    );
    ds.observations = observation_table(
        &[crate::synthesis::Observation {
            image: obs.clone(),
            mask: m.clone(),
            positions: vec![],
            amplitudes: vec![],
        }],
        vec![0],
        0,
    );
    write_dataset(&outputs.stage(out)?, &ds)?;
    let metrics = extraction_picture(&outputs.stage(&png)?, &obs, &m, &kernel, truth.as_ref())?;
    outputs.commit()?;
    let line = match metrics {
        Some(m) => format!(
            ", against the true kernel: MAE {:.4}, RMSE {:.4}, Pearson {:.3} ([-1, 1] scale)",
            m.mae2, m.rmse2, m.pearson
        ),
        None => String::new(),
    };
    println!(
        "extracted a {h}x{w} kernel ({:?}) in {ms:.1} ms{line}: {} and {}",
        ex.method(),
        out.display(),
        png.display()
    );
    Ok(())
}

/// Observation, mask, extracted kernel (and the min-max scaled truth, with its metrics).
pub(super) fn extraction_picture(
    png: &Path,
    obs: &Array2<f32>,
    mask: &Array2<u8>,
    kernel: &Array2<f32>,
    truth: Option<&Array2<f32>>,
) -> Result<Option<crate::extract::SampleMetrics>> {
    let mask_f = mask.mapv(|v| v as f32);
    let mut panels = vec![
        Panel {
            image: obs.view(),
            title: "observation".into(),
            colormap: Colormap::Viridis,
            scale: Scale::Percentile(0.5),
            marks: vec![],
        },
        Panel {
            image: mask_f.view(),
            title: "defect mask".into(),
            colormap: Colormap::Gray,
            scale: Scale::MinMax,
            marks: vec![],
        },
        Panel {
            image: kernel.view(),
            title: "extracted kernel".into(),
            colormap: Colormap::Viridis,
            scale: Scale::MinMax,
            marks: vec![],
        },
    ];
    let scaled = truth.map(|t| {
        let v = crate::model::minmax(&t.iter().copied().collect::<Vec<f32>>());
        Array2::from_shape_vec(t.dim(), v).expect("shape")
    });
    let metrics = scaled.as_ref().map(|t| {
        let k: Vec<f32> = kernel.iter().copied().collect();
        crate::extract::sample_metrics(&k, t.as_slice().expect("contiguous"))
    });
    if let Some(t) = &scaled {
        panels.push(Panel {
            image: t.view(),
            title: "true kernel".into(),
            colormap: Colormap::Viridis,
            scale: Scale::MinMax,
            marks: vec![],
        });
    }
    write_panels(png, &panels, panels.len(), 3)?;
    Ok(metrics)
}
