//! Group keys → dense group ids (0, 1, ... in first-seen order), one id vector per batch.
//!
//! Arrow's row format handles any mix of key types, but encoding every key and hashing its bytes
//! dominated aggregations whose key is one integer or a few short strings (benches/RESULTS.md,
//! observations 3 and 4). So the common shapes get their own tables:
//! - one key column of a primitive type (integers, dates, timestamps, decimals), booleans or text
//!   is interned directly on its native values or string bytes ([`ColumnInterner`]);
//! - two to four such columns are each interned on their own (small ids), and the ids are packed
//!   into one `u128` that is interned like a primitive value;
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
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal128Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::hash_table::HashTable;
use hashbrown::DefaultHashBuilder;

use crate::error::{EngineError, Result};

/// Most key columns packed into one `u128` (32 bits of id each).
const MAX_PACKED_COLUMNS: usize = 4;

/// Most distinct values of a text key column looked up by comparing with each instead of hashing.
const SCAN_LIMIT: usize = 8;

/// Most combinations of packed columns' value ids memoised per batch.
const MEMO_LIMIT: usize = 4096;

/// The group table of one aggregation (one per worker, plus the global one).
pub struct GroupKeys {
    kind: Kind,
}

enum Kind {
    /// One key column of a specialised type: its value ids are the group ids.
    Single(Box<dyn ColumnInterner>),
    /// Two to four specialised columns: per-column ids packed into one `u128` per group.
    Packed {
        columns: Vec<Box<dyn ColumnInterner>>,
        groups: NativeTable<u128>,
        /// Per column: the value id of each row of the current batch.
        scratch: Vec<Vec<usize>>,
        /// Per batch: group id by mixed-radix combination of value ids (`usize::MAX`: not seen).
        memo: Vec<usize>,
    },
    /// Any other key: the row format.
    Rows(RowKeys),
}

impl GroupKeys {
    /// An empty table for keys of `types` (at least one).
    pub fn try_new(types: &[DataType]) -> Result<GroupKeys> {
        let specialised: Option<Vec<_>> = types.iter().map(column_interner).collect();
        let kind = match specialised {
            Some(mut columns) if columns.len() == 1 => Kind::Single(columns.remove(0)),
            Some(columns) if columns.len() <= MAX_PACKED_COLUMNS => {
                let scratch = vec![Vec::new(); columns.len()];
                Kind::Packed { columns, groups: NativeTable::default(), scratch, memo: Vec::new() }
            }
            _ => Kind::Rows(RowKeys::try_new(types)?),
        };
        Ok(GroupKeys { kind })
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Single(column) => column.len(),
            Kind::Packed { groups, .. } => groups.values.len(),
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
            Kind::Packed { columns: interners, groups, scratch, memo } => {
                for ((interner, column), ids) in interners.iter_mut().zip(columns).zip(scratch.iter_mut()) {
                    ids.clear();
                    interner.intern(column, ids)?;
                    if interner.len() > u32::MAX as usize {
                        return Err(EngineError::execution("GROUP BY: more than 2^32 distinct values in a key column"));
                    }
                }
                let rows = columns.first().map_or(0, |c| c.len());
                let pack = |row: usize| {
                    scratch.iter().enumerate().fold(0u128, |acc, (j, ids)| acc | ((ids[row] as u128) << (32 * j)))
                };
                out.reserve(rows);
                // Few combinations of the columns' values so far (q01: 3 × 2): a per-batch memo
                // indexed by the mixed-radix number of the ids skips hashing for most rows.
                let lens: Vec<usize> = interners.iter().map(|c| c.len().max(1)).collect();
                let combinations = lens.iter().try_fold(1usize, |acc, &len| acc.checked_mul(len));
                match combinations {
                    Some(combinations) if combinations <= MEMO_LIMIT.min(rows) => {
                        memo.clear();
                        memo.resize(combinations, usize::MAX);
                        for row in 0..rows {
                            let dense = scratch.iter().zip(&lens).fold(0, |acc, (ids, len)| acc * len + ids[row]);
                            if memo[dense] == usize::MAX {
                                memo[dense] = groups.find_or_insert(pack(row));
                            }
                            out.push(memo[dense]);
                        }
                    }
                    _ => out.extend((0..rows).map(|row| groups.find_or_insert(pack(row)))),
                }
                Ok(())
            }
            Kind::Rows(rows) => rows.intern(columns, out),
        }
    }

    /// The key columns, one value per group in id order.
    pub fn emit(&self) -> Result<Vec<ArrayRef>> {
        match &self.kind {
            Kind::Single(column) => Ok(vec![column.values(None)?]),
            Kind::Packed { columns, groups, .. } => columns
                .iter()
                .enumerate()
                .map(|(j, column)| {
                    let ids: Vec<u64> = groups.values.iter().map(|p| (p >> (32 * j)) as u32 as u64).collect();
                    column.values(Some(&UInt64Array::from(ids)))
                })
                .collect(),
            Kind::Rows(rows) => Ok(rows.converter.convert_rows(rows.rows.iter())?),
        }
    }

    /// Adds `other`'s groups, appending each one's id here to `mapping` (in `other`'s id order).
    pub fn merge(&mut self, other: &GroupKeys, mapping: &mut Vec<usize>) -> Result<()> {
        let columns = other.emit()?;
        self.intern(&columns, mapping)
    }

    /// Bytes held by keys and hash tables.
    pub fn memory_size(&self) -> usize {
        match &self.kind {
            Kind::Single(column) => column.memory_size(),
            Kind::Packed { columns, groups, scratch, memo } => {
                memo.capacity() * std::mem::size_of::<usize>()
                    + columns.iter().map(|c| c.memory_size()).sum::<usize>()
                    + groups.memory_size()
                    + scratch.iter().map(|s| s.capacity() * std::mem::size_of::<usize>()).sum::<usize>()
            }
            Kind::Rows(rows) => rows.memory_size(),
        }
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
}

impl<T: ArrowPrimitiveType> PrimitiveInterner<T>
where
    T::Native: Hash + Eq,
{
    fn new(data_type: DataType) -> Self {
        PrimitiveInterner { data_type, table: NativeTable::default(), null_id: None }
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
        self.table.memory_size()
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
}

impl ColumnInterner for TextInterner {
    fn intern(&mut self, column: &ArrayRef, out: &mut Vec<usize>) -> Result<()> {
        let column = column.as_string_opt::<i32>().ok_or_else(|| wrong_key(&DataType::Utf8, column))?;
        out.reserve(column.len());
        let offsets = column.value_offsets();
        let data = column.value_data();
        let nulls = column.nulls().filter(|n| n.null_count() > 0);
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
        self.bytes.capacity()
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
            Kind::Packed { .. } => "packed",
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
}
