//! DDL and metadata statements against the catalog.

use tarn_catalog::{serde_keys, CatalogError, DataFormat, SqlType, TableKind};

use std::sync::atomic::Ordering;

use super::{column, definition, error, message, query, session};
use crate::error::{EngineError, SqlPosition};
use crate::optimizer::Optimizer;

#[test]
fn databases_create_use_show_drop() {
    let (_home, mut s) = session();
    assert_eq!(
        message(&mut s, "CREATE DATABASE sales COMMENT 'orders' LOCATION 's3://bucket/sales'"),
        "database 'sales' created"
    );
    let db = s.catalog().get_database("sales").unwrap();
    assert_eq!(db.description.as_deref(), Some("orders"));
    assert_eq!(db.location_uri.as_deref(), Some("s3://bucket/sales/"));
    assert!(matches!(error(&mut s, "CREATE SCHEMA sales"), EngineError::Catalog(CatalogError::DatabaseExists(_))));
    assert_eq!(message(&mut s, "CREATE SCHEMA IF NOT EXISTS Sales"), "database 'sales' already exists; nothing done");
    s.execute("CREATE DATABASE raw").unwrap();
    assert_eq!(column(query(&mut s, "SHOW DATABASES")), ["default", "raw", "sales"]);
    assert_eq!(column(query(&mut s, "SHOW SCHEMAS LIKE 's%'")), ["sales"]);

    s.execute("USE sales").unwrap();
    assert_eq!(s.current_database(), "sales");
    assert!(matches!(error(&mut s, "USE nowhere"), EngineError::Catalog(CatalogError::DatabaseNotFound(_))));
    assert_eq!(s.current_database(), "sales");

    assert_eq!(message(&mut s, "DROP DATABASE sales"), "database 'sales' dropped");
    assert_eq!(s.current_database(), "default");
    assert_eq!(message(&mut s, "DROP SCHEMA IF EXISTS sales"), "database 'sales' does not exist; nothing done");
    assert!(matches!(error(&mut s, "DROP DATABASE sales"), EngineError::Catalog(CatalogError::DatabaseNotFound(_))));
}

const EVENTS_DDL: &str = "CREATE EXTERNAL TABLE IF NOT EXISTS lake.events (
  id bigint COMMENT 'event id',
  name varchar(32),
  amount decimal(10,2),
  ts timestamp)
COMMENT 'all events'
PARTITIONED BY (year int, month string)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'
STORED AS TEXTFILE
LOCATION 's3://bucket/events'
TBLPROPERTIES ('skip.header.line.count'='1', 'compressionType'='gzip', 'classification'='csv')";

#[test]
fn create_external_table_builds_the_glue_table() {
    let (_home, mut s) = session();
    s.execute("CREATE DATABASE lake").unwrap();
    assert_eq!(message(&mut s, EVENTS_DDL), "table 'lake.events' created");
    let t = s.catalog().get_table("lake", "events").unwrap();
    assert_eq!(t.kind, TableKind::External);
    let types: Vec<String> = t.storage.columns.iter().map(|c| format!("{} {}", c.name, c.data_type)).collect();
    assert_eq!(types, ["id bigint", "name varchar(32)", "amount decimal(10,2)", "ts timestamp"]);
    assert_eq!(t.storage.columns[0].comment.as_deref(), Some("event id"));
    let keys: Vec<(&str, &SqlType)> = t.partition_keys.iter().map(|c| (c.name.as_str(), &c.data_type)).collect();
    assert_eq!(keys, [("year", &SqlType::Int), ("month", &SqlType::String)]);
    assert_eq!(t.storage.location, "s3://bucket/events/");
    assert_eq!(t.storage.format, DataFormat::Csv);
    let serde = &t.storage.serde_parameters;
    assert_eq!(serde.get(serde_keys::FIELD_DELIMITER).map(String::as_str), Some("\t"));
    assert_eq!(serde.get(serde_keys::ESCAPE_CHAR).map(String::as_str), Some("\\"));
    assert_eq!(serde.get(serde_keys::SKIP_HEADER).map(String::as_str), Some("1"));
    assert_eq!(serde.get(serde_keys::COMPRESSION).map(String::as_str), Some("gzip"));
    assert_eq!(t.parameters.get("classification").map(String::as_str), Some("csv"));
    assert_eq!(t.parameters.get("comment").map(String::as_str), Some("all events"));

    assert_eq!(message(&mut s, EVENTS_DDL), "table 'lake.events' already exists; nothing done");
    let without_if_not_exists = EVENTS_DDL.replace("IF NOT EXISTS ", "");
    assert!(matches!(error(&mut s, &without_if_not_exists), EngineError::Catalog(CatalogError::TableExists { .. })));
}

