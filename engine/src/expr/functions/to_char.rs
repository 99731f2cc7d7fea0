//! `TO_CHAR(ts, fmt)`, `TO_DATE(text, fmt)` and `TO_TIMESTAMP(text, fmt)` with the
//! PostgreSQL/Redshift template patterns ("Datetime format strings" in the Redshift docs, "Template
//! Patterns for Date/Time Formatting" in PostgreSQL's). A format is compiled once into tokens
//! and then applied to every row.
//!
//! A number with a format formats by the numeric patterns instead (see `number`).
//!
//! Patterns: `YYYY YYY YY Y IYYY`, `MM MONTH Month month MON Mon mon`, `DD DDD D ID DAY Day day DY
//! Dy dy`, `HH HH12 HH24 MI SS MS US SSSS`, `AM PM A.M. P.M.` (any case), `Q WW IW W CC J`, the `FM`
//! prefix (no padding), `"quoted text"` and `\x` escapes; any other character is copied. Parsing
//! follows PostgreSQL: separators in the format match any one non-alphanumeric input character,
//! `MS`/`US` digits are a fraction of a second, and years of fewer than four digits are taken
//! near 2020.

mod number;

use std::sync::Arc;

use arrow::array::{Array, AsArray, Date32Array, StringArray, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType};
use chrono::{Datelike, NaiveDate};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_usage, string_arg, wrong_arg};
use crate::expr::functions::calendar::{
    civil_from_days, day_of, days_from_civil, days_in_month, weekday_from_sunday, MICROS_PER_DAY, MICROS_PER_HOUR,
    MICROS_PER_MINUTE, MICROS_PER_SECOND,
};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::{is_integer, is_numeric, TIMESTAMP};

/// Registers `to_char`, `to_date` and `to_timestamp`.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(ToChar));
    registry.register_scalar(Arc::new(ToDate));
    registry.register_scalar(Arc::new(ToTimestamp));
}

pub(crate) const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Indexed by `weekday_from_sunday`.
pub(crate) const DAY_NAMES: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Upper,
    Capital,
    Lower,
}

impl Case {
    /// The case a name pattern asks for: `MONTH`, `Month` or `month`.
    fn of(pattern: &str) -> Case {
        let mut chars = pattern.chars();
        match (chars.next(), chars.next()) {
            (Some(a), _) if a.is_lowercase() => Case::Lower,
            (Some(_), Some(b)) if b.is_lowercase() => Case::Capital,
            _ => Case::Upper,
        }
    }

