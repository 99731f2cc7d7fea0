//! The table scan source: lists a table's files when opened, plans morsels (Parquet row-group
//! runs pruned by statistics, whole text files), prefetches their bytes on the I/O runtime and
//! decodes them on the workers into batches of the scan's projected schema, with partition keys
//! filled in as constants and the pushed-down filters applied exactly. Runtime filters from
//! joins above (see `runtime_pruning`) prune partitions and row groups and drop rows too.

use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::{and, cast_with_options, filter_record_batch, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use futures::{FutureExt, StreamExt, TryStreamExt};
use parquet::arrow::arrow_reader::RowSelection;
use parquet::file::metadata::ParquetMetaData;
use tarn_catalog::{DataFormat, HIVE_DEFAULT_PARTITION};

use crate::error::{EngineError, Result};
use crate::exec::runtime_filter::RuntimeFilter;
use crate::exec::{ExecContext, Morsels, Source};
use crate::expr::planner::create_physical_expr;
use crate::expr::{ColumnarValue, PhysicalExprRef};
use crate::io::bloom::{self, BloomProbes};
use crate::io::csv_dialect::CsvDialect;
use crate::io::csv_scan::CsvDecoder;
use crate::io::dictionary_filter::DictionaryFilter;
use crate::io::fetched_ranges::FetchedRanges;
use crate::io::listing::{list_table_files, ScanFile};
use crate::io::metrics::{ScanBudget, ScanMetrics};
use crate::io::object_reader::ObjectReader;
use crate::io::parquet_scan::{schema_of, widen_decimal, ParquetFileScan};
use crate::io::prefetch::{FetchFn, Prefetcher};
use crate::io::pruning::RowGroupPruner;
use crate::io::runtime::block_on_io;
use crate::io::runtime_pruning::{RuntimeRestriction, ScanColumns};
use crate::plan::{Expr, ScalarValue, TableScan};

/// Footers read at once when opening a Parquet scan.
const FOOTER_CONCURRENCY: usize = 32;

/// Tuning of a scan's morsels and prefetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Consecutive Parquet row groups are merged into one morsel until it has this many rows, so
    /// files of tiny row groups do not cost one request and one task per group.
    pub min_morsel_rows: u64,
    /// Morsels fetched ahead of the workers; `None` means twice the worker count.
    pub prefetch_window: Option<usize>,
    /// Parquet scans with filters decode the columns the filters read first and the other
    /// columns only for the rows that pass (late materialisation). Off: every column is decoded
    /// for every row and filtered afterwards (tests compare the two).
    pub late_materialisation: bool,
    /// Parquet string columns a pushed conjunct alone reads are decoded as dictionaries and
    /// the conjunct evaluated once per distinct value (see `dictionary_filter`). Off: decoded
    /// as strings and evaluated per row (tests compare the two).
    pub dictionary_filtering: bool,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            min_morsel_rows: 65_536,
            prefetch_window: None,
            late_materialisation: true,
            dictionary_filtering: true,
        }
    }
}

/// How the scan reads the table's format.
#[derive(Debug, Clone)]
enum FormatReader {
    Parquet,
    Csv(Arc<CsvDecoder>),
}

/// A scan of one catalog table, as the optimizer left it.
pub struct TableScanSource {
    scan: TableScan,
    options: ScanOptions,
    /// Data columns of the table with their declared types.
    data_fields: Vec<Field>,
    /// Table columns read (projection and filter columns), ascending.
    read_columns: Vec<usize>,
    /// `table_schema` restricted to `read_columns`: what decoding plus partition constants build.
    read_schema: SchemaRef,
    /// Needed data columns in declared types: what the format decoders emit.
    data_schema: SchemaRef,
    /// The filters over `read_schema`.
    filters: Vec<Expr>,
    /// Positions in `read_schema` of the output columns.
    output_columns: Vec<usize>,
    pruner: RowGroupPruner,
    /// The equality and IN conjuncts bloom filters can answer.
    bloom: BloomProbes,
    format: FormatReader,
    metrics: Arc<ScanMetrics>,
    /// Files listed by the last `open`, for `describe`.
    listed_files: Mutex<Option<usize>>,
    /// Filters joins above this scan publish before it opens.
    runtime_filters: Vec<Arc<RuntimeFilter>>,
}

impl TableScanSource {
    pub fn new(scan: &TableScan) -> Result<TableScanSource> {
        TableScanSource::with_options(scan, ScanOptions::default())
    }

