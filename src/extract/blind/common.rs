//! The common defect of a real scan, before any kernel is fitted: the pattern that repeats most
//! often, not the strongest one.
//!
//! A measured map is not only its defects: a cluster of adatoms, a tip pick-up or a pit is
//! often the strongest feature of the scan, 3-10 times an adatom and shaped like none of them.
//! A search that starts from the strongest extremum takes it as the kernel. Here the start is
//! the pattern that most places share:
//!
//! 1. **Candidates.** The map is band-passed (Gaussian of 1 px minus Gaussian of
//!    [`WIDE_SIGMA`] px, which removes the background and steps' plateaus), and its local
//!    extrema above [`CANDIDATE_SIGMA`] robust noise deviations (1.4826 x the median absolute
//!    deviation) are candidates, the strongest [`MAX_CANDIDATES`] of them.
//! 2. **Groups by looks.** Each candidate's band-passed window (side `2 x` [`LOOK_RADIUS`]
//!    `+ 1`, unit norm, signed) is compared with every other's by their dot product. The
//!    group of a candidate is it and its look-alikes (dot above [`LIKENESS`]); the group with
//!    the largest count times the square root of its median strength wins: many first, then
//!    strong, so a kernel's centre rather than one of its rings (which repeat as often,
//!    weaker), and the common adatom rather than a few clusters (stronger, but rare).
//!    A group whose members lie along a line across at least half the map ([`super::lines`])
//!    is a step edge or a scratch; one on a few scan lines is streaks:
//!    its footprint is left out and the next group is taken.
//! 3. **Outliers.** A candidate of the group's sign stronger than [`OUTLIER_FACTOR`] times the
//!    group's median strength is not the common defect (a cluster, a pick-up): its footprint
//!    ([`super::footprint`]: where the band-passed map keeps its sign above a quarter of its
//!    peak, and the raised plateau around it) is left out of the fit.
//! 4. **Kernel size.** The mean of the group's windows of the map (trimmed at [`TRIM_SIGMA`]
//!    robust deviations, so that a neighbour's core in one window does not count) and its
//!    standard error are compared ring by ring: the kernel reaches as far as the mean's power
//!    stands above [`SIZE_SNR`] times its error's, plus a margin of 3 px.
//!
//! Positions are `(row, col)` pixels; windows are row-major with the candidate at their centre.

use super::footprint::{disk, footprint, raised};
use super::lines::{line_of, streak_segments, strip};
use super::terraces::Line;

/// Width of the wide Gaussian of the band-pass, in pixels.
const WIDE_SIGMA: f64 = 5.0;
/// Candidates stand above this many robust noise deviations of the band-passed map.
const CANDIDATE_SIGMA: f64 = 4.0;
/// Most candidates compared (the strongest).
const MAX_CANDIDATES: usize = 700;
/// Half the side of the window that says what a candidate looks like, in pixels.
const LOOK_RADIUS: usize = 6;
/// Two candidates look alike when their unit windows' dot product exceeds this.
const LIKENESS: f64 = 0.75;
/// A group needs at least this many members to be a repeated pattern.
pub const MIN_GROUP: usize = 3;
/// Pixels within this distance of a line group's members are left out.
const LINE_CLEARANCE: f64 = 8.0;
/// Line-shaped groups left out before the search gives up.
const MAX_LINES: usize = 4;
/// Streak groups left out at most.
const MAX_STREAK_GROUPS: usize = 3;
/// Candidates this many times stronger than the group's median are outliers.
const OUTLIER_FACTOR: f64 = 2.5;
/// The kernel reaches as far as its mean window stands this far above its error (in power).
const SIZE_SNR: f64 = 4.0;
/// Values farther than this many robust deviations from the members' median are left out of
/// their mean.
const TRIM_SIGMA: f64 = 3.0;

