//! The phase-referenced, antisymmetrised signal `rho^-` of kernels at `+E` and `-E`, summed
//! over `|q|` shells, with standard errors propagated exactly from `kernel_std`.
//!
//! A shell sum of `Re g(q)` is a linear functional of the kernel,
//! `sum_{q in shell} Re g(q) = sum_r K(r) W(r)` with `W(r) = sum_{q in shell} cos(q . r)`,
//! so its variance is `sum_r W(r)^2 std(r)^2` (independent pixels) without any FFT.

use crate::extract::map::Extraction;
use crate::{Error, Result};
use ndarray::{Array2, s};

/// Two energies pair up as `+E` and `-E` when `|E_+ + E_-|` is at most this fraction of `E_+`
/// (or 0.1 meV, whichever is larger).
pub const PAIR_TOLERANCE: f64 = 0.02;

/// One energy's kernel with its standard errors, `[S, S]`, impurity at `(S/2, S/2)`.
#[derive(Clone, Debug)]
pub struct Layer {
    pub energy_ev: f64,
    pub kernel: Array2<f64>,
    /// NaN or non-positive entries are replaced by the layer's median standard error.
    pub std: Array2<f64>,
}

/// One `+E` / `-E` pair of layers.
#[derive(Clone, Debug)]
pub struct EnergyPair {
    pub plus: Layer,
    pub minus: Layer,
}

/// The layers of type `kernel_type` of each extraction, in file order.
pub fn layers(extractions: &[&Extraction], kernel_type: usize) -> Result<Vec<Layer>> {
    let mut out = Vec::new();
    let mut size = None;
    for ex in extractions {
        let (t, e, n, _) = ex.kernels.dim();
        if kernel_type >= t {
            return Err(Error::invalid(format!(
                "kernel type {kernel_type} asked for, but a result holds {t} type(s) (0 to {})",
                t - 1
            )));
        }
        if *size.get_or_insert(n) != n {
            return Err(Error::invalid(format!(
                "the results' kernels differ in size ({} and {n} pixels): extract both with \
                 the same kernel size",
                size.unwrap_or(n)
            )));
        }
        for k in 0..e {
            let energy_ev = ex.energies_ev.get(k).copied().unwrap_or(f64::NAN);
            if !energy_ev.is_finite() {
                return Err(Error::invalid(
                    "a result file does not state its energies: the gap sign needs each \
                     kernel's bias energy",
                ));
            }
            let kernel = ex
                .kernels
                .slice(s![kernel_type, k, .., ..])
                .mapv(|v| if v.is_finite() { f64::from(v) } else { 0.0 });
            let raw = ex
                .kernel_std
                .slice(s![kernel_type, k, .., ..])
                .mapv(f64::from);
            let mut good: Vec<f64> = raw
                .iter()
                .copied()
                .filter(|v| v.is_finite() && *v > 0.0)
                .collect();
            good.sort_by(f64::total_cmp);
            let median = good.get(good.len() / 2).copied().unwrap_or(f64::NAN);
            let std = raw.mapv(|v| if v.is_finite() && v > 0.0 { v } else { median });
            out.push(Layer {
                energy_ev,
                kernel,
                std,
            });
        }
    }
    Ok(out)
}

/// The `+E` / `-E` pairs among `layers`, by increasing `E`; each layer is used at most once.
pub fn pairs(layers: &[Layer]) -> Vec<EnergyPair> {
    let mut used = vec![false; layers.len()];
    let mut order: Vec<usize> = (0..layers.len())
        .filter(|&i| layers[i].energy_ev > 0.0)
        .collect();
    order.sort_by(|&a, &b| layers[a].energy_ev.total_cmp(&layers[b].energy_ev));
    let mut out = Vec::new();
    for i in order {
        let e = layers[i].energy_ev;
        let tol = (PAIR_TOLERANCE * e).max(1e-4);
        let best = (0..layers.len())
            .filter(|&j| !used[j] && layers[j].energy_ev < 0.0)
            .map(|j| (j, (layers[j].energy_ev + e).abs()))
            .filter(|&(_, d)| d <= tol)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((j, _)) = best {
            used[i] = true;
            used[j] = true;
            out.push(EnergyPair {
                plus: layers[i].clone(),
                minus: layers[j].clone(),
            });
        }
    }
    out
}

