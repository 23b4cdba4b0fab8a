//! `qpik simulate observation --preset real-scan` and `qpik simulate dataset --preset
//! real-scan`: maps that look like measured topographs, written with their truth
//! ([`crate::synthesis::real_scan::file`]).

use super::simulate::marks_of;
use crate::cli::DatasetArgs;
use crate::picture::{Colormap, Panel, Scale, write_panels};
use crate::synthesis::real_scan::{RealScan, RealScanConfig, Surface, real_scan, write_real_scans};
use crate::{Error, Result};
use ndarray::{Array2, s};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Most maps one `qpik simulate dataset --preset real-scan` makes.
const MAX_MAPS: usize = 100_000;

/// The command-line choices a real-scan config takes.
pub(super) struct Request {
    pub surface: Option<String>,
    pub size: Option<usize>,
    pub pixel_size_a: Option<f64>,
    pub adatoms: [Option<usize>; 2],
}

impl Request {
    fn config(&self) -> RealScanConfig {
        let d = RealScanConfig::default();
        RealScanConfig {
            size: self.size.unwrap_or(d.size),
            pixel_size_m: self.pixel_size_a.map(|p| p * 1e-10),
            adatoms: [
                self.adatoms[0].unwrap_or(d.adatoms[0]),
                self.adatoms[1].unwrap_or(d.adatoms[1]),
            ],
            surface: self
                .surface
                .as_deref()
                .map_or(d.surface.clone(), Surface::parse),
            ..d
        }
    }
}

fn generator(config: &RealScanConfig, seed: u64, maps: usize) -> String {
    format!(
        "# qpik simulate ... --preset real-scan\nseed = {seed}\nmaps = {maps}\n\n[real-scan]\n{}",
        toml::to_string(config).unwrap_or_default()
    )
}

/// One map to `out` (.h5 with the truth, or .npy: the map alone) and a picture to `png`.
pub(super) fn real_scan_observation(
    request: &Request,
    seed: u64,
    out: &Path,
    png: Option<PathBuf>,
) -> Result<()> {
    let config = request.config();
    let t = Instant::now();
    let scan = real_scan(&config, seed)?;
    let seconds = t.elapsed().as_secs_f64();
    if super::simulate_stack::is_npy(out) {
        crate::data::npy::write_npy_f32(out, scan.map.view().into_dyn(), false)?;
    } else {
        write_real_scans(
            out,
            std::slice::from_ref(&scan),
            seed,
            generator(&config, seed, 1),
        )?;
    }
    let png = png.unwrap_or_else(|| out.with_extension("png"));
    picture(&scan, &png)?;
    let n0 = scan.types.iter().filter(|&&t| t == 0).count();
    println!(
        "real-scan map of {} ({n0} adatoms, {} dimers, {} dark defects) on {}x{} px of {:.2} Angstrom, ring period {}, {:.1} % excluded, seed {seed}, in {:.2} s: {} and {}",
        scan.surface,
        scan.dimers.len(),
        scan.types.len() - n0,
        config.size,
        config.size,
        scan.pixel_size_m * 1e10,
        scan.ring_period_m
            .map_or("none (lattice kernel)".to_string(), |p| format!(
                "{:.2} nm",
                p * 1e9
            )),
        100.0 * scan.excluded.iter().filter(|&&e| e == 1).count() as f64
            / scan.excluded.len() as f64,
        seconds,
        out.display(),
        png.display()
    );
    Ok(())
}

/// `--maps` maps, map `i` drawn with seed `seed + i`, to one file.
pub(super) fn real_scan_dataset(a: &DatasetArgs) -> Result<()> {
    let request = Request {
        surface: a.kernel.clone(),
        size: a.size,
        pixel_size_a: a.pixel.angstrom()?,
        adatoms: [a.min_defects, a.max_defects],
    };
    let config = request.config();
    config.validate()?;
    let maps = a.maps.unwrap_or(16);
    if !(1..=MAX_MAPS).contains(&maps) {
        return Err(Error::invalid(format!(
            "--maps {maps} must be between 1 and {MAX_MAPS}"
        )));
    }
    // Maps, kernels (two per map, padded to the map), masks and excluded, held at once.
    let budget = crate::budget::MemoryBudget::new(a.memory_budget)?;
    budget.check(
        "the real-scan dataset",
        crate::budget::bytes(&[maps, config.size, config.size, 4 + 2 * 4 + 1 + 1, 2]),
    )?;
    let t = Instant::now();
    let scans = (0..maps as u64)
        .into_par_iter()
        .map(|i| real_scan(&config, a.seed.wrapping_add(i)))
        .collect::<Result<Vec<RealScan>>>()?;
    write_real_scans(&a.out, &scans, a.seed, generator(&config, a.seed, maps))?;
    println!(
        "wrote {}: {maps} real-scan maps of {} ({}x{}), seeds {}.., in {:.1} s",
        a.out.display(),
        config.surface.name(),
        config.size,
        config.size,
        a.seed,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The map with every defect marked, the excluded mask, and the central 64 x 64 of the
/// adatom kernel.
fn picture(scan: &RealScan, path: &Path) -> Result<()> {
    let positions = Array2::from_shape_fn((scan.positions.len(), 2), |(i, j)| {
        scan.positions[i][j] as f32
    });
    let excluded = scan.excluded.mapv(f32::from);
    let k = &scan.kernels[0];
    let r = k.dim().0 / 2;
    let half = r.min(32);
    let kernel = k.slice(s![r - half..=r + half, r - half..=r + half]);
    let panels = [
        Panel {
            image: scan.map.view(),
            title: format!("real-scan map ({} defects)", scan.positions.len()),
            colormap: Colormap::Viridis,
            scale: Scale::Percentile(1.0),
            marks: marks_of(&positions.view()),
        },
        Panel {
            image: excluded.view(),
            title: "excluded (outliers)".into(),
            colormap: Colormap::Gray,
            scale: Scale::MinMax,
            marks: vec![],
        },
        // Clipped at the 2 % of largest |K|: the core is 20-100 ring amplitudes high.
        Panel {
            image: kernel,
            title: format!("adatom kernel: {}", scan.surface),
            colormap: Colormap::Diverging,
            scale: Scale::SymmetricPercentile(2.0),
            marks: vec![],
        },
    ];
    write_panels(path, &panels, 3, 2)
}
