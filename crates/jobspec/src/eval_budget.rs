//! Bounds on what one HCL2 job file may make the evaluator do: a file of 190 bytes must
//! not take seconds or gigabytes (`format("%999999999d", 1)`, a replace nested ten
//! deep). Every function call is charged to a work budget (one unit per call and per
//! KiB it produces), no function result may be larger than [`MAX_VALUE_BYTES`], and
//! `format` widths are bounded. The budget counts work rather than reading a clock, so
//! the parser stays pure and a refusal is the same on every machine; the agent also puts
//! a time limit on the whole parse.

use std::cell::Cell;

use hcl::Value;

/// The largest value one function may return, in bytes of text (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// The most work units one parse may spend: far beyond any real job file.
pub const MAX_WORK: u64 = 1_000_000;

thread_local! {
    static SPENT: Cell<u64> = const { Cell::new(0) };
}

/// A fresh budget for one parse, on this thread, for as long as the scope lives.
pub(crate) struct BudgetScope {
    previous: u64,
}

impl BudgetScope {
    pub(crate) fn enter() -> BudgetScope {
        BudgetScope {
            previous: SPENT.with(|s| s.replace(0)),
        }
    }
}

impl Drop for BudgetScope {
    fn drop(&mut self) {
        SPENT.with(|s| s.set(self.previous));
    }
}

fn charge(units: u64) -> Result<(), String> {
    let spent = SPENT.with(|s| {
        let spent = s.get().saturating_add(units);
        s.set(spent);
        spent
    });
    if spent > MAX_WORK {
        return Err(format!(
            "the job file takes too much work to evaluate (more than {MAX_WORK} function calls or KiB of results); simplify its expressions"
        ));
    }
    Ok(())
}

/// About how many bytes a value holds (text, plus a few bytes per element), stopping
/// as soon as it passes `limit`.
pub(crate) fn size_at_most(value: &Value, limit: usize) -> usize {
    fn walk(value: &Value, total: &mut usize, limit: usize) {
        if *total > limit {
            return;
        }
        *total += 8;
        match value {
            Value::String(s) => *total += s.len(),
            Value::Array(items) => items.iter().for_each(|v| walk(v, total, limit)),
            Value::Object(map) => map.iter().for_each(|(k, v)| {
                *total += k.len();
                walk(v, total, limit);
            }),
            _ => {}
        }
    }
    let mut total = 0;
    walk(value, &mut total, limit);
    total
}

/// Charges one call and checks its result (what every function's wrapper does).
pub(crate) fn checked(name: &str, result: Result<Value, String>) -> Result<Value, String> {
    charge(1)?;
    let value = result?;
    let size = size_at_most(&value, MAX_VALUE_BYTES);
    if size > MAX_VALUE_BYTES {
        return Err(format!(
            "{name}: the result is larger than {} KiB",
            MAX_VALUE_BYTES / 1024
        ));
    }
    charge((size / 1024) as u64)?;
    Ok(value)
}

/// Refuses, before the work is done, a result that would pass [`MAX_VALUE_BYTES`].
pub(crate) fn reserve(name: &str, bytes: usize) -> Result<(), String> {
    if bytes > MAX_VALUE_BYTES {
        return Err(format!(
            "{name}: the result would be larger than {} KiB",
            MAX_VALUE_BYTES / 1024
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stop_counting_past_the_limit() {
        let big = Value::Array((0..1000).map(|_| Value::from("x".repeat(1000))).collect());
        assert!(size_at_most(&big, 10_000) > 10_000);
        assert!(size_at_most(&big, 10_000) < 20_000);
        assert_eq!(size_at_most(&Value::from("abc"), 100), 11);
    }

    #[test]
    fn the_budget_runs_out_and_is_restored() {
        let _outer = BudgetScope::enter();
        charge(10).unwrap();
        {
            let _inner = BudgetScope::enter();
            assert!(charge(MAX_WORK + 1).is_err());
        }
        assert_eq!(SPENT.with(Cell::get), 10);
    }
}
