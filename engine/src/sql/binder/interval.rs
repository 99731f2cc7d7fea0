//! `INTERVAL` literals and date/timestamp ± interval arithmetic.
//!
//! An interval is a bind-time constant of three fields, as in PostgreSQL: months, days and
//! microseconds, kept apart because a month has no fixed length. Adding one applies the months
//! first (clamped to the target month's last day: 2019-01-31 + 1 month = 2019-02-28), then the days
//! and the time, which is PostgreSQL's and Redshift's order. A DATE operand is taken at midnight and
//! the result is a TIMESTAMP, as in Redshift, PostgreSQL and DuckDB (Athena keeps a DATE).
//!
//! An `INTERVAL` literal binds to a constant of the INTERVAL type (arithmetic on interval values:
//! `expr::interval`), but `x ± INTERVAL '...'` with a date or timestamp `x` binds to `DATEADD`
//! calls — or to a literal when `x` is one, so that `l_shipdate <= date '1998-12-01' - interval
//! '90' day` reaches the scan as a plain date comparison (see [`midnight_as_date`]).

use arrow::datatypes::DataType;
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::Result;
use crate::expr::functions::calendar::{add_months, MICROS_PER_DAY};
use crate::expr::functions::datetime::Part;
use crate::plan::types::TIMESTAMP;
use crate::plan::{BinaryOp, Expr, ScalarValue};
use crate::sql::binder::coerce::cast_to;
use crate::sql::binder::expr::ExprBinder;
use crate::sql::binder::{literal, plan_err};

/// A PostgreSQL-style interval: months, days and microseconds, each with its own sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IntervalValue {
    pub months: i64,
    pub days: i64,
    pub micros: i64,
}

impl IntervalValue {
    fn checked_add(self, other: IntervalValue) -> Option<IntervalValue> {
        Some(IntervalValue {
            months: self.months.checked_add(other.months)?,
            days: self.days.checked_add(other.days)?,
            micros: self.micros.checked_add(other.micros)?,
        })
    }

    fn checked_neg(self) -> Option<IntervalValue> {
        Some(IntervalValue {
            months: self.months.checked_neg()?,
            days: self.days.checked_neg()?,
            micros: self.micros.checked_neg()?,
        })
    }

    /// The days and the time as one count of microseconds: a timestamp without time zone has
    /// 24-hour days, so the two add alike once the months are applied.
    fn day_time_micros(self) -> Option<i64> {
        self.days.checked_mul(MICROS_PER_DAY)?.checked_add(self.micros)
    }

    /// `micros` (a timestamp) moved by this interval; `None` when the result is out of range.
    fn add_to(self, micros: i64) -> Option<i64> {
        let moved = if self.months == 0 { micros } else { add_months(micros, self.months)? };
        moved.checked_add(self.day_time_micros()?)
    }
}

/// An interval expression (see [`is_interval`]) as a constant of the INTERVAL type.
pub(crate) fn literal(e: &ast::Expr) -> Result<Expr> {
    let value = interval_value(e)?;
    to_literal(value, e.span())
}

/// `-x` for an interval value: `INTERVAL '0' - x`, so the negation is interval arithmetic.
pub(crate) fn negate(e: Expr) -> Expr {
    Expr::binary(Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(Default::default()))), BinaryOp::Minus, e)
}

/// `'1 day 2 hours'::INTERVAL`: text read with the `INTERVAL '...'` rules.
pub(crate) fn text_literal(text: &str, span: Span) -> Result<Expr> {
    let value = parse_interval_text(text).map_err(|why| plan_err(format!("invalid INTERVAL '{text}': {why}"), span))?;
    to_literal(value, span)
}

fn to_literal(value: IntervalValue, span: Span) -> Result<Expr> {
    let interval = crate::expr::interval::from_fields(value.months, value.days, value.micros)
        .map_err(|_| plan_err("INTERVAL out of range", span))?;
    Ok(Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(interval))))
}

