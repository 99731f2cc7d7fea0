//! Row-group pruning by Parquet split-block bloom filters: for `col = literal` and
//! `col IN (literals)` conjuncts, after min/max pruning, the scan reads each remaining row group's
//! bloom filter of that column (a small ranged read, counted like any other) and drops the row
//! groups whose filter rules out every literal. Min/max cannot prune a row group whose range
//! spans the literal (unsorted keys, ids, codes); a bloom filter can.
//!
//! A bloom filter holds the xxHash64 (seed 0) of each value's plain encoding *as the file stores
//! it* (parquet-rs, DuckDB and parquet-mr agree): little-endian INT32/INT64, big-endian two's
//! complement FIXED_LEN_BYTE_ARRAY decimals, the bare bytes of a BYTE_ARRAY. A literal is typed
//! as the column's declared type, which may differ from the file's (an INT32 column declared
//! `bigint`, a decimal stored as INT64), so each literal is first converted to the file's type,
//! and only when converting back gives the literal again (the scan reads the file through the
//! same casts, so then exactly the rows holding that file value can match). Anything else —
//! floats (signed zeros, NaN), INT96 timestamps, BYTE_ARRAY decimals, nested columns, a filter
//! that fails to decode — keeps the row group: the scan applies every filter exactly afterwards.
//!
//! Bloom filters only pay when they are small next to what they can save: a filter larger than
//! the column chunk it describes (which a kept row group reads anyway) is not read.

use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field};
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::{parquet_to_arrow_schema_by_columns, ProjectionMask};
use parquet::basic::Type as PhysicalType;
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::schema::types::ColumnDescriptor;

use crate::error::Result;
use crate::io::fetched_ranges::FetchedRanges;
use crate::io::metrics::{ScanBudget, ScanMetrics};
use crate::io::object_reader::{ObjectFile, ObjectReader};
use crate::io::parquet_scan::catch_decoder_panic;
use crate::plan::{BinaryOp, Expr, ScalarValue};

/// Literals a probe may have. With writers' usual 5% false-positive rate a row group passes a
/// filter for one of 128 absent values with probability 1 - 0.95^128 > 99.8%: longer lists
/// almost never prune, and hashing them per file is not free.
const MAX_PROBE_VALUES: usize = 128;

/// Files whose bloom filters are read at once.
const FILE_CONCURRENCY: usize = 32;

/// What a writer that omits `bloom_filter_length` makes a reader fetch first: the filter header
/// (a Thrift struct of at most this many bytes, as the parquet crate assumes too).
const HEADER_BYTES: u64 = 20;

/// One conjunct a bloom filter can answer: some row of a row group must equal one of `values`.
#[derive(Debug, Clone, PartialEq)]
struct Probe {
    /// The table column.
    column: usize,
    /// Non-NULL literals in the column's declared type (a NULL in an IN list matches no row).
    values: Vec<ScalarValue>,
}

/// The equality and IN conjuncts of a scan's filters.
#[derive(Debug, Clone, Default)]
pub struct BloomProbes {
    probes: Vec<Probe>,
}

