//! End-to-end crawls of local folders into a catalog in a temp home: each numbered point of the
//! crawler issue on real files (Parquet written by arrow's writer, CSV as text).

use std::fs;
use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use serde_json::Value;
use tarn_catalog::store::history::TableVersion;
use tarn_catalog::{serde_keys, Catalog, DataFormat, SqlType, StoreRegistry};
use tarn_crawler::{run_crawl, CrawlOptions, CrawlReport, DeleteBehavior, ProgressMode, TableAction};
use tempfile::TempDir;

struct Lake {
    dir: TempDir,
    _home: TempDir,
    catalog: Catalog,
    stores: StoreRegistry,
}

impl Lake {
    fn new() -> Lake {
        let home = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(home.path()).unwrap();
        Lake { dir: tempfile::tempdir().unwrap(), _home: home, catalog, stores: StoreRegistry::new() }
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, bytes: &[u8]) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    fn parquet(&self, relative: &str, columns: Vec<(&str, ArrayRef)>) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let mut writer = ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn options(&self) -> CrawlOptions {
        let mut options = CrawlOptions::new(format!("{}/", self.dir.path().display()), "lake");
        options.progress = ProgressMode::Never;
        options
    }

    async fn crawl(&self, options: CrawlOptions) -> CrawlReport {
        run_crawl(&self.catalog, &self.stores, &options).await.unwrap()
    }

    fn url(&self, relative: &str) -> String {
        format!("file://{}/{relative}", self.dir.path().display())
    }
}

fn ints(values: &[i32]) -> ArrayRef {
    Arc::new(Int32Array::from(values.to_vec()))
}

