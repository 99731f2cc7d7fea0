//! Group keys → dense group ids (0, 1, ... in first-seen order), one id vector per batch.
//!
//! Arrow's row format handles any mix of key types, but encoding every key and hashing its bytes
//! dominated aggregations whose key is one integer or a few short strings (benches/RESULTS.md,
//! observations 3 and 4). So the common shapes get their own tables:
//! - one key column of a primitive type (integers, dates, timestamps, decimals), booleans or text
//!   is interned directly on its native values or string bytes ([`ColumnInterner`]); integer-like
//!   keys in a small or densely used range skip hashing altogether (`Direct`: the id is looked up
//!   at `key - min`), and so do one-byte text values (looked up by their byte);
//! - two to four such columns are each interned on their own (small ids), and the ids are packed
//!   into one `u128` that is interned like a primitive value; while the columns' ids fit a few
//!   bits each, the ids side by side index the group directly (`PackedDirect`). Merging such
//!   tables re-interns each column's few distinct values, not every group's key;
//! - anything else (floats, more than four columns, nested types) keeps the row format.
//!
//! NULL is a value like any other here: it gets its own group. Merging another worker's table
//! re-interns its key columns, so each table may hash with its own seed.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, StringArray, UInt64Array};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::take;
use arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal128Type, Int16Type, Int32Type,
    Int64Type, Int8Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::hash_table::HashTable;
use hashbrown::DefaultHashBuilder;

use crate::error::{EngineError, Result};

/// Most key columns packed into one `u128` (32 bits of id each).
const MAX_PACKED_COLUMNS: usize = 4;

/// Most distinct values of a text key column looked up by comparing with each instead of hashing.
const SCAN_LIMIT: usize = 8;

/// The group table of one aggregation (one per worker, plus the global one).
pub struct GroupKeys {
    kind: Kind,
}

enum Kind {
    /// One key column of a specialised type: its value ids are the group ids.
    Single(Box<dyn ColumnInterner>),
    /// Two to four specialised columns: per-column ids packed into one `u128` per group.
    Packed(PackedKeys),
    /// Any other key: the row format.
    Rows(RowKeys),
}

impl GroupKeys {
    /// An empty table for keys of `types` (at least one).
    pub fn try_new(types: &[DataType]) -> Result<GroupKeys> {
        let specialised: Option<Vec<_>> = types.iter().map(column_interner).collect();
        let kind = match specialised {
            Some(mut columns) if columns.len() == 1 => Kind::Single(columns.remove(0)),
            Some(columns) if columns.len() <= MAX_PACKED_COLUMNS => Kind::Packed(PackedKeys::new(columns)),
            _ => Kind::Rows(RowKeys::try_new(types)?),
        };
        Ok(GroupKeys { kind })
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Single(column) => column.len(),
            Kind::Packed(packed) => packed.groups.values.len(),
            Kind::Rows(rows) => rows.rows.num_rows(),
        }
    }

    /// Whether no group exists yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the group id of each row of the key `columns` to `out`, adding unseen keys.
    pub fn intern(&mut self, columns: &[ArrayRef], out: &mut Vec<usize>) -> Result<()> {
        match &mut self.kind {
            Kind::Single(column) => column.intern(&columns[0], out),
            Kind::Packed(packed) => packed.intern(columns, out),
            Kind::Rows(rows) => rows.intern(columns, out),
        }
    }

    /// The key columns, one value per group in id order.
    pub fn emit(&self) -> Result<Vec<ArrayRef>> {
        match &self.kind {
            Kind::Single(column) => Ok(vec![column.values(None)?]),
            Kind::Packed(packed) => packed.emit(),
            Kind::Rows(rows) => Ok(rows.converter.convert_rows(rows.rows.iter())?),
        }
    }

    /// Adds `other`'s groups, appending each one's id here to `mapping` (in `other`'s id order).
    pub fn merge(&mut self, other: &GroupKeys, mapping: &mut Vec<usize>) -> Result<()> {
        if let (Kind::Packed(packed), Kind::Packed(theirs)) = (&mut self.kind, &other.kind) {
            if packed.columns.len() == theirs.columns.len() {
                return packed.merge(theirs, mapping);
            }
        }
        let columns = other.emit()?;
        self.intern(&columns, mapping)
    }

    /// Bytes held by keys and hash tables.
    pub fn memory_size(&self) -> usize {
        match &self.kind {
            Kind::Single(column) => column.memory_size(),
            Kind::Packed(packed) => packed.memory_size(),
            Kind::Rows(rows) => rows.memory_size(),
        }
    }
}

/// Two to four key columns, each interned on its own; a group is its columns' value ids packed
/// into one `u128` (32 bits each).
struct PackedKeys {
    columns: Vec<Box<dyn ColumnInterner>>,
    /// Packed ids of each group. While `direct` is on, its hash table indexes none of them.
    groups: NativeTable<u128>,
    /// Per column: the value id of each row of the current batch.
    scratch: Vec<Vec<usize>>,
    direct: PackedDirect,
}

/// Most slots of a direct packed table whatever the number of groups (256 KiB of `u32`).
const PACKED_DIRECT_LIMIT: usize = 1 << 16;

/// Most slots of a direct packed table at all (16 MiB of `u32`).
const PACKED_DIRECT_MAX: usize = 1 << 22;

/// Group ids indexed by the columns' value ids side by side, `bits[j]` bits for column `j`
/// (0: empty slot, else id + 1). Keys such as q16's brand × type × size (25 × 150 × 8 values,
/// 18k groups) then cost no hash and no probe; so do few combinations over many rows (q01's
/// flags, 3 × 2), which a per-batch memo of combinations used to serve. It is used while the slots stay within [`PACKED_DIRECT_LIMIT`] or
/// [`DIRECT_DENSITY`] per group, then turned off for good (the hash table indexes the groups).
enum PackedDirect {
    On { bits: Vec<u32>, slots: Vec<u32> },
    Off,
}

/// Bits that hold the ids `0..len`.
fn bits_for(len: usize) -> u32 {
    if len <= 1 {
        0
    } else {
        usize::BITS - (len - 1).leading_zeros()
    }
}

impl PackedKeys {
    fn new(columns: Vec<Box<dyn ColumnInterner>>) -> PackedKeys {
        let n = columns.len();
        PackedKeys {
            columns,
            groups: NativeTable::default(),
            scratch: vec![Vec::new(); n],
            direct: PackedDirect::On { bits: vec![0; n], slots: vec![0; 1] },
        }
    }

    fn intern(&mut self, columns: &[ArrayRef], out: &mut Vec<usize>) -> Result<()> {
        for ((interner, column), ids) in self.columns.iter_mut().zip(columns).zip(self.scratch.iter_mut()) {
            ids.clear();
            interner.intern(column, ids)?;
            if interner.len() > u32::MAX as usize {
                return Err(EngineError::execution("GROUP BY: more than 2^32 distinct values in a key column"));
            }
        }
        let rows = columns.first().map_or(0, |c| c.len());
        self.assign(rows, out);
        Ok(())
    }