impl BloomProbes {
    /// Picks `col = literal` (either side) and `col IN (literals)` over one of the data columns
    /// (`data_fields`, declared types), with literals of exactly the column's declared type.
    pub fn new(filters: &[Expr], data_fields: &[Field]) -> BloomProbes {
        let probes = filters
            .iter()
            .flat_map(|f| f.clone().split_conjunction())
            .filter_map(|c| probe_of(&c))
            .filter(|p| p.values.len() <= MAX_PROBE_VALUES)
            .filter(|p| {
                data_fields.get(p.column).is_some_and(|f| p.values.iter().all(|v| &v.data_type() == f.data_type()))
            })
            .collect();
        BloomProbes { probes }
    }

    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }

    /// The bloom filter reads worth making to prune `row_groups` of one file (footer
    /// `metadata`): each probe whose column the file stores as a top-level primitive column with
    /// literals it can hash, for each row group whose chunk of that column has a filter no
    /// larger than the chunk itself.
    pub fn plan_file(
        &self,
        metadata: &Arc<ParquetMetaData>,
        data_fields: &[Field],
        row_groups: &[usize],
        file_size: u64,
    ) -> FileBloomChecks {
        let descr = metadata.file_metadata().schema_descr();
        let mut checks = Vec::new();
        let mut keys = Vec::new();
        for probe in &self.probes {
            let Some(field) = data_fields.get(probe.column) else { continue };
            let Some(leaf) = top_level_leaf(descr, field.name()) else { continue };
            let column = descr.column(leaf);
            let Ok(schema) = parquet_to_arrow_schema_by_columns(descr, ProjectionMask::leaves(descr, [leaf]), None)
            else {
                continue;
            };
            let Some(file_type) = schema.fields().first().map(|f| f.data_type().clone()) else { continue };
            let encoded = probe.values.iter().map(|v| plain_key(v, &column, &file_type));
            let Some(encoded) = encoded.collect::<Option<Vec<_>>>() else { continue };
            for &rg in row_groups {
                let chunk = metadata.row_group(rg).column(leaf);
                if let Some(location) = filter_location(chunk, file_size) {
                    checks.push(Check { row_group: rg, leaf, probe: keys.len(), location });
                }
            }
            keys.push(encoded);
        }
        FileBloomChecks { metadata: metadata.clone(), row_groups: row_groups.to_vec(), keys, checks }
    }
}

/// The probe a conjunct expresses, if any: also `col = a OR col IN (b, c)` over one column.
fn probe_of(expr: &Expr) -> Option<Probe> {
    match expr {
        Expr::Binary { op: BinaryOp::Or, left, right } => {
            let (mut left, right) = (probe_of(left)?, probe_of(right)?);
            (left.column == right.column).then(|| {
                left.values.extend(right.values);
                left
            })
        }
        Expr::Binary { op: BinaryOp::Eq, left, right } => match (left.as_ref(), right.as_ref()) {
            (Expr::Column(column), Expr::Literal(v)) | (Expr::Literal(v), Expr::Column(column)) if !v.is_null() => {
                Some(Probe { column: *column, values: vec![v.clone()] })
            }
            _ => None,
        },
        Expr::InList { expr, list, negated: false } => {
            let Expr::Column(column) = expr.as_ref() else { return None };
            let mut values = Vec::with_capacity(list.len());
            for item in list {
                match item {
                    Expr::Literal(v) if v.is_null() => {}
                    Expr::Literal(v) => values.push(v.clone()),
                    _ => return None,
                }
            }
            // All NULL: no row passes, but that is the filter's business, not the bloom filter's.
            (!values.is_empty()).then_some(Probe { column: *column, values })
        }
        _ => None,
    }
}

/// The leaf column of the file's top-level primitive column named `name` (matched as the scan
/// matches columns: exactly, else ignoring ASCII case); `None` for a nested or missing column.
fn top_level_leaf(descr: &parquet::schema::types::SchemaDescriptor, name: &str) -> Option<usize> {
    let roots = descr.root_schema().get_fields();
    let root = roots
        .iter()
        .position(|f| f.name() == name)
        .or_else(|| roots.iter().position(|f| f.name().eq_ignore_ascii_case(name)))?;
    if !roots[root].is_primitive() {
        return None;
    }
    (0..descr.num_columns())
        .find(|&leaf| descr.get_column_root_idx(leaf) == root && descr.column(leaf).max_rep_level() == 0)
}

/// Where a column chunk's bloom filter lies, if it has one worth reading.
#[derive(Debug, Clone)]
enum FilterLocation {
    /// Header and bitset, from `bloom_filter_length`.
    Known(Range<u64>),
    /// Only the offset is known (older parquet-mr): read the header first.
    HeaderAt(u64),
}

fn filter_location(chunk: &ColumnChunkMetaData, file_size: u64) -> Option<FilterLocation> {
    let offset = u64::try_from(chunk.bloom_filter_offset()?).ok()?;
    let chunk_size = u64::try_from(chunk.compressed_size()).ok()?;
    match chunk.bloom_filter_length() {
        Some(length) => {
            let length = u64::try_from(length).ok().filter(|l| *l > 0 && *l <= chunk_size)?;
            let end = offset.checked_add(length).filter(|end| *end <= file_size)?;
            Some(FilterLocation::Known(offset..end))
        }
        None => (offset < file_size).then_some(FilterLocation::HeaderAt(offset)),
    }
}