/// A Gaussian blur of `x` (standard deviation `sigma` px, truncated at `2 sigma`, separable)
/// over the pixels of nonzero weight, renormalised by the weight it saw (0 where it saw under
/// a fifth of the full weight).
pub fn gaussian_blur(x: &[f64], valid: &[f64], h: usize, w: usize, sigma: f64) -> Vec<f64> {
    let radius = (2.0 * sigma).ceil().max(1.0) as isize;
    let taps: Vec<f64> = (-radius..=radius)
        .map(|d| (-0.5 * (d as f64 / sigma).powi(2)).exp())
        .collect();
    let total: f64 = taps.iter().sum();
    let taps: Vec<f64> = taps.iter().map(|t| t / total).collect();
    let pass = |src: &[f64], along_rows: bool| -> Vec<f64> {
        let mut out = vec![0.0; h * w];
        for r in 0..h {
            for c in 0..w {
                let mut acc = 0.0;
                for (j, t) in taps.iter().enumerate() {
                    let d = j as isize - radius;
                    let (rr, cc) = if along_rows {
                        (r as isize, c as isize + d)
                    } else {
                        (r as isize + d, c as isize)
                    };
                    if rr < 0 || cc < 0 || rr >= h as isize || cc >= w as isize {
                        continue;
                    }
                    acc += t * src[rr as usize * w + cc as usize];
                }
                out[r * w + c] = acc;
            }
        }
        out
    };
    // A missing pixel may hold NaN: it counts as 0 with weight 0.
    let weighted: Vec<f64> = x
        .iter()
        .zip(valid)
        .map(|(a, v)| if *v > 0.0 { a * v } else { 0.0 })
        .collect();
    let value = pass(&pass(&weighted, true), false);
    let norm = pass(&pass(valid, true), false);
    value
        .iter()
        .zip(&norm)
        .map(|(v, n)| if *n > 0.2 { v / n } else { 0.0 })
        .collect()
}

/// Robust standard deviation (1.4826 x the median absolute deviation from the median) of the
/// entries of nonzero weight; 0 when there are none.
pub fn robust_sigma(x: &[f64], valid: &[f64]) -> f64 {
    let mut v: Vec<f64> = x
        .iter()
        .zip(valid)
        .filter(|(_, m)| **m > 0.0)
        .map(|(a, _)| *a)
        .collect();
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let median = *v.select_nth_unstable_by(mid, f64::total_cmp).1;
    let mut dev: Vec<f64> = v.iter().map(|a| (a - median).abs()).collect();
    1.4826 * *dev.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// The index of the pixel `(dr, dc)` from `c` on an `h x w` map, `None` off the map.
fn offset(h: usize, w: usize, c: &Candidate, dr: isize, dc: isize) -> Option<usize> {
    let (rr, cc) = (c.row as isize + dr, c.col as isize + dc);
    (rr >= 0 && cc >= 0 && rr < h as isize && cc < w as isize)
        .then(|| rr as usize * w + cc as usize)
}

/// The index of pixel `k` of the window of side `2 radius + 1` centred on `c`, `None` off the
/// map.
fn window_pixel(h: usize, w: usize, c: &Candidate, radius: usize, k: usize) -> Option<usize> {
    let side = 2 * radius + 1;
    let r = radius as isize;
    offset(h, w, c, (k / side) as isize - r, (k % side) as isize - r)
}

/// One candidate: its pixel and its band-passed value (signed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub row: usize,
    pub col: usize,
    pub value: f64,
}

/// What the map's candidates say: the common defect's members and the outliers' footprint.
#[derive(Clone, Debug)]
pub struct Common {
    /// The group's members (the common defect's strongest extremum, one per defect).
    pub members: Vec<Candidate>,
    /// The group's sign (+1 bright, -1 dark) and median strength (band-passed).
    pub sign: f64,
    pub strength: f64,
    /// `H x W`: `true` on the outliers' footprints.
    pub outliers: Vec<bool>,
    /// How many outliers were found.
    pub outlier_count: usize,
    /// How many line-shaped groups (step edges, scratches) were left out.
    pub lines: usize,
    /// Each line-shaped group's straight line, and `H x W`: `true` on their bands (also in
    /// `outliers`).
    pub steps: Vec<Line>,
    pub step_band: Vec<bool>,
    /// How many scan-line streak segments were left out (in `outliers`).
    pub streaks: usize,
}

