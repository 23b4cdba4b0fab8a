//! The built-in kernel catalog: over 100 named, physically distinct, deterministic kernels
//! covering isotropic (1), 2-, 3-, 4- and 6-fold symmetry.
//!
//! Orbital (Wannier and tip) smearing radii are 0.6 of the nearest-neighbour distance
//! ([`DEFAULT_ORBITAL_RADIUS_NN_FRACTION`], also the default of user specs).
//!
//! Families (parameters in eV and Angstrom):
//! - `shockley-*`: Cu/Ag/Au(111) surface states, exact continuum (Hankel) solution, isotropic.
//! - `square-*`: one-band square lattice with t, t' (4-fold).
//! - `bi2212-normal-*`, `bi2212-dwave-*`: Norman's six-parameter Bi2212 band (PRB 52, 615),
//!   normal state and d-wave superconductor, scalar and magnetic impurities (4-fold).
//! - `fe2orb-*`: Raghu's two-orbital iron-pnictide model (PRB 77, 220503), normal and s+-,
//!   and a nematic variant with split xz/yz orbitals (2-fold).
//! - `rect-*`: rectangular lattice with anisotropic hopping (2-fold).
//! - `kagome-*`: kagome lattice, impurity on one of three sites (2-fold).
//! - `triangular-*`: one-band triangular lattice (6-fold).
//! - `graphene-*`: honeycomb, impurity on the A sublattice (3-fold).
//! - `rashba-*`: Rashba-split surface band on a triangular lattice (6-fold).
//! - `tss-*`: Fu's hexagonally warped topological surface state (PRL 103, 266801), 6-fold
//!   for scalar and out-of-plane magnetic impurities.
//! - `gapped-honeycomb-*`: honeycomb with a staggered sublattice mass (hBN-like), 3-fold.

use super::model::{
    HBAR2_OVER_2ME_EV_A2, Lattice, ParabolicBand, TightBinding, TightBindingBuilder,
};
use super::spec::{
    DEFAULT_ORBITAL_RADIUS_NN_FRACTION, ImpuritySpec, KGridSpec, KernelSpec, ModelSpec, RenderSpec,
};
use num_complex::Complex64 as C64;
use std::f64::consts::PI;

/// All catalog kernels, in a fixed order.
pub fn catalog() -> Vec<KernelSpec> {
    let mut out = Vec::new();
    shockley(&mut out);
    square(&mut out);
    bi2212(&mut out);
    iron(&mut out);
    rectangular(&mut out);
    kagome(&mut out);
    triangular(&mut out);
    graphene(&mut out);
    gapped_honeycomb(&mut out);
    rashba(&mut out);
    tss(&mut out);
    out
}

/// Look a kernel up by name.
pub fn find(name: &str) -> Option<KernelSpec> {
    catalog().into_iter().find(|k| k.name == name)
}

fn energy_tag(e: f64) -> String {
    let mev = (e * 1000.0).round() as i64;
    if mev < 0 {
        format!("m{}meV", -mev)
    } else {
        format!("{mev}meV")
    }
}

#[allow(clippy::too_many_arguments)]
fn lattice_spec(
    name: String,
    family: &str,
    symmetry: u8,
    model: &TightBinding,
    energy_ev: f64,
    broadening_ev: f64,
    impurity: ImpuritySpec,
    n: usize,
    pixel_size_a: f64,
) -> KernelSpec {
    KernelSpec {
        name,
        family: family.to_string(),
        symmetry,
        energy_ev,
        energies_ev: None,
        energy_range: None,
        broadening_ev,
        model: KernelSpec::tight_binding_model_spec(
            model,
            DEFAULT_ORBITAL_RADIUS_NN_FRACTION * nearest_neighbour_distance(model),
        ),
        impurity,
        kgrid: KGridSpec {
            n: Some(n),
            ..KGridSpec::default()
        },
        render: RenderSpec {
            size: [64, 64],
            pixel_size_a,
            rotation_deg: 0.0,
            sites: false,
        },
    }
}

