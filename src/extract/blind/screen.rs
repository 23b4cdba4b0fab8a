//! Pixels that no kernel explains, found before and after the search and left out of the fit
//! (weight 0), then reported as the result's `excluded` mask.
//!
//! | cause | how it is found |
//! |---|---|
//! | aborted scan, dropped line | a scan line (row) of one value in every layer (the trailing zero lines of an aborted Nanonis or Createc scan) |
//! | saturation | the map's largest (smallest) value held by at least [`PLATEAU`] pixels: the instrument clipped there |
//! | spike, glitch segment (before the search, in any layer) | a pixel off each of the scan lines above and below it, on the same side, by more than [`OFF_LINE_SIGMA`] robust deviations of the second difference across the lines and by at least [`OFF_LINE_SHARPNESS`] of its height above its surroundings (a glitch belongs to one scan line, while whatever the tip images is blurred across the lines), grown by 1 px along its line |
//! | cluster, pick-up | much stronger than the common defect ([`super::common`]) |
//! | glitch line | a row whose median absolute residual exceeds [`LINE_SIGMA`] robust deviations of the residual |
//! | spike | a residual beyond [`SPIKE_SIGMA`] robust deviations, farther than [`SPIKE_CLEARANCE`] px from every defect found |
//! | clump (a cluster the kernels could not explain) | at least [`CLUMP_PIXELS`] connected residuals beyond [`CLUMP_SIGMA`] robust deviations holding no defect found or three and more (a defect's own core, fitted a little off, holds one, a dimer two), grown by [`CLUMP_MARGIN`] px; defects found there go |

use super::common::robust_sigma;
use crate::Result;
use crate::progress::{Progress, check_cancelled};

/// A pixel off both neighbouring scan lines by this many robust deviations of the second
/// difference across the lines ...
const OFF_LINE_SIGMA: f64 = 8.0;
/// ... and by at least this fraction of its height above the median of the pixels 2 px away
/// is off its scan line: a spike or a glitch. A centred Gaussian core of FWHM 2 px reaches
/// 0.5 (0.6 at 1.75 px), a one-line event 1.
const OFF_LINE_SHARPNESS: f64 = 0.75;
/// Along the row from a pixel off its line, a glitch segment goes on through pixels off the
/// lines by this many robust deviations ...
const OFF_LINE_LOW_SIGMA: f64 = 3.0;
/// ... with gaps of at most this many pixels.
const GLITCH_GAP: usize = 3;
/// Pixels at the extreme value that make a plateau (saturation).
const PLATEAU: usize = 6;
/// A row whose median absolute residual is this many robust deviations is a glitch.
const LINE_SIGMA: f64 = 4.0;
/// Connected residuals beyond this many robust deviations ...
const CLUMP_SIGMA: f64 = 5.0;
/// ... over at least this many pixels are a clump no kernel explains (a cluster).
const CLUMP_PIXELS: usize = 40;
/// Margin around a clump, in pixels.
const CLUMP_MARGIN: isize = 2;
/// A residual this many robust deviations is a spike ...
const SPIKE_SIGMA: f64 = 10.0;
/// ... when it is at least this far from every defect found, in pixels.
const SPIKE_CLEARANCE: f64 = 3.0;

/// What the screen left out, by cause (pixel counts, rows for lines).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Screened {
    /// Rows of one value (aborted scans, dropped lines).
    pub constant_rows: usize,
    /// Pixels at a saturated extreme.
    pub saturated: usize,
    /// Outliers much stronger than the common defect, and their pixels.
    pub outliers: usize,
    pub outlier_pixels: usize,
    /// Pixels off their scan line (spikes, glitch segments) found before the search.
    pub off_line: usize,
    /// Glitch rows and spike pixels found in the residual.
    pub glitch_rows: usize,
    pub spikes: usize,
    /// Clumps of large residual (clusters the kernels could not explain) and their pixels.
    pub clumps: usize,
    pub clump_pixels: usize,
}

