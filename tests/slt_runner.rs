//! The sqllogictest harness: runs every `tests/slt/*.slt` against an in-process Tarn session with a
//! fresh home, and every `tests/slt/s3/*.slt` the same way against the loopback S3 server.
//!
//! `cargo test --test slt [-- FILTER...]` runs the files whose path contains any FILTER. Each file runs
//! on its own thread (files in parallel); a failing record does not stop its file, so one run lists
//! every failure with its file and line. Substitutions in SQL: `__DATA__` is the absolute path of
//! `tests/data`, `__S3__` is `s3://<bucket>/` (the bucket holds a copy of `tests/data`), `__TMP__` is
//! a fresh writable folder of the file's own (for CTAS to a local folder).
//!
//! Values print as `tarn --format csv` prints them (dates `YYYY-MM-DD`, timestamps
//! `YYYY-MM-DD HH:MM:SS[.ffffff]`, booleans `true`/`false`, decimals with their scale), except the
//! sqllogictest conventions `NULL` and `(empty)`, and floats, which are rounded to 6 decimal places
//! (trailing zeros trimmed) so that the order of a parallel sum does not matter.
//! `tests/tools/expected.py` formats DuckDB's answers by the same rules.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Record, Runner};
use tarn_engine::{QueryOutput, Session};

use common::s3_server::{S3Server, BUCKET};

/// An error as the user sees it: the engine's message rendered against the SQL (caret included).
#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

/// One slt file's connection: a session on a home of its own.
struct TarnDb {
    session: Session,
    substitutions: Vec<(&'static str, String)>,
}

#[async_trait]
impl AsyncDB for TarnDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let sql = self.substitutions.iter().fold(sql.to_string(), |s, (from, to)| s.replace(from, to));
        // `Session::execute` is synchronous; this file has its own thread and runtime, so blocking
        // here holds up no other file.
        let outputs = self.session.execute(&sql).map_err(|e| SltError(e.render(&sql)))?;
        match outputs.into_iter().last() {
            Some(QueryOutput::Rows { schema, batches }) => {
                let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
                let mut rows = Vec::new();
                for batch in &batches {
                    for row in 0..batch.num_rows() {
                        let values = batch.columns().iter().map(|col| slt_text(col, row)).collect::<Result<_, _>>()?;
                        rows.push(values);
                    }
                }
                Ok(DBOutput::Rows { types, rows })
            }
            Some(QueryOutput::Message(_)) | None => Ok(DBOutput::StatementComplete(0)),
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "tarn"
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating() => DefaultColumnType::FloatingPoint,
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            DefaultColumnType::FloatingPoint
        }
        _ => DefaultColumnType::Text,
    }
}

/// One value in the slt text form (see the module comment).
fn slt_text(array: &ArrayRef, row: usize) -> Result<String, SltError> {
    if array.is_null(row) {
        return Ok("NULL".to_string());
    }
    let text = match array.data_type() {
        DataType::Float16 => float_text(array.as_primitive::<arrow::datatypes::Float16Type>().value(row).to_f64()),
        DataType::Float32 => float_text(f64::from(array.as_primitive::<arrow::datatypes::Float32Type>().value(row))),
        DataType::Float64 => float_text(array.as_primitive::<arrow::datatypes::Float64Type>().value(row)),
        DataType::Timestamp(unit, _) => {
            let micros = if *unit == TimeUnit::Microsecond {
                array.as_primitive::<TimestampMicrosecondType>().value(row)
            } else {
                let cast =
                    arrow::compute::cast(&array.slice(row, 1), &DataType::Timestamp(TimeUnit::Microsecond, None))
                        .map_err(|e| SltError(format!("runner: cannot convert a timestamp: {e}")))?;
                cast.as_primitive::<TimestampMicrosecondType>().value(0)
            };
            timestamp_text(micros)?
        }
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano) => {
            tarn_engine::expr::interval::format_interval(
                array.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>().value(row),
            )
        }
        _ => {
            let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
                .map_err(|e| SltError(format!("runner: cannot print {}: {e}", array.data_type())))?;
            formatter.value(row).to_string()
        }
    };
    Ok(if text.is_empty() { "(empty)".to_string() } else { text })
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

fn timestamp_text(micros: i64) -> Result<String, SltError> {
    let ts = chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| SltError(format!("runner: timestamp out of range: {micros}")))?
        .naive_utc();
    let mut text = ts.format("%Y-%m-%d %H:%M:%S").to_string();
    let fraction = micros.rem_euclid(1_000_000);
    if fraction != 0 {
        text.push_str(&format!(".{fraction:06}"));
    }
    Ok(text)
}

