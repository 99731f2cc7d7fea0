//! `GREATEST(a, b, ...)` and `LEAST(a, b, ...)`: the largest/smallest argument in their common
//! type, ignoring NULLs — NULL only when every argument is NULL (Redshift and PostgreSQL; some
//! engines answer NULL as soon as one argument is NULL).

use std::sync::Arc;

use arrow::compute::kernels::{cmp, zip::zip};
use arrow::compute::{is_null, or};
use arrow::datatypes::DataType;

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_usage, nulls_as_false};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::{common_supertype, sql_type_name};

/// Registers `greatest` and `least`.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(Extreme { name: "greatest", greatest: true }));
    registry.register_scalar(Arc::new(Extreme { name: "least", greatest: false }));
}

struct Extreme {
    name: &'static str,
    greatest: bool,
}

impl ScalarFunction for Extreme {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name, args, 1, usize::MAX, &format!("{}(value[, value]...)", self.name))?;
        let common = common_supertype(args).ok_or_else(|| {
            let names: Vec<String> = args.iter().map(sql_type_name).collect();
            EngineError::plan(format!("{} types {} cannot be matched", self.name, names.join(", ")))
        })?;
        Ok(Signature { arg_types: vec![common.clone(); args.len()], return_type: common })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let to = args.iter().map(|a| a.data_type()).find(|t| *t != DataType::Null).unwrap_or(DataType::Null);
        let mut best = arg_array(&args[0], &to, num_rows)?;
        if to == DataType::Null {
            return Ok(ColumnarValue::Array(best));
        }
        for arg in &args[1..] {
            let next = arg_array(arg, &to, num_rows)?;
            let better = if self.greatest { cmp::gt(&next, &best)? } else { cmp::lt(&next, &best)? };
            // Take `next` where it is better, or where the best so far is NULL.
            let take = or(&nulls_as_false(&better), &is_null(&best)?)?;
            best = zip(&take, &next, &best)?;
        }
        Ok(ColumnarValue::Array(best))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int32Array};
    use arrow::datatypes::Int32Type;

    fn ints(v: &[Option<i32>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int32Array::from(v.to_vec())))
    }

    #[test]
    fn nulls_are_ignored() {
        let args = [ints(&[Some(1), None, None]), ints(&[Some(5), Some(2), None]), ints(&[Some(3), None, None])];
        let greatest = Extreme { name: "greatest", greatest: true };
        let least = Extreme { name: "least", greatest: false };
        let out = greatest.invoke(&args, 3).unwrap().into_array(3);
        assert_eq!(out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), vec![Some(5), Some(2), None]);
        let out = least.invoke(&args, 3).unwrap().into_array(3);
        assert_eq!(out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), vec![Some(1), Some(2), None]);
        assert!(greatest.signature(&[DataType::Int32, DataType::Boolean]).is_err());
    }
}