/// The hash input of `value` (declared type) as the file stores it in `column`, which the
/// Parquet decoder reads as `file_type`: its plain encoding, without the length prefix of byte
/// arrays. `None` when the file's type cannot hold the value exactly, or the encoding is one this
/// does not reproduce.
pub fn plain_key(value: &ScalarValue, column: &ColumnDescriptor, file_type: &DataType) -> Option<Vec<u8>> {
    let literal = value.to_array(1);
    let in_file = if literal.data_type() == file_type {
        literal
    } else {
        let safe = CastOptions { safe: true, ..Default::default() };
        let in_file = cast_with_options(&literal, file_type, &safe).ok()?;
        let back = cast_with_options(&in_file, literal.data_type(), &safe).ok()?;
        if in_file.is_null(0) || ScalarValue::try_from_array(back.as_ref(), 0).ok()? != *value {
            return None;
        }
        in_file
    };
    let as_i64 = |array: &arrow::array::ArrayRef| -> Option<i64> {
        let cast = cast_with_options(array, &DataType::Int64, &CastOptions::default()).ok()?;
        match ScalarValue::try_from_array(cast.as_ref(), 0).ok()? {
            ScalarValue::Int64(v) => v,
            _ => None,
        }
    };
    let decimal = |array: &arrow::array::ArrayRef| match ScalarValue::try_from_array(array.as_ref(), 0).ok()? {
        ScalarValue::Decimal128(v, _, _) => v,
        _ => None,
    };
    use DataType::*;
    match (column.physical_type(), in_file.data_type()) {
        (PhysicalType::INT32, Int8 | Int16 | Int32 | Date32 | Time32(_)) => {
            Some(i32::try_from(as_i64(&in_file)?).ok()?.to_le_bytes().to_vec())
        }
        (PhysicalType::INT32, UInt8 | UInt16 | UInt32) => {
            Some(u32::try_from(as_i64(&in_file)?).ok()?.to_le_bytes().to_vec())
        }
        (PhysicalType::INT32, Decimal128(_, _)) => Some(i32::try_from(decimal(&in_file)?).ok()?.to_le_bytes().to_vec()),
        (PhysicalType::INT64, Int64 | Timestamp(_, _) | Time64(_) | Date64) => {
            Some(as_i64(&in_file)?.to_le_bytes().to_vec())
        }
        (PhysicalType::INT64, Decimal128(_, _)) => Some(i64::try_from(decimal(&in_file)?).ok()?.to_le_bytes().to_vec()),
        (PhysicalType::FIXED_LEN_BYTE_ARRAY, Decimal128(_, _)) => {
            fixed_len_decimal(decimal(&in_file)?, usize::try_from(column.type_length()).ok()?)
        }
        (PhysicalType::BYTE_ARRAY, Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView) => match value {
            ScalarValue::Utf8(Some(text)) => Some(text.as_bytes().to_vec()),
            _ => None,
        },
        _ => None,
    }
}

/// A decimal's unscaled value as a `width`-byte big-endian two's complement number; `None`
/// when it does not fit.
fn fixed_len_decimal(value: i128, width: usize) -> Option<Vec<u8>> {
    let bytes = value.to_be_bytes();
    if width == 0 || width > bytes.len() {
        return None;
    }
    let (dropped, kept) = bytes.split_at(bytes.len() - width);
    let sign = if value < 0 { 0xFF } else { 0x00 };
    let kept_sign = if kept[0] & 0x80 != 0 { 0xFF } else { 0x00 };
    (dropped.iter().all(|b| *b == sign) && kept_sign == sign).then(|| kept.to_vec())
}

/// Whether `filter` may hold one of `keys` (each a [`plain_key`]); `false` means none of them is
/// in the column chunk. Kept small and separate so other value sets (a join's runtime filter) can
/// probe the same filters.
pub fn might_contain_any(filter: &Sbbf, keys: &[Vec<u8>]) -> bool {
    filter.num_blocks() == 0 || keys.iter().any(|key| filter.check(key.as_slice()))
}