    /// Adds `other`'s groups: each column's distinct values are interned here (a few per
    /// column, not one per group), then the groups are looked up by their re-mapped ids.
    fn merge(&mut self, other: &PackedKeys, mapping: &mut Vec<usize>) -> Result<()> {
        let mut remap = Vec::new();
        for (j, (interner, theirs)) in self.columns.iter_mut().zip(&other.columns).enumerate() {
            remap.clear();
            interner.intern(&theirs.values(None)?, &mut remap)?;
            if interner.len() > u32::MAX as usize {
                return Err(EngineError::execution("GROUP BY: more than 2^32 distinct values in a key column"));
            }
            let ids = &mut self.scratch[j];
            ids.clear();
            ids.extend(other.groups.values.iter().map(|&p| remap[(p >> (32 * j)) as u32 as usize]));
        }
        self.assign(other.groups.values.len(), mapping);
        Ok(())
    }

    /// Appends the group id of each of the `rows` whose value ids are in `scratch` to `out`.
    fn assign(&mut self, rows: usize, out: &mut Vec<usize>) {
        let PackedKeys { columns, groups, scratch, direct } = self;
        let pack =
            |row: usize| scratch.iter().enumerate().fold(0u128, |acc, (j, ids)| acc | ((ids[row] as u128) << (32 * j)));
        out.reserve(rows);
        if let PackedDirect::On { bits, slots } = direct {
            let wanted: Vec<u32> = columns.iter().zip(bits.iter()).map(|(c, &b)| bits_for(c.len()).max(b)).collect();
            let total: u32 = wanted.iter().sum();
            let allowed = PACKED_DIRECT_LIMIT.max(DIRECT_DENSITY as usize * (groups.values.len() + rows));
            if total > 30 || (1usize << total) > allowed.min(PACKED_DIRECT_MAX) {
                *direct = PackedDirect::Off;
                groups.index_values(None);
            } else {
                if wanted != *bits {
                    // A column outgrew its bits: lay the groups out again (at most once a batch,
                    // and a few dozen times in all as the bits only grow).
                    *bits = wanted;
                    *slots = vec![0u32; 1 << total];
                    for (id, &p) in groups.values.iter().enumerate() {
                        let (mut slot, mut shift) = (0usize, 0u32);
                        for (j, &b) in bits.iter().enumerate() {
                            slot |= ((p >> (32 * j)) as u32 as usize) << shift;
                            shift += b;
                        }
                        slots[slot] = id as u32 + 1;
                    }
                }
                // Each row's slot, built in `out` a column at a time, then its group id.
                let first = out.len();
                out.extend_from_slice(&scratch[0][..rows]);
                let mut shift = bits[0];
                for (ids, &b) in scratch.iter().zip(bits.iter()).skip(1) {
                    for (slot, &id) in out[first..].iter_mut().zip(ids) {
                        *slot |= id << shift;
                    }
                    shift += b;
                }
                for (row, slot) in out[first..].iter_mut().enumerate() {
                    let group = &mut slots[*slot];
                    if *group == 0 {
                        groups.values.push(pack(row));
                        // At most `PACKED_DIRECT_MAX` groups: the id fits.
                        *group = groups.values.len() as u32;
                    }
                    *slot = *group as usize - 1;
                }
                return;
            }
        }
        out.extend((0..rows).map(|row| groups.find_or_insert(pack(row))));
    }

    fn emit(&self) -> Result<Vec<ArrayRef>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(j, column)| {
                let ids: Vec<u64> = self.groups.values.iter().map(|p| (p >> (32 * j)) as u32 as u64).collect();
                column.values(Some(&UInt64Array::from(ids)))
            })
            .collect()
    }

    fn memory_size(&self) -> usize {
        let direct = match &self.direct {
            PackedDirect::On { slots, .. } => slots.capacity() * std::mem::size_of::<u32>(),
            PackedDirect::Off => 0,
        };
        direct
            + self.columns.iter().map(|c| c.memory_size()).sum::<usize>()
            + self.groups.memory_size()
            + self.scratch.iter().map(|s| s.capacity() * std::mem::size_of::<usize>()).sum::<usize>()
    }
}

/// Distinct values of one key column → dense ids.
trait ColumnInterner: Send {
    /// Appends the id of each value of `column` to `out`, adding unseen values.
    fn intern(&mut self, column: &ArrayRef, out: &mut Vec<usize>) -> Result<()>;
    /// The number of distinct values (NULL included).
    fn len(&self) -> usize;
    /// The values in id order, or those at `ids`.
    fn values(&self, ids: Option<&UInt64Array>) -> Result<ArrayRef>;
    fn memory_size(&self) -> usize;
}

/// The specialised interner for a key column of type `t`, if there is one. Floats are left to
/// the row format, which already groups them by their total order.
fn column_interner(t: &DataType) -> Option<Box<dyn ColumnInterner>> {
    fn primitive<T: ArrowPrimitiveType>(t: &DataType) -> Option<Box<dyn ColumnInterner>>
    where
        T::Native: Hash + Eq,
    {
        Some(Box::new(PrimitiveInterner::<T>::new(t.clone())))
    }
    match t {
        DataType::Int8 => primitive::<Int8Type>(t),
        DataType::Int16 => primitive::<Int16Type>(t),
        DataType::Int32 => primitive::<Int32Type>(t),
        DataType::Int64 => primitive::<Int64Type>(t),
        DataType::UInt8 => primitive::<UInt8Type>(t),
        DataType::UInt16 => primitive::<UInt16Type>(t),
        DataType::UInt32 => primitive::<UInt32Type>(t),
        DataType::UInt64 => primitive::<UInt64Type>(t),
        DataType::Date32 => primitive::<Date32Type>(t),
        DataType::Date64 => primitive::<Date64Type>(t),
        DataType::Decimal128(_, _) => primitive::<Decimal128Type>(t),
        DataType::Timestamp(TimeUnit::Second, _) => primitive::<TimestampSecondType>(t),
        DataType::Timestamp(TimeUnit::Millisecond, _) => primitive::<TimestampMillisecondType>(t),
        DataType::Timestamp(TimeUnit::Microsecond, _) => primitive::<TimestampMicrosecondType>(t),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => primitive::<TimestampNanosecondType>(t),
        DataType::Boolean => Some(Box::new(BooleanInterner::default())),
        DataType::Utf8 => Some(Box::new(TextInterner::default())),
        _ => None,
    }
}

/// Byte equality without a `memcmp` call for short keys: group keys such as flags and codes are
/// a few bytes, where the call costs more than the comparison (q01: 11% of its CPU in `memcmp`).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && if a.len() <= 16 { a.iter().zip(b).all(|(x, y)| x == y) } else { a == b }
}

/// Distinct native values → ids, hashed on the values themselves.
///
/// The table holds each key next to its id: comparing against `values[id]` instead cost a second
/// cache miss per probe once the groups outgrew the cache (q17: 200k groups, q20: 900k).
struct NativeTable<K> {
    /// Value of id `i` at `i`.
    values: Vec<K>,
    table: HashTable<(K, usize)>,
    hasher: DefaultHashBuilder,
}

impl<K> Default for NativeTable<K> {
    fn default() -> Self {
        NativeTable { values: Vec::new(), table: HashTable::new(), hasher: DefaultHashBuilder::default() }
    }
}

