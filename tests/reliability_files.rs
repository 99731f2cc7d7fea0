//! Bad files never crash Tarn (issue 8, items 1 and 6): every malformed Parquet and CSV file of the
//! public corpora in `tests/data/corrupt/`, truncations and bit flips of a valid Parquet file, and
//! hand-made CSVs (ragged rows, broken quotes, invalid UTF-8, a 50 MB line, BOMs, CRLF) are
//! declared as tables and scanned with `SELECT *` and `COUNT(*)`. Each scan must return rows or
//! an error naming the file; a panic that reaches the caller, a scan slower than
//! [`CASE_TIMEOUT`] or a peak RSS above [`PEAK_RSS_LIMIT_BYTES`] fails the test.
//!
//! `TARN_LONG_TESTS=1` truncates at every byte and flips 20,000 bits instead of the short CI run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Once};
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use tarn_engine::{QueryOutput, Session};

/// Longest one case (declare + scans) may take in a debug build before it counts as a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The process's peak resident memory must stay under this: the largest input is a 50 MB CSV
/// line, which a correct reader holds a few times at most.
const PEAK_RSS_LIMIT_BYTES: u64 = 1536 * 1024 * 1024;

fn long_run() -> bool {
    std::env::var_os("TARN_LONG_TESTS").is_some_and(|v| v != "0")
}

fn corrupt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corrupt")
}

/// Panics that reached the panic hook chain, i.e. printed a message: the engine catches the
/// parquet crate's panics inside its decoder silently, so any count here is a panic outside that
/// net (it fails the test even when something caught it later). Process-wide: every test of this
/// file expects none.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            previous(info);
        }));
    });
}

/// One file to scan, and the columns to declare over it.
struct Case {
    name: String,
    /// Written as the table's only file, under this name.
    file_name: String,
    bytes: Vec<u8>,
    columns: String,
    csv: bool,
    expect: Expect,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// Rows or an error naming the file.
    Anything,
    /// Exactly this many rows.
    Rows(usize),
    /// An error naming the file.
    Error,
}

/// What a run of cases reached, for the report (and `RELIABILITY.md`).
#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    read: usize,
    errors: usize,
}