impl ExprBinder<'_, '_> {
    /// Binds `left op right` when one side is an interval literal: `x + i`, `i + x`, `x - i`
    /// with a date or timestamp `x`, or a sum or difference of interval literals (a constant).
    /// `None` when neither side is one, or when `x` is not a date or timestamp (interval values
    /// then follow the general arithmetic rules).
    pub(crate) fn interval_arithmetic(
        &self,
        left: &ast::Expr,
        op: BinaryOp,
        right: &ast::Expr,
        span: Span,
    ) -> Option<Result<Expr>> {
        if !matches!(op, BinaryOp::Plus | BinaryOp::Minus) {
            return None;
        }
        let (value, interval, subtract) = match (is_interval(left), is_interval(right)) {
            (false, true) => (left, right, op == BinaryOp::Minus),
            (true, false) if op == BinaryOp::Plus => (right, left, false),
            (true, false) => {
                return Some(Err(plan_err("a DATE or TIMESTAMP cannot be subtracted from an INTERVAL", span)))
            }
            (true, true) => {
                let sum = interval_value(left).and_then(|l| {
                    let r = interval_value(right)?;
                    let r = if op == BinaryOp::Minus { r.checked_neg() } else { Some(r) };
                    r.and_then(|r| l.checked_add(r)).ok_or_else(|| plan_err("INTERVAL out of range", span))
                });
                return Some(sum.and_then(|v| to_literal(v, span)));
            }
            (false, false) => return None,
        };
        let (bound, ty) = match self.bind_typed(value) {
            Ok(typed) => typed,
            Err(e) => return Some(Err(e)),
        };
        if matches!(ty, DataType::Interval(_)) {
            return None;
        }
        Some(self.shift_by_interval(bound, ty, interval, subtract, span))
    }

    fn shift_by_interval(
        &self,
        bound: Expr,
        ty: DataType,
        interval: &ast::Expr,
        subtract: bool,
        span: Span,
    ) -> Result<Expr> {
        let mut amount = interval_value(interval)?;
        if subtract {
            amount = amount.checked_neg().ok_or_else(|| plan_err("INTERVAL out of range", span))?;
        }
        let out_of_range = || plan_err("the result of adding an INTERVAL is out of the TIMESTAMP range", span);
        let start = match (&bound, &ty) {
            (Expr::Literal(ScalarValue::Date32(Some(d))), _) => Some(i64::from(*d) * MICROS_PER_DAY),
            (Expr::Literal(ScalarValue::TimestampMicros(Some(t))), _) => Some(*t),
            (Expr::Literal(ScalarValue::Utf8(Some(text))), _) => Some(
                literal::parse_timestamp(text)
                    .or_else(|| literal::parse_date(text).map(|d| i64::from(d) * MICROS_PER_DAY))
                    .ok_or_else(|| plan_err(format!("invalid input syntax for type timestamp: \"{text}\""), span))?,
            ),
            (_, DataType::Null) => return Ok(Expr::Literal(ScalarValue::TimestampMicros(None))),
            (_, DataType::Date32 | DataType::Timestamp(..)) => None,
            (_, other) => {
                return Err(plan_err(
                    format!("operator {} cannot be applied to {other} and INTERVAL", if subtract { "-" } else { "+" }),
                    span,
                ))
            }
        };
        if let Some(start) = start {
            let moved = amount.add_to(start).ok_or_else(out_of_range)?;
            return Ok(Expr::Literal(ScalarValue::TimestampMicros(Some(moved))));
        }
        let mut shifted = cast_to(bound, &ty, &TIMESTAMP);
        let day_time = amount.day_time_micros().ok_or_else(out_of_range)?;
        for (unit, n) in [("month", amount.months), ("microsecond", day_time)] {
            if n != 0 {
                let unit = Expr::Literal(ScalarValue::Utf8(Some(unit.to_string())));
                shifted =
                    self.call("dateadd", vec![unit, Expr::Literal(ScalarValue::Int64(Some(n))), shifted], span)?;
            }
        }
        Ok(shifted)
    }
}

/// A date or timestamp compared with a TIMESTAMP literal at midnight compares as a date: the
/// literal becomes a DATE, so the column is not cast and row-group statistics still prune. Exact for
/// every comparison operator, since a date cast to a timestamp is its own midnight.
pub(crate) fn midnight_as_date(e: Expr, ty: DataType, other: &DataType) -> (Expr, DataType) {
    if *other == DataType::Date32 {
        if let Expr::Literal(ScalarValue::TimestampMicros(Some(t))) = &e {
            if t.rem_euclid(MICROS_PER_DAY) == 0 {
                if let Ok(day) = i32::try_from(t.div_euclid(MICROS_PER_DAY)) {
                    return (Expr::Literal(ScalarValue::Date32(Some(day))), DataType::Date32);
                }
            }
        }
    }
    (e, ty)
}

/// Whether `e` is an interval expression: an `INTERVAL` literal, or a sum, difference or
/// negation of them.
fn is_interval(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Interval(_) => true,
        ast::Expr::Nested(inner) => is_interval(inner),
        ast::Expr::UnaryOp { op: ast::UnaryOperator::Minus | ast::UnaryOperator::Plus, expr } => is_interval(expr),
        ast::Expr::BinaryOp { left, op: ast::BinaryOperator::Plus | ast::BinaryOperator::Minus, right } => {
            is_interval(left) && is_interval(right)
        }
        _ => false,
    }
}