impl<K: Copy + Hash + Eq> NativeTable<K> {
    #[inline]
    fn find_or_insert(&mut self, key: K) -> usize {
        let hash = self.hasher.hash_one(key);
        if let Some(&(_, id)) = self.table.find(hash, |&(k, _)| k == key) {
            return id;
        }
        let id = self.values.len();
        self.values.push(key);
        let hasher = &self.hasher;
        self.table.insert_unique(hash, (key, id), |&(k, _)| hasher.hash_one(k));
        id
    }

    /// Indexes every value but the one at `skip` (a placeholder): the values were pushed
    /// without being indexed (see [`PrimitiveInterner::direct`]).
    fn index_values(&mut self, skip: Option<usize>) {
        let hasher = &self.hasher;
        self.table.clear();
        self.table.reserve(self.values.len(), |&(k, _)| hasher.hash_one(k));
        for (id, &key) in self.values.iter().enumerate() {
            if skip != Some(id) {
                self.table.insert_unique(hasher.hash_one(key), (key, id), |&(k, _)| hasher.hash_one(k));
            }
        }
    }

    fn memory_size(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<K>()
            + self.table.capacity() * (std::mem::size_of::<(K, usize)>() + 1)
    }
}

/// A primitive key column (integers, dates, timestamps, decimals) interned on native values.
struct PrimitiveInterner<T: ArrowPrimitiveType> {
    data_type: DataType,
    /// Ids of the non-NULL values; the NULL group's slot holds a placeholder value.
    table: NativeTable<T::Native>,
    null_id: Option<usize>,
    /// While every key seen lies in a small or densely used range: ids indexed by key, no
    /// hashing. Meanwhile `table` holds the values but indexes none of them.
    direct: Direct,
}

/// A key range (max - min + 1) this wide is always looked up by direct indexing: 256 KiB of
/// slots per table at most.
const DIRECT_LIMIT: i128 = 1 << 16;

/// Wider ranges are indexed directly while they span at most this many keys per group: 4-byte
/// slots then cost about what the hash table would (16-byte entries at 7/8 load, doubling).
/// TPC-H order keys use 1 of every 4 values: q18's 1.5M groups over 6M keys need no hashing.
const DIRECT_DENSITY: i128 = 8;

/// Group ids of keys in `base..base + slots.len()`, indexed by `key - base` (0: not seen, else
/// id + 1). Keys such as store or region numbers span a few hundred values: indexing skips the
/// hash and the probe (star s5 spent 12 ns a row in the aggregation sink, mostly hashing; q18 27%
/// of its CPU in the hash table). A batch whose keys would widen the range past what is allowed
/// turns it off for good: the hash table then indexes the values seen so far.
enum Direct {
    /// No key seen yet.
    Empty,
    On {
        base: i64,
        slots: Vec<u32>,
    },
    Off,
}

impl Direct {
    /// Makes the range cover `lo..=hi` if it stays within `allowed` keys; whether it does (if
    /// not, the caller turns direct indexing off, see [`PrimitiveInterner::leave_direct`]).
    fn cover(&mut self, lo: i64, hi: i64, allowed: i128) -> bool {
        let (base, len) = match self {
            Direct::Off => return false,
            Direct::Empty => (lo, 0),
            Direct::On { base, slots } => (*base, slots.len()),
        };
        // In i128: a range of i64 keys may span more than i64 holds.
        let new_end = (base as i128 + len as i128).max(hi as i128 + 1);
        let mut new_base = (base as i128).min(lo as i128);
        if new_end - new_base > allowed {
            return false;
        }
        if new_base < base as i128 {
            // Growing downwards moves every slot: leave room below, as `Vec` does above, so
            // descending keys cost amortised O(1) a key rather than O(range) a batch.
            let room = (base as i128 - len as i128).max(new_end - allowed).max(i64::MIN as i128);
            new_base = new_base.min(room);
        }
        let (new_base, new_len) = (new_base as i64, (new_end - new_base) as usize);
        match self {
            Direct::On { base, slots } if *base == new_base => slots.resize(new_len, 0),
            _ => {
                let mut slots = vec![0u32; new_len];
                if let Direct::On { base: old_base, slots: old } = self {
                    let at = (*old_base as i128 - new_base as i128) as usize;
                    slots[at..at + old.len()].copy_from_slice(old);
                }
                *self = Direct::On { base: new_base, slots };
            }
        }
        true
    }

    fn memory_size(&self) -> usize {
        match self {
            Direct::On { slots, .. } => slots.capacity() * std::mem::size_of::<u32>(),
            _ => 0,
        }
    }
}

impl<T: ArrowPrimitiveType> PrimitiveInterner<T>
where
    T::Native: Hash + Eq,
{
    fn new(data_type: DataType) -> Self {
        PrimitiveInterner { data_type, table: NativeTable::default(), null_id: None, direct: Direct::Empty }
    }

    /// The smallest and largest valid key of `column` as `i64`, if every one converts and
    /// there is one.
    fn key_range(column: &PrimitiveArray<T>) -> Option<(i64, i64)> {
        // Min and max on the native values (a loop that vectorises), converted once: every key
        // fits `i64` when both ends do.
        let widen =
            |(lo, hi): (T::Native, T::Native), v: T::Native| (if v < lo { v } else { lo }, if v > hi { v } else { hi });
        let values = column.values();
        let (lo, hi) = match column.nulls().filter(|n| n.null_count() > 0) {
            None => {
                let first = *values.first()?;
                values.iter().fold((first, first), |range, &v| widen(range, v))
            }
            Some(nulls) => {
                let mut valid = nulls.valid_indices().map(|i| values[i]);
                let first = valid.next()?;
                valid.fold((first, first), widen)
            }
        };
        Some((lo.to_i64()?, hi.to_i64()?))
    }

    /// Ids of `column`'s keys by direct indexing, if its keys fit a range allowed for direct
    /// indexing (see [`Direct`]); else turns it off and leaves `out` alone.
    fn intern_direct(&mut self, column: &PrimitiveArray<T>, out: &mut Vec<usize>) -> bool {
        let rows = column.len();
        match Self::key_range(column) {
            // Ids must fit the 32-bit slots.
            Some((lo, hi)) if self.len() + rows < u32::MAX as usize => {
                let allowed = DIRECT_LIMIT.max(DIRECT_DENSITY * (self.len() + rows) as i128);
                if !self.direct.cover(lo, hi, allowed) {
                    self.leave_direct();
                    return false;
                }
            }
            // All NULL (or empty): nothing to look up directly, the range stays as it is.
            None if column.null_count() == rows => {
                if matches!(self.direct, Direct::Empty) {
                    return false;
                }
            }
            // A key beyond `i64` (large unsigned or decimal values), or too many groups.
            _ => {
                self.leave_direct();
                return false;
            }
        }
        let Direct::On { base, slots } = &mut self.direct else { return false };
        // Locals, not captures: the loops keep the base and the slots in registers.
        let (base, slots, table) = (*base, slots.as_mut_slice(), &mut self.table);
        #[inline]
        fn id_of<K: ArrowNativeType>(slots: &mut [u32], base: i64, values: &mut Vec<K>, v: K) -> usize {
            // In range by `cover`: the conversion cannot fail, the index is in bounds.
            let slot = &mut slots[v.to_i64().unwrap_or(base).wrapping_sub(base) as usize];
            if *slot == 0 {
                values.push(v);
                *slot = values.len() as u32;
            }
            *slot as usize - 1
        }
        let values = column.values();
        match column.nulls().filter(|n| n.null_count() > 0) {
            None => {
                let first = out.len();
                out.resize(first + rows, 0);
                for (id, &v) in out[first..].iter_mut().zip(values.iter()) {
                    *id = id_of(slots, base, &mut table.values, v);
                }
            }
            Some(nulls) => {
                for (i, &v) in values.iter().enumerate() {
                    let id = if nulls.is_valid(i) {
                        id_of(slots, base, &mut table.values, v)
                    } else {
                        *self.null_id.get_or_insert_with(|| {
                            table.values.push(T::Native::default());
                            table.values.len() - 1
                        })
                    };
                    out.push(id);
                }
            }
        }
        true
    }

    /// Turns direct indexing off for good, indexing the values seen so far in the hash table.
    fn leave_direct(&mut self) {
        if !matches!(self.direct, Direct::Off) {
            self.direct = Direct::Off;
            self.table.index_values(self.null_id);
        }
    }

    fn null_id(&mut self) -> usize {
        let table = &mut self.table;
        *self.null_id.get_or_insert_with(|| {
            table.values.push(T::Native::default());
            table.values.len() - 1
        })
    }
}

