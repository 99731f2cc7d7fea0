//! The build side's index, built in parallel: build rows are split by the top bits of their key
//! hash into partitions of about `ROWS_PER_PARTITION` rows, and each partition gets its own
//! open-addressing table on its own rayon task (no locks: a row belongs to one partition). A
//! probe computes its hash once and looks in one partition only.
//!
//! A table maps a key to its *group*: the build rows carrying that key, stored contiguously in
//! build order, so a probe hit is one slice (no chain of `next` pointers through every build row,
//! as in DuckDB's and DataFusion's tables). When every key is distinct, as for the primary keys
//! most joins build on, the groups are the rows themselves and no offsets are kept.

use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use arrow::row::Rows;
use rayon::prelude::*;

use crate::error::{EngineError, Result};
use crate::exec::join_keys::EncodedKeys;

/// Rows a partition aims at: its table (16 bytes a slot) then stays within a core's L2 cache
/// while it is built.
const ROWS_PER_PARTITION: usize = 16 * 1024;

/// At most 2^MAX_PARTITION_BITS partitions.
const MAX_PARTITION_BITS: u32 = 8;

/// What a build row's key is compared by beyond its hash.
pub enum BuildKeys {
    /// The hash identifies the key (one integer key under a bijective hash).
    Exact,
    /// Two integer keys, packed, per build row.
    Pairs(Vec<u128>),
    /// Row-format keys of every build row.
    Rows(RowBytes),
}

/// Row-format keys of the whole build side in one buffer (per-batch `Rows` concatenated).
pub struct RowBytes {
    data: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is row `i`.
    offsets: Vec<usize>,
}

impl RowBytes {
    /// Concatenates the build batches' rows in build order, dropping each batch's `Rows` once
    /// copied so the per-batch and the concatenated keys are never all alive together.
    pub fn concat(chunks: Vec<Rows>) -> RowBytes {
        let rows: usize = chunks.iter().map(Rows::num_rows).sum();
        let bytes: usize = chunks.iter().map(|c| c.iter().map(|r| r.data().len()).sum::<usize>()).sum();
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        let mut data = Vec::with_capacity(bytes);
        for chunk in chunks {
            for row in chunk.iter() {
                data.extend_from_slice(row.data());
                offsets.push(data.len());
            }
        }
        RowBytes { data, offsets }
    }

    fn row(&self, index: u32) -> &[u8] {
        let index = index as usize;
        &self.data[self.offsets[index]..self.offsets[index + 1]]
    }
}

impl BuildKeys {
    /// Whether build rows `a` and `b` (of equal hash) have equal keys.
    fn same(&self, a: u32, b: u32) -> bool {
        match self {
            BuildKeys::Exact => true,
            BuildKeys::Pairs(pairs) => pairs[a as usize] == pairs[b as usize],
            BuildKeys::Rows(rows) => rows.row(a) == rows.row(b),
        }
    }
}

/// The hashes (and NULL keys) of one build batch, in build order. Owned, so the index build
/// frees each batch's hashes as soon as they are scattered into partitions.
pub struct ChunkHashes {
    pub hashes: Vec<u64>,
    /// Rows with a NULL in any key: never indexed (SQL `=` never matches NULL).
    pub nulls: Option<NullBuffer>,
}

/// Equal-key groups of the build rows, in partitions.
pub struct KeyIndex {
    /// The partition of a hash is its top `bits` bits.
    bits: u32,
    partitions: Vec<Partition>,
    keys: BuildKeys,
}