/// Shortest distance between two distinct sites of a lattice model (Angstrom).
pub fn nearest_neighbour_distance(model: &TightBinding) -> f64 {
    let lat = model.lattice;
    let mut best = f64::INFINITY;
    for a in &model.orbitals {
        for b in &model.orbitals {
            for n1 in -2..=2 {
                for n2 in -2..=2 {
                    let d = lat.to_cartesian([b[0] - a[0] + n1 as f64, b[1] - a[1] + n2 as f64]);
                    let r = d[0].hypot(d[1]);
                    if r > 1e-9 {
                        best = best.min(r);
                    }
                }
            }
        }
    }
    best
}

fn scalar(orbitals: Vec<usize>, v: f64) -> ImpuritySpec {
    ImpuritySpec {
        orbitals,
        potential_ev: v,
        magnetic_ev: 0.0,
        phase_shift_rad: None,
    }
}

fn shockley(out: &mut Vec<KernelSpec>) {
    let metals: [(&str, f64, f64, &[f64]); 3] = [
        (
            "cu111",
            -0.44,
            0.38,
            &[-0.3, -0.2, -0.1, 0.0, 0.1, 0.25, 0.4],
        ),
        (
            "ag111",
            -0.065,
            0.40,
            &[-0.03, 0.0, 0.05, 0.1, 0.2, 0.35, 0.5],
        ),
        ("au111", -0.48, 0.26, &[-0.3, -0.1, 0.0, 0.2, 0.4, 0.6]),
    ];
    let shifts = [PI / 2.0, PI / 4.0, -PI / 4.0, 1.2, PI / 3.0];
    let mut i = 0;
    for (metal, e0, mass, energies) in metals {
        for &e in energies {
            let band = ParabolicBand {
                band_bottom_ev: e0,
                effective_mass: mass,
            };
            let k = band.wave_vector(e, 0.0).re;
            // About six LDOS wavelengths (pi / k) across the 64-pixel window.
            let pixel = ((6.0 * PI / k / 64.0) * 20.0).round() / 20.0;
            let delta = shifts[i % shifts.len()];
            i += 1;
            out.push(KernelSpec {
                name: format!("shockley-{metal}-{}", energy_tag(e)),
                family: "shockley".into(),
                symmetry: 1,
                energy_ev: e,
                energies_ev: None,
                energy_range: None,
                broadening_ev: 0.01 + 0.05 * (e - e0),
                model: ModelSpec::Parabolic {
                    band_bottom_ev: e0,
                    effective_mass: mass,
                },
                impurity: ImpuritySpec {
                    orbitals: vec![0],
                    potential_ev: 0.0,
                    magnetic_ev: 0.0,
                    phase_shift_rad: Some(delta),
                },
                kgrid: KGridSpec::default(),
                render: RenderSpec {
                    size: [64, 64],
                    pixel_size_a: pixel.max(0.5),
                    rotation_deg: 0.0,
                    sites: false,
                },
            });
        }
    }
}

/// One-band square lattice, `eps = -2t(cos kx + cos ky) - 4t' cos kx cos ky - mu`.
pub fn square_band(a: f64, t: f64, tp: f64, mu: f64) -> TightBinding {
    TightBindingBuilder::new(Lattice::square(a), vec![[0.0, 0.0]])
        .onsite(0, -mu)
        .hop_real(0, 0, [1, 0], -t)
        .hop_real(0, 0, [0, 1], -t)
        .hop_real(0, 0, [1, 1], -tp)
        .hop_real(0, 0, [1, -1], -tp)
        .build()
        .expect("square band is Hermitian")
}

