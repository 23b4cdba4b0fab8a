//! `qpik simulate observation --types N`: one map of several defect types, each type a
//! catalog kernel with its own defect count and amplitudes, the type of every defect stored.

use super::simulate::{SimulatedObservation, marks_of};
use super::{catalog_spec, kernel_only_dataset, signed_panel};
use crate::data::MAX_DEFECT_TYPES;
use crate::physics::SimContext;
use crate::physics::catalog::catalog;
use crate::picture::{Colormap, Panel, Scale, write_panels};
use crate::rng::Rng;
use crate::synthesis::dataset::{balanced_defects, prepare_kernel, typed_observation_table};
use crate::synthesis::typed_scene::synthesize_types;
use crate::synthesis::{Artefacts, DefectConfig, KernelStamps};
use crate::{Error, Result};
use ndarray::{Array3, Axis, s};
use std::path::Path;

/// The kernels of `types` defect types: those named, then catalog kernels drawn with
/// `Rng::stream(seed, 2)` among the others until there are `types`.
pub(super) fn type_kernel_names(named: &[String], types: usize, seed: u64) -> Result<Vec<String>> {
    if !(1..=MAX_DEFECT_TYPES).contains(&types) {
        return Err(Error::invalid(format!(
            "--types {types}: choose 1 to {MAX_DEFECT_TYPES} defect types"
        )));
    }
    if named.len() > types {
        return Err(Error::invalid(format!(
            "{} kernels named for {types} defect types; give --types {} or fewer --kernel",
            named.len(),
            named.len()
        )));
    }
    let mut names = named.to_vec();
    let mut pool: Vec<String> = catalog()
        .into_iter()
        .map(|k| k.name)
        .filter(|n| !names.contains(n))
        .collect();
    let mut rng = Rng::stream(seed, 2);
    while names.len() < types {
        let j = rng.int_inclusive(0, pool.len() - 1);
        names.push(pool.swap_remove(j));
    }
    Ok(names)
}

/// A `size x size` observation of the catalog kernels `names` (type `t` is `names[t]`), every
/// type drawing its own defects from `defects`, all kernels rendered at the first's pixel
/// size (or `pixel_size`), type `t`'s amplitudes scaled by `rms(K_0) / rms(K_t)`
/// ([`balanced_defects`]), artefacts once on the sum, everything from `Rng::new(seed)`.
/// The dataset holds the T kernels (rows 0..T), the observation, its `types` and
/// `type_kernels` = `[0, 1, ..., T-1]`.
pub(super) fn typed_observation(
    names: &[String],
    size: usize,
    pixel_size: Option<f64>,
    defects: &DefectConfig,
    artefacts: &Artefacts,
    seed: u64,
) -> Result<SimulatedObservation> {
    crate::synthesis::check_image_size(size)?;
    let mut specs = names
        .iter()
        .map(|n| catalog_spec(n))
        .collect::<Result<Vec<_>>>()?;
    let pixel_size_a = pixel_size.unwrap_or(specs[0].render.pixel_size_a);
    let mut ctx = SimContext::new();
    let mut prepared = Vec::with_capacity(specs.len());
    for spec in &mut specs {
        spec.render.pixel_size_a = pixel_size_a;
        spec.render.size = [size, size];
        spec.validate()?;
        prepared.push(prepare_kernel(&mut ctx, spec, defects.subpixel_steps)?);
    }
    let stamps: Vec<&KernelStamps> = prepared.iter().map(|p| &p.stamps).collect();
    let images: Vec<_> = prepared.iter().map(|p| &p.image).collect();
    let per_type = balanced_defects(defects, &images);
    let made = synthesize_types(
        &stamps,
        size,
        size,
        pixel_size_a,
        &per_type,
        artefacts,
        &mut Rng::new(seed),
    )?;
    let n_def = made.types.len();
    let type_kernels = vec![(0..names.len() as u32).collect::<Vec<u32>>()];
    let table = typed_observation_table(
        std::slice::from_ref(&made.observation),
        std::slice::from_ref(&made.types),
        &type_kernels,
        n_def,
    );
    let generator = format!(
        "# qpik simulate observation\nkernels = {names:?}\ntypes = {}\nsize = {size}\npixel_size_a = {pixel_size_a}\nseed = {seed}\n\n[defects]\n{}\n[artefacts]\n{}",
        names.len(),
        toml::to_string(defects).unwrap_or_default(),
        toml::to_string(artefacts).unwrap_or_default()
    );
    let mut ds = kernel_only_dataset(&specs[0], prepared[0].image.clone(), generator);
    let mut kernels = Array3::<f32>::zeros((names.len(), size, size));
    for (t, p) in prepared.iter().enumerate() {
        kernels.slice_mut(s![t, .., ..]).assign(&p.image);
    }
    ds.kernels.kernels = kernels;
    ds.kernels.names = specs.iter().map(|s| s.name.clone()).collect();
    ds.kernels.symmetry = specs.iter().map(|s| s.symmetry).collect();
    ds.kernels.split = vec![crate::data::SPLIT_TRAIN; names.len()];
    ds.kernels.pixel_size_m = vec![pixel_size_a * 1e-10; names.len()];
    ds.info.seed = seed;
    ds.observations = table;
    Ok(SimulatedObservation {
        dataset: ds,
        defects: n_def,
        pixel_size_a,
    })
}

