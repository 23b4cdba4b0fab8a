//! The result file of a map extraction: one HDF5 file per [`Extraction`].
//!
//! Root attributes:
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `format` | string | `"qpik-extraction"` |
//! | `version` | u32 | 1 |
//! | `pixel_size_m` | f64 | pixel size of the map in metres (NaN when unknown) |
//! | `value_unit` | string | the map's unit, which the kernels carry (`""` when unknown) |
//! | `heldout_r2` | f64 | held-out R^2, mean over energies |
//! | `heldout_r2_per_energy` | f64 [E] | held-out R^2 per energy |
//! | `control_heldout_r2` | f64 | a blind result's structureless control (Gaussian blobs on as many defects, scored the same way; for a stack, on the energies' first principal component); NaN when none was scored, absent in older files |
//! | `fit_r2` | f64 [E] | R^2 of the final fit on all pixels, per energy |
//! | `method` | string | `"forward"` (known positions) or `"blind"` |
//! | `symmetry` | u32 | rotation order the kernel was projected onto (0 = none, 1 = isotropic) |
//! | `mirror_axis_deg` | f64 [T] | angle of a mirror line of each kernel (NaN: no mirrors; absent in older files) |
//! | `settings` | string | the engine's settings as TOML |
//! | `notes` | string | what was chosen automatically and why, what was left out (absent in older files: empty) |
//! | `qpik_version` | string | the qpik version that made the result (absent in older files: empty) |
//! | `input_name` | string | the input file's name, `""` when the input was no file (arrays through the C ABI, Python, plugins) |
//! | `input_sha256` | string | the input file's SHA-256, 64 lower-case hex digits, `""` when no file |
//!
//! The settings actually used, for readers that do not parse TOML or shapes (written since
//! `qpik_version` was; a reader takes them from the datasets):
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `kernel_size` | u32 | S as chosen (the `settings` hold `kernel_size` as asked: absent for auto) |
//! | `types` | u32 | T, kernel types |
//! | `defects` | u64 | N, defects used |
//! | `symmetry_name` | string | the point group as chosen: `none`, `isotropic`, `2`..`6`, `m`, `2mm`, `3m`, `4mm`, `6mm` |
//!
//! Datasets (row-major, `[row, col]`, row 0 at the top; the kernel's impurity at `(S/2, S/2)`):
//!
//! | dataset | type, shape |
//! |---|---|
//! | `kernels` | f32 [T, E, S, S], in the map's unit |
//! | `kernel_std` | f32 [T, E, S, S], standard error (NaN where not computed) |
//! | `positions` | f32 [N, 2], `(row, col)` in pixels of the map |
//! | `types` | u8 [N], kernel type of each defect (< T) |
//! | `amplitudes` | f32 [N, E] |
//! | `residual` | f32 [E, H, W], map minus model (NaN where the map is) |
//! | `background` | f32 [E, H, W], the fitted background |
//! | `energies_ev` | f64 [E] (NaN when unknown) |
//! | `smoothness` | f64 [E], the smoothness weight used |
//! | `decay` | f64 [E], the decay weight used (absent in files from before it existed: read as NaN) |
//! | `excluded` | u8 [H, W], 1 where the pixel was left out as unexplained (outliers, aborted lines, saturation; absent in older files: all 0) |
//!
//! Files are written atomically (a temporary file in the target folder, renamed over it).

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use ndarray::{Array1, Array2, Array4, Dimension};

use super::output_file::OutputFile;
use super::provenance::Provenance;
use crate::extract::map::Extraction;
use crate::{Error, Result};

/// `format` root attribute of an extraction result file.
pub const EXTRACTION_FORMAT: &str = "qpik-extraction";
/// `version` root attribute written by this library.
pub const EXTRACTION_VERSION: u32 = 1;
/// Most bytes [`read_extraction`] allocates for one file's datasets (4 GiB).
pub const MAX_READ_BYTES: u64 = 4 << 30;
/// Longest string attribute accepted when reading (the settings TOML is a few kB).
pub const MAX_STRING_BYTES: usize = 1 << 20;

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn h5(path: &Path, what: String) -> impl FnOnce(hdf5::Error) -> Error {
    let path = show(path);
    move |e| Error::Hdf5 {
        path,
        message: format!("{what}: {e}"),
    }
}

