//! Energy stacks in simulation: `qpik simulate kernel` of a stack spec (K(E), [E, H, W]) and
//! `qpik simulate observation` of one (an observation stack [E, H, W] with shared defects).
//!
//! Every energy is the spec at that energy ([`KernelSpec::at_energy`]); the defects of an
//! observation stack are the same (positions, amplitudes, drift) at every energy, and the
//! other artefacts are drawn independently per energy, relative to that energy's clean map.

use super::signed_panel;
use crate::cli::outputs::Outputs;
use crate::cli::progress::Bars;
use crate::data::hdf5_io::write_dataset;
use crate::data::npy::write_npy_f32;
use crate::data::{Dataset, DatasetInfo, KernelTable, SPLIT_TRAIN};
use crate::physics::spec::MAX_ENERGIES;
use crate::physics::{KernelSpec, SimContext};
use crate::picture::write_panels;
use crate::rng::Rng;
use crate::synthesis::dataset::{observation_table, prepare_kernel_polling};
use crate::synthesis::{
    Artefacts, DefectConfig, Observation, apply_artefacts, draw_count, draw_drift, place_defects,
};
use crate::{Error, Result};
use ndarray::{Array2, Array3, Axis, s};
use std::path::{Path, PathBuf};

/// Most energies drawn in a stack's picture (the file holds them all).
const PICTURE_ENERGIES: usize = 16;

/// `spec` with `energies` (eV) as its stack when given.
pub(super) fn with_energies(
    mut spec: KernelSpec,
    energies: Option<Vec<f64>>,
) -> Result<KernelSpec> {
    if let Some(list) = energies {
        spec.energies_ev = Some(list);
        spec.energy_range = None;
        spec.energy_ev = f64::NAN;
        spec.validate()?;
    }
    Ok(spec)
}

/// Name of energy layer `energy_ev` of kernel `name` in a stack file.
fn layer_name(name: &str, energy_ev: f64) -> String {
    format!("{name} @ {:+.1} meV", energy_ev * 1e3)
}

/// The stack's kernels `[E, H, W]` on the spec's grid, impurity at `(H/2, W/2)`, and the
/// single-energy specs.
fn kernel_stack(spec: &KernelSpec) -> Result<(Array3<f32>, Vec<KernelSpec>)> {
    let layers: Vec<KernelSpec> = spec
        .energies()
        .into_iter()
        .map(|e| spec.at_energy(e))
        .collect();
    let [h, w] = spec.render.size;
    let mut out = Array3::<f32>::zeros((layers.len(), h, w));
    let mut ctx = SimContext::new();
    // Every energy's k-grid polls Ctrl-C (the bars' interrupt flag).
    let bars = Bars::default();
    for (e, layer) in layers.iter().enumerate() {
        let image = layer.render_kernel(&layer.simulate_polling(&mut ctx, &bars)?)?;
        out.slice_mut(s![e, .., ..])
            .assign(&image.mapv(|x| x as f32));
    }
    Ok((out, layers))
}

/// A kernel table of the layers of one stack (one row per energy).
fn stack_table(kernels: Array3<f32>, layers: &[KernelSpec]) -> KernelTable {
    let e = layers.len();
    KernelTable {
        kernels,
        names: layers
            .iter()
            .map(|l| layer_name(&l.name, l.energy_ev))
            .collect(),
        symmetry: layers.iter().map(|l| l.symmetry).collect(),
        split: vec![SPLIT_TRAIN; e],
        pixel_size_m: layers
            .iter()
            .map(|l| l.render.pixel_size_a * 1e-10)
            .collect(),
    }
}

fn stack_picture(
    path: &Path,
    images: &Array3<f32>,
    layers: &[KernelSpec],
    what: &str,
) -> Result<()> {
    let panels: Vec<_> = images
        .outer_iter()
        .zip(layers)
        .take(PICTURE_ENERGIES)
        .map(|(img, l)| signed_panel(img, format!("{what} {}", layer_name(&l.name, l.energy_ev))))
        .collect();
    write_panels(path, &panels, panels.len().min(4), 2)
}

