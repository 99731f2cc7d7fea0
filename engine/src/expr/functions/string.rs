//! String functions. Positions and lengths count characters, not bytes, and are 1-based, as in
//! SQL; a NULL argument gives NULL. Arguments of other types are read through their text form
//! (the signatures ask the binder to cast), so `LEFT(ts, 7)` is `'2019-05'` as in Redshift.

use std::sync::Arc;

use arrow::array::{Array, Int32Array, StringArray};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::DataType;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_arity, int_values, integer_arg, string_arg, text_arg};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;

/// Registers the string family.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Left));
    registry.register_scalar(Arc::new(Right));
    let substring = Arc::new(Substring);
    registry.register_scalar(substring.clone());
    registry.register_scalar_alias("substr", substring);
    let length = Arc::new(Length);
    registry.register_scalar(length.clone());
    registry.register_scalar_alias("len", length.clone());
    registry.register_scalar_alias("char_length", length.clone());
    registry.register_scalar_alias("character_length", length);
    registry.register_scalar(Arc::new(CaseMap { name: "upper", map: str::to_uppercase }));
    registry.register_scalar(Arc::new(CaseMap { name: "lower", map: str::to_lowercase }));
    registry.register_scalar(Arc::new(Trim { name: "trim", start: true, end: true }));
    registry.register_scalar(Arc::new(Trim { name: "btrim", start: true, end: true }));
    registry.register_scalar(Arc::new(Trim { name: "ltrim", start: true, end: false }));
    registry.register_scalar(Arc::new(Trim { name: "rtrim", start: false, end: true }));
    registry.register_scalar(Arc::new(Replace));
    registry.register_scalar(Arc::new(Concat));
}

/// One argument of a row-wise function: a column, or a constant read once rather than repeated
/// for every row.
enum Arg<C, V> {
    Column(C),
    Constant(Option<V>),
}

/// Applies `f` row by row to text columns, NULL in any argument giving NULL. `f` appends the
/// row's result to the output buffer it is given, so no row allocates a `String` of its own.
pub(crate) fn map_rows(
    args: &[ColumnarValue],
    num_rows: usize,
    f: impl Fn(&[&str], &[i64], &mut String) -> Result<()>,
    text_count: usize,
) -> Result<ColumnarValue> {
    let texts = args[..text_count]
        .iter()
        .map(|a| match a {
            ColumnarValue::Scalar(_) => {
                let one = string_arg(a, 1)?;
                Ok(Arg::Constant(one.is_valid(0).then(|| one.value(0).to_string())))
            }
            ColumnarValue::Array(_) => Ok(Arg::Column(string_arg(a, num_rows)?)),
        })
        .collect::<Result<Vec<_>>>()?;
    let ints = args[text_count..]
        .iter()
        .map(|a| match a {
            ColumnarValue::Scalar(_) => Ok(Arg::Constant(int_values(a, 1)?[0])),
            ColumnarValue::Array(_) => Ok(Arg::Column(int_values(a, num_rows)?)),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut buffer = String::new();
    let mut offsets: Vec<i32> = Vec::with_capacity(num_rows + 1);
    offsets.push(0);
    let mut valid = Vec::with_capacity(num_rows);
    let mut t: Vec<&str> = Vec::with_capacity(texts.len());
    let mut n: Vec<i64> = Vec::with_capacity(ints.len());
    for row in 0..num_rows {
        t.clear();
        n.clear();
        for text in &texts {
            match text {
                Arg::Column(a) if a.is_valid(row) => t.push(a.value(row)),
                Arg::Constant(Some(v)) => t.push(v),
                _ => break,
            }
        }
        for int in &ints {
            match int {
                Arg::Column(v) => n.extend(v[row]),
                Arg::Constant(v) => n.extend(*v),
            }
        }
        let all_valid = t.len() == texts.len() && n.len() == ints.len();
        if all_valid {
            f(&t, &n, &mut buffer)?;
        }
        valid.push(all_valid);
        let end = i32::try_from(buffer.len())
            .map_err(|_| EngineError::execution("a text result column is larger than 2 GiB"))?;
        offsets.push(end);
    }
    let nulls = NullBuffer::from(valid);
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    let out = StringArray::try_new(OffsetBuffer::new(offsets.into()), buffer.into_bytes().into(), nulls)?;
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// The characters of `s` from 0-based character `start` (may be negative) for `len` characters
/// (`None`: to the end), clipped to the string, SQL-style; a slice of `s`, found by byte
/// offsets when `s` is ASCII.
fn char_slice(s: &str, start: i64, len: Option<i64>) -> &str {
    let end = len.map(|l| start.saturating_add(l));
    let from = start.max(0) as usize;
    let take = match end {
        Some(e) if e <= 0 => return "",
        Some(e) => (e as usize).saturating_sub(from),
        None => usize::MAX,
    };
    if s.is_ascii() {
        let from = from.min(s.len());
        return &s[from..from.saturating_add(take).min(s.len())];
    }
    let byte_at = |chars: usize| s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i);
    let begin = byte_at(from);
    let rest = &s[begin..];
    let stop = rest.char_indices().nth(take).map_or(rest.len(), |(i, _)| i);
    &rest[..stop]
}

/// Characters in `s` (bytes when ASCII).
fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// `LEFT(s, n)`: the first `n` characters; a negative `n` drops the last `|n|` (PostgreSQL).
struct Left;

impl ScalarFunction for Left {
    fn name(&self) -> &str {
        "left"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 2, 2)?;
        Ok(Signature {
            arg_types: vec![text_arg(self.name(), 0, &args[0])?, integer_arg(self.name(), 1, &args[1])?],
            return_type: DataType::Utf8,
        })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, n, out| {
                let len = if n[0] >= 0 { n[0] } else { (char_count(t[0]) as i64 + n[0]).max(0) };
                out.push_str(char_slice(t[0], 0, Some(len)));
                Ok(())
            },
            1,
        )
    }
}

