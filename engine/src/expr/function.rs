//! A call of a registry scalar function.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::expr::cast::{cast_array, cast_scalar};
use crate::expr::functions::ScalarFunction;
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::plan::ScalarValue;

/// `name(args)`; arguments already carry the types the function's signature asked for.
pub struct ScalarFunctionExpr {
    function: Arc<dyn ScalarFunction>,
    args: Vec<PhysicalExprRef>,
    return_type: DataType,
}

impl ScalarFunctionExpr {
    pub fn new(function: Arc<dyn ScalarFunction>, args: Vec<PhysicalExprRef>, return_type: DataType) -> Self {
        ScalarFunctionExpr { function, args, return_type }
    }
}

impl fmt::Debug for ScalarFunctionExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScalarFunctionExpr")
            .field("name", &self.function.name())
            .field("args", &self.args)
            .field("return_type", &self.return_type)
            .finish()
    }
}

impl fmt::Display for ScalarFunctionExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(|a| a.to_string()).collect();
        write!(f, "{}({})", self.function.name(), args.join(", "))
    }
}

impl PhysicalExpr for ScalarFunctionExpr {
    fn data_type(&self) -> &DataType {
        &self.return_type
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let args = self.args.iter().map(|a| a.evaluate(batch)).collect::<Result<Vec<_>>>()?;
        // Constant arguments are evaluated once, on one row, and stay a constant.
        let all_scalar = !args.is_empty() && args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let num_rows = if all_scalar { 1 } else { batch.num_rows() };
        let out = self.function.invoke(&args, num_rows)?;
        let out = match out {
            ColumnarValue::Array(a) if all_scalar => ColumnarValue::Scalar(ScalarValue::try_from_array(a.as_ref(), 0)?),
            other => other,
        };
        if out.data_type() == DataType::Null && self.return_type != DataType::Null {
            return Ok(ColumnarValue::Scalar(ScalarValue::null_of(&self.return_type)?));
        }
        if out.data_type() != self.return_type {
            // A function answering a type other than the planned one (see
            // `ScalarFunction::signature_for_constants`) is cast to the plan's type.
            return Ok(match out {
                ColumnarValue::Array(a) => ColumnarValue::Array(cast_array(&a, &self.return_type, false)?),
                ColumnarValue::Scalar(s) => ColumnarValue::Scalar(cast_scalar(&s, &self.return_type, false)?),
            });
        }
        Ok(out)
    }
}