/// The map with every defect marked, then each type's defects and kernel.
pub(super) fn typed_picture(made: &SimulatedObservation, path: &Path) -> Result<()> {
    let o = &made.dataset.observations;
    let obs = o.observations.index_axis(Axis(0), 0);
    let positions = o.positions.index_axis(Axis(0), 0);
    let types = o.types.index_axis(Axis(0), 0);
    let k = &made.dataset.kernels;
    let (_, h, w) = k.kernels.dim();
    let (kh, kw) = (h.min(64), w.min(64));
    let mut panels = vec![Panel {
        image: obs,
        title: format!("observation ({} defects)", made.defects),
        colormap: Colormap::Viridis,
        scale: Scale::Percentile(0.5),
        marks: marks_of(&positions),
    }];
    for t in 0..k.names.len() {
        let kernel = k.kernels.index_axis(Axis(0), t).slice_move(s![
            h / 2 - kh / 2..h / 2 - kh / 2 + kh,
            w / 2 - kw / 2..w / 2 - kw / 2 + kw
        ]);
        let mut panel = signed_panel(kernel, format!("type {t}: {}", k.names[t]));
        let of_type = positions
            .outer_iter()
            .zip(types.iter())
            .filter(|(p, ty)| **ty as usize == t && p[0].is_finite())
            .count();
        panel.title = format!("{} ({of_type} defects)", panel.title);
        panels.push(panel);
    }
    let cols = panels.len().min(4);
    write_panels(path, &panels, cols, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthesis::dataset::prepare_kernel;

    #[test]
    fn a_two_type_observation_is_the_sum_of_both_kernels_at_their_defects() {
        let names = type_kernel_names(&["bi2212-normal-0meV".to_string()], 2, 4).unwrap();
        assert_eq!(names.len(), 2);
        assert_ne!(names[0], names[1]);
        let cfg = DefectConfig {
            count_min: 3,
            count_max: 6,
            ..DefectConfig::default()
        };
        let made = typed_observation(&names, 24, None, &cfg, &Artefacts::default(), 4).unwrap();
        let o = &made.dataset.observations;
        assert_eq!(o.type_kernels.row(0).to_vec(), vec![0, 1]);
        assert_eq!(made.dataset.kernels.names, names);
        // The map again, from each type's own single-kernel stamps: sum over types of
        // amplitude x the stamp at each defect of that type.
        let mut expected = vec![0f32; 24 * 24];
        let mut ctx = SimContext::new();
        for (t, name) in names.iter().enumerate() {
            let mut spec = catalog_spec(name).unwrap();
            spec.render.size = [24, 24];
            spec.render.pixel_size_a = made.pixel_size_a;
            let p = prepare_kernel(&mut ctx, &spec, 4).unwrap();
            let n_t = (0..made.defects).filter(|&d| o.types[[0, d]] as usize == t);
            for d in n_t {
                let pos = [o.positions[[0, d, 0]] as f64, o.positions[[0, d, 1]] as f64];
                p.stamps
                    .add(&mut expected, 24, pos, o.amplitudes[[0, d]], &|_| [0.0; 2]);
            }
            let count = (0..made.defects)
                .filter(|&d| o.types[[0, d]] as usize == t)
                .count();
            assert!((3..=6).contains(&count), "type {t}: {count} defects");
        }
        let got = o.observations.index_axis(Axis(0), 0);
        for (a, b) in got.iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
        }
        assert!(type_kernel_names(&[], 9, 0).is_err());
        assert!(type_kernel_names(&["a".into(), "b".into()], 1, 0).is_err());
    }
}
