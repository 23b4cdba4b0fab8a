//! A small, explicit, platform-independent random number generator.
//!
//! qpik never uses a global or time-seeded RNG: every random draw comes from an
//! [`Rng`] built from a user-visible `u64` seed, so a seed reproduces a dataset bit
//! for bit on any machine. The generator is xoshiro256** seeded through SplitMix64.

/// xoshiro256** with helpers for the distributions qpik needs.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Rng { s }
    }

    /// An independent stream for item `index` of a job seeded with `seed`
    /// (lets parallel workers draw reproducibly regardless of scheduling).
    pub fn stream(seed: u64, index: u64) -> Self {
        let mut st = seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mixed = splitmix64(&mut st) ^ index;
        Rng::new(mixed)
    }

    /// Next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in [lo, hi] (inclusive).
    pub fn int_inclusive(&mut self, lo: usize, hi: usize) -> usize {
        debug_assert!(hi >= lo);
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Standard normal (Box-Muller; one value per call, deterministic).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Poisson-distributed count with mean `lambda`: multiplication of uniforms (Knuth) below a
    /// mean of 10, Hormann's transformed rejection (PTRS, 1993) above, exact for any mean
    /// (Knuth's product alone underflows once `exp(-lambda)` does, near 745). Means beyond
    /// 1e15 are clamped to 1e15 (the count must fit comfortably in f64 and usize).
    pub fn poisson(&mut self, lambda: f64) -> usize {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        let lambda = lambda.min(1e15);
        if lambda < 10.0 {
            let l = (-lambda).exp();
            let mut k = 0;
            let mut p = 1.0;
            loop {
                p *= self.uniform();
                if p <= l {
                    return k;
                }
                k += 1;
            }
        }
        let slam = lambda.sqrt();
        let loglam = lambda.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let v_r = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= v_r {
                return k as usize;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            let lhs = (v * inv_alpha / (a / (us * us) + b)).ln();
            if lhs <= -lambda + k * loglam - ln_factorial(k) {
                return k as usize;
            }
        }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// `ln(k!)` for a whole number `k >= 0`: exact sums below 16, Stirling's series above
/// (absolute error below 1e-12 there).
fn ln_factorial(k: f64) -> f64 {
    if k < 16.0 {
        return (2..=k as u32).map(|i| f64::from(i).ln()).sum();
    }
    let x = k + 1.0;
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    (x - 0.5) * x.ln() - x
        + 0.5 * std::f64::consts::TAU.ln()
        + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_moments_are_sane() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let mut c = Rng::new(8);
        let xa: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..5).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        let mut r = Rng::new(1);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let x = r.normal();
            s += x;
            s2 += x * x;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
        let p: f64 = (0..n).map(|_| r.poisson(3.0) as f64).sum::<f64>() / n as f64;
        assert!((p - 3.0).abs() < 0.03, "poisson mean {p}");
    }

    #[test]
    fn ln_factorial_matches_direct_sums() {
        for k in [0u32, 1, 5, 15, 16, 17, 40, 170] {
            let direct: f64 = (2..=k).map(|i| f64::from(i).ln()).sum();
            let got = ln_factorial(f64::from(k));
            assert!(
                (got - direct).abs() < 1e-9 * direct.max(1.0),
                "{k}: {got} {direct}"
            );
        }
    }

    #[test]
    fn poisson_large_means_have_their_mean_and_variance() {
        // Knuth's product underflowed at exp(-745): every mean above that gave about 745.
        let mut r = Rng::new(11);
        for lambda in [9.5, 10.0, 30.0, 745.0, 800.0, 13_000.0, 1e6] {
            let n = 20_000;
            let x: Vec<f64> = (0..n).map(|_| r.poisson(lambda) as f64).collect();
            let mean = x.iter().sum::<f64>() / n as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            // Standard error of the mean sqrt(lambda / n); 5 of them.
            let tol = 5.0 * (lambda / n as f64).sqrt();
            assert!((mean - lambda).abs() < tol, "lambda {lambda}: mean {mean}");
            assert!(
                (var / lambda - 1.0).abs() < 0.06,
                "lambda {lambda}: var {var}"
            );
        }
        // The whole distribution at a moderate mean against the exact probabilities.
        let lambda = 20.0;
        let n = 200_000;
        let mut counts = vec![0usize; 80];
        for _ in 0..n {
            let k = r.poisson(lambda).min(79);
            counts[k] += 1;
        }
        for (k, &c) in counts.iter().enumerate().take(40).skip(5) {
            let p = (-lambda + k as f64 * f64::ln(lambda) - ln_factorial(k as f64)).exp();
            let expect = p * n as f64;
            assert!(
                (c as f64 - expect).abs() < 5.0 * expect.sqrt() + 3.0,
                "P({k}): {c} against {expect}"
            );
        }
        assert_eq!(r.poisson(f64::NAN), 0);
        assert_eq!(r.poisson(-1.0), 0);
    }
}
