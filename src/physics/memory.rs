//! What a lattice simulation holds in memory, estimated before anything is allocated, so a
//! spec asking for a huge k-grid or hundreds of orbitals is refused with the size and the
//! budget instead of aborting the process (see [`crate::budget`]).

use super::TightBinding;
use crate::budget;

/// Bytes of one complex number (two f64).
const C64_BYTES: usize = 16;

/// Upper bound of the bytes [`super::SimContext::lattice_ldos_within`] holds at once for
/// `model` on an `n x n` k-grid with the impurity on `impurity_orbitals` orbitals (sites),
/// LDOS within `reach` cells, with `threads` workers; `None` when the count overflows.
///
/// Counts: one `n^2` complex buffer per Green's-function component (at most two per pair of
/// LDOS orbital and impurity support orbital) and one more for the FFT's transpose, per
/// worker one row of Bloch matrices
/// (`n dim^2` complex) and its inverse work (`2 dim^2`), the phase tables, and the LDOS values.
pub fn lattice_ldos_bytes(
    model: &TightBinding,
    impurity_orbitals: usize,
    n: usize,
    reach: usize,
    threads: usize,
) -> Option<u64> {
    let norb = model.n_orbitals();
    let dim = model.matrix_size();
    let doubled = model.is_nambu() || model.spinful;
    let support = impurity_orbitals.checked_mul(if doubled { 2 } else { 1 })?;
    // The components, and the column pass's transpose buffer.
    let components = norb.checked_mul(support)?.checked_mul(2)?.checked_add(1)?;
    let grids = budget::bytes(&[components, n, n, C64_BYTES]);
    let dim2 = dim.checked_mul(dim)?;
    let per_worker = budget::sum(&[
        budget::bytes(&[n, dim2, C64_BYTES]),
        budget::bytes(&[2, dim2, C64_BYTES]),
        budget::bytes(&[support, support, C64_BYTES]),
        budget::bytes(&[n, C64_BYTES]),
    ]);
    let workers = per_worker?.checked_mul(u64::try_from(threads.max(1)).ok()?);
    let side = reach.checked_mul(2)?.checked_add(1)?;
    let values = budget::bytes(&[side, side, norb, 8]);
    // Per impurity orbital: its component indices; per group of rows a local sum of the support.
    let plan = budget::bytes(&[norb, support, 2, 8]);
    // Phase rows of the Bloch table: at most one per distinct n2 (|n2| <= 64), re and im.
    let table = budget::bytes(&[129, n, 16]);
    // Row views of every grid (a slice per row and component) and the per-group local sums.
    let views = budget::bytes(&[n, components, 16]);
    let sums = budget::bytes(&[n / 32 + 1, support, support, C64_BYTES]);
    budget::sum(&[grids, workers, values, plan, table, views, sums])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::{Lattice, TightBindingBuilder};

    #[test]
    fn estimate_grows_with_grid_and_orbitals_and_overflows_to_none() {
        let one = TightBindingBuilder::new(Lattice::square(1.0), vec![[0.0, 0.0]])
            .hop_real(0, 0, [1, 0], -1.0)
            .build()
            .unwrap();
        let small = lattice_ldos_bytes(&one, 1, 256, 20, 2).unwrap();
        // Two 256^2 complex grids and the FFT's transpose dominate: at least 3 MiB.
        assert!(small >= 3 * 256 * 256 * 16, "{small}");
        let big = lattice_ldos_bytes(&one, 1, 8192, 20, 2).unwrap();
        assert!(big >= 2 * 8192 * 8192 * 16, "{big}");
        let many: Vec<[f64; 2]> = (0..200).map(|i| [i as f64 / 200.0, 0.0]).collect();
        let wide = TightBindingBuilder::new(Lattice::square(1.0), many)
            .build()
            .unwrap();
        let w = lattice_ldos_bytes(&wide, 1, 512, 20, 2).unwrap();
        // 400 components of 512^2 plus two workers' rows of 512 x 200^2 matrices.
        assert!(w >= (400 * 512 * 512 + 2 * 512 * 40_000) * 16, "{w}");
        assert_eq!(lattice_ldos_bytes(&wide, usize::MAX / 4, 512, 20, 2), None);
    }
}