fn bigints(values: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn doubles(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

fn strings(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// A partitioned Parquet table `orders/` and a CSV table `users/`, with junk around them.
fn sample_lake(lake: &Lake) {
    lake.parquet(
        "orders/year=2023/month=12/part-0.parquet",
        vec![("id", bigints(&[1, 2])), ("amount", doubles(&[9.5, 20.0])), ("status", strings(&["new", "paid"]))],
    );
    lake.parquet(
        "orders/year=2024/month=01/part-0.parquet",
        vec![("id", bigints(&[3, 4, 5])), ("amount", doubles(&[1.0, 2.0, 3.0])), ("status", strings(&["a", "b", "c"]))],
    );
    lake.write("orders/_SUCCESS", b"");
    lake.write("orders/year=2024/month=01/.part-0.parquet.crc", b"crc");
    lake.write(
        "users/users.csv",
        b"id,name,signup,score,zip\n1,Alice,2024-01-31 10:00:00,1.5,02134\n2,Bob,2024-02-01 11:30:00,2,90210\n3,,2024-02-02 08:00:00,,10001\n",
    );
}

#[tokio::test]
async fn crawls_partitioned_parquet_and_csv_into_tables() {
    let lake = Lake::new();
    sample_lake(&lake);
    let report = lake.crawl(lake.options()).await;
    let applied = report.applied.clone().unwrap();
    assert!(applied.database_created);
    assert_eq!((applied.tables_created, applied.partitions_added), (2, 2));

    let orders = lake.catalog.get_table("lake", "orders").unwrap();
    assert_eq!(orders.storage.format, DataFormat::Parquet);
    assert_eq!(orders.storage.location, lake.url("orders/"));
    let columns: Vec<_> = orders.storage.columns.iter().map(|c| (c.name.as_str(), c.data_type.clone())).collect();
    assert_eq!(columns, [("id", SqlType::BigInt), ("amount", SqlType::Double), ("status", SqlType::String)]);
    let keys: Vec<_> = orders.partition_keys.iter().map(|c| (c.name.as_str(), c.data_type.clone())).collect();
    assert_eq!(keys, [("year", SqlType::Int), ("month", SqlType::Int)]);
    for (key, value) in
        [("classification", "parquet"), ("recordCount", "5"), ("objectCount", "2"), ("compressionType", "none")]
    {
        assert_eq!(orders.parameters.get(key).map(String::as_str), Some(value), "{key}");
    }
    let size: u64 = ["orders/year=2023/month=12/part-0.parquet", "orders/year=2024/month=01/part-0.parquet"]
        .iter()
        .map(|p| fs::metadata(lake.path(p)).unwrap().len())
        .sum();
    assert_eq!(orders.parameters.get("sizeKey"), Some(&size.to_string()));
    assert_eq!(orders.parameters.get("averageRecordSize"), Some(&(size / 5).to_string()));
    let partitions = lake.catalog.list_partitions("lake", "orders").unwrap();
    assert_eq!(partitions.len(), 2);
    assert_eq!(partitions[0].values, ["2023", "12"]);
    assert_eq!(partitions[0].location, lake.url("orders/year=2023/month=12/"));
    assert_eq!(partitions[1].parameters.get("numRows").map(String::as_str), Some("3"));
    assert_eq!(partitions[1].parameters.get("numFiles").map(String::as_str), Some("1"));

    let users = lake.catalog.get_table("lake", "users").unwrap();
    assert_eq!(users.storage.format, DataFormat::Csv);
    let columns: Vec<_> = users.storage.columns.iter().map(|c| (c.name.as_str(), c.data_type.clone())).collect();
    assert_eq!(
        columns,
        [
            ("id", SqlType::Int),
            ("name", SqlType::String),
            ("signup", SqlType::Timestamp),
            ("score", SqlType::Double),
            ("zip", SqlType::String)
        ]
    );
    let serde = &users.storage.serde_parameters;
    assert_eq!(serde.get(serde_keys::FIELD_DELIMITER).map(String::as_str), Some(","));
    assert_eq!(serde.get(serde_keys::SKIP_HEADER).map(String::as_str), Some("1"));
    assert_eq!(serde.get(serde_keys::TIMESTAMP_FORMAT).map(String::as_str), Some("yyyy-MM-dd HH:mm:ss"));
    for (key, value) in
        [("classification", "csv"), ("delimiter", ","), ("skip.header.line.count", "1"), ("recordCount", "3")]
    {
        assert_eq!(users.parameters.get(key).map(String::as_str), Some(value), "{key}");
    }

    let skipped: Vec<_> = report.plan.skipped.iter().map(|s| (s.relative.as_str(), s.reason.code())).collect();
    assert_eq!(
        skipped,
        [("orders/_SUCCESS", "job_marker"), ("orders/year=2024/month=01/.part-0.parquet.crc", "hidden")]
    );
    let history: Vec<TableVersion> = lake.catalog.table_history("lake", "orders").unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].reason.starts_with("created by tarn crawl"), "{}", history[0].reason);

    let text = report.render_text();
    assert!(text.contains("CREATE lake.orders"), "{text}");
    assert!(text.contains("signup") && text.contains("3 sampled values all match yyyy-MM-dd HH:mm:ss"), "{text}");
    assert!(text.contains("leading zeros (e.g. '02134')"), "{text}");
    assert!(text.contains("Applied in one catalog transaction: database created, 2 tables created"), "{text}");
    let json = report.to_json();
    assert_eq!(json["plan"]["tables"][0]["name"], "orders");
    assert_eq!(json["plan"]["tables"][0]["partition_keys"][0]["type"], "int");
    assert_eq!(json["applied"]["partitions_added"], 2);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let lake = Lake::new();
    sample_lake(&lake);
    let mut options = lake.options();
    options.dry_run = true;
    let report = lake.crawl(options).await;
    assert!(report.applied.is_none());
    assert!(report.plan.create_database);
    assert!(report.plan.tables.iter().all(|t| t.action == TableAction::Create));
    assert!(report.render_text().contains("dry run: nothing will be changed"));
    assert!(!lake.catalog.database_exists("lake").unwrap());
}

#[tokio::test]
async fn unchanged_recrawl_changes_nothing() {
    let lake = Lake::new();
    sample_lake(&lake);
    lake.crawl(lake.options()).await;
    let before = lake.catalog.get_table("lake", "orders").unwrap();
    let report = lake.crawl(lake.options()).await;
    assert!(report.plan.is_empty(), "{}", report.render_text());
    assert!(report.plan.tables.iter().all(|t| t.action == TableAction::Unchanged));
    let applied = report.applied.clone().unwrap();
    assert_eq!((applied.tables_created, applied.tables_updated, applied.partitions_added), (0, 0, 0));
    assert_eq!(lake.catalog.get_table("lake", "orders").unwrap(), before);
    assert!(report.render_text().contains("No changes"));
}

#[tokio::test]
async fn recrawl_adds_new_partitions_and_logs_or_deletes_vanished_ones() {
    let lake = Lake::new();
    sample_lake(&lake);
    lake.crawl(lake.options()).await;
    lake.parquet(
        "orders/year=2024/month=02/part-0.parquet",
        vec![("id", bigints(&[6])), ("amount", doubles(&[6.0])), ("status", strings(&["x"]))],
    );
    fs::remove_dir_all(lake.path("orders/year=2023")).unwrap();

    let report = lake.crawl(lake.options()).await;
    let orders = report.plan.tables.iter().find(|t| t.name == "orders").unwrap();
    assert_eq!(orders.action, TableAction::Update);
    assert_eq!(orders.add_partitions.iter().map(|p| p.values.clone()).collect::<Vec<_>>(), [["2024", "02"]]);
    assert_eq!(orders.vanished_partitions.len(), 1);
    assert!(orders.schema_change.is_none(), "statistics and partitions are not schema changes");
    assert_eq!(lake.catalog.list_partitions("lake", "orders").unwrap().len(), 3, "vanished ones are only logged");
    assert!(report.render_text().contains("partitions -1 vanished from storage: 2023/12"));
    let orders_table = lake.catalog.get_table("lake", "orders").unwrap();
    assert_eq!(orders_table.parameters.get("recordCount").map(String::as_str), Some("4"));

    let mut options = lake.options();
    options.delete_behavior = DeleteBehavior::Delete;
    let report = lake.crawl(options).await;
    assert_eq!(report.applied.unwrap().partitions_dropped, 1);
    let values: Vec<_> =
        lake.catalog.list_partitions("lake", "orders").unwrap().into_iter().map(|p| p.values).collect();
    assert_eq!(values, [["2024", "01"], ["2024", "02"]]);

    fs::remove_dir_all(lake.path("users")).unwrap();
    let report = lake.crawl(lake.options()).await;
    assert_eq!(report.plan.vanished_tables.len(), 1);
    assert!(lake.catalog.table_exists("lake", "users").unwrap());
    let mut options = lake.options();
    options.delete_behavior = DeleteBehavior::Delete;
    lake.crawl(options).await;
    assert!(!lake.catalog.table_exists("lake", "users").unwrap());
}

#[tokio::test]
async fn drifted_schema_widens_adds_columns_and_records_a_version() {
    let lake = Lake::new();
    lake.parquet("events/dt=2024-01-01/a.parquet", vec![("id", ints(&[1, 2])), ("kind", strings(&["a", "b"]))]);
    lake.crawl(lake.options()).await;
    lake.parquet(
        "events/dt=2024-01-02/a.parquet",
        vec![("id", bigints(&[3_000_000_000])), ("kind", strings(&["c"])), ("note", strings(&["new"]))],
    );
    let report = lake.crawl(lake.options()).await;
    let events = &report.plan.tables[0];
    assert_eq!(events.action, TableAction::Update);
    let change = events.schema_change.clone().unwrap();
    assert!(change.contains("id widened int → bigint") && change.contains("note string added"), "{change}");
    let table = lake.catalog.get_table("lake", "events").unwrap();
    let columns: Vec<_> = table.storage.columns.iter().map(|c| (c.name.as_str(), c.data_type.clone())).collect();
    assert_eq!(columns, [("id", SqlType::BigInt), ("kind", SqlType::String), ("note", SqlType::String)]);
    assert_eq!(table.partition_keys[0].data_type, SqlType::Date);
    let history = lake.catalog.table_history("lake", "events").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].columns[0].data_type, SqlType::Int);
    assert_eq!(history[1].columns.len(), 3);
    assert_eq!(history[1].reason, change);
    let text = report.render_text();
    assert!(text.contains("new schema version"), "{text}");
    assert!(text.contains("~ id") && text.contains("(was int)") && text.contains("+ note"), "{text}");
}

