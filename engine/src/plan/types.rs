//! Type rules shared by the binder (which inserts casts) and the physical expressions (which must
//! produce exactly the type the plan promises).
//!
//! The rules follow Redshift where it documents them ("Numeric computations", "Type compatibility
//! and conversion"), with PostgreSQL's behaviour where Redshift is silent.

use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};

use crate::plan::expr::BinaryOp;

/// The engine's timestamp type: microseconds, no time zone.
pub const TIMESTAMP: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

/// The engine's interval type: PostgreSQL's months, days and time (see `expr::interval`).
pub const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);

/// Largest decimal precision the engine computes with (Arrow's `Decimal128`).
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// The result type of `left op right`, assuming the binder has already coerced the operands
/// (see [`arithmetic_operand_type`]).
pub fn binary_result_type(op: BinaryOp, left: &DataType, right: &DataType) -> DataType {
    if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
        return DataType::Boolean;
    }
    if op == BinaryOp::StringConcat {
        return DataType::Utf8;
    }
    match (left, right) {
        // Redshift/PostgreSQL: timestamp - timestamp is an interval, timestamp ± interval a
        // timestamp, and interval ± interval, interval * n, interval / n an interval.
        (DataType::Timestamp(..), DataType::Timestamp(..)) if op == BinaryOp::Minus => INTERVAL,
        (DataType::Timestamp(..), DataType::Interval(_)) | (DataType::Interval(_), DataType::Timestamp(..)) => {
            TIMESTAMP
        }
        (DataType::Interval(_), _) | (_, DataType::Interval(_)) => INTERVAL,
        (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) => decimal_result(op, *p1, *s1, *p2, *s2),
        // Date arithmetic counts days, as in Redshift and PostgreSQL.
        (DataType::Date32, DataType::Date32) => DataType::Int32,
        (DataType::Date32, _) | (_, DataType::Date32) => DataType::Date32,
        (DataType::Null, other) => other.clone(),
        _ => left.clone(),
    }
}

/// Precision and scale of decimal arithmetic, following Redshift's documented rules
/// ("Computations with numeric values"), capped at 38 digits.
fn decimal_result(op: BinaryOp, p1: u8, s1: i8, p2: u8, s2: i8) -> DataType {
    let (p1, s1, p2, s2) = (p1 as i32, s1 as i32, p2 as i32, s2 as i32);
    let (p, s) = match op {
        BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Modulo => {
            let s = s1.max(s2);
            (((p1 - s1).max(p2 - s2) + s + 1), s)
        }
        BinaryOp::Multiply => (p1 + p2 + 1, s1 + s2),
        // Redshift: scale = max(4, s1 + p2 - s2 + 1), precision = p1 - s1 + s2 + scale.
        _ => {
            let s = 4.max(s1 + p2 - s2 + 1);
            (p1 - s1 + s2 + s, s)
        }
    };
    // When the exact result needs more than 38 digits, give up fractional digits rather than
    // integer ones (keeping at least 6, as SQL Server and Redshift's division results do), so
    // `100.00 * sum(x) / sum(y)` over DECIMAL(38,4) sums is DECIMAL(38,6), not DECIMAL(38,38)
    // that cannot hold 15.48.
    let max = MAX_DECIMAL_PRECISION as i32;
    let (p, s) = if p > max { (max, (s - (p - max)).max(s.min(6))) } else { (p, s) };
    let p = p.clamp(1, max);
    let s = s.clamp(0, p);
    DataType::Decimal128(p as u8, s as i8)
}

/// Whether `t` is one of the engine's integer types.
pub fn is_integer(t: &DataType) -> bool {
    matches!(t, DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64)
}

/// Whether `t` is an integer, decimal or floating-point type.
pub fn is_numeric(t: &DataType) -> bool {
    is_integer(t) || matches!(t, DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _))
}

/// Whether `t` is the interval type.
pub fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_))
}

/// Whether `t` is a date or timestamp.
pub fn is_temporal(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Timestamp(_, _))
}

/// The decimal that holds every value of an integer type exactly (Redshift: SMALLINT is
/// DECIMAL(5,0), INTEGER DECIMAL(10,0), BIGINT DECIMAL(19,0)).
pub fn integer_as_decimal(t: &DataType) -> Option<DataType> {
    let p = match t {
        DataType::Int8 => 3,
        DataType::Int16 => 5,
        DataType::Int32 => 10,
        DataType::Int64 => 19,
        _ => return None,
    };
    Some(DataType::Decimal128(p, 0))
}

