//! `sys.load_errors`, Tarn's `stl_load_errors`: the rows COPY could not load. It is an ordinary
//! local table in the `sys` database, created on first use, so users query it with plain SQL
//! (`SELECT * FROM sys.load_errors ORDER BY starttime DESC`). Each COPY with bad rows appends
//! one file in its own commit, so the errors stay even when the load itself is rolled back.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use tarn_catalog::{Column, Database, SqlType};

use crate::error::Result;
use crate::exec::memory::MemorySource;
use crate::session::Session;
use crate::write::copy::text_load::LoadError;
use crate::write::file_schema;
use crate::write::local_table::{append_source, new_local_table};
use crate::write::staging::WriteId;

/// The database of Tarn's system tables.
pub const SYS_DATABASE: &str = "sys";
/// The load-errors table in it.
pub const LOAD_ERRORS_TABLE: &str = "load_errors";

/// The columns, named as in Redshift's `stl_load_errors` where it has them.
fn columns() -> Vec<Column> {
    let text = || SqlType::Varchar(None);
    vec![
        Column::new("query", text()),
        Column::new("starttime", SqlType::Timestamp),
        Column::new("tbl", text()),
        Column::new("filename", text()),
        Column::new("line_number", SqlType::BigInt),
        Column::new("colname", text()),
        Column::new("type", text()),
        Column::new("raw_line", text()),
        Column::new("raw_field_value", text()),
        Column::new("err_code", SqlType::Int),
        Column::new("err_reason", text()),
    ]
}

/// Appends `errors` of the COPY `query` into `table` to `sys.load_errors`.
pub fn record_load_errors(
    session: &Session,
    query: &WriteId,
    started_micros: i64,
    table: &str,
    errors: &[LoadError],
) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let catalog = session.catalog();
    if !catalog.database_exists(SYS_DATABASE)? {
        let database = Database {
            name: SYS_DATABASE.into(),
            description: Some("Tarn system tables".into()),
            location_uri: None,
            parameters: Default::default(),
            created_at: 0,
        };
        catalog.create_database(&database, true)?;
    }
    let definition = new_local_table(session, SYS_DATABASE, LOAD_ERRORS_TABLE, columns())?;
    catalog.create_table(&definition, true)?;
    let table_def = catalog.get_table(SYS_DATABASE, LOAD_ERRORS_TABLE)?;
    let schema = file_schema(&table_def.storage.columns);
    let n = errors.len();
    let text = |f: &dyn Fn(&LoadError) -> String| -> ArrayRef {
        Arc::new(StringArray::from(errors.iter().map(|e| Some(f(e))).collect::<Vec<_>>()))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![query.as_str(); n])),
        Arc::new(TimestampMicrosecondArray::from(vec![started_micros; n])),
        Arc::new(StringArray::from(vec![table; n])),
        text(&|e| e.file.clone()),
        Arc::new(Int64Array::from(errors.iter().map(|e| e.line as i64).collect::<Vec<_>>())),
        text(&|e| e.column.clone()),
        text(&|e| e.column_type.clone()),
        text(&|e| e.raw_line.clone()),
        text(&|e| e.raw_value.clone()),
        Arc::new(Int32Array::from(errors.iter().map(|e| e.code).collect::<Vec<_>>())),
        text(&|e| e.reason.clone()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let source = Arc::new(MemorySource::new(schema, vec![batch], "load errors"));
    append_source(session, &table_def, source)?;
    Ok(())
}