#[tokio::test]
async fn bad_files_are_reported_and_the_rest_proceeds() {
    let lake = Lake::new();
    lake.write("good/a.csv", b"id,label\n1,x\n2,y\n");
    lake.write("good/corrupt.parquet", b"PAR1 this is not really parquet PAR1");
    lake.write("good/image.csv", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10");
    lake.write("good/empty.csv", b"");
    lake.write("good/ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n");
    lake.write("good/notes.bin", b"just some words without any delimiter\nmore words\n");
    let report = lake.crawl(lake.options()).await;
    let reasons: Vec<(&str, &str)> =
        report.plan.unclassified.iter().map(|u| (u.relative.as_str(), u.reason.as_str())).collect();
    let reason_of = |name: &str| reasons.iter().find(|(p, _)| p.ends_with(name)).map(|(_, r)| *r).unwrap_or_default();
    assert!(reason_of("corrupt.parquet").starts_with("corrupt Parquet"), "{reasons:?}");
    assert!(reason_of("image.csv").starts_with("binary content"), "{reasons:?}");
    assert!(
        reason_of("ragged.csv").starts_with("ragged rows: line 3 has 2 fields where the file has 3"),
        "{reasons:?}"
    );
    assert!(reason_of("notes.bin").starts_with("not delimited"), "{reasons:?}");
    assert_eq!(report.plan.skipped[0].relative, "good/empty.csv");
    assert_eq!(report.plan.skipped[0].reason.code(), "empty");
    let table = lake.catalog.get_table("lake", "good").unwrap();
    assert_eq!(table.storage.columns.len(), 2);
    let text = report.render_text();
    assert!(text.contains("Unclassified (4):") && text.contains("good/ragged.csv: ragged rows"), "{text}");
}

#[tokio::test]
async fn incompatible_folders_become_their_own_tables() {
    let lake = Lake::new();
    for part in ["a", "b"] {
        lake.parquet(
            &format!("events/source={part}/x.parquet"),
            vec![("id", ints(&[1])), ("user", strings(&["u"])), ("ts", strings(&["t"]))],
        );
    }
    lake.parquet("events/source=legacy/x.parquet", vec![("k", ints(&[1])), ("v", strings(&["v"]))]);
    lake.write("events/source=c/x.csv", b"id,user,ts\n1,u,t\n");
    let report = lake.crawl(lake.options()).await;
    let names: Vec<_> = report.plan.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["events", "events_source_c", "events_source_legacy"]);
    let events = &report.plan.tables[0];
    assert_eq!(events.add_partitions.len(), 2);
    assert!(
        events.reasons.iter().any(|r| r.contains(
            "events/source=legacy/ became its own table events_source_legacy: its schema shares 0 of its 2 columns"
        )),
        "{:?}",
        events.reasons
    );
    assert!(
        events.reasons.iter().any(|r| r.contains("events/source=c/ became its own table") && r.contains("csv")),
        "{:?}",
        events.reasons
    );
    let legacy = lake.catalog.get_table("lake", "events_source_legacy").unwrap();
    assert_eq!(legacy.storage.location, lake.url("events/source=legacy/"));
    assert!(legacy.partition_keys.is_empty());
}

