//! `SUM` and `AVG`: per-group running sums in the sum type (BIGINT, DOUBLE PRECISION or
//! DECIMAL(38,s)) with overflow-checked addition, plus row counts.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, PrimitiveArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{ArrowPrimitiveType, DataType, Decimal128Type, Int64Type};

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_array;
use crate::expr::functions::GroupsAccumulator;
use crate::plan::types::{sql_type_name, MAX_DECIMAL_PRECISION};

/// Addition that reports overflow as a flag, so a batch loop carries no per-element `Result`
/// (floats never overflow: they go to infinity, as in PostgreSQL).
pub(crate) trait FlaggedAdd: Copy {
    fn add_flagged(self, other: Self) -> (Self, bool);
}

impl FlaggedAdd for i64 {
    #[inline]
    fn add_flagged(self, other: Self) -> (Self, bool) {
        self.overflowing_add(other)
    }
}

impl FlaggedAdd for i128 {
    #[inline]
    fn add_flagged(self, other: Self) -> (Self, bool) {
        self.overflowing_add(other)
    }
}

impl FlaggedAdd for f64 {
    #[inline]
    fn add_flagged(self, other: Self) -> (Self, bool) {
        (self + other, false)
    }
}

/// Running sums and counts per group; a group with count 0 has no sum (NULL).
struct Sums<T: ArrowPrimitiveType> {
    sums: Vec<T::Native>,
    counts: Vec<i64>,
    sum_type: DataType,
}

impl<T: ArrowPrimitiveType> Sums<T>
where
    T::Native: FlaggedAdd,
{
    fn new(sum_type: DataType) -> Self {
        Sums { sums: Vec::new(), counts: Vec::new(), sum_type }
    }

    fn grow(&mut self, total_groups: usize) {
        let n = total_groups.max(self.sums.len());
        self.sums.resize(n, T::Native::default());
        self.counts.resize(n, 0);
    }

    /// Adds `values` (any type castable to the sum type) to their groups; `counts` gives each
    /// row's weight when merging partial states (otherwise every row counts once). One typed
    /// loop per batch; overflow is flagged, not checked per element, and reported after it.
    fn add(&mut self, values: &ArrayRef, group_indices: &[usize], counts: Option<&Int64Array>) -> Result<()> {
        let values = match (values.data_type(), &self.sum_type) {
            // Same scale: widening the precision leaves the values as they are.
            (DataType::Decimal128(_, from), DataType::Decimal128(_, to)) if from == to => values.clone(),
            _ => cast_array(values, &self.sum_type, false)?,
        };
        let values = values.as_primitive::<T>();
        let (sums, group_counts) = (&mut self.sums, &mut self.counts);
        let mut overflow = false;
        let nulls = values.nulls().filter(|n| n.null_count() > 0);
        match (nulls, counts) {
            (None, None) => {
                for (&g, &v) in group_indices.iter().zip(values.values().iter()) {
                    let (sum, o) = sums[g].add_flagged(v);
                    sums[g] = sum;
                    overflow |= o;
                    group_counts[g] += 1;
                }
            }
            _ => {
                for (i, (&g, &v)) in group_indices.iter().zip(values.values().iter()).enumerate() {
                    if nulls.is_some_and(|n| n.is_null(i)) {
                        continue;
                    }
                    let (sum, o) = sums[g].add_flagged(v);
                    sums[g] = sum;
                    overflow |= o;
                    group_counts[g] += counts.map_or(1, |c| c.value(i));
                }
            }
        }
        if overflow {
            return Err(EngineError::NumericOverflow {
                operation: format!("sum of {}", sql_type_name(&self.sum_type)),
            });
        }
        Ok(())
    }

    /// The sums (NULL where a group had no rows), taking them out.
    fn take_sums(&mut self) -> Result<PrimitiveArray<T>> {
        let nulls = NullBuffer::from(self.counts.iter().map(|&c| c > 0).collect::<Vec<_>>());
        let sums = PrimitiveArray::<T>::new(std::mem::take(&mut self.sums).into(), Some(nulls))
            .with_data_type(self.sum_type.clone());
        if let DataType::Decimal128(p, _) = self.sum_type {
            // An i128 holds a little more than 38 digits; more than that is an overflow.
            sums.as_any()
                .downcast_ref::<PrimitiveArray<Decimal128Type>>()
                .map(|d| d.validate_decimal_precision(p))
                .transpose()
                .map_err(|_| EngineError::NumericOverflow { operation: format!("sum of DECIMAL({p})") })?;
        }
        Ok(sums)
    }

    fn take_counts(&mut self) -> Int64Array {
        Int64Array::from(std::mem::take(&mut self.counts))
    }
}