/// The local extrema of the band-passed map above the noise, strongest first: those whose
/// look lies inside the map, and those within [`LOOK_RADIUS`] of its edge (which can be
/// outliers but not members: a window cut by the edge does not show what they look like).
fn candidates(band: &[f64], valid: &[f64], h: usize, w: usize) -> (Vec<Candidate>, Vec<Candidate>) {
    let sigma = robust_sigma(band, valid);
    if sigma <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let floor = CANDIDATE_SIGMA * sigma;
    let mut out = Vec::new();
    let mut at_edge = Vec::new();
    for r in 0..h {
        for c in 0..w {
            let i = r * w + c;
            let v = band[i];
            let edge =
                r < LOOK_RADIUS || c < LOOK_RADIUS || r + LOOK_RADIUS >= h || c + LOOK_RADIUS >= w;
            if valid[i] <= 0.0 || v.abs() <= floor {
                continue;
            }
            let mut top = true;
            'scan: for rr in r.saturating_sub(2)..(r + 3).min(h) {
                for cc in c.saturating_sub(2)..(c + 3).min(w) {
                    let j = rr * w + cc;
                    if j != i && (band[j] * v.signum() > v.abs() || (band[j] == v && j < i)) {
                        top = false;
                        break 'scan;
                    }
                }
            }
            if top {
                let found = Candidate {
                    row: r,
                    col: c,
                    value: v,
                };
                if edge {
                    at_edge.push(found);
                } else {
                    out.push(found);
                }
            }
        }
    }
    out.sort_by(|a, b| b.value.abs().total_cmp(&a.value.abs()));
    out.truncate(MAX_CANDIDATES);
    (out, at_edge)
}

