//! Value window functions: a row's value read from another row of its partition, by offset from
//! the current row (`lag`, `lead`, which ignore the frame) or by position in the frame
//! (`first_value`, `last_value`, `nth_value`). NULLs are respected, as by default in SQL.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, UInt32Array};
use arrow::compute::kernels::zip::zip;
use arrow::compute::take;
use arrow::datatypes::{DataType, Int64Type};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_arity, integer_arg};
use crate::expr::functions::window::{WindowFunction, WindowInput};
use crate::expr::functions::Signature;

/// The value functions.
pub(super) fn functions() -> Vec<Arc<dyn WindowFunction>> {
    vec![
        Arc::new(Shift { name: "lag", forward: false }),
        Arc::new(Shift { name: "lead", forward: true }),
        Arc::new(FrameValue { name: "first_value", kind: FramePosition::First }),
        Arc::new(FrameValue { name: "last_value", kind: FramePosition::Last }),
        Arc::new(FrameValue { name: "nth_value", kind: FramePosition::Nth }),
    ]
}

/// `LAG|LEAD(value [, offset [, default]])`: the value `offset` rows before (after) the current
/// row in its partition, else `default` (NULL when omitted). A NULL offset gives NULL.
struct Shift {
    name: &'static str,
    forward: bool,
}

impl WindowFunction for Shift {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name, args, 1, 3)?;
        let value = args[0].clone();
        let mut arg_types = vec![value.clone()];
        if args.len() > 1 {
            arg_types.push(integer_arg(self.name, 1, &args[1])?);
        }
        if args.len() > 2 {
            arg_types.push(value.clone());
        }
        Ok(Signature { arg_types, return_type: value })
    }

    fn evaluate(&self, input: &WindowInput<'_>) -> Result<ArrayRef> {
        let values = &input.args[0];
        let offsets = input.args.get(1).map(|a| a.as_primitive::<Int64Type>());
        let mut indices: Vec<Option<u32>> = Vec::with_capacity(input.num_rows());
        let mut use_default = Vec::with_capacity(input.num_rows());
        for p in input.partitions {
            for i in p.clone() {
                let offset = match offsets {
                    Some(o) if o.is_null(i) => {
                        indices.push(None);
                        use_default.push(false);
                        continue;
                    }
                    Some(o) => o.value(i),
                    None => 1,
                };
                let target = if self.forward { (i as i64).checked_add(offset) } else { (i as i64).checked_sub(offset) };
                match target.filter(|t| *t >= p.start as i64 && *t < p.end as i64) {
                    Some(t) => {
                        indices.push(Some(t as u32));
                        use_default.push(false);
                    }
                    None => {
                        indices.push(None);
                        use_default.push(true);
                    }
                }
            }
        }
        let shifted = take(values, &UInt32Array::from(indices), None)?;
        match input.args.get(2) {
            Some(default) => Ok(zip(&BooleanArray::from(use_default), default, &shifted)?),
            None => Ok(shifted),
        }
    }
}

#[derive(Clone, Copy)]
enum FramePosition {
    First,
    Last,
    Nth,
}

/// `FIRST_VALUE(v)`, `LAST_VALUE(v)`, `NTH_VALUE(v, n)`: the value at that position of the
/// frame, NULL when the frame is empty or shorter than `n`.
struct FrameValue {
    name: &'static str,
    kind: FramePosition,
}

impl WindowFunction for FrameValue {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let value = match self.kind {
            FramePosition::Nth => {
                check_arity(self.name, args, 2, 2)?;
                return Ok(Signature {
                    arg_types: vec![args[0].clone(), integer_arg(self.name, 1, &args[1])?],
                    return_type: args[0].clone(),
                });
            }
            _ => {
                check_arity(self.name, args, 1, 1)?;
                args[0].clone()
            }
        };
        Ok(Signature { arg_types: vec![value.clone()], return_type: value })
    }

    fn evaluate(&self, input: &WindowInput<'_>) -> Result<ArrayRef> {
        let n = input.num_rows();
        let positions = input.args.get(1).map(|a| a.as_primitive::<Int64Type>());
        let mut indices: Vec<Option<u32>> = Vec::with_capacity(n);
        for i in 0..n {
            let (start, end) = (input.frame_start[i], input.frame_end[i]);
            let index = match self.kind {
                _ if start >= end => None,
                FramePosition::First => Some(start),
                FramePosition::Last => Some(end - 1),
                FramePosition::Nth => {
                    // Invariant: the signature gives nth_value two arguments.
                    let positions = positions.expect("nth_value has a position argument");
                    if positions.is_null(i) {
                        None
                    } else {
                        let k = positions.value(i);
                        if k <= 0 {
                            return Err(EngineError::execution(format!(
                                "argument of nth_value must be greater than zero, got {k}"
                            )));
                        }
                        (start as u64).checked_add(k as u64 - 1).filter(|t| *t < end as u64).map(|t| t as usize)
                    }
                }
            };
            indices.push(index.map(|t| t as u32));
        }
        Ok(take(&input.args[0], &UInt32Array::from(indices), None)?)
    }
}