/// One bloom filter to read: of a row group's chunk of a probe's column.
#[derive(Debug, Clone)]
struct Check {
    row_group: usize,
    leaf: usize,
    /// Index into [`FileBloomChecks::keys`].
    probe: usize,
    location: FilterLocation,
}

/// The bloom filter reads planned for one file, and the row groups they may prune.
#[derive(Debug)]
pub struct FileBloomChecks {
    metadata: Arc<ParquetMetaData>,
    row_groups: Vec<usize>,
    /// Per usable probe, its literals as the file hashes them.
    keys: Vec<Vec<Vec<u8>>>,
    checks: Vec<Check>,
}

impl FileBloomChecks {
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// Reads the planned bloom filters through `reader` (all of one file in one coalesced
    /// request when they lie together, as writers put them) and returns the row groups left.
    pub async fn prune(&self, reader: &ObjectReader) -> Result<Vec<usize>> {
        if self.checks.is_empty() {
            return Ok(self.row_groups.clone());
        }
        let size = reader.file().size;
        // Filters without a recorded length: read their headers first to learn it.
        let header_ranges: Vec<Range<u64>> = self
            .checks
            .iter()
            .filter_map(|c| match c.location {
                FilterLocation::HeaderAt(offset) => Some(offset..(offset + HEADER_BYTES).min(size)),
                FilterLocation::Known(_) => None,
            })
            .collect();
        let headers = reader.read_ranges(&header_ranges).await?;
        let mut headers = header_ranges.iter().zip(headers);
        let mut ranges: Vec<Option<Range<u64>>> = Vec::with_capacity(self.checks.len());
        for check in &self.checks {
            ranges.push(match &check.location {
                FilterLocation::Known(range) => Some(range.clone()),
                FilterLocation::HeaderAt(offset) => headers.next().and_then(|(_, header)| {
                    let chunk_size = self.metadata.row_group(check.row_group).column(check.leaf).compressed_size();
                    let bitset = bitset_length(&header).filter(|n| i64::try_from(*n).is_ok_and(|n| n <= chunk_size))?;
                    let end = offset.checked_add(HEADER_BYTES + bitset)?.min(size);
                    Some(*offset..end)
                }),
            });
        }
        let wanted: Vec<Range<u64>> = ranges.iter().flatten().cloned().collect();
        let bytes = reader.read_ranges(&wanted).await?;
        let mut fetched = wanted.into_iter().zip(bytes);
        let mut pruned = Vec::new();
        for (check, range) in self.checks.iter().zip(ranges) {
            let Some((range, bytes)) = range.and_then(|_| fetched.next()) else { continue };
            if pruned.contains(&check.row_group) {
                continue;
            }
            let chunk = self.metadata.row_group(check.row_group).column(check.leaf);
            let Some(filter) = decode_filter(chunk, size, range, bytes) else { continue };
            if !might_contain_any(&filter, &self.keys[check.probe]) {
                pruned.push(check.row_group);
            }
        }
        Ok(self.row_groups.iter().copied().filter(|rg| !pruned.contains(rg)).collect())
    }
}

/// The bitset length a bloom filter header announces: its first field, `1: required i32
/// numBytes`, in Thrift's compact encoding (field header 0x15, then a zigzag varint).
fn bitset_length(header: &[u8]) -> Option<u64> {
    let (first, rest) = header.split_first()?;
    if *first != 0x15 {
        return None;
    }
    let mut value: u64 = 0;
    for (i, byte) in rest.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            let n = ((value >> 1) as i64) ^ -((value & 1) as i64);
            return u64::try_from(n).ok().filter(|n| *n > 0);
        }
    }
    None
}

/// Decodes the bloom filter of `chunk` from the fetched `bytes` of `range`; `None` when it does
/// not decode (a corrupt or unsupported filter prunes nothing).
fn decode_filter(chunk: &ColumnChunkMetaData, file_size: u64, range: Range<u64>, bytes: bytes::Bytes) -> Option<Sbbf> {
    let fetched = FetchedRanges::new(file_size, std::slice::from_ref(&range), vec![bytes]);
    match catch_decoder_panic(AssertUnwindSafe(|| Sbbf::read_from_column_chunk(chunk, &fetched))) {
        Ok(Ok(Some(filter))) if filter.num_blocks() > 0 => Some(filter),
        _ => None,
    }
}

