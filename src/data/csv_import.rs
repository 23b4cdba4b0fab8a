//! The CSV layout of the published 100-kernel QPI dataset (arXiv 2506.05325).
//!
//! One file per kernel:
//! 1. metadata: free text or `key=value` cells, kept verbatim (a `symmetry=4`, `sym=4` or
//!    `fold=4` cell sets the kernel's symmetry label; 0 = unknown otherwise);
//! 2. pixel coordinates in Angstrom: the `W` coordinates of the axis (images are square and
//!    share it for x and y), or one or two coordinates per pixel (`H*W` or `2*H*W` values);
//! 3. the kernel: `H*W` values, row-major, then its scatterer `x, y` pairs in Angstrom;
//! 4. and on: one observation per row, `H*W` values then scatterer `x, y` pairs in Angstrom.
//!
//! Unused pairs are `1000, 1000`. Cells are separated by commas (or, in comma-free rows, by
//! whitespace or semicolons); blank lines and trailing empty cells are ignored. Row and column
//! numbers in messages are 1-based lines and cells of the file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ndarray::{Array3, ArrayView2, ArrayView3};
use rayon::prelude::*;
use serde::Serialize;

use super::assemble::{pack_defects, unseen_split};
use super::{Dataset, DatasetInfo, KernelTable, ObservationTable};
use crate::rng::Rng;
use crate::{Error, Result};

/// Coordinate marking an unused scatterer pair.
pub const UNUSED_COORDINATE_A: f64 = 1000.0;

fn show(path: &Path) -> String {
    path.display().to_string()
}

/// An image row split into its values and its `(x, y)` pairs in Angstrom.
type ImageAndPairs = (Vec<f32>, Vec<(f64, f64)>);

/// One parsed kernel file.
struct KernelFile {
    name: String,
    metadata: String,
    symmetry: u8,
    /// Image side n (images are n x n).
    n: usize,
    pixel_size_a: f64,
    kernel: Vec<f32>,
    observations: Vec<Vec<f32>>,
    /// Per observation and pair slot: `(row, col)` in pixels, `None` for unused slots.
    positions: Vec<Vec<Option<(f32, f32)>>>,
}

/// The cells of a data row, with 1-based line numbers for messages.
struct Row<'a> {
    line: usize,
    cells: Vec<&'a str>,
}

fn split_cells(line: &str) -> Vec<&str> {
    let mut cells: Vec<&str> = if line.contains(',') {
        line.split(',').map(str::trim).collect()
    } else {
        line.split(|c: char| c.is_whitespace() || c == ';')
            .filter(|c| !c.is_empty())
            .collect()
    };
    while cells.last().is_some_and(|c| c.is_empty()) {
        cells.pop();
    }
    cells
}

fn parse_numbers(path: &Path, row: &Row) -> Result<Vec<f64>> {
    row.cells
        .iter()
        .enumerate()
        .map(|(j, cell)| {
            cell.parse::<f64>().map_err(|_| {
                let what = if cell.is_empty() {
                    "empty cell".to_string()
                } else {
                    format!("{cell:?} is not a number")
                };
                Error::format(
                    show(path),
                    format!("row {}, column {}: {what}", row.line, j + 1),
                )
            })
        })
        .collect()
}

