//! Options: key/value strings, checked when set, so new settings never change the ABI.

use super::{
    CError, CResult, c_str, free_handle, guard, handle, put_handle, qpik_status, write_string,
};
use crate::model::NetConfig;
use crate::model::train::TrainConfig;
use crate::synthesis::dataset::DatasetConfig;
use crate::synthesis::{Artefacts, DefectConfig, Region};
use std::collections::BTreeMap;
use std::ffi::c_char;

/// How a value is parsed.
#[derive(Clone, Copy)]
enum Kind {
    UInt,
    Float,
    Bool,
    Choice(&'static [&'static str]),
    /// `N` or `ROWSxCOLS`.
    Size,
    /// `full` or `central:FRACTION`.
    Region,
    /// Comma-separated channel counts of the three stages.
    Channels,
    Path,
}

struct Key {
    name: &'static str,
    kind: Kind,
    default: &'static str,
    help: &'static str,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        help,
    }
}

/// Every option qpik knows. Calls ignore keys that do not concern them.
const KEYS: &[Key] = &[
    key(
        "device",
        Kind::Choice(&["cpu", "cuda"]),
        "cpu",
        "models and training: compute device; cuda falls back to the CPU (with a note) when unavailable",
    ),
    key(
        "method",
        Kind::Choice(&["two-step", "one-step"]),
        "two-step",
        "qpik_model_new_default: which embedded model",
    ),
    key(
        "seed",
        Kind::UInt,
        "0",
        "synthesis, datasets, training: random seed (results are reproducible)",
    ),
    key(
        "size",
        Kind::Size,
        "64",
        "kernels: image size N or ROWSxCOLS (pixels); datasets: N (square)",
    ),
    key(
        "pixel_size_a",
        Kind::Float,
        "(the kernel's own)",
        "kernels, datasets: pixel size in Angstrom",
    ),
    key(
        "rotation_deg",
        Kind::Float,
        "0",
        "kernels: scan rotation in degrees",
    ),
    key(
        "defects.count_min",
        Kind::UInt,
        "1",
        "synthesis: fewest defects per map",
    ),
    key(
        "defects.count_max",
        Kind::UInt,
        "20",
        "synthesis: most defects per map",
    ),
    key(
        "defects.density_per_nm2",
        Kind::Float,
        "(off)",
        "synthesis: Poisson defect density per nm^2 instead of a count range",
    ),
    key(
        "defects.region",
        Kind::Region,
        "full",
        "synthesis: where defects sit: full or central:FRACTION",
    ),
    key(
        "defects.amplitude_min",
        Kind::Float,
        "0.5",
        "synthesis: smallest amplitude magnitude",
    ),
    key(
        "defects.amplitude_max",
        Kind::Float,
        "1.5",
        "synthesis: largest amplitude magnitude",
    ),
    key(
        "defects.negative_fraction",
        Kind::Float,
        "0",
        "synthesis: probability of a negative amplitude",
    ),
    key(
        "defects.subpixel_steps",
        Kind::UInt,
        "4",
        "synthesis: subpixel position resolution (1/steps pixel)",
    ),
    key(
        "artefacts",
        Kind::Choice(&["none", "realistic"]),
        "none",
        "synthesis: artefact preset (set before the artefacts.* keys it should not override)",
    ),
    key(
        "artefacts.snr",
        Kind::Float,
        "(off)",
        "synthesis: white noise, std = signal std / snr",
    ),
    key(
        "artefacts.flicker",
        Kind::Float,
        "0",
        "synthesis: 1/f noise std relative to the signal std",
    ),
    key(
        "artefacts.line_offsets",
        Kind::Float,
        "0",
        "synthesis: per-line offset std relative to the signal std",
    ),
    key(
        "artefacts.tip_changes",
        Kind::Float,
        "0",
        "synthesis: mean tip changes per image",
    ),
    key(
        "artefacts.tip_change_size",
        Kind::Float,
        "0",
        "synthesis: tip-change step std relative to the signal std",
    ),
    key(
        "artefacts.spikes",
        Kind::Float,
        "0",
        "synthesis: mean spikes per image",
    ),
    key(
        "artefacts.spike_size",
        Kind::Float,
        "0",
        "synthesis: spike height relative to the signal std",
    ),
    key(
        "artefacts.plane",
        Kind::Float,
        "0",
        "synthesis: background plane rise across the diagonal, in signal stds",
    ),
    key(
        "artefacts.drift_px",
        Kind::Float,
        "0",
        "synthesis: thermal drift over the frame in pixels",
    ),
    key(
        "dataset.kernels",
        Kind::UInt,
        "100",
        "datasets: number of catalog kernels",
    ),
    key(
        "dataset.per_kernel",
        Kind::UInt,
        "500",
        "datasets: observations per kernel",
    ),
    key(
        "dataset.split_seed",
        Kind::UInt,
        "0",
        "datasets: seed of the kernel choice and the seen/unseen split",
    ),
    key(
        "dataset.unseen_fraction",
        Kind::Float,
        "0.2",
        "datasets: fraction of kernels held out as unseen",
    ),
    key(
        "train.vae",
        Kind::Path,
        "(none)",
        "training align: the trained VAE file",
    ),
    key("train.epochs", Kind::UInt, "10", "training: epochs"),
    key(
        "train.steps_per_epoch",
        Kind::UInt,
        "(one pass)",
        "training: optimiser steps per epoch",
    ),
    key("train.batch_size", Kind::UInt, "32", "training: batch size"),
    key(
        "train.learning_rate",
        Kind::Float,
        "0.001",
        "training: AdamW peak learning rate",
    ),
    key(
        "train.weight_decay",
        Kind::Float,
        "0.0001",
        "training: AdamW weight decay",
    ),
    key(
        "train.warmup_steps",
        Kind::UInt,
        "100",
        "training: linear warm-up steps before cosine decay",
    ),
    key(
        "train.grad_clip",
        Kind::Float,
        "1",
        "training: gradient norm clip",
    ),
    key(
        "train.max_per_kernel",
        Kind::UInt,
        "(all)",
        "training: use at most this many observations per kernel",
    ),
    key(
        "train.augment",
        Kind::Bool,
        "true",
        "training: noise augmentation with the synthesis artefacts",
    ),
    key(
        "train.channels",
        Kind::Channels,
        "8,16,32",
        "training: channels of the three network stages",
    ),
    key(
        "train.resume",
        Kind::Bool,
        "false",
        "training: continue from the checkpoint at the output path",
    ),
];

