//! Whether two engines returned the same answer: same row count, and per row and column equal
//! values, numbers within a relative tolerance (engines sum floats in different orders, and
//! return an average of decimals as a double or as a decimal of their own scale).

use std::cmp::Ordering;

use serde_json::Value;

/// Numbers equal within this fraction of the larger magnitude (or this much absolutely near zero).
const TOLERANCE: f64 = 1e-6;

/// The outcome of comparing a result with a reference result.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Same,
    /// The same rows in another order: only a difference when the query orders every column.
    SameRowsOtherOrder,
    Differs(String),
}

/// Compares `actual` with `expected`: first in order, then (to tell an ordering difference from a
/// value difference) both sorted.
pub fn compare(actual: &[Vec<Value>], expected: &[Vec<Value>]) -> Verdict {
    if actual.len() != expected.len() {
        return Verdict::Differs(format!("{} rows, expected {}", actual.len(), expected.len()));
    }
    let Some(first) = first_difference(actual, expected) else {
        return Verdict::Same;
    };
    let (mut a, mut e) = (actual.to_vec(), expected.to_vec());
    a.sort_by(|x, y| compare_rows(x, y));
    e.sort_by(|x, y| compare_rows(x, y));
    match first_difference(&a, &e) {
        None => Verdict::SameRowsOtherOrder,
        Some(_) => Verdict::Differs(first),
    }
}

/// A description of the first row that differs, or `None`.
fn first_difference(actual: &[Vec<Value>], expected: &[Vec<Value>]) -> Option<String> {
    actual.iter().zip(expected).enumerate().find_map(|(i, (a, e))| {
        let same = a.len() == e.len() && a.iter().zip(e).all(|(x, y)| values_equal(x, y));
        (!same).then(|| format!("row {}: {} expected {}", i + 1, show(a), show(e)))
    })
}

fn show(row: &[Value]) -> String {
    let cells: Vec<String> = row.iter().map(Value::to_string).collect();
    format!("({})", cells.join(", "))
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => numbers_close(x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN)),
        },
        _ => a == b,
    }
}

fn numbers_close(x: f64, y: f64) -> bool {
    let scale = x.abs().max(y.abs()).max(1.0);
    (x - y).abs() <= TOLERANCE * scale
}

/// A total order on rows for the unordered comparison: nulls first, then booleans, numbers (by
/// value), strings.
fn compare_rows(a: &[Value], b: &[Value]) -> Ordering {
    a.iter().zip(b).map(|(x, y)| compare_values(x, y)).find(|o| o.is_ne()).unwrap_or(a.len().cmp(&b.len()))
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) | Value::Object(_) => 4,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(f64::NAN).total_cmp(&y.as_f64().unwrap_or(f64::NAN))
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_compare_within_tolerance() {
        let a = vec![vec![json!("A"), json!(25.522_005_5), json!(3)]];
        let b = vec![vec![json!("A"), json!(25.522_005), json!(3)]];
        assert_eq!(compare(&a, &b), Verdict::Same);
        let c = vec![vec![json!("A"), json!(25.52), json!(3)]];
        assert!(matches!(compare(&c, &b), Verdict::Differs(_)));
    }

    #[test]
    fn integers_compare_exactly_and_order_is_told_apart() {
        let a = vec![vec![json!(1)], vec![json!(2)]];
        let b = vec![vec![json!(2)], vec![json!(1)]];
        assert_eq!(compare(&a, &b), Verdict::SameRowsOtherOrder);
        assert_eq!(compare(&a, &a[..1]), Verdict::Differs("2 rows, expected 1".into()));
        assert!(matches!(compare(&[vec![json!(1)]], &[vec![json!(3)]]), Verdict::Differs(_)));
    }
}
