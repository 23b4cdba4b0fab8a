//! Physics checks against independent computations (continuum, Born series, symmetry, k-grid).

use num_complex::Complex64 as C64;
use qpik::physics::catalog::{bi2212_band, catalog, square_band};
use qpik::physics::continuum::{ContinuumKernel, Scatterer};
use qpik::physics::kgrid::wrap_error_bound;
use qpik::physics::{
    HBAR2_OVER_2ME_EV_A2, Impurity, KernelField, KernelSpec, ParabolicBand, PixelGrid, SimContext,
};

fn scalar(v: f64) -> Impurity {
    Impurity {
        orbitals: vec![0],
        potential_ev: v,
        magnetic_ev: 0.0,
    }
}

/// Near the band bottom a square lattice (t, a) is a parabolic band with hbar^2/2m* = t a^2;
/// the lattice Green's function per site must equal a^2 times the exact Hankel result.
#[test]
fn lattice_t_matrix_matches_exact_continuum_at_low_filling() {
    let (t, a) = (1.0, 1.0);
    let model = square_band(a, t, 0.0, 0.0);
    let (filling, eta, n) = (0.04, 0.002, 2048);
    let energy = -4.0 * t + filling;
    let band = ParabolicBand {
        band_bottom_ev: -4.0 * t,
        effective_mass: HBAR2_OVER_2ME_EV_A2 / (t * a * a),
    };
    let mut ctx = SimContext::new();
    let g = ctx
        .green_component(&model, C64::new(energy, eta), n, 0, 0)
        .unwrap();
    let cont =
        |tm: C64| ContinuumKernel::new(band, energy, eta, Scatterer::TMatrix(tm), 0.0).unwrap();
    let points: Vec<(i64, i64)> = (4..30)
        .map(|i| (i, 0))
        .chain((3..20).map(|i| (i, i)))
        .collect();
    let idx =
        |p: (i64, i64)| (p.0.rem_euclid(n as i64) as usize) * n + p.1.rem_euclid(n as i64) as usize;
    let reference = cont(C64::new(1.0, 0.0));
    let gmax = points
        .iter()
        .map(|&p| reference.green((p.0 as f64).hypot(p.1 as f64)).norm())
        .fold(0.0, f64::max);
    for &p in &points {
        let exact = a * a * reference.green((p.0 as f64).hypot(p.1 as f64));
        let err = (g[idx(p)] - exact).norm() / gmax;
        assert!(
            err < 0.03,
            "G at {p:?}: lattice {} vs continuum {exact} (error {err:.3})",
            g[idx(p)]
        );
    }
    // Same T-matrix on both sides: T_lattice = V / (1 - V G(0)); continuum t = a^2 T_lattice.
    let v = 0.5;
    let t_lat = v / (1.0 - v * g[0]);
    let ldos = ctx
        .lattice_ldos(&model, &scalar(v), energy, eta, n)
        .unwrap();
    let k = cont(t_lat * a * a);
    let rmax = points
        .iter()
        .map(|&p| (a * a * k.delta_rho((p.0 as f64).hypot(p.1 as f64))).abs())
        .fold(0.0, f64::max);
    for &p in &points {
        let exact = a * a * k.delta_rho((p.0 as f64).hypot(p.1 as f64));
        let lat = ldos.at(p.0, p.1, 0);
        assert!(
            (lat - exact).abs() / rmax < 0.05,
            "drho at {p:?}: lattice {lat} vs continuum {exact}"
        );
    }
}

#[test]
fn d_wave_with_zero_gap_is_twice_the_normal_state() {
    let normal = bi2212_band(None);
    let gapless = bi2212_band(Some(0.0));
    let mut ctx = SimContext::new();
    let a = ctx
        .lattice_ldos(&normal, &scalar(0.3), 0.02, 0.01, 128)
        .unwrap();
    let b = ctx
        .lattice_ldos(&gapless, &scalar(0.3), 0.02, 0.01, 128)
        .unwrap();
    let scale = a.values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for (x, y) in a.values.iter().zip(&b.values) {
        assert!((2.0 * x - y).abs() < 1e-10 * scale, "{} vs {}", 2.0 * x, y);
    }
    // And a real gap changes it.
    let gapped = ctx
        .lattice_ldos(&bi2212_band(Some(0.04)), &scalar(0.3), 0.02, 0.01, 128)
        .unwrap();
    let diff = a
        .values
        .iter()
        .zip(&gapped.values)
        .map(|(x, y)| (2.0 * x - y).abs())
        .fold(0.0, f64::max);
    assert!(diff > 0.05 * scale, "a 40 meV gap should change the kernel");
}

#[test]
fn nambu_spin_sum_shortcut_equals_the_explicit_hole_block() {
    let model = bi2212_band(Some(0.04));
    let mut fast = SimContext::new();
    let mut exact = SimContext::new();
    exact.nambu_exact_spin_sum = true;
    let a = fast
        .lattice_ldos(&model, &scalar(0.3), 0.015, 0.004, 128)
        .unwrap();
    let b = exact
        .lattice_ldos(&model, &scalar(0.3), 0.015, 0.004, 128)
        .unwrap();
    let scale = a.values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for (x, y) in a.values.iter().zip(&b.values) {
        assert!((x - y).abs() < 1e-9 * scale);
    }
}

