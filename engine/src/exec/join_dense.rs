//! A direct-indexed build table for one integer key whose values lie in a dense range: the slot
//! of a key is `key - min`, so a probe is a subtraction, one bounds check and one load, with no
//! hash, no collision chain and no branch that depends on the table's contents. Surrogate keys
//! (`store_id` 1..200, `o_orderkey`) and dates (`d_date`, a year of Date32 days) are such keys,
//! and they are what dimension tables are built on. A hash table probe costs 35-50 ns a row on
//! those joins (probe chains and the group's hash, two dependent loads); this costs a few.
//!
//! Three shapes: every key distinct (a slot holds the build row), duplicate keys (a slot is a
//! range of the rows grouped by key, in build order), and existence only (a bit a slot, for
//! semi, anti and mark joins). Keys are compared as the signed 64-bit patterns the key encoder
//! makes, so `key - min` wraps to a huge index for any key below `min`: one unsigned comparison
//! rejects keys on both sides of the range.

use arrow::buffer::NullBuffer;

use crate::error::{EngineError, Result};
use crate::exec::join_keys::unhash_integer;

/// Slots a table may spend per indexed build row (4 bytes each): at 4, a dense table needs at
/// most the 16 bytes a row a hash table needs for its slots alone.
const SLOTS_PER_ROW: u64 = 4;

/// Slots any table may have whatever its rows (16 KiB): a few build rows spread over a small
/// range (a year of dates with gaps) still get a direct table.
const MIN_SLOTS: u64 = 4096;

/// Bits a key set may spend per distinct key (a hash key set spends 128 to 256).
const BITS_PER_KEY: u64 = 64;

/// Bits any key set may have (8 KiB).
const MIN_BITS: u64 = 1 << 16;

/// Marks a slot without a build row (rows are numbered below `u32::MAX`: a build side has at
/// most `u32::MAX` rows).
const EMPTY: u32 = u32::MAX;

/// The build entries of one chunk: key hashes (as the key encoder made them for an integer
/// key), the rows within the chunk (empty for a key set) and the chunk's first build row.
pub type Part<'a> = (&'a [u64], &'a [u32], u32);

/// A direct-indexed table over the keys `min..min + len` (as signed 64-bit patterns).
pub enum DenseIndex {
    /// Every key distinct: `slots[key - min]` is its build row, or `EMPTY`.
    Unique { min: u64, slots: Vec<u32> },
    /// `rows[starts[i]..starts[i + 1]]` are the build rows of key `min + i`, in build order.
    Groups { min: u64, starts: Vec<u32>, rows: Vec<u32> },
    /// Existence only: bit `key - min` is set when the key is on the build side.
    Set { min: u64, len: u64, bits: Vec<u64> },
}

impl DenseIndex {
    /// Indexes `parts` (in build order) directly when their keys are dense enough, `None` when
    /// they are not (or there are none: the hash index handles an empty build). A `set` keeps
    /// only which keys exist.
    pub fn build(parts: &[Part], set: bool) -> Option<DenseIndex> {
        let entries = || parts.iter().flat_map(|(hashes, _, _)| hashes.iter().map(|h| unhash_integer(*h) as i64));
        let count = parts.iter().map(|p| p.0.len() as u64).sum::<u64>();
        let (min, max) = entries().fold(None, |range: Option<(i64, i64)>, key| match range {
            None => Some((key, key)),
            Some((lo, hi)) => Some((lo.min(key), hi.max(key))),
        })?;
        let span = (max as i128 - min as i128 + 1) as u128;
        let limit = if set { (count * BITS_PER_KEY).max(MIN_BITS) } else { (count * SLOTS_PER_ROW).max(MIN_SLOTS) };
        if span > limit as u128 || span >= EMPTY as u128 {
            return None;
        }
        let min = min as u64;
        let len = span as usize;
        let slot = |hash: u64| unhash_integer(hash).wrapping_sub(min) as usize;
        if set {
            let mut bits = vec![0u64; len.div_ceil(64)];
            for hash in parts.iter().flat_map(|p| p.0.iter()) {
                let at = slot(*hash);
                bits[at / 64] |= 1 << (at % 64);
            }
            return Some(DenseIndex::Set { min, len: len as u64, bits });
        }
        let rows = || {
            parts
                .iter()
                .flat_map(|(hashes, rows, offset)| hashes.iter().zip(rows.iter()).map(move |(h, r)| (*h, r + offset)))
        };
        let mut slots = vec![EMPTY; len];
        let mut distinct = true;
        for (hash, row) in rows() {
            let at = &mut slots[slot(hash)];
            if *at != EMPTY {
                distinct = false;
                break;
            }
            *at = row;
        }
        if distinct {
            return Some(DenseIndex::Unique { min, slots });
        }
        drop(slots);
        // Duplicate keys: count the rows a key, turn the counts into each group's end, then
        // lay the rows out backwards, each group's end moving down to its start (no cursor
        // array next to the starts: the peak stays within what the build side reserved).
        let mut starts = vec![0u32; len + 1];
        for (hash, _) in rows() {
            starts[slot(hash)] += 1;
        }
        for i in 1..len {
            starts[i] += starts[i - 1];
        }
        starts[len] = count as u32;
        let mut grouped = vec![0u32; count as usize];
        for (hash, row) in rows().rev() {
            let at = &mut starts[slot(hash)];
            *at -= 1;
            grouped[*at as usize] = row;
        }
        Some(DenseIndex::Groups { min, starts, rows: grouped })
    }

