//! A crawled CSV folder whose dates and timestamps are not ISO: the crawler records the Hive
//! patterns it recognised (`date.format`, `timestamp.formats`) and the scan reads values by them,
//! so SQL over the table sees real dates. Expected values come from DuckDB 1.x/2.0 over the same
//! file (`read_csv(..., dateformat='%m/%d/%Y', timestampformat='%Y/%m/%d %H:%M:%S')`).
//! Also checks the metadata statements around a crawled table: `DESCRIBE EXTENDED` showing the
//! Glue parameters and `SHOW TABLE HISTORY` recording a drifted schema.

mod common;

use std::path::Path;

use common::tarn_cli;

const ORDERS_CSV: &str = "order_id,order_date,shipped_at,amount\n\
    1,01/15/2024,2024/01/16 08:30:00,10.50\n\
    2,02/29/2024,2024/03/01 17:05:09,20.00\n\
    3,12/31/2023,2024/01/02 00:00:00,5.25\n\
    4,,2024/02/10 12:00:00,7.75\n\
    5,03/01/2024,2024/03/01 23:59:59,1.00\n";

fn ok(home: &Path, args: &[&str]) -> String {
    tarn_cli::ok(home, &[], args)
}

fn sql(home: &Path, query: &str) -> String {
    ok(home, &["--format", "csv", "-c", query])
}

fn crawl(home: &Path, lake: &Path) -> String {
    ok(home, &["crawl", &lake.to_string_lossy(), "--database", "lake"])
}

#[test]
fn crawled_csv_with_us_dates_and_slashed_timestamps_answers_sql() {
    let lake = tempfile::tempdir().expect("lake");
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir(lake.path().join("orders")).expect("orders folder");
    std::fs::write(lake.path().join("orders/part-0.csv"), ORDERS_CSV).expect("write orders");
    let plan = crawl(home.path(), lake.path());
    assert!(plan.contains("MM/dd/yyyy") && plan.contains("yyyy/MM/dd HH:mm:ss"), "{plan}");

    assert_eq!(
        sql(home.path(), "SELECT order_id, order_date, shipped_at FROM lake.orders ORDER BY order_id"),
        "order_id,order_date,shipped_at\n\
         1,2024-01-15,2024-01-16 08:30:00\n\
         2,2024-02-29,2024-03-01 17:05:09\n\
         3,2023-12-31,2024-01-02 00:00:00\n\
         4,,2024-02-10 12:00:00\n\
         5,2024-03-01,2024-03-01 23:59:59\n"
    );
    assert_eq!(
        sql(
            home.path(),
            "SELECT count(*) AS n, min(order_date) AS first, max(order_date) AS last, \
             count(order_date) AS dated FROM lake.orders WHERE order_date >= DATE '2024-01-01'"
        ),
        "n,first,last,dated\n3,2024-01-15,2024-03-01,3\n"
    );
    assert_eq!(
        sql(
            home.path(),
            "SELECT order_id FROM lake.orders \
             WHERE shipped_at >= TIMESTAMP '2024-03-01 00:00:00' AND shipped_at < TIMESTAMP '2024-03-02 00:00:00' \
             ORDER BY 1"
        ),
        "order_id\n2\n5\n"
    );

    let described = sql(home.path(), "DESCRIBE FORMATTED lake.orders");
    for line in [
        "order_date,date,false,",
        "shipped_at,timestamp,false,",
        "classification,csv,false,",
        "skip.header.line.count,1,false,",
        "date.format,MM/dd/yyyy,false,",
        "timestamp.formats,yyyy/MM/dd HH:mm:ss,false,",
    ] {
        assert!(described.lines().any(|l| l == line), "no line {line:?} in:\n{described}");
    }
    assert!(described.lines().any(|l| l.starts_with("recordCount,")), "{described}");
    let plain = sql(home.path(), "DESCRIBE lake.orders");
    assert!(!plain.contains("classification"), "plain DESCRIBE keeps its shape: {plain}");
}

#[test]
fn a_value_outside_the_recorded_format_names_file_row_and_column() {
    let lake = tempfile::tempdir().expect("lake");
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir(lake.path().join("orders")).expect("orders folder");
    std::fs::write(lake.path().join("orders/part-0.csv"), ORDERS_CSV).expect("write orders");
    crawl(home.path(), lake.path());
    // A file written later by another tool, in day-first order the table does not know.
    std::fs::write(
        lake.path().join("orders/part-1.csv"),
        "order_id,order_date,shipped_at,amount\n6,31/03/2024,,2.00\n",
    )
    .expect("write a late file");
    let out = tarn_cli::run(home.path(), &[], &["-c", "SELECT count(order_date) FROM lake.orders"]);
    assert!(!out.status.success(), "reading 31/03/2024 as MM/dd/yyyy must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    for part in ["part-1.csv", "row 2", "order_date", "'31/03/2024'", "MM/dd/yyyy"] {
        assert!(err.contains(part), "error lacks {part:?}: {err}");
    }
}

