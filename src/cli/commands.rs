//! What each `qpik` subcommand does.

use super::progress::Bars;
use super::{
    Cli, Command, DatasetArgs, MethodArg, Preset, RenderArgs, Simulate, TrainArgs, TrainWhat,
};
use crate::data::hdf5_io::{DatasetReader, write_dataset};
use crate::data::png::{Colormap, Panel, Scale, write_panels};
use crate::data::{Dataset, DatasetInfo, KernelTable, ObservationTable, SPLIT_TRAIN, SPLIT_UNSEEN};
use crate::extract::{Extractor, Method, evaluate, select_device};
use crate::model::train::{TrainConfig, train_align, train_one_step, train_vae};
use crate::physics::catalog::{catalog, find};
use crate::physics::{KernelSpec, SimContext};
use crate::rng::Rng;
use crate::synthesis::dataset::{
    DatasetConfig, generate_dataset, observation_table, prepare_kernel,
};
use crate::synthesis::{Artefacts, DefectConfig, Region, synthesize};
use crate::{Error, Result};
use ndarray::{Array2, Array3, ArrayView2};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo {
            out,
            kernel,
            size,
            seed,
        } => demo(&out, &kernel, size, seed),
        Command::Catalog { spec, symmetry } => list_catalog(spec, symmetry),
        Command::Simulate(Simulate::Kernel {
            name,
            spec,
            out,
            png,
            render,
        }) => simulate_kernel(name, spec, &out, png, &render),
        Command::Simulate(Simulate::Observation {
            kernel,
            size,
            density,
            min_defects,
            max_defects,
            preset,
            seed,
            out,
            png,
            pixel_size,
        }) => {
            let defects = DefectConfig {
                count_min: min_defects,
                count_max: max_defects,
                density_per_nm2: density,
                ..DefectConfig::default()
            };
            let made = single_observation(
                &kernel,
                size,
                pixel_size,
                &defects,
                &artefacts(preset),
                seed,
            )?;
            write_dataset(&out, &made.dataset)?;
            let png = png.unwrap_or_else(|| out.with_extension("png"));
            made.picture(&png)?;
            println!(
                "{} defects of kernel '{}' on {size}x{size} px ({:.2} Angstrom/px), seed {seed}: {} and {}",
                made.defects,
                kernel,
                made.pixel_size_a,
                out.display(),
                png.display()
            );
            Ok(())
        }
        Command::Simulate(Simulate::Dataset(args)) => simulate_dataset(&args),
        Command::Show { file, out, count } => show(&file, out, count),
        Command::Train { what, args } => train(what, &args),
        Command::Eval {
            data,
            method,
            model,
            limit,
            json,
            cuda,
        } => eval(&data, method, model, limit, json, cuda),
        Command::Extract {
            input,
            mask,
            index,
            method,
            model,
            out,
            png,
            cuda,
        } => extract(&input, mask, index, method, model, &out, png, cuda),
        Command::ImportCsv {
            files,
            out,
            unseen_fraction,
            seed,
        } => {
            let ds = crate::data::csv_import::import_csv_files(&files, unseen_fraction, seed)?;
            write_dataset(&out, &ds)?;
            println!(
                "imported {} kernels and {} observations into {}",
                ds.kernels.names.len(),
                ds.observations.kernel_index.len(),
                out.display()
            );
            Ok(())
        }
    }
}

fn artefacts(preset: Preset) -> Artefacts {
    match preset {
        Preset::Clean => Artefacts::default(),
        Preset::Realistic => Artefacts::realistic(),
    }
}

fn catalog_spec(name: &str) -> Result<KernelSpec> {
    find(name).ok_or_else(|| {
        let close: Vec<String> = catalog()
            .into_iter()
            .map(|k| k.name)
            .filter(|n| n.split('-').next() == name.split('-').next())
            .take(8)
            .collect();
        Error::invalid(format!(
            "no catalog kernel named '{name}'{}; `qpik catalog` lists all",
            if close.is_empty() {
                String::new()
            } else {
                format!(" (similar: {})", close.join(", "))
            }
        ))
    })
}

