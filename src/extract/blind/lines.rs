//! Lines and streaks among look-alike extrema of the band-passed map ([`super::common`]):
//! a step edge or a scratch puts its extrema along one straight line; scan-line streaks put
//! theirs on a few rows. Such a group is not a defect.
//!
//! # Conventions
//! Candidates are pixels `(row, col)`; a [`Line`] is a point and a unit direction
//! `(d_row, d_col)`; "across" is the distance from the line, "along" the position on it.

use super::common::{Candidate, MIN_GROUP};
use super::terraces::Line;

/// A group whose members lie within this many pixels of a line is a step edge or a scratch.
const LINE_WIDTH: f64 = 3.0;
/// A line's members may leave no gap along it wider than this fraction of their span.
const MAX_GAP: f64 = 0.3;
/// A group whose members have at least this many others on their scan line (within one row
/// and [`STREAK_REACH`] px along it), for at least half of them, is scan-line streaks.
const STREAK_SHARE: usize = 2;
/// How far along a row the look-alike extrema of one streak lie from each other, in pixels
/// (defects on a grid aligned with the scan lines lie farther apart).
const STREAK_REACH: usize = 16;

/// The scan-line segments `(row, first col, last col)` of a group that is streaks: at least
/// half of its members have [`STREAK_SHARE`] others or more within one row and
/// [`STREAK_REACH`] px along it. `None` otherwise (defects scattered over the map, or on a
/// grid, seldom lie three in a row that close).
pub fn streak_segments(group: &[Candidate]) -> Option<Vec<(usize, usize, usize)>> {
    let on_streak: Vec<&Candidate> = group
        .iter()
        .filter(|c| {
            group
                .iter()
                .filter(|o| o.row.abs_diff(c.row) <= 1 && o.col.abs_diff(c.col) <= STREAK_REACH)
                .count()
                > STREAK_SHARE
        })
        .collect();
    if on_streak.len() < MIN_GROUP + 1 || 2 * on_streak.len() < group.len() {
        return None;
    }
    let mut rows: Vec<usize> = on_streak.iter().map(|c| c.row).collect();
    rows.sort_unstable();
    rows.dedup();
    Some(
        rows.iter()
            .map(|&r| {
                let cols = on_streak.iter().filter(|c| c.row == r).map(|c| c.col);
                let (lo, hi) = cols.fold((usize::MAX, 0), |(a, b), c| (a.min(c), b.max(c)));
                (r, lo, hi)
            })
            .collect(),
    )
}

/// The line the candidates lie along, if they do (at least [`MIN_GROUP`] + 1 of them, their
/// spread across the line's direction under [`LINE_WIDTH`] px and a third of the spread
/// along it): their mean and principal direction. One in eight of them (rounded down) may
/// lie off the line (a defect beside a step that looks like the step's bumps): the line is
/// fitted again without the members farthest across it. The line must reach `min_length`
/// px from its first member to its last: a step crosses much of the map, while the
/// look-alike extrema of one lattice-periodic kernel (graphene's) line up along a lattice
/// row only within the kernel's reach.
pub fn line_of(group: &[Candidate], min_length: f64) -> Option<Line> {
    if group.len() < MIN_GROUP + 1 {
        return None;
    }
    let off = group.len() / 8;
    let mut kept: Vec<Candidate> = group.to_vec();
    for _ in 0..2 {
        if off == 0 {
            break;
        }
        let Some(line) = principal_line(&kept) else {
            break;
        };
        let across = |c: &Candidate| line.across(c.row as f64, c.col as f64).abs();
        kept = group.to_vec();
        kept.sort_by(|a, b| across(a).total_cmp(&across(b)));
        kept.truncate(group.len() - off);
    }
    let line = principal_line(&kept)?;
    // `span` is the kept members' reach along the line, first to last.
    (straight(&kept, &line) && line.span[1] - line.span[0] >= min_length && unbroken(&kept, &line))
        .then_some(line)
}

/// Whether no gap between successive members along `line` (fitted to them) exceeds
/// [`MAX_GAP`] of their span: a step's extrema run all along it, while the look-alike rings of two or three
/// objects that happen to lie in a row come in bunches.
fn unbroken(group: &[Candidate], line: &Line) -> bool {
    let mut along: Vec<f64> = group
        .iter()
        .map(|c| line.along(c.row as f64, c.col as f64))
        .collect();
    along.sort_by(f64::total_cmp);
    let span = line.span[1] - line.span[0];
    along.windows(2).all(|p| p[1] - p[0] <= MAX_GAP * span)
}

/// Mark the band of a step or scratch: every pixel within `clearance` px of the segment that
/// the line's members span ([`Line::span`], extended by `clearance` at both ends), widened by
/// the group's own spread across it (at most [`LINE_WIDTH`]). A uniform band, unlike disks around the members,
/// leaves no bay between two members where the step's shoulders and its standing wave show.
pub fn strip(
    h: usize,
    w: usize,
    group: &[Candidate],
    line: &Line,
    clearance: f64,
    out: &mut [bool],
) {
    let spread = group
        .iter()
        .map(|c| line.across(c.row as f64, c.col as f64).abs())
        .fold(0.0f64, f64::max);
    let half = spread.min(LINE_WIDTH) + clearance;
    let (lo, hi) = (line.span[0] - clearance, line.span[1] + clearance);
    for (i, o) in out.iter_mut().enumerate().take(h * w) {
        let (r, c) = ((i / w) as f64, (i % w) as f64);
        if line.across(r, c).abs() <= half && (lo..=hi).contains(&line.along(r, c)) {
            *o = true;
        }
    }
}

