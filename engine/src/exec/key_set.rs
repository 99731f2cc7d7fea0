//! A compact membership set of integer join keys, for runtime filters with too many values for an
//! `IN` list (a semi-join reduction by 57k order keys, a build side of 2k part keys). Keys close
//! together (the usual surrogate keys) become a bitmap over their range; sparse keys a hash set.
//! Either way a scan tests a whole key column in one pass and gets a row mask, so rows that
//! cannot find a join partner are dropped before the join (and before late columns are decoded).

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt8Type,
};
use hashbrown::HashSet;

/// The largest bitmap built, in bits (8 MiB): beyond it keys go into a hash set.
const MAX_BITMAP_BITS: u64 = 1 << 26;
/// A bitmap may spend this many bits per key (the hash set costs ~ 16 bytes a key).
const BITMAP_BITS_PER_KEY: u64 = 128;
/// The most keys a hash set is built for: a larger sparse set costs more to build and probe than
/// the join's own hash probe saves.
const MAX_HASHED_KEYS: usize = 1 << 20;

/// The distinct non-NULL values of an integer key column (any width, signed or not, and dates).
#[derive(Debug, PartialEq)]
pub struct KeySet {
    members: Members,
    /// Distinct keys in the set.
    len: usize,
}

#[derive(Debug, PartialEq)]
enum Members {
    /// Bit `k - min` is set for every key `k`.
    Bitmap {
        min: i64,
        bits: Vec<u64>,
    },
    Hashed(HashSet<i64>),
}

impl KeySet {
    /// The set of the non-NULL values in `chunks`; `None` when their type is not an integer type
    /// the set holds, when there is no non-NULL value, or when they are too many and too sparse
    /// for a set to pay off.
    pub fn from_arrays(chunks: &[ArrayRef]) -> Option<KeySet> {
        let data_type = chunks.first()?.data_type().clone();
        if !supports(&data_type) || chunks.iter().any(|c| c.data_type() != &data_type) {
            return None;
        }
        let (mut min, mut max, mut count) = (i64::MAX, i64::MIN, 0usize);
        for chunk in chunks {
            for_each_key(chunk.as_ref(), |k| {
                min = min.min(k);
                max = max.max(k);
                count += 1;
            });
        }
        if count == 0 {
            return None;
        }
        let span = (max as i128 - min as i128 + 1) as u128;
        let bitmap_limit = (count as u64).saturating_mul(BITMAP_BITS_PER_KEY).clamp(1 << 16, MAX_BITMAP_BITS);
        if span <= u128::from(bitmap_limit) {
            let mut bits = vec![0u64; (span as usize).div_ceil(64)];
            for chunk in chunks {
                for_each_key(chunk.as_ref(), |k| {
                    let offset = k.wrapping_sub(min) as u64;
                    bits[(offset >> 6) as usize] |= 1 << (offset & 63);
                });
            }
            let len = bits.iter().map(|w| w.count_ones() as usize).sum();
            return Some(KeySet { members: Members::Bitmap { min, bits }, len });
        }
        if count > MAX_HASHED_KEYS {
            return None;
        }
        let mut set = HashSet::with_capacity(count);
        for chunk in chunks {
            for_each_key(chunk.as_ref(), |k| {
                set.insert(k);
            });
        }
        Some(KeySet { len: set.len(), members: Members::Hashed(set) })
    }

    /// Distinct keys in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every integer between the smallest and the largest key is in the set (so the set
    /// rejects nothing its bounds keep).
    pub fn is_dense(&self) -> bool {
        match &self.members {
            Members::Bitmap { bits, .. } => {
                let last =
                    bits.iter().rposition(|w| *w != 0).map_or(0, |i| i * 64 + 64 - bits[i].leading_zeros() as usize);
                self.len == last
            }
            Members::Hashed(_) => false,
        }
    }

    /// Bytes the set holds.
    pub fn memory_size(&self) -> usize {
        match &self.members {
            Members::Bitmap { bits, .. } => bits.len() * 8,
            Members::Hashed(set) => set.allocation_size(),
        }
    }