impl KeyIndex {
    /// Indexes the build rows, numbered across `chunks` in order (chunk `c`'s row `r` is the sum
    /// of the earlier chunks' lengths plus `r`). Partitions are built in parallel. With
    /// `distinct_only` (a join that only asks whether a key exists) each key keeps its first row.
    pub fn build(chunks: Vec<ChunkHashes>, keys: BuildKeys, distinct_only: bool) -> Result<KeyIndex> {
        let total: usize = chunks.iter().map(|c| c.hashes.len()).sum();
        if total > u32::MAX as usize {
            return Err(EngineError::execution(format!(
                "the build side of a join has {total} rows; at most {} are supported",
                u32::MAX
            )));
        }
        let bits = partition_bits(total);
        let mut offsets = Vec::with_capacity(chunks.len());
        let mut offset = 0u32;
        for chunk in &chunks {
            offsets.push(offset);
            offset += chunk.hashes.len() as u32;
        }
        // Each chunk's hashes are dropped once scattered: the scratch replaces them.
        let scattered: Vec<Vec<Scattered>> =
            chunks.into_par_iter().zip(offsets).map(|(chunk, offset)| scatter(chunk, offset, bits)).collect();
        let mut by_partition: Vec<Vec<Scattered>> =
            (0..1usize << bits).map(|_| Vec::with_capacity(scattered.len())).collect();
        for chunk in scattered {
            for (p, part) in chunk.into_iter().enumerate() {
                by_partition[p].push(part);
            }
        }
        // Each partition's scratch is dropped as soon as its table is built, so the scratch
        // shrinks while the tables grow instead of outliving them all.
        let partitions = by_partition
            .into_par_iter()
            .map(|parts| {
                let entries = || parts.iter().flat_map(|s| s.hashes.iter().copied().zip(s.rows.iter().copied()));
                Partition::build(entries, &keys, distinct_only)
            })
            .collect();
        Ok(KeyIndex { bits, partitions, keys })
    }

    /// Calls `visit(probe row, matching build rows)` for every probe row with at least one
    /// match, in probe order, skipping rows with a NULL key. `keys` are the probe keys encoded
    /// by the same encoder as the build keys.
    pub fn probe(
        &self,
        hashes: &[u64],
        keys: &EncodedKeys,
        nulls: Option<&NullBuffer>,
        visit: impl FnMut(usize, &[u32]) -> Result<()>,
    ) -> Result<()> {
        match (&self.keys, keys) {
            (BuildKeys::Exact, EncodedKeys::Integer) => self.probe_with(hashes, nulls, |_, _| true, visit),
            (BuildKeys::Pairs(build), EncodedKeys::IntegerPair(probe)) => {
                self.probe_with(hashes, nulls, |rep, row| build[rep as usize] == probe[row], visit)
            }
            (BuildKeys::Rows(build), EncodedKeys::Rows(probe)) => {
                self.probe_with(hashes, nulls, |rep, row| build.row(rep) == probe.row(row).data(), visit)
            }
            _ => Err(EngineError::execution("a join's probe keys are not encoded like its build keys")),
        }
    }

    fn probe_with(
        &self,
        hashes: &[u64],
        nulls: Option<&NullBuffer>,
        same: impl Fn(u32, usize) -> bool,
        mut visit: impl FnMut(usize, &[u32]) -> Result<()>,
    ) -> Result<()> {
        for (row, hash) in hashes.iter().enumerate() {
            if nulls.is_some_and(|n| n.is_null(row)) {
                continue;
            }
            let matches = self.partitions[partition_of(*hash, self.bits)].find(*hash, |rep| same(rep, row));
            if !matches.is_empty() {
                visit(row, matches)?;
            }
        }
        Ok(())
    }

    /// Bytes the index holds.
    pub fn memory_size(&self) -> usize {
        let keys = match &self.keys {
            BuildKeys::Exact => 0,
            BuildKeys::Pairs(pairs) => pairs.capacity() * 16,
            BuildKeys::Rows(rows) => rows.data.capacity() + rows.offsets.capacity() * 8,
        };
        keys + self.partitions.iter().map(Partition::memory_size).sum::<usize>()
    }
}

/// Partition bits for `rows` build rows: about `ROWS_PER_PARTITION` rows each.
fn partition_bits(rows: usize) -> u32 {
    let partitions = (rows / ROWS_PER_PARTITION).max(1);
    partitions.ilog2().min(MAX_PARTITION_BITS)
}

fn partition_of(hash: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (hash >> (64 - bits)) as usize
    }
}