#[tokio::test]
async fn table_level_prefix_and_excludes() {
    let lake = Lake::new();
    lake.write("raw/sales/2024/01/a.csv", b"id|amount\n1|2.50\n");
    lake.write("raw/sales/2024/02/a.csv", b"id|amount\n2|3.75\n");
    lake.write("raw/sales/_tmp/x.csv", b"id|amount\n9|9\n");
    lake.write("raw/sales/2024/02/scratch/b.csv", b"id|amount\n9|9\n");
    lake.write("raw/readme.csv", b"not,a,table\n");
    let mut options = lake.options();
    options.table_level = 2;
    options.table_prefix = "stg_".into();
    options.excludes = vec!["**/scratch/**".into()];
    let report = lake.crawl(options).await;
    assert_eq!(report.plan.tables.len(), 1);
    let sales = lake.catalog.get_table("lake", "stg_sales").unwrap();
    assert_eq!(sales.storage.serde_parameters.get(serde_keys::FIELD_DELIMITER).map(String::as_str), Some("|"));
    let keys: Vec<_> = sales.partition_keys.iter().map(|c| (c.name.as_str(), c.data_type.clone())).collect();
    assert_eq!(keys, [("partition_0", SqlType::Int), ("partition_1", SqlType::Int)]);
    assert_eq!(sales.storage.columns[1].data_type, SqlType::Double);
    let skipped: Vec<_> = report.plan.skipped.iter().map(|s| (s.relative.as_str(), s.reason.to_string())).collect();
    assert!(skipped.contains(&("raw/sales/2024/02/scratch/b.csv", "matches --exclude '**/scratch/**'".to_string())));
    assert_eq!(report.plan.unplaced[0].relative, "raw/readme.csv");
    assert!(report.plan.unplaced[0].reason.contains("above --table-level 2"));
}