/// `qpik simulate kernel` of a stack spec: `out` is a `.npy` of `[E, H, W]` or a qpik dataset
/// with one kernel per energy (names `NAME @ +E meV`, generator = the spec), and a picture.
pub(super) fn simulate_kernel_stack(
    spec: &KernelSpec,
    out: &Path,
    png: &Path,
    mut outputs: Outputs,
) -> Result<()> {
    let t = std::time::Instant::now();
    let (kernels, layers) = kernel_stack(spec)?;
    stack_picture(&outputs.stage(png)?, &kernels, &layers, "K")?;
    let staged = outputs.stage(out)?;
    if is_npy(out) {
        write_npy_f32(&staged, kernels.view().into_dyn(), false)?;
    } else {
        let ds = Dataset::kernels_only(
            stack_table(kernels, &layers),
            spec.render.pixel_size_a * 1e-10,
            spec.to_toml(),
        );
        write_dataset(&staged, &ds)?;
    }
    outputs.commit()?;
    println!(
        "kernel '{}' at {} energies ({:+.1} to {:+.1} meV), {}x{} px of {:.2} Angstrom, in {:.1} s: {} and {}",
        spec.name,
        layers.len(),
        layers[0].energy_ev * 1e3,
        layers[layers.len() - 1].energy_ev * 1e3,
        spec.render.size[0],
        spec.render.size[1],
        spec.render.pixel_size_a,
        t.elapsed().as_secs_f64(),
        out.display(),
        png.display()
    );
    Ok(())
}

/// The files [`ObservationStack::write`] writes for `out`: `out` alone (a qpik dataset), or
/// `out`, `STEM-positions.npy` and `STEM-kernels.npy`.
pub(super) fn stack_files(out: &Path) -> Vec<PathBuf> {
    if !is_npy(out) {
        return vec![out.to_path_buf()];
    }
    let stem = out.with_extension("");
    let sibling = |tail: &str| {
        let mut name = stem.file_name().unwrap_or_default().to_os_string();
        name.push(tail);
        stem.with_file_name(name)
    };
    vec![
        out.to_path_buf(),
        sibling("-positions.npy"),
        sibling("-kernels.npy"),
    ]
}

/// Writes an observation's dataset `ds` to `out`: a qpik dataset (`.h5`), or `.npy` files
/// ([`stack_files`]): the observation(s) at `out` (`[H, W]` for one map, `[E, H, W]` for a
/// stack), the defect positions `[N, 2]` (row, col) at `STEM-positions.npy` and the kernels
/// (`[H, W]` or `[E, H, W]`) at `STEM-kernels.npy`. Returns the files written.
pub(super) fn write_observation_files(
    ds: &Dataset,
    out: &Path,
    outputs: &mut Outputs,
) -> Result<Vec<PathBuf>> {
    let files = stack_files(out);
    if !is_npy(out) {
        write_dataset(&outputs.stage(out)?, ds)?;
        return Ok(files);
    }
    let o = &ds.observations;
    let positions = o.positions.index_axis(Axis(0), 0);
    let [_, positions_path, kernels_path] = &files[..] else {
        return Err(Error::invalid("an .npy observation is three files"));
    };
    // One map is written as [H, W], a stack as [E, H, W].
    // One map is written as [H, W], a stack as [E, H, W].
    write_npy_f32(&outputs.stage(out)?, squeezed(&o.observations), false)?;
    write_npy_f32(&outputs.stage(positions_path)?, positions.into_dyn(), false)?;
    write_npy_f32(
        &outputs.stage(kernels_path)?,
        squeezed(&ds.kernels.kernels),
        false,
    )?;
    Ok(files)
}

/// `a` without its first axis when that has length 1 (one map), else `a`.
fn squeezed(a: &ndarray::Array3<f32>) -> ndarray::ArrayViewD<'_, f32> {
    if a.dim().0 == 1 {
        a.index_axis(Axis(0), 0).into_dyn()
    } else {
        a.view().into_dyn()
    }
}

pub(super) fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// An observation stack: the kernels `[E, H, W]` and one observation per energy, all with
/// the same defects (row `e` of the dataset is energy `e`, `kernel_index` = e).
pub(super) struct ObservationStack {
    pub(super) dataset: Dataset,
    pub(super) layers: Vec<KernelSpec>,
}

