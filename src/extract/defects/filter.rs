//! Image filters for defect finding: levelling, NaN-tolerant Gaussian blurs, robust statistics.
//!
//! Images are row-major `h x w` slices, rows = scan lines. NaN marks a missing pixel.

use rayon::prelude::*;

/// Gaussian taps `exp(-k^2 / 2 sigma^2)` for `k = -r..=r`, `r = ceil(3 sigma)`, summing to 1.
pub(crate) fn gaussian_taps(sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil().max(1.0) as i64;
    let taps: Vec<f64> = (-r..=r)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = taps.iter().sum();
    taps.into_iter().map(|t| (t / sum) as f32).collect()
}

/// Separable convolution of `src` with `taps` along both axes; outside the image counts as 0.
///
/// Both passes are written as `out += tap * shifted row` so they vectorise; rows in parallel.
pub(crate) fn blur(src: &[f32], h: usize, w: usize, taps: &[f32]) -> Vec<f32> {
    let r = taps.len() / 2;
    // Vertical pass: output row i = sum_k taps[k] * src row (i + k - r).
    let mut tmp = vec![0.0f32; h * w];
    tmp.par_chunks_mut(w).enumerate().for_each(|(i, out)| {
        for (k, &t) in taps.iter().enumerate() {
            let Some(src_row) = (i + k).checked_sub(r).filter(|&s| s < h) else {
                continue;
            };
            let s = &src[src_row * w..(src_row + 1) * w];
            for (o, &x) in out.iter_mut().zip(s) {
                *o += t * x;
            }
        }
    });
    // Horizontal pass on a zero-padded copy of each row.
    let mut out = vec![0.0f32; h * w];
    out.par_chunks_mut(w).zip(tmp.par_chunks(w)).for_each_init(
        || vec![0.0f32; w + 2 * r],
        |pad, (o, row)| {
            pad[r..r + w].copy_from_slice(row);
            for (k, &t) in taps.iter().enumerate() {
                for (y, &x) in o.iter_mut().zip(&pad[k..k + w]) {
                    *y += t * x;
                }
            }
        },
    );
    out
}

/// Normalised convolution: the Gaussian-weighted mean of the finite pixels around each pixel,
/// `G * (z w) / G * w` with `w` = 1 on finite pixels, 0 on NaN and outside the image. Also
/// returns `G * w`, the weight of the evidence (1 inside a fully measured region).
pub(crate) fn blur_normalised(z: &[f32], h: usize, w: usize, sigma: f64) -> (Vec<f32>, Vec<f32>) {
    let taps = gaussian_taps(sigma);
    let all_finite = z.iter().all(|v| v.is_finite());
    let num = if all_finite {
        blur(z, h, w, &taps)
    } else {
        let filled: Vec<f32> = z
            .iter()
            .map(|&v| if v.is_finite() { v } else { 0.0 })
            .collect();
        blur(&filled, h, w, &taps)
    };
    let weight = if all_finite {
        // All measured: G * w is the outer product of the 1-D edge sums.
        let edge = |n: usize| -> Vec<f32> {
            let r = taps.len() / 2;
            (0..n)
                .map(|i| {
                    taps.iter()
                        .enumerate()
                        .filter(|&(k, _)| (i + k).checked_sub(r).is_some_and(|s| s < n))
                        .map(|(_, &t)| t)
                        .sum()
                })
                .collect()
        };
        let (er, ec) = (edge(h), edge(w));
        er.iter()
            .flat_map(|&a| ec.iter().map(move |&b| a * b))
            .collect()
    } else {
        let ones: Vec<f32> = z
            .iter()
            .map(|&v| if v.is_finite() { 1.0 } else { 0.0 })
            .collect();
        blur(&ones, h, w, &taps)
    };
    let mean = num
        .iter()
        .zip(&weight)
        .map(|(&n, &g)| if g > 1e-6 { n / g } else { f32::NAN })
        .collect();
    (mean, weight)
}