fn integer_rank(t: &DataType) -> u8 {
    match t {
        DataType::Int8 => 1,
        DataType::Int16 => 2,
        DataType::Int32 => 3,
        _ => 4,
    }
}

/// The decimal wide enough for both: the larger scale and the larger number of integer digits,
/// capped at 38 digits (the scale is kept, integer digits give way, as in Redshift).
fn wider_decimal(p1: u8, s1: i8, p2: u8, s2: i8) -> DataType {
    let s = s1.max(s2).max(0) as i32;
    let int_digits = (p1 as i32 - s1 as i32).max(p2 as i32 - s2 as i32);
    let p = (int_digits + s).clamp(1, MAX_DECIMAL_PRECISION as i32);
    DataType::Decimal128(p as u8, s.min(p) as i8)
}

/// The common type of two numeric types: ints widen; int with decimal gives a decimal; any float
/// gives Float64 (Float32 only when both are Float32).
fn numeric_common(l: &DataType, r: &DataType) -> Option<DataType> {
    use DataType::*;
    Some(match (l, r) {
        _ if l == r => l.clone(),
        (Float32 | Float64, _) | (_, Float32 | Float64) => Float64,
        (Decimal128(p1, s1), Decimal128(p2, s2)) => wider_decimal(*p1, *s1, *p2, *s2),
        (Decimal128(p, s), i) | (i, Decimal128(p, s)) => match integer_as_decimal(i)? {
            Decimal128(pi, si) => wider_decimal(*p, *s, pi, si),
            _ => return None,
        },
        _ if is_integer(l) && is_integer(r) => {
            if integer_rank(l) >= integer_rank(r) {
                l.clone()
            } else {
                r.clone()
            }
        }
        _ => return None,
    })
}

/// The type both sides of a comparison are cast to, or `None` when they cannot be compared.
///
/// Ints widen; int with decimal gives a decimal; a float makes it Float64; a date compared with a
/// timestamp becomes a timestamp (midnight); a string compared with a date, timestamp, number or
/// boolean or interval takes that type (the binder casts the string side, as Redshift does for
/// literals);
/// the untyped `NULL` takes the other side's type.
pub fn comparison_type(l: &DataType, r: &DataType) -> Option<DataType> {
    use DataType::*;
    match (l, r) {
        _ if l == r => Some(l.clone()),
        (Null, other) | (other, Null) => Some(other.clone()),
        (Date32, Timestamp(_, _)) | (Timestamp(_, _), Date32) => Some(TIMESTAMP),
        (Utf8, other) | (other, Utf8)
            if is_temporal(other) || is_numeric(other) || is_interval(other) || *other == Boolean =>
        {
            Some(other.clone())
        }
        _ if is_numeric(l) && is_numeric(r) => numeric_common(l, r),
        _ => None,
    }
}

