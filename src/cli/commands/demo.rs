//! `qpik demo`: simulate a realistic map, extract its kernel with the map engine (positions
//! from the mask and from a simulated topography) and with the network, and run the engine on
//! the real FeSe/SrTiO3 scan when it is at hand.

use super::catalog_spec;
use super::network::extraction_picture;
use super::simulate::single_observation;
use crate::cli::outputs::Outputs;
use crate::data::extraction_file::write_extraction;
use crate::data::hdf5_io::write_dataset;
use crate::data::map_data::MapData;
use crate::data::map_file::{MapSource, load_channel, load_map};
use crate::data::sxm::Direction;
use crate::extract::defects::{
    TopographySettings, find_defects, positions_from_mask, positions_of,
};
use crate::extract::map::{Extraction, MapSettings, extract_map};
use crate::extract::{Extractor, Method, sample_metrics};
use crate::picture::{write_comparison_png, write_extraction_png};
use crate::progress::NoProgress;
use crate::rng::Rng;
use crate::synthesis::topography::{TopographyConfig, synthesize_topography};
use crate::synthesis::{Artefacts, DefectConfig};
use crate::{Error, Result};
use ndarray::{Array2, s};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Kernel size of the demo's extractions (pixels).
const DEMO_KERNEL: usize = 49;

/// The central `k x k` of a square image.
fn centre(image: &Array2<f32>, k: usize) -> Array2<f32> {
    let (h, w) = image.dim();
    image
        .slice(s![
            h / 2 - k / 2..h / 2 - k / 2 + k,
            w / 2 - k / 2..w / 2 - k / 2 + k
        ])
        .to_owned()
}

fn pearson(a: &Array2<f32>, b: &Array2<f32>) -> f64 {
    let a: Vec<f32> = a.iter().copied().collect();
    let b: Vec<f32> = b.iter().copied().collect();
    sample_metrics(&a, &b).pearson
}

fn kernel_of(ex: &Extraction) -> Array2<f32> {
    ex.kernels.slice(s![0, 0, .., ..]).to_owned()
}

/// Every file the demo writes into its folder (all or none are written).
const DEMO_FILES: [&str; 9] = [
    "demo.h5",
    "demo.png",
    "engine.h5",
    "engine.png",
    "engine-vs-truth.png",
    "engine-topography-vs-truth.png",
    "extracted.png",
    "fese.png",
    "fese.h5",
];

