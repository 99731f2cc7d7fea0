//! Redshift `UNLOAD ('select ...') TO 's3://bucket/prefix/' [FORMAT [AS] PARQUET|CSV]
//! [PARTITION BY (cols) [INCLUDE]] [DELIMITER 'c'] [HEADER] [GZIP] [MAXFILESIZE n MB|GB]
//! [ALLOWOVERWRITE]`: the query's rows written as files under the prefix (used as a folder),
//! through the same writer as CTAS. Nothing is registered in the catalog, so files are staged and
//! moved into place only once all are complete: a failed UNLOAD leaves nothing behind.
//! Without a FORMAT the files are Redshift's default, `|`-delimited text.

use sqlparser::ast::{self, CopyLegacyCsvOption, CopyLegacyOption, FileSizeUnit};
use tarn_catalog::Location;

use crate::error::{EngineError, Result};
use crate::io::csv_writer::CsvWriteOptions;
use crate::io::parquet_writer::ParquetCompression;
use crate::session::{QueryOutput, Session};
use crate::sql::{parse_statements, TarnStatement};
use crate::write::run::{publish_and_commit, write_plan};
use crate::write::sink::{FileFormatSpec, WriteSpec};
use crate::write::staging::{folder_has_objects, Placement, WriteTarget};
use crate::write::{binder, optimize, DEFAULT_TARGET_FILE_SIZE};

/// Runs an `UNLOAD` statement.
pub fn unload(
    session: &Session,
    query: Option<&ast::Query>,
    query_text: Option<&str>,
    to: &str,
    options: &[CopyLegacyOption],
) -> Result<QueryOutput> {
    let parsed;
    let query = match (query, query_text) {
        (Some(query), _) => query,
        (None, Some(text)) => {
            parsed = parse_statements(text)?;
            match parsed.as_slice() {
                [(TarnStatement::Sql(statement), _)] => match statement.as_ref() {
                    ast::Statement::Query(query) => query.as_ref(),
                    other => return Err(EngineError::plan(format!("UNLOAD needs a SELECT, not '{other}'"))),
                },
                _ => return Err(EngineError::plan("UNLOAD ('...') needs exactly one SELECT")),
            }
        }
        (None, None) => return Err(EngineError::plan("UNLOAD needs a query")),
    };
    let mut format = FileFormatSpec::Csv(CsvWriteOptions { delimiter: b'|', gzip: false, header: false });
    let mut partition: Option<(Vec<String>, bool)> = None;
    let mut allow_overwrite = false;
    let mut target_file_size = DEFAULT_TARGET_FILE_SIZE;
    for option in options {
        match option {
            CopyLegacyOption::Parquet => format = FileFormatSpec::Parquet(ParquetCompression::Snappy.into()),
            CopyLegacyOption::Csv(csv) => {
                let header = csv.iter().any(|o| matches!(o, CopyLegacyCsvOption::Header));
                format = FileFormatSpec::Csv(CsvWriteOptions { delimiter: b',', gzip: false, header });
            }
            CopyLegacyOption::Delimiter(c) => match &mut format {
                FileFormatSpec::Csv(o) if c.is_ascii() => o.delimiter = *c as u8,
                _ => {
                    return Err(EngineError::plan(format!(
                        "DELIMITER '{c}' needs a text format and an ASCII character"
                    )))
                }
            },
            CopyLegacyOption::Header => match &mut format {
                FileFormatSpec::Csv(o) => o.header = true,
                FileFormatSpec::Parquet(_) => return Err(EngineError::plan("HEADER applies to text formats only")),
            },
            CopyLegacyOption::Gzip => match &mut format {
                FileFormatSpec::Csv(o) => o.gzip = true,
                FileFormatSpec::Parquet(_) => return Err(EngineError::plan("GZIP applies to text formats only")),
            },
            CopyLegacyOption::PartitionBy(by) => {
                partition = Some((by.columns.iter().map(|c| c.value.to_lowercase()).collect(), by.include))
            }
            CopyLegacyOption::AllowOverwrite => allow_overwrite = true,
            CopyLegacyOption::MaxFileSize(size) => {
                let number: u64 = size
                    .size
                    .to_string()
                    .parse()
                    .map_err(|_| EngineError::plan(format!("MAXFILESIZE {size} is not a whole number")))?;
                let unit = match size.unit {
                    Some(FileSizeUnit::GB) => 1024 * 1024 * 1024,
                    _ => 1024 * 1024,
                };
                target_file_size = number.saturating_mul(unit).max(1);
            }
            CopyLegacyOption::IamRole(_) | CopyLegacyOption::Region(_) | CopyLegacyOption::Parallel(_) => {}
            other => return Err(EngineError::Unsupported(format!("UNLOAD option {other}"))),
        }
    }
    let plan = optimize(session, binder(session).bind_query(query)?)?;
    let schema = plan.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().to_lowercase()).collect();
    let (partition_keys, include) = partition.unwrap_or_default();
    let mut partition_columns = Vec::with_capacity(partition_keys.len());
    for key in &partition_keys {
        let index = names.iter().position(|n| n == key).ok_or_else(|| {
            EngineError::plan(format!(
                "PARTITION BY column '{key}' is not a column of the query ({})",
                names.join(", ")
            ))
        })?;
        partition_columns.push(index);
    }
    let data_columns: Vec<usize> = (0..names.len()).filter(|i| include || !partition_columns.contains(i)).collect();
    if data_columns.is_empty() {
        return Err(EngineError::plan("UNLOAD needs at least one column outside PARTITION BY (or use INCLUDE)"));
    }
    let file_schema = std::sync::Arc::new(schema.project(&data_columns)?);
    let location = Location::parse(to)?.as_dir();
    let ctx = session.exec_context();
    if !allow_overwrite && folder_has_objects(&location, &ctx.stores, &ctx.io)? {
        return Err(EngineError::plan(format!(
            "UNLOAD destination '{location}' already holds files; add ALLOWOVERWRITE to write beside them (Tarn never \
             overwrites or deletes them)"
        )));
    }
    let target = WriteTarget::new(&location, Placement::Staged, &ctx.stores, &ctx.io)?;
    // No table: the record (empty names) is only for the sweep of killed writes (`orphans.rs`).
    let write_id = target.id.as_str();
    session.catalog().write(|tx| tx.begin_pending_write("", "", write_id, &target.root.as_url_str()))?;
    let spec = WriteSpec {
        target: target.clone(),
        format,
        file_schema,
        data_columns,
        partition_columns,
        partition_keys,
        target_file_size,
    };
    let files = write_plan(&plan, spec, &ctx)?;
    let rows: u64 = files.iter().map(|f| f.row_count).sum();
    publish_and_commit(&target, &files, |_| Ok(session.catalog().write(|tx| tx.finish_pending_write(write_id))?))?;
    Ok(QueryOutput::Message(format!("UNLOAD {rows}")))
}