#[test]
fn show_create_table_reparses_to_the_same_table() {
    let (_home, mut s) = session();
    s.execute("CREATE DATABASE lake").unwrap();
    let csv = "CREATE EXTERNAL TABLE lake.quoted (a int, `select` string COMMENT 'it''s a keyword') \
               ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' \
               WITH SERDEPROPERTIES ('separatorChar' = ';', 'quoteChar' = '\\\"') \
               STORED AS TEXTFILE LOCATION '/data/quoted/' TBLPROPERTIES ('skip.header.line.count'='1')";
    let parquet = "CREATE EXTERNAL TABLE lake.facts (k int, v double) PARTITIONED BY (dt date) \
                   STORED AS PARQUET LOCATION 's3://bucket/facts/'";
    for (ddl, name) in [(EVENTS_DDL, "events"), (csv, "quoted"), (parquet, "facts")] {
        s.execute(ddl).unwrap();
        let original = definition(s.catalog().get_table("lake", name).unwrap());
        let printed = column(query(&mut s, &format!("SHOW CREATE TABLE lake.{name}"))).remove(0);
        assert!(printed.starts_with(&format!("CREATE EXTERNAL TABLE `lake`.`{name}` (\n")), "{printed}");
        s.execute(&format!("DROP TABLE lake.{name}")).unwrap();
        s.execute(&printed).unwrap_or_else(|e| panic!("{}", e.render(&printed)));
        let recreated = definition(s.catalog().get_table("lake", name).unwrap());
        assert_eq!(recreated, original, "{printed}");
    }
    let quoted = s.catalog().get_table("lake", "quoted").unwrap();
    let serde = &quoted.storage.serde_parameters;
    assert_eq!(serde.get(serde_keys::FIELD_DELIMITER).map(String::as_str), Some(";"));
    assert_eq!(serde.get(serde_keys::QUOTE_CHAR).map(String::as_str), Some("\""));
    assert_eq!(serde.get(serde_keys::ESCAPE_CHAR).map(String::as_str), Some("\\"));
    assert_eq!(quoted.storage.location, format!("file:///data/quoted/"));
}

#[test]
fn tables_resolve_in_the_current_database_and_drop_keeps_files() {
    let (home, mut s) = session();
    let data = home.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.csv"), "1\n").unwrap();
    let ddl = format!("CREATE EXTERNAL TABLE t (a int) LOCATION '{}'", data.display());
    s.execute(&ddl).unwrap();
    s.execute("CREATE DATABASE other; USE other").unwrap();
    assert!(query(&mut s, "SHOW TABLES").is_empty());
    assert_eq!(column(query(&mut s, "SHOW TABLES IN default")), ["t"]);
    assert_eq!(column(query(&mut s, "SHOW TABLES FROM default LIKE 'x%'")), Vec::<String>::new());
    assert!(matches!(error(&mut s, "DROP TABLE t"), EngineError::Catalog(CatalogError::TableNotFound { .. })));
    assert_eq!(message(&mut s, "DROP TABLE IF EXISTS t"), "table 'other.t' does not exist; nothing done");
    assert_eq!(message(&mut s, "DROP TABLE default.t"), "table 'default.t' dropped");
    assert!(data.join("a.csv").exists());
    assert!(matches!(
        error(&mut s, "CREATE EXTERNAL TABLE nowhere.t (a int) LOCATION '/x'"),
        EngineError::Catalog(CatalogError::DatabaseNotFound(_))
    ));
}

#[test]
fn describe_lists_columns_then_partition_keys() {
    let (_home, mut s) = session();
    s.execute("CREATE DATABASE lake").unwrap();
    s.execute(EVENTS_DDL).unwrap();
    let rows = query(&mut s, "DESCRIBE lake.events");
    let expected = [
        ["id", "bigint", "false", "event id"],
        ["name", "varchar(32)", "false", "NULL"],
        ["amount", "decimal(10,2)", "false", "NULL"],
        ["ts", "timestamp", "false", "NULL"],
        ["year", "int", "true", "NULL"],
        ["month", "string", "true", "NULL"],
    ];
    assert_eq!(rows, expected.map(|r| r.map(String::from).to_vec()));
    s.execute("USE lake").unwrap();
    assert_eq!(query(&mut s, "DESC events").len(), 6);
}

