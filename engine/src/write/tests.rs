//! Writes end to end through a session: local tables, Athena CTAS to a local folder (partitioned
//! and not), INSERT into external tables, DELETE/TRUNCATE, failure cleanup. Expected values are
//! computed by hand from the inserted rows.

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use tarn_catalog::Location;

use super::*;
use crate::io::parquet_writer::ParquetCompression;
use crate::write::run::{publish_and_commit, write_plan};
use crate::write::sink::{FileFormatSpec, WriteSpec};
use crate::write::staging::{Placement, WriteTarget};

fn parse_query(sql: &str) -> sqlparser::ast::Query {
    match sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql).unwrap().remove(0) {
        sqlparser::ast::Statement::Query(q) => *q,
        other => panic!("not a query: {other}"),
    }
}

fn run(session: &mut Session, sql: &str) -> Result<Vec<QueryOutput>> {
    session.execute(sql)
}

/// The rows of a query as `a|b|c` lines.
fn query(session: &mut Session, sql: &str) -> Vec<String> {
    let outputs = run(session, sql).unwrap_or_else(|e| panic!("{sql}: {}", e.render(sql)));
    let Some(QueryOutput::Rows { batches, .. }) = outputs.into_iter().last() else { panic!("{sql}: no rows") };
    lines(&batches)
}

fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default().with_null("NULL")).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>().join("|"));
        }
    }
    out
}

fn error(session: &mut Session, sql: &str) -> String {
    match run(session, sql) {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => e.to_string(),
    }
}

fn session() -> (tempfile::TempDir, Session) {
    let home = tempfile::tempdir().unwrap();
    let session = Session::open(home.path()).unwrap();
    (home, session)
}

