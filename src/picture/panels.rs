//! Panel grids: images with titles above and labelled colour bars below, and defect marks.

use std::path::Path;

use ndarray::ArrayView2;

use super::canvas::{Canvas, MAX_PIXELS, TEXT_RGB};
use super::colormap::Colormap;
use super::font::{GLYPH_ADVANCE, GLYPH_H, LINE_HEIGHT, text_width, wrap};
use super::scale::{Scale, format_value};
use crate::{Error, Result};

/// One image of a grid written by [`write_panels`].
#[derive(Clone, Debug)]
pub struct Panel<'a> {
    /// `[row, col]`, row 0 at the top.
    pub image: ArrayView2<'a, f32>,
    /// Printed above the image (ASCII; other characters print as `?`; wraps onto up to 3 lines).
    pub title: String,
    pub colormap: Colormap,
    pub scale: Scale,
    /// `(row, col)` pixel positions to mark with a cross; NaN entries are skipped.
    pub marks: Vec<(f32, f32)>,
}

impl<'a> Panel<'a> {
    /// A panel with [`Colormap::Viridis`], [`Scale::MinMax`] and no marks.
    pub fn new(image: ArrayView2<'a, f32>, title: impl Into<String>) -> Self {
        Panel {
            image,
            title: title.into(),
            colormap: Colormap::Viridis,
            scale: Scale::MinMax,
            marks: Vec::new(),
        }
    }
}

/// Write one bare image (no title, no colour bar), each pixel a `zoom x zoom` block.
pub fn write_image(
    path: &Path,
    image: ArrayView2<f32>,
    colormap: Colormap,
    scale: Scale,
    zoom: usize,
) -> Result<()> {
    check_zoom(zoom)?;
    check_image(image, "image")?;
    let (lo, hi) = scale.range(image)?;
    let (h, w) = image.dim();
    let mut canvas = Canvas::new(scaled(w, zoom)?, scaled(h, zoom)?)?;
    canvas.draw_image(0, 0, image, zoom, colormap, lo, hi);
    canvas.save(path)
}

/// Write `panels` in a grid, row-major with `columns` panels per row, each image enlarged
/// `zoom` times (nearest neighbour), with its title above and a colour bar labelled with the
/// scale's range below. White background.
pub fn write_panels(path: &Path, panels: &[Panel], columns: usize, zoom: usize) -> Result<()> {
    render_panels(panels, columns, zoom)?.0.save(path)
}

fn check_zoom(zoom: usize) -> Result<()> {
    if zoom == 0 {
        return Err(Error::invalid(
            "zoom must be at least 1 (integer enlargement factor)",
        ));
    }
    Ok(())
}

fn check_image(image: ArrayView2<f32>, what: &str) -> Result<()> {
    let (h, w) = image.dim();
    if h == 0 || w == 0 {
        return Err(Error::invalid(format!(
            "{what} is empty ({h} x {w} pixels); nothing to draw"
        )));
    }
    Ok(())
}

fn scaled(n: usize, zoom: usize) -> Result<usize> {
    n.checked_mul(zoom)
        .filter(|&v| v <= MAX_PIXELS)
        .ok_or_else(|| Error::invalid(format!("{n} pixels at zoom {zoom} is too large a picture")))
}

/// Where things go in a panel grid (all in canvas pixels).
#[derive(Debug)]
pub(crate) struct Layout {
    /// Text magnification (glyphs are 5 x 8 at 1).
    text: usize,
    margin: usize,
    cell_w: usize,
    cell_h: usize,
    gap_x: usize,
    gap_y: usize,
    title_h: usize,
}