    pub fn with_options(scan: &TableScan, options: ScanOptions) -> Result<TableScanSource> {
        let table = &scan.table;
        let table_schema = &scan.table_schema;
        let data_count = table.storage.columns.len();
        if table_schema.fields().len() != data_count + table.partition_keys.len() {
            return Err(EngineError::execution(format!(
                "scan of {}.{}: table schema has {} columns, the table {}",
                table.database,
                table.name,
                table_schema.fields().len(),
                data_count + table.partition_keys.len()
            )));
        }
        let mut read_columns = scan.projection.clone();
        for filter in &scan.filters {
            filter.collect_columns(&mut read_columns);
        }
        read_columns.sort_unstable();
        read_columns.dedup();
        let read_schema =
            Arc::new(Schema::new(read_columns.iter().map(|&i| table_schema.field(i).clone()).collect::<Vec<_>>()));
        // Every projected and filter column is in `read_columns` (built from them just above),
        // so the search always finds it.
        let position = |i: usize| read_columns.binary_search(&i).unwrap_or_default();
        let filters = scan.filters.iter().map(|f| f.clone().remap_columns(&position)).collect();
        let output_columns = scan.projection.iter().map(|&i| position(i)).collect();
        let data_fields: Vec<Field> = table_schema.fields()[..data_count].iter().map(|f| f.as_ref().clone()).collect();
        let data_needed: Vec<usize> = read_columns.iter().copied().filter(|&i| i < data_count).collect();
        let data_schema =
            Arc::new(Schema::new(data_needed.iter().map(|&i| data_fields[i].clone()).collect::<Vec<_>>()));
        let format = match table.storage.format {
            DataFormat::Parquet => FormatReader::Parquet,
            DataFormat::Csv => {
                let dialect = CsvDialect::from_serde(&table.storage.serde_parameters)?;
                FormatReader::Csv(Arc::new(CsvDecoder::new(dialect, &data_fields, &data_needed)?))
            }
            DataFormat::Json => {
                return Err(EngineError::Unsupported(format!(
                    "reading JSON tables ({}.{}) is not supported yet",
                    table.database, table.name
                )))
            }
        };
        Ok(TableScanSource {
            scan: scan.clone(),
            options,
            pruner: RowGroupPruner::new(&scan.filters, table_schema, data_count),
            bloom: BloomProbes::new(&scan.filters, &data_fields),
            data_fields,
            read_columns,
            read_schema,
            data_schema,
            filters,
            output_columns,
            format,
            metrics: Arc::new(ScanMetrics::default()),
            listed_files: Mutex::new(None),
            runtime_filters: Vec::new(),
        })
    }

    /// Adds runtime filters (each over a column of `table_schema`), read when the scan opens.
    pub fn with_runtime_filters(mut self, filters: Vec<Arc<RuntimeFilter>>) -> TableScanSource {
        self.runtime_filters.extend(filters);
        self
    }

    /// The scan's I/O and pruning counters (cumulative over its executions).
    pub fn metrics(&self) -> &Arc<ScanMetrics> {
        &self.metrics
    }

    /// Each scan partition's key values as typed scalars, in `read_columns` order of the keys read.
    fn partition_constants(&self) -> Result<Vec<Vec<ScalarValue>>> {
        let data_count = self.data_fields.len();
        let keys: Vec<usize> = self.read_columns.iter().copied().filter(|&i| i >= data_count).collect();
        self.scan
            .partitions
            .iter()
            .map(|p| {
                keys.iter()
                    .map(|&k| {
                        let field = self.scan.table_schema.field(k);
                        let text = p.values.get(k - data_count).map(String::as_str);
                        partition_value(text, field).map_err(|message| EngineError::Data {
                            file: p.location.clone(),
                            row: None,
                            column: Some(field.name().clone()),
                            message,
                        })
                    })
                    .collect()
            })
            .collect()
    }
}

/// A partition value from its Hive folder spelling: percent-escapes decoded (Hive escapes `:`,
/// `/`, `=` and others in folder names), `__HIVE_DEFAULT_PARTITION__` as NULL, then cast from
/// text to the key's type.
pub fn partition_value(text: Option<&str>, field: &Field) -> std::result::Result<ScalarValue, String> {
    let null = || ScalarValue::null_of(field.data_type()).map_err(|e| e.to_string());
    let Some(text) = text.filter(|t| *t != HIVE_DEFAULT_PARTITION) else { return null() };
    let decoded = unescape_path_name(text);
    let array: ArrayRef = Arc::new(StringArray::from(vec![decoded.as_str()]));
    let options = CastOptions { safe: false, ..Default::default() };
    let typed = cast_with_options(&array, field.data_type(), &options)
        .map_err(|_| format!("partition value '{decoded}' is not a valid {}", field.data_type()))?;
    ScalarValue::try_from_array(&typed, 0).map_err(|e| e.to_string())
}