/// The `|q|` shells of an `S x S` kernel: `q = 2 pi (m, n) / S` for `m, n` in `-S/2..S/2`,
/// shell `k` holding `k_lo < |(m, n)| <= k_hi` in units of `2 pi / S`, `shells` of equal
/// width from `q_min` to the zone's inscribed circle (`S/2`).
#[derive(Clone, Debug)]
pub struct Shells {
    pub size: usize,
    /// Edges in units of `2 pi / S` (`count + 1` values).
    pub edges: Vec<f64>,
    /// `[count][S * S]`: `W_k(r) = sum_{q in shell k} cos(q . r)`, `r` from `(S/2, S/2)`.
    pub filters: Vec<Vec<f64>>,
}

impl Shells {
    /// `count` shells from `q_min` (units of `2 pi / S`; the lowest `q` carry the kernel's
    /// mean and the extraction's background) to `S/2`.
    pub fn new(size: usize, count: usize, q_min: f64) -> Result<Shells> {
        let top = (size / 2) as f64;
        if size < 8 || count == 0 || !(q_min >= 0.0 && q_min < top) {
            return Err(Error::invalid(format!(
                "gap sign: {count} shells from q = {q_min} on a {size} px kernel: needs a \
                 kernel of at least 8 px, one shell, and q_min below {top}"
            )));
        }
        let edges: Vec<f64> = (0..=count)
            .map(|k| q_min + (top - q_min) * k as f64 / count as f64)
            .collect();
        let c = (size / 2) as isize;
        let half = size as isize / 2;
        let mut filters = vec![vec![0.0; size * size]; count];
        let tau = 2.0 * std::f64::consts::PI / size as f64;
        // cos(q . r) by table: q . r = tau (m y + n x) mod S.
        let cos_table: Vec<f64> = (0..size).map(|k| (tau * k as f64).cos()).collect();
        for m in -half..size as isize - half {
            for n in -half..size as isize - half {
                let radius = ((m * m + n * n) as f64).sqrt();
                let Some(k) = (0..count).find(|&k| radius > edges[k] && radius <= edges[k + 1])
                else {
                    continue;
                };
                let w = &mut filters[k];
                for i in 0..size {
                    let y = i as isize - c;
                    for j in 0..size {
                        let x = j as isize - c;
                        let phase = (m * y + n * x).rem_euclid(size as isize) as usize;
                        w[i * size + j] += cos_table[phase];
                    }
                }
            }
        }
        Ok(Shells {
            size,
            edges,
            filters,
        })
    }

    pub fn count(&self) -> usize {
        self.filters.len()
    }

    /// Centre of shell `k` in 1/Angstrom for pixels of `pixel_size_a`.
    pub fn centre_per_a(&self, k: usize, pixel_size_a: f64) -> f64 {
        let units = 0.5 * (self.edges[k] + self.edges[k + 1]);
        2.0 * std::f64::consts::PI * units / (self.size as f64 * pixel_size_a)
    }

    /// `sum_{q in shell k} Re g(q)` of `kernel` with pixels of radius `< core_px` left out.
    pub fn sum(&self, k: usize, kernel: &Array2<f64>, core_px: f64) -> f64 {
        self.weighted(k, kernel, core_px, |w, v| w * v)
    }

    /// The variance of [`Shells::sum`] for independent pixels of standard error `std`.
    pub fn variance(&self, k: usize, std: &Array2<f64>, core_px: f64) -> f64 {
        self.weighted(k, std, core_px, |w, v| w * w * v * v)
    }

    /// The variance of the sum over every shell for independent pixels of standard error
    /// `std` (the shells share pixels, so not the sum of their variances).
    pub fn total_variance(&self, std: &Array2<f64>, core_px: f64) -> f64 {
        let mut w = vec![0.0; self.size * self.size];
        for f in &self.filters {
            for (a, b) in w.iter_mut().zip(f) {
                *a += b;
            }
        }
        self.over(&w, std, core_px, |w, v| w * w * v * v)
    }