/// `symmetry=4`, `sym: 4` or `fold=4` (any case) in the metadata; 0 when absent.
fn parse_symmetry(metadata: &str) -> u8 {
    let text = metadata.to_ascii_lowercase();
    for key in ["symmetry", "sym", "fold"] {
        for (at, _) in text.match_indices(key) {
            let word_start = text[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            if !word_start {
                continue;
            }
            let rest = text[at + key.len()..].trim_start();
            let Some(rest) = rest.strip_prefix(['=', ':']) else {
                continue;
            };
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(v) = digits.parse::<u8>() {
                return v;
            }
        }
    }
    0
}

/// Image side and axis `(first coordinate, spacing)` from the coordinate row.
///
/// `image_cells` is the length of the kernel row, which tells an axis of `n` coordinates from
/// per-pixel coordinates of an `sqrt(L) x sqrt(L)` image.
fn parse_axis(
    path: &Path,
    row: &Row,
    coords: &[f64],
    image_cells: usize,
) -> Result<(usize, f64, f64)> {
    let len = coords.len();
    let fits = |n: usize| n >= 2 && n * n <= image_cells && (image_cells - n * n) % 2 == 0;
    let isqrt = |v: usize| (v as f64).sqrt().round() as usize;
    let err = |m: String| Error::format(show(path), format!("row {}: {m}", row.line));
    let (n, axis) = if fits(len) {
        (len, coords.to_vec())
    } else {
        let candidates = [isqrt(len), isqrt(len / 2)];
        let Some(&n) = candidates
            .iter()
            .find(|&&n| fits(n) && (n * n == len || 2 * n * n == len))
        else {
            return Err(err(format!(
                "{len} pixel coordinates fit neither an axis nor a square image of {image_cells} kernel cells"
            )));
        };
        // Per-pixel coordinates (meshgrid x, y or both): the distinct values form the axis.
        let mut sorted = coords.to_vec();
        sorted.sort_by(f64::total_cmp);
        let tol = (sorted[len - 1] - sorted[0]).abs() * 1e-6;
        sorted.dedup_by(|a, b| (*a - *b).abs() <= tol);
        if sorted.len() != n {
            return Err(err(format!(
                "{len} per-pixel coordinates hold {} distinct values, expected {n} for {n}x{n} images",
                sorted.len()
            )));
        }
        (n, sorted)
    };
    if axis.iter().any(|v| !v.is_finite()) {
        return Err(err("pixel coordinates must be finite".into()));
    }
    let step = (axis[n - 1] - axis[0]) / (n - 1) as f64;
    let uneven = axis
        .windows(2)
        .position(|p| ((p[1] - p[0]) - step).abs() > 1e-3 * step.abs());
    if step == 0.0 || uneven.is_some() {
        return Err(err(format!(
            "pixel coordinates are not evenly spaced (spacing {step} Angstrom, first deviation at column {})",
            uneven.map_or(1, |i| i + 2)
        )));
    }
    Ok((n, axis[0], step))
}

fn parse_file(path: &Path) -> Result<KernelFile> {
    // A regular file of at most 1 GiB (a published kernel file is about 100 kB).
    let bytes = super::checked_read::read_regular_file(path, 1 << 30, "kernel CSV file")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::format(show(path), "not UTF-8 text; save the CSV as UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, metadata)) = lines.next() else {
        return Err(Error::format(
            show(path),
            "empty file: expected a metadata row, a pixel-coordinate row and a kernel row",
        ));
    };
    let mut rows = lines.map(|(line, l)| Row {
        line,
        cells: split_cells(l),
    });
    let missing = |what: &str| Error::format(show(path), format!("missing the {what} row"));
    let coord_row = rows
        .next()
        .ok_or_else(|| missing("pixel-coordinate (second)"))?;
    let kernel_row = rows.next().ok_or_else(|| missing("kernel (third)"))?;
    let coords = parse_numbers(path, &coord_row)?;
    let (n, origin, step) = parse_axis(path, &coord_row, &coords, kernel_row.cells.len())?;
    let n2 = n * n;

    let split_row = |row: &Row| -> Result<ImageAndPairs> {
        let cells = row.cells.len();
        if cells < n2 || (cells - n2) % 2 != 0 {
            return Err(Error::format(
                show(path),
                format!(
                    "row {}: expected {n2} image values + x, y pairs, found {cells} cells",
                    row.line
                ),
            ));
        }
        let values = parse_numbers(path, row)?;
        let image = values[..n2].iter().map(|&v| v as f32).collect();
        let pairs = values[n2..].chunks_exact(2).map(|p| (p[0], p[1])).collect();
        Ok((image, pairs))
    };
    let (kernel, _kernel_pairs) = split_row(&kernel_row)?;
    let is_unused = |v: f64| !v.is_finite() || (v - UNUSED_COORDINATE_A).abs() < 1e-3;
    let mut observations = Vec::new();
    let mut positions = Vec::new();
    for row in rows {
        let (image, pairs) = split_row(&row)?;
        let used = pairs
            .iter()
            .map(|&(x, y)| {
                let used = !is_unused(x) && !is_unused(y);
                used.then(|| (((y - origin) / step) as f32, ((x - origin) / step) as f32))
            })
            .collect();
        observations.push(image);
        positions.push(used);
    }
    let metadata = metadata.to_string();
    Ok(KernelFile {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        symmetry: parse_symmetry(&metadata),
        metadata,
        n,
        pixel_size_a: step.abs(),
        kernel,
        observations,
        positions,
    })
}

/// What [`import_csv_files`] stores in the `generator` attribute.
#[derive(Serialize)]
struct ImportRecord<'a> {
    import: ImportSettings<'a>,
}