/// Runs every case on a worker thread (one session, one table per case) and fails on an escaped
/// panic, a wrong outcome, an error that does not name the file or a case over the timeout.
fn run_cases(label: &str, cases: Vec<Case>) -> Tally {
    count_panics();
    let panics_before = PANICS.load(Ordering::Relaxed);
    let started = Instant::now();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let total = cases.len();
    let (progress, events) = mpsc::channel::<(String, Result<Outcome, String>)>();
    let worker = std::thread::spawn(move || {
        let mut session = Session::open(&home_path).unwrap();
        for (i, case) in cases.into_iter().enumerate() {
            let result = catch_unwind(AssertUnwindSafe(|| scan_case(&mut session, &home_path, i, &case)))
                .map_err(|panic| format!("PANIC escaped: {}", panic_text(&panic)))
                .and_then(|outcome| check_outcome(&case, outcome));
            if progress.send((case.name, result)).is_err() {
                return;
            }
        }
    });
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    while tally.cases < total {
        match events.recv_timeout(CASE_TIMEOUT) {
            Ok((name, result)) => {
                tally.cases += 1;
                match result {
                    Ok(Outcome::Rows(_)) => tally.read += 1,
                    Ok(Outcome::Error(_)) => tally.errors += 1,
                    Err(failure) => failures.push(format!("{name}: {failure}")),
                }
            }
            Err(_) => panic!("{label}: case {} did not finish within {CASE_TIMEOUT:?} (hang)", tally.cases + 1),
        }
    }
    worker.join().unwrap();
    let printed = PANICS.load(Ordering::Relaxed) - panics_before;
    eprintln!(
        "{label}: {} cases ({} read, {} clean errors, {printed} panic messages) in {:.1?}",
        tally.cases,
        tally.read,
        tally.errors,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{label}: {} failures:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(printed, 0, "{label}: panics outside the decoder's net (see the messages above)");
    check_peak_rss();
    tally
}

#[derive(Debug)]
enum Outcome {
    Rows(usize),
    Error(String),
}

/// Declares the case's table and runs `SELECT *` and `COUNT(*)`; the outcome is the first error,
/// else the row count (both scans must agree).
fn scan_case(session: &mut Session, home: &Path, i: usize, case: &Case) -> Outcome {
    let dir = home.join(format!("case{i}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&case.file_name), &case.bytes).unwrap();
    let format =
        if case.csv { "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE" } else { "STORED AS PARQUET" };
    let ddl = format!("CREATE EXTERNAL TABLE c{i} ({}) {format} LOCATION '{}'", case.columns, dir.display());
    session.execute(&ddl).unwrap_or_else(|e| panic!("declaring {}: {e}", case.name));
    let rows = |sql: String, session: &mut Session| -> Result<usize, String> {
        let outputs = session.execute(&sql).map_err(|e| e.to_string())?;
        match outputs.into_iter().last() {
            Some(QueryOutput::Rows { batches, .. }) if sql.contains("COUNT") => {
                let batch = &batches[0];
                let count = batch.column(0).as_any().downcast_ref::<Int64Array>().map(|a| a.value(0));
                Ok(count.unwrap_or_default() as usize)
            }
            Some(QueryOutput::Rows { batches, .. }) => Ok(batches.iter().map(RecordBatch::num_rows).sum()),
            other => Err(format!("unexpected output {other:?}")),
        }
    };
    let all = rows(format!("SELECT * FROM c{i}"), session);
    let counted = rows(format!("SELECT COUNT(*) FROM c{i}"), session);
    std::fs::remove_dir_all(&dir).unwrap();
    match (all, counted) {
        (Ok(a), Ok(c)) if a == c => Outcome::Rows(a),
        (Ok(a), Ok(c)) => Outcome::Error(format!("SELECT * gave {a} rows but COUNT(*) {c}")),
        (Err(e), _) | (_, Err(e)) => Outcome::Error(e),
    }
}

fn check_outcome(case: &Case, outcome: Outcome) -> Result<Outcome, String> {
    match (&outcome, case.expect) {
        (Outcome::Error(e), _) if e.contains(" rows but COUNT(*) ") => Err(e.clone()),
        (Outcome::Error(e), _) if !e.contains(&case.file_name) => Err(format!("the error does not name the file: {e}")),
        (Outcome::Error(e), Expect::Rows(n)) => Err(format!("expected {n} rows, got error: {e}")),
        (Outcome::Rows(n), Expect::Error) => Err(format!("expected an error, read {n} rows")),
        (Outcome::Rows(n), Expect::Rows(want)) if *n != want => Err(format!("expected {want} rows, read {n}")),
        _ => Ok(outcome),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-text panic".into())
}

/// Peak resident set of this process (`VmHWM`), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn check_peak_rss() {
    if let Some(peak) = peak_rss_bytes() {
        assert!(peak < PEAK_RSS_LIMIT_BYTES, "peak RSS {} MiB over the limit", peak >> 20);
    }
}

/// A deterministic xorshift generator: reproducible cases without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// SQL columns for a Parquet file's readable top-level columns, as the file declares them, so
/// scans reach the decoder; `x int` (read as NULLs) when the footer itself is unreadable.
fn columns_of_parquet(bytes: &[u8]) -> String {
    let data = bytes::Bytes::copy_from_slice(bytes);
    let schema =
        catch_unwind(|| ParquetRecordBatchReaderBuilder::try_new(data).ok().map(|b| b.schema().clone())).ok().flatten();
    let columns: Vec<String> = schema
        .iter()
        .flat_map(|s| s.fields().iter())
        .filter(|f| !f.name().is_empty() && f.name().chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|f| Some(format!("\"{}\" {}", f.name(), sql_type(f.data_type())?)))
        .collect();
    if columns.is_empty() {
        "x int".into()
    } else {
        columns.join(", ")
    }
}

fn sql_type(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => "int".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(p, s) if *s >= 0 => format!("decimal({p},{s})"),
        _ => return None,
    })
}

fn parquet_corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    for folder in ["parquet-testing/bad_data", "arrow-testing/parquet-fuzzing"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(corrupt_dir().join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_none_or(|e| e != "md"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            let stem = path.file_name().unwrap().to_string_lossy().replace('.', "_");
            cases.push(Case {
                name: format!("{folder}/{stem}"),
                file_name: format!("{stem}.parquet"),
                columns: columns_of_parquet(&bytes),
                bytes,
                csv: false,
                expect: Expect::Anything,
            });
        }
    }
    cases
}

#[test]
fn parquet_corpus_files_fail_cleanly() {
    let tally = run_cases("parquet corpus", parquet_corpus());
    assert!(tally.cases >= 140, "the corpus went missing: {tally:?}");
}

#[test]
fn csv_corpus_files_fail_cleanly() {
    let dir = corrupt_dir().join("arrow-testing/csv-fuzzing");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let stem = path.file_name().unwrap().to_string_lossy().to_string();
        for (kind, columns) in [("text", "a varchar, b varchar, c varchar"), ("typed", "a int, b double, c date")] {
            cases.push(Case {
                name: format!("{stem} as {kind}"),
                file_name: format!("{stem}.csv"),
                bytes: bytes.clone(),
                columns: columns.into(),
                csv: true,
                expect: Expect::Anything,
            });
        }
    }
    let tally = run_cases("csv corpus", cases);
    assert!(tally.cases >= 14, "the corpus went missing: {tally:?}");
}