/// Files below `dir`, relative, sorted (hidden ones included: cleanup must leave none), except the
/// marker a committed CTAS leaves on purpose.
fn files_below(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if entry.file_name() != crate::write::overwrite::MARKER {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn local_table_lifecycle() {
    let (home, mut s) = session();
    run(&mut s, "CREATE TABLE dim (id int, name varchar(20), price decimal(10,2), day date)").unwrap();
    run(&mut s, "INSERT INTO dim VALUES (1, 'a', 1.50, '2024-01-01'), (2, 'b', 2.25, '2024-02-01')").unwrap();
    run(&mut s, "INSERT INTO dim (name, id) VALUES ('c', 3)").unwrap();
    assert_eq!(
        query(&mut s, "SELECT * FROM dim ORDER BY id"),
        ["1|a|1.50|2024-01-01", "2|b|2.25|2024-02-01", "3|c|NULL|NULL"]
    );
    let warehouse = home.path().join("warehouse/default/dim");
    assert_eq!(files_below(&warehouse).len(), 2, "one file per INSERT");

    let before = files_below(&warehouse);
    run(&mut s, "DELETE FROM dim WHERE price > 2").unwrap();
    assert_eq!(query(&mut s, "SELECT id FROM dim ORDER BY id"), ["1", "3"], "NULL price survives");
    let after = files_below(&warehouse);
    assert!(!after.is_empty() && after.iter().all(|f| !before.contains(f)), "old files removed: {before:?} {after:?}");

    run(&mut s, "CREATE TABLE summary AS SELECT name, id * 10 AS tens FROM dim WHERE id < 3").unwrap();
    assert_eq!(query(&mut s, "SELECT * FROM summary"), ["a|10"]);
    assert_eq!(query(&mut s, "DESCRIBE summary")[..2].len(), 2);

    run(&mut s, "INSERT INTO summary SELECT name, id FROM dim").unwrap();
    assert_eq!(query(&mut s, "SELECT count(*), sum(tens) FROM summary"), ["3|14"]);

    run(&mut s, "TRUNCATE summary").unwrap();
    assert_eq!(query(&mut s, "SELECT count(*) FROM summary"), ["0"]);
    run(&mut s, "DELETE FROM dim").unwrap();
    assert_eq!(query(&mut s, "SELECT count(*) FROM dim"), ["0"]);
    assert!(files_below(&warehouse).is_empty());
}

#[test]
fn insert_checks_columns_and_types() {
    let (_home, mut s) = session();
    run(&mut s, "CREATE TABLE t (id int, day date)").unwrap();
    let err = error(&mut s, "INSERT INTO t VALUES (1, '2024-01-01', 3)");
    assert!(err.contains("more expressions than target columns"), "{err}");
    let err = error(&mut s, "INSERT INTO t (id, nope) VALUES (1, 2)");
    assert!(err.contains("column 'nope' of table 'default.t' does not exist"), "{err}");
    let err = error(&mut s, "INSERT INTO t VALUES (1, true)");
    assert!(err.contains("column 'day' of 'default.t' is of type DATE but the value is of type BOOLEAN"), "{err}");
    let err = error(&mut s, "INSERT INTO t VALUES ('x', '2024-01-01')");
    assert!(err.contains("'x'"), "{err}");
    assert_eq!(query(&mut s, "SELECT count(*) FROM t"), ["0"], "failed inserts leave nothing");
    let err = error(&mut s, "CREATE TABLE t AS SELECT 1 AS a");
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn athena_ctas_partitioned_to_a_local_folder() {
    let (home, mut s) = session();
    let lake = home.path().join("lake");
    let out = lake.join("sales");
    run(&mut s, "CREATE TABLE src (id int, city varchar, year int, amount decimal(8,2))").unwrap();
    run(
        &mut s,
        "INSERT INTO src VALUES (1, 'Oslo', 2023, 10.00), (2, 'Bergen', 2024, 5.50), (3, 'Oslo', 2024, 1.25), \
         (4, NULL, 2024, 2.00)",
    )
    .unwrap();
    let sql = format!(
        "CREATE TABLE sales WITH (external_location = '{}/', format = 'PARQUET', write_compression = 'ZSTD', \
         partitioned_by = ARRAY['year', 'city']) AS SELECT id, amount, year, city FROM src",
        out.display()
    );
    run(&mut s, &sql).unwrap();
    let marker = std::fs::read_to_string(out.join(crate::write::overwrite::MARKER)).unwrap();
    let mut listed: Vec<&str> = marker.lines().collect();
    listed.sort();
    assert_eq!(listed, files_below(&out), "the CTAS marker lists exactly its files");
    let mut folders: Vec<String> =
        files_below(&out).iter().map(|f| f.rsplit_once('/').unwrap().0.to_string()).collect();
    folders.sort();
    folders.dedup();
    assert_eq!(
        folders,
        [
            "year=2023/city=Oslo",
            "year=2024/city=Bergen",
            "year=2024/city=Oslo",
            "year=2024/city=__HIVE_DEFAULT_PARTITION__"
        ]
    );
    let totals = "SELECT year, city, count(*), sum(amount) FROM sales GROUP BY 1, 2 ORDER BY 1, 2";
    assert_eq!(
        query(&mut s, totals),
        ["2023|Oslo|1|10.00", "2024|Bergen|1|5.50", "2024|Oslo|1|1.25", "2024|NULL|1|2.00"]
    );
    assert_eq!(query(&mut s, "SHOW PARTITIONS sales").len(), 4);

    run(&mut s, "INSERT INTO sales VALUES (5, 7.00, 2025, 'Oslo'), (6, 1.00, 2024, 'Oslo')").unwrap();
    assert_eq!(query(&mut s, "SHOW PARTITIONS sales").len(), 5);
    assert_eq!(query(&mut s, "SELECT count(*), sum(amount) FROM sales WHERE city = 'Oslo'"), ["4|19.25"]);
    assert!(files_below(&out).iter().all(|f| !f.contains(".tarn-staging")), "{:?}", files_below(&out));
}

#[test]
fn athena_ctas_refuses_bad_properties_and_non_empty_locations() {
    let (home, mut s) = session();
    let out = home.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("someone-else.csv"), "1\n").unwrap();
    let err = error(&mut s, &format!("CREATE TABLE x WITH (external_location='{}/') AS SELECT 1 AS a", out.display()));
    assert!(err.contains("is not empty"), "{err}");
    assert!(out.join("someone-else.csv").exists());
    let err = error(&mut s, "CREATE TABLE x WITH (external_location='/tmp/x/', colour='red') AS SELECT 1 AS a");
    assert!(err.contains("unknown table property 'colour'") && err.contains("partitioned_by"), "{err}");
    let err = error(
        &mut s,
        "CREATE TABLE x WITH (external_location='/tmp/x/', partitioned_by=ARRAY['a']) AS SELECT 1 AS a, 2 AS b",
    );
    assert!(err.contains("must be the last columns"), "{err}");
}

#[test]
fn a_failure_mid_write_leaves_nothing_visible() {
    let (home, mut s) = session();
    // 10^5 rows through cross joins; the division fails on the rows where d.x = 9, after files of
    // the other rows may already be complete (1 MB files roll over quickly).
    run(
        &mut s,
        "CREATE TABLE digits AS SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS v(x)",
    )
    .unwrap();
    let numbers = "SELECT a.x * 10000 + b.x * 1000 + c.x * 100 + d.x * 10 + e.x AS n, \
                   'padding text to make rows wider' AS pad FROM digits a, digits b, digits c, digits d, digits e";
    let out = home.path().join("lake/failing");
    let sql = format!(
        "CREATE TABLE failing WITH (external_location = '{}/', target_file_size_mb = 1) AS \
         SELECT n, pad, 100 / (n % 99991 - 99990) AS boom FROM ({numbers}) AS t",
        out.display()
    );
    let err = error(&mut s, &sql);
    assert!(err.contains("division by zero"), "{err}");
    assert!(files_below(&out).is_empty(), "{:?}", files_below(&out));
    assert!(!s.catalog().table_exists("default", "failing").unwrap());

    // The same into a local table: no files listed, none left in the warehouse.
    run(&mut s, "CREATE TABLE sink (n bigint, pad varchar, boom bigint)").unwrap();
    let err =
        error(&mut s, &format!("INSERT INTO sink SELECT n, pad, 100 / (n % 99991 - 99990) FROM ({numbers}) AS t"));
    assert!(err.contains("division by zero"), "{err}");
    assert_eq!(query(&mut s, "SELECT count(*) FROM sink"), ["0"]);
    assert!(files_below(&home.path().join("warehouse/default/sink")).is_empty());

    // Without the failing row the same write succeeds.
    let sql = format!(
        "CREATE TABLE numbers WITH (external_location = '{}/', target_file_size_mb = 1) AS {numbers}",
        out.display()
    );
    run(&mut s, &sql).unwrap();
    assert_eq!(query(&mut s, "SELECT count(*), count(DISTINCT n), max(n) FROM numbers"), ["100000|100000|99999"]);

    // Files roll over at the target size: 100,000 rows at a 200 kB target make several files.
    let rolled = Location::parse(&format!("{}/rolled/", home.path().display())).unwrap();
    let ctx = s.exec_context();
    let target = WriteTarget::new(&rolled, Placement::Direct, &ctx.stores, &ctx.io).unwrap();
    let plan = optimize(&s, binder(&s).bind_query(&parse_query(numbers)).unwrap()).unwrap();
    let spec = WriteSpec {
        target,
        format: FileFormatSpec::Parquet(ParquetCompression::Snappy.into()),
        file_schema: plan.schema(),
        data_columns: vec![0, 1],
        partition_columns: vec![],
        partition_keys: vec![],
        target_file_size: 200_000,
    };
    let files = write_plan(&plan, spec, &ctx).unwrap();
    assert!(files.len() > 2, "{files:?}");
    assert_eq!(files.iter().map(|f| f.row_count).sum::<u64>(), 100_000);
    assert!(files.iter().all(|f| f.size_bytes < 400_000), "{files:?}");
}

#[test]
fn a_failed_commit_removes_the_written_files() {
    let (home, s) = session();
    let root = Location::parse(&format!("{}/staged/", home.path().display())).unwrap();
    let ctx = s.exec_context();
    let target = WriteTarget::new(&root, Placement::Staged, &ctx.stores, &ctx.io).unwrap();
    let plan = binder(&s).bind_query(&parse_query("SELECT 1 AS a, 'x' AS b")).unwrap();
    let spec = WriteSpec {
        target: target.clone(),
        format: FileFormatSpec::Parquet(ParquetCompression::Snappy.into()),
        file_schema: plan.schema(),
        data_columns: vec![0, 1],
        partition_columns: vec![],
        partition_keys: vec![],
        target_file_size: DEFAULT_TARGET_FILE_SIZE,
    };
    let files = write_plan(&plan, spec, &ctx).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files_below(&home.path().join("staged")).len(), 1, "staged, hidden");
    assert!(files_below(&home.path().join("staged"))[0].starts_with(".tarn-staging-"));
    let result: Result<()> =
        publish_and_commit(&target, &files, |_| Err(EngineError::execution("injected commit failure")));
    assert!(result.unwrap_err().to_string().contains("injected"));
    assert!(files_below(&home.path().join("staged")).is_empty());
}

#[test]
fn text_ctas_reads_back_and_copy_loads_text() {
    let (home, mut s) = session();
    let out = home.path().join("lake/text");
    run(
        &mut s,
        &format!(
            "CREATE TABLE t WITH (external_location = '{}/', format = 'TEXTFILE', field_delimiter = '|', \
             write_compression = 'GZIP') AS SELECT * FROM (VALUES (1, 'a|b', DATE '2024-01-02'), \
             (2, NULL, NULL)) AS v(id, name, day)",
            out.display()
        ),
    )
    .unwrap();
    assert!(files_below(&out)[0].ends_with(".csv.gz"));
    assert_eq!(query(&mut s, "SELECT * FROM t ORDER BY id"), ["1|a|b|2024-01-02", "2|NULL|NULL"]);

    let data = home.path().join("in");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "id|name|day\n1|x|2024-01-02\n2|\\N|03/04/2024\nbad|y|2024-01-01\n").unwrap();
    run(&mut s, "CREATE TABLE loaded (id int, name varchar(1), day date)").unwrap();
    let copy = format!("COPY loaded FROM '{}/' IGNOREHEADER 1 MAXERROR 1", data.display());
    let Some(QueryOutput::Message(message)) = run(&mut s, &copy).unwrap().pop() else { panic!("no message") };
    assert!(message.contains("2 record(s) loaded successfully, 1 record(s) could not be loaded"), "{message}");
    assert_eq!(query(&mut s, "SELECT * FROM loaded ORDER BY id"), ["1|x|2024-01-02", "2|NULL|2024-03-04"]);
    assert_eq!(query(&mut s, "SELECT line_number, colname, err_code FROM sys.load_errors"), ["4|id|1207"]);
}

