//! Parquet files of one scan: matching the table's declared columns to a file's columns by name
//! (case-insensitively; a column the file lacks reads as NULLs), pruning row groups with their
//! statistics, the byte ranges a morsel (a run of row groups) needs, and decoding those bytes into
//! batches of exactly the declared types.
//!
//! The decoder reads the file's Parquet types without the embedded Arrow schema, so strings
//! arrive as `Utf8` even from writers that hint `Utf8View`, and every column is then cast once
//! to its declared type (int32 read as bigint, millisecond or INT96 timestamps as microseconds).
//! The exception: string columns of which every page is dictionary-encoded are decoded as
//! dictionaries and turned into `Utf8` by [`crate::io::dictionary_strings`] (much cheaper than
//! the crate's per-row copy); those a pushed conjunct alone reads are first filtered per
//! dictionary value, so only the passing rows are turned into strings (see
//! [`crate::io::dictionary_filter`]).
//!
//! Untrusted input: the parquet crate can panic on some malformed files. Decoding runs under
//! [`catch_decoder_panic`], and a panic becomes a `Data` error naming the file instead of taking
//! the process down (or printing a panic message to the user's terminal).

use std::cell::Cell;
use std::collections::VecDeque;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::sync::Once;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::filter::prep_null_mask_filter;
use arrow::compute::{can_cast_types, cast_with_options, concat, filter, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelectionPolicy, RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::basic::Encoding;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};

use crate::error::{EngineError, Result};
use crate::io::dictionary_filter::{dictionary_type, expand_mask, DictionaryFilter, DictionaryMasks};
use crate::io::dictionary_strings::{dictionary_to_utf8, is_string_dictionary};
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
    /// The footer with the file's own Arrow types (statistics and column matching use it).
    metadata: ArrowReaderMetadata,
    /// The footer the decoder reads with: `metadata`, but with the string columns in
    /// `dictionary_columns` typed `Dictionary(Int32, Utf8)`.
    read_metadata: ArrowReaderMetadata,
    /// Output columns decoded as dictionaries (fully dictionary-encoded `Utf8` columns), ascending.
    dictionary_columns: Vec<usize>,
    mask: ProjectionMask,
    /// Leaf columns read, for the byte ranges of a morsel.
    leaves: Vec<usize>,
    /// For each output column, its position in the decoded batch (`None`: not in this file).
    sources: Vec<Option<usize>>,
    /// The needed data columns in declared types.
    output: SchemaRef,
    /// Dictionary filtering of this file, when some pushed conjunct qualifies.
    dictionary: Option<DictionaryRead>,
}

/// Which of a file's dictionary-decoded string columns pushed conjuncts filter per value (see
/// [`crate::io::dictionary_filter`]).
#[derive(Debug)]
struct DictionaryRead {
    /// Output columns filtered per dictionary value, ascending.
    columns: Vec<usize>,
    /// Positions of the pushed conjuncts evaluated per dictionary value, ascending.
    conjuncts: Vec<usize>,
    filter: Arc<DictionaryFilter>,
}

