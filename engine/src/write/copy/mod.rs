//! Redshift `COPY t [(cols)] FROM 's3://...' | 'file:///...' | '/path' [options]` into local
//! tables: delimited text (with Redshift's defaults: `|` delimiter, `\N` for NULL, or `CSV`) or
//! Parquet. Bad text rows are recorded in `sys.load_errors`; with at most `MAXERROR` of them the
//! good rows are committed, otherwise nothing is loaded and the error says where to look.
//! `CREDENTIALS`/`IAM_ROLE` are accepted: access goes through the AWS credential chain.

pub mod datetime;
pub mod load_errors;
pub mod parse;
pub mod redact;
pub mod text_load;

use std::sync::Arc;

use arrow::datatypes::Field;
use sqlparser::ast::{Ident, ObjectName, Spanned};
use tarn_catalog::{DataFormat, Location, Parameters, StorageDescriptor, Table, TableKind};

use crate::error::{EngineError, Result};
use crate::plan::{Expr, LogicalPlan, ScalarValue, TableScan};
use crate::session::{QueryOutput, Session};
use crate::write::local_table::{append_source, insert_local};
use crate::write::staging::{store_for, WriteId};
use crate::write::{position, shown, table_ref};

pub use datetime::TimeFormat;
pub use parse::{is_copy, parse_copy};

use text_load::{list_copy_files, LoadColumn, TextLoadOptions, TextLoadSource};

/// What the files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    /// Redshift's default: delimited text without CSV quoting.
    Text,
    Csv,
    Parquet,
}

/// How text files are compressed (gzip and zstd are also recognised by their magic bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyCompression {
    None,
    Gzip,
    Zstd,
    /// Named by the user but not readable by Tarn (BZIP2, LZOP).
    Unsupported(String),
}

/// A parsed `COPY` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyStatement {
    pub table: ObjectName,
    pub columns: Vec<Ident>,
    pub source: String,
    pub format: CopyFormat,
    pub delimiter: Option<String>,
    pub quote: Option<u8>,
    pub ignore_header: u64,
    pub remove_quotes: bool,
    pub escape: bool,
    pub date_format: Option<String>,
    pub time_format: TimeFormat,
    pub null_as: Option<String>,
    pub accept_inv_chars: Option<char>,
    pub blanks_as_null: bool,
    pub empty_as_null: bool,
    pub fill_record: bool,
    pub truncate_columns: bool,
    pub trim_blanks: bool,
    pub compression: CopyCompression,
    pub max_error: u64,
    pub region: Option<String>,
}

impl CopyStatement {
    /// A COPY with Redshift's defaults.
    pub fn new(table: ObjectName, columns: Vec<Ident>, source: String) -> CopyStatement {
        CopyStatement {
            table,
            columns,
            source,
            format: CopyFormat::Text,
            delimiter: None,
            quote: None,
            ignore_header: 0,
            remove_quotes: false,
            escape: false,
            date_format: None,
            time_format: TimeFormat::Auto,
            null_as: None,
            accept_inv_chars: None,
            blanks_as_null: false,
            empty_as_null: false,
            fill_record: false,
            truncate_columns: false,
            trim_blanks: false,
            compression: CopyCompression::None,
            max_error: 0,
            region: None,
        }
    }

    fn text_options(&self) -> Result<TextLoadOptions> {
        let default_delimiter = if self.format == CopyFormat::Csv { "," } else { "|" };
        let delimiter_text = self.delimiter.as_deref().unwrap_or(default_delimiter);
        let delimiter = match delimiter_text.as_bytes() {
            [b] => *b,
            b"\\t" => b'\t',
            _ => {
                return Err(EngineError::plan(format!("DELIMITER must be a single character, not '{delimiter_text}'")))
            }
        };
        let date_format = match self.date_format.as_deref() {
            None => None,
            Some(f) if f.eq_ignore_ascii_case("auto") => None,
            Some(f) => Some(datetime::chrono_pattern(f)),
        };
        Ok(TextLoadOptions {
            delimiter,
            csv_quote: (self.format == CopyFormat::Csv).then(|| self.quote.unwrap_or(b'"')),
            remove_quotes: self.remove_quotes,
            escape: self.escape,
            ignore_header: self.ignore_header,
            null_as: self.null_as.as_deref().unwrap_or("\\N").as_bytes().to_vec(),
            blanks_as_null: self.blanks_as_null,
            empty_as_null: self.empty_as_null,
            fill_record: self.fill_record,
            truncate_columns: self.truncate_columns,
            accept_inv_chars: self.accept_inv_chars,
            trim_blanks: self.trim_blanks,
            date_format,
            time_format: self.time_format.clone(),
            max_error: self.max_error,
        })
    }
}

