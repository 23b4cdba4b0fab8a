//! The fit against kernels simulated by the spec itself, with Gaussian noise of known size:
//! the truth within the reported errors, chi^2/dof near 1, the written spec reproducing the
//! model, and the refusals.

use super::*;
use crate::progress::NoProgress;
use crate::rng::Rng;
use ndarray::Array4;

const S: usize = 33;
const NOISE: f64 = 0.02;

fn spec_text(mass: f64, e0: f64, energies: &[f64], fit: &str) -> String {
    format!(
        "name = \"shockley-unit\"\nenergies_ev = {energies:?}\nbroadening_ev = 0.02\n\
         [model]\nkind = \"parabolic\"\nband_bottom_ev = {e0}\neffective_mass = {mass}\n\
         [impurity]\nphase_shift_rad = 1.2\n[render]\nsize = [{S}, {S}]\npixel_size_a = 2.0\n\
         {fit}"
    )
}

/// An extraction holding `spec`'s kernels (impurity at `offset` from `(S/2, S/2)`), each
/// scaled to unit rms, plus Gaussian noise of std [`NOISE`] (stated as `kernel_std`).
fn extraction(spec: &KernelSpec, offset: [f64; 2], seed: u64) -> Extraction {
    let energies = spec.energies();
    let e = energies.len();
    let mut kernels = Array4::<f32>::zeros((1, e, S, S));
    let mut ctx = SimContext::new();
    let mut rng = Rng::new(seed);
    for (k, &en) in energies.iter().enumerate() {
        let s = spec.at_energy(en);
        let field = s.simulate(&mut ctx).unwrap();
        let c = (S / 2) as f64;
        let img = field
            .render(&s.grid(), [c + offset[0], c + offset[1]])
            .unwrap();
        let rms = (img.iter().map(|v| v * v).sum::<f64>() / img.len() as f64).sqrt();
        for ((i, j), v) in img.indexed_iter() {
            kernels[[0, k, i, j]] = (v / rms + NOISE * rng.normal()) as f32;
        }
    }
    Extraction::of_kernels(
        kernels,
        Array4::from_elem((1, e, S, S), NOISE as f32),
        energies,
        spec.render.pixel_size_a * 1e-10,
        "S",
    )
}

const FREE: &str = "[fit]\nfree = [\"model.effective_mass\", \"model.band_bottom_ev\"]\n\
                    [fit.bounds]\n\"model.effective_mass\" = [0.1, 0.8]\n\
                    \"model.band_bottom_ev\" = [-0.6, 0.0]\n";

#[test]
fn a_continuum_series_comes_back_within_its_errors() {
    let energies = [-0.1, 0.0, 0.1, 0.2, 0.3];
    let truth = KernelSpec::from_toml(&spec_text(0.30, -0.32, &energies, "")).unwrap();
    let ex = extraction(&truth, [0.3, -0.2], 5);
    let text = spec_text(0.38, -0.44, &energies, FREE);
    let r = fit(&ex, &text, &FitSettings::default(), &NoProgress).unwrap();
    for (name, want) in [
        ("model.effective_mass", 0.30),
        ("model.band_bottom_ev", -0.32),
        ("impurity_row_px", 0.3),
        ("impurity_col_px", -0.2),
    ] {
        let v = r.get(name).unwrap();
        assert!(
            (v.value - want).abs() < 4.0 * v.std_error && v.std_error < 0.02,
            "{name}: {} +- {} vs {want}",
            v.value,
            v.std_error
        );
    }
    assert!(
        (0.8..1.2).contains(&r.reduced_chi2),
        "chi2/dof {}",
        r.reduced_chi2
    );
    // Calibration and rotation are degenerate or meaningless here, and say so.
    assert!(r.get("pixel_calibration").unwrap().fixed.is_some());
    assert!(r.get("rotation_deg").unwrap().fixed.is_some());
    assert_eq!(r.notes.len(), 2);
    // The dispersion is 2 Re k of the fitted band.
    let q0 = r.dispersion[1];
    let band = crate::physics::ParabolicBand {
        band_bottom_ev: r.get("model.band_bottom_ev").unwrap().value,
        effective_mass: r.get("model.effective_mass").unwrap().value,
    };
    assert!((q0.q_per_a - 2.0 * band.wave_vector(0.0, 0.02).re).abs() < 1e-12);
    assert!(q0.q_std_per_a > 0.0 && q0.q_std_per_a < 0.01 * q0.q_per_a);
    // Correlations are a correlation matrix.
    for (i, row) in r.correlation.iter().enumerate() {
        assert!((row[i] - 1.0).abs() < 1e-9);
        assert!(row.iter().all(|c| c.abs() <= 1.0 + 1e-9));
    }
}

