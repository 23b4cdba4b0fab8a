//! Model files: safetensors with self-describing metadata.
//!
//! Tensors are named by network part (`vae.encoder.*`, `vae.decoder.*`, `align.encoder.*`,
//! `onestep.encoder.*`, `onestep.decoder.*`), f32 little-endian. Metadata keys:
//! `qpik.format = "qpik-model"`, `qpik.version = "1"`, `qpik.kind` (`vae`, `two-step`,
//! `one-step`), `qpik.config` (TOML [`NetConfig`]), `qpik.training` (TOML record: data, seed,
//! settings, epochs done, timings, metrics).

use super::NetConfig;
use crate::data::checked_read::{check_regular_file, read_head, read_regular_file};
use crate::data::output_file::OutputFile;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

pub const MODEL_FORMAT: &str = "qpik-model";

/// Which networks a file holds and how extraction uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Step 1 only: the kernel VAE.
    Vae,
    /// VAE decoder + aligned observation encoder (the paper's method).
    TwoStep,
    /// The one-step baseline.
    OneStep,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Vae => "vae",
            ModelKind::TwoStep => "two-step",
            ModelKind::OneStep => "one-step",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vae" => Some(ModelKind::Vae),
            "two-step" => Some(ModelKind::TwoStep),
            "one-step" => Some(ModelKind::OneStep),
            _ => None,
        }
    }
}

/// A loaded model file.
pub struct ModelFile {
    pub kind: ModelKind,
    pub config: NetConfig,
    /// TOML text of the training record.
    pub training: String,
    pub tensors: HashMap<String, Tensor>,
}

fn candle(path: &str, e: candle_core::Error) -> Error {
    Error::format(path, format!("model tensors: {e}"))
}

impl ModelFile {
    /// Parse a model from bytes (`what` names the source in errors).
    pub fn from_bytes(bytes: &[u8], what: &str, device: &Device) -> Result<Self> {
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| Error::format(what, format!("not a safetensors model file ({e})")))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| Error::format(what, e.to_string()))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let get = |k: &str| {
            meta.get(k).cloned().ok_or_else(|| {
                Error::format(
                    what,
                    format!("missing metadata '{k}': not a qpik model file"),
                )
            })
        };
        if get("qpik.format")? != MODEL_FORMAT {
            return Err(Error::format(
                what,
                "metadata 'qpik.format' is not 'qpik-model'",
            ));
        }
        if get("qpik.version")? != "1" {
            return Err(Error::format(
                what,
                "unsupported qpik model version (this library reads version 1)",
            ));
        }
        let kind_s = get("qpik.kind")?;
        let kind = ModelKind::parse(&kind_s)
            .ok_or_else(|| Error::format(what, format!("unknown model kind '{kind_s}'")))?;
        let config: NetConfig = toml::from_str(&get("qpik.config")?)
            .map_err(|e| Error::format(what, format!("bad 'qpik.config': {e}")))?;
        config
            .validate()
            .map_err(|e| Error::format(what, e.to_string()))?;
        let training = meta.get("qpik.training").cloned().unwrap_or_default();
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(Error::format(
                    what,
                    format!("tensor '{name}' is {:?}, expected F32", view.dtype()),
                ));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if let Some(i) = data.iter().position(|x| !x.is_finite()) {
                return Err(Error::format(
                    what,
                    format!(
                        "tensor '{name}' holds a non-finite weight ({} at element {i}): the model is unusable (its training diverged); retrain it with a lower learning rate",
                        data[i]
                    ),
                ));
            }
            let t = Tensor::from_vec(data, view.shape(), device).map_err(|e| candle(what, e))?;
            tensors.insert(name, t);
        }
        Ok(ModelFile {
            kind,
            config,
            training,
            tensors,
        })
    }

    /// Read a model file: a regular file of at most [`MAX_MODEL_BYTES`], whose safetensors
    /// header is read and checked to be a qpik model's before the rest is.
    pub fn read(path: &Path, device: &Device) -> Result<Self> {
        let what = path.display().to_string();
        check_header(path)?;
        let bytes = read_regular_file(path, MAX_MODEL_BYTES, "qpik model file (.safetensors)")?;
        Self::from_bytes(&bytes, &what, device)
    }

    /// A VarBuilder over the file's tensors (missing names fail with the name).
    pub fn var_builder(&self, device: &Device) -> candle_nn::VarBuilder<'static> {
        candle_nn::VarBuilder::from_tensors(self.tensors.clone(), DType::F32, device)
    }
}