#[tokio::test]
async fn sniffs_dialects_headers_and_compression() {
    let lake = Lake::new();
    lake.write("people/p.tsv", b"first_name\tcity\nAlice Smith\tParis\nBob Jones\tOslo\n");
    lake.write("quoted/q.csv", b"1,\"hello, world\",NULL\n2,\"say \"\"hi\"\"\",2024/01/31\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"id;ts\n1;2024-01-31T10:00:00.5\n2;2024-02-01T00:00:00\n").unwrap();
    lake.write("zipped/data.csv", &gz.finish().unwrap());
    lake.crawl(lake.options()).await;

    let people = lake.catalog.get_table("lake", "people").unwrap();
    assert_eq!(people.storage.serde_parameters.get(serde_keys::FIELD_DELIMITER).map(String::as_str), Some("\t"));
    assert_eq!(people.storage.serde_parameters.get(serde_keys::SKIP_HEADER).map(String::as_str), Some("1"));
    assert_eq!(people.storage.columns[0].name, "first_name");

    let quoted = lake.catalog.get_table("lake", "quoted").unwrap();
    let serde = &quoted.storage.serde_parameters;
    assert_eq!(serde.get(serde_keys::QUOTE_CHAR).map(String::as_str), Some("\""));
    assert_eq!(serde.get(serde_keys::SKIP_HEADER), None, "first row has the data's types: no header");
    assert_eq!(serde.get(serde_keys::NULL_FORMAT).map(String::as_str), Some("NULL"));
    assert_eq!(serde.get(serde_keys::DATE_FORMAT).map(String::as_str), Some("yyyy/MM/dd"));
    let columns: Vec<_> = quoted.storage.columns.iter().map(|c| (c.name.as_str(), c.data_type.clone())).collect();
    assert_eq!(columns, [("col0", SqlType::Int), ("col1", SqlType::String), ("col2", SqlType::Date)]);

    let zipped = lake.catalog.get_table("lake", "zipped").unwrap();
    assert_eq!(zipped.storage.serde_parameters.get(serde_keys::COMPRESSION).map(String::as_str), Some("gzip"));
    assert_eq!(zipped.parameters.get("compressionType").map(String::as_str), Some("gzip"));
    assert_eq!(zipped.storage.columns[1].data_type, SqlType::Timestamp);
    assert_eq!(
        zipped.storage.serde_parameters.get(serde_keys::TIMESTAMP_FORMAT).map(String::as_str),
        Some("yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
    );
}

#[tokio::test]
async fn samples_are_spread_through_large_files() {
    let lake = Lake::new();
    let mut text = String::from("id,value\n");
    for i in 0..60_000 {
        // Integers for the first 70% of the file, decimals after: only a spread sample sees them.
        if i < 42_000 {
            text.push_str(&format!("{i},{}\n", i % 1000));
        } else {
            text.push_str(&format!("{i},{}.25\n", i % 1000));
        }
    }
    assert!(text.len() > 600_000);
    lake.write("big/data.csv", text.as_bytes());
    let report = lake.crawl(lake.options()).await;
    let table = lake.catalog.get_table("lake", "big").unwrap();
    assert_eq!(table.storage.columns[1].data_type, SqlType::Double);
    let rows: u64 = table.parameters["recordCount"].parse().unwrap();
    assert!((54_000..66_000).contains(&rows), "estimated {rows}");
    assert!(!report.plan.tables[0].stats.rows_exact);
}

#[tokio::test]
async fn partition_values_are_url_decoded_and_typed() {
    let lake = Lake::new();
    lake.write("visits/city=S%C3%A3o%20Paulo/ts=10%3A00/a.csv", b"n\n1\n");
    lake.write("visits/city=Oslo/ts=11%3A00/a.csv", b"n\n2\n");
    lake.crawl(lake.options()).await;
    let partitions = lake.catalog.list_partitions("lake", "visits").unwrap();
    let values: Vec<_> = partitions.iter().map(|p| p.values.clone()).collect();
    assert_eq!(values, [["Oslo", "11:00"], ["São Paulo", "10:00"]]);
    // The location names the folder as stored: resolving it as scans do finds the file.
    let location = tarn_catalog::Location::parse(&partitions[1].location).unwrap();
    let store = lake.stores.store_for(&location).await.unwrap();
    let listed: Vec<_> = store.list(Some(&location.object_path())).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1, "{}", partitions[1].location);
    let table = lake.catalog.get_table("lake", "visits").unwrap();
    assert_eq!(table.partition_keys[0].data_type, SqlType::String);
}

#[tokio::test]
async fn json_output_lists_every_decision() {
    let lake = Lake::new();
    sample_lake(&lake);
    let mut options = lake.options();
    options.dry_run = true;
    let json: Value = lake.crawl(options).await.to_json();
    let plan = &json["plan"];
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["changes"], true);
    let users = plan["tables"].as_array().unwrap().iter().find(|t| t["name"] == "users").unwrap();
    assert_eq!(users["columns"][2]["type"], "timestamp");
    assert!(users["columns"][2]["reasons"][0].as_str().unwrap().contains("yyyy-MM-dd HH:mm:ss"));
    assert_eq!(users["serde_parameters"]["skip.header.line.count"], "1");
    assert!(users["file_notes"][0].as_str().unwrap().starts_with("users/users.csv: delimited text"));
    assert!(users["file_notes"][0].as_str().unwrap().contains("header"));
    assert_eq!(plan["skipped"][0]["code"], "job_marker");
    assert!(json["applied"].is_null());
}

