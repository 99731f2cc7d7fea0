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
    /// Whether addition is associative (integers, with overflow flagged), so rows may be summed
    /// in any grouping; float sums keep their row order.
    const EXACT: bool;
    fn add_flagged(self, other: Self) -> (Self, bool);
    /// An integer input value in the sum type (exact for the integer sums that use it).
    fn from_i64(value: i64) -> Self;
}

impl FlaggedAdd for i64 {
    const EXACT: bool = true;

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
    const EXACT: bool = true;

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
    const EXACT: bool = false;

    #[inline]
    fn add_flagged(self, other: Self) -> (Self, bool) {
        (self + other, false)
    }

    #[inline]
    fn from_i64(value: i64) -> Self {
        value as f64
    }
}

/// Interleaved partial sums per group while a batch has few groups (see [`Sums::accumulate`]).
const LANES: usize = 4;

/// A group's running sum and row count.
type Slot<N> = (N, i64);

/// Running sums and counts per group; a group with count 0 has no sum (NULL).
///
/// A group's sum and count sit side by side: the batch loop touches one slot (one bounds
/// check, one cache line) per row instead of two vectors.
struct Sums<T: ArrowPrimitiveType> {
    groups: Vec<Slot<T::Native>>,
    /// Scratch for batches over few groups: [`LANES`] partial slots per group, folded into
    /// `groups` at the end of each batch.
    lanes: Vec<[Slot<T::Native>; LANES]>,
    sum_type: DataType,
}