#[test]
fn bad_type_name_points_at_the_type() {
    let (_home, mut s) = session();
    let sql = "SHOW DATABASES;\nCREATE EXTERNAL TABLE t (\n  a int,\n  b blob)\nLOCATION '/x'";
    let err = error(&mut s, sql);
    assert_eq!(err.position(), Some(SqlPosition { line: 4, column: 5 }));
    assert!(err.to_string().starts_with("invalid type 'blob' for column 'b'"), "{err}");
    assert!(err.render(sql).contains("LINE 4:   b blob)"), "{}", err.render(sql));
    let err = error(&mut s, "CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (A string) LOCATION '/x'");
    assert!(err.to_string().contains("column 'A' is defined twice"), "{err}");
    let err = error(&mut s, "CREATE EXTERNAL TABLE t (a int) STORED AS ORC LOCATION '/x'");
    assert!(matches!(err, EngineError::Unsupported(_)), "{err}");
    let err = error(&mut s, "CREATE EXTERNAL TABLE t (a int)");
    assert!(err.to_string().contains("needs a LOCATION"), "{err}");
}

#[test]
fn script_errors_carry_script_positions_and_stop_the_script() {
    let (_home, mut s) = session();
    let sql = "CREATE DATABASE a;\nCREATE DATABASE b;\nSELECT (1 FROM t;\nCREATE DATABASE c";
    let err = error(&mut s, sql);
    assert_eq!(err.position(), Some(SqlPosition { line: 3, column: 11 }));
    // A syntax error anywhere stops the script before it starts.
    assert!(!s.catalog().database_exists("a").unwrap());
    let sql = "CREATE DATABASE a;\nUSE nowhere;\nCREATE DATABASE c";
    error(&mut s, sql);
    assert!(s.catalog().database_exists("a").unwrap());
    assert!(!s.catalog().database_exists("c").unwrap());
}

#[test]
fn partitions_add_show_drop() {
    let (_home, mut s) = session();
    s.execute("CREATE DATABASE lake").unwrap();
    s.execute(EVENTS_DDL).unwrap();
    s.execute("USE lake").unwrap();
    let added = message(
        &mut s,
        "ALTER TABLE events ADD PARTITION (year = 2024, month = '05') \
         PARTITION (month = '06', year = '2024') LOCATION 's3://elsewhere/june'",
    );
    assert_eq!(added, "2 partition(s) added to 'lake.events'");
    let partitions = s.catalog().list_partitions("lake", "events").unwrap();
    assert_eq!(partitions[0].location, "s3://bucket/events/year=2024/month=05/");
    assert_eq!(partitions[1].location, "s3://elsewhere/june/");
    assert!(matches!(
        error(&mut s, "ALTER TABLE events ADD PARTITION (year = 2024, month = '05')"),
        EngineError::Catalog(CatalogError::PartitionExists { .. })
    ));
    s.execute(
        "ALTER TABLE events ADD IF NOT EXISTS PARTITION (year = 2024, month = '05') \
         PARTITION (year = 2023, month = '12')",
    )
    .unwrap();
    assert_eq!(
        column(query(&mut s, "SHOW PARTITIONS lake.events")),
        ["year=2023/month=12", "year=2024/month=05", "year=2024/month=06"]
    );

    let sql = "ALTER TABLE events ADD PARTITION (year = 'soon', month = '01')";
    let err = error(&mut s, sql);
    assert_eq!(err.position(), Some(SqlPosition { line: 1, column: 42 }));
    assert!(err.to_string().contains("'soon' is not a valid int"), "{err}");
    let err = error(&mut s, "ALTER TABLE events ADD PARTITION (year = 2024)");
    assert!(err.to_string().contains("missing: month"), "{err}");
    let err = error(&mut s, "ALTER TABLE events ADD PARTITION (year = 2024, day = 1)");
    assert!(err.to_string().contains("no partition key 'day'"), "{err}");

    assert_eq!(
        message(&mut s, "ALTER TABLE events DROP PARTITION (year = 2024)"),
        "2 partition(s) dropped from 'lake.events'"
    );
    assert_eq!(column(query(&mut s, "SHOW PARTITIONS events")), ["year=2023/month=12"]);
    assert!(matches!(
        error(&mut s, "ALTER TABLE events DROP PARTITION (year = 2022, month = '01')"),
        EngineError::Catalog(CatalogError::PartitionNotFound { .. })
    ));
    s.execute("ALTER TABLE events DROP IF EXISTS PARTITION (year = 2022, month = '01')").unwrap();
    s.execute("CREATE EXTERNAL TABLE flat (a int) LOCATION '/x'").unwrap();
    assert!(error(&mut s, "SHOW PARTITIONS flat").to_string().contains("not partitioned"));
}