#[derive(Serialize)]
struct ImportSettings<'a> {
    source: &'a str,
    files: Vec<String>,
    unseen_fraction: f64,
    seed: u64,
    /// Row 1 of every file, verbatim.
    metadata: Vec<&'a str>,
}

/// Imports one CSV file per kernel (published layout, see the module docs) into a dataset.
///
/// Kernels are named after the file stems and kept in the order of `paths`.
/// `round(unseen_fraction * K)` kernels are marked [`SPLIT_UNSEEN`](super::SPLIT_UNSEEN), chosen by shuffling with `seed` (stored as the
/// dataset seed). Positions become `(row, col)` pixels from the first axis coordinate, amplitudes
/// are 1 for used defects (the CSV carries none), masks mark the rounded pixel of every defect
/// inside the image. Symmetry is 0 (unknown) unless the metadata row names it.
pub fn import_csv_files(paths: &[PathBuf], unseen_fraction: f64, seed: u64) -> Result<Dataset> {
    if paths.is_empty() {
        return Err(Error::invalid("no CSV files to import"));
    }
    if !(0.0..=1.0).contains(&unseen_fraction) {
        return Err(Error::invalid(format!(
            "unseen fraction {unseen_fraction} is outside 0..=1"
        )));
    }
    let files: Vec<KernelFile> = paths
        .par_iter()
        .map(|p| parse_file(p))
        .collect::<Result<_>>()?;
    let n = files[0].n;
    if let Some((i, f)) = files.iter().enumerate().find(|(_, f)| f.n != n) {
        return Err(Error::format(
            show(&paths[i]),
            format!(
                "images are {m}x{m}, but {} has {n}x{n}",
                show(&paths[0]),
                m = f.n
            ),
        ));
    }
    let nk = files.len();
    let n_obs: usize = files.iter().map(|f| f.observations.len()).sum();
    let s = files
        .iter()
        .flat_map(|f| f.positions.iter().map(Vec::len))
        .max()
        .unwrap_or(0);

    let mut kernels = Array3::zeros((nk, n, n));
    let mut observations = Array3::zeros((n_obs, n, n));
    let mut masks = Array3::zeros((n_obs, n, n));
    let mut kernel_index = Vec::with_capacity(n_obs);
    let mut i = 0;
    for (k, f) in files.iter().enumerate() {
        kernels.index_axis_mut(ndarray::Axis(0), k).assign(
            &ArrayView2::from_shape((n, n), &f.kernel)
                .map_err(|e| Error::invalid(e.to_string()))?,
        );
        for (image, defects) in f.observations.iter().zip(&f.positions) {
            for (dst, &v) in observations
                .index_axis_mut(ndarray::Axis(0), i)
                .iter_mut()
                .zip(image)
            {
                *dst = v;
            }
            for &(r, c) in defects.iter().flatten() {
                let (rr, cc) = (r.round(), c.round());
                if (0.0..n as f32).contains(&rr) && (0.0..n as f32).contains(&cc) {
                    masks[[i, rr as usize, cc as usize]] = 1;
                }
            }
            kernel_index.push(k as u32);
            i += 1;
        }
    }

    // Amplitudes are 1 for used defects: the CSV carries none.
    let rows: Vec<&Vec<Option<(f32, f32)>>> = files.iter().flat_map(|f| &f.positions).collect();
    let (positions, amplitudes) = pack_defects(
        rows.iter()
            .map(|defects| defects.iter().map(|p| p.map(|(r, c)| ([r, c], 1.0)))),
        s,
    );
    let split = unseen_split(nk, unseen_fraction, &mut Rng::new(seed));

    let pixel_size_m: Vec<f64> = files.iter().map(|f| f.pixel_size_a * 1e-10).collect();
    let first = pixel_size_m[0];
    let common = pixel_size_m
        .iter()
        .all(|&p| (p - first).abs() <= 1e-9 * first.abs());
    let record = ImportRecord {
        import: ImportSettings {
            source: "csv (arXiv 2506.05325 layout)",
            files: paths.iter().map(|p| show(p)).collect(),
            unseen_fraction,
            seed,
            metadata: files.iter().map(|f| f.metadata.as_str()).collect(),
        },
    };
    let generator = toml::to_string(&record)
        .map_err(|e| Error::invalid(format!("cannot record the import settings: {e}")))?;

    Ok(Dataset {
        info: DatasetInfo {
            pixel_size_m: if common { first } else { f64::NAN },
            seed,
            generator,
        },
        kernels: KernelTable {
            kernels,
            names: files.iter().map(|f| f.name.clone()).collect(),
            symmetry: files.iter().map(|f| f.symmetry).collect(),
            split,
            pixel_size_m,
        },
        observations: ObservationTable::one_type(
            observations,
            masks,
            kernel_index,
            positions,
            amplitudes,
        ),
    })
}

