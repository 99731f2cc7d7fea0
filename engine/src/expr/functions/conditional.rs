//! NULL-handling functions: `COALESCE`/`NVL` (Redshift documents them as identical), `NVL2` and
//! `NULLIF`. `DECODE` is in `decode`, `GREATEST`/`LEAST` in `greatest`.

use std::sync::Arc;

use arrow::compute::kernels::{cmp, zip::zip};
use arrow::compute::{is_not_null, nullif};
use arrow::datatypes::DataType;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_arity, check_usage, nulls_as_false};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::{common_supertype, comparison_type, sql_type_name};

/// Registers the conditional family.
pub fn register(registry: &mut FunctionRegistry) {
    let coalesce = Arc::new(Coalesce);
    registry.register_scalar(coalesce.clone());
    registry.register_scalar_alias("nvl", coalesce);
    registry.register_scalar(Arc::new(NullIf));
    registry.register_scalar(Arc::new(Nvl2));
}

/// `COALESCE(a, b, ...)`: the first non-NULL argument, in the arguments' common type.
struct Coalesce;

impl ScalarFunction for Coalesce {
    fn name(&self) -> &str {
        "coalesce"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 1, usize::MAX)?;
        let common = common_supertype(args).ok_or_else(|| {
            let names: Vec<String> = args.iter().map(sql_type_name).collect();
            EngineError::plan(format!("{} types {} cannot be matched", self.name(), names.join(", ")))
        })?;
        Ok(Signature { arg_types: vec![common.clone(); args.len()], return_type: common })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let to = args.iter().map(|a| a.data_type()).find(|t| *t != DataType::Null).unwrap_or(DataType::Null);
        let mut out = arg_array(&args[0], &to, num_rows)?;
        for arg in &args[1..] {
            if out.null_count() == 0 {
                break;
            }
            let next = arg_array(arg, &to, num_rows)?;
            out = zip(&is_not_null(&out)?, &out, &next)?;
        }
        Ok(ColumnarValue::Array(out))
    }
}

/// `NULLIF(a, b)`: NULL when `a = b`, else `a`.
struct NullIf;

impl ScalarFunction for NullIf {
    fn name(&self) -> &str {
        "nullif"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 2, 2)?;
        let common = comparison_type(&args[0], &args[1]).ok_or_else(|| {
            EngineError::plan(format!(
                "nullif cannot compare {} with {}",
                sql_type_name(&args[0]),
                sql_type_name(&args[1])
            ))
        })?;
        Ok(Signature { arg_types: vec![common.clone(), common.clone()], return_type: common })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let to = args[0].data_type();
        let a = arg_array(&args[0], &to, num_rows)?;
        if to == DataType::Null {
            return Ok(ColumnarValue::Array(a));
        }
        let b = arg_array(&args[1], &to, num_rows)?;
        let equal = nulls_as_false(&cmp::eq(&a, &b)?);
        Ok(ColumnarValue::Array(nullif(&a, &equal)?))
    }
}

/// `NVL2(x, a, b)` (Redshift): `a` when `x` is not NULL, else `b`, in the common type of `a` and
/// `b`.
struct Nvl2;

impl ScalarFunction for Nvl2 {
    fn name(&self) -> &str {
        "nvl2"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 3, 3, "nvl2(expression, not_null_result, null_result)")?;
        let common = common_supertype(&args[1..]).ok_or_else(|| {
            EngineError::plan(format!(
                "nvl2 results of types {} and {} cannot be matched",
                sql_type_name(&args[1]),
                sql_type_name(&args[2])
            ))
        })?;
        Ok(Signature { arg_types: vec![args[0].clone(), common.clone(), common.clone()], return_type: common })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let to = [&args[1], &args[2]].iter().map(|a| a.data_type()).find(|t| *t != DataType::Null);
        let to = to.unwrap_or(DataType::Null);
        let present = is_not_null(&args[0].clone().into_array(num_rows))?;
        let (a, b) = (arg_array(&args[1], &to, num_rows)?, arg_array(&args[2], &to, num_rows)?);
        Ok(ColumnarValue::Array(zip(&present, &a, &b)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ScalarValue;
    use arrow::array::{AsArray, Int32Array};
    use arrow::datatypes::Int32Type;

    fn ints(v: &[Option<i32>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int32Array::from(v.to_vec())))
    }

    #[test]
    fn coalesce_picks_first_non_null() {
        let out = Coalesce
            .invoke(
                &[
                    ints(&[None, Some(1), None]),
                    ints(&[Some(5), Some(6), None]),
                    ColumnarValue::Scalar(ScalarValue::Int32(Some(9))),
                ],
                3,
            )
            .unwrap()
            .into_array(3);
        assert_eq!(out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), vec![Some(5), Some(1), Some(9)]);
        let sig = Coalesce.signature(&[DataType::Int32, DataType::Null, DataType::Int64]).unwrap();
        assert_eq!(sig.return_type, DataType::Int64);
        assert!(Coalesce.signature(&[DataType::Boolean, DataType::Date32]).is_err());
    }

    #[test]
    fn nvl2_picks_by_presence() {
        let out = Nvl2
            .invoke(&[ints(&[None, Some(1)]), ints(&[Some(10), Some(11)]), ints(&[Some(20), Some(21)])], 2)
            .unwrap()
            .into_array(2);
        assert_eq!(out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), vec![Some(20), Some(11)]);
        let sig = Nvl2.signature(&[DataType::Utf8, DataType::Int32, DataType::Int64]).unwrap();
        assert_eq!(sig.return_type, DataType::Int64);
        assert!(Nvl2.signature(&[DataType::Utf8]).unwrap_err().to_string().contains("nvl2(expression"));
    }

    #[test]
    fn nullif_nulls_equal_values() {
        let out = NullIf.invoke(&[ints(&[Some(1), Some(2), None]), ints(&[Some(1), Some(3), Some(1)])], 3).unwrap();
        let out = out.into_array(3);
        assert_eq!(out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), vec![None, Some(2), None]);
    }
}