    /// Whether the index knows only which keys exist (no build rows).
    pub fn is_set(&self) -> bool {
        matches!(self, DenseIndex::Set { .. })
    }

    /// Whether every key has at most one build row.
    pub fn is_unique(&self) -> bool {
        matches!(self, DenseIndex::Unique { .. })
    }

    /// Calls `visit(probe row, matching build rows)` for every probe row with a match, in probe
    /// order, skipping rows with a NULL key. `values` are the probe keys' 64-bit patterns
    /// (`KeyEncoder::integer_values`). A set has no rows to give: an error.
    pub fn probe(
        &self,
        values: &[u64],
        nulls: Option<&NullBuffer>,
        mut visit: impl FnMut(usize, &[u32]) -> Result<()>,
    ) -> Result<()> {
        match self {
            DenseIndex::Unique { min, slots } => {
                for_valid(values, nulls, |row, value| match slots.get(value.wrapping_sub(*min) as usize) {
                    Some(build) if *build != EMPTY => visit(row, std::slice::from_ref(build)),
                    _ => Ok(()),
                })
            }
            DenseIndex::Groups { min, starts, rows } => for_valid(values, nulls, |row, value| {
                let at = value.wrapping_sub(*min) as usize;
                if at < starts.len() - 1 {
                    let (start, end) = (starts[at] as usize, starts[at + 1] as usize);
                    if start < end {
                        return visit(row, &rows[start..end]);
                    }
                }
                Ok(())
            }),
            DenseIndex::Set { .. } => Err(EngineError::execution("a join's key set was asked for build rows")),
        }
    }

    /// Calls `visit(probe row)` for every probe row whose key exists on the build side, in probe
    /// order, skipping rows with a NULL key.
    pub fn probe_exists(&self, values: &[u64], nulls: Option<&NullBuffer>, mut visit: impl FnMut(usize)) {
        match self {
            DenseIndex::Set { min, len, bits } => {
                let _ = for_valid(values, nulls, |row, value| {
                    let at = value.wrapping_sub(*min);
                    if at < *len && bits[(at / 64) as usize] & (1 << (at % 64)) != 0 {
                        visit(row);
                    }
                    Ok(())
                });
            }
            _ => {
                let _ = self.probe(values, nulls, |row, _| {
                    visit(row);
                    Ok(())
                });
            }
        }
    }

    /// Bytes the index holds.
    pub fn memory_size(&self) -> usize {
        match self {
            DenseIndex::Unique { slots, .. } => slots.capacity() * 4,
            DenseIndex::Groups { starts, rows, .. } => (starts.capacity() + rows.capacity()) * 4,
            DenseIndex::Set { bits, .. } => bits.capacity() * 8,
        }
    }
}

