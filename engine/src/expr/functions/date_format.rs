//! Athena/Presto date text and epoch functions: `date_format(ts, fmt)` and `date_parse(text, fmt)`
//! with MySQL-style `%` specifiers as Presto defines them ("Date and Time Functions", MySQL date
//! functions), `from_iso8601_timestamp`, `from_iso8601_date`, `from_unixtime` and `to_unixtime`.
//! Tarn's TIMESTAMP has no time zone: values with an offset are converted to UTC.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Date32Array, Float64Array, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Float64Type, TimestampMicrosecondType};
use chrono::{Datelike, NaiveDate};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_usage, string_arg, wrong_arg};
use crate::expr::functions::calendar::{
    civil_from_days, day_of, days_from_civil, weekday_from_sunday, MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE,
    MICROS_PER_SECOND,
};
use crate::expr::functions::datetime::timestamp_arg;
use crate::expr::functions::to_char::{Input, Parsed, DAY_NAMES, MONTH_NAMES};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::{is_numeric, TIMESTAMP};

/// Registers the Presto date text and epoch functions.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(DateFormat));
    registry.register_scalar(Arc::new(DateParse));
    registry.register_scalar(Arc::new(FromIso8601 { name: "from_iso8601_timestamp", date: false }));
    registry.register_scalar(Arc::new(FromIso8601 { name: "from_iso8601_date", date: true }));
    registry.register_scalar(Arc::new(FromUnixtime));
    registry.register_scalar(Arc::new(ToUnixtime));
}

/// One piece of a `%` format.
#[derive(Debug, Clone, PartialEq)]
enum Spec {
    Literal(char),
    Field(char),
}

/// Specifiers Presto rejects ("not supported yet" in its docs).
const UNSUPPORTED: &[char] = &['U', 'u', 'V', 'w', 'X'];

fn compile(name: &str, format: &str) -> Result<Vec<Spec>> {
    let mut specs = Vec::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            specs.push(Spec::Literal(c));
            continue;
        }
        match chars.next() {
            Some(s) if UNSUPPORTED.contains(&s) => {
                return Err(EngineError::execution(format!(
                    "function {name}: the specifier %{s} in '{format}' is not supported (as in Presto)"
                )))
            }
            Some(s) if "abcDdefHhIijklMmprSsTvWxYy".contains(s) => specs.push(Spec::Field(s)),
            // `%%` is a percent sign; `%x` for an unlisted x is x.
            Some(s) => specs.push(Spec::Literal(s)),
            None => specs.push(Spec::Literal('%')),
        }
    }
    Ok(specs)
}

fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn format_into(specs: &[Spec], micros: i64, out: &mut String) {
    let days = day_of(micros);
    let time = micros - days * MICROS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        time / MICROS_PER_HOUR,
        time % MICROS_PER_HOUR / MICROS_PER_MINUTE,
        time % MICROS_PER_MINUTE / MICROS_PER_SECOND,
    );
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let weekday = weekday_from_sunday(days) as usize;
    let meridiem = if hour < 12 { "AM" } else { "PM" };
    let iso = || NaiveDate::from_ymd_opt(year as i32, month, day).map(|d| d.iso_week());
    for spec in specs {
        match spec {
            Spec::Literal(c) => out.push(*c),
            Spec::Field(f) => {
                let text = match f {
                    'a' => DAY_NAMES[weekday][..3].to_string(),
                    'b' => MONTH_NAMES[month as usize - 1][..3].to_string(),
                    'c' => month.to_string(),
                    'D' => format!("{day}{}", ordinal_suffix(day)),
                    'd' => format!("{day:02}"),
                    'e' => day.to_string(),
                    'f' => format!("{:06}", time % MICROS_PER_SECOND),
                    'H' => format!("{hour:02}"),
                    'h' | 'I' => format!("{hour12:02}"),
                    'i' => format!("{minute:02}"),
                    'j' => format!("{:03}", days - days_from_civil(year, 1, 1) + 1),
                    'k' => hour.to_string(),
                    'l' => hour12.to_string(),
                    'M' => MONTH_NAMES[month as usize - 1].to_string(),
                    'm' => format!("{month:02}"),
                    'p' => meridiem.to_string(),
                    'r' => format!("{hour12:02}:{minute:02}:{second:02} {meridiem}"),
                    'S' | 's' => format!("{second:02}"),
                    'T' => format!("{hour:02}:{minute:02}:{second:02}"),
                    'v' => format!("{:02}", iso().map_or(1, |w| w.week())),
                    'W' => DAY_NAMES[weekday].to_string(),
                    'x' => format!("{:04}", iso().map_or(year, |w| w.year() as i64)),
                    'Y' => format!("{year:04}"),
                    _ => format!("{:02}", year.rem_euclid(100)),
                };
                out.push_str(&text);
            }
        }
    }
}

