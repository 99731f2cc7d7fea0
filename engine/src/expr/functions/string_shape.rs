//! Functions that reshape text: `LPAD`, `RPAD`, `REVERSE`, `REPEAT` (Redshift also spells it
//! `REPLICATE`), `INITCAP` and `TRANSLATE`, with PostgreSQL's semantics (which Redshift
//! documents): lengths count characters, padding truncates a longer string, and `TRANSLATE`
//! deletes characters that have no counterpart.

use std::sync::Arc;

use arrow::datatypes::DataType;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_usage, integer_arg, text_arg};
use crate::expr::functions::string::map_rows;
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;

/// Registers the reshaping family.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Pad { name: "lpad", left: true }));
    registry.register_scalar(Arc::new(Pad { name: "rpad", left: false }));
    registry.register_scalar(Arc::new(Reverse));
    let repeat = Arc::new(Repeat);
    registry.register_scalar(repeat.clone());
    registry.register_scalar_alias("replicate", repeat);
    registry.register_scalar(Arc::new(InitCap));
    registry.register_scalar(Arc::new(Translate));
}

/// Longest text these functions build; beyond it is an error rather than an allocation failure.
const MAX_RESULT_CHARS: i64 = 64 * 1024 * 1024;

fn too_long(name: &str, n: i64) -> EngineError {
    EngineError::execution(format!("function {name}: a result of {n} characters is too long"))
}

/// `LPAD(s, n[, fill])` / `RPAD`: `s` padded with `fill` (default a space) to `n` characters,
/// or cut to its first `n` characters when longer.
struct Pad {
    name: &'static str,
    left: bool,
}

impl ScalarFunction for Pad {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name, args, 2, 3, &format!("{}(text, length[, fill])", self.name))?;
        let mut arg_types = vec![text_arg(self.name, 0, &args[0])?, integer_arg(self.name, 1, &args[1])?];
        if let Some(fill) = args.get(2) {
            arg_types.push(text_arg(self.name, 2, fill)?);
        }
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        // Texts first for `map_rows`: (s, fill?) then the length.
        let mut ordered: Vec<ColumnarValue> = vec![args[0].clone()];
        ordered.extend(args.get(2).cloned());
        ordered.push(args[1].clone());
        let text_count = ordered.len() - 1;
        map_rows(
            &ordered,
            num_rows,
            |t, n, out| {
                let target = n[0];
                if target > MAX_RESULT_CHARS {
                    return Err(too_long(self.name, target));
                }
                let target = target.max(0) as usize;
                let fill = t.get(1).copied().unwrap_or(" ");
                let length = t[0].chars().count();
                if length >= target || fill.is_empty() {
                    out.extend(t[0].chars().take(target));
                    return Ok(());
                }
                let padding = fill.chars().cycle().take(target - length);
                if self.left {
                    out.extend(padding);
                    out.push_str(t[0]);
                } else {
                    out.push_str(t[0]);
                    out.extend(padding);
                }
                Ok(())
            },
            text_count,
        )
    }
}

/// `REVERSE(s)`: the characters in reverse order.
struct Reverse;

impl ScalarFunction for Reverse {
    fn name(&self) -> &str {
        "reverse"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "reverse(text)")?;
        Ok(Signature { arg_types: vec![text_arg(self.name(), 0, &args[0])?], return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, _, out| {
                out.extend(t[0].chars().rev());
                Ok(())
            },
            1,
        )
    }
}

/// `REPEAT(s, n)` / `REPLICATE`: `s` repeated `n` times; `n <= 0` gives the empty string.
struct Repeat;

impl ScalarFunction for Repeat {
    fn name(&self) -> &str {
        "repeat"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 2, 2, "repeat(text, integer)")?;
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
                let times = n[0].max(0);
                let total = times.saturating_mul(t[0].chars().count() as i64);
                if total > MAX_RESULT_CHARS {
                    return Err(too_long(self.name(), total));
                }
                (0..times).for_each(|_| out.push_str(t[0]));
                Ok(())
            },
            1,
        )
    }
}

