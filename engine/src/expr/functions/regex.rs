//! Regular expressions: Athena's `regexp_like` and `regexp_extract`, Redshift's
//! `REGEXP_SUBSTR`, `REGEXP_COUNT` and `REGEXP_REPLACE` (which Athena shares). Patterns use the
//! `regex` crate's syntax, a superset of the POSIX EREs Redshift documents minus backreferences.
//! A pattern is compiled once per distinct text in a column (once for a constant).
//!
//! Dialect notes: `REGEXP_REPLACE` replaces every match (Redshift and Presto; PostgreSQL would
//! need the `g` flag) and accepts `\1` (Redshift) and `$1` (Presto) group references;
//! `REGEXP_SUBSTR` answers `''` when nothing matches (Redshift docs) while `regexp_extract`
//! answers NULL (Presto docs). Redshift's parameter letters: `c` case-sensitive, `i`
//! case-insensitive, `p` Perl syntax (always on here), `e` extract the first subexpression.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int32Array, StringArray, StringBuilder};
use arrow::datatypes::DataType;
use regex::{Regex, RegexBuilder};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_usage, int_values, integer_arg, string_arg, text_arg};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;

/// Registers the regular-expression family.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(RegexpLike));
    registry.register_scalar(Arc::new(RegexpReplace));
    registry.register_scalar(Arc::new(RegexpSubstr));
    registry.register_scalar(Arc::new(RegexpExtract));
    registry.register_scalar(Arc::new(RegexpCount));
}

/// Options from a parameter string; `extract` is Redshift's `e`.
#[derive(Default, Clone, Copy, PartialEq)]
struct Flags {
    case_insensitive: bool,
    multi_line: bool,
    dot_all: bool,
    extended: bool,
    extract: bool,
}

fn parse_flags(name: &str, text: &str) -> Result<Flags> {
    let mut flags = Flags::default();
    for c in text.chars() {
        match c {
            'c' => flags.case_insensitive = false,
            'i' => flags.case_insensitive = true,
            'p' | 'g' => {}
            'm' | 'n' => flags.multi_line = true,
            's' => flags.dot_all = true,
            'x' => flags.extended = true,
            'e' => flags.extract = true,
            other => {
                return Err(EngineError::execution(format!(
                    "function {name}: unknown regular expression parameter '{other}'; expected c, i, p, e, m, s or x"
                )))
            }
        }
    }
    Ok(flags)
}

/// Compiled patterns of one call, remembering the last (pattern, flags) pair.
struct Patterns {
    name: &'static str,
    last: Option<(String, String, Regex, Flags)>,
}

impl Patterns {
    fn new(name: &'static str) -> Self {
        Patterns { name, last: None }
    }

    fn get(&mut self, pattern: &str, flag_text: &str) -> Result<(&Regex, Flags)> {
        let fresh = self.last.as_ref().is_none_or(|(p, f, _, _)| p != pattern || f != flag_text);
        if fresh {
            let flags = parse_flags(self.name, flag_text)?;
            let regex = RegexBuilder::new(pattern)
                .case_insensitive(flags.case_insensitive)
                .multi_line(flags.multi_line)
                .dot_matches_new_line(flags.dot_all)
                .ignore_whitespace(flags.extended)
                .build()
                .map_err(|e| {
                    EngineError::execution(format!(
                        "function {}: invalid regular expression '{pattern}': {}",
                        self.name,
                        e.to_string().lines().last().unwrap_or_default()
                    ))
                })?;
            self.last = Some((pattern.to_string(), flag_text.to_string(), regex, flags));
        }
        // Invariant: `last` was set above when it was empty.
        let (_, _, regex, flags) = self.last.as_ref().expect("a compiled pattern");
        Ok((regex, *flags))
    }
}

/// A call's evaluated arguments, the optional trailing ones possibly absent.
struct Row {
    arrays: Vec<Option<StringArray>>,
    ints: Vec<Option<Vec<Option<i64>>>>,
}

impl Row {
    /// `layout[i]` says whether argument `i` is text (`true`) or an integer.
    fn new(args: &[ColumnarValue], layout: &[bool], num_rows: usize) -> Result<Self> {
        let mut arrays = Vec::new();
        let mut ints = Vec::new();
        for (i, is_text) in layout.iter().enumerate() {
            match (args.get(i), is_text) {
                (Some(a), true) => {
                    arrays.push(Some(string_arg(a, num_rows)?));
                    ints.push(None);
                }
                (Some(a), false) => {
                    arrays.push(None);
                    ints.push(Some(int_values(a, num_rows)?));
                }
                (None, _) => {
                    arrays.push(None);
                    ints.push(None);
                }
            }
        }
        Ok(Row { arrays, ints })
    }