/// An error of libhdf5 while *writing* `path`: an I/O error (a full disk, a quota), said as
/// such (it was a format error, which sent users looking for a damaged file).
fn h5_write(path: &Path, what: String) -> impl FnOnce(hdf5::Error) -> Error {
    let path = show(path);
    move |e| {
        let text = e.to_string();
        let first: String = text
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect();
        Error::io(
            path,
            std::io::Error::other(format!(
                "{what}: the write failed (is the disk full, or the folder not writable?); libhdf5 said: {first}"
            )),
        )
    }
}

/// Checks that the parts of `ex` agree in size: `[T, E, S, S]` kernels, N defects, `E`
/// energies, `[E, H, W]` maps. Returns `(T, E, S, N, H, W)`.
pub fn check_extraction(ex: &Extraction) -> Result<(usize, usize, usize, usize, usize, usize)> {
    let (t, e, s, s2) = ex.kernels.dim();
    let bad = |m: String| Err(Error::invalid(format!("inconsistent extraction: {m}")));
    if s != s2 {
        return bad(format!("kernels are {s} x {s2}, not square"));
    }
    if t == 0 || e == 0 || s == 0 {
        return bad(format!("kernels have shape {:?}", ex.kernels.dim()));
    }
    if t > 256 {
        return bad(format!(
            "{t} kernel types; at most 256 fit the u8 type labels"
        ));
    }
    if ex.kernel_std.dim() != ex.kernels.dim() {
        return bad(format!(
            "kernel_std has shape {:?}, kernels {:?}",
            ex.kernel_std.dim(),
            ex.kernels.dim()
        ));
    }
    let n = ex.positions.len();
    if ex.types.len() != n {
        return bad(format!("{} types for {n} positions", ex.types.len()));
    }
    if let Some(&k) = ex.types.iter().find(|&&k| usize::from(k) >= t) {
        return bad(format!(
            "a defect has type {k}, but there are {t} kernel types"
        ));
    }
    if ex.excluded.dim() != (ex.residual.dim().1, ex.residual.dim().2) {
        return bad(format!(
            "excluded has shape {:?}, the map {:?}",
            ex.excluded.dim(),
            ex.residual.dim()
        ));
    }
    if ex.amplitudes.dim() != (n, e) {
        return bad(format!(
            "amplitudes have shape {:?}, expected ({n}, {e}) (defects, energies)",
            ex.amplitudes.dim()
        ));
    }
    let (re, h, w) = ex.residual.dim();
    if re != e {
        return bad(format!("residual has {re} energies, kernels {e}"));
    }
    if ex.background.dim() != ex.residual.dim() {
        return bad(format!(
            "background has shape {:?}, residual {:?}",
            ex.background.dim(),
            ex.residual.dim()
        ));
    }
    for (name, len) in [
        ("energies_ev", ex.energies_ev.len()),
        ("heldout_r2", ex.heldout_r2.len()),
        ("fit_r2", ex.fit_r2.len()),
        ("smoothness", ex.smoothness.len()),
        ("decay", ex.decay.len()),
    ] {
        if len != e {
            return bad(format!("{name} has {len} values for {e} energies"));
        }
    }
    if ex.mirror_axis_deg.len() != t {
        return bad(format!(
            "mirror_axis_deg has {} values for {t} kernel types",
            ex.mirror_axis_deg.len()
        ));
    }
    Ok((t, e, s, n, h, w))
}