/// The types to cast the left and right operands to before the arithmetic kernel runs, or `None`
/// when `l op r` is not defined.
///
/// - integers: both become the wider integer (integer division truncates, as in Redshift);
/// - a float involved: both become Float64 (Float32 only when both are Float32);
/// - a decimal involved: decimals keep their own precision and scale, integers become
///   DECIMAL(3/5/10/19, 0); the result then follows [`binary_result_type`];
/// - `date + int`, `int + date`, `date - int`: the date stays Date32 and the integer becomes
///   Int32 (a number of days); `date - date` gives Int32 days;
/// - intervals: `ts - ts`, `ts ± interval`, `interval + ts`, `interval ± interval`,
///   `interval * n`, `n * interval`, `interval / n`; a date operand becomes a TIMESTAMP (midnight)
///   and the number a DOUBLE PRECISION factor;
/// - the untyped `NULL` takes the other operand's type.
pub fn arithmetic_operand_type(op: BinaryOp, l: &DataType, r: &DataType) -> Option<(DataType, DataType)> {
    use DataType::*;
    if !op.is_arithmetic() {
        return None;
    }
    let (l, r) = match (l, r) {
        (Null, Null) => (&Int32, &Int32),
        (Null, other) => (other, other),
        (other, Null) => (other, other),
        _ => (l, r),
    };
    let timestamp_like = |t: &DataType| matches!(t, Date32 | Timestamp(..));
    let plus_minus = matches!(op, BinaryOp::Plus | BinaryOp::Minus);
    match (l, r) {
        (Date32, Date32) if op == BinaryOp::Minus => Some((Date32, Date32)),
        (a, b) if timestamp_like(a) && timestamp_like(b) && op == BinaryOp::Minus => Some((TIMESTAMP, TIMESTAMP)),
        (a, Interval(_)) if timestamp_like(a) && plus_minus => Some((TIMESTAMP, INTERVAL)),
        (Interval(_), b) if timestamp_like(b) && op == BinaryOp::Plus => Some((INTERVAL, TIMESTAMP)),
        (Interval(_), Interval(_)) if plus_minus => Some((INTERVAL, INTERVAL)),
        (Interval(_), n) if is_numeric(n) && matches!(op, BinaryOp::Multiply | BinaryOp::Divide) => {
            Some((INTERVAL, Float64))
        }
        (n, Interval(_)) if is_numeric(n) && op == BinaryOp::Multiply => Some((Float64, INTERVAL)),
        (Date32, i) if is_integer(i) && matches!(op, BinaryOp::Plus | BinaryOp::Minus) => Some((Date32, Int32)),
        (i, Date32) if is_integer(i) && op == BinaryOp::Plus => Some((Int32, Date32)),
        (Float32 | Float64, o) | (o, Float32 | Float64) if is_numeric(o) => {
            let t = numeric_common(l, r)?;
            Some((t.clone(), t))
        }
        (Decimal128(_, _), _) | (_, Decimal128(_, _)) if is_numeric(l) && is_numeric(r) => {
            let as_decimal = |t: &DataType| integer_as_decimal(t).unwrap_or_else(|| t.clone());
            Some((as_decimal(l), as_decimal(r)))
        }
        _ if is_integer(l) && is_integer(r) => {
            let t = numeric_common(l, r)?;
            Some((t.clone(), t))
        }
        _ => None,
    }
}

/// The one type a list of values is cast to: `CASE` branches, `COALESCE` arguments, `IN` lists,
/// `UNION` columns. Pairwise [`comparison_type`] rules folded left to right, so a text value with
/// dates becomes a date (`COALESCE(d, '2020-01-01')`); `None` when some pair is incompatible.
/// An empty list or only untyped NULLs gives `Null`.
pub fn common_supertype<'a>(types: impl IntoIterator<Item = &'a DataType>) -> Option<DataType> {
    types.into_iter().try_fold(DataType::Null, |acc, t| comparison_type(&acc, t))
}