fn parse_with(specs: &[Spec], text: &str) -> std::result::Result<i64, String> {
    let mut input = Input { chars: text.chars().collect(), pos: 0 };
    let mut parts = Parsed::default();
    for spec in specs {
        match spec {
            Spec::Literal(c) => {
                if input.peek() != Some(*c) {
                    return Err(format!("expected '{c}' at position {}", input.pos + 1));
                }
                input.pos += 1;
            }
            Spec::Field(f) => match f {
                'Y' => parts.year = Some(input.digits(4, "a year")?.0),
                // Two-digit years pivot on 2020 as in Presto: 70..99 are 19xx.
                'y' => {
                    let y = input.digits(2, "a year")?.0;
                    parts.year = Some(if y < 70 { 2000 + y } else { 1900 + y });
                }
                'm' | 'c' => parts.month = Some(input.digits(2, "a month")?.0 as u32),
                'd' | 'e' => parts.day = Some(input.digits(2, "a day")?.0 as u32),
                'H' | 'k' => parts.hour = input.digits(2, "an hour")?.0,
                'h' | 'I' | 'l' => {
                    parts.hour = input.digits(2, "an hour")?.0;
                    parts.twelve_hour = true;
                }
                'i' => parts.minute = input.digits(2, "minutes")?.0,
                'S' | 's' => parts.second = input.digits(2, "seconds")?.0,
                'f' => {
                    let (v, n) = input.digits(9, "a fraction of a second")?;
                    parts.micros = if n <= 6 { v * 10i64.pow(6 - n as u32) } else { v / 10i64.pow(n as u32 - 6) };
                }
                'p' => parts.pm = Some(input.meridiem()?),
                'b' | 'M' => parts.month = Some(input.name(&MONTH_NAMES, "a month name")? as u32 + 1),
                'a' | 'W' => {
                    input.name(&DAY_NAMES, "a day name")?;
                }
                'j' => parts.day_of_year = Some(input.digits(3, "a day of the year")?.0),
                'T' | 'r' => {
                    parts.hour = input.digits(2, "an hour")?.0;
                    for (what, slot) in [("minutes", 0), ("seconds", 1)] {
                        if input.peek() != Some(':') {
                            return Err(format!("expected ':' at position {}", input.pos + 1));
                        }
                        input.pos += 1;
                        let v = input.digits(2, what)?.0;
                        if slot == 0 {
                            parts.minute = v;
                        } else {
                            parts.second = v;
                        }
                    }
                    if *f == 'r' {
                        parts.twelve_hour = true;
                        parts.pm = Some(input.meridiem()?);
                    }
                }
                other => return Err(format!("%{other} cannot be parsed")),
            },
        }
    }
    if input.pos < input.chars.len() {
        return Err(format!("unexpected text at position {}", input.pos + 1));
    }
    parts.to_micros()
}