#[test]
fn a_drifted_schema_is_a_new_version_in_the_table_history() {
    let lake = tempfile::tempdir().expect("lake");
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir(lake.path().join("orders")).expect("orders folder");
    std::fs::write(lake.path().join("orders/part-0.csv"), ORDERS_CSV).expect("write orders");
    crawl(home.path(), lake.path());
    let first = sql(home.path(), "SHOW TABLE HISTORY lake.orders");
    assert_eq!(first.lines().count(), 2, "header and the crawl's version: {first}");
    assert!(first.contains("created by tarn crawl"), "{first}");

    std::fs::write(
        lake.path().join("orders/part-1.csv"),
        "order_id,order_date,shipped_at,amount,note\n6,03/02/2024,2024/03/03 10:00:00,2.00,gift\n",
    )
    .expect("write a drifted file");
    crawl(home.path(), lake.path());
    let history = sql(home.path(), "DESCRIBE HISTORY lake.orders");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines[0], "version,recorded_at,reason,columns,partition_keys");
    assert_eq!(lines.len(), 3, "{history}");
    assert!(lines[2].contains("note") && lines[2].contains("added"), "{history}");
    assert!(lines[2].contains("shipped_at timestamp, amount ") && lines[2].contains(", note string\""), "{history}");
}

/// Issue 8 item 1 for the crawler: every malformed file of the public corpora (Apache
/// `parquet-testing` `bad_data/`, `arrow-testing` fuzz/crash cases; `tests/data/corrupt/`), each in
/// its own table folder, is either crawled into a table or reported with its key and a reason; the
/// crawl itself finishes without a panic, and every table it did create answers `count(*)` or
/// fails with an error naming a file — never a panic.
#[test]
fn crawling_the_corrupt_corpora_reports_every_file_and_never_panics() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corrupt");
    let lake = tempfile::tempdir().expect("lake");
    let home = tempfile::tempdir().expect("home");
    let mut names = Vec::new();
    for sub in ["parquet-testing/bad_data", "arrow-testing/parquet-fuzzing"] {
        for entry in std::fs::read_dir(corpus.join(sub)).expect("corpus folder") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("name").to_string_lossy().to_string();
            if name.ends_with(".md") || name.ends_with(".txt") {
                continue;
            }
            let folder = lake.path().join(format!("t{:03}", names.len()));
            std::fs::create_dir(&folder).expect("table folder");
            std::fs::copy(&path, folder.join(&name)).expect("copy corpus file");
            names.push(name);
        }
    }
    assert!(names.len() >= 20, "the corpora should hold at least 20 malformed files, found {}", names.len());

    let out = tarn_cli::run(
        home.path(),
        &[],
        &["crawl", &lake.path().to_string_lossy(), "--database", "corpus", "--format", "json"],
    );
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the crawl must finish: {stderr}");
    assert!(!stderr.contains("panicked") && !stdout.contains("panicked"), "{stderr}");
    let report = format!("{stdout}{stderr}");
    let missing: Vec<&String> = names.iter().filter(|n| !report.contains(n.as_str())).collect();
    let tables = tarn_cli::csv(home.path(), &[], "SHOW TABLES IN corpus");
    let created: Vec<&str> = tables.lines().skip(1).filter(|l| !l.is_empty()).collect();
    // A file is accounted for when the plan names it (skipped, unclassified, or a table's note)
    // or when its folder became a table.
    for name in &missing {
        let index = names.iter().position(|n| n == *name).expect("index");
        let table = format!("t{index:03}");
        assert!(created.iter().any(|l| l.contains(&table)), "{name} is neither reported nor a table:\n{report}");
    }
    assert!(!created.is_empty(), "some corpus files have readable footers and become tables:\n{tables}");
    let mut failed = 0;
    for line in &created {
        let table = line.split(',').next_back().unwrap_or(line);
        let out = tarn_cli::run(home.path(), &[], &["-c", &format!("SELECT count(*) FROM corpus.{table}")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "query on {table} panicked: {stderr}");
        if !out.status.success() {
            failed += 1;
            assert!(stderr.contains(&lake.path().to_string_lossy().to_string()) || stderr.contains(table), "{stderr}");
        }
    }
    eprintln!(
        "{} corpus files, {} tables created, {failed} of them failed to scan cleanly",
        names.len(),
        created.len()
    );
}
