//! `agg(DISTINCT x)`: the distinct (group, value) pairs seen, fed to the plain aggregate once at
//! the end.
//!
//! Values are interned to dense ids by the same tables that intern `GROUP BY` keys (native
//! integers, text bytes, the row format for the rest), and each pair is one `u64`, group id
//! above value id. Pairs are appended as they come and made distinct by sorting (a radix sort
//! on the bits the ids use) whenever the unsorted tail outgrows the distinct part, so a batch
//! costs an append per row and memory stays within about twice the distinct pairs. A set of
//! row-format values per group cost an allocation and a byte-string hash per distinct value and
//! its merge re-encoded every value twice (q16: 40% of the query's CPU); one hash set of pairs
//! still cost a cache miss per row once it outgrew the cache, half of it in the serial merge.
//!
//! The partial state is a `List` column: each group's distinct values. Merging inserts the
//! listed values into the receiving group's pairs, so partial states from different workers
//! merge to the same answer as one pass (a value seen by two workers counts once).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, ListArray, UInt64Array};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{filter, is_not_null, take};
use arrow::datatypes::{DataType, Field};

use crate::error::{EngineError, Result};
use crate::exec::group_keys::GroupKeys;
use crate::expr::functions::GroupsAccumulator;

/// Bits of a pair for the value id (the low half); the group id is the high half.
const VALUE_BITS: u32 = 32;

/// Unsorted pairs tolerated beyond the distinct ones before sorting: batches of few distinct
/// pairs are sorted a few hundred rows at a time at most, not every batch.
const TAIL_MIN: usize = 1 << 16;

/// Bits a radix sort pass sorts on (2048 counters: they stay in the L1 cache).
const DIGIT_BITS: u32 = 11;

/// Distinct values per group in front of an `inner` accumulator of the same function.
pub struct DistinctAccumulator {
    value_type: DataType,
    /// Every distinct non-NULL value seen, in any group → value id.
    values: GroupKeys,
    /// `group << 32 | value id` of the pairs seen: `pairs[..sorted]` ascending and distinct,
    /// the rest as they came.
    pairs: Vec<u64>,
    sorted: usize,
    /// Groups known so far (the inner aggregate answers for each, even without values).
    groups: usize,
    /// Scratch: the value id of each row of the current batch.
    ids: Vec<usize>,
    inner: Box<dyn GroupsAccumulator>,
}

impl DistinctAccumulator {
    pub fn try_new(value_type: DataType, inner: Box<dyn GroupsAccumulator>) -> Result<Self> {
        let values = GroupKeys::try_new(std::slice::from_ref(&value_type))?;
        Ok(DistinctAccumulator { value_type, values, pairs: Vec::new(), sorted: 0, groups: 0, ids: Vec::new(), inner })
    }

    /// Adds the pairs (`group_indices[i]`, `values[i]`) for the non-NULL values.
    fn insert(&mut self, values: &ArrayRef, group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.groups = self.groups.max(total_groups);
        if values.null_count() == values.len() {
            return Ok(());
        }
        let kept: Vec<usize>;
        let (values, group_indices) = if values.null_count() > 0 {
            let valid = is_not_null(values)?;
            kept = group_indices.iter().zip(valid.values().iter()).filter(|(_, v)| *v).map(|(&g, _)| g).collect();
            (filter(values, &valid)?, kept.as_slice())
        } else {
            (values.clone(), group_indices)
        };
        self.ids.clear();
        self.values.intern(std::slice::from_ref(&values), &mut self.ids)?;
        if self.groups > u32::MAX as usize || self.values.len() > u32::MAX as usize {
            return Err(EngineError::execution("aggregate(DISTINCT): more than 2^32 groups or distinct values"));
        }
        self.pairs.extend(group_indices.iter().zip(&self.ids).map(|(&g, &id)| ((g as u64) << VALUE_BITS) | id as u64));
        if self.pairs.len() - self.sorted > self.sorted.max(TAIL_MIN) {
            self.make_distinct();
        }
        Ok(())
    }

    /// Sorts the pairs and drops repeats.
    fn make_distinct(&mut self) {
        if self.sorted < self.pairs.len() {
            radix_sort(&mut self.pairs, bits_for(self.values.len()), bits_for(self.groups));
            self.pairs.dedup();
            self.sorted = self.pairs.len();
        }
    }