/// `size x size` observations of `spec`'s stack with shared defects: the defect count, drift,
/// positions and amplitudes from `Rng::new(seed)` (the same draws at every energy), the
/// artefacts of energy `e` from `Rng::stream(seed, e + 1)`.
pub(super) fn observation_stack(
    spec: &KernelSpec,
    size: usize,
    defects: &DefectConfig,
    artefacts: &Artefacts,
    seed: u64,
) -> Result<ObservationStack> {
    crate::synthesis::check_image_size(size)?;
    defects.validate()?;
    artefacts.validate()?;
    let energies = spec.energies();
    if energies.len() > MAX_ENERGIES {
        return Err(Error::invalid(format!(
            "{} energies; at most {MAX_ENERGIES}",
            energies.len()
        )));
    }
    let px = spec.render.pixel_size_a;
    let mut rng = Rng::new(seed);
    let count = draw_count(defects, size, size, px, &mut rng)?;
    let drift = draw_drift(artefacts, &mut rng);
    let mut ctx = SimContext::new();
    let (mut layers, mut obs) = (vec![], vec![]);
    let mut kernels = Array3::<f32>::zeros((energies.len(), size, size));
    for (e, &energy) in energies.iter().enumerate() {
        let mut layer = spec.at_energy(energy);
        layer.render.size = [size, size];
        let prepared =
            prepare_kernel_polling(&mut ctx, &layer, defects.subpixel_steps, &Bars::default())?;
        kernels.slice_mut(s![e, .., ..]).assign(&prepared.image);
        let mut image = vec![0f32; size * size];
        let mut mask = Array2::<u8>::zeros((size, size));
        // A copy of the placement stream: every energy draws the same defects.
        let mut placement = rng.clone();
        let (positions, amplitudes) = place_defects(
            &prepared.stamps,
            count,
            defects,
            drift,
            &mut image,
            &mut mask,
            &mut placement,
        )?;
        apply_artefacts(
            &mut image,
            size,
            size,
            artefacts,
            &mut Rng::stream(seed, e as u64 + 1),
        );
        obs.push(Observation {
            image: Array2::from_shape_vec((size, size), image).expect("shape"),
            mask,
            positions,
            amplitudes,
        });
        layers.push(layer);
    }
    let table = observation_table(&obs, (0..obs.len() as u32).collect(), count);
    let generator = format!(
        "# qpik simulate observation (energy stack)\nsize = {size}\nseed = {seed}\n\n[defects]\n{}\n[artefacts]\n{}\n[kernel]\n{}",
        toml::to_string(defects).unwrap_or_default(),
        toml::to_string(artefacts).unwrap_or_default(),
        spec.to_toml()
    );
    Ok(ObservationStack {
        dataset: Dataset {
            info: DatasetInfo {
                pixel_size_m: px * 1e-10,
                seed,
                generator,
            },
            kernels: stack_table(kernels, &layers),
            observations: table,
        },
        layers,
    })
}

impl ObservationStack {
    /// Writes `out`: a qpik dataset (`.h5`), or `.npy` files: the observations `[E, H, W]` at
    /// `out`, the defect positions `[N, 2]` (row, col) at `STEM-positions.npy` and the kernels
    /// `[E, H, W]` at `STEM-kernels.npy`. Returns the files written.
    pub(super) fn write(&self, out: &Path, outputs: &mut Outputs) -> Result<Vec<PathBuf>> {
        write_observation_files(&self.dataset, out, outputs)
    }