fn list_catalog(spec: Option<String>, symmetry: Option<u8>) -> Result<()> {
    if let Some(name) = spec {
        print!("{}", catalog_spec(&name)?.to_toml());
        return Ok(());
    }
    println!(
        "{:<34} {:<18} {:>4} {:>9} {:>10}",
        "name", "family", "fold", "E (eV)", "px (A)"
    );
    for k in catalog()
        .into_iter()
        .filter(|k| symmetry.is_none_or(|s| s == k.symmetry))
    {
        println!(
            "{:<34} {:<18} {:>4} {:>9.3} {:>10.2}",
            k.name, k.family, k.symmetry, k.energy_ev, k.render.pixel_size_a
        );
    }
    Ok(())
}

fn to_f32(a: &Array2<f64>) -> Array2<f32> {
    a.mapv(|x| x as f32)
}

fn kernel_only_dataset(spec: &KernelSpec, image: Array2<f32>, generator: String) -> Dataset {
    let (h, w) = image.dim();
    let pixel_size_m = spec.render.pixel_size_a * 1e-10;
    let kernels = KernelTable {
        kernels: image.into_shape_with_order((1, h, w)).expect("shape"),
        names: vec![spec.name.clone()],
        symmetry: vec![spec.symmetry],
        split: vec![SPLIT_TRAIN],
        pixel_size_m: vec![pixel_size_m],
    };
    Dataset {
        info: DatasetInfo {
            pixel_size_m,
            seed: 0,
            generator,
        },
        kernels,
        observations: ObservationTable {
            observations: Array3::zeros((0, h, w)),
            masks: Array3::zeros((0, h, w)),
            kernel_index: vec![],
            positions: Array3::zeros((0, 0, 2)),
            amplitudes: Array2::zeros((0, 0)),
        },
    }
}