impl Screened {
    /// One line for a summary, empty when nothing was left out.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.constant_rows > 0 {
            parts.push(format!(
                "{} constant scan lines (aborted scan?)",
                self.constant_rows
            ));
        }
        if self.off_line > 0 {
            parts.push(format!(
                "{} pixels off their scan line (spikes, glitch segments)",
                self.off_line
            ));
        }
        if self.saturated > 0 {
            parts.push(format!("{} saturated pixels", self.saturated));
        }
        if self.outliers > 0 {
            parts.push(format!(
                "{} outliers much stronger than the common defect ({} px)",
                self.outliers, self.outlier_pixels
            ));
        }
        if self.glitch_rows > 0 {
            parts.push(format!("{} glitch lines", self.glitch_rows));
        }
        if self.spikes > 0 {
            parts.push(format!("{} spike pixels", self.spikes));
        }
        if self.clumps > 0 {
            parts.push(format!(
                "{} clumps the kernels leave unexplained ({} px)",
                self.clumps, self.clump_pixels
            ));
        }
        parts.join(", ")
    }
}

/// Set to 0 the weights of rows of one value in every layer (`layers[e]` is `H x W`); the
/// count goes to `notes`. These pixels were never measured: nothing may use them.
pub fn constant_rows(
    layers: &[Vec<f64>],
    valid: &mut [f64],
    h: usize,
    w: usize,
    notes: &mut Screened,
) {
    for r in 0..h {
        let row = r * w..(r + 1) * w;
        let constant = layers.iter().all(|y| {
            let first = y[row.start];
            y[row.clone()].iter().all(|x| *x == first)
        });
        if constant && valid[row.clone()].iter().any(|v| *v > 0.0) {
            valid[row].iter_mut().for_each(|v| *v = 0.0);
            notes.constant_rows += 1;
        }
    }
}

/// Set to 0 the weights (`seen` and `valid`) of pixels off their scan line in any layer
/// (`layers[e]` is `H x W`): spikes and glitch segments, which belong to one scan line, while
/// everything the tip images (a defect's core included) is blurred across the lines. The
/// count goes to `notes`. The first and last rows, and pixels whose neighbours were not
/// measured, are not judged. Cancellation is polled once per layer.
pub fn off_line(
    layers: &[Vec<f64>],
    seen: &mut [f64],
    valid: &mut [f64],
    h: usize,
    w: usize,
    notes: &mut Screened,
    progress: &dyn Progress,
) -> Result<()> {
    if h < 5 || w < 5 {
        return Ok(());
    }
    let mut marked = vec![false; h * w];
    let measured = |seen: &[f64], i: usize| seen[i] > 0.0;
    for y in layers {
        check_cancelled(progress)?;
        // Second difference across the scan lines, where it can be taken.
        let mut e = vec![0.0; h * w];
        let mut usable = vec![0.0; h * w];
        for r in 1..h - 1 {
            for c in 0..w {
                let i = r * w + c;
                if measured(seen, i) && measured(seen, i - w) && measured(seen, i + w) {
                    e[i] = y[i] - 0.5 * (y[i - w] + y[i + w]);
                    usable[i] = 1.0;
                }
            }
        }
        let sigma = robust_sigma(&e, &usable);
        if sigma <= 0.0 {
            continue;
        }
        for r in 2..h - 2 {
            for c in 2..w - 2 {
                let i = r * w + c;
                if usable[i] == 0.0 || e[i].abs() <= OFF_LINE_SIGMA * sigma {
                    continue;
                }
                // Its surroundings: the median of the measured pixels 2 px away.
                let mut around: Vec<f64> = [
                    (-2, -2),
                    (-2, 0),
                    (-2, 2),
                    (0, -2),
                    (0, 2),
                    (2, -2),
                    (2, 0),
                    (2, 2),
                ]
                .iter()
                .map(|&(dr, dc): &(isize, isize)| {
                    ((r as isize + dr) as usize) * w + (c as isize + dc) as usize
                })
                .filter(|&j| measured(seen, j))
                .map(|j| y[j])
                .collect();
                if around.len() < 4 {
                    continue;
                }
                let mid = around.len() / 2;
                let level = *around.select_nth_unstable_by(mid, f64::total_cmp).1;
                let sign = e[i].signum();
                let height = (y[i] - level) * sign;
                // Off both neighbouring lines, each by much more than the noise and by most
                // of its height (the edge of a saturated plateau is off one of them only).
                let step = ((y[i] - y[i - w]) * sign).min((y[i] - y[i + w]) * sign);
                if height > 0.0
                    && step > OFF_LINE_SIGMA * sigma
                    && step >= OFF_LINE_SHARPNESS * height
                {
                    marked[i] = true;
                }
            }
        }
        // A glitch segment's own pixels scatter about its offset, some below the threshold:
        // along the row from each marked pixel, the segment goes on while a pixel within
        // `GLITCH_GAP` px is off the lines by `OFF_LINE_LOW_SIGMA` deviations (hysteresis).
        for r in 2..h - 2 {
            let row = r * w..(r + 1) * w;
            if !marked[row.clone()].iter().any(|m| *m) {
                continue;
            }
            let loud = |c: usize| {
                usable[r * w + c] > 0.0 && e[r * w + c].abs() > OFF_LINE_LOW_SIGMA * sigma
            };
            for forward in [true, false] {
                let mut run: Option<usize> = None;
                for c in (0..w).map(|k| if forward { k } else { w - 1 - k }) {
                    let i = r * w + c;
                    if marked[i] {
                        run = Some(0);
                    } else if let Some(gap) = run {
                        if loud(c) {
                            marked[i] = true;
                            run = Some(0);
                        } else if gap < GLITCH_GAP {
                            run = Some(gap + 1);
                        } else {
                            run = None;
                        }
                    }
                }
            }
            // The quiet pixels between two marked ones within the gap belong to the segment.
            let mut last: Option<usize> = None;
            for c in 0..w {
                if marked[r * w + c] {
                    if let Some(l) = last.filter(|&l| c - l <= GLITCH_GAP + 1) {
                        marked[r * w + l..r * w + c]
                            .iter_mut()
                            .for_each(|m| *m = true);
                    }
                    last = Some(c);
                }
            }
        }
    }
    // Grown by one pixel along the scan line.
    let grown: Vec<bool> = (0..h * w)
        .map(|i| {
            let c = i % w;
            marked[i] || (c > 0 && marked[i - 1]) || (c + 1 < w && marked[i + 1])
        })
        .collect();
    for (i, g) in grown.iter().enumerate() {
        if *g && seen[i] > 0.0 {
            seen[i] = 0.0;
            valid[i] = 0.0;
            notes.off_line += 1;
        }
    }
    Ok(())
}