    pub fn contains(&self, key: i64) -> bool {
        match &self.members {
            Members::Bitmap { min, bits } => {
                let offset = key.wrapping_sub(*min) as u64;
                bits.get((offset >> 6) as usize).is_some_and(|w| w >> (offset & 63) & 1 == 1)
            }
            Members::Hashed(set) => set.contains(&key),
        }
    }

    /// For each row of `keys`, whether its value is in the set (a NULL never is): one pass over
    /// the values. `None` when `keys` is not of an integer type the set holds.
    pub fn mask(&self, keys: &dyn Array) -> Option<BooleanArray> {
        let values = match keys.data_type() {
            DataType::Int8 => self.test::<Int8Type>(keys),
            DataType::Int16 => self.test::<Int16Type>(keys),
            DataType::Int32 => self.test::<Int32Type>(keys),
            DataType::Int64 => self.test::<Int64Type>(keys),
            DataType::UInt8 => self.test::<UInt8Type>(keys),
            DataType::UInt16 => self.test::<UInt16Type>(keys),
            DataType::UInt32 => self.test::<UInt32Type>(keys),
            DataType::Date32 => self.test::<Date32Type>(keys),
            _ => return None,
        };
        let values = match keys.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => &values & nulls.inner(),
            _ => values,
        };
        Some(BooleanArray::new(values, None))
    }

    fn test<T>(&self, keys: &dyn Array) -> BooleanBuffer
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i64>,
    {
        let values: &[T::Native] = keys.as_primitive::<T>().values();
        match &self.members {
            Members::Bitmap { min, bits } => {
                let (min, span) = (*min, bits.len() as u64 * 64);
                // `bits` is never empty (a set has a key); the last word stands in for keys out
                // of range, whose bit the range test then clears: no branch per key.
                let last = bits.len() - 1;
                pack(values, |key| {
                    // A key below `min` wraps above the span.
                    let offset = key.into().wrapping_sub(min) as u64;
                    let word = bits[((offset >> 6) as usize).min(last)];
                    (word >> (offset & 63)) & 1 == 1 && offset < span
                })
            }
            Members::Hashed(set) => pack(values, |key| set.contains(&key.into())),
        }
    }
}

/// The bits of `test` over `values`, built a 64-bit word at a time straight from the slice
/// (`BooleanBuffer::collect_bool` indexes the values per call, with a bounds check each).
fn pack<V: Copy>(values: &[V], mut test: impl FnMut(V) -> bool) -> BooleanBuffer {
    let chunks = values.chunks_exact(64);
    let tail = chunks.remainder();
    let mut words = Vec::with_capacity(values.len().div_ceil(64));
    for chunk in chunks {
        words.push(chunk.iter().enumerate().fold(0u64, |word, (bit, v)| word | (u64::from(test(*v)) << bit)));
    }
    if !tail.is_empty() {
        words.push(tail.iter().enumerate().fold(0u64, |word, (bit, v)| word | (u64::from(test(*v)) << bit)));
    }
    BooleanBuffer::new(Buffer::from_vec(words), 0, values.len())
}

/// Whether a key set can hold values of `data_type`.
pub fn supports(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date32
    )
}

