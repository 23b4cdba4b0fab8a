//! Bessel functions J0, Y0 and the Hankel function H0^(1) for complex arguments.
//!
//! Needed for the exact continuum Green's function of a parabolic band,
//! `G0(r, E) = -(i m / 2 hbar^2) H0^(1)(k r)`, with `Im k >= 0` once broadening is on.
//!
//! Range used: `continuum.rs` calls `hankel1_0(k r)` with `k = sqrt((E - E0 + i eta) / C)`,
//! `Re k >= 0`, `Im k >= 0`, and `r >= 1e-9` Angstrom, so `0 <= arg z <= pi/2` (arg near pi/2
//! below the band bottom) and `|z|` from about 1e-9 upward with no upper bound (energy and
//! mass are only checked finite). Three methods cover it:
//! power series for `|z| <= 2`, Hankel's integral by the trapezoidal rule for `2 < |z| < 20`,
//! the asymptotic expansion for `|z| >= 20`.
//! Measured against mpmath over `0 <= arg z <= pi/2`: relative error of `H0^(1)` below
//! `1e-13 + 1e-16 |z|` (the `|z|` term is the unavoidable phase error of `e^{iz}` in f64);
//! values below about 1e-300 (`Im z > 690`) underflow to zero.

use num_complex::Complex64 as C64;
use std::f64::consts::PI;

const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
const SERIES_RADIUS: f64 = 2.0;
const ASYMPTOTIC_RADIUS: f64 = 20.0;
const LAPLACE_STEP: f64 = 0.2;
const LAPLACE_NODES: usize = 32;

/// J0(z) and Y0(z) by their power series (used for |z| <= `SERIES_RADIUS`).
fn j0_y0_series(z: C64) -> (C64, C64) {
    let q = z * z * 0.25;
    let mut term = C64::new(1.0, 0.0); // (-q)^k / (k!)^2
    let mut j0 = term;
    let mut ysum = C64::new(0.0, 0.0);
    let mut harmonic = 0.0;
    for k in 1..200 {
        let kf = k as f64;
        term = -term * q / (kf * kf);
        harmonic += 1.0 / kf;
        j0 += term;
        // sum_{k>=1} (-1)^{k+1} H_k q^k / (k!)^2 = -sum H_k * term_k
        ysum -= term * harmonic;
        if term.norm() < 1e-18 * j0.norm().max(1e-300) && kf > q.norm().sqrt() {
            break;
        }
    }
    let y0 = (2.0 / PI) * (((z * 0.5).ln() + EULER_GAMMA) * j0 + ysum);
    (j0, y0)
}

/// `sqrt(2/(pi z)) e^{i(z - pi/4)}`: the leading behaviour of H0^(1)(z) for large |z|, which
/// both the asymptotic series and Hankel's integral multiply by a slowly varying factor.
fn large_argument_factor(z: C64) -> C64 {
    (2.0 / (PI * z)).sqrt() * (C64::new(0.0, 1.0) * (z - PI / 4.0)).exp()
}

/// H0^(1)(z) by the asymptotic expansion (used for |z| >= `ASYMPTOTIC_RADIUS`, arg z in (-pi, 2pi)).
fn hankel0_asymptotic(z: C64) -> C64 {
    let i = C64::new(0.0, 1.0);
    let mut term = C64::new(1.0, 0.0);
    let mut sum = term;
    for k in 1..60 {
        let kf = k as f64;
        let next = term * i * (-(2.0 * kf - 1.0).powi(2)) / (8.0 * kf * z);
        if next.norm() > term.norm() {
            break; // asymptotic series: stop at the smallest term
        }
        term = next;
        sum += term;
        if term.norm() < 1e-17 {
            break;
        }
    }
    large_argument_factor(z) * sum
}