    fn apply(self, name: &str, out: &mut String) {
        match self {
            Case::Upper => out.push_str(&name.to_uppercase()),
            Case::Lower => out.push_str(&name.to_lowercase()),
            Case::Capital => out.push_str(name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Year(usize),
    IsoYear,
    Month,
    MonthName { case: Case, short: bool },
    Day,
    DayOfYear,
    DayOfWeek,
    IsoDayOfWeek,
    DayName { case: Case, short: bool },
    Hour24,
    Hour12,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    SecondsOfDay,
    Meridiem { upper: bool, dots: bool },
    Quarter,
    WeekOfYear,
    IsoWeek,
    WeekOfMonth,
    Century,
    Julian,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field { field: Field, fill: bool },
    Literal(String),
}

/// A compiled template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    tokens: Vec<Token>,
}

/// Patterns tried at each position, longest first so `MONTH` wins over `MON` and `MM`.
const PATTERNS: &[&str] = &[
    "HH24", "HH12", "HH", "MONTH", "MON", "MI", "MS", "MM", "SSSS", "SS", "US", "YYYY", "YYY", "YY", "Y", "IYYY", "IW",
    "ID", "DAY", "DDD", "DD", "DY", "D", "A.M.", "P.M.", "AM", "PM", "WW", "W", "Q", "CC", "J",
];

fn field_of(pattern: &str, matched: &str) -> Field {
    let case = Case::of(matched);
    match pattern {
        "HH24" => Field::Hour24,
        "HH12" | "HH" => Field::Hour12,
        "MONTH" => Field::MonthName { case, short: false },
        "MON" => Field::MonthName { case, short: true },
        "MI" => Field::Minute,
        "MS" => Field::Millisecond,
        "MM" => Field::Month,
        "SSSS" => Field::SecondsOfDay,
        "SS" => Field::Second,
        "US" => Field::Microsecond,
        "YYYY" => Field::Year(4),
        "YYY" => Field::Year(3),
        "YY" => Field::Year(2),
        "Y" => Field::Year(1),
        "IYYY" => Field::IsoYear,
        "IW" => Field::IsoWeek,
        "ID" => Field::IsoDayOfWeek,
        "DAY" => Field::DayName { case, short: false },
        "DY" => Field::DayName { case, short: true },
        "DDD" => Field::DayOfYear,
        "DD" => Field::Day,
        "D" => Field::DayOfWeek,
        "A.M." | "P.M." => Field::Meridiem { upper: case != Case::Lower, dots: true },
        "AM" | "PM" => Field::Meridiem { upper: case != Case::Lower, dots: false },
        "WW" => Field::WeekOfYear,
        "W" => Field::WeekOfMonth,
        "Q" => Field::Quarter,
        "CC" => Field::Century,
        _ => Field::Julian,
    }
}

impl Template {
    pub(crate) fn compile(format: &str) -> Template {
        let chars: Vec<char> = format.chars().collect();
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut fill = false;
        let mut i = 0;
        let starts_with = |i: usize, p: &str| {
            p.chars().enumerate().all(|(k, pc)| chars.get(i + k).is_some_and(|c| c.eq_ignore_ascii_case(&pc)))
        };
        while i < chars.len() {
            if chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    literal.push(chars[i]);
                    i += 1;
                }
                i += 1;
                continue;
            }
            if chars[i] == '\\' && i + 1 < chars.len() {
                literal.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if starts_with(i, "FM") {
                fill = true;
                i += 2;
                continue;
            }
            match PATTERNS.iter().find(|p| starts_with(i, p)) {
                Some(p) => {
                    if !literal.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut literal)));
                    }
                    let matched: String = chars[i..i + p.len()].iter().collect();
                    tokens.push(Token::Field { field: field_of(p, &matched), fill });
                    fill = false;
                    i += p.len();
                }
                None => {
                    literal.push(chars[i]);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Template { tokens }
    }

    /// Appends `micros` formatted by the template to `out`.
    pub(crate) fn format(&self, micros: i64, out: &mut String) {
        let days = day_of(micros);
        let time = micros - days * MICROS_PER_DAY;
        let (year, month, day) = civil_from_days(days);
        let hour = time / MICROS_PER_HOUR;
        let weekday = weekday_from_sunday(days);
        let day_of_year = days - days_from_civil(year, 1, 1) + 1;
        let iso = || {
            NaiveDate::from_ymd_opt(year as i32, month, day)
                .map(|d| d.iso_week())
                .map_or((year, 1), |w| (w.year() as i64, w.week()))
        };
        for token in &self.tokens {
            let (field, fill) = match token {
                Token::Literal(text) => {
                    out.push_str(text);
                    continue;
                }
                Token::Field { field, fill } => (*field, *fill),
            };
            let mut number = |value: i64, width: usize| {
                if fill {
                    out.push_str(&value.to_string());
                } else {
                    out.push_str(&format!("{value:0width$}"));
                }
            };
            match field {
                Field::Year(4) => number(year, 4),
                Field::Year(n) => number(year.rem_euclid(10i64.pow(n as u32)), n),
                Field::IsoYear => number(iso().0, 4),
                Field::Month => number(month as i64, 2),
                Field::Day => number(day as i64, 2),
                Field::DayOfYear => number(day_of_year, 3),
                Field::DayOfWeek => number(weekday as i64 + 1, 1),
                Field::IsoDayOfWeek => number(if weekday == 0 { 7 } else { weekday as i64 }, 1),
                Field::Hour24 => number(hour, 2),
                Field::Hour12 => number(if hour % 12 == 0 { 12 } else { hour % 12 }, 2),
                Field::Minute => number(time % MICROS_PER_HOUR / MICROS_PER_MINUTE, 2),
                Field::Second => number(time % MICROS_PER_MINUTE / MICROS_PER_SECOND, 2),
                Field::Millisecond => number(time % MICROS_PER_SECOND / 1_000, 3),
                Field::Microsecond => number(time % MICROS_PER_SECOND, 6),
                Field::SecondsOfDay => number(time / MICROS_PER_SECOND, 1),
                Field::Quarter => number((month as i64 - 1) / 3 + 1, 1),
                Field::WeekOfYear => number((day_of_year - 1) / 7 + 1, 2),
                Field::IsoWeek => number(iso().1 as i64, 2),
                Field::WeekOfMonth => number((day as i64 - 1) / 7 + 1, 1),
                Field::Century => number(if year > 0 { (year - 1) / 100 + 1 } else { year / 100 - 1 }, 2),
                Field::Julian => number(days + 2_440_588, 1),
                Field::MonthName { case, short } => name(MONTH_NAMES[month as usize - 1], case, short, fill, out),
                Field::DayName { case, short } => name(DAY_NAMES[weekday as usize], case, short, fill, out),
                Field::Meridiem { upper, dots } => {
                    let text = match (hour < 12, dots) {
                        (true, false) => "AM",
                        (false, false) => "PM",
                        (true, true) => "A.M.",
                        (false, true) => "P.M.",
                    };
                    out.push_str(&if upper { text.to_string() } else { text.to_lowercase() });
                }
            }
        }
    }