fn square(out: &mut Vec<KernelSpec>) {
    let (a, t) = (3.5, 0.25);
    for (tp, energies) in [
        (-0.3 * t, &[-0.8, -0.6, -0.4, -0.2, 0.0, 0.2, 0.5, 0.8][..]),
        (0.0, &[-0.5, 0.3][..]),
    ] {
        for &e in energies {
            let m = square_band(a, t, tp, 0.0);
            let name = format!(
                "square-tp{}-{}",
                (tp / t * 10.0).round() as i64,
                energy_tag(e)
            );
            out.push(lattice_spec(
                name,
                "square",
                4,
                &m,
                e,
                0.02,
                scalar(vec![0], 0.4),
                512,
                2.0,
            ));
        }
    }
}

/// Norman's Bi2212 tight-binding band (t0..t5 in eV), optionally d-wave with gap maximum `delta0`.
pub fn bi2212_band(delta0: Option<f64>) -> TightBinding {
    let t = [0.1305, -0.5951, 0.1636, -0.0519, -0.1117, 0.0510];
    let mut b = TightBindingBuilder::new(Lattice::square(3.83), vec![[0.0, 0.0]])
        .onsite(0, t[0])
        .cos_term(0, [1, 0], t[1] / 2.0)
        .cos_term(0, [0, 1], t[1] / 2.0)
        .cos_term(0, [1, 1], t[2] / 2.0)
        .cos_term(0, [1, -1], t[2] / 2.0)
        .cos_term(0, [2, 0], t[3] / 2.0)
        .cos_term(0, [0, 2], t[3] / 2.0);
    for cell in [[2, 1], [2, -1], [1, 2], [1, -2]] {
        b = b.cos_term(0, cell, t[4] / 4.0);
    }
    b = b
        .cos_term(0, [2, 2], t[5] / 2.0)
        .cos_term(0, [2, -2], t[5] / 2.0);
    if let Some(d) = delta0 {
        // Delta(k) = d/2 (cos kx - cos ky)
        b = b
            .nambu()
            .pair(0, 0, [1, 0], d / 4.0)
            .pair(0, 0, [0, 1], -d / 4.0);
    }
    b.build().expect("Bi2212 band is Hermitian")
}

fn bi2212(out: &mut Vec<KernelSpec>) {
    let normal = bi2212_band(None);
    for e in [-0.2, -0.1, -0.05, 0.0, 0.05, 0.1] {
        out.push(lattice_spec(
            format!("bi2212-normal-{}", energy_tag(e)),
            "bi2212-normal",
            4,
            &normal,
            e,
            0.01,
            scalar(vec![0], 0.3),
            512,
            2.5,
        ));
    }
    let sc = bi2212_band(Some(0.04));
    for e in [
        0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, -0.01, -0.02, -0.03,
    ] {
        out.push(lattice_spec(
            format!("bi2212-dwave-{}", energy_tag(e)),
            "bi2212-dwave",
            4,
            &sc,
            e,
            0.004,
            scalar(vec![0], 0.3),
            1024,
            2.5,
        ));
    }
    for e in [0.008, 0.016, 0.024, -0.016] {
        let imp = ImpuritySpec {
            orbitals: vec![0],
            potential_ev: 0.0,
            magnetic_ev: 0.15,
            phase_shift_rad: None,
        };
        out.push(lattice_spec(
            format!("bi2212-dwave-magnetic-{}", energy_tag(e)),
            "bi2212-dwave",
            4,
            &sc,
            e,
            0.004,
            imp,
            1024,
            2.5,
        ));
    }
}

