//! Units at qpik's boundaries, and the one plausibility check of a pixel size.
//!
//! # Convention
//! Every interface (CLI, C options, Python, MATLAB, Igor, Gwyddion, result files) takes and
//! reports a pixel size **in metres**, with the unit in the name (`pixel_size_m`,
//! `--pixel-size-m`, `'PixelSize'` documented as metres). The older Angstrom spellings
//! (`pixel_size_a`, `map.pixel_size_a`, the CLI's Angstrom `--pixel-size`) are deprecated
//! aliases that convert with [`ANGSTROM_M`] and go through the same check.
//!
//! | quantity | unit | plausible range |
//! |---|---|---|
//! | pixel size | m | [`MIN_PIXEL_SIZE_M`] = 1e-12 m (0.01 Angstrom) to [`MAX_PIXEL_SIZE_M`] = 1e-6 m (1 micrometre) |
//!
//! # Why a range
//! A number in the wrong unit is off by 1e10 (Angstrom given as metres) and would pass any
//! check of sign alone: the kernel would then be reported as 1e10 times too wide. No STM
//! pixel is smaller than a hundredth of an Angstrom or larger than a micrometre, so values
//! outside are refused, with a hint at the unit that would make them plausible.

use crate::{Error, Result};

/// Metres per Angstrom.
pub const ANGSTROM_M: f64 = 1e-10;
/// Smallest plausible STM pixel: 1e-12 m (0.01 Angstrom).
pub const MIN_PIXEL_SIZE_M: f64 = 1e-12;
/// Largest plausible STM pixel: 1e-6 m (1 micrometre).
pub const MAX_PIXEL_SIZE_M: f64 = 1e-6;

/// The unit a length was given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthUnit {
    /// Metres: the convention.
    Metre,
    /// Angstrom: the deprecated spellings (`pixel_size_a`).
    Angstrom,
}

impl LengthUnit {
    /// Metres per unit.
    pub fn metres(self) -> f64 {
        match self {
            LengthUnit::Metre => 1.0,
            LengthUnit::Angstrom => ANGSTROM_M,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            LengthUnit::Metre => "m",
            LengthUnit::Angstrom => "Angstrom",
        }
    }
}

/// Whether `m` metres is a plausible STM pixel ([`MIN_PIXEL_SIZE_M`]..=[`MAX_PIXEL_SIZE_M`]).
fn plausible(m: f64) -> bool {
    (MIN_PIXEL_SIZE_M..=MAX_PIXEL_SIZE_M).contains(&m)
}

