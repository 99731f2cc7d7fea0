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
//!
//! The build reads the keys' values in row order (the build sink keeps one integer key as
//! values, not hashes), so a build side sorted by its key fills the table front to back; a
//! large build splits the table into one slot range per worker, each walking every entry.

use std::sync::atomic::{AtomicBool, Ordering};

use arrow::buffer::NullBuffer;
use rayon::prelude::*;

use crate::error::{EngineError, Result};

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

/// The build entries of one chunk: its non-NULL keys' values (`KeyEncoder::integer_values`)
/// in row order, the row of each (`None`: entry `i` is row `i`; unused for a key set) and the
/// chunk's first build row.
pub struct Part<'a> {
    pub keys: &'a [u64],
    pub rows: Option<&'a [u32]>,
    pub first: u32,
}

impl Part<'_> {
    /// Each entry's key value and build row, in row order.
    fn entries(&self) -> impl DoubleEndedIterator<Item = (u64, u32)> + '_ {
        self.keys.iter().enumerate().map(move |(i, key)| {
            let row = match self.rows {
                None => i as u32,
                Some(rows) => rows[i],
            };
            (*key, row + self.first)
        })
    }
}

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
    /// only which keys exist. Every pass walks the parts in row order: build sides sorted by
    /// their key (most tables by their surrogate key) then touch the table front to back.
    pub fn build(parts: &[Part], set: bool) -> Option<DenseIndex> {
        let count = parts.iter().map(|p| p.keys.len() as u64).sum::<u64>();
        // Separate min and max folds over plain slices vectorise.
        let min = parts.iter().filter_map(|p| p.keys.iter().map(|k| *k as i64).min()).min()?;
        let max = parts.iter().filter_map(|p| p.keys.iter().map(|k| *k as i64).max()).max()?;
        let span = (max as i128 - min as i128 + 1) as u128;
        let limit = if set { (count * BITS_PER_KEY).max(MIN_BITS) } else { (count * SLOTS_PER_ROW).max(MIN_SLOTS) };
        if span > limit as u128 || span >= EMPTY as u128 {
            return None;
        }
        let min = min as u64;
        let len = span as usize;
        let slot = |key: u64| key.wrapping_sub(min) as usize;
        if set {
            let mut bits = vec![0u64; len.div_ceil(64)];
            for key in parts.iter().flat_map(|p| p.keys.iter()) {
                let at = slot(*key);
                bits[at / 64] |= 1 << (at % 64);
            }
            return Some(DenseIndex::Set { min, len: len as u64, bits });
        }
        // One task per slot range, each walking every entry and keeping those in its range:
        // the ranges' slots (and, for groups, their rows) are disjoint, so no task waits on
        // another, and each keeps build order within its keys.
        let tasks = tasks_for(count, len);
        let mut slots = Vec::with_capacity(len + 1);
        slots.resize(len, EMPTY);
        let duplicate = AtomicBool::new(false);
        split(&mut slots, len, tasks).into_par_iter().for_each(|(lo, range)| {
            for part in parts {
                for (key, row) in part.entries() {
                    let Some(at) = range.get_mut(slot(key).wrapping_sub(lo)) else { continue };
                    if *at != EMPTY {
                        duplicate.store(true, Ordering::Relaxed);
                        return;
                    }
                    *at = row;
                }
                if duplicate.load(Ordering::Relaxed) {
                    return;
                }
            }
        });
        if !duplicate.into_inner() {
            return Some(DenseIndex::Unique { min, slots });
        }
        // Duplicate keys: count the rows a key, turn the counts into each group's end, then
        // lay the rows out backwards, each group's end moving down to its start (no cursor
        // array next to the starts: the peak stays within what the build side reserved). The
        // starts reuse the slots' memory, already paged in.
        let mut starts = slots;
        starts.fill(0);
        starts.push(0);
        split(&mut starts[..len], len, tasks).into_par_iter().for_each(|(lo, range)| {
            for key in parts.iter().flat_map(|p| p.keys.iter()) {
                if let Some(at) = range.get_mut(slot(*key).wrapping_sub(lo)) {
                    *at += 1;
                }
            }
        });
        // Each range's counts become ends within the range, then are moved past the ranges
        // before it (a running total in a register: no load waits on the previous store).
        let mut ranges = split(&mut starts[..len], len, tasks);
        let totals: Vec<u32> = ranges
            .par_iter_mut()
            .map(|(_, range)| {
                let mut end = 0u32;
                for at in range.iter_mut() {
                    end += *at;
                    *at = end;
                }
                end
            })
            .collect();
        let bases: Vec<u32> =
            totals.iter().scan(0u32, |base, total| Some(std::mem::replace(base, *base + total))).collect();
        ranges.par_iter_mut().zip(&bases).for_each(|((_, range), base)| {
            if *base > 0 {
                range.iter_mut().for_each(|at| *at += base);
            }
        });
        drop(ranges);
        starts[len] = count as u32;
        let mut grouped = vec![0u32; count as usize];
        // Range `t`'s rows are `grouped[bases[t]..bases[t] + totals[t]]`.
        let mut row_ranges = Vec::with_capacity(tasks);
        let mut rest = &mut grouped[..];
        for total in &totals {
            let (head, tail) = rest.split_at_mut(*total as usize);
            row_ranges.push(head);
            rest = tail;
        }
        split(&mut starts[..len], len, tasks).into_par_iter().zip(row_ranges).zip(bases).for_each(
            |(((lo, range), rows), base)| {
                for (key, row) in parts.iter().rev().flat_map(|p| p.entries().rev()) {
                    if let Some(at) = range.get_mut(slot(key).wrapping_sub(lo)) {
                        *at -= 1;
                        rows[(*at - base) as usize] = row;
                    }
                }
            },
        );
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

/// Entries a build needs before its passes are split across tasks: below it, one task walks
/// them in less time than the tasks take to start.
const ENTRIES_PER_TASK: u64 = 256 * 1024;

/// Tasks (slot ranges) for `count` entries over `len` slots: one per worker when the build is
/// large, each task still walking every entry.
fn tasks_for(count: u64, len: usize) -> usize {
    let workers = rayon::current_num_threads().max(1);
    let by_entries = (count / ENTRIES_PER_TASK).max(1) as usize;
    workers.min(by_entries).min(len.max(1))
}

/// `slots` (of `len` slots) cut into `tasks` consecutive ranges, each with its first slot.
fn split(slots: &mut [u32], len: usize, tasks: usize) -> Vec<(usize, &mut [u32])> {
    let width = len.div_ceil(tasks.max(1)).max(1);
    slots.chunks_mut(width).enumerate().map(|(t, range)| (t * width, range)).collect()
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

    fn values(keys: &[i64]) -> Vec<u64> {
        keys.iter().map(|k| *k as u64).collect()
    }

    fn part<'a>(keys: &'a [u64], rows: &'a [u32], first: u32) -> Part<'a> {
        Part { keys, rows: Some(rows), first }
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
        let (first, second) = (values(&[-3, 5, 0]), values(&[2, -1]));
        let parts = [part(&first, &[0, 4, 9], 0), part(&second, &[1, 3], 10)];
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
        let (first, second) = (values(&[7, 8, 7]), values(&[10, 7]));
        let parts = [part(&first, &[0, 1, 2], 0), part(&second, &[0, 1], 3)];
        let index = DenseIndex::build(&parts, false).unwrap();
        assert!(!index.is_unique() && !index.is_set());
        assert_eq!(matches(&index, &[7, 9, 10, 6, 11, 8], None), [(0, vec![0, 2, 4]), (2, vec![3]), (5, vec![1])]);
    }

    #[test]
    fn parts_without_rows_number_their_entries_in_order() {
        // The usual chunk without a NULL key: entry `i` is the chunk's row `i`.
        let (first, second) = (values(&[4, 2, 4]), values(&[3, 2]));
        let parts = [Part { keys: &first, rows: None, first: 0 }, Part { keys: &second, rows: None, first: 3 }];
        let index = DenseIndex::build(&parts, false).unwrap();
        assert_eq!(matches(&index, &[2, 3, 4, 5], None), [(0, vec![1, 4]), (1, vec![3]), (2, vec![0, 2])]);
    }

    /// Builds large enough to split across four tasks give the rows a one-task build gives:
    /// each key's rows in build order, keys of every range, a duplicate found in any range.
    #[test]
    fn builds_split_across_tasks_keep_every_row_in_build_order() {
        let entries = 4 * ENTRIES_PER_TASK as i64;
        // Keys 0..entries/2 twice each, scattered, in three parts (one with explicit rows).
        let keys = values(&(0..entries).map(|i| (i * 7_919) % (entries / 2)).collect::<Vec<_>>());
        let third = keys.len() / 3;
        let rows: Vec<u32> = (0..third as u32).map(|r| r * 2).collect();
        let parts = [
            Part { keys: &keys[..third], rows: None, first: 0 },
            part(&keys[third..2 * third], &rows, third as u32),
            Part { keys: &keys[2 * third..], rows: None, first: 3 * third as u32 },
        ];
        let row_of = |entry: usize| match entry / third {
            0 => entry as u32,
            1 => third as u32 + rows[entry - third],
            _ => 3 * third as u32 + (entry - 2 * third) as u32,
        };
        let mut expected = vec![vec![]; entries as usize / 2];
        for (entry, key) in keys.iter().enumerate() {
            expected[*key as usize].push(row_of(entry));
        }
        let probe: Vec<i64> = (-1..entries / 2 + 1).collect();
        let want: Vec<(usize, Vec<u32>)> = expected.into_iter().enumerate().map(|(k, rows)| (k + 1, rows)).collect();
        let split = crate::exec::testing::on_pool(4, || {
            assert_eq!(tasks_for(entries as u64, entries as usize / 2), 4);
            DenseIndex::build(&parts, false).unwrap()
        });
        assert!(!split.is_unique());
        assert_eq!(matches(&split, &probe, None), want);
        // Distinct keys, then the same keys with one duplicate as the very last entry.
        let distinct = values(&(0..entries).map(|i| (i * 7_919) % entries).collect::<Vec<_>>());
        let mut repeated = distinct.clone();
        repeated.push(distinct[0]);
        crate::exec::testing::on_pool(4, || {
            let unique = DenseIndex::build(&[Part { keys: &distinct, rows: None, first: 0 }], false).unwrap();
            assert!(unique.is_unique());
            assert_eq!(matches(&unique, &[distinct[5] as i64, -1], None), [(0, vec![5])]);
            let grouped = DenseIndex::build(&[Part { keys: &repeated, rows: None, first: 0 }], false).unwrap();
            assert!(!grouped.is_unique());
            assert_eq!(matches(&grouped, &[distinct[0] as i64], None), [(0, vec![0, entries as u32])]);
        });
    }

    #[test]
    fn null_probe_keys_never_match() {
        let keys = values(&[0, 1, 2]);
        let index = DenseIndex::build(&[part(&keys, &[0, 1, 2], 0)], false).unwrap();
        // A NULL row's value is meaningless; here it is 0, a build key.
        let nulls = NullBuffer::from(vec![false, true, true, false]);
        assert_eq!(matches(&index, &[0, 1, 3, 2], Some(&nulls)), [(1, vec![1])]);
        let mut found = vec![];
        index.probe_exists(&values(&[0, 1, 3, 2]), Some(&nulls), |row| found.push(row));
        assert_eq!(found, [1]);
    }

    #[test]
    fn sets_answer_existence_only() {
        let keys = values(&[100, -100, 100, 0, 63, 64]);
        let index = DenseIndex::build(&[Part { keys: &keys, rows: None, first: 0 }], true).unwrap();
        assert!(index.is_set());
        let mut found = vec![];
        index.probe_exists(&values(&[-101, -100, 0, 1, 63, 64, 65, 100, 101]), None, |row| found.push(row));
        assert_eq!(found, [1, 2, 4, 5, 7]);
        assert!(index.probe(&values(&[0]), None, |_, _| Ok(())).is_err(), "a set has no rows");
    }

    #[test]
    fn sparse_or_extreme_keys_stay_in_the_hash_table() {
        let sparse = values(&[0, 1_000_000]);
        assert!(DenseIndex::build(&[part(&sparse, &[0, 1], 0)], false).is_none());
        let extreme = values(&[i64::MIN, i64::MAX]);
        assert!(DenseIndex::build(&[part(&extreme, &[], 0)], true).is_none());
        assert!(DenseIndex::build(&[], false).is_none());
        // Wide but dense enough for its rows: 10_000 keys over 40_000 values.
        let wide = values(&(0..10_000).map(|k| k * 4).collect::<Vec<i64>>());
        let rows: Vec<u32> = (0..10_000).collect();
        assert!(DenseIndex::build(&[part(&wide, &rows, 0)], false).is_some());
    }
}
