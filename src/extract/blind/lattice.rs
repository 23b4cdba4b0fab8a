//! The atomic lattice of a scan, taken out of the map the search looks at (Bragg-peak
//! removal, as MT-SBD does).
//!
//! A lattice resolved in the scan repeats over the whole map: its Fourier transform has sharp
//! peaks (Bragg peaks) far above the spectrum around them, while the defects' patterns, at
//! random places, spread over q. A search on the raw map takes the lattice's sites as
//! "defects" of a lattice-shaped kernel. Here a Fourier pixel is a Bragg peak when its power
//! exceeds [`PEAK_RATIO`] times the median power of its [`NEIGHBOURHOOD`] x [`NEIGHBOURHOOD`]
//! neighbourhood, is the largest of its 3 x 3 pixels and [`ISOLATION`] times every pixel
//! two away, at spatial frequencies of at least [`MIN_FREQUENCY`] cycles per pixel (periods
//! of a few pixels: an atomic lattice, not the rings of a surface state) and off the two
//! axes (where line offsets, streaks and steps put their power). The lattice is, for each
//! `+q/-q` pair, the plane wave fitted (least squares) at the pair's exact frequency (the
//! spectrum's peak refined off the grid: a lattice incommensurate with the map leaks far
//! beyond its pixel), plus the inverse transform of the peaks' 5 x 5 pixels of what is left
//! (a lattice broadened by drift or distortion). The map engine still fits the whole map; only the search map loses the
//! lattice.
//!
//! Convention: unnormalised forward DFT `F(k) = sum_r x(r) exp(-2 pi i k.r / N)` over the
//! `H x W` map (rows, then columns), inverse divided by `H W`.

use num_complex::Complex64 as C64;
use rustfft::FftPlanner;
use std::f64::consts::TAU;

/// A Bragg peak stands this many times above the median power around it.
const PEAK_RATIO: f64 = 30.0;
/// A peak stands this many times above the largest power two pixels away (a streak, as a
/// step edge or a scratch leaves, does not).
const ISOLATION: f64 = 5.0;
/// Side of the neighbourhood whose median power a peak is compared with (odd).
const NEIGHBOURHOOD: usize = 11;
/// Lowest spatial frequency searched for peaks, in cycles per pixel.
const MIN_FREQUENCY: f64 = 0.12;

/// The lattice found: the number of Bragg peaks (each of a `+q, -q` pair counts) and its
/// part of the map (`H x W`, 0 where invalid).
#[derive(Clone, Debug)]
pub struct Lattice {
    pub peaks: usize,
    pub component: Vec<f64>,
}

/// In-place 2D DFT of an `h x w` complex image (`inverse`: the unnormalised inverse), with
/// the plans of `planner` (cached there for the next transform of the same size).
pub(super) fn fft2(
    planner: &mut FftPlanner<f64>,
    data: &mut [C64],
    h: usize,
    w: usize,
    inverse: bool,
) {
    let (rows, cols) = if inverse {
        (planner.plan_fft_inverse(w), planner.plan_fft_inverse(h))
    } else {
        (planner.plan_fft_forward(w), planner.plan_fft_forward(h))
    };
    rows.process(data);
    let mut column = vec![C64::new(0.0, 0.0); h];
    for c in 0..w {
        for (r, x) in column.iter_mut().enumerate() {
            *x = data[r * w + c];
        }
        cols.process(&mut column);
        for (r, x) in column.iter().enumerate() {
            data[r * w + c] = *x;
        }
    }
}

/// `y` less its mean over the valid pixels (`valid > 0`), 0 elsewhere; `None` when no pixel
/// is valid.
pub(super) fn centred(y: &[f64], valid: &[f64]) -> Option<Vec<f64>> {
    let n = valid.iter().filter(|v| **v > 0.0).count();
    if n == 0 {
        return None;
    }
    let mean = y
        .iter()
        .zip(valid)
        .filter(|(_, v)| **v > 0.0)
        .map(|(x, _)| x)
        .sum::<f64>()
        / n as f64;
    Some(
        y.iter()
            .zip(valid)
            .map(|(v, m)| if *m > 0.0 { v - mean } else { 0.0 })
            .collect(),
    )
}