/// Raghu's two-orbital (xz, yz) iron model with energy unit `eu` = |t1| in eV; `nematic` splits
/// xz and yz on-site energies; `delta0` adds an s+- gap `delta0 cos kx cos ky`.
pub fn iron_two_orbital(eu: f64, nematic: f64, delta0: Option<f64>) -> TightBinding {
    let (t1, t2, t3, t4, mu) = (-eu, 1.3 * eu, -0.85 * eu, -0.85 * eu, 1.45 * eu);
    let mut b = TightBindingBuilder::new(Lattice::square(2.8), vec![[0.0, 0.0], [0.0, 0.0]])
        .onsite(0, -mu + nematic / 2.0)
        .onsite(1, -mu - nematic / 2.0)
        // eps_x = -2 t1 cos kx - 2 t2 cos ky - 4 t3 cos kx cos ky
        .cos_term(0, [1, 0], -2.0 * t1)
        .cos_term(0, [0, 1], -2.0 * t2)
        .cos_term(0, [1, 1], -2.0 * t3)
        .cos_term(0, [1, -1], -2.0 * t3)
        // eps_y = -2 t2 cos kx - 2 t1 cos ky - 4 t3 cos kx cos ky
        .cos_term(1, [1, 0], -2.0 * t2)
        .cos_term(1, [0, 1], -2.0 * t1)
        .cos_term(1, [1, 1], -2.0 * t3)
        .cos_term(1, [1, -1], -2.0 * t3);
    // eps_xy = -4 t4 sin kx sin ky = -2 t4 cos(kx - ky) + 2 t4 cos(kx + ky), real symmetric
    for (cell, c) in [([1, -1], -2.0 * t4), ([1, 1], 2.0 * t4)] {
        b = b
            .hop_real(0, 1, cell, c / 2.0)
            .hop_real(0, 1, [-cell[0], -cell[1]], c / 2.0);
    }
    if let Some(d) = delta0 {
        b = b.nambu();
        for o in 0..2 {
            b = b.pair(o, o, [1, 1], d / 4.0).pair(o, o, [1, -1], d / 4.0);
        }
    }
    b.build().expect("iron model is Hermitian")
}

fn iron(out: &mut Vec<KernelSpec>) {
    let eu = 0.1;
    let normal = iron_two_orbital(eu, 0.0, None);
    for e in [-0.1, -0.05, 0.0, 0.05, 0.1] {
        out.push(lattice_spec(
            format!("fe2orb-normal-{}", energy_tag(e)),
            "fe2orb",
            4,
            &normal,
            e,
            0.01,
            scalar(vec![0, 1], 0.2),
            512,
            2.0,
        ));
    }
    let spm = iron_two_orbital(eu, 0.0, Some(0.01));
    for e in [0.004, 0.008, 0.012, -0.008] {
        out.push(lattice_spec(
            format!("fe2orb-spm-{}", energy_tag(e)),
            "fe2orb-spm",
            4,
            &spm,
            e,
            0.003,
            scalar(vec![0, 1], 0.2),
            768,
            2.0,
        ));
    }
    let nematic = iron_two_orbital(eu, 0.04, None);
    for e in [-0.06, -0.02, 0.0, 0.03, 0.07] {
        out.push(lattice_spec(
            format!("fe2orb-nematic-{}", energy_tag(e)),
            "fe2orb-nematic",
            2,
            &nematic,
            e,
            0.01,
            scalar(vec![0, 1], 0.2),
            512,
            2.0,
        ));
    }
}

fn rectangular(out: &mut Vec<KernelSpec>) {
    let model = TightBindingBuilder::new(Lattice::rectangular(3.5, 4.2), vec![[0.0, 0.0]])
        .hop_real(0, 0, [1, 0], -0.30)
        .hop_real(0, 0, [0, 1], -0.18)
        .hop_real(0, 0, [1, 1], 0.03)
        .hop_real(0, 0, [1, -1], 0.03)
        .build()
        .expect("rectangular band is Hermitian");
    for e in [-0.6, -0.4, -0.2, 0.0, 0.2, 0.4] {
        out.push(lattice_spec(
            format!("rect-{}", energy_tag(e)),
            "rect",
            2,
            &model,
            e,
            0.02,
            scalar(vec![0], 0.4),
            512,
            2.0,
        ));
    }
}