/// `INITCAP(s)`: the first letter of each word upper-case, the others lower-case; words are runs
/// of letters and digits (PostgreSQL, which Redshift follows).
struct InitCap;

impl ScalarFunction for InitCap {
    fn name(&self) -> &str {
        "initcap"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "initcap(text)")?;
        Ok(Signature { arg_types: vec![text_arg(self.name(), 0, &args[0])?], return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, _, out| {
                let mut in_word = false;
                for c in t[0].chars() {
                    if in_word {
                        out.extend(c.to_lowercase());
                    } else {
                        out.extend(c.to_uppercase());
                    }
                    in_word = c.is_alphanumeric();
                }
                Ok(())
            },
            1,
        )
    }
}

/// `TRANSLATE(s, from, to)`: each character of `s` found in `from` becomes the character at the
/// same position of `to`, or is deleted when `to` is shorter.
struct Translate;

impl ScalarFunction for Translate {
    fn name(&self) -> &str {
        "translate"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 3, 3, "translate(text, from, to)")?;
        let arg_types = args.iter().enumerate().map(|(i, t)| text_arg(self.name(), i, t)).collect::<Result<_>>()?;
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        map_rows(
            args,
            num_rows,
            |t, _, out| {
                let from: Vec<char> = t[1].chars().collect();
                let to: Vec<char> = t[2].chars().collect();
                out.extend(t[0].chars().filter_map(|c| match from.iter().position(|f| *f == c) {
                    Some(i) => to.get(i).copied(),
                    None => Some(c),
                }));
                Ok(())
            },
            3,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ScalarValue;
    use arrow::array::{AsArray, StringArray};

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
    fn padding() {
        let lpad = Pad { name: "lpad", left: true };
        let rpad = Pad { name: "rpad", left: false };
        let input = text(&[Some("hi"), Some("hello"), None]);
        assert_eq!(
            strings(lpad.invoke(&[input.clone(), n(4), lit("xy")], 3).unwrap(), 3),
            vec![Some("xyhi".into()), Some("hell".into()), None]
        );
        assert_eq!(strings(rpad.invoke(&[input.clone(), n(3)], 3).unwrap(), 3)[0], Some("hi ".into()));
        assert_eq!(strings(lpad.invoke(&[input.clone(), n(-1)], 3).unwrap(), 3)[0], Some("".into()));
        assert_eq!(strings(lpad.invoke(&[input, n(5), lit("")], 3).unwrap(), 3)[0], Some("hi".into()));
        let sig = lpad.signature(&[DataType::Utf8, DataType::Int32, DataType::Utf8]).unwrap();
        assert_eq!(sig.arg_types, vec![DataType::Utf8, DataType::Int64, DataType::Utf8]);
    }

    #[test]
    fn reverse_repeat_initcap_translate() {
        assert_eq!(strings(Reverse.invoke(&[text(&[Some("héllo")])], 1).unwrap(), 1), vec![Some("olléh".into())]);
        assert_eq!(strings(Repeat.invoke(&[text(&[Some("ab")]), n(3)], 1).unwrap(), 1), vec![Some("ababab".into())]);
        assert_eq!(strings(Repeat.invoke(&[text(&[Some("ab")]), n(-1)], 1).unwrap(), 1), vec![Some("".into())]);
        assert!(Repeat.invoke(&[text(&[Some("ab")]), n(i64::MAX)], 1).is_err());
        let out = InitCap.invoke(&[text(&[Some("hello wORLD-foo 2nd")])], 1).unwrap();
        assert_eq!(strings(out, 1), vec![Some("Hello World-Foo 2nd".into())]);
        let out = Translate.invoke(&[text(&[Some("12345")]), lit("143"), lit("ax")], 1).unwrap();
        assert_eq!(strings(out, 1), vec![Some("a2x5".into())]);
    }
}