/// `RIGHT(s, n)`: the last `n` characters; a negative `n` drops the first `|n|` (PostgreSQL).
struct Right;

impl ScalarFunction for Right {
    fn name(&self) -> &str {
        "right"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 2, 2)?;
        Ok(Signature {
            arg_types: vec![text_arg(self.name(), 0, &args[0])?, integer_arg(self.name(), 1, &args[1])?],
            return_type: DataType::Utf8,
        })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, n, out| {
                let chars = char_count(t[0]) as i64;
                let start =
                    if n[0] >= 0 { chars.saturating_sub(n[0]).max(0) } else { n[0].saturating_neg().min(chars) };
                out.push_str(char_slice(t[0], start, None));
                Ok(())
            },
            1,
        )
    }
}

/// `SUBSTRING(s, start[, len])`: 1-based; a start before 1 still counts toward `len`, as in
/// PostgreSQL (`SUBSTRING('abc', 0, 2)` is `'a'`); a negative length is an error.
struct Substring;

impl ScalarFunction for Substring {
    fn name(&self) -> &str {
        "substring"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 2, 3)?;
        let mut arg_types = vec![text_arg(self.name(), 0, &args[0])?];
        for (i, t) in args.iter().enumerate().skip(1) {
            arg_types.push(integer_arg(self.name(), i, t)?);
        }
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, n, out| {
                let len = n.get(1).copied();
                if len.is_some_and(|l| l < 0) {
                    return Err(EngineError::execution("substring: negative substring length not allowed"));
                }
                out.push_str(char_slice(t[0], n[0].saturating_sub(1), len));
                Ok(())
            },
            1,
        )
    }
}

/// `LENGTH(s)` / `LEN` / `CHAR_LENGTH`: characters, as INTEGER (Redshift's return type).
struct Length;