/// The value of an interval expression (see [`is_interval`]).
fn interval_value(e: &ast::Expr) -> Result<IntervalValue> {
    use sqlparser::ast::Spanned;
    let span = e.span();
    let overflow = || plan_err("INTERVAL out of range", span);
    match e {
        ast::Expr::Interval(interval) => parse_interval(interval, span),
        ast::Expr::Nested(inner) | ast::Expr::UnaryOp { op: ast::UnaryOperator::Plus, expr: inner } => {
            interval_value(inner)
        }
        ast::Expr::UnaryOp { expr, .. } => interval_value(expr)?.checked_neg().ok_or_else(overflow),
        ast::Expr::BinaryOp { left, op, right } => {
            let mut r = interval_value(right)?;
            if *op == ast::BinaryOperator::Minus {
                r = r.checked_neg().ok_or_else(overflow)?;
            }
            interval_value(left)?.checked_add(r).ok_or_else(overflow)
        }
        _ => Err(plan_err("expected an INTERVAL literal", span)),
    }
}

/// An `INTERVAL` literal: `INTERVAL '90' DAY`, `INTERVAL '3' MONTH`, `INTERVAL '1 day 2 hours'`,
/// `INTERVAL '1-2' YEAR TO MONTH`, `INTERVAL '1 10:30' DAY TO MINUTE`, `INTERVAL 5 DAY`.
fn parse_interval(interval: &ast::Interval, span: Span) -> Result<IntervalValue> {
    let text = match interval.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.clone(),
            other => other.clone().into_string().ok_or_else(|| plan_err("an INTERVAL needs a quoted string", span))?,
        },
        ast::Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr } => match expr.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => format!("-{n}"),
                _ => return Err(plan_err("an INTERVAL needs a quoted string", span)),
            },
            _ => return Err(plan_err("an INTERVAL needs a quoted string", span)),
        },
        _ => return Err(plan_err("an INTERVAL needs a constant quoted string", span)),
    };
    let invalid = |why: &str| plan_err(format!("invalid INTERVAL '{text}': {why}"), span);
    let field = |f: &ast::DateTimeField| {
        interval_unit(&f.to_string()).ok_or_else(|| invalid(&format!("'{f}' is not an interval unit")))
    };
    let value = match (&interval.leading_field, &interval.last_field) {
        (None, _) => parse_interval_text(&text),
        (Some(leading), None) => {
            let unit = field(leading)?;
            match parse_number(text.trim()) {
                Some(n) => scaled(n, unit),
                None => parse_interval_text(&text),
            }
        }
        (Some(leading), Some(last)) => parse_field_range(&text, field(leading)?, field(last)?),
    };
    value.map_err(|why| invalid(&why))
}

/// A unit an interval can count: the date part names of `DATEADD`, less those that are positions
/// rather than lengths (day of week, day of year, epoch).
fn interval_unit(name: &str) -> Option<Part> {
    Part::parse(name).filter(|p| !matches!(p, Part::DayOfWeek | Part::DayOfYear | Part::Epoch))
}

/// A signed decimal number as its whole part and its fraction (both carrying the sign).
#[derive(Debug, Clone, Copy)]
struct Amount {
    whole: i64,
    fraction: f64,
}

fn parse_number(text: &str) -> Option<Amount> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
    let fraction: f64 = if frac_part.is_empty() { 0.0 } else { format!("0.{frac_part}").parse().ok()? };
    let sign = if negative { -1 } else { 1 };
    Some(Amount { whole: sign * whole, fraction: sign as f64 * fraction })
}

/// `n` units of `unit` as an interval. A fraction spills into the next smaller field as in
/// PostgreSQL: a month is 30 days there and a day 24 hours (`'1.5 month'` = 1 month 15 days).
fn scaled(n: Amount, unit: Part) -> std::result::Result<IntervalValue, String> {
    let overflow = || "out of range".to_string();
    let months_per = match unit {
        Part::Month => Some(1),
        Part::Quarter => Some(3),
        Part::Year => Some(12),
        Part::Decade => Some(120),
        Part::Century => Some(1_200),
        Part::Millennium => Some(12_000),
        _ => None,
    };
    let days_per = match unit {
        Part::Day => Some(1),
        Part::Week => Some(7),
        _ => None,
    };
    let micros_per = match unit {
        Part::Microsecond => 1,
        Part::Millisecond => 1_000,
        Part::Second => 1_000_000,
        Part::Minute => 60_000_000,
        Part::Hour => 3_600_000_000,
        _ => 0,
    };
    let mut out = IntervalValue::default();
    let mut days_fraction = 0.0;
    if let Some(k) = months_per {
        out.months = n.whole.checked_mul(k).ok_or_else(overflow)?;
        let extra = n.fraction * k as f64;
        out.months += extra.trunc() as i64;
        days_fraction = extra.fract() * 30.0;
    } else if let Some(k) = days_per {
        out.days = n.whole.checked_mul(k).ok_or_else(overflow)?;
        days_fraction = n.fraction * k as f64;
    } else {
        out.micros = n.whole.checked_mul(micros_per).ok_or_else(overflow)?;
        out.micros += (n.fraction * micros_per as f64).round() as i64;
    }
    out.days += days_fraction.trunc() as i64;
    out.micros += (days_fraction.fract() * MICROS_PER_DAY as f64).round() as i64;
    Ok(out)
}