    /// Every distinct pair's value and group, ascending by group; empties the accumulator.
    fn take_pairs(&mut self) -> Result<(ArrayRef, Vec<usize>)> {
        self.make_distinct();
        let pairs = std::mem::take(&mut self.pairs);
        self.sorted = 0;
        let groups = pairs.iter().map(|&p| (p >> VALUE_BITS) as usize).collect();
        let ids = UInt64Array::from_iter_values(pairs.iter().map(|&p| p & ((1 << VALUE_BITS) - 1)));
        drop(pairs);
        let distinct = self.values.emit()?;
        self.values = GroupKeys::try_new(std::slice::from_ref(&self.value_type))?;
        let [distinct] = distinct.as_slice() else {
            return Err(EngineError::execution("aggregate(DISTINCT): value table without one column"));
        };
        Ok((take(distinct.as_ref(), &ids, None)?, groups))
    }
}

/// Bits that hold the ids `0..len`.
fn bits_for(len: usize) -> u32 {
    if len <= 1 {
        0
    } else {
        usize::BITS - (len - 1).leading_zeros()
    }
}

/// Sorts pairs whose value ids use the low `value_bits` bits and group ids the `group_bits`
/// bits from bit 32: a stable counting sort per digit, value digits first, so only the bits
/// in use are passed over (q16: 14 + 15 bits, four passes). One read counts every digit; a
/// digit all pairs share is skipped.
fn radix_sort(pairs: &mut Vec<u64>, value_bits: u32, group_bits: u32) {
    const BUCKETS: usize = 1 << DIGIT_BITS;
    if pairs.len() > u32::MAX as usize {
        // Beyond the 32-bit counters.
        pairs.sort_unstable();
        return;
    }
    let mut digits = Vec::new();
    for (start, bits) in [(0, value_bits), (VALUE_BITS, group_bits)] {
        let mut at = 0;
        while at < bits {
            digits.push(start + at);
            at += DIGIT_BITS;
        }
    }
    // A full-width digit at a field's top also reads bits above it: zero within the field, and
    // group bits sorted again by the later passes (stable), so the order is still exact.
    let mut counts = vec![[0u32; BUCKETS]; digits.len()];
    for &p in pairs.iter() {
        for (count, &shift) in counts.iter_mut().zip(&digits) {
            count[(p >> shift) as usize & (BUCKETS - 1)] += 1;
        }
    }
    let mut other = vec![0u64; pairs.len()];
    for (count, &shift) in counts.iter_mut().zip(&digits) {
        if count.iter().any(|&c| c as usize == pairs.len()) {
            continue;
        }
        let mut next = 0u32;
        for c in count.iter_mut() {
            let n = *c;
            *c = next;
            next += n;
        }
        for &p in pairs.iter() {
            let slot = &mut count[(p >> shift) as usize & (BUCKETS - 1)];
            other[*slot as usize] = p;
            *slot += 1;
        }
        std::mem::swap(pairs, &mut other);
    }
}

