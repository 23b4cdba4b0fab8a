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
use keys::{KEYS, find_key};
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
}
