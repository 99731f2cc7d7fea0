//! `MIN` and `MAX`: per-group best value. Primitive types (numbers, dates, timestamps; booleans
//! as 0/1) compare with Arrow's total order (NaN is largest, as in PostgreSQL); text compares
//! by bytes (the engine's collation is binary, like Redshift's default).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    ArrowNativeTypeOp, ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
};

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_array;
use crate::expr::functions::GroupsAccumulator;
use crate::plan::types::TIMESTAMP;

/// Whether `MIN`/`MAX` accept `t`.
pub fn is_orderable(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Utf8
            | DataType::Date32
    ) || *t == TIMESTAMP
}

/// The accumulator for `MIN`/`MAX` of `t`.
pub fn min_max_accumulator(t: &DataType, is_min: bool) -> Result<Box<dyn GroupsAccumulator>> {
    Ok(match t {
        DataType::Boolean => Box::new(PrimitiveMinMax::<Int8Type>::new(DataType::Int8, t.clone(), is_min)),
        DataType::Int8 => Box::new(PrimitiveMinMax::<Int8Type>::new(t.clone(), t.clone(), is_min)),
        DataType::Int16 => Box::new(PrimitiveMinMax::<Int16Type>::new(t.clone(), t.clone(), is_min)),
        DataType::Int32 => Box::new(PrimitiveMinMax::<Int32Type>::new(t.clone(), t.clone(), is_min)),
        DataType::Int64 => Box::new(PrimitiveMinMax::<Int64Type>::new(t.clone(), t.clone(), is_min)),
        DataType::Float32 => Box::new(PrimitiveMinMax::<Float32Type>::new(t.clone(), t.clone(), is_min)),
        DataType::Float64 => Box::new(PrimitiveMinMax::<Float64Type>::new(t.clone(), t.clone(), is_min)),
        DataType::Decimal128(_, _) => Box::new(PrimitiveMinMax::<Decimal128Type>::new(t.clone(), t.clone(), is_min)),
        DataType::Date32 => Box::new(PrimitiveMinMax::<Date32Type>::new(t.clone(), t.clone(), is_min)),
        t if *t == TIMESTAMP => {
            Box::new(PrimitiveMinMax::<TimestampMicrosecondType>::new(t.clone(), t.clone(), is_min))
        }
        DataType::Utf8 => Box::new(TextMinMax { values: Vec::new(), is_min }),
        other => return Err(EngineError::plan(format!("min/max of {other} is not supported"))),
    })
}

/// Best value per group of a primitive type; `work_type` is `T`'s type (INT8 for booleans),
/// `result_type` what `evaluate` returns. State is one column of `work_type`.
struct PrimitiveMinMax<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    seen: Vec<bool>,
    work_type: DataType,
    result_type: DataType,
    is_min: bool,
}

impl<T: ArrowPrimitiveType> PrimitiveMinMax<T> {
    fn new(work_type: DataType, result_type: DataType, is_min: bool) -> Self {
        PrimitiveMinMax { values: Vec::new(), seen: Vec::new(), work_type, result_type, is_min }
    }

    fn take(&mut self) -> PrimitiveArray<T> {
        let nulls = NullBuffer::from(std::mem::take(&mut self.seen));
        PrimitiveArray::<T>::new(std::mem::take(&mut self.values).into(), Some(nulls))
            .with_data_type(self.work_type.clone())
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for PrimitiveMinMax<T> {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        let n = total_groups.max(self.values.len());
        self.values.resize(n, T::Native::default());
        self.seen.resize(n, false);
        let input = cast_array(&args[0], &self.work_type, false)?;
        let input = input.as_primitive::<T>();
        for (i, &g) in group_indices.iter().enumerate() {
            if input.is_null(i) {
                continue;
            }
            let v = input.value(i);
            let better = !self.seen[g] || if self.is_min { v.is_lt(self.values[g]) } else { v.is_gt(self.values[g]) };
            if better {
                self.values[g] = v;
                self.seen[g] = true;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(self.take())])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.update(states, group_indices, total_groups)
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let out: ArrayRef = Arc::new(self.take());
        cast_array(&out, &self.result_type, false)
    }
}

/// Best text per group. State is one text column.
struct TextMinMax {
    values: Vec<Option<String>>,
    is_min: bool,
}

impl GroupsAccumulator for TextMinMax {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        let n = total_groups.max(self.values.len());
        self.values.resize(n, None);
        let input = args[0].as_string::<i32>();
        for (i, &g) in group_indices.iter().enumerate() {
            if input.is_null(i) {
                continue;
            }
            let v = input.value(i);
            let better = match &self.values[g] {
                None => true,
                Some(best) => (v < best.as_str()) == self.is_min && v != best,
            };
            if better {
                self.values[g] = Some(v.to_string());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.update(states, group_indices, total_groups)
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        Ok(Arc::new(StringArray::from(std::mem::take(&mut self.values))))
    }
}
