//! Outliers' footprints: the pixels a cluster, a pick-up or a pit covers, left out of the
//! search and the fit ([`super::common`] finds the outliers).
//!
//! A footprint is the union of two connected regions around the outlier's band-pass
//! extremum, each within [`OUTLIER_REACH`] px and grown by [`OUTLIER_MARGIN`] px:
//! - where the band-passed map keeps the outlier's sign above a quarter of its peak
//!   ([`footprint`]);
//! - where the map, smoothed by 1 px, stands above the local ground by more than
//!   [`RAISED_FRACTION`] of the outlier's height ([`raised`]). A cluster is a raised plateau
//!   whose middle the band-pass flattens; without this, the search tiled its rim with defects
//!   (real-scan seed 6: maxdot 0.62, 0.99 with it).
//!
//! Positions are `(row, col)` pixels; maps are row-major `h x w`.

use super::common::Candidate;

/// How far an outlier's footprint may reach from its extremum, in pixels.
const OUTLIER_REACH: f64 = 30.0;
/// An outlier's raised region: where it stands above the ground by this fraction of its
/// height (a cluster 3-10 adatoms high keeps its whole plateau, not its rings).
const RAISED_FRACTION: f64 = 0.15;
/// Margin around an outlier's footprint, in pixels.
const OUTLIER_MARGIN: usize = 3;

/// Mark the pixels within `radius` of `c`.
pub fn disk(h: usize, w: usize, c: &Candidate, radius: f64, out: &mut [bool]) {
    let r = radius.ceil() as isize;
    for dr in -r..=r {
        for dc in -r..=r {
            let (rr, cc) = (c.row as isize + dr, c.col as isize + dc);
            if rr >= 0
                && cc >= 0
                && (rr as usize) < h
                && (cc as usize) < w
                && ((dr * dr + dc * dc) as f64) <= radius * radius
            {
                out[rr as usize * w + cc as usize] = true;
            }
        }
    }
}

/// Mark the outlier `c`'s footprint: the pixels connected to it where the band-passed map
/// keeps its sign above a quarter of its peak (within [`OUTLIER_REACH`]), grown by
/// [`OUTLIER_MARGIN`].
pub fn footprint(band: &[f64], valid: &[f64], h: usize, w: usize, c: &Candidate, out: &mut [bool]) {
    let sign = c.value.signum();
    flood(
        |i| band[i] * sign,
        valid,
        h,
        w,
        c,
        0.25 * c.value.abs(),
        out,
    );
}

/// Mark the raised region of the outlier `c` (a cluster's plateau, a pit's hollow): the
/// pixels connected to it where `smooth` stands above the local ground (the median within
/// [`OUTLIER_REACH`]) by more than [`RAISED_FRACTION`] of the outlier's height over it,
/// within [`OUTLIER_REACH`], grown by [`OUTLIER_MARGIN`].
pub fn raised(smooth: &[f64], valid: &[f64], h: usize, w: usize, c: &Candidate, out: &mut [bool]) {
    let sign = c.value.signum();
    let reach = OUTLIER_REACH as usize;
    let rows = c.row.saturating_sub(reach)..(c.row + reach + 1).min(h);
    let cols = c.col.saturating_sub(reach)..(c.col + reach + 1).min(w);
    let mut around: Vec<f64> = rows
        .clone()
        .flat_map(|r| cols.clone().map(move |cc| r * w + cc))
        .filter(|&i| valid[i] > 0.0)
        .map(|i| smooth[i] * sign)
        .collect();
    if around.is_empty() {
        return;
    }
    let mid = around.len() / 2;
    let ground = *around.select_nth_unstable_by(mid, f64::total_cmp).1;
    // The outlier's top: the highest point within a few pixels of its band-pass extremum.
    let top = (c.row.saturating_sub(4)..(c.row + 5).min(h))
        .flat_map(|r| (c.col.saturating_sub(4)..(c.col + 5).min(w)).map(move |cc| r * w + cc))
        .filter(|&i| valid[i] > 0.0)
        .map(|i| smooth[i] * sign)
        .fold(f64::NEG_INFINITY, f64::max);
    if top <= ground {
        return;
    }
    let level = ground + RAISED_FRACTION * (top - ground);
    flood(|i| smooth[i] * sign, valid, h, w, c, level, out);
}

/// Mark the pixels connected to `c` where `value(pixel) > level` (within [`OUTLIER_REACH`]), grown
/// by [`OUTLIER_MARGIN`].
fn flood(
    value: impl Fn(usize) -> f64,
    valid: &[f64],
    h: usize,
    w: usize,
    c: &Candidate,
    level: f64,
    out: &mut [bool],
) {
    let mut inside = vec![false; h * w];
    let mut stack = vec![c.row * w + c.col];
    inside[c.row * w + c.col] = true;
    let mut region = Vec::new();
    while let Some(i) = stack.pop() {
        region.push(i);
        let (r, col) = (i / w, i % w);
        let near = [
            (r.wrapping_sub(1), col),
            (r + 1, col),
            (r, col.wrapping_sub(1)),
            (r, col + 1),
        ];
        for (rr, cc) in near {
            if rr >= h || cc >= w {
                continue;
            }
            let j = rr * w + cc;
            let far = (rr as f64 - c.row as f64).hypot(cc as f64 - c.col as f64) > OUTLIER_REACH;
            if !inside[j] && !far && valid[j] > 0.0 && value(j) > level {
                inside[j] = true;
                stack.push(j);
            }
        }
    }
    let m = OUTLIER_MARGIN as isize;
    for i in region {
        let (r, col) = ((i / w) as isize, (i % w) as isize);
        for dr in -m..=m {
            for dc in -m..=m {
                let (rr, cc) = (r + dr, col + dc);
                if dr * dr + dc * dc <= m * m && rr >= 0 && cc >= 0 {
                    let (rr, cc) = (rr as usize, cc as usize);
                    if rr < h && cc < w {
                        out[rr * w + cc] = true;
                    }
                }
            }
        }
    }
}