impl ScalarFunction for Length {
    fn name(&self) -> &str {
        "length"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 1, 1)?;
        Ok(Signature { arg_types: vec![text_arg(self.name(), 0, &args[0])?], return_type: DataType::Int32 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let text = string_arg(&args[0], num_rows)?;
        let out: Int32Array = text.iter().map(|v| v.map(|s| char_count(s) as i32)).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `UPPER` / `LOWER` (Unicode case mapping).
struct CaseMap {
    name: &'static str,
    map: fn(&str) -> String,
}

impl ScalarFunction for CaseMap {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name, args, 1, 1)?;
        Ok(Signature { arg_types: vec![text_arg(self.name, 0, &args[0])?], return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, _, out| {
                out.push_str(&(self.map)(t[0]));
                Ok(())
            },
            1,
        )
    }
}

/// `TRIM` / `BTRIM` / `LTRIM` / `RTRIM`, removing spaces or any character of the optional
/// second argument.
struct Trim {
    name: &'static str,
    start: bool,
    end: bool,
}

impl ScalarFunction for Trim {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name, args, 1, 2)?;
        let arg_types = args.iter().enumerate().map(|(i, t)| text_arg(self.name, i, t)).collect::<Result<_>>()?;
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, _, out| {
                let set: &[char] = &t.get(1).map_or_else(|| vec![' '], |c| c.chars().collect::<Vec<_>>());
                let mut s = t[0];
                if self.start {
                    s = s.trim_start_matches(set);
                }
                if self.end {
                    s = s.trim_end_matches(set);
                }
                out.push_str(s);
                Ok(())
            },
            args.len(),
        )
    }
}

/// `REPLACE(s, from, to)`: every occurrence; an empty `from` leaves `s` unchanged.
struct Replace;

impl ScalarFunction for Replace {
    fn name(&self) -> &str {
        "replace"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 3, 3)?;
        let arg_types = args.iter().enumerate().map(|(i, t)| text_arg(self.name(), i, t)).collect::<Result<_>>()?;
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, _, out| {
                if t[1].is_empty() {
                    out.push_str(t[0]);
                } else {
                    // `str::replace`, appending in place.
                    let mut last = 0;
                    for (at, found) in t[0].match_indices(t[1]) {
                        out.push_str(&t[0][last..at]);
                        out.push_str(t[2]);
                        last = at + found.len();
                    }
                    out.push_str(&t[0][last..]);
                }
                Ok(())
            },
            3,
        )
    }
}

/// `CONCAT(a, b, ...)`: NULL if any argument is NULL (Redshift; PostgreSQL would skip NULLs).
struct Concat;

