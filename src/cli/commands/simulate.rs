//! `qpik catalog`, `qpik simulate ...` and `qpik demo`.

use super::*;
use crate::cli::outputs::Outputs;
use crate::cli::progress::Bars;
use crate::cli::{DatasetArgs, RenderArgs};
use crate::data::Dataset;
use crate::data::hdf5_io::write_dataset;
use crate::data::npy::write_npy_f32;
use crate::physics::SimContext;
use crate::physics::catalog::catalog;
use crate::picture::{Colormap, Panel, Scale, write_panels};
use crate::rng::Rng;
use crate::synthesis::dataset::{
    DatasetConfig, generate_dataset_within, observation_table, prepare_kernel,
};
use crate::synthesis::{Artefacts, DefectConfig, Region, synthesize};
use crate::{Error, Result};
use ndarray::ArrayView2;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(super) fn list_catalog(spec: Option<String>, symmetry: Option<u8>) -> Result<()> {
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

pub(super) fn simulate_kernel(
    name: Option<String>,
    spec_path: Option<PathBuf>,
    out: &Path,
    png: Option<PathBuf>,
    r: &RenderArgs,
) -> Result<()> {
    let png = png.unwrap_or_else(|| out.with_extension("png"));
    let inputs: Vec<&Path> = spec_path.iter().map(PathBuf::as_path).collect();
    let mut outputs = Outputs::plan(&inputs, &[out, &png])?;
    let mut spec = match (name, spec_path) {
        (Some(n), None) => catalog_spec(&n)?,
        (None, Some(p)) => super::read_spec(&p)?,
        _ => {
            return Err(Error::invalid(
                "give a catalog kernel name or --spec FILE.toml",
            ));
        }
    };
    if let Some(s) = r.size {
        spec.render.size = [s, s];
    }
    if let Some(p) = r.pixel.angstrom()? {
        spec.render.pixel_size_a = p;
    }
    if let Some(a) = r.rotation {
        spec.render.rotation_deg = a;
    }
    let spec = super::simulate_stack::with_energies(spec, r.energies.clone())?;
    spec.validate()?;
    if spec.is_stack() {
        return super::simulate_stack::simulate_kernel_stack(&spec, out, &png, outputs);
    }
    let t = Instant::now();
    // Ctrl-C stops a large k-grid within a second (the bars poll the interrupt flag).
    let field = spec.simulate_polling(&mut SimContext::new(), &Bars::default())?;
    let image = to_f32(&spec.render_kernel(&field)?);
    let seconds = t.elapsed().as_secs_f64();
    let title = format!(
        "{} ({}-fold, {:.3} eV)",
        spec.name, spec.symmetry, spec.energy_ev
    );
    write_panels(
        &outputs.stage(&png)?,
        &[signed_panel(image.view(), title)],
        1,
        4,
    )?;
    if super::simulate_stack::is_npy(out) {
        write_npy_f32(&outputs.stage(out)?, image.view().into_dyn(), false)?;
    } else {
        write_dataset(
            &outputs.stage(out)?,
            &kernel_only_dataset(&spec, image, spec.to_toml()),
        )?;
    }
    outputs.commit()?;
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

/// A single synthesised observation with its kernel, ready to write.
pub(super) struct SimulatedObservation {
    pub(super) dataset: Dataset,
    pub(super) defects: usize,
    pub(super) pixel_size_a: f64,
}

impl SimulatedObservation {
    pub(super) fn picture(&self, path: &Path) -> Result<()> {
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

pub(super) fn marks_of(positions: &ArrayView2<f32>) -> Vec<(f32, f32)> {
    positions
        .rows()
        .into_iter()
        .filter(|p| p[0].is_finite())
        .map(|p| (p[0], p[1]))
        .collect()
}

pub(super) fn single_observation(
    kernel: &str,
    size: usize,
    pixel_size: Option<f64>,
    defects: &DefectConfig,
    artefacts: &Artefacts,
    seed: u64,
) -> Result<SimulatedObservation> {
    let mut spec = catalog_spec(kernel)?;
    crate::synthesis::check_image_size(size)?;
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
    Ok(SimulatedObservation {
        dataset: ds,
        defects: n_def,
        pixel_size_a: spec.render.pixel_size_a,
    })
}

pub(super) fn simulate_dataset(a: &DatasetArgs) -> Result<()> {
    if a.preset == Preset::RealScan {
        return super::simulate_real::real_scan_dataset(a);
    }
    if a.maps.is_some() || a.kernel.is_some() {
        return Err(Error::invalid(
            "--maps and --kernel are for --preset real-scan; other datasets draw --kernels",
        ));
    }
    let size = a.size.unwrap_or(64);
    let mut artefacts = artefacts(a.preset);
    if a.snr.is_some() {
        artefacts.snr = a.snr;
    }
    let cfg = DatasetConfig {
        kernels: a.kernels,
        per_kernel: a.per_kernel,
        size,
        seed: a.seed,
        split_seed: a.split_seed,
        unseen_fraction: a.unseen_fraction,
        pixel_size_a: a.pixel.angstrom()?,
        defects: DefectConfig {
            count_min: a.min_defects.unwrap_or(1),
            count_max: a.max_defects.unwrap_or(20),
            region: match a.central {
                Some(fraction) => Region::Central { fraction },
                None => Region::Full,
            },
            negative_fraction: a.negative_fraction,
            ..DefectConfig::default()
        },
        artefacts,
        types: a.types,
    };
    // One output, written atomically by the dataset writer: only the checks here.
    Outputs::plan(&[], &[&a.out])?;
    let t = Instant::now();
    let budget = crate::budget::MemoryBudget::new(a.memory_budget)?;
    let summary = generate_dataset_within(&cfg, &a.out, &budget, &Bars::default())?;
    println!(
        "wrote {}: {} kernels ({} unseen), {} observations of {}x{} in {:.1} s (kernels {:.1} s, observations + write {:.1} s)",
        a.out.display(),
        summary.kernels,
        summary.unseen,
        summary.observations,
        size,
        size,
        t.elapsed().as_secs_f64(),
        summary.seconds_kernels,
        summary.seconds_observations
    );
    Ok(())
}
