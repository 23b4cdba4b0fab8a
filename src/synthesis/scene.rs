//! A synthetic map of one catalog kernel with its truth, for tests, benchmarks and the demo.

use super::dataset::prepare_kernel;
use super::{Artefacts, DefectConfig, Observation, synthesize};
use crate::physics::{SimContext, catalog::find};
use crate::rng::Rng;
use crate::{Error, Result};
use ndarray::Array2;

/// A map with everything that made it.
pub struct Scene {
    pub observation: Observation,
    /// The true kernel on `window x window` pixels, impurity at `(window/2, window/2)`.
    pub kernel: Array2<f32>,
    pub pixel_size_a: f64,
}

/// Simulate catalog kernel `name` and a `size x size` map of it; the kernel reaches
/// `reach` pixels from each defect (its window is `2 reach`), the truth is returned on
/// `window x window` pixels (`window <= 2 reach`).
pub fn catalog_scene(
    name: &str,
    size: usize,
    reach: usize,
    window: usize,
    defects: &DefectConfig,
    artefacts: &Artefacts,
    seed: u64,
) -> Result<Scene> {
    if window > 2 * reach {
        return Err(Error::invalid(format!(
            "truth window {window} is larger than the kernel's extent {}",
            2 * reach
        )));
    }
    let mut spec =
        find(name).ok_or_else(|| Error::invalid(format!("no catalog kernel named '{name}'")))?;
    spec.render.size = [2 * reach, 2 * reach];
    let mut ctx = SimContext::new();
    let prepared = prepare_kernel(&mut ctx, &spec, defects.subpixel_steps)?;
    let off = reach - window / 2;
    let kernel = prepared
        .image
        .slice(ndarray::s![off..off + window, off..off + window])
        .to_owned();
    let mut rng = Rng::new(seed);
    let observation = synthesize(
        &prepared.stamps,
        size,
        size,
        spec.render.pixel_size_a,
        defects,
        artefacts,
        &mut rng,
    )?;
    Ok(Scene {
        observation,
        kernel,
        pixel_size_a: spec.render.pixel_size_a,
    })
}