    /// Parses `text` by the template into microseconds since the epoch; the error says what did
    /// not match (the caller adds the value and the format).
    pub(crate) fn parse(&self, text: &str) -> std::result::Result<i64, String> {
        let mut input = Input { chars: text.chars().collect(), pos: 0 };
        let mut parts = Parsed::default();
        for token in &self.tokens {
            match token {
                Token::Literal(literal) => input.literal(literal)?,
                // Numbers read at most their pattern's width, so `YYYYMMDD` parses `20190503`.
                Token::Field { field, .. } => parts.read(*field, &mut input)?,
            }
        }
        parts.to_micros()
    }
}

fn name(full: &str, case: Case, short: bool, fill: bool, out: &mut String) {
    let text = if short { &full[..3] } else { full };
    case.apply(text, out);
    if !short && !fill {
        // Full names are blank-padded to nine characters, the longest name (PostgreSQL).
        out.extend(std::iter::repeat_n(' ', 9 - text.len()));
    }
}

/// Text being parsed, shared with `date_parse`.
pub(crate) struct Input {
    pub(crate) chars: Vec<char>,
    pub(crate) pos: usize,
}

impl Input {
    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// A literal of the format: letters and digits must match, any other character matches any
    /// one non-alphanumeric input character (PostgreSQL's lenient separators).
    fn literal(&mut self, literal: &str) -> std::result::Result<(), String> {
        for lc in literal.chars() {
            match self.peek() {
                Some(c) if c.eq_ignore_ascii_case(&lc) => self.pos += 1,
                Some(c) if !lc.is_alphanumeric() && !c.is_alphanumeric() => self.pos += 1,
                _ if !lc.is_alphanumeric() => {}
                _ => return Err(format!("expected '{lc}' at position {}", self.pos + 1)),
            }
        }
        Ok(())
    }

    /// `AM`/`PM`/`A.M.`/`P.M.` in any case: whether it is PM.
    pub(crate) fn meridiem(&mut self) -> std::result::Result<bool, String> {
        self.skip_spaces();
        let rest: String = self.chars[self.pos..].iter().take(4).collect::<String>().to_uppercase();
        let (pm, len) = if rest.starts_with("A.M.") {
            (false, 4)
        } else if rest.starts_with("P.M.") {
            (true, 4)
        } else if rest.starts_with("AM") {
            (false, 2)
        } else if rest.starts_with("PM") {
            (true, 2)
        } else {
            return Err(format!("expected AM or PM at position {}", self.pos + 1));
        };
        self.pos += len;
        Ok(pm)
    }

    /// Up to `width` digits (at least one); also returns how many were read.
    pub(crate) fn digits(&mut self, width: usize, what: &str) -> std::result::Result<(i64, usize), String> {
        self.skip_spaces();
        let start = self.pos;
        let mut value: i64 = 0;
        while self.pos - start < width {
            match self.peek().and_then(|c| c.to_digit(10)) {
                Some(d) => {
                    value = value * 10 + d as i64;
                    self.pos += 1;
                }
                None => break,
            }
        }
        if self.pos == start {
            return Err(format!("expected {what} at position {}", start + 1));
        }
        Ok((value, self.pos - start))
    }