/// Parsed value of one option.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    UInt(u64),
    Float(f64),
    Bool(bool),
    Text(String),
    Size(usize, usize),
    Region(Region),
    Channels([usize; 3]),
}

/// Key/value settings (the C type `qpik_options`). Not synchronised: set options from one
/// thread; a `const qpik_options*` may then be read by any number of calls at once.
#[derive(Clone, Debug, Default)]
pub struct qpik_options {
    values: BTreeMap<&'static str, Value>,
    /// Raw text as set, for `qpik_options_get`.
    raw: BTreeMap<&'static str, String>,
}

fn bad_value(key: &str, value: &str, expected: &str) -> CError {
    CError::new(
        qpik_status::QPIK_ERR_OPTION_VALUE,
        format!("option '{key}' = '{value}': expected {expected}"),
    )
}

fn parse(k: &Key, v: &str) -> CResult<Value> {
    let t = v.trim();
    let float = |s: &str| -> CResult<f64> {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad_value(k.name, v, "a finite number"))
    };
    Ok(match k.kind {
        Kind::UInt => Value::UInt(
            t.parse::<u64>()
                .map_err(|_| bad_value(k.name, v, "a whole number >= 0"))?,
        ),
        Kind::Float => Value::Float(float(t)?),
        Kind::Bool => Value::Bool(match t.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(bad_value(k.name, v, "true or false")),
        }),
        Kind::Choice(list) => {
            let l = t.to_ascii_lowercase();
            if !list.contains(&l.as_str()) {
                return Err(bad_value(k.name, v, &format!("one of {}", list.join(", "))));
            }
            Value::Text(l)
        }
        Kind::Size => {
            let parts: Vec<&str> = t.split(['x', 'X']).collect();
            let n: Vec<usize> = parts
                .iter()
                .map(|p| p.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad_value(k.name, v, "N or ROWSxCOLS in pixels"))?;
            let (r, c) = match n.as_slice() {
                [n] => (*n, *n),
                [r, c] => (*r, *c),
                _ => return Err(bad_value(k.name, v, "N or ROWSxCOLS in pixels")),
            };
            if r == 0 || c == 0 || r > 8192 || c > 8192 {
                return Err(bad_value(k.name, v, "sizes in 1..=8192 pixels"));
            }
            Value::Size(r, c)
        }
        Kind::Region => {
            let l = t.to_ascii_lowercase();
            if l == "full" {
                Value::Region(Region::Full)
            } else if let Some(f) = l.strip_prefix("central:") {
                let fraction = float(f)?;
                if !(fraction > 0.0 && fraction <= 1.0) {
                    return Err(bad_value(
                        k.name,
                        v,
                        "central:FRACTION with 0 < FRACTION <= 1",
                    ));
                }
                Value::Region(Region::Central { fraction })
            } else {
                return Err(bad_value(k.name, v, "full or central:FRACTION"));
            }
        }
        Kind::Channels => {
            let n: Vec<usize> = t
                .split(',')
                .map(|p| p.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad_value(k.name, v, "three channel counts like 8,16,32"))?;
            match n.as_slice() {
                [a, b, c] if [*a, *b, *c].iter().all(|&x| (1..=1024).contains(&x)) => {
                    Value::Channels([*a, *b, *c])
                }
                _ => return Err(bad_value(k.name, v, "three channel counts in 1..=1024")),
            }
        }
        Kind::Path => {
            if t.is_empty() {
                return Err(bad_value(k.name, v, "a file path"));
            }
            Value::Text(v.to_string())
        }
    })
}