/// A valid file of 3 row groups with statistics, dictionary and plain pages, and nulls.
fn valid_parquet() -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("day", DataType::Date32, true),
    ]));
    let n = 600;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n)),
        Arc::new(StringArray::from_iter((0..n).map(|i| (i % 7 != 0).then(|| format!("name-{}", i % 13))))),
        Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 5 != 0).then_some(i as f64 * 1.5)))),
        Arc::new(Date32Array::from_iter((0..n).map(|i| Some(19000 + i as i32)))),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(200)).build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

const VALID_COLUMNS: &str = "id bigint, name varchar, amount double, day date";

#[test]
fn truncated_parquet_fails_cleanly() {
    let valid = valid_parquet();
    let step = if long_run() { 1 } else { valid.len() / 48 + 1 };
    // A 0-byte file is an empty file (as Spark's markers are), not a truncated one: from 1 byte.
    let mut cases: Vec<Case> = (1..valid.len())
        .step_by(step)
        .map(|len| Case {
            name: format!("truncated to {len} of {} bytes", valid.len()),
            file_name: format!("truncated_{len}.parquet"),
            bytes: valid[..len].to_vec(),
            columns: VALID_COLUMNS.into(),
            csv: false,
            expect: Expect::Error,
        })
        .collect();
    cases.push(Case {
        name: "the whole file".into(),
        file_name: "whole.parquet".into(),
        bytes: valid.clone(),
        columns: VALID_COLUMNS.into(),
        csv: false,
        expect: Expect::Rows(600),
    });
    run_cases("parquet truncations", cases);
}

#[test]
fn bit_flipped_parquet_fails_cleanly_or_reads() {
    let valid = valid_parquet();
    let flips = if long_run() { 20_000 } else { 96 };
    let mut rng = XorShift(0x7a72_6e5f_6669_6c65);
    let cases = (0..flips)
        .map(|i| {
            let mut bytes = valid.clone();
            // Half the flips land in the footer (the last 1 KiB), where they change what the
            // reader believes about offsets and sizes; the rest anywhere.
            let at = if i % 2 == 0 {
                bytes.len() - 1 - rng.below(1024.min(bytes.len() as u64)) as usize
            } else {
                rng.below(bytes.len() as u64) as usize
            };
            let bit = rng.below(8);
            bytes[at] ^= 1 << bit;
            Case {
                name: format!("flip {i}: bit {bit} of byte {at}"),
                file_name: format!("flip_{i}.parquet"),
                bytes,
                columns: VALID_COLUMNS.into(),
                csv: false,
                expect: Expect::Anything,
            }
        })
        .collect();
    run_cases("parquet bit flips", cases);
}

