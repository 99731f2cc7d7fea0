//! What the catalog knows about a table beyond its current columns: how its schema got there
//! (`SHOW TABLE HISTORY t`, `DESCRIBE HISTORY t`, from the catalog's table versions, as Glue
//! keeps them) and the storage and Glue-style parameters a crawl or DDL left on it
//! (`DESCRIBE EXTENDED|FORMATTED t`).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use sqlparser::ast::ObjectName;
use tarn_catalog::store::history::TableVersion;
use tarn_catalog::{Column, Parameters, Table};

use crate::error::Result;
use crate::session::names::table_name;
use crate::session::{QueryOutput, Session};

/// The reason shown for a table's current schema when no writer recorded one (DDL-created tables,
/// or a schema changed by DDL after the last recorded version).
const UNRECORDED_REASON: &str = "current definition (no recorded change)";

/// `SHOW TABLE HISTORY [db.]t`: one row per schema version, oldest first: `version`,
/// `recorded_at`, `reason`, `columns`, `partition_keys`. The current schema is always the last
/// row, even when no writer recorded it, so the history never ends before the table does.
pub(super) fn show_table_history(session: &Session, name: &ObjectName) -> Result<QueryOutput> {
    let name = table_name(session, name)?;
    let table = session.catalog().get_table(&name.database, &name.table)?;
    let mut versions = session.catalog().table_history(&name.database, &name.table)?;
    let current_recorded =
        versions.last().is_some_and(|v| v.columns == table.storage.columns && v.partition_keys == table.partition_keys);
    if !current_recorded {
        versions.push(TableVersion {
            version: table.version,
            columns: table.storage.columns.clone(),
            partition_keys: table.partition_keys.clone(),
            recorded_at: table.updated_at,
            reason: UNRECORDED_REASON.to_string(),
        });
    }
    let text = |f: &dyn Fn(&TableVersion) -> String| -> ArrayRef {
        Arc::new(versions.iter().map(|v| Some(f(v))).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(versions.iter().map(|v| v.version).collect::<Int64Array>()),
        Arc::new(TimestampMicrosecondArray::from_iter_values(versions.iter().map(|v| v.recorded_at * 1000))),
        text(&|v| v.reason.clone()),
        text(&|v| column_list(&v.columns)),
        text(&|v| column_list(&v.partition_keys)),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int64, false),
        Field::new("recorded_at", DataType::Timestamp(TimeUnit::Microsecond, None), false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("columns", DataType::Utf8, false),
        Field::new("partition_keys", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(QueryOutput::Rows { schema, batches: vec![batch] })
}

/// `name type, name type`, as a `CREATE TABLE` column list reads.
fn column_list(columns: &[Column]) -> String {
    columns.iter().map(|c| format!("{} {}", c.name, c.data_type)).collect::<Vec<_>>().join(", ")
}

/// `DESCRIBE EXTENDED|FORMATTED [db.]t`: plain `DESCRIBE`'s rows and columns (`column_name`,
/// `data_type`, `partition_key`, `comment`), then Hive's sections as rows: `# Detailed Table
/// Information` (database, location, type, format, version), `# Table Parameters` (the Glue
/// parameters a crawl records: `classification`, `recordCount`, `sizeKey`...) and `# Storage
/// Parameters` (the SerDe parameters scans read), each `key` in `column_name` and its value in
/// `data_type`, as Athena's `DESCRIBE FORMATTED` lays them out.
pub(super) fn describe_extended(session: &Session, name: &ObjectName) -> Result<QueryOutput> {
    let name = table_name(session, name)?;
    let table = session.catalog().get_table(&name.database, &name.table)?;
    let mut rows = DescribeRows::default();
    let data_columns = table.storage.columns.len();
    for (i, column) in table.all_columns().enumerate() {
        rows.push(&column.name, Some(column.data_type.to_string()), i >= data_columns, column.comment.clone());
    }
    rows.section("# Detailed Table Information", detail_rows(&table));
    rows.section("# Table Parameters", parameter_rows(&table.parameters));
    rows.section("# Storage Parameters", parameter_rows(&table.storage.serde_parameters));
    rows.finish()
}

fn detail_rows(table: &Table) -> Vec<(String, String)> {
    vec![
        ("Database".into(), table.database.clone()),
        ("Table".into(), table.name.clone()),
        ("Location".into(), table.storage.location.clone()),
        ("Table Type".into(), table.kind.as_str().into()),
        ("Format".into(), table.storage.format.as_str().into()),
        ("Version".into(), table.version.to_string()),
    ]
}

fn parameter_rows(parameters: &Parameters) -> Vec<(String, String)> {
    parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The rows of `DESCRIBE EXTENDED`, column by column.
#[derive(Default)]
struct DescribeRows {
    names: Vec<String>,
    types: Vec<Option<String>>,
    partition_keys: Vec<bool>,
    comments: Vec<Option<String>>,
}

impl DescribeRows {
    fn push(&mut self, name: &str, data_type: Option<String>, partition_key: bool, comment: Option<String>) {
        self.names.push(name.to_string());
        self.types.push(data_type);
        self.partition_keys.push(partition_key);
        self.comments.push(comment);
    }

    /// A header row, then one row per `(key, value)`.
    fn section(&mut self, title: &str, entries: Vec<(String, String)>) {
        self.push(title, None, false, None);
        for (key, value) in entries {
            self.push(&key, Some(value), false, None);
        }
    }

    fn finish(self) -> Result<QueryOutput> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("column_name", DataType::Utf8, false),
            Field::new("data_type", DataType::Utf8, true),
            Field::new("partition_key", DataType::Boolean, false),
            Field::new("comment", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.names)),
            Arc::new(StringArray::from(self.types)),
            Arc::new(BooleanArray::from(self.partition_keys)),
            Arc::new(StringArray::from(self.comments)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(QueryOutput::Rows { schema, batches: vec![batch] })
    }
}

#[cfg(test)]
mod tests {
    use tarn_catalog::SqlType;

    use crate::session::tests::{column, query, session};

    const CREATE: &str = "CREATE DATABASE lake; CREATE EXTERNAL TABLE lake.events (id int, note string) \
        PARTITIONED BY (year int) STORED AS PARQUET LOCATION '/tmp/tarn-history-test/events/' \
        TBLPROPERTIES ('classification' = 'parquet', 'recordCount' = '42')";

    #[test]
    fn history_lists_recorded_versions_then_the_current_schema() {
        let (_home, mut s) = session();
        s.execute(CREATE).unwrap();
        // A DDL-created table has no recorded version: its current schema is the one row.
        let rows = query(&mut s, "SHOW TABLE HISTORY lake.events");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][2..], ["current definition (no recorded change)", "id int, note string", "year int"]);

        s.catalog().write(|tx| tx.record_table_version("lake", "events", "created by crawl")).unwrap();
        let mut table = s.catalog().get_table("lake", "events").unwrap();
        table.storage.columns[0].data_type = SqlType::BigInt;
        s.catalog()
            .write(|tx| {
                tx.replace_table(&table)?;
                tx.record_table_version("lake", "events", "id widened int → bigint")
            })
            .unwrap();
        s.execute("USE lake").unwrap();
        for sql in ["SHOW TABLE HISTORY events", "DESCRIBE HISTORY lake.events", "desc history events"] {
            let rows = query(&mut s, sql);
            assert_eq!(rows.len(), 2, "{sql}");
            assert_eq!(rows[0][2..], ["created by crawl", "id int, note string", "year int"], "{sql}");
            assert_eq!(rows[1][2..], ["id widened int → bigint", "id bigint, note string", "year int"], "{sql}");
            assert!(rows[0][0].parse::<i64>().unwrap() < rows[1][0].parse::<i64>().unwrap(), "{sql}");
            assert!(rows[1][1].starts_with("20"), "recorded_at is a timestamp: {}", rows[1][1]);
        }
        let err = s.execute("SHOW TABLE HISTORY lake.missing").unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn describe_extended_adds_sections_and_plain_describe_keeps_its_shape() {
        let (_home, mut s) = session();
        s.execute(CREATE).unwrap();
        let plain = query(&mut s, "DESCRIBE lake.events");
        assert_eq!(column(plain.clone()), ["id", "note", "year"]);
        for sql in ["DESCRIBE EXTENDED lake.events", "DESCRIBE FORMATTED lake.events"] {
            let rows = query(&mut s, sql);
            assert_eq!(rows[..3], plain[..], "{sql}");
            let names = column(rows.clone());
            let at = |name: &str| names.iter().position(|n| n == name).unwrap_or_else(|| panic!("{name} in {names:?}"));
            assert!(at("# Detailed Table Information") < at("# Table Parameters"));
            assert!(at("# Table Parameters") < at("# Storage Parameters"));
            assert_eq!(rows[at("classification")][1..3], ["parquet", "false"]);
            assert_eq!(rows[at("recordCount")][1], "42");
            assert_eq!(rows[at("Table Type")][1], "EXTERNAL_TABLE");
            assert_eq!(rows[at("Location")][1], "file:///tmp/tarn-history-test/events/");
        }
        // A table named `history` is still described by plain `DESCRIBE`.
        s.execute("CREATE EXTERNAL TABLE history (a int) STORED AS PARQUET LOCATION '/tmp/tarn-history-test/h/'")
            .unwrap();
        assert_eq!(column(query(&mut s, "DESCRIBE history")), ["a"]);
    }
}