#[test]
fn drop_table_removes_local_data_only() {
    let (home, mut s) = session();
    run(&mut s, "CREATE TABLE keep AS SELECT 1 AS a").unwrap();
    let folder = home.path().join("warehouse/default/keep");
    assert_eq!(files_below(&folder).len(), 1);
    run(&mut s, "DROP TABLE keep").unwrap();
    assert!(!folder.exists());
    run(&mut s, "CREATE DATABASE mart").unwrap();
    run(&mut s, "CREATE TABLE mart.dim AS SELECT 2 AS b").unwrap();
    run(&mut s, "DROP DATABASE mart CASCADE").unwrap();
    assert!(!home.path().join("warehouse/mart/dim").exists());
}

/// DuckDB reads back what a CTAS wrote, with the same rows and types (skipped when the Python
/// `duckdb` package is not installed).
#[test]
fn duckdb_reads_back_ctas_parquet() {
    let has_duckdb = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|status| status.success());
    if !has_duckdb {
        eprintln!("skipped: python3 with duckdb is not available");
        return;
    }
    let (home, mut s) = session();
    let out = home.path().join("lake/interop");
    run(
        &mut s,
        &format!(
            "CREATE TABLE interop WITH (external_location = '{}/', partitioned_by = ARRAY['year']) AS \
             SELECT * FROM (VALUES (1, 'ann', 12.50, DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05.123456', 2024), \
             (2, NULL, -0.25, NULL, NULL, 2023)) AS v(id, name, price, day, at, year)",
            out.display()
        ),
    )
    .unwrap();
    let script = format!(
        "import duckdb\n\
         rel = duckdb.sql(\"SELECT * FROM read_parquet('{}/**/*.parquet', hive_partitioning = true) ORDER BY id\")\n\
         print([str(t) for t in rel.types])\n\
         for row in rel.fetchall(): print(row)\n",
        out.display()
    );
    let output = std::process::Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "['INTEGER', 'VARCHAR', 'DECIMAL(4,2)', 'DATE', 'TIMESTAMP', 'BIGINT']");
    assert_eq!(
        lines[1],
        "(1, 'ann', Decimal('12.50'), datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5, 123456), 2024)"
    );
    assert_eq!(lines[2], "(2, None, Decimal('-0.25'), None, None, 2023)");
}

