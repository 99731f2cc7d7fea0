//! Finding and splitting text: `STRPOS`/`POSITION` (what `POSITION(sub IN s)` binds to),
//! Redshift's `CHARINDEX(sub, s)`, `SPLIT_PART` and `STARTS_WITH`. Positions count characters,
//! 1-based; 0 means "not found", as in PostgreSQL and Redshift.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int32Array, StringArray, StringBuilder};
use arrow::datatypes::DataType;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_usage, int_values, integer_arg, string_arg, text_arg};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;

/// Registers the search family.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Position { name: "strpos", needle_first: false }));
    registry.register_scalar(Arc::new(Position { name: "charindex", needle_first: true }));
    registry.register_scalar(Arc::new(SplitPart));
    registry.register_scalar(Arc::new(StartsWith));
}

fn text_signature(name: &str, args: &[DataType], count: usize, usage: &str, out: DataType) -> Result<Signature> {
    check_usage(name, args, count, count, usage)?;
    let arg_types = args.iter().enumerate().map(|(i, t)| text_arg(name, i, t)).collect::<Result<_>>()?;
    Ok(Signature { arg_types, return_type: out })
}

/// The 1-based character position of `needle` in `haystack`, 0 when absent.
fn char_position(haystack: &str, needle: &str) -> i32 {
    match haystack.find(needle) {
        Some(byte) if haystack.is_ascii() => byte as i32 + 1,
        Some(byte) => haystack[..byte].chars().count() as i32 + 1,
        None => 0,
    }
}

/// `STRPOS(s, sub)` / `POSITION` and `CHARINDEX(sub, s)`: INTEGER position of `sub` in `s`.
struct Position {
    name: &'static str,
    needle_first: bool,
}

impl ScalarFunction for Position {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let usage = if self.needle_first { "charindex(substring, text)" } else { "strpos(text, substring)" };
        text_signature(self.name, args, 2, usage, DataType::Int32)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let (h, n) = if self.needle_first { (1, 0) } else { (0, 1) };
        let haystack = string_arg(&args[h], num_rows)?;
        let needle = string_arg(&args[n], num_rows)?;
        let out: Int32Array = haystack.iter().zip(needle.iter()).map(|(h, n)| Some(char_position(h?, n?))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `SPLIT_PART(s, delimiter, n)`: the `n`th field of `s` split on `delimiter`; a negative `n`
/// counts from the end (PostgreSQL 14); past the last field it is the empty string, and `n = 0`
/// is an error, as in PostgreSQL. An empty delimiter makes `s` the only field.
struct SplitPart;

impl ScalarFunction for SplitPart {
    fn name(&self) -> &str {
        "split_part"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 3, 3, "split_part(text, delimiter, integer)")?;
        Ok(Signature {
            arg_types: vec![
                text_arg(self.name(), 0, &args[0])?,
                text_arg(self.name(), 1, &args[1])?,
                integer_arg(self.name(), 2, &args[2])?,
            ],
            return_type: DataType::Utf8,
        })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let text = string_arg(&args[0], num_rows)?;
        let delimiter = string_arg(&args[1], num_rows)?;
        let index = int_values(&args[2], num_rows)?;
        let mut out = StringBuilder::with_capacity(num_rows, text.value_data().len());
        for (row, n) in index.into_iter().enumerate() {
            let (Some(s), Some(d), Some(n)) = (valid(&text, row), valid(&delimiter, row), n) else {
                out.append_null();
                continue;
            };
            if n == 0 {
                return Err(EngineError::execution("function split_part: field position must not be zero"));
            }
            let field = if d.is_empty() {
                (n == 1 || n == -1).then_some(s)
            } else if n > 0 {
                s.split(d).nth(n as usize - 1)
            } else {
                s.rsplit(d).nth(n.unsigned_abs() as usize - 1)
            };
            out.append_value(field.unwrap_or(""));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn valid(a: &StringArray, row: usize) -> Option<&str> {
    a.is_valid(row).then(|| a.value(row))
}

/// `STARTS_WITH(s, prefix)` (Athena/Presto): BOOLEAN.
struct StartsWith;

impl ScalarFunction for StartsWith {
    fn name(&self) -> &str {
        "starts_with"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        text_signature(self.name(), args, 2, "starts_with(text, prefix)", DataType::Boolean)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let text = string_arg(&args[0], num_rows)?;
        let prefix = string_arg(&args[1], num_rows)?;
        let out: BooleanArray = text.iter().zip(prefix.iter()).map(|(s, p)| Some(s?.starts_with(p?))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
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

    #[test]
    fn positions_count_characters() {
        let strpos = Position { name: "strpos", needle_first: false };
        let out = strpos.invoke(&[text(&[Some("héllo"), Some("abc"), None]), lit("l")], 3).unwrap().into_array(3);
        let out = out.as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(out.iter().collect::<Vec<_>>(), vec![Some(3), Some(0), None]);
        let charindex = Position { name: "charindex", needle_first: true };
        let out = charindex.invoke(&[lit("c"), text(&[Some("abc")])], 1).unwrap().into_array(1);
        assert_eq!(out.as_primitive::<arrow::datatypes::Int32Type>().value(0), 3);
        assert_eq!(char_position("abc", ""), 1);
    }

    #[test]
    fn split_part_fields() {
        let n = |v: i64| ColumnarValue::Scalar(ScalarValue::Int64(Some(v)));
        let input = text(&[Some("a,b,,c"), Some("x"), None]);
        let part = |k: i64| {
            let out = SplitPart.invoke(&[input.clone(), lit(","), n(k)], 3).unwrap().into_array(3);
            out.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>()
        };
        assert_eq!(part(2), vec![Some("b".into()), Some("".into()), None]);
        assert_eq!(part(3), vec![Some("".into()), Some("".into()), None]);
        assert_eq!(part(-1), vec![Some("c".into()), Some("x".into()), None]);
        assert!(SplitPart.invoke(&[input, lit(","), n(0)], 3).is_err());
        let sw = StartsWith.invoke(&[text(&[Some("abc"), None]), lit("ab")], 2).unwrap().into_array(2);
        assert_eq!(sw.as_boolean().iter().collect::<Vec<_>>(), vec![Some(true), None]);
    }
}