/// `f(row, value)` for every row whose key is not NULL, with the NULL test hoisted out of the
/// loop when the batch has no NULL key.
fn for_valid(values: &[u64], nulls: Option<&NullBuffer>, mut f: impl FnMut(usize, u64) -> Result<()>) -> Result<()> {
    match nulls.filter(|n| n.null_count() > 0) {
        None => {
            for (row, value) in values.iter().enumerate() {
                f(row, *value)?;
            }
        }
        Some(nulls) => {
            for row in nulls.valid_indices() {
                f(row, values[row])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::join_keys::hash_integer;

    fn hashes(keys: &[i64]) -> Vec<u64> {
        keys.iter().map(|k| hash_integer(*k as u64)).collect()
    }

    fn values(keys: &[i64]) -> Vec<u64> {
        keys.iter().map(|k| *k as u64).collect()
    }

    /// Every probe row's matches, as (probe row, build rows).
    fn matches(index: &DenseIndex, probe: &[i64], nulls: Option<&NullBuffer>) -> Vec<(usize, Vec<u32>)> {
        let mut out = vec![];
        index
            .probe(&values(probe), nulls, |row, rows| {
                out.push((row, rows.to_vec()));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn distinct_keys_with_gaps_and_negative_values_index_their_rows() {
        // Two chunks; the second's rows are numbered after the first's 10 rows.
        let (first, second) = (hashes(&[-3, 5, 0]), hashes(&[2, -1]));
        let parts: Vec<Part> = vec![(&first, &[0, 4, 9], 0), (&second, &[1, 3], 10)];
        let index = DenseIndex::build(&parts, false).unwrap();
        assert!(index.is_unique());
        let probe = [5, 4, -3, -4, 6, 2, i64::MIN, i64::MAX, 0, -1];
        assert_eq!(
            matches(&index, &probe, None),
            [(0, vec![4]), (2, vec![0]), (5, vec![11]), (8, vec![9]), (9, vec![13])]
        );
    }

    #[test]
    fn duplicate_keys_group_their_rows_in_build_order() {
        let (first, second) = (hashes(&[7, 8, 7]), hashes(&[10, 7]));
        let parts: Vec<Part> = vec![(&first, &[0, 1, 2], 0), (&second, &[0, 1], 3)];
        let index = DenseIndex::build(&parts, false).unwrap();
        assert!(!index.is_unique() && !index.is_set());
        assert_eq!(matches(&index, &[7, 9, 10, 6, 11, 8], None), [(0, vec![0, 2, 4]), (2, vec![3]), (5, vec![1])]);
    }

    #[test]
    fn null_probe_keys_never_match() {
        let keys = hashes(&[0, 1, 2]);
        let index = DenseIndex::build(&[(&keys, &[0, 1, 2], 0)], false).unwrap();
        // A NULL row's value is meaningless; here it is 0, a build key.
        let nulls = NullBuffer::from(vec![false, true, true, false]);
        assert_eq!(matches(&index, &[0, 1, 3, 2], Some(&nulls)), [(1, vec![1])]);
        let mut found = vec![];
        index.probe_exists(&values(&[0, 1, 3, 2]), Some(&nulls), |row| found.push(row));
        assert_eq!(found, [1]);
    }

    #[test]
    fn sets_answer_existence_only() {
        let keys = hashes(&[100, -100, 100, 0, 63, 64]);
        let index = DenseIndex::build(&[(&keys, &[], 0)], true).unwrap();
        assert!(index.is_set());
        let mut found = vec![];
        index.probe_exists(&values(&[-101, -100, 0, 1, 63, 64, 65, 100, 101]), None, |row| found.push(row));
        assert_eq!(found, [1, 2, 4, 5, 7]);
        assert!(index.probe(&values(&[0]), None, |_, _| Ok(())).is_err(), "a set has no rows");
    }

    #[test]
    fn sparse_or_extreme_keys_stay_in_the_hash_table() {
        let sparse = hashes(&[0, 1_000_000]);
        assert!(DenseIndex::build(&[(&sparse, &[0, 1], 0)], false).is_none());
        let extreme = hashes(&[i64::MIN, i64::MAX]);
        assert!(DenseIndex::build(&[(&extreme, &[0, 1], 0)], true).is_none());
        assert!(DenseIndex::build(&[], false).is_none());
        // Wide but dense enough for its rows: 10_000 keys over 40_000 values.
        let wide: Vec<u64> = hashes(&(0..10_000).map(|k| k * 4).collect::<Vec<i64>>());
        let rows: Vec<u32> = (0..10_000).collect();
        assert!(DenseIndex::build(&[(&wide, &rows, 0)], false).is_some());
    }
}