    /// One of `names` (case-insensitive, full names before their 3-letter forms); its index.
    pub(crate) fn name(&mut self, names: &[&str], what: &str) -> std::result::Result<usize, String> {
        self.skip_spaces();
        let rest: String = self.chars[self.pos..].iter().collect::<String>().to_lowercase();
        for len in [usize::MAX, 3] {
            for (i, n) in names.iter().enumerate() {
                let n = if len == 3 { &n[..3] } else { n };
                if rest.starts_with(&n.to_lowercase()) {
                    self.pos += n.chars().count();
                    return Ok(i);
                }
            }
        }
        Err(format!("expected {what} at position {}", self.pos + 1))
    }
}

/// Fields read so far; PostgreSQL's defaults (year 1, January, day 1, midnight) fill the rest.
#[derive(Default)]
pub(crate) struct Parsed {
    pub(crate) year: Option<i64>,
    pub(crate) month: Option<u32>,
    pub(crate) day: Option<u32>,
    pub(crate) day_of_year: Option<i64>,
    pub(crate) julian: Option<i64>,
    pub(crate) hour: i64,
    pub(crate) twelve_hour: bool,
    pub(crate) pm: Option<bool>,
    pub(crate) minute: i64,
    pub(crate) second: i64,
    pub(crate) micros: i64,
}

/// A year of fewer than four digits, nearest to 2020 (PostgreSQL's `adjust_partial_year_to_2020`).
fn partial_year(year: i64) -> i64 {
    match year {
        0..=69 => year + 2000,
        70..=99 => year + 1900,
        100..=519 => year + 2000,
        520..=999 => year + 1000,
        _ => year,
    }
}

impl Parsed {
    fn read(&mut self, field: Field, input: &mut Input) -> std::result::Result<(), String> {
        match field {
            Field::Year(n) => {
                let (v, digits) = input.digits(n, "a year")?;
                self.year = Some(if n < 4 && digits < 4 { partial_year(v) } else { v });
            }
            Field::IsoYear => self.year = Some(input.digits(4, "a year")?.0),
            Field::Month => self.month = Some(input.digits(2, "a month")?.0 as u32),
            Field::MonthName { .. } => self.month = Some(input.name(&MONTH_NAMES, "a month name")? as u32 + 1),
            Field::Day => self.day = Some(input.digits(2, "a day")?.0 as u32),
            Field::DayOfYear => self.day_of_year = Some(input.digits(3, "a day of the year")?.0),
            Field::DayName { .. } => {
                input.name(&DAY_NAMES, "a day name")?;
            }
            Field::Hour24 => self.hour = input.digits(2, "an hour")?.0,
            Field::Hour12 => {
                self.hour = input.digits(2, "an hour")?.0;
                self.twelve_hour = true;
            }
            Field::Minute => self.minute = input.digits(2, "minutes")?.0,
            Field::Second => self.second = input.digits(2, "seconds")?.0,
            Field::Millisecond => {
                let (v, n) = input.digits(3, "milliseconds")?;
                self.micros += v * 10i64.pow(3 - n as u32) * 1_000;
            }
            Field::Microsecond => {
                let (v, n) = input.digits(6, "microseconds")?;
                self.micros += v * 10i64.pow(6 - n as u32);
            }
            Field::SecondsOfDay => {
                let v = input.digits(5, "seconds of the day")?.0;
                (self.hour, self.minute, self.second) = (v / 3600, v / 60 % 60, v % 60);
            }
            Field::Meridiem { .. } => self.pm = Some(input.meridiem()?),
            Field::Julian => self.julian = Some(input.digits(8, "a Julian day")?.0),
            Field::DayOfWeek
            | Field::IsoDayOfWeek
            | Field::Quarter
            | Field::WeekOfYear
            | Field::IsoWeek
            | Field::WeekOfMonth
            | Field::Century => {
                // Read and ignored, as PostgreSQL ignores them when a full date is given.
                input.digits(2, "a number")?;
            }
        }
        Ok(())
    }