fn csv_case(name: &str, bytes: Vec<u8>, columns: &str, expect: Expect) -> Case {
    Case {
        name: name.into(),
        file_name: format!("{}.csv", name.replace(' ', "_")),
        bytes,
        columns: columns.into(),
        csv: true,
        expect,
    }
}

#[test]
fn malformed_csv_reads_or_names_the_file() {
    let typed = "a int, b varchar, c double";
    let cases = vec![
        csv_case("good", b"1,x,1.5\n2,y,2.5\n".to_vec(), typed, Expect::Rows(2)),
        csv_case("ragged short", b"1,x,1.5\n2,y\n".to_vec(), typed, Expect::Error),
        csv_case("ragged long", b"1,x,1.5\n2,y,2.5,9\n".to_vec(), typed, Expect::Error),
        csv_case("unterminated quote", b"1,\"x,1.5\n2,y,2.5\n".to_vec(), typed, Expect::Error),
        csv_case("text after closing quote", b"1,\"x\"z,1.5\n".to_vec(), typed, Expect::Error),
        csv_case("quote inside unquoted field", b"1,x\"y,1.5\n".to_vec(), typed, Expect::Rows(1)),
        csv_case("invalid utf8 in text", b"1,\xff\xfe,1.5\n".to_vec(), typed, Expect::Error),
        csv_case("invalid utf8 in number", b"\xc3\x28,x,1.5\n".to_vec(), typed, Expect::Error),
        csv_case("bom", b"\xef\xbb\xbf1,x,1.5\n2,y,2.5\n".to_vec(), typed, Expect::Rows(2)),
        csv_case("crlf", b"1,x,1.5\r\n2,\"y\r\nz\",2.5\r\n".to_vec(), typed, Expect::Rows(2)),
        csv_case("lone cr line ends", b"1,x,1.5\r2,y,2.5\r".to_vec(), typed, Expect::Error),
        csv_case("empty file", Vec::new(), typed, Expect::Rows(0)),
        csv_case("only newlines", b"\n\r\n\n".to_vec(), typed, Expect::Rows(0)),
        csv_case("nul bytes", b"1,a\0b,1.5\n\0\0\0\n".to_vec(), typed, Expect::Anything),
        csv_case("number overflow", b"99999999999,x,1e999\n".to_vec(), typed, Expect::Error),
        csv_case("truncated gzip", vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x4b], typed, Expect::Error),
        csv_case("random binary", XorShiftBytes(XorShift(42)).take(64 * 1024).collect(), typed, Expect::Anything),
        csv_case(
            "delimiters only",
            b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n".repeat(1000),
            typed,
            Expect::Error,
        ),
    ];
    run_cases("malformed csv", cases);
}

/// Issue 8 item 6: a 50 MB line (one huge quoted field, and one huge unquoted field in an int
/// column) reads correctly or fails naming the file, in bounded memory.
#[test]
fn huge_csv_lines_stay_bounded() {
    let big = 50 * 1024 * 1024;
    let mut quoted = b"1,\"".to_vec();
    quoted.extend(std::iter::repeat_n(b'x', big));
    quoted.extend_from_slice(b"\",2.5\n2,y,3.5\n");
    let mut digits = std::iter::repeat_n(b'7', big).collect::<Vec<u8>>();
    digits.extend_from_slice(b",x,1.5\n");
    let mut no_newline = b"1,".to_vec();
    no_newline.extend(std::iter::repeat_n(b'z', big));
    let typed = "a int, b varchar, c double";
    let cases = vec![
        csv_case("50 MB quoted field", quoted, typed, Expect::Rows(2)),
        csv_case("50 MB number", digits, typed, Expect::Error),
        csv_case("50 MB line without end", no_newline, typed, Expect::Error),
    ];
    run_cases("huge csv lines", cases);
    eprintln!("peak RSS after huge lines: {} MiB", peak_rss_bytes().unwrap_or(0) >> 20);
}

/// Random bytes for the "random binary" CSV.
struct XorShiftBytes(XorShift);

impl Iterator for XorShiftBytes {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        Some(self.0.next() as u8)
    }
}