#[test]
fn unload_writes_partitioned_files_and_refuses_occupied_prefixes() {
    let (home, mut s) = session();
    let out = home.path().join("unload");
    let sql = format!(
        "UNLOAD ('SELECT * FROM (VALUES (1, ''a''), (2, ''b''), (3, ''a'')) AS v(id, tag)') TO '{}/' \
         FORMAT PARQUET PARTITION BY (tag)",
        out.display()
    );
    run(&mut s, &sql).unwrap();
    let files = files_below(&out);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].starts_with("tag=a/") && files[1].starts_with("tag=b/"), "{files:?}");
    let err = error(&mut s, &sql);
    assert!(err.contains("already holds files"), "{err}");
    run(
        &mut s,
        &format!(
            "CREATE EXTERNAL TABLE u (id int) PARTITIONED BY (tag string) STORED AS PARQUET LOCATION '{}/'",
            out.display()
        ),
    )
    .unwrap();
    run(&mut s, "MSCK REPAIR TABLE u").unwrap();
    assert_eq!(query(&mut s, "SELECT tag, sum(id) FROM u GROUP BY tag ORDER BY tag"), ["a|4", "b|2"]);

    let text = home.path().join("unload_text");
    run(&mut s, &format!("UNLOAD ('SELECT 1 AS x, ''y'' AS z') TO '{}/' HEADER", text.display())).unwrap();
    let name = &files_below(&text)[0];
    assert_eq!(std::fs::read_to_string(text.join(name)).unwrap(), "x|z\n1|y\n");
}

#[test]
fn insert_refuses_partitions_registered_elsewhere() {
    let (home, mut s) = session();
    let table_dir = home.path().join("ext/t");
    let elsewhere = home.path().join("elsewhere");
    std::fs::create_dir_all(&table_dir).unwrap();
    run(
        &mut s,
        &format!(
            "CREATE EXTERNAL TABLE t (id int) PARTITIONED BY (p int) STORED AS PARQUET LOCATION '{}/'",
            table_dir.display()
        ),
    )
    .unwrap();
    run(&mut s, &format!("ALTER TABLE t ADD PARTITION (p = 1) LOCATION '{}/'", elsewhere.display())).unwrap();
    run(&mut s, "INSERT INTO t VALUES (10, 2)").unwrap();
    assert_eq!(query(&mut s, "SELECT id, p FROM t"), ["10|2"]);
    let err = error(&mut s, "INSERT INTO t VALUES (11, 1)");
    assert!(err.contains("is registered at"), "{err}");
    assert_eq!(files_below(&table_dir).len(), 1, "{:?}", files_below(&table_dir));
    assert_eq!(query(&mut s, "SELECT count(*) FROM t"), ["1"]);
}