    pub(crate) fn to_micros(&self) -> std::result::Result<i64, String> {
        let days = if let Some(j) = self.julian {
            j - 2_440_588
        } else {
            let year = self.year.unwrap_or(1);
            if let (Some(doy), None) = (self.day_of_year, self.month) {
                let length = if crate::expr::functions::calendar::is_leap_year(year) { 366 } else { 365 };
                if !(1..=length).contains(&doy) {
                    return Err(format!("day of the year {doy} is out of range"));
                }
                days_from_civil(year, 1, 1) + doy - 1
            } else {
                let month = self.month.unwrap_or(1);
                let day = self.day.unwrap_or(1);
                if !(1..=12).contains(&month) {
                    return Err(format!("month {month} is out of range"));
                }
                if day < 1 || day > days_in_month(year, month) {
                    return Err(format!("day {day} is out of range for month {month}"));
                }
                days_from_civil(year, month, day)
            }
        };
        let mut hour = self.hour;
        if self.twelve_hour || self.pm.is_some() {
            if !(1..=12).contains(&hour) {
                return Err(format!("hour {hour} is out of range for a 12-hour clock"));
            }
            hour = hour % 12 + if self.pm == Some(true) { 12 } else { 0 };
        }
        if hour > 23 {
            return Err(format!("hour {hour} is out of range"));
        }
        if self.minute > 59 {
            return Err(format!("minute {} is out of range", self.minute));
        }
        if self.second > 60 {
            return Err(format!("second {} is out of range", self.second));
        }
        Ok(days * MICROS_PER_DAY
            + hour * MICROS_PER_HOUR
            + self.minute * MICROS_PER_MINUTE
            + self.second * MICROS_PER_SECOND
            + self.micros)
    }
}

/// A format argument: compiled once when constant, per row otherwise (remembering the last).
pub(crate) struct Formats<'a> {
    formats: &'a StringArray,
    last: Option<(String, Template)>,
}

impl<'a> Formats<'a> {
    pub(crate) fn new(formats: &'a StringArray) -> Self {
        Formats { formats, last: None }
    }

    /// The template of row `row` (`None` for a NULL format).
    pub(crate) fn get(&mut self, row: usize, compile: impl Fn(&str) -> Template) -> Option<&Template> {
        if self.formats.is_null(row) {
            return None;
        }
        let text = self.formats.value(row);
        if self.last.as_ref().is_none_or(|(t, _)| t != text) {
            self.last = Some((text.to_string(), compile(text)));
        }
        self.last.as_ref().map(|(_, t)| t)
    }
}

/// `TO_CHAR(ts, fmt)`: a date or timestamp as text by a template pattern.
struct ToChar;