/// Subtract the least-squares plane `a + b i + c j` fitted to the finite pixels.
pub(crate) fn subtract_plane(z: &mut [f32], h: usize, w: usize) {
    // Normal equations in centred coordinates, summed row by row in f64.
    let (ci, cj) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let mut m = [[0.0f64; 3]; 3];
    let mut b = [0.0f64; 3];
    for (i, row) in z.chunks(w).enumerate() {
        let y = i as f64 - ci;
        // Per row: count, sum x, sum x^2, sum v, sum x v over finite pixels.
        let (mut n, mut sx, mut sxx, mut sv, mut sxv) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (j, &v) in row.iter().enumerate() {
            if v.is_finite() {
                let (x, v) = (j as f64 - cj, v as f64);
                n += 1.0;
                sx += x;
                sxx += x * x;
                sv += v;
                sxv += x * v;
            }
        }
        m[0][0] += n;
        m[0][1] += n * y;
        m[0][2] += sx;
        m[1][1] += n * y * y;
        m[1][2] += sx * y;
        m[2][2] += sxx;
        b[0] += sv;
        b[1] += sv * y;
        b[2] += sxv;
    }
    m[1][0] = m[0][1];
    m[2][0] = m[0][2];
    m[2][1] = m[1][2];
    let Some([a0, a1, a2]) = solve3(m, b) else {
        return;
    };
    for (i, row) in z.chunks_mut(w).enumerate() {
        let base = (a0 + a1 * (i as f64 - ci) - a2 * cj) as f32;
        let slope = a2 as f32;
        for (j, v) in row.iter_mut().enumerate() {
            *v -= base + slope * j as f32;
        }
    }
}

/// Solve a 3 x 3 system by Cramer's rule; `None` when (nearly) singular, e.g. one finite line.
fn solve3(m: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |a: &[[f64; 3]; 3]| {
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
            - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    };
    let d = det(&m);
    let scale = m[0][0] * m[1][1] * m[2][2];
    // NaN-safe: a NaN determinant fails the test too.
    if d.abs().partial_cmp(&(1e-9 * scale.abs())) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let mut x = [0.0; 3];
    for (col, xc) in x.iter_mut().enumerate() {
        let mut a = m;
        for row in 0..3 {
            a[row][col] = b[row];
        }
        *xc = det(&a) / d;
    }
    Some(x)
}

/// Subtract from each row (scan line) the median of its finite pixels.
pub(crate) fn subtract_line_medians(z: &mut [f32], w: usize) {
    z.par_chunks_mut(w).for_each_init(Vec::new, |buf, row| {
        buf.clear();
        buf.extend(row.iter().copied().filter(|v| v.is_finite()));
        if let Some(m) = median(buf) {
            row.iter_mut().for_each(|v| *v -= m);
        }
    });
}

/// Median of `v` (reorders it); `None` when empty.
pub(crate) fn median(v: &mut [f32]) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable_by(mid, f32::total_cmp).1)
}

/// Robust location and scale of the finite values: median and 1.4826 x MAD (the standard
/// deviation for Gaussian data). At most 2^18 values are used, evenly strided, so the cost
/// stays small on big images. When more than half the values equal the median (noise-free
/// data), the scale is 1.2533 x the mean absolute deviation instead (also the standard
/// deviation for Gaussian data). `None` without finite values or with no spread at all.
pub(crate) fn robust_stats(x: &[f32]) -> Option<(f32, f32)> {
    let stride = (x.len() >> 18).max(1);
    let mut v: Vec<f32> = x
        .iter()
        .step_by(stride)
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let med = median(&mut v)?;
    v.iter_mut().for_each(|x| *x = (*x - med).abs());
    let mean_abs = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let mad = median(&mut v)?;
    let scale = if mad > 0.0 {
        1.4826 * mad
    } else {
        (1.2533 * mean_abs) as f32
    };
    (scale > 0.0).then_some((med, scale))
}

/// Subpixel offset of a peak from three samples `a, b, c` at -1, 0, 1 with `b` the largest:
/// the vertex of a parabola through their logarithms (exact for a Gaussian peak) when all are
/// positive, else through the values. Clamped to [-0.5, 0.5].
pub(crate) fn peak_offset(a: f32, b: f32, c: f32) -> f64 {
    let (a, b, c) = if a > 0.0 && b > 0.0 && c > 0.0 {
        ((a as f64).ln(), (b as f64).ln(), (c as f64).ln())
    } else {
        (a as f64, b as f64, c as f64)
    };
    let curvature = a - 2.0 * b + c;
    if !(curvature.is_finite() && curvature < 0.0) {
        return 0.0;
    }
    (0.5 * (a - c) / curvature).clamp(-0.5, 0.5)
}