/// Prunes the row groups of many files (each `(file, footer, row groups kept so far)`) by their
/// bloom filters, reading the filters of all files concurrently on the I/O runtime; returns the
/// row groups kept per file and counts the pruned ones in `metrics`.
pub fn prune_files(
    io: &tokio::runtime::Handle,
    probes: &BloomProbes,
    data_fields: &[Field],
    files: Vec<(Arc<ObjectFile>, Arc<ParquetMetaData>, Vec<usize>)>,
    metrics: &Arc<ScanMetrics>,
    budget: &Arc<ScanBudget>,
    label: &Arc<str>,
) -> Result<Vec<Vec<usize>>> {
    if probes.is_empty() {
        return Ok(files.into_iter().map(|(_, _, kept)| kept).collect());
    }
    let planned: Vec<(Arc<ObjectFile>, FileBloomChecks)> = files
        .into_iter()
        .map(|(object, footer, kept)| {
            let checks = probes.plan_file(&footer, data_fields, &kept, object.size);
            (object, checks)
        })
        .collect();
    if planned.iter().all(|(_, checks)| checks.is_empty()) {
        return Ok(planned.into_iter().map(|(_, checks)| checks.row_groups).collect());
    }
    let metrics = metrics.clone();
    let budget = budget.clone();
    let label = label.clone();
    let kept: Vec<Vec<usize>> = crate::io::runtime::block_on_io(io, async move {
        futures::stream::iter(planned)
            .map(|(object, checks)| {
                let reader = ObjectReader::new(object, metrics.clone()).with_budget(budget.clone(), label.clone());
                let metrics = metrics.clone();
                async move {
                    let kept = checks.prune(&reader).await?;
                    ScanMetrics::add(&metrics.row_groups_pruned_bloom, (checks.row_groups.len() - kept.len()) as u64);
                    Ok::<_, crate::error::EngineError>(kept)
                }
            })
            .buffered(FILE_CONCURRENCY)
            .try_collect()
            .await
    })??;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        ArrayRef, Date32Array, Decimal128Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array,
        RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array, UInt8Array,
    };
    use bytes::Bytes;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::ParquetMetaDataReader;
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::io::runtime::io_runtime;

    /// A Parquet file (bloom filters on every column) of `columns`, `rows_per_group` rows a group.
    fn write(columns: Vec<(&str, ArrayRef)>, rows_per_group: usize) -> Bytes {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let props = WriterProperties::builder()
            .set_bloom_filter_enabled(true)
            .set_max_row_group_row_count(Some(rows_per_group))
            .build();
        let mut writer = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        Bytes::from(writer.into_inner().unwrap())
    }

    fn footer(bytes: &Bytes) -> Arc<ParquetMetaData> {
        Arc::new(ParquetMetaDataReader::new().parse_and_finish(bytes).unwrap())
    }

    /// Whether row group 0's bloom filter of column `leaf` may hold `value` (declared type),
    /// `None` when the value cannot be hashed as the file stores it.
    fn probe(bytes: &Bytes, leaf: usize, value: ScalarValue) -> Option<bool> {
        let meta = footer(bytes);
        let descr = meta.file_metadata().schema_descr();
        let schema = parquet_to_arrow_schema_by_columns(descr, ProjectionMask::leaves(descr, [leaf]), None).unwrap();
        let key = plain_key(&value, &descr.column(leaf), schema.field(0).data_type())?;
        let filter = Sbbf::read_from_column_chunk(meta.row_group(0).column(leaf), bytes).unwrap().unwrap();
        Some(might_contain_any(&filter, &[key]))
    }

    #[test]
    fn keys_hash_as_the_parquet_writer_stores_each_type() {
        let decimal = |p: u8| -> ArrayRef {
            Arc::new(Decimal128Array::from(vec![-12_345, 0, 98_765]).with_precision_and_scale(p, 2).unwrap())
        };
        let file = write(
            vec![
                ("i8", Arc::new(Int8Array::from(vec![-5, 0, 7])) as ArrayRef),
                ("i16", Arc::new(Int16Array::from(vec![-300, 0, 300]))),
                ("i32", Arc::new(Int32Array::from(vec![-70_000, 0, 70_000]))),
                ("i64", Arc::new(Int64Array::from(vec![-(1 << 40), 0, 1 << 40]))),
                ("u8", Arc::new(UInt8Array::from(vec![0, 200, 255]))),
                ("u32", Arc::new(UInt32Array::from(vec![0, 7, 3_000_000_000]))),
                ("d9", decimal(9)),
                ("d18", decimal(18)),
                ("d30", decimal(30)),
                ("s", Arc::new(StringArray::from(vec!["", "apple", "pear"]))),
                ("day", Arc::new(Date32Array::from(vec![0, 19_000, 20_000]))),
                ("ts", Arc::new(TimestampMicrosecondArray::from(vec![0, 1_700_000_000_000_000, -1]))),
                ("f", Arc::new(Float64Array::from(vec![0.0, 1.5, -2.0]))),
            ],
            10,
        );
        let dec = |v: i128, p: u8| ScalarValue::Decimal128(Some(v), p, 2);
        let cases: Vec<(usize, ScalarValue, ScalarValue)> = vec![
            (0, ScalarValue::Int8(Some(-5)), ScalarValue::Int8(Some(6))),
            (1, ScalarValue::Int16(Some(300)), ScalarValue::Int16(Some(301))),
            (2, ScalarValue::Int32(Some(-70_000)), ScalarValue::Int32(Some(70_001))),
            (3, ScalarValue::Int64(Some(1 << 40)), ScalarValue::Int64(Some(1 << 41))),
            // Unsigned columns declared as wider signed types.
            (4, ScalarValue::Int16(Some(200)), ScalarValue::Int16(Some(201))),
            (5, ScalarValue::Int64(Some(3_000_000_000)), ScalarValue::Int64(Some(3_000_000_001))),
            (6, dec(-12_345, 9), dec(12_345, 9)),
            (7, dec(98_765, 18), dec(98_766, 18)),
            (8, dec(-12_345, 30), dec(-12_346, 30)),
            (9, ScalarValue::Utf8(Some("apple".into())), ScalarValue::Utf8(Some("Apple".into()))),
            (9, ScalarValue::Utf8(Some(String::new())), ScalarValue::Utf8(Some("pea".into()))),
            (10, ScalarValue::Date32(Some(19_000)), ScalarValue::Date32(Some(19_001))),
            (11, ScalarValue::TimestampMicros(Some(-1)), ScalarValue::TimestampMicros(Some(1))),
        ];
        for (leaf, present, absent) in cases {
            assert_eq!(probe(&file, leaf, present.clone()), Some(true), "column {leaf}: {present:?}");
            assert_eq!(probe(&file, leaf, absent.clone()), Some(false), "column {leaf}: {absent:?}");
        }
        // A declared type wider than the file's: the literal is hashed in the file's type.
        assert_eq!(probe(&file, 2, ScalarValue::Int64(Some(70_000))), Some(true));
        assert_eq!(probe(&file, 6, ScalarValue::Decimal128(Some(-123_450), 12, 3)), Some(true));
        // A text literal over an integer column: only a spelling the scan's cast gives back.
        assert_eq!(probe(&file, 2, ScalarValue::Utf8(Some("70000".into()))), Some(true));
        assert_eq!(probe(&file, 2, ScalarValue::Utf8(Some("070000".into()))), None);
        // Values the file's type cannot hold, lossy conversions and floats are not hashed.
        assert_eq!(probe(&file, 2, ScalarValue::Int64(Some(1 << 40))), None);
        assert_eq!(probe(&file, 6, ScalarValue::Decimal128(Some(-123_451), 12, 3)), None);
        assert_eq!(probe(&file, 12, ScalarValue::Float64(Some(1.5))), None);
    }

    #[test]
    fn fixed_len_decimals_keep_their_sign_in_the_width() {
        assert_eq!(fixed_len_decimal(-2, 2), Some(vec![0xFF, 0xFE]));
        assert_eq!(fixed_len_decimal(258, 2), Some(vec![0x01, 0x02]));
        assert_eq!(fixed_len_decimal(40_000, 2), None, "needs a third byte (sign bit set)");
        assert_eq!(fixed_len_decimal(70_000, 2), None);
        assert_eq!(fixed_len_decimal(1, 17), None);
    }

    #[test]
    fn only_equalities_and_in_lists_of_the_declared_type_probe() {
        let fields = vec![Field::new("k", DataType::Int64, true), Field::new("s", DataType::Utf8, true)];
        let col = |i| Box::new(Expr::Column(i));
        let int = |v: Option<i64>| Box::new(Expr::Literal(ScalarValue::Int64(v)));
        let probes = |filter: Expr| BloomProbes::new(&[filter], &fields).probes;
        let eq = |l, r| Expr::Binary { op: BinaryOp::Eq, left: l, right: r };
        assert_eq!(
            probes(eq(col(0), int(Some(3)))),
            vec![Probe { column: 0, values: vec![ScalarValue::Int64(Some(3))] }]
        );
        assert_eq!(probes(eq(int(Some(3)), col(0))).len(), 1);
        assert!(probes(eq(col(0), int(None))).is_empty());
        assert!(probes(Expr::Binary { op: BinaryOp::Lt, left: col(0), right: int(Some(3)) }).is_empty());
        // Another type than the declared one (the binder casts literals; anything else is left).
        assert!(probes(eq(col(0), Box::new(Expr::Literal(ScalarValue::Int32(Some(3)))))).is_empty());
        let in_list = |list: Vec<Option<i64>>, negated| Expr::InList {
            expr: col(0),
            list: list.into_iter().map(|v| *int(v)).collect(),
            negated,
        };
        let values = |p: Vec<Probe>| p.into_iter().flat_map(|p| p.values).collect::<Vec<_>>();
        assert_eq!(
            values(probes(in_list(vec![Some(1), None, Some(2)], false))),
            vec![ScalarValue::Int64(Some(1)), ScalarValue::Int64(Some(2))]
        );
        assert!(probes(in_list(vec![None], false)).is_empty());
        assert!(probes(in_list(vec![Some(1)], true)).is_empty());
        let long: Vec<Option<i64>> = (0..=MAX_PROBE_VALUES as i64).map(Some).collect();
        assert!(probes(in_list(long[1..].to_vec(), false)).len() == 1);
        assert!(probes(in_list(long, false)).is_empty(), "too many literals to pay");
        let either = Expr::Binary {
            op: BinaryOp::Or,
            left: Box::new(eq(col(0), int(Some(1)))),
            right: Box::new(in_list(vec![Some(2)], false)),
        };
        assert_eq!(values(probes(either)), vec![ScalarValue::Int64(Some(1)), ScalarValue::Int64(Some(2))]);
        let other_column = Expr::Binary {
            op: BinaryOp::Or,
            left: Box::new(eq(col(0), int(Some(1)))),
            right: Box::new(eq(col(1), Box::new(Expr::Literal(ScalarValue::Utf8(Some("a".into())))))),
        };
        assert!(probes(other_column).is_empty());
        let both =
            eq(col(0), int(Some(1))).and(eq(col(1), Box::new(Expr::Literal(ScalarValue::Utf8(Some("a".into()))))));
        assert_eq!(probes(both).len(), 2);
    }

    #[test]
    fn reads_the_announced_bitset_length_from_a_header() {
        let mut header = Vec::new();
        Sbbf::new_with_num_of_bytes(1024).write(&mut header).unwrap();
        assert_eq!(bitset_length(&header[..HEADER_BYTES as usize]), Some(1024));
        assert_eq!(bitset_length(&[0x16, 0x80, 0x10]), None);
        assert_eq!(bitset_length(&[0x15, 0x80]), None, "truncated varint");
    }

    /// Three row groups whose k ranges overlap ([0, 27], [1, 28], [2, 29]) but whose values do not.
    fn interleaved_file() -> (Arc<ObjectFile>, Arc<ParquetMetaData>) {
        let k: Vec<i64> = (0..3).flat_map(|g| (0..10).map(move |j| g + 3 * j)).collect();
        let s: Vec<String> = k.iter().map(|k| format!("v{k}")).collect();
        let bytes =
            write(vec![("k", Arc::new(Int64Array::from(k)) as ArrayRef), ("s", Arc::new(StringArray::from(s)))], 10);
        let store = Arc::new(InMemory::new());
        let path = Path::from("t/part-0.parquet");
        let size = bytes.len() as u64;
        let meta = footer(&bytes);
        io_runtime().block_on(store.put(&path, PutPayload::from(bytes))).unwrap();
        let store: Arc<dyn ObjectStore> = store;
        let url = "memory:///t/part-0.parquet".to_string();
        (Arc::new(ObjectFile { store, path, url, size, version: None }), meta)
    }

    fn prune(filter: Expr) -> (Vec<usize>, Arc<ScanMetrics>) {
        let (object, meta) = interleaved_file();
        let fields = vec![Field::new("k", DataType::Int64, true), Field::new("s", DataType::Utf8, true)];
        let probes = BloomProbes::new(&[filter], &fields);
        let metrics = Arc::new(ScanMetrics::default());
        let budget = Arc::new(ScanBudget::new(None));
        let label: Arc<str> = "TableScan t".into();
        let files = vec![(object, meta, vec![0, 1, 2])];
        let kept = prune_files(io_runtime().handle(), &probes, &fields, files, &metrics, &budget, &label).unwrap();
        (kept.into_iter().next().unwrap(), metrics)
    }

    #[test]
    fn prunes_row_groups_whose_filters_miss_every_literal() {
        let eq = |c: usize, v: ScalarValue| Expr::binary(Expr::Column(c), BinaryOp::Eq, Expr::Literal(v));
        let (kept, metrics) = prune(eq(0, ScalarValue::Int64(Some(4))));
        assert_eq!(kept, vec![1]);
        assert_eq!(ScanMetrics::get(&metrics.row_groups_pruned_bloom), 2);
        // The three filters lie within the coalescing gap: one request, counted with its bytes.
        assert_eq!(ScanMetrics::get(&metrics.requests), 1);
        assert!(ScanMetrics::get(&metrics.bytes_read) > 3 * 32);
        let in_list = Expr::InList {
            expr: Box::new(Expr::Column(1)),
            list: vec![
                Expr::Literal(ScalarValue::Utf8(Some("v0".into()))),
                Expr::Literal(ScalarValue::Utf8(Some("v29".into()))),
            ],
            negated: false,
        };
        assert_eq!(prune(in_list).0, vec![0, 2]);
        assert_eq!(prune(eq(0, ScalarValue::Int64(Some(100)))).0, Vec::<usize>::new());
        // Both conjuncts must be possible: k = 4 keeps group 1, s = 'v5' keeps group 2.
        let both = eq(0, ScalarValue::Int64(Some(4))).and(eq(1, ScalarValue::Utf8(Some("v5".into()))));
        assert_eq!(prune(both).0, Vec::<usize>::new());
        // No equality: nothing is read.
        let (kept, metrics) =
            prune(Expr::binary(Expr::Column(0), BinaryOp::Lt, Expr::Literal(ScalarValue::Int64(Some(4)))));
        assert_eq!(kept, vec![0, 1, 2]);
        assert_eq!(ScanMetrics::get(&metrics.requests), 0);
    }

    #[test]
    fn bloom_reads_count_against_the_scan_budget() {
        let (object, meta) = interleaved_file();
        let fields = vec![Field::new("k", DataType::Int64, true)];
        let filter = Expr::binary(Expr::Column(0), BinaryOp::Eq, Expr::Literal(ScalarValue::Int64(Some(4))));
        let probes = BloomProbes::new(&[filter], &fields);
        let metrics = Arc::new(ScanMetrics::default());
        let budget = Arc::new(ScanBudget::new(Some(16)));
        let label: Arc<str> = "TableScan t".into();
        let files = vec![(object, meta, vec![0, 1, 2])];
        let err = prune_files(io_runtime().handle(), &probes, &fields, files, &metrics, &budget, &label).unwrap_err();
        assert!(err.to_string().contains("max_scan_bytes"), "{err}");
    }
}
