//! PNG pictures of kernels and observations: colormaps, scaling, panel grids with titles,
//! colour bars and defect marks.
//!
//! Conventions: row 0 of an image is the top of the picture; marks are `(row, col)` pixel
//! positions with pixel centres at integer coordinates; NaN and infinite pixels are drawn in
//! [`NAN_RGB`] (magenta) and never take part in scaling. Output is 8-bit RGB.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use ndarray::ArrayView2;

use crate::{Error, Result};

/// Colour of NaN and infinite pixels (magenta: absent from every colormap here).
pub const NAN_RGB: [u8; 3] = [255, 0, 255];

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const TEXT_RGB: [u8; 3] = [20, 20, 20];
const BAR_BORDER_RGB: [u8; 3] = [90, 90, 90];

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
    fn mark_rgb(self) -> ([u8; 3], [u8; 3]) {
        match self {
            Colormap::Viridis | Colormap::Gray => ([255, 30, 30], WHITE),
            Colormap::Diverging => (BLACK, WHITE),
        }
    }
}

/// How pixel values map onto the colormap's [0, 1]. Only finite pixels count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Smallest finite value to largest.
    MinMax,
    /// `[-m, m]` with `m = max |x|`, so 0 sits in the middle (white in [`Colormap::Diverging`]).
    Symmetric,
    /// Clip to the `[p, 100 - p]` percentiles (`p` in percent, `0 <= p < 50`): robust to spikes.
    Percentile(f64),
    /// Like [`Scale::Symmetric`] but `m` is the `(100 - p)`-th percentile of `|x|`: a clipped
    /// scale that shows weak interference tails next to a strong impurity centre.
    SymmetricPercentile(f64),
}

impl Scale {
    /// The value range `(lo, hi)` this scale maps to the ends of a colormap.
    ///
    /// An image without finite pixels gives `(0, 0)`. `lo == hi` (a constant image) is allowed:
    /// every finite pixel then takes the middle colour.
    pub fn range(self, image: ArrayView2<f32>) -> Result<(f64, f64)> {
        let finite = image.iter().filter(|v| v.is_finite()).map(|&v| v as f64);
        match self {
            Scale::MinMax => {
                let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
                Ok(if lo <= hi { (lo, hi) } else { (0.0, 0.0) })
            }
            Scale::Symmetric => {
                let m = finite.fold(0.0f64, |m, v| m.max(v.abs()));
                Ok((-m, m))
            }
            Scale::SymmetricPercentile(p) => {
                if !(0.0..50.0).contains(&p) {
                    return Err(Error::invalid(format!(
                        "Scale::SymmetricPercentile({p}): the percentile must be in [0, 50)"
                    )));
                }
                let mut values: Vec<f64> = finite.map(f64::abs).collect();
                if values.is_empty() {
                    return Ok((0.0, 0.0));
                }
                values.sort_unstable_by(f64::total_cmp);
                let m = quantile(&values, 1.0 - p / 100.0);
                Ok((-m, m))
            }
            Scale::Percentile(p) => {
                if !(0.0..50.0).contains(&p) {
                    return Err(Error::invalid(format!(
                        "Scale::Percentile({p}): the percentile must be in [0, 50)"
                    )));
                }
                let mut values: Vec<f64> = finite.collect();
                if values.is_empty() {
                    return Ok((0.0, 0.0));
                }
                values.sort_unstable_by(f64::total_cmp);
                Ok((
                    quantile(&values, p / 100.0),
                    quantile(&values, 1.0 - p / 100.0),
                ))
            }
        }
    }
}

/// Linearly interpolated quantile `q` in [0, 1] of sorted, non-empty `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    let x = q * (values.len() - 1) as f64;
    let i = (x.floor() as usize).min(values.len() - 1);
    let j = (i + 1).min(values.len() - 1);
    values[i] + (x - i as f64) * (values[j] - values[i])
}