/// Writes `ex` to `path` (see the module docs for the layout). The file appears whole or not
/// at all; an existing file is replaced. A `path` that is a directory or a device is refused.
pub fn write_extraction(path: &Path, ex: &Extraction) -> Result<()> {
    let (_, _, _, n, _, _) = check_extraction(ex)?;
    let target = OutputFile::create(path)?;
    let file = hdf5::File::create(target.temp_path())
        .map_err(h5_write(path, "cannot create the file".into()))?;

    let text = |what: &str, s: &str| {
        s.parse::<VarLenUnicode>()
            .map_err(|e| Error::invalid(format!("{}: {what} cannot be stored: {e}", show(path))))
    };
    let attr_err = |name: &str| h5_write(path, format!("cannot write attribute '{name}'"));
    let scalar_string = |name: &str, value: &str| -> Result<()> {
        let v = text(name, value)?;
        file.new_attr::<VarLenUnicode>()
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .map_err(attr_err(name))
    };
    scalar_string("format", EXTRACTION_FORMAT)?;
    file.new_attr::<u32>()
        .create("version")
        .and_then(|a| a.write_scalar(&EXTRACTION_VERSION))
        .map_err(attr_err("version"))?;
    for (name, v) in [
        ("pixel_size_m", ex.pixel_size_m),
        ("heldout_r2", ex.heldout_r2_mean()),
        ("control_heldout_r2", ex.control_heldout_r2),
    ] {
        file.new_attr::<f64>()
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .map_err(attr_err(name))?;
    }
    for (name, v) in [
        ("heldout_r2_per_energy", &ex.heldout_r2),
        ("fit_r2", &ex.fit_r2),
        ("mirror_axis_deg", &ex.mirror_axis_deg),
    ] {
        file.new_attr_builder()
            .with_data(v.as_slice())
            .create(name)
            .map_err(attr_err(name))?;
    }
    file.new_attr::<u32>()
        .create("symmetry")
        .and_then(|a| a.write_scalar(&ex.symmetry))
        .map_err(attr_err("symmetry"))?;
    scalar_string("value_unit", &ex.value_unit)?;
    scalar_string("method", &ex.method)?;
    scalar_string("settings", &ex.settings_toml)?;
    scalar_string("notes", &ex.notes)?;
    scalar_string("qpik_version", &ex.provenance.qpik_version)?;
    scalar_string("input_name", &ex.provenance.input_name)?;
    scalar_string("input_sha256", &ex.provenance.input_sha256)?;
    scalar_string("symmetry_name", &ex.symmetry_name())?;
    for (name, v) in [
        ("kernel_size", ex.kernel_size() as u32),
        ("types", ex.type_count() as u32),
    ] {
        file.new_attr::<u32>()
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .map_err(attr_err(name))?;
    }
    file.new_attr::<u64>()
        .create("defects")
        .and_then(|a| a.write_scalar(&(n as u64)))
        .map_err(attr_err("defects"))?;

    let ds_err = |name: &str| h5_write(path, format!("cannot write dataset '{name}'"));
    let positions = Array2::from_shape_fn((n, 2), |(i, k)| ex.positions[i][k]);
    macro_rules! dataset {
        ($name:expr, $data:expr) => {
            file.new_dataset_builder()
                .with_data($data)
                .create($name)
                .map(|_| ())
                .map_err(ds_err($name))?
        };
    }
    dataset!("kernels", &ex.kernels.as_standard_layout());
    dataset!("kernel_std", &ex.kernel_std.as_standard_layout());
    dataset!("positions", &positions);
    dataset!("types", ex.types.as_slice());
    dataset!("amplitudes", &ex.amplitudes.as_standard_layout());
    dataset!("residual", &ex.residual.as_standard_layout());
    dataset!("background", &ex.background.as_standard_layout());
    dataset!("energies_ev", ex.energies_ev.as_slice());
    dataset!("smoothness", ex.smoothness.as_slice());
    dataset!("decay", ex.decay.as_slice());
    dataset!("excluded", &ex.excluded.as_standard_layout());
    file.close()
        .map_err(h5_write(path, "cannot close the file".into()))?;
    target.commit()
}

const F32: TypeDescriptor = TypeDescriptor::Float(FloatSize::U4);
const F64: TypeDescriptor = TypeDescriptor::Float(FloatSize::U8);
const U8: TypeDescriptor = TypeDescriptor::Unsigned(IntSize::U1);