impl ScalarFunction for Concat {
    fn name(&self) -> &str {
        "concat"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 1, usize::MAX)?;
        let arg_types = args.iter().enumerate().map(|(i, t)| text_arg(self.name(), i, t)).collect::<Result<_>>()?;
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, _, out| {
                t.iter().for_each(|s| out.push_str(s));
                Ok(())
            },
            args.len(),
        )
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

    fn int(v: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))
    }

    fn strings(v: ColumnarValue, n: usize) -> Vec<Option<String>> {
        v.into_array(n).as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn left_right_substring() {
        let input = text(&[Some("2019-05-01 10:00:00"), Some("ab"), None]);
        assert_eq!(strings(Left.invoke(&[input.clone(), int(7)], 3).unwrap(), 3), vec![s("2019-05"), s("ab"), None]);
        assert_eq!(
            strings(Left.invoke(&[input.clone(), int(-1)], 3).unwrap(), 3),
            vec![s("2019-05-01 10:00:0"), s("a"), None]
        );
        assert_eq!(strings(Right.invoke(&[input.clone(), int(2)], 3).unwrap(), 3), vec![s("00"), s("ab"), None]);
        let sub = Substring.invoke(&[input.clone(), int(6), int(2)], 3).unwrap();
        assert_eq!(strings(sub, 3), vec![s("05"), s(""), None]);
        let sub = Substring.invoke(&[text(&[Some("héllo")]), int(0), int(3)], 1).unwrap();
        assert_eq!(strings(sub, 1), vec![s("hé")]);
        let sub = Substring.invoke(&[text(&[Some("héllo")]), int(2)], 1).unwrap();
        assert_eq!(strings(sub, 1), vec![s("éllo")]);
        assert!(Substring.invoke(&[text(&[Some("x")]), int(1), int(-1)], 1).is_err());
    }

    #[test]
    fn constant_text_and_column_lengths() {
        let word = ColumnarValue::Scalar(ScalarValue::Utf8(Some("héllo".into())));
        let lengths =
            ColumnarValue::Array(Arc::new(arrow::array::Int64Array::from(vec![Some(1), Some(-2), None, Some(9)])));
        let out = Left.invoke(&[word.clone(), lengths.clone()], 4).unwrap();
        assert_eq!(strings(out, 4), vec![s("h"), s("hél"), None, s("héllo")]);
        let out = Right.invoke(&[word.clone(), lengths], 4).unwrap();
        assert_eq!(strings(out, 4), vec![s("o"), s("llo"), None, s("héllo")]);
        let null_len = ColumnarValue::Scalar(ScalarValue::Int64(None));
        assert_eq!(strings(Substring.invoke(&[word.clone(), int(2), null_len], 2).unwrap(), 2), vec![None, None]);
        let out = Substring.invoke(&[word, int(i64::MIN), int(i64::MAX)], 1).unwrap();
        assert_eq!(strings(out, 1), vec![s("")]);
        let out = Right.invoke(&[text(&[Some("abc")]), int(i64::MIN)], 1).unwrap();
        assert_eq!(strings(out, 1), vec![s("")]);
        let ascii = text(&[Some("13-555"), Some("9"), Some("")]);
        let out = Substring.invoke(&[ascii, int(1), int(2)], 3).unwrap();
        assert_eq!(strings(out, 3), vec![s("13"), s("9"), s("")]);
    }

    #[test]
    fn left_signature_reads_timestamps_as_text() {
        let ts = crate::plan::types::TIMESTAMP;
        let sig = Left.signature(&[ts, DataType::Int32]).unwrap();
        assert_eq!(sig.arg_types, vec![DataType::Utf8, DataType::Int64]);
        assert!(Left.signature(&[DataType::Utf8]).is_err());
    }

    #[test]
    fn length_case_trim_replace_concat() {
        let len = Length.invoke(&[text(&[Some("héllo"), None])], 2).unwrap().into_array(2);
        assert_eq!(len.as_primitive::<arrow::datatypes::Int32Type>().value(0), 5);
        assert!(len.is_null(1));
        let upper = CaseMap { name: "upper", map: str::to_uppercase };
        assert_eq!(strings(upper.invoke(&[text(&[Some("abc")])], 1).unwrap(), 1), vec![s("ABC")]);
        let trim = Trim { name: "trim", start: true, end: true };
        assert_eq!(strings(trim.invoke(&[text(&[Some("  a b  ")])], 1).unwrap(), 1), vec![s("a b")]);
        let ltrim = Trim { name: "ltrim", start: true, end: false };
        let chars = ColumnarValue::Scalar(ScalarValue::Utf8(Some("xy".into())));
        assert_eq!(strings(ltrim.invoke(&[text(&[Some("xyxabx")]), chars], 1).unwrap(), 1), vec![s("abx")]);
        let from = ColumnarValue::Scalar(ScalarValue::Utf8(Some("a".into())));
        let to = ColumnarValue::Scalar(ScalarValue::Utf8(Some("oo".into())));
        assert_eq!(strings(Replace.invoke(&[text(&[Some("banana")]), from, to], 1).unwrap(), 1), vec![s("boonoonoo")]);
        let concat = Concat.invoke(&[text(&[Some("a"), Some("b")]), text(&[Some("c"), None])], 2).unwrap();
        assert_eq!(strings(concat, 2), vec![s("ac"), None]);
    }
}