/// Whether every data page of a column chunk is dictionary-encoded (read from the footer's page
/// encoding statistics; without them the chunk may fall back to plain pages part-way, and the
/// decoder would then build a dictionary by hashing every value).
fn fully_dictionary_encoded(chunk: &ColumnChunkMetaData) -> bool {
    let dictionary = |e: Encoding| matches!(e, Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY);
    chunk.dictionary_page_offset().is_some()
        && match (chunk.page_encoding_stats_mask(), chunk.page_encoding_stats()) {
            (Some(mask), _) => mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY),
            (None, Some(stats)) => stats
                .iter()
                .filter(|s| !matches!(s.page_type, parquet::basic::PageType::DICTIONARY_PAGE))
                .all(|s| dictionary(s.encoding)),
            (None, None) => false,
        }
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
        let (read_metadata, dictionary_columns) = read_types(&metadata, &output, &matched);
        Ok(ParquetFileScan {
            object,
            metadata,
            read_metadata,
            dictionary_columns,
            mask,
            leaves,
            sources,
            output,
            dictionary: None,
        })
    }

    /// Evaluates the conjuncts of `filter` per dictionary value on the string columns this file
    /// decodes as dictionaries (every data page of every row group dictionary-encoded); the
    /// other conjuncts (and files) keep the row path.
    pub fn with_dictionary_filter(mut self, filter: &Arc<DictionaryFilter>) -> ParquetFileScan {
        let columns: Vec<usize> =
            filter.columns().into_iter().filter(|c| self.dictionary_columns.binary_search(c).is_ok()).collect();
        if !columns.is_empty() {
            let conjuncts = filter.over(&columns).map(|p| p.conjunct).collect();
            self.dictionary = Some(DictionaryRead { columns, conjuncts, filter: filter.clone() });
        }
        self
    }

    /// The output columns this file decodes as dictionaries (and gathers into `Utf8`).
    pub fn dictionary_columns(&self) -> &[usize] {
        &self.dictionary_columns
    }

    /// The pushed conjuncts this file's decoders already apply per dictionary value (positions
    /// among the scan's filters): the caller must not evaluate them again.
    pub fn dictionary_conjuncts(&self) -> &[usize] {
        self.dictionary.as_ref().map_or(&[], |d| d.conjuncts.as_slice())
    }

    /// The dictionary masks of one decode, when this file reads columns as dictionaries.
    fn dictionary_masks(&self) -> Option<DictionaryMasks<'_>> {
        let read = self.dictionary.as_ref()?;
        Some(DictionaryMasks::new(&read.filter, &read.columns)).filter(|m| !m.is_empty())
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
        let parquet = self.metadata.metadata();
        let converter = self.statistics_converter(declared)?;
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

    /// The reader of a declared column's footer and page-index statistics: the file's column
    /// of that name (as [`find_field`] matches it), NULL counts only when the file wrote them.
    fn statistics_converter(&self, declared: &Field) -> Option<StatisticsConverter<'_>> {
        let file_schema = self.metadata.schema();
        let root = find_field(file_schema, declared.name())?;
        let parquet = self.metadata.metadata();
        let descr = parquet.file_metadata().schema_descr();
        Some(
            StatisticsConverter::try_new(file_schema.field(root).name(), file_schema, descr)
                .ok()?
                .with_missing_null_counts_as_zero(false)
                .with_column_orders(parquet.file_metadata().column_orders().map(|v| v.as_slice())),
        )
    }

    /// Statistics of a declared column over all row groups, in its declared type, when usable.
    fn column_statistics(&self, declared: &Field) -> Option<ColumnStatistics> {
        let parquet = self.metadata.metadata();
        let converter = self.statistics_converter(declared)?;
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

    /// Decodes `row_groups` from their prefetched column chunks into batches of the output
    /// schema. Returns the rows decoded but dropped by dictionary filtering (see
    /// [`Self::dictionary_conjuncts`]): `out` sees only the rows that passed those conjuncts.
    /// With `narrow`, declared `Decimal128` columns may arrive as `Decimal32`/`Decimal64` of the
    /// same precision and scale, for the caller to widen with [`widen_decimal`] once it has
    /// dropped the rows its filters reject.
    pub fn decode(
        &self,
        row_groups: &[usize],
        selection: Option<&RowSelection>,
        fetched: FetchedRanges,
        batch_size: usize,
        narrow: bool,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        if self.leaves.is_empty() {
            self.emit_row_counts(row_groups, batch_size, out)?;
            return Ok(0);
        }
        let read = FileRead { mask: self.mask.clone(), selection: selection.cloned(), policy: None };
        let mut reader = self.reader(fetched, row_groups, read, batch_size)?;
        let mut masks = self.dictionary_masks();
        let mut dropped = 0;
        while let Some(mut batch) = self.next_batch(&mut reader)? {
            if let Some(masks) = masks.as_mut() {
                let position = |column: usize| self.sources.get(column).copied().flatten();
                if let Some(mask) = masks.mask(&batch, &position)? {
                    let passing = mask.true_count();
                    dropped += (batch.num_rows() - passing) as u64;
                    if passing == 0 {
                        continue;
                    }
                    if passing < batch.num_rows() {
                        batch = arrow::compute::filter_record_batch(&batch, &mask)?;
                    }
                }
            }
            out(self.to_declared_types(&batch, narrow)?)?;
        }
        Ok(dropped)
    }

    /// Whether [`Self::decode_late`] can split this file's columns at `filter_columns` (per
    /// output column, whether the filters read it): both phases must read some column the file
    /// has, or there is nothing to gain (and no row count to decode the first phase by).
    pub fn can_decode_late(&self, filter_columns: &[bool]) -> bool {
        let in_file =
            |filter: bool| self.sources.iter().zip(filter_columns).any(|(source, f)| source.is_some() && *f == filter);
        in_file(true) && in_file(false)
    }

    /// Late materialisation: decodes the columns the filters read (`filter_columns`, per output
    /// column), asks `keep` which rows pass, then decodes the other columns only for those rows
    /// and emits whole batches of the output schema holding just the passing rows. `keep` sees
    /// batches of the output schema in which the other columns are NULL placeholders; its mask
    /// (`None`: every row passes; NULL: the row fails) is final, so `out` must not filter again.
    ///
    /// With dictionary filtering the first phase applies [`Self::dictionary_conjuncts`] itself:
    /// `keep` sees only the rows that passed them and must not evaluate them again.
    ///
    /// The second phase skips the rows that failed instead of decoding them (a page no passing
    /// row falls in is not even decompressed), which is where a selective filter saves most of
    /// the decoding work; the filter columns are decoded only once.
    #[allow(clippy::too_many_arguments)]
    pub fn decode_late(
        &self,
        row_groups: &[usize],
        selection: Option<&RowSelection>,
        fetched: FetchedRanges,
        batch_size: usize,
        filter_columns: &[bool],
        keep: &mut dyn FnMut(&RecordBatch) -> Result<Option<BooleanArray>>,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<LateCounts> {
        let batch_size = batch_size.max(1);
        let first = self.phase(filter_columns, true);
        let second = self.phase(filter_columns, false);
        let mut counts = LateCounts::default();

        // Phase 1: the filter columns, every row the page index leaves.
        let read = FileRead { mask: first.mask.clone(), selection: selection.cloned(), policy: None };
        let mut reader = self.reader(fetched.clone(), row_groups, read, batch_size)?;
        let mut placeholders: Vec<Option<ArrayRef>> = vec![None; self.sources.len()];
        let mut masks: Vec<BooleanArray> = Vec::new();
        let mut passed: VecDeque<Vec<ArrayRef>> = VecDeque::new();
        let mut selected = 0;
        let mut dictionary = self.dictionary_masks();
        while let Some(batch) = self.next_batch(&mut reader)? {
            counts.filter_rows += batch.num_rows() as u64;
            // Dictionary filtering first: only its passing rows are cast and shown to `keep`,
            // and `keep`'s verdicts are spread back over the decoded rows.
            let mut outer: Option<BooleanArray> = None;
            let batch = match dictionary.as_mut() {
                Some(dictionary) => {
                    let position = |column: usize| first.positions.get(column).copied().flatten();
                    match dictionary.mask(&batch, &position)? {
                        Some(mask) if mask.true_count() == 0 => {
                            counts.dictionary_filtered += mask.len() as u64;
                            masks.push(mask);
                            continue;
                        }
                        Some(mask) if mask.true_count() < mask.len() => {
                            counts.dictionary_filtered += (mask.len() - mask.true_count()) as u64;
                            let kept = arrow::compute::filter_record_batch(&batch, &mask)?;
                            outer = Some(mask);
                            kept
                        }
                        _ => batch,
                    }
                }
                None => batch,
            };
            let rows = batch.num_rows();
            let mut columns = Vec::with_capacity(self.sources.len());
            for (i, field) in self.output.fields().iter().enumerate() {
                let column = match first.positions[i] {
                    Some(position) => self.cast_column(field, batch.column(position))?,
                    None if filter_columns[i] => new_null_array(field.data_type(), rows),
                    None => placeholder(&mut placeholders[i], field, rows, batch_size),
                };
                columns.push(column);
            }
            let options = RecordBatchOptions::new().with_row_count(Some(rows));
            let data = RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?;
            let mask = match keep(&data)? {
                Some(mask) if mask.null_count() > 0 => prep_null_mask_filter(&mask),
                Some(mask) => mask,
                None => BooleanArray::from(BooleanBuffer::new_set(rows)),
            };
            let passing = mask.true_count();
            if passing > 0 {
                let kept = (0..self.sources.len()).filter(|i| filter_columns[*i]).map(|i| data.column(i));
                let kept = match passing == rows {
                    true => kept.cloned().collect(),
                    false => kept.map(|c| filter(c, &mask)).collect::<std::result::Result<Vec<_>, _>>()?,
                };
                passed.push_back(kept);
            }
            selected += passing;
            masks.push(match &outer {
                Some(outer) => expand_mask(outer, &mask),
                None => mask,
            });
        }
        if selected == 0 {
            return Ok(counts);
        }

        // Phase 2: the other columns, only the rows that passed.
        let passing = RowSelection::from_filters(&masks);
        let total = passing.row_count() + passing.skipped_row_count();
        let rows = match selection {
            Some(pages) => pages.and_then(&passing),
            None => passing,
        };
        // The crate's default policy decodes whole runs and filters afterwards when runs are
        // short, which is what a scattered, selective filter gives; skip the failing rows then.
        let policy = (selected * SKIP_BELOW_DENOMINATOR < total).then_some(RowSelectionPolicy::Selectors);
        let read = FileRead { mask: second.mask.clone(), selection: Some(rows), policy };
        let mut reader = self.reader(fetched, row_groups, read, batch_size)?;
        while let Some(batch) = self.next_batch(&mut reader)? {
            let rows = batch.num_rows();
            counts.late_rows += rows as u64;
            let mut filtered = take_rows(&mut passed, rows)?.into_iter();
            let mut columns = Vec::with_capacity(self.sources.len());
            for (i, field) in self.output.fields().iter().enumerate() {
                let column = match (filter_columns[i], second.positions[i]) {
                    (true, _) => filtered.next().ok_or_else(|| misaligned(&self.object))?,
                    (false, Some(position)) => self.cast_column(field, batch.column(position))?,
                    (false, None) => new_null_array(field.data_type(), rows),
                };
                columns.push(column);
            }
            let options = RecordBatchOptions::new().with_row_count(Some(rows));
            out(RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?)?;
        }
        if passed.iter().any(|p| p.first().is_some_and(|c| !c.is_empty())) {
            return Err(misaligned(&self.object));
        }
        Ok(counts)
    }

    /// The file columns one phase of [`Self::decode_late`] reads: the output columns whose
    /// `filter_columns` entry is `filter`.
    fn phase(&self, filter_columns: &[bool], filter: bool) -> Phase {
        let file_schema = self.metadata.schema();
        let roots_of = |wanted: bool| -> Vec<usize> {
            let mut roots: Vec<usize> = (0..self.sources.len())
                .filter(|i| filter_columns[*i] == wanted)
                .filter_map(|i| find_field(file_schema, self.output.field(i).name()))
                .collect();
            roots.sort_unstable();
            roots.dedup();
            roots
        };
        let roots = roots_of(filter);
        let positions = (0..self.sources.len())
            .map(|i| {
                let root = find_field(file_schema, self.output.field(i).name())?;
                (filter_columns[i] == filter).then(|| roots.partition_point(|r| *r < root))
            })
            .collect();
        let descr = self.metadata.metadata().file_metadata().schema_descr();
        Phase { mask: ProjectionMask::roots(descr, roots), positions }
    }

    /// A decoder of `row_groups` over the prefetched bytes; the parquet crate's panics become
    /// errors naming the file.
    fn reader(
        &self,
        fetched: FetchedRanges,
        row_groups: &[usize],
        read: FileRead,
        batch_size: usize,
    ) -> Result<ParquetRecordBatchReader> {
        let built = catch_decoder_panic(AssertUnwindSafe(|| {
            let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(fetched, self.read_metadata.clone())
                .with_projection(read.mask)
                .with_row_groups(row_groups.to_vec())
                .with_batch_size(batch_size.max(1));
            if let Some(policy) = read.policy {
                builder = builder.with_row_selection_policy(policy);
            }
            match read.selection {
                Some(selection) => builder.with_row_selection(selection).build(),
                None => builder.build(),
            }
        }));
        match built {
            Ok(Ok(reader)) => Ok(reader),
            Ok(Err(e)) => Err(self.corrupt(e.to_string())),
            Err(_) => Err(self.corrupt("the decoder failed".into())),
        }
    }

    /// The next decoded batch, with the decoder's panics caught.
    fn next_batch(&self, reader: &mut ParquetRecordBatchReader) -> Result<Option<RecordBatch>> {
        match catch_decoder_panic(AssertUnwindSafe(|| reader.next())) {
            Ok(None) => Ok(None),
            Ok(Some(Ok(batch))) => Ok(Some(batch)),
            Ok(Some(Err(e))) => Err(self.corrupt(e.to_string())),
            Err(_) => Err(self.corrupt("the decoder failed".into())),
        }
    }

    fn corrupt(&self, message: String) -> EngineError {
        self.object.data_error(format!("corrupt Parquet data: {message}"))
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

    /// Casts a decoded batch to the declared types, with NULL columns for columns the file lacks;
    /// with `narrow`, decimals the decoder left narrow stay so (see [`widen_decimal`]) and the
    /// batch's schema says so.
    fn to_declared_types(&self, batch: &RecordBatch, narrow: bool) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns = self
            .output
            .fields()
            .iter()
            .zip(&self.sources)
            .map(|(field, source)| match source {
                Some(i) if narrow && is_narrow_decimal(batch.column(*i).data_type(), field.data_type()) => {
                    Ok(batch.column(*i).clone())
                }
                Some(i) => self.cast_column(field, batch.column(*i)),
                None => Ok(new_null_array(field.data_type(), rows)),
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(schema_of(&self.output, &columns), columns, &options)?)
    }

    /// One decoded column in the declared type of `field`.
    fn cast_column(&self, field: &Field, array: &ArrayRef) -> Result<ArrayRef> {
        if array.data_type() == field.data_type() {
            return Ok(array.clone());
        }
        if let Some(widened) = widen_decimal(array, field.data_type()) {
            return widened;
        }
        if field.data_type() == &DataType::Utf8 && is_string_dictionary(array.data_type()) {
            if let Some(dictionary) = array.as_dictionary_opt::<arrow::datatypes::Int32Type>() {
                return dictionary_to_utf8(dictionary).map_err(|e| EngineError::Data {
                    file: self.object.url.clone(),
                    row: None,
                    column: Some(field.name().clone()),
                    message: e.to_string(),
                });
            }
        }
        let options = CastOptions { safe: false, ..Default::default() };
        cast_with_options(array, field.data_type(), &options).map_err(|e| EngineError::Data {
            file: self.object.url.clone(),
            row: None,
            column: Some(field.name().clone()),
            message: format!("cannot read {} as {}: {e}", array.data_type(), field.data_type()),
        })
    }
}

/// The footer to decode with, reading as `Dictionary(Int32, Utf8)` every output column
/// declared `Utf8` that the file stores as `Utf8` in one leaf whose data pages are all
/// dictionary-encoded in every row group (a chunk that falls back to plain pages part-way
/// would make the decoder build a dictionary by hashing every value), and as `Decimal32` or
/// `Decimal64` every declared `Decimal128` the file stores in INT32 or INT64 with the same
/// precision and scale (see [`widen_decimal`]); with the dictionary columns, ascending.
/// `matched` is each output column's root in the file.
fn read_types(
    metadata: &ArrowReaderMetadata,
    output: &Schema,
    matched: &[Option<usize>],
) -> (ArrowReaderMetadata, Vec<usize>) {
    let file_schema = metadata.schema();
    let parquet = metadata.metadata();
    let descr = parquet.file_metadata().schema_descr();
    let mut fields: Vec<Field> = file_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = Vec::new();
    let mut narrowed = false;
    for (column, (field, root)) in output.fields().iter().zip(matched).enumerate() {
        let Some(root) = *root else { continue };
        let leaves: Vec<usize> =
            (0..descr.num_columns()).filter(|leaf| descr.get_column_root_idx(*leaf) == root).collect();
        let [leaf] = leaves[..] else { continue };
        match (field.data_type(), fields[root].data_type()) {
            (DataType::Utf8, DataType::Utf8)
                if parquet.row_groups().iter().all(|rg| fully_dictionary_encoded(rg.column(leaf))) =>
            {
                fields[root] = fields[root].clone().with_data_type(dictionary_type());
                columns.push(column);
            }
            (DataType::Decimal128(p, s), DataType::Decimal128(fp, fs)) if (p, s) == (fp, fs) => {
                let narrow = match descr.column(leaf).physical_type() {
                    parquet::basic::Type::INT32 => DataType::Decimal32(*p, *s),
                    parquet::basic::Type::INT64 => DataType::Decimal64(*p, *s),
                    _ => continue,
                };
                fields[root] = fields[root].clone().with_data_type(narrow);
                narrowed = true;
            }
            _ => {}
        }
    }
    if columns.is_empty() && !narrowed {
        return (metadata.clone(), columns);
    }
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    match ArrowReaderMetadata::try_new(parquet.clone(), options) {
        Ok(read) => (read, columns),
        Err(_) => (metadata.clone(), Vec::new()),
    }
}

/// `array` widened to `declared` when it is a decimal the decoder left in the file's narrow
/// integer (`Decimal32`/`Decimal64` of the declared precision and scale standing for a
/// declared `Decimal128`); `None` for any other array. The crate would widen every decoded
/// row to 16 bytes; left narrow, a scan widens only the rows that survive its filters.
pub fn widen_decimal(array: &ArrayRef, declared: &DataType) -> Option<Result<ArrayRef>> {
    use arrow::datatypes::{Decimal128Type, Decimal32Type, Decimal64Type};
    let DataType::Decimal128(p, s) = declared else { return None };
    let widened = match array.data_type() {
        DataType::Decimal64(ap, as_) if (ap, as_) == (p, s) => {
            array.as_primitive::<Decimal64Type>().unary::<_, Decimal128Type>(|v| v as i128)
        }
        DataType::Decimal32(ap, as_) if (ap, as_) == (p, s) => {
            array.as_primitive::<Decimal32Type>().unary::<_, Decimal128Type>(|v| v as i128)
        }
        _ => return None,
    };
    Some(widened.with_precision_and_scale(*p, *s).map(|a| Arc::new(a) as ArrayRef).map_err(EngineError::from))
}

/// Whether a decoded column of type `decoded` is a narrow decimal standing for `declared` (see
/// [`widen_decimal`]).
pub fn is_narrow_decimal(decoded: &DataType, declared: &DataType) -> bool {
    match (decoded, declared) {
        (DataType::Decimal32(p, s) | DataType::Decimal64(p, s), DataType::Decimal128(dp, ds)) => (p, s) == (dp, ds),
        _ => false,
    }
}

/// `schema` with each field's type replaced by its column's (the same `Arc` when all agree).
pub fn schema_of(schema: &SchemaRef, columns: &[ArrayRef]) -> SchemaRef {
    if schema.fields().iter().zip(columns).all(|(f, c)| f.data_type() == c.data_type()) {
        return schema.clone();
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Below one passing row in this many, the second phase of a late decode skips the failing rows
/// one run at a time rather than decoding whole runs and filtering them.
const SKIP_BELOW_DENOMINATOR: usize = 4;

/// Rows each phase of a late decode decoded, for `EXPLAIN ANALYZE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LateCounts {
    /// Rows of the filter columns decoded (every row the page index left).
    pub filter_rows: u64,
    /// Rows of the other columns decoded (those that passed the filters).
    pub late_rows: u64,
    /// Rows of the filter columns dropped by dictionary filtering (counted in `filter_rows` too).
    pub dictionary_filtered: u64,
}

/// What one decoder reads: which columns, which rows, and how it skips the others.
struct FileRead {
    mask: ProjectionMask,
    selection: Option<RowSelection>,
    policy: Option<RowSelectionPolicy>,
}

/// One phase of a late decode: the file columns it reads, and for each output column its
/// position in the decoded batch (`None`: not read in this phase, or not in the file).
struct Phase {
    mask: ProjectionMask,
    positions: Vec<Option<usize>>,
}

/// A NULL column of `rows` rows standing in for a column the filters do not read: one array per
/// column and decode, sliced per batch.
fn placeholder(cache: &mut Option<ArrayRef>, field: &Field, rows: usize, batch_size: usize) -> ArrayRef {
    let full = cache.get_or_insert_with(|| new_null_array(field.data_type(), batch_size.max(rows)));
    if full.len() < rows {
        *full = new_null_array(field.data_type(), rows);
    }
    full.slice(0, rows)
}

/// The next `rows` passing rows of the filter columns, from the front of `passed` (one entry per
/// first-phase batch that had passing rows).
fn take_rows(passed: &mut VecDeque<Vec<ArrayRef>>, rows: usize) -> Result<Vec<ArrayRef>> {
    let mut parts: Vec<Vec<ArrayRef>> = Vec::new();
    let mut needed = rows;
    while needed > 0 {
        let Some(front) = passed.front_mut() else {
            return Err(EngineError::execution("late decode: fewer passing rows than decoded rows"));
        };
        let available = front.first().map_or(0, |c| c.len());
        if available <= needed {
            needed -= available;
            parts.extend(passed.pop_front());
        } else {
            parts.push(front.iter().map(|c| c.slice(0, needed)).collect());
            *front = front.iter().map(|c| c.slice(needed, available - needed)).collect();
            needed = 0;
        }
    }
    if parts.len() == 1 {
        return Ok(parts.pop().unwrap_or_default());
    }
    let width = parts.first().map_or(0, Vec::len);
    (0..width)
        .map(|c| {
            let arrays: Vec<&dyn Array> = parts.iter().map(|p| p[c].as_ref()).collect();
            Ok(concat(&arrays)?)
        })
        .collect()
}

fn misaligned(object: &ObjectFile) -> EngineError {
    object.data_error("corrupt Parquet data: the columns of a row group hold different row counts".to_string())
}