fn text_args(name: &str, args: &[DataType], usage: &str) -> Result<Vec<DataType>> {
    check_usage(name, args, 2, 2, usage)?;
    let mut types = vec![match &args[0] {
        DataType::Date32 | DataType::Timestamp(_, _) if name == "date_format" => TIMESTAMP,
        _ if name == "date_format" => timestamp_arg(name, 0, &args[0])?,
        DataType::Utf8 | DataType::Null => DataType::Utf8,
        other => return Err(wrong_arg(name, 0, "text", other)),
    }];
    types.push(match &args[1] {
        DataType::Utf8 | DataType::Null => DataType::Utf8,
        other => return Err(wrong_arg(name, 1, "a format text", other)),
    });
    Ok(types)
}

/// Compiled formats of a format column: once when constant, again only when the text changes.
fn with_formats<T>(
    name: &str,
    formats: &arrow::array::StringArray,
    mut each: impl FnMut(usize, Option<&[Spec]>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut last: Option<(String, Vec<Spec>)> = None;
    let mut out = Vec::with_capacity(formats.len());
    for row in 0..formats.len() {
        if formats.is_null(row) {
            out.push(each(row, None)?);
            continue;
        }
        let text = formats.value(row);
        if last.as_ref().is_none_or(|(t, _)| t != text) {
            last = Some((text.to_string(), compile(name, text)?));
        }
        out.push(each(row, last.as_ref().map(|(_, s)| s.as_slice()))?);
    }
    Ok(out)
}

/// `date_format(ts, fmt)`: a timestamp as text by `%` specifiers.
struct DateFormat;

impl ScalarFunction for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let arg_types = text_args(self.name(), args, "date_format(timestamp, format)")?;
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let ts = arg_array(&args[0], &TIMESTAMP, num_rows)?;
        let ts = ts.as_primitive::<TimestampMicrosecondType>();
        let formats = string_arg(&args[1], num_rows)?;
        let mut out = StringBuilder::with_capacity(num_rows, num_rows * 16);
        let mut buffer = String::new();
        with_formats(self.name(), &formats, |row, specs| {
            match (ts.is_valid(row), specs) {
                (true, Some(specs)) => {
                    buffer.clear();
                    format_into(specs, ts.value(row), &mut buffer);
                    out.append_value(&buffer);
                }
                _ => out.append_null(),
            }
            Ok(())
        })?;
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `date_parse(text, fmt)`: a TIMESTAMP read by `%` specifiers; the whole text must match.
struct DateParse;

impl ScalarFunction for DateParse {
    fn name(&self) -> &str {
        "date_parse"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let arg_types = text_args(self.name(), args, "date_parse(text, format)")?;
        Ok(Signature { arg_types, return_type: TIMESTAMP })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let texts = string_arg(&args[0], num_rows)?;
        let formats = string_arg(&args[1], num_rows)?;
        let out = with_formats(self.name(), &formats, |row, specs| {
            let (Some(specs), true) = (specs, texts.is_valid(row)) else { return Ok(None) };
            let text = texts.value(row);
            parse_with(specs, text).map(Some).map_err(|why| {
                EngineError::execution(format!(
                    "function date_parse: cannot parse '{text}' with format '{}': {why}",
                    formats.value(row)
                ))
            })
        })?;
        Ok(ColumnarValue::Array(Arc::new(TimestampMicrosecondArray::from(out))))
    }
}

/// An ISO 8601 timestamp `YYYY-MM-DD[THH[:MM[:SS[.fff]]]][Z|±HH[:MM]]` in UTC microseconds.
fn parse_iso8601(text: &str) -> std::result::Result<i64, String> {
    let mut input = Input { chars: text.trim().chars().collect(), pos: 0 };
    let expect = |input: &mut Input, c: char| {
        if input.peek() == Some(c) {
            input.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{c}' at position {}", input.pos + 1))
        }
    };
    let mut parts = Parsed { year: Some(input.digits(4, "a year")?.0), ..Parsed::default() };
    expect(&mut input, '-')?;
    parts.month = Some(input.digits(2, "a month")?.0 as u32);
    expect(&mut input, '-')?;
    parts.day = Some(input.digits(2, "a day")?.0 as u32);
    if matches!(input.peek(), Some('T' | 't' | ' ')) {
        input.pos += 1;
        parts.hour = input.digits(2, "an hour")?.0;
        if input.peek() == Some(':') {
            input.pos += 1;
            parts.minute = input.digits(2, "minutes")?.0;
            if input.peek() == Some(':') {
                input.pos += 1;
                parts.second = input.digits(2, "seconds")?.0;
                if matches!(input.peek(), Some('.' | ',')) {
                    input.pos += 1;
                    let (v, n) = input.digits(9, "a fraction of a second")?;
                    parts.micros = if n <= 6 { v * 10i64.pow(6 - n as u32) } else { v / 10i64.pow(n as u32 - 6) };
                }
            }
        }
    }
    let mut offset = 0;
    match input.peek() {
        Some('Z' | 'z') => input.pos += 1,
        Some(sign @ ('+' | '-')) => {
            input.pos += 1;
            let hours = input.digits(2, "an offset hour")?.0;
            if input.peek() == Some(':') {
                input.pos += 1;
            }
            let minutes =
                if input.peek().is_some_and(|c| c.is_ascii_digit()) { input.digits(2, "offset minutes")?.0 } else { 0 };
            offset = (hours * MICROS_PER_HOUR + minutes * MICROS_PER_MINUTE) * if sign == '-' { -1 } else { 1 };
        }
        _ => {}
    }
    if input.pos < input.chars.len() {
        return Err(format!("unexpected text at position {}", input.pos + 1));
    }
    Ok(parts.to_micros()? - offset)
}

/// `from_iso8601_timestamp(text)` (a TIMESTAMP, in UTC) and `from_iso8601_date(text)` (a DATE).
struct FromIso8601 {
    name: &'static str,
    date: bool,
}

impl ScalarFunction for FromIso8601 {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name, args, 1, 1, &format!("{}(text)", self.name))?;
        if !matches!(args[0], DataType::Utf8 | DataType::Null) {
            return Err(wrong_arg(self.name, 0, "text", &args[0]));
        }
        let return_type = if self.date { DataType::Date32 } else { TIMESTAMP };
        Ok(Signature { arg_types: vec![DataType::Utf8], return_type })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let texts = string_arg(&args[0], num_rows)?;
        let micros = texts
            .iter()
            .map(|t| {
                t.map(|t| {
                    parse_iso8601(t).map_err(|why| {
                        EngineError::execution(format!("function {}: '{t}' is not an ISO 8601 value: {why}", self.name))
                    })
                })
                .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        if self.date {
            let out: Date32Array = micros.into_iter().map(|m| m.map(|m| day_of(m) as i32)).collect();
            return Ok(ColumnarValue::Array(Arc::new(out)));
        }
        Ok(ColumnarValue::Array(Arc::new(TimestampMicrosecondArray::from(micros))))
    }
}

/// Seconds since 1970-01-01 (with fraction) as TIMESTAMP microseconds; NaN, infinities and
/// values beyond the timestamp range are errors naming the value.
pub(crate) fn from_seconds(name: &str, seconds: &Float64Array) -> Result<TimestampMicrosecondArray> {
    const LIMIT: f64 = 8.2e12; // about year 262000 in seconds, chrono's range
    let mut out = Vec::with_capacity(seconds.len());
    for v in seconds.iter() {
        out.push(match v {
            Some(s) if s.is_finite() && s.abs() < LIMIT => Some((s * MICROS_PER_SECOND as f64).round() as i64),
            Some(s) => return Err(EngineError::execution(format!("function {name}: {s} seconds is out of range"))),
            None => None,
        });
    }
    Ok(TimestampMicrosecondArray::from(out))
}

/// `from_unixtime(seconds)`: the TIMESTAMP (UTC) that many seconds after 1970-01-01.
struct FromUnixtime;

impl ScalarFunction for FromUnixtime {
    fn name(&self) -> &str {
        "from_unixtime"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "from_unixtime(double)")?;
        if !(is_numeric(&args[0]) || args[0] == DataType::Null) {
            return Err(wrong_arg(self.name(), 0, "a number", &args[0]));
        }
        Ok(Signature { arg_types: vec![DataType::Float64], return_type: TIMESTAMP })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let seconds = arg_array(&args[0], &DataType::Float64, num_rows)?;
        Ok(ColumnarValue::Array(Arc::new(from_seconds(self.name(), seconds.as_primitive::<Float64Type>())?)))
    }
}

