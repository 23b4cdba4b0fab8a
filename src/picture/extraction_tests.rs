//! Tests of the extraction pictures: they decode at the size drawn, show what they promise
//! (type colours, scale bars), and refuse inconsistent input.

use super::*;
use crate::data::extraction_file::tests::sample;
use crate::picture::testing::decode;

fn map_of(ex: &Extraction) -> MapData {
    let mut data = ex.background.clone();
    data += &ex.residual.mapv(|v| if v.is_finite() { v } else { 0.0 });
    MapData {
        data,
        pixel_size_m: ex.pixel_size_m,
        value_unit: ex.value_unit.clone(),
        energies_ev: ex.energies_ev.clone(),
        source: "test".into(),
    }
}

fn count(png: &crate::picture::testing::Decoded, c: [u8; 3]) -> usize {
    png.rgb.chunks(3).filter(|p| *p == c).count()
}

#[test]
fn extraction_picture_decodes_at_its_size_with_one_colour_per_type() {
    let dir = tempfile::tempdir().unwrap();
    for (t, e, layer) in [(1, 1, 0), (2, 3, 1)] {
        let ex = sample(t, e, 15, 6, 40, 48);
        let map = map_of(&ex);
        let path = dir.path().join(format!("x{t}.png"));
        write_extraction_png(&path, &map, &ex, layer).unwrap();
        let png = decode(&path);
        let canvas = render_extraction(&map, &ex, layer).unwrap();
        assert_eq!((png.width, png.height), (canvas.width, canvas.height));
        assert_eq!(png.rgb, canvas.rgb);
        // Three columns of panels at least PANEL_PX / 48 * 48 wide; 1 + t rows.
        let panel = zoom_for(40, 48, PANEL_PX) * 48;
        assert!(
            png.width >= 3 * panel && png.width < 3 * panel + 400,
            "{}",
            png.width
        );
        assert!(png.height >= (1 + t) * panel, "{}", png.height);
        for k in 0..t as u8 {
            assert!(count(&png, type_colour(k)) > 10, "type {k} marked");
        }
        assert_eq!(count(&png, type_colour(t as u8)), 0, "no type {t}");
    }
}

#[test]
fn bad_energy_or_map_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    let ex = sample(1, 2, 9, 3, 20, 20);
    let map = map_of(&ex);
    let e = write_extraction_png(&path, &map, &ex, 2).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("energy index 2")),
        "{e}"
    );
    let small = MapData::from_image(Array2::zeros((20, 19)));
    let e = write_extraction_png(&path, &small, &ex, 0).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("map is")),
        "{e}"
    );
    let mut broken = ex.clone();
    broken.types.push(0);
    assert!(write_extraction_png(&path, &map, &broken, 0).is_err());
    assert!(write_extraction_sheet(&path, &broken).is_err());
    assert!(!path.exists());
}

#[test]
fn contact_sheet_has_a_pair_per_energy_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.png");
    let ex = sample(2, 5, 21, 4, 30, 30);
    write_extraction_sheet(&path, &ex).unwrap();
    let png = decode(&path);
    let canvas = render_sheet(&ex).unwrap();
    assert_eq!((png.width, png.height), (canvas.width, canvas.height));
    // 10 pairs, 3 per row (ceil sqrt 5): 6 columns, 4 rows of panels.
    let panel = zoom_for(21, 21, SHEET_PANEL_PX) * 21;
    assert!(
        png.width >= 6 * panel && png.width < 6 * panel + 600,
        "{}",
        png.width
    );
    assert!(
        png.height >= 4 * panel && png.height < 4 * panel + 600,
        "{}",
        png.height
    );
}

#[test]
fn scale_bars_in_nm_angstrom_and_inverse_nm() {
    // 49 px of 1.5 A: 7.35 nm wide, a quarter is 1.84 nm: a 1 nm bar of 6.67 px.
    let bar = length_bar(49, 1.5e-10).unwrap();
    assert_eq!(bar.label, "1 nm");
    assert!((bar.length_px - 1e-9 / 1.5e-10).abs() < 1e-9);
    // 15 px of 0.5 A: 7.5 A wide, a quarter is 1.9 A: 1 A.
    let bar = length_bar(15, 0.5e-10).unwrap();
    assert_eq!(bar.label, "1 A");
    assert!((bar.length_px - 2.0).abs() < 1e-9);
    // q-pixel 2 pi / (49 * 0.15 nm) = 0.855 / nm; width 41.9 / nm, a quarter 10.5: 10 / nm.
    let bar = wave_vector_bar(49, 1.5e-10).unwrap();
    assert_eq!(bar.label, "10 nm^-1");
    let dq = 2.0 * std::f64::consts::PI / (49.0 * 0.15);
    assert!((bar.length_px - 10.0 / dq).abs() < 1e-9);
    for p in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        assert!(length_bar(49, p).is_none() && wave_vector_bar(49, p).is_none());
    }
    assert_eq!(nice_below(0.037), 0.02);
    assert_eq!(nice_below(7.0), 5.0);
    assert_eq!(nice_below(1.0), 1.0);
}

#[test]
fn comparison_picture_and_pearson() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cmp.png");
    let ex = sample(1, 1, 25, 2, 10, 10);
    let truth = ex.kernels.slice(s![0, 0, .., ..]);
    let found = truth.mapv(|v| 3.0 * v + 1.0);
    assert!((pearson(truth, found.view()) - 1.0).abs() < 1e-9);
    let flipped = truth.mapv(|v| -v);
    assert!((pearson(truth, flipped.view()) + 1.0).abs() < 1e-9);
    write_comparison_png(&path, truth, found.view(), 1e-10, "demo").unwrap();
    let png = decode(&path);
    let canvas = render_comparison(truth, found.view(), 1e-10, "demo").unwrap();
    assert_eq!((png.width, png.height), (canvas.width, canvas.height));
    // found - truth vanishes after standardising: white (0 on the diverging map) everywhere
    // in that panel, so the picture is mostly white.
    assert!(count(&png, [255, 255, 255]) > png.width * png.height / 3);
    let wrong = Array2::<f32>::zeros((25, 24));
    let e = write_comparison_png(&path, truth, wrong.view(), 1e-10, "").unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("one size")),
        "{e}"
    );
}

#[test]
fn large_maps_are_block_averaged() {
    let image = Array2::from_shape_fn((5, 7), |(i, j)| (i * 7 + j) as f32);
    let b = block_mean(image.view(), 2);
    assert_eq!(b.dim(), (3, 4));
    assert_eq!(b[[0, 0]], (0.0 + 1.0 + 7.0 + 8.0) / 4.0);
    assert_eq!(b[[2, 3]], 34.0);
    assert_eq!(shown(Array2::<f32>::zeros((2000, 100)).view()).factor, 3);
    assert_eq!(shown(image.view()).factor, 1);
}
