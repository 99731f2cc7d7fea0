//! Queries end to end over small CSV and Parquet files written into the test's home.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

use super::{column, error, query, session};
use crate::error::SqlPosition;

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|v| v.to_string()).collect()).collect()
}

fn write_parquet(path: &Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("v", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        Arc::new(StringArray::from(vec![Some("a"), Some("b"), Some("a"), Some("c")])),
        Arc::new(Float64Array::from(vec![1.5, 2.5, 3.0, 4.0])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn csv_table_filter_group_order() {
    let (home, mut s) = session();
    let dir = home.path().join("sales");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("part-0.csv"),
        "id,region,amount\n1,north,10\n2,south,20\n3,north,30\n4,east,5\n5,south,15\n",
    )
    .unwrap();
    let ddl = format!(
        "CREATE EXTERNAL TABLE sales (id int, region string, amount int)
         ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
         STORED AS TEXTFILE LOCATION '{}'
         TBLPROPERTIES ('skip.header.line.count'='1')",
        dir.display()
    );
    s.execute(&ddl).unwrap();
    let rows = query(
        &mut s,
        "SELECT region, SUM(amount) AS total, COUNT(*) AS n FROM sales WHERE amount > 5 \
         GROUP BY region ORDER BY total DESC",
    );
    assert_eq!(rows, strings(&[&["north", "40", "2"], &["south", "35", "2"]]));
}

#[test]
fn parquet_table_filter_group_order() {
    let (home, mut s) = session();
    let dir = home.path().join("facts");
    std::fs::create_dir_all(&dir).unwrap();
    write_parquet(&dir.join("part-0.parquet"));
    let ddl = format!(
        "CREATE EXTERNAL TABLE facts (k bigint, name string, v double) STORED AS PARQUET LOCATION '{}'",
        dir.display()
    );
    s.execute(&ddl).unwrap();
    let rows = query(&mut s, "SELECT name, SUM(v) FROM facts WHERE k >= 2 GROUP BY name ORDER BY name");
    assert_eq!(rows, strings(&[&["a", "3.0"], &["b", "2.5"], &["c", "4.0"]]));
}

#[test]
fn partitioned_table_after_msck_repair() {
    let (home, mut s) = session();
    let dir = home.path().join("events");
    for (folder, data) in [("year=2023", "1\n2\n"), ("year=2024", "10\n")] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        std::fs::write(dir.join(folder).join("part-0.csv"), data).unwrap();
    }
    let ddl = format!("CREATE EXTERNAL TABLE events (v int) PARTITIONED BY (year int) LOCATION '{}'", dir.display());
    s.execute(&ddl).unwrap();
    assert!(query(&mut s, "SELECT v FROM events").is_empty());
    s.execute("MSCK REPAIR TABLE events").unwrap();
    let rows = query(&mut s, "SELECT year, SUM(v) FROM events GROUP BY year ORDER BY year");
    assert_eq!(rows, strings(&[&["2023", "3"], &["2024", "10"]]));
    assert_eq!(column(query(&mut s, "SELECT v FROM events WHERE year = 2024")), ["10"]);

    s.execute("ALTER TABLE events DROP PARTITION (year = 2023)").unwrap();
    assert_eq!(column(query(&mut s, "SELECT SUM(v) FROM events")), ["10"]);
    let other = home.path().join("elsewhere");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("x.csv"), "100\n").unwrap();
    s.execute(&format!("ALTER TABLE events ADD PARTITION (year = 2022) LOCATION '{}'", other.display())).unwrap();
    assert_eq!(column(query(&mut s, "SELECT SUM(v) FROM events")), ["110"]);
}

#[test]
fn explain_shows_logical_and_physical_plans() {
    let (home, mut s) = session();
    let dir = home.path().join("facts");
    std::fs::create_dir_all(&dir).unwrap();
    write_parquet(&dir.join("part-0.parquet"));
    s.execute(&format!(
        "CREATE EXTERNAL TABLE facts (k bigint, name string, v double) STORED AS PARQUET LOCATION '{}'",
        dir.display()
    ))
    .unwrap();
    let lines = column(query(&mut s, "EXPLAIN SELECT name FROM facts WHERE k > 1"));
    assert_eq!(lines[0], "== Logical plan ==");
    assert!(lines.iter().any(|l| l.contains("Scan default.facts")), "{lines:?}");
    assert!(lines.iter().any(|l| l == "== Physical plan =="), "{lines:?}");
    assert!(!lines.iter().any(|l| l == "== Execution =="), "{lines:?}");
    let analyzed = column(query(&mut s, "EXPLAIN ANALYZE SELECT name FROM facts WHERE k > 1"));
    assert!(analyzed.iter().any(|l| l.starts_with("3 row(s) in ")), "{analyzed:?}");
    assert!(analyzed.iter().any(|l| l == "== Optimizer =="), "{analyzed:?}");
}

#[test]
fn query_errors_point_into_the_script() {
    let (_home, mut s) = session();
    s.execute("CREATE EXTERNAL TABLE t (a int) LOCATION '/nonexistent/t'").unwrap();
    let sql = "SHOW TABLES;\nSELECT a,\n       nope\nFROM t";
    let err = error(&mut s, sql);
    assert_eq!(err.position(), Some(SqlPosition { line: 3, column: 8 }), "{err}");
}