impl Layout {
    fn line_h(&self) -> usize {
        LINE_HEIGHT * self.text
    }
    fn bar_gap(&self) -> usize {
        2 * self.text + 2
    }
    fn bar_h(&self) -> usize {
        6 * self.text + 2
    }
    fn label_gap(&self) -> usize {
        2 * self.text
    }
    /// Top-left corner of cell `k`.
    fn cell_origin(&self, k: usize, columns: usize) -> (usize, usize) {
        let (r, c) = (k / columns, k % columns);
        (
            self.margin + c * (self.cell_w + self.gap_x),
            self.margin + r * (self.cell_h + self.gap_y),
        )
    }
    /// Top-left corner of the image of panel `k`.
    fn image_origin(&self, k: usize, columns: usize) -> (usize, usize) {
        let (x, y) = self.cell_origin(k, columns);
        (x, y + self.title_h)
    }
}

const MAX_TITLE_LINES: usize = 3;
/// Titles longer than this many characters widen a cell no further; they wrap instead.
const TITLE_WIDEN_CHARS: usize = 20;

fn render_panels(panels: &[Panel], columns: usize, zoom: usize) -> Result<(Canvas, Layout)> {
    check_zoom(zoom)?;
    let decor: Vec<Decor> = panels.iter().map(|_| Decor::zoomed(zoom)).collect();
    render_decorated(panels, &decor, columns, "")
}

/// A length scale drawn in the bottom-left corner of a panel's image.
#[derive(Clone, Debug)]
pub(crate) struct ScaleBar {
    /// Length in pixels of the image (before zoom).
    pub length_px: f64,
    /// Printed above the bar (`"2 nm"`).
    pub label: String,
}

/// What a panel carries besides [`Panel`]'s fields (for the extraction pictures).
#[derive(Clone, Debug)]
pub(crate) struct Decor {
    /// Integer enlargement of this panel's image.
    pub zoom: usize,
    /// Core colour of each mark, parallel to [`Panel::marks`]; empty: the colormap's.
    pub mark_colours: Vec<[u8; 3]>,
    pub scale_bar: Option<ScaleBar>,
    /// Ticks on the image's edges at the centre pixel `(H/2, W/2)` (the impurity, or q = 0).
    pub centre_ticks: bool,
}

impl Decor {
    pub(crate) fn zoomed(zoom: usize) -> Self {
        Decor {
            zoom,
            mark_colours: Vec::new(),
            scale_bar: None,
            centre_ticks: false,
        }
    }
}

/// Halo that sets a mark's core colour off: black around light colours, white around dark.
fn halo_of(c: [u8; 3]) -> [u8; 3] {
    let luminance = 0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64;
    if luminance > 110.0 {
        [0, 0, 0]
    } else {
        [255, 255, 255]
    }
}

