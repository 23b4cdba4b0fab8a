//! The least-squares problem: measured kernels against the model of a spec.
//!
//! Residual of pixel `r` at energy `e`: `w_e(r) (D_e(r) - s_e M_e(r; theta, nu))`, with
//! `w = 1 / max(kernel_std, floor)` (0 in the masked impurity core), `theta` the spec's free
//! values, `nu` the nuisance parameters (impurity offset, pixel calibration, scan rotation)
//! and `s_e` the scale per energy, solved in closed form inside each evaluation
//! (`s_e = sum w^2 D M / sum w^2 M^2`), so the solver never sees it.

use super::path;
use crate::physics::spec::FIT_TABLE;
use crate::physics::{KernelField, KernelSpec, PixelGrid, SimContext};
use crate::progress::{NoProgress, Progress};
use crate::{Error, Result};
use ndarray::{Array2, Array3};

/// A nuisance parameter: how the measured kernel sits on its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nuisance {
    /// Impurity row offset from pixel `S/2`, pixels.
    ImpurityRow,
    /// Impurity column offset from pixel `S/2`, pixels.
    ImpurityCol,
    /// True pixel size over the file's (calibration factor near 1).
    PixelCalibration,
    /// Scan rotation, degrees (the spec's `render.rotation_deg`).
    Rotation,
}

impl Nuisance {
    pub const ALL: [Nuisance; 4] = [
        Nuisance::ImpurityRow,
        Nuisance::ImpurityCol,
        Nuisance::PixelCalibration,
        Nuisance::Rotation,
    ];
    /// The name used in `[fit]` (`fixed`, `bounds`) and in the result.
    pub fn name(self) -> &'static str {
        match self {
            Nuisance::ImpurityRow => "impurity_row_px",
            Nuisance::ImpurityCol => "impurity_col_px",
            Nuisance::PixelCalibration => "pixel_calibration",
            Nuisance::Rotation => "rotation_deg",
        }
    }
    pub fn from_name(name: &str) -> Option<Nuisance> {
        Nuisance::ALL.into_iter().find(|n| n.name() == name)
    }
    /// Default bounds around the start and the finite-difference step.
    pub fn default_bounds(self, start: f64) -> (f64, f64, f64) {
        match self {
            Nuisance::ImpurityRow | Nuisance::ImpurityCol => (-1.5, 1.5, 1e-3),
            Nuisance::PixelCalibration => (0.9, 1.1, 1e-4),
            Nuisance::Rotation => (start - 10.0, start + 10.0, 1e-2),
        }
    }
}

/// A parameter the solver moves.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// A value of the spec at this path.
    Spec(String),
    Nuisance(Nuisance),
}

impl Param {
    pub fn name(&self) -> String {
        match self {
            Param::Spec(p) => p.clone(),
            Param::Nuisance(n) => n.name().to_string(),
        }
    }
}

/// The measured kernels at the energies being fitted.
#[derive(Clone, Debug)]
pub struct FitData {
    /// `[E, S, S]`, impurity at `(S/2, S/2)`.
    pub kernels: Array3<f64>,
    /// `[E, S, S]`, `1 / max(std, floor)`; 0 where a pixel is left out.
    pub weights: Array3<f64>,
    pub energies_ev: Vec<f64>,
    /// Pixel size of the file, Angstrom.
    pub pixel_size_a: f64,
    /// Mean pixels per orbit of the symmetry the kernel was projected onto (1 when none):
    /// the pixels of an orbit carry one value, and the errors grow by at least its square
    /// root ([`super::report`]).
    pub orbit_pixels: f64,
}

impl FitData {
    pub fn size(&self) -> usize {
        self.kernels.dim().1
    }
    /// Pixels that enter the fit.
    pub fn used_pixels(&self) -> usize {
        self.weights.iter().filter(|&&w| w > 0.0).count()
    }
}

/// A simulated field ready to render: a continuum kernel as a radial table (it is
/// isotropic, and a Hankel function per pixel costs ~10 us: the table at 0.1 px steps with
/// cubic interpolation is 7x cheaper on a 49 x 49 kernel and agrees to ~1e-6 relative), a
/// lattice field as it is.
#[derive(Clone)]
enum Prepared {
    Radial {
        /// `delta_rho(i step)`, i = 0, 1, ...
        values: Vec<f64>,
        step_a: f64,
    },
    Field(KernelField),
}

/// Radial table step in pixels.
const RADIAL_STEP_PX: f64 = 0.1;

impl Prepared {
    fn new(field: KernelField, reach_a: f64, pixel_a: f64) -> Prepared {
        match field {
            KernelField::Continuum(k) => {
                let step_a = RADIAL_STEP_PX * pixel_a;
                let count = (reach_a / step_a).ceil() as usize + 3;
                let values = (0..count).map(|i| k.delta_rho(i as f64 * step_a)).collect();
                Prepared::Radial { values, step_a }
            }
            f => Prepared::Field(f),
        }
    }