/// Hive's `FileUtils.unescapePathName`: `%XX` hex escapes back to their characters.
fn unescape_path_name(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

impl Source for TableScanSource {
    fn schema(&self) -> SchemaRef {
        self.scan.schema.clone()
    }

    fn open(&self, ctx: &ExecContext) -> Result<Box<dyn Morsels>> {
        let columns = ScanColumns {
            table_schema: &self.scan.table_schema,
            data_count: self.data_fields.len(),
            read_columns: &self.read_columns,
            read_schema: &self.read_schema,
        };
        let runtime = RuntimeRestriction::new(&self.runtime_filters, &columns, &ctx.functions)?;
        ScanMetrics::add(&self.metrics.runtime_filters, runtime.published as u64);
        let constants = self.partition_constants()?;
        let table = self.scan.table.clone();
        let partitions = self.scan.partitions.clone();
        let catalog = ctx.catalog.clone();
        let stores = ctx.stores.clone();
        let files =
            block_on_io(&ctx.io, async move { list_table_files(&table, &partitions, &catalog, &stores).await })??;
        *self.listed_files.lock().unwrap_or_else(|p| p.into_inner()) = Some(files.len());
        ScanMetrics::add(&self.metrics.files, files.len() as u64);
        let files = self.runtime_kept_files(files, &runtime)?;
        let filters = self
            .filters
            .iter()
            .map(|f| create_physical_expr(f, &self.read_schema, &ctx.functions))
            .collect::<Result<Vec<_>>>()?;
        let morsels = match &self.format {
            FormatReader::Parquet => {
                let dictionary = match self.options.dictionary_filtering {
                    true => {
                        let data_columns = self.read_columns.iter().filter(|&&c| c < self.data_fields.len()).count();
                        DictionaryFilter::new(&self.filters, &self.read_schema, data_columns, &ctx.functions)
                    }
                    false => DictionaryFilter::default(),
                };
                self.plan_parquet(ctx, &files, &runtime.pruner, Arc::new(dictionary))?
            }
            FormatReader::Csv(_) => files
                .iter()
                .cloned()
                .map(|file| Morsel { file, row_groups: Vec::new(), parquet: None, selection: None })
                .collect(),
        };
        let late = self.late_columns();
        let position = |column: &usize| self.read_columns.binary_search(column).ok();
        let runtime_columns = self.runtime_filters.iter().filter_map(|f| position(&f.column)).collect();
        let filter_columns = self
            .filters
            .iter()
            .map(|f| {
                let mut columns = Vec::new();
                f.collect_columns(&mut columns);
                columns
            })
            .collect();
        let morsels = Arc::new(morsels);
        let window = self.options.prefetch_window.unwrap_or_else(|| 2 * rayon::current_num_threads());
        let fetch = fetch_fn(morsels.clone(), self.metrics.clone(), ctx.scan_budget.clone(), self.label());
        Ok(Box::new(OpenedScan {
            prefetcher: Prefetcher::start(ctx.io.clone(), morsels.len(), window, fetch),
            morsels,
            format: self.format.clone(),
            constants,
            filters,
            filter_columns,
            runtime,
            runtime_columns,
            read_schema: self.read_schema.clone(),
            data_schema: self.data_schema.clone(),
            data_count: self.data_fields.len(),
            read_columns: self.read_columns.clone(),
            late,
            output_columns: self.output_columns.clone(),
            output: self.scan.schema.clone(),
            metrics: self.metrics.clone(),
        }))
    }

    fn describe(&self) -> String {
        let table = &self.scan.table;
        let columns: Vec<&str> = self.scan.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut text = format!(
            "TableScan {}.{} format={} columns=[{}]",
            table.database,
            table.name,
            table.storage.format.as_str(),
            columns.join(", ")
        );
        let names = |i: usize| self.scan.table_schema.field(i).name().clone();
        if !self.scan.filters.is_empty() {
            let filters: Vec<String> = self.scan.filters.iter().map(|f| render_expr(f, &names)).collect();
            text.push_str(&format!(" filters=[{}]", filters.join(", ")));
        }
        if !self.runtime_filters.is_empty() {
            let columns: Vec<String> = self.runtime_filters.iter().map(|f| names(f.column)).collect();
            text.push_str(&format!(" runtime_filters=[{}]", columns.join(", ")));
        }
        if table.is_partitioned() {
            let read = self.scan.partitions.len();
            text.push_str(&format!(" partitions={read}/{}", read + self.scan.partitions_pruned));
        }
        if self.listed_files.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            text.push_str(&format!(" [{}]", self.metrics));
        }
        text
    }
}

