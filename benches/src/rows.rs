//! Query results as engine-neutral JSON rows, the form every engine's worker reports and the
//! comparison reads: integers as integers, every other number (floats, decimals) as a float,
//! strings as strings, dates and timestamps as ISO text, NULL as null.

use anyhow::Result;
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Number, Value};

/// All rows of `batches`, in order.
pub fn batches_to_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<Value>>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Value>> = batch.columns().iter().map(column_values).collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            rows.push(columns.iter().map(|column| column[row].clone()).collect());
        }
    }
    Ok(rows)
}

fn column_values(array: &ArrayRef) -> Result<Vec<Value>> {
    let values = match array.data_type() {
        t if t.is_integer() => {
            let ints = cast(array, &DataType::Int64)?;
            let ints = ints.as_primitive::<Int64Type>();
            (0..ints.len()).map(|i| if ints.is_null(i) { Value::Null } else { Value::from(ints.value(i)) }).collect()
        }
        t if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            let floats = cast(array, &DataType::Float64)?;
            let floats = floats.as_primitive::<Float64Type>();
            (0..floats.len())
                .map(|i| match floats.is_null(i) {
                    true => Value::Null,
                    // NaN and infinities have no JSON number; their text still compares.
                    false => Number::from_f64(floats.value(i))
                        .map(Value::Number)
                        .unwrap_or_else(|| Value::String(floats.value(i).to_string())),
                })
                .collect()
        }
        DataType::Boolean => {
            let bools = array.as_boolean();
            (0..bools.len()).map(|i| if bools.is_null(i) { Value::Null } else { Value::Bool(bools.value(i)) }).collect()
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options)?;
            (0..array.len())
                .map(|i| if array.is_null(i) { Value::Null } else { Value::String(formatter.value(i).to_string()) })
                .collect()
        }
    };
    Ok(values)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Decimal128Array, Int32Array, StringViewArray};
    use arrow::datatypes::{Field, Schema};
    use serde_json::json;

    use super::*;

    #[test]
    fn values_become_neutral_json() {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("d", DataType::Decimal128(15, 2), true),
            Field::new("s", DataType::Utf8View, true),
            Field::new("day", DataType::Date32, true),
        ]);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(7), None])),
            Arc::new(Decimal128Array::from(vec![Some(12_345), None]).with_precision_and_scale(15, 2).unwrap()),
            Arc::new(StringViewArray::from(vec![Some("x"), None])),
            Arc::new(Date32Array::from(vec![Some(9_131), None])),
        ];
        let batch = RecordBatch::try_new(Arc::new(schema), columns).unwrap();
        let rows = batches_to_rows(&[batch]).unwrap();
        assert_eq!(rows, vec![vec![json!(7), json!(123.45), json!("x"), json!("1995-01-01")], vec![Value::Null; 4]]);
    }
}