#[test]
fn the_written_spec_simulates_the_model_kernel() {
    let energies = [0.0, 0.2];
    let truth = KernelSpec::from_toml(&spec_text(0.30, -0.32, &energies, "")).unwrap();
    let ex = extraction(&truth, [0.0, 0.0], 6);
    let fixed = "[fit]\nfree = [\"model.effective_mass\", \"model.band_bottom_ev\"]\n\
                 fixed = [\"impurity_row_px\", \"impurity_col_px\"]\n[fit.bounds]\n\
                 \"model.effective_mass\" = [0.1, 0.8]\n\"model.band_bottom_ev\" = [-0.6, 0.0]\n";
    let text = spec_text(0.38, -0.44, &energies, fixed);
    let r = fit(&ex, &text, &FitSettings::default(), &NoProgress).unwrap();
    let spec = KernelSpec::from_toml(&r.spec_toml).unwrap();
    assert_eq!(spec.energies(), energies.to_vec());
    let mut ctx = SimContext::new();
    for (k, &e) in energies.iter().enumerate() {
        let img = spec.at_energy(e).kernel_image(&mut ctx).unwrap();
        let model = r.model.index_axis(ndarray::Axis(0), k);
        let diff = img
            .iter()
            .zip(model)
            .map(|(a, b)| (r.scales[k] * a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-9, "energy {e}: {diff}");
    }
    // The [fit] table survives, with the result, and a second fit reads it.
    let again: toml::Value = r.spec_toml.parse::<toml::Table>().unwrap().into();
    assert!(again["fit"]["result"]["values"]["model.effective_mass"]["std_error"].is_float());
    fit(&ex, &r.spec_toml, &FitSettings::default(), &NoProgress).unwrap();
}

#[test]
fn refusals_name_the_problem() {
    let energies = [0.0];
    let truth = KernelSpec::from_toml(&spec_text(0.30, -0.32, &energies, "")).unwrap();
    let ex = extraction(&truth, [0.0, 0.0], 7);
    let err = |fit_table: &str| {
        fit(
            &ex,
            &spec_text(0.38, -0.44, &energies, fit_table),
            &FitSettings::default(),
            &NoProgress,
        )
        .unwrap_err()
        .to_string()
    };
    assert!(err("").contains("no [fit] table"));
    assert!(err("[fit]\nfree = []\n").contains("free is empty"));
    assert!(err("[fit]\nfree = [\"model.mass\"]\n").contains("no key 'mass'"));
    assert!(
        err("[fit]\nfree = [\"model.effective_mass\"]\n[fit.bounds]\nbroadening_ev = [0, 1]\n")
            .contains("neither in [fit] free")
    );
    assert!(
        err("[fit]\nfree = [\"model.effective_mass\"]\n[fit.bounds]\n\"model.effective_mass\" = [0.5, 0.9]\n")
            .contains("outside its bounds")
    );
    assert!(
        err("[fit]\nfree = [\"model.effective_mass\"]\nfixed = [\"model.band_bottom_ev\"]\n")
            .contains("only nuisance parameters")
    );
    let settings = FitSettings {
        kernel_type: 1,
        ..FitSettings::default()
    };
    let text = spec_text(
        0.38,
        -0.44,
        &energies,
        "[fit]\nfree = [\"model.effective_mass\"]\n",
    );
    let e = fit(&ex, &text, &settings, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("1 type(s)"), "{e}");
}

struct CancelAtOnce;
impl crate::progress::Progress for CancelAtOnce {
    fn cancelled(&self) -> bool {
        true
    }
}

#[test]
fn a_fit_can_be_cancelled_and_stays_in_its_budget() {
    let energies = [0.0, 0.1];
    let truth = KernelSpec::from_toml(&spec_text(0.30, -0.32, &energies, "")).unwrap();
    let ex = extraction(&truth, [0.0, 0.0], 8);
    let text = spec_text(0.38, -0.44, &energies, FREE);
    let e = fit(&ex, &text, &FitSettings::default(), &CancelAtOnce).unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
    let small = FitSettings {
        memory_budget: MemoryBudget::new(1 << 20).unwrap(),
        ..FitSettings::default()
    };
    let big = extraction(
        &KernelSpec::from_toml(&spec_text(0.3, -0.32, &[0.0; 40], "")).unwrap(),
        [0.0, 0.0],
        9,
    );
    let text = spec_text(0.38, -0.44, &[0.0; 40], FREE);
    let e = fit(&big, &text, &small, &NoProgress).unwrap_err();
    assert!(matches!(e, Error::OverBudget(_)), "{e}");
}
