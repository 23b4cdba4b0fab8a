//! Kernel specs as a physicist writes them: defaults, checks, the recorded k-grid, compact
//! printing and lattice-site values. Each test compares with an independent computation.

use num_complex::Complex64 as C64;
use qpik::physics::catalog::{
    bi2212_band, catalog, honeycomb, iron_two_orbital, nearest_neighbour_distance, square_band,
    warped_surface_state,
};
use qpik::physics::model::{Hopping, Lattice, TightBinding};
use qpik::physics::spec::{DEFAULT_KERNEL_NAME, KernelSpec, ModelSpec};
use qpik::physics::{Impurity, KernelField, SimContext};

/// A one-off square-lattice spec: no name, no symmetry, no orbital radius, no k-grid.
const ONE_OFF: &str = r#"
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
size = [24, 24]
pixel_size_a = 3.5
"#;

fn max_abs(a: &ndarray::Array2<f64>) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn a_one_off_spec_needs_no_name_symmetry_or_orbital_radius() {
    let spec = KernelSpec::from_toml(ONE_OFF).unwrap();
    assert_eq!(spec.name, DEFAULT_KERNEL_NAME);
    assert_eq!(spec.symmetry, 0, "absent symmetry is 'not stated'");
    // The default radius is 0.6 nearest-neighbour distances: 0.6 x 3.5 Angstrom here.
    assert!((spec.orbital_radius_a() - 0.6 * 3.5).abs() < 1e-12);
    let img = spec.kernel_image(&mut SimContext::new()).unwrap();
    // The same LDOS rendered by hand with sigma = 2.1 Angstrom.
    let ldos = one_off_ldos(&spec);
    let field = KernelField::Lattice {
        ldos,
        orbital_sigma_a: 2.1,
    };
    let want = field.render(&spec.grid(), spec.grid().centre()).unwrap();
    assert!(max_abs(&(&img - &want)) < 1e-12 * max_abs(&want));
}

#[test]
fn orbital_radius_must_be_a_number_at_least_zero() {
    let with = |r: &str| {
        ONE_OFF.replace(
            "orbitals = [[",
            &format!("orbital_radius_a = {r}\norbitals = [["),
        )
    };
    assert!(KernelSpec::from_toml(&with("0.0")).is_ok());
    assert_eq!(
        KernelSpec::from_toml(&with("1.5"))
            .unwrap()
            .orbital_radius_a(),
        1.5
    );
    for bad in ["-1.0", "nan", "inf"] {
        let e = KernelSpec::from_toml(&with(bad)).unwrap_err().to_string();
        assert!(e.contains("orbital_radius_a"), "{bad}: {e}");
    }
}

/// The one-off spec's lattice LDOS computed directly (the same band, impurity, energy,
/// broadening and k-grid), for comparison with what the spec renders.
fn one_off_ldos(spec: &KernelSpec) -> qpik::physics::LatticeLdos {
    let n = spec.kgrid_used().unwrap().unwrap();
    SimContext::new()
        .lattice_ldos(
            &square_band(3.5, 0.25, 0.0, 0.0),
            &scalar(0.4),
            0.05,
            0.02,
            n,
        )
        .unwrap()
}

fn scalar(v: f64) -> Impurity {
    Impurity {
        orbitals: vec![0],
        potential_ev: v,
        magnetic_ev: 0.0,
    }
}