/// [`write_panels`] with a [`Decor`] per panel (each its own zoom) and a caption below the
/// grid (wrapped to the picture's width; empty for none).
pub(crate) fn render_decorated(
    panels: &[Panel],
    decor: &[Decor],
    columns: usize,
    caption: &str,
) -> Result<(Canvas, Layout)> {
    if panels.is_empty() {
        return Err(Error::invalid("no panels to draw"));
    }
    if columns == 0 {
        return Err(Error::invalid(
            "columns must be at least 1 (panels per grid row)",
        ));
    }
    if decor.len() != panels.len() {
        return Err(Error::invalid(format!(
            "{} decorations for {} panels",
            decor.len(),
            panels.len()
        )));
    }
    let mut ranges = Vec::with_capacity(panels.len());
    let (mut img_w, mut img_h) = (0, 0);
    for (k, (p, d)) in panels.iter().zip(decor).enumerate() {
        check_zoom(d.zoom)?;
        check_image(p.image, &format!("panel {k} ({:?})", p.title))?;
        ranges.push(p.scale.range(p.image)?);
        img_w = img_w.max(scaled(p.image.ncols(), d.zoom)?);
        img_h = img_h.max(scaled(p.image.nrows(), d.zoom)?);
    }
    let text = if img_w >= 160 { 2 } else { 1 };
    let adv = GLYPH_ADVANCE * text;
    let labels: Vec<(String, String)> = ranges
        .iter()
        .map(|&(lo, hi)| (format_value(lo), format_value(hi)))
        .collect();
    let label_w = |(lo, hi): &(String, String)| (lo.len() + hi.len() + 2) * adv;

    let mut cell_w = img_w;
    for (p, l) in panels.iter().zip(&labels) {
        let title_chars = p.title.chars().count().min(TITLE_WIDEN_CHARS);
        cell_w = cell_w.max(label_w(l)).max(title_chars * adv);
    }
    let max_chars = (cell_w / adv).max(1);
    let titles: Vec<Vec<String>> = panels
        .iter()
        .map(|p| wrap(&p.title, max_chars, MAX_TITLE_LINES))
        .collect();
    let n_lines = titles.iter().map(Vec::len).max().unwrap_or(0);

    let mut layout = Layout {
        text,
        margin: 6 + 2 * text,
        cell_w,
        cell_h: 0,
        gap_x: 4 * adv,
        gap_y: 6 * text,
        title_h: n_lines * LINE_HEIGHT * text,
    };
    layout.cell_h = layout.title_h
        + img_h
        + layout.bar_gap()
        + layout.bar_h()
        + layout.label_gap()
        + GLYPH_H * text;

    let cols = columns.min(panels.len());
    let rows = panels.len().div_ceil(columns);
    let width = 2 * layout.margin + cols * layout.cell_w + (cols - 1) * layout.gap_x;
    let grid_h = 2 * layout.margin + rows * layout.cell_h + (rows - 1) * layout.gap_y;
    let caption_chars = ((width - 2 * layout.margin) / adv).max(1);
    let caption_lines = wrap(caption, caption_chars, MAX_CAPTION_LINES);
    // The caption sits one row gap below the last row, with the margin below it.
    let caption_top = grid_h - layout.margin + layout.gap_y;
    let height = if caption_lines.is_empty() {
        grid_h
    } else {
        caption_top + caption_lines.len() * layout.line_h() + layout.margin
    };
    let mut canvas = Canvas::new(width, height)?;
    for (i, line) in caption_lines.iter().enumerate() {
        let y = caption_top + i * layout.line_h();
        canvas.text(layout.margin, y, line, text, TEXT_RGB);
    }

    for (k, (p, d)) in panels.iter().zip(decor).enumerate() {
        let zoom = d.zoom;
        let (cx, cy) = layout.cell_origin(k, columns);
        for (i, line) in titles[k].iter().enumerate() {
            canvas.text(cx, cy + i * layout.line_h(), line, text, TEXT_RGB);
        }
        let (ix, iy) = layout.image_origin(k, columns);
        let (lo, hi) = ranges[k];
        canvas.draw_image(ix, iy, p.image, zoom, p.colormap, lo, hi);
        let (w, h) = (p.image.ncols() * zoom, p.image.nrows() * zoom);
        let clip = (ix, iy, w, h);
        if d.centre_ticks {
            let (core, _) = p.colormap.mark_rgb();
            let len = 4 * text + 2;
            let x = ix + (p.image.ncols() / 2) * zoom + zoom / 2;
            let y = iy + (p.image.nrows() / 2) * zoom + zoom / 2;
            let t0 = text / 2;
            canvas.fill_rect(x - t0, iy, text, len.min(h), core);
            canvas.fill_rect(x - t0, iy + h - len.min(h), text, len.min(h), core);
            canvas.fill_rect(ix, y - t0, len.min(w), text, core);
            canvas.fill_rect(ix + w - len.min(w), y - t0, len.min(w), text, core);
        }
        let (core, halo) = p.colormap.mark_rgb();
        let arm = (2 * zoom).clamp(3, 8) as i64;
        for (m, &(r, c)) in p.marks.iter().enumerate() {
            let (r, c) = (r as f64, c as f64);
            let inside = |v: f64, n: usize| v.is_finite() && v >= -0.5 && v < n as f64 - 0.5;
            if !inside(r, p.image.nrows()) || !inside(c, p.image.ncols()) {
                continue;
            }
            let (core, halo) = match d.mark_colours.get(m) {
                Some(&c) => (c, halo_of(c)),
                None => (core, halo),
            };
            // Centre of the zoom x zoom block of the nearest pixel, offset within the block.
            let y = ((r + 0.5) * zoom as f64 - 0.5).round() as i64;
            let x = ((c + 0.5) * zoom as f64 - 0.5).round() as i64;
            canvas.cross(x + ix as i64, y + iy as i64, arm, 1, halo, clip);
            canvas.cross(x + ix as i64, y + iy as i64, arm, 0, core, clip);
        }
        if let Some(bar) = &d.scale_bar {
            draw_scale_bar(&mut canvas, clip, bar, zoom, text);
        }

        let bar_w = w.max(label_w(&labels[k]));
        let bar_y = iy + h + layout.bar_gap();
        canvas.colour_bar(ix, bar_y, bar_w, layout.bar_h(), p.colormap);
        let label_y = bar_y + layout.bar_h() + layout.label_gap();
        let (lo_s, hi_s) = &labels[k];
        canvas.text(ix, label_y, lo_s, text, TEXT_RGB);
        let hi_x = ix + bar_w - text_width(hi_s, text);
        canvas.text(hi_x, label_y, hi_s, text, TEXT_RGB);
    }
    Ok((canvas, layout))
}