/// PostgreSQL's interval text: `number unit` pairs (`'1 year 2 months'`, `'3days'`), a time of
/// day `[-]HH:MM[:SS[.ffffff]]`, a bare number before a time counting days (`'1 10:30'`), a lone
/// bare number counting seconds, and a trailing `ago` that negates it all.
fn parse_interval_text(text: &str) -> std::result::Result<IntervalValue, String> {
    let mut tokens: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        // `3days`, `-2h`: a number glued to its unit is two tokens.
        let split = word.find(|c: char| c.is_ascii_alphabetic()).filter(|&i| i > 0 && !word.contains(':'));
        match split {
            Some(i) => {
                tokens.push(word[..i].to_string());
                tokens.push(word[i..].to_string());
            }
            None => tokens.push(word.to_string()),
        }
    }
    if tokens.is_empty() {
        return Err("it is empty".to_string());
    }
    let overflow = || "out of range".to_string();
    let mut total = IntervalValue::default();
    let mut ago = false;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].as_str();
        if token.eq_ignore_ascii_case("ago") && i == tokens.len() - 1 {
            ago = true;
            i += 1;
            continue;
        }
        if token.contains(':') {
            total.micros = total.micros.checked_add(parse_time(token)?).ok_or_else(overflow)?;
            i += 1;
            continue;
        }
        let n = parse_number(token).ok_or_else(|| format!("'{token}' is not a number"))?;
        let next = tokens.get(i + 1).map(String::as_str);
        let (unit, used) = match next {
            Some(t) if t.contains(':') => (Part::Day, 1),
            Some(t) if !t.eq_ignore_ascii_case("ago") => {
                (interval_unit(t).ok_or_else(|| format!("'{t}' is not an interval unit"))?, 2)
            }
            _ => (Part::Second, 1),
        };
        total = total.checked_add(scaled(n, unit)?).ok_or_else(overflow)?;
        i += used;
    }
    if ago {
        total = total.checked_neg().ok_or_else(overflow)?;
    }
    Ok(total)
}

/// `[-]H[:M[:S[.f]]]` as microseconds.
fn parse_time(text: &str) -> std::result::Result<i64, String> {
    parse_clock(text, Part::Hour)
}

/// Colon-separated fields starting at `first` (hours or minutes), with a sign in front.
fn parse_clock(text: &str, first: Part) -> std::result::Result<i64, String> {
    let bad = || format!("'{text}' is not a time");
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let units: &[i64] = match first {
        Part::Hour => &[3_600_000_000, 60_000_000, 1_000_000],
        Part::Minute => &[60_000_000, 1_000_000],
        _ => &[1_000_000],
    };
    let fields: Vec<&str> = body.split(':').collect();
    if fields.len() > units.len() {
        return Err(bad());
    }
    let mut micros: i64 = 0;
    for (k, (field, unit)) in fields.iter().zip(units).enumerate() {
        let last = k == fields.len() - 1;
        let n = parse_number(field).filter(|n| last || n.fraction == 0.0).ok_or_else(bad)?;
        if n.whole < 0 {
            return Err(bad());
        }
        let part = n.whole.checked_mul(*unit).ok_or_else(bad)? + (n.fraction * *unit as f64).round() as i64;
        micros = micros.checked_add(part).ok_or_else(bad)?;
    }
    Ok(if negative { -micros } else { micros })
}

