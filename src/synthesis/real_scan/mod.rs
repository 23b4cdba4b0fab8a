//! A synthetic map that behaves like a measured constant-current topograph of adatoms on a
//! noble-metal (111) surface (Co on Ag(111) at about +100 mV): the preset the blind search
//! is developed and scored on, with the truth of everything in it.
//!
//! # What is in a map
//! - Adatoms (type 0): a Gaussian apparent-height core (FWHM 4-7 Angstrom) 20-100 times the
//!   ring amplitude, plus the Shockley ring pattern (the exact continuum solution of
//!   [`crate::physics::continuum`] at the bias energy, ripple ~1/r) or a catalog lattice
//!   kernel; 10-20 % of them in dimers (two adatoms 2-4 px apart, both listed).
//! - Dark subsurface defects (type 1): a shallow depression (2-5 ring units) with their own
//!   weaker rings (another phase shift).
//! - Outliers, marked in [`RealScan::excluded`]: bright clusters (irregular blobs 3-10 core
//!   heights high, with weak rings), a step edge (a height step of 3-10 core heights with a
//!   standing wave parallel to it), glitch lines, spikes, trailing zero lines (an aborted
//!   scan).
//! - Not excluded (a kernel explains them, or they are smooth): a tip change (from one scan
//!   line on, the image shifts by a pixel or two and the core and ring heights change,
//!   [`RealScan::tip_change`]), saturation (the defect signal clipped at 0.6-1.0 core
//!   heights), the atomic lattice (triangular, sampled at pixel centres: aliased honestly),
//!   white and 1/f noise, line offsets, a background plane.
//!
//! # Conventions
//! | quantity            | convention                                                        |
//! |---------------------|-------------------------------------------------------------------|
//! | map                 | `[row, col]`, row 0 the first scan line (slow axis down the rows)  |
//! | units of the map    | ring units: the adatom ripple's largest magnitude outside its core is 1 |
//! | positions           | `(row, col)` pixels, pixel centres at integers, quarter-pixel grid |
//! | kernels             | odd side `2R + 1`, impurity at `(R, R)` = `(S/2, S/2)`, same units as the map: the map is `sum_i a_i K_{t_i}(r - r_i)` (a_i in 0.9..1.1, [`RealScan::amplitudes`]) plus outliers and artefacts |
//! | core radius         | pixels; where the core falls below 0.1 ring units                  |
//! | positions of the tip-change frame | rows `>= tip_change.row` show the scene displaced by `tip_change.shift_px`; `positions` are those of the rows above |
//!
//! Seeds: the scene (kernel parameters, defects, outliers) is drawn from
//! `Rng::stream(seed, 0)`, the scan-time artefacts (noise, offsets, glitches, spikes, zero
//! lines) from `Rng::stream(seed, 1)`; the same seed and config give the same map, bit for
//! bit.

pub mod file;
mod kernel;
mod render;
mod scene;
pub mod score;
#[cfg(test)]
mod tests;

use crate::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use file::{read_real_scan, real_scan_dataset, write_real_scans};
pub use score::{RealScanScore, estimate_ring_period_px, score_blind};

/// The noble-metal (111) surfaces with a Shockley surface state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metal {
    Ag111,
    Cu111,
    Au111,
}

impl Metal {
    /// Band bottom (eV), effective mass range (m_e) and lattice constant of the surface
    /// (nearest-neighbour distance, Angstrom).
    pub fn band(self) -> (f64, [f64; 2], f64) {
        match self {
            Metal::Ag111 => (-0.065, [0.40, 0.42], 2.89),
            Metal::Cu111 => (-0.44, [0.38, 0.41], 2.55),
            Metal::Au111 => (-0.48, [0.26, 0.26], 2.88),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metal::Ag111 => "ag111",
            Metal::Cu111 => "cu111",
            Metal::Au111 => "au111",
        }
    }
}