    fn render(&self, grid: &PixelGrid, centre: [f64; 2]) -> Result<Array2<f64>> {
        match self {
            Prepared::Field(f) => f.render(grid, centre),
            Prepared::Radial { values, step_a } => {
                let p = grid.pixel_size_a;
                Ok(Array2::from_shape_fn(
                    (grid.height, grid.width),
                    |(i, j)| {
                        let (y, x) = (i as f64 - centre[0], j as f64 - centre[1]);
                        radial_value(values, (x * x + y * y).sqrt() * p / step_a)
                    },
                ))
            }
        }
    }
}

/// Catmull-Rom interpolation of an even function tabulated at 0, 1, 2, ... at `t >= 0`
/// (`values[-1] = values[1]`); the last entries are held past the end.
fn radial_value(values: &[f64], t: f64) -> f64 {
    let n = values.len();
    let i = (t.floor() as usize).min(n - 3);
    let f = t - i as f64;
    let at = |k: isize| values[k.unsigned_abs().min(n - 1)];
    let (p0, p1, p2, p3) = (
        at(i as isize - 1),
        at(i as isize),
        at(i as isize + 1),
        at(i as isize + 2),
    );
    p1 + 0.5
        * f
        * (p2 - p0 + f * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3 + f * (3.0 * (p1 - p2) + p3 - p0)))
}

/// The model at one parameter vector: what a residual evaluation needs and a picture shows.
pub struct Evaluation {
    /// `[E, S, S]` model kernels, already multiplied by their scale.
    pub model: Array3<f64>,
    pub scales: Vec<f64>,
}

/// The fit problem: data, the spec as TOML, which values move.
pub struct Problem<'a> {
    pub data: &'a FitData,
    /// The spec with the `[fit]` table removed.
    pub base: toml::Value,
    pub params: Vec<Param>,
    /// Values of every nuisance parameter when not moved (start values).
    pub nuisance_start: [f64; 4],
    /// Largest pixel calibration the bounds allow (lattice reach is simulated for it).
    pub calibration_max: f64,
    /// Fields simulated at recent spec values: `(values, fields per energy)`.
    cache: Vec<(Vec<f64>, Vec<Prepared>)>,
    /// Render continuum kernels exactly (per pixel), not from the radial table.
    pub exact: bool,
    /// A continuum (parabolic) model: isotropic, its field depends on the calibration.
    continuum: bool,
    pub ctx: SimContext,
    pub simulations: usize,
    pub energy_subset: Option<Vec<usize>>,
    /// Polled for cancellation throughout every simulation (k-grid rows, FFT passes), so a
    /// fit stops within one simulation's row, not one solver iteration, of the request.
    pub progress: &'a dyn Progress,
}

/// Residuals of a spec the model refuses (a negative mass): large, so the solver backs off.
const REFUSED_RESIDUAL: f64 = 1e100;

impl<'a> Problem<'a> {
    pub fn new(
        data: &'a FitData,
        base: toml::Value,
        params: Vec<Param>,
        nuisance_start: [f64; 4],
        calibration_max: f64,
        ctx: SimContext,
    ) -> Self {
        let continuum = base
            .get("model")
            .and_then(|m| m.get("kind"))
            .and_then(|k| k.as_str())
            == Some("parabolic");
        Problem {
            data,
            base,
            params,
            nuisance_start,
            calibration_max,
            cache: Vec::new(),
            ctx,
            simulations: 0,
            energy_subset: None,
            exact: false,
            continuum,
            progress: &NoProgress,
        }
    }

    /// The spec with `x`'s spec values written in (no `[fit]` table).
    pub fn spec_value(&self, x: &[f64]) -> Result<toml::Value> {
        let mut v = self.base.clone();
        for (p, &value) in self.params.iter().zip(x) {
            if let Param::Spec(path) = p {
                path::set(&mut v, path, value)?;
            }
        }
        Ok(v)
    }

    pub fn spec(&self, x: &[f64]) -> Result<KernelSpec> {
        spec_from_value(self.spec_value(x)?)
    }

    /// Every nuisance value at `x` (moved ones from `x`, the rest at their starts).
    pub fn nuisance(&self, x: &[f64]) -> [f64; 4] {
        let mut out = self.nuisance_start;
        for (p, &value) in self.params.iter().zip(x) {
            if let Param::Nuisance(n) = p {
                out[*n as usize] = value;
            }
        }
        out
    }

    fn energies(&self) -> Vec<usize> {
        match &self.energy_subset {
            Some(s) => s.clone(),
            None => (0..self.data.energies_ev.len()).collect(),
        }
    }

    fn spec_values(&self, x: &[f64]) -> Vec<f64> {
        self.params
            .iter()
            .zip(x)
            .filter(|(p, _)| matches!(p, Param::Spec(_)))
            .map(|(_, &v)| v)
            .collect()
    }

    /// The spec at energy `e`, rendered on the data's grid.
    fn spec_at(&self, spec: &KernelSpec, e: usize, calibration: f64, rotation: f64) -> KernelSpec {
        let mut s = spec.at_energy(self.data.energies_ev[e]);
        let n = self.data.size();
        s.render.size = [n, n];
        s.render.pixel_size_a = self.data.pixel_size_a * calibration;
        s.render.rotation_deg = rotation;
        s
    }