    /// Text argument `i` at `row`: `Some(None)` when absent (use the default), `None` when NULL.
    fn text(&self, i: usize, row: usize) -> Option<Option<&str>> {
        match &self.arrays[i] {
            Some(a) if a.is_null(row) => None,
            Some(a) => Some(Some(a.value(row))),
            None => Some(None),
        }
    }

    fn int(&self, i: usize, row: usize) -> Option<Option<i64>> {
        match &self.ints[i] {
            Some(v) => v[row].map(Some),
            None => Some(None),
        }
    }
}

/// Argument types by layout (`true` text, `false` integer) for the `args.len()` given.
fn layout_signature(
    name: &str,
    args: &[DataType],
    layout: &[bool],
    min: usize,
    usage: &str,
    return_type: DataType,
) -> Result<Signature> {
    check_usage(name, args, min, layout.len(), usage)?;
    let arg_types = args
        .iter()
        .zip(layout)
        .enumerate()
        .map(|(i, (t, is_text))| if *is_text { text_arg(name, i, t) } else { integer_arg(name, i, t) })
        .collect::<Result<_>>()?;
    Ok(Signature { arg_types, return_type })
}

/// The byte offset of 1-based character `position` in `s`; an error below 1.
fn start_byte(name: &str, s: &str, position: Option<i64>) -> Result<Option<usize>> {
    match position {
        None | Some(1) => Ok(Some(0)),
        Some(p) if p < 1 => {
            Err(EngineError::execution(format!("function {name}: position must be at least 1, got {p}")))
        }
        Some(p) => Ok(s.char_indices().map(|(b, _)| b).chain(std::iter::once(s.len())).nth(p as usize - 1)),
    }
}

/// `regexp_like(s, pattern[, flags])`: whether `pattern` matches anywhere in `s`.
struct RegexpLike;

