//! The two gap variants of a superconducting spec: its sign-changing and its
//! sign-preserving form, each simulated at the data's energies and grid.
//!
//! The spec's own gap is classified from its orbital-diagonal pairing
//! `Delta_aa(k) = sum_R Delta_aa(R) e^{-i k.R}` (partners included) on a 32 x 32 k-grid: it
//! changes sign when its smaller lobe reaches [`SIGN_CHANGE_FRACTION`] of the larger. The
//! spec's own gap is kept as the variant of its class; the other is built with the same
//! largest `|Delta(k)|` on the same orbitals:
//!
//! | spec's gap | partner |
//! |---|---|
//! | sign-changing | on-site s (`Delta(k) = A`): s++ for several orbitals, s for one |
//! | sign-preserving, one orbital | d (`Delta(k) = A/2 (cos k1 - cos k2)`) |
//! | sign-preserving, several orbitals | s+- (`Delta(k) = A cos k1 cos k2`, Raghu's form) |

use crate::physics::spec::{Amplitude, ModelSpec, TermSpec};
use crate::physics::{KernelSpec, SimContext};
use crate::progress::{Progress, check_cancelled};
use crate::{Error, Result};
use ndarray::Array2;

/// The smaller lobe of a sign-changing gap is at least this fraction of the larger.
pub const SIGN_CHANGE_FRACTION: f64 = 0.25;

/// Which pair of gap forms is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// One orbital: d-wave against on-site s.
    DAgainstS,
    /// Several orbitals: s+- against s++.
    SpmAgainstSpp,
}

impl Comparison {
    pub fn name(self) -> &'static str {
        match self {
            Comparison::DAgainstS => "d against s",
            Comparison::SpmAgainstSpp => "s+- against s++",
        }
    }
}

/// A spec in both forms.
#[derive(Clone, Debug)]
pub struct Variants {
    pub sign_changing: KernelSpec,
    pub sign_preserving: KernelSpec,
    /// Whether the spec as given has a sign-changing gap.
    pub given_changes_sign: bool,
    pub comparison: Comparison,
    /// Largest `|Delta(k)|` of the given gap, eV.
    pub gap_max_ev: f64,
}

/// The orbital-diagonal gap of `pairing` at fractional `k` (units of 2 pi) for orbital `a`.
fn gap_at(pairing: &[TermSpec], add_partners: bool, a: usize, k: [f64; 2]) -> f64 {
    let mut total = 0.0;
    for t in pairing.iter().filter(|t| t.to == a && t.from == a) {
        let d = match t.t {
            Amplitude::Real(v) => v,
            Amplitude::Complex([re, _]) => re,
        };
        let phase =
            2.0 * std::f64::consts::PI * (k[0] * t.cell[0] as f64 + k[1] * t.cell[1] as f64);
        if t.cell == [0, 0] || !add_partners {
            total += d * phase.cos();
        } else {
            total += 2.0 * d * phase.cos();
        }
    }
    total
}

