//! `DECODE(expr, search1, result1, ..., [default])` (Redshift, from Oracle): the result of the
//! first search equal to `expr`, else `default` (NULL without one). Unlike `CASE`, a NULL
//! search matches a NULL `expr` (Redshift docs: "if the expression value is null, ... DECODE
//! returns the result of the first search that is also null").

use std::sync::Arc;

use arrow::compute::kernels::{cmp, zip::zip};
use arrow::compute::{and, is_null, or};
use arrow::datatypes::DataType;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_usage, nulls_as_false};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::{common_supertype, sql_type_name};
use crate::plan::ScalarValue;

/// Registers `decode`.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Decode));
}

struct Decode;

const USAGE: &str = "decode(expression, search, result[, search, result]...[, default])";

impl ScalarFunction for Decode {
    fn name(&self) -> &str {
        "decode"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 3, usize::MAX, USAGE)?;
        let searches: Vec<&DataType> =
            std::iter::once(&args[0]).chain(args[1..].chunks_exact(2).map(|pair| &pair[0])).collect();
        let has_default = args.len().is_multiple_of(2);
        let results: Vec<&DataType> =
            args[1..].chunks_exact(2).map(|pair| &pair[1]).chain(has_default.then(|| &args[args.len() - 1])).collect();
        let describe = |types: &[&DataType]| types.iter().map(|t| sql_type_name(t)).collect::<Vec<_>>().join(", ");
        let compare = common_supertype(searches.iter().copied()).ok_or_else(|| {
            EngineError::plan(format!(
                "decode cannot compare values of types {}; expected {USAGE}",
                describe(&searches)
            ))
        })?;
        let result = common_supertype(results.iter().copied()).ok_or_else(|| {
            EngineError::plan(format!("decode results of types {} cannot be matched", describe(&results)))
        })?;
        let mut arg_types = vec![compare.clone()];
        for _ in 0..(args.len() - 1) / 2 {
            arg_types.push(compare.clone());
            arg_types.push(result.clone());
        }
        if has_default {
            arg_types.push(result.clone());
        }
        Ok(Signature { arg_types, return_type: result })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let has_default = args.len().is_multiple_of(2);
        let result_type = args[1..]
            .iter()
            .skip(1)
            .step_by(2)
            .chain(if has_default { args.last() } else { None })
            .map(|a| a.data_type())
            .find(|t| *t != DataType::Null)
            .unwrap_or(DataType::Null);
        let mut out = if has_default {
            arg_array(&args[args.len() - 1], &result_type, num_rows)?
        } else {
            ScalarValue::null_of(&result_type)?.to_array(num_rows)
        };
        // The binder cast `expr` and every search to one comparison type.
        let value = args[0].clone().into_array(num_rows);
        let value_null = is_null(&value)?;
        // Later pairs first, so the first matching search is applied last and wins.
        for pair in args[1..].chunks_exact(2).rev() {
            let search = arg_array(&pair[0], value.data_type(), num_rows)?;
            let both_null = and(&value_null, &is_null(&search)?)?;
            let hit = if value.data_type() == &DataType::Null {
                both_null
            } else {
                or(&nulls_as_false(&cmp::eq(&value, &search)?), &both_null)?
            };
            out = zip(&hit, &arg_array(&pair[1], &result_type, num_rows)?, &out)?;
        }
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int32Array, StringArray};

    fn ints(v: &[Option<i32>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int32Array::from(v.to_vec())))
    }

    fn lit(v: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(v.into())))
    }

    #[test]
    fn first_match_wins_and_null_matches_null() {
        let x = ints(&[Some(1), Some(2), None, Some(9)]);
        let one = ColumnarValue::Scalar(ScalarValue::Int32(Some(1)));
        let null = ColumnarValue::Scalar(ScalarValue::Int32(None));
        let args = [x.clone(), one.clone(), lit("one"), null, lit("none"), one, lit("again"), lit("other")];
        let out = Decode.invoke(&args, 4).unwrap().into_array(4);
        let out: Vec<_> = out.as_string::<i32>().iter().collect();
        assert_eq!(out, vec![Some("one"), Some("other"), Some("none"), Some("other")]);
        let two = ColumnarValue::Scalar(ScalarValue::Int32(Some(2)));
        let out = Decode.invoke(&[x, two, lit("two")], 4).unwrap().into_array(4);
        let text = out.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(text.iter().collect::<Vec<_>>(), vec![None, Some("two"), None, None]);
    }

    #[test]
    fn signature_coerces_searches_and_results() {
        let sig = Decode
            .signature(&[DataType::Int32, DataType::Int64, DataType::Utf8, DataType::Null, DataType::Utf8])
            .unwrap();
        assert_eq!(sig.arg_types[0], DataType::Int64);
        assert_eq!(sig.return_type, DataType::Utf8);
        let err = Decode.signature(&[DataType::Int32, DataType::Int32]).unwrap_err().to_string();
        assert!(err.contains("decode(expression, search, result"), "{err}");
    }
}
