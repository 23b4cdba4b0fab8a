//! Options: key/value strings, checked when set, so new settings never change the ABI.
//!
//! `keys` is the table of every key, `parse` turns text into values, `build` makes the
//! library's configs from them; this file holds the type and the C entry points.

mod build;
mod keys;
mod parse;

use super::{
    CError, CResult, c_str, free_handle, guard, handle, put_handle, qpik_status, write_string,
};
use keys::{ALIASES, KEYS, find_alias, find_key};
use parse::{Value, bad_value, parse};
use std::collections::BTreeMap;
use std::ffi::c_char;

/// Key/value settings (the C type `qpik_options`). Not synchronised: set options from one
/// thread; a `const qpik_options*` may then be read by any number of calls at once.
#[derive(Clone, Debug, Default)]
pub struct qpik_options {
    values: BTreeMap<&'static str, Value>,
    /// Raw text as set, for `qpik_options_get`.
    raw: BTreeMap<&'static str, String>,
}

impl qpik_options {
    /// Set one option, checking key and value (nothing changes on error).
    pub(crate) fn set(&mut self, key: &str, value: &str) -> CResult<()> {
        if let Some(a) = find_alias(key) {
            // A deprecated spelling in another unit: checked in that unit, kept in metres.
            let m = parse::pixel_size(a.name, value, a.unit)?;
            self.values.insert(a.key, Value::Float(m));
            self.raw.insert(a.key, format!("{m:e}"));
            return Ok(());
        }
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
        if let Some(a) = find_alias(key) {
            return Ok(match self.float(a.key) {
                // Twelve significant digits: 1.5 comes back as 1.5, not 1.4999999999999998.
                Some(m) => {
                    let v = m / a.unit.metres();
                    let rounded: f64 = format!("{v:.11e}").parse().unwrap_or(v);
                    format!("{rounded}")
                }
                None => find_key(a.key)?.default.to_string(),
            });
        }
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
    /// The memory budget (`memory_budget_bytes`, default 4 GiB), checked to be at least 1 MiB.
    pub(crate) fn budget(&self) -> CResult<crate::budget::MemoryBudget> {
        let bytes = self
            .uint("memory_budget_bytes")
            .unwrap_or(crate::budget::DEFAULT_MEMORY_BUDGET_BYTES);
        crate::budget::MemoryBudget::new(bytes).map_err(|e| {
            CError::new(
                qpik_status::QPIK_ERR_OPTION_VALUE,
                format!("option 'memory_budget_bytes': {e}"),
            )
        })
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
    /// `pixel_size_m` (or its deprecated alias `pixel_size_a`), in metres, checked when set.
    pub(crate) fn pixel_size_m(&self) -> Option<f64> {
        self.float("pixel_size_m")
    }
    pub(crate) fn rotation_deg(&self) -> Option<f64> {
        self.float("rotation_deg")
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
        let mut text: String = KEYS
            .iter()
            .map(|k| format!("{}\t{}\t{}\n", k.name, k.default, k.help))
            .collect();
        for a in ALIASES {
            text += &format!(
                "{}\t(deprecated)\tdeprecated: {} in Angstrom; use {} (metres)\n",
                a.name, a.key, a.key
            );
        }
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
    let _ = o.map_settings();
    for k in KEYS {
        o.get(k.name).map_err(|e| e.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthesis::Artefacts;

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

    #[test]
    fn map_keys_build_map_settings() {
        use crate::extract::map::{Background, MapSettings, Smoothness, SymmetryChoice};
        let mut o = qpik_options::default();
        assert_eq!(o.map_settings().ok(), Some(MapSettings::default()));
        for (k, v) in [
            ("map.kernel_size", "21"),
            ("map.symmetry", "6"),
            ("map.background", "plane-and-lines"),
            ("map.smoothness", "0.5"),
            ("map.bootstrap", "0"),
            ("map.block_px", "32"),
            ("map.refine_positions_px", "0"),
            ("map.outer_iterations", "7"),
            ("map.cg_iterations", "99"),
            ("seed", "5"),
            ("map.memory_budget_bytes", "2000000"),
        ] {
            o.set(k, v).ok().unwrap();
        }
        let want = MapSettings {
            kernel_size: Some(21),
            symmetry: SymmetryChoice::Rotation(6),
            background: Background::PlaneAndLines,
            smoothness: Smoothness::Fixed(0.5),
            bootstrap: 0,
            block_px: Some(32),
            refine_positions_px: 0.0,
            outer_iterations: 7,
            cg_iterations: 99,
            seed: 5, // from `seed` while map.seed is unset
            memory_budget_bytes: 2_000_000,
            ..MapSettings::default()
        };
        assert_eq!(o.map_settings().ok(), Some(want.clone()));
        o.set("map.seed", "9").ok().unwrap();
        o.set("map.kernel_size", "AUTO").ok().unwrap();
        o.set("map.smoothness", "auto").ok().unwrap();
        o.set("map.symmetry", "Auto").ok().unwrap();
        let got = o.map_settings().ok().unwrap();
        assert_eq!(
            (got.seed, got.kernel_size, got.smoothness, got.symmetry),
            (9, None, Smoothness::Auto, SymmetryChoice::Auto)
        );
        // Parse errors when set, range errors when built; both OPTION_VALUE.
        for (k, v) in [
            ("map.symmetry", "5"),
            ("map.kernel_size", "-3"),
            ("map.smoothness", "inf"),
            ("map.energies_ev", "1,x"),
            ("map.value_unit", "a\u{7}b"),
        ] {
            let e = o.set(k, v).err().unwrap();
            assert_eq!(e.status, qpik_status::QPIK_ERR_OPTION_VALUE, "{k}={v}");
        }
        for (k, v) in [
            ("map.kernel_size", "1"),
            ("map.smoothness", "-1"),
            ("map.bootstrap", "257"),
            ("map.refine_positions_px", "17"),
            ("map.cg_iterations", "0"),
            ("map.memory_budget_bytes", "1000"),
        ] {
            let mut p = o.clone();
            p.set(k, v).ok().unwrap();
            let e = p.map_settings().err().unwrap();
            assert_eq!(e.status, qpik_status::QPIK_ERR_OPTION_VALUE, "{k}={v}");
            assert!(e.message.starts_with("map.*: "), "{}", e.message);
        }
    }

    #[test]
    fn map_metadata_comes_from_options() {
        let data = ndarray::Array3::<f32>::zeros((2, 4, 5));
        let mut o = qpik_options::default();
        let m = o.map_data(data.clone(), "t").ok().unwrap();
        assert!(m.pixel_size_m.is_nan() && m.energies_ev.iter().all(|e| e.is_nan()));
        assert_eq!(m.value_unit, "");
        o.set("map.pixel_size_a", "2.5").ok().unwrap();
        o.set("map.value_unit", "nS").ok().unwrap();
        o.set("map.energies_ev", "-0.01, 0.02").ok().unwrap();
        let m = o.map_data(data.clone(), "t").ok().unwrap();
        assert!((m.pixel_size_m - 2.5e-10).abs() < 1e-22);
        assert_eq!(
            (m.value_unit.as_str(), m.energies_ev),
            ("nS", vec![-0.01, 0.02])
        );
        o.set("map.energies_ev", "0.1").ok().unwrap();
        let e = o.map_data(data.clone(), "t").err().unwrap();
        assert!(e.message.contains("2 layer"), "{}", e.message);
        o.set("map.energies_ev", "0.1,0.2").ok().unwrap();
        let e = o.set("map.pixel_size_a", "0").err().unwrap();
        assert_eq!(e.status, qpik_status::QPIK_ERR_OPTION_VALUE);
        assert!((o.map_data(data, "t").ok().unwrap().pixel_size_m - 2.5e-10).abs() < 1e-22);
    }

    #[test]
    fn pixel_sizes_are_metres_and_the_angstrom_spellings_convert() {
        let mut o = qpik_options::default();
        o.set("map.pixel_size_m", "8.93e-11").ok().unwrap();
        assert_eq!(o.float("map.pixel_size_m"), Some(8.93e-11));
        assert_eq!(o.get("map.pixel_size_m").ok().unwrap(), "8.93e-11");
        assert_eq!(o.get("map.pixel_size_a").ok().unwrap(), "0.893");
        // The deprecated Angstrom spelling sets the same value in metres.
        o.set("map.pixel_size_a", "2.5").ok().unwrap();
        assert!((o.float("map.pixel_size_m").unwrap() - 2.5e-10).abs() < 1e-22);
        o.set("pixel_size_a", "1.5").ok().unwrap();
        assert!((o.pixel_size_m().unwrap() - 1.5e-10).abs() < 1e-22);
        assert_eq!(
            o.get("pixel_size_a").ok().unwrap().parse::<f64>().ok(),
            Some(1.5)
        );
        // Implausible values, with the hint at the other unit; nothing changes.
        let e = o.set("map.pixel_size_m", "0.893").err().unwrap();
        assert_eq!(e.status, qpik_status::QPIK_ERR_OPTION_VALUE);
        assert!(
            e.message.contains("map.pixel_size_m")
                && e.message
                    .contains("did you mean 0.893 Angstrom (8.93e-11 m)?"),
            "{}",
            e.message
        );
        let e = o.set("map.pixel_size_a", "8.9e-11").err().unwrap();
        assert!(
            e.message.contains("did you mean 8.9e-11 m"),
            "{}",
            e.message
        );
        for v in ["nan", "inf", "-1e-10", "0", "1e-5", "x"] {
            for k in ["pixel_size_m", "map.pixel_size_m", "pixel_size_a"] {
                let e = o.set(k, v).err().unwrap();
                assert_eq!(e.status, qpik_status::QPIK_ERR_OPTION_VALUE, "{k}={v}");
            }
        }
        assert!((o.float("map.pixel_size_m").unwrap() - 2.5e-10).abs() < 1e-22);
        // A near miss of the new name still gets "did you mean".
        let e = o.set("map.pixel_size", "1e-10").err().unwrap();
        assert!(e.message.contains("did you mean"), "{}", e.message);
        // The even kernel size is refused when the settings are built.
        o.set("map.kernel_size", "48").ok().unwrap();
        let e = o.map_settings().err().unwrap();
        assert!(e.message.contains("47 or 49"), "{}", e.message);
    }
}