#[test]
fn born_limit_is_linear_in_the_potential() {
    let model = square_band(3.5, 0.25, -0.075, 0.0);
    let (e, eta, n) = (0.1, 0.02, 128);
    let mut ctx = SimContext::new();
    let g = ctx
        .green_component(&model, C64::new(e, eta), n, 0, 0)
        .unwrap();
    let v = 1e-5;
    let ldos = ctx.lattice_ldos(&model, &scalar(v), e, eta, n).unwrap();
    let born = |n1: usize, n2: usize| {
        let (m1, m2) = ((n - n1) % n, (n - n2) % n);
        -(g[n1 * n + n2] * g[m1 * n + m2]).im / std::f64::consts::PI
    };
    let scale = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| born(i, j).abs())
        .fold(0.0, f64::max);
    for n1 in 0..20 {
        for n2 in 0..20 {
            let got = ldos.at(n1 as i64, n2 as i64, 0) / v;
            assert!(
                (got - born(n1, n2)).abs() < 1e-3 * scale,
                "({n1},{n2}): {got} vs Born {}",
                born(n1, n2)
            );
        }
    }
    // A strong scatterer is not linear: the test above can fail.
    let strong = ctx.lattice_ldos(&model, &scalar(2.0), e, eta, n).unwrap();
    let dev = (0..10)
        .map(|i| (strong.at(i, 0, 0) / 2.0 - born(i as usize, 0)).abs())
        .fold(0.0, f64::max);
    assert!(dev > 0.05 * scale);
}

#[test]
fn wrap_around_error_stays_below_the_stated_bound() {
    let model = square_band(3.5, 0.25, -0.075, 0.0);
    let (e, eta, radius) = (-0.2, 0.03, 60.0);
    let mut ctx = SimContext::new();
    let reference = ctx
        .lattice_ldos(&model, &scalar(0.4), e, eta, 1024)
        .unwrap();
    let cells = (radius / 3.5) as i64;
    let within = |l: &qpik::physics::LatticeLdos| {
        let mut v = Vec::new();
        for n1 in -cells..=cells {
            for n2 in -cells..=cells {
                if ((n1 * n1 + n2 * n2) as f64).sqrt() * 3.5 <= radius {
                    v.push(l.at(n1, n2, 0));
                }
            }
        }
        v
    };
    let r = within(&reference);
    let scale = r.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut previous = f64::INFINITY;
    for n in [64, 96, 128, 192] {
        let l = ctx.lattice_ldos(&model, &scalar(0.4), e, eta, n).unwrap();
        let err = within(&l)
            .iter()
            .zip(&r)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
            / scale;
        let bound = wrap_error_bound(&model, eta, n, radius);
        assert!(
            err <= bound,
            "N={n}: wrap error {err:.2e} above the bound {bound:.2e}"
        );
        assert!(err < previous, "error must shrink with N");
        previous = err;
        if n == 192 {
            assert!(
                bound < 0.05,
                "the bound must be informative at N=192, got {bound}"
            );
        }
    }
}

fn max_abs(a: &ndarray::Array2<f64>) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn rel_diff(field: &KernelField, grid: PixelGrid, angle: f64) -> f64 {
    let base = field.render(&grid, grid.centre()).unwrap();
    let rotated = field
        .render(
            &PixelGrid {
                rotation_deg: angle,
                ..grid
            },
            grid.centre(),
        )
        .unwrap();
    max_abs(&(&base - &rotated)) / max_abs(&base)
}

#[test]
fn every_catalog_kernel_has_the_rotation_symmetry_of_its_label() {
    let cat = catalog();
    let mut ctx = SimContext::new();
    for spec in &cat {
        let field = spec.simulate(&mut ctx).unwrap();
        let grid = PixelGrid {
            height: 40,
            width: 40,
            ..spec.grid()
        };
        let angles: Vec<f64> = match spec.symmetry {
            1 => vec![90.0, 180.0, 37.0],
            n => (1..n).map(|i| 360.0 * i as f64 / n as f64).collect(),
        };
        for a in angles {
            let d = rel_diff(&field, grid, a);
            assert!(
                d < 1e-6,
                "{}: labelled {}-fold but rotating by {a} deg changes it by {d:.2e}",
                spec.name,
                spec.symmetry
            );
        }
        // Labels 2 and 3 must not hide a 4- or 6-fold symmetry.
        let higher = match spec.symmetry {
            2 => Some(90.0),
            3 => Some(60.0),
            _ => None,
        };
        if let Some(a) = higher {
            let d = rel_diff(&field, grid, a);
            assert!(
                d > 0.02,
                "{}: labelled {}-fold but is also symmetric under {a} deg",
                spec.name,
                spec.symmetry
            );
        }
    }
}