impl<T: ArrowPrimitiveType> Sums<T>
where
    T::Native: FlaggedAdd,
{
    fn new(sum_type: DataType) -> Self {
        Sums { groups: Vec::new(), lanes: Vec::new(), sum_type }
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
    ///
    /// When a batch has many rows per group (q01: 4 groups), consecutive rows mostly add to
    /// the same slot, and each addition waits for the previous one's store: the loop runs at
    /// memory latency, not at the instruction rate. Integer sums then spread rows over
    /// [`LANES`] independent partial slots per group and fold them once per batch (overflow
    /// is still flagged in each lane and in the fold, so a sum that really overflows is
    /// reported; one the row order would have overflowed midway may now not be, as with
    /// another worker order).
    #[inline]
    fn accumulate<V: ArrowPrimitiveType>(
        &mut self,
        values: &PrimitiveArray<V>,
        group_indices: &[usize],
        counts: Option<&Int64Array>,
        widen: impl Fn(V::Native) -> T::Native,
    ) -> bool {
        let nulls = values.nulls().filter(|n| n.null_count() > 0);
        let few_groups = self.groups.len().saturating_mul(8 * LANES) <= group_indices.len();
        if !(T::Native::EXACT && few_groups && counts.is_none()) {
            return accumulate_rows(&mut self.groups, values, group_indices, counts, widen);
        }
        let zero = (T::Native::default(), 0);
        self.lanes.clear();
        self.lanes.resize(self.groups.len(), [zero; LANES]);
        let mut overflow = accumulate_lanes(&mut self.lanes, values.values(), nulls, group_indices, widen);
        for (slot, lanes) in self.groups.iter_mut().zip(&self.lanes) {
            for lane in lanes {
                let (sum, o) = slot.0.add_flagged(lane.0);
                slot.0 = sum;
                slot.1 += lane.1;
                overflow |= o;
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

/// Adds each row to its group's one slot, in row order: the general loop (weighted merges,
/// floats, many groups); whether a sum overflowed.
#[inline]
fn accumulate_rows<V: ArrowPrimitiveType, N: FlaggedAdd>(
    groups: &mut [Slot<N>],
    values: &PrimitiveArray<V>,
    group_indices: &[usize],
    counts: Option<&Int64Array>,
    widen: impl Fn(V::Native) -> N,
) -> bool {
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

/// Adds row `i` to lane `i % LANES` of its group, so [`LANES`] additions are in flight at
/// once; whether a lane's sum overflowed.
#[inline]
fn accumulate_lanes<V: Copy, N: FlaggedAdd>(
    lanes: &mut [[Slot<N>; LANES]],
    values: &[V],
    nulls: Option<&NullBuffer>,
    group_indices: &[usize],
    widen: impl Fn(V) -> N,
) -> bool {
    let mut overflow = false;
    let mut add = |slot: &mut Slot<N>, v: V| {
        let (sum, o) = slot.0.add_flagged(widen(v));
        slot.0 = sum;
        slot.1 += 1;
        overflow |= o;
    };
    let rows = group_indices.len().min(values.len());
    let (group_indices, values) = (&group_indices[..rows], &values[..rows]);
    match nulls {
        None => {
            let (groups, chunks) = (group_indices.chunks_exact(LANES), values.chunks_exact(LANES));
            let (group_rest, value_rest) = (groups.remainder(), chunks.remainder());
            for (gs, vs) in groups.zip(chunks) {
                for lane in 0..LANES {
                    add(&mut lanes[gs[lane]][lane], vs[lane]);
                }
            }
            for (&g, &v) in group_rest.iter().zip(value_rest) {
                add(&mut lanes[g][0], v);
            }
        }
        Some(nulls) => {
            for (i, (&g, &v)) in group_indices.iter().zip(values).enumerate() {
                if nulls.is_valid(i) {
                    add(&mut lanes[g][i % LANES], v);
                }
            }
        }
    }
    overflow
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

#[cfg(test)]
mod tests {
    use arrow::array::Decimal128Array;

    use super::*;

    /// Per-group sums (`None` for a group without rows) computed row by row in i128.
    fn reference(values: &[Option<i128>], groups: &[usize], total_groups: usize) -> Vec<Option<i128>> {
        let mut sums = vec![None; total_groups];
        for (v, &g) in values.iter().zip(groups) {
            if let Some(v) = v {
                sums[g] = Some(sums[g].unwrap_or(0) + v);
            }
        }
        sums
    }

    fn sums_of(sums: &mut Sums<Decimal128Type>) -> Vec<Option<i128>> {
        sums.take_sums().unwrap().iter().collect()
    }

    /// Batches with many rows per group take the laned loop (one with NULLs, one without,
    /// lengths that leave a remainder): the answers are the row-order ones.
    #[test]
    fn laned_sums_match_row_order_sums() {
        let total_groups = 3;
        for (rows, with_nulls) in [(1_003, false), (997, true), (130, false)] {
            let groups: Vec<usize> = (0..rows).map(|i| (i * 7 / 5) % 2 + usize::from(i % 11 == 0)).collect();
            let values: Vec<Option<i128>> = (0..rows as i128)
                .map(|i| (!with_nulls || i % 3 != 0).then_some((i * 7_919 % 2_003 - 1_000) * 10i128.pow(20)))
                .collect();
            let array: ArrayRef =
                Arc::new(Decimal128Array::from(values.clone()).with_precision_and_scale(38, 2).unwrap());
            let mut sums = Sums::<Decimal128Type>::new(DataType::Decimal128(38, 2));
            sums.grow(total_groups);
            assert!(total_groups * 8 * LANES <= rows, "the laned loop runs");
            sums.add(&array, &groups, None).unwrap();
            // A second, small batch takes the row loop and adds to the same groups.
            sums.add(&array.slice(0, 2), &groups[..2], None).unwrap();
            let mut expected = reference(&values, &groups, total_groups);
            for (v, &g) in values[..2].iter().zip(&groups[..2]) {
                if let Some(v) = v {
                    expected[g] = Some(expected[g].unwrap_or(0) + v);
                }
            }
            let counts: Vec<i64> = sums.groups.iter().map(|&(_, c)| c).collect();
            let expected_counts: Vec<i64> = (0..total_groups)
                .map(|g| {
                    let counted = |vs: &[Option<i128>], gs: &[usize]| {
                        vs.iter().zip(gs).filter(|(v, &x)| v.is_some() && x == g).count() as i64
                    };
                    counted(&values, &groups) + counted(&values[..2], &groups[..2])
                })
                .collect();
            assert_eq!(counts, expected_counts, "rows={rows}");
            assert_eq!(sums_of(&mut sums), expected, "rows={rows}");
        }
    }

    /// A BIGINT sum whose lanes each fit but whose total does not is still an overflow: the
    /// fold of the lanes is flagged too.
    #[test]
    fn laned_sums_overflow_in_the_fold() {
        let values: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX / 16; 32]));
        let mut sums = Sums::<Int64Type>::new(DataType::Int64);
        sums.grow(1);
        let err = sums.add(&values, &[0; 32], None).unwrap_err();
        assert!(matches!(err, EngineError::NumericOverflow { .. }), "{err}");
        // Half of them fit: 16 × MAX/16.
        let mut sums = Sums::<Int64Type>::new(DataType::Int64);
        sums.grow(1);
        sums.add(&values.slice(0, 16), &[0; 16], None).unwrap();
        assert_eq!(sums.take_sums().unwrap().value(0), 16 * (i64::MAX / 16));
    }
}