fn kagome(out: &mut Vec<KernelSpec>) {
    let t = -0.3;
    let model = TightBindingBuilder::new(
        Lattice::triangular(5.0),
        vec![[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]],
    )
    .hop_real(1, 0, [0, 0], t)
    .hop_real(1, 0, [-1, 0], t)
    .hop_real(2, 0, [0, 0], t)
    .hop_real(2, 0, [0, -1], t)
    .hop_real(2, 1, [0, 0], t)
    .hop_real(2, 1, [1, -1], t)
    .build()
    .expect("kagome band is Hermitian");
    for e in [-0.5, -0.2, 0.15, 0.35] {
        out.push(lattice_spec(
            format!("kagome-{}", energy_tag(e)),
            "kagome",
            2,
            &model,
            e,
            0.02,
            scalar(vec![0], 0.5),
            512,
            1.5,
        ));
    }
}

/// Nearest-neighbour vectors of a triangular lattice at 0, 120 and 240 degrees, as cells.
const TRI_NN: [[i32; 2]; 3] = [[1, 0], [-1, 1], [0, -1]];

fn triangular(out: &mut Vec<KernelSpec>) {
    let mut b = TightBindingBuilder::new(Lattice::triangular(3.0), vec![[0.0, 0.0]]);
    for cell in TRI_NN {
        b = b.hop_real(0, 0, cell, -0.2);
    }
    for cell in [[1, 1], [-2, 1], [1, -2]] {
        b = b.hop_real(0, 0, cell, -0.02);
    }
    let model = b.build().expect("triangular band is Hermitian");
    for e in [-0.9, -0.6, -0.3, 0.0, 0.2, 0.4] {
        out.push(lattice_spec(
            format!("triangular-{}", energy_tag(e)),
            "triangular",
            6,
            &model,
            e,
            0.02,
            scalar(vec![0], 0.4),
            512,
            1.5,
        ));
    }
}

/// Honeycomb lattice (a = 2.46 Angstrom) with hopping `t` and sublattice mass `+-mass` on A/B.
pub fn honeycomb(t: f64, mass: f64) -> TightBinding {
    TightBindingBuilder::new(
        Lattice::triangular(2.46),
        vec![[0.0, 0.0], [1.0 / 3.0, 1.0 / 3.0]],
    )
    .onsite(0, mass)
    .onsite(1, -mass)
    .hop_real(1, 0, [0, 0], -t)
    .hop_real(1, 0, [-1, 0], -t)
    .hop_real(1, 0, [0, -1], -t)
    .build()
    .expect("honeycomb is Hermitian")
}

fn graphene(out: &mut Vec<KernelSpec>) {
    let model = honeycomb(2.7, 0.0);
    for e in [-0.9, -0.7, -0.5, -0.3, 0.3, 0.5, 0.7, 0.9] {
        out.push(lattice_spec(
            format!("graphene-{}", energy_tag(e)),
            "graphene",
            3,
            &model,
            e,
            0.05,
            scalar(vec![0], 2.0),
            512,
            0.7,
        ));
    }
}

fn gapped_honeycomb(out: &mut Vec<KernelSpec>) {
    let model = honeycomb(2.7, 0.4);
    for e in [-0.9, -0.6, 0.6, 0.9] {
        out.push(lattice_spec(
            format!("gapped-honeycomb-{}", energy_tag(e)),
            "gapped-honeycomb",
            3,
            &model,
            e,
            0.05,
            scalar(vec![0], 2.0),
            512,
            0.7,
        ));
    }
}

