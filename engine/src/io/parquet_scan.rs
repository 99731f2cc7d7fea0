//! Parquet files of one scan: matching the table's declared columns to a file's columns by name
//! (case-insensitively; a column the file lacks reads as NULLs), pruning row groups with their
//! statistics, the byte ranges a morsel (a run of row groups) needs, and decoding those bytes into
//! batches of exactly the declared types.
//!
//! The decoder reads the file's Parquet types without the embedded Arrow schema, so strings
//! arrive as `Utf8` even from writers that hint `Utf8View`, and every column is then cast once
//! to its declared type (int32 read as bigint, millisecond or INT96 timestamps as microseconds).
//!
//! Untrusted input: the parquet crate can panic on some malformed files. Decoding runs under
//! [`catch_decoder_panic`], and a panic becomes a `Data` error naming the file instead of taking
//! the process down (or printing a panic message to the user's terminal).

use std::cell::Cell;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::sync::Once;

use arrow::array::{new_null_array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::{can_cast_types, cast_with_options, CastOptions};
use arrow::datatypes::{Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;

use crate::error::{EngineError, Result};
use crate::io::fetched_ranges::FetchedRanges;
use crate::io::object_reader::ObjectFile;
use crate::io::pruning::{statistics_in_declared_type, ColumnStatistics, RowGroupPruner};

thread_local! {
    /// Set while this thread runs the parquet decoder under [`catch_decoder_panic`].
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// Runs the parquet crate's decoder on untrusted bytes, catching its panics. The panic message
/// is not printed: the caller turns the panic into an error naming the file. A panic hook is
/// process-wide, so one is installed once, chained to the previous hook, and stays silent only
/// for panics on a thread that is inside this function (a thread-local flag): panics elsewhere,
/// on any thread, still print as before.
pub fn catch_decoder_panic<T>(decode: impl FnOnce() -> T + UnwindSafe) -> std::thread::Result<T> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was_decoding = DECODING.with(|flag| flag.replace(true));
    let result = catch_unwind(decode);
    DECODING.with(|flag| flag.set(was_decoding));
    result
}

/// The rows of a morsel's row groups that survive page pruning.
#[derive(Debug, Clone)]
pub struct PageSelection {
    pub rows: RowSelection,
    /// Pages of the filter columns considered, and of those pruned.
    pub pages: u64,
    pub pruned: u64,
}

/// A Parquet file planned for one scan.
#[derive(Debug)]
pub struct ParquetFileScan {
    object: Arc<ObjectFile>,
    metadata: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// Leaf columns read, for the byte ranges of a morsel.
    leaves: Vec<usize>,
    /// For each output column, its position in the decoded batch (`None`: not in this file).
    sources: Vec<Option<usize>>,
    /// The needed data columns in declared types.
    output: SchemaRef,
}

/// The position of the field named `name` in `schema`: an exact match, else the first match
/// ignoring ASCII case (Hive and Glue lower-case names; writers may not).
pub fn find_field(schema: &Schema, name: &str) -> Option<usize> {
    let fields = schema.fields();
    fields
        .iter()
        .position(|f| f.name() == name)
        .or_else(|| fields.iter().position(|f| f.name().eq_ignore_ascii_case(name)))
}

impl ParquetFileScan {
    /// Plans reading `output` (the needed data columns, declared types) from a file whose footer
    /// is `metadata`.
    pub fn plan(object: Arc<ObjectFile>, metadata: Arc<ParquetMetaData>, output: SchemaRef) -> Result<ParquetFileScan> {
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let metadata = ArrowReaderMetadata::try_new(metadata, options)
            .map_err(|e| object.data_error(format!("unsupported Parquet schema: {e}")))?;
        let file_schema = metadata.schema().clone();
        let matched: Vec<Option<usize>> = output.fields().iter().map(|f| find_field(&file_schema, f.name())).collect();
        for (field, root) in output.fields().iter().zip(&matched) {
            if let Some(root) = root {
                let file_type = file_schema.field(*root).data_type();
                if !can_cast_types(file_type, field.data_type()) {
                    return Err(EngineError::Data {
                        file: object.url.clone(),
                        row: None,
                        column: Some(field.name().clone()),
                        message: format!("the file stores {file_type}, which cannot be read as {}", field.data_type()),
                    });
                }
            }
        }
        let mut roots: Vec<usize> = matched.iter().flatten().copied().collect();
        roots.sort_unstable();
        roots.dedup();
        let sources = matched.iter().map(|m| m.map(|root| roots.partition_point(|r| *r < root))).collect();
        let descr = metadata.metadata().file_metadata().schema_descr();
        let leaves: Vec<usize> = (0..descr.num_columns())
            .filter(|leaf| roots.binary_search(&descr.get_column_root_idx(*leaf)).is_ok())
            .collect();
        let mask = ProjectionMask::leaves(descr, leaves.iter().copied());
        Ok(ParquetFileScan { object, metadata, mask, leaves, sources, output })
    }

    pub fn object(&self) -> &Arc<ObjectFile> {
        &self.object
    }

    pub fn num_row_groups(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }

    pub fn row_group_rows(&self, row_group: usize) -> u64 {
        self.metadata.metadata().row_group(row_group).num_rows().max(0) as u64
    }

    /// The row groups that might hold matching rows. `data_fields` are all data columns of the
    /// table (declared types), which the pruner's column indices refer to.
    pub fn prune_row_groups(&self, pruner: &RowGroupPruner, data_fields: &[Field]) -> Vec<usize> {
        let n = self.num_row_groups();
        if pruner.is_empty() || n == 0 {
            return (0..n).collect();
        }
        let stats = |column: usize| self.column_statistics(data_fields.get(column)?);
        let keep = pruner.prune(n, &stats);
        (0..n).filter(|i| keep[*i]).collect()
    }

    /// Which rows of `row_groups` (in order, as the decoder counts them) the page index says
    /// might satisfy every one of `pruners`, with the pages considered and pruned. `None` when
    /// the file has no page index or no page can be skipped. Each filter column's pages are
    /// tested on their own (columns cut pages at different rows), and the row ranges of the
    /// surviving pages are intersected.
    pub fn page_selection(
        &self,
        row_groups: &[usize],
        pruners: &[&RowGroupPruner],
        data_fields: &[Field],
    ) -> Option<PageSelection> {
        let index = self.metadata.metadata().page_index()?;
        let mut columns: Vec<usize> = pruners.iter().flat_map(|p| p.columns()).collect();
        columns.sort_unstable();
        columns.dedup();
        let mut selectors = Vec::new();
        let (mut pages, mut pruned) = (0, 0);
        for &rg in row_groups {
            let rows = self.row_group_rows(rg) as usize;
            let mut selection = RowSelection::from(vec![RowSelector::select(rows)]);
            for &column in &columns {
                let Some(stats) = data_fields.get(column).and_then(|f| self.page_statistics(index.as_ref(), rg, f))
                else {
                    continue;
                };
                let counts: Vec<usize> = stats.row_counts.iter().map(|c| c.unwrap_or(0) as usize).collect();
                if counts.iter().sum::<usize>() != rows {
                    continue;
                }
                let lookup = |c: usize| (c == column).then(|| stats.clone());
                let mut keep = vec![true; counts.len()];
                for pruner in pruners {
                    for (k, m) in keep.iter_mut().zip(pruner.prune(counts.len(), &lookup)) {
                        *k &= m;
                    }
                }
                pages += counts.len() as u64;
                pruned += keep.iter().filter(|k| !**k).count() as u64;
                let column_selection: Vec<RowSelector> = counts
                    .iter()
                    .zip(&keep)
                    .map(|(&n, &k)| if k { RowSelector::select(n) } else { RowSelector::skip(n) })
                    .collect();
                selection = selection.intersection(&RowSelection::from(column_selection));
            }
            selectors.extend(selection.iter().copied());
        }
        (pruned > 0).then(|| PageSelection { rows: RowSelection::from(selectors), pages, pruned })
    }

    /// Per-page statistics of a declared column in one row group, in its declared type (as
    /// [`Self::column_statistics`] gives per row group).
    fn page_statistics(
        &self,
        index: &dyn parquet::file::metadata::page_index::PageIndexProvider,
        row_group: usize,
        declared: &Field,
    ) -> Option<ColumnStatistics> {
        let file_schema = self.metadata.schema();
        let root = find_field(file_schema, declared.name())?;
        let parquet = self.metadata.metadata();
        let descr = parquet.file_metadata().schema_descr();
        let converter = StatisticsConverter::try_new(file_schema.field(root).name(), file_schema, descr)
            .ok()?
            .with_missing_null_counts_as_zero(false)
            .with_column_orders(parquet.file_metadata().column_orders().map(|v| v.as_slice()));
        let groups = [row_group];
        let mins = converter.data_page_mins(index, groups.iter()).ok()?;
        let maxes = converter.data_page_maxes(index, groups.iter()).ok()?;
        Some(ColumnStatistics {
            mins: statistics_in_declared_type(&mins, declared.data_type())?,
            maxes: statistics_in_declared_type(&maxes, declared.data_type())?,
            null_counts: converter.data_page_null_counts(index, groups.iter()).ok()?,
            row_counts: converter.data_page_row_counts(index, parquet.row_groups(), groups.iter()).ok()??,
        })
    }

    /// Statistics of a declared column over all row groups, in its declared type, when usable.
    fn column_statistics(&self, declared: &Field) -> Option<ColumnStatistics> {
        let file_schema = self.metadata.schema();
        let root = find_field(file_schema, declared.name())?;
        let parquet = self.metadata.metadata();
        let descr = parquet.file_metadata().schema_descr();
        let converter = StatisticsConverter::try_new(file_schema.field(root).name(), file_schema, descr)
            .ok()?
            .with_missing_null_counts_as_zero(false)
            .with_column_orders(parquet.file_metadata().column_orders().map(|v| v.as_slice()));
        let groups = parquet.row_groups();
        let mins = converter.row_group_mins(groups).ok()?;
        let maxes = converter.row_group_maxes(groups).ok()?;
        Some(ColumnStatistics {
            mins: statistics_in_declared_type(&mins, declared.data_type())?,
            maxes: statistics_in_declared_type(&maxes, declared.data_type())?,
            null_counts: converter.row_group_null_counts(groups).ok()?,
            row_counts: converter.row_group_row_counts(groups).ok()??,
        })
    }

    /// The byte ranges of the column chunks `row_groups` need, checked against the file size.
    pub fn byte_ranges(&self, row_groups: &[usize]) -> Result<Vec<Range<u64>>> {
        let parquet = self.metadata.metadata();
        let mut ranges = Vec::with_capacity(row_groups.len() * self.leaves.len());
        for &rg in row_groups {
            let group = parquet.row_group(rg);
            for &leaf in &self.leaves {
                // Not `ColumnChunkMetaData::byte_range`, which panics on a negative offset or size.
                let chunk = group.column(leaf);
                let (start, len) =
                    (chunk.dictionary_page_offset().unwrap_or(chunk.data_page_offset()), chunk.compressed_size());
                let range = u64::try_from(start)
                    .ok()
                    .zip(u64::try_from(len).ok())
                    .and_then(|(start, len)| {
                        start.checked_add(len).filter(|end| *end <= self.object.size).map(|end| start..end)
                    })
                    .ok_or_else(|| {
                        self.object.data_error(format!(
                            "corrupt footer: column chunk at {start}+{len} lies outside the file ({} bytes)",
                            self.object.size
                        ))
                    })?;
                ranges.push(range);
            }
        }
        Ok(ranges)
    }

    /// Decodes `row_groups` from their prefetched column chunks into batches of the output schema.
    pub fn decode(
        &self,
        row_groups: &[usize],
        selection: Option<&RowSelection>,
        fetched: FetchedRanges,
        batch_size: usize,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        if self.leaves.is_empty() {
            return self.emit_row_counts(row_groups, batch_size, out);
        }
        let corrupt = |message: String| self.object.data_error(format!("corrupt Parquet data: {message}"));
        let built = catch_decoder_panic(AssertUnwindSafe(|| {
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(fetched, self.metadata.clone())
                .with_projection(self.mask.clone())
                .with_row_groups(row_groups.to_vec())
                .with_batch_size(batch_size.max(1));
            match selection {
                Some(selection) => builder.with_row_selection(selection.clone()).build(),
                None => builder.build(),
            }
        }));
        let mut reader = match built {
            Ok(Ok(reader)) => reader,
            Ok(Err(e)) => return Err(corrupt(e.to_string())),
            Err(_) => return Err(corrupt("the decoder failed".into())),
        };
        loop {
            let batch = match catch_decoder_panic(AssertUnwindSafe(|| reader.next())) {
                Ok(None) => return Ok(()),
                Ok(Some(Ok(batch))) => batch,
                Ok(Some(Err(e))) => return Err(corrupt(e.to_string())),
                Err(_) => return Err(corrupt("the decoder failed".into())),
            };
            out(self.to_declared_types(&batch)?)?;
        }
    }

    /// No data column needed (`COUNT(*)`, partition keys only): batches of row counts straight
    /// from the footer, without reading a byte.
    fn emit_row_counts(
        &self,
        row_groups: &[usize],
        batch_size: usize,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let mut remaining: u64 = row_groups.iter().map(|rg| self.row_group_rows(*rg)).sum();
        let batch_size = batch_size.max(1) as u64;
        while remaining > 0 {
            let rows = remaining.min(batch_size);
            let columns = self.output.fields().iter().map(|f| new_null_array(f.data_type(), rows as usize)).collect();
            let options = RecordBatchOptions::new().with_row_count(Some(rows as usize));
            out(RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?)?;
            remaining -= rows;
        }
        Ok(())
    }

    /// Casts a decoded batch to the declared types, with NULL columns for columns the file lacks.
    fn to_declared_types(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let options = CastOptions { safe: false, ..Default::default() };
        let columns = self
            .output
            .fields()
            .iter()
            .zip(&self.sources)
            .map(|(field, source)| -> Result<ArrayRef> {
                let Some(i) = source else { return Ok(new_null_array(field.data_type(), rows)) };
                let array = batch.column(*i);
                if array.data_type() == field.data_type() {
                    return Ok(array.clone());
                }
                cast_with_options(array, field.data_type(), &options).map_err(|e| EngineError::Data {
                    file: self.object.url.clone(),
                    row: None,
                    column: Some(field.name().clone()),
                    message: format!("cannot read {} as {}: {e}", array.data_type(), field.data_type()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?)
    }
}