/// Runs a `COPY`.
pub fn copy(session: &Session, copy: &CopyStatement) -> Result<QueryOutput> {
    let (database, name) = table_ref(session, &copy.table)?;
    let table = session.catalog().get_table(&database, &name)?;
    let table_name = shown(&table.database, &table.name);
    if table.kind != TableKind::Local {
        return Err(EngineError::plan_at(
            format!("COPY loads into local tables; '{table_name}' is external (its data is the files at its location)"),
            position(copy.table.span()),
        ));
    }
    if let CopyCompression::Unsupported(codec) = &copy.compression {
        return Err(EngineError::Unsupported(format!("COPY ... {codec} (supported: GZIP, ZSTD)")));
    }
    let columns = load_columns(&table, &copy.columns)?;
    let source = Location::parse(&copy.source)?;
    let ctx = session.exec_context();
    if copy.format == CopyFormat::Parquet {
        let plan = parquet_plan(&table, &columns, &source)?;
        let rows = insert_local(session, &table, &plan)?;
        return Ok(QueryOutput::Message(format!(
            "Load into table '{table_name}' completed, {rows} record(s) loaded successfully."
        )));
    }
    let store = store_for(&ctx.stores, &source, &ctx.io)?;
    let files = list_copy_files(&source, store, &ctx)?;
    if files.is_empty() {
        return Err(EngineError::Storage {
            location: source.as_url_str(),
            message: "COPY found no files there (the path is matched as a key prefix, as Redshift does)".into(),
        });
    }
    let options = copy.text_options()?;
    let output = crate::write::file_schema(&table.storage.columns);
    let load = Arc::new(TextLoadSource::new(files, columns, output, options));
    let query = WriteId::new();
    let started = chrono::Utc::now().timestamp_micros();
    let outcome = append_source(session, &table, load.clone());
    let bad = load.error_count();
    load_errors::record_load_errors(session, &query, started, &table_name, &load.errors())?;
    let look = format!("SELECT * FROM sys.load_errors WHERE query = '{query}'");
    match outcome {
        Ok(rows) if bad == 0 => Ok(QueryOutput::Message(format!(
            "Load into table '{table_name}' completed, {rows} record(s) loaded successfully."
        ))),
        Ok(rows) => Ok(QueryOutput::Message(format!(
            "Load into table '{table_name}' completed, {rows} record(s) loaded successfully, {bad} record(s) could \
             not be loaded; see {look}"
        ))),
        Err(_) if bad > copy.max_error => Err(EngineError::Execution(format!(
            "COPY into '{table_name}' failed: {bad} record(s) could not be loaded, more than MAXERROR {}; nothing was \
             loaded; see {look}",
            copy.max_error
        ))),
        Err(error) => Err(error),
    }
}

/// The table columns the fields of each record load into, in field order.
fn load_columns(table: &Table, listed: &[Ident]) -> Result<Vec<LoadColumn>> {
    let all: Vec<LoadColumn> = table
        .storage
        .columns
        .iter()
        .enumerate()
        .map(|(output, c)| LoadColumn { name: c.name.clone(), sql_type: c.data_type.clone(), output })
        .collect();
    if listed.is_empty() {
        return Ok(all);
    }
    let mut out: Vec<LoadColumn> = Vec::with_capacity(listed.len());
    for ident in listed {
        let Some(column) = all.iter().find(|c| c.name.eq_ignore_ascii_case(&ident.value)) else {
            let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
            return Err(EngineError::plan_at(
                format!("column '{}' does not exist in the COPY target (columns: {})", ident.value, names.join(", ")),
                position(ident.span),
            ));
        };
        if out.iter().any(|c| c.output == column.output) {
            return Err(EngineError::plan_at(
                format!("column '{}' is listed twice", ident.value),
                position(ident.span),
            ));
        }
        out.push(column.clone());
    }
    Ok(out)
}

/// Parquet files under `source`, read by column name into the table's types, unlisted columns
/// NULL.
fn parquet_plan(table: &Table, columns: &[LoadColumn], source: &Location) -> Result<LogicalPlan> {
    let source_columns: Vec<tarn_catalog::Column> =
        columns.iter().map(|c| tarn_catalog::Column::new(c.name.clone(), c.sql_type.clone())).collect();
    let files = Table {
        database: table.database.clone(),
        name: format!("{}_copy_source", table.name),
        kind: TableKind::External,
        storage: StorageDescriptor {
            columns: source_columns.clone(),
            location: source.as_dir().as_url_str(),
            format: DataFormat::Parquet,
            serde_parameters: Parameters::new(),
        },
        partition_keys: Vec::new(),
        parameters: Parameters::new(),
        created_at: 0,
        updated_at: 0,
        version: 0,
    };
    let scan_schema = crate::write::file_schema(&source_columns);
    let scan = LogicalPlan::Scan(TableScan {
        table: Arc::new(files),
        projection: (0..source_columns.len()).collect(),
        schema: scan_schema.clone(),
        table_schema: scan_schema,
        filters: Vec::new(),
        partitions: Vec::new(),
        partitions_pruned: 0,
        statistics: Default::default(),
    });
    let mut exprs = Vec::with_capacity(table.storage.columns.len());
    let mut fields = Vec::with_capacity(table.storage.columns.len());
    for (output, column) in table.storage.columns.iter().enumerate() {
        let data_type = column.data_type.to_arrow();
        exprs.push(match columns.iter().position(|c| c.output == output) {
            Some(i) => Expr::Column(i),
            None => Expr::Literal(ScalarValue::null_of(&data_type)?),
        });
        fields.push(Field::new(column.name.clone(), data_type, true));
    }
    Ok(LogicalPlan::Project { input: Box::new(scan), exprs, schema: Arc::new(arrow::datatypes::Schema::new(fields)) })
}
