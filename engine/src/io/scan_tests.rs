//! End-to-end tests of table scans over files written to temporary folders: Parquet and CSV,
//! partitions, pruning, schema evolution and the errors corrupt files give.

use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray, StringViewArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{
    DataType, Date32Type, Field, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use tarn_catalog::{
    Catalog, Column, DataFile, DataFormat, Location, Parameters, Partition, SqlType, StorageDescriptor, StoreRegistry,
    Table, TableKind,
};
use tempfile::TempDir;

use crate::error::EngineError;
use crate::exec::runtime_filter::RuntimeFilter;
use crate::exec::{ExecContext, Source};
use crate::expr::functions::FunctionRegistry;
use crate::io::metrics::ScanMetrics;
use crate::io::runtime::io_runtime;
use crate::io::table_scan::{ScanOptions, TableScanSource};
use crate::plan::{BinaryOp, Expr, ScalarValue, TableScan};

struct Fixture {
    dir: TempDir,
    ctx: ExecContext,
}

fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let catalog = Catalog::open(&dir.path().join("home")).unwrap();
    let ctx = ExecContext {
        catalog: Arc::new(catalog),
        stores: Arc::new(StoreRegistry::new()),
        io: io_runtime().handle().clone(),
        functions: Arc::new(FunctionRegistry::default()),
        cancel: Arc::new(AtomicBool::new(false)),
        batch_size: 1024,
        memory: Default::default(),
        scan_budget: Default::default(),
    };
    Fixture { dir, ctx }
}

fn url(path: &Path) -> String {
    Location::parse(&path.display().to_string()).unwrap().as_dir().as_url_str()
}

fn table(
    location: &Path,
    format: DataFormat,
    columns: &[(&str, &str)],
    keys: &[(&str, &str)],
    serde: &[(&str, &str)],
) -> Table {
    let cols = |c: &[(&str, &str)]| c.iter().map(|(n, t)| Column::new(*n, SqlType::parse(t).unwrap())).collect();
    Table {
        database: "default".into(),
        name: "t".into(),
        kind: TableKind::External,
        storage: StorageDescriptor {
            columns: cols(columns),
            location: url(location),
            format,
            serde_parameters: serde.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        },
        partition_keys: cols(keys),
        parameters: Parameters::new(),
        created_at: 0,
        updated_at: 0,
        version: 1,
    }
}

fn scan(table: Table, projection: Vec<usize>, filters: Vec<Expr>, partitions: Vec<Partition>) -> TableScan {
    let table_schema = Arc::new(Schema::new(
        table.all_columns().map(|c| Field::new(&c.name, c.data_type.to_arrow(), true)).collect::<Vec<_>>(),
    ));
    let schema = Arc::new(table_schema.project(&projection).unwrap());
    TableScan {
        table: Arc::new(table),
        table_schema,
        projection,
        filters,
        partitions,
        partitions_pruned: 0,
        schema,
        statistics: Default::default(),
    }
}

/// Opens the scan and reads every morsel on the rayon pool; batches in morsel order.
fn run(source: &TableScanSource, ctx: &ExecContext) -> Result<(usize, RecordBatch), EngineError> {
    let morsels = source.open(ctx)?;
    let per_morsel: Vec<Vec<RecordBatch>> = (0..morsels.count())
        .into_par_iter()
        .map(|i| {
            let out = Mutex::new(Vec::new());
            morsels.read(i, ctx, &mut |b| {
                assert_eq!(b.schema(), source.schema());
                out.lock().unwrap().push(b);
                Ok(())
            })?;
            Ok(out.into_inner().unwrap())
        })
        .collect::<Result<_, EngineError>>()?;
    let batches: Vec<RecordBatch> = per_morsel.into_iter().flatten().collect();
    Ok((morsels.count(), arrow::compute::concat_batches(&source.schema(), &batches)?))
}

fn write_parquet(path: &Path, batch: &RecordBatch, row_group_rows: usize) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(row_group_rows)).build();
    let mut writer = ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn ids(n: i64) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(0..n))
}

fn col_i64(batch: &RecordBatch, i: usize) -> Vec<Option<i64>> {
    batch.column(i).as_primitive::<Int64Type>().iter().collect()
}

fn cmp(column: usize, op: BinaryOp, value: ScalarValue) -> Expr {
    Expr::binary(Expr::Column(column), op, Expr::Literal(value))
}

#[test]
fn parquet_projection_casts_file_types_to_declared_types() {
    let f = fixture();
    let data = f.dir.path().join("data");
    let file_batch = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
        ("name", Arc::new(StringViewArray::from(vec!["a", "b", "c"]))),
        ("ts", Arc::new(TimestampMillisecondArray::from(vec![1_000, 2_500, 0]))),
        ("amount", Arc::new(Decimal128Array::from(vec![100, 250, -1]).with_precision_and_scale(10, 2).unwrap())),
    ]);
    write_parquet(&data.join("part-0.parquet"), &file_batch, 1000);
    let t = table(
        &data,
        DataFormat::Parquet,
        &[("id", "bigint"), ("name", "string"), ("ts", "timestamp"), ("amount", "decimal(12,2)")],
        &[],
        &[],
    );
    let source = TableScanSource::new(&scan(t, vec![3, 2, 1, 0], vec![], vec![])).unwrap();
    let (_, out) = run(&source, &f.ctx).unwrap();
    let types: Vec<DataType> = out.schema().fields().iter().map(|f| f.data_type().clone()).collect();
    assert_eq!(
        types,
        vec![
            DataType::Decimal128(12, 2),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Utf8,
            DataType::Int64
        ]
    );
    assert_eq!(out.column(2).as_string::<i32>().iter().flatten().collect::<Vec<_>>(), vec!["a", "b", "c"]);
    assert_eq!(
        out.column(1).as_primitive::<TimestampMicrosecondType>().values().to_vec(),
        vec![1_000_000, 2_500_000, 0]
    );
    assert_eq!(col_i64(&out, 3), vec![Some(1), Some(2), Some(3)]);
    assert_eq!(out.column(0).as_primitive::<arrow::datatypes::Decimal128Type>().values().to_vec(), vec![100, 250, -1]);
}