/// `SUM(x)`; state is one column of partial sums in the result type.
pub struct SumAccumulator<T: ArrowPrimitiveType> {
    sums: Sums<T>,
}

impl<T: ArrowPrimitiveType> SumAccumulator<T>
where
    T::Native: FlaggedAdd,
{
    pub fn new(sum_type: DataType) -> Self {
        SumAccumulator { sums: Sums::new(sum_type) }
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for SumAccumulator<T>
where
    T::Native: FlaggedAdd,
{
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.sums.grow(total_groups);
        self.sums.add(&args[0], group_indices, None)
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.update(states, group_indices, total_groups)
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let sums = self.sums.take_sums()?;
        self.sums.counts.clear();
        Ok(Arc::new(sums))
    }
}

/// `AVG(x)`; state is two columns: partial sums (in the sum type) and BIGINT counts.
pub struct AvgAccumulator<T: ArrowPrimitiveType> {
    sums: Sums<T>,
    result_type: DataType,
}

impl<T: ArrowPrimitiveType> AvgAccumulator<T>
where
    T::Native: FlaggedAdd,
{
    pub fn new(sum_type: DataType, result_type: DataType) -> Self {
        AvgAccumulator { sums: Sums::new(sum_type), result_type }
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for AvgAccumulator<T>
where
    T::Native: FlaggedAdd,
{
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.sums.grow(total_groups);
        self.sums.add(&args[0], group_indices, None)
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let sums = self.sums.take_sums()?;
        Ok(vec![Arc::new(sums), Arc::new(self.sums.take_counts())])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.sums.grow(total_groups);
        let counts = states[1].as_primitive::<Int64Type>().clone();
        self.sums.add(&states[0], group_indices, Some(&counts))
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let sums: ArrayRef = Arc::new(self.sums.take_sums()?);
        let counts = self.sums.take_counts();
        match (&self.result_type, sums.data_type()) {
            (DataType::Float64, DataType::Float64) => {
                let sums = sums.as_primitive::<arrow::datatypes::Float64Type>();
                let out: Float64Array =
                    sums.iter().zip(counts.values()).map(|(s, &c)| s.map(|s| s / c as f64)).collect();
                Ok(Arc::new(out))
            }
            (DataType::Float64, DataType::Decimal128(_, _)) => {
                let sums = sums.as_primitive::<Decimal128Type>();
                let out: Float64Array =
                    sums.iter().zip(counts.values()).map(|(s, &c)| s.map(|s| s as f64 / c as f64)).collect();
                Ok(Arc::new(out))
            }
            (DataType::Decimal128(p, s_out), DataType::Decimal128(_, s_in)) => {
                let sums = sums.as_primitive::<Decimal128Type>();
                let factor = 10i128.pow((*s_out - *s_in).max(0) as u32);
                let overflow = || EngineError::NumericOverflow { operation: format!("avg of DECIMAL({p},{s_in})") };
                let out = sums
                    .iter()
                    .zip(counts.values())
                    .map(|(s, &c)| s.map(|s| divide_rounded(s, factor, c as i128).ok_or_else(overflow)).transpose())
                    .collect::<Result<PrimitiveArray<Decimal128Type>>>()?
                    .with_precision_and_scale(*p, *s_out)?;
                out.validate_decimal_precision(MAX_DECIMAL_PRECISION).map_err(|_| overflow())?;
                Ok(Arc::new(out))
            }
            (to, _) => Err(EngineError::execution(format!("avg cannot produce {to}"))),
        }
    }
}

/// `value * factor / divisor`, rounded half away from zero.
fn divide_rounded(value: i128, factor: i128, divisor: i128) -> Option<i128> {
    let scaled = value.checked_mul(factor)?;
    let (q, r) = (scaled / divisor, scaled % divisor);
    Some(if r.abs() * 2 >= divisor { q + scaled.signum() } else { q })
}
