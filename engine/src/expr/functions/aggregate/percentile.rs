//! `MEDIAN(x)`, `PERCENTILE_CONT(f) WITHIN GROUP (ORDER BY x)` and `PERCENTILE_DISC(f) ...`.
//! Exact: each group keeps its values and selects the needed ones with `select_nth_unstable`
//! (linear time) at the end.
//!
//! Result types: Redshift answers a DECIMAL for a DECIMAL input ("MEDIAN function", "Data
//! types"), so a DECIMAL(p,s) is never taken through f64: `PERCENTILE_DISC` returns one of the
//! values, DECIMAL(p,s); `MEDIAN`/`PERCENTILE_CONT` interpolate in integer arithmetic on the
//! unscaled values and return DECIMAL(38, min(s+4, 38)) — four more digits of scale, as `AVG` of a
//! decimal keeps — rounded half away from zero (exact whenever the fraction has at most four
//! decimal digits, which covers the median). Integers and floats give DOUBLE PRECISION as
//! PostgreSQL and DuckDB do (Redshift would answer a DECIMAL for integers too).
//!
//! `PERCENTILE_CONT` interpolates linearly between the values at positions `floor(f * (n - 1))`
//! and `ceil(f * (n - 1))` (PostgreSQL, Redshift); `PERCENTILE_DISC` answers the first value
//! whose cumulative share reaches `f`. The binder passes `(x, f, descending)`; a descending
//! ordering is the ascending one at `1 - f`.
//!
//! State: a `List` of each group's values (DOUBLE PRECISION, or the input's DECIMAL) and the
//! effective fraction (DOUBLE PRECISION, NULL if this accumulator never saw it), since a merging
//! accumulator may never see the call's arguments itself.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Decimal128Type, Field, Float64Type};

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_array;
use crate::expr::functions::arguments::{check_usage, wrong_arg};
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};
use crate::plan::types::{is_numeric, MAX_DECIMAL_PRECISION};

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
        let value = if matches!(value, DataType::Decimal128(..)) { value } else { DataType::Float64 };
        let mut arg_types = vec![value];
        if !median {
            if !(is_numeric(&args[1]) || args[1] == DataType::Null) {
                return Err(wrong_arg(self.name, 1, "a fraction between 0 and 1", &args[1]));
            }
            arg_types.extend([DataType::Float64, DataType::Boolean]);
        }
        let return_type = result_type(self.interpolation, &arg_types[0]);
        Ok(Signature { arg_types, return_type })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        let fraction = (self.name == "median").then_some(0.5);
        let value_type = arg_types.first().cloned().unwrap_or(DataType::Float64);
        let inner = Box::new(PercentileAccumulator::new(self.name, self.interpolation, fraction, &value_type));
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

/// Digits of scale a continuous percentile of a DECIMAL adds (as `AVG` of a decimal does).
const EXTRA_SCALE: i8 = 4;

/// The result type for values of type `value` (already DOUBLE PRECISION or DECIMAL).
fn result_type(interpolation: Interpolation, value: &DataType) -> DataType {
    match (interpolation, value) {
        (Interpolation::Continuous, DataType::Decimal128(_, s)) => {
            DataType::Decimal128(MAX_DECIMAL_PRECISION, (s + EXTRA_SCALE).min(MAX_DECIMAL_PRECISION as i8))
        }
        (Interpolation::Discrete, DataType::Decimal128(..)) => value.clone(),
        _ => DataType::Float64,
    }
}

/// A fraction as an exact decimal `numerator / 10^digits`, read from the shortest text that
/// round-trips the f64 (so `0.1` is exactly one tenth, not the nearest binary fraction).
#[derive(Debug, Clone, Copy, PartialEq)]
struct ExactFraction {
    numerator: i128,
    digits: u32,
}

impl ExactFraction {
    /// Most fractional digits kept: an f64 in [0, 1] needs at most 17 significant ones, and only
    /// fractions below 1e-3 lose digits past the twentieth place.
    const MAX_DIGITS: u32 = 20;

