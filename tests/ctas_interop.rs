//! Interop of what Athena CTAS writes (design issue 6, point 6): the output folder, crawled by
//! `tarn crawl`, gives the CTAS table's schema back (names and types, partition keys included),
//! and DuckDB reads the same rows and types from the files. The DuckDB half runs when
//! `python3 -c 'import duckdb'` works and says why it is skipped otherwise.

mod common;

use std::path::Path;

use std::process::Command;

use common::tarn_cli;

/// One row of every type the lake shares with other engines, and a partition key of each kind.
const SELECT: &str = "SELECT CAST(id AS int) AS id, CAST(id * 10 AS bigint) AS big, name, \
     CAST(amount AS decimal(10,2)) AS amount, CAST(day AS date) AS day, CAST(ts AS timestamp) AS ts, \
     CAST(ratio AS double) AS ratio, paid, region, CAST(yr AS int) AS yr \
     FROM (VALUES (1, 'ann', 10.50, '2024-01-05', '2024-01-05 10:30:00', 1.5, true, 'eu', 2024), \
                  (2, 'bob', 3.25, '2023-12-31', '2023-12-31 23:59:59.5', -0.25, false, 'us', 2023), \
                  (3, NULL, NULL, NULL, NULL, NULL, NULL, 'eu', 2024)) \
     AS v(id, name, amount, day, ts, ratio, paid, region, yr)";

fn ok(home: &Path, args: &[&str]) -> String {
    tarn_cli::ok(home, &[], args)
}

fn sql(home: &Path, query: &str) -> String {
    ok(home, &["--format", "csv", "-c", query])
}

/// `DESCRIBE` rows as `name type partition_key`, sorted (the crawler orders partition keys as
/// their folders nest, CTAS as `partitioned_by` lists them: the same here).
fn schema(home: &Path, table: &str) -> Vec<String> {
    sql(home, &format!("DESCRIBE {table}")).lines().skip(1).map(str::to_string).collect()
}

#[test]
fn crawling_ctas_output_gives_the_ctas_schema() {
    let lake = tempfile::tempdir().expect("lake");
    let home = tempfile::tempdir().expect("home");
    let root = lake.path().to_string_lossy().into_owned();
    ok(home.path(), &["-c", "CREATE DATABASE analytics"]);
    ok(
        home.path(),
        &["-c", &format!("CREATE TABLE analytics.flat WITH (external_location = '{root}/flat/') AS {SELECT}")],
    );
    ok(
        home.path(),
        &[
            "-c",
            &format!(
                "CREATE TABLE analytics.parted WITH (external_location = '{root}/parted/', \
                 partitioned_by = ARRAY['region', 'yr']) AS {SELECT}"
            ),
        ],
    );
    ok(home.path(), &["crawl", &root, "--database", "crawled"]);
    for table in ["flat", "parted"] {
        let written = schema(home.path(), &format!("analytics.{table}"));
        let crawled = schema(home.path(), &format!("crawled.{table}"));
        assert_eq!(written, crawled, "{table}: CTAS schema vs crawled schema");
        let query = |db: &str| sql(home.path(), &format!("SELECT * FROM {db}.{table} ORDER BY id"));
        assert_eq!(query("analytics"), query("crawled"), "{table}: rows");
    }
    // The partitioned table's keys are partition keys on both sides, typed.
    let parted = schema(home.path(), "crawled.parted");
    assert!(parted.contains(&"yr,int,true,".to_string()), "{parted:?}");
}

#[test]
fn duckdb_reads_ctas_output_with_the_same_rows_and_types() {
    let probe = Command::new("python3").args(["-c", "import duckdb"]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            println!("skipped: python3 cannot import duckdb: {}", String::from_utf8_lossy(&out.stderr).trim());
            return;
        }
        Err(e) => {
            println!("skipped: python3 does not run: {e}");
            return;
        }
    }
    let lake = tempfile::tempdir().expect("lake");
    let home = tempfile::tempdir().expect("home");
    let root = lake.path().to_string_lossy().into_owned();
    ok(
        home.path(),
        &[
            "-c",
            &format!(
                "CREATE TABLE parted WITH (external_location = '{root}/parted/', partitioned_by = ARRAY['region', \
                 'yr']) AS {SELECT}"
            ),
        ],
    );
    // DuckDB's own rendering of the types and values, with Hive partitioning as Athena reads it.
    let script = format!(
        "import duckdb\n\
         con = duckdb.connect()\n\
         rel = con.sql(\"SELECT * FROM read_parquet('{root}/parted/**/*.parquet', hive_partitioning = true, \
         hive_types = {{'region': VARCHAR, 'yr': INTEGER}}) ORDER BY id\")\n\
         print(','.join(f'{{n}}:{{t}}' for n, t in zip(rel.columns, rel.types)))\n\
         for row in rel.fetchall():\n    print(row)\n"
    );
    let out = Command::new("python3").args(["-c", &script]).output().expect("run python3");
    assert!(out.status.success(), "duckdb failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let expected = "id:INTEGER,big:BIGINT,name:VARCHAR,amount:DECIMAL(10,2),day:DATE,ts:TIMESTAMP,ratio:DOUBLE,\
                    paid:BOOLEAN,region:VARCHAR,yr:INTEGER\n\
                    (1, 10, 'ann', Decimal('10.50'), datetime.date(2024, 1, 5), datetime.datetime(2024, 1, 5, 10, 30), \
                    1.5, True, 'eu', 2024)\n\
                    (2, 20, 'bob', Decimal('3.25'), datetime.date(2023, 12, 31), \
                    datetime.datetime(2023, 12, 31, 23, 59, 59, 500000), -0.25, False, 'us', 2023)\n\
                    (3, 30, None, None, None, None, None, None, 'eu', 2024)\n";
    assert_eq!(text, expected);
}
