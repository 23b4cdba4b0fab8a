//! The data of a fit from an extraction result: one type's kernels, their weights and mask.

use super::problem::FitData;
use crate::extract::map::Extraction;
use crate::{Error, Result};
use ndarray::{Array3, s};

/// Standard errors below this fraction of an energy's median are raised to it, so a few
/// pixels with a tiny bootstrap spread cannot dominate the fit.
pub const STD_FLOOR_FRACTION: f64 = 0.1;

/// Default radius of the masked impurity core, pixels: the site itself and its neighbours,
/// where the extraction's value is the impurity's own state, not the interference pattern.
pub const DEFAULT_CORE_RADIUS_PX: f64 = 2.0;

/// The kernels of type `kernel_type` with weights `1 / max(std, floor)` and the core
/// (`r < core_radius_px` from `(S/2, S/2)`) left out. Energies come from the file, or from
/// `spec_energies` when the file's are unknown (NaN) and their count matches.
pub fn fit_data(
    ex: &Extraction,
    kernel_type: usize,
    core_radius_px: f64,
    spec_energies: &[f64],
    spec_pixel_size_a: f64,
) -> Result<FitData> {
    let (t, e, n, _) = ex.kernels.dim();
    if kernel_type >= t {
        return Err(Error::invalid(format!(
            "kernel type {kernel_type} asked for, but the result holds {t} type(s) (0 to {})",
            t - 1
        )));
    }
    if !(core_radius_px.is_finite() && core_radius_px >= 0.0 && core_radius_px < n as f64 / 2.0) {
        return Err(Error::invalid(format!(
            "core radius {core_radius_px} px must be >= 0 and below half the kernel ({n} px)"
        )));
    }
    let energies_ev = if ex.energies_ev.iter().all(|v| v.is_finite()) {
        ex.energies_ev.clone()
    } else if spec_energies.len() == e && spec_energies.iter().all(|v| v.is_finite()) {
        spec_energies.to_vec()
    } else {
        return Err(Error::invalid(format!(
            "the result file does not state its {e} energies; give them in the spec \
             (energy_ev for one, energies_ev = [...] for {e})"
        )));
    };
    let pixel_size_a = if ex.pixel_size_m.is_finite() && ex.pixel_size_m > 0.0 {
        ex.pixel_size_m * 1e10
    } else {
        spec_pixel_size_a
    };
    let kernels = ex
        .kernels
        .slice(s![kernel_type, .., .., ..])
        .mapv(f64::from);
    let std = ex
        .kernel_std
        .slice(s![kernel_type, .., .., ..])
        .mapv(f64::from);
    let mut weights = Array3::<f64>::zeros((e, n, n));
    let c = (n / 2) as f64;
    for k in 0..e {
        let mut good: Vec<f64> = std
            .slice(s![k, .., ..])
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        good.sort_by(f64::total_cmp);
        // No standard errors at all: equal weights.
        let median = good.get(good.len() / 2).copied().unwrap_or(1.0);
        let floor = STD_FLOOR_FRACTION * median;
        for i in 0..n {
            for j in 0..n {
                let r = ((i as f64 - c).powi(2) + (j as f64 - c).powi(2)).sqrt();
                let d = kernels[[k, i, j]];
                if r < core_radius_px || !d.is_finite() {
                    continue;
                }
                let sd = std[[k, i, j]];
                let sd = if sd.is_finite() && sd > 0.0 {
                    sd
                } else {
                    median
                };
                weights[[k, i, j]] = 1.0 / sd.max(floor);
            }
        }
    }
    let kernels = kernels.mapv(|v| if v.is_finite() { v } else { 0.0 });
    let orbit_pixels = orbit_pixels(
        &weights,
        ex.symmetry,
        ex.mirror_axis_deg.iter().any(|a| a.is_finite()),
    );
    Ok(FitData {
        kernels,
        weights,
        energies_ev,
        pixel_size_a,
        orbit_pixels,
    })
}

/// Mean pixels per orbit of the symmetry the kernel was projected onto (0 none, 1 isotropic,
/// else n-fold; `mirror`: with mirror lines), over the fitted pixels of the first energy: the
/// projection makes every orbit's pixels one value, so the kernel holds that many times fewer
/// independent values than pixels. Isotropic orbits are the pixels of one exact radius.
fn orbit_pixels(weights: &Array3<f64>, symmetry: u32, mirror: bool) -> f64 {
    let (_, n, _) = weights.dim();
    let c = (n / 2) as isize;
    let used: Vec<(isize, isize)> = (0..n * n)
        .filter(|&p| weights[[0, p / n, p % n]] > 0.0)
        .map(|p| ((p / n) as isize - c, (p % n) as isize - c))
        .collect();
    if used.is_empty() {
        return 1.0;
    }
    let per_orbit = match symmetry {
        0 => 1.0,
        1 => {
            let mut radii: Vec<isize> = used.iter().map(|(r, c)| r * r + c * c).collect();
            radii.sort_unstable();
            radii.dedup();
            used.len() as f64 / radii.len() as f64
        }
        n => n as f64,
    };
    if mirror && symmetry != 1 {
        (2.0 * per_orbit).max(1.0)
    } else {
        per_orbit.max(1.0)
    }
}
