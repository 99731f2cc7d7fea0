//! `tarn crawl` end to end: a folder (and the same folder on the loopback S3 server) becomes
//! catalog tables that answer SQL as DuckDB answers over the same files. Expected literals come
//! from DuckDB (`read_parquet(..., hive_partitioning=1)`, `read_csv`), not from Tarn.

mod common;

use std::path::Path;

use common::s3_server::{S3Server, BUCKET};
use common::tarn_cli::{copy_dir, ok};

/// A small lake: the Hive-partitioned Parquet `events` table and the CSV `customers` table of
/// `tests/data`, each a top-level folder, as a crawler user would lay them out.
fn make_lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().expect("lake dir");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    copy_dir(&data.join("parquet/events"), &lake.path().join("events"));
    copy_dir(&data.join("csv/customers"), &lake.path().join("customers"));
    lake
}

const EVENTS_QUERY: &str =
    "SELECT year, month, count(*) AS n, sum(amount) AS total FROM lake.events GROUP BY 1, 2 ORDER BY 1, 2";
const EVENTS_CSV: &str = "year,month,n,total\n2024,5,40,1744.50\n2024,6,30,1294.73\n2025,1,35,1710.77\n";
const CUSTOMERS_QUERY: &str =
    "SELECT count(*) AS n, count(name) AS named, min(signup_date) AS first, max(last_seen) AS last FROM lake.customers";
const CUSTOMERS_CSV: &str = "n,named,first,last\n35,31,2023-01-30,2024-06-29 18:28:36\n";

fn crawl_and_query(root: &str, env: &[(&'static str, String)]) {
    let home = tempfile::tempdir().expect("home");
    let dry = ok(home.path(), env, &["crawl", root, "--database", "lake", "--dry-run"]);
    assert!(dry.contains("CREATE lake.events"), "{dry}");
    let none = ok(home.path(), env, &["--format", "csv", "-c", "SHOW DATABASES"]);
    assert!(!none.contains("lake"), "a dry run created the database: {none}");

    let applied = ok(home.path(), env, &["crawl", root, "--database", "lake"]);
    assert!(applied.contains("partitions +3 added"), "{applied}");
    assert_eq!(ok(home.path(), env, &["--format", "csv", "-c", EVENTS_QUERY]), EVENTS_CSV);
    assert_eq!(ok(home.path(), env, &["--format", "csv", "-c", CUSTOMERS_QUERY]), CUSTOMERS_CSV);

    let again = ok(home.path(), env, &["--format", "json", "crawl", root, "--database", "lake"]);
    let json: serde_json::Value = serde_json::from_str(&again).expect("crawl --format json is JSON");
    assert!(json.to_string().contains("\"tables\""), "{again}");
}

#[test]
fn crawled_local_folder_answers_sql() {
    let lake = make_lake();
    crawl_and_query(&lake.path().to_string_lossy(), &[]);
}

#[test]
fn crawled_s3_prefix_answers_sql() {
    let lake = make_lake();
    let server = S3Server::start(lake.path());
    crawl_and_query(&format!("s3://{BUCKET}/"), &server.env());
}

/// A file of a crawled table that scans cannot read, whether it was already corrupt when the
/// crawl ran (reported as unclassified, yet inside a partition folder) or was damaged later: the
/// query fails, and the error names the file.
#[test]
fn unreadable_file_in_a_crawled_table_fails_the_query_naming_it() {
    let lake = make_lake();
    let home = tempfile::tempdir().expect("home");
    let bad_at_crawl = "events/year=2024/month=5/zz-corrupt.parquet";
    let mut corrupt = b"PAR1".to_vec();
    corrupt.extend_from_slice(&[7; 64]);
    corrupt.extend_from_slice(b"PAR1");
    std::fs::write(lake.path().join(bad_at_crawl), &corrupt).expect("write corrupt file");
    let root = lake.path().to_string_lossy().to_string();
    let plan = ok(home.path(), &[], &["--format", "json", "crawl", &root, "--database", "lake"]);
    assert!(plan.contains("zz-corrupt.parquet") && plan.contains("corrupt Parquet"), "{plan}");

    let query = "SELECT count(*) FROM lake.events";
    let failed = common::tarn_cli::run(home.path(), &[], &["--format", "csv", "-c", query]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "a corrupt file was read silently: {}", String::from_utf8_lossy(&failed.stdout));
    assert!(stderr.contains("zz-corrupt.parquet"), "the error does not name the file: {stderr}");

    // Damaged after the crawl: a file the catalog's partition statistics counted.
    std::fs::remove_file(lake.path().join(bad_at_crawl)).expect("remove");
    let damaged = lake.path().join("events/year=2025/month=1/part-0.parquet");
    let bytes = std::fs::read(&damaged).expect("read");
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).expect("truncate");
    let failed = common::tarn_cli::run(home.path(), &[], &["--format", "csv", "-c", query]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "a truncated file was read silently");
    assert!(
        stderr.contains("part-0.parquet") && stderr.contains("month=1"),
        "the error does not name the file: {stderr}"
    );
}