pub(super) fn demo(out: &Path, kernel: &str, size: usize, seed: u64, scan: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    let files: Vec<PathBuf> = DEMO_FILES.iter().map(|f| out.join(f)).collect();
    let targets: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut outputs = Outputs::plan(&[scan], &targets)?;
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
    write_dataset(&outputs.stage(&h5)?, &made.dataset)?;
    made.picture(&outputs.stage(&png)?)?;
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
    engine_on_simulation(out, &made, seed, &mut outputs)?;
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
            let m = extraction_picture(
                &outputs.stage(&png)?,
                &obs,
                &mask,
                &kernel_out,
                Some(&truth),
            )?
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
    let fese = out.join("fese.png");
    if scan.is_file() {
        engine_on_scan(scan, &fese, &out.join("fese.h5"), &mut outputs)?;
    } else {
        println!(
            "  real scan  skipped: {} is not here (run from the repository)",
            scan.display()
        );
    }
    outputs.commit()?;
    println!("  took       {:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// The map engine on the whole simulated map: positions from its mask, then from a simulated
/// topography of the same defects; truth beside result.
fn engine_on_simulation(
    out: &Path,
    made: &super::simulate::SimulatedObservation,
    seed: u64,
    outputs: &mut Outputs,
) -> Result<()> {
    let obs = made
        .dataset
        .observations
        .observations
        .index_axis(ndarray::Axis(0), 0)
        .to_owned();
    let mask = made
        .dataset
        .observations
        .masks
        .index_axis(ndarray::Axis(0), 0)
        .to_owned();
    let truth = centre(
        &made
            .dataset
            .kernels
            .kernels
            .index_axis(ndarray::Axis(0), 0)
            .to_owned(),
        DEMO_KERNEL,
    );
    let pixel_size_m = made.pixel_size_a * 1e-10;
    let map = MapData {
        pixel_size_m,
        ..MapData::from_image(obs.clone())
    };
    let settings = MapSettings {
        kernel_size: Some(DEMO_KERNEL),
        seed,
        ..MapSettings::default()
    };
    let t1 = Instant::now();
    let from_mask = extract_map(
        &map,
        &positions_from_mask(mask.view())?,
        &settings,
        &NoProgress,
    )?;
    let ms = t1.elapsed().as_secs_f64() * 1e3;
    let r_mask = pearson(&kernel_of(&from_mask), &truth);
    write_extraction(&outputs.stage(&out.join("engine.h5"))?, &from_mask)?;
    write_extraction_png(
        &outputs.stage(&out.join("engine.png"))?,
        &map,
        &from_mask,
        0,
    )?;
    write_comparison_png(
        &outputs.stage(&out.join("engine-vs-truth.png"))?,
        truth.view(),
        kernel_of(&from_mask).view(),
        pixel_size_m,
        "map engine, positions from the mask",
    )?;
    println!(
        "  engine     the whole {}x{} map, positions from its mask: kernel Pearson {r_mask:.3} against the truth, held-out R^2 {:.3}, {ms:.0} ms -> {}",
        obs.dim().0,
        obs.dim().1,
        from_mask.heldout_r2[0],
        out.join("engine.png").display()
    );
    // The same defects in a simulated topography channel, found by the detector.
    let positions: Vec<[f32; 2]> = made
        .dataset
        .observations
        .positions
        .index_axis(ndarray::Axis(0), 0)
        .rows()
        .into_iter()
        .filter(|p| p[0].is_finite())
        .map(|p| [p[0], p[1]])
        .collect();
    let (h, w) = obs.dim();
    let z = synthesize_topography(
        &positions,
        h,
        w,
        made.pixel_size_a,
        &TopographyConfig::default(),
        &mut Rng::stream(seed, 7),
    )?;
    let found = find_defects(
        z.view(),
        &TopographySettings::for_pixel_size(made.pixel_size_a)?,
    )?;
    let from_topo = extract_map(&map, &positions_of(&found), &settings, &NoProgress)?;
    let r_topo = pearson(&kernel_of(&from_topo), &truth);
    write_comparison_png(
        &outputs.stage(&out.join("engine-topography-vs-truth.png"))?,
        truth.view(),
        kernel_of(&from_topo).view(),
        pixel_size_m,
        "map engine, positions from the simulated topography",
    )?;
    println!(
        "             positions from a simulated topography ({} of {} defects found): Pearson {r_topo:.3} (mask {r_mask:.3}), held-out R^2 {:.3}",
        found.len(),
        positions.len(),
        from_topo.heldout_r2[0]
    );
    Ok(())
}

/// The engine on the real FeSe/SrTiO3 scan: LIY_1_omega, the defects of Z as type 0 plus one
/// type found blind (the bright patches that Z does not show).
fn engine_on_scan(scan: &Path, png: &Path, h5: &Path, outputs: &mut Outputs) -> Result<()> {
    let loaded = load_map(scan, &MapSource::default())?;
    let z = load_channel(scan, "Z", Direction::Forward)?;
    let settings = TopographySettings::for_pixel_size(loaded.map.pixel_size_m * 1e10)?;
    let found = find_defects(z.data.index_axis(ndarray::Axis(0), 0), &settings)?;
    let from_z = extract_map(
        &loaded.map,
        &positions_of(&found),
        &MapSettings::default(),
        &NoProgress,
    )?;
    let ex = crate::extract::blind::extract_blind(
        &loaded.map,
        &positions_of(&found),
        &MapSettings {
            blind: true,
            ..MapSettings::default()
        },
        &NoProgress,
    )?;
    write_extraction(&outputs.stage(h5)?, &ex)?;
    write_extraction_png(&outputs.stage(png)?, &loaded.map, &ex, 0)?;
    println!(
        "  real scan  {}: LIY_1_omega, {} defects from Z alone: held-out R^2 {:.3}; with a blind type ({} more defects): {:.3}, kernel {} px -> {}",
        scan.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        found.len(),
        from_z.heldout_r2[0],
        ex.positions.len() - found.len(),
        ex.heldout_r2[0],
        ex.kernel_size(),
        png.display()
    );
    Ok(())
}