/// One chunk's non-NULL rows of one partition, as hashes and build rows in two vectors (12
/// bytes a row, where `(u64, u32)` pairs would be padded to 16).
struct Scattered {
    hashes: Vec<u64>,
    rows: Vec<u32>,
}

/// One chunk's non-NULL rows as (hash, build row), by partition; consumes the chunk.
fn scatter(chunk: ChunkHashes, offset: u32, bits: u32) -> Vec<Scattered> {
    let valid = |row: usize| chunk.nulls.as_ref().is_none_or(|n| n.is_valid(row));
    let mut sizes = vec![0usize; 1 << bits];
    for (row, hash) in chunk.hashes.iter().enumerate() {
        if valid(row) {
            sizes[partition_of(*hash, bits)] += 1;
        }
    }
    let mut parts: Vec<Scattered> = sizes
        .into_iter()
        .map(|size| Scattered { hashes: Vec::with_capacity(size), rows: Vec::with_capacity(size) })
        .collect();
    for (row, hash) in chunk.hashes.iter().enumerate() {
        if valid(row) {
            let part = &mut parts[partition_of(*hash, bits)];
            part.hashes.push(*hash);
            part.rows.push(offset + row as u32);
        }
    }
    parts
}

/// One partition's table. A slot is `hash << 32 | (group + 1)` in one `u128` (0: empty), so a
/// probe touches one cache line per slot and the table starts as zeroed pages.
struct Partition {
    mask: usize,
    slots: Vec<u128>,
    /// `starts[g]..starts[g + 1]` indexes group `g`'s rows; `None` when every group is one row
    /// (group `g` is `rows[g]`).
    starts: Option<Vec<u32>>,
    /// Build rows, grouped by key, in build order within a group.
    rows: Vec<u32>,
}

impl Partition {
    /// Indexes the (hash, build row) pairs `entries()` yields (called twice, same sequence).
    fn build<I: Iterator<Item = (u64, u32)>>(
        entries: impl Fn() -> I,
        keys: &BuildKeys,
        distinct_only: bool,
    ) -> Partition {
        let len = entries().count();
        // Load factor at most 2/3 even when every key is distinct.
        let capacity = (len + len / 2 + 1).next_power_of_two();
        let mask = capacity - 1;
        let mut slots = vec![0u128; capacity];
        // The first row of each group, and the group of each entry.
        let mut firsts: Vec<u32> = Vec::with_capacity(len);
        let mut sizes: Vec<u32> = Vec::new();
        let mut groups: Vec<u32> = Vec::with_capacity(if distinct_only { 0 } else { len });
        for (hash, row) in entries() {
            let mut index = hash as usize & mask;
            let group = loop {
                let slot = slots[index];
                if slot == 0 {
                    let group = firsts.len() as u32;
                    slots[index] = ((hash as u128) << 32) | (group as u128 + 1);
                    firsts.push(row);
                    if !sizes.is_empty() {
                        sizes.push(1);
                    }
                    break group;
                }
                let group = (slot as u32).wrapping_sub(1);
                if (slot >> 32) as u64 == hash && keys.same(firsts[group as usize], row) {
                    if distinct_only {
                        break group;
                    }
                    if sizes.is_empty() {
                        // The first duplicate: from now on groups are counted.
                        sizes = vec![1; firsts.len()];
                    }
                    sizes[group as usize] += 1;
                    break group;
                }
                index = (index + 1) & mask;
            };
            if !distinct_only {
                groups.push(group);
            }
        }
        if sizes.is_empty() {
            return Partition { mask, slots, starts: None, rows: firsts };
        }
        drop(firsts);
        let mut starts = Vec::with_capacity(sizes.len() + 1);
        let mut next = 0u32;
        for size in &sizes {
            starts.push(next);
            next += size;
        }
        starts.push(next);
        let mut cursor = sizes;
        cursor.copy_from_slice(&starts[..starts.len() - 1]);
        let mut rows = vec![0u32; len];
        for ((_, row), group) in entries().zip(groups) {
            let at = &mut cursor[group as usize];
            rows[*at as usize] = row;
            *at += 1;
        }
        Partition { mask, slots, starts: Some(starts), rows }
    }