#[tokio::test]
async fn user_properties_are_never_overwritten() {
    let lake = Lake::new();
    sample_lake(&lake);
    lake.crawl(lake.options()).await;
    let mut users = lake.catalog.get_table("lake", "users").unwrap();
    users.parameters.insert("classification".into(), "my-csv".into());
    users.parameters.insert("owner".into(), "bi-team".into());
    lake.catalog.replace_table(&users).unwrap();
    let report = lake.crawl(lake.options()).await;
    let plan = report.plan.tables.iter().find(|t| t.name == "users").unwrap();
    assert_eq!(plan.action, TableAction::Unchanged);
    assert!(plan.warnings.iter().any(|w| w.contains("classification is 'my-csv'")), "{:?}", plan.warnings);
    let after = lake.catalog.get_table("lake", "users").unwrap();
    assert_eq!(after.parameters.get("classification").map(String::as_str), Some("my-csv"));
    assert_eq!(after.parameters.get("owner").map(String::as_str), Some("bi-team"));
}

#[tokio::test]
async fn missing_root_is_an_error_and_bad_options_are_refused() {
    let lake = Lake::new();
    let err = run_crawl(&lake.catalog, &lake.stores, &lake.options()).await.unwrap_err();
    assert!(err.to_string().contains("nothing to crawl"), "{err}");
    let mut options = lake.options();
    options.excludes = vec!["a[".into()];
    lake.write("t/a.csv", b"a\n1\n");
    let err = run_crawl(&lake.catalog, &lake.stores, &options).await.unwrap_err();
    assert!(err.to_string().contains("invalid --exclude pattern 'a['"), "{err}");
    let mut options = lake.options();
    options.table_level = 0;
    assert!(run_crawl(&lake.catalog, &lake.stores, &options).await.is_err());
}

#[tokio::test]
async fn json_lines_become_json_tables() {
    let lake = Lake::new();
    lake.write(
        "logs/a.json",
        b"{\"id\": 1, \"at\": \"2024-01-31 10:00:00\", \"ok\": true, \"code\": \"007\"}\n{\"id\": 2, \"at\": \"2024-02-01 00:00:00\", \"ok\": false, \"code\": \"12\", \"tags\": [1]}\n",
    );
    lake.crawl(lake.options()).await;
    let logs = lake.catalog.get_table("lake", "logs").unwrap();
    assert_eq!(logs.storage.format, DataFormat::Json);
    let columns: Vec<_> = logs.storage.columns.iter().map(|c| (c.name.as_str(), c.data_type.clone())).collect();
    assert_eq!(
        columns,
        [
            ("id", SqlType::Int),
            ("at", SqlType::Timestamp),
            ("ok", SqlType::Boolean),
            ("code", SqlType::String),
            ("tags", SqlType::String)
        ]
    );
    assert_eq!(logs.parameters.get("classification").map(String::as_str), Some("json"));
}

