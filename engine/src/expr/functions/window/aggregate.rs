//! Aggregates over frames. The common aggregates are O(n) for every frame, because frames only
//! move forward as the current row does: `count`, `sum` and `avg` take differences of prefix
//! sums (adding the rows entering the frame, subtracting those leaving it), `min` and `max` keep a
//! monotonic queue of candidates. Any other aggregate (and `DISTINCT`) feeds each row's frame into
//! its own group of the function's accumulator: correct for every registered aggregate, but
//! proportional to the total frame size.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};
use arrow::row::{RowConverter, SortField};

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_array;
use crate::expr::functions::window::{WindowFunction, WindowInput};
use crate::expr::functions::{AggregateFunction, Signature};
use crate::plan::types::{is_integer, sql_type_name, MAX_DECIMAL_PRECISION};

/// Rows fed to the accumulator per update in the general path, bounding its temporary memory.
const GENERAL_PATH_ROWS: usize = 1 << 20;

/// An aggregate function evaluated over each row's frame.
pub struct AggregateWindow {
    function: Arc<dyn AggregateFunction>,
    arg_types: Vec<DataType>,
    distinct: bool,
}

impl AggregateWindow {
    /// `arg_types` are the types the binder cast the arguments to (the aggregate's signature).
    pub fn new(function: Arc<dyn AggregateFunction>, arg_types: Vec<DataType>, distinct: bool) -> AggregateWindow {
        AggregateWindow { function, arg_types, distinct }
    }
}

impl WindowFunction for AggregateWindow {
    fn name(&self) -> &str {
        self.function.name()
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        self.function.signature(args)
    }

    fn evaluate(&self, input: &WindowInput<'_>) -> Result<ArrayRef> {
        if !self.distinct {
            match (self.function.name(), input.args) {
                ("count", []) => return Ok(Arc::new(frame_counts(input, None))),
                ("count", [values]) => return Ok(Arc::new(frame_counts(input, Some(values)))),
                ("sum", [values]) => return self.sum(input, values),
                ("avg", [values]) => return self.avg(input, values),
                ("min" | "max", [values]) if frames_move_forward(input) => {
                    return frame_extreme(input, values, self.function.name() == "min")
                }
                _ => {}
            }
        }
        self.general(input)
    }
}

impl AggregateWindow {
    /// `SUM`: frame differences of prefix sums in the sum type, NULL for frames without values.
    fn sum(&self, input: &WindowInput<'_>, values: &ArrayRef) -> Result<ArrayRef> {
        let sum_type = self.function.signature(&self.arg_types)?.return_type;
        frame_sums(input, values, &sum_type)
    }

    /// `AVG`: frame sums and counts merged into the function's own accumulator as its partial
    /// state, so results (types, rounding) are exactly those of a grouped `AVG`.
    fn avg(&self, input: &WindowInput<'_>, values: &ArrayRef) -> Result<ArrayRef> {
        let sum_type = match values.data_type() {
            DataType::Decimal128(_, s) => DataType::Decimal128(MAX_DECIMAL_PRECISION, *s),
            t if is_integer(t) => DataType::Decimal128(MAX_DECIMAL_PRECISION, 0),
            _ => DataType::Float64,
        };
        let sums = frame_sums(input, values, &sum_type)?;
        let counts: ArrayRef = Arc::new(frame_counts(input, Some(values)));
        let n = input.num_rows();
        let mut accumulator = self.function.accumulator(&self.arg_types, false)?;
        accumulator.merge_state(&[sums, counts], &(0..n).collect::<Vec<_>>(), n)?;
        accumulator.evaluate()
    }

    /// Any aggregate: row `i`'s frame rows go to group `i` of one accumulator.
    fn general(&self, input: &WindowInput<'_>) -> Result<ArrayRef> {
        let n = input.num_rows();
        let mut accumulator = self.function.accumulator(&self.arg_types, self.distinct)?;
        let mut row = 0;
        while row < n {
            let mut indices: Vec<u32> = Vec::new();
            let mut groups: Vec<usize> = Vec::new();
            while row < n && (indices.is_empty() || indices.len() < GENERAL_PATH_ROWS) {
                for j in input.frame_start[row]..input.frame_end[row] {
                    indices.push(j as u32);
                    groups.push(row);
                }
                row += 1;
            }
            let indices = UInt32Array::from(indices);
            let args = input.args.iter().map(|a| Ok(take(a, &indices, None)?)).collect::<Result<Vec<_>>>()?;
            accumulator.update(&args, &groups, row)?;
        }
        if n == 0 {
            let empty = input.args.iter().map(|a| a.slice(0, 0)).collect::<Vec<_>>();
            accumulator.update(&empty, &[], 0)?;
        }
        accumulator.evaluate()
    }
}

/// Whether every frame starts and ends at or after the previous row's (true of every `ROWS` and
/// `RANGE` frame with constant offsets), which the monotonic queue relies on.
fn frames_move_forward(input: &WindowInput<'_>) -> bool {
    input.frame_start.windows(2).all(|w| w[0] <= w[1]) && input.frame_end.windows(2).all(|w| w[0] <= w[1])
}

