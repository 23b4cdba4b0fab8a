//! The symmetry loss of the paper: the reconstruction rotated about the kernel centre by the
//! angles of its symmetry class, compared with the ground truth on the central crop.
//!
//! Rotation is bilinear, about pixel (S/2, S/2) (the impurity), as four gathers with weights,
//! so it is differentiable with Candle's `index_select`.

use candle_core::{Device, Result, Tensor};

/// Rotation angles (degrees) of a symmetry class; 1 = isotropic (+-90, 180); 0 = unknown (none).
pub fn class_angles(symmetry: u8) -> &'static [f64] {
    match symmetry {
        1 => &[90.0, 180.0, 270.0],
        2 => &[180.0],
        3 => &[120.0, 240.0],
        4 => &[90.0, 270.0],
        6 => &[60.0, 120.0, 180.0, 240.0, 300.0],
        _ => &[],
    }
}

/// Gather tables for rotating `size x size` images onto the central crop.
pub struct Rotations {
    size: usize,
    crop: Tensor,
    /// Per angle: four (index, weight) pairs over the crop pixels.
    tables: Vec<(f64, [(Tensor, Tensor); 4])>,
}

impl Rotations {
    /// Crop side `round(40/64 size)` (40 for 64 x 64, as published).
    pub fn new(size: usize, device: &Device) -> Result<Self> {
        let crop_side = ((size as f64) * 40.0 / 64.0).round() as usize;
        let c = (size / 2) as f64;
        let start = size / 2 - crop_side / 2;
        let pixels: Vec<(usize, usize)> = (0..crop_side)
            .flat_map(|i| (0..crop_side).map(move |j| (start + i, start + j)))
            .collect();
        let crop: Vec<u32> = pixels.iter().map(|&(i, j)| (i * size + j) as u32).collect();
        let crop = Tensor::new(crop.as_slice(), device)?;
        let mut tables = Vec::new();
        for angle in [60.0, 90.0, 120.0, 180.0, 240.0, 270.0, 300.0] {
            let (s, co) = f64::to_radians(angle).sin_cos();
            let mut idx = [vec![], vec![], vec![], vec![]];
            let mut wts = [vec![], vec![], vec![], vec![]];
            for &(i, j) in &pixels {
                // Output pixel samples the input at R(-angle)(p - c) + c.
                let (y, x) = (i as f64 - c, j as f64 - c);
                let (sy, sx) = (-s * x + co * y + c, co * x + s * y + c);
                let (y0, x0) = (sy.floor(), sx.floor());
                let (fy, fx) = (sy - y0, sx - x0);
                let corners = [
                    (y0, x0, (1.0 - fy) * (1.0 - fx)),
                    (y0, x0 + 1.0, (1.0 - fy) * fx),
                    (y0 + 1.0, x0, fy * (1.0 - fx)),
                    (y0 + 1.0, x0 + 1.0, fy * fx),
                ];
                for (k, &(yy, xx, w)) in corners.iter().enumerate() {
                    let inside = yy >= 0.0 && xx >= 0.0 && yy < size as f64 && xx < size as f64;
                    idx[k].push(if inside {
                        (yy as usize * size + xx as usize) as u32
                    } else {
                        0
                    });
                    wts[k].push(if inside { w as f32 } else { 0.0 });
                }
            }
            let mk = |k: usize| -> Result<(Tensor, Tensor)> {
                Ok((
                    Tensor::new(idx[k].as_slice(), device)?,
                    Tensor::new(wts[k].as_slice(), device)?.unsqueeze(0)?,
                ))
            };
            tables.push((angle, [mk(0)?, mk(1)?, mk(2)?, mk(3)?]));
        }
        Ok(Rotations { size, crop, tables })
    }

