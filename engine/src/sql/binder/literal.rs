//! Literals and type names: SQL number spellings to the narrowest fitting type, `DATE '...'` and
//! `TIMESTAMP '...'` to their values, and type names through the catalog's one parser of them.

use arrow::datatypes::DataType;
use chrono::{NaiveDate, NaiveDateTime};
use sqlparser::ast;
use sqlparser::tokenizer::Span;
use tarn_catalog::SqlType;

use crate::error::Result;
use crate::plan::ScalarValue;
use crate::sql::binder::plan_err;

/// A numeric literal: integers are `Int32` when they fit, else `Int64`, else `decimal(38,0)`;
/// `1.50` is `decimal(3,2)` (its written precision and scale, as PostgreSQL types it); exponent
/// notation (`1e3`) is `Float64`.
pub(crate) fn number(text: &str, negative: bool, span: Span) -> Result<ScalarValue> {
    let signed = if negative { format!("-{text}") } else { text.to_string() };
    if text.contains(['e', 'E']) {
        return signed
            .parse::<f64>()
            .map(|v| ScalarValue::Float64(Some(v)))
            .map_err(|_| plan_err(format!("invalid number '{text}'"), span));
    }
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if !int_part.chars().chain(frac_part.chars()).all(|c| c.is_ascii_digit()) {
        return Err(plan_err(format!("invalid number '{text}'"), span));
    }
    if frac_part.is_empty() && !text.contains('.') {
        if let Ok(v) = signed.parse::<i32>() {
            return Ok(ScalarValue::Int32(Some(v)));
        }
        if let Ok(v) = signed.parse::<i64>() {
            return Ok(ScalarValue::Int64(Some(v)));
        }
    }
    let int_digits = int_part.trim_start_matches('0');
    let scale = frac_part.len();
    let precision = (int_digits.len() + scale).max(1);
    if precision > 38 {
        return signed
            .parse::<f64>()
            .map(|v| ScalarValue::Float64(Some(v)))
            .map_err(|_| plan_err(format!("invalid number '{text}'"), span));
    }
    let digits = format!("{int_digits}{frac_part}");
    let unscaled: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| plan_err(format!("invalid number '{text}'"), span))?
    };
    let unscaled = if negative { -unscaled } else { unscaled };
    Ok(ScalarValue::Decimal128(Some(unscaled), precision as u8, scale as i8))
}

/// The Arrow type of a SQL type name, parsed by the catalog so `varchar(32)`, `int4` and
/// `decimal(10,2)` mean what they mean in `CREATE TABLE`.
pub(crate) fn data_type(ty: &ast::DataType, span: Span) -> Result<DataType> {
    let text = ty.to_string();
    if text.eq_ignore_ascii_case("interval") {
        return Ok(crate::plan::types::INTERVAL);
    }
    SqlType::parse(&text).map(|t| t.to_arrow()).map_err(|_| plan_err(format!("unknown type '{text}'"), span))
}

/// `DATE '2024-01-31'`, `TIMESTAMP '2024-01-31 10:00:00[.ffffff]'` and the like.
pub(crate) fn typed_string(ty: &DataType, text: &str, span: Span) -> Result<ScalarValue> {
    match ty {
        DataType::Date32 => parse_date(text)
            .map(|d| ScalarValue::Date32(Some(d)))
            .ok_or_else(|| plan_err(format!("invalid date '{text}': expected YYYY-MM-DD"), span)),
        DataType::Timestamp(..) => {
            parse_timestamp(text).map(|t| ScalarValue::TimestampMicros(Some(t))).ok_or_else(|| {
                plan_err(format!("invalid timestamp '{text}': expected YYYY-MM-DD HH:MM:SS[.ffffff]"), span)
            })
        }
        DataType::Utf8 => Ok(ScalarValue::Utf8(Some(text.to_string()))),
        other => Err(plan_err(format!("typed literals of type {other} are not supported yet"), span)),
    }
}

/// Days since the Unix epoch.
pub(crate) fn parse_date(text: &str) -> Option<i32> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some((date - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

/// Microseconds since the Unix epoch; a bare date is midnight.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let parsed = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    Some(parsed.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_take_the_narrowest_type() {
        let s = Span::empty();
        assert_eq!(number("42", false, s).unwrap(), ScalarValue::Int32(Some(42)));
        assert_eq!(number("3000000000", false, s).unwrap(), ScalarValue::Int64(Some(3_000_000_000)));
        assert_eq!(number("2147483648", true, s).unwrap(), ScalarValue::Int32(Some(i32::MIN)));
        assert_eq!(number("1.50", false, s).unwrap(), ScalarValue::Decimal128(Some(150), 3, 2));
        assert_eq!(number("0.5", true, s).unwrap(), ScalarValue::Decimal128(Some(-5), 1, 1));
        assert_eq!(number("1e3", false, s).unwrap(), ScalarValue::Float64(Some(1000.0)));
    }

    #[test]
    fn dates_and_timestamps_parse() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000_000));
        assert_eq!(parse_date("2024-13-01"), None);
    }
}