impl ScalarFunction for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 2, 2, "to_char(timestamp, format) or to_char(number, format)")?;
        let value = match &args[0] {
            DataType::Date32 | DataType::Timestamp(_, _) | DataType::Utf8 | DataType::Null => TIMESTAMP,
            DataType::Decimal128(..) | DataType::Float64 => args[0].clone(),
            DataType::Float32 => DataType::Float64,
            t if is_integer(t) => DataType::Int64,
            other => return Err(wrong_arg(self.name(), 0, "a date, timestamp or number", other)),
        };
        let format = match &args[1] {
            DataType::Utf8 | DataType::Null => DataType::Utf8,
            other => return Err(wrong_arg(self.name(), 1, "a format text", other)),
        };
        Ok(Signature { arg_types: vec![value, format], return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        if is_numeric(&args[0].data_type()) {
            return format_numbers(args, num_rows);
        }
        let ts = arg_array(&args[0], &TIMESTAMP, num_rows)?;
        let ts = ts.as_primitive::<TimestampMicrosecondType>();
        let formats = string_arg(&args[1], num_rows)?;
        let mut formats = Formats::new(&formats);
        let mut out = StringBuilder::with_capacity(num_rows, num_rows * 16);
        let mut buffer = String::new();
        for (row, value) in ts.iter().enumerate() {
            match (value, formats.get(row, Template::compile)) {
                (Some(micros), Some(template)) => {
                    buffer.clear();
                    template.format(micros, &mut buffer);
                    out.append_value(&buffer);
                }
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `TO_CHAR(number, fmt)` over a column: the format compiled once per distinct text.
fn format_numbers(args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
    let values = args[0].clone().into_array(num_rows);
    let formats = string_arg(&args[1], num_rows)?;
    let mut template: Option<(String, number::NumberTemplate)> = None;
    let mut out = StringBuilder::with_capacity(num_rows, num_rows * 12);
    let mut buffer = String::new();
    for row in 0..num_rows {
        if values.is_null(row) || formats.is_null(row) {
            out.append_null();
            continue;
        }
        let format = formats.value(row);
        if template.as_ref().is_none_or(|(text, _)| text != format) {
            template = Some((format.to_string(), number::NumberTemplate::compile(format)?));
        }
        let Some((_, t)) = template.as_ref() else { continue };
        buffer.clear();
        match values.data_type() {
            DataType::Decimal128(_, scale) => {
                t.format_decimal(values.as_primitive::<Decimal128Type>().value(row), *scale, &mut buffer)
            }
            DataType::Float64 => t.format_double(values.as_primitive::<Float64Type>().value(row), &mut buffer),
            DataType::Int64 => {
                t.format_decimal(i128::from(values.as_primitive::<Int64Type>().value(row)), 0, &mut buffer)
            }
            other => return Err(wrong_arg("to_char", 0, "a number", other)),
        }
        out.append_value(&buffer);
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

fn text_and_format(name: &str, args: &[DataType], usage: &str) -> Result<Vec<DataType>> {
    check_usage(name, args, 2, 2, usage)?;
    args.iter()
        .enumerate()
        .map(|(i, t)| match t {
            DataType::Utf8 | DataType::Null => Ok(DataType::Utf8),
            other => Err(wrong_arg(name, i, if i == 0 { "text" } else { "a format text" }, other)),
        })
        .collect()
}

/// Parses every row of `args` (text, format) into microseconds; a failure names the value and
/// the format.
fn parse_rows(name: &str, args: &[ColumnarValue], num_rows: usize) -> Result<Vec<Option<i64>>> {
    let texts = string_arg(&args[0], num_rows)?;
    let formats = string_arg(&args[1], num_rows)?;
    let mut templates = Formats::new(&formats);
    let mut out = Vec::with_capacity(num_rows);
    for (row, text) in texts.iter().enumerate() {
        let (Some(text), Some(template)) = (text, templates.get(row, Template::compile)) else {
            out.push(None);
            continue;
        };
        let micros = template.parse(text).map_err(|why| {
            EngineError::execution(format!(
                "function {name}: cannot parse '{text}' with format '{}': {why}",
                formats.value(row)
            ))
        })?;
        out.push(Some(micros));
    }
    Ok(out)
}

/// `TO_DATE(text, fmt)`: a DATE parsed by a template pattern.
struct ToDate;

impl ScalarFunction for ToDate {
    fn name(&self) -> &str {
        "to_date"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let arg_types = text_and_format(self.name(), args, "to_date(text, format)")?;
        Ok(Signature { arg_types, return_type: DataType::Date32 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let micros = parse_rows(self.name(), args, num_rows)?;
        let out: Date32Array = micros.into_iter().map(|m| m.map(|m| day_of(m) as i32)).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `TO_TIMESTAMP(text, fmt)`: a TIMESTAMP parsed by a template pattern; `TO_TIMESTAMP(seconds)`
/// (PostgreSQL) reads seconds since 1970-01-01.
struct ToTimestamp;

impl ScalarFunction for ToTimestamp {
    fn name(&self) -> &str {
        "to_timestamp"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        if let [t] = args {
            if is_numeric(t) || *t == DataType::Null {
                return Ok(Signature { arg_types: vec![DataType::Float64], return_type: TIMESTAMP });
            }
        }
        let arg_types = text_and_format(self.name(), args, "to_timestamp(text, format) or to_timestamp(seconds)")?;
        Ok(Signature { arg_types, return_type: TIMESTAMP })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        if args.len() == 1 {
            let seconds = arg_array(&args[0], &DataType::Float64, num_rows)?;
            return Ok(ColumnarValue::Array(Arc::new(crate::expr::functions::date_format::from_seconds(
                self.name(),
                seconds.as_primitive::<Float64Type>(),
            )?)));
        }
        let micros = parse_rows(self.name(), args, num_rows)?;
        Ok(ColumnarValue::Array(Arc::new(TimestampMicrosecondArray::from(micros))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, us: i64) -> i64 {
        days_from_civil(y, mo, d) * MICROS_PER_DAY
            + h * MICROS_PER_HOUR
            + mi * MICROS_PER_MINUTE
            + s * MICROS_PER_SECOND
            + us
    }

    fn fmt(micros: i64, format: &str) -> String {
        let mut out = String::new();
        Template::compile(format).format(micros, &mut out);
        out
    }

    #[test]
    fn formats_postgres_patterns() {
        let t = at(2019, 5, 3, 14, 5, 9, 123_456);
        assert_eq!(fmt(t, "YYYY-MM"), "2019-05");
        assert_eq!(fmt(t, "YYYY-MM-DD HH24:MI:SS.MS"), "2019-05-03 14:05:09.123");
        assert_eq!(fmt(t, "US"), "123456");
        assert_eq!(fmt(t, "HH12:MI AM"), "02:05 PM");
        assert_eq!(fmt(t, "hh:mi pm"), "02:05 pm");
        assert_eq!(fmt(t, "Month DD, YYYY"), "May       03, 2019");
        assert_eq!(fmt(t, "FMMonth FMDD, YYYY"), "May 3, 2019");
        assert_eq!(fmt(t, "MONTH|Mon|mon|DY|Day|dy"), "MAY      |May|may|FRI|Friday   |fri");
        assert_eq!(fmt(t, "Q WW IW DDD D ID"), "2 18 18 123 6 5");
        assert_eq!(fmt(t, "YY YYY Y CC"), "19 019 9 21");
        assert_eq!(fmt(t, "\"Week\" IW \"of\" YYYY"), "Week 18 of 2019");
        assert_eq!(fmt(at(2021, 1, 1, 0, 0, 0, 0), "IYYY-IW"), "2020-53");
        assert_eq!(fmt(at(2019, 5, 3, 0, 30, 0, 0), "HH12 AM"), "12 AM");
    }

    #[test]
    fn parses_postgres_patterns() {
        let parse = |text: &str, format: &str| Template::compile(format).parse(text);
        assert_eq!(parse("2019-05-03", "YYYY-MM-DD"), Ok(at(2019, 5, 3, 0, 0, 0, 0)));
        assert_eq!(parse("20190503", "YYYYMMDD"), Ok(at(2019, 5, 3, 0, 0, 0, 0)));
        assert_eq!(parse("03 May 2019", "DD Mon YYYY"), Ok(at(2019, 5, 3, 0, 0, 0, 0)));
        assert_eq!(parse("3 march 19", "DD Month YY"), Ok(at(2019, 3, 3, 0, 0, 0, 0)));
        assert_eq!(parse("2019/5/3 2:05:09.5 PM", "YYYY-MM-DD HH:MI:SS.MS AM"), Ok(at(2019, 5, 3, 14, 5, 9, 500_000)));
        assert_eq!(parse("2019-05-03 14:05:09.000123", "YYYY-MM-DD HH24:MI:SS.US"), Ok(at(2019, 5, 3, 14, 5, 9, 123)));
        assert!(parse("2019-02-30", "YYYY-MM-DD").unwrap_err().contains("day 30"));
        assert!(parse("hello", "YYYY-MM-DD").is_err());
    }

    #[test]
    fn parse_errors_name_value_and_format() {
        let args = [
            ColumnarValue::Scalar(crate::plan::ScalarValue::Utf8(Some("2019-13-01".into()))),
            ColumnarValue::Scalar(crate::plan::ScalarValue::Utf8(Some("YYYY-MM-DD".into()))),
        ];
        let err = ToDate.invoke(&args, 1).unwrap_err().to_string();
        assert!(err.contains("to_date") && err.contains("'2019-13-01'") && err.contains("'YYYY-MM-DD'"), "{err}");
        let err = ToChar.signature(&[DataType::Date32]).unwrap_err().to_string();
        assert!(err.contains("to_char(timestamp, format)"), "{err}");
    }
}