/// An open file being read, with its path for messages.
struct Reader<'a> {
    file: hdf5::File,
    path: &'a Path,
}

impl Reader<'_> {
    fn fail(&self, m: String) -> Error {
        Error::format(show(self.path), m)
    }

    fn attr(&self, name: &str) -> Result<hdf5::Attribute> {
        let names = self
            .file
            .attr_names()
            .map_err(h5(self.path, "cannot list attributes".into()))?;
        if !names.iter().any(|a| a == name) {
            return Err(self.fail(format!("missing attribute '{name}'")));
        }
        self.file
            .attr(name)
            .map_err(h5(self.path, format!("cannot open attribute '{name}'")))
    }

    fn descriptor(&self, c: &hdf5::Container, what: &str) -> Result<TypeDescriptor> {
        c.dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(h5(self.path, format!("cannot read the type of {what}")))
    }

    fn string(&self, name: &str) -> Result<String> {
        let a = self.attr(name)?;
        let err = || h5(self.path, format!("cannot read attribute '{name}'"));
        if !a.shape().is_empty() {
            return Err(self.fail(format!("attribute '{name}' is not a single string")));
        }
        if a.storage_size() as usize > MAX_STRING_BYTES {
            return Err(self.fail(format!("attribute '{name}' is longer than 1 MiB")));
        }
        let s = match self.descriptor(&a, &format!("attribute '{name}'"))? {
            TypeDescriptor::VarLenUnicode => {
                a.read_scalar::<VarLenUnicode>().map_err(err())?.to_string()
            }
            TypeDescriptor::VarLenAscii => {
                a.read_scalar::<VarLenAscii>().map_err(err())?.to_string()
            }
            t => {
                return Err(self.fail(format!(
                    "attribute '{name}' has type {t}, expected a string"
                )));
            }
        };
        if s.len() > MAX_STRING_BYTES {
            return Err(self.fail(format!("attribute '{name}' is longer than 1 MiB")));
        }
        Ok(s)
    }

    /// A scalar attribute of exactly type `expected`.
    fn scalar<T: hdf5::H5Type>(&self, name: &str, expected: TypeDescriptor) -> Result<T> {
        let a = self.attr(name)?;
        let t = self.descriptor(&a, &format!("attribute '{name}'"))?;
        if t != expected || !a.shape().is_empty() {
            return Err(self.fail(format!(
                "attribute '{name}' is {t} of shape {:?}, expected one {expected}",
                a.shape()
            )));
        }
        a.read_scalar::<T>()
            .map_err(h5(self.path, format!("cannot read attribute '{name}'")))
    }

    /// A 1-D f64 attribute of length `len`.
    fn f64_list(&self, name: &str, len: usize) -> Result<Vec<f64>> {
        let a = self.attr(name)?;
        let t = self.descriptor(&a, &format!("attribute '{name}'"))?;
        if t != F64 || a.shape() != [len] {
            return Err(self.fail(format!(
                "attribute '{name}' is {t} of shape {:?}, expected f64 [{len}]",
                a.shape()
            )));
        }
        a.read_raw::<f64>()
            .map_err(h5(self.path, format!("cannot read attribute '{name}'")))
    }

    /// Opens dataset `name` and checks its element type and rank; returns it and its shape.
    fn dataset(
        &self,
        name: &str,
        expected: TypeDescriptor,
        ndim: usize,
    ) -> Result<(hdf5::Dataset, Vec<usize>)> {
        if !self.file.link_exists(name) {
            return Err(self.fail(format!("missing dataset '{name}'")));
        }
        let ds = self
            .file
            .dataset(name)
            .map_err(h5(self.path, format!("cannot open dataset '{name}'")))?;
        let t = self.descriptor(&ds, &format!("dataset '{name}'"))?;
        let shape = ds.shape();
        if t != expected || shape.len() != ndim {
            return Err(self.fail(format!(
                "dataset '{name}' is {t} of shape {shape:?}, expected {expected} with {ndim} dimensions"
            )));
        }
        Ok((ds, shape))
    }

    /// Reads an opened dataset whose shape has been checked.
    fn read<T: hdf5::H5Type, D: Dimension>(
        &self,
        ds: &hdf5::Dataset,
        name: &str,
    ) -> Result<ndarray::Array<T, D>> {
        ds.read::<T, D>()
            .map_err(h5(self.path, format!("cannot read dataset '{name}'")))
    }
}

