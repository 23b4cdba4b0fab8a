//! Renders a demonstration grid of the picture panels for a person to look at:
//! `cargo run --release --example png_demo -- /tmp/png_demo.png` (also writes `.small.png`).

use ndarray::Array2;
use qpik::picture::{Colormap, Panel, Scale, write_panels};

fn rings(n: usize, k: f64, centres: &[(f64, f64)]) -> Array2<f32> {
    Array2::from_shape_fn((n, n), |(i, j)| {
        centres
            .iter()
            .map(|&(r, c)| {
                let d = ((i as f64 - r).powi(2) + (j as f64 - c).powi(2)).sqrt();
                (k * d).cos() / (1.0 + d)
            })
            .sum::<f64>() as f32
    })
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "png_demo.png".to_string());
    let kernel = rings(64, 0.8, &[(32.0, 32.0)]);
    let centres = [(12.0, 15.0), (40.0, 50.0), (50.0, 20.0)];
    let mut observation = rings(64, 0.8, &centres);
    observation[[3, 60]] = f32::NAN;
    let mut spiky = observation.clone();
    spiky[[30, 30]] = 40.0;
    let small = &kernel * 1e-3;
    let marks: Vec<(f32, f32)> = centres.iter().map(|&(r, c)| (r as f32, c as f32)).collect();
    let panels = vec![
        Panel::new(kernel.view(), "kernel 0: isotropic, E = 0.010 eV"),
        Panel {
            colormap: Colormap::Diverging,
            scale: Scale::Symmetric,
            marks: marks.clone(),
            ..Panel::new(observation.view(), "observation #1 (3 defects) [dI/dV]")
        },
        Panel {
            colormap: Colormap::Gray,
            scale: Scale::Percentile(1.0),
            marks: vec![(f32::NAN, 1.0), (30.0, 30.0)],
            ..Panel::new(
                spiky.view(),
                "spike + percentile_1% / gray; abcdefghijklmnopqrstuvwxyz",
            )
        },
        Panel::new(
            small.view(),
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 -_.,:=()/+%#[]",
        ),
    ];
    write_panels(path.as_ref(), &panels, 3, 4).unwrap();
    // Small images at zoom 1 use the 1x font.
    let small_path = std::path::Path::new(&path).with_extension("small.png");
    write_panels(&small_path, &panels, 4, 1).unwrap();
}
