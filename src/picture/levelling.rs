//! Levelling of scans for display (pictures of topography show the surface, not the drift).

use ndarray::Array2;

/// Line levelling, as STM software does: each row minus the mean of its finite pixels (takes
/// out the slow drift of the tip height from line to line).
pub fn level_lines(image: &mut Array2<f32>) {
    for mut row in image.rows_mut() {
        let (sum, n) = row
            .iter()
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0usize), |(s, n), &v| (s + f64::from(v), n + 1));
        if n > 0 {
            row -= (sum / n as f64) as f32;
        }
    }
}
