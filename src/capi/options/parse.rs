//! Option values: text to a typed [`Value`], with range checks of single values.

use super::keys::{Key, Kind, MAX_LIST, MAX_TEXT};
use crate::capi::{CError, CResult, qpik_status};
use crate::synthesis::Region;

/// Parsed value of one option.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    UInt(u64),
    Float(f64),
    Bool(bool),
    Text(String),
    Size(usize, usize),
    Region(Region),
    Channels([usize; 3]),
    /// `auto` of an [`Kind::AutoUInt`] or [`Kind::AutoFloat`] key.
    Auto,
    Floats(Vec<f64>),
}

pub(super) fn bad_value(key: &str, value: &str, expected: &str) -> CError {
    CError::new(
        qpik_status::QPIK_ERR_OPTION_VALUE,
        format!("option '{key}' = '{}': expected {expected}", cut(value)),
    )
}

/// Longest key or value quoted in a message; longer ones are cut and their length given.
const MAX_QUOTED: usize = 80;

/// `text` for a message: whole when short, else its first bytes and its length.
pub(super) fn cut(text: &str) -> String {
    if text.len() <= MAX_QUOTED {
        return text.to_string();
    }
    let mut end = MAX_QUOTED;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

pub(super) fn parse(k: &Key, v: &str) -> CResult<Value> {
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
            let max = crate::synthesis::MAX_IMAGE_SIZE;
            if r == 0 || c == 0 || r > max || c > max {
                return Err(bad_value(k.name, v, &format!("sizes in 1..={max} pixels")));
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
        Kind::AutoUInt | Kind::AutoFloat if t.eq_ignore_ascii_case("auto") => Value::Auto,
        Kind::AutoUInt => Value::UInt(
            t.parse::<u64>()
                .map_err(|_| bad_value(k.name, v, "auto or a whole number >= 0"))?,
        ),
        Kind::AutoFloat => Value::Float(
            t.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad_value(k.name, v, "auto or a finite number"))?,
        ),
        Kind::Text => {
            if t.len() > MAX_TEXT || t.chars().any(char::is_control) {
                return Err(bad_value(
                    k.name,
                    v,
                    &format!("at most {MAX_TEXT} bytes of text without control characters"),
                ));
            }
            Value::Text(t.to_string())
        }
        Kind::FloatList => {
            let n = t.split(',').count();
            if n > MAX_LIST {
                return Err(bad_value(
                    k.name,
                    &format!("({n} values)"),
                    &format!("at most {MAX_LIST} values"),
                ));
            }
            Value::Floats(
                t.split(',')
                    .map(|p| p.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| bad_value(k.name, v, "finite numbers separated by commas"))?,
            )
        }
        Kind::PixelSizeM => Value::Float(pixel_size(k.name, v, crate::units::LengthUnit::Metre)?),
        Kind::Path => {
            if t.is_empty() {
                return Err(bad_value(k.name, v, "a file path"));
            }
            Value::Text(v.to_string())
        }
    })
}

/// The pixel size in metres of the value `v` of option `name`, given in `unit`: a finite
/// number that [`crate::units::pixel_size_m`] accepts (its message, with the hint at the
/// other unit, comes back as `QPIK_ERR_OPTION_VALUE`).
pub(super) fn pixel_size(name: &str, v: &str, unit: crate::units::LengthUnit) -> CResult<f64> {
    let x = v
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| bad_value(name, v, "a finite number"))?;
    crate::units::pixel_size_m(x, unit).map_err(|e| {
        CError::new(
            qpik_status::QPIK_ERR_OPTION_VALUE,
            format!("option '{name}' = '{}': {}", cut(v), e.message()),
        )
    })
}