/// `x` with at most four significant digits: `8.93e-11`, `0.893`, `1e-10`.
pub fn short(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e4) {
        let s = format!("{x:.3e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if mantissa.contains('.') => {
                let m = mantissa.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{exp}")
            }
            _ => s,
        }
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The pixel size in metres of `value` given in `unit`, refused (as
/// [`Error::InvalidInput`]) when it is not finite, not positive, or outside the plausible
/// STM range 1e-12 m to 1e-6 m (0.01 Angstrom to 1 micrometre). The message names the value
/// as given and, when the value in the other unit would be plausible, says so: 0.893 given
/// as metres gets "did you mean 0.893 Angstrom (8.93e-11 m)?", 8.9e-11 given as Angstrom
/// "did you mean 8.9e-11 m?". Every interface converts its pixel size with this function;
/// the engine checks a map's with [`check_map_pixel_size_m`].
pub fn pixel_size_m(value: f64, unit: LengthUnit) -> Result<f64> {
    let sym = unit.symbol();
    let range = "a plausible STM pixel is 1e-12 to 1e-6 m (0.01 Angstrom to 1 micrometre)";
    if !value.is_finite() {
        return Err(Error::invalid(format!(
            "pixel size {value} {sym} is not a finite number: {range}"
        )));
    }
    if value <= 0.0 {
        return Err(Error::invalid(format!(
            "pixel size {} {sym} is not positive: {range}",
            short(value)
        )));
    }
    let m = value * unit.metres();
    if plausible(m) {
        return Ok(m);
    }
    let hint = match unit {
        LengthUnit::Metre if plausible(value * ANGSTROM_M) => format!(
            "; did you mean {} Angstrom ({} m)?",
            short(value),
            short(value * ANGSTROM_M)
        ),
        LengthUnit::Angstrom if plausible(value) => format!(
            "; did you mean {} m ({} Angstrom)? Give metres (pixel_size_m)",
            short(value),
            short(value / ANGSTROM_M)
        ),
        _ => String::new(),
    };
    let given = match unit {
        LengthUnit::Metre => format!("{} m", short(value)),
        LengthUnit::Angstrom => format!("{} Angstrom ({} m)", short(value), short(m)),
    };
    Err(Error::invalid(format!(
        "pixel size {given} is not a plausible STM pixel ({range}){hint}"
    )))
}

/// A map's pixel size in metres as the engine takes it: NaN means unknown and passes;
/// anything else goes through [`pixel_size_m`].
pub fn check_map_pixel_size_m(m: f64) -> Result<()> {
    if m.is_nan() {
        return Ok(());
    }
    pixel_size_m(m, LengthUnit::Metre).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<f64>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn plausible_sizes_convert() {
        assert_eq!(
            pixel_size_m(8.93e-11, LengthUnit::Metre).ok(),
            Some(8.93e-11)
        );
        let a = pixel_size_m(0.893, LengthUnit::Angstrom).ok().unwrap();
        assert!((a - 8.93e-11).abs() < 1e-24, "{a}");
        // The ends of the range pass.
        assert!(pixel_size_m(1e-12, LengthUnit::Metre).is_ok());
        assert!(pixel_size_m(1e-6, LengthUnit::Metre).is_ok());
        assert!(pixel_size_m(0.01, LengthUnit::Angstrom).is_ok());
        assert!(pixel_size_m(1e4, LengthUnit::Angstrom).is_ok());
    }

    #[test]
    fn angstrom_given_as_metres_is_refused_with_a_hint() {
        let m = message(pixel_size_m(0.893, LengthUnit::Metre));
        assert!(
            m.contains("pixel size 0.893 m is not a plausible STM pixel")
                && m.contains("did you mean 0.893 Angstrom (8.93e-11 m)?"),
            "{m}"
        );
    }

    #[test]
    fn metres_given_as_angstrom_is_refused_with_a_hint() {
        let m = message(pixel_size_m(8.9e-11, LengthUnit::Angstrom));
        assert!(
            m.contains("8.9e-11 Angstrom (8.9e-21 m)") && m.contains("did you mean 8.9e-11 m"),
            "{m}"
        );
    }

    #[test]
    fn nonsense_is_refused_without_a_wrong_hint() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1e-10] {
            for unit in [LengthUnit::Metre, LengthUnit::Angstrom] {
                let m = message(pixel_size_m(v, unit));
                assert!(
                    m.contains("pixel size") && !m.contains("did you mean"),
                    "{m}"
                );
            }
        }
        // Implausible in both units: no hint.
        let m = message(pixel_size_m(1e-30, LengthUnit::Metre));
        assert!(
            m.contains("not a plausible") && !m.contains("did you mean"),
            "{m}"
        );
        // Just outside the range.
        assert!(pixel_size_m(0.99e-12, LengthUnit::Metre).is_err());
        assert!(pixel_size_m(1.01e-6, LengthUnit::Metre).is_err());
    }

    #[test]
    fn unknown_map_pixel_size_passes() {
        assert!(check_map_pixel_size_m(f64::NAN).is_ok());
        assert!(check_map_pixel_size_m(1e-10).is_ok());
        assert!(check_map_pixel_size_m(0.893).is_err());
        assert!(check_map_pixel_size_m(f64::INFINITY).is_err());
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(8.93e-11), "8.93e-11");
        assert_eq!(short(1e-10), "1e-10");
        assert_eq!(short(0.893), "0.893");
        assert_eq!(short(2.0), "2");
    }
}