/// Position of `v` in `[lo, hi]` as t in [0, 1]; NaN for non-finite `v`, 0.5 when `lo == hi`.
fn normalise(v: f32, lo: f64, hi: f64) -> f64 {
    if !v.is_finite() {
        return f64::NAN;
    }
    if hi > lo {
        ((v as f64 - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    }
}

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

/// Largest picture written, in pixels (about 750 MB of RGB).
const MAX_PIXELS: usize = 1 << 28;

fn scaled(n: usize, zoom: usize) -> Result<usize> {
    n.checked_mul(zoom)
        .filter(|&v| v <= MAX_PIXELS)
        .ok_or_else(|| Error::invalid(format!("{n} pixels at zoom {zoom} is too large a picture")))
}

/// Where things go in a panel grid (all in canvas pixels).
#[derive(Debug)]
struct Layout {
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
    if panels.is_empty() {
        return Err(Error::invalid("no panels to draw"));
    }
    if columns == 0 {
        return Err(Error::invalid(
            "columns must be at least 1 (panels per grid row)",
        ));
    }
    check_zoom(zoom)?;
    let mut ranges = Vec::with_capacity(panels.len());
    let (mut img_w, mut img_h) = (0, 0);
    for (k, p) in panels.iter().enumerate() {
        check_image(p.image, &format!("panel {k} ({:?})", p.title))?;
        ranges.push(p.scale.range(p.image)?);
        img_w = img_w.max(scaled(p.image.ncols(), zoom)?);
        img_h = img_h.max(scaled(p.image.nrows(), zoom)?);
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
    let height = 2 * layout.margin + rows * layout.cell_h + (rows - 1) * layout.gap_y;
    let mut canvas = Canvas::new(width, height)?;

    for (k, p) in panels.iter().enumerate() {
        let (cx, cy) = layout.cell_origin(k, columns);
        for (i, line) in titles[k].iter().enumerate() {
            canvas.text(cx, cy + i * layout.line_h(), line, text, TEXT_RGB);
        }
        let (ix, iy) = layout.image_origin(k, columns);
        let (lo, hi) = ranges[k];
        canvas.draw_image(ix, iy, p.image, zoom, p.colormap, lo, hi);
        let (w, h) = (p.image.ncols() * zoom, p.image.nrows() * zoom);
        let (core, halo) = p.colormap.mark_rgb();
        let arm = (2 * zoom).clamp(3, 8) as i64;
        for &(r, c) in &p.marks {
            let (r, c) = (r as f64, c as f64);
            let inside = |v: f64, n: usize| v.is_finite() && v >= -0.5 && v < n as f64 - 0.5;
            if !inside(r, p.image.nrows()) || !inside(c, p.image.ncols()) {
                continue;
            }
            // Centre of the zoom x zoom block of the nearest pixel, offset within the block.
            let y = ((r + 0.5) * zoom as f64 - 0.5).round() as i64;
            let x = ((c + 0.5) * zoom as f64 - 0.5).round() as i64;
            let clip = (ix, iy, w, h);
            canvas.cross(x + ix as i64, y + iy as i64, arm, 1, halo, clip);
            canvas.cross(x + ix as i64, y + iy as i64, arm, 0, core, clip);
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

/// Compact label: `0`, `-0.0123`, `12.3`, `1234`, `-1.2e-3`, `1e-3`, `4.5e6`.
fn format_value(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-2..1e4).contains(&a) {
        // Three significant digits, trailing zeros dropped.
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            &s
        };
        s.to_string()
    } else {
        // Two significant digits; `1.0e-3` shortens to `1e-3`.
        format!("{v:.1e}").replace(".0e", "e")
    }
}

/// Greedy word wrap to `max_chars` per line, at most `max_lines`; the last kept line ends in
/// `..` when text was dropped. Words longer than a line are split.
fn wrap(text: &str, max_chars: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let len = line.chars().count();
            let sep = usize::from(len > 0);
            if len + sep + word.len() <= max_chars {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            let rest = word.split_off(max_chars);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = &mut lines[max_lines - 1];
        let keep = max_chars.saturating_sub(2).min(last.chars().count());
        let kept: String = last.chars().take(keep).collect();
        *last = kept.trim_end().to_string() + "..";
    }
    lines
}

/// An RGB picture being drawn.
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Result<Self> {
        let pixels = width
            .checked_mul(height)
            .filter(|&p| {
                p <= MAX_PIXELS && width <= u32::MAX as usize && height <= u32::MAX as usize
            })
            .ok_or_else(|| Error::invalid(format!("a {width} x {height} picture is too large")))?;
        Ok(Canvas {
            width,
            height,
            rgb: vec![255; 3 * pixels],
        })
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = 3 * (y * self.width + x);
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.put(xx, yy, c);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_image(
        &mut self,
        x0: usize,
        y0: usize,
        image: ArrayView2<f32>,
        zoom: usize,
        colormap: Colormap,
        lo: f64,
        hi: f64,
    ) {
        let w = image.ncols() * zoom;
        let mut line = vec![0u8; 3 * w];
        for (r, row) in image.rows().into_iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let rgb = colormap.rgb(normalise(v, lo, hi));
                for z in 0..zoom {
                    let i = 3 * (c * zoom + z);
                    line[i..i + 3].copy_from_slice(&rgb);
                }
            }
            for z in 0..zoom {
                let y = y0 + r * zoom + z;
                let start = 3 * (y * self.width + x0);
                self.rgb[start..start + 3 * w].copy_from_slice(&line);
            }
        }
    }

    /// A `+` of half-length `arm` centred at `(x, y)`, thickened by `grow` pixels on each
    /// side, clipped to the rectangle `(x, y, w, h)`.
    fn cross(
        &mut self,
        x: i64,
        y: i64,
        arm: i64,
        grow: i64,
        c: [u8; 3],
        clip: (usize, usize, usize, usize),
    ) {
        let (cx, cy, cw, ch) = (clip.0 as i64, clip.1 as i64, clip.2 as i64, clip.3 as i64);
        let mut plot = |px: i64, py: i64| {
            if px >= cx && px < cx + cw && py >= cy && py < cy + ch {
                self.put(px as usize, py as usize, c);
            }
        };
        for d in -(arm + grow)..=(arm + grow) {
            for t in -grow..=grow {
                plot(x + d, y + t);
                plot(x + t, y + d);
            }
        }
    }

    fn colour_bar(&mut self, x: usize, y: usize, w: usize, h: usize, colormap: Colormap) {
        self.fill_rect(x, y, w, h, BAR_BORDER_RGB);
        let inner = w.saturating_sub(2);
        for i in 0..inner {
            let t = if inner > 1 {
                i as f64 / (inner - 1) as f64
            } else {
                0.5
            };
            self.fill_rect(x + 1 + i, y + 1, 1, h.saturating_sub(2), colormap.rgb(t));
        }
    }

    /// Draw `s` with its top-left corner at `(x, y)`, each glyph pixel a `scale x scale` block.
    fn text(&mut self, x: usize, y: usize, s: &str, scale: usize, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let glyph = glyph(ch);
            let gx = x + k * GLYPH_ADVANCE * scale;
            for (row, bits) in glyph.iter().enumerate() {
                for (col, b) in bits.bytes().enumerate() {
                    if b == b'#' {
                        self.fill_rect(gx + col * scale, y + row * scale, scale, scale, c);
                    }
                }
            }
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let file = File::create(path).map_err(|e| Error::io(&name, e))?;
        let mut out = BufWriter::new(file);
        let mut encoder = ::png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(::png::ColorType::Rgb);
        encoder.set_depth(::png::BitDepth::Eight);
        let io = |e: ::png::EncodingError| Error::io(&name, e.into());
        let mut writer = encoder.write_header().map_err(io)?;
        writer.write_image_data(&self.rgb).map_err(io)?;
        writer.finish().map_err(io)?;
        out.flush().map_err(|e| Error::io(&name, e))
    }
}

fn text_width(s: &str, scale: usize) -> usize {
    let n = s.chars().count();
    // The last glyph needs no trailing spacing column.
    (n * GLYPH_ADVANCE).saturating_sub(1) * scale
}

/// Glyph cell: 5 columns, 8 rows (row 7 holds descenders), 1 column of spacing.
const GLYPH_H: usize = 8;
const GLYPH_ADVANCE: usize = 6;
const LINE_HEIGHT: usize = 10;

fn glyph(c: char) -> &'static [&'static str; GLYPH_H] {
    let i = c as usize;
    if (32..127).contains(&i) {
        &FONT[i - 32]
    } else {
        &FONT[b'?' as usize - 32]
    }
}

/// Printable ASCII 32..=126, drawn for this crate: `#` is ink.
#[rustfmt::skip]
const FONT: [[&str; GLYPH_H]; 95] = [
    [".....", ".....", ".....", ".....", ".....", ".....", ".....", "....."], // ' '
    ["..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#..", "....."], // !
    [".#.#.", ".#.#.", ".....", ".....", ".....", ".....", ".....", "....."], // "
    [".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#.", "....."], // #
    ["..#..", ".####", "#.#..", ".###.", "..#.#", "####.", "..#..", "....."], // $
    ["##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##", "....."], // %
    [".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#", "....."], // &
    ["..#..", "..#..", ".#...", ".....", ".....", ".....", ".....", "....."], // '
    ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#.", "....."], // (
    [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#...", "....."], // )
    [".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", ".....", "....."], // *
    [".....", "..#..", "..#..", "#####", "..#..", "..#..", ".....", "....."], // +
    [".....", ".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."], // ,
    [".....", ".....", ".....", "#####", ".....", ".....", ".....", "....."], // -
    [".....", ".....", ".....", ".....", ".....", ".##..", ".##..", "....."], // .
    [".....", "....#", "...#.", "..#..", ".#...", "#....", ".....", "....."], // /
    [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###.", "....."], // 0
    ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."], // 1
    [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####", "....."], // 2
    ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###.", "....."], // 3
    ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.", "....."], // 4
    ["#####", "#....", "####.", "....#", "....#", "#...#", ".###.", "....."], // 5
    ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###.", "....."], // 6
    ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...", "....."], // 7
    [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.", "....."], // 8
    [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##..", "....."], // 9
    [".....", ".##..", ".##..", ".....", ".##..", ".##..", ".....", "....."], // :
    [".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#...", "....."], // ;
    ["...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#.", "....."], // <
    [".....", ".....", "#####", ".....", "#####", ".....", ".....", "....."], // =
    [".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#...", "....."], // >
    [".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#..", "....."], // ?
    [".###.", "#...#", "....#", ".##.#", "#.#.#", "#.#.#", ".###.", "....."], // @
    [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#", "....."], // A
    ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####.", "....."], // B
    [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###.", "....."], // C
    ["###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###..", "....."], // D
    ["#####", "#....", "#....", "####.", "#....", "#....", "#####", "....."], // E
    ["#####", "#....", "#....", "####.", "#....", "#....", "#....", "....."], // F
    [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####", "....."], // G
    ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#", "....."], // H
    [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."], // I
    ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##..", "....."], // J
    ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#", "....."], // K
    ["#....", "#....", "#....", "#....", "#....", "#....", "#####", "....."], // L
    ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#", "....."], // M
    ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "....."], // N
    [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###.", "....."], // O
    ["####.", "#...#", "#...#", "####.", "#....", "#....", "#....", "....."], // P
    [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#", "....."], // Q
    ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#", "....."], // R
    [".####", "#....", "#....", ".###.", "....#", "....#", "####.", "....."], // S
    ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "....."], // T
    ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###.", "....."], // U
    ["#...#", "#...#", "#...#", ".#.#.", ".#.#.", "..#..", "..#..", "....."], // V
    ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#.", "....."], // W
    ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#", "....."], // X
    ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#..", "....."], // Y
    ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####", "....."], // Z
    [".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###.", "....."], // [
    [".....", "#....", ".#...", "..#..", "...#.", "....#", ".....", "....."], // \
    [".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###.", "....."], // ]
    ["..#..", ".#.#.", "#...#", ".....", ".....", ".....", ".....", "....."], // ^
    [".....", ".....", ".....", ".....", ".....", ".....", ".....", "#####"], // _
    [".#...", "..#..", "...#.", ".....", ".....", ".....", ".....", "....."], // `
    [".....", ".....", ".###.", "....#", ".####", "#...#", ".####", "....."], // a
    ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####.", "....."], // b
    [".....", ".....", ".###.", "#....", "#....", "#...#", ".###.", "....."], // c
    ["....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####", "....."], // d
    [".....", ".....", ".###.", "#...#", "#####", "#....", ".###.", "....."], // e
    ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#...", "....."], // f
    [".....", ".....", ".####", "#...#", "#...#", ".####", "....#", ".###."], // g
    ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#", "....."], // h
    ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###.", "....."], // i
    ["...#.", ".....", "..##.", "...#.", "...#.", "...#.", "#..#.", ".##.."], // j
    ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "....."], // k
    [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."], // l
    [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#.#.#", "#.#.#", "....."], // m
    [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#", "....."], // n
    [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###.", "....."], // o
    [".....", ".....", "####.", "#...#", "#...#", "####.", "#....", "#...."], // p
    [".....", ".....", ".####", "#...#", "#...#", ".####", "....#", "....#"], // q
    [".....", ".....", "#.##.", "##..#", "#....", "#....", "#....", "....."], // r
    [".....", ".....", ".####", "#....", ".###.", "....#", "####.", "....."], // s
    [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##.", "....."], // t
    [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#", "....."], // u
    [".....", ".....", "#...#", "#...#", ".#.#.", ".#.#.", "..#..", "....."], // v
    [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#.", "....."], // w
    [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "....."], // x
    [".....", ".....", "#...#", "#...#", "#...#", ".####", "....#", ".###."], // y
    [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####", "....."], // z
    ["...#.", "..#..", "..#..", ".#...", "..#..", "..#..", "...#.", "....."], // {
    ["..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "....."], // |
    [".#...", "..#..", "..#..", "...#.", "..#..", "..#..", ".#...", "....."], // }
    [".....", ".....", ".#...", "#.#.#", "...#.", ".....", ".....", "....."], // ~
];

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};
    use std::io::BufReader;
    use std::path::PathBuf;

    /// A temp path unique to this test process and `name`, removed on drop.
    struct TempPng(PathBuf);
    impl TempPng {
        fn new(name: &str) -> Self {
            let file = format!("qpik_png_test_{}_{name}.png", std::process::id());
            TempPng(std::env::temp_dir().join(file))
        }
    }
    impl Drop for TempPng {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Decoded picture: width, height, RGB bytes.
    struct Decoded {
        width: usize,
        height: usize,
        rgb: Vec<u8>,
    }
    impl Decoded {
        fn at(&self, x: usize, y: usize) -> [u8; 3] {
            assert!(
                x < self.width && y < self.height,
                "({x}, {y}) outside the picture"
            );
            let i = 3 * (y * self.width + x);
            [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
        }
    }

    fn decode(path: &Path) -> Decoded {
        let file = File::open(path).unwrap();
        let mut reader = ::png::Decoder::new(BufReader::new(file))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Rgb);
        assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        Decoded {
            width: info.width as usize,
            height: info.height as usize,
            rgb: buf,
        }
    }

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
    fn scale_ranges() {
        // 0..=99 and one spike: percentiles by hand on the 101 sorted values.
        let mut values: Vec<f32> = (0..100).map(|v| v as f32).collect();
        values.push(1e6);
        values.push(f32::NAN);
        let image = Array2::from_shape_vec((1, 102), values).unwrap();
        assert_eq!(Scale::MinMax.range(image.view()).unwrap(), (0.0, 1e6));
        assert_eq!(Scale::Symmetric.range(image.view()).unwrap(), (-1e6, 1e6));
        let (lo, hi) = Scale::SymmetricPercentile(1.0).range(image.view()).unwrap();
        assert!(
            lo == -hi && hi < 1e6,
            "clipped symmetric scale ignores the outlier: {hi}"
        );
        assert_eq!(
            Scale::Percentile(1.0).range(image.view()).unwrap(),
            (1.0, 99.0)
        );
        assert_eq!(
            Scale::Percentile(0.0).range(image.view()).unwrap(),
            (0.0, 1e6)
        );
        // q = 0.005: position 0.5 between 0 and 1.
        assert_eq!(Scale::Percentile(0.5).range(image.view()).unwrap().0, 0.5);
        let negative = array![[-4.0f32, 1.0]];
        assert_eq!(
            Scale::Symmetric.range(negative.view()).unwrap(),
            (-4.0, 4.0)
        );
        for p in [50.0, -1.0, f64::NAN, 120.0] {
            let err = Scale::Percentile(p).range(image.view()).unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput(ref m) if m.contains("percentile")),
                "{p}"
            );
        }
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

    #[test]
    fn value_labels_are_compact() {
        let cases = [
            (0.0, "0"),
            (-1.2e-3, "-1.2e-3"),
            (1e-3, "1e-3"),
            (4.5e6, "4.5e6"),
            (12.34, "12.3"),
            (1234.0, "1234"),
            (0.0123, "0.0123"),
            (-0.5, "-0.5"),
            (1.0, "1"),
            (99999.0, "1e5"),
        ];
        for (v, s) in cases {
            assert_eq!(format_value(v), s, "{v}");
        }
    }

    #[test]
    fn titles_wrap() {
        assert_eq!(wrap("a bb ccc", 4, 3), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4, 3), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("aa bb cc dd ee", 5, 2), ["aa bb", "cc.."]);
        assert!(wrap("  ", 5, 3).is_empty());
    }

    #[test]
    fn font_is_complete_and_unambiguous() {
        for (i, g) in FONT.iter().enumerate() {
            let c = (i as u8 + 32) as char;
            for row in g {
                assert_eq!(row.len(), 5, "{c:?}");
                assert!(row.bytes().all(|b| b == b'.' || b == b'#'), "{c:?}");
            }
            assert_eq!(g.concat().contains('#'), c != ' ', "{c:?} has ink");
            for (j, h) in FONT.iter().enumerate().skip(i + 1) {
                assert_ne!(g, h, "{c:?} and {:?} look the same", (j as u8 + 32) as char);
            }
        }
        assert_eq!(glyph('\u{c5}'), glyph('?'));
        assert_eq!(text_width("ab", 2), 22);
    }
}