/// Edit distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn find_key(name: &str) -> CResult<&'static Key> {
    KEYS.iter().find(|k| k.name == name).ok_or_else(|| {
        let best = KEYS
            .iter()
            .map(|k| (distance(&name.to_ascii_lowercase(), k.name), k.name))
            .min();
        let hint = match best {
            Some((d, k)) if d <= 3 => format!("did you mean '{k}'?"),
            _ => "qpik_options_describe() lists every key".to_string(),
        };
        CError::new(
            qpik_status::QPIK_ERR_UNKNOWN_OPTION,
            format!("unknown option '{name}'; {hint}"),
        )
    })
}

impl qpik_options {
    /// Set one option, checking key and value (nothing changes on error).
    pub(crate) fn set(&mut self, key: &str, value: &str) -> CResult<()> {
        let k = find_key(key)?;
        let v = parse(k, value)?;
        if k.name == "artefacts" {
            // A preset replaces every artefacts.* value set before it.
            self.values.retain(|n, _| !n.starts_with("artefacts."));
            self.raw.retain(|n, _| !n.starts_with("artefacts."));
        }
        self.values.insert(k.name, v);
        self.raw.insert(k.name, value.to_string());
        Ok(())
    }

    /// The value as set, or the documented default.
    pub(crate) fn get(&self, key: &str) -> CResult<String> {
        let k = find_key(key)?;
        Ok(self
            .raw
            .get(k.name)
            .cloned()
            .unwrap_or_else(|| k.default.to_string()))
    }

