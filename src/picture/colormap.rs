//! Colormaps: viridis for magnitudes, blue-white-red for signed data, grey; NaN in magenta.

/// Colour of NaN and infinite pixels (magenta: absent from every colormap here).
pub const NAN_RGB: [u8; 3] = [255, 0, 255];

pub(crate) const WHITE: [u8; 3] = [255, 255, 255];
pub(crate) const BLACK: [u8; 3] = [0, 0, 0];

/// Viridis sampled at t = 0, 1/8, ..., 1 (nine anchors; interpolated linearly in between).
const VIRIDIS_ANCHORS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// Blue-white-red (ColorBrewer RdBu reversed), with pure white exactly at t = 0.5.
const DIVERGING_ANCHORS: [[u8; 3]; 9] = [
    [5, 48, 97],
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [255, 255, 255],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
    [103, 0, 31],
];

/// Linear interpolation in a table of equally spaced anchors; NaN gives [`NAN_RGB`].
fn interpolate(anchors: &[[u8; 3]], t: f64) -> [u8; 3] {
    if t.is_nan() {
        return NAN_RGB;
    }
    let x = t.clamp(0.0, 1.0) * (anchors.len() - 1) as f64;
    let i = (x.floor() as usize).min(anchors.len() - 2);
    let f = x - i as f64;
    let (a, b) = (anchors[i], anchors[i + 1]);
    let mix = |k: usize| (a[k] as f64 + f * (b[k] as f64 - a[k] as f64)).round() as u8;
    [mix(0), mix(1), mix(2)]
}

/// Perceptually ordered sequential map (viridis-like): dark purple at 0, yellow at 1.
/// `t` is clamped to [0, 1]; NaN gives [`NAN_RGB`].
pub fn viridis(t: f64) -> [u8; 3] {
    interpolate(&VIRIDIS_ANCHORS, t)
}

/// Diverging blue-white-red map for signed data: dark blue at 0, white at 0.5, dark red at 1.
/// `t` is clamped to [0, 1]; NaN gives [`NAN_RGB`].
pub fn diverging(t: f64) -> [u8; 3] {
    interpolate(&DIVERGING_ANCHORS, t)
}

/// Grey ramp: black at 0, white at 1. `t` is clamped to [0, 1]; NaN gives [`NAN_RGB`].
pub fn gray(t: f64) -> [u8; 3] {
    if t.is_nan() {
        return NAN_RGB;
    }
    let v = (t.clamp(0.0, 1.0) * 255.0).round() as u8;
    [v, v, v]
}

/// Which colours a picture uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    /// [`viridis`]: for kernels and observations seen as magnitudes.
    Viridis,
    /// [`diverging`]: for signed data such as LDOS changes; pair with [`Scale::Symmetric`].
    Diverging,
    /// [`gray`].
    Gray,
}

impl Colormap {
    /// Colour at `t` in [0, 1] (clamped; NaN gives [`NAN_RGB`]).
    pub fn rgb(self, t: f64) -> [u8; 3] {
        match self {
            Colormap::Viridis => viridis(t),
            Colormap::Diverging => diverging(t),
            Colormap::Gray => gray(t),
        }
    }

    /// (core, halo) colours of marks: the core contrasts with the map, the halo with the core.
    pub(crate) fn mark_rgb(self) -> ([u8; 3], [u8; 3]) {
        match self {
            Colormap::Viridis | Colormap::Gray => ([255, 30, 30], WHITE),
            Colormap::Diverging => (BLACK, WHITE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luminance(c: [u8; 3]) -> f64 {
        0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64
    }

    #[test]
    fn colormap_ends_and_nan() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(-1.0), viridis(0.0));
        assert_eq!(diverging(0.5), WHITE);
        assert!(diverging(0.0)[2] > diverging(0.0)[0], "low end is blue");
        assert!(diverging(1.0)[0] > diverging(1.0)[2], "high end is red");
        assert_eq!(gray(0.0), BLACK);
        assert_eq!(gray(1.0), WHITE);
        assert_eq!(gray(0.5), [128, 128, 128]);
        for cmap in [Colormap::Viridis, Colormap::Diverging, Colormap::Gray] {
            assert_eq!(cmap.rgb(f64::NAN), NAN_RGB);
        }
        // Halfway between two anchors is the mean of the anchors.
        let mid = viridis(1.0 / 16.0);
        assert_eq!(mid, [70, 23, 103]);
    }

    #[test]
    fn viridis_brightens_and_diverging_peaks_at_white() {
        let t = |i: usize| i as f64 / 200.0;
        for i in 0..200 {
            assert!(
                luminance(viridis(t(i + 1))) > luminance(viridis(t(i))),
                "viridis at {i}"
            );
            let (a, b) = (luminance(diverging(t(i))), luminance(diverging(t(i + 1))));
            if i < 100 {
                assert!(b > a, "diverging rises to white at {i}");
            } else {
                assert!(b < a, "diverging falls from white at {i}");
            }
        }
    }
}
