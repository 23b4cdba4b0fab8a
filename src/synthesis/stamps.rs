//! Pre-rendered, subpixel-shifted copies of a kernel ("stamps") for fast, exact synthesis.
//!
//! Adding a defect at a subpixel position is a copy-add of the stamp whose impurity sits at
//! the same subpixel phase: no interpolation, the physics renderer itself places the
//! impurity. Positions are quantised to `1/steps` of a pixel (default 4: quarter pixels).

use crate::physics::{KernelField, PixelGrid};
use crate::{Error, Result};
use rayon::prelude::*;

/// `steps x steps` renders of one kernel on a `(2R) x (2R)` window, impurity at `(R + a/steps, R + b/steps)`.
#[derive(Clone, Debug)]
pub struct KernelStamps {
    /// Half size R of each stamp in pixels: defects influence pixels within R rows/columns.
    pub radius: usize,
    pub steps: usize,
    /// `stamps[a * steps + b]`, each `(2R) x (2R)` row-major.
    stamps: Vec<Vec<f32>>,
}

impl KernelStamps {
    /// The stamps observations of a kernel rendered on `grid` need: radius the larger side of
    /// the grid, so a defect reaches as far as the kernel's own window.
    pub fn for_grid(field: &KernelField, grid: &PixelGrid, steps: usize) -> Result<Self> {
        Self::new(field, grid, grid.height.max(grid.width), steps)
    }

    /// Render all phases of `field` on pixels of `grid`'s size and rotation.
    pub fn new(field: &KernelField, grid: &PixelGrid, radius: usize, steps: usize) -> Result<Self> {
        if radius == 0 || steps == 0 || steps > 16 {
            return Err(Error::invalid(format!(
                "stamp radius {radius} must be > 0 and subpixel steps {steps} in 1..=16"
            )));
        }
        let side = 2 * radius;
        let stamp_grid = PixelGrid {
            height: side,
            width: side,
            ..*grid
        };
        let stamps = (0..steps * steps)
            .into_par_iter()
            .map(|p| {
                let (a, b) = (p / steps, p % steps);
                let centre = [
                    radius as f64 + a as f64 / steps as f64,
                    radius as f64 + b as f64 / steps as f64,
                ];
                field
                    .render(&stamp_grid, centre)
                    .map(|img| img.iter().map(|&x| x as f32).collect())
            })
            .collect::<Result<Vec<Vec<f32>>>>()?;
        Ok(KernelStamps {
            radius,
            steps,
            stamps,
        })
    }

    /// The stamp of subpixel phase `(a, b)`, `(2R) x (2R)` row-major.
    pub fn phase(&self, a: usize, b: usize) -> &[f32] {
        &self.stamps[a * self.steps + b]
    }

    /// Quantise a coordinate to the stamp phase grid: (integer pixel, phase index).
    #[inline]
    fn split(&self, x: f64) -> (i64, usize) {
        let q = (x * self.steps as f64).round() as i64;
        (
            q.div_euclid(self.steps as i64),
            q.rem_euclid(self.steps as i64) as usize,
        )
    }

    /// The position a coordinate is actually rendered at (after quantisation).
    pub fn quantise(&self, x: f64) -> f64 {
        (x * self.steps as f64).round() / self.steps as f64
    }

    /// Add `amplitude * K(r - position)` to `image` (`height x width`, row-major), with the
    /// defect seen at `position - drift(row)` on each scan line (thermal drift), `drift` in pixels.
    pub fn add(
        &self,
        image: &mut [f32],
        width: usize,
        position: [f64; 2],
        amplitude: f32,
        drift: &dyn Fn(usize) -> [f64; 2],
    ) {
        let height = image.len() / width;
        let side = 2 * self.radius as i64;
        let r = self.radius as i64;
        for i in 0..height {
            let d = drift(i);
            let (r0, fr) = self.split(position[0] - d[0]);
            let (c0, fc) = self.split(position[1] - d[1]);
            let y = i as i64 - r0 + r;
            if y < 0 || y >= side {
                continue;
            }
            let stamp = &self.stamps[fr * self.steps + fc];
            let srow = &stamp[(y * side) as usize..((y + 1) * side) as usize];
            // Columns j with 0 <= j - c0 + r < side.
            let j_start = (c0 - r).max(0);
            let j_end = (c0 - r + side).min(width as i64);
            if j_start >= j_end {
                continue;
            }
            let row = &mut image[i * width..(i + 1) * width];
            let out = &mut row[j_start as usize..j_end as usize];
            let src = &srow[(j_start - c0 + r) as usize..(j_end - c0 + r) as usize];
            for (o, s) in out.iter_mut().zip(src) {
                *o += amplitude * s;
            }
        }
    }
}