/// Writes one kernel file in the published layout.
///
/// `axis_a` holds the `W` pixel coordinates (Angstrom) shared by x and y; the kernel row gets
/// one scatterer at pixel `(H/2, W/2)`. `defects_a` is `[N, S, 2]` scatterer `(x, y)` in
/// Angstrom, NaN for unused slots (written as 1000). Values are written in shortest
/// round-trip form, so importing gives back the same f32 numbers.
pub fn write_csv(
    path: &Path,
    metadata: &str,
    axis_a: &[f64],
    kernel: ArrayView2<f32>,
    observations: ArrayView3<f32>,
    defects_a: ArrayView3<f64>,
) -> Result<()> {
    let (h, w) = kernel.dim();
    let (n, oh, ow) = observations.dim();
    let (dn, _, d2) = defects_a.dim();
    if h != w || axis_a.len() != w {
        return Err(Error::invalid(format!(
            "CSV kernels are square with one axis: kernel is {h}x{w}, axis has {} coordinates",
            axis_a.len()
        )));
    }
    if (oh, ow) != (h, w) || dn != n || d2 != 2 {
        return Err(Error::invalid(format!(
            "observations {n}x{oh}x{ow} and defects {:?} do not match a {h}x{w} kernel",
            defects_a.dim()
        )));
    }
    if metadata.contains(['\n', '\r']) {
        return Err(Error::invalid("CSV metadata must be a single line"));
    }
    let mut out = String::new();
    let join = |out: &mut String, values: &mut dyn Iterator<Item = String>| {
        let mut first = true;
        for v in values {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&v);
        }
    };
    let sentinel = |v: f64| if v.is_nan() { UNUSED_COORDINATE_A } else { v };
    out.push_str(metadata);
    out.push('\n');
    join(&mut out, &mut axis_a.iter().map(|v| v.to_string()));
    out.push('\n');
    join(&mut out, &mut kernel.iter().map(|v| v.to_string()));
    let _ = write!(out, ",{},{}", axis_a[w / 2], axis_a[h / 2]);
    out.push('\n');
    for i in 0..n {
        let image = observations.index_axis(ndarray::Axis(0), i);
        let pairs = defects_a.index_axis(ndarray::Axis(0), i);
        join(
            &mut out,
            &mut image
                .iter()
                .map(|v| v.to_string())
                .chain(pairs.iter().map(|&v| sentinel(v).to_string())),
        );
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| Error::io(show(path), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SPLIT_UNSEEN;
    use ndarray::Array2;

    /// A fresh directory in the temp dir, removed when dropped.
    struct TempDir(tempfile::TempDir);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let prefix = format!("qpik-csv-{tag}-");
            TempDir(tempfile::Builder::new().prefix(&prefix).tempdir().unwrap())
        }
    }

    const N: usize = 8;

    fn axis() -> Vec<f64> {
        (0..N)
            .map(|i| -200.0 + 400.0 * i as f64 / (N - 1) as f64)
            .collect()
    }

    /// Observation values distinct per kernel, observation and pixel (and not round numbers).
    fn value(k: usize, i: usize, p: usize) -> f32 {
        (k as f32 + 1.0) * 0.1 + i as f32 * 0.01 + p as f32 * 1e-4 + 1.0 / 3.0
    }

    /// Defects of kernel `k`, observation `i`: `(row, col)` pixels; observation 2 of kernel 1
    /// has a defect outside the image.
    fn defects(k: usize, i: usize) -> Vec<(f64, f64)> {
        let mut d: Vec<(f64, f64)> = (0..=i)
            .map(|j| (j as f64 + 0.25, (k + 2 * j) as f64))
            .collect();
        if k == 1 && i == 2 {
            d.push((-3.0, 4.0));
        }
        d
    }

    /// Writes kernel `k` with 3 observations and `s` pair slots per row.
    fn write_fixture(path: &Path, k: usize, metadata: &str, s: usize) {
        let a = axis();
        let dx = a[1] - a[0];
        let kernel = Array2::from_shape_fn((N, N), |(r, c)| value(k, 99, r * N + c));
        let obs = Array3::from_shape_fn((3, N, N), |(i, r, c)| value(k, i, r * N + c));
        let mut pairs = Array3::from_elem((3, s, 2), f64::NAN);
        for i in 0..3 {
            for (j, &(row, col)) in defects(k, i).iter().enumerate() {
                pairs[[i, j, 0]] = a[0] + col * dx;
                pairs[[i, j, 1]] = a[0] + row * dx;
            }
        }
        write_csv(path, metadata, &a, kernel.view(), obs.view(), pairs.view()).unwrap();
    }

    fn fixture(dir: &TempDir) -> Vec<PathBuf> {
        let paths = vec![
            dir.0.path().join("alpha.csv"),
            dir.0.path().join("beta.csv"),
        ];
        write_fixture(&paths[0], 0, "material=FeSe, Symmetry = 4, E=5meV", 4);
        write_fixture(&paths[1], 1, "free text, no labels", 5);
        paths
    }

    #[test]
    fn imports_what_write_csv_wrote() {
        let dir = TempDir::new("fixture");
        let paths = fixture(&dir);
        let ds = import_csv_files(&paths, 0.5, 11).unwrap();
        let k = &ds.kernels;
        assert_eq!(k.names, ["alpha", "beta"]);
        assert_eq!(k.symmetry, [4, 0]);
        assert_eq!(k.kernels.dim(), (2, N, N));
        assert_eq!(
            k.kernels[[1, 2, 3]].to_bits(),
            value(1, 99, 2 * N + 3).to_bits()
        );
        let dx_m = 400.0 / (N - 1) as f64 * 1e-10;
        assert!(
            k.pixel_size_m.iter().all(|p| (p - dx_m).abs() < 1e-18),
            "{:?}",
            k.pixel_size_m
        );
        assert!((ds.info.pixel_size_m - dx_m).abs() < 1e-18);
        assert_eq!(k.split.iter().filter(|&&v| v == SPLIT_UNSEEN).count(), 1);

        let o = &ds.observations;
        assert_eq!(o.kernel_index, [0, 0, 0, 1, 1, 1]);
        assert_eq!(o.observations.dim(), (6, N, N));
        for (row, (kk, i)) in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
            .into_iter()
            .enumerate()
        {
            for p in [0, 17, N * N - 1] {
                let got = o.observations[[row, p / N, p % N]];
                assert_eq!(
                    got.to_bits(),
                    value(kk, i, p).to_bits(),
                    "obs {row} pixel {p}"
                );
            }
            let want = defects(kk, i);
            // S is the most pairs any row carries: 5 slots in beta.csv.
            assert_eq!(o.positions.dim(), (6, 5, 2));
            for slot in 0..5 {
                let (r, c) = (o.positions[[row, slot, 0]], o.positions[[row, slot, 1]]);
                match want.get(slot) {
                    Some(&(wr, wc)) => {
                        assert!(
                            (r as f64 - wr).abs() < 1e-4 && (c as f64 - wc).abs() < 1e-4,
                            "{row}/{slot}: {r},{c}"
                        );
                        assert_eq!(o.amplitudes[[row, slot]], 1.0);
                    }
                    None => assert!(r.is_nan() && c.is_nan() && o.amplitudes[[row, slot]].is_nan()),
                }
            }
            let in_image: Vec<(usize, usize)> = want
                .iter()
                .filter(|&&(r, c)| r >= 0.0 && c >= 0.0)
                .map(|&(r, c)| (r.round() as usize, c.round() as usize))
                .collect();
            let marked = o.masks.index_axis(ndarray::Axis(0), row);
            assert_eq!(
                marked.iter().filter(|&&m| m == 1).count(),
                in_image.len(),
                "mask {row}"
            );
            assert!(in_image.iter().all(|&(r, c)| marked[[r, c]] == 1));
        }
        assert!(
            ds.info.generator.contains("Symmetry = 4"),
            "{}",
            ds.info.generator
        );
        assert!(ds.info.generator.contains("unseen_fraction = 0.5"));
    }

    #[test]
    fn split_is_deterministic_in_the_seed() {
        let dir = TempDir::new("split");
        let paths = fixture(&dir);
        let a = import_csv_files(&paths, 0.5, 3).unwrap().kernels.split;
        let b = import_csv_files(&paths, 0.5, 3).unwrap().kernels.split;
        assert_eq!(a, b);
        let picks: std::collections::HashSet<Vec<u8>> = (0..20)
            .map(|seed| import_csv_files(&paths, 0.5, seed).unwrap().kernels.split)
            .collect();
        assert_eq!(
            picks.len(),
            2,
            "the seed never changes which kernel is unseen"
        );
        assert_eq!(
            import_csv_files(&paths, 0.0, 3).unwrap().kernels.split,
            [0, 0]
        );
        assert_eq!(
            import_csv_files(&paths, 1.0, 3).unwrap().kernels.split,
            [1, 1]
        );
        assert!(import_csv_files(&paths, 1.5, 3).is_err());
    }

    /// Rewrites line `index` (0-based) of a file.
    fn replace_line(path: &Path, index: usize, new: &str) {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[index] = new.to_string();
        std::fs::write(path, lines.join("\n")).unwrap();
    }

    #[test]
    fn per_pixel_coordinates_and_loose_formatting_are_accepted() {
        let dir = TempDir::new("loose");
        let paths = fixture(&dir);
        let reference = import_csv_files(&paths, 0.0, 1).unwrap();
        let a = axis();
        let xs: Vec<String> = (0..N * N).map(|p| a[p % N].to_string()).collect();
        let ys: Vec<String> = (0..N * N).map(|p| a[p / N].to_string()).collect();
        replace_line(&paths[0], 1, &xs.join(","));
        replace_line(
            &paths[1],
            1,
            &format!("{},{},,", xs.join(","), ys.join(",")),
        );
        // CRLF, whitespace around cells, trailing commas and blank lines.
        let text = std::fs::read_to_string(&paths[1]).unwrap();
        let loose: String = text
            .lines()
            .map(|l| format!("{} ,\r\n", l.replace(',', " , ")))
            .collect();
        std::fs::write(&paths[1], format!("{loose}\r\n\r\n")).unwrap();
        let ds = import_csv_files(&paths, 0.0, 1).unwrap();
        assert_eq!(
            ds.observations.observations,
            reference.observations.observations
        );
        assert_eq!(ds.kernels.pixel_size_m, reference.kernels.pixel_size_m);
        let bits =
            |t: &ObservationTable| t.positions.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ds.observations), bits(&reference.observations));
    }

    fn import_error(tag: &str, edit: impl FnOnce(&Path)) -> String {
        let dir = TempDir::new(tag);
        let paths = fixture(&dir);
        edit(&paths[1]);
        let err = import_csv_files(&paths, 0.0, 1)
            .expect_err("malformed file accepted")
            .to_string();
        assert!(
            err.contains(&paths[1].display().to_string()),
            "{tag}: no file name in {err}"
        );
        err
    }

    #[test]
    fn malformed_files_give_row_and_column() {
        let short = import_error("short", |p| replace_line(p, 4, &vec!["1"; 37].join(",")));
        assert!(
            short.contains("row 5: expected 64 image values + x, y pairs, found 37 cells"),
            "{short}"
        );
        let odd = import_error("odd", |p| replace_line(p, 3, &vec!["1"; 65].join(",")));
        assert!(
            odd.contains("row 4: expected 64 image values + x, y pairs, found 65 cells"),
            "{odd}"
        );
        let abc = import_error("abc", |p| {
            let text = std::fs::read_to_string(p).unwrap();
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            let mut cells: Vec<&str> = lines[3].split(',').collect();
            cells[11] = "abc";
            lines[3] = cells.join(",");
            std::fs::write(p, lines.join("\n")).unwrap();
        });
        assert!(
            abc.contains("row 4, column 12: \"abc\" is not a number"),
            "{abc}"
        );
        let empty = import_error("empty", |p| std::fs::write(p, "").unwrap());
        assert!(empty.contains("empty file"), "{empty}");
        let no_kernel = import_error("nokernel", |p| std::fs::write(p, "meta\n1,2,3\n").unwrap());
        assert!(
            no_kernel.contains("missing the kernel (third) row"),
            "{no_kernel}"
        );
        let uneven = import_error("uneven", |p| {
            replace_line(p, 1, "-200,-150,-100,-50,0,50,100,170")
        });
        assert!(
            uneven.contains("row 2: pixel coordinates are not evenly spaced"),
            "{uneven}"
        );
        let size = import_error("size", |p| {
            let obs = Array3::<f32>::zeros((1, 4, 4));
            let pairs = Array3::<f64>::zeros((1, 0, 2));
            let k = Array2::<f32>::zeros((4, 4));
            write_csv(
                p,
                "m",
                &[-3.0, -1.0, 1.0, 3.0],
                k.view(),
                obs.view(),
                pairs.view(),
            )
            .unwrap();
        });
        assert!(size.contains("images are 4x4"), "{size}");
    }

    #[test]
    fn symmetry_labels_in_metadata() {
        assert_eq!(parse_symmetry("symmetry=4"), 4);
        assert_eq!(parse_symmetry("a=1, SYM: 6 ,b"), 6);
        assert_eq!(parse_symmetry("name=x fold = 2"), 2);
        assert_eq!(parse_symmetry("asymmetry=3"), 0);
        assert_eq!(parse_symmetry("symmetry=high"), 0);
        assert_eq!(parse_symmetry(""), 0);
    }
}