#[test]
fn a_raised_k_grid_is_what_the_spec_text_records() {
    let mut spec = qpik::physics::catalog::find("square-tp0-300meV").unwrap();
    spec.kgrid.n = Some(32);
    spec.render.size = [48, 48];
    let used = spec.kgrid_used().unwrap().unwrap();
    // Independently: the stored box must hold the extended window (twice the kernel's
    // diagonal plus six smearing radii) with 8 cells to spare, and n is an FFT size.
    let sigma = spec.orbital_radius_a().max(spec.render.pixel_size_a);
    let window = (48.0f64 * 48.0 * 2.0).sqrt() * spec.render.pixel_size_a + 6.0 * sigma;
    let cells = (window / 3.5).ceil() as usize + 8;
    assert!(used / 2 > cells + 1, "{used} too small for {cells} cells");
    assert_eq!(
        used,
        qpik::physics::kgrid::fft_size_at_least(2 * cells + 4).unwrap()
    );
    let text = spec.to_toml();
    assert!(text.contains(&format!("n = {used}")), "{text}");
    // The recorded text reproduces the image bit for bit.
    let again = KernelSpec::from_toml(&text).unwrap();
    let (a, b) = (
        spec.kernel_image(&mut SimContext::new()).unwrap(),
        again.kernel_image(&mut SimContext::new()).unwrap(),
    );
    assert!(
        a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
    // A grid that needs no raising is written as given.
    spec.render.size = [8, 8];
    spec.kgrid.n = Some(used);
    assert!(spec.to_toml().contains(&format!("n = {used}")));
    assert_eq!(spec.kgrid_used().unwrap(), Some(used));
}

/// `sum_R t(R) e^{-i k.R}` per (to, from) entry of an `n x n` matrix.
fn fourier(list: &[Hopping], lattice: Lattice, n: usize, k: [f64; 2]) -> Vec<C64> {
    let mut m = vec![C64::default(); n * n];
    for t in list {
        let r = lattice.to_cartesian([t.cell[0] as f64, t.cell[1] as f64]);
        m[t.to * n + t.from] += t.amplitude * C64::from_polar(1.0, -(k[0] * r[0] + k[1] * r[1]));
    }
    m
}

fn same_hamiltonian(a: &TightBinding, b: &TightBinding) -> bool {
    let n = a.n_orbitals();
    let none = Vec::new();
    (0..7).all(|i| {
        let k = [0.37 * i as f64 - 1.1, 0.23 * i as f64 * i as f64 - 0.4];
        let close = |x: Vec<C64>, y: Vec<C64>| {
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| (p - q).norm() < 1e-12)
        };
        close(
            fourier(&a.hoppings, a.lattice, n, k),
            fourier(&b.hoppings, b.lattice, n, k),
        ) && a.pairing.is_some() == b.pairing.is_some()
            && close(
                fourier(a.pairing.as_ref().unwrap_or(&none), a.lattice, n, k),
                fourier(b.pairing.as_ref().unwrap_or(&none), b.lattice, n, k),
            )
    })
}

fn spec_of(model: &TightBinding) -> KernelSpec {
    let mut spec = KernelSpec::from_toml(ONE_OFF).unwrap();
    spec.model = KernelSpec::tight_binding_model_spec(model, 1.0);
    spec
}

#[test]
fn compact_specs_describe_the_same_hamiltonian() {
    let models = [
        square_band(3.5, 0.25, 0.0, 0.0),
        bi2212_band(Some(0.04)),
        iron_two_orbital(0.0, 0.1, Some(0.02)),
        honeycomb(0.3, 0.2),
        warped_surface_state(4.1, 0.0, 2.5, 100.0, 0.0),
    ];
    for model in &models {
        let spec = spec_of(model);
        let text = spec.to_toml();
        assert!(!text.contains("add_partners"), "{text}");
        let back = KernelSpec::from_toml(&text)
            .unwrap()
            .tight_binding()
            .unwrap();
        assert!(same_hamiltonian(model, &back), "{text}");
    }
    // Terms that are Hermitian only in sum cannot drop their partners: written in full.
    let mut odd = square_band(3.5, 0.25, 0.0, 0.0);
    odd.hoppings.retain(|h| h.cell != [-1, 0]);
    let half = |cell| Hopping {
        to: 0,
        from: 0,
        cell,
        amplitude: C64::new(-0.125, 0.0),
    };
    odd.hoppings.extend([half([-1, 0]), half([-1, 0])]);
    odd.validate().unwrap();
    let text = spec_of(&odd).to_toml();
    assert!(text.contains("add_partners = false"), "{text}");
    let back = KernelSpec::from_toml(&text)
        .unwrap()
        .tight_binding()
        .unwrap();
    assert!(same_hamiltonian(&odd, &back));
}

#[test]
fn catalog_specs_print_compactly() {
    for spec in catalog() {
        let text = spec.to_toml();
        for noise in [
            "add_partners",
            "-0.0\n",
            "-0.0,",
            "-0.0]",
            "spinful = false",
            "rotation_deg = 0.0\n",
            "magnetic_ev = 0.0\n",
        ] {
            assert!(!text.contains(noise), "{}: '{noise}' in\n{text}", spec.name);
        }
    }
}