    fn of(fraction: f64) -> ExactFraction {
        let text = format!("{fraction}");
        let (whole, fractional) = text.split_once('.').unwrap_or((&text, ""));
        let fractional = &fractional[..fractional.len().min(Self::MAX_DIGITS as usize)];
        let digits = fractional.len() as u32;
        // `fraction` is in [0, 1] (checked by `learn_fraction`), so both parts are short digit runs.
        let whole: i128 = whole.parse().unwrap_or(0);
        let fractional: i128 = if fractional.is_empty() { 0 } else { fractional.parse().unwrap_or(0) };
        ExactFraction { numerator: whole * 10i128.pow(digits) + fractional, digits }
    }

    fn denominator(self) -> i128 {
        10i128.pow(self.digits)
    }
}

/// Each group's values, in the representation the result is computed in.
enum GroupValues {
    Float(Vec<Vec<f64>>),
    /// Unscaled DECIMAL values of the input's precision and scale.
    Decimal {
        values: Vec<Vec<i128>>,
        precision: u8,
        scale: i8,
    },
}

impl GroupValues {
    fn len(&self) -> usize {
        match self {
            GroupValues::Float(v) => v.len(),
            GroupValues::Decimal { values, .. } => values.len(),
        }
    }

    fn grow(&mut self, groups: usize) {
        match self {
            GroupValues::Float(v) => v.resize_with(groups.max(v.len()), Vec::new),
            GroupValues::Decimal { values, .. } => values.resize_with(groups.max(values.len()), Vec::new),
        }
    }

    fn value_type(&self) -> DataType {
        match self {
            GroupValues::Float(_) => DataType::Float64,
            GroupValues::Decimal { precision, scale, .. } => DataType::Decimal128(*precision, *scale),
        }
    }

    /// Appends the valid entries of `values` (of [`Self::value_type`]) to group `g`, entry by
    /// entry as `groups` says.
    fn push(&mut self, values: &dyn Array, groups: impl Iterator<Item = (usize, usize)>) {
        match self {
            GroupValues::Float(out) => {
                let values = values.as_primitive::<Float64Type>();
                for (i, g) in groups {
                    if values.is_valid(i) {
                        out[g].push(values.value(i));
                    }
                }
            }
            GroupValues::Decimal { values: out, .. } => {
                let values = values.as_primitive::<Decimal128Type>();
                for (i, g) in groups {
                    if values.is_valid(i) {
                        out[g].push(values.value(i));
                    }
                }
            }
        }
    }

    /// Takes the values out as one `List` array, one row per group.
    fn take_list(&mut self) -> Result<ListArray> {
        let value_type = self.value_type();
        let (lengths, flat): (Vec<usize>, ArrayRef) = match self {
            GroupValues::Float(v) => {
                let groups = std::mem::take(v);
                let lengths = groups.iter().map(Vec::len).collect();
                (lengths, Arc::new(groups.into_iter().flatten().map(Some).collect::<Float64Array>()))
            }
            GroupValues::Decimal { values, .. } => {
                let groups = std::mem::take(values);
                let lengths = groups.iter().map(Vec::len).collect();
                let flat: Decimal128Array = groups.into_iter().flatten().map(Some).collect();
                (lengths, Arc::new(flat.with_data_type(value_type.clone())))
            }
        };
        let field = Arc::new(Field::new_list_field(value_type, true));
        Ok(ListArray::try_new(field, OffsetBuffer::from_lengths(lengths), flat, None)?)
    }
}

pub struct PercentileAccumulator {
    name: &'static str,
    interpolation: Interpolation,
    /// The effective (ascending) fraction once known; `MEDIAN` knows it from the start.
    fraction: Option<f64>,
    values: GroupValues,
}