impl ScalarFunction for RegexpLike {
    fn name(&self) -> &str {
        "regexp_like"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        layout_signature(
            self.name(),
            args,
            &[true, true, true],
            2,
            "regexp_like(text, pattern[, flags])",
            DataType::Boolean,
        )
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let row = Row::new(args, &[true, true, true], num_rows)?;
        let mut patterns = Patterns::new("regexp_like");
        let mut out = Vec::with_capacity(num_rows);
        for r in 0..num_rows {
            let (Some(Some(s)), Some(Some(p)), Some(f)) = (row.text(0, r), row.text(1, r), row.text(2, r)) else {
                out.push(None);
                continue;
            };
            out.push(Some(patterns.get(p, f.unwrap_or(""))?.0.is_match(s)));
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
    }
}

/// A Redshift (`\1`) or Presto (`$1`, `${name}`) replacement in the `regex` crate's syntax.
fn replacement_syntax(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                chars.next();
                out.push_str(&format!("${{{d}}}"));
            }
            ('\\', Some('\\')) => {
                chars.next();
                out.push('\\');
            }
            ('$', Some(d)) if d.is_ascii_digit() => {
                chars.next();
                out.push_str(&format!("${{{d}}}"));
            }
            ('$', Some('{')) => out.push('$'),
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

/// `REGEXP_REPLACE(s, pattern[, replacement[, position[, parameters]]])`: every match from
/// `position` on replaced (by `''` when no replacement is given).
struct RegexpReplace;

const REPLACE_LAYOUT: [bool; 5] = [true, true, true, false, true];

impl ScalarFunction for RegexpReplace {
    fn name(&self) -> &str {
        "regexp_replace"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let usage = "regexp_replace(text, pattern[, replacement[, position[, parameters]]])";
        layout_signature(self.name(), args, &REPLACE_LAYOUT, 2, usage, DataType::Utf8)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let row = Row::new(args, &REPLACE_LAYOUT, num_rows)?;
        let mut patterns = Patterns::new("regexp_replace");
        let mut out = StringBuilder::with_capacity(num_rows, num_rows * 16);
        let mut last_replacement: Option<(String, String)> = None;
        for r in 0..num_rows {
            let (Some(Some(s)), Some(Some(p)), Some(rep), Some(pos), Some(f)) =
                (row.text(0, r), row.text(1, r), row.text(2, r), row.int(3, r), row.text(4, r))
            else {
                out.append_null();
                continue;
            };
            let rep = rep.unwrap_or("");
            if last_replacement.as_ref().is_none_or(|(from, _)| from != rep) {
                last_replacement = Some((rep.to_string(), replacement_syntax(rep)));
            }
            let replacement = last_replacement.as_ref().map_or("", |(_, to)| to.as_str());
            let (regex, _) = patterns.get(p, f.unwrap_or(""))?;
            match start_byte(self.name(), s, pos)? {
                Some(start) => {
                    let replaced = regex.replace_all(&s[start..], replacement);
                    out.append_value(format!("{}{replaced}", &s[..start]));
                }
                None => out.append_value(s),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `REGEXP_SUBSTR(s, pattern[, position[, occurrence[, parameters]]])` (Redshift): the
/// `occurrence`th match from `position` (or its first subexpression with `e`), `''` if none.
struct RegexpSubstr;

const SUBSTR_LAYOUT: [bool; 5] = [true, true, false, false, true];

impl ScalarFunction for RegexpSubstr {
    fn name(&self) -> &str {
        "regexp_substr"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let usage = "regexp_substr(text, pattern[, position[, occurrence[, parameters]]])";
        layout_signature(self.name(), args, &SUBSTR_LAYOUT, 2, usage, DataType::Utf8)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let row = Row::new(args, &SUBSTR_LAYOUT, num_rows)?;
        let mut patterns = Patterns::new("regexp_substr");
        let mut out = StringBuilder::with_capacity(num_rows, num_rows * 8);
        for r in 0..num_rows {
            let (Some(Some(s)), Some(Some(p)), Some(pos), Some(occurrence), Some(f)) =
                (row.text(0, r), row.text(1, r), row.int(2, r), row.int(3, r), row.text(4, r))
            else {
                out.append_null();
                continue;
            };
            let occurrence = occurrence.unwrap_or(1);
            if occurrence < 1 {
                return Err(EngineError::execution(format!(
                    "function regexp_substr: occurrence must be at least 1, got {occurrence}"
                )));
            }
            let (regex, flags) = patterns.get(p, f.unwrap_or(""))?;
            let found = start_byte(self.name(), s, pos)?.and_then(|start| {
                let captures = regex.captures_iter(&s[start..]).nth(occurrence as usize - 1)?;
                let group = if flags.extract && captures.len() > 1 { 1 } else { 0 };
                captures.get(group).map(|m| m.as_str())
            });
            out.append_value(found.unwrap_or(""));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `regexp_extract(s, pattern[, group])` (Presto): the first match, or its `group`th capture
/// group; NULL when nothing matches. A group the pattern lacks is an error.
struct RegexpExtract;

const EXTRACT_LAYOUT: [bool; 3] = [true, true, false];

impl ScalarFunction for RegexpExtract {
    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        layout_signature(
            self.name(),
            args,
            &EXTRACT_LAYOUT,
            2,
            "regexp_extract(text, pattern[, group])",
            DataType::Utf8,
        )
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let row = Row::new(args, &EXTRACT_LAYOUT, num_rows)?;
        let mut patterns = Patterns::new("regexp_extract");
        let mut out = StringBuilder::with_capacity(num_rows, num_rows * 8);
        for r in 0..num_rows {
            let (Some(Some(s)), Some(Some(p)), Some(group)) = (row.text(0, r), row.text(1, r), row.int(2, r)) else {
                out.append_null();
                continue;
            };
            let (regex, _) = patterns.get(p, "")?;
            let group = group.unwrap_or(0);
            if group < 0 || group as usize >= regex.captures_len() {
                return Err(EngineError::execution(format!(
                    "function regexp_extract: pattern '{p}' has no group {group}"
                )));
            }
            match regex.captures(s).and_then(|c| c.get(group as usize)) {
                Some(m) => out.append_value(m.as_str()),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `REGEXP_COUNT(s, pattern[, position[, parameters]])`: INTEGER number of non-overlapping
/// matches from `position`.
struct RegexpCount;

const COUNT_LAYOUT: [bool; 4] = [true, true, false, true];

impl ScalarFunction for RegexpCount {
    fn name(&self) -> &str {
        "regexp_count"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let usage = "regexp_count(text, pattern[, position[, parameters]])";
        layout_signature(self.name(), args, &COUNT_LAYOUT, 2, usage, DataType::Int32)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let row = Row::new(args, &COUNT_LAYOUT, num_rows)?;
        let mut patterns = Patterns::new("regexp_count");
        let mut out = Vec::with_capacity(num_rows);
        for r in 0..num_rows {
            let (Some(Some(s)), Some(Some(p)), Some(pos), Some(f)) =
                (row.text(0, r), row.text(1, r), row.int(2, r), row.text(3, r))
            else {
                out.push(None);
                continue;
            };
            let (regex, _) = patterns.get(p, f.unwrap_or(""))?;
            let count = start_byte(self.name(), s, pos)?.map_or(0, |start| regex.find_iter(&s[start..]).count());
            out.push(Some(count as i32));
        }
        Ok(ColumnarValue::Array(Arc::new(Int32Array::from(out))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ScalarValue;
    use arrow::array::AsArray;

    fn text(v: &[Option<&str>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from(v.to_vec())))
    }

    fn lit(v: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(v.into())))
    }

    fn n(v: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))
    }

    fn strings(v: ColumnarValue, rows: usize) -> Vec<Option<String>> {
        v.into_array(rows).as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn like_and_count() {
        let input = text(&[Some("Hello World"), Some("bye"), None]);
        let out = RegexpLike.invoke(&[input.clone(), lit("^h.*d$"), lit("i")], 3).unwrap().into_array(3);
        assert_eq!(out.as_boolean().iter().collect::<Vec<_>>(), vec![Some(true), Some(false), None]);
        let out = RegexpCount.invoke(&[input.clone(), lit("o")], 3).unwrap().into_array(3);
        let out = out.as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(out.iter().collect::<Vec<_>>(), vec![Some(2), Some(0), None]);
        let out = RegexpCount.invoke(&[input, lit("o"), n(6)], 3).unwrap().into_array(3);
        assert_eq!(out.as_primitive::<arrow::datatypes::Int32Type>().value(0), 1);
        let err = RegexpLike.invoke(&[text(&[Some("a")]), lit("(")], 1).unwrap_err().to_string();
        assert!(err.contains("regexp_like") && err.contains("'('"), "{err}");
        assert!(RegexpLike.invoke(&[text(&[Some("a")]), lit("a"), lit("z")], 1).is_err());
    }

    #[test]
    fn replace_with_group_references() {
        let input = text(&[Some("2019-05-03"), None]);
        let out = RegexpReplace.invoke(&[input.clone(), lit("(\\d+)-(\\d+)-(\\d+)"), lit("\\3/\\2/$1")], 2).unwrap();
        assert_eq!(strings(out, 2), vec![Some("03/05/2019".into()), None]);
        let out = RegexpReplace.invoke(&[input.clone(), lit("\\d")], 2).unwrap();
        assert_eq!(strings(out, 2), vec![Some("--".into()), None]);
        let out = RegexpReplace.invoke(&[input, lit("0"), lit("$"), n(6)], 2).unwrap();
        assert_eq!(strings(out, 2), vec![Some("2019-$5-$3".into()), None]);
    }

    #[test]
    fn substr_and_extract() {
        let input = text(&[Some("a1b22c333"), Some("none")]);
        let out = RegexpSubstr.invoke(&[input.clone(), lit("\\d+")], 2).unwrap();
        assert_eq!(strings(out, 2), vec![Some("1".into()), Some("".into())]);
        let out = RegexpSubstr.invoke(&[input.clone(), lit("\\d+"), n(1), n(3)], 2).unwrap();
        assert_eq!(strings(out, 2)[0], Some("333".into()));
        let out = RegexpSubstr.invoke(&[input.clone(), lit("b(\\d+)"), n(1), n(1), lit("e")], 2).unwrap();
        assert_eq!(strings(out, 2)[0], Some("22".into()));
        let out = RegexpExtract.invoke(&[input.clone(), lit("([a-z])(\\d+)"), n(2)], 2).unwrap();
        assert_eq!(strings(out, 2), vec![Some("1".into()), None]);
        assert!(RegexpExtract.invoke(&[input, lit("\\d"), n(1)], 2).is_err());
    }
}