/// Least-squares position of a Gaussian bump `A exp(-|x - p|^2 / 2 sigma^2)` on a local plane,
/// fitted to the finite pixels of `sign * z` (`h x w`, row-major) within `radius` of the
/// integer peak `(ci, cj)`, starting from `start` (offsets from the peak).
///
/// The amplitude and plane start from a linear least-squares solve at `start`; then
/// Gauss-Newton refines all six parameters, each step shortened so the position moves at
/// most half a pixel. Fitting the levelled image directly, rather
/// than a filtered one, keeps defects at the image edge and next to missing pixels unbiased
/// (no filter reaches outside the measured pixels). `None` when the fit fails: too few
/// pixels, a non-positive amplitude, or a position more than 1.5 pixels from the peak.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_gaussian(
    z: &[f32],
    h: usize,
    w: usize,
    (ci, cj): (usize, usize),
    start: [f64; 2],
    sigma: f64,
    radius: usize,
    sign: f32,
) -> Option<[f64; 2]> {
    let mut px: Vec<(f64, f64, f64)> = Vec::new();
    for i in ci.saturating_sub(radius)..(ci + radius + 1).min(h) {
        for j in cj.saturating_sub(radius)..(cj + radius + 1).min(w) {
            let v = z[i * w + j];
            if v.is_finite() {
                px.push((
                    i as f64 - ci as f64,
                    j as f64 - cj as f64,
                    (sign * v) as f64,
                ));
            }
        }
    }
    if px.len() < 10 {
        return None;
    }
    let inv2s2 = 1.0 / (2.0 * sigma * sigma);
    let gauss =
        |di: f64, dj: f64, u: f64, v: f64| (-((di - u).powi(2) + (dj - v).powi(2)) * inv2s2).exp();
    let [mut u, mut v] = start;
    // Amplitude and plane (A, b0, b1, b2) at the start position: linear least squares.
    let mut m = [[0.0f64; 4]; 4];
    let mut rhs = [0.0f64; 4];
    for &(di, dj, val) in &px {
        let f = [gauss(di, dj, u, v), 1.0, di, dj];
        for p in 0..4 {
            rhs[p] += f[p] * val;
            for q in 0..4 {
                m[p][q] += f[p] * f[q];
            }
        }
    }
    let [mut a, mut b0, mut b1, mut b2] = solve_n(m, rhs)?;
    // Gauss-Newton on all six parameters; position steps clamped to half a pixel.
    for _ in 0..20 {
        if a.is_nan() || a <= 0.0 {
            return None;
        }
        let (mut jtj, mut jtr) = ([[0.0f64; 6]; 6], [0.0f64; 6]);
        for &(di, dj, val) in &px {
            let g = gauss(di, dj, u, v);
            let r = val - (a * g + b0 + b1 * di + b2 * dj);
            let jac = [
                g,
                1.0,
                di,
                dj,
                a * g * (di - u) * 2.0 * inv2s2,
                a * g * (dj - v) * 2.0 * inv2s2,
            ];
            for p in 0..6 {
                jtr[p] += jac[p] * r;
                for q in 0..6 {
                    jtj[p][q] += jac[p] * jac[q];
                }
            }
        }
        let d = solve_n(jtj, jtr)?;
        // The whole step shortened so the position moves at most half a pixel.
        let move_px = d[4].abs().max(d[5].abs());
        let t = if move_px > 0.5 { 0.5 / move_px } else { 1.0 };
        a += t * d[0];
        b0 += t * d[1];
        b1 += t * d[2];
        b2 += t * d[3];
        u += t * d[4];
        v += t * d[5];
        if t * move_px < 1e-6 {
            break;
        }
    }
    if a.is_nan() || a <= 0.0 {
        return None;
    }
    (u.abs() <= 1.5 && v.abs() <= 1.5).then_some([ci as f64 + u, cj as f64 + v])
}