/// Both gap forms of `spec` (a superconducting tight-binding spec).
pub fn variants(spec: &KernelSpec) -> Result<Variants> {
    let ModelSpec::TightBinding {
        orbitals,
        pairing,
        add_partners,
        spinful,
        ..
    } = &spec.model
    else {
        return Err(Error::invalid(
            "gap sign: the spec is a continuum (parabolic) model; comparing gap forms needs a \
             superconducting tight-binding spec (with pairing terms)",
        ));
    };
    if *spinful {
        return Err(Error::invalid(
            "gap sign: spinful specs are not supported for the gap comparison (give the \
             spin-degenerate Nambu model)",
        ));
    }
    let mut paired: Vec<usize> = pairing
        .iter()
        .filter(|t| t.to == t.from)
        .map(|t| t.to)
        .collect();
    paired.sort_unstable();
    paired.dedup();
    if paired.is_empty() {
        return Err(Error::invalid(
            "gap sign: the spec has no orbital-diagonal pairing terms: give its gap as \
             [model] pairing = [{ to, from, cell, t }] (with superconducting = true)",
        ));
    }
    let (mut lo, mut hi) = (0f64, 0f64);
    let m = 32;
    for &a in &paired {
        for i in 0..m {
            for j in 0..m {
                let g = gap_at(
                    pairing,
                    *add_partners,
                    a,
                    [i as f64 / m as f64, j as f64 / m as f64],
                );
                lo = lo.min(g);
                hi = hi.max(g);
            }
        }
    }
    let amplitude = hi.max(-lo);
    if amplitude <= 0.0 || !amplitude.is_finite() {
        return Err(Error::invalid(
            "gap sign: the spec's gap is zero everywhere; give a nonzero pairing",
        ));
    }
    let given_changes_sign = hi.min(-lo) >= SIGN_CHANGE_FRACTION * amplitude;
    let comparison = if orbitals.len() == 1 {
        Comparison::DAgainstS
    } else {
        Comparison::SpmAgainstSpp
    };
    let term = |a: usize, cell: [i32; 2], t: f64| TermSpec {
        to: a,
        from: a,
        cell,
        t: Amplitude::Real(t),
    };
    let partners = *add_partners;
    // Terms listed once each; without partner expansion every term is written twice.
    let with_partners = |list: Vec<TermSpec>| -> Vec<TermSpec> {
        if partners {
            return list;
        }
        let mut out = Vec::new();
        for t in list {
            out.push(t);
            if t.cell != [0, 0] {
                out.push(TermSpec {
                    cell: [-t.cell[0], -t.cell[1]],
                    ..t
                });
            }
        }
        out
    };
    let preserving: Vec<TermSpec> = paired.iter().map(|&a| term(a, [0, 0], amplitude)).collect();
    let changing: Vec<TermSpec> = match comparison {
        Comparison::DAgainstS => paired
            .iter()
            .flat_map(|&a| {
                [
                    term(a, [1, 0], amplitude / 4.0),
                    term(a, [0, 1], -amplitude / 4.0),
                ]
            })
            .collect(),
        Comparison::SpmAgainstSpp => paired
            .iter()
            .flat_map(|&a| {
                [
                    term(a, [1, 1], amplitude / 4.0),
                    term(a, [1, -1], amplitude / 4.0),
                ]
            })
            .collect(),
    };
    let with_gap = |gap: Vec<TermSpec>| -> KernelSpec {
        let mut s = spec.clone();
        if let ModelSpec::TightBinding {
            pairing,
            superconducting,
            ..
        } = &mut s.model
        {
            *pairing = gap;
            *superconducting = true;
        }
        s
    };
    let (sign_changing, sign_preserving) = if given_changes_sign {
        (spec.clone(), with_gap(with_partners(preserving)))
    } else {
        (with_gap(with_partners(changing)), spec.clone())
    };
    Ok(Variants {
        sign_changing,
        sign_preserving,
        given_changes_sign,
        comparison,
        gap_max_ev: amplitude,
    })
}

/// The kernel of `spec` at `energy_ev` on an `size x size` grid of `pixel_size_a`.
pub fn simulate(
    spec: &KernelSpec,
    energy_ev: f64,
    size: usize,
    pixel_size_a: f64,
    ctx: &mut SimContext,
    progress: &dyn Progress,
) -> Result<Array2<f64>> {
    check_cancelled(progress)?;
    let mut s = spec.at_energy(energy_ev);
    s.render.size = [size, size];
    s.render.pixel_size_a = pixel_size_a;
    s.render.sites = false;
    let field = s.simulate_polling(ctx, progress)?;
    s.render_kernel(&field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::catalog;

    #[test]
    fn catalog_gaps_are_classified_and_partnered() {
        let d = catalog::find("bi2212-dwave-10meV").unwrap();
        let v = variants(&d).unwrap();
        assert!(v.given_changes_sign);
        assert_eq!(v.comparison, Comparison::DAgainstS);
        assert!((v.gap_max_ev - 0.04).abs() < 1e-9, "{}", v.gap_max_ev);
        let spm = catalog::find("fe2orb-spm-8meV").unwrap();
        let v = variants(&spm).unwrap();
        assert!(v.given_changes_sign);
        assert_eq!(v.comparison, Comparison::SpmAgainstSpp);
        // The partner of the s++ partner is an s+- of the same size.
        let back = variants(&v.sign_preserving).unwrap();
        assert!(!back.given_changes_sign);
        assert!((back.gap_max_ev - v.gap_max_ev).abs() < 1e-12);
        let again = variants(&back.sign_changing).unwrap();
        assert!(again.given_changes_sign);
        assert!((again.gap_max_ev - v.gap_max_ev).abs() < 1e-12);
        assert!(variants(&catalog::find("fe2orb-normal-0meV").unwrap()).is_err());
    }
}
