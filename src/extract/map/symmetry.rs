//! Projection of a kernel onto a point group about its impurity at `(S/2, S/2)`.
//!
//! n-fold: the mean of the kernel rotated by `2 pi j / n`, `j = 0..n`, each rotation sampled
//! bilinearly (exact for multiples of 90 degrees); a pixel whose rotated source falls outside
//! the window averages the rotations that stay inside. Isotropic (order 1, the catalog's
//! label): the radial profile in half-pixel bins, read back by linear interpolation.
//!
//! Mirrors (the dihedral groups `m`, `2mm`, `3m`, `4mm`, `6mm`): the rotation-projected kernel
//! is averaged with its reflection in a line through the impurity. The line's angle is not
//! known in advance (the lattice is turned by the scan angle): it is the angle, within
//! `[0, 180/n)` degrees, at which the kernel best matches its own reflection (1-degree scan,
//! then a parabola through the best three). **Angle convention:** the mirror line runs along
//! `(d_row, d_col) = (sin a, cos a)`: 0 degrees is along a row, 90 along a column, positive
//! angles turn from +col towards +row (clockwise on screen, row 0 at the top).

/// A point group about the impurity: rotation order (0 none, 1 isotropic, n-fold) and whether
/// it has mirror lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Symmetry {
    pub order: u32,
    pub mirror: bool,
}

impl Symmetry {
    pub const NONE: Symmetry = Symmetry {
        order: 0,
        mirror: false,
    };

    /// Rotations only.
    pub fn rotation(order: u32) -> Self {
        Symmetry {
            order,
            mirror: false,
        }
    }

    /// The Hermann-Mauguin name: `1` (none), `m`, `2`, `2mm`, `3`, `3m`, `4`, `4mm`, `6`,
    /// `6mm`, or `isotropic`.
    pub fn name(&self) -> String {
        match (self.order, self.mirror) {
            (1, _) => "isotropic".into(),
            (0, false) => "1".into(),
            (0, true) => "m".into(),
            (n, false) => n.to_string(),
            (3, true) => "3m".into(),
            (n, true) => format!("{n}mm"),
        }
    }
}

/// Bilinear sample of a `s x s` image at `(y, x)` pixels; `None` outside.
fn sample(k: &[f64], s: usize, y: f64, x: f64) -> Option<f64> {
    let max = (s - 1) as f64;
    if !(-1e-9..=max + 1e-9).contains(&y) || !(-1e-9..=max + 1e-9).contains(&x) {
        return None;
    }
    let (y, x) = (y.clamp(0.0, max), x.clamp(0.0, max));
    let (y0, x0) = (y.floor() as usize, x.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(s - 1), (x0 + 1).min(s - 1));
    let (fy, fx) = (y - y0 as f64, x - x0 as f64);
    Some(
        (1.0 - fy) * ((1.0 - fx) * k[y0 * s + x0] + fx * k[y0 * s + x1])
            + fy * ((1.0 - fx) * k[y1 * s + x0] + fx * k[y1 * s + x1]),
    )
}

/// The kernel projected onto `sym` (order 0 without mirrors = unchanged).
pub fn project(k: &[f64], s: usize, sym: Symmetry) -> Vec<f64> {
    let rotated = match sym.order {
        0 => k.to_vec(),
        1 => return isotropic(k, s),
        n => rotations(k, s, n),
    };
    if !sym.mirror {
        return rotated;
    }
    let angle = mirror_axis_deg(&rotated, s, sym.order);
    let mirrored = reflect(&rotated, s, angle);
    rotated
        .iter()
        .zip(&mirrored)
        .map(|(a, b)| 0.5 * (a + b))
        .collect()
}

/// `k` reflected in the line through the impurity at `angle_deg` (see the module's
/// convention); pixels whose mirror image falls outside the window keep their value.
pub fn reflect(k: &[f64], s: usize, angle_deg: f64) -> Vec<f64> {
    let c = (s / 2) as f64;
    let (sn, cs) = (2.0 * angle_deg.to_radians()).sin_cos();
    (0..s * s)
        .map(|i| {
            let (dy, dx) = ((i / s) as f64 - c, (i % s) as f64 - c);
            // Reflection in the line along (cos a, sin a) in (col, row): the matrix
            // [[cos 2a, sin 2a], [sin 2a, -cos 2a]] on (dx, dy).
            let (x, y) = (cs * dx + sn * dy, sn * dx - cs * dy);
            sample(k, s, c + y, c + x).unwrap_or(k[i])
        })
        .collect()
}

