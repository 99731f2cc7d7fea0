//! `SUM` and `AVG`: per-group running sums in the sum type (BIGINT, DOUBLE PRECISION or
//! DECIMAL(38,s)) with overflow-checked addition, plus row counts.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, PrimitiveArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{ArrowPrimitiveType, DataType, Decimal128Type, Int16Type, Int32Type, Int64Type, Int8Type};

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_array;
use crate::expr::functions::GroupsAccumulator;
use crate::plan::types::{sql_type_name, MAX_DECIMAL_PRECISION};

/// Addition that reports overflow as a flag, so a batch loop carries no per-element `Result`
/// (floats never overflow: they go to infinity, as in PostgreSQL).
pub(crate) trait FlaggedAdd: Copy {
    fn add_flagged(self, other: Self) -> (Self, bool);
    /// An integer input value in the sum type (exact for the integer sums that use it).
    fn from_i64(value: i64) -> Self;
}

impl FlaggedAdd for i64 {
    #[inline]
    fn add_flagged(self, other: Self) -> (Self, bool) {
        self.overflowing_add(other)
    }

    #[inline]
    fn from_i64(value: i64) -> Self {
        value
    }
}

impl FlaggedAdd for i128 {
    #[inline]
    fn add_flagged(self, other: Self) -> (Self, bool) {
        self.overflowing_add(other)
    }

    #[inline]
    fn from_i64(value: i64) -> Self {
        value as i128
    }
}

impl FlaggedAdd for f64 {
    #[inline]
    fn add_flagged(self, other: Self) -> (Self, bool) {
        (self + other, false)
    }

    #[inline]
    fn from_i64(value: i64) -> Self {
        value as f64
    }
}

/// Running sums and counts per group; a group with count 0 has no sum (NULL).
///
/// A group's sum and count sit side by side: the batch loop touches one slot (one bounds
/// check, one cache line) per row instead of two vectors.
struct Sums<T: ArrowPrimitiveType> {
    groups: Vec<(T::Native, i64)>,
    sum_type: DataType,
}

impl<T: ArrowPrimitiveType> Sums<T>
where
    T::Native: FlaggedAdd,
{
    fn new(sum_type: DataType) -> Self {
        Sums { groups: Vec::new(), sum_type }
    }

    fn grow(&mut self, total_groups: usize) {
        let n = total_groups.max(self.groups.len());
        self.groups.resize(n, (T::Native::default(), 0));
    }

    /// Adds `values` (any type castable to the sum type) to their groups; `counts` gives each
    /// row's weight when merging partial states (otherwise every row counts once). One typed
    /// loop per batch; overflow is flagged, not checked per element, and reported after it.
    /// Narrower integers are widened inside the loop rather than cast into a copy first.
    fn add(&mut self, values: &ArrayRef, group_indices: &[usize], counts: Option<&Int64Array>) -> Result<()> {
        let widen = |v: i64| T::Native::from_i64(v);
        let overflow = match (values.data_type(), &self.sum_type) {
            // Same scale: widening the precision leaves the values as they are.
            (DataType::Decimal128(_, from), DataType::Decimal128(_, to)) if from == to => {
                self.accumulate(values.as_primitive::<T>(), group_indices, counts, |v| v)
            }
            (from, to) if from == to => self.accumulate(values.as_primitive::<T>(), group_indices, counts, |v| v),
            // Signed integers into a BIGINT sum or an exact DECIMAL(38,0) one (`avg`).
            (DataType::Int64, DataType::Int64 | DataType::Decimal128(_, 0)) => {
                self.accumulate(values.as_primitive::<Int64Type>(), group_indices, counts, widen)
            }
            (DataType::Int32, DataType::Int64 | DataType::Decimal128(_, 0)) => {
                self.accumulate(values.as_primitive::<Int32Type>(), group_indices, counts, |v| widen(v as i64))
            }
            (DataType::Int16, DataType::Int64 | DataType::Decimal128(_, 0)) => {
                self.accumulate(values.as_primitive::<Int16Type>(), group_indices, counts, |v| widen(v as i64))
            }
            (DataType::Int8, DataType::Int64 | DataType::Decimal128(_, 0)) => {
                self.accumulate(values.as_primitive::<Int8Type>(), group_indices, counts, |v| widen(v as i64))
            }
            _ => {
                let values = cast_array(values, &self.sum_type, false)?;
                self.accumulate(values.as_primitive::<T>(), group_indices, counts, |v| v)
            }
        };
        if overflow {
            return Err(EngineError::NumericOverflow {
                operation: format!("sum of {}", sql_type_name(&self.sum_type)),
            });
        }
        Ok(())
    }

    /// The batch loop of [`Sums::add`] over values of type `V`; whether a sum overflowed.
    #[inline]
    fn accumulate<V: ArrowPrimitiveType>(
        &mut self,
        values: &PrimitiveArray<V>,
        group_indices: &[usize],
        counts: Option<&Int64Array>,
        widen: impl Fn(V::Native) -> T::Native,
    ) -> bool {
        let groups = &mut self.groups;
        let mut overflow = false;
        let nulls = values.nulls().filter(|n| n.null_count() > 0);
        match (nulls, counts) {
            (None, None) => {
                for (&g, &v) in group_indices.iter().zip(values.values().iter()) {
                    let slot = &mut groups[g];
                    let (sum, o) = slot.0.add_flagged(widen(v));
                    slot.0 = sum;
                    slot.1 += 1;
                    overflow |= o;
                }
            }
            _ => {
                for (i, (&g, &v)) in group_indices.iter().zip(values.values().iter()).enumerate() {
                    if nulls.is_some_and(|n| n.is_null(i)) {
                        continue;
                    }
                    let slot = &mut groups[g];
                    let (sum, o) = slot.0.add_flagged(widen(v));
                    slot.0 = sum;
                    slot.1 += counts.map_or(1, |c| c.value(i));
                    overflow |= o;
                }
            }
        }
        overflow
    }

    /// The sums (NULL where a group had no rows); the groups stay (see [`Sums::take_counts`]).
    fn take_sums(&mut self) -> Result<PrimitiveArray<T>> {
        let nulls = NullBuffer::from(self.groups.iter().map(|&(_, c)| c > 0).collect::<Vec<_>>());
        let sums: Vec<T::Native> = self.groups.iter().map(|&(s, _)| s).collect();
        let sums = PrimitiveArray::<T>::new(sums.into(), Some(nulls)).with_data_type(self.sum_type.clone());
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

    /// The counts, taking the groups out.
    fn take_counts(&mut self) -> Int64Array {
        Int64Array::from_iter_values(std::mem::take(&mut self.groups).into_iter().map(|(_, c)| c))
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
        self.sums.groups.clear();
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