impl TableScanSource {
    /// For late materialisation of a Parquet scan: per data column read (`data_schema` order),
    /// whether a pushed filter or a published runtime filter reads it. `None` when nothing would
    /// be decoded late: no filter over a data column, the filters read every data column, or
    /// every late column is fixed-width. Measured on TPC-H SF1 (callgrind): skipping a failed
    /// row costs the parquet crate a selector per run, about what decoding a dictionary-encoded
    /// number costs, so numbers-only late columns gained -1% to +5% instructions (q06, q14,
    /// q19), while a string late column behind a 2% filter saved 26%.
    /// Called after the scan's `RuntimeRestriction` was built: a domain, once published, stays,
    /// so every runtime filter that restriction applies is counted here.
    fn late_columns(&self) -> Option<Vec<bool>> {
        if !self.options.late_materialisation || !matches!(self.format, FormatReader::Parquet) {
            return None;
        }
        let data_count = self.data_fields.len();
        let mut columns = Vec::new();
        for filter in &self.scan.filters {
            filter.collect_columns(&mut columns);
        }
        columns.extend(self.runtime_filters.iter().filter(|f| f.domain().is_some()).map(|f| f.column));
        let flags: Vec<bool> =
            self.read_columns.iter().filter(|&&c| c < data_count).map(|c| columns.contains(c)).collect();
        let costly_late = self.data_schema.fields().iter().zip(&flags).any(|(field, filter)| {
            !filter
                && matches!(
                    field.data_type(),
                    DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Binary
                        | DataType::LargeBinary
                )
        });
        (costly_late && flags.iter().any(|f| *f)).then_some(flags)
    }

    /// How errors name this scan: `TableScan db.table`.
    fn label(&self) -> Arc<str> {
        format!("TableScan {}.{}", self.scan.table.database, self.scan.table.name).into()
    }

