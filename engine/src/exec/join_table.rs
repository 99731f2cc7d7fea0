//! The build side's index, built in parallel: build rows are split by the top bits of their key
//! hash into partitions of about `ROWS_PER_PARTITION` rows, and each partition gets its own
//! open-addressing table on its own rayon task (no locks: a row belongs to one partition). A
//! probe computes its hash once and looks in one partition only. The split happens as each
//! build batch arrives (`ChunkHashes`), so `finalize` only builds the tables.
//!
//! A table maps a key to its *group*: the build rows carrying that key, stored contiguously in
//! build order, so a probe hit is one slice (no chain of `next` pointers through every build row,
//! as in DuckDB's and DataFusion's tables). When every key is distinct, as for the primary keys
//! most joins build on, the groups are the rows themselves and no offsets are kept. Tables are
//! sized by the groups they meet (8 bytes a slot), not by rows, so a foreign-key build side
//! with many rows a key gets a small table. A join that only asks whether a key exists (semi,
//! anti, mark) on one integer key gets a `KeySet` instead: the keys' hashes alone, no rows.
//! One integer key of dense values (surrogate keys, dates) skips all of this for a
//! direct-indexed table (`join_dense`), and tables too large for the caches are probed with
//! software prefetches a few rows ahead.

use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use arrow::row::Rows;
use rayon::prelude::*;

use crate::error::{EngineError, Result};
use crate::exec::join_dense::{DenseIndex, Part};
use crate::exec::join_keys::{hash_integer, EncodedKeys, KeyEncoder};

/// Rows a partition aims at: its table (8 bytes a slot, plus 12 a group) then stays within a
/// core's L2 cache while it is built.
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

/// One build batch's hashes, already grouped by partition: the rows (within the batch) and
/// their hashes, ordered by the top `MAX_PARTITION_BITS` bits of the hash. Made as the batch
/// arrives at the build sink, on that worker, so `finalize` only builds tables. Any smaller
/// partition count groups a prefix of those bits, so each final partition is one contiguous
/// range of this order whatever the build's total size turns out to be.
///
/// One integer key arrives as its values in row order instead (`integers`): a dense key is
/// indexed directly from them (`join_dense`), in row order, which for the sorted surrogate keys
/// of most tables walks the direct table front to back rather than 256 times across it; only a
/// key that turns out sparse is hashed and grouped (`bucketed`, in `KeyIndex::build`).
pub struct ChunkHashes {
    /// Rows in the batch, NULL keys included (build rows are numbered across batches).
    len: u32,
    /// The grouped hashes, or for `values` chunks the non-NULL keys' values in row order.
    hashes: Vec<u64>,
    /// The row of each hash; empty without `with_rows`, and for a `values` chunk without a
    /// NULL key (entry `i` is row `i`).
    rows: Vec<u32>,
    with_rows: bool,
    /// `bounds[b]..bounds[b + 1]` are the entries whose top bits are `b` (empty for `values`).
    bounds: Vec<u32>,
    /// Whether `hashes` holds key values in row order, not yet grouped.
    values: bool,
}

impl ChunkHashes {
    /// Groups `hashes` (one per batch row) by their top bits, leaving out rows with a NULL in
    /// any key (never indexed: SQL `=` never matches NULL). Build order is kept within a group.
    /// Without `with_rows` the rows are not kept: enough for a key set (`KeyIndex::build`).
    pub fn new(hashes: Vec<u64>, nulls: Option<&NullBuffer>, with_rows: bool) -> Result<ChunkHashes> {
        let len = u32::try_from(hashes.len())
            .map_err(|_| EngineError::execution("a join's build batch has more than 2^32 rows"))?;
        let valid = |row: usize| nulls.is_none_or(|n| n.is_valid(row));
        let entries = hashes.iter().enumerate().filter(|(row, _)| valid(*row)).map(|(row, hash)| (*hash, row as u32));
        Ok(group(len, entries, with_rows))
    }

    /// One integer key's values (`KeyEncoder::integer_values`, one per batch row) kept in row
    /// order, rows with a NULL key left out: the hashing and grouping `new` does up front is
    /// left to `bucketed`, needed only when the keys are too sparse for a direct table.
    pub fn integers(values: Vec<u64>, nulls: Option<&NullBuffer>, with_rows: bool) -> Result<ChunkHashes> {
        let len = u32::try_from(values.len())
            .map_err(|_| EngineError::execution("a join's build batch has more than 2^32 rows"))?;
        let (values, rows) = match nulls.filter(|n| n.null_count() > 0) {
            None => (values, vec![]),
            Some(nulls) => {
                let rows: Vec<u32> = nulls.valid_indices().map(|row| row as u32).collect();
                let kept = rows.iter().map(|row| values[*row as usize]).collect();
                (kept, if with_rows { rows } else { vec![] })
            }
        };
        Ok(ChunkHashes { len, hashes: values, rows, with_rows, bounds: vec![], values: true })
    }