/// Reads a file written by [`write_extraction`], checking the format, the types, and that
/// every shape agrees with the kernels' `[T, E, S, S]`, the `N` positions and the residual's
/// `[E, H, W]`, and that the whole is at most [`MAX_READ_BYTES`] before reading any data.
///
/// libhdf5 runs in this process: meant for result files qpik wrote, not for untrusted files.
pub fn read_extraction(path: &Path) -> Result<Extraction> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(show(path), e))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{} is not a regular file: give the path of a qpik extraction file (.h5)",
            show(path)
        )));
    }
    super::checked_read::check_regular_file(path, u64::MAX, "qpik extraction file (.h5)")?;
    let file = hdf5::File::open(path).map_err(h5(path, "cannot open as HDF5".into()))?;
    let r = Reader { file, path };
    let format = r.string("format")?;
    if format != EXTRACTION_FORMAT {
        return Err(r.fail(format!(
            "format is '{format}', not '{EXTRACTION_FORMAT}': not a qpik extraction file"
        )));
    }
    let version: u32 = r.scalar("version", TypeDescriptor::Unsigned(IntSize::U4))?;
    if version != EXTRACTION_VERSION {
        return Err(r.fail(format!(
            "version {version} is not supported (this qpik reads version {EXTRACTION_VERSION})"
        )));
    }

    let (kernels_ds, ks) = r.dataset("kernels", F32, 4)?;
    let (t, e, s) = (ks[0], ks[1], ks[2]);
    if ks[3] != s || t == 0 || e == 0 || s == 0 || t > 256 {
        return Err(r.fail(format!(
            "kernels have shape {ks:?}: expected [T, E, S, S] with 1 <= T <= 256, E >= 1, S >= 1"
        )));
    }
    let (std_ds, ss) = r.dataset("kernel_std", F32, 4)?;
    let (pos_ds, ps) = r.dataset("positions", F32, 2)?;
    let n = ps[0];
    let (types_ds, ts) = r.dataset("types", U8, 1)?;
    let (amp_ds, amps) = r.dataset("amplitudes", F32, 2)?;
    let (res_ds, rs) = r.dataset("residual", F32, 3)?;
    let (h, w) = (rs[1], rs[2]);
    let (bg_ds, bs) = r.dataset("background", F32, 3)?;
    let (en_ds, es) = r.dataset("energies_ev", F64, 1)?;
    let (sm_ds, sms) = r.dataset("smoothness", F64, 1)?;
    for (name, got, want) in [
        ("kernel_std", &ss, &ks),
        ("positions", &ps, &vec![n, 2]),
        ("types", &ts, &vec![n]),
        ("amplitudes", &amps, &vec![n, e]),
        ("residual", &rs, &vec![e, h, w]),
        ("background", &bs, &rs),
        ("energies_ev", &es, &vec![e]),
        ("smoothness", &sms, &vec![e]),
    ] {
        if got != want {
            return Err(r.fail(format!(
                "dataset '{name}' has shape {got:?}, expected {want:?} (from kernels {ks:?}, {n} positions, residual {rs:?})"
            )));
        }
    }
    let elements = |d: &[usize]| d.iter().try_fold(1u64, |a, &x| a.checked_mul(x as u64));
    let bytes = [
        (elements(&ks), 8u64),
        (elements(&[n, 2 + e]), 4),
        (elements(&[n]), 1),
        (elements(&rs), 8),
        (elements(&[e]), 16),
    ]
    .iter()
    .try_fold(0u64, |acc, &(k, size)| {
        k?.checked_mul(size)?.checked_add(acc)
    });
    if bytes.is_none_or(|b| b > MAX_READ_BYTES) {
        return Err(r.fail(format!(
            "the datasets need more than {} GiB (kernels {ks:?}, {n} defects, residual {rs:?}); refused",
            MAX_READ_BYTES >> 30
        )));
    }

    let kernels: Array4<f32> = r.read(&kernels_ds, "kernels")?;
    let kernel_std: Array4<f32> = r.read(&std_ds, "kernel_std")?;
    let positions: Array2<f32> = r.read(&pos_ds, "positions")?;
    let types: Array1<u8> = r.read(&types_ds, "types")?;
    if let Some(&k) = types.iter().find(|&&k| usize::from(k) >= t) {
        return Err(r.fail(format!(
            "a defect has type {k}, but the file has {t} kernel types"
        )));
    }
    let energies: Array1<f64> = r.read(&en_ds, "energies_ev")?;
    let smoothness: Array1<f64> = r.read(&sm_ds, "smoothness")?;
    // Files written before the decay penalty existed have no "decay": NaN (unknown).
    let decay = if r.file.link_exists("decay") {
        let (ds, shape) = r.dataset("decay", F64, 1)?;
        if shape != [e] {
            return Err(r.fail(format!(
                "dataset 'decay' has shape {shape:?}, expected [{e}]"
            )));
        }
        r.read::<f64, ndarray::Ix1>(&ds, "decay")?.to_vec()
    } else {
        vec![f64::NAN; e]
    };
    let residual = r.read::<f32, ndarray::Ix3>(&res_ds, "residual")?;
    let (_, h, w) = residual.dim();
    // Files written before the screen existed have no "excluded": nothing was left out.
    let excluded = if r.file.link_exists("excluded") {
        let (ds, shape) = r.dataset("excluded", U8, 2)?;
        if shape != [h, w] {
            return Err(r.fail(format!(
                "dataset 'excluded' has shape {shape:?}, expected [{h}, {w}]"
            )));
        }
        r.read::<u8, ndarray::Ix2>(&ds, "excluded")?
    } else {
        Array2::zeros((h, w))
    };
    // Files from before these attributes existed: empty.
    let optional = |name: &str| -> Result<String> {
        if r.file.attr(name).is_ok() {
            r.string(name)
        } else {
            Ok(String::new())
        }
    };
    let notes = optional("notes")?;
    // Files written before the control was stored have none: NaN.
    let control_heldout_r2 = if r.file.attr("control_heldout_r2").is_ok() {
        r.scalar("control_heldout_r2", F64)?
    } else {
        f64::NAN
    };
    let provenance = Provenance {
        qpik_version: optional("qpik_version")?,
        input_name: optional("input_name")?,
        input_sha256: optional("input_sha256")?,
    };
    Ok(Extraction {
        kernels,
        kernel_std,
        positions: positions.rows().into_iter().map(|p| [p[0], p[1]]).collect(),
        types: types.to_vec(),
        amplitudes: r.read(&amp_ds, "amplitudes")?,
        residual,
        background: r.read::<f32, ndarray::Ix3>(&bg_ds, "background")?,
        heldout_r2: r.f64_list("heldout_r2_per_energy", e)?,
        fit_r2: r.f64_list("fit_r2", e)?,
        mirror_axis_deg: if r.file.attr("mirror_axis_deg").is_ok() {
            r.f64_list("mirror_axis_deg", t)?
        } else {
            vec![f64::NAN; t]
        },
        symmetry: r.scalar("symmetry", TypeDescriptor::Unsigned(IntSize::U4))?,
        smoothness: smoothness.to_vec(),
        decay,
        pixel_size_m: r.scalar("pixel_size_m", F64)?,
        value_unit: r.string("value_unit")?,
        energies_ev: energies.to_vec(),
        method: r.string("method")?,
        settings_toml: r.string("settings")?,
        excluded,
        notes,
        control_heldout_r2,
        provenance,
    })
}

#[cfg(test)]
#[path = "extraction_file_tests.rs"]
pub(crate) mod tests;
