//! `MEDIAN(x)`, `PERCENTILE_CONT(f) WITHIN GROUP (ORDER BY x)` and `PERCENTILE_DISC(f) ...`
//! as DOUBLE PRECISION. Exact: each group keeps its values and selects the needed ones with
//! `select_nth_unstable` (linear time) at the end.
//!
//! `PERCENTILE_CONT` interpolates linearly between the values at positions `floor(f * (n - 1))`
//! and `ceil(f * (n - 1))` (PostgreSQL, Redshift); `PERCENTILE_DISC` answers the first value
//! whose cumulative share reaches `f`. The binder passes `(x, f, descending)`; a descending
//! ordering is the ascending one at `1 - f`.
//!
//! State: a `List<DOUBLE PRECISION>` of each group's values and the fraction (DOUBLE
//! PRECISION, NULL if this accumulator never saw it), since a merging accumulator may never
//! see the call's arguments itself.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Float64Type};

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_array;
use crate::expr::functions::arguments::{check_usage, wrong_arg};
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};
use crate::plan::types::is_numeric;

/// Registers `median`, `percentile_cont` and `percentile_disc`.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_aggregate(Arc::new(Percentile { name: "median", interpolation: Interpolation::Continuous }));
    registry
        .register_aggregate(Arc::new(Percentile { name: "percentile_cont", interpolation: Interpolation::Continuous }));
    registry
        .register_aggregate(Arc::new(Percentile { name: "percentile_disc", interpolation: Interpolation::Discrete }));
}

/// `MEDIAN(x)` takes one argument; the percentiles `(x, fraction, descending)` from the binder.
struct Percentile {
    name: &'static str,
    interpolation: Interpolation,
}

impl AggregateFunction for Percentile {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let median = self.name == "median";
        let usage = if median {
            "median(number)".to_string()
        } else {
            format!("{}(fraction) WITHIN GROUP (ORDER BY number)", self.name)
        };
        let count = if median { 1 } else { 3 };
        check_usage(self.name, args, count, count, &usage)?;
        let value = super::typed(&args[0], DataType::Float64);
        if !is_numeric(&value) {
            return Err(wrong_arg(self.name, 0, "a number", &value));
        }
        let mut arg_types = vec![value];
        if !median {
            if !(is_numeric(&args[1]) || args[1] == DataType::Null) {
                return Err(wrong_arg(self.name, 1, "a fraction between 0 and 1", &args[1]));
            }
            arg_types.extend([DataType::Float64, DataType::Boolean]);
        }
        Ok(Signature { arg_types, return_type: DataType::Float64 })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        let fraction = (self.name == "median").then_some(0.5);
        let inner = Box::new(PercentileAccumulator::new(self.name, self.interpolation, fraction));
        if distinct && self.name == "median" {
            return super::maybe_distinct(self.name, arg_types, distinct, inner);
        }
        if distinct {
            return Err(EngineError::plan(format!("{}(DISTINCT ...) is not supported", self.name)));
        }
        Ok(inner)
    }
}

/// Continuous (interpolated) or discrete percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Interpolation {
    Continuous,
    Discrete,
}

pub struct PercentileAccumulator {
    name: &'static str,
    interpolation: Interpolation,
    /// The effective (ascending) fraction once known; `MEDIAN` knows it from the start.
    fraction: Option<f64>,
    values: Vec<Vec<f64>>,
}

impl PercentileAccumulator {
    pub fn new(name: &'static str, interpolation: Interpolation, fraction: Option<f64>) -> Self {
        PercentileAccumulator { name, interpolation, fraction, values: Vec::new() }
    }