/// The catalog's memory of the objects read under the lake's root with default settings.
fn known_keys(lake: &Lake) -> Vec<String> {
    let source = format!("file://{}/", lake.dir.path().display());
    let sampled_with = tarn_crawler::known::sampled_with(lake.options().sample_rows);
    let mut keys: Vec<String> = lake
        .catalog
        .read(|tx| tx.crawled_files(&source, &sampled_with))
        .unwrap()
        .files
        .into_iter()
        .map(|f| f.key)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn unchanged_recrawl_reads_no_object() {
    let lake = Lake::new();
    sample_lake(&lake);
    let mut dry = lake.options();
    dry.dry_run = true;
    lake.crawl(dry).await;
    assert!(known_keys(&lake).is_empty(), "a dry run remembers nothing");

    let first = lake.crawl(lake.options()).await;
    assert_eq!((first.plan.objects_read, first.plan.objects_reused), (3, 0));
    assert_eq!(
        known_keys(&lake),
        ["orders/year=2023/month=12/part-0.parquet", "orders/year=2024/month=01/part-0.parquet", "users/users.csv"]
    );
    let second = lake.crawl(lake.options()).await;
    assert_eq!((second.plan.objects_read, second.plan.objects_reused), (0, 3));
    assert!(second.plan.is_empty(), "{}", second.render_text());
    assert!(
        second.render_text().contains("0 objects read, 3 unchanged since the last crawl"),
        "{}",
        second.render_text()
    );
    assert_eq!(second.to_json()["plan"]["objects_reused"], 3);
    // The reused findings describe the tables exactly as reading the files did.
    let reread = {
        let mut options = lake.options();
        options.sample_rows = 1000;
        lake.crawl(options).await
    };
    assert_eq!(reread.plan.objects_read, 3, "other sampling settings read every object again");
    let described = |plan: &tarn_crawler::CrawlPlan| -> Vec<_> {
        let column = |c: &tarn_crawler::plan::ColumnPlan| (c.name.clone(), c.data_type.clone(), c.reasons.clone());
        plan.tables
            .iter()
            .map(|t| (t.name.clone(), t.columns.iter().map(column).collect::<Vec<_>>(), t.stats))
            .collect()
    };
    assert_eq!(described(&first.plan), described(&second.plan));
}

#[tokio::test]
async fn modified_objects_are_read_again() {
    let lake = Lake::new();
    sample_lake(&lake);
    lake.crawl(lake.options()).await;

    // Same bytes, another modification time: read again, and nothing changes in the tables.
    let path = lake.path("orders/year=2024/month=01/part-0.parquet");
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000)).unwrap();
    drop(file);
    let touched = lake.crawl(lake.options()).await;
    assert_eq!((touched.plan.objects_read, touched.plan.objects_reused), (1, 2));
    assert!(touched.plan.is_empty(), "{}", touched.render_text());
    let again = lake.crawl(lake.options()).await;
    assert_eq!(again.plan.objects_read, 0, "the new modification time was remembered");

    // Rewritten in place with another schema: read again, and the schema change is versioned.
    lake.parquet(
        "orders/year=2024/month=01/part-0.parquet",
        vec![
            ("id", bigints(&[3])),
            ("amount", doubles(&[1.0])),
            ("status", strings(&["a"])),
            ("note", strings(&["n"])),
        ],
    );
    let drifted = lake.crawl(lake.options()).await;
    assert_eq!(drifted.plan.objects_read, 1);
    let orders = drifted.plan.tables.iter().find(|t| t.name == "orders").unwrap();
    assert!(orders.schema_change.as_deref().unwrap_or_default().contains("note string added"), "{orders:?}");
    assert_eq!(lake.catalog.table_history("lake", "orders").unwrap().len(), 2);

    // A deleted file is still seen as gone, and forgotten; a corrupted one is reported, not reused.
    fs::remove_file(lake.path("orders/year=2023/month=12/part-0.parquet")).unwrap();
    lake.write("users/users.csv", b"\x00\x01\x02 not text any more \x00");
    let report = lake.crawl(lake.options()).await;
    let orders = report.plan.tables.iter().find(|t| t.name == "orders").unwrap();
    assert_eq!(orders.vanished_partitions.len(), 1);
    assert_eq!(report.plan.unclassified.len(), 1, "{}", report.render_text());
    assert_eq!(known_keys(&lake), ["orders/year=2024/month=01/part-0.parquet"]);
}