/// A candidate's look: its band-passed window, unit norm (0 off the map and where invalid).
fn look(band: &[f64], valid: &[f64], h: usize, w: usize, p: &Candidate) -> Vec<f64> {
    let side = 2 * LOOK_RADIUS + 1;
    let mut v = vec![0.0; side * side];
    for (k, x) in v.iter_mut().enumerate() {
        if let Some(j) = window_pixel(h, w, p, LOOK_RADIUS, k) {
            *x = band[j] * valid[j];
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Median of the absolute values (0 for none).
fn median_abs(v: impl Iterator<Item = f64>) -> f64 {
    let mut a: Vec<f64> = v.map(f64::abs).collect();
    if a.is_empty() {
        return 0.0;
    }
    let mid = a.len() / 2;
    *a.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// `y` less its least-squares plane over the pixels of nonzero weight.
pub fn without_plane(y: &[f64], valid: &[f64], h: usize, w: usize) -> Vec<f64> {
    // Normal equations of [1, row, col], centred for conditioning.
    let (cr, cc) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let mut a = [[0.0f64; 3]; 3];
    let mut b = [0.0f64; 3];
    for i in 0..h * w {
        if valid[i] > 0.0 {
            let f = [1.0, (i / w) as f64 - cr, (i % w) as f64 - cc];
            for j in 0..3 {
                b[j] += f[j] * y[i];
                for k in 0..3 {
                    a[j][k] += f[j] * f[k];
                }
            }
        }
    }
    // Cramer's rule on the 3 x 3 system (a singular one, too few pixels: no plane).
    let det3 = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det3(&a);
    let coef: Vec<f64> = (0..3)
        .map(|j| {
            if d.abs() <= 1e-12 * a[0][0].powi(3).max(1e-300) {
                return 0.0;
            }
            let mut m = a;
            for (row, bi) in m.iter_mut().zip(&b) {
                row[j] = *bi;
            }
            det3(&m) / d
        })
        .collect();
    (0..h * w)
        .map(|i| y[i] - coef[0] - coef[1] * ((i / w) as f64 - cr) - coef[2] * ((i % w) as f64 - cc))
        .collect()
}

/// The band-passed map: Gaussian of 1 px minus Gaussian of [`WIDE_SIGMA`] px, of the map less
/// its plane (whose one-sided blur at the edges would otherwise stand out).
pub fn band_pass(y: &[f64], valid: &[f64], h: usize, w: usize) -> Vec<f64> {
    let y = without_plane(y, valid, h, w);
    let fine = gaussian_blur(&y, valid, h, w, 1.0);
    let wide = gaussian_blur(&y, valid, h, w, WIDE_SIGMA);
    fine.iter()
        .zip(&wide)
        .zip(valid)
        .map(|((a, b), v)| if *v > 0.0 { a - b } else { 0.0 })
        .collect()
}

/// The common defect of `y` (`h x w`, weights `valid`), or `None` when no pattern repeats
/// [`MIN_GROUP`] times.
pub fn find_common(y: &[f64], valid: &[f64], h: usize, w: usize) -> Option<Common> {
    let band = band_pass(y, valid, h, w);
    let (cands, at_edge) = candidates(&band, valid, h, w);
    if cands.len() < MIN_GROUP {
        return None;
    }
    let looks: Vec<Vec<f64>> = cands.iter().map(|p| look(&band, valid, h, w, p)).collect();
    let n = cands.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut alike: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            if dot(&looks[i], &looks[j]) > LIKENESS {
                alike[i].push(j);
                alike[j].push(i);
            }
        }
    }
    let mut banned = vec![false; n];
    let mut outliers = vec![false; h * w];
    let mut outlier_count = 0;
    let mut lines = 0;
    let mut steps = Vec::new();
    let mut step_band = vec![false; h * w];
    let mut streaks = 0;
    // A step reaches across at least a third of the map's shorter side.
    let min_step = h.min(w) as f64 / 3.0;
    for _ in 0..MAX_LINES + MAX_STREAK_GROUPS + 1 {
        let group_of = |i: usize| -> Vec<usize> {
            std::iter::once(i)
                .chain(alike[i].iter().copied())
                .filter(|&j| !banned[j] && cands[j].value.signum() == cands[i].value.signum())
                .collect()
        };
        let weight = |i: usize| {
            let g = group_of(i);
            g.len() as f64 * median_abs(g.iter().map(|&j| cands[j].value)).sqrt()
        };
        let seed = (0..n)
            .filter(|&i| !banned[i] && group_of(i).len() >= MIN_GROUP)
            .max_by(|&a, &b| weight(a).total_cmp(&weight(b)))?;
        let group = group_of(seed);
        let points: Vec<Candidate> = group.iter().map(|&j| cands[j]).collect();
        if let Some(line) = line_of(&points, min_step) {
            // A step edge or a scratch: its extrema look alike along it. Left out, with the
            // band beside it where the step's own shape shows.
            for &j in &group {
                banned[j] = true;
                disk(h, w, &cands[j], LINE_CLEARANCE, &mut step_band);
            }
            strip(h, w, &points, &line, LINE_CLEARANCE, &mut step_band);
            steps.push(line);
            lines += 1;
            continue;
        }
        if let Some(segments) = streak_segments(&points) {
            // Scan-line streaks (not one straight line: that is a step): bumps that look alike because they are pieces of one row.
            for &j in &group {
                banned[j] = true;
            }
            for (row, c0, c1) in &segments {
                for r in row.saturating_sub(1)..(row + 2).min(h) {
                    for c in c0.saturating_sub(2)..(c1 + 3).min(w) {
                        outliers[r * w + c] = true;
                    }
                }
            }
            streaks += segments.len();
            continue;
        }
        let sign = cands[seed].value.signum();
        let strength = median_abs(group.iter().map(|&j| cands[j].value));
        let strong = |c: &Candidate| c.value * sign > OUTLIER_FACTOR * strength;
        let members: Vec<Candidate> = group
            .iter()
            .map(|&j| cands[j])
            .filter(|c| !strong(c))
            .collect();
        if members.len() < MIN_GROUP {
            return None;
        }
        // A cluster is a raised plateau whose middle the band-pass flattens: its footprint
        // also follows its height, on the map smoothed by 1 px.
        let smooth = gaussian_blur(y, valid, h, w, 1.0);
        for c in cands.iter().chain(&at_edge).filter(|c| strong(c)) {
            footprint(&band, valid, h, w, c, &mut outliers);
            raised(&smooth, valid, h, w, c, &mut outliers);
            outlier_count += 1;
        }
        // Steps that the common defect outranks: the other groups that line up.
        for &j in &group {
            banned[j] = true;
        }
        while lines < MAX_LINES {
            let next = (0..n).filter(|&i| !banned[i]).find_map(|i| {
                let g: Vec<usize> = std::iter::once(i)
                    .chain(alike[i].iter().copied())
                    .filter(|&j| !banned[j] && cands[j].value.signum() == cands[i].value.signum())
                    .collect();
                let points: Vec<Candidate> = g.iter().map(|&j| cands[j]).collect();
                line_of(&points, min_step).map(|l| (g, l))
            });
            let Some((g, line)) = next else { break };
            for &j in &g {
                banned[j] = true;
                disk(h, w, &cands[j], LINE_CLEARANCE, &mut step_band);
            }
            let points: Vec<Candidate> = g.iter().map(|&j| cands[j]).collect();
            strip(h, w, &points, &line, LINE_CLEARANCE, &mut step_band);
            steps.push(line);
            lines += 1;
        }
        for (o, b) in outliers.iter_mut().zip(&step_band) {
            *o |= *b;
        }
        return Some(Common {
            members,
            sign,
            strength,
            outliers,
            outlier_count,
            lines,
            steps,
            step_band,
            streaks,
        });
    }
    None
}

/// Each member's level: the median of `y` over its window of side `2 radius + 1` (a step, a
/// tip change or 1/f noise puts members at different heights).
fn levels(
    y: &[f64],
    valid: &[f64],
    h: usize,
    w: usize,
    members: &[Candidate],
    radius: usize,
) -> Vec<f64> {
    let side = 2 * radius + 1;
    members
        .iter()
        .map(|m| {
            let mut v: Vec<f64> = Vec::with_capacity(side * side);
            for k in 0..side * side {
                if let Some(j) = window_pixel(h, w, m, radius, k)
                    && valid[j] > 0.0
                {
                    v.push(y[j]);
                }
            }
            if v.is_empty() {
                return 0.0;
            }
            let mid = v.len() / 2;
            *v.select_nth_unstable_by(mid, f64::total_cmp).1
        })
        .collect()
}

/// The members' windows of `y` (side `2 radius + 1`), each less its level, pixel by pixel:
/// the mean of the values within [`TRIM_SIGMA`] robust deviations of their median (another defect's core in one
/// member's window is not the common pattern), offset by the mean of the outermost ring, and
/// its squared standard error (infinite where fewer than two members see the pixel).
fn mean_window(
    y: &[f64],
    valid: &[f64],
    h: usize,
    w: usize,
    members: &[Candidate],
    radius: usize,
) -> (Vec<f64>, Vec<f64>) {
    let side = 2 * radius + 1;
    let level = levels(y, valid, h, w, members, radius);
    let mut mean = vec![0.0; side * side];
    let mut err = vec![f64::INFINITY; side * side];
    let mut column: Vec<f64> = Vec::with_capacity(members.len());
    let mut dev: Vec<f64> = Vec::with_capacity(members.len());
    for k in 0..side * side {
        column.clear();
        for (m, l) in members.iter().zip(&level) {
            if let Some(j) = window_pixel(h, w, m, radius, k)
                && valid[j] > 0.0
            {
                column.push(y[j] - l);
            }
        }
        if column.len() < 2 {
            continue;
        }
        let mid = column.len() / 2;
        let median = *column.select_nth_unstable_by(mid, f64::total_cmp).1;
        dev.clear();
        dev.extend(column.iter().map(|x| (x - median).abs()));
        let spread = 1.4826 * *dev.select_nth_unstable_by(mid, f64::total_cmp).1;
        let (mut s1, mut s2, mut n) = (0.0, 0.0, 0.0);
        for x in &column {
            if (x - median).abs() <= TRIM_SIGMA * spread {
                s1 += x;
                s2 += x * x;
                n += 1.0;
            }
        }
        if n >= 2.0 {
            mean[k] = s1 / n;
            let var = (s2 / n - mean[k] * mean[k]).max(0.0) * n / (n - 1.0);
            err[k] = var / n;
        }
    }
    // The offset: the mean of the outermost ring.
    let c = radius as f64;
    let ring: Vec<usize> = (0..side * side)
        .filter(|&k| {
            let d = ((k / side) as f64 - c).hypot((k % side) as f64 - c);
            d > c - 2.0 && d <= c && err[k].is_finite()
        })
        .collect();
    if !ring.is_empty() {
        let offset = ring.iter().map(|&k| mean[k]).sum::<f64>() / ring.len() as f64;
        mean.iter_mut().for_each(|x| *x -= offset);
    }
    (mean, err)
}

/// The kernel size the members' mean window supports: odd, at least 9, at most `cap`.
pub fn kernel_size_from_data(
    y: &[f64],
    valid: &[f64],
    h: usize,
    w: usize,
    members: &[Candidate],
    cap: usize,
) -> usize {
    let radius = (cap / 2).max(4);
    let (mean, err) = mean_window(y, valid, h, w, members, radius);
    let side = 2 * radius + 1;
    let bins = radius + 1;
    let (mut power, mut noise, mut count) = (vec![0.0; bins], vec![0.0; bins], vec![0.0; bins]);
    for k in 0..side * side {
        let d = ((k / side) as f64 - radius as f64).hypot((k % side) as f64 - radius as f64);
        let b = d.round() as usize;
        if b < bins && err[k].is_finite() {
            power[b] += mean[k] * mean[k];
            noise[b] += err[k];
            count[b] += 1.0;
        }
    }
    // Three-bin sums: a ring's zero crossing does not end the kernel.
    let mut reach = 3;
    for b in 1..bins.saturating_sub(1) {
        let p: f64 = power[b - 1..=b + 1].iter().sum();
        let e: f64 = noise[b - 1..=b + 1].iter().sum();
        if count[b] > 0.0 && p > SIZE_SNR * e {
            reach = b;
        }
    }
    let s = 2 * (reach + 3) + 1;
    let s = s.clamp(9, cap.max(9));
    if s % 2 == 0 { s - 1 } else { s }
}

/// The start kernel of the common defect (`s x s`): the pixelwise median of the members'
/// windows of `y`, each less its median, tapered to 0 at radius `s / 2`.
pub fn start_kernel(
    y: &[f64],
    valid: &[f64],
    h: usize,
    w: usize,
    members: &[Candidate],
    s: usize,
) -> Vec<f64> {
    let c = (s / 2) as isize;
    let half = s as f64 / 2.0;
    let mut out = vec![0.0; s * s];
    let mut column: Vec<f64> = Vec::with_capacity(members.len());
    let levels = levels(y, valid, h, w, members, s / 2);
    for (k, o) in out.iter_mut().enumerate() {
        let (dr, dc) = ((k / s) as isize - c, (k % s) as isize - c);
        let d = (dr as f64).hypot(dc as f64) / half;
        if d >= 1.0 {
            continue;
        }
        column.clear();
        for (m, level) in members.iter().zip(&levels) {
            if let Some(j) = offset(h, w, m, dr, dc)
                && valid[j] > 0.0
            {
                column.push(y[j] - level);
            }
        }
        if column.is_empty() {
            continue;
        }
        let mid = column.len() / 2;
        let median = *column.select_nth_unstable_by(mid, f64::total_cmp).1;
        *o = median * (0.5 + 0.5 * (std::f64::consts::PI * d).cos());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map of `n` Gaussian bumps of height 1 (sigma 1.2 px) on a grid, plus `big` bumps of
    /// height 8 and sigma 4, plus a weak ring around each small bump.
    fn scene(h: usize, w: usize, big: &[[usize; 2]]) -> (Vec<f64>, Vec<[usize; 2]>) {
        let mut y = vec![0.0; h * w];
        let mut small = Vec::new();
        for r in (12..h - 12).step_by(24) {
            for c in (12..w - 12).step_by(24) {
                small.push([r + (c % 3), c + (r % 5)]);
            }
        }
        let add = |y: &mut Vec<f64>, p: [usize; 2], height: f64, sigma: f64, ring: f64| {
            for r in 0..h {
                for c in 0..w {
                    let d = (r as f64 - p[0] as f64).hypot(c as f64 - p[1] as f64);
                    y[r * w + c] += height * (-0.5 * (d / sigma).powi(2)).exp()
                        + ring * (1.3 * d).cos() / (1.0 + d);
                }
            }
        };
        for &p in &small {
            add(&mut y, p, 1.0, 1.2, 0.02);
        }
        for &p in big {
            add(&mut y, p, 8.0, 4.0, 0.0);
        }
        (y, small)
    }

    #[test]
    fn the_common_bump_wins_over_stronger_clusters() {
        let (h, w) = (128, 128);
        let big = [[40, 40], [90, 70]];
        let (y, small) = scene(h, w, &big);
        let valid = vec![1.0; h * w];
        let common = find_common(&y, &valid, h, w).expect("a repeated pattern");
        assert_eq!(common.sign, 1.0);
        // Every member is one of the small bumps, and most of them are found.
        for m in &common.members {
            assert!(
                small
                    .iter()
                    .any(|p| p[0].abs_diff(m.row) <= 1 && p[1].abs_diff(m.col) <= 1),
                "member at ({}, {}) is not a small bump",
                m.row,
                m.col
            );
        }
        assert!(common.members.len() * 10 >= small.len() * 8);
        // The clusters are outliers, and their centres are left out.
        assert!(common.outlier_count >= 2);
        for p in big {
            assert!(common.outliers[p[0] * w + p[1]]);
        }
    }

    #[test]
    fn noise_has_no_common_pattern() {
        let (h, w) = (96, 96);
        let mut rng = crate::rng::Rng::new(3);
        let y: Vec<f64> = (0..h * w).map(|_| rng.normal()).collect();
        let valid = vec![1.0; h * w];
        assert!(find_common(&y, &valid, h, w).is_none());
    }

    #[test]
    fn blur_of_a_constant_is_the_constant_even_at_the_edges() {
        let (h, w) = (20, 17);
        let mut valid = vec![1.0; h * w];
        valid[5 * w + 5] = 0.0;
        let y = vec![2.5; h * w];
        for v in gaussian_blur(&y, &valid, h, w, 3.0) {
            assert!((v - 2.5).abs() < 1e-12);
        }
    }

    #[test]
    fn kernel_size_follows_the_reach_of_the_rings() {
        let (h, w) = (128, 128);
        let (y, small) = scene(h, w, &[]);
        let valid = vec![1.0; h * w];
        let members: Vec<Candidate> = small
            .iter()
            .map(|p| Candidate {
                row: p[0],
                col: p[1],
                value: 1.0,
            })
            .collect();
        let s = kernel_size_from_data(&y, &valid, h, w, &members, 63);
        assert!((9..=63).contains(&s) && s % 2 == 1, "size {s}");
        // Rings without noise reach the cap.
        assert!(s >= 41, "size {s}");
    }
}