/// H0^(1)(z) from its Laplace-type integral (Hankel's integral, DLMF section 10.9, with u = s^2):
/// `H0(z) = sqrt(2/(pi z)) e^{i(z - pi/4)} / sqrt(pi) * int_R e^{-s^2} (1 + i s^2/(2z))^{-1/2} ds`,
/// summed by the trapezoidal rule.
fn hankel0_laplace(z: C64) -> C64 {
    let i = C64::new(0.0, 1.0);
    let c = i / (2.0 * z);
    let mut sum = C64::new(1.0, 0.0); // s = 0 node
    for j in 1..=LAPLACE_NODES {
        let s2 = (j as f64 * LAPLACE_STEP).powi(2);
        sum += 2.0 * (-s2).exp() / (C64::new(1.0, 0.0) + c * s2).sqrt();
    }
    let integral = sum * (LAPLACE_STEP / PI.sqrt());
    large_argument_factor(z) * integral
}

/// Hankel function of the first kind, order 0: `H0^(1)(z) = J0(z) + i Y0(z)`.
pub fn hankel1_0(z: C64) -> C64 {
    let r = z.norm();
    if r <= SERIES_RADIUS {
        let (j, y) = j0_y0_series(z);
        j + C64::new(0.0, 1.0) * y
    } else if r < ASYMPTOTIC_RADIUS {
        hankel0_laplace(z)
    } else {
        hankel0_asymptotic(z)
    }
}

/// Bessel J0 of a real argument.
pub fn j0(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        hankel1_0(C64::new(x.abs(), 0.0)).re
    }
}