/// Largest model file read: 256 MiB (the shipped models are under 1 MB).
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// Checks the safetensors header of `path` (its length word, then the JSON header alone) for
/// qpik's `qpik.format` metadata, so a large foreign file is refused after reading at most
/// the header.
fn check_header(path: &Path) -> Result<()> {
    let what = path.display().to_string();
    let kind = "qpik model file (.safetensors)";
    let len = check_regular_file(path, MAX_MODEL_BYTES, kind)?;
    let not_model =
        |why: &str| Error::format(&what, format!("not a safetensors model file ({why})"));
    let head = read_head(path, 8, kind)?;
    let Ok(word) = <[u8; 8]>::try_from(head.as_slice()) else {
        return Err(not_model("shorter than its 8-byte header length"));
    };
    let n = u64::from_le_bytes(word);
    if n > (1 << 20) || n.saturating_add(8) > len {
        return Err(not_model(&format!(
            "header length {n} is beyond 1 MiB or the file's {len} bytes"
        )));
    }
    let head = read_head(path, 8 + n as usize, kind)?;
    let json: serde_json::Value = serde_json::from_slice(&head[8..])
        .map_err(|e| not_model(&format!("header is not JSON: {e}")))?;
    if json
        .get("__metadata__")
        .and_then(|m| m.get("qpik.format"))
        .and_then(|f| f.as_str())
        != Some(MODEL_FORMAT)
    {
        return Err(Error::format(
            &what,
            "missing metadata 'qpik.format' = 'qpik-model': not a qpik model file",
        ));
    }
    Ok(())
}

/// Serialise the variables of `varmap` whose names start with one of `prefixes`.
pub fn to_bytes(
    varmap: &VarMap,
    prefixes: &[&str],
    kind: ModelKind,
    config: &NetConfig,
    training: &str,
) -> Result<Vec<u8>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::invalid("model variables are poisoned"))?;
    let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, var) in data.iter() {
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let t = var.as_tensor();
        let v = t
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| Error::invalid(format!("tensor {name}: {e}")))?;
        // Never write a model that cannot work (a diverged training run).
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::invalid(format!(
                "model tensor '{name}' holds non-finite weights (training diverged); nothing was written: lower the learning rate"
            )));
        }
        named.push((
            name.clone(),
            t.dims().to_vec(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let views: Vec<(String, safetensors::tensor::TensorView)> = named
        .iter()
        .map(|(n, shape, bytes)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("shape matches data"),
            )
        })
        .collect();
    let meta: HashMap<String, String> = [
        ("qpik.format".to_string(), MODEL_FORMAT.to_string()),
        ("qpik.version".to_string(), "1".to_string()),
        ("qpik.kind".to_string(), kind.as_str().to_string()),
        (
            "qpik.config".to_string(),
            toml::to_string(config).expect("config serialises"),
        ),
        ("qpik.training".to_string(), training.to_string()),
    ]
    .into_iter()
    .collect();
    safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::invalid(format!("serialising model: {e}")))
}

/// Write atomically: a uniquely named temporary file in the target's folder, renamed over
/// the target (removed on any error); a target that is a directory or a device is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = OutputFile::create(path)?;
    out.file()
        .write_all(bytes)
        .map_err(|e| Error::io(path.display().to_string(), e))?;
    out.commit()
}

/// Copy tensors from a file into existing variables (resume, or a VAE under an aligner).
pub fn load_into(varmap: &VarMap, file: &ModelFile, prefix: &str) -> Result<usize> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::invalid("model variables are poisoned"))?;
    let mut n = 0;
    for (name, var) in data.iter() {
        if !name.starts_with(prefix) {
            continue;
        }
        let t = file
            .tensors
            .get(name)
            .ok_or_else(|| Error::invalid(format!("model file lacks tensor '{name}'")))?;
        var.set(t)
            .map_err(|e| Error::invalid(format!("tensor '{name}': {e}")))?;
        n += 1;
    }
    Ok(n)
}
