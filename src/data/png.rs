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
const TITLE_WIDEN_CHARS: usize = 32;

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

/// Compact label: `0`, `-0.0123`, `12.3`, `1234`, `-1.2e-3`, `4.5e6`.
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
        format!("{v:.1e}")
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
        *last = last.chars().take(keep).collect::<String>() + "..";
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
    ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#..", "....."], // V
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
    [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#..", "....."], // v
    [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#.", "....."], // w
    [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "....."], // x
    [".....", ".....", "#...#", "#...#", "#...#", ".####", "....#", ".###."], // y
    [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####", "....."], // z
    ["...#.", "..#..", "..#..", ".#...", "..#..", "..#..", "...#.", "....."], // {
    ["..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "....."], // |
    [".#...", "..#..", "..#..", "...#.", "..#..", "..#..", ".#...", "....."], // }
    [".....", ".....", ".#...", "#.#.#", "...#.", ".....", ".....", "....."], // ~
];