    fn weighted(
        &self,
        k: usize,
        image: &Array2<f64>,
        core_px: f64,
        f: impl Fn(f64, f64) -> f64,
    ) -> f64 {
        self.over(&self.filters[k], image, core_px, f)
    }

    /// `sum f(w, image)` over the pixels of radius `>= core_px` from the centre.
    fn over(
        &self,
        w: &[f64],
        image: &Array2<f64>,
        core_px: f64,
        f: impl Fn(f64, f64) -> f64,
    ) -> f64 {
        let n = self.size;
        let c = (n / 2) as f64;
        let mut total = 0.0;
        for i in 0..n {
            for j in 0..n {
                let r = ((i as f64 - c).powi(2) + (j as f64 - c).powi(2)).sqrt();
                if r < core_px {
                    continue;
                }
                total += f(w[i * n + j], image[[i, j]]);
            }
        }
        total
    }
}

/// `rho^-` and `rho^+` of one energy pair in each shell, with standard errors.
#[derive(Clone, Debug, PartialEq)]
pub struct PairSignal {
    pub energy_ev: f64,
    /// `sum_shell Re g(+E) - Re g(-E)` per shell.
    pub minus: Vec<f64>,
    pub minus_std: Vec<f64>,
    /// `sum_shell Re g(+E) + Re g(-E)` per shell.
    pub plus: Vec<f64>,
    pub plus_std: Vec<f64>,
}

/// The shell signals of one pair.
pub fn pair_signal(pair: &EnergyPair, shells: &Shells, core_px: f64) -> PairSignal {
    let mut out = PairSignal {
        energy_ev: pair.plus.energy_ev,
        minus: Vec::new(),
        minus_std: Vec::new(),
        plus: Vec::new(),
        plus_std: Vec::new(),
    };
    for k in 0..shells.count() {
        let a = shells.sum(k, &pair.plus.kernel, core_px);
        let b = shells.sum(k, &pair.minus.kernel, core_px);
        let var = shells.variance(k, &pair.plus.std, core_px)
            + shells.variance(k, &pair.minus.std, core_px);
        let sd = var.max(0.0).sqrt();
        out.minus.push(a - b);
        out.plus.push(a + b);
        out.minus_std.push(sd);
        out.plus_std.push(sd);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell sums against a naive DFT `g(q) = sum_r K(r) e^{-i q . r}`.
    #[test]
    fn shell_sum_matches_naive_dft() {
        let n = 12;
        let mut rng = crate::rng::Rng::new(7);
        let k = Array2::from_shape_fn((n, n), |_| rng.normal());
        let shells = Shells::new(n, 3, 0.5).unwrap();
        let c = (n / 2) as f64;
        let tau = 2.0 * std::f64::consts::PI / n as f64;
        for s in 0..3 {
            let mut naive = 0.0;
            for m in -(n as i64) / 2..(n as i64) / 2 {
                for q in -(n as i64) / 2..(n as i64) / 2 {
                    let rad = ((m * m + q * q) as f64).sqrt();
                    if !(rad > shells.edges[s] && rad <= shells.edges[s + 1]) {
                        continue;
                    }
                    for i in 0..n {
                        for j in 0..n {
                            let ph = tau * (m as f64 * (i as f64 - c) + q as f64 * (j as f64 - c));
                            naive += k[[i, j]] * ph.cos();
                        }
                    }
                }
            }
            let fast = shells.sum(s, &k, 0.0);
            assert!(
                (fast - naive).abs() < 1e-9 * naive.abs().max(1.0),
                "{fast} {naive}"
            );
        }
    }

    #[test]
    fn pairs_match_opposite_energies() {
        let layer = |e: f64| Layer {
            energy_ev: e,
            kernel: Array2::zeros((8, 8)),
            std: Array2::ones((8, 8)),
        };
        let l = vec![
            layer(0.01),
            layer(-0.0101),
            layer(0.02),
            layer(-0.005),
            layer(0.005),
        ];
        let p = pairs(&l);
        let got: Vec<(f64, f64)> = p
            .iter()
            .map(|p| (p.plus.energy_ev, p.minus.energy_ev))
            .collect();
        assert_eq!(got, vec![(0.005, -0.005), (0.01, -0.0101)]);
    }
}