impl PercentileAccumulator {
    /// An accumulator of values of `value_type` (DECIMAL, or anything else read as DOUBLE).
    pub fn new(name: &'static str, interpolation: Interpolation, fraction: Option<f64>, value_type: &DataType) -> Self {
        let values = match value_type {
            DataType::Decimal128(precision, scale) => {
                GroupValues::Decimal { values: Vec::new(), precision: *precision, scale: *scale }
            }
            _ => GroupValues::Float(Vec::new()),
        };
        PercentileAccumulator { name, interpolation, fraction, values }
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

    /// The percentile of unscaled decimals of scale `scale`, in the unscaled units of
    /// [`result_type`]; `Ok(None)` for an empty group, an error when an intermediate overflows.
    fn decimal_percentile(&self, values: &mut [i128], fraction: ExactFraction) -> Result<Option<i128>> {
        let n = values.len() as i128;
        if n == 0 {
            return Ok(None);
        }
        let overflow = || {
            EngineError::execution(format!(
                "function {}: numeric overflow while interpolating DECIMAL values; cast the argument to a smaller \
                 precision",
                self.name
            ))
        };
        let denominator = fraction.denominator();
        if self.interpolation == Interpolation::Discrete {
            // The first value whose cumulative share reaches the fraction: ceil(f * n), at least 1.
            let rank = (fraction.numerator.checked_mul(n).ok_or_else(overflow)? + denominator - 1) / denominator;
            let k = (rank.clamp(1, n) - 1) as usize;
            return Ok(Some(*values.select_nth_unstable(k).1));
        }
        let position = fraction.numerator.checked_mul(n - 1).ok_or_else(overflow)?;
        let (low, remainder) = (position / denominator, position % denominator);
        let low_value = *values.select_nth_unstable(low as usize).1;
        let scale_up = 10i128.pow(EXTRA_SCALE as u32);
        let low_scaled = low_value.checked_mul(scale_up).ok_or_else(overflow)?;
        if remainder == 0 {
            return Ok(Some(low_scaled));
        }
        // After selecting `low`, the next larger value is the minimum above it.
        let high_value = values[low as usize + 1..].iter().copied().min().unwrap_or(low_value);
        let step = high_value
            .checked_sub(low_value)
            .and_then(|d| d.checked_mul(scale_up))
            .and_then(|d| d.checked_mul(remainder))
            .ok_or_else(overflow)?;
        // Round the exact sum once, so the result's sign decides the direction of a half.
        let exact = low_scaled.checked_mul(denominator).and_then(|l| l.checked_add(step)).ok_or_else(overflow)?;
        Ok(Some(divide_rounding_half_away(exact, denominator)))
    }
}

/// `a / b` (b > 0) rounded half away from zero.
fn divide_rounding_half_away(a: i128, b: i128) -> i128 {
    let (q, r) = (a / b, a % b);
    if r.unsigned_abs() * 2 >= b.unsigned_abs() {
        q + a.signum()
    } else {
        q
    }
}

impl GroupsAccumulator for PercentileAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.values.grow(total_groups);
        if let (Some(fraction), Some(descending)) = (args.get(1), args.get(2)) {
            let fraction = cast_array(fraction, &DataType::Float64, false)?;
            let fraction = fraction.as_primitive::<Float64Type>();
            let descending = descending.as_boolean();
            if let Some(i) = (0..fraction.len()).find(|&i| fraction.is_valid(i)) {
                let f = fraction.value(i);
                let desc = descending.is_valid(i) && descending.value(i);
                self.learn_fraction(if desc { descending_fraction(f) } else { f })?;
            }
        }
        let values = cast_array(&args[0], &self.values.value_type(), false)?;
        self.values.push(values.as_ref(), group_indices.iter().copied().enumerate());
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let list = self.values.take_list()?;
        let fractions = Float64Array::from(vec![self.fraction; list.len()]);
        Ok(vec![Arc::new(list), Arc::new(fractions)])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.values.grow(total_groups);
        let lists = states[0].as_list::<i32>();
        let fractions = states[1].as_primitive::<Float64Type>();
        if let Some(i) = (0..fractions.len()).find(|&i| fractions.is_valid(i)) {
            self.learn_fraction(fractions.value(i))?;
        }
        for (i, &g) in group_indices.iter().enumerate() {
            if lists.is_valid(i) {
                let values = lists.value(i);
                self.values.push(values.as_ref(), (0..values.len()).map(|j| (j, g)));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let groups = self.values.len();
        let Some(fraction) = self.fraction else {
            return Ok(arrow::array::new_null_array(
                &result_type(self.interpolation, &self.values.value_type()),
                groups,
            ));
        };
        let out_type = result_type(self.interpolation, &self.values.value_type());
        match std::mem::replace(&mut self.values, GroupValues::Float(Vec::new())) {
            GroupValues::Float(mut values) => {
                let out: Float64Array = values.iter_mut().map(|v| self.percentile(v, fraction)).collect();
                Ok(Arc::new(out))
            }
            GroupValues::Decimal { mut values, .. } => {
                let exact = ExactFraction::of(fraction);
                let out = values
                    .iter_mut()
                    .map(|v| self.decimal_percentile(v, exact))
                    .collect::<Result<Decimal128Array>>()?;
                Ok(Arc::new(out.with_data_type(out_type)))
            }
        }
    }
}

/// `1 - f` for a descending ordering, computed on the exact decimal so `1 - 0.9` is `0.1`.
fn descending_fraction(f: f64) -> f64 {
    let exact = ExactFraction::of(f);
    let complement = exact.denominator() - exact.numerator;
    let text = format!("0.{complement:0width$}", width = exact.digits as usize);
    if exact.digits == 0 {
        1.0 - f
    } else {
        text.parse().unwrap_or(1.0 - f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn median_of(values: &[f64]) -> Option<f64> {
        PercentileAccumulator::new("median", Interpolation::Continuous, Some(0.5), &DataType::Float64)
            .percentile(&mut values.to_vec(), 0.5)
    }

    #[test]
    fn continuous_and_discrete() {
        assert_eq!(median_of(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_of(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_of(&[]), None);
        let cont = PercentileAccumulator::new("percentile_cont", Interpolation::Continuous, None, &DataType::Float64);
        assert_eq!(cont.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.25), Some(17.5));
        let disc = PercentileAccumulator::new("percentile_disc", Interpolation::Discrete, None, &DataType::Float64);
        assert_eq!(disc.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.25), Some(10.0));
        assert_eq!(disc.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.26), Some(20.0));
        assert_eq!(disc.percentile(&mut [10.0, 20.0, 30.0, 40.0], 0.0), Some(10.0));
    }

    fn decimal(interpolation: Interpolation, values: &[i128], fraction: f64) -> Option<i128> {
        let acc = PercentileAccumulator::new("percentile", interpolation, None, &DataType::Decimal128(10, 2));
        acc.decimal_percentile(&mut values.to_vec(), ExactFraction::of(fraction)).unwrap()
    }

    #[test]
    fn decimals_are_exact() {
        // 1.01, 2.02: the median 1.515 needs a digit more than the input; result scale is 2 + 4.
        assert_eq!(decimal(Interpolation::Continuous, &[202, 101], 0.5), Some(1_515_000));
        // 10.00 .. 40.00 at 0.1: position 0.3 → 10 + 0.3 * 10 = 13.
        assert_eq!(decimal(Interpolation::Continuous, &[4000, 1000, 3000, 2000], 0.1), Some(13_000_000));
        // A seven-digit fraction is rounded half away from zero to the six digits of scale.
        assert_eq!(decimal(Interpolation::Continuous, &[0, 100], 0.1234565), Some(123_457));
        assert_eq!(decimal(Interpolation::Continuous, &[-100, 0], 0.8765435), Some(-123_457));
        assert_eq!(decimal(Interpolation::Continuous, &[-100, 0], 0.5), Some(-500_000));
        assert_eq!(decimal(Interpolation::Discrete, &[4000, 1000, 3000, 2000], 0.25), Some(1000));
        assert_eq!(decimal(Interpolation::Discrete, &[4000, 1000, 3000, 2000], 0.26), Some(2000));
        assert_eq!(decimal(Interpolation::Continuous, &[], 0.5), None);
        assert_eq!(result_type(Interpolation::Continuous, &DataType::Decimal128(12, 2)), DataType::Decimal128(38, 6));
        assert_eq!(result_type(Interpolation::Discrete, &DataType::Decimal128(12, 2)), DataType::Decimal128(12, 2));
    }

    #[test]
    fn overflow_is_an_error() {
        let acc = PercentileAccumulator::new("median", Interpolation::Continuous, None, &DataType::Decimal128(38, 0));
        let err = acc.decimal_percentile(&mut [i128::MAX / 2, 0], ExactFraction::of(0.5)).unwrap_err();
        assert!(err.to_string().contains("function median: numeric overflow"), "{err}");
    }

    #[test]
    fn exact_fractions() {
        assert_eq!(ExactFraction::of(0.1), ExactFraction { numerator: 1, digits: 1 });
        assert_eq!(ExactFraction::of(1.0), ExactFraction { numerator: 1, digits: 0 });
        assert_eq!(descending_fraction(0.9), 0.1);
        assert_eq!(descending_fraction(0.25), 0.75);
        assert_eq!(descending_fraction(0.0), 1.0);
    }
}
