//! The memory budget: every size a caller or a file controls is turned into bytes (with
//! overflow-checked arithmetic) and compared with a stated budget *before* anything is
//! allocated, because Rust aborts the whole process (MATLAB, Gwyddion, Igor with the user's
//! unsaved work) when an allocation fails.
//!
//! The budget is the option `memory_budget_bytes` (C ABI, Python) or `--memory-budget`
//! (`qpik simulate dataset`, `qpik extract`);
//! the default is [`DEFAULT_MEMORY_BUDGET_BYTES`] (4 GiB). Estimates count the large arrays a
//! call holds at once, not every small vector, so the real peak stays within a small factor
//! of the figure checked (the README's reliability section lists measured peaks).

use crate::{Error, Result};

/// Default budget: 4 GiB.
pub const DEFAULT_MEMORY_BUDGET_BYTES: u64 = 4 << 30;
/// Smallest budget accepted: 1 MiB.
pub const MIN_MEMORY_BUDGET_BYTES: u64 = 1 << 20;

/// How much memory one call may use, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    pub bytes: u64,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget {
            bytes: DEFAULT_MEMORY_BUDGET_BYTES,
        }
    }
}

impl MemoryBudget {
    /// A budget of `bytes`, refused below [`MIN_MEMORY_BUDGET_BYTES`].
    pub fn new(bytes: u64) -> Result<Self> {
        if bytes < MIN_MEMORY_BUDGET_BYTES {
            return Err(Error::invalid(format!(
                "memory budget {bytes} bytes is too small: use at least {MIN_MEMORY_BUDGET_BYTES} (1 MiB)"
            )));
        }
        Ok(MemoryBudget { bytes })
    }

    /// Refuses `what` when it needs more than the budget; `needed` is `None` when the size
    /// computation overflowed 64 bits (so it is larger than any budget).
    pub fn check(&self, what: &str, needed: Option<u64>) -> Result<()> {
        match needed {
            Some(n) if n <= self.bytes => Ok(()),
            Some(n) => Err(Error::OverBudget(format!(
                "{what} needs {n} bytes ({}), more than the memory budget of {} bytes ({}); \
                 use smaller sizes, or raise the budget (option memory_budget_bytes; --memory-budget in the CLI)",
                human(n),
                self.bytes,
                human(self.bytes)
            ))),
            None => Err(Error::OverBudget(format!(
                "{what} needs more than 2^64 bytes (the sizes overflow), more than the memory \
                 budget of {} bytes ({}); use smaller sizes",
                self.bytes,
                human(self.bytes)
            ))),
        }
    }
}

/// The product of `factors` (element counts and the element size), `None` on overflow.
pub fn bytes(factors: &[usize]) -> Option<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(u64::try_from(f).ok()?))
}

/// The sum of byte counts, `None` when any is `None` or the sum overflows.
pub fn sum(parts: &[Option<u64>]) -> Option<u64> {
    parts.iter().try_fold(0u64, |acc, p| acc.checked_add((*p)?))
}

/// `bytes` in the largest binary unit that keeps it at least 1 (for messages).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A vector of `n` copies of `value`, refused (instead of aborting) when the allocator has no
/// room: for sizes that passed the budget but may still not fit the machine.
pub fn try_vec<T: Clone>(what: &str, n: usize, value: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::OverBudget(format!(
            "{what}: the system could not provide {} for {n} elements; free memory or use smaller sizes",
            human(bytes(&[n, std::mem::size_of::<T>()]).unwrap_or(u64::MAX))
        ))
    })?;
    v.resize(n, value);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_overflow_to_none_and_budgets_name_both_sizes() {
        assert_eq!(bytes(&[3, 4, 5]), Some(60));
        assert_eq!(bytes(&[usize::MAX, 2]), None);
        assert_eq!(sum(&[Some(1), Some(2)]), Some(3));
        assert_eq!(sum(&[Some(u64::MAX), Some(1)]), None);
        assert_eq!(sum(&[Some(1), None]), None);
        let b = MemoryBudget::new(1 << 20).unwrap();
        assert!(b.check("x", Some(1 << 20)).is_ok());
        let e = b.check("a dataset", Some((1 << 20) + 1)).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::OverBudget(_)));
        assert!(
            m.contains("a dataset") && m.contains("1048577") && m.contains("1048576"),
            "{m}"
        );
        let m = b.check("x", None).unwrap_err().to_string();
        assert!(m.contains("overflow"), "{m}");
        assert!(MemoryBudget::new(1000).is_err());
        assert_eq!(human(3 << 30), "3.0 GiB");
        assert!(try_vec("huge", usize::MAX / 2, 0u8).is_err());
        assert_eq!(try_vec("small", 3, 1u8).unwrap(), vec![1, 1, 1]);
    }
}