/// The SQL-standard ranges: `'1-2' YEAR TO MONTH`, `'1 10:30:00' DAY TO SECOND`,
/// `'10:30' HOUR TO MINUTE`, `'10:30' MINUTE TO SECOND`.
fn parse_field_range(text: &str, leading: Part, last: Part) -> std::result::Result<IntervalValue, String> {
    let text = text.trim();
    match (leading, last) {
        (Part::Year, Part::Month) => {
            let (negative, body) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let (y, m) = body.split_once('-').unwrap_or((body, "0"));
            let (y, m): (i64, i64) = match (y.parse(), m.parse()) {
                (Ok(y), Ok(m)) => (y, m),
                _ => return Err("expected 'years-months'".to_string()),
            };
            let months = y.checked_mul(12).and_then(|v| v.checked_add(m)).ok_or("out of range")?;
            Ok(IntervalValue { months: if negative { -months } else { months }, ..Default::default() })
        }
        (Part::Day, Part::Hour | Part::Minute | Part::Second) => {
            let (days, clock) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            let days = parse_number(days).filter(|n| n.fraction == 0.0).ok_or("expected 'days hh:mm:ss'")?.whole;
            let clock = clock.trim();
            let micros = if clock.is_empty() { 0 } else { parse_clock(clock, Part::Hour)? };
            let micros = if days < 0 { -micros } else { micros };
            Ok(IntervalValue { months: 0, days, micros })
        }
        (Part::Hour | Part::Minute, Part::Minute | Part::Second) => {
            Ok(IntervalValue { micros: parse_clock(text, leading)?, ..Default::default() })
        }
        _ => Err(format!("{leading:?} TO {last:?} is not an interval range").to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn text(s: &str) -> IntervalValue {
        parse_interval_text(s).unwrap()
    }

    fn iv(months: i64, days: i64, micros: i64) -> IntervalValue {
        IntervalValue { months, days, micros }
    }

    #[test]
    fn postgres_text_forms() {
        assert_eq!(text("1 day"), iv(0, 1, 0));
        assert_eq!(text("1 year 2 months"), iv(14, 0, 0));
        assert_eq!(text("3days 2h"), iv(0, 3, 2 * HOUR));
        assert_eq!(text("1 week"), iv(0, 7, 0));
        assert_eq!(text("1 10:30"), iv(0, 1, 10 * HOUR + 30 * 60_000_000));
        assert_eq!(text("-01:00:00.5"), iv(0, 0, -HOUR - 500_000));
        assert_eq!(text("90"), iv(0, 0, 90_000_000));
        assert_eq!(text("2 days ago"), iv(0, -2, 0));
        assert_eq!(text("1.5 month"), iv(1, 15, 0));
        assert_eq!(text("1.5 days"), iv(0, 1, 12 * HOUR));
        assert_eq!(text("-1 quarter"), iv(-3, 0, 0));
        assert!(parse_interval_text("1 fortnight").unwrap_err().contains("fortnight"));
        assert!(parse_interval_text("").is_err());
        assert!(parse_interval_text("1 dow").is_err());
    }

    #[test]
    fn standard_ranges() {
        assert_eq!(parse_field_range("1-2", Part::Year, Part::Month).unwrap(), iv(14, 0, 0));
        assert_eq!(parse_field_range("-1-6", Part::Year, Part::Month).unwrap(), iv(-18, 0, 0));
        assert_eq!(parse_field_range("2 10:00:00", Part::Day, Part::Second).unwrap(), iv(0, 2, 10 * HOUR));
        assert_eq!(parse_field_range("10:30", Part::Minute, Part::Second).unwrap(), iv(0, 0, 630_000_000));
        assert!(parse_field_range("1", Part::Second, Part::Year).is_err());
    }

    #[test]
    fn months_first_then_days() {
        let jan31 = crate::expr::functions::calendar::days_from_civil(2019, 1, 31) * MICROS_PER_DAY;
        let mar1 = crate::expr::functions::calendar::days_from_civil(2019, 3, 1) * MICROS_PER_DAY;
        assert_eq!(iv(1, 1, 0).add_to(jan31), Some(mar1));
        assert_eq!(iv(0, 0, 1).add_to(i64::MAX), None);
    }

    #[test]
    fn midnight_literals_compare_as_dates() {
        let midnight = Expr::Literal(ScalarValue::TimestampMicros(Some(3 * MICROS_PER_DAY)));
        let (e, ty) = midnight_as_date(midnight, TIMESTAMP, &DataType::Date32);
        assert_eq!((e, ty), (Expr::Literal(ScalarValue::Date32(Some(3))), DataType::Date32));
        let noon = Expr::Literal(ScalarValue::TimestampMicros(Some(MICROS_PER_DAY / 2)));
        assert_eq!(midnight_as_date(noon.clone(), TIMESTAMP, &DataType::Date32).1, TIMESTAMP);
        assert_eq!(midnight_as_date(noon, TIMESTAMP, &TIMESTAMP).1, TIMESTAMP);
    }
}
