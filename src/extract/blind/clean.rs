//! Greedy detection of defects given their kernels (CLEAN, or matching pursuit with the
//! matched filter): take the position and type whose fitted kernel lowers the residual most,
//! take its contribution out of every type's filter response, repeat while the drop exceeds
//! the threshold.
//!
//! Amplitudes are positive: a type's defects share the sign of its kernel.
//! For a defect of type `t` at pixel `p` the least-squares amplitude is `C_t[p] / N_t[p]` and
//! it lowers the residual sum of squares by `gain = C_t[p]^2 / N_t[p]`, with
//! `C_t = corr(residual, K_t)` and `N_t = corr(valid, K_t^2)` (see [`super::correlate`]).
//! Removing a picked defect changes `C_u` by `-a X_ut[q - p]`, the kernels' cross-correlation
//! (exact away from edges and missing pixels; the least-squares refit that follows is exact).

use super::correlate::Correlator;
use crate::Result;

/// One detection: position in pixels, type, amplitude, and the residual drop it gives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pick {
    pub row: usize,
    pub col: usize,
    pub kind: usize,
    pub amplitude: f64,
    pub gain: f64,
}

/// What a detection pass works with.
pub struct CleanInput<'a> {
    /// Map minus background and fixed defects, 0 at missing pixels; `H x W`.
    pub residual: &'a [f64],
    /// 1 on valid pixels, 0 elsewhere.
    pub valid: &'a [f64],
    /// Kernels, `S x S` each, one after another.
    pub kernels: &'a [f64],
    /// Types that may be picked (`true` at index t).
    pub searchable: &'a [bool],
    /// Smallest residual drop accepted per type (in the map's unit squared).
    pub thresholds: &'a [f64],
    /// Smallest residual drop accepted relative to the first (strongest) pick's: the filter's
    /// update is approximate at the edges, where it leaves weak echoes of strong defects.
    pub relative_floor: f64,
    /// Pixels no pick may come within `separation` of (fixed defects).
    pub exclude: &'a [[f64; 2]],
    /// Smallest distance between two picks, in pixels.
    pub separation: f64,
    pub max_picks: usize,
}

/// Side of the blocks whose maxima are tracked.
const BLOCK: usize = 32;
/// A position is considered only where this fraction of its kernel's energy falls on valid
/// pixels: a kernel seen on a sliver of the map fits noise.
const MIN_VISIBLE: f64 = 0.3;

/// `X[d] = sum_k a[k] b[k + d]` for lags `d` in `[-(S-1), S-1]^2`, stored `(2S-1)^2` with lag
/// 0 at `(S-1, S-1)`.
fn cross_correlation(a: &[f64], b: &[f64], s: usize) -> Result<Vec<f64>> {
    let side = 2 * s - 1;
    let c = s / 2;
    let mut canvas = vec![0.0; side * side];
    for r in 0..s {
        canvas[(r + c) * side + c..(r + c) * side + c + s].copy_from_slice(&b[r * s..(r + 1) * s]);
    }
    let cor = Correlator::new(side, side, s);
    // corr[p] = sum_k a[k] canvas[p + k - c] = sum_k a[k] b[k + p - (S-1)].
    cor.correlate(&cor.map_spectrum(&canvas)?, a)
}

/// Each kernel's filter noise on `residual`: the robust variance (1.4826 x the median
/// absolute deviation, squared) of the normalised response `C / sqrt(N)` over the positions
/// where the kernel is seen (as [`clean`]'s gain, whose threshold it sets). For white noise
/// of variance `sigma^2` it is `sigma^2`; for correlated noise (1/f, a lattice, a
/// checkerboard) it is as large as the filter's actual fluctuations, so noise bumps that
/// look like a kernel do not pass as defects (a constant false-alarm rate).
pub fn filter_noise(
    cor: &Correlator,
    residual: &[f64],
    valid: &[f64],
    kernels: &[&[f64]],
) -> Result<Vec<f64>> {
    let spec = cor.map_spectrum(residual)?;
    let spec_valid = cor.map_spectrum(valid)?;
    kernels
        .iter()
        .map(|k| {
            let response = cor.correlate(&spec, k)?;
            let k2: Vec<f64> = k.iter().map(|v| v * v).collect();
            let total: f64 = k2.iter().sum();
            let energy = cor.correlate(&spec_valid, &k2)?;
            let mut z: Vec<f64> = response
                .iter()
                .zip(&energy)
                .filter(|(_, n)| **n >= MIN_VISIBLE * total && **n > 0.0)
                .map(|(c, n)| c / n.sqrt())
                .collect();
            if z.len() < 2 {
                return Ok(0.0);
            }
            let mid = z.len() / 2;
            let median = *z.select_nth_unstable_by(mid, f64::total_cmp).1;
            let mut dev: Vec<f64> = z.iter().map(|x| (x - median).abs()).collect();
            let mad = *dev.select_nth_unstable_by(mid, f64::total_cmp).1;
            Ok((1.4826 * mad).powi(2))
        })
        .collect()
}