/// `g(k) = (2/(3a^2)) sum_j d_j sin(k.d_j)`, equal to k up to isotropic k^3 corrections, added as
/// `coef * (g_x sigma_y - g_y sigma_x)` to a spinful one-site triangular model.
fn add_spin_orbit(mut b: TightBindingBuilder, a: f64, coef: f64) -> TightBindingBuilder {
    let lat = Lattice::triangular(a);
    for cell in TRI_NN {
        let d = lat.to_cartesian([cell[0] as f64, cell[1] as f64]);
        let g = 2.0 / (3.0 * a * a);
        // (g_x sigma_y - g_y sigma_x)_{up,down} = -(i g_x + g_y)
        let c = C64::new(-d[1], -d[0]) * (coef * g);
        b = b.sin_offdiag(0, 1, cell, c);
    }
    b
}

fn rashba(out: &mut Vec<KernelSpec>) {
    let (a, mass, e0, alpha) = (2.88, 0.26, -0.48, 0.33);
    // -2t sum_j cos(k.d_j) ~ -6t + (3/2) t a^2 k^2: match hbar^2/2m*.
    let t = HBAR2_OVER_2ME_EV_A2 / mass / (1.5 * a * a);
    let mut b = TightBindingBuilder::spinful(Lattice::triangular(a), vec![[0.0, 0.0]])
        .onsite(0, e0 + 6.0 * t)
        .onsite(1, e0 + 6.0 * t);
    for cell in TRI_NN {
        b = b.hop_real(0, 0, cell, -t).hop_real(1, 1, cell, -t);
    }
    let model = add_spin_orbit(b, a, alpha)
        .build()
        .expect("Rashba model is Hermitian");
    for e in [-0.3, -0.15, 0.0, 0.15, 0.3, 0.45] {
        out.push(lattice_spec(
            format!("rashba-au111-{}", energy_tag(e)),
            "rashba",
            6,
            &model,
            e,
            0.02,
            scalar(vec![0], 0.5),
            512,
            1.5,
        ));
    }
}

/// Fu's warped Dirac cone on a triangular lattice: `E_D + B f(k) + v (g_x s_y - g_y s_x) + lambda w(k) s_z`
/// with `w(k) = -(8/a^3) sum_j sin(k.d_j) ~ k_x^3 - 3 k_x k_y^2` and `f(k) = sum_j (1 - cos k.d_j)`
/// (the scalar `B f` pushes the lattice's M-point doublers 4B away).
pub fn warped_surface_state(a: f64, dirac_ev: f64, v: f64, lambda: f64, b_ev: f64) -> TightBinding {
    let mut b = TightBindingBuilder::spinful(Lattice::triangular(a), vec![[0.0, 0.0]])
        .onsite(0, dirac_ev + 3.0 * b_ev)
        .onsite(1, dirac_ev + 3.0 * b_ev);
    for cell in TRI_NN {
        b = b
            .cos_term(0, cell, -b_ev)
            .cos_term(1, cell, -b_ev)
            .sin_term(0, cell, -8.0 * lambda / a.powi(3))
            .sin_term(1, cell, 8.0 * lambda / a.powi(3));
    }
    add_spin_orbit(b, a, v)
        .build()
        .expect("warped surface state is Hermitian")
}

fn tss(out: &mut Vec<KernelSpec>) {
    let model = warped_surface_state(4.38, -0.3, 2.55, 250.0, 0.3);
    for e in [-0.1, 0.0, 0.05, 0.1, 0.15, 0.2] {
        out.push(lattice_spec(
            format!("tss-bi2te3-{}", energy_tag(e)),
            "tss",
            6,
            &model,
            e,
            0.02,
            scalar(vec![0], 0.5),
            512,
            3.0,
        ));
    }
    for e in [0.05, 0.15] {
        let imp = ImpuritySpec {
            orbitals: vec![0],
            potential_ev: 0.1,
            magnetic_ev: 0.3,
            phase_shift_rad: None,
        };
        out.push(lattice_spec(
            format!("tss-bi2te3-magnetic-{}", energy_tag(e)),
            "tss-magnetic",
            6,
            &model,
            e,
            0.02,
            imp,
            512,
            3.0,
        ));
    }
}