impl<T: ArrowPrimitiveType> ColumnInterner for PrimitiveInterner<T>
where
    T::Native: Hash + Eq,
{
    fn intern(&mut self, column: &ArrayRef, out: &mut Vec<usize>) -> Result<()> {
        let column = column.as_primitive_opt::<T>().ok_or_else(|| wrong_key(&self.data_type, column))?;
        out.reserve(column.len());
        if !matches!(self.direct, Direct::Off) && self.intern_direct(column, out) {
            return Ok(());
        }
        let values = column.values();
        // Runs of one key (sorted or clustered input) skip the hash table.
        let mut last: Option<(T::Native, usize)> = None;
        let mut lookup = |table: &mut NativeTable<T::Native>, v: T::Native| match last {
            Some((k, id)) if k == v => id,
            _ => {
                let id = table.find_or_insert(v);
                last = Some((v, id));
                id
            }
        };
        match column.nulls().filter(|n| n.null_count() > 0) {
            None => out.extend(values.iter().map(|&v| lookup(&mut self.table, v))),
            Some(nulls) => {
                for (i, &v) in values.iter().enumerate() {
                    let id = if nulls.is_valid(i) { lookup(&mut self.table, v) } else { self.null_id() };
                    out.push(id);
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.table.values.len()
    }

    fn values(&self, ids: Option<&UInt64Array>) -> Result<ArrayRef> {
        let nulls = self.null_id.map(|null| NullBuffer::from_iter((0..self.len()).map(|i| i != null)));
        let all = PrimitiveArray::<T>::new(ScalarBuffer::from(self.table.values.clone()), nulls)
            .with_data_type(self.data_type.clone());
        select(Arc::new(all), ids)
    }

    fn memory_size(&self) -> usize {
        self.table.memory_size() + self.direct.memory_size()
    }
}

/// Boolean keys: at most three groups (false, true, NULL).
#[derive(Default)]
struct BooleanInterner {
    /// Ids of false, true and NULL once seen.
    ids: [Option<usize>; 3],
    values: Vec<Option<bool>>,
}

impl BooleanInterner {
    fn id(&mut self, value: Option<bool>) -> usize {
        let slot = match value {
            Some(false) => 0,
            Some(true) => 1,
            None => 2,
        };
        let values = &mut self.values;
        *self.ids[slot].get_or_insert_with(|| {
            values.push(value);
            values.len() - 1
        })
    }
}

impl ColumnInterner for BooleanInterner {
    fn intern(&mut self, column: &ArrayRef, out: &mut Vec<usize>) -> Result<()> {
        let column = column.as_boolean_opt().ok_or_else(|| wrong_key(&DataType::Boolean, column))?;
        out.reserve(column.len());
        for value in column.iter() {
            out.push(self.id(value));
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn values(&self, ids: Option<&UInt64Array>) -> Result<ArrayRef> {
        select(Arc::new(BooleanArray::from(self.values.clone())), ids)
    }

    fn memory_size(&self) -> usize {
        self.values.capacity()
    }
}

/// Text keys interned on their bytes, kept end to end in one buffer.
#[derive(Default)]
struct TextInterner {
    /// Id + 1 of each one-byte value seen (0: not seen). Flags and codes such as q01's
    /// `l_returnflag` are one byte: indexing by it skips comparing and hashing (the interner
    /// took 15% of q01 with a run check and a scan of the few values seen).
    byte_ids: Option<Box<[u32; 256]>>,
    bytes: Vec<u8>,
    /// Value `i` is `bytes[ends[i - 1]..ends[i]]` (from 0 for `i = 0`); NULL's slot is empty.
    ends: Vec<usize>,
    /// (hash, id) of the non-NULL values.
    table: HashTable<(u64, usize)>,
    hasher: DefaultHashBuilder,
    null_id: Option<usize>,
}

impl TextInterner {
    fn value(&self, id: usize) -> &[u8] {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.bytes[start..self.ends[id]]
    }

    fn find_or_insert(&mut self, value: &[u8]) -> usize {
        let hash = self.hasher.hash_one(value);
        let found = self.table.find(hash, |&(h, id)| h == hash && self.value(id) == value);
        if let Some(&(_, id)) = found {
            return id;
        }
        self.push(value);
        let id = self.ends.len() - 1;
        self.table.insert_unique(hash, (hash, id), |&(h, _)| h);
        id
    }

    /// The id of non-NULL `value` by comparing it with every value seen (few of them).
    fn scan(&self, value: &[u8]) -> Option<usize> {
        let mut start = 0;
        for (id, &end) in self.ends.iter().enumerate() {
            // NULL's slot is empty like '' but is not its value.
            if same_bytes(&self.bytes[start..end], value) && self.null_id != Some(id) {
                return Some(id);
            }
            start = end;
        }
        None
    }

    fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len());
    }

    /// The id of one-byte `value`, adding it if unseen.
    #[inline]
    fn byte_id(&mut self, value: u8) -> usize {
        let known = self.byte_ids.as_ref().map_or(0, |ids| ids[value as usize]);
        if known != 0 {
            return known as usize - 1;
        }
        let id = self.find_or_insert(&[value]);
        // Fewer than 2^32 - 1 ids fit a slot; beyond that the hash table alone answers.
        if let Ok(slot) = u32::try_from(id + 1) {
            self.byte_ids.get_or_insert_with(|| Box::new([0; 256]))[value as usize] = slot;
        }
        id
    }
}

impl ColumnInterner for TextInterner {
    fn intern(&mut self, column: &ArrayRef, out: &mut Vec<usize>) -> Result<()> {
        let column = column.as_string_opt::<i32>().ok_or_else(|| wrong_key(&DataType::Utf8, column))?;
        out.reserve(column.len());
        let offsets = column.value_offsets();
        let data = column.value_data();
        let nulls = column.nulls().filter(|n| n.null_count() > 0);
        let first = offsets.first().map_or(0, |&o| o as usize);
        // An AND over all offsets rather than `all`: no early exit, so the check vectorises.
        let one_byte_each = offsets.iter().enumerate().fold(true, |ok, (i, &o)| ok & (o as usize == first + i));
        if nulls.is_none() && one_byte_each {
            // Every value is one byte: its id is one look-up in a local copy of the byte table.
            let mut ids = self.byte_ids.take().unwrap_or_else(|| Box::new([0; 256]));
            let start = out.len();
            out.resize(start + column.len(), 0);
            for (id, &b) in out[start..].iter_mut().zip(&data[first..first + column.len()]) {
                let known = ids[b as usize];
                *id = if known != 0 {
                    known as usize - 1
                } else {
                    let new = self.find_or_insert(&[b]);
                    // Fewer than 2^32 - 1 ids fit a slot; beyond that the hash table answers.
                    ids[b as usize] = u32::try_from(new + 1).unwrap_or(0);
                    new
                };
            }
            self.byte_ids = Some(ids);
            return Ok(());
        }
        let mut last: Option<(usize, usize, usize)> = None;
        for i in 0..column.len() {
            if nulls.is_some_and(|n| n.is_null(i)) {
                let id = match self.null_id {
                    Some(id) => id,
                    None => {
                        self.push(&[]);
                        *self.null_id.insert(self.ends.len() - 1)
                    }
                };
                out.push(id);
                continue;
            }
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            if end - start == 1 {
                let id = self.byte_id(data[start]);
                out.push(id);
                continue;
            }
            let value = &data[start..end];
            // Runs of one key (sorted or clustered input) skip hashing; so do columns with few
            // distinct values so far (q01's flags), whose values are compared one by one.
            let id = match last {
                Some((s, e, id)) if same_bytes(&data[s..e], value) => id,
                _ if self.ends.len() <= SCAN_LIMIT => match self.scan(value) {
                    Some(id) => id,
                    None => self.find_or_insert(value),
                },
                _ => self.find_or_insert(value),
            };
            last = Some((start, end, id));
            out.push(id);
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn values(&self, ids: Option<&UInt64Array>) -> Result<ArrayRef> {
        let too_large = || EngineError::execution("GROUP BY: text keys exceed 2 GiB");
        let mut offsets = Vec::with_capacity(self.ends.len() + 1);
        offsets.push(0i32);
        for &end in &self.ends {
            offsets.push(i32::try_from(end).map_err(|_| too_large())?);
        }
        let nulls = self.null_id.map(|null| NullBuffer::from_iter((0..self.len()).map(|i| i != null)));
        let all = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from(self.bytes.as_slice()),
            nulls,
        )?;
        select(Arc::new(all), ids)
    }

    fn memory_size(&self) -> usize {
        self.byte_ids.as_ref().map_or(0, |_| std::mem::size_of::<[u32; 256]>())
            + self.bytes.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.table.capacity() * (std::mem::size_of::<(u64, usize)>() + 1)
    }
}

/// The general case: keys in Arrow's row format, hashed as bytes a batch at a time.
struct RowKeys {
    converter: RowConverter,
    /// Key of group `i` at row `i`.
    rows: Rows,
    /// (hash, group id); equal hashes are told apart by comparing key bytes.
    table: HashTable<(u64, usize)>,
    hasher: DefaultHashBuilder,
    /// Scratch: the hash of each row of the current batch.
    hashes: Vec<u64>,
}

impl RowKeys {
    fn try_new(types: &[DataType]) -> Result<RowKeys> {
        let converter = RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?;
        let rows = converter.empty_rows(0, 0);
        Ok(RowKeys {
            converter,
            rows,
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            hashes: Vec::new(),
        })
    }

    fn intern(&mut self, columns: &[ArrayRef], out: &mut Vec<usize>) -> Result<()> {
        let keys = self.converter.convert_columns(columns)?;
        self.hashes.clear();
        self.hashes.extend(keys.iter().map(|row| self.hasher.hash_one(row.data())));
        out.reserve(keys.num_rows());
        for (row, &hash) in keys.iter().zip(&self.hashes) {
            let bytes = row.data();
            let rows = &mut self.rows;
            let found = self.table.find(hash, |&(h, id)| h == hash && rows.row(id).data() == bytes);
            let id = match found {
                Some(&(_, id)) => id,
                None => {
                    let id = rows.num_rows();
                    rows.push(row);
                    self.table.insert_unique(hash, (hash, id), |&(h, _)| h);
                    id
                }
            };
            out.push(id);
        }
        Ok(())
    }

    fn memory_size(&self) -> usize {
        self.rows.size()
            + self.table.capacity() * (std::mem::size_of::<(u64, usize)>() + 1)
            + self.hashes.capacity() * std::mem::size_of::<u64>()
    }
}

/// `all`, or its values at `ids`.
fn select(all: ArrayRef, ids: Option<&UInt64Array>) -> Result<ArrayRef> {
    match ids {
        None => Ok(all),
        Some(ids) => Ok(take(all.as_ref(), ids, None)?),
    }
}

fn wrong_key(expected: &DataType, found: &ArrayRef) -> EngineError {
    EngineError::execution(format!("GROUP BY key: expected {expected}, found {}", found.data_type()))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array};

    use super::*;

    fn groups_of(keys: &mut GroupKeys, columns: Vec<ArrayRef>) -> Vec<usize> {
        let mut out = Vec::new();
        keys.intern(&columns, &mut out).unwrap();
        out
    }

    /// Each group's key values as text, in id order.
    fn emitted(keys: &GroupKeys) -> Vec<String> {
        let columns = keys.emit().unwrap();
        let formatters: Vec<_> = columns
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &Default::default()).unwrap())
            .collect();
        (0..keys.len())
            .map(|row| {
                let values: Vec<String> = columns
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| if c.is_null(row) { "NULL".into() } else { f.value(row).to_string() })
                    .collect();
                values.join("|")
            })
            .collect()
    }

    fn kind_name(keys: &GroupKeys) -> &'static str {
        match keys.kind {
            Kind::Single(_) => "single",
            Kind::Packed(_) => "packed",
            Kind::Rows(_) => "rows",
        }
    }

    #[test]
    fn each_key_shape_picks_its_table() {
        let kind = |types: &[DataType]| kind_name(&GroupKeys::try_new(types).unwrap());
        assert_eq!(kind(&[DataType::Int32]), "single");
        assert_eq!(kind(&[DataType::Decimal128(15, 2)]), "single");
        assert_eq!(kind(&[DataType::Utf8]), "single");
        assert_eq!(kind(&[DataType::Utf8, DataType::Utf8]), "packed");
        assert_eq!(kind(&[DataType::Float64]), "rows");
        assert_eq!(kind(&vec![DataType::Int32; 5]), "rows");
    }

    #[test]
    fn integer_keys_with_nulls_and_negatives() {
        let mut keys = GroupKeys::try_new(&[DataType::Int32]).unwrap();
        let batch: ArrayRef = Arc::new(Int32Array::from(vec![Some(-1), None, Some(0), Some(-1), None, Some(i32::MIN)]));
        assert_eq!(groups_of(&mut keys, vec![batch]), vec![0, 1, 2, 0, 1, 3]);
        let batch: ArrayRef = Arc::new(Int32Array::from(vec![Some(0), Some(7), None]));
        assert_eq!(groups_of(&mut keys, vec![batch]), vec![2, 4, 1]);
        assert_eq!(emitted(&keys), ["-1", "NULL", "0", "-2147483648", "7"]);
    }

    /// Small integer ranges are indexed directly; keys leaving the range mid-query (or beyond
    /// `i64`) fall back to the hash table with the same ids for the keys seen before.
    #[test]
    fn direct_range_keys_and_leaving_the_range() {
        let mut keys = GroupKeys::try_new(&[DataType::Int64]).unwrap();
        let int64 = |v: Vec<Option<i64>>| -> Vec<ArrayRef> { vec![Arc::new(Int64Array::from(v))] };
        assert_eq!(groups_of(&mut keys, int64(vec![Some(10), Some(12), None, Some(10)])), vec![0, 1, 2, 0]);
        assert!(matches!(&keys.kind, Kind::Single(_)));
        // Widening downwards moves the base; the earlier ids stay.
        assert_eq!(groups_of(&mut keys, int64(vec![Some(-5), Some(12), None, None])), vec![3, 1, 2, 2]);
        assert_eq!(groups_of(&mut keys, int64(vec![None, None])), vec![2, 2]);
        // Out of the direct range: the hash table takes over and knows every earlier key.
        let far = vec![Some(1 << 40), Some(10), Some(-5), Some(i64::MIN), Some(i64::MAX), None, Some(12)];
        assert_eq!(groups_of(&mut keys, int64(far)), vec![4, 0, 3, 5, 6, 2, 1]);
        assert_eq!(groups_of(&mut keys, int64(vec![Some(11), Some(10)])), vec![7, 0]);
        let expected = ["10", "12", "NULL", "-5", "1099511627776", "0", "9223372036854775807", "11"];
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected[5] = i64::MIN.to_string();
        assert_eq!(emitted(&keys), expected);

        // A batch spanning the whole i64 range at once, then u64 keys beyond i64.
        let mut keys = GroupKeys::try_new(&[DataType::Int64]).unwrap();
        assert_eq!(groups_of(&mut keys, int64(vec![Some(i64::MAX), Some(i64::MIN), Some(i64::MAX)])), vec![0, 1, 0]);
        let mut keys = GroupKeys::try_new(&[DataType::UInt64]).unwrap();
        let big: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 3, u64::MAX, 3]));
        assert_eq!(groups_of(&mut keys, vec![big]), vec![0, 1, 0, 1]);
        assert_eq!(emitted(&keys), [u64::MAX.to_string(), "3".to_string()]);
        // Decimal keys beyond i64 after a direct start.
        let mut keys = GroupKeys::try_new(&[DataType::Decimal128(38, 0)]).unwrap();
        let small = Decimal128Array::from(vec![1, 2, 1]).with_precision_and_scale(38, 0).unwrap();
        assert_eq!(groups_of(&mut keys, vec![Arc::new(small)]), vec![0, 1, 0]);
        let huge = Decimal128Array::from(vec![i128::MAX / 2, 2, 1]).with_precision_and_scale(38, 0).unwrap();
        assert_eq!(groups_of(&mut keys, vec![Arc::new(huge)]), vec![2, 1, 0]);
    }

    /// A range that keeps growing batch by batch turns direct indexing off once it passes the
    /// limit; ids stay those of first sight throughout.
    #[test]
    fn growing_range_turns_direct_indexing_off() {
        let mut keys = GroupKeys::try_new(&[DataType::Int32]).unwrap();
        let step = 10_000;
        for batch in 0..10 {
            let values: Vec<i32> = (0..step).map(|i| batch * step + i).collect();
            let column: ArrayRef = Arc::new(Int32Array::from(values));
            let ids = groups_of(&mut keys, vec![column]);
            let expected: Vec<usize> = (0..step as usize).map(|i| batch as usize * step as usize + i).collect();
            assert_eq!(ids, expected);
        }
        let again: ArrayRef = Arc::new(Int32Array::from(vec![5, 99_999, 100_000]));
        assert_eq!(groups_of(&mut keys, vec![again]), vec![5, 99_999, 100_000]);
    }

    #[test]
    fn runs_of_one_key_and_typed_output() {
        let mut keys = GroupKeys::try_new(&[DataType::Decimal128(15, 2)]).unwrap();
        let values = Decimal128Array::from(vec![150, 150, 150, -3, -3, 150]).with_precision_and_scale(15, 2).unwrap();
        assert_eq!(groups_of(&mut keys, vec![Arc::new(values)]), vec![0, 0, 0, 1, 1, 0]);
        assert_eq!(keys.emit().unwrap()[0].data_type(), &DataType::Decimal128(15, 2));
        assert_eq!(emitted(&keys), ["1.50", "-0.03"]);
        let mut dates = GroupKeys::try_new(&[DataType::Date32]).unwrap();
        groups_of(&mut dates, vec![Arc::new(Date32Array::from(vec![0, 1, 0]))]);
        assert_eq!(emitted(&dates), ["1970-01-01", "1970-01-02"]);
    }

    #[test]
    fn text_and_boolean_keys() {
        let mut keys = GroupKeys::try_new(&[DataType::Utf8]).unwrap();
        let batch: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some(""), Some("a"), Some("bb"), None]));
        assert_eq!(groups_of(&mut keys, vec![batch]), vec![0, 1, 2, 0, 3, 1]);
        assert_eq!(emitted(&keys), ["a", "NULL", "", "bb"]);
        let mut flags = GroupKeys::try_new(&[DataType::Boolean]).unwrap();
        let batch: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]));
        assert_eq!(groups_of(&mut flags, vec![batch]), vec![0, 1, 2, 0]);
        assert_eq!(emitted(&flags), ["true", "NULL", "false"]);
    }

    #[test]
    fn packed_keys_tell_combinations_apart() {
        let mut keys = GroupKeys::try_new(&[DataType::Utf8, DataType::Int64]).unwrap();
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("a"), Some("b"), None, Some("b"), None]));
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(1), Some(1), Some(1), None]));
        assert_eq!(groups_of(&mut keys, vec![text, ints]), vec![0, 1, 2, 3, 2, 4]);
        assert_eq!(emitted(&keys), ["a|1", "a|2", "b|1", "NULL|1", "NULL|NULL"]);
    }

    #[test]
    fn row_format_keys_for_floats() {
        let mut keys = GroupKeys::try_new(&[DataType::Float64]).unwrap();
        let batch: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), None, Some(1.5), Some(-2.0)]));
        assert_eq!(groups_of(&mut keys, vec![batch]), vec![0, 1, 0, 2]);
        assert_eq!(emitted(&keys), ["1.5", "NULL", "-2.0"]);
    }

    /// First-seen ids of `batches`' keys, the way any table must number them.
    fn reference_ids<K: Clone + Eq + Hash>(batches: &[Vec<K>]) -> Vec<Vec<usize>> {
        let mut seen = std::collections::HashMap::new();
        batches
            .iter()
            .map(|b| {
                b.iter()
                    .map(|k| {
                        let next = seen.len();
                        *seen.entry(k.clone()).or_insert(next)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn direct_range_grows_then_turns_off() {
        let limit = DIRECT_LIMIT;
        let mut direct = Direct::Empty;
        assert!(direct.cover(10, 20, limit));
        assert!(direct.cover(-5, 3, limit), "widening below the base shifts the slots");
        assert!(matches!(&direct, Direct::On { base: -5, slots } if slots.len() == 26));
        // Growing downwards again leaves as much room below as the range had.
        assert!(direct.cover(-6, -6, limit));
        assert!(matches!(&direct, Direct::On { base: -31, slots } if slots.len() == 52));
        assert!(!direct.cover(0, limit as i64, limit), "too wide");
        assert!(matches!(&direct, Direct::On { base: -31, slots } if slots.len() == 52), "unchanged");
        assert!(!Direct::Off.cover(0, 1, limit), "off for good");
        let mut direct = Direct::Empty;
        assert!(!direct.cover(i64::MIN, i64::MAX, limit));
        let mut direct = Direct::Empty;
        assert!(direct.cover(i64::MAX - 3, i64::MAX, limit));
        assert!(!direct.cover(i64::MIN, i64::MIN + 1, limit));
        // The room below never passes i64::MIN.
        let mut direct = Direct::Empty;
        assert!(direct.cover(i64::MIN + 2, i64::MIN + 9, limit));
        assert!(direct.cover(i64::MIN, i64::MIN, limit));
        assert!(matches!(&direct, Direct::On { base: i64::MIN, slots } if slots.len() == 10));
    }

    /// Keys using one value in four (TPC-H order keys) stay directly indexed past
    /// [`DIRECT_LIMIT`]; sparser ones fall back to hashing, keeping every id, NULL's included.
    #[test]
    fn dense_wide_key_ranges_stay_direct() {
        let mut interner = PrimitiveInterner::<Int64Type>::new(DataType::Int64);
        let mut reference = std::collections::HashMap::new();
        let mut check = |interner: &mut PrimitiveInterner<Int64Type>, keys: Vec<Option<i64>>| {
            let mut out = Vec::new();
            interner.intern(&(Arc::new(Int64Array::from(keys.clone())) as ArrayRef), &mut out).unwrap();
            let expected: Vec<usize> = keys
                .iter()
                .map(|k| {
                    let next = reference.len();
                    *reference.entry(*k).or_insert(next)
                })
                .collect();
            assert_eq!(out, expected);
        };
        // Descending batches of 1000 keys, one in four, with a NULL: 400k keys wide in the end.
        for batch in (0..100i64).rev() {
            let keys = (0..1000).map(|i| (i != 500).then_some((batch * 1000 + i) * 4)).collect();
            check(&mut interner, keys);
        }
        assert!(matches!(&interner.direct, Direct::On { slots, .. } if slots.len() >= 400_000));
        assert!(interner.table.table.is_empty(), "the hash table indexes nothing meanwhile");
        // A key a billion away: hashing from here on, every earlier key still found.
        check(&mut interner, vec![Some(4_000_000_000), Some(0), None, Some(399_996), Some(-4)]);
        assert!(matches!(interner.direct, Direct::Off));
        check(&mut interner, vec![Some(-4), Some(4), Some(4_000_000_000), Some(7)]);
        // 99,900 keys and NULL, then 4e9, -4 and 7.
        assert_eq!(interner.len(), 99_901 + 3);
    }

    /// Small integer keys are looked up by direct indexing until a batch leaves the range; the
    /// ids stay the first-seen ids throughout, NULL included, and survive a merge.
    #[test]
    fn small_integer_keys_leaving_the_direct_range_mid_stream() {
        let batches: Vec<Vec<Option<i32>>> = vec![
            vec![Some(5), Some(3), None, Some(5), Some(-2)],
            vec![None, None],
            vec![],
            vec![Some(200), Some(3), Some(-100), None, Some(7)],
            // Leaves the direct range: hashing from here on.
            vec![Some(3), Some(1 << 20), Some(-2), Some(i32::MIN), None],
            vec![Some(5), Some(6), Some(1 << 20)],
        ];
        let expected = reference_ids(&batches);
        let mut keys = GroupKeys::try_new(&[DataType::Int32]).unwrap();
        for (batch, expected) in batches.iter().zip(&expected) {
            let column: ArrayRef = Arc::new(Int32Array::from(batch.clone()));
            assert_eq!(&groups_of(&mut keys, vec![column]), expected, "{batch:?}");
        }
        let emitted_keys = emitted(&keys);
        assert_eq!(emitted_keys[..4], ["5", "3", "NULL", "-2"]);
        assert_eq!(emitted_keys.len(), 10);
        // A fresh direct table merging the hashed one finds every key where the emit put it.
        let mut global = GroupKeys::try_new(&[DataType::Int32]).unwrap();
        groups_of(&mut global, vec![Arc::new(Int32Array::from(vec![Some(6), None]))]);
        let mut mapping = Vec::new();
        global.merge(&keys, &mut mapping).unwrap();
        let merged = emitted(&global);
        for (id, key) in emitted_keys.iter().enumerate() {
            assert_eq!(&merged[mapping[id]], key);
        }
        assert_eq!(global.len(), 10);
        // Unsigned keys beyond i64 turn the direct table off instead of wrapping.
        let mut wide = GroupKeys::try_new(&[DataType::UInt64]).unwrap();
        let big: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 0, u64::MAX, 1]));
        assert_eq!(groups_of(&mut wide, vec![big]), vec![0, 1, 0, 2]);
        let small: ArrayRef = Arc::new(UInt64Array::from(vec![1, 0, 9]));
        assert_eq!(groups_of(&mut wide, vec![small]), vec![2, 1, 3]);
    }

    /// Few combinations of packed keys over many rows (q01's flags) are indexed directly; ids
    /// are the first-seen ids of the combinations, NULLs included, across batches.
    #[test]
    fn packed_keys_with_few_combinations_are_indexed_directly() {
        let mut keys = GroupKeys::try_new(&[DataType::Utf8, DataType::Utf8, DataType::Int32]).unwrap();
        let flags = ["A", "N", "R"];
        let mut batches = Vec::new();
        for batch in 0..3usize {
            let rows: Vec<(Option<&str>, Option<&str>, Option<i32>)> = (0..500usize)
                .map(|i| {
                    let j = i * 7 + batch * 11;
                    let flag = (j % 13 != 0).then_some(flags[j % 3]);
                    let status = if j % 4 == 0 { "F" } else { "OO" };
                    (flag, Some(status), (j % 5 != 0).then_some((j % 2) as i32))
                })
                .collect();
            batches.push(rows);
        }
        let expected = reference_ids(&batches);
        for (rows, expected) in batches.iter().zip(&expected) {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(Int32Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
            ];
            assert_eq!(&groups_of(&mut keys, columns), expected);
        }
        assert_eq!(keys.len(), expected.iter().flatten().max().unwrap() + 1);
        assert!(keys.len() > 12, "most of the 4 x 2 x 3 combinations occur");
    }

    /// One-byte text values take the byte-indexed path; longer ones, '' and NULL do not, and
    /// a batch mixing them numbers every value the same.
    #[test]
    fn one_byte_text_keys() {
        let batches: Vec<Vec<Option<&str>>> = vec![
            vec![Some("N"), Some("R"), Some("N"), Some("A")],
            vec![Some("A"), None, Some(""), Some("NN"), Some("N"), Some("é")],
            vec![Some("R"), Some("R"), Some("x")],
            vec![Some("NN"), Some("x"), None],
        ];
        let expected = reference_ids(&batches);
        let mut keys = GroupKeys::try_new(&[DataType::Utf8]).unwrap();
        for (batch, expected) in batches.iter().zip(&expected) {
            let column: ArrayRef = Arc::new(StringArray::from(batch.clone()));
            assert_eq!(&groups_of(&mut keys, vec![column]), expected, "{batch:?}");
        }
        // A sliced column (offsets not starting at 0) still reads its own bytes.
        let column: ArrayRef = Arc::new(StringArray::from(vec!["q", "x", "N", "z"]).slice(1, 2));
        assert_eq!(groups_of(&mut keys, vec![column]), vec![7, 0]);
        assert_eq!(emitted(&keys), ["N", "R", "A", "NULL", "", "NN", "é", "x"]);
    }

    /// Many groups spread over several workers' tables merge into one set, whatever the table.
    #[test]
    fn many_groups_merge_across_workers() {
        for types in [
            vec![DataType::Int64],
            vec![DataType::Utf8],
            vec![DataType::Int64, DataType::Utf8],
            vec![DataType::Float64],
        ] {
            let column = |values: &[i64], t: &DataType| -> ArrayRef {
                match t {
                    DataType::Int64 => {
                        Arc::new(Int64Array::from_iter(values.iter().map(|v| (v % 97 != 0).then_some(*v))))
                    }
                    DataType::Float64 => Arc::new(Float64Array::from_iter(values.iter().map(|v| Some(*v as f64)))),
                    _ => Arc::new(StringArray::from_iter_values(values.iter().map(|v| format!("k{}", v % 1000)))),
                }
            };
            let mut global = GroupKeys::try_new(&types).unwrap();
            let mut expected = std::collections::HashSet::new();
            for worker in 0..3i64 {
                let mut local = GroupKeys::try_new(&types).unwrap();
                for batch in 0..4i64 {
                    let values: Vec<i64> =
                        (0..2000).map(|i| (i * 7 + batch * 13 + worker * 1000) % 5000 - 2500).collect();
                    let columns: Vec<ArrayRef> = types.iter().map(|t| column(&values, t)).collect();
                    let ids = groups_of(&mut local, columns.clone());
                    // Same key, same id; the emitted key of an id is the row's key.
                    let emitted_local = emitted(&local);
                    let keys_of = |row: usize| {
                        let one: Vec<ArrayRef> = columns.iter().map(|c| c.slice(row, 1)).collect();
                        let mut probe = GroupKeys::try_new(&types).unwrap();
                        groups_of(&mut probe, one);
                        emitted(&probe)[0].clone()
                    };
                    for row in (0..values.len()).step_by(199) {
                        assert_eq!(emitted_local[ids[row]], keys_of(row));
                    }
                    expected.extend(emitted_local);
                }
                let mut mapping = Vec::new();
                let before = emitted(&global);
                global.merge(&local, &mut mapping).unwrap();
                assert_eq!(mapping.len(), local.len());
                let after = emitted(&global);
                assert_eq!(after[..before.len()], before[..]);
                let local_keys = emitted(&local);
                for (local_id, global_id) in mapping.iter().enumerate() {
                    assert_eq!(after[*global_id], local_keys[local_id]);
                }
            }
            let merged: std::collections::HashSet<String> = emitted(&global).into_iter().collect();
            assert_eq!(merged.len(), global.len(), "{types:?}: every key once");
            assert_eq!(merged, expected, "{types:?}");
        }
    }

    fn is_direct(keys: &GroupKeys) -> bool {
        matches!(&keys.kind, Kind::Packed(PackedKeys { direct: PackedDirect::On { .. }, .. }))
    }

    fn packed_columns(rows: &[(Option<i64>, Option<String>)]) -> Vec<ArrayRef> {
        vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>())),
        ]
    }

    /// Packed keys whose columns gain values batch after batch: the direct slots are laid out
    /// again as the bits grow, then turned off once too wide, and ids stay first-seen ids.
    #[test]
    fn packed_keys_grow_the_direct_slots_then_leave_them() {
        let mut batches = Vec::new();
        // Batch b draws from 4^(b+1) integers and 3 × (b+1) strings, NULLs included.
        for b in 0..6u32 {
            let span = 4i64.pow(b + 1);
            let rows: Vec<(Option<i64>, Option<String>)> = (0..3000i64)
                .map(|i| {
                    let k = (i * 7919 + b as i64) % span;
                    let s = (i % 11 != 0).then(|| format!("s{}", (i * 31 + k) % (3 * (b as i64 + 1))));
                    ((k % 17 != 0).then_some(k - span / 2), s)
                })
                .collect();
            batches.push(rows);
        }
        let expected = reference_ids(&batches);
        let mut keys = GroupKeys::try_new(&[DataType::Int64, DataType::Utf8]).unwrap();
        let mut was_direct = Vec::new();
        for (rows, expected) in batches.iter().zip(&expected) {
            assert_eq!(&groups_of(&mut keys, packed_columns(rows)), expected);
            was_direct.push(is_direct(&keys));
        }
        assert_eq!(was_direct.first(), Some(&true));
        assert_eq!(was_direct.last(), Some(&false), "{was_direct:?}");
        // Emitted keys are the rows' keys, in id order.
        let keys_by_id: std::collections::BTreeMap<usize, String> = batches
            .iter()
            .flatten()
            .zip(expected.iter().flatten())
            .map(|(r, &id)| {
                let int = r.0.map_or("NULL".to_string(), |v| v.to_string());
                (id, format!("{int}|{}", r.1.clone().unwrap_or("NULL".into())))
            })
            .collect();
        let emitted = emitted(&keys);
        assert_eq!(emitted.len(), keys_by_id.len());
        for (id, key) in keys_by_id {
            assert_eq!(emitted[id], key);
        }
    }

    /// A direct packed table merges into one that left direct indexing and the other way round;
    /// the mapping gives each merged group the id of its key.
    #[test]
    fn packed_merges_between_direct_and_hashed_tables() {
        let small: Vec<(Option<i64>, Option<String>)> =
            (0..50).map(|i| ((i % 7 != 0).then_some(i % 5), Some(format!("t{}", i % 3)))).collect();
        let wide: Vec<(Option<i64>, Option<String>)> =
            (0..40_000).map(|i| (Some(i * 1_000_003 % 70_001), (i % 9 != 0).then(|| format!("w{}", i % 40)))).collect();
        let table = |rows: &[(Option<i64>, Option<String>)]| {
            let mut keys = GroupKeys::try_new(&[DataType::Int64, DataType::Utf8]).unwrap();
            groups_of(&mut keys, packed_columns(rows));
            keys
        };
        for (into, from) in [(&wide, &small), (&small, &wide), (&small, &small)] {
            let mut global = table(into);
            let local = table(from);
            let before = emitted(&global);
            let mut mapping = Vec::new();
            global.merge(&local, &mut mapping).unwrap();
            let after = emitted(&global);
            assert_eq!(after[..before.len()], before[..]);
            let local_keys = emitted(&local);
            assert_eq!(mapping.len(), local_keys.len());
            for (local_id, &global_id) in mapping.iter().enumerate() {
                assert_eq!(after[global_id], local_keys[local_id]);
            }
            let distinct: std::collections::HashSet<&String> = after.iter().collect();
            assert_eq!(distinct.len(), after.len(), "every key once");
        }
        assert!(!is_direct(&table(&wide)));
        assert!(is_direct(&table(&small)));
    }
}