/// Detect defects greedily; picks in the order found (strongest first).
pub fn clean(cor: &Correlator, input: &CleanInput) -> Result<Vec<Pick>> {
    let (h, w, s) = (cor.height, cor.width, cor.size);
    let s2 = s * s;
    let kinds = input.kernels.len() / s2;
    let spec = cor.map_spectrum(input.residual)?;
    let spec_valid = cor.map_spectrum(input.valid)?;
    let kernel = |t: usize| &input.kernels[t * s2..(t + 1) * s2];
    let types: Vec<usize> = (0..kinds).filter(|&t| input.searchable[t]).collect();
    let mut response: Vec<Vec<f64>> = Vec::with_capacity(kinds);
    let mut energy: Vec<Vec<f64>> = Vec::with_capacity(kinds);
    for &t in &types {
        response.push(cor.correlate(&spec, kernel(t))?);
        let k2: Vec<f64> = kernel(t).iter().map(|v| v * v).collect();
        let total: f64 = k2.iter().sum();
        let mut e = cor.correlate(&spec_valid, &k2)?;
        for v in e.iter_mut() {
            if *v < MIN_VISIBLE * total {
                *v = 0.0;
            }
        }
        energy.push(e);
    }
    // cross[i][j]: the change of type types[i]'s response per unit of a types[j] pick.
    let cross: Vec<Vec<Vec<f64>>> = types
        .iter()
        .map(|&ti| {
            types
                .iter()
                .map(|&tj| cross_correlation(kernel(ti), kernel(tj), s))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut allowed = vec![true; h * w];
    let forbid = |allowed: &mut Vec<bool>, p: [f64; 2]| {
        let rad = input.separation;
        let r0 = (p[0] - rad).floor().max(0.0) as usize;
        let c0 = (p[1] - rad).floor().max(0.0) as usize;
        let r1 = ((p[0] + rad).ceil() as isize).min(h as isize - 1);
        let c1 = ((p[1] + rad).ceil() as isize).min(w as isize - 1);
        for r in r0 as isize..=r1 {
            for c in c0 as isize..=c1 {
                let d = (r as f64 - p[0]).hypot(c as f64 - p[1]);
                if d < rad {
                    allowed[r as usize * w + c as usize] = false;
                }
            }
        }
    };
    for p in input.exclude {
        forbid(&mut allowed, *p);
    }
    // Only positive amplitudes: a defect's sign belongs to its type (the same scatterer
    // with the opposite potential scatters differently, so it is another type).
    let gain_at = |response: &[Vec<f64>], energy: &[Vec<f64>], i: usize, p: usize| {
        let n = energy[i][p];
        let c = response[i][p];
        if n > 0.0 && c > 0.0 { c * c / n } else { 0.0 }
    };
    let (bh, bw) = (h.div_ceil(BLOCK), w.div_ceil(BLOCK));
    // Best (gain, pixel, type index) per block.
    let block_best = |response: &[Vec<f64>], energy: &[Vec<f64>], allowed: &[bool], b: usize| {
        let (br, bc) = (b / bw, b % bw);
        let mut best = (0.0f64, 0usize, 0usize);
        for r in br * BLOCK..((br + 1) * BLOCK).min(h) {
            for c in bc * BLOCK..((bc + 1) * BLOCK).min(w) {
                let p = r * w + c;
                if !allowed[p] {
                    continue;
                }
                for i in 0..types.len() {
                    let g = gain_at(response, energy, i, p);
                    if g > best.0 {
                        best = (g, p, i);
                    }
                }
            }
        }
        best
    };
    let mut blocks: Vec<(f64, usize, usize)> = (0..bh * bw)
        .map(|b| block_best(&response, &energy, &allowed, b))
        .collect();
    let mut picks = Vec::new();
    while picks.len() < input.max_picks {
        let Some(&(g, p, i)) = blocks.iter().max_by(|a, b| a.0.total_cmp(&b.0)) else {
            break;
        };
        let floor = picks
            .first()
            .map_or(0.0, |p: &Pick| p.gain * input.relative_floor);
        if g <= floor {
            break;
        }
        if g <= input.thresholds[types[i]] {
            // This type is done; the others may still pick.
            energy[i].iter_mut().for_each(|e| *e = 0.0);
            for (b, best) in blocks.iter_mut().enumerate() {
                if best.2 == i {
                    *best = block_best(&response, &energy, &allowed, b);
                }
            }
            continue;
        }
        let a = response[i][p] / energy[i][p];
        let (pr, pc) = (p / w, p % w);
        picks.push(Pick {
            row: pr,
            col: pc,
            kind: types[i],
            amplitude: a,
            gain: g,
        });
        // Take the pick out of every response within the kernels' reach.
        let side = 2 * s - 1;
        let lo_r = pr.saturating_sub(s - 1);
        let lo_c = pc.saturating_sub(s - 1);
        let hi_r = (pr + s - 1).min(h - 1);
        let hi_c = (pc + s - 1).min(w - 1);
        for (u, resp) in response.iter_mut().enumerate() {
            let x = &cross[u][i];
            for q_r in lo_r..=hi_r {
                let dr = q_r + s - 1 - pr;
                for q_c in lo_c..=hi_c {
                    let dc = q_c + s - 1 - pc;
                    resp[q_r * w + q_c] -= a * x[dr * side + dc];
                }
            }
        }
        forbid(&mut allowed, [pr as f64, pc as f64]);
        for br in lo_r / BLOCK..=hi_r / BLOCK {
            for bc in lo_c / BLOCK..=hi_c / BLOCK {
                let b = br * bw + bc;
                blocks[b] = block_best(&response, &energy, &allowed, b);
            }
        }
    }
    Ok(picks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::map::operator::Stamper;
    use crate::rng::Rng;

    #[test]
    fn clean_finds_every_defect_of_a_noisy_map_and_nothing_else() {
        let (h, w, s) = (96, 80, 21);
        let c = (s / 2) as f64;
        // A ringing kernel with a sharp centre.
        let kernel: Vec<f64> = (0..s * s)
            .map(|i| {
                let r = ((i / s) as f64 - c).hypot((i % s) as f64 - c);
                (1.4 * r).cos() * (-r / 5.0).exp()
            })
            .collect();
        let truth = [
            [10.0, 12.0],
            [30.0, 50.0],
            [33.0, 58.0],
            [70.0, 20.0],
            [85.0, 70.0],
            [50.0, 2.0],
        ];
        let amps = [1.0, 0.8, 1.2, 0.9, 0.6, 1.0];
        let st = Stamper::new(h, w, s, &truth);
        let mut y = vec![0.0; h * w];
        st.add_defect_stamps(&kernel, &amps, &mut y);
        let mut rng = Rng::new(9);
        let sigma = 0.05;
        y.iter_mut().for_each(|v| *v += sigma * rng.normal());
        let cor = Correlator::new(h, w, s);
        let valid = vec![1.0; h * w];
        let picks = clean(
            &cor,
            &CleanInput {
                residual: &y,
                valid: &valid,
                kernels: &kernel,
                searchable: &[true],
                thresholds: &[25.0 * sigma * sigma],
                relative_floor: 0.02,
                exclude: &[],
                separation: 2.5,
                max_picks: 100,
            },
        )
        .unwrap();
        assert_eq!(picks.len(), truth.len(), "{picks:?}");
        for (t, a) in truth.iter().zip(&amps) {
            let p = picks
                .iter()
                .find(|p| p.row as f64 == t[0] && p.col as f64 == t[1])
                .unwrap_or_else(|| panic!("no pick at {t:?}: {picks:?}"));
            // Overlapping neighbours bias the greedy amplitudes a little; the refit is exact.
            assert!((p.amplitude - a).abs() < 0.1, "{p:?} vs amplitude {a}");
        }
    }
}