/// The adatom kernel's surface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Surface {
    /// The Shockley state of a noble-metal (111) surface: the exact continuum kernel at the
    /// bias energy (isotropic, ring period `lambda_F / 2 = pi / k`).
    Shockley(Metal),
    /// A catalog kernel by name (`qpik catalog`), e.g. `graphene-*` or `kagome-*`, rendered
    /// at the map's pixel size, with a core added.
    Catalog(String),
}

impl Surface {
    /// `ag111`, `cu111`, `au111` (also `shockley-ag111` ...) or a catalog kernel name.
    pub fn parse(name: &str) -> Surface {
        let short = name.strip_prefix("shockley-").unwrap_or(name);
        match short {
            "ag111" => Surface::Shockley(Metal::Ag111),
            "cu111" => Surface::Shockley(Metal::Cu111),
            "au111" => Surface::Shockley(Metal::Au111),
            _ => Surface::Catalog(name.to_string()),
        }
    }

    /// The surface's name: `shockley-ag111` ... or the catalog name.
    pub fn name(&self) -> String {
        match self {
            Surface::Shockley(m) => format!("shockley-{}", m.name()),
            Surface::Catalog(n) => n.clone(),
        }
    }
}

/// How a real-scan map is drawn. Heights are in ring units (the adatom ring amplitude is 1)
/// unless a field says "core heights"; `[lo, hi]` pairs are drawn uniformly per map.
/// [`Default`] is the full realistic mix; [`RealScanConfig::clean`] switches every outlier
/// and artefact off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealScanConfig {
    /// Side of the square map, pixels.
    pub size: usize,
    /// Pixel size in metres; `None`: drawn in [1.6, 2.3] Angstrom.
    pub pixel_size_m: Option<f64>,
    /// Adatoms per map (dimer members included), drawn uniformly.
    pub adatoms: [usize; 2],
    pub surface: Surface,
    /// Sample bias = the energy of the ring pattern, eV.
    pub bias_ev: f64,
    /// Adatom core height over the ring amplitude.
    pub core_ratio: [f64; 2],
    /// Adatom core FWHM, Angstrom.
    pub core_fwhm_a: [f64; 2],
    /// Fraction of adatoms in dimers.
    pub dimer_fraction: [f64; 2],
    /// Dark subsurface defects per map (type 1).
    pub dark_defects: [usize; 2],
    /// Bright clusters per map (0 = off) and their height in core heights.
    pub clusters: [usize; 2],
    pub cluster_height: [f64; 2],
    /// Probability of a step edge, and its height in core heights.
    pub step_edge_probability: f64,
    pub step_height: [f64; 2],
    /// Probability of a tip change (shift of 1-2 px, core and ring heights change by
    /// +-30 %).
    pub tip_change_probability: f64,
    /// Probability that the defect signal is clipped, and the clip level in core heights.
    pub saturation_probability: f64,
    pub saturation_level: [f64; 2],
    /// Mean glitch lines per map (Poisson) and their offset std.
    pub glitch_lines: f64,
    pub glitch_size: f64,
    /// Mean spikes per map (Poisson) and their height (random sign, 1-3 x).
    pub spikes: f64,
    pub spike_size: f64,
    /// Probability of an aborted scan, and the most trailing zero lines it leaves (at most
    /// half the map).
    pub zero_lines_probability: f64,
    pub zero_lines_max: usize,
    /// Peak amplitude of the atomic corrugation (0 = off).
    pub lattice_amplitude: f64,
    /// White noise std, 1/f noise std, line-offset std.
    pub noise: f64,
    pub flicker: f64,
    pub line_offsets: f64,
    /// Background plane: rise across the image diagonal, in core heights.
    pub plane: f64,
}