/// Calls `f` with every non-NULL value of an integer array of a type [`supports`] accepts.
fn for_each_key(keys: &dyn Array, mut f: impl FnMut(i64)) {
    fn each<T>(keys: &dyn Array, f: &mut impl FnMut(i64))
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i64>,
    {
        let array = keys.as_primitive::<T>();
        let values = array.values();
        match array.nulls().filter(|n| n.null_count() > 0) {
            Some(nulls) => nulls.valid_indices().for_each(|i| f(values[i].into())),
            None => values.iter().for_each(|v| f((*v).into())),
        }
    }
    match keys.data_type() {
        DataType::Int8 => each::<Int8Type>(keys, &mut f),
        DataType::Int16 => each::<Int16Type>(keys, &mut f),
        DataType::Int32 => each::<Int32Type>(keys, &mut f),
        DataType::Int64 => each::<Int64Type>(keys, &mut f),
        DataType::UInt8 => each::<UInt8Type>(keys, &mut f),
        DataType::UInt16 => each::<UInt16Type>(keys, &mut f),
        DataType::UInt32 => each::<UInt32Type>(keys, &mut f),
        DataType::Date32 => each::<Date32Type>(keys, &mut f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Int32Array, Int64Array, StringArray, UInt8Array};

    use super::*;

    fn set(chunks: Vec<ArrayRef>) -> KeySet {
        KeySet::from_arrays(&chunks).expect("a key set")
    }

    fn mask(set: &KeySet, keys: &dyn Array) -> Vec<bool> {
        set.mask(keys).expect("a mask").iter().map(|b| b.expect("no NULL in a mask")).collect()
    }

    #[test]
    fn close_keys_become_a_bitmap_over_chunks_and_nulls_never_match() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(10), None, Some(12), Some(10)]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![Some(-3), Some(200)]));
        let keys = set(vec![a, b]);
        assert!(matches!(keys.members, Members::Bitmap { min: -3, .. }));
        assert_eq!(keys.len(), 4);
        let probe =
            Int64Array::from(vec![Some(10), Some(11), None, Some(-3), Some(-4), Some(200), Some(201), Some(i64::MIN)]);
        assert_eq!(mask(&keys, &probe), [true, false, false, true, false, true, false, false]);
        assert!(keys.contains(12) && !keys.contains(13) && !keys.contains(i64::MAX));
    }

    #[test]
    fn sparse_keys_become_a_hash_set() {
        let keys: ArrayRef = Arc::new(Int64Array::from(vec![1, 1 << 40, -(1 << 50), 1]));
        let keys = set(vec![keys]);
        assert!(matches!(keys.members, Members::Hashed(_)));
        assert_eq!(keys.len(), 3);
        let probe = Int64Array::from(vec![Some(1), Some(2), Some(1 << 40), None]);
        assert_eq!(mask(&keys, &probe), [true, false, true, false]);
    }

    #[test]
    fn narrow_integers_and_dates_are_held_and_tested() {
        let keys = set(vec![Arc::new(Int32Array::from(vec![5, 7, 9]))]);
        assert_eq!(mask(&keys, &Int32Array::from(vec![4, 5, 6, 7, 9, 10])), [false, true, false, true, true, false]);
        let days = set(vec![Arc::new(Date32Array::from(vec![19_000, 19_003]))]);
        assert_eq!(mask(&days, &Date32Array::from(vec![19_000, 19_001, 19_003])), [true, false, true]);
        let small = set(vec![Arc::new(UInt8Array::from(vec![0, 255]))]);
        assert_eq!(mask(&small, &UInt8Array::from(vec![0, 1, 255])), [true, false, true]);
        // A column of another type gets no mask.
        assert!(keys.mask(&StringArray::from(vec!["5"])).is_none());
    }

    #[test]
    fn no_set_for_other_types_or_no_keys() {
        assert!(KeySet::from_arrays(&[Arc::new(StringArray::from(vec!["a"]))]).is_none());
        assert!(KeySet::from_arrays(&[Arc::new(Int64Array::from(vec![None::<i64>]))]).is_none());
        assert!(KeySet::from_arrays(&[]).is_none());
    }

    #[test]
    fn masks_of_every_length_match_contains() {
        let sets = [
            set(vec![Arc::new(Int64Array::from_iter_values((0..500).map(|i| 3 * i + 7)))]),
            set(vec![Arc::new(Int64Array::from_iter_values((0..500).map(|i| i * (1 << 33))))]),
        ];
        for keys in &sets {
            for len in [0, 1, 63, 64, 65, 130, 1000] {
                let probe: Vec<i64> =
                    (0..len as i64).map(|i| i * 5 - 20).chain([i64::MIN, i64::MAX, 1 << 33, 7]).collect();
                let got = mask(keys, &Int64Array::from(probe.clone()));
                let want: Vec<bool> = probe.iter().map(|k| keys.contains(*k)).collect();
                assert_eq!(got, want, "{len}");
                assert!(want.iter().any(|b| *b) && want.iter().any(|b| !*b));
            }
        }
    }

    #[test]
    fn a_set_filling_its_range_is_dense() {
        assert!(set(vec![Arc::new(Int64Array::from(vec![3, 5, 4, 4]))]).is_dense());
        assert!(!set(vec![Arc::new(Int64Array::from(vec![3, 5]))]).is_dense());
        let wide: Vec<i64> = (100..300).collect();
        assert!(set(vec![Arc::new(Int64Array::from(wide))]).is_dense());
    }
}