    /// This chunk as `new` would have made it: an `integers` chunk's values hashed
    /// (`hash_integer`) and grouped; any other chunk as it is.
    pub fn bucketed(self) -> ChunkHashes {
        if !self.values {
            return self;
        }
        let ChunkHashes { len, hashes: values, rows, with_rows, .. } = self;
        let hashes: Vec<u64> = values.into_iter().map(hash_integer).collect();
        if rows.is_empty() {
            group(len, hashes.iter().enumerate().map(|(row, hash)| (*hash, row as u32)), with_rows)
        } else {
            group(len, hashes.iter().copied().zip(rows.iter().copied()), with_rows)
        }
    }

    /// Whether the rows were kept (`new`'s `with_rows`).
    pub fn has_rows(&self) -> bool {
        self.with_rows
    }

    /// Bytes held.
    pub fn memory_size(&self) -> usize {
        self.hashes.capacity() * 8 + self.rows.capacity() * 4 + self.bounds.capacity() * 4
    }

    /// The entries of final partition `p` of `bits` bits.
    fn range(&self, p: usize, bits: u32) -> std::ops::Range<usize> {
        let shift = MAX_PARTITION_BITS - bits;
        self.bounds[p << shift] as usize..self.bounds[(p + 1) << shift] as usize
    }

    /// A `values` chunk as a direct table's part: its values, their rows (`None`: entry `i`
    /// is row `i`) and its first build row.
    fn dense_part(&self, first: u32) -> Part<'_> {
        let rows = (self.with_rows && !self.rows.is_empty()).then_some(&self.rows[..]);
        Part { keys: &self.hashes, rows, first }
    }
}

/// A chunk of `len` rows whose (hash, row) `entries` (rows with a NULL key left out) are
/// grouped by the hash's top bits, in entry order within a group.
fn group(len: u32, entries: impl Iterator<Item = (u64, u32)> + Clone, with_rows: bool) -> ChunkHashes {
    let mut bounds = vec![0u32; BUCKETS + 1];
    for (hash, _) in entries.clone() {
        bounds[bucket_of(hash) + 1] += 1;
    }
    for b in 0..BUCKETS {
        bounds[b + 1] += bounds[b];
    }
    let kept = bounds[BUCKETS] as usize;
    let mut cursor = bounds[..BUCKETS].to_vec();
    let mut sorted = vec![0u64; kept];
    let mut rows = vec![0u32; if with_rows { kept } else { 0 }];
    for (hash, row) in entries {
        let at = &mut cursor[bucket_of(hash)];
        sorted[*at as usize] = hash;
        if with_rows {
            rows[*at as usize] = row;
        }
        *at += 1;
    }
    ChunkHashes { len, hashes: sorted, rows, with_rows, bounds, values: false }
}

/// Buckets a chunk's hashes are grouped by.
const BUCKETS: usize = 1 << MAX_PARTITION_BITS;

fn bucket_of(hash: u64) -> usize {
    (hash >> (64 - MAX_PARTITION_BITS)) as usize
}

/// Equal-key groups of the build rows, in partitions; or, for a join that only asks whether
/// an integer key exists, just the set of keys.
pub struct KeyIndex {
    /// The partition of a hash is its top `bits` bits.
    bits: u32,
    partitions: Vec<Partition>,
    keys: BuildKeys,
    /// A direct-indexed table instead of the partitions (no partitions then), for one integer
    /// key of dense values; it is probed by key value, not hash (`encode_probe`).
    dense: Option<DenseIndex>,
    /// Whether the tables are too large for the caches, so that a probe prefetches the slots
    /// and groups of rows a little ahead of the one it looks up (`PREFETCH_BYTES`).
    prefetch: bool,
}

/// Table bytes beyond which a probe prefetches: smaller tables stay in a core's L2 cache, and
/// a prefetch there is only overhead.
const PREFETCH_BYTES: usize = 1 << 20;