impl Default for RealScanConfig {
    fn default() -> Self {
        RealScanConfig {
            size: 256,
            pixel_size_m: None,
            adatoms: [15, 40],
            surface: Surface::Shockley(Metal::Ag111),
            bias_ev: 0.1,
            core_ratio: [20.0, 100.0],
            core_fwhm_a: [4.0, 7.0],
            dimer_fraction: [0.1, 0.2],
            dark_defects: [0, 4],
            clusters: [0, 4],
            cluster_height: [3.0, 10.0],
            step_edge_probability: 0.5,
            step_height: [3.0, 10.0],
            tip_change_probability: 0.4,
            saturation_probability: 0.4,
            saturation_level: [0.6, 1.0],
            glitch_lines: 1.5,
            glitch_size: 10.0,
            spikes: 3.0,
            spike_size: 50.0,
            zero_lines_probability: 0.4,
            zero_lines_max: 70,
            lattice_amplitude: 0.15,
            noise: 0.2,
            flicker: 0.15,
            line_offsets: 0.1,
            plane: 3.0,
        }
    }
}

impl RealScanConfig {
    /// Adatoms (with dimers) and their kernel only: no dark defect, outlier or artefact.
    pub fn clean() -> Self {
        RealScanConfig {
            dark_defects: [0, 0],
            clusters: [0, 0],
            step_edge_probability: 0.0,
            tip_change_probability: 0.0,
            saturation_probability: 0.0,
            glitch_lines: 0.0,
            spikes: 0.0,
            zero_lines_probability: 0.0,
            lattice_amplitude: 0.0,
            noise: 0.0,
            flicker: 0.0,
            line_offsets: 0.0,
            plane: 0.0,
            ..RealScanConfig::default()
        }
    }

    /// Every field within its range; errors name the field.
    pub fn validate(&self) -> Result<()> {
        crate::synthesis::check_image_size(self.size)?;
        if self.size < 32 {
            return Err(Error::invalid(format!(
                "real-scan size {} must be at least 32 pixels",
                self.size
            )));
        }
        if let Some(p) = self.pixel_size_m {
            if !(p.is_finite() && (1e-12..=1e-8).contains(&p)) {
                return Err(Error::invalid(format!(
                    "real-scan pixel_size_m = {} must be between 1e-12 and 1e-8 m",
                    crate::error::show_number(p)
                )));
            }
        }
        let counts = [
            ("adatoms", self.adatoms, 10_000),
            ("dark_defects", self.dark_defects, 10_000),
            ("clusters", self.clusters, 1_000),
        ];
        for (name, [lo, hi], max) in counts {
            if lo > hi || hi > max {
                return Err(Error::invalid(format!(
                    "real-scan {name} = [{lo}, {hi}] must be increasing and at most {max}"
                )));
            }
        }
        let ranges = [
            ("core_ratio", self.core_ratio, 1e-3, 1e6),
            ("core_fwhm_a", self.core_fwhm_a, 0.1, 100.0),
            ("dimer_fraction", self.dimer_fraction, 0.0, 1.0),
            ("cluster_height", self.cluster_height, 0.0, 1e3),
            ("step_height", self.step_height, 0.0, 1e3),
            ("saturation_level", self.saturation_level, 1e-3, 1e3),
        ];
        for (name, [lo, hi], min, max) in ranges {
            if !(lo.is_finite() && hi.is_finite() && min <= lo && lo <= hi && hi <= max) {
                return Err(Error::invalid(format!(
                    "real-scan {name} = [{}, {}] must satisfy {min} <= lo <= hi <= {max}",
                    crate::error::show_number(lo),
                    crate::error::show_number(hi)
                )));
            }
        }
        let values = [
            ("bias_ev", self.bias_ev, -10.0, 10.0),
            (
                "step_edge_probability",
                self.step_edge_probability,
                0.0,
                1.0,
            ),
            (
                "tip_change_probability",
                self.tip_change_probability,
                0.0,
                1.0,
            ),
            (
                "saturation_probability",
                self.saturation_probability,
                0.0,
                1.0,
            ),
            (
                "zero_lines_probability",
                self.zero_lines_probability,
                0.0,
                1.0,
            ),
            ("glitch_lines", self.glitch_lines, 0.0, 1e4),
            ("glitch_size", self.glitch_size, 0.0, 1e6),
            ("spikes", self.spikes, 0.0, 1e4),
            ("spike_size", self.spike_size, 0.0, 1e6),
            ("lattice_amplitude", self.lattice_amplitude, 0.0, 1e3),
            ("noise", self.noise, 0.0, 1e3),
            ("flicker", self.flicker, 0.0, 1e3),
            ("line_offsets", self.line_offsets, 0.0, 1e3),
            ("plane", self.plane, 0.0, 1e3),
        ];
        for (name, v, min, max) in values {
            if !(v.is_finite() && (min..=max).contains(&v)) {
                return Err(Error::invalid(format!(
                    "real-scan {name} = {} must be between {min} and {max}",
                    crate::error::show_number(v)
                )));
            }
        }
        if self.zero_lines_max > crate::synthesis::MAX_IMAGE_SIZE {
            return Err(Error::invalid(format!(
                "real-scan zero_lines_max = {} must be at most {}",
                self.zero_lines_max,
                crate::synthesis::MAX_IMAGE_SIZE
            )));
        }
        Ok(())
    }
}