/// Bessel Y0 of a real positive argument.
pub fn y0(x: f64) -> f64 {
    assert!(x > 0.0, "Y0 is defined for x > 0");
    hankel1_0(C64::new(x, 0.0)).im
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabulated_values() {
        // Abramowitz & Stegun, Table 9.1
        let cases = [
            (1.0, 0.765_197_686_6, 0.088_256_964_2),
            (5.0, -0.177_596_771_3, -0.308_517_625_2),
            (10.0, -0.245_935_764_5, 0.055_671_167_3),
        ];
        for (x, j, y) in cases {
            assert!((j0(x) - j).abs() < 2e-10, "J0({x}) = {}", j0(x));
            assert!((y0(x) - y).abs() < 2e-10, "Y0({x}) = {}", y0(x));
        }
    }

    #[test]
    fn j0_matches_its_integral_representation() {
        // J0(x) = (1/pi) int_0^pi cos(x sin t) dt, by a fine midpoint rule (independent of the series).
        for &x in &[0.3, 2.7, 11.9, 12.1, 17.0, 33.0] {
            let n = 20_000;
            let h = PI / n as f64;
            let integral: f64 = (0..n)
                .map(|i| (x * ((i as f64 + 0.5) * h).sin()).cos())
                .sum::<f64>()
                * h
                / PI;
            assert!(
                (j0(x) - integral).abs() < 1e-9,
                "x={x}: {} vs {}",
                j0(x),
                integral
            );
        }
    }

    #[test]
    fn hankel_solves_the_radial_helmholtz_equation_for_complex_k() {
        // f(r) = H0(k r) obeys f'' + f'/r + k^2 f = 0; check by finite differences across both branches.
        let k = C64::new(1.3, 0.04);
        for &r in &[0.5, 3.0, 9.1, 9.3, 15.0, 40.0] {
            let h = 1e-3;
            let f = |r: f64| hankel1_0(k * r);
            let d2 = (f(r + h) - 2.0 * f(r) + f(r - h)) / (h * h);
            let d1 = (f(r + h) - f(r - h)) / (2.0 * h);
            let residual = d2 + d1 / r + k * k * f(r);
            assert!(
                residual.norm() < 1e-5 * (k * k * f(r)).norm().max(1e-3),
                "r={r}: {residual}"
            );
        }
    }

    /// Relative error of `hankel1_0` allowed at `z`: the stated bound.
    fn bound(z: C64) -> f64 {
        1e-13 + 1e-16 * z.norm()
    }

    #[test]
    #[allow(clippy::excessive_precision)] // mpmath digits, kept as printed
    fn hankel_matches_mpmath_over_the_range_used() {
        // (|z|, arg z, Re H0, Im H0) from mpmath 1.3 with this script (precision raised by Im z
        // because mpmath forms J0 + i Y0, which cancel there):
        //   import mpmath as mp, math
        //   for r in [1e-6, 0.05, 0.5, 1.99, 2.01, 5.0, 12.0, 19.9, 20.1, 50.0, 300.0]:
        //       for p in [0.0, 0.8, 1.5, math.pi / 2]:
        //           z = complex(r * math.cos(p), r * math.sin(p))
        //           mp.mp.dps = 40 + int(z.imag)
        //           h = mp.hankel1(0, mp.mpc(z.real, z.imag))
        //           print((r, p, mp.nstr(h.real, 17), mp.nstr(h.imag, 17)))
        // One row per |z|, one (Re H0, Im H0) per arg z of PHASES.
        let table: [(f64, [(f64, f64); 4]); 11] = [
            (
                1e-6,
                [
                    (0.99999999999975, -8.8690314816594437),
                    (0.49070418210356307, -8.8690314816620121),
                    (0.045070341448303777, -8.8690314816641744),
                    (3.8981718324912477e-17, -8.8690314816641966),
                ],
            ),
            (
                0.05,
                [
                    (0.99937509764946858, -1.9793110008172096),
                    (0.48907779129238184, -1.9813007388957715),
                    (0.044867283242875067, -1.9825705518889659),
                    (3.8805665825894686e-17, -1.9825829589418338),
                ],
            ),
            (
                0.5,
                [
                    (9.384698072408129e-1, -4.4451873350670656e-1),
                    (4.1909834731039667e-1, -5.4642384195022931e-1),
                    (3.7337792034679456e-2, -5.8813485517482365e-1),
                    (3.2285460581118571e-17, -5.885034586972076e-1),
                ],
            ),
            (
                1.99,
                [
                    (2.2966118404558944e-1, 5.0927712019200982e-1),
                    (1.2822556084465104e-1, 2.1798019731561204e-2),
                    (1.2702976722656522e-2, -7.2674356191534616e-2),
                    (1.0993544197106494e-17, -7.3403385012391923e-2),
                ],
            ),
            (
                2.01,
                [
                    (2.1812682132584891e-1, 5.1141783604726119e-1),
                    (1.2550133830565481e-1, 2.3170778912367889e-2),
                    (1.2497332573204964e-2, -7.0896788710809812e-2),
                    (1.0815951900010163e-17, -7.1622500689370446e-2),
                ],
            ),
            (
                5.0,
                [
                    (-1.775967713143383e-1, -3.0851762524903378e-1),
                    (-6.3424865862564786e-3, 7.3482354875123153e-3),
                    (8.9936958847102243e-4, -2.2030424807097718e-3),
                    (7.8832991032453845e-19, -2.3498261812045551e-3),
                ],
            ),
            (
                12.0,
                [
                    (4.7689310796833537e-2, -2.2523731263436143e-1),
                    (2.6434495625675111e-5, 3.2307484150236402e-5),
                    (1.1161227345696803e-6, -9.159983431923306e-7),
                    (1.0715719469146736e-21, -1.4010889634572334e-6),
                ],
            ),
            (
                19.9,
                [
                    (1.7287775639261846e-1, 4.5762094159385479e-2),
                    (1.1175819153524864e-7, 1.2170199155400949e-8),
                    (4.2215339797607998e-10, -5.4397700221631756e-11),
                    (5.056780284689865e-25, -4.0493989202413374e-10),
                ],
            ),
            (
                20.1,
                [
                    (1.5953606793729709e-1, 7.8810592428750293e-2),
                    (9.3950709229397949e-8, 2.3774720238260008e-8),
                    (3.4469191903940107e-10, -3.9466001485079295e-11),
                    (4.1601507774089744e-25, -3.2990284357052471e-10),
                ],
            ),
            (
                50.0,
                [
                    (5.5812327669251815e-2, -9.8064995470077079e-2),
                    (-1.8317528783694907e-17, 2.3529052579172177e-17),
                    (-1.0268840278551596e-23, 2.2361636458965165e-23),
                    (6.7128511442538178e-38, -2.1709802166062557e-23),
                ],
            ),
            (
                300.0,
                [
                    (-3.3298554876305668e-2, -3.1831889730003398e-2),
                    (1.4052683187282964e-95, 7.3376035017264603e-96),
                    (3.3689996045388876e-132, 3.7297776745504644e-132),
                    (4.3619324919545802e-146, -2.3705777708858602e-132),
                ],
            ),
        ];
        const PHASES: [f64; 4] = [0.0, 0.8, 1.5, std::f64::consts::FRAC_PI_2];
        let mut worst = 0.0f64;
        for (r, p, (re, im)) in table
            .iter()
            .flat_map(|&(r, row)| PHASES.iter().zip(row).map(move |(&p, h)| (r, p, h)))
        {
            let z = C64::new(r * p.cos(), r * p.sin());
            let want = C64::new(re, im);
            let err = (hankel1_0(z) - want).norm() / want.norm();
            worst = worst.max(err);
            assert!(
                err < bound(z),
                "|z|={r} arg={p}: {} vs {want}, rel {err:e}",
                hankel1_0(z)
            );
        }
        println!("worst relative error against mpmath: {worst:e}");
    }

    #[test]
    fn hankel_matches_its_cosh_integral_near_the_imaginary_axis() {
        // H0(z) = (1/(i pi)) int_R exp(i z cosh t) dt for Im z > 0, by a fine trapezoidal rule:
        // independent of all three methods, and free of the J0 + i Y0 cancellation.
        for &r in &[1.0, 2.5, 4.0, 8.0, 12.0, 16.0, 19.5, 21.0, 30.0] {
            for &p in &[0.6, 1.0, 1.3, 1.5, std::f64::consts::FRAC_PI_2] {
                let z = C64::from_polar(r, p);
                let t_max = (60.0 / z.im).acosh();
                let h = 2e-3;
                let n = (t_max / h).ceil() as usize;
                let f = |t: f64| (C64::new(0.0, 1.0) * z * t.cosh()).exp();
                let sum: C64 = f(0.0) + (1..=n).map(|j| 2.0 * f(j as f64 * h)).sum::<C64>();
                let want = sum * h / C64::new(0.0, PI);
                let err = (hankel1_0(z) - want).norm() / want.norm();
                assert!(
                    err < bound(z),
                    "|z|={r} arg={p}: {} vs {want}, rel {err:e}",
                    hankel1_0(z)
                );
            }
        }
    }

    #[test]
    fn methods_agree_at_both_switches_over_the_range_used() {
        for k in 0..=16 {
            let phase = std::f64::consts::FRAC_PI_2 * k as f64 / 16.0;
            let at = |r: f64| C64::from_polar(r, phase);
            let (j, y) = j0_y0_series(at(SERIES_RADIUS));
            let s = j + C64::new(0.0, 1.0) * y;
            let l = hankel0_laplace(at(SERIES_RADIUS));
            assert!(
                (s - l).norm() < 1e-13 * l.norm(),
                "phase {phase}: {s} vs {l}"
            );
            let l = hankel0_laplace(at(ASYMPTOTIC_RADIUS));
            let a = hankel0_asymptotic(at(ASYMPTOTIC_RADIUS));
            assert!(
                (l - a).norm() < 1e-13 * a.norm(),
                "phase {phase}: {l} vs {a}"
            );
        }
    }

    #[test]
    #[ignore = "timing; run with --release --ignored --nocapture"]
    fn timing() {
        let zs: Vec<C64> = (0..1000)
            .map(|i| C64::from_polar(0.03 * (i + 1) as f64, 1.57 * (i % 7) as f64 / 7.0))
            .collect();
        let t = std::time::Instant::now();
        let mut acc = C64::new(0.0, 0.0);
        for _ in 0..200 {
            for &z in &zs {
                acc += hankel1_0(z);
            }
        }
        println!(
            "{:.0} ns per call ({acc})",
            t.elapsed().as_nanos() as f64 / 200_000.0
        );
    }
}