/// `to_unixtime(ts)`: seconds since 1970-01-01 as DOUBLE PRECISION.
struct ToUnixtime;

impl ScalarFunction for ToUnixtime {
    fn name(&self) -> &str {
        "to_unixtime"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "to_unixtime(timestamp)")?;
        Ok(Signature { arg_types: vec![timestamp_arg(self.name(), 0, &args[0])?], return_type: DataType::Float64 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let ts = arg_array(&args[0], &TIMESTAMP, num_rows)?;
        let out: Float64Array =
            ts.as_primitive::<TimestampMicrosecondType>().unary(|m| m as f64 / MICROS_PER_SECOND as f64);
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::cast::format_timestamp_micros as show;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, mo, d) * MICROS_PER_DAY
            + h * MICROS_PER_HOUR
            + mi * MICROS_PER_MINUTE
            + s * MICROS_PER_SECOND
    }

    fn fmt(micros: i64, format: &str) -> String {
        let mut out = String::new();
        format_into(&compile("date_format", format).unwrap(), micros, &mut out);
        out
    }

    #[test]
    fn formats_presto_specifiers() {
        let t = at(2019, 5, 3, 14, 5, 9) + 123_000;
        assert_eq!(fmt(t, "%Y-%m-%d %H:%i:%s"), "2019-05-03 14:05:09");
        assert_eq!(fmt(t, "%Y-%m"), "2019-05");
        assert_eq!(fmt(t, "%a %b %e %D %M %W %c"), "Fri May 3 3rd May Friday 5");
        assert_eq!(fmt(t, "%h:%i %p|%r|%T|%f"), "02:05 PM|02:05:09 PM|14:05:09|123000");
        assert_eq!(fmt(t, "%j %k %l %y %v %x %%"), "123 14 2 19 18 2019 %");
        assert!(compile("date_format", "%U").is_err());
    }