fn simulate_kernel(
    name: Option<String>,
    spec_path: Option<PathBuf>,
    out: &Path,
    png: Option<PathBuf>,
    r: &RenderArgs,
) -> Result<()> {
    let mut spec = match (name, spec_path) {
        (Some(n), None) => catalog_spec(&n)?,
        (None, Some(p)) => {
            let text =
                std::fs::read_to_string(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
            KernelSpec::from_toml(&text)
                .map_err(|e| Error::format(p.display().to_string(), e.to_string()))?
        }
        _ => {
            return Err(Error::invalid(
                "give a catalog kernel name or --spec FILE.toml",
            ));
        }
    };
    if let Some(s) = r.size {
        spec.render.size = [s, s];
    }
    if let Some(p) = r.pixel_size {
        spec.render.pixel_size_a = p;
    }
    if let Some(a) = r.rotation {
        spec.render.rotation_deg = a;
    }
    spec.validate()?;
    let t = Instant::now();
    let image = to_f32(&spec.kernel_image(&mut SimContext::new())?);
    let seconds = t.elapsed().as_secs_f64();
    let png = png.unwrap_or_else(|| out.with_extension("png"));
    let title = format!(
        "{} ({}-fold, {:.3} eV)",
        spec.name, spec.symmetry, spec.energy_ev
    );
    write_panels(&png, &[signed_panel(image.view(), title)], 1, 4)?;
    write_dataset(out, &kernel_only_dataset(&spec, image, spec.to_toml()))?;
    println!(
        "kernel '{}' ({}-fold) at {:.3} eV, {}x{} px of {:.2} Angstrom, in {:.1} ms: {} and {}",
        spec.name,
        spec.symmetry,
        spec.energy_ev,
        spec.render.size[0],
        spec.render.size[1],
        spec.render.pixel_size_a,
        seconds * 1e3,
        out.display(),
        png.display()
    );
    Ok(())
}

fn signed_panel(image: ArrayView2<'_, f32>, title: String) -> Panel<'_> {
    Panel {
        image,
        title,
        colormap: Colormap::Diverging,
        scale: Scale::SymmetricPercentile(0.5),
        marks: vec![],
    }
}

/// A single synthesised observation with its kernel, ready to write.
struct Made {
    dataset: Dataset,
    defects: usize,
    pixel_size_a: f64,
}

impl Made {
    fn picture(&self, path: &Path) -> Result<()> {
        let obs = self
            .dataset
            .observations
            .observations
            .index_axis(ndarray::Axis(0), 0);
        let mask = self
            .dataset
            .observations
            .masks
            .index_axis(ndarray::Axis(0), 0)
            .mapv(|m| m as f32);
        // The central 64 x 64 of the kernel: where its pattern is.
        let full = self.dataset.kernels.kernels.index_axis(ndarray::Axis(0), 0);
        let (h, w) = full.dim();
        let (kh, kw) = (h.min(64), w.min(64));
        let kernel = full.slice_move(ndarray::s![
            h / 2 - kh / 2..h / 2 - kh / 2 + kh,
            w / 2 - kw / 2..w / 2 - kw / 2 + kw
        ]);
        let marks = marks_of(
            &self
                .dataset
                .observations
                .positions
                .index_axis(ndarray::Axis(0), 0),
        );
        let panels = [
            Panel {
                image: obs,
                title: format!("observation ({} defects)", self.defects),
                colormap: Colormap::Viridis,
                scale: Scale::Percentile(0.5),
                marks,
            },
            Panel {
                image: mask.view(),
                title: "defect mask".into(),
                colormap: Colormap::Gray,
                scale: Scale::MinMax,
                marks: vec![],
            },
            signed_panel(
                kernel,
                format!("true kernel: {}", self.dataset.kernels.names[0]),
            ),
        ];
        write_panels(path, &panels, 3, 2)
    }
}

fn marks_of(positions: &ArrayView2<f32>) -> Vec<(f32, f32)> {
    positions
        .rows()
        .into_iter()
        .filter(|p| p[0].is_finite())
        .map(|p| (p[0], p[1]))
        .collect()
}

fn single_observation(
    kernel: &str,
    size: usize,
    pixel_size: Option<f64>,
    defects: &DefectConfig,
    artefacts: &Artefacts,
    seed: u64,
) -> Result<Made> {
    let mut spec = catalog_spec(kernel)?;
    if !(8..=2048).contains(&size) {
        return Err(Error::invalid(format!(
            "size {size} must be between 8 and 2048 pixels"
        )));
    }
    if let Some(p) = pixel_size {
        spec.render.pixel_size_a = p;
    }
    // The file keeps kernel and observation on one grid; stamps twice that size: nothing wraps.
    spec.render.size = [size, size];
    spec.validate()?;
    let mut ctx = SimContext::new();
    let prepared = prepare_kernel(&mut ctx, &spec, defects.subpixel_steps)?;
    let kimage = prepared.image.clone();
    let obs = synthesize(
        &prepared.stamps,
        size,
        size,
        spec.render.pixel_size_a,
        defects,
        artefacts,
        &mut Rng::new(seed),
    )?;
    let n_def = obs.positions.len();
    let table = observation_table(std::slice::from_ref(&obs), vec![0], n_def);
    let generator = format!(
        "# qpik simulate observation\nkernel = \"{}\"\nsize = {size}\nseed = {seed}\n\n[defects]\n{}\n[artefacts]\n{}",
        spec.name,
        toml::to_string(defects).unwrap_or_default(),
        toml::to_string(artefacts).unwrap_or_default()
    );
    let mut ds = kernel_only_dataset(&spec, kimage, generator);
    ds.info.seed = seed;
    ds.observations = table;
    Ok(Made {
        dataset: ds,
        defects: n_def,
        pixel_size_a: spec.render.pixel_size_a,
    })
}

fn demo(out: &Path, kernel: &str, size: usize, seed: u64) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    let t = Instant::now();
    let defects = DefectConfig {
        count_min: 10,
        count_max: 16,
        negative_fraction: 0.2,
        ..DefectConfig::default()
    };
    let made = single_observation(kernel, size, None, &defects, &Artefacts::realistic(), seed)?;
    let h5 = out.join("demo.h5");
    let png = out.join("demo.png");
    write_dataset(&h5, &made.dataset)?;
    made.picture(&png)?;
    let spec = catalog_spec(kernel)?;
    println!("qpik {} demo", env!("CARGO_PKG_VERSION"));
    println!(
        "  kernel     {} ({} family, {}-fold), E = {:+.3} eV, eta = {:.3} eV",
        spec.name, spec.family, spec.symmetry, spec.energy_ev, spec.broadening_ev
    );
    println!(
        "  image      {size}x{size} px at {:.2} Angstrom/px = {:.1} nm field of view",
        made.pixel_size_a,
        size as f64 * made.pixel_size_a / 10.0
    );
    println!(
        "  defects    {} (20 % with negative amplitude), seed {seed}",
        made.defects
    );
    println!(
        "  artefacts  white noise SNR 8, 1/f noise, line offsets, tip changes, spikes, plane, drift"
    );
    println!(
        "  wrote      {} (qpik-dataset v1) and {}",
        h5.display(),
        png.display()
    );
    // Extraction: a 64 x 64 map of the same kernel through the embedded two-step model.
    let few = DefectConfig {
        count_min: 4,
        count_max: 8,
        ..defects
    };
    let small = single_observation(kernel, 64, None, &few, &Artefacts::realistic(), seed + 1)?;
    match Extractor::embedded(Method::TwoStep, &candle_core::Device::Cpu) {
        Ok(ex) => {
            let obs = small
                .dataset
                .observations
                .observations
                .index_axis(ndarray::Axis(0), 0)
                .to_owned();
            let mask = small
                .dataset
                .observations
                .masks
                .index_axis(ndarray::Axis(0), 0)
                .to_owned();
            let truth = small
                .dataset
                .kernels
                .kernels
                .index_axis(ndarray::Axis(0), 0)
                .to_owned();
            let t1 = Instant::now();
            let kernel_out = ex.extract(obs.view(), mask.view())?;
            let ms = t1.elapsed().as_secs_f64() * 1e3;
            let png = out.join("extracted.png");
            let m = extraction_picture(&png, &obs, &mask, &kernel_out, Some(&truth))?
                .expect("truth given");
            println!(
                "  extracted  the kernel of a 64x64 map with {} defects in {ms:.1} ms (embedded two-step model):",
                small.defects
            );
            println!(
                "             RMSE {:.3}, Pearson {:.3} against the truth ([-1, 1] scale) -> {}",
                m.rmse2,
                m.pearson,
                png.display()
            );
        }
        Err(e) => println!("  extraction skipped: {e}"),
    }
    println!("  took       {:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn simulate_dataset(a: &DatasetArgs) -> Result<()> {
    let mut artefacts = artefacts(a.preset);
    if a.snr.is_some() {
        artefacts.snr = a.snr;
    }
    let cfg = DatasetConfig {
        kernels: a.kernels,
        per_kernel: a.per_kernel,
        size: a.size,
        seed: a.seed,
        split_seed: a.split_seed,
        unseen_fraction: a.unseen_fraction,
        pixel_size_a: a.pixel_size,
        defects: DefectConfig {
            count_min: a.min_defects,
            count_max: a.max_defects,
            region: match a.central {
                Some(fraction) => Region::Central { fraction },
                None => Region::Full,
            },
            negative_fraction: a.negative_fraction,
            ..DefectConfig::default()
        },
        artefacts,
    };
    let t = Instant::now();
    let summary = generate_dataset(&cfg, &a.out, &Bars::default())?;
    println!(
        "wrote {}: {} kernels ({} unseen), {} observations of {}x{} in {:.1} s (kernels {:.1} s, observations + write {:.1} s)",
        a.out.display(),
        summary.kernels,
        summary.unseen,
        summary.observations,
        a.size,
        a.size,
        t.elapsed().as_secs_f64(),
        summary.seconds_kernels,
        summary.seconds_observations
    );
    Ok(())
}

/// An image to draw: pixels, title, signed (diverging colours) or not, defect marks.
type ShownImage = (Array2<f32>, String, bool, Vec<(f32, f32)>);

fn show(file: &Path, out: Option<PathBuf>, count: usize) -> Result<()> {
    let mut head = [0u8; 17];
    let is_sxm = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|_| crate::data::sxm::looks_like_sxm(&head));
    if is_sxm {
        return show_sxm(file, out);
    }
    let reader = DatasetReader::open(file)?;
    let kt = reader.kernels();
    let k = kt.names.len().min(count);
    let mut owned: Vec<ShownImage> = Vec::new();
    for i in 0..k {
        let split = match kt.split[i] {
            SPLIT_UNSEEN => "unseen",
            _ => "train",
        };
        let title = format!("{} ({}-fold, {split})", kt.names[i], kt.symmetry[i]);
        owned.push((
            kt.kernels.index_axis(ndarray::Axis(0), i).to_owned(),
            title,
            true,
            vec![],
        ));
    }
    let n = reader.len();
    let m = n.min(count);
    for j in 0..m {
        let idx = if m <= 1 { 0 } else { j * (n - 1) / (m - 1) };
        let t = reader.read_observations(idx..idx + 1)?;
        let marks = marks_of(&t.positions.index_axis(ndarray::Axis(0), 0));
        let ki = t.kernel_index[0] as usize;
        let title = format!(
            "obs {idx}: {} defects of {}",
            marks.len(),
            kt.names.get(ki).map_or("?", |s| s.as_str())
        );
        let img: Array3<f32> = t.observations;
        owned.push((
            img.index_axis(ndarray::Axis(0), 0).to_owned(),
            title,
            false,
            marks,
        ));
    }
    if owned.is_empty() {
        return Err(Error::format(
            file.display().to_string(),
            "the dataset holds no kernels or observations to show",
        ));
    }
    let panels: Vec<Panel> = owned
        .iter()
        .map(|(img, title, signed, marks)| {
            if *signed {
                signed_panel(img.view(), title.clone())
            } else {
                Panel {
                    image: img.view(),
                    title: title.clone(),
                    colormap: Colormap::Viridis,
                    scale: Scale::Percentile(0.5),
                    marks: marks.clone(),
                }
            }
        })
        .collect();
    let out = out.unwrap_or_else(|| file.with_extension("png"));
    let zoom = if owned[0].0.dim().0 <= 64 { 3 } else { 2 };
    write_panels(&out, &panels, count.clamp(1, 6), zoom)?;
    println!(
        "{}: {} kernels, {} observations; drew {} kernels and {} observations to {}",
        file.display(),
        kt.names.len(),
        n,
        k,
        m,
        out.display()
    );
    Ok(())
}

/// Draws every image of a Nanonis scan, topography line-levelled.
fn show_sxm(file: &Path, out: Option<PathBuf>) -> Result<()> {
    let scan = crate::data::sxm::read_sxm(file)?;
    let mut owned: Vec<(Array2<f32>, String)> = Vec::new();
    for im in &scan.images {
        let mut data = im.data.clone();
        let mut title = format!("{} {} ({})", im.name, im.direction.as_str(), im.unit);
        if im.unit == "m" {
            crate::data::sxm::level_lines(&mut data);
            title.push_str(", line-levelled");
        }
        owned.push((data, title));
    }
    let panels: Vec<Panel> = owned
        .iter()
        .map(|(img, title)| Panel {
            image: img.view(),
            title: title.clone(),
            colormap: Colormap::Viridis,
            scale: Scale::Percentile(0.5),
            marks: vec![],
        })
        .collect();
    let out = out.unwrap_or_else(|| file.with_extension("png"));
    let zoom = if scan.shape.0.max(scan.shape.1) <= 128 {
        2
    } else {
        1
    };
    write_panels(&out, &panels, 2, zoom)?;
    let (px, py) = scan.pixel_size_m();
    println!(
        "{}: Nanonis scan, {} x {} pixels over {:.1} x {:.1} nm ({:.3} x {:.3} Angstrom per pixel), \
         rotated {} degrees, bias {}; {} images drawn to {}",
        file.display(),
        scan.shape.0,
        scan.shape.1,
        scan.range_m.0 * 1e9,
        scan.range_m.1 * 1e9,
        px * 1e10,
        py * 1e10,
        scan.angle_deg,
        scan.bias_v.map_or("not given".into(), |b| format!("{b} V")),
        scan.images.len(),
        out.display()
    );
    Ok(())
}

fn device(cuda: bool) -> candle_core::Device {
    let (d, note) = select_device(cuda);
    if let Some(n) = note {
        eprintln!("note: {n}");
    }
    d
}

fn train(what: TrainWhat, a: &TrainArgs) -> Result<()> {
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
    println!(
        "trained {} for {} epochs in {:.1} s ({:.1} samples/s): final loss {:.5}, validation {:?} -> {}",
        record.kind,
        record.epochs_done,
        t.elapsed().as_secs_f64(),
        record.samples_per_second,
        record.final_train_loss,
        record.validation.last(),
        a.out.display()
    );
    Ok(())
}

fn extractor(method: MethodArg, model: Option<PathBuf>, cuda: bool) -> Result<Extractor> {
    let dev = device(cuda);
    let ex = match model {
        Some(p) => Extractor::open(&p, &dev)?,
        None => Extractor::embedded(
            match method {
                MethodArg::TwoStep => Method::TwoStep,
                MethodArg::OneStep => Method::OneStep,
            },
            &dev,
        )?,
    };
    Ok(ex)
}

fn eval(
    data: &Path,
    method: MethodArg,
    model: Option<PathBuf>,
    limit: usize,
    json: bool,
    cuda: bool,
) -> Result<()> {
    let ex = extractor(method, model, cuda)?;
    // A test set is held out as a whole: every observation of a training kernel is "seen".
    let td = crate::model::data::TrainingData::load(data, None, 1.0)?;
    let (seen, unseen) = evaluate(&ex, &td, limit)?;
    let name = match ex.method() {
        Method::TwoStep => "two-step",
        Method::OneStep => "one-step",
    };
    if json {
        println!(
            "{{\"method\":\"{name}\",\"data\":{:?},\"seen\":{},\"unseen\":{}}}",
            data.display().to_string(),
            seen.to_json(),
            unseen.to_json()
        );
    } else {
        println!(
            "{name} on {} (errors on the [-1, 1] scale, i.e. x2 on [0, 1]):",
            data.display()
        );
        println!(
            "{:<8} {:>6} {:>10} {:>10} {:>10} {:>10} {:>8}",
            "group", "n", "MAE mean", "MAE max", "RMSE mean", "RMSE max", "Pearson"
        );
        for (g, m) in [("seen", seen), ("unseen", unseen)] {
            println!(
                "{:<8} {:>6} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>8.4}",
                g, m.count, m.mae2_mean, m.mae2_max, m.rmse2_mean, m.rmse2_max, m.pearson_mean
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn extract(
    input: &Path,
    mask: Option<PathBuf>,
    index: usize,
    method: MethodArg,
    model: Option<PathBuf>,
    out: &Path,
    png: Option<PathBuf>,
    cuda: bool,
) -> Result<()> {
    let ex = extractor(method, model, cuda)?;
    let is_npy = input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let (obs, m, truth) = if is_npy {
        let mask = mask.ok_or_else(|| {
            Error::invalid("a .npy observation needs --mask MASK.npy (1 at each defect)")
        })?;
        let o = crate::data::npy::read_f32(input)?;
        let mk = crate::data::npy::read_f32(&mask)?.mapv(|v| u8::from(v != 0.0));
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
    let table = KernelTable {
        kernels: kernel
            .clone()
            .into_shape_with_order((1, h, w))
            .expect("shape"),
        names: vec![format!("extracted from {} #{index}", input.display())],
        symmetry: vec![0],
        split: vec![SPLIT_TRAIN],
        pixel_size_m: vec![f64::NAN],
    };
    let obs_table = observation_table(
        &[crate::synthesis::Observation {
            image: obs.clone(),
            mask: m.clone(),
            positions: vec![],
            amplitudes: vec![],
        }],
        vec![0],
        0,
    );
    let ds = Dataset {
        info: DatasetInfo {
            pixel_size_m: f64::NAN,
            seed: 0,
            generator: format!("# qpik extract\nmethod = \"{:?}\"\n", ex.method()),
        },
        kernels: table,
        observations: obs_table,
    };
    write_dataset(out, &ds)?;
    let png = png.unwrap_or_else(|| out.with_extension("png"));
    let line = match extraction_picture(&png, &obs, &m, &kernel, truth.as_ref())? {
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
fn extraction_picture(
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