    /// The build rows with key hash `hash` whose first row `same` accepts.
    fn find(&self, hash: u64, same: impl Fn(u32) -> bool) -> &[u32] {
        let mut index = hash as usize & self.mask;
        loop {
            let slot = self.slots[index];
            if slot == 0 {
                return &[];
            }
            if (slot >> 32) as u64 == hash {
                let group = (slot as u32 - 1) as usize;
                let range = match &self.starts {
                    None => group..group + 1,
                    Some(starts) => starts[group] as usize..starts[group + 1] as usize,
                };
                if same(self.rows[range.start]) {
                    return &self.rows[range];
                }
            }
            index = (index + 1) & self.mask;
        }
    }

    fn memory_size(&self) -> usize {
        self.slots.capacity() * 16 + self.rows.capacity() * 4 + self.starts.as_ref().map_or(0, |s| s.capacity() * 4)
    }
}

/// Rows where any of `keys` is NULL, as one null buffer (`None`: no NULL anywhere).
pub fn key_nulls(keys: &[ArrayRef]) -> Option<NullBuffer> {
    keys.iter().fold(None, |acc, key| NullBuffer::union(acc.as_ref(), key.logical_nulls().as_ref()))
}

/// One bit per build row, set concurrently by the probing workers.
pub struct MatchedBitmap {
    words: Vec<AtomicU64>,
    len: usize,
}