/// Solve a small dense system by Gaussian elimination with partial pivoting; `None` when
/// singular.
fn solve_n<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    let scale = a.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
    for col in 0..N {
        let piv = (col..N).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        let p = a[piv][col].abs();
        if p.is_nan() || p <= 1e-12 * scale {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (k, row) in rest.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, &p) in row.iter_mut().zip(pivot_row).skip(col) {
                *x -= f * p;
            }
            b[col + 1 + k] -= f * b[col];
        }
    }
    let mut x = [0.0f64; N];
    for row in (0..N).rev() {
        let s: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct 2-D convolution with zero padding, the independent reference.
    fn blur_direct(src: &[f32], h: usize, w: usize, taps: &[f32]) -> Vec<f32> {
        let r = (taps.len() / 2) as i64;
        let mut out = vec![0.0f32; h * w];
        for i in 0..h as i64 {
            for j in 0..w as i64 {
                let mut s = 0.0f64;
                for a in -r..=r {
                    for b in -r..=r {
                        let (y, x) = (i + a, j + b);
                        if (0..h as i64).contains(&y) && (0..w as i64).contains(&x) {
                            s += taps[(a + r) as usize] as f64
                                * taps[(b + r) as usize] as f64
                                * src[(y * w as i64 + x) as usize] as f64;
                        }
                    }
                }
                out[(i * w as i64 + j) as usize] = s as f32;
            }
        }
        out
    }

    #[test]
    fn separable_blur_matches_direct_convolution() {
        let (h, w) = (13, 17);
        let src: Vec<f32> = (0..h * w).map(|k| ((k * 37) % 11) as f32 - 5.0).collect();
        let taps = gaussian_taps(1.3);
        assert!((taps.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let (a, b) = (blur(&src, h, w, &taps), blur_direct(&src, h, w, &taps));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    #[test]
    fn normalised_blur_of_a_constant_is_the_constant_even_with_holes() {
        let (h, w) = (20, 24);
        let mut z = vec![3.5f32; h * w];
        for v in &mut z[5 * w..6 * w] {
            *v = f32::NAN;
        }
        z[100] = f32::NAN;
        let (mean, weight) = blur_normalised(&z, h, w, 2.0);
        assert!(mean.iter().all(|&m| (m - 3.5).abs() < 1e-5));
        assert!(weight.iter().all(|&g| g > 0.0 && g <= 1.0 + 1e-6));
        // Without holes, the closed-form weights equal a blur of ones.
        let full = vec![1.0f32; h * w];
        let (_, closed) = blur_normalised(&full, h, w, 2.0);
        let direct = blur(&full, h, w, &gaussian_taps(2.0));
        for (x, y) in closed.iter().zip(&direct) {
            assert!((x - y).abs() < 1e-5);
        }
    }

    #[test]
    fn levelling_removes_planes_and_line_offsets() {
        let (h, w) = (9, 11);
        let mut z: Vec<f32> = (0..h * w)
            .map(|k| 2.0 + 0.3 * (k / w) as f32 - 0.7 * (k % w) as f32)
            .collect();
        z[7] = f32::NAN;
        subtract_plane(&mut z, h, w);
        assert!(z.iter().filter(|v| v.is_finite()).all(|v| v.abs() < 1e-4));
        let mut lines: Vec<f32> = (0..h * w).map(|k| (k / w) as f32 * 10.0).collect();
        lines[3] = 1e6; // one outlier does not move a median
        subtract_line_medians(&mut lines, w);
        assert_eq!(lines.iter().filter(|v| v.abs() > 0.0).count(), 1);
    }

    #[test]
    fn robust_stats_and_peak_offsets() {
        let v: Vec<f32> = (0..1001).map(|k| k as f32).collect();
        let (m, s) = robust_stats(&v).unwrap();
        assert_eq!(m, 500.0);
        assert!((s - 1.4826 * 250.0).abs() < 1e-3);
        assert!(robust_stats(&[1.0, 1.0, 1.0]).is_none());
        let (m, s) = robust_stats(&[0.0, 0.0, 0.0, 4.0]).unwrap();
        assert_eq!(m, 0.0);
        assert!((s - 1.2533).abs() < 1e-4);
        // A sampled Gaussian peak at 0.3: the log-parabola recovers it exactly.
        let g = |x: f64| (-(x - 0.3f64).powi(2) / (2.0 * 1.2f64.powi(2))).exp() as f32;
        assert!((peak_offset(g(-1.0), g(0.0), g(1.0)) - 0.3).abs() < 1e-5);
        assert_eq!(peak_offset(1.0, 1.0, 1.0), 0.0);
    }

    #[test]
    fn gaussian_fit_finds_bumps_on_planes_even_at_the_edge() {
        let (h, w) = (12, 14);
        for (p, sign) in [([5.3, 7.8], 1.0f32), ([0.4, 12.9], -1.0)] {
            let z: Vec<f32> = (0..h * w)
                .map(|k| {
                    let (i, j) = ((k / w) as f64, (k % w) as f64);
                    let g = (-((i - p[0]).powi(2) + (j - p[1]).powi(2)) / (2.0 * 1.7 * 1.7)).exp();
                    (sign as f64 * 2.0 * g + 0.3 - 0.05 * i + 0.08 * j) as f32
                })
                .collect();
            let peak = (p[0].round() as usize, p[1].round() as usize);
            let fit = fit_gaussian(&z, h, w, peak, [0.0, 0.0], 1.7, 3, sign).unwrap();
            assert!(
                (fit[0] - p[0]).abs() < 1e-3 && (fit[1] - p[1]).abs() < 1e-3,
                "{fit:?} vs {p:?}"
            );
        }
        let x = solve_n([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]).unwrap();
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
        assert!(solve_n([[1.0, 2.0], [2.0, 4.0]], [1.0, 1.0]).is_none());
    }
}
