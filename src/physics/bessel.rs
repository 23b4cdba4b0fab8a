//! Bessel functions J0, Y0 and the Hankel function H0^(1) for complex arguments.
//!
//! Needed for the exact continuum Green's function of a parabolic band,
//! `G0(r, E) = -(i m / 2 hbar^2) H0^(1)(k r)`, with `Im k >= 0` once broadening is on.
//! Power series for `|z| <= 12` and the Hankel asymptotic expansion beyond;
//! relative accuracy about 1e-10 for `0 <= arg z < pi`.

use num_complex::Complex64 as C64;
use std::f64::consts::PI;

const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
const SERIES_RADIUS: f64 = 12.0;

/// J0(z) and Y0(z) by their power series (accurate for |z| <= 12).
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

/// H0^(1)(z) by the asymptotic expansion (accurate for |z| >= 12, arg z in (-pi, 2pi)).
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
    (2.0 / (PI * z)).sqrt() * (i * (z - PI / 4.0)).exp() * sum
}

/// Hankel function of the first kind, order 0: `H0^(1)(z) = J0(z) + i Y0(z)`.
pub fn hankel1_0(z: C64) -> C64 {
    if z.norm() <= SERIES_RADIUS {
        let (j, y) = j0_y0_series(z);
        j + C64::new(0.0, 1.0) * y
    } else {
        hankel0_asymptotic(z)
    }
}

/// Bessel J0 of a real argument.
pub fn j0(x: f64) -> f64 {
    if x.abs() <= SERIES_RADIUS {
        j0_y0_series(C64::new(x.abs(), 0.0)).0.re
    } else {
        hankel0_asymptotic(C64::new(x.abs(), 0.0)).re
    }
}

/// Bessel Y0 of a real positive argument.
pub fn y0(x: f64) -> f64 {
    assert!(x > 0.0, "Y0 is defined for x > 0");
    if x <= SERIES_RADIUS {
        j0_y0_series(C64::new(x, 0.0)).1.re
    } else {
        hankel0_asymptotic(C64::new(x, 0.0)).im
    }
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

    #[test]
    fn series_and_asymptotic_agree_at_the_switch() {
        for &phase in &[0.0, 0.05, 0.3] {
            let z = C64::from_polar(12.0, phase);
            let (j, y) = j0_y0_series(z);
            let a = hankel0_asymptotic(z);
            let s = j + C64::new(0.0, 1.0) * y;
            assert!(
                (s - a).norm() < 1e-9 * a.norm(),
                "phase {phase}: {s} vs {a}"
            );
        }
    }
}