/// The lattice of `y` (`h x w`, weights `valid`), or `None` when the spectrum has no Bragg
/// peak.
pub fn find_lattice(y: &[f64], valid: &[f64], h: usize, w: usize) -> Option<Lattice> {
    if h < NEIGHBOURHOOD || w < NEIGHBOURHOOD {
        return None;
    }
    let x = centred(y, valid)?;
    let mut spectrum: Vec<C64> = x.iter().map(|v| C64::new(*v, 0.0)).collect();
    let mut planner = FftPlanner::new();
    fft2(&mut planner, &mut spectrum, h, w, false);
    let power: Vec<f64> = spectrum.iter().map(|z| z.norm_sqr()).collect();
    // Signed frequency of index k of n, in cycles per pixel.
    let freq = |k: usize, n: usize| {
        let k = if k > n / 2 {
            k as f64 - n as f64
        } else {
            k as f64
        };
        k / n as f64
    };
    let half = (NEIGHBOURHOOD / 2) as isize;
    let at = |r: isize, c: isize| {
        power[r.rem_euclid(h as isize) as usize * w + c.rem_euclid(w as isize) as usize]
    };
    let mut peaks: Vec<usize> = Vec::new();
    let mut around: Vec<f64> = Vec::with_capacity(NEIGHBOURHOOD * NEIGHBOURHOOD);
    for r in 0..h {
        for c in 0..w {
            // The axes carry the scan's line artefacts (offsets, streaks, a step), not a lattice.
            let on_axis = r <= 1 || r + 1 >= h || c <= 1 || c + 1 >= w;
            if on_axis || freq(r, h).hypot(freq(c, w)) < MIN_FREQUENCY {
                continue;
            }
            let p = power[r * w + c];
            let (ri, ci) = (r as isize, c as isize);
            let top = (-1..=1)
                .all(|dr| (-1..=1).all(|dc| (dr == 0 && dc == 0) || at(ri + dr, ci + dc) < p));
            if !top {
                continue;
            }
            around.clear();
            for dr in -half..=half {
                for dc in -half..=half {
                    if dr.abs() > 1 || dc.abs() > 1 {
                        around.push(at(ri + dr, ci + dc));
                    }
                }
            }
            // A point, not a streak: the peak stands above everything two pixels away.
            let ring = (-2..=2)
                .flat_map(|dr| (-2..=2).map(move |dc| (dr, dc)))
                .filter(|(dr, dc): &(isize, isize)| dr.abs() == 2 || dc.abs() == 2)
                .map(|(dr, dc)| at(ri + dr, ci + dc))
                .fold(0.0f64, f64::max);
            if p <= ISOLATION * ring {
                continue;
            }
            let mid = around.len() / 2;
            let median = *around.select_nth_unstable_by(mid, f64::total_cmp).1;
            if p > PEAK_RATIO * median {
                peaks.push(r * w + c);
            }
        }
    }
    if peaks.is_empty() {
        return None;
    }
    // Each +q/-q pair once: its exact (off-grid) frequency, and the plane wave fitted there
    // taken out of the map; the peaks' pixels of what is left (a lattice that drift or
    // distortion broadens) follow.
    let mut waves = vec![0.0; h * w];
    let mut done: Vec<[f64; 2]> = Vec::new();
    for &i in &peaks {
        let f = [freq(i / w, h), freq(i % w, w)];
        let bin = [1.0 / h as f64, 1.0 / w as f64];
        if done
            .iter()
            .any(|d| (d[0] + f[0]).abs() < 1.5 * bin[0] && (d[1] + f[1]).abs() < 1.5 * bin[1])
        {
            continue;
        }
        done.push(f);
        let left: Vec<f64> = x.iter().zip(&waves).map(|(a, b)| a - b).collect();
        let f = refine_frequency(&left, valid, h, w, f, bin);
        add_plane_wave(&left, valid, h, w, f, &mut waves);
    }
    let mut spectrum: Vec<C64> = x
        .iter()
        .zip(&waves)
        .map(|(a, b)| C64::new(a - b, 0.0))
        .collect();
    fft2(&mut planner, &mut spectrum, h, w, false);
    let mut keep = vec![false; h * w];
    for &i in &peaks {
        let (r, c) = ((i / w) as isize, (i % w) as isize);
        for dr in -2..=2 {
            for dc in -2..=2 {
                keep[(r + dr).rem_euclid(h as isize) as usize * w
                    + (c + dc).rem_euclid(w as isize) as usize] = true;
            }
        }
    }
    for (z, k) in spectrum.iter_mut().zip(&keep) {
        if !k {
            *z = C64::new(0.0, 0.0);
        }
    }
    fft2(&mut planner, &mut spectrum, h, w, true);
    let scale = 1.0 / (h * w) as f64;
    let component = spectrum
        .iter()
        .zip(valid)
        .zip(&waves)
        .map(|((z, v), wave)| if *v > 0.0 { z.re * scale + wave } else { 0.0 })
        .collect();
    Some(Lattice {
        peaks: peaks.len(),
        component,
    })
}

/// `|sum x(r) exp(-2 pi i f.r)|^2` over the valid pixels, `f = (rows, cols)` in cycles per
/// pixel (separable: each row's sum over columns first).
fn dtft_power(x: &[f64], valid: &[f64], h: usize, w: usize, f: [f64; 2]) -> f64 {
    let col_phase: Vec<C64> = (0..w)
        .map(|c| C64::from_polar(1.0, -TAU * f[1] * c as f64))
        .collect();
    let mut total = C64::new(0.0, 0.0);
    for r in 0..h {
        let row = &x[r * w..(r + 1) * w];
        let mask = &valid[r * w..(r + 1) * w];
        let mut s = C64::new(0.0, 0.0);
        for ((v, m), p) in row.iter().zip(mask).zip(&col_phase) {
            if *m > 0.0 {
                s += p * v;
            }
        }
        total += s * C64::from_polar(1.0, -TAU * f[0] * r as f64);
    }
    total.norm_sqr()
}