    #[test]
    fn parses_presto_specifiers() {
        let parse = |text: &str, format: &str| parse_with(&compile("date_parse", format).unwrap(), text);
        assert_eq!(parse("2019-05-03 14:05:09", "%Y-%m-%d %H:%i:%s").map(show), Ok("2019-05-03 14:05:09".into()));
        assert_eq!(parse("03/May/2019:02:05:09 PM", "%d/%b/%Y:%r").map(show), Ok("2019-05-03 14:05:09".into()));
        assert_eq!(parse("2019-05-03 14:05:09.5", "%Y-%m-%d %T.%f").map(show), Ok("2019-05-03 14:05:09.5".into()));
        assert!(parse("2019-05-03x", "%Y-%m-%d").is_err());
        assert!(parse("2019-02-29", "%Y-%m-%d").is_err());
    }

    #[test]
    fn iso8601_with_offsets() {
        assert_eq!(parse_iso8601("2019-05-03T14:05:09Z").map(show), Ok("2019-05-03 14:05:09".into()));
        assert_eq!(parse_iso8601("2019-05-03T14:05:09.25+02:00").map(show), Ok("2019-05-03 12:05:09.25".into()));
        assert_eq!(parse_iso8601("2019-05-03").map(show), Ok("2019-05-03 00:00:00".into()));
        assert!(parse_iso8601("2019-05-03T").is_err());
    }

    #[test]
    fn unixtime_round_trip() {
        let seconds = Float64Array::from(vec![Some(1.5), None]);
        let ts = from_seconds("from_unixtime", &seconds).unwrap();
        assert_eq!(ts.value(0), 1_500_000);
        assert!(ts.is_null(1));
        assert!(from_seconds("from_unixtime", &Float64Array::from(vec![f64::NAN])).is_err());
    }
}