#[test]
fn catalog_is_large_distinct_and_deterministic() {
    let cat = catalog();
    assert!(cat.len() >= 100, "catalog has {} kernels", cat.len());
    let mut names: Vec<&str> = cat.iter().map(|k| k.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cat.len(), "catalog names must be unique");
    for s in [1u8, 2, 3, 4, 6] {
        assert!(
            cat.iter().filter(|k| k.symmetry == s).count() >= 5,
            "too few {s}-fold kernels"
        );
    }
    let mut ctx = SimContext::new();
    for name in [
        "bi2212-normal-0meV",
        "graphene-500meV",
        "shockley-ag111-50meV",
    ] {
        let spec = cat.iter().find(|k| k.name == name).unwrap();
        let a = spec.kernel_image(&mut ctx).unwrap();
        let b = spec.kernel_image(&mut SimContext::new()).unwrap();
        assert!(
            a.iter()
                .zip(b.iter())
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name} is not reproducible"
        );
        assert!(max_abs(&a) > 0.0 && a.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn catalog_specs_round_trip_through_toml() {
    for spec in catalog() {
        let text = spec.to_toml();
        let back =
            KernelSpec::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", spec.name));
        assert_eq!(back, spec);
    }
}

#[test]
fn user_toml_spec_simulates_and_bad_specs_say_what_is_wrong() {
    let text = r#"
name = "my-square"
symmetry = 4
energy_ev = 0.05
broadening_ev = 0.02
[model]
kind = "tight-binding"
a1 = [3.5, 0.0]
a2 = [0.0, 3.5]
orbitals = [[0.0, 0.0]]
hoppings = [
  { to = 0, from = 0, cell = [1, 0], t = -0.25 },
  { to = 0, from = 0, cell = [0, 1], t = -0.25 },
]
[impurity]
potential_ev = 0.4
[render]
size = [32, 32]
pixel_size_a = 2.0
"#;
    let spec = KernelSpec::from_toml(text).unwrap();
    let img = spec.kernel_image(&mut SimContext::new()).unwrap();
    assert_eq!(img.dim(), (32, 32));
    // Same physics as the catalog's helper with t' = 0.
    let mut ctx = SimContext::new();
    let n = spec.kgrid_size(&spec.tight_binding().unwrap()).unwrap();
    let l = ctx
        .lattice_ldos(
            &square_band(3.5, 0.25, 0.0, 0.0),
            &scalar(0.4),
            0.05,
            0.02,
            n,
        )
        .unwrap();
    // No orbital_radius_a in the spec: 0.6 nearest-neighbour distances, 0.6 x 3.5 Angstrom.
    let field = KernelField::Lattice {
        ldos: l,
        orbital_sigma_a: 2.1,
    };
    let expected = field.render(&spec.grid(), spec.grid().centre()).unwrap();
    assert!(max_abs(&(&img - &expected)) < 1e-12 * max_abs(&expected));

    let unknown = text.replace("potential_ev", "potental_ev");
    let e = KernelSpec::from_toml(&unknown).unwrap_err().to_string();
    assert!(e.contains("potental_ev"), "{e}");
    let bad_orbital = text.replace(
        "to = 0, from = 0, cell = [1, 0]",
        "to = 3, from = 0, cell = [1, 0]",
    );
    let e = KernelSpec::from_toml(&bad_orbital).unwrap_err().to_string();
    assert!(
        e.contains("orbitals 0 and 3") || e.contains("1 orbitals"),
        "{e}"
    );
    let bad_symmetry = text.replace("symmetry = 4", "symmetry = 5");
    assert!(
        KernelSpec::from_toml(&bad_symmetry)
            .unwrap_err()
            .to_string()
            .contains("symmetry 5")
    );
}

#[test]
fn render_refuses_windows_that_would_wrap_around() {
    let model = square_band(3.5, 0.25, 0.0, 0.0);
    let ldos = SimContext::new()
        .lattice_ldos(&model, &scalar(0.4), 0.0, 0.05, 32)
        .unwrap();
    let field = KernelField::Lattice {
        ldos,
        orbital_sigma_a: 1.0,
    };
    let grid = PixelGrid::new(64, 64, 3.0);
    let e = field.render(&grid, grid.centre()).unwrap_err().to_string();
    assert!(e.contains("k-grid"), "{e}");
}

#[test]
fn specs_grow_a_too_small_k_grid_to_cover_their_window() {
    let mut spec = qpik::physics::catalog::find("square-tp0-300meV").unwrap();
    spec.kgrid.n = Some(32);
    spec.render.size = [48, 48];
    let small = spec.kernel_image(&mut SimContext::new()).unwrap();
    // The same as asking for the grown size directly.
    let reach_cells = (spec.extended_radius_a() / 3.5).ceil() as usize + 8;
    spec.kgrid.n = Some(qpik::physics::kgrid::fft_size_at_least(2 * reach_cells + 4).unwrap());
    let direct = spec.kernel_image(&mut SimContext::new()).unwrap();
    assert!(max_abs(&(&small - &direct)) <= 1e-12 * max_abs(&direct));
}