/// The frequency near `f` (within half a bin `bin`) where `x`'s spectrum peaks: two grid
/// searches of 9 x 9 points, the second 4 times finer.
fn refine_frequency(
    x: &[f64],
    valid: &[f64],
    h: usize,
    w: usize,
    f: [f64; 2],
    bin: [f64; 2],
) -> [f64; 2] {
    let mut best = f;
    let mut step = [bin[0] / 8.0, bin[1] / 8.0];
    for _ in 0..2 {
        let centre = best;
        let mut top = f64::NEG_INFINITY;
        for i in -4..=4 {
            for j in -4..=4 {
                let g = [
                    centre[0] + i as f64 * step[0],
                    centre[1] + j as f64 * step[1],
                ];
                let p = dtft_power(x, valid, h, w, g);
                if p > top {
                    top = p;
                    best = g;
                }
            }
        }
        step = [step[0] / 4.0, step[1] / 4.0];
    }
    best
}

/// Adds to `out` the least-squares plane wave `a cos(2 pi f.r) + b sin(2 pi f.r)` through `x`
/// on the valid pixels.
fn add_plane_wave(x: &[f64], valid: &[f64], h: usize, w: usize, f: [f64; 2], out: &mut [f64]) {
    let phase = |i: usize| TAU * (f[0] * (i / w) as f64 + f[1] * (i % w) as f64);
    let (mut cc, mut cs, mut ss, mut xc, mut xs) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..h * w {
        if valid[i] <= 0.0 {
            continue;
        }
        let (s, c) = phase(i).sin_cos();
        cc += c * c;
        cs += c * s;
        ss += s * s;
        xc += x[i] * c;
        xs += x[i] * s;
    }
    let det = cc * ss - cs * cs;
    if det.abs() <= 1e-12 * (cc * ss).max(1e-300) {
        return;
    }
    let a = (xc * ss - xs * cs) / det;
    let b = (xs * cc - xc * cs) / det;
    for (i, o) in out.iter_mut().enumerate() {
        if valid[i] > 0.0 {
            let (s, c) = phase(i).sin_cos();
            *o += a * c + b * s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lattice_is_found_and_taken_out_defects_stay() {
        let (h, w) = (96, 80);
        let mut rng = crate::rng::Rng::new(5);
        let bump =
            |r: f64, c: f64, p: [f64; 2]| (-((r - p[0]).powi(2) + (c - p[1]).powi(2)) / 4.0).exp();
        let defects = [[20.0, 30.0], [60.0, 50.0], [75.0, 15.0]];
        let mut lattice = vec![0.0; h * w];
        let mut y = vec![0.0; h * w];
        for r in 0..h {
            for c in 0..w {
                let (rf, cf) = (r as f64, c as f64);
                // A square lattice of period 4 px, turned a little.
                lattice[r * w + c] = 0.5
                    * ((2.0 * std::f64::consts::PI / 4.0) * (0.98 * cf + 0.2 * rf)).cos()
                    * ((2.0 * std::f64::consts::PI / 4.0) * (0.98 * rf - 0.2 * cf)).cos();
                y[r * w + c] = lattice[r * w + c]
                    + defects.iter().map(|&p| bump(rf, cf, p)).sum::<f64>()
                    + 0.05 * rng.normal();
            }
        }
        let valid = vec![1.0; h * w];
        let found = find_lattice(&y, &valid, h, w).expect("the lattice");
        assert!(
            found.peaks >= 2 && found.peaks % 2 == 0,
            "{} peaks",
            found.peaks
        );
        let cleaned: Vec<f64> = y.iter().zip(&found.component).map(|(a, b)| a - b).collect();
        let rms = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
        let left: Vec<f64> = cleaned
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let (rf, cf) = ((i / w) as f64, (i % w) as f64);
                x - defects.iter().map(|&p| bump(rf, cf, p)).sum::<f64>()
            })
            .collect();
        // Most of the lattice is gone (what is left includes the noise, 0.05); the defects are not.
        assert!(
            rms(&left) < 0.45 * rms(&lattice),
            "{} vs {}",
            rms(&left),
            rms(&lattice)
        );
        for p in defects {
            let i = p[0] as usize * w + p[1] as usize;
            assert!(cleaned[i] > 0.7, "defect at {p:?}: {}", cleaned[i]);
        }
        // Without a lattice nothing is found.
        let plain: Vec<f64> = y.iter().zip(&lattice).map(|(a, b)| a - b).collect();
        assert!(find_lattice(&plain, &valid, h, w).is_none());
    }
}