/// Set to 0 the weights of saturated plateaus of the layers; the count goes to `notes`. A
/// clipped core still shows where a defect is (the search may look at it), but its values
/// are not the kernel's (the fit may not).
pub fn saturated(layers: &[Vec<f64>], valid: &mut [f64], h: usize, w: usize, notes: &mut Screened) {
    for y in layers {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, v) in y.iter().zip(valid.iter()) {
            if *v > 0.0 {
                lo = lo.min(*x);
                hi = hi.max(*x);
            }
        }
        if lo >= hi {
            continue;
        }
        for extreme in [lo, hi] {
            let at: Vec<usize> = (0..h * w)
                .filter(|&i| valid[i] > 0.0 && y[i] == extreme)
                .collect();
            if at.len() >= PLATEAU {
                notes.saturated += at.len();
                for i in at {
                    valid[i] = 0.0;
                }
            }
        }
    }
}

/// Set to 0 the weights of glitch rows, clumps and spikes of the residual `r` (0 where
/// invalid), spikes only away from the `positions` found; counts go to `notes`. Returns the
/// clumps' pixels (defects found there are not defects).
pub fn residual(
    r: &[f64],
    valid: &mut [f64],
    h: usize,
    w: usize,
    positions: &[[f64; 2]],
    notes: &mut Screened,
) -> Vec<bool> {
    let mut clumped = vec![false; h * w];
    let sigma = robust_sigma(r, valid);
    if sigma <= 0.0 {
        return clumped;
    }
    for row in 0..h {
        let span = row * w..(row + 1) * w;
        let mut a: Vec<f64> = r[span.clone()]
            .iter()
            .zip(&valid[span.clone()])
            .filter(|(_, v)| **v > 0.0)
            .map(|(x, _)| x.abs())
            .collect();
        if a.len() < w / 2 {
            continue;
        }
        let mid = a.len() / 2;
        if *a.select_nth_unstable_by(mid, f64::total_cmp).1 > LINE_SIGMA * sigma {
            valid[span].iter_mut().for_each(|v| *v = 0.0);
            notes.glitch_rows += 1;
        }
    }
    // Clumps: 4-connected regions of large residual.
    let big = |i: usize| valid[i] > 0.0 && r[i].abs() > CLUMP_SIGMA * sigma;
    let mut seen = vec![false; h * w];
    for start in 0..h * w {
        if seen[start] || !big(start) {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut region = Vec::new();
        while let Some(i) = stack.pop() {
            region.push(i);
            let (row, col) = (i / w, i % w);
            let next = [
                (row > 0).then(|| i - w),
                (row + 1 < h).then(|| i + w),
                (col > 0).then(|| i - 1),
                (col + 1 < w).then(|| i + 1),
            ];
            for j in next.into_iter().flatten() {
                if !seen[j] && big(j) {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        // A defect's own core, which the kernel fits a little off (saturation, a tip change),
        // holds that one defect (two for a dimer); a cluster holds none or many.
        let inside = positions
            .iter()
            .filter(|p| {
                let (pr, pc) = (p[0].round(), p[1].round());
                pr >= 0.0
                    && pc >= 0.0
                    && (pr as usize) < h
                    && (pc as usize) < w
                    && region.contains(&(pr as usize * w + pc as usize))
            })
            .count();
        if region.len() < CLUMP_PIXELS || (1..=2).contains(&inside) {
            continue;
        }
        notes.clumps += 1;
        for i in region {
            let (row, col) = ((i / w) as isize, (i % w) as isize);
            for dr in -CLUMP_MARGIN..=CLUMP_MARGIN {
                for dc in -CLUMP_MARGIN..=CLUMP_MARGIN {
                    let (rr, cc) = (row + dr, col + dc);
                    if rr >= 0 && cc >= 0 && (rr as usize) < h && (cc as usize) < w {
                        clumped[rr as usize * w + cc as usize] = true;
                    }
                }
            }
        }
    }
    for (v, c) in valid.iter_mut().zip(&clumped) {
        if *c && *v > 0.0 {
            *v = 0.0;
            notes.clump_pixels += 1;
        }
    }
    for i in 0..h * w {
        if valid[i] <= 0.0 || r[i].abs() <= SPIKE_SIGMA * sigma {
            continue;
        }
        let (row, col) = (i / w, i % w);
        let close = positions
            .iter()
            .any(|p| (p[0] - row as f64).hypot(p[1] - col as f64) <= SPIKE_CLEARANCE);
        if !close {
            valid[i] = 0.0;
            notes.spikes += 1;
        }
    }
    clumped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn trailing_zero_lines_and_plateaus_are_left_out() {
        let (h, w) = (16, 12);
        let mut y: Vec<f64> = (0..h * w)
            .map(|i| ((i * 7919) % 101) as f64 * 0.01)
            .collect();
        for x in y[13 * w..].iter_mut() {
            *x = 0.0;
        }
        for i in [20, 21, 22, 32, 33, 34] {
            y[i] = 5.0;
        }
        let mut valid = vec![1.0; h * w];
        let mut notes = Screened::default();
        constant_rows(&[y.clone()], &mut valid, h, w, &mut notes);
        saturated(&[y.clone()], &mut valid, h, w, &mut notes);
        assert_eq!(notes.constant_rows, 3);
        assert_eq!(notes.saturated, 6);
        assert!(valid[13 * w..].iter().all(|v| *v == 0.0));
        assert_eq!(valid[20], 0.0);
        assert_eq!(valid[5 * w + 3], 1.0);
        assert!(notes.describe().contains("3 constant scan lines"));
    }

    #[test]
    fn spikes_far_from_defects_and_glitch_rows_go_defects_stay() {
        let (h, w) = (20, 20);
        let mut rng = crate::rng::Rng::new(1);
        let mut r: Vec<f64> = (0..h * w).map(|_| rng.normal()).collect();
        r[3 * w + 3] = 50.0; // a spike, far from the defect
        r[10 * w + 10] = 50.0; // at the defect: a core the model misses, kept
        for x in r[15 * w..16 * w].iter_mut() {
            *x += 9.0; // a glitch row
        }
        let mut valid = vec![1.0; h * w];
        let mut notes = Screened::default();
        let clumped = residual(&r, &mut valid, h, w, &[[10.2, 9.8]], &mut notes);
        assert!(clumped.iter().all(|c| !c), "no clump in this residual");
        assert_eq!(valid[3 * w + 3], 0.0);
        assert_eq!(valid[10 * w + 10], 1.0);
        assert_eq!(notes.glitch_rows, 1);
        assert!(valid[15 * w..16 * w].iter().all(|v| *v == 0.0));
        assert_eq!(notes.spikes, 1);
    }

    /// A smooth map with white noise (sigma 0.2) and Gaussian cores of FWHM `fwhm` px, height
    /// 60, at subpixel positions.
    fn cores(h: usize, w: usize, fwhm: f64, at: &[[f64; 2]]) -> Vec<f64> {
        let mut rng = crate::rng::Rng::new(7);
        let s2 = (fwhm / 2.3548).powi(2);
        (0..h * w)
            .map(|i| {
                let (r, c) = ((i / w) as f64, (i % w) as f64);
                let bumps: f64 = at
                    .iter()
                    .map(|p| 60.0 * (-((r - p[0]).powi(2) + (c - p[1]).powi(2)) / (2.0 * s2)).exp())
                    .sum();
                0.05 * c + bumps + 0.2 * rng.normal()
            })
            .collect()
    }

    #[test]
    fn spikes_and_glitch_segments_are_off_their_line_and_sharp_cores_are_not() {
        let (h, w) = (64, 64);
        let at = [[20.0, 20.0], [20.3, 44.6], [44.5, 20.2], [44.0, 44.0]];
        for fwhm in [1.75, 2.0, 3.0] {
            let mut y = cores(h, w, fwhm, &at);
            // A saturated core: clipped at 40.
            for v in y.iter_mut() {
                *v = v.min(40.0);
            }
            // A spike of 30, a dark one of -20 and a glitch segment of +10 on row 32.
            y[10 * w + 50] += 30.0;
            y[54 * w + 8] -= 20.0;
            for c in 25..40 {
                y[32 * w + c] += 10.0;
            }
            let (mut seen, mut valid) = (vec![1.0; h * w], vec![1.0; h * w]);
            let mut notes = Screened::default();
            off_line(&[y], &mut seen, &mut valid, h, w, &mut notes, &NoProgress).unwrap();
            let out = |r: usize, c: usize| seen[r * w + c] == 0.0 && valid[r * w + c] == 0.0;
            assert!(out(10, 50) && out(54, 8), "fwhm {fwhm}: a spike stayed");
            assert!(
                (25..40).all(|c| out(32, c)),
                "fwhm {fwhm}: the glitch stayed"
            );
            for p in at {
                let (r, c) = (p[0] as usize, p[1] as usize);
                for (dr, dc) in (0..25).map(|k| (k / 5, k % 5)) {
                    assert!(
                        !out(r + dr - 2, c + dc - 2),
                        "fwhm {fwhm}: the core at {p:?} lost ({}, {})",
                        r + dr - 2,
                        c + dc - 2
                    );
                }
            }
            // Spikes, grown by 1 px along the line, and the glitch (15 px and 2 ends).
            assert_eq!(notes.off_line, 3 + 3 + 17, "fwhm {fwhm}");
        }
    }

    #[test]
    fn noise_has_nothing_off_its_line() {
        let (h, w) = (128, 128);
        let y = cores(h, w, 2.5, &[]);
        let (mut seen, mut valid) = (vec![1.0; h * w], vec![1.0; h * w]);
        let mut notes = Screened::default();
        off_line(&[y], &mut seen, &mut valid, h, w, &mut notes, &NoProgress).unwrap();
        assert_eq!(notes.off_line, 0);
    }
}