/// What one file's run found.
struct FileReport {
    path: PathBuf,
    records: usize,
    failures: Vec<String>,
}

fn run_file(path: &Path, substitutions: Vec<(&'static str, String)>) -> FileReport {
    let mut report = FileReport { path: path.to_path_buf(), records: 0, failures: Vec::new() };
    let records = match sqllogictest::parse_file::<DefaultColumnType>(path) {
        Ok(records) => records,
        Err(e) => {
            report.failures.push(format!("{}: cannot parse: {e}", path.display()));
            return report;
        }
    };
    let home = match tempfile::tempdir() {
        Ok(home) => home,
        Err(e) => {
            report.failures.push(format!("{}: cannot create a home: {e}", path.display()));
            return report;
        }
    };
    let home_path = home.path().to_path_buf();
    let scratch = home.path().join("tmp");
    if let Err(e) = std::fs::create_dir(&scratch) {
        report.failures.push(format!("{}: cannot create __TMP__: {e}", path.display()));
        return report;
    }
    let mut substitutions = substitutions;
    substitutions.push(("__TMP__", scratch.to_string_lossy().into_owned()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds on any test machine");
    runtime.block_on(async {
        let mut runner = Runner::new(move || {
            let home = home_path.clone();
            let substitutions = substitutions.clone();
            async move {
                let session = Session::open(&home).map_err(|e| SltError(format!("Session::open: {e}")))?;
                Ok(TarnDb { session, substitutions })
            }
        });
        for record in records {
            if let Record::Halt { .. } = record {
                break;
            }
            if matches!(record, Record::Statement { .. } | Record::Query { .. }) {
                report.records += 1;
            }
            if let Err(e) = runner.run_async(record).await {
                report.failures.push(format!("{}\n{}", e.location(), e.display(false)));
            }
        }
        runner.shutdown_async().await;
    });
    report
}

fn slt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "slt"));
    files.sort();
    files
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("tests/data");
    let slt = root.join("tests/slt");
    // Arguments that are not flags filter files by path; flags (cargo's --nocapture, ...) are ignored.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let selected = |p: &PathBuf| filters.is_empty() || filters.iter().any(|f| p.to_string_lossy().contains(f.as_str()));
    let local: Vec<PathBuf> = slt_files(&slt).into_iter().filter(selected).collect();
    let s3: Vec<PathBuf> = slt_files(&slt.join("s3")).into_iter().filter(selected).collect();
    let started = Instant::now();

    // The S3 server starts, and the environment is set, before any session exists or any thread is
    // spawned: Tarn reads its S3 settings from the environment.
    let server = (!s3.is_empty()).then(|| S3Server::start(&data));
    if let Some(server) = &server {
        for (key, value) in server.env() {
            std::env::set_var(key, value);
        }
    }

    let data_text = data.to_string_lossy().into_owned();
    let jobs: Vec<(PathBuf, Vec<(&'static str, String)>)> = local
        .into_iter()
        .map(|p| (p, vec![("__DATA__", data_text.clone())]))
        .chain(
            s3.into_iter().map(|p| (p, vec![("__S3__", format!("s3://{BUCKET}/")), ("__DATA__", data_text.clone())])),
        )
        .collect();

    let reports: Vec<FileReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(path, subs)| {
                let shown = path.clone();
                (shown, scope.spawn(move || run_file(&path, subs)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(path, handle)| {
                handle.join().unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    FileReport {
                        path: path.clone(),
                        records: 0,
                        failures: vec![format!("{}: panicked: {message}", path.display())],
                    }
                })
            })
            .collect()
    });
    drop(server);

    let mut failed_records = 0;
    for report in &reports {
        for failure in &report.failures {
            println!("FAIL {failure}\n");
        }
        failed_records += report.failures.len();
    }
    println!("slt summary ({:.1}s):", started.elapsed().as_secs_f64());
    for report in &reports {
        let shown = report.path.strip_prefix(root).unwrap_or(&report.path).display();
        let status = if report.failures.is_empty() { "ok  " } else { "FAIL" };
        println!("  {status} {shown}: {} records, {} failed", report.records, report.failures.len());
    }
    if failed_records == 0 {
        println!("all {} slt files passed", reports.len());
        ExitCode::SUCCESS
    } else {
        println!("{failed_records} failed records");
        ExitCode::FAILURE
    }
}