/// Rows ahead of the lookup whose slot is prefetched, whose group (found through the
/// then-cached slot) is prefetched, and whose packed key pair (found through the then-cached
/// group) is prefetched: each about a memory latency's worth of lookups after the last.
const SLOT_AHEAD: usize = 24;
const GROUP_AHEAD: usize = 16;
const KEY_AHEAD: usize = 8;

/// Asks the CPU to bring the cache line at `p` in; a hint that never faults, whatever `p` is.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl KeyIndex {
    /// Indexes the build rows, numbered across `chunks` in order (chunk `c`'s row `r` is the sum
    /// of the earlier chunks' lengths plus `r`). Partitions are built in parallel. With
    /// `distinct_only` (a join that only asks whether a key exists) each key keeps its first row,
    /// and `Exact` keys make a key set (`is_set`): the hashes are the keys, and no row is kept.
    /// Other indexes need the chunks made `with_rows`.
    pub fn build(chunks: Vec<ChunkHashes>, keys: BuildKeys, distinct_only: bool) -> Result<KeyIndex> {
        let total: u64 = chunks.iter().map(|c| c.len as u64).sum();
        if total > u32::MAX as u64 {
            return Err(EngineError::execution(format!(
                "the build side of a join has {total} rows; at most {} are supported",
                u32::MAX
            )));
        }
        let indexed: usize = chunks.iter().map(|c| c.hashes.len()).sum();
        let bits = partition_bits(indexed);
        let mut offsets = Vec::with_capacity(chunks.len());
        let mut offset = 0u32;
        for chunk in &chunks {
            offsets.push(offset);
            offset += chunk.len;
        }
        let exact = matches!(keys, BuildKeys::Exact);
        let set = distinct_only && exact;
        if !set && chunks.iter().any(|c| !c.with_rows && !c.hashes.is_empty()) {
            return Err(EngineError::execution("a join index needs its build rows, which were not kept"));
        }
        if chunks.iter().any(|c| c.values) {
            if !exact {
                return Err(EngineError::execution("a join's integer key values were given for a composite key"));
            }
            if chunks.iter().all(|c| c.values) {
                let parts: Vec<Part> = chunks.iter().zip(&offsets).map(|(c, offset)| c.dense_part(*offset)).collect();
                if let Some(dense) = DenseIndex::build(&parts, set) {
                    return Ok(KeyIndex { bits: 0, partitions: vec![], keys, dense: Some(dense), prefetch: false });
                }
            }
        }
        // Too sparse for a direct table: hash and group the chunks that came as values, each
        // on its own task.
        let chunks: Vec<ChunkHashes> = chunks.into_par_iter().map(ChunkHashes::bucketed).collect();
        let partitions: Vec<Partition> = (0..1usize << bits)
            .into_par_iter()
            .map(|p| {
                if set {
                    let parts: Vec<&[u64]> = chunks.iter().map(|c| &c.hashes[c.range(p, bits)]).collect();
                    return Partition::Keys(KeySet::build(&parts));
                }
                let parts: Vec<(&[u64], &[u32], u32)> = chunks
                    .iter()
                    .zip(&offsets)
                    .map(|(c, offset)| {
                        let range = c.range(p, bits);
                        (&c.hashes[range.clone()], &c.rows[range], *offset)
                    })
                    .filter(|(h, _, _)| !h.is_empty())
                    .collect();
                Partition::Groups(GroupTable::build(&parts, &keys, distinct_only))
            })
            .collect();
        let prefetch = partitions.iter().map(Partition::memory_size).sum::<usize>() > PREFETCH_BYTES;
        Ok(KeyIndex { bits, partitions, keys, dense: None, prefetch })
    }

    /// Whether the index is a key set (it knows keys, not rows).
    pub fn is_set(&self) -> bool {
        match &self.dense {
            Some(dense) => dense.is_set(),
            None => matches!(self.partitions.first(), Some(Partition::Keys(_))),
        }
    }

    /// Whether every build key has at most one build row, so a probe row has at most one match.
    pub fn is_unique(&self) -> bool {
        match &self.dense {
            Some(dense) => dense.is_unique(),
            None => self.partitions.iter().all(|p| matches!(p, Partition::Groups(t) if t.starts.is_none())),
        }
    }

    /// A probe batch's keys in the form `probe` and `probe_exists` take: their hashes and
    /// encoding, or for a direct-indexed table the keys' integer values (no hashing).
    pub fn encode_probe(&self, encoder: &KeyEncoder, keys: &[ArrayRef]) -> Result<(Vec<u64>, EncodedKeys)> {
        match self.dense {
            Some(_) => Ok((encoder.integer_values(keys)?, EncodedKeys::Integer)),
            None => encoder.encode(keys),
        }
    }

    /// Calls `visit(probe row)` for every probe row whose key exists on the build side, in probe
    /// order, skipping rows with a NULL key. Works on every index, key sets included.
    pub fn probe_exists(
        &self,
        hashes: &[u64],
        keys: &EncodedKeys,
        nulls: Option<&NullBuffer>,
        mut visit: impl FnMut(usize),
    ) -> Result<()> {
        if let Some(dense) = &self.dense {
            dense.probe_exists(hashes, nulls, visit);
            return Ok(());
        }
        if !self.is_set() {
            return self.probe(hashes, keys, nulls, |row, _| {
                visit(row);
                Ok(())
            });
        }
        if !matches!(keys, EncodedKeys::Integer) {
            return Err(EngineError::execution("a join's probe keys are not encoded like its build keys"));
        }
        for (row, hash) in hashes.iter().enumerate() {
            if nulls.is_some_and(|n| n.is_null(row)) {
                continue;
            }
            if let Partition::Keys(set) = &self.partitions[partition_of(*hash, self.bits)] {
                if set.contains(*hash) {
                    visit(row);
                }
            }
        }
        Ok(())
    }

    /// Calls `visit(probe row, matching build rows)` for every probe row with at least one
    /// match, in probe order, skipping rows with a NULL key. `hashes` and `keys` are the probe
    /// keys as `encode_probe` made them. A key set has no rows to give: an error.
    pub fn probe(
        &self,
        hashes: &[u64],
        keys: &EncodedKeys,
        nulls: Option<&NullBuffer>,
        visit: impl FnMut(usize, &[u32]) -> Result<()>,
    ) -> Result<()> {
        if let Some(dense) = &self.dense {
            return dense.probe(hashes, nulls, visit);
        }
        if self.is_set() {
            return Err(EngineError::execution("a join's key set was asked for build rows"));
        }
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
            if self.prefetch {
                self.prefetch_ahead(hashes, row);
            }
            if nulls.is_some_and(|n| n.is_null(row)) {
                continue;
            }
            let Partition::Groups(table) = &self.partitions[partition_of(*hash, self.bits)] else {
                continue;
            };
            let matches = table.find(*hash, |rep| same(rep, row));
            if !matches.is_empty() {
                visit(row, matches)?;
            }
        }
        Ok(())
    }

    /// Prefetches the slot `SLOT_AHEAD` rows after `row`, the group `GROUP_AHEAD` rows after
    /// it and the key `KEY_AHEAD` rows after it, so that by the time the probe reaches them,
    /// their cache misses are under way (a probe's loads depend on each other: slot, group,
    /// key). Each stage reads what the previous one prefetched, at its home slot only.
    #[inline(always)]
    fn prefetch_ahead(&self, hashes: &[u64], row: usize) {
        if let Some(hash) = hashes.get(row + SLOT_AHEAD) {
            if let Partition::Groups(table) = &self.partitions[partition_of(*hash, self.bits)] {
                prefetch(table.slots.as_ptr().wrapping_add(*hash as usize & table.mask));
            }
        }
        if let Some(hash) = hashes.get(row + GROUP_AHEAD) {
            if let Partition::Groups(table) = &self.partitions[partition_of(*hash, self.bits)] {
                let slot = table.slots[*hash as usize & table.mask];
                if slot != 0 {
                    let group = (slot as u32 - 1) as usize;
                    prefetch(table.hashes.as_ptr().wrapping_add(group));
                    if table.starts.is_none() {
                        prefetch(table.rows.as_ptr().wrapping_add(group));
                    }
                }
            }
        }
        if let (Some(hash), BuildKeys::Pairs(pairs)) = (hashes.get(row + KEY_AHEAD), &self.keys) {
            if let Partition::Groups(table) = &self.partitions[partition_of(*hash, self.bits)] {
                let slot = table.slots[*hash as usize & table.mask];
                if slot != 0 && table.starts.is_none() {
                    if let Some(rep) = table.rows.get((slot as u32 - 1) as usize) {
                        prefetch(pairs.as_ptr().wrapping_add(*rep as usize));
                    }
                }
            }
        }
    }

    /// Bytes the index holds.
    pub fn memory_size(&self) -> usize {
        let keys = match &self.keys {
            BuildKeys::Exact => 0,
            BuildKeys::Pairs(pairs) => pairs.capacity() * 16,
            BuildKeys::Rows(rows) => rows.data.capacity() + rows.offsets.capacity() * 8,
        };
        let dense = self.dense.as_ref().map_or(0, DenseIndex::memory_size);
        keys + dense + self.partitions.iter().map(Partition::memory_size).sum::<usize>()
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

/// The part of a slot that holds hash bits: bits 24..56 of the hash, which neither the
/// partition (the top 8 bits at most) nor the slot position (the low bits) already fixes.
const TAG_MASK: u64 = 0xffff_ffff_0000_0000;

fn tag_of(hash: u64) -> u64 {
    (hash << 8) & TAG_MASK
}

/// One partition of an index.
enum Partition {
    Groups(GroupTable),
    Keys(KeySet),
}

impl Partition {
    fn memory_size(&self) -> usize {
        match self {
            Partition::Groups(table) => table.memory_size(),
            Partition::Keys(set) => set.memory_size(),
        }
    }
}

/// One partition's table. A slot is `tag << 32 | (group + 1)` in one `u64` (0: empty); a tag
/// match is confirmed against the group's full hash (which, for an `Exact` key, is the key).
/// The table is sized by the groups it meets, growing as they come, so duplicate-heavy builds
/// (a foreign key, a semi join's subquery) get a table for their distinct keys, not their rows.
struct GroupTable {
    mask: usize,
    slots: Vec<u64>,
    /// Each group's full hash.
    hashes: Vec<u64>,
    /// `starts[g]..starts[g + 1]` indexes group `g`'s rows; `None` when every group is one row
    /// (group `g` is `rows[g]`).
    starts: Option<Vec<u32>>,
    /// Build rows, grouped by key, in build order within a group.
    rows: Vec<u32>,
}

/// Slots of a fresh table (grown as groups arrive).
const MIN_SLOTS: usize = 64;

/// Entries a table takes in before it sizes itself for the rest: a table sized by rows would
/// be mostly empty for duplicate keys, and one grown from nothing would rehash every key of a
/// distinct (primary) key several times.
const SAMPLE: usize = 2048;

/// Groups to expect among `len` entries when the first `SAMPLE` of them made `groups`.
fn expected_groups(groups: usize, len: usize) -> usize {
    groups * (len / SAMPLE) + groups * (len % SAMPLE) / SAMPLE
}

/// Frees the spare capacity of `v` when it is more than an eighth (a reallocation and a copy).
fn trim<T>(v: &mut Vec<T>) {
    if v.capacity() > v.len() + v.len() / 8 {
        v.shrink_to_fit();
    }
}

/// Slots for `groups` groups at a load of at most 3/4.
fn slots_for(groups: usize) -> usize {
    (groups + groups / 3 + 1).next_power_of_two().max(MIN_SLOTS)
}

impl GroupTable {
    /// Indexes `parts`: per chunk, its entries' hashes and rows (within the chunk) and the
    /// chunk's first build row, in build order.
    fn build(parts: &[(&[u64], &[u32], u32)], keys: &BuildKeys, distinct_only: bool) -> GroupTable {
        let entries = || {
            parts
                .iter()
                .flat_map(|(hashes, rows, offset)| hashes.iter().copied().zip(rows.iter().map(move |r| r + offset)))
        };
        let len: usize = parts.iter().map(|p| p.0.len()).sum();
        let mut slots = vec![0u64; slots_for(len.min(SAMPLE))];
        let mut mask = slots.len() - 1;
        let mut hashes: Vec<u64> = Vec::with_capacity(len.min(SAMPLE));
        // The first row of each group, and the group of each entry.
        let mut firsts: Vec<u32> = Vec::with_capacity(len.min(SAMPLE));
        let mut sizes: Vec<u32> = Vec::new();
        let mut groups: Vec<u32> = Vec::with_capacity(if distinct_only { 0 } else { len });
        for (seen, (hash, row)) in entries().enumerate() {
            if seen == SAMPLE {
                let expected = expected_groups(hashes.len(), len);
                if slots_for(expected) > slots.len() {
                    slots = rehash(&hashes, slots_for(expected));
                    mask = slots.len() - 1;
                }
                hashes.reserve(expected.saturating_sub(hashes.len()));
                firsts.reserve(expected.saturating_sub(firsts.len()));
            }
            let tag = tag_of(hash);
            let mut index = hash as usize & mask;
            let group = loop {
                let slot = slots[index];
                if slot == 0 {
                    let group = hashes.len() as u32;
                    slots[index] = tag | (group as u64 + 1);
                    hashes.push(hash);
                    firsts.push(row);
                    if !sizes.is_empty() {
                        sizes.push(1);
                    }
                    if hashes.len() * 4 > slots.len() * 3 {
                        slots = rehash(&hashes, slots.len() * 2);
                        mask = slots.len() - 1;
                    }
                    break group;
                }
                if slot & TAG_MASK == tag {
                    let group = (slot as u32).wrapping_sub(1);
                    if hashes[group as usize] == hash && keys.same(firsts[group as usize], row) {
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
                }
                index = (index + 1) & mask;
            };
            if !distinct_only {
                groups.push(group);
            }
        }
        trim(&mut hashes);
        if sizes.is_empty() {
            trim(&mut firsts);
            return GroupTable { mask, slots, hashes, starts: None, rows: firsts };
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
        GroupTable { mask, slots, hashes, starts: Some(starts), rows }
    }

    /// The build rows with key hash `hash` whose first row `same` accepts.
    fn find(&self, hash: u64, same: impl Fn(u32) -> bool) -> &[u32] {
        let tag = tag_of(hash);
        let mut index = hash as usize & self.mask;
        loop {
            let slot = self.slots[index];
            if slot == 0 {
                return &[];
            }
            if slot & TAG_MASK == tag {
                let group = (slot as u32 - 1) as usize;
                if self.hashes[group] == hash {
                    let range = match &self.starts {
                        None => group..group + 1,
                        Some(starts) => starts[group] as usize..starts[group + 1] as usize,
                    };
                    if same(self.rows[range.start]) {
                        return &self.rows[range];
                    }
                }
            }
            index = (index + 1) & self.mask;
        }
    }

    fn memory_size(&self) -> usize {
        self.slots.capacity() * 8
            + self.hashes.capacity() * 8
            + self.rows.capacity() * 4
            + self.starts.as_ref().map_or(0, |s| s.capacity() * 4)
    }
}

/// One partition's distinct `Exact` keys: a slot is a key's hash, which identifies the key (0:
/// empty; the key whose hash is 0 is a flag of its own). 8 bytes a slot and nothing a row, for
/// semi, anti and mark joins on one integer key, whose build side is often a foreign key
/// column with many rows per key.
struct KeySet {
    mask: usize,
    slots: Vec<u64>,
    has_zero: bool,
}

impl KeySet {
    fn build(parts: &[&[u64]]) -> KeySet {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut slots = vec![0u64; slots_for(len.min(SAMPLE))];
        let mut mask = slots.len() - 1;
        let mut keys = 0usize;
        let mut has_zero = false;
        for (seen, hash) in parts.iter().flat_map(|p| p.iter().copied()).enumerate() {
            if seen == SAMPLE && slots_for(expected_groups(keys, len)) > slots.len() {
                slots = regrow(&slots, slots_for(expected_groups(keys, len)));
                mask = slots.len() - 1;
            }
            if hash == 0 {
                has_zero = true;
                continue;
            }
            let mut index = hash as usize & mask;
            loop {
                let slot = slots[index];
                if slot == hash {
                    break;
                }
                if slot == 0 {
                    slots[index] = hash;
                    keys += 1;
                    if keys * 4 > slots.len() * 3 {
                        slots = regrow(&slots, slots.len() * 2);
                        mask = slots.len() - 1;
                    }
                    break;
                }
                index = (index + 1) & mask;
            }
        }
        KeySet { mask, slots, has_zero }
    }

    fn contains(&self, hash: u64) -> bool {
        if hash == 0 {
            return self.has_zero;
        }
        let mut index = hash as usize & self.mask;
        loop {
            match self.slots[index] {
                0 => return false,
                slot if slot == hash => return true,
                _ => index = (index + 1) & self.mask,
            }
        }
    }

    fn memory_size(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// The hashes of `slots` (a key set's table) in a table of `capacity` slots.
fn regrow(slots: &[u64], capacity: usize) -> Vec<u64> {
    let mask = capacity - 1;
    let mut grown = vec![0u64; capacity];
    for hash in slots.iter().copied().filter(|h| *h != 0) {
        let mut index = hash as usize & mask;
        while grown[index] != 0 {
            index = (index + 1) & mask;
        }
        grown[index] = hash;
    }
    grown
}

/// A table of `capacity` slots holding groups `0..hashes.len()` (of hashes `hashes`).
fn rehash(hashes: &[u64], capacity: usize) -> Vec<u64> {
    let mask = capacity - 1;
    let mut slots = vec![0u64; capacity];
    for (group, hash) in hashes.iter().enumerate() {
        let mut index = *hash as usize & mask;
        while slots[index] != 0 {
            index = (index + 1) & mask;
        }
        slots[index] = tag_of(*hash) | (group as u64 + 1);
    }
    slots
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

    use arrow::array::{Date32Array, Int64Array, StringArray};
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
        for (((h, e), n), chunk) in encoded.into_iter().zip(nulls).zip(chunks) {
            // As the build sink does: one integer key arrives as its values.
            hashes.push(match layout {
                KeyLayout::Integer => {
                    let values = encoder.integer_values(std::slice::from_ref(chunk)).unwrap();
                    ChunkHashes::integers(values, n.as_ref(), true).unwrap()
                }
                _ => ChunkHashes::new(h, n.as_ref(), true).unwrap(),
            });
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
        let (hashes, keys) = index.encode_probe(encoder, std::slice::from_ref(&probe)).unwrap();
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

    /// Keys this far apart are too sparse for a direct-indexed table: they test the hash table.
    const SPARSE: i64 = 1_000_003;

    #[test]
    fn groups_list_duplicates_in_build_order_and_skip_nulls() {
        // Dense keys get a direct-indexed table, sparse ones a hash table: the same answers.
        for scale in [1, SPARSE] {
            let keys = |values: Vec<Option<i64>>| -> ArrayRef {
                Arc::new(Int64Array::from(values.into_iter().map(|v| v.map(|v| v * scale)).collect::<Vec<_>>()))
            };
            let first = keys(vec![Some(7), None, Some(-7)]);
            let second = keys(vec![Some(7), Some(8), None, Some(7)]);
            let (index, encoder) = index(&[first, second]);
            assert_eq!(index.dense.is_some(), scale == 1);
            assert!(!index.is_unique());
            let probe = keys(vec![Some(7), Some(9), None, Some(-7), Some(8), Some(0)]);
            assert_eq!(matches(&index, &encoder, probe), [(0, vec![0, 3, 6]), (3, vec![2]), (4, vec![4])]);
        }
    }

    #[test]
    fn dense_distinct_keys_are_unique_and_miss_out_of_range_keys() {
        // Date32 keys, as a date dimension's: a year with gaps, and a NULL build key.
        let days = |values: Vec<Option<i32>>| -> ArrayRef { Arc::new(Date32Array::from(values)) };
        let build = days((19_000..19_365).map(|d| (d % 7 != 3).then_some(d)).chain([None]).collect());
        let (dense, encoder) = index(&[build]);
        assert!(dense.dense.is_some() && dense.is_unique());
        let probe =
            days(vec![Some(19_000), Some(18_999), Some(19_001), None, Some(19_364), Some(19_365), Some(i32::MIN)]);
        assert_eq!(matches(&dense, &encoder, probe), [(0, vec![0]), (4, vec![364])]);
        let (hashed, encoder) = index(&[days(vec![Some(0), Some(1 << 30)])]);
        assert!(hashed.dense.is_none() && hashed.is_unique());
        assert_eq!(matches(&hashed, &encoder, days(vec![Some(1 << 30), Some(1)])), [(0, vec![1])]);
    }

    #[test]
    fn large_builds_use_many_partitions_and_find_every_key() {
        let rows = 200_000i64;
        let chunks: Vec<ArrayRef> = (0..4)
            .map(|c| {
                Arc::new(Int64Array::from_iter_values(
                    (c * rows / 4..(c + 1) * rows / 4).map(|v| (v % 150_000 - 70_000) * SPARSE),
                )) as ArrayRef
            })
            .collect();
        let (index, encoder) = index(&chunks);
        assert!(index.partitions.len() > 1);
        let probe: ArrayRef = Arc::new(Int64Array::from_iter_values((-80_000..90_000).map(|v| v * SPARSE)));
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
        let chunk = ChunkHashes::new(hashes, None, true).unwrap();
        let index = KeyIndex::build(vec![chunk], BuildKeys::Pairs(pairs), false).unwrap();
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
        let chunk = ChunkHashes::new(vec![5u64, 9, 5, 5], None, true).unwrap();
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
    fn key_sets_answer_existence_without_rows() {
        // Many rows a key, NULLs, and the key 0 (whose hash is 0, the empty slot's value).
        let encoder = KeyEncoder::new(vec![DataType::Int64]);
        let chunks: Vec<ChunkHashes> = (0..5i64)
            .map(|c| {
                let keys: ArrayRef = Arc::new(Int64Array::from_iter(
                    (0..40_000i64).map(|i| (i % 97 != 0).then_some(((i * 7 + c) % 30_011 - 15_000) * SPARSE)),
                ));
                let (hashes, _) = encoder.encode(std::slice::from_ref(&keys)).unwrap();
                ChunkHashes::new(hashes, key_nulls(&[keys]).as_ref(), false).unwrap()
            })
            .collect();
        let index = KeyIndex::build(chunks, BuildKeys::Exact, true).unwrap();
        assert!(index.is_set() && index.partitions.len() > 1);
        let probe: ArrayRef =
            Arc::new(Int64Array::from_iter((-16_000..16_000i64).map(|v| Some(v * SPARSE)).chain([None])));
        let (hashes, keys) = encoder.encode(std::slice::from_ref(&probe)).unwrap();
        let mut found = vec![];
        index.probe_exists(&hashes, &keys, key_nulls(&[probe]).as_ref(), |row| found.push(row)).unwrap();
        let mut expected: Vec<usize> = (0..5i64)
            .flat_map(|c| (0..40_000i64).filter(|i| i % 97 != 0).map(move |i| (i * 7 + c) % 30_011 - 15_000))
            .map(|key| (key + 16_000) as usize)
            .collect();
        expected.sort();
        expected.dedup();
        assert!(expected.contains(&16_000), "the key 0 is on the build side");
        assert_eq!(found, expected);
        assert!(index.probe(&hashes, &keys, None, |_, _| Ok(())).is_err(), "a key set has no rows");
    }

    /// Value chunks too sparse for a direct table are hashed and grouped at build time into
    /// the same index `new` chunks give: same matches, NULL rows left out, and a key set when
    /// no rows were kept.
    #[test]
    fn sparse_integer_values_are_bucketed_like_hashed_chunks() {
        let encoder = KeyEncoder::new(vec![DataType::Int64]);
        let batches: Vec<ArrayRef> = (0..3i64)
            .map(|c| {
                Arc::new(Int64Array::from_iter(
                    (0..20_000i64).map(|i| (i % 11 != c).then_some((i * 3 + c) % 4_001 * SPARSE)),
                )) as ArrayRef
            })
            .collect();
        let chunks = |values: bool, with_rows: bool| -> Vec<ChunkHashes> {
            batches
                .iter()
                .map(|keys| {
                    let nulls = key_nulls(std::slice::from_ref(keys));
                    if values {
                        let values = encoder.integer_values(std::slice::from_ref(keys)).unwrap();
                        ChunkHashes::integers(values, nulls.as_ref(), with_rows).unwrap()
                    } else {
                        let (hashes, _) = encoder.encode(std::slice::from_ref(keys)).unwrap();
                        ChunkHashes::new(hashes, nulls.as_ref(), with_rows).unwrap()
                    }
                })
                .collect()
        };
        let probe: ArrayRef = Arc::new(Int64Array::from_iter((-2..4_003i64).map(|v| Some(v * SPARSE)).chain([None])));
        let from_values = KeyIndex::build(chunks(true, true), BuildKeys::Exact, false).unwrap();
        let from_hashes = KeyIndex::build(chunks(false, true), BuildKeys::Exact, false).unwrap();
        assert!(from_values.dense.is_none() && from_values.partitions.len() > 1);
        let found = matches(&from_values, &encoder, probe.clone());
        assert_eq!(found.len(), 4_001);
        assert_eq!(found, matches(&from_hashes, &encoder, probe.clone()));
        let set = KeyIndex::build(chunks(true, false), BuildKeys::Exact, true).unwrap();
        assert!(set.is_set() && set.dense.is_none());
        let (hashes, keys) = set.encode_probe(&encoder, std::slice::from_ref(&probe)).unwrap();
        let mut exists = vec![];
        set.probe_exists(&hashes, &keys, key_nulls(&[probe]).as_ref(), |row| exists.push(row)).unwrap();
        assert_eq!(exists, found.iter().map(|(row, _)| *row).collect::<Vec<_>>());
        // Values are one integer key's: a composite key's index refuses them.
        assert!(KeyIndex::build(chunks(true, true), BuildKeys::Pairs(vec![]), false).is_err());
    }

    #[test]
    fn grouped_indexes_need_the_rows() {
        let chunk = ChunkHashes::new(vec![1, 2], None, false).unwrap();
        assert!(KeyIndex::build(vec![chunk], BuildKeys::Exact, false).is_err());
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