    /// `[B, S*S]` images rotated by `angle` onto the crop: `[B, crop^2]`.
    pub fn rotate(&self, flat: &Tensor, angle: f64) -> Result<Tensor> {
        let (_, t) = self
            .tables
            .iter()
            .find(|(a, _)| (*a - angle).abs() < 1e-9)
            .expect("tabulated angle");
        let mut acc: Option<Tensor> = None;
        for (idx, w) in t {
            let g = flat.index_select(idx, 1)?.broadcast_mul(w)?;
            acc = Some(match acc {
                Some(a) => (a + g)?,
                None => g,
            });
        }
        Ok(acc.expect("four corners"))
    }

    /// `[B, S*S]` -> the unrotated crop.
    pub fn crop(&self, flat: &Tensor) -> Result<Tensor> {
        flat.index_select(&self.crop, 1)
    }

    /// Mean over the batch of the mean over class angles of MSE(rot(recon), truth) on the crop.
    /// `recon`, `truth`: `[B, 1, S, S]`; `symmetry[b]` the class of sample b.
    pub fn loss(&self, recon: &Tensor, truth: &Tensor, symmetry: &[u8]) -> Result<Tensor> {
        let b = symmetry.len();
        let flat_r = recon.reshape((b, self.size * self.size))?;
        let truth_crop = self.crop(&truth.reshape((b, self.size * self.size))?)?;
        let mut total: Option<Tensor> = None;
        for class in [1u8, 2, 3, 4, 6] {
            let members: Vec<u32> = (0..b)
                .filter(|&i| symmetry[i] == class)
                .map(|i| i as u32)
                .collect();
            if members.is_empty() {
                continue;
            }
            let sel = Tensor::new(members.as_slice(), recon.device())?;
            let r = flat_r.index_select(&sel, 0)?;
            let t = truth_crop.index_select(&sel, 0)?;
            let angles = class_angles(class);
            for &a in angles {
                // Each member's loss is the mean over its angles; weight by members / B.
                let term = (self.rotate(&r, a)? - &t)?
                    .sqr()?
                    .mean_all()?
                    .affine(members.len() as f64 / (b as f64 * angles.len() as f64), 0.0)?;
                total = Some(match total {
                    Some(x) => (x + term)?,
                    None => term,
                });
            }
        }
        match total {
            Some(t) => Ok(t),
            None => Tensor::new(0f32, recon.device()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_leave_symmetric_images_alone_and_move_others() -> Result<()> {
        let dev = Device::Cpu;
        let size = 32;
        let rot = Rotations::new(size, &dev)?;
        let c = (size / 2) as f64;
        // Isotropic ring: invariant under every angle (up to bilinear error).
        let ring: Vec<f32> = (0..size * size)
            .map(|p| {
                let (i, j) = ((p / size) as f64 - c, (p % size) as f64 - c);
                ((i * i + j * j).sqrt() * 0.6).cos() as f32
            })
            .collect();
        // A 4-fold pattern cos(2 theta)... use x^2 - y^2: symmetric under 180, antisymmetric under 90.
        let quad: Vec<f32> = (0..size * size)
            .map(|p| {
                let (i, j) = ((p / size) as f64 - c, (p % size) as f64 - c);
                ((j * j - i * i) / 100.0) as f32
            })
            .collect();
        let t = |v: &Vec<f32>| Tensor::from_vec(v.clone(), (1, 1, size, size), &dev);
        let ring_t = t(&ring)?;
        let l_iso = rot.loss(&ring_t, &ring_t, &[1])?.to_scalar::<f32>()?;
        assert!(l_iso < 2e-3, "isotropic loss {l_iso}");
        let quad_t = t(&quad)?;
        assert!(
            rot.loss(&quad_t, &quad_t, &[2])?.to_scalar::<f32>()? < 1e-10,
            "exact at 180 degrees"
        );
        assert!(
            rot.loss(&quad_t, &quad_t, &[4])?.to_scalar::<f32>()? > 0.1,
            "x^2 - y^2 flips sign at 90 degrees"
        );
        assert_eq!(rot.loss(&quad_t, &quad_t, &[0])?.to_scalar::<f32>()?, 0.0);
        Ok(())
    }
}