    fn uint(&self, k: &str) -> Option<u64> {
        match self.values.get(k) {
            Some(Value::UInt(v)) => Some(*v),
            _ => None,
        }
    }
    fn usize(&self, k: &str) -> CResult<Option<usize>> {
        self.uint(k)
            .map(|v| {
                usize::try_from(v).map_err(|_| bad_value(k, &v.to_string(), "a smaller number"))
            })
            .transpose()
    }
    fn float(&self, k: &str) -> Option<f64> {
        match self.values.get(k) {
            Some(Value::Float(v)) => Some(*v),
            _ => None,
        }
    }
    fn flag(&self, k: &str) -> Option<bool> {
        match self.values.get(k) {
            Some(Value::Bool(v)) => Some(*v),
            _ => None,
        }
    }
    pub(crate) fn text(&self, k: &str) -> Option<&str> {
        match self.values.get(k) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }
    pub(crate) fn seed(&self) -> u64 {
        self.uint("seed").unwrap_or(0)
    }
    pub(crate) fn want_cuda(&self) -> bool {
        self.text("device") == Some("cuda")
    }
    /// `size` as (rows, cols), if set.
    pub(crate) fn size(&self) -> Option<(usize, usize)> {
        match self.values.get("size") {
            Some(Value::Size(r, c)) => Some((*r, *c)),
            _ => None,
        }
    }
    pub(crate) fn pixel_size_a(&self) -> Option<f64> {
        self.float("pixel_size_a")
    }
    pub(crate) fn rotation_deg(&self) -> Option<f64> {
        self.float("rotation_deg")
    }