impl GroupsAccumulator for DistinctAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.insert(&args[0], group_indices, total_groups)
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let (values, groups) = self.take_pairs()?;
        let mut lengths = vec![0usize; self.groups];
        for &g in &groups {
            lengths[g] += 1;
        }
        let field = Arc::new(Field::new_list_field(self.value_type.clone(), true));
        let list = ListArray::try_new(field, OffsetBuffer::from_lengths(lengths), values, None)?;
        Ok(vec![Arc::new(list)])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        let list = states[0].as_list::<i32>();
        let offsets = list.value_offsets();
        let first = offsets[0] as usize;
        let end = offsets[group_indices.len()] as usize;
        let values = list.values().slice(first, end - first);
        let mut value_groups = Vec::with_capacity(values.len());
        for (i, &g) in group_indices.iter().enumerate() {
            value_groups.extend(std::iter::repeat_n(g, (offsets[i + 1] - offsets[i]) as usize));
        }
        if list.null_count() > 0 {
            // A NULL list entry may still have values behind it: they are not part of the state.
            let keep: BooleanArray = (0..group_indices.len())
                .flat_map(|i| std::iter::repeat_n(Some(list.is_valid(i)), (offsets[i + 1] - offsets[i]) as usize))
                .collect();
            let kept: Vec<usize> =
                value_groups.iter().zip(keep.values().iter()).filter(|(_, k)| *k).map(|(&g, _)| g).collect();
            return self.insert(&filter(&values, &keep)?, &kept, total_groups);
        }
        self.insert(&values, &value_groups, total_groups)
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let total_groups = self.groups;
        let (values, groups) = self.take_pairs()?;
        self.inner.update(&[values], &groups, total_groups)?;
        self.inner.evaluate()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::Int64Type;

    use super::*;
    use crate::expr::functions::FunctionRegistry;

    fn count_distinct(t: DataType) -> DistinctAccumulator {
        let registry = FunctionRegistry::with_builtins();
        let inner = registry.aggregate("count").unwrap().accumulator(std::slice::from_ref(&t), false).unwrap();
        DistinctAccumulator::try_new(t, inner).unwrap()
    }

    fn counts(acc: &mut DistinctAccumulator) -> Vec<i64> {
        acc.evaluate().unwrap().as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn pairs_are_distinct_per_group_not_across_groups() {
        let mut acc = count_distinct(DataType::Utf8);
        let v: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("a"), None, Some("b"), Some("a"), Some("")]));
        acc.update(&[v], &[0, 0, 0, 1, 1, 2], 4).unwrap();
        let v: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), None, Some("c")]));
        acc.update(&[v], &[1, 3, 0], 4).unwrap();
        // Group 3 saw only NULL; '' is a value.
        assert_eq!(counts(&mut acc), vec![2, 2, 1, 0]);
    }

    #[test]
    fn state_lists_each_groups_values_and_merges_back() {
        let mut a = count_distinct(DataType::Int64);
        let v: ArrayRef = Arc::new(Int64Array::from(vec![5, 7, 5, 9, 7]));
        a.update(&[v], &[2, 0, 2, 0, 0], 4).unwrap();
        let state = a.state().unwrap();
        let list = state[0].as_list::<i32>();
        let per_group: Vec<Vec<i64>> = (0..list.len())
            .map(|i| list.value(i).as_primitive::<Int64Type>().values().to_vec())
            .map(|mut v| {
                v.sort();
                v
            })
            .collect();
        assert_eq!(per_group, vec![vec![7, 9], vec![], vec![5], vec![]]);
        // Merged into another table whose groups are numbered differently, beside its own values.
        let mut total = count_distinct(DataType::Int64);
        let v: ArrayRef = Arc::new(Int64Array::from(vec![9, 1]));
        total.update(&[v], &[0, 1], 2).unwrap();
        total.merge_state(&state, &[0, 1, 1, 2], 3).unwrap();
        assert_eq!(counts(&mut total), vec![2, 2, 0]);
    }

    #[test]
    fn null_list_entries_are_skipped_in_merges() {
        let values: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 2.0, -0.0]));
        let field = Arc::new(Field::new_list_field(DataType::Float64, true));
        let offsets = OffsetBuffer::from_lengths([2, 1, 1]);
        let nulls = arrow::buffer::NullBuffer::from(vec![true, false, true]);
        let list: ArrayRef = Arc::new(ListArray::try_new(field, offsets, values, Some(nulls)).unwrap());
        let mut acc = count_distinct(DataType::Float64);
        acc.merge_state(&[list], &[0, 0, 1], 2).unwrap();
        assert_eq!(counts(&mut acc), vec![2, 1]);
    }

    /// Many rows over few pairs (sorted many times over) and many distinct pairs (a tail
    /// longer than the sorted part) count as a set would.
    #[test]
    fn repeated_sorting_keeps_exactly_the_distinct_pairs() {
        for (rows, groups, span) in [(300_000u64, 3u64, 50u64), (200_000, 5_000, 7_001), (70_000, 1, 1)] {
            let mut acc = count_distinct(DataType::Int64);
            let mut expected = vec![std::collections::HashSet::new(); groups as usize];
            for batch in (0..rows).collect::<Vec<_>>().chunks(8192) {
                let group_ids: Vec<usize> = batch.iter().map(|&i| (i * 31 % groups) as usize).collect();
                let values: Vec<i64> = batch.iter().map(|&i| (i * 7919 % span) as i64 - 20).collect();
                for (&g, &v) in group_ids.iter().zip(&values) {
                    expected[g].insert(v);
                }
                let values: ArrayRef = Arc::new(Int64Array::from(values));
                acc.update(&[values], &group_ids, groups as usize).unwrap();
                assert!(acc.pairs.len() <= 2 * acc.sorted.max(TAIL_MIN) + 8192);
            }
            let expected: Vec<i64> = expected.iter().map(|s| s.len() as i64).collect();
            assert_eq!(counts(&mut acc), expected, "{rows} rows, {groups} groups");
        }
    }

    /// Wide value ids (a digit reaching into the group bits), one group, one value.
    #[test]
    fn radix_sort_orders_by_group_then_value() {
        for (groups, values) in [(3001u64, 4099u64), (5, 1 << 30), (1, 70_000), (40_000, 1), (1, 1)] {
            let mut pairs: Vec<u64> =
                (0..5000u64).map(|i| ((i * 7919 % groups) << VALUE_BITS) | (i * 104_729 % values)).collect();
            let mut expected = pairs.clone();
            expected.sort_unstable();
            radix_sort(&mut pairs, bits_for(values as usize), bits_for(groups as usize));
            assert_eq!(pairs, expected, "{groups} groups, {values} values");
        }
    }

    #[test]
    fn no_input_still_answers_every_group() {
        let mut acc = count_distinct(DataType::Int64);
        let empty: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
        acc.update(&[empty], &[], 1).unwrap();
        assert_eq!(counts(&mut acc), vec![0]);
    }
}
