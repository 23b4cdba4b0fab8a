//! A synthetic map of several defect types, each with its own catalog kernel, with the
//! truth of every defect: for multi-type extraction tests, benchmarks and evaluation.
//!
//! `Y = sum_t sum_{i in type t} a_i K_t(r - r_i) + artefacts`: the defects of each type are
//! drawn independently (one [`DefectConfig`] per type: count, amplitudes, signs, region), the
//! thermal drift is one for the whole frame, and the artefacts are applied once, to the sum,
//! with strengths relative to the standard deviation of the clean sum.

use super::dataset::prepare_kernel;
use super::{
    Artefacts, DefectConfig, KernelStamps, MAX_IMAGE_SIZE, Observation, apply_artefacts,
    draw_count, draw_drift, place_defects,
};
use crate::physics::{SimContext, catalog::find};
use crate::rng::Rng;
use crate::{Error, Result};
use ndarray::{Array2, s};

/// Most defect types in one scene (type codes are `u8`, and the engine's `map.types` is 1..=8).
pub const MAX_TYPES: usize = 8;
/// Largest kernel reach in pixels (stamps are `(4 reach)^2` per subpixel phase).
pub const MAX_REACH: usize = 1024;

/// A multi-type map with everything that made it.
#[derive(Clone, Debug)]
pub struct TypedScene {
    /// The observed map `[row, col]`: the clean sum of all types with the artefacts applied once.
    pub image: Array2<f32>,
    /// The clean sum of all types (drift included, no other artefact).
    pub clean: Array2<f32>,
    /// True kernel of each type on `window x window` pixels, impurity at `(window/2, window/2)`,
    /// in the catalog's units (states / eV / Angstrom^2), all at [`TypedScene::pixel_size_a`].
    pub kernels: Vec<Array2<f32>>,
    /// Catalog name of each type's kernel.
    pub names: Vec<String>,
    /// Defect positions `(row, col)` in pixels as rendered (quantised to each type's subpixel
    /// steps), grouped by type: all of type 0 first, then type 1, ...
    pub positions: Vec<[f32; 2]>,
    /// Signed amplitude of each defect (same order as `positions`).
    pub amplitudes: Vec<f32>,
    /// Type of each defect, an index into `kernels` (same order as `positions`).
    pub types: Vec<u8>,
    /// 1 at the pixel nearest each defect of any type.
    pub mask: Array2<u8>,
    /// Pixel size of the map and of every kernel, Angstrom (the first kernel's own).
    pub pixel_size_a: f64,
}

/// Simulate the catalog kernels `names` (type `t` is `names[t]`) and a `size x size` map of
/// their defects, `defects[t]` drawing type `t`'s count and amplitudes. Every kernel is
/// rendered at the first kernel's catalog pixel size, so all share the map's pixel grid.
/// Each kernel reaches `reach` pixels from its defect (as in
/// [`super::scene::catalog_scene`]); the truth is returned on `window x window` pixels
/// (`window <= 2 reach`).
///
/// Seeds: defects are drawn from `Rng::stream(seed, 0)` (in the order of
/// [`synthesize_types`]), artefacts from `Rng::stream(seed, 1)`; so the same seed
/// with other artefact strengths (the same `drift_px`) gives the same defects.
pub fn typed_scene(
    names: &[&str],
    size: usize,
    reach: usize,
    window: usize,
    defects: &[DefectConfig],
    artefacts: &Artefacts,
    seed: u64,
) -> Result<TypedScene> {
    if names.is_empty() || names.len() > MAX_TYPES {
        return Err(Error::invalid(format!(
            "a typed scene needs 1 to {MAX_TYPES} kernel names, got {}",
            names.len()
        )));
    }
    if defects.len() != names.len() {
        return Err(Error::invalid(format!(
            "{} kernel names but {} defect configs: give one defect config per type",
            names.len(),
            defects.len()
        )));
    }
    if !(1..=MAX_IMAGE_SIZE).contains(&size) {
        return Err(Error::invalid(format!(
            "scene size {size} must be between 1 and {MAX_IMAGE_SIZE} pixels"
        )));
    }
    if !(1..=MAX_REACH).contains(&reach) {
        return Err(Error::invalid(format!(
            "kernel reach {reach} must be between 1 and {MAX_REACH} pixels"
        )));
    }
    if window == 0 || window > 2 * reach {
        return Err(Error::invalid(format!(
            "truth window {window} must be between 1 and the kernel's extent {}",
            2 * reach
        )));
    }
    for d in defects {
        d.validate()?;
    }
    artefacts.validate()?;

    let mut specs = Vec::with_capacity(names.len());
    for name in names {
        let spec = find(name)
            .ok_or_else(|| Error::invalid(format!("no catalog kernel named '{name}'")))?;
        specs.push(spec);
    }
    let pixel_size_a = specs[0].render.pixel_size_a;
    let mut ctx = SimContext::new();
    let mut prepared = Vec::with_capacity(specs.len());
    for (spec, d) in specs.iter_mut().zip(defects) {
        spec.render.size = [2 * reach, 2 * reach];
        spec.render.pixel_size_a = pixel_size_a;
        prepared.push(prepare_kernel(&mut ctx, spec, d.subpixel_steps)?);
    }
    let off = reach - window / 2;
    let kernels = prepared
        .iter()
        .map(|p| {
            p.image
                .slice(s![off..off + window, off..off + window])
                .to_owned()
        })
        .collect();

    let stamps: Vec<&KernelStamps> = prepared.iter().map(|p| &p.stamps).collect();
    let mut rng = Rng::stream(seed, 0);
    let placed = place_types(
        &stamps,
        size,
        size,
        pixel_size_a,
        defects,
        artefacts,
        &mut rng,
    )?;
    let mut image = placed.observation.image.into_raw_vec_and_offset().0;
    let clean = Array2::from_shape_vec((size, size), image.clone()).expect("shape");
    apply_artefacts(&mut image, size, size, artefacts, &mut Rng::stream(seed, 1));
    Ok(TypedScene {
        image: Array2::from_shape_vec((size, size), image).expect("shape"),
        clean,
        kernels,
        names: names.iter().map(|n| n.to_string()).collect(),
        positions: placed.observation.positions,
        amplitudes: placed.observation.amplitudes,
        types: placed.types,
        mask: placed.observation.mask,
        pixel_size_a,
    })
}