    /// Defect settings (defaults overridden by `defects.*`), validated.
    pub(crate) fn defects(&self) -> CResult<DefectConfig> {
        let mut d = DefectConfig::default();
        if let Some(v) = self.usize("defects.count_min")? {
            d.count_min = v;
        }
        if let Some(v) = self.usize("defects.count_max")? {
            d.count_max = v;
        }
        if let Some(v) = self.float("defects.density_per_nm2") {
            d.density_per_nm2 = Some(v);
        }
        if let Some(Value::Region(r)) = self.values.get("defects.region") {
            d.region = *r;
        }
        if let Some(v) = self.float("defects.amplitude_min") {
            d.amplitude_min = v;
        }
        if let Some(v) = self.float("defects.amplitude_max") {
            d.amplitude_max = v;
        }
        if let Some(v) = self.float("defects.negative_fraction") {
            d.negative_fraction = v;
        }
        if let Some(v) = self.usize("defects.subpixel_steps")? {
            d.subpixel_steps = v;
        }
        d.validate().map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("defects.*: {e}"),
            )
        })?;
        Ok(d)
    }

    /// Artefact settings (preset then `artefacts.*`), validated.
    pub(crate) fn artefacts(&self) -> CResult<Artefacts> {
        let mut a = if self.text("artefacts") == Some("realistic") {
            Artefacts::realistic()
        } else {
            Artefacts::default()
        };
        let fields: [(&str, &mut f64); 8] = [
            ("artefacts.flicker", &mut a.flicker),
            ("artefacts.line_offsets", &mut a.line_offsets),
            ("artefacts.tip_changes", &mut a.tip_changes),
            ("artefacts.tip_change_size", &mut a.tip_change_size),
            ("artefacts.spikes", &mut a.spikes),
            ("artefacts.spike_size", &mut a.spike_size),
            ("artefacts.plane", &mut a.plane),
            ("artefacts.drift_px", &mut a.drift_px),
        ];
        for (k, slot) in fields {
            if let Some(v) = self.float(k) {
                *slot = v;
            }
        }
        if let Some(v) = self.float("artefacts.snr") {
            a.snr = Some(v);
        }
        a.validate().map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("artefacts.*: {e}"),
            )
        })?;
        Ok(a)
    }

    /// Dataset generator settings, validated.
    pub(crate) fn dataset(&self) -> CResult<DatasetConfig> {
        let mut c = DatasetConfig::default();
        if let Some(v) = self.usize("dataset.kernels")? {
            c.kernels = v;
        }
        if let Some(v) = self.usize("dataset.per_kernel")? {
            c.per_kernel = v;
        }
        if let Some((r, w)) = self.size() {
            if r != w {
                return Err(bad_value(
                    "size",
                    &format!("{r}x{w}"),
                    "a square size for datasets",
                ));
            }
            c.size = r;
        }
        c.seed = self.seed();
        if let Some(v) = self.uint("dataset.split_seed") {
            c.split_seed = v;
        }
        if let Some(v) = self.float("dataset.unseen_fraction") {
            c.unseen_fraction = v;
        }
        c.pixel_size_a = self.pixel_size_a();
        c.defects = self.defects()?;
        c.artefacts = self.artefacts()?;
        c.validate().map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("dataset.*: {e}"),
            )
        })?;
        Ok(c)
    }

    /// Training settings for data at `data` (network size follows the data at train time).
    pub(crate) fn train(&self, data: &std::path::Path) -> CResult<TrainConfig> {
        let mut c = TrainConfig {
            data: data.to_path_buf(),
            seed: self.seed(),
            ..TrainConfig::default()
        };
        if let Some(v) = self.usize("train.epochs")? {
            c.epochs = v;
        }
        c.steps_per_epoch = self.usize("train.steps_per_epoch")?;
        if let Some(v) = self.usize("train.batch_size")? {
            c.batch_size = v;
        }
        if let Some(v) = self.float("train.learning_rate") {
            c.learning_rate = v;
        }
        if let Some(v) = self.float("train.weight_decay") {
            c.weight_decay = v;
        }
        if let Some(v) = self.usize("train.warmup_steps")? {
            c.warmup_steps = v;
        }
        if let Some(v) = self.float("train.grad_clip") {
            c.grad_clip = v;
        }
        c.max_per_kernel = self.usize("train.max_per_kernel")?;
        if let Some(v) = self.flag("train.augment") {
            c.augment = v;
        }
        if let Some(Value::Channels(ch)) = self.values.get("train.channels") {
            c.net = NetConfig {
                channels: *ch,
                ..c.net
            };
        }
        if c.epochs == 0 || c.batch_size == 0 || c.batch_size > 4096 {
            return Err(bad_value(
                "train.epochs / train.batch_size",
                &format!("{} / {}", c.epochs, c.batch_size),
                "epochs >= 1 and batch size in 1..=4096",
            ));
        }
        // Values are finite (checked when set).
        if c.learning_rate <= 0.0 || c.grad_clip <= 0.0 || c.weight_decay < 0.0 {
            return Err(bad_value(
                "train.learning_rate / train.grad_clip / train.weight_decay",
                &format!("{} / {} / {}", c.learning_rate, c.grad_clip, c.weight_decay),
                "a positive learning rate and clip, and a weight decay >= 0",
            ));
        }
        c.net.validate().map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("train.channels: {e}"),
            )
        })?;
        Ok(c)
    }

    pub(crate) fn resume(&self) -> bool {
        self.flag("train.resume").unwrap_or(false)
    }
}

/// Settings from `opts`, or the defaults when `opts` is NULL.
pub(crate) unsafe fn options_or_default(opts: *const qpik_options) -> qpik_options {
    if opts.is_null() {
        qpik_options::default()
    } else {
        unsafe { (*opts).clone() }
    }
}

/// Create an empty options object (every key at its default) in `*out`.
/// Free it with `qpik_options_free`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_options_new(out: *mut *mut qpik_options) -> qpik_status {
    guard("qpik_options_new", || {
        if out.is_null() {
            return Err(CError::null("out"));
        }
        unsafe { put_handle(out, qpik_options::default()) };
        Ok(())
    })
}

/// Free an options object; NULL is a no-op. The object must not be in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_options_free(opts: *mut qpik_options) {
    unsafe { free_handle(opts) }
}