#[test]
fn msck_repair_adds_missing_partition_folders() {
    let (home, mut s) = session();
    let root = home.path().join("lake/sales");
    for folder in
        ["year=2023/month=12", "year=2024/month=01", "year=2024/month=02", "year=bad/month=01", "_tmp/month=01"]
    {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::write(root.join(folder).join("part-0.csv"), "1\n").unwrap();
    }
    std::fs::create_dir_all(root.join("year=2025/month=01")).unwrap(); // empty: nothing to read
    std::fs::write(root.join("year=2024/month=02/_SUCCESS"), "").unwrap();
    let ddl = format!(
        "CREATE EXTERNAL TABLE sales (v int) PARTITIONED BY (year int, month string) LOCATION '{}'",
        root.display()
    );
    s.execute(&ddl).unwrap();
    s.execute("ALTER TABLE sales ADD PARTITION (year = 2023, month = '12')").unwrap();
    let repaired = message(&mut s, "MSCK REPAIR TABLE sales");
    assert!(repaired.starts_with("2 partition(s) added to 'default.sales'"), "{repaired}");
    assert_eq!(
        column(query(&mut s, "SHOW PARTITIONS sales")),
        ["year=2023/month=12", "year=2024/month=01", "year=2024/month=02"]
    );
    let partitions = s.catalog().list_partitions("default", "sales").unwrap();
    assert_eq!(partitions[1].location, format!("file://{}/year=2024/month=01/", root.display()));
    assert!(message(&mut s, "MSCK REPAIR TABLE default.sales").starts_with("0 partition(s)"));
}

#[test]
fn settings_change_with_set() {
    let (_home, mut s) = session();
    s.execute("SET batch_size = 1024").unwrap();
    assert_eq!(s.settings().batch_size, 1024);
    s.execute("SET batch_size TO 2048").unwrap();
    assert_eq!(s.exec_context().batch_size, 2048);
    assert!(error(&mut s, "SET batch_size = 0").to_string().contains("positive integer"));
    let rule = Optimizer::new().rule_names()[0].to_string();
    s.execute(&format!("SET disabled_rules = '{rule}'")).unwrap();
    assert!(s.settings().disabled_rules.contains(&rule));
    assert!(s.settings().optimizer().disabled_rules.contains(&rule));
    assert!(error(&mut s, "SET disabled_rules = 'no_such_rule'").to_string().contains("unknown optimizer rule"));
    s.execute("SET disabled_rules = DEFAULT").unwrap();
    assert!(s.settings().disabled_rules.is_empty());
    assert!(error(&mut s, "SET colour = 'blue'").to_string().contains("unknown setting 'colour'"));
}

#[test]
fn unsupported_statements_say_what_they_are() {
    let (_home, mut s) = session();
    let err = error(&mut s, "UPDATE t SET a = 1");
    assert_eq!(err.to_string(), "not supported yet: UPDATE");
    assert!(s.execute("  -- nothing\n;").unwrap().is_empty());
}

#[test]
fn cancel_flag_is_reset_at_each_statement() {
    let (_home, mut s) = session();
    let flag = s.cancel_flag();
    flag.store(true, Ordering::Relaxed);
    s.execute("SHOW DATABASES").unwrap();
    assert!(!flag.load(Ordering::Relaxed));
}

#[test]
fn show_create_table_prints_athena_ddl() {
    let (_home, mut s) = session();
    s.execute("CREATE DATABASE lake").unwrap();
    s.execute(EVENTS_DDL).unwrap();
    let expected = "CREATE EXTERNAL TABLE `lake`.`events` (
  `id` bigint COMMENT 'event id',
  `name` varchar(32),
  `amount` decimal(10,2),
  `ts` timestamp)
COMMENT 'all events'
PARTITIONED BY (
  `year` int,
  `month` string)
ROW FORMAT DELIMITED
  FIELDS TERMINATED BY '\\t'
  ESCAPED BY '\\\\'
STORED AS TEXTFILE
LOCATION 's3://bucket/events/'
TBLPROPERTIES (
  'classification'='csv',
  'compressionType'='gzip',
  'skip.header.line.count'='1')";
    assert_eq!(column(query(&mut s, "SHOW CREATE TABLE lake.events")), [expected]);
}