/// An observation of several defect types and the type of each defect.
#[derive(Clone, Debug)]
pub struct TypedObservation {
    /// Positions and amplitudes grouped by type (type 0 first), as [`TypedScene`].
    pub observation: Observation,
    /// Type of each defect (an index into the stamps it was made with).
    pub types: Vec<u8>,
}

/// The clean part of [`synthesize_types`]: type 0's count, the drift of the frame, type 0's
/// defects, then each further type's count and defects (`defects[t]` with `stamps[t]`), all
/// from `rng`, no artefact.
fn place_types(
    stamps: &[&KernelStamps],
    height: usize,
    width: usize,
    pixel_size_a: f64,
    defects: &[DefectConfig],
    artefacts: &Artefacts,
    rng: &mut Rng,
) -> Result<TypedObservation> {
    if stamps.is_empty() || stamps.len() > MAX_TYPES || stamps.len() != defects.len() {
        return Err(Error::invalid(format!(
            "{} kernels and {} defect configs: give 1 to {MAX_TYPES} of each, one per type",
            stamps.len(),
            defects.len()
        )));
    }
    if height == 0 || width == 0 {
        return Err(Error::invalid("observation size must be positive"));
    }
    for d in defects {
        d.validate()?;
    }
    // Type 0's count before the drift: the order of the single-type `synthesize`.
    let first = draw_count(&defects[0], height, width, pixel_size_a, rng)?;
    let drift = draw_drift(artefacts, rng);
    let mut image = vec![0.0f32; height * width];
    let mut mask = Array2::<u8>::zeros((height, width));
    let (mut positions, mut amplitudes, mut types) = (Vec::new(), Vec::new(), Vec::new());
    for (t, (st, d)) in stamps.iter().zip(defects).enumerate() {
        let count = if t == 0 {
            first
        } else {
            draw_count(d, height, width, pixel_size_a, rng)?
        };
        let (pos, amp) = place_defects(st, count, d, drift, &mut image, &mut mask, rng)?;
        types.extend(std::iter::repeat_n(t as u8, pos.len()));
        positions.extend(pos);
        amplitudes.extend(amp);
    }
    Ok(TypedObservation {
        observation: Observation {
            image: Array2::from_shape_vec((height, width), image).expect("shape"),
            mask,
            positions,
            amplitudes,
        },
        types,
    })
}