#[test]
fn site_values_are_the_lattice_ldos_at_each_site() {
    let text = ONE_OFF.replace("[render]", "[render]\nsites = true");
    let mut spec = KernelSpec::from_toml(&text).unwrap();
    let ldos = one_off_ldos(&spec);
    let c = 12i64;
    // Pixel = lattice constant: cell (n1, n2) at x = n1 a (columns), y = n2 a (rows).
    let img = spec.kernel_image(&mut SimContext::new()).unwrap();
    for n2 in -c..c {
        for n1 in -c..c {
            let (got, want) = (
                img[[(c + n2) as usize, (c + n1) as usize]],
                ldos.at(n1, n2, 0),
            );
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-9),
                "({n1},{n2}): {got} vs {want}"
            );
        }
    }
    // Rotated a quarter turn counter-clockwise (image to sample): sample (x, y) = (-y', x'),
    // so the site at cell (n1, n2) is at image x' = n2 a, y' = -n1 a.
    spec.render.rotation_deg = 90.0;
    let img = spec.kernel_image(&mut SimContext::new()).unwrap();
    for n2 in -c + 1..c {
        for n1 in -c + 1..c {
            let (got, want) = (
                img[[(c - n1) as usize, (c + n2) as usize]],
                ldos.at(n1, n2, 0),
            );
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-9),
                "({n1},{n2}): {got} vs {want}"
            );
        }
    }
    // The smeared image differs (the option does something).
    spec.render.sites = false;
    spec.render.rotation_deg = 0.0;
    let smeared = spec.kernel_image(&mut SimContext::new()).unwrap();
    let sites = {
        spec.render.sites = true;
        spec.kernel_image(&mut SimContext::new()).unwrap()
    };
    assert!(max_abs(&(&smeared - &sites)) > 0.1 * max_abs(&sites));
}

#[test]
fn site_values_of_a_two_site_lattice_land_on_their_own_pixels() {
    // Graphene-like honeycomb: A at the cell origin, B a third of the way along a1 + a2.
    let model = honeycomb(0.3, 0.0);
    let mut spec = spec_of(&model);
    spec.render.sites = true;
    let nn = nearest_neighbour_distance(&model);
    spec.render.pixel_size_a = nn / 4.0;
    spec.render.size = [40, 40];
    let n = spec.kgrid_used().unwrap().unwrap();
    let ldos = SimContext::new()
        .lattice_ldos(&model, &scalar(0.4), 0.05, 0.02, n)
        .unwrap();
    let img = spec.kernel_image(&mut SimContext::new()).unwrap();
    // Every site inside the window, found by hand, at its nearest pixel.
    let p = spec.render.pixel_size_a;
    let mut hits = 0;
    for n2 in -20i64..=20 {
        for n1 in -20i64..=20 {
            for (s, tau) in ldos.sites.iter().enumerate() {
                let r = model
                    .lattice
                    .to_cartesian([n1 as f64 + tau[0], n2 as f64 + tau[1]]);
                let (i, j) = ((20.0 + r[1] / p).round(), (20.0 + r[0] / p).round());
                if (0.0..40.0).contains(&i) && (0.0..40.0).contains(&j) {
                    let (got, want) = (img[[i as usize, j as usize]], ldos.at(n1, n2, s));
                    assert!((got - want).abs() <= 1e-12 * want.abs().max(1e-9));
                    hits += 1;
                }
            }
        }
    }
    // About 100 / (3 sqrt(3) / 4) sites in a window of 10 x 10 nearest-neighbour distances.
    assert!(hits > 60, "{hits} sites in the window");
    // And nothing anywhere else.
    let nonzero = img.iter().filter(|v| **v != 0.0).count();
    assert!(nonzero <= hits);
}

#[test]
fn site_values_need_a_lattice_model() {
    let mut spec = qpik::physics::catalog::find("shockley-ag111-50meV").unwrap();
    assert!(matches!(spec.model, ModelSpec::Parabolic { .. }));
    spec.render.sites = true;
    let e = spec.validate().unwrap_err().to_string();
    assert!(e.contains("render.sites"), "{e}");
}

#[test]
fn catalog_k_grids_need_no_raising_at_their_own_size() {
    // So a catalog spec's text and the catalog entry agree at any smaller size too.
    for spec in catalog() {
        assert_eq!(spec.kgrid_used().unwrap(), spec.kgrid.n, "{}", spec.name);
    }
}