#[test]
fn row_groups_become_morsels_and_every_row_is_read_once() {
    let f = fixture();
    let data = f.dir.path().join("data");
    write_parquet(&data.join("big.parquet"), &batch(vec![("id", ids(1000))]), 100);
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint")], &[], &[]);
    let options = ScanOptions { min_morsel_rows: 0, prefetch_window: Some(3), ..ScanOptions::default() };
    let source = TableScanSource::with_options(&scan(t.clone(), vec![0], vec![], vec![]), options).unwrap();
    let (morsels, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(morsels, 10);
    let mut seen: Vec<i64> = col_i64(&out, 0).into_iter().flatten().collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    // One footer request plus one per row group (a morsel's column chunk); nothing more.
    assert_eq!(ScanMetrics::get(&source.metrics().requests), 11);

    // With the default minimum, the small row groups merge into one morsel.
    let source = TableScanSource::new(&scan(t, vec![0], vec![], vec![])).unwrap();
    assert_eq!(run(&source, &f.ctx).unwrap().0, 1);
}

#[test]
fn statistics_prune_row_groups_and_filters_apply_exactly() {
    let f = fixture();
    let data = f.dir.path().join("data");
    let names: ArrayRef = Arc::new(StringArray::from_iter_values((0..500).map(|i| format!("n{i:03}"))));
    write_parquet(&data.join("p.parquet"), &batch(vec![("id", ids(500)), ("name", names)]), 100);
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint"), ("name", "string")], &[], &[]);
    // id BETWEEN 250 AND 259 (the binder's two comparisons), projecting only the name.
    let filters = vec![
        cmp(0, BinaryOp::GtEq, ScalarValue::Int64(Some(250))),
        cmp(0, BinaryOp::LtEq, ScalarValue::Int64(Some(259))),
    ];
    let options = ScanOptions { min_morsel_rows: 0, ..ScanOptions::default() };
    let source = TableScanSource::with_options(&scan(t.clone(), vec![1], filters, vec![]), options).unwrap();
    let (morsels, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(morsels, 1);
    assert_eq!(ScanMetrics::get(&source.metrics().row_groups_total), 5);
    assert_eq!(ScanMetrics::get(&source.metrics().row_groups_pruned), 4);
    assert_eq!(out.num_rows(), 10);
    assert_eq!(out.column(0).as_string::<i32>().value(0), "n250");
    assert!(source.describe().contains("filters=[(id >= 250), (id <= 259)]"), "{}", source.describe());

    // IN lists and string comparisons prune too; IS NULL finds no nulls anywhere.
    let in_list = Expr::InList {
        expr: Box::new(Expr::Column(0)),
        list: vec![Expr::Literal(ScalarValue::Int64(Some(5))), Expr::Literal(ScalarValue::Int64(Some(450)))],
        negated: false,
    };
    let source = TableScanSource::with_options(&scan(t.clone(), vec![0], vec![in_list], vec![]), options).unwrap();
    let (morsels, out) = run(&source, &f.ctx).unwrap();
    assert_eq!((morsels, col_i64(&out, 0)), (2, vec![Some(5), Some(450)]));
    let name_gt = cmp(1, BinaryOp::Gt, ScalarValue::Utf8(Some("n398".into())));
    let source = TableScanSource::with_options(&scan(t.clone(), vec![0], vec![name_gt], vec![]), options).unwrap();
    let (morsels, out) = run(&source, &f.ctx).unwrap();
    assert_eq!((morsels, out.num_rows()), (2, 101));
    let is_null = Expr::IsNull { expr: Box::new(Expr::Column(0)), negated: false };
    let source = TableScanSource::with_options(&scan(t, vec![0], vec![is_null], vec![]), options).unwrap();
    assert_eq!(run(&source, &f.ctx).unwrap().0, 0);
}

#[test]
fn columns_match_by_name_and_missing_columns_read_as_null() {
    let f = fixture();
    let data = f.dir.path().join("data");
    write_parquet(&data.join("a.parquet"), &batch(vec![("ID", ids(2)), ("extra", ids(2))]), 100);
    write_parquet(&data.join("b.parquet"), &batch(vec![("id", Arc::new(Int64Array::from(vec![7])) as ArrayRef)]), 100);
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint"), ("extra", "int")], &[], &[]);
    let (_, out) = run(&TableScanSource::new(&scan(t, vec![0, 1], vec![], vec![])).unwrap(), &f.ctx).unwrap();
    assert_eq!(col_i64(&out, 0), vec![Some(0), Some(1), Some(7)]);
    let extra: Vec<Option<i32>> = out.column(1).as_primitive::<Int32Type>().iter().collect();
    assert_eq!(extra, vec![Some(0), Some(1), None]);
}

#[test]
fn corrupt_and_truncated_parquet_files_name_the_file() {
    let f = fixture();
    let data = f.dir.path().join("data");
    let path = data.join("good.parquet");
    let names: ArrayRef = Arc::new(StringArray::from_iter_values((0..2000).map(|i| format!("value-{i}"))));
    write_parquet(&path, &batch(vec![("id", ids(2000)), ("name", names)]), 10_000);
    let bytes = fs::read(&path).unwrap();
    fs::remove_file(&path).unwrap();
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint"), ("name", "string")], &[], &[]);

    let truncated = data.join("truncated.parquet");
    fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let err = run(&TableScanSource::new(&scan(t.clone(), vec![0], vec![], vec![])).unwrap(), &f.ctx).unwrap_err();
    assert!(matches!(&err, EngineError::Data { file, .. } if file.ends_with("truncated.parquet")), "{err:?}");
    fs::remove_file(&truncated).unwrap();

    // A valid footer over garbage pages: the error comes from decoding.
    let mut garbled = bytes.clone();
    for b in &mut garbled[4..bytes.len() / 2] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    fs::write(data.join("garbled.parquet"), &garbled).unwrap();
    let err = run(&TableScanSource::new(&scan(t.clone(), vec![0, 1], vec![], vec![])).unwrap(), &f.ctx).unwrap_err();
    assert!(matches!(&err, EngineError::Data { file, .. } if file.ends_with("garbled.parquet")), "{err:?}");
    fs::remove_file(data.join("garbled.parquet")).unwrap();

    fs::write(data.join("text.parquet"), b"id,name\n1,a\n").unwrap();
    let err = run(&TableScanSource::new(&scan(t, vec![0], vec![], vec![])).unwrap(), &f.ctx).unwrap_err();
    assert!(err.to_string().contains("text.parquet") && err.to_string().contains("not a Parquet file"), "{err}");
}

#[test]
fn partition_columns_are_typed_constants_and_filterable() {
    let f = fixture();
    let data = f.dir.path().join("sales");
    write_parquet(&data.join("dt=2024-01-01/region=eu/0.parquet"), &batch(vec![("id", ids(2))]), 100);
    write_parquet(
        &data.join("dt=__HIVE_DEFAULT_PARTITION__/region=us%2Fwest/0.parquet"),
        &batch(vec![("id", ids(3))]),
        100,
    );
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint")], &[("dt", "date"), ("region", "string")], &[]);
    let partition = |dt: &str, region: &str| Partition {
        values: vec![dt.into(), region.into()],
        location: url(&data.join(format!("dt={dt}/region={region}"))),
        parameters: Parameters::new(),
        created_at: 0,
    };
    let partitions = vec![partition("2024-01-01", "eu"), partition("__HIVE_DEFAULT_PARTITION__", "us%2Fwest")];
    let (_, out) =
        run(&TableScanSource::new(&scan(t.clone(), vec![1, 2, 0], vec![], partitions.clone())).unwrap(), &f.ctx)
            .unwrap();
    assert_eq!(out.num_rows(), 5);
    let dates: Vec<Option<i32>> = out.column(0).as_primitive::<Date32Type>().iter().collect();
    assert_eq!(dates, vec![Some(19723), Some(19723), None, None, None]);
    let regions: Vec<Option<&str>> = out.column(1).as_string::<i32>().iter().collect();
    assert_eq!(regions, vec![Some("eu"), Some("eu"), Some("us/west"), Some("us/west"), Some("us/west")]);

    // A filter on a partition key (not projected) applies to the constants.
    let filter = cmp(2, BinaryOp::Eq, ScalarValue::Utf8(Some("us/west".into())));
    let (_, out) = run(&TableScanSource::new(&scan(t, vec![0], vec![filter], partitions)).unwrap(), &f.ctx).unwrap();
    assert_eq!(col_i64(&out, 0), vec![Some(0), Some(1), Some(2)]);
}

#[test]
fn csv_tables_skip_headers_hidden_files_and_decompress_gzip() {
    use std::io::Write;
    let f = fixture();
    let data = f.dir.path().join("csv");
    fs::create_dir_all(data.join("_temporary")).unwrap();
    fs::write(data.join("a.csv"), "id,name,price\n1,\"Smith, J\",1.50\n2,,\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"id,name,price\n3,\"multi\nline\",2.25\n").unwrap();
    fs::write(data.join("b.csv.gz"), gz.finish().unwrap()).unwrap();
    for hidden in ["_SUCCESS", ".a.csv.crc", "_temporary/part-9.csv", "x_$folder$"] {
        fs::write(data.join(hidden), "garbage,,,,\n").unwrap();
    }
    fs::write(data.join("empty.csv"), "").unwrap();
    let t = table(
        &data,
        DataFormat::Csv,
        &[("id", "bigint"), ("name", "string"), ("price", "decimal(10,2)")],
        &[],
        &[("skip.header.line.count", "1")],
    );
    let source = TableScanSource::new(&scan(t.clone(), vec![0, 1, 2], vec![], vec![])).unwrap();
    let (morsels, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(morsels, 2);
    assert_eq!(col_i64(&out, 0), vec![Some(1), Some(2), Some(3)]);
    let names: Vec<Option<&str>> = out.column(1).as_string::<i32>().iter().collect();
    assert_eq!(names, vec![Some("Smith, J"), None, Some("multi\nline")]);
    assert!(out.column(2).is_null(1));

    // COUNT(*)-style scans read no column but count every row.
    let (_, out) = run(&TableScanSource::new(&scan(t.clone(), vec![], vec![], vec![])).unwrap(), &f.ctx).unwrap();
    assert_eq!((out.num_columns(), out.num_rows()), (0, 3));

    // Columns the scan does not read are not parsed; the bad price fails once it is read.
    fs::write(data.join("c.csv"), "id,name,price\n4,x,1\n5,y,abc\n").unwrap();
    let (_, out) = run(&TableScanSource::new(&scan(t.clone(), vec![0], vec![], vec![])).unwrap(), &f.ctx).unwrap();
    assert_eq!(out.num_rows(), 5);
    let err = run(&TableScanSource::new(&scan(t, vec![0, 2], vec![], vec![])).unwrap(), &f.ctx).unwrap_err();
    match err {
        EngineError::Data { file, row, column, message } => {
            assert!(file.ends_with("/csv/c.csv"), "{file}");
            assert_eq!((row, column.as_deref()), (Some(3), Some("price")));
            assert!(message.contains("'abc'"), "{message}");
        }
        other => panic!("expected a Data error, got {other:?}"),
    }
}

#[test]
fn local_tables_read_the_catalog_file_list() {
    let f = fixture();
    let data = f.dir.path().join("warehouse/default/t");
    write_parquet(&data.join("q1.parquet"), &batch(vec![("id", ids(4))]), 100);
    write_parquet(&data.join("stale.parquet"), &batch(vec![("id", ids(9))]), 100);
    let mut t = table(&data, DataFormat::Parquet, &[("id", "bigint")], &[], &[]);
    t.kind = TableKind::Local;
    f.ctx.catalog.create_table(&t, false).unwrap();
    let file = data.join("q1.parquet");
    let committed = DataFile {
        path: Location::parse(&file.display().to_string()).unwrap().as_url_str(),
        size_bytes: fs::metadata(&file).unwrap().len(),
        row_count: 4,
    };
    f.ctx.catalog.add_table_files("default", "t", &[committed]).unwrap();
    let (_, out) = run(&TableScanSource::new(&scan(t, vec![0], vec![], vec![])).unwrap(), &f.ctx).unwrap();
    assert_eq!(out.num_rows(), 4);
}

#[test]
fn cancelled_queries_stop_reading() {
    let f = fixture();
    let data = f.dir.path().join("data");
    write_parquet(&data.join("x.parquet"), &batch(vec![("id", ids(10))]), 100);
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint")], &[], &[]);
    f.ctx.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    let err = run(&TableScanSource::new(&scan(t, vec![0], vec![], vec![])).unwrap(), &f.ctx).unwrap_err();
    assert!(matches!(err, EngineError::Cancelled));
}

/// A runtime filter published with the distinct `keys` (as a join build would), over column
/// `column` of the table.
fn published(column: usize, keys: ArrayRef) -> Arc<RuntimeFilter> {
    let filter = Arc::new(RuntimeFilter::new(column));
    filter.publish_from(&[keys]).unwrap();
    filter
}

#[test]
fn runtime_filters_prune_row_groups_and_drop_rows() {
    let f = fixture();
    let data = f.dir.path().join("data");
    let qty: ArrayRef = Arc::new(Int64Array::from_iter_values((0..500).map(|i| i % 7)));
    write_parquet(&data.join("p.parquet"), &batch(vec![("id", ids(500)), ("qty", qty)]), 100);
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint"), ("qty", "bigint")], &[], &[]);
    let options = ScanOptions { min_morsel_rows: 0, ..ScanOptions::default() };

    // Build keys 120, 130, 350 (and a NULL): row groups 1 and 3 of 0..4 may hold them; of their
    // 200 rows, 3 pass.
    let keys: ArrayRef = Arc::new(Int64Array::from(vec![Some(350), None, Some(120), Some(130)]));
    let source = TableScanSource::with_options(&scan(t.clone(), vec![0], vec![], vec![]), options)
        .unwrap()
        .with_runtime_filters(vec![published(0, keys)]);
    let (morsels, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(morsels, 2);
    assert_eq!(col_i64(&out, 0), vec![Some(120), Some(130), Some(350)]);
    let m = source.metrics();
    assert_eq!(ScanMetrics::get(&m.row_groups_pruned), 3);
    assert_eq!(ScanMetrics::get(&m.row_groups_pruned_runtime), 3);
    assert_eq!(ScanMetrics::get(&m.rows_decoded), 200);
    assert_eq!(ScanMetrics::get(&m.rows_runtime_filtered), 197);
    let text = source.describe();
    assert!(text.contains("runtime_filters=[id]"), "{text}");
    assert!(text.contains("runtime_filters=1 (files_pruned=0 row_groups_pruned=3 rows_dropped=197)"), "{text}");

    // Pushed filters prune first; the runtime filter counts only what it prunes beyond them.
    let keys: ArrayRef = Arc::new(Int64Array::from_iter_values(150..450));
    let source = TableScanSource::with_options(
        &scan(t.clone(), vec![0], vec![cmp(0, BinaryOp::Lt, ScalarValue::Int64(Some(300)))], vec![]),
        options,
    )
    .unwrap()
    .with_runtime_filters(vec![published(0, keys)]);
    let (_, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(out.num_rows(), 150);
    assert_eq!(ScanMetrics::get(&source.metrics().row_groups_pruned), 3);
    assert_eq!(ScanMetrics::get(&source.metrics().row_groups_pruned_runtime), 1);

    // A column without useful statistics ordering still filters rows; an unpublished filter
    // (its build never ran) changes nothing.
    let source = TableScanSource::with_options(&scan(t.clone(), vec![0, 1], vec![], vec![]), options)
        .unwrap()
        .with_runtime_filters(vec![published(1, Arc::new(Int64Array::from(vec![6]))), Arc::new(RuntimeFilter::new(0))]);
    let (_, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(out.num_rows(), (0..500).filter(|i| i % 7 == 6).count());
    assert_eq!(ScanMetrics::get(&source.metrics().runtime_filters), 1);

    // An empty build side: nothing is read at all.
    let source = TableScanSource::with_options(&scan(t, vec![0], vec![], vec![]), options)
        .unwrap()
        .with_runtime_filters(vec![published(0, Arc::new(Int64Array::from(vec![None::<i64>])))]);
    let (morsels, out) = run(&source, &f.ctx).unwrap();
    assert_eq!((morsels, out.num_rows()), (0, 0));
    assert_eq!(ScanMetrics::get(&source.metrics().files_pruned_runtime), 1);
    assert_eq!(ScanMetrics::get(&source.metrics().requests), 0);
}

#[test]
fn runtime_filters_on_partition_keys_skip_files() {
    let f = fixture();
    let data = f.dir.path().join("sales");
    for (day, n) in [("2024-01-01", 2), ("2024-01-02", 3), ("2024-01-05", 4)] {
        write_parquet(&data.join(format!("dt={day}/0.parquet")), &batch(vec![("id", ids(n))]), 100);
    }
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint")], &[("dt", "date")], &[]);
    let partition = |dt: &str| Partition {
        values: vec![dt.into()],
        location: url(&data.join(format!("dt={dt}"))),
        parameters: Parameters::new(),
        created_at: 0,
    };
    let partitions = vec![partition("2024-01-01"), partition("2024-01-02"), partition("2024-01-05")];
    // Build days 2024-01-01 and 2024-01-03 (19723, 19725): the range keeps 01-01 and 01-02, the
    // value set only 01-01.
    let days: ArrayRef = Arc::new(arrow::array::Date32Array::from(vec![19723, 19725]));
    let source = TableScanSource::new(&scan(t, vec![0, 1], vec![], partitions))
        .unwrap()
        .with_runtime_filters(vec![published(1, days)]);
    let (_, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(col_i64(&out, 0), vec![Some(0), Some(1)]);
    assert_eq!(ScanMetrics::get(&source.metrics().files_pruned_runtime), 2);
    assert_eq!(ScanMetrics::get(&source.metrics().rows_decoded), 2);
}

/// Writes `batch` in row groups of `row_group_rows` and data pages of 10 rows, with the page
/// index (column and offset indexes) the writer adds by default.
fn write_parquet_small_pages(path: &Path, batch: &RecordBatch, row_group_rows: usize) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_data_page_row_count_limit(10)
        .set_write_batch_size(10)
        .set_dictionary_enabled(false)
        .build();
    let mut writer = ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn page_index_skips_pages_of_kept_row_groups() {
    let f = fixture();
    let data = f.dir.path().join("data");
    let names: ArrayRef = Arc::new(StringArray::from_iter_values((0..500).map(|i| format!("n{i:03}"))));
    write_parquet_small_pages(&data.join("p.parquet"), &batch(vec![("id", ids(500)), ("name", names)]), 100);
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint"), ("name", "string")], &[], &[]);
    let options = ScanOptions { min_morsel_rows: 0, ..ScanOptions::default() };

    // id BETWEEN 253 AND 258: row group 2 of 5, and of its 10 pages only [250, 259].
    let filters = vec![
        cmp(0, BinaryOp::GtEq, ScalarValue::Int64(Some(253))),
        cmp(0, BinaryOp::LtEq, ScalarValue::Int64(Some(258))),
    ];
    let source = TableScanSource::with_options(&scan(t.clone(), vec![1], filters, vec![]), options).unwrap();
    let (_, out) = run(&source, &f.ctx).unwrap();
    let names: Vec<&str> = out.column(0).as_string::<i32>().iter().flatten().collect();
    assert_eq!(names, vec!["n253", "n254", "n255", "n256", "n257", "n258"]);
    let m = source.metrics();
    assert_eq!((ScanMetrics::get(&m.row_groups_pruned), ScanMetrics::get(&m.rows_decoded)), (4, 10));
    assert_eq!((ScanMetrics::get(&m.pages_total), ScanMetrics::get(&m.pages_pruned)), (10, 9));
    assert!(source.describe().contains("pages=1 kept/9 pruned"), "{}", source.describe());

    // A runtime filter's value set prunes pages too: 120 and 130 in row group 1, 350 in 3.
    let keys: ArrayRef = Arc::new(Int64Array::from(vec![350, 120, 130]));
    let source = TableScanSource::with_options(&scan(t.clone(), vec![0, 1], vec![], vec![]), options)
        .unwrap()
        .with_runtime_filters(vec![published(0, keys)]);
    let (_, out) = run(&source, &f.ctx).unwrap();
    assert_eq!(col_i64(&out, 0), vec![Some(120), Some(130), Some(350)]);
    let m = source.metrics();
    assert_eq!((ScanMetrics::get(&m.pages_total), ScanMetrics::get(&m.pages_pruned)), (20, 17));
    assert_eq!((ScanMetrics::get(&m.rows_decoded), ScanMetrics::get(&m.rows_runtime_filtered)), (30, 27));

    // Without filters the page index is not even read.
    let source = TableScanSource::with_options(&scan(t, vec![0], vec![], vec![]), options).unwrap();
    assert_eq!(run(&source, &f.ctx).unwrap().1.num_rows(), 500);
    assert_eq!(ScanMetrics::get(&source.metrics().pages_total), 0);
}

/// A table of 3000 rows in row groups of 1000: `id` (0..3000), `qty` (`id % 10`, NULL where
/// `id % 13 == 0`), `name` (`n<id>`, NULL where `id % 17 == 0`) and `price` (int32 in the file,
/// declared bigint: `id * 3`).
fn late_table(f: &Fixture) -> Table {
    let data = f.dir.path().join("late");
    let qty: ArrayRef = Arc::new(Int64Array::from_iter((0..3000).map(|i| (i % 13 != 0).then_some(i % 10))));
    let names: ArrayRef = Arc::new(StringArray::from_iter((0..3000).map(|i| (i % 17 != 0).then(|| format!("n{i}")))));
    let price: ArrayRef = Arc::new(Int32Array::from_iter_values((0..3000).map(|i| i * 3)));
    let file = batch(vec![("id", ids(3000)), ("qty", qty), ("name", names), ("price", price)]);
    write_parquet(&data.join("p.parquet"), &file, 1000);
    let columns = [("id", "bigint"), ("qty", "bigint"), ("name", "string"), ("price", "bigint")];
    table(&data, DataFormat::Parquet, &columns, &[], &[])
}

/// Runs `scan` with and without late materialisation; asserts both give the same batch and
/// returns it with the late run's metrics.
fn run_both_ways(f: &Fixture, scan: &TableScan, runtime: &[Arc<RuntimeFilter>]) -> (RecordBatch, Arc<ScanMetrics>) {
    let mut results = Vec::new();
    for late in [true, false] {
        let options = ScanOptions { min_morsel_rows: 0, late_materialisation: late, ..ScanOptions::default() };
        let source = TableScanSource::with_options(scan, options).unwrap().with_runtime_filters(runtime.to_vec());
        let (_, out) = run(&source, &f.ctx).unwrap();
        if !late {
            assert_eq!(ScanMetrics::get(&source.metrics().rows_decoded_late), 0);
        }
        results.push((out, source.metrics().clone()));
    }
    let (eager, _) = results.pop().unwrap();
    let (late, metrics) = results.pop().unwrap();
    assert_eq!(late, eager);
    (late, metrics)
}

#[test]
fn late_materialisation_decodes_other_columns_only_for_passing_rows() {
    let mut f = fixture();
    // Batches much smaller than a row group: the second phase's batches span several of the
    // first phase's.
    f.ctx.batch_size = 64;
    let t = late_table(&f);
    // qty = 3 AND price >= 600, projecting name and id: the filter columns qty and price are
    // decoded for all 3000 rows, name and id only for the rows that pass.
    let filters =
        vec![cmp(1, BinaryOp::Eq, ScalarValue::Int64(Some(3))), cmp(3, BinaryOp::GtEq, ScalarValue::Int64(Some(600)))];
    let (out, m) = run_both_ways(&f, &scan(t.clone(), vec![2, 0], filters, vec![]), &[]);
    let expected: Vec<i64> = (200..3000).filter(|i| i % 10 == 3 && i % 13 != 0).collect();
    assert_eq!(col_i64(&out, 1), expected.iter().map(|i| Some(*i)).collect::<Vec<_>>());
    let names: Vec<Option<String>> = out.column(0).as_string::<i32>().iter().map(|s| s.map(String::from)).collect();
    let expected_names: Vec<Option<String>> = expected.iter().map(|i| (i % 17 != 0).then(|| format!("n{i}"))).collect();
    assert_eq!(names, expected_names);
    // The first row group's statistics allow price >= 600 (max 2997), so all three are read.
    assert_eq!(ScanMetrics::get(&m.rows_decoded), 3000);
    assert_eq!(ScanMetrics::get(&m.rows_decoded_late), expected.len() as u64);
    assert_eq!(ScanMetrics::get(&m.rows_emitted), expected.len() as u64);

    // A filter keeping most rows (qty IS NOT NULL) on a column not in the output; the NULLs of
    // the late column come through.
    let not_null = Expr::IsNull { expr: Box::new(Expr::Column(1)), negated: true };
    let (out, m) = run_both_ways(&f, &scan(t.clone(), vec![2], vec![not_null], vec![]), &[]);
    let kept = (0..3000).filter(|i| i % 13 != 0).count();
    assert_eq!((out.num_columns(), out.num_rows()), (1, kept));
    assert_eq!(out.column(0).null_count(), (0..3000).filter(|i| i % 13 != 0 && i % 17 == 0).count());
    assert_eq!((ScanMetrics::get(&m.rows_decoded), ScanMetrics::get(&m.rows_decoded_late)), (3000, kept as u64));

    // IS NULL keeps exactly the NULL rows; a filter no row passes decodes nothing late.
    let is_null = Expr::IsNull { expr: Box::new(Expr::Column(1)), negated: false };
    let (out, m) = run_both_ways(&f, &scan(t.clone(), vec![0, 1, 2], vec![is_null], vec![]), &[]);
    let nulls: Vec<i64> = (0..3000).filter(|i| i % 13 == 0).collect();
    assert_eq!(col_i64(&out, 0), nulls.iter().map(|i| Some(*i)).collect::<Vec<_>>());
    assert_eq!(out.column(1).null_count(), nulls.len());
    assert_eq!(ScanMetrics::get(&m.rows_decoded_late), nulls.len() as u64);
    let none = cmp(1, BinaryOp::Gt, ScalarValue::Int64(Some(5)));
    let none_either = cmp(1, BinaryOp::Lt, ScalarValue::Int64(Some(2)));
    let (out, m) = run_both_ways(&f, &scan(t.clone(), vec![2], vec![none, none_either], vec![]), &[]);
    assert_eq!(out.num_rows(), 0);
    assert_eq!((ScanMetrics::get(&m.rows_decoded), ScanMetrics::get(&m.rows_decoded_late)), (3000, 0));

    // Filters reading every projected column, only numbers late (skipping them costs about
    // what decoding them does), or no filter: the one-pass decode.
    let (out, m) = run_both_ways(
        &f,
        &scan(t.clone(), vec![0, 3], vec![cmp(1, BinaryOp::Eq, ScalarValue::Int64(Some(3)))], vec![]),
        &[],
    );
    assert_eq!(out.num_rows(), (0..3000).filter(|i| i % 10 == 3 && i % 13 != 0).count());
    assert_eq!((ScanMetrics::get(&m.rows_decoded), ScanMetrics::get(&m.rows_decoded_late)), (3000, 0));
    let on_id = cmp(0, BinaryOp::Lt, ScalarValue::Int64(Some(1500)));
    let (out, m) = run_both_ways(&f, &scan(t.clone(), vec![0], vec![on_id], vec![]), &[]);
    assert_eq!(out.num_rows(), 1500);
    assert_eq!((ScanMetrics::get(&m.rows_decoded), ScanMetrics::get(&m.rows_decoded_late)), (2000, 0));
    let (out, m) = run_both_ways(&f, &scan(t, vec![2, 3], vec![], vec![]), &[]);
    assert_eq!(out.num_rows(), 3000);
    assert_eq!(col_i64(&out, 1)[2999], Some(8997));
    assert_eq!(ScanMetrics::get(&m.rows_decoded_late), 0);
}

#[test]
fn runtime_filters_and_page_selection_decide_the_late_rows() {
    let f = fixture();
    let t = late_table(&f);
    // A runtime filter on qty (read: a join key is projected) is a filter column of its own:
    // of 3000 rows, those with qty 4 pass, and only their id and name are decoded.
    let keys: ArrayRef = Arc::new(Int64Array::from(vec![4]));
    let (out, m) = run_both_ways(&f, &scan(t, vec![0, 2, 1], vec![], vec![]), &[published(1, keys)]);
    let expected: Vec<Option<i64>> = (0..3000).filter(|i| i % 10 == 4 && i % 13 != 0).map(Some).collect();
    assert_eq!(col_i64(&out, 0), expected);
    assert_eq!((ScanMetrics::get(&m.rows_decoded), ScanMetrics::get(&m.rows_decoded_late)), (3000, 277));
    assert_eq!(ScanMetrics::get(&m.rows_runtime_filtered), 3000 - 277);

    // With the page index: id BETWEEN 253 AND 268 keeps pages [250, 259] and [260, 269] of
    // row group 2 of 5 (qty's pages, 0 to 9 each, rule nothing out), then qty = 5 keeps 255
    // and 265: the late name is decoded for those two.
    let data = f.dir.path().join("pages");
    let names: ArrayRef = Arc::new(StringArray::from_iter_values((0..500).map(|i| format!("n{i:03}"))));
    let qty: ArrayRef = Arc::new(Int64Array::from_iter_values((0..500).map(|i| i % 10)));
    write_parquet_small_pages(
        &data.join("p.parquet"),
        &batch(vec![("id", ids(500)), ("qty", qty), ("name", names)]),
        100,
    );
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint"), ("qty", "bigint"), ("name", "string")], &[], &[]);
    let filters = vec![
        cmp(0, BinaryOp::GtEq, ScalarValue::Int64(Some(253))),
        cmp(0, BinaryOp::LtEq, ScalarValue::Int64(Some(268))),
        cmp(1, BinaryOp::Eq, ScalarValue::Int64(Some(5))),
    ];
    let (out, m) = run_both_ways(&f, &scan(t, vec![2], filters, vec![]), &[]);
    assert_eq!(out.column(0).as_string::<i32>().iter().flatten().collect::<Vec<_>>(), vec!["n255", "n265"]);
    assert_eq!((ScanMetrics::get(&m.pages_total), ScanMetrics::get(&m.pages_pruned)), (20, 8));
    assert_eq!((ScanMetrics::get(&m.rows_decoded), ScanMetrics::get(&m.rows_decoded_late)), (20, 2));
    assert!(m.to_string().contains("late_rows=2"), "{m}");
}

/// Rows of the dictionary tests: `mode` cycles through four values, NULL where `id % 7 == 0`;
/// `note` is a late string column.
fn modes(ids: std::ops::Range<i64>, distinct_after: Option<i64>) -> RecordBatch {
    const MODES: [&str; 4] = ["AIR", "MAIL", "SHIP", "RAIL"];
    let mode = StringArray::from_iter(ids.clone().map(|i| match (i % 7, distinct_after) {
        (0, _) => None,
        (_, Some(after)) if i >= after => Some(format!("M{i}")),
        _ => Some(MODES[(i % 4) as usize].to_string()),
    }));
    let note = StringArray::from_iter_values(ids.clone().map(|i| format!("note {i}")));
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(ids));
    batch(vec![("id", id), ("mode", Arc::new(mode)), ("note", Arc::new(note))])
}

fn write_with(path: &Path, batch: &RecordBatch, props: WriterProperties) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut writer = ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Whether every data page of `mode` in `path` is dictionary-encoded, read from its footer.
fn mode_fully_dictionary_encoded(path: &Path) -> bool {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(fs::File::open(path).unwrap()).unwrap();
    let metadata = reader.metadata();
    metadata.row_groups().iter().all(|rg| {
        let chunk = rg.column(1);
        let mask = chunk.page_encoding_stats_mask().unwrap();
        mask.is_only(parquet::basic::Encoding::RLE_DICTIONARY)
            || mask.is_only(parquet::basic::Encoding::PLAIN_DICTIONARY)
    })
}

#[test]
fn dictionary_filtering_matches_row_filtering_on_every_chunk_kind() {
    use parquet::schema::types::ColumnPath;
    let mut f = fixture();
    f.ctx.batch_size = 100;
    let data = f.dir.path().join("dict");
    let mode = ColumnPath::from("mode");
    // a: fully dictionary-encoded (two row groups); b: plain; c: falls back from dictionary to
    // plain pages part-way through its chunk.
    let a = data.join("a.parquet");
    write_with(&a, &modes(0..1000, None), WriterProperties::builder().set_max_row_group_row_count(Some(500)).build());
    let b = data.join("b.parquet");
    let plain = WriterProperties::builder().set_column_dictionary_enabled(mode.clone(), false).build();
    write_with(&b, &modes(1000..2000, None), plain);
    let c = data.join("c.parquet");
    let mixed = WriterProperties::builder()
        .set_dictionary_page_size_limit(256)
        .set_write_batch_size(50)
        .set_data_page_row_count_limit(50)
        .build();
    write_with(&c, &modes(2000..3000, Some(2500)), mixed);
    assert!(mode_fully_dictionary_encoded(&a));
    assert!(!mode_fully_dictionary_encoded(&b) && !mode_fully_dictionary_encoded(&c));
    let t = table(&data, DataFormat::Parquet, &[("id", "bigint"), ("mode", "string"), ("note", "string")], &[], &[]);

    let text = |s: &str| Expr::Literal(ScalarValue::Utf8(Some(s.to_string())));
    let in_list =
        Expr::InList { expr: Box::new(Expr::Column(1)), list: vec![text("MAIL"), text("SHIP")], negated: false };
    let is_null = Expr::IsNull { expr: Box::new(Expr::Column(1)), negated: false };
    let nothing = Expr::binary(Expr::Column(1), BinaryOp::Eq, text("BOAT"));
    let everything = Expr::Like {
        expr: Box::new(Expr::Column(1)),
        pattern: Box::new(text("%")),
        negated: false,
        case_insensitive: false,
    };
    let not_air = Expr::binary(Expr::Column(1), BinaryOp::NotEq, text("AIR"));
    let few_ids = cmp(0, BinaryOp::Lt, ScalarValue::Int64(Some(2700)));
    // (filters, projection, rows dropped by the dictionary in file a)
    let a_rows = |keep: &dyn Fn(i64) -> bool| (0..1000).filter(|i| !keep(*i)).count() as u64;
    let cases: Vec<(Vec<Expr>, Vec<usize>, u64)> = vec![
        (vec![in_list], vec![0, 2], a_rows(&|i| i % 7 != 0 && matches!(i % 4, 1 | 2))),
        (vec![is_null], vec![0, 1], a_rows(&|i| i % 7 == 0)),
        (vec![nothing], vec![2], 1000),
        (vec![everything], vec![1, 2], a_rows(&|i| i % 7 != 0)),
        (vec![not_air, few_ids], vec![1, 2, 0], a_rows(&|i| i % 7 != 0 && i % 4 != 0)),
    ];
    for (filters, projection, dropped) in cases {
        let plan = scan(t.clone(), projection, filters.clone(), vec![]);
        let mut results = Vec::new();
        for (late, dictionary) in [(true, true), (false, true), (true, false), (false, false)] {
            let options = ScanOptions {
                min_morsel_rows: 0,
                late_materialisation: late,
                dictionary_filtering: dictionary,
                ..ScanOptions::default()
            };
            let source = TableScanSource::with_options(&plan, options).unwrap();
            let (_, out) = run(&source, &f.ctx).unwrap();
            let m = source.metrics();
            let expected = if dictionary { dropped } else { 0 };
            assert_eq!(ScanMetrics::get(&m.rows_dictionary_filtered), expected, "{filters:?} late={late}");
            results.push((out, ScanMetrics::get(&m.rows_decoded)));
        }
        // Same rows and the same rows decoded (the page index skips c's pages of distinct
        // values for some filters) with and without the dictionary.
        let (reference, decoded) = results.pop().unwrap();
        for (out, rows_decoded) in results {
            assert_eq!(out, reference, "{filters:?}");
            assert_eq!(rows_decoded, decoded, "{filters:?}");
        }
        assert_eq!(reference.schema(), plan.schema);
    }
}

/// `path` read whole into memory and planned for `output`, with a decoder run over
/// `row_groups` (all when `None`) collecting its batches: the steps the decoder-level tests share.
struct DecodedFile {
    parquet: crate::io::parquet_scan::ParquetFileScan,
    bytes: bytes::Bytes,
}

impl DecodedFile {
    fn plan(path: &Path, output: SchemaRef) -> DecodedFile {
        use crate::io::object_reader::ObjectFile;
        use crate::io::parquet_scan::ParquetFileScan;
        use parquet::file::metadata::ParquetMetaDataReader;
        let bytes = bytes::Bytes::from(fs::read(path).unwrap());
        let metadata = Arc::new(ParquetMetaDataReader::new().parse_and_finish(&bytes).unwrap());
        let object = Arc::new(ObjectFile {
            store: Arc::new(object_store::memory::InMemory::new()),
            path: "t/x.parquet".into(),
            url: url(path),
            size: bytes.len() as u64,
            version: None,
        });
        DecodedFile { parquet: ParquetFileScan::plan(object, metadata, output).unwrap(), bytes }
    }

    fn decode(&self, row_groups: Option<&[usize]>, batch_size: usize, narrow: bool) -> Vec<RecordBatch> {
        use crate::io::fetched_ranges::FetchedRanges;
        let size = self.bytes.len() as u64;
        let fetched = FetchedRanges::new(size, std::slice::from_ref(&(0..size)), vec![self.bytes.clone()]);
        let all: Vec<usize> = (0..self.parquet.num_row_groups()).collect();
        let mut batches = Vec::new();
        self.parquet
            .decode(row_groups.unwrap_or(&all), None, fetched, batch_size, narrow, &mut |batch| {
                batches.push(batch);
                Ok(())
            })
            .unwrap();
        batches
    }
}

/// Strings of fully dictionary-encoded chunks are decoded as dictionaries and gathered into
/// `Utf8` by `dictionary_strings`; plain chunks and chunks that fall back to plain pages keep
/// the crate's own path. Every kind reads exactly the written values, NULLs included.
#[test]
fn dictionary_decoded_strings_read_exactly_on_every_chunk_kind() {
    use parquet::schema::types::ColumnPath;
    let f = fixture();
    let data = f.dir.path().join("dict");
    let mode = ColumnPath::from("mode");
    let a = data.join("a.parquet");
    write_with(&a, &modes(0..1000, None), WriterProperties::builder().set_max_row_group_row_count(Some(500)).build());
    let b = data.join("b.parquet");
    write_with(
        &b,
        &modes(1000..2000, None),
        WriterProperties::builder().set_column_dictionary_enabled(mode, false).build(),
    );
    let c = data.join("c.parquet");
    let mixed = WriterProperties::builder()
        .set_dictionary_page_size_limit(256)
        .set_write_batch_size(50)
        .set_data_page_row_count_limit(50)
        .build();
    write_with(&c, &modes(2000..3000, Some(2500)), mixed);
    let strings = |array: &ArrayRef| -> Vec<Option<String>> {
        array.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    };
    let output =
        Arc::new(Schema::new(vec![Field::new("note", DataType::Utf8, true), Field::new("mode", DataType::Utf8, true)]));
    for (path, ids, distinct_after, dictionary) in
        [(a, 0..1000, None, true), (b, 1000..2000, None, false), (c, 2000..3000, Some(2500), false)]
    {
        let file = DecodedFile::plan(&path, output.clone());
        assert_eq!(file.parquet.dictionary_columns().contains(&1), dictionary, "{path:?}");
        let batches = file.decode(None, 64, false);
        let out = arrow::compute::concat_batches(&output, &batches).unwrap();
        let expected = modes(ids, distinct_after);
        assert_eq!(out.schema(), output);
        assert_eq!(strings(out.column(0)), strings(expected.column(2)), "{path:?}");
        assert_eq!(strings(out.column(1)), strings(expected.column(1)), "{path:?}");
    }
}

/// Decimals stored in INT32/INT64 come out of the decoder narrow and are widened to the
/// declared `Decimal128` only for the rows a filter reads or the scan emits; every way of
/// reading (eager, late, runtime filter on a decimal) gives the exact values, NULLs included.
#[test]
fn narrow_decimals_are_widened_exactly_after_the_filters() {
    use arrow::datatypes::Decimal128Type;
    let mut f = fixture();
    f.ctx.batch_size = 128;
    let data = f.dir.path().join("decimals");
    let n = 2000i64;
    let price = Decimal128Array::from_iter((0..n).map(|i| (i % 11 != 0).then_some(i as i128 * 101 - 50_000)));
    let qty = Decimal128Array::from_iter((0..n).map(|i| (i % 13 != 0).then_some((i % 50) as i128 * 100)));
    let name: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("n{i}"))));
    let file = batch(vec![
        ("id", ids(n)),
        ("price", Arc::new(price.with_precision_and_scale(15, 2).unwrap()) as ArrayRef),
        ("qty", Arc::new(qty.with_precision_and_scale(7, 2).unwrap()) as ArrayRef),
        ("name", name),
    ]);
    let path = data.join("d.parquet");
    write_parquet(&path, &file, 700);

    // The decoder leaves them narrow only when asked to.
    let output = Arc::new(Schema::new(vec![
        Field::new("price", DataType::Decimal128(15, 2), true),
        Field::new("qty", DataType::Decimal128(7, 2), true),
    ]));
    let decoded = DecodedFile::plan(&path, output);
    for (narrow, types) in [
        (true, [DataType::Decimal64(15, 2), DataType::Decimal32(7, 2)]),
        (false, [DataType::Decimal128(15, 2), DataType::Decimal128(7, 2)]),
    ] {
        let batches = decoded.decode(Some(&[0, 1, 2]), 300, narrow);
        for b in &batches {
            let decoded: Vec<DataType> = b.schema().fields().iter().map(|f| f.data_type().clone()).collect();
            assert_eq!(decoded, types, "narrow={narrow}");
        }
    }

    // Through the scan: a filter on qty, price projected; a runtime filter on price.
    let t = table(
        &data,
        DataFormat::Parquet,
        &[("id", "bigint"), ("price", "decimal(15,2)"), ("qty", "decimal(7,2)"), ("name", "string")],
        &[],
        &[],
    );
    let decimal = |v: i128, p: u8| ScalarValue::Decimal128(Some(v), p, 2);
    let few = cmp(2, BinaryOp::Lt, decimal(300, 7));
    let plan = scan(t.clone(), vec![0, 1, 3], vec![few.clone()], vec![]);
    let (out, _) = run_both_ways(&f, &plan, &[]);
    let kept: Vec<i64> = (0..n).filter(|i| i % 13 != 0 && i % 50 < 3).collect();
    assert_eq!(col_i64(&out, 0), kept.iter().map(|i| Some(*i)).collect::<Vec<_>>());
    let prices: Vec<Option<i128>> = out.column(1).as_primitive::<Decimal128Type>().iter().collect();
    let expected: Vec<Option<i128>> = kept.iter().map(|&i| (i % 11 != 0).then_some(i as i128 * 101 - 50_000)).collect();
    assert_eq!(prices, expected);
    assert_eq!(out.schema(), plan.schema);

    let keys: ArrayRef = Arc::new(
        Decimal128Array::from(vec![101 * 12 - 50_000, 101 * 26 - 50_000]).with_precision_and_scale(15, 2).unwrap(),
    );
    let plan = scan(t, vec![2, 1, 0], vec![], vec![]);
    let (out, _) = run_both_ways(&f, &plan, &[published(1, keys)]);
    assert_eq!(col_i64(&out, 2), vec![Some(12), Some(26)]);
    let qty: Vec<Option<i128>> = out.column(0).as_primitive::<Decimal128Type>().iter().collect();
    assert_eq!(qty, vec![Some(1200), None]);
    assert_eq!(out.schema(), plan.schema);
}

#[test]
fn conjuncts_narrow_the_batch_as_they_go_and_keep_exact_answers() {
    let mut f = fixture();
    f.ctx.batch_size = 256;
    let t = late_table(&f);
    // qty = 3 keeps a tenth (NULL qty fails), so the next two conjuncts run on the survivors;
    // price >= 600 then keeps most of those, and id <> 1003 one fewer.
    let filters = vec![
        cmp(1, BinaryOp::Eq, ScalarValue::Int64(Some(3))),
        cmp(3, BinaryOp::GtEq, ScalarValue::Int64(Some(600))),
        cmp(0, BinaryOp::NotEq, ScalarValue::Int64(Some(1003))),
    ];
    let (out, _) = run_both_ways(&f, &scan(t.clone(), vec![0], filters, vec![]), &[]);
    let expected: Vec<Option<i64>> =
        (200..3000).filter(|i| i % 10 == 3 && i % 13 != 0 && *i != 1003).map(Some).collect();
    assert_eq!(col_i64(&out, 0), expected);

    // A constant FALSE conjunct after a narrowing one empties every batch.
    let filters =
        vec![cmp(1, BinaryOp::Eq, ScalarValue::Int64(Some(3))), Expr::Literal(ScalarValue::Boolean(Some(false)))];
    let (out, _) = run_both_ways(&f, &scan(t, vec![0], filters, vec![]), &[]);
    assert_eq!(out.num_rows(), 0);
}