/// [`super::synthesize`] for several defect types: type `t` is `stamps[t]` with its count and
/// amplitudes drawn from `defects[t]`, independently of the other types; one drift for the
/// frame; the artefacts applied once to the sum (relative to the sum's standard deviation).
/// Everything is drawn from `rng`: type 0's count, the drift, type 0's defects, type 1's
/// count and defects, ..., then the artefacts; with one type this is exactly
/// [`super::synthesize`]. All stamps must share the map's pixel size `pixel_size_a`.
pub fn synthesize_types(
    stamps: &[&KernelStamps],
    height: usize,
    width: usize,
    pixel_size_a: f64,
    defects: &[DefectConfig],
    artefacts: &Artefacts,
    rng: &mut Rng,
) -> Result<TypedObservation> {
    artefacts.validate()?;
    let mut placed = place_types(stamps, height, width, pixel_size_a, defects, artefacts, rng)?;
    let image = placed
        .observation
        .image
        .as_slice_mut()
        .expect("standard layout");
    apply_artefacts(image, height, width, artefacts, rng);
    super::check_finite(image, width)?;
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::PixelGrid;

    const A: &str = "bi2212-normal-0meV";
    const B: &str = "shockley-ag111-50meV";

    fn config(lo: usize, hi: usize, amp: (f64, f64)) -> DefectConfig {
        DefectConfig {
            count_min: lo,
            count_max: hi,
            amplitude_min: amp.0,
            amplitude_max: amp.1,
            ..DefectConfig::default()
        }
    }

    #[test]
    fn image_is_the_sum_of_each_types_directly_rendered_kernels_plus_artefacts_once() {
        let cfgs = [config(3, 3, (0.5, 1.0)), config(4, 4, (2.0, 3.0))];
        let art = Artefacts::realistic();
        let sc = typed_scene(&[A, B], 32, 16, 21, &cfgs, &art, 5).unwrap();
        // The truth, independently: each defect rendered by the physics code at its position,
        // with the first kernel's pixel size for both types (no drift in this reference).
        let still = Artefacts {
            drift_px: 0.0,
            ..art
        };
        let sc0 = typed_scene(&[A, B], 32, 16, 21, &cfgs, &still, 5).unwrap();
        let mut expected = Array2::<f64>::zeros((32, 32));
        let mut ctx = SimContext::new();
        for (t, name) in [A, B].iter().enumerate() {
            let mut spec = find(name).unwrap();
            spec.render.pixel_size_a = sc0.pixel_size_a;
            spec.render.size = [32, 32]; // as the scene renders it (reach 16), same k-grid
            let field = spec.simulate(&mut ctx).unwrap();
            let grid = PixelGrid {
                height: 32,
                width: 32,
                ..spec.grid()
            };
            for ((p, &a), &ty) in sc0.positions.iter().zip(&sc0.amplitudes).zip(&sc0.types) {
                if ty as usize == t {
                    expected = expected
                        + field.render(&grid, [p[0] as f64, p[1] as f64]).unwrap() * a as f64;
                }
            }
        }
        let scale = expected.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let err = sc0
            .clean
            .iter()
            .zip(expected.iter())
            .map(|(&x, &y)| (x as f64 - y).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-5 * scale, "clean sum mismatch {err:e} ({scale:e})");
        // Artefacts once, on the sum: exactly apply_artefacts on the clean map.
        for (scene, a) in [(&sc, art), (&sc0, still)] {
            let mut once = scene.clean.clone().into_raw_vec_and_offset().0;
            apply_artefacts(&mut once, 32, 32, &a, &mut Rng::stream(5, 1));
            assert_eq!(scene.image.as_slice().unwrap(), &once[..]);
        }
        // Same seed and drift: same defects whatever the other artefacts.
        let clean_only = Artefacts {
            drift_px: art.drift_px,
            ..Artefacts::default()
        };
        let sc2 = typed_scene(&[A, B], 32, 16, 21, &cfgs, &clean_only, 5).unwrap();
        assert_eq!(sc2.positions, sc.positions);
        assert_eq!(sc2.clean, sc.clean);
        assert_eq!(sc2.image, sc.clean);
        // Truth kernels: the windowed centre of each kernel, impurity at (10, 10).
        assert_eq!(sc.kernels.len(), 2);
        for k in &sc.kernels {
            assert_eq!(k.dim(), (21, 21));
        }
        assert_ne!(sc.kernels[0], sc.kernels[1]);
        for p in &sc.positions {
            assert_eq!(sc.mask[[p[0].round() as usize, p[1].round() as usize]], 1);
        }
    }

    #[test]
    fn counts_and_amplitudes_follow_each_types_config_and_seeds_reproduce() {
        let cfgs = [config(2, 5, (0.5, 1.0)), config(10, 14, (3.0, 4.0))];
        let mut seen = [vec![], vec![]];
        for seed in 0..12 {
            let sc = typed_scene(&[A, B], 24, 8, 15, &cfgs, &Artefacts::default(), seed).unwrap();
            assert_eq!(sc.positions.len(), sc.types.len());
            assert_eq!(sc.amplitudes.len(), sc.types.len());
            for t in 0..2 {
                let n = sc.types.iter().filter(|&&x| x as usize == t).count();
                assert!(
                    (cfgs[t].count_min..=cfgs[t].count_max).contains(&n),
                    "type {t}: {n} defects"
                );
                seen[t].push(n);
            }
            for (&a, &t) in sc.amplitudes.iter().zip(&sc.types) {
                let c = &cfgs[t as usize];
                assert!(
                    (c.amplitude_min as f32..=c.amplitude_max as f32).contains(&a),
                    "type {t} amplitude {a}"
                );
            }
            assert!(sc.types.windows(2).all(|w| w[0] <= w[1]), "grouped by type");
            let again =
                typed_scene(&[A, B], 24, 8, 15, &cfgs, &Artefacts::default(), seed).unwrap();
            assert_eq!(again.image, sc.image);
            assert_eq!(again.positions, sc.positions);
        }
        // Independent draws: the counts vary across seeds within each type's range.
        for s in &seen {
            assert!(s.iter().any(|&n| n != s[0]), "counts never vary: {s:?}");
        }
        let other = typed_scene(&[A, B], 24, 8, 15, &cfgs, &Artefacts::default(), 99).unwrap();
        let first = typed_scene(&[A, B], 24, 8, 15, &cfgs, &Artefacts::default(), 0).unwrap();
        assert_ne!(other.image, first.image);
    }

    #[test]
    fn synthesize_types_is_typed_scene_with_one_stream_and_one_type_is_synthesize() {
        let cfgs = [config(2, 4, (0.5, 1.0)), config(3, 6, (1.0, 2.0))];
        let mut ctx = SimContext::new();
        let mut prepared = vec![];
        for name in [A, B] {
            let mut spec = find(name).unwrap();
            spec.render.size = [16, 16];
            spec.render.pixel_size_a = find(A).unwrap().render.pixel_size_a;
            prepared.push(prepare_kernel(&mut ctx, &spec, 4).unwrap());
        }
        let stamps: Vec<&KernelStamps> = prepared.iter().map(|p| &p.stamps).collect();
        let px = prepared[0].spec.render.pixel_size_a;
        let art = Artefacts {
            snr: Some(5.0),
            ..Artefacts::default()
        };
        let two = synthesize_types(&stamps, 24, 24, px, &cfgs, &art, &mut Rng::new(3)).unwrap();
        let mut r = Rng::new(3);
        let clean = place_types(&stamps, 24, 24, px, &cfgs, &art, &mut r).unwrap();
        assert_eq!(clean.types, two.types);
        assert_eq!(clean.observation.positions, two.observation.positions);
        let mut noisy = clean.observation.image.clone();
        apply_artefacts(noisy.as_slice_mut().unwrap(), 24, 24, &art, &mut r);
        assert_eq!(
            noisy, two.observation.image,
            "artefacts once, after all types"
        );
        // One type: exactly the single-kernel synthesis, draw for draw.
        let one =
            synthesize_types(&stamps[..1], 24, 24, px, &cfgs[..1], &art, &mut Rng::new(8)).unwrap();
        let single =
            crate::synthesis::synthesize(stamps[0], 24, 24, px, &cfgs[0], &art, &mut Rng::new(8))
                .unwrap();
        assert_eq!(one.observation.image, single.image);
        assert_eq!(one.observation.positions, single.positions);
        assert!(one.types.iter().all(|&t| t == 0));
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        let c = DefectConfig::default();
        let art = Artefacts::default();
        let e = typed_scene(&[A, B], 24, 8, 15, &[c], &art, 0).unwrap_err();
        assert!(e.to_string().contains("one defect config per type"), "{e}");
        let e = typed_scene(&[A], 24, 8, 17, &[c], &art, 0).unwrap_err();
        assert!(e.to_string().contains("truth window"), "{e}");
        let e = typed_scene(&[], 24, 8, 15, &[], &art, 0).unwrap_err();
        assert!(e.to_string().contains("1 to 8"), "{e}");
        let e = typed_scene(&["no-such-kernel"], 24, 8, 15, &[c], &art, 0).unwrap_err();
        assert!(e.to_string().contains("no-such-kernel"), "{e}");
    }
}