    pub(super) fn picture(&self, path: &Path) -> Result<()> {
        stack_picture(
            path,
            &self.dataset.observations.observations,
            &self.layers,
            "Y",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::catalog::find;
    use crate::physics::spec::EnergyRange;
    use crate::synthesis::dataset::prepare_kernel;

    fn stack(name: &str, energies: Vec<f64>) -> KernelSpec {
        with_energies(find(name).unwrap(), Some(energies)).unwrap()
    }

    #[test]
    fn each_layer_is_the_spec_simulated_alone_at_that_energy() {
        let mut spec = stack("shockley-ag111-50meV", vec![0.02, 0.08]);
        spec.render.size = [24, 24];
        let (k, layers) = kernel_stack(&spec).unwrap();
        assert_eq!(k.dim(), (2, 24, 24));
        for (e, energy) in [0.02, 0.08].into_iter().enumerate() {
            let mut alone = find("shockley-ag111-50meV").unwrap();
            alone.energy_ev = energy;
            alone.render.size = [24, 24];
            let want = alone.kernel_image(&mut SimContext::new()).unwrap();
            for (a, b) in k.index_axis(Axis(0), e).iter().zip(want.iter()) {
                assert!(
                    (*a as f64 - b).abs() <= 1e-6 * b.abs().max(1e-30),
                    "{a} {b}"
                );
            }
            assert_eq!(layers[e].energy_ev, energy);
        }
        assert_ne!(k.index_axis(Axis(0), 0), k.index_axis(Axis(0), 1));
    }

    #[test]
    fn an_observation_stack_shares_its_defects_and_is_each_energys_forward_model() {
        let spec = stack("bi2212-normal-0meV", vec![-0.01, 0.0, 0.01]);
        let cfg = DefectConfig {
            count_min: 3,
            count_max: 5,
            negative_fraction: 0.3,
            ..DefectConfig::default()
        };
        let art = Artefacts {
            snr: Some(10.0),
            ..Artefacts::default()
        };
        let made = observation_stack(&spec, 24, &cfg, &art, 9).unwrap();
        let o = &made.dataset.observations;
        assert_eq!(o.observations.dim(), (3, 24, 24));
        assert_eq!(o.kernel_index, vec![0, 1, 2]);
        for e in 1..3 {
            assert_eq!(
                o.positions.index_axis(Axis(0), e),
                o.positions.index_axis(Axis(0), 0)
            );
            assert_eq!(o.amplitudes.row(e), o.amplitudes.row(0));
        }
        // Without noise: energy e is the sum of its own kernel's stamps at the shared defects.
        let clean = observation_stack(&spec, 24, &cfg, &Artefacts::default(), 9).unwrap();
        let c = &clean.dataset.observations;
        assert_eq!(c.positions, o.positions, "noise does not move defects");
        let mut ctx = SimContext::new();
        for (e, energy) in [-0.01, 0.0, 0.01].into_iter().enumerate() {
            let mut alone = find("bi2212-normal-0meV").unwrap();
            alone.energy_ev = energy;
            alone.render.size = [24, 24];
            let p = prepare_kernel(&mut ctx, &alone, 4).unwrap();
            let mut want = vec![0f32; 24 * 24];
            for d in 0..c.positions.dim().1 {
                let pos = [c.positions[[e, d, 0]] as f64, c.positions[[e, d, 1]] as f64];
                p.stamps
                    .add(&mut want, 24, pos, c.amplitudes[[e, d]], &|_| [0.0; 2]);
            }
            let got = c.observations.index_axis(Axis(0), e);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "E{e}: {a} vs {b}");
            }
            // Noise is drawn per energy: the residuals differ between energies.
            let noise: Vec<f32> = o
                .observations
                .index_axis(Axis(0), e)
                .iter()
                .zip(got.iter())
                .map(|(a, b)| a - b)
                .collect();
            assert!(noise.iter().any(|&x| x != 0.0));
        }
        let n0 = &o.observations.index_axis(Axis(0), 0) - &c.observations.index_axis(Axis(0), 0);
        let n1 = &o.observations.index_axis(Axis(0), 1) - &c.observations.index_axis(Axis(0), 1);
        assert_ne!(n0, n1);
    }

    #[test]
    fn stack_specs_parse_as_a_list_or_a_range_and_refuse_mixtures() {
        let base = find("bi2212-normal-0meV").unwrap();
        let mut spec = base.clone();
        spec.energy_ev = f64::NAN;
        spec.energy_range = Some(EnergyRange {
            start_ev: -0.02,
            stop_ev: 0.02,
            count: 5,
        });
        let back = KernelSpec::from_toml(&spec.to_toml()).unwrap();
        assert!(back.is_stack());
        let e = back.energies();
        assert_eq!(e.len(), 5);
        for (i, x) in e.iter().enumerate() {
            assert!((x - (-0.02 + 0.01 * i as f64)).abs() < 1e-15, "{e:?}");
        }
        assert!(
            !back.to_toml().contains("energy_ev ="),
            "no energy_ev in a stack spec"
        );
        let mut both = spec.clone();
        both.energies_ev = Some(vec![0.0]);
        assert!(
            both.validate()
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
        let mut with_single = spec.clone();
        with_single.energy_ev = 0.01;
        assert!(
            with_single
                .validate()
                .unwrap_err()
                .to_string()
                .contains("remove it")
        );
        let mut none = base.clone();
        none.energy_ev = f64::NAN;
        assert!(none.validate().is_err());
        assert!(spec.simulate(&mut SimContext::new()).is_err());
        // The single-energy spec is unchanged: same TOML round trip, one energy.
        assert_eq!(KernelSpec::from_toml(&base.to_toml()).unwrap(), base);
        assert_eq!(base.energies(), vec![base.energy_ev]);
        assert!(with_energies(base, Some(vec![f64::INFINITY])).is_err());
    }
}