    /// The listed files the runtime filters leave: none when a build side was empty, and only
    /// those whose partition values can meet a join partner.
    fn runtime_kept_files(&self, mut files: Vec<ScanFile>, runtime: &RuntimeRestriction) -> Result<Vec<ScanFile>> {
        let listed = files.len();
        if runtime.empty {
            files.clear();
        } else {
            let data_count = self.data_fields.len();
            let key_fields: Vec<Field> =
                self.scan.table_schema.fields()[data_count..].iter().map(|f| f.as_ref().clone()).collect();
            let partition_values: Vec<Vec<ScalarValue>> = self
                .scan
                .partitions
                .iter()
                .map(|p| {
                    key_fields
                        .iter()
                        .enumerate()
                        .map(|(k, field)| {
                            partition_value(p.values.get(k).map(String::as_str), field)
                                .or_else(|_| ScalarValue::null_of(field.data_type()))
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?;
            let mut keep = Vec::with_capacity(partition_values.len());
            for values in &partition_values {
                keep.push(runtime.keeps_partition(values, &key_fields)?);
            }
            files.retain(|f| f.partition.is_none_or(|p| keep.get(p).copied().unwrap_or(true)));
        }
        let pruned = (listed - files.len()) as u64;
        ScanMetrics::add(&self.metrics.files_pruned, pruned);
        ScanMetrics::add(&self.metrics.files_pruned_runtime, pruned);
        Ok(files)
    }

    /// Reads the footers of all files (concurrently, on the I/O runtime), prunes row groups (by
    /// the pushed filters' and then the runtime filters' statistics) and cuts the kept ones into
    /// morsels.
    /// String columns `dictionary` can filter are read as dictionaries where a file allows.
    fn plan_parquet(
        &self,
        ctx: &ExecContext,
        files: &[ScanFile],
        runtime: &RowGroupPruner,
        dictionary: Arc<DictionaryFilter>,
    ) -> Result<Vec<Morsel>> {
        let metrics = self.metrics.clone();
        let budget = ctx.scan_budget.clone();
        let label = self.label();
        let data_schema = self.data_schema.clone();
        // The page index costs a request per file: read it only when some filter can use it.
        let page_index = !self.pruner.is_empty() || !runtime.is_empty();
        let objects: Vec<_> = files.iter().map(|f| f.object.clone()).collect();
        let planned: Vec<(ParquetFileScan, Arc<ParquetMetaData>)> = block_on_io(&ctx.io, async move {
            futures::stream::iter(objects)
                .map(|object| {
                    let metrics = metrics.clone();
                    let budget = budget.clone();
                    let label = label.clone();
                    let data_schema = data_schema.clone();
                    let dictionary = dictionary.clone();
                    async move {
                        let mut reader = ObjectReader::new(object.clone(), metrics).with_budget(budget, label);
                        let footer = match page_index {
                            true => reader.parquet_metadata_with_page_index().await?,
                            false => reader.parquet_metadata().await?,
                        };
                        let parquet = ParquetFileScan::plan(object, footer.clone(), data_schema)?;
                        let parquet = match dictionary.is_empty() {
                            true => parquet,
                            false => parquet.with_dictionary_filter(&dictionary),
                        };
                        Ok::<_, EngineError>((parquet, footer))
                    }
                })
                .buffered(FOOTER_CONCURRENCY)
                .try_collect()
                .await
        })??;
        let mut by_stats = Vec::with_capacity(planned.len());
        for (file, (parquet, footer)) in files.iter().zip(planned) {
            let by_statistics = parquet.prune_row_groups(&self.pruner, &self.data_fields);
            let by_runtime = parquet.prune_row_groups(runtime, &self.data_fields);
            let kept: Vec<usize> =
                by_statistics.iter().copied().filter(|rg| by_runtime.binary_search(rg).is_ok()).collect();
            ScanMetrics::add(&self.metrics.row_groups_pruned_runtime, (by_statistics.len() - kept.len()) as u64);
            by_stats.push((file.object.clone(), footer, kept, Arc::new(parquet)));
        }
        let (bloom_input, parquets): (Vec<_>, Vec<_>) =
            by_stats.into_iter().map(|(object, footer, kept, parquet)| ((object, footer, kept), parquet)).unzip();
        let kept_per_file = bloom::prune_files(
            &ctx.io,
            &self.bloom,
            &self.data_fields,
            bloom_input,
            &self.metrics,
            &ctx.scan_budget,
            &self.label(),
        )?;
        let mut morsels = Vec::new();
        for ((file, parquet), kept) in files.iter().zip(parquets).zip(kept_per_file) {
            ScanMetrics::add(&self.metrics.row_groups_total, parquet.num_row_groups() as u64);
            ScanMetrics::add(&self.metrics.row_groups_pruned, (parquet.num_row_groups() - kept.len()) as u64);
            if kept.is_empty() {
                ScanMetrics::add(&self.metrics.files_pruned, 1);
            }
            let mut run: Vec<usize> = Vec::new();
            let mut rows = 0;
            for (i, rg) in kept.iter().enumerate() {
                run.push(*rg);
                rows += parquet.row_group_rows(*rg);
                if rows >= self.options.min_morsel_rows || i + 1 == kept.len() {
                    let row_groups = std::mem::take(&mut run);
                    morsels.push(self.parquet_morsel(file, &parquet, row_groups, runtime, page_index));
                    rows = 0;
                }
            }
        }
        Ok(morsels)
    }

    /// A morsel of `row_groups` of one file, with the rows its pages can skip when the page
    /// index rules some out.
    fn parquet_morsel(
        &self,
        file: &ScanFile,
        parquet: &Arc<ParquetFileScan>,
        row_groups: Vec<usize>,
        runtime: &RowGroupPruner,
        page_index: bool,
    ) -> Morsel {
        let selection = page_index
            .then(|| parquet.page_selection(&row_groups, &[&self.pruner, runtime], &self.data_fields))
            .flatten();
        if let Some(selection) = &selection {
            ScanMetrics::add(&self.metrics.pages_total, selection.pages);
            ScanMetrics::add(&self.metrics.pages_pruned, selection.pruned);
        }
        Morsel { file: file.clone(), row_groups, parquet: Some(parquet.clone()), selection: selection.map(|s| s.rows) }
    }
}

/// One unit of work: a run of row groups of a Parquet file, or a whole text file.
#[derive(Debug, Clone)]
struct Morsel {
    file: ScanFile,
    row_groups: Vec<usize>,
    parquet: Option<Arc<ParquetFileScan>>,
    /// The rows of `row_groups` left after page pruning; `None`: all of them.
    selection: Option<RowSelection>,
}

/// The bytes a morsel needs, fetched ahead.
enum MorselBytes {
    Parquet(FetchedRanges),
    Text(Bytes),
}

fn fetch_fn(
    morsels: Arc<Vec<Morsel>>,
    metrics: Arc<ScanMetrics>,
    budget: Arc<ScanBudget>,
    label: Arc<str>,
) -> FetchFn<MorselBytes> {
    Arc::new(move |i| {
        let morsels = morsels.clone();
        let metrics = metrics.clone();
        let budget = budget.clone();
        let label = label.clone();
        async move {
            let morsel = &morsels[i];
            let reader = ObjectReader::new(morsel.file.object.clone(), metrics).with_budget(budget, label);
            match &morsel.parquet {
                Some(parquet) => {
                    let ranges = parquet.byte_ranges(&morsel.row_groups)?;
                    let bytes = reader.read_ranges(&ranges).await?;
                    Ok(MorselBytes::Parquet(FetchedRanges::new(reader.file().size, &ranges, bytes)))
                }
                None => Ok(MorselBytes::Text(reader.read_all().await?)),
            }
        }
        .boxed()
    })
}

/// An opened scan: its morsels, their prefetches, and what turns decoded batches into output.
struct OpenedScan {
    morsels: Arc<Vec<Morsel>>,
    prefetcher: Prefetcher<MorselBytes>,
    format: FormatReader,
    /// Per scan partition, the values of the partition keys read.
    constants: Vec<Vec<ScalarValue>>,
    filters: Vec<PhysicalExprRef>,
    /// Per filter, the `read_schema` columns it reads (which must be widened before it runs).
    filter_columns: Vec<Vec<usize>>,
    runtime: RuntimeRestriction,
    /// The `read_schema` columns runtime filters read.
    runtime_columns: Vec<usize>,
    read_schema: SchemaRef,
    data_schema: SchemaRef,
    data_count: usize,
    read_columns: Vec<usize>,
    /// Per data column read, whether the filters read it, when Parquet morsels decode the other
    /// columns only for the rows that pass (see `ParquetFileScan::decode_late`).
    late: Option<Vec<bool>>,
    output_columns: Vec<usize>,
    output: SchemaRef,
    metrics: Arc<ScanMetrics>,
}

impl Morsels for OpenedScan {
    fn count(&self) -> usize {
        self.morsels.len()
    }

    fn read(&self, index: usize, ctx: &ExecContext, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        ctx.check_cancelled()?;
        let morsel = &self.morsels[index];
        let bytes = self.prefetcher.take(index)?;
        let constants: &[ScalarValue] = match morsel.file.partition {
            Some(p) => self.constants.get(p).map(Vec::as_slice).unwrap_or_default(),
            None => &[],
        };
        let bytes = match (bytes, &self.late, &morsel.parquet) {
            (MorselBytes::Parquet(fetched), Some(late), Some(parquet)) if parquet.can_decode_late(late) => {
                return self.read_late(morsel, parquet, fetched, late, constants, ctx, out);
            }
            (bytes, ..) => bytes,
        };
        let applied = morsel.parquet.as_ref().map_or(&[][..], |p| p.dictionary_conjuncts());
        let mut emit = |data: RecordBatch| -> Result<()> {
            ctx.check_cancelled()?;
            ScanMetrics::add(&self.metrics.rows_decoded, data.num_rows() as u64);
            let batch = self.finish_batch(data, constants, applied)?;
            if batch.num_rows() == 0 {
                return Ok(());
            }
            ScanMetrics::add(&self.metrics.rows_emitted, batch.num_rows() as u64);
            out(batch)
        };
        match (&self.format, bytes, &morsel.parquet) {
            (FormatReader::Parquet, MorselBytes::Parquet(fetched), Some(parquet)) => {
                let selection = morsel.selection.as_ref();
                let dropped =
                    parquet.decode(&morsel.row_groups, selection, fetched, ctx.batch_size, true, &mut emit)?;
                ScanMetrics::add(&self.metrics.rows_decoded, dropped);
                ScanMetrics::add(&self.metrics.rows_dictionary_filtered, dropped);
                Ok(())
            }
            (FormatReader::Csv(decoder), MorselBytes::Text(text), _) => {
                decoder.decode(&morsel.file.object, text, ctx.batch_size, &mut emit)
            }
            _ => Err(EngineError::execution("scan morsel does not match the table format")),
        }
    }
}

impl OpenedScan {
    /// Reads a Parquet morsel with late materialisation: the filter columns first, then the
    /// other columns of the rows that pass.
    #[allow(clippy::too_many_arguments)]
    fn read_late(
        &self,
        morsel: &Morsel,
        parquet: &ParquetFileScan,
        fetched: FetchedRanges,
        late: &[bool],
        constants: &[ScalarValue],
        ctx: &ExecContext,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let mut keep = |data: &RecordBatch| -> Result<Option<BooleanArray>> {
            ctx.check_cancelled()?;
            self.row_mask(&self.with_constants(data.clone(), constants)?, parquet.dictionary_conjuncts())
        };
        let mut emit = |data: RecordBatch| -> Result<()> {
            ctx.check_cancelled()?;
            let batch = self.project(&self.with_constants(data, constants)?)?;
            ScanMetrics::add(&self.metrics.rows_emitted, batch.num_rows() as u64);
            out(batch)
        };
        let selection = morsel.selection.as_ref();
        let counts =
            parquet.decode_late(&morsel.row_groups, selection, fetched, ctx.batch_size, late, &mut keep, &mut emit);
        if let Ok(counts) = &counts {
            ScanMetrics::add(&self.metrics.rows_decoded, counts.filter_rows);
            ScanMetrics::add(&self.metrics.rows_decoded_late, counts.late_rows);
            ScanMetrics::add(&self.metrics.rows_dictionary_filtered, counts.dictionary_filtered);
        }
        counts.map(|_| ())
    }

    /// Adds partition constants to a decoded batch, applies the filters (but the conjuncts at
    /// positions `applied`, which the decoder applied already) and projects.
    ///
    /// The conjuncts narrow the batch as they go: once the rows still passing are at most half
    /// of it, the batch is filtered and the remaining conjuncts see only those rows (q06's date
    /// range keeps a seventh of lineitem, so its three other comparisons run on a seventh). A
    /// mask that keeps more is only combined, since copying every column for it would cost more
    /// than the comparisons it saves.
    ///
    /// Decimals the Parquet decoder left narrow (see `parquet_scan::widen_decimal`) are widened
    /// only when a filter reads them, and the output columns last: Q6's date range then spares
    /// six of seven rows of its three decimal columns the 16-byte widening.
    fn finish_batch(&self, data: RecordBatch, constants: &[ScalarValue], applied: &[usize]) -> Result<RecordBatch> {
        let batch = self.with_constants(data, constants)?;
        let mut batch = self.widen(batch, &self.runtime_columns)?;
        let mut pending = self.runtime.row_mask(&batch, &self.metrics)?;
        if let Some(mask) = &pending {
            // `true_count` counts valid set bits only: a NULL (a NULL key) is dropped too.
            ScanMetrics::add(&self.metrics.rows_runtime_filtered, (mask.len() - mask.true_count()) as u64);
        }
        for (i, filter) in self.filters.iter().enumerate().filter(|(i, _)| !applied.contains(i)) {
            if let Some(mask) = pending.take_if(|m| m.true_count() * 2 <= m.len()) {
                batch = filter_record_batch(&batch, &mask)?;
            }
            if batch.num_rows() == 0 {
                break;
            }
            batch = self.widen(batch, &self.filter_columns[i])?;
            let Some(current) = evaluate_filter(filter, &batch)? else { continue };
            pending = Some(match pending {
                Some(m) => and(&m, &current)?,
                None => current,
            });
        }
        if let Some(mask) = pending.filter(|m| m.null_count() > 0 || m.true_count() < m.len()) {
            batch = filter_record_batch(&batch, &mask)?;
        }
        self.project(&self.widen(batch, &self.output_columns)?)
    }

    /// `batch` with the narrow decimals among its `columns` widened to their declared types.
    fn widen(&self, batch: RecordBatch, columns: &[usize]) -> Result<RecordBatch> {
        let mut widened: Option<Vec<ArrayRef>> = None;
        for &i in columns {
            let Some(field) = self.read_schema.fields().get(i) else { continue };
            if let Some(array) = widen_decimal(batch.column(i), field.data_type()) {
                widened.get_or_insert_with(|| batch.columns().to_vec())[i] = array?;
            }
        }
        let Some(columns) = widened else { return Ok(batch) };
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(schema_of(&self.read_schema, &columns), columns, &options)?)
    }

    /// A decoded batch (`data_schema`) with the partition constants added: a `read_schema` batch.
    fn with_constants(&self, data: RecordBatch, constants: &[ScalarValue]) -> Result<RecordBatch> {
        debug_assert_eq!(data.schema().fields().len(), self.data_schema.fields().len());
        let rows = data.num_rows();
        let mut data_columns = data.columns().iter();
        let mut constants = constants.iter();
        let columns: Vec<ArrayRef> = self
            .read_columns
            .iter()
            .zip(self.read_schema.fields())
            .map(|(&col, field)| {
                if col < self.data_count {
                    // Invariant: the decoders emit exactly the data columns of `read_columns`, in order.
                    Ok(data_columns.next().expect("decoded batch has every data column").clone())
                } else {
                    match constants.next() {
                        Some(value) => Ok(value.to_array(rows)),
                        None => Ok(arrow::array::new_null_array(field.data_type(), rows)),
                    }
                }
            })
            .collect::<Result<_>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(schema_of(&self.read_schema, &columns), columns, &options)?)
    }

    /// The rows of a `read_schema` batch passing the runtime filters and the pushed filters but
    /// those at positions `applied` (NULL: fails); `None` when every row passes. Counts the rows
    /// runtime filters drop.
    fn row_mask(&self, batch: &RecordBatch, applied: &[usize]) -> Result<Option<BooleanArray>> {
        let runtime_mask = self.runtime.row_mask(batch, &self.metrics)?;
        if let Some(mask) = &runtime_mask {
            // `true_count` counts valid set bits only: a NULL (a NULL key) is dropped too.
            ScanMetrics::add(&self.metrics.rows_runtime_filtered, (mask.len() - mask.true_count()) as u64);
        }
        let mask = match (runtime_mask, self.filter_mask(batch, applied)?) {
            (Some(r), Some(f)) => Some(and(&r, &f)?),
            (r, f) => r.or(f),
        };
        Ok(mask.filter(|m| m.null_count() > 0 || m.true_count() < m.len()))
    }

    /// The output columns of a filtered `read_schema` batch.
    fn project(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = self.output_columns.iter().map(|&i| batch.column(i).clone()).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(self.output.clone(), columns, &options)?)
    }

    /// The rows passing every filter but those at positions `applied`; `None` when all pass.
    fn filter_mask(&self, batch: &RecordBatch, applied: &[usize]) -> Result<Option<BooleanArray>> {
        let mut mask: Option<BooleanArray> = None;
        for (_, filter) in self.filters.iter().enumerate().filter(|(i, _)| !applied.contains(i)) {
            let Some(current) = evaluate_filter(filter, batch)? else { continue };
            mask = Some(match mask {
                Some(m) => and(&m, &current)?,
                None => current,
            });
        }
        Ok(mask.filter(|m| m.null_count() > 0 || m.true_count() < m.len()))
    }
}

/// The rows of `batch` passing `filter` (NULL: fails); `None` when it is the constant TRUE.
fn evaluate_filter(filter: &PhysicalExprRef, batch: &RecordBatch) -> Result<Option<BooleanArray>> {
    match filter.evaluate(batch)? {
        ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => Ok(None),
        ColumnarValue::Scalar(ScalarValue::Boolean(_) | ScalarValue::Null) => {
            Ok(Some(BooleanArray::from(BooleanBuffer::new_unset(batch.num_rows()))))
        }
        ColumnarValue::Scalar(other) => {
            Err(EngineError::execution(format!("scan filter {filter} gave {other}, not a boolean")))
        }
        ColumnarValue::Array(array) => match array.data_type() {
            DataType::Boolean => Ok(Some(array.as_boolean().clone())),
            other => Err(EngineError::execution(format!("scan filter {filter} gave {other}, not a boolean"))),
        },
    }
}

/// An expression with column names instead of positions, for `EXPLAIN`.
fn render_expr(expr: &Expr, name: &dyn Fn(usize) -> String) -> String {
    match expr {
        Expr::Column(i) => name(*i),
        Expr::Binary { op, left, right } => {
            format!("({} {} {})", render_expr(left, name), op.symbol(), render_expr(right, name))
        }
        Expr::Not(e) => format!("NOT {}", render_expr(e, name)),
        Expr::IsNull { expr, negated } => {
            format!("{} IS {}NULL", render_expr(expr, name), if *negated { "NOT " } else { "" })
        }
        Expr::Cast { expr, to, .. } => format!("CAST({} AS {to})", render_expr(expr, name)),
        Expr::InList { expr, list, negated } => {
            let items: Vec<String> = list.iter().map(|e| render_expr(e, name)).collect();
            format!("{} {}IN ({})", render_expr(expr, name), if *negated { "NOT " } else { "" }, items.join(", "))
        }
        other => other.to_string(),
    }
}