/// The mirror line's angle in degrees, in `[0, 180 / max(order, 1))`, at which `k` best
/// matches its reflection (largest inner product).
pub fn mirror_axis_deg(k: &[f64], s: usize, order: u32) -> f64 {
    let period = 180.0 / f64::from(order.max(1));
    let steps = period.round().max(1.0) as usize;
    let step = period / steps as f64;
    let score = |a: f64| -> f64 { reflect(k, s, a).iter().zip(k).map(|(x, y)| x * y).sum() };
    let scores: Vec<f64> = (0..steps).map(|j| score(j as f64 * step)).collect();
    let best = (0..steps)
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .unwrap_or(0);
    // A parabola through the best and its neighbours (cyclic over the period).
    let (l, r) = (
        scores[(best + steps - 1) % steps],
        scores[(best + 1) % steps],
    );
    let curvature = l - 2.0 * scores[best] + r;
    let shift = if curvature < 0.0 {
        (0.5 * (l - r) / curvature).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    ((best as f64 + shift) * step).rem_euclid(period)
}

fn rotations(k: &[f64], s: usize, n: u32) -> Vec<f64> {
    let c = (s / 2) as f64;
    let turns: Vec<(f64, f64)> = (0..n)
        .map(|j| {
            let t = std::f64::consts::TAU * j as f64 / n as f64;
            // Snap exact quarter turns so they stay exact.
            let (sn, cs) = t.sin_cos();
            (
                if sn.abs() < 1e-12 { 0.0 } else { sn },
                if cs.abs() < 1e-12 { 0.0 } else { cs },
            )
        })
        .collect();
    let mut out = vec![0.0; s * s];
    for r in 0..s {
        for q in 0..s {
            let (dy, dx) = (r as f64 - c, q as f64 - c);
            let (mut sum, mut count) = (0.0, 0usize);
            for &(sn, cs) in &turns {
                let (y, x) = (c + cs * dy - sn * dx, c + sn * dy + cs * dx);
                if let Some(v) = sample(k, s, y, x) {
                    sum += v;
                    count += 1;
                }
            }
            out[r * s + q] = if count > 0 { sum / count as f64 } else { 0.0 };
        }
    }
    out
}

fn isotropic(k: &[f64], s: usize) -> Vec<f64> {
    let c = (s / 2) as f64;
    let bin = 0.5;
    let nb = ((c * std::f64::consts::SQRT_2 + 2.0) / bin) as usize + 2;
    let (mut sum, mut wsum) = (vec![0.0; nb], vec![0.0; nb]);
    let radius = |i: usize| (((i / s) as f64 - c).powi(2) + ((i % s) as f64 - c).powi(2)).sqrt();
    for (i, &v) in k.iter().enumerate() {
        let x = radius(i) / bin;
        let b = x.floor() as usize;
        let f = x - b as f64;
        sum[b] += (1.0 - f) * v;
        wsum[b] += 1.0 - f;
        sum[b + 1] += f * v;
        wsum[b + 1] += f;
    }
    let profile: Vec<f64> = sum
        .iter()
        .zip(&wsum)
        .map(|(s, w)| if *w > 1e-12 { s / w } else { f64::NAN })
        .collect();
    (0..s * s)
        .map(|i| {
            let x = radius(i) / bin;
            let b = x.floor() as usize;
            let f = x - b as f64;
            let (p0, p1) = (profile[b], profile[b + 1]);
            match (p0.is_finite(), p1.is_finite()) {
                (true, true) => (1.0 - f) * p0 + f * p1,
                (true, false) => p0,
                (false, true) => p1,
                _ => 0.0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(s: usize, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
        let c = (s / 2) as f64;
        (0..s * s)
            .map(|i| f((i / s) as f64 - c, (i % s) as f64 - c))
            .collect()
    }

    #[test]
    fn symmetric_kernels_are_fixed_points_and_others_are_averaged() {
        let s = 25;
        // cos(2 phi) r-envelope: 4-fold? No: cos(4 phi) is 4-fold, cos(2 phi) only 2-fold.
        let four = kernel(s, |y, x| {
            let (r, p) = ((y * y + x * x).sqrt(), y.atan2(x));
            (4.0 * p).cos() * (-r / 6.0).exp() * r
        });
        let p4 = project(&four, s, Symmetry::rotation(4));
        let err = four
            .iter()
            .zip(&p4)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err < 1e-12,
            "a 4-fold kernel changes by {err} under 4-fold projection"
        );
        let p2 = project(&four, s, Symmetry::rotation(2));
        let err2 = four
            .iter()
            .zip(&p2)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err2 < 1e-12, "a 4-fold kernel is also 2-fold ({err2})");
        // A 2-fold pattern projected onto 4-fold loses its cos(2 phi) part.
        let two = kernel(s, |y, x| {
            let (r, p) = ((y * y + x * x).sqrt(), y.atan2(x));
            (2.0 * p).cos() * (-r / 6.0).exp() * r
        });
        let q = project(&two, s, Symmetry::rotation(4));
        let left = q.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(left < 1e-9, "cos(2 phi) survives 4-fold projection: {left}");
        // Isotropic: a radial function survives (to interpolation error), a cos(phi) dies.
        let radial = kernel(s, |y, x| (-(y * y + x * x) / 30.0).exp());
        let pr = project(&radial, s, Symmetry::rotation(1));
        let err_r = radial
            .iter()
            .zip(&pr)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err_r < 0.02, "radial function changes by {err_r}");
        let dipole = kernel(s, |y, x| x * (-(y * y + x * x) / 30.0).exp());
        let pd = project(&dipole, s, Symmetry::rotation(1));
        let left_d = pd.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(
            left_d < 0.05,
            "a dipole survives isotropic projection: {left_d}"
        );
        // 3- and 6-fold fixed points to interpolation error.
        let six = kernel(s, |y, x| {
            let (r, p) = ((y * y + x * x).sqrt(), y.atan2(x));
            (6.0 * p).cos() * (-r / 4.0).exp() * r * r / 20.0
        });
        let p6 = project(&six, s, Symmetry::rotation(6));
        let rel = six
            .iter()
            .zip(&p6)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / six.iter().map(|a| a * a).sum::<f64>();
        assert!(rel < 0.05, "6-fold kernel relative change {rel}");
    }

    #[test]
    fn mirror_lines_are_found_at_any_angle_and_projected_onto() {
        let s = 41;
        let c = (s / 2) as f64;
        let inside = |i: usize| {
            let (dy, dx) = ((i / s) as f64 - c, (i % s) as f64 - c);
            (dy * dy + dx * dx).sqrt() < c - 2.0
        };
        // (6mm is left out: bilinear sampling blurs its 12-fold harmonic by ~13 %.)
        for (order, a0) in [(2u32, 20.0f64), (0, 63.0), (4, 10.0), (3, 12.0)] {
            let m = f64::from(order.max(1));
            // Two angular harmonics m and 2m, both symmetric in the lines at a0 (mod 180/m);
            // the odd part sin(2m (phi - a0)) flips sign in them.
            let part = |odd: bool| {
                kernel(s, move |y, x| {
                    let (r, p) = ((y * y + x * x).sqrt(), y.atan2(x) - a0.to_radians());
                    let env = r * (-r / 6.0).exp();
                    if odd {
                        (2.0 * m * p).sin() * env * (-r / 9.0).exp()
                    } else {
                        (m * p).cos() * env + 0.5 * (2.0 * m * p).cos() * env * (-r / 9.0).exp()
                    }
                })
            };
            let (even, odd) = (part(false), part(true));
            let period = 180.0 / m;
            let found = mirror_axis_deg(&even, s, order);
            let diff = (found - a0).rem_euclid(period);
            assert!(
                diff.min(period - diff) < 0.5,
                "order {order}: mirror at {found:.2} degrees, expected {a0} (mod {period})"
            );
            let sym = Symmetry {
                order,
                mirror: true,
            };
            // Bilinear sampling of the reflection smooths the cone at the centre a little.
            let rms = |a: &[f64], b: &[f64]| {
                let d: Vec<f64> = (0..s * s)
                    .filter(|&i| inside(i))
                    .map(|i| a[i] - b[i])
                    .collect();
                (d.iter().map(|v| v * v).sum::<f64>() / d.len() as f64).sqrt()
            };
            let zero = vec![0.0; s * s];
            let fixed = project(&even, s, sym);
            assert!(
                rms(&fixed, &even) < 0.06 * rms(&even, &zero),
                "{}: a symmetric kernel moves by {:.4} (rms {:.4})",
                sym.name(),
                rms(&fixed, &even),
                rms(&even, &zero)
            );
            let mixed: Vec<f64> = even.iter().zip(&odd).map(|(e, o)| e + 0.3 * o).collect();
            let projected = project(&mixed, s, sym);
            let own = reflect(&projected, s, mirror_axis_deg(&projected, s, order));
            assert!(
                rms(&own, &projected) < 0.06 * rms(&even, &zero),
                "{}: the projection is not mirror symmetric",
                sym.name()
            );
            assert!(
                rms(&projected, &even) < 0.6 * rms(&mixed, &even),
                "{}: the odd part is left at {:.4} (of {:.4})",
                sym.name(),
                rms(&projected, &even),
                rms(&mixed, &even)
            );
        }
    }
}

/// The offset `(dy, dx)` in pixels of the kernel's centre of inversion (2-fold) symmetry from
/// `(S/2, S/2)`, and how symmetric it is there (the normalised correlation of the kernel with
/// its point reflection, 1 = perfectly). `None` when nothing within `reach` pixels is
/// symmetric enough (below 0.5): the kernel then stays where the positions put it.
///
/// The self-convolution `C(u) = sum_r K(r) K(u - r)` peaks at `u = 2 x centre`; the peak is
/// refined to subpixel precision by a parabola through its neighbours on each axis.
pub fn inversion_offset(k: &[f64], s: usize, reach: usize) -> Option<([f64; 2], f64)> {
    let c = (s / 2) as i64;
    let mean = k.iter().sum::<f64>() / k.len() as f64;
    let k: Vec<f64> = k.iter().map(|v| v - mean).collect();
    let energy: f64 = k.iter().map(|v| v * v).sum();
    if energy <= 0.0 {
        return None;
    }
    let span = 2 * reach as i64;
    let side = (2 * span + 1) as usize;
    let mut conv = vec![0.0; side * side];
    let si = s as i64;
    for (slot, v) in conv.iter_mut().enumerate() {
        // u = 2c + d, d in [-span, span]^2.
        let (dy, dx) = ((slot / side) as i64 - span, (slot % side) as i64 - span);
        let (uy, ux) = (2 * c + dy, 2 * c + dx);
        let mut sum = 0.0;
        for ry in (uy - si + 1).max(0)..=(uy.min(si - 1)) {
            for rx in (ux - si + 1).max(0)..=(ux.min(si - 1)) {
                sum += k[(ry * si + rx) as usize] * k[((uy - ry) * si + ux - rx) as usize];
            }
        }
        *v = sum / energy;
    }
    let (best, &peak) = conv.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    if peak < 0.5 {
        return None;
    }
    let (by, bx) = (best / side, best % side);
    let refine = |m: f64, z: f64, p: f64| {
        let d = m - 2.0 * z + p;
        if d < 0.0 {
            (0.5 * (m - p) / d).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let at = |y: usize, x: usize| conv[y * side + x];
    let fy = if by > 0 && by + 1 < side {
        refine(at(by - 1, bx), peak, at(by + 1, bx))
    } else {
        0.0
    };
    let fx = if bx > 0 && bx + 1 < side {
        refine(at(by, bx - 1), peak, at(by, bx + 1))
    } else {
        0.0
    };
    let dy = (by as f64 + fy - span as f64) / 2.0;
    let dx = (bx as f64 + fx - span as f64) / 2.0;
    Some(([dy, dx], peak))
}

#[cfg(test)]
mod centre_tests {
    use super::*;

    #[test]
    fn finds_the_centre_of_an_off_centre_symmetric_kernel() {
        let s = 31;
        let c = (s / 2) as f64;
        let (oy, ox) = (1.3, -0.6);
        let k: Vec<f64> = (0..s * s)
            .map(|i| {
                let (y, x) = ((i / s) as f64 - c - oy, (i % s) as f64 - c - ox);
                let r = (y * y + x * x).sqrt();
                (1.2 * r).cos() * (-r / 5.0).exp()
                    + 0.3 * (2.0 * y.atan2(x)).cos() * (-r / 4.0).exp()
            })
            .collect();
        let ([dy, dx], q) = inversion_offset(&k, s, 4).expect("symmetric");
        assert!(
            (dy - oy).abs() < 0.1 && (dx - ox).abs() < 0.1,
            "found ({dy}, {dx}), quality {q}"
        );
        // A dipole-free random-ish pattern is not inversion symmetric.
        let odd: Vec<f64> = (0..s * s)
            .map(|i| {
                let (y, x) = ((i / s) as f64 - c, (i % s) as f64 - c);
                (x + 0.3 * y) * (-(x * x + y * y) / 20.0).exp()
            })
            .collect();
        assert!(inversion_offset(&odd, s, 4).is_none_or(|(_, q)| q < 0.5));
    }
}
