//! An RGB picture being drawn: rectangles, images through a colormap, crosses, colour bars,
//! text; saved as 8-bit RGB PNG.

use std::io::{BufWriter, Write};
use std::path::Path;

use ndarray::ArrayView2;

use super::colormap::Colormap;
use super::font::{GLYPH_ADVANCE, glyph};
use super::scale::normalise;
use crate::data::output_file::OutputFile;
use crate::{Error, Result};

pub(crate) const TEXT_RGB: [u8; 3] = [20, 20, 20];
pub(crate) const BAR_BORDER_RGB: [u8; 3] = [90, 90, 90];

/// Largest picture written, in pixels (about 750 MB of RGB).
pub(crate) const MAX_PIXELS: usize = 1 << 28;

/// An RGB picture being drawn.
pub(crate) struct Canvas {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) rgb: Vec<u8>,
}

impl Canvas {
    pub(crate) fn new(width: usize, height: usize) -> Result<Self> {
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

    pub(crate) fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = 3 * (y * self.width + x);
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    pub(crate) fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.put(xx, yy, c);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn draw_image(
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
    pub(crate) fn cross(
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

    pub(crate) fn colour_bar(
        &mut self,
        x: usize,
        y: usize,
        w: usize,
        h: usize,
        colormap: Colormap,
    ) {
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
    pub(crate) fn text(&mut self, x: usize, y: usize, s: &str, scale: usize, c: [u8; 3]) {
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

    /// Writes the picture atomically (see [`crate::data::output_file`]).
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let mut target = OutputFile::create(path)?;
        let mut out = BufWriter::new(target.file());
        let mut encoder = ::png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(::png::ColorType::Rgb);
        encoder.set_depth(::png::BitDepth::Eight);
        let io = |e: ::png::EncodingError| Error::io(&name, e.into());
        let mut writer = encoder.write_header().map_err(io)?;
        writer.write_image_data(&self.rgb).map_err(io)?;
        writer.finish().map_err(io)?;
        out.flush().map_err(|e| Error::io(&name, e))?;
        drop(out);
        target.commit()
    }
}