impl MatchedBitmap {
    pub fn new(len: usize) -> MatchedBitmap {
        MatchedBitmap { words: (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(), len }
    }

    pub fn set(&self, index: usize) {
        self.words[index / 64].fetch_or(1 << (index % 64), Ordering::Relaxed);
    }

    /// Indices of the rows never set. Called after every prober finished, so relaxed loads see
    /// every bit (the scheduler's join of the workers orders them before this).
    pub fn unset(&self) -> Vec<u32> {
        let mut unset = Vec::new();
        for (w, word) in self.words.iter().enumerate() {
            let mut missing = !word.load(Ordering::Relaxed);
            while missing != 0 {
                let index = w * 64 + missing.trailing_zeros() as usize;
                if index >= self.len {
                    break;
                }
                unset.push(index as u32);
                missing &= missing - 1;
            }
        }
        unset
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::DataType;

    use super::*;
    use crate::exec::join_keys::{KeyEncoder, KeyLayout};

    /// Builds an index over `chunks` of keys of one type; returns it with the encoder.
    fn index(chunks: &[ArrayRef]) -> (KeyIndex, KeyEncoder) {
        let encoder = KeyEncoder::new(vec![chunks[0].data_type().clone()]);
        let encoded: Vec<(Vec<u64>, EncodedKeys)> =
            chunks.iter().map(|c| encoder.encode(std::slice::from_ref(c)).unwrap()).collect();
        let nulls: Vec<Option<NullBuffer>> = chunks.iter().map(|c| key_nulls(std::slice::from_ref(c))).collect();
        let layout = encoder.layout();
        let mut hashes = vec![];
        let mut rows = vec![];
        for ((h, e), n) in encoded.into_iter().zip(nulls) {
            hashes.push(ChunkHashes { hashes: h, nulls: n });
            if let EncodedKeys::Rows(r) = e {
                rows.push(r);
            }
        }
        let keys = match layout {
            KeyLayout::Integer => BuildKeys::Exact,
            KeyLayout::IntegerPair => unreachable!("one key"),
            KeyLayout::Rows => BuildKeys::Rows(RowBytes::concat(rows)),
        };
        (KeyIndex::build(hashes, keys, false).unwrap(), encoder)
    }

    /// Every probe row's matches, as (probe row, build rows).
    fn matches(index: &KeyIndex, encoder: &KeyEncoder, probe: ArrayRef) -> Vec<(usize, Vec<u32>)> {
        let (hashes, keys) = encoder.encode(std::slice::from_ref(&probe)).unwrap();
        let nulls = key_nulls(&[probe]);
        let mut out = vec![];
        index
            .probe(&hashes, &keys, nulls.as_ref(), |row, rows| {
                out.push((row, rows.to_vec()));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn groups_list_duplicates_in_build_order_and_skip_nulls() {
        let first: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None, Some(-7)]));
        let second: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), Some(8), None, Some(7)]));
        let (index, encoder) = index(&[first, second]);
        let probe: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), Some(9), None, Some(-7), Some(8)]));
        assert_eq!(matches(&index, &encoder, probe), [(0, vec![0, 3, 6]), (3, vec![2]), (4, vec![4])]);
    }

    #[test]
    fn large_builds_use_many_partitions_and_find_every_key() {
        let rows = 200_000i64;
        let chunks: Vec<ArrayRef> = (0..4)
            .map(|c| {
                Arc::new(Int64Array::from_iter_values((c * rows / 4..(c + 1) * rows / 4).map(|v| v % 150_000 - 70_000)))
                    as ArrayRef
            })
            .collect();
        let (index, encoder) = index(&chunks);
        assert!(index.partitions.len() > 1);
        let probe: ArrayRef = Arc::new(Int64Array::from_iter_values(-80_000..90_000));
        let found = matches(&index, &encoder, probe);
        assert_eq!(found.len(), 150_000);
        let mut expected: std::collections::HashMap<i64, Vec<u32>> = Default::default();
        for v in 0..rows {
            expected.entry(v % 150_000 - 70_000).or_default().push(v as u32);
        }
        for (row, build) in found {
            let key = row as i64 - 80_000;
            assert_eq!(Some(&build), expected.get(&key), "key {key}");
        }
    }

    #[test]
    fn row_keys_compare_bytes_not_just_hashes() {
        let build: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None, Some("a")]));
        let (index, encoder) = index(&[build]);
        let probe: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), Some("c"), Some("a")]));
        assert_eq!(matches(&index, &encoder, probe), [(0, vec![1]), (2, vec![0, 3])]);
    }

    #[test]
    fn equal_hashes_of_different_pairs_stay_apart() {
        // Forced collisions: every row hashes alike, so only the key comparison separates them.
        let pairs = vec![1u128, 2, 1, 3];
        let hashes = vec![42u64; 4];
        let index = KeyIndex::build(vec![ChunkHashes { hashes, nulls: None }], BuildKeys::Pairs(pairs), false).unwrap();
        let probe = EncodedKeys::IntegerPair(vec![3, 1, 4]);
        let mut out = vec![];
        index
            .probe(&[42, 42, 42], &probe, None, |row, rows| {
                out.push((row, rows.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(out, [(0, vec![3]), (1, vec![0, 2])]);
    }

    #[test]
    fn distinct_only_indexes_keep_the_first_row_of_each_key() {
        let chunk = ChunkHashes { hashes: vec![5u64, 9, 5, 5], nulls: None };
        let index = KeyIndex::build(vec![chunk], BuildKeys::Pairs(vec![1, 2, 1, 3]), true).unwrap();
        let mut out = vec![];
        let probe = EncodedKeys::IntegerPair(vec![1, 3, 2]);
        index
            .probe(&[5, 5, 9], &probe, None, |row, rows| {
                out.push((row, rows.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(out, [(0, vec![0]), (1, vec![3]), (2, vec![1])]);
    }

    #[test]
    fn an_empty_build_matches_nothing() {
        let index = KeyIndex::build(vec![], BuildKeys::Exact, false).unwrap();
        let encoder = KeyEncoder::new(vec![DataType::Int64]);
        assert!(matches(&index, &encoder, Arc::new(Int64Array::from(vec![1, 2]))).is_empty());
    }

    #[test]
    fn bitmap_reports_unset_rows() {
        let bitmap = MatchedBitmap::new(130);
        bitmap.set(0);
        bitmap.set(64);
        bitmap.set(129);
        let unset = bitmap.unset();
        assert_eq!(unset.len(), 127);
        assert!(!unset.contains(&64) && unset.contains(&65) && unset[0] == 1);
    }
}