/// The tip change of a map: from scan line `row` on, the scene is displaced by `shift_px`
/// `(rows, cols)` and every core is `core_scale`, every ripple `ripple_scale` times what the
/// truth kernels state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TipChange {
    pub row: usize,
    pub shift_px: [i32; 2],
    pub core_scale: f64,
    pub ripple_scale: f64,
}

/// A real-scan map with the truth of everything in it (see the module docs for the
/// conventions).
#[derive(Clone, Debug)]
pub struct RealScan {
    /// The map `[H, W]`, row-major, row 0 the first scan line, in ring units.
    pub map: Array2<f32>,
    pub pixel_size_m: f64,
    /// `(row, col)` pixels of every point defect: adatoms (both dimer members) and dark
    /// subsurface defects, quarter-pixel grid.
    pub positions: Vec<[f64; 2]>,
    /// Type of each defect: 0 = adatom, 1 = dark subsurface defect.
    pub types: Vec<u8>,
    /// Amplitude of each defect (the map holds `a_i K_{t_i}`), 0.9..1.1.
    pub amplitudes: Vec<f32>,
    /// True kernel of each type, odd side `2R + 1`, impurity at `(R, R)`, map units.
    pub kernels: Vec<Array2<f32>>,
    /// Per type: radius (pixels) of the apparent-height core, where it falls below 0.1
    /// ring units.
    pub core_radius_px: Vec<f64>,
    /// 1 where an outlier is (clusters, step edge, glitch lines, spikes, zero lines): what no
    /// kernel explains.
    pub excluded: Array2<u8>,
    /// Friedel period `lambda_F / 2 = pi / Re k` of the adatom ripple, metres (continuum
    /// kernels); `None` for lattice kernels.
    pub ring_period_m: Option<f64>,
    /// The adatom kernel is isotropic (continuum kernels).
    pub isotropic: bool,
    /// Adatom core height in ring units (the kernel's centre minus its ripple there).
    pub core_height: f64,
    /// The surface (its name) the kernels come from.
    pub surface: String,
    pub tip_change: Option<TipChange>,
    /// Clip level of the defect signal, ring units, when the map is saturated.
    pub saturation: Option<f64>,
    /// Trailing zero lines (0 = none).
    pub zero_lines: usize,
    /// Each dimer as indices into `positions`.
    pub dimers: Vec<[usize; 2]>,
}

/// Draw one real-scan map of `config` with `seed` (see the module docs).
pub fn real_scan(config: &RealScanConfig, seed: u64) -> Result<RealScan> {
    config.validate()?;
    let scene = scene::draw_scene(config, seed)?;
    render::render_scan(config, &scene, seed)
}