/// Per row: how many rows (`values` absent: `COUNT(*)`) or non-NULL values the frame holds.
fn frame_counts(input: &WindowInput<'_>, values: Option<&ArrayRef>) -> Int64Array {
    let n = input.num_rows();
    let counts: Vec<i64> = match values.and_then(|v| v.logical_nulls()) {
        None => (0..n).map(|i| (input.frame_end[i] - input.frame_start[i]) as i64).collect(),
        Some(nulls) => {
            let mut prefix = Vec::with_capacity(n + 1);
            prefix.push(0i64);
            for i in 0..n {
                prefix.push(prefix[i] + nulls.is_valid(i) as i64);
            }
            (0..n).map(|i| prefix[input.frame_end[i]] - prefix[input.frame_start[i]]).collect()
        }
    };
    Int64Array::from(counts)
}

/// Per row: the sum of the frame's non-NULL `values` in `sum_type` (BIGINT, DOUBLE PRECISION or
/// DECIMAL(38,s)), NULL when it has none. Exact types sum in i128 and fail on overflow.
fn frame_sums(input: &WindowInput<'_>, values: &ArrayRef, sum_type: &DataType) -> Result<ArrayRef> {
    let n = input.num_rows();
    let values = cast_array(values, sum_type, false)?;
    let overflow = || EngineError::NumericOverflow { operation: format!("sum of {}", sql_type_name(sum_type)) };
    let mut valid_prefix = Vec::with_capacity(n + 1);
    valid_prefix.push(0usize);
    for i in 0..n {
        valid_prefix.push(valid_prefix[i] + values.is_valid(i) as usize);
    }
    let has_values = |i: usize| valid_prefix[input.frame_end[i]] > valid_prefix[input.frame_start[i]];
    if let DataType::Float64 = sum_type {
        let floats = values.as_primitive::<Float64Type>();
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0.0f64);
        for i in 0..n {
            let v = if floats.is_valid(i) { floats.value(i) } else { 0.0 };
            prefix.push(prefix[i] + v);
        }
        let out: Float64Array =
            (0..n).map(|i| has_values(i).then(|| prefix[input.frame_end[i]] - prefix[input.frame_start[i]])).collect();
        return Ok(Arc::new(out));
    }
    let exact: Vec<i128> = match sum_type {
        DataType::Int64 => {
            let ints = values.as_primitive::<Int64Type>();
            (0..n).map(|i| if ints.is_valid(i) { ints.value(i) as i128 } else { 0 }).collect()
        }
        DataType::Decimal128(..) => {
            let decimals = values.as_primitive::<Decimal128Type>();
            (0..n).map(|i| if decimals.is_valid(i) { decimals.value(i) } else { 0 }).collect()
        }
        other => return Err(EngineError::execution(format!("sum over a window cannot produce {other}"))),
    };
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0i128);
    for (i, v) in exact.iter().enumerate() {
        prefix.push(prefix[i].checked_add(*v).ok_or_else(overflow)?);
    }
    let sums = (0..n)
        .map(|i| {
            has_values(i)
                .then(|| prefix[input.frame_end[i]].checked_sub(prefix[input.frame_start[i]]).ok_or_else(overflow))
                .transpose()
        })
        .collect::<Result<Vec<Option<i128>>>>()?;
    match sum_type {
        DataType::Int64 => {
            let out = sums
                .into_iter()
                .map(|s| s.map(|s| i64::try_from(s).map_err(|_| overflow())).transpose())
                .collect::<Result<Int64Array>>()?;
            Ok(Arc::new(out))
        }
        DataType::Decimal128(p, s) => {
            let out = Decimal128Array::from(sums).with_precision_and_scale(*p, *s)?;
            out.validate_decimal_precision(*p).map_err(|_| overflow())?;
            Ok(Arc::new(out))
        }
        other => Err(EngineError::execution(format!("sum over a window cannot produce {other}"))),
    }
}

/// `MIN`/`MAX` with a monotonic queue: candidates in frame order whose values strictly improve
/// towards the back, so the front is the frame's extreme. Values compare in Arrow's row format,
/// which orders every orderable type.
fn frame_extreme(input: &WindowInput<'_>, values: &ArrayRef, is_min: bool) -> Result<ArrayRef> {
    let converter = RowConverter::new(vec![SortField::new(values.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(values))?;
    let n = input.num_rows();
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut next = 0;
    let mut result: Vec<Option<u32>> = Vec::with_capacity(n);
    for i in 0..n {
        let (start, end) = (input.frame_start[i], input.frame_end[i]);
        next = next.max(start);
        while next < end {
            if values.is_valid(next) {
                while let Some(&back) = queue.back() {
                    let better = if is_min { rows.row(back) < rows.row(next) } else { rows.row(back) > rows.row(next) };
                    if better {
                        break;
                    }
                    queue.pop_back();
                }
                queue.push_back(next);
            }
            next += 1;
        }
        while queue.front().is_some_and(|&f| f < start) {
            queue.pop_front();
        }
        result.push(queue.front().map(|&f| f as u32));
    }
    Ok(take(values, &UInt32Array::from(result), None)?)
}