/// Longest caption under a grid, in lines.
const MAX_CAPTION_LINES: usize = 4;

/// A black bar with its label on a white box in the image's bottom-left corner; left out when
/// it would not fit the image.
fn draw_scale_bar(
    canvas: &mut Canvas,
    (ix, iy, w, h): (usize, usize, usize, usize),
    bar: &ScaleBar,
    zoom: usize,
    text: usize,
) {
    let len = (bar.length_px * zoom as f64).round();
    if len.is_nan() || len < 1.0 {
        return;
    }
    let len = len as usize;
    let pad = 2 * text;
    let bar_h = 2 * text;
    let box_w = len.max(text_width(&bar.label, text)) + 2 * pad;
    let box_h = GLYPH_H * text + text + bar_h + 2 * pad;
    if box_w + 2 * pad > w || box_h + 2 * pad > h {
        return;
    }
    let (bx, by) = (ix + pad, iy + h - pad - box_h);
    canvas.fill_rect(bx, by, box_w, box_h, [255, 255, 255]);
    canvas.text(bx + pad, by + pad, &bar.label, text, TEXT_RGB);
    canvas.fill_rect(bx + pad, by + box_h - pad - bar_h, len, bar_h, [0, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::canvas::BAR_BORDER_RGB;
    use crate::picture::colormap::{BLACK, NAN_RGB, WHITE, diverging, gray, viridis};
    use crate::picture::font::glyph;
    use crate::picture::testing::{TempPng, decode};
    use ndarray::{Array2, array};

    #[test]
    fn write_image_minmax_viridis_size_and_orientation() {
        let tmp = TempPng::new("minmax");
        // Values 0..=34, row-major: minimum top-left, maximum bottom-right.
        let image = Array2::from_shape_fn((5, 7), |(i, j)| (7 * i + j) as f32);
        write_image(&tmp.0, image.view(), Colormap::Viridis, Scale::MinMax, 3).unwrap();
        let png = decode(&tmp.0);
        assert_eq!((png.width, png.height), (21, 15));
        assert_eq!(png.at(0, 0), viridis(0.0));
        assert_eq!(png.at(2, 2), viridis(0.0));
        assert_eq!(png.at(6 * 3 + 2, 4 * 3 + 1), viridis(1.0));
        // Value 17 is halfway; pixel (2, 3) occupies x 9..12, y 6..9.
        assert_eq!(png.at(9, 6), viridis(0.5));
        assert_eq!(png.at(11, 8), viridis(0.5));
        // Pixel (0, 1), value 1, starts at x = 3.
        assert_eq!(png.at(3, 0), viridis(1.0 / 34.0));
        assert_ne!(png.at(3, 0), png.at(2, 0));
    }

    #[test]
    fn write_image_of_a_transposed_view() {
        let tmp = TempPng::new("transposed");
        let image = array![[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0]];
        write_image(&tmp.0, image.t(), Colormap::Gray, Scale::MinMax, 1).unwrap();
        let png = decode(&tmp.0);
        assert_eq!((png.width, png.height), (2, 3));
        assert_eq!(png.at(0, 0), BLACK);
        assert_eq!(png.at(1, 2), WHITE);
        assert_eq!(png.at(1, 0), gray(3.0 / 5.0));
    }

    #[test]
    fn symmetric_diverging_puts_zero_at_white() {
        let tmp = TempPng::new("symmetric");
        let image = array![[-3.0f32, 0.0], [1.0, 2.0]];
        write_image(
            &tmp.0,
            image.view(),
            Colormap::Diverging,
            Scale::Symmetric,
            1,
        )
        .unwrap();
        let png = decode(&tmp.0);
        assert_eq!(png.at(1, 0), WHITE);
        assert_eq!(png.at(0, 0), diverging(0.0));
        assert_eq!(png.at(0, 1), diverging(4.0 / 6.0));
        assert_eq!(png.at(1, 1), diverging(5.0 / 6.0));
    }

    #[test]
    fn nan_and_inf_pixels_are_magenta_and_do_not_scale() {
        let tmp = TempPng::new("nan");
        let image = array![
            [f32::NAN, 1.0],
            [f32::INFINITY, 0.0],
            [f32::NEG_INFINITY, 0.5]
        ];
        write_image(&tmp.0, image.view(), Colormap::Gray, Scale::MinMax, 2).unwrap();
        let png = decode(&tmp.0);
        assert_eq!(png.at(1, 1), NAN_RGB);
        assert_eq!(png.at(0, 2), NAN_RGB);
        assert_eq!(png.at(0, 4), NAN_RGB);
        assert_eq!(png.at(2, 0), WHITE);
        assert_eq!(png.at(3, 3), BLACK);
        assert_eq!(png.at(2, 4), gray(0.5));
    }

    #[test]
    fn all_nan_and_constant_images_draw_without_panicking() {
        let tmp = TempPng::new("degenerate");
        let nan = Array2::from_elem((3, 4), f32::NAN);
        for scale in [Scale::MinMax, Scale::Symmetric, Scale::Percentile(2.0)] {
            write_image(&tmp.0, nan.view(), Colormap::Viridis, scale, 1).unwrap();
            let png = decode(&tmp.0);
            assert!(png.rgb.chunks(3).all(|c| c == NAN_RGB), "{scale:?}");
        }
        let constant = Array2::from_elem((3, 4), 2.5f32);
        for scale in [Scale::MinMax, Scale::Percentile(5.0)] {
            write_image(&tmp.0, constant.view(), Colormap::Viridis, scale, 1).unwrap();
            let png = decode(&tmp.0);
            assert!(png.rgb.chunks(3).all(|c| c == viridis(0.5)), "{scale:?}");
        }
        let zeros = Array2::<f32>::zeros((3, 4));
        write_image(
            &tmp.0,
            zeros.view(),
            Colormap::Diverging,
            Scale::Symmetric,
            1,
        )
        .unwrap();
        assert!(decode(&tmp.0).rgb.iter().all(|&b| b == 255));
        let panels = [
            Panel::new(nan.view(), "all NaN"),
            Panel::new(constant.view(), "flat"),
        ];
        write_panels(&tmp.0, &panels, 2, 3).unwrap();
    }

    #[test]
    fn marks_are_drawn_at_their_pixel_and_bad_ones_skipped() {
        let tmp = TempPng::new("marks");
        let image = Array2::<f32>::zeros((10, 12));
        let panel = Panel {
            colormap: Colormap::Gray,
            marks: vec![
                (3.0, 7.0),
                (f32::NAN, 2.0),
                (2.0, f32::NAN),
                (100.0, 100.0),
                (-9.0, 1.0),
            ],
            ..Panel::new(image.view(), "marks")
        };
        let panels = [panel];
        write_panels(&tmp.0, &panels, 1, 4).unwrap();
        let png = decode(&tmp.0);
        let (_, layout) = render_panels(&panels, 1, 4).unwrap();
        let (ix, iy) = layout.image_origin(0, 1);
        let (core, halo) = Colormap::Gray.mark_rgb();
        // Pixel (3, 7) covers x 28..32, y 12..16 of the image; the cross centre is (30, 14).
        assert_eq!(png.at(ix + 30, iy + 14), core);
        assert_eq!(png.at(ix + 30 + 8, iy + 14), core);
        assert_eq!(png.at(ix + 30, iy + 14 - 8), core);
        assert_eq!(png.at(ix + 31, iy + 14 + 3), halo);
        assert_eq!(png.at(ix + 30 + 10, iy + 14), gray(0.5));
        assert_eq!(png.at(ix + 4, iy + 36), gray(0.5));
        // Exactly one cross of arm 8: 2 * 17 - 1 core pixels inside the image.
        let core_pixels = (iy..iy + 40)
            .flat_map(|y| (ix..ix + 48).map(move |x| (x, y)))
            .filter(|&(x, y)| png.at(x, y) == core)
            .count();
        assert_eq!(core_pixels, 33);
    }

    #[test]
    fn marks_are_clipped_to_the_image() {
        let image = Array2::<f32>::zeros((4, 4));
        let panel = Panel {
            colormap: Colormap::Gray,
            marks: vec![(0.0, 0.0)],
            ..Panel::new(image.view(), "")
        };
        let panels = [panel];
        let (canvas, layout) = render_panels(&panels, 1, 1).unwrap();
        let (ix, iy) = layout.image_origin(0, 1);
        let (core, _) = Colormap::Gray.mark_rgb();
        let at = |x: usize, y: usize| {
            let i = 3 * (y * canvas.width + x);
            [canvas.rgb[i], canvas.rgb[i + 1], canvas.rgb[i + 2]]
        };
        assert_eq!(at(ix, iy), core);
        assert_eq!(at(ix - 1, iy), WHITE, "nothing drawn left of the image");
        assert_eq!(at(ix, iy - 1), WHITE, "nothing drawn above the image");
    }

    #[test]
    fn titles_render_ink_in_the_title_band() {
        let tmp = TempPng::new("title");
        let image = Array2::<f32>::zeros((16, 16));
        let panels = [
            Panel::new(image.view(), "QPI 1"),
            Panel::new(image.view(), ""),
        ];
        write_panels(&tmp.0, &panels, 2, 2).unwrap();
        let png = decode(&tmp.0);
        let (_, layout) = render_panels(&panels, 2, 2).unwrap();
        assert_eq!(layout.title_h, LINE_HEIGHT);
        let ink = |k: usize| {
            let (cx, cy) = layout.cell_origin(k, 2);
            let mut n = 0;
            for y in cy..cy + layout.title_h {
                for x in cx..cx + layout.cell_w {
                    if png.at(x, y) != WHITE {
                        assert_eq!(png.at(x, y), TEXT_RGB);
                        n += 1;
                    }
                }
            }
            n
        };
        let expected: usize = "QPI 1"
            .chars()
            .map(|c| glyph(c).concat().bytes().filter(|&b| b == b'#').count())
            .sum();
        assert_eq!(ink(0), expected);
        assert_eq!(ink(1), 0);
        // Without titles there is no title band.
        let bare = [Panel::new(image.view(), " ")];
        assert_eq!(render_panels(&bare, 1, 1).unwrap().1.title_h, 0);
    }

    #[test]
    fn grid_layout_and_colour_bars() {
        let tmp = TempPng::new("grid");
        let ramp = Array2::from_shape_fn((8, 8), |(i, j)| (i + j) as f32);
        let mut panels: Vec<Panel> = (0..5)
            .map(|k| Panel::new(ramp.view(), format!("{k}")))
            .collect();
        panels[4].colormap = Colormap::Gray;
        panels[4].image = ramp.slice(ndarray::s![.., ..5]);
        write_panels(&tmp.0, &panels, 2, 2).unwrap();
        let png = decode(&tmp.0);
        let (canvas, layout) = render_panels(&panels, 2, 2).unwrap();
        assert_eq!(png.rgb, canvas.rgb);
        let width = 2 * layout.margin + 2 * layout.cell_w + layout.gap_x;
        let height = 2 * layout.margin + 3 * layout.cell_h + 2 * layout.gap_y;
        assert_eq!((png.width, png.height), (width, height));
        for (k, panel) in panels.iter().enumerate() {
            let (ix, iy) = layout.image_origin(k, 2);
            let cmap = panel.colormap;
            let w = panel.image.ncols() * 2;
            assert_eq!(png.at(ix, iy), cmap.rgb(0.0), "panel {k} top-left");
            assert_eq!(
                png.at(ix + w - 1, iy + 15),
                cmap.rgb(1.0),
                "panel {k} bottom-right"
            );
            assert_eq!(png.at(ix + w, iy), WHITE, "panel {k} right of the image");
            // Colour bar: border, then the map from 0 at the left.
            let bar_y = iy + 16 + layout.bar_gap();
            assert_eq!(png.at(ix, bar_y), BAR_BORDER_RGB);
            assert_eq!(png.at(ix + 1, bar_y + 1), cmap.rgb(0.0), "panel {k} bar");
        }
        // Row 1, column 0: below panel 0.
        assert_eq!(layout.cell_origin(2, 2).0, layout.cell_origin(0, 2).0);
        assert!(layout.cell_origin(2, 2).1 >= layout.cell_origin(0, 2).1 + layout.cell_h);
    }

    #[test]
    fn invalid_input_is_reported() {
        let tmp = TempPng::new("invalid");
        let image = Array2::<f32>::zeros((4, 4));
        let empty = Array2::<f32>::zeros((0, 4));
        let message = |r: Result<()>| match r {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        };
        let cmap = Colormap::Viridis;
        let m = message(write_image(&tmp.0, image.view(), cmap, Scale::MinMax, 0));
        assert!(m.contains("zoom"), "{m}");
        let m = message(write_image(&tmp.0, empty.view(), cmap, Scale::MinMax, 1));
        assert!(m.contains("empty"), "{m}");
        let m = message(write_image(
            &tmp.0,
            image.view(),
            cmap,
            Scale::Percentile(70.0),
            1,
        ));
        assert!(m.contains("percentile"), "{m}");
        let panels = [Panel::new(image.view(), "a"), Panel::new(empty.view(), "b")];
        let m = message(write_panels(&tmp.0, &panels[..1], 0, 1));
        assert!(m.contains("columns"), "{m}");
        let m = message(write_panels(&tmp.0, &panels[..1], 1, 0));
        assert!(m.contains("zoom"), "{m}");
        let m = message(write_panels(&tmp.0, &panels, 2, 1));
        assert!(m.contains("panel 1") && m.contains("empty"), "{m}");
        let m = message(write_panels(&tmp.0, &[], 2, 1));
        assert!(m.contains("no panels"), "{m}");
        let m = message(write_image(
            &tmp.0,
            image.view(),
            cmap,
            Scale::MinMax,
            usize::MAX,
        ));
        assert!(m.contains("too large"), "{m}");
        assert!(!tmp.0.exists(), "nothing written on invalid input");
    }

    #[test]
    fn scale_bar_centre_ticks_and_caption_are_drawn() {
        let image = Array2::<f32>::zeros((41, 41));
        let panel = Panel {
            colormap: Colormap::Gray,
            ..Panel::new(image.view(), "k")
        };
        let bar = ScaleBar {
            length_px: 10.0,
            label: "1 nm".into(),
        };
        let decor = Decor {
            scale_bar: Some(bar),
            centre_ticks: true,
            ..Decor::zoomed(4)
        };
        let (bare, _) =
            render_decorated(std::slice::from_ref(&panel), &[Decor::zoomed(4)], 1, "").unwrap();
        let (canvas, layout) = render_decorated(&[panel], &[decor], 1, "a caption").unwrap();
        let at = |x: usize, y: usize| {
            let i = 3 * (y * canvas.width + x);
            [canvas.rgb[i], canvas.rgb[i + 1], canvas.rgb[i + 2]]
        };
        let (ix, iy) = layout.image_origin(0, 1);
        let (w, h) = (41 * 4, 41 * 4);
        // The longest black run in the image's bottom quarter is the 40-pixel bar.
        let longest = (iy + 3 * h / 4..iy + h)
            .map(|y| {
                let (mut best, mut run) = (0, 0);
                for x in ix..ix + w {
                    run = if at(x, y) == BLACK { run + 1 } else { 0 };
                    best = best.max(run);
                }
                best
            })
            .max()
            .unwrap();
        assert_eq!(longest, 40);
        // Ticks at the centre pixel (20, 20): x = 20 * 4 + 2 on the top edge.
        let (core, _) = Colormap::Gray.mark_rgb();
        assert_eq!(at(ix + 82, iy), core);
        assert_eq!(at(ix, iy + 82), core);
        assert_eq!(at(ix + 60, iy), gray(0.5));
        // The caption adds a text band below the grid, with ink in it.
        assert!(canvas.height > bare.height);
        assert_eq!(canvas.width, bare.width);
        let ink = (bare.height..canvas.height)
            .flat_map(|y| (0..canvas.width).map(move |x| (x, y)))
            .filter(|&(x, y)| at(x, y) == TEXT_RGB)
            .count();
        assert!(ink > 20, "{ink}");
    }

    #[test]
    fn pictures_are_written_atomically_and_never_onto_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let image = Array2::from_shape_fn((3, 3), |(i, j)| (i * j) as f32);
        let e = write_image(dir.path(), image.view(), Colormap::Gray, Scale::MinMax, 1);
        assert!(
            matches!(&e, Err(Error::InvalidInput(m)) if m.contains("directory")),
            "{e:?}"
        );
        let path = dir.path().join("a.png");
        write_image(&path, image.view(), Colormap::Gray, Scale::MinMax, 2).unwrap();
        write_image(&path, image.view(), Colormap::Gray, Scale::MinMax, 1).unwrap();
        assert_eq!(
            decode(&path).width,
            3,
            "the second picture replaced the first"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left beside the picture");
    }

    #[test]
    fn unwritable_path_is_an_io_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("qpik_png_missing_{}", std::process::id()));
        let path = dir.join("sub").join("out.png");
        let image = Array2::<f32>::zeros((2, 2));
        let panels = [Panel::new(image.view(), "x")];
        let results = [
            write_image(&path, image.view(), Colormap::Gray, Scale::MinMax, 1),
            write_panels(&path, &panels, 1, 1),
        ];
        for r in results {
            match r {
                Err(e @ Error::Io { .. }) => {
                    assert!(e.to_string().contains(&path.display().to_string()), "{e}")
                }
                other => panic!("expected Io, got {other:?}"),
            }
        }
    }
}