/// Whether the candidates' spread across `line` (through their mean) is under
/// [`LINE_WIDTH`] px and a third of their spread along it.
fn straight(group: &[Candidate], line: &Line) -> bool {
    let n = group.len() as f64;
    let (mut along, mut across) = (0.0, 0.0);
    for c in group {
        let (r, k) = (c.row as f64, c.col as f64);
        along += line.along(r, k).powi(2) / n;
        across += line.across(r, k).powi(2) / n;
    }
    let (along, across) = (along.sqrt(), across.sqrt());
    across < LINE_WIDTH && across * 3.0 < along
}

/// The candidates' mean and principal direction (`None` for fewer than two).
fn principal_line(group: &[Candidate]) -> Option<Line> {
    if group.len() < 2 {
        return None;
    }
    let n = group.len() as f64;
    let (mr, mc) = (
        group.iter().map(|c| c.row as f64).sum::<f64>() / n,
        group.iter().map(|c| c.col as f64).sum::<f64>() / n,
    );
    let (mut a, mut b, mut d) = (0.0, 0.0, 0.0);
    for c in group {
        let (r, k) = (c.row as f64 - mr, c.col as f64 - mc);
        a += r * r / n;
        b += r * k / n;
        d += k * k / n;
    }
    // Eigenvalues of [[a, b], [b, d]].
    let half_trace = (a + d) / 2.0;
    let root = (((a - d) / 2.0).powi(2) + b * b).sqrt();
    // Principal eigenvector of [[a, b], [b, d]]: (b, l - a), or (l - d, b), the larger one.
    let l = half_trace + root;
    let (u, v) = if (l - a).abs() + b.abs() > (l - d).abs() + b.abs() {
        (b, l - a)
    } else {
        (l - d, b)
    };
    let norm = u.hypot(v);
    let direction = if norm > 0.0 {
        [u / norm, v / norm]
    } else {
        [1.0, 0.0]
    };
    let along = group
        .iter()
        .map(|c| (c.row as f64 - mr) * direction[0] + (c.col as f64 - mc) * direction[1]);
    let span = along.fold([f64::INFINITY, f64::NEG_INFINITY], |[a, b], x| {
        [a.min(x), b.max(x)]
    });
    Some(Line {
        point: [mr, mc],
        direction,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(row: usize, col: usize) -> Candidate {
        Candidate {
            row,
            col,
            value: 1.0,
        }
    }

    #[test]
    fn a_sloped_step_is_a_line_even_with_a_defect_off_it() {
        // 20 extrema along row = 180 - col / 12, and one look-alike defect 70 px away.
        let mut group: Vec<Candidate> = (0..20).map(|i| at(180 - i, 6 + 12 * i)).collect();
        assert!(line_of(&group, 0.0).is_some());
        // 228 px long: not a step if a step must reach 240.
        assert!(line_of(&group, 240.0).is_none());
        group.push(at(102, 68));
        let line = line_of(&group, 0.0).expect("a line with one member off it");
        let slope = line.direction[0] / line.direction[1];
        assert!((slope + 1.0 / 12.0).abs() < 0.01, "slope {slope}");
        // Off by more than one in eight: no line.
        group.extend([at(30, 30), at(60, 200), at(90, 120)]);
        assert!(line_of(&group, 0.0).is_none());
    }

    #[test]
    fn scattered_defects_are_neither_a_line_nor_streaks() {
        let group: Vec<Candidate> = (0..20)
            .map(|i| at((37 * i + 11) % 240 + 8, (91 * i + 5) % 240 + 8))
            .collect();
        assert!(line_of(&group, 0.0).is_none());
        assert!(streak_segments(&group).is_none());
    }

    #[test]
    fn streaks_on_three_rows_are_found_with_their_extent() {
        let mut group: Vec<Candidate> = Vec::new();
        for (row, cols) in [(123, 90..245), (224, 112..177), (129, 60..100)] {
            group.extend(cols.step_by(8).map(|c| at(row, c)));
        }
        group.extend([at(40, 40), at(200, 20)]);
        let segments = streak_segments(&group).expect("streaks");
        assert_eq!(segments.len(), 3, "{segments:?}");
        assert!(segments.contains(&(123, 90, 242)), "{segments:?}");
        // Not a line: the rows are far apart.
        assert!(line_of(&group, 0.0).is_none());
    }

    #[test]
    fn a_steps_band_has_no_bays_between_its_members() {
        // Members every 24 px along row = 10 + col / 4; disks of 8 px would leave bays.
        let (h, w) = (64, 128);
        let group: Vec<Candidate> = (0..5).map(|i| at(10 + 6 * i, 12 + 24 * i)).collect();
        let line = line_of(&group, 0.0).expect("a line");
        let mut band = vec![false; h * w];
        strip(h, w, &group, &line, 8.0, &mut band);
        // Every pixel within 8 px of the line between the first and last member is in.
        for c in 12..=108usize {
            let r = 10.0 + (c as f64 - 12.0) / 4.0;
            for dr in [-7.0, 0.0, 7.0] {
                let row = (r + dr).round() as usize;
                assert!(band[row * w + c], "({row}, {c}) is out of the band");
            }
        }
        // Nothing 12 px across from it, nor on it more than 8 px past its ends (the line
        // meets column 0 at row 7 and column 124 at row 38).
        assert!(!band[(12 + 12) * w + 20]);
        assert!(!band[7 * w]);
        assert!(!band[38 * w + 124]);
    }
}