/// Set option `key` to `value` (both NUL-terminated UTF-8). The key and the value are
/// checked now: an unknown key gives `QPIK_ERR_UNKNOWN_OPTION`, a value that does not parse
/// or is out of range `QPIK_ERR_OPTION_VALUE`; on error nothing changes. Some limits that
/// involve several keys (count_min <= count_max) are checked by the call that uses them.
/// Not thread-safe for the same object: do not set while another call reads it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_options_set(
    opts: *mut qpik_options,
    key: *const c_char,
    value: *const c_char,
) -> qpik_status {
    guard("qpik_options_set", || {
        if opts.is_null() {
            return Err(CError::null("opts"));
        }
        let key = unsafe { c_str(key, "key") }?;
        let value = unsafe { c_str(value, "value") }?;
        unsafe { &mut *opts }.set(key, value)
    })
}

/// The value of `key` as set, or its default, into `buf` (`buf, buf_len, needed`
/// convention: `*needed` gets the size including the NUL; too small a buffer gives
/// `QPIK_ERR_BUFFER_TOO_SMALL`). Thread-safe for a `const` object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_options_get(
    opts: *const qpik_options,
    key: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_options_get", || {
        let o = unsafe { handle(opts, "opts") }?;
        let key = unsafe { c_str(key, "key") }?;
        let v = o.get(key)?;
        unsafe { write_string(&v, buf, buf_len, needed) }
    })
}

/// Every option as lines `key<TAB>default<TAB>description` (`buf, buf_len, needed`
/// convention). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qpik_options_describe(
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> qpik_status {
    guard("qpik_options_describe", || {
        let text: String = KEYS
            .iter()
            .map(|k| format!("{}\t{}\t{}\n", k.name, k.default, k.help))
            .collect();
        unsafe { write_string(&text, buf, buf_len, needed) }
    })
}

/// Parse `key=value` lines (for the fuzzer and tests): set each, then build every config.
#[doc(hidden)]
pub fn fuzz_options(text: &str) -> std::result::Result<(), String> {
    let mut o = qpik_options::default();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let _ = o.set(k, v);
        }
    }
    let _ = o.defects();
    let _ = o.artefacts();
    let _ = o.dataset();
    let _ = o.train(std::path::Path::new("x.h5"));
    for k in KEYS {
        o.get(k.name).map_err(|e| e.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_defaults_parse() {
        let mut seen = std::collections::HashSet::new();
        for k in KEYS {
            assert!(seen.insert(k.name), "duplicate key {}", k.name);
            if !k.default.starts_with('(') {
                parse(k, k.default)
                    .ok()
                    .unwrap_or_else(|| panic!("default of {}", k.name));
            }
        }
    }

    #[test]
    fn values_are_checked_when_set() {
        let mut o = qpik_options::default();
        assert!(o.set("defects.count_max", "7").is_ok());
        assert_eq!(o.defects().ok().unwrap().count_max, 7);
        let e = o.set("defects.count_mx", "7").err().unwrap();
        assert_eq!(e.status, qpik_status::QPIK_ERR_UNKNOWN_OPTION);
        assert!(e.message.contains("defects.count_max"), "{}", e.message);
        for (k, v) in [
            ("seed", "-1"),
            ("pixel_size_a", "nan"),
            ("size", "0x4"),
            ("device", "gpu"),
            ("defects.region", "central:2"),
        ] {
            let e = o.set(k, v).err().unwrap();
            assert_eq!(e.status, qpik_status::QPIK_ERR_OPTION_VALUE, "{k}={v}");
        }
        // Cross-key limits fail when used, with the option status.
        o.set("defects.count_min", "9").ok().unwrap();
        assert_eq!(
            o.defects().err().unwrap().status,
            qpik_status::QPIK_ERR_OPTION_VALUE
        );
        o.set("artefacts.snr", "5").ok().unwrap();
        o.set("artefacts", "realistic").ok().unwrap();
        assert_eq!(o.artefacts().ok().unwrap(), Artefacts::realistic());
        assert!(fuzz_options("size=3x\ntrain.channels=1,2,3\n").is_ok());
    }
}