    fn learn_fraction(&mut self, fraction: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(EngineError::execution(format!(
                "function {}: the fraction must be between 0 and 1, got {fraction}",
                self.name
            )));
        }
        if self.fraction.is_some_and(|f| f != fraction) {
            return Err(EngineError::execution(format!("function {}: the fraction must be a constant", self.name)));
        }
        self.fraction = Some(fraction);
        Ok(())
    }

    fn percentile(&self, values: &mut [f64], fraction: f64) -> Option<f64> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mut nth = |k: usize| *values.select_nth_unstable_by(k, f64::total_cmp).1;
        Some(match self.interpolation {
            Interpolation::Discrete => nth(((fraction * n as f64).ceil() as usize).clamp(1, n) - 1),
            Interpolation::Continuous => {
                let position = fraction * (n - 1) as f64;
                let (low, high) = (position.floor() as usize, position.ceil() as usize);
                let low_value = nth(low);
                if high == low {
                    low_value
                } else {
                    // After selecting `low`, the next larger value is the minimum above it.
                    let high_value = values[low + 1..].iter().copied().fold(f64::INFINITY, f64::min);
                    low_value + (high_value - low_value) * (position - low as f64)
                }
            }
        })
    }
}

impl GroupsAccumulator for PercentileAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.values.resize_with(total_groups.max(self.values.len()), Vec::new);
        if let (Some(fraction), Some(descending)) = (args.get(1), args.get(2)) {
            let fraction = cast_array(fraction, &DataType::Float64, false)?;
            let fraction = fraction.as_primitive::<Float64Type>();
            let descending = descending.as_boolean();
            if let Some(i) = (0..fraction.len()).find(|&i| fraction.is_valid(i)) {
                let f = fraction.value(i);
                let desc = descending.is_valid(i) && descending.value(i);
                self.learn_fraction(if desc { 1.0 - f } else { f })?;
            }
        }
        let values = cast_array(&args[0], &DataType::Float64, false)?;
        let values = values.as_primitive::<Float64Type>();
        for (i, &g) in group_indices.iter().enumerate() {
            if values.is_valid(i) {
                self.values[g].push(values.value(i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let groups = std::mem::take(&mut self.values);
        let lengths: Vec<usize> = groups.iter().map(Vec::len).collect();
        let flat: Float64Array = groups.into_iter().flatten().map(Some).collect();
        let field = Arc::new(Field::new_list_field(DataType::Float64, true));
        let list =
            ListArray::try_new(field, OffsetBuffer::from_lengths(lengths.iter().copied()), Arc::new(flat), None)?;
        let fractions = Float64Array::from(vec![self.fraction; lengths.len()]);
        Ok(vec![Arc::new(list), Arc::new(fractions)])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.values.resize_with(total_groups.max(self.values.len()), Vec::new);
        let lists = states[0].as_list::<i32>();
        let fractions = states[1].as_primitive::<Float64Type>();
        if let Some(i) = (0..fractions.len()).find(|&i| fractions.is_valid(i)) {
            self.learn_fraction(fractions.value(i))?;
        }
        for (i, &g) in group_indices.iter().enumerate() {
            if lists.is_valid(i) {
                let values = lists.value(i);
                let values = values.as_primitive::<Float64Type>();
                self.values[g].extend(values.iter().flatten());
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let mut groups = std::mem::take(&mut self.values);
        let out: Float64Array = match self.fraction {
            Some(fraction) => groups.iter_mut().map(|values| self.percentile(values, fraction)).collect(),
            None => vec![None; groups.len()].into_iter().collect(),
        };
        Ok(Arc::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn median_of(values: &[f64]) -> Option<f64> {
        PercentileAccumulator::new("median", Interpolation::Continuous, Some(0.5)).percentile(&mut values.to_vec(), 0.5)
    }

    #[test]
    fn continuous_and_discrete() {
        assert_eq!(median_of(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_of(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_of(&[]), None);
        let cont = PercentileAccumulator::new("percentile_cont", Interpolation::Continuous, None);
        assert_eq!(cont.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.25), Some(17.5));
        let disc = PercentileAccumulator::new("percentile_disc", Interpolation::Discrete, None);
        assert_eq!(disc.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.25), Some(10.0));
        assert_eq!(disc.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.26), Some(20.0));
        assert_eq!(disc.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.0), Some(10.0));
    }
}