/// The SQL spelling of an engine type, for error messages and `DESCRIBE` (`INTEGER`,
/// `DECIMAL(10,2)`, `TIMESTAMP`).
pub fn sql_type_name(t: &DataType) -> String {
    match t {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE PRECISION".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        DataType::Utf8 => "VARCHAR".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Interval(_) => "INTERVAL".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn comparison_widens_and_coerces() {
        assert_eq!(comparison_type(&Int32, &Int64), Some(Int64));
        assert_eq!(comparison_type(&Int16, &Decimal128(10, 2)), Some(Decimal128(10, 2)));
        assert_eq!(comparison_type(&Int64, &Decimal128(10, 2)), Some(Decimal128(21, 2)));
        assert_eq!(comparison_type(&Decimal128(5, 1), &Decimal128(10, 3)), Some(Decimal128(10, 3)));
        assert_eq!(comparison_type(&Decimal128(10, 1), &Decimal128(5, 3)), Some(Decimal128(12, 3)));
        assert_eq!(comparison_type(&Decimal128(10, 2), &Float32), Some(Float64));
        assert_eq!(comparison_type(&Int32, &Float64), Some(Float64));
        assert_eq!(comparison_type(&Date32, &TIMESTAMP), Some(TIMESTAMP));
        assert_eq!(comparison_type(&Utf8, &Date32), Some(Date32));
        assert_eq!(comparison_type(&Int32, &Utf8), Some(Int32));
        assert_eq!(comparison_type(&Null, &Utf8), Some(Utf8));
        assert_eq!(comparison_type(&Boolean, &Int32), None);
        assert_eq!(comparison_type(&Date32, &Int32), None);
    }

    #[test]
    fn arithmetic_operands() {
        assert_eq!(arithmetic_operand_type(BinaryOp::Divide, &Int32, &Int64), Some((Int64, Int64)));
        assert_eq!(arithmetic_operand_type(BinaryOp::Plus, &Int32, &Float32), Some((Float64, Float64)));
        assert_eq!(
            arithmetic_operand_type(BinaryOp::Multiply, &Int32, &Decimal128(5, 2)),
            Some((Decimal128(10, 0), Decimal128(5, 2)))
        );
        assert_eq!(arithmetic_operand_type(BinaryOp::Plus, &Date32, &Int64), Some((Date32, Int32)));
        assert_eq!(arithmetic_operand_type(BinaryOp::Plus, &Int8, &Date32), Some((Int32, Date32)));
        assert_eq!(arithmetic_operand_type(BinaryOp::Minus, &Date32, &Date32), Some((Date32, Date32)));
        assert_eq!(arithmetic_operand_type(BinaryOp::Plus, &Date32, &Date32), None);
        assert_eq!(arithmetic_operand_type(BinaryOp::Plus, &Utf8, &Int32), None);
        assert_eq!(arithmetic_operand_type(BinaryOp::Eq, &Int32, &Int32), None);
        assert_eq!(arithmetic_operand_type(BinaryOp::Minus, &TIMESTAMP, &Date32), Some((TIMESTAMP, TIMESTAMP)));
        assert_eq!(arithmetic_operand_type(BinaryOp::Plus, &Date32, &INTERVAL), Some((TIMESTAMP, INTERVAL)));
        assert_eq!(arithmetic_operand_type(BinaryOp::Minus, &INTERVAL, &TIMESTAMP), None);
        assert_eq!(arithmetic_operand_type(BinaryOp::Divide, &INTERVAL, &Int32), Some((INTERVAL, Float64)));
        assert_eq!(arithmetic_operand_type(BinaryOp::Divide, &Int32, &INTERVAL), None);
        assert_eq!(arithmetic_operand_type(BinaryOp::Minus, &INTERVAL, &Null), Some((INTERVAL, INTERVAL)));
    }

    #[test]
    fn result_types() {
        assert_eq!(binary_result_type(BinaryOp::Minus, &Date32, &Date32), Int32);
        assert_eq!(binary_result_type(BinaryOp::Plus, &Date32, &Int32), Date32);
        assert_eq!(binary_result_type(BinaryOp::Plus, &Int32, &Date32), Date32);
        assert_eq!(binary_result_type(BinaryOp::Plus, &Decimal128(10, 2), &Decimal128(5, 3)), Decimal128(12, 3));
        assert_eq!(binary_result_type(BinaryOp::Multiply, &Decimal128(10, 2), &Decimal128(5, 3)), Decimal128(16, 5));
        // Redshift: 10,2 / 5,3 → scale max(4, 2+5-3+1)=5, precision 10-2+3+5=16.
        assert_eq!(binary_result_type(BinaryOp::Divide, &Decimal128(10, 2), &Decimal128(5, 3)), Decimal128(16, 5));
        assert_eq!(binary_result_type(BinaryOp::Lt, &Int32, &Int32), Boolean);
        assert_eq!(binary_result_type(BinaryOp::Minus, &TIMESTAMP, &TIMESTAMP), INTERVAL);
        assert_eq!(binary_result_type(BinaryOp::Plus, &INTERVAL, &TIMESTAMP), TIMESTAMP);
        assert_eq!(binary_result_type(BinaryOp::Multiply, &Float64, &INTERVAL), INTERVAL);
    }

    #[test]
    fn supertypes() {
        assert_eq!(common_supertype(&[Int32, Null, Int64]), Some(Int64));
        assert_eq!(common_supertype(&[Date32, Utf8]), Some(Date32));
        assert_eq!(common_supertype(&[Int32, Decimal128(4, 2), Float32]), Some(Float64));
        assert_eq!(common_supertype(&[Null]), Some(Null));
        assert_eq!(common_supertype(&[Boolean, Date32]), None);
    }
}