    /// Simulated fields for `x` at the energies in use (cached by the spec values).
    fn fields(&mut self, x: &[f64], energies: &[usize]) -> Result<Vec<Prepared>> {
        let key_full = [
            self.spec_values(x),
            energies.iter().map(|&e| e as f64).collect(),
            // A continuum field's core radius follows the calibration.
            vec![
                f64::from(u8::from(self.exact)),
                if self.continuum {
                    self.nuisance(x)[2]
                } else {
                    1.0
                },
            ],
        ]
        .concat();
        if let Some((_, f)) = self.cache.iter().find(|(k, _)| *k == key_full) {
            return Ok(f.clone());
        }
        let spec = self.spec(x)?;
        let nu = self.nuisance(x);
        let continuum = self.continuum;
        // A continuum field carries the pixel's core radius; a lattice one must reach the
        // corner of the largest calibrated window.
        let cal = if continuum {
            nu[2]
        } else {
            self.calibration_max
        };
        let mut out = Vec::with_capacity(energies.len());
        let pixel_a = self.data.pixel_size_a * cal;
        // Farthest pixel centre from an impurity up to 1.5 px off the kernel's centre.
        let reach_a = (self.data.size() as f64 * 0.5 * 2f64.sqrt() + 2.5) * pixel_a;
        for &e in energies {
            crate::progress::check_cancelled(self.progress)?;
            let field = self
                .spec_at(&spec, e, cal, nu[3])
                .simulate_polling(&mut self.ctx, self.progress)?;
            out.push(match field {
                KernelField::Continuum(_) if !self.exact => Prepared::new(field, reach_a, pixel_a),
                f => Prepared::Field(f),
            });
            self.simulations += 1;
        }
        if self.cache.len() >= 6 {
            self.cache.remove(0);
        }
        self.cache.push((key_full, out.clone()));
        Ok(out)
    }

    /// The scaled model at `x` for the energies in use (`[E_used, S, S]`).
    pub fn evaluate(&mut self, x: &[f64]) -> Result<Evaluation> {
        let energies = self.energies();
        let fields = self.fields(x, &energies)?;
        let nu = self.nuisance(x);
        let n = self.data.size();
        let grid = PixelGrid {
            height: n,
            width: n,
            pixel_size_a: self.data.pixel_size_a * nu[2],
            rotation_deg: nu[3],
        };
        let c = (n / 2) as f64;
        let mut model = Array3::zeros((energies.len(), n, n));
        let mut scales = Vec::with_capacity(energies.len());
        for (k, (&e, field)) in energies.iter().zip(&fields).enumerate() {
            let m = field.render(&grid, [c + nu[0], c + nu[1]])?;
            let (mut dm, mut mm) = (0.0, 0.0);
            for ((&d, &w), &v) in self
                .data
                .kernels
                .index_axis(ndarray::Axis(0), e)
                .iter()
                .zip(self.data.weights.index_axis(ndarray::Axis(0), e))
                .zip(&m)
            {
                dm += w * w * d * v;
                mm += w * w * v * v;
            }
            let s = if mm > 0.0 { dm / mm } else { 0.0 };
            scales.push(s);
            model
                .index_axis_mut(ndarray::Axis(0), k)
                .assign(&m.mapv(|v| s * v));
        }
        Ok(Evaluation { model, scales })
    }

    /// Weighted residuals over the used pixels; a refused spec gives large ones.
    pub fn residual(&mut self, x: &[f64]) -> Result<Vec<f64>> {
        let energies = self.energies();
        let eval = match self.evaluate(x) {
            Ok(e) => e,
            Err(Error::InvalidInput(_)) => {
                let count = energies
                    .iter()
                    .map(|&e| {
                        let w = self.data.weights.index_axis(ndarray::Axis(0), e);
                        w.iter().filter(|&&w| w > 0.0).count()
                    })
                    .sum();
                return Ok(vec![REFUSED_RESIDUAL; count]);
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for (k, &e) in energies.iter().enumerate() {
            let d = self.data.kernels.index_axis(ndarray::Axis(0), e);
            let w = self.data.weights.index_axis(ndarray::Axis(0), e);
            let m = eval.model.index_axis(ndarray::Axis(0), k);
            for ((&d, &w), &m) in d.iter().zip(&w).zip(&m) {
                if w > 0.0 {
                    out.push(w * (d - m));
                }
            }
        }
        Ok(out)
    }
}

/// A [`KernelSpec`] from a parsed spec (a `[fit]` table is ignored).
pub fn spec_from_value(v: toml::Value) -> Result<KernelSpec> {
    let toml::Value::Table(mut t) = v else {
        return Err(Error::invalid("a kernel spec must be a TOML table"));
    };
    t.remove(FIT_TABLE);
    let spec: KernelSpec = t
        .try_into()
        .map_err(|e| Error::invalid(format!("kernel spec: {e}")))?;
    spec.validate()?;
    Ok(spec)
}
