//! Athena CTAS to the lake, `CREATE TABLE db.t WITH (external_location=..., format=...,
//! parquet_compression|write_compression=..., partitioned_by=ARRAY[...], ...) AS SELECT`, and
//! INSERT into external tables. Files land in Hive `key=value/` folders; the table and its
//! partitions are registered in one catalog transaction after every file is complete.
//!
//! Unlike Athena: no 100-partition cap, Snappy by default, and files roll over at
//! `target_file_size_mb` (default 128). As in Athena, the partition columns must be the last
//! columns of the SELECT, in `partitioned_by` order, and the location must be empty, unless
//! Tarn's own `overwrite = true` allows replacing what an earlier Tarn CTAS wrote there
//! (see [`crate::write::overwrite`]).
//!
//! Spectrum CETAS, `CREATE EXTERNAL TABLE db.t [(cols)] [PARTITIONED BY (names)] STORED AS ..
//! LOCATION '..' AS SELECT`, maps onto the same writer ([`create_external_table_as`]).

use std::collections::BTreeMap;

use sqlparser::ast::{self, Spanned, SqlOption};
use tarn_catalog::{
    serde_keys, CatalogError, DataFormat, Location, Parameters, Partition, SqlType, StorageDescriptor, Table, TableKind,
};

use crate::error::{EngineError, Result, SqlPosition};
use crate::io::csv_dialect::CsvDialect;
use crate::io::csv_writer::CsvWriteOptions;
use crate::io::parquet_writer::{ParquetCompression, ParquetWriteOptions};
use crate::plan::LogicalPlan;
use crate::session::{QueryOutput, Session};
use crate::sql::statement::{ColumnSpec, CreateExternalTable};
use crate::write::overwrite;
use crate::write::partition_path::{catalog_values, partition_folder};
use crate::write::run::{publish_and_commit, write_plan};
use crate::write::sink::{FileFormatSpec, WriteSpec};
use crate::write::staging::{folder_has_objects, Placement, WriteTarget, WrittenFile};
use crate::write::{binder, columns_of, file_schema, optimize, position, shown, table_ref, DEFAULT_TARGET_FILE_SIZE};

/// The `WITH` properties Tarn accepts, as Athena spells them.
pub const ACCEPTED_PROPERTIES: &[&str] = &[
    "external_location",
    "format",
    "parquet_compression",
    "write_compression",
    "compression_level",
    "partitioned_by",
    "bucketed_by",
    "bucket_count",
    "field_delimiter",
    "target_file_size_mb",
    "overwrite",
    "bloom_filter_columns",
];

/// The table property recording the compression files were written with (Athena's key).
const COMPRESSION_PROPERTY: &str = "write_compression";

/// The table property recording the columns whose Parquet files carry bloom filters
/// (comma-separated), so INSERTs keep writing them.
const BLOOM_PROPERTY: &str = "bloom_filter_columns";

/// The `WITH (...)` of a CTAS, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CtasProperties {
    pub location: Option<String>,
    pub format: DataFormat,
    pub compression: Option<String>,
    pub compression_level: Option<i64>,
    pub partitioned_by: Vec<String>,
    pub field_delimiter: Option<String>,
    pub target_file_size: u64,
    /// Tarn's opt-in to replace the files of an earlier Tarn CTAS at the location.
    pub overwrite: bool,
    /// Columns whose Parquet row groups get bloom filters (`bloom_filter_columns = ARRAY[...]`).
    pub bloom_filter_columns: Vec<String>,
}

impl CtasProperties {
    /// Reads the properties; unknown ones are an error listing the accepted ones.
    pub fn parse(options: &[SqlOption]) -> Result<CtasProperties> {
        let mut values: BTreeMap<String, (ast::Expr, sqlparser::tokenizer::Span)> = BTreeMap::new();
        for option in options {
            let SqlOption::KeyValue { key, value } = option else {
                return Err(EngineError::plan(format!("expected key = value in WITH (...), found '{option}'")));
            };
            let name = key.to_string().to_lowercase();
            if !ACCEPTED_PROPERTIES.contains(&name.as_str()) {
                return Err(EngineError::plan_at(
                    format!("unknown table property '{name}'; accepted: {}", ACCEPTED_PROPERTIES.join(", ")),
                    position(key.span()),
                ));
            }
            if values.insert(name.clone(), (value.clone(), key.span())).is_some() {
                return Err(EngineError::plan_at(
                    format!("table property '{name}' is given twice"),
                    position(key.span()),
                ));
            }
        }
        for unsupported in ["bucketed_by", "bucket_count"] {
            if let Some((_, span)) = values.get(unsupported) {
                return Err(EngineError::plan_at(format!("{unsupported} is not supported yet"), position(*span)));
            }
        }
        let text = |name: &str| values.get(name).map(|(v, _)| string_value(name, v)).transpose();
        let format = match text("format")? {
            None => DataFormat::Parquet,
            Some(f) => match f.to_ascii_uppercase().as_str() {
                "PARQUET" => DataFormat::Parquet,
                "CSV" | "TEXTFILE" => DataFormat::Csv,
                other => {
                    return Err(EngineError::plan(format!(
                        "format '{other}' cannot be written (accepted: PARQUET, TEXTFILE, CSV)"
                    )))
                }
            },
        };
        let compression = match (text("parquet_compression")?, text("write_compression")?) {
            (Some(_), Some(_)) => {
                return Err(EngineError::plan("give parquet_compression or write_compression, not both"))
            }
            (a, b) => a.or(b),
        };
        let integer = |name: &str| values.get(name).map(|(v, _)| integer_value(name, v)).transpose();
        let target_file_size = match integer("target_file_size_mb")? {
            None => DEFAULT_TARGET_FILE_SIZE,
            Some(mb) if mb > 0 => mb as u64 * 1024 * 1024,
            Some(mb) => return Err(EngineError::plan(format!("target_file_size_mb must be positive, not {mb}"))),
        };
        let partitioned_by = match values.get("partitioned_by") {
            None => Vec::new(),
            Some((value, _)) => string_list("partitioned_by", value)?,
        };
        let bloom_filter_columns = match values.get("bloom_filter_columns") {
            None => Vec::new(),
            Some((value, _)) => string_list("bloom_filter_columns", value)?,
        };
        if !bloom_filter_columns.is_empty() && format != DataFormat::Parquet {
            return Err(EngineError::plan("bloom_filter_columns applies to Parquet tables only"));
        }
        let overwrite = match values.get("overwrite") {
            None => false,
            Some((value, _)) => boolean_value("overwrite", value)?,
        };
        Ok(CtasProperties {
            overwrite,
            location: text("external_location")?,
            format,
            compression,
            compression_level: integer("compression_level")?,
            partitioned_by,
            field_delimiter: text("field_delimiter")?,
            target_file_size,
            bloom_filter_columns,
        })
    }

    /// The file format spec and the SerDe parameters and table properties recording it.
    fn file_format(&self) -> Result<(FileFormatSpec, Parameters, Parameters)> {
        let mut serde = Parameters::new();
        let mut properties = Parameters::new();
        let spec = match self.format {
            DataFormat::Parquet => {
                let compression =
                    ParquetCompression::parse(self.compression.as_deref().unwrap_or("SNAPPY"), self.compression_level)?;
                properties.insert("classification".into(), "parquet".into());
                properties.insert(COMPRESSION_PROPERTY.into(), compression.name().into());
                if !self.bloom_filter_columns.is_empty() {
                    properties.insert(BLOOM_PROPERTY.into(), self.bloom_filter_columns.join(","));
                }
                FileFormatSpec::Parquet(ParquetWriteOptions {
                    compression,
                    bloom_filter_columns: self.bloom_filter_columns.clone(),
                })
            }
            DataFormat::Csv => {
                let gzip = match self.compression.as_deref().map(str::to_ascii_uppercase).as_deref() {
                    None | Some("NONE") => false,
                    Some("GZIP") => true,
                    Some(other) => {
                        return Err(EngineError::plan(format!(
                            "write_compression '{other}' is not supported for text files (accepted: GZIP, NONE)"
                        )))
                    }
                };
                let delimiter = self.field_delimiter.clone().unwrap_or_else(|| ",".into());
                serde.insert(serde_keys::FIELD_DELIMITER.into(), delimiter);
                // Checks the delimiter the same way reading the table will.
                let dialect = CsvDialect::from_serde(&serde)?;
                properties.insert("classification".into(), "csv".into());
                if gzip {
                    serde.insert(serde_keys::COMPRESSION.into(), "gzip".into());
                    properties.insert(COMPRESSION_PROPERTY.into(), "GZIP".into());
                }
                FileFormatSpec::Csv(CsvWriteOptions { delimiter: dialect.delimiter, gzip, header: false })
            }
            DataFormat::Json => return Err(EngineError::plan("JSON tables cannot be written yet")),
        };
        Ok((spec, serde, properties))
    }
}

fn string_value(name: &str, value: &ast::Expr) -> Result<String> {
    match value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => Ok(s.clone()),
            _ => Err(EngineError::plan_at(format!("{name} must be a string, not {value}"), position(value.span()))),
        },
        _ => Err(EngineError::plan_at(format!("{name} must be a string, not {value}"), position(value.span()))),
    }
}

fn boolean_value(name: &str, value: &ast::Expr) -> Result<bool> {
    let text = match value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Boolean(b) => Some(*b),
            ast::Value::SingleQuotedString(s) if s.eq_ignore_ascii_case("true") => Some(true),
            ast::Value::SingleQuotedString(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        },
        _ => None,
    };
    text.ok_or_else(|| {
        EngineError::plan_at(format!("{name} must be true or false, not {value}"), position(value.span()))
    })
}

fn integer_value(name: &str, value: &ast::Expr) -> Result<i64> {
    let text = match value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.clone(),
            ast::Value::SingleQuotedString(s) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    text.trim()
        .parse()
        .map_err(|_| EngineError::plan_at(format!("{name} must be an integer, not {value}"), position(value.span())))
}

fn string_list(name: &str, value: &ast::Expr) -> Result<Vec<String>> {
    match value {
        ast::Expr::Array(array) => array.elem.iter().map(|e| Ok(string_value(name, e)?.to_lowercase())).collect(),
        _ => Err(EngineError::plan_at(
            format!("{name} must be an ARRAY['column', ...], not {value}"),
            position(value.span()),
        )),
    }
}

/// `CREATE TABLE db.t WITH (...) AS SELECT ...`.
pub(crate) fn create_table_as(
    session: &Session,
    create: &ast::CreateTable,
    options: &[SqlOption],
    query: &ast::Query,
) -> Result<QueryOutput> {
    let properties = CtasProperties::parse(options)?;
    let (database, name) = table_ref(session, &create.name)?;
    let target = NewTable { database, name, if_not_exists: create.if_not_exists, at: position(create.name.span()) };
    write_new_table(session, target, &properties, query, &[])
}

/// Spectrum CETAS: `CREATE EXTERNAL TABLE db.t [(cols)] [PARTITIONED BY (names)] [ROW FORMAT
/// DELIMITED FIELDS TERMINATED BY 'c'] STORED AS PARQUET|TEXTFILE LOCATION '..' [TBLPROPERTIES
/// (..)] AS SELECT`. Its clauses become the CTAS properties; TBLPROPERTIES takes the CTAS ones
/// that have no clause (`write_compression`, `compression_level`, `target_file_size_mb`,
/// `overwrite`, and Redshift's `compression_type`). A column list names (and types) the SELECT's
/// columns, partition columns included, as in Redshift.
pub(crate) fn create_external_table_as(
    session: &Session,
    create: &CreateExternalTable,
    query: &ast::Query,
) -> Result<QueryOutput> {
    let at = Some(create.position);
    let (database, name) = table_ref(session, &create.name)?;
    let mut options: Vec<SqlOption> = Vec::new();
    let option = |key: &str, value: ast::Value| SqlOption::KeyValue {
        key: ast::ObjectName::from(vec![ast::Ident::new(key)]),
        value: ast::Expr::value(value),
    };
    let text = |s: &str| ast::Value::SingleQuotedString(s.to_string());
    if let Some(location) = &create.formats.location {
        options.push(option("external_location", text(location)));
    }
    match &create.formats.storage {
        None => {}
        Some(ast::HiveIOFormat::FileFormat { format: ast::FileFormat::PARQUET }) => {
            options.push(option("format", text("PARQUET")))
        }
        Some(ast::HiveIOFormat::FileFormat { format: ast::FileFormat::TEXTFILE }) => {
            options.push(option("format", text("TEXTFILE")))
        }
        Some(_) => {
            return Err(EngineError::plan_at("CREATE EXTERNAL TABLE ... AS SELECT writes PARQUET or TEXTFILE", at))
        }
    }
    match &create.formats.row_format {
        None => {}
        Some(ast::HiveRowFormat::DELIMITED { delimiters }) => {
            for delimiter in delimiters {
                if delimiter.delimiter != ast::HiveDelimiter::FieldsTerminatedBy {
                    return Err(EngineError::plan_at(
                        format!(
                            "CREATE EXTERNAL TABLE ... AS SELECT accepts only FIELDS TERMINATED BY, not {delimiter}"
                        ),
                        at,
                    ));
                }
                options.push(option("field_delimiter", text(&delimiter.char.value)));
            }
        }
        Some(_) => {
            return Err(EngineError::plan_at(
                "CREATE EXTERNAL TABLE ... AS SELECT accepts ROW FORMAT DELIMITED, not a SERDE",
                at,
            ))
        }
    }
    if !create.serde_properties.is_empty() || create.comment.is_some() {
        return Err(EngineError::plan_at(
            "CREATE EXTERNAL TABLE ... AS SELECT does not accept WITH SERDEPROPERTIES or COMMENT",
            at,
        ));
    }
    const FROM_TABLE_PROPERTIES: &[&str] =
        &["write_compression", "parquet_compression", "compression_level", "target_file_size_mb", "overwrite"];
    for (key, value) in &create.table_properties {
        let key = key.to_lowercase();
        let key = if key == "compression_type" { "write_compression".to_string() } else { key };
        if !FROM_TABLE_PROPERTIES.contains(&key.as_str()) {
            return Err(EngineError::plan_at(
                format!(
                    "unknown table property '{key}' for CREATE EXTERNAL TABLE ... AS SELECT; accepted: \
                     compression_type, {}",
                    FROM_TABLE_PROPERTIES.join(", ")
                ),
                at,
            ));
        }
        options.push(option(&key, text(value)));
    }
    let partition_names: Vec<String> = if create.partition_names.is_empty() {
        create.partitioned_by.iter().map(|c| c.name.value.to_lowercase()).collect()
    } else {
        create.partition_names.iter().map(|n| n.value.to_lowercase()).collect()
    };
    if !partition_names.is_empty() {
        let names = partition_names.iter().map(|n| ast::Expr::value(text(n))).collect();
        let array = ast::Expr::Array(ast::Array { elem: names, named: true });
        options.push(SqlOption::KeyValue {
            key: ast::ObjectName::from(vec![ast::Ident::new("partitioned_by")]),
            value: array,
        });
    }
    let properties = CtasProperties::parse(&options)?;
    let declared: Vec<&ColumnSpec> = create.columns.iter().chain(&create.partitioned_by).collect();
    let target = NewTable { database, name, if_not_exists: create.if_not_exists, at };
    write_new_table(session, target, &properties, query, &declared)
}

/// The table a CTAS or CETAS creates, and where its statement names it (for errors).
struct NewTable {
    database: String,
    name: String,
    if_not_exists: bool,
    at: Option<SqlPosition>,
}

/// Writes `query` to the lake as a new external table; `declared` (CETAS's column list) renames
/// the query's columns, whose types it must match.
fn write_new_table(
    session: &Session,
    target: NewTable,
    properties: &CtasProperties,
    query: &ast::Query,
    declared: &[&ColumnSpec],
) -> Result<QueryOutput> {
    let NewTable { database, name, if_not_exists, at } = target;
    if session.catalog().table_exists(&database, &name)? {
        if if_not_exists {
            return Ok(QueryOutput::Message(format!(
                "table '{}' already exists; nothing done",
                shown(&database, &name)
            )));
        }
        return Err(CatalogError::TableExists { database, name }.into());
    }
    let db = session.catalog().get_database(&database)?;
    let location = match (&properties.location, &db.location_uri) {
        (Some(location), _) => Location::parse(location)?.as_dir(),
        (None, Some(base)) => Location::parse(base)?.as_dir().join(&format!("{name}/")),
        (None, None) => {
            return Err(EngineError::plan_at(
                format!(
                    "CTAS with WITH (...) writes to the lake and needs external_location (database '{database}' has no \
                     LOCATION to default to); without WITH, CREATE TABLE ... AS SELECT makes a local table"
                ),
                at,
            ))
        }
    };
    let plan = optimize(session, binder(session).bind_query(query)?)?;
    let columns = apply_declared_columns(columns_of(&plan.schema())?, declared, at)?;
    let partition_count = check_partition_columns(&columns, &properties.partitioned_by)?;
    let (data_columns, partition_keys) = {
        let mut columns = columns;
        let keys = columns.split_off(columns.len() - partition_count);
        (columns, keys)
    };
    check_bloom_filter_columns(&data_columns, &properties.bloom_filter_columns)?;
    let (format, serde_parameters, parameters) = properties.file_format()?;
    let table = Table {
        database: database.clone(),
        name: name.clone(),
        kind: TableKind::External,
        storage: StorageDescriptor {
            columns: data_columns,
            location: location.as_url_str(),
            format: properties.format,
            serde_parameters,
        },
        partition_keys,
        parameters,
        created_at: 0,
        updated_at: 0,
        version: 0,
    };
    let ctx = session.exec_context();
    let replaced = if !folder_has_objects(&location, &ctx.stores, &ctx.io)? {
        Vec::new()
    } else if properties.overwrite {
        overwrite::check_no_table_uses(&location, session.catalog())?;
        overwrite::files_to_replace(&location, &ctx.stores, &ctx.io)?
    } else {
        return Err(EngineError::plan_at(
            format!(
                "external_location '{location}' is not empty; CTAS writes only into an empty location (as Athena does) \
                 and never over files it did not write; choose another location, remove the files there, or add \
                 overwrite = true to replace the files of an earlier Tarn CTAS there"
            ),
            at,
        ));
    };
    // Nothing in the catalog points at the location until the commit (an overwrite checked that
    // no table reads it any more), so final names are safe.
    let target = WriteTarget::new(&location, Placement::Direct, &ctx.stores, &ctx.io)?;
    // Recorded before the first file: no table points at the location until the commit, so the
    // record is how the next start finds what a killed CTAS left there (`orphans.rs`).
    let write_id = target.id.as_str();
    session.catalog().write(|tx| tx.begin_pending_write(&database, &name, write_id, &target.root.as_url_str()))?;
    let spec = write_spec(&table, target.clone(), format, properties.target_file_size);
    let files = write_plan(&plan, spec, &ctx)?;
    let rows: u64 = files.iter().map(|f| f.row_count).sum();
    let partitions = partitions_of(&table, &target, &files);
    publish_and_commit(&target, &files, |_| {
        // The old files go before the commit, so the new table never sees them; a failure here
        // loses part of what the user asked to replace, never anything else.
        overwrite::delete_files(&location, &replaced, &ctx.stores, &ctx.io)?;
        session.catalog().write(|tx| {
            tx.create_table(&table, false)?;
            if !partitions.is_empty() {
                tx.add_partitions(&database, &name, &partitions, false)?;
            }
            tx.finish_pending_write(write_id)
        })?;
        Ok(())
    })?;
    // Best effort: without the marker a later overwrite refuses, which is the safe side.
    let _ = overwrite::write_marker(&location, &files, &ctx.stores, &ctx.io);
    Ok(QueryOutput::Message(format!("SELECT {rows}")))
}

/// The query's columns, renamed by CETAS's column list when there is one; the declared types must
/// be the query's (Tarn does not cast here: a cast in the SELECT says what is meant).
fn apply_declared_columns(
    columns: Vec<tarn_catalog::Column>,
    declared: &[&ColumnSpec],
    at: Option<SqlPosition>,
) -> Result<Vec<tarn_catalog::Column>> {
    if declared.is_empty() {
        return Ok(columns);
    }
    if declared.len() != columns.len() {
        return Err(EngineError::plan_at(
            format!(
                "the column list names {} columns (partition columns included) but the SELECT returns {}",
                declared.len(),
                columns.len()
            ),
            at,
        ));
    }
    columns
        .into_iter()
        .zip(declared)
        .map(|(mut column, spec)| {
            let data_type = SqlType::parse(&spec.data_type)
                .map_err(|e| EngineError::plan_at(e.to_string(), Some(spec.type_position)))?;
            if data_type != column.data_type {
                return Err(EngineError::plan_at(
                    format!(
                        "column '{}' is declared {data_type} but the SELECT gives {}; cast it in the SELECT",
                        spec.name.value, column.data_type
                    ),
                    Some(spec.type_position),
                ));
            }
            column.name = spec.name.value.to_lowercase();
            column.comment = spec.comment.clone();
            Ok(column)
        })
        .collect()
}

/// Appends the rows of `plan` (in the table's `SELECT *` order and types) to an external table:
/// files are staged in a hidden folder, moved into place, and new partitions registered.
pub(crate) fn insert_external(session: &Session, table: &Table, plan: &LogicalPlan) -> Result<u64> {
    let ctx = session.exec_context();
    let location = Location::parse(&table.storage.location)?.as_dir();
    let format = table_format(table)?;
    // Readers list this folder, so files are staged out of their sight and moved in at the end.
    let target = WriteTarget::new(&location, Placement::Staged, &ctx.stores, &ctx.io)?;
    // Committed before the first file is staged: readers skip files of a pending write, so a
    // process killed between moves leaves nothing visible, and the next start finds the staging
    // folder and moved files of a killed write by the record (`orphans.rs`). A failed write keeps
    // its record, hiding whatever its cleanup could not delete until that sweep.
    let write_id = target.id.as_str();
    session
        .catalog()
        .write(|tx| tx.begin_pending_write(&table.database, &table.name, write_id, &target.root.as_url_str()))?;
    let spec = write_spec(table, target.clone(), format, DEFAULT_TARGET_FILE_SIZE);
    let files = write_plan(plan, spec, &ctx)?;
    let rows = files.iter().map(|f| f.row_count).sum();
    let partitions = partitions_of(table, &target, &files);
    publish_and_commit(&target, &files, |_| {
        let moved = session.catalog().write(|tx| {
            // A partition registered at another location (ALTER TABLE ... ADD PARTITION ...
            // LOCATION) would not see files written under the table's folder.
            for partition in &partitions {
                if let Some(existing) = tx.get_partition(&table.database, &table.name, &partition.values)? {
                    if Location::parse(&existing.location)?.as_dir() != Location::parse(&partition.location)?.as_dir() {
                        return Ok(Some(existing));
                    }
                }
            }
            if !partitions.is_empty() {
                tx.add_partitions(&table.database, &table.name, &partitions, true)?;
            }
            tx.finish_pending_write(write_id)?;
            Ok(None)
        })?;
        match moved {
            None => Ok(()),
            Some(existing) => Err(EngineError::Unsupported(format!(
                "INSERT into partition {:?} of '{}': it is registered at '{}', not under the table's folder; \
                 nothing was written",
                existing.values,
                shown(&table.database, &table.name),
                existing.location
            ))),
        }
    })?;
    Ok(rows)
}

/// How an existing table's files are written: its format, compression property and delimiter.
fn table_format(table: &Table) -> Result<FileFormatSpec> {
    Ok(match table.storage.format {
        DataFormat::Parquet => {
            let name = table.parameters.get(COMPRESSION_PROPERTY).map(String::as_str).unwrap_or("SNAPPY");
            let bloom = table.parameters.get(BLOOM_PROPERTY).map(String::as_str).unwrap_or_default();
            let bloom_filter_columns = bloom.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from);
            // Columns dropped since are skipped rather than failing the INSERT.
            let bloom_filter_columns =
                bloom_filter_columns.filter(|c| table.storage.columns.iter().any(|d| &d.name == c)).collect();
            FileFormatSpec::Parquet(ParquetWriteOptions {
                compression: ParquetCompression::parse(name, None)?,
                bloom_filter_columns,
            })
        }
        DataFormat::Csv => {
            let dialect = CsvDialect::from_serde(&table.storage.serde_parameters)?;
            let gzip = table
                .storage
                .serde_parameters
                .get(serde_keys::COMPRESSION)
                .is_some_and(|c| c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("gz"));
            FileFormatSpec::Csv(CsvWriteOptions { delimiter: dialect.delimiter, gzip, header: false })
        }
        DataFormat::Json => {
            return Err(EngineError::Unsupported(format!(
                "writing to JSON table '{}' is not supported yet",
                shown(&table.database, &table.name)
            )))
        }
    })
}

/// Every `bloom_filter_columns` entry must name a data column (partition keys are not in the files).
fn check_bloom_filter_columns(data_columns: &[tarn_catalog::Column], bloom: &[String]) -> Result<()> {
    for column in bloom {
        if !data_columns.iter().any(|c| &c.name == column) {
            let names: Vec<&str> = data_columns.iter().map(|c| c.name.as_str()).collect();
            return Err(EngineError::plan(format!(
                "bloom_filter_columns column '{column}' is not a data column of the SELECT (columns: {})",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// The partition count if `partitioned_by` names the last columns of the SELECT in order.
fn check_partition_columns(columns: &[tarn_catalog::Column], partitioned_by: &[String]) -> Result<usize> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    for key in partitioned_by {
        if !names.contains(&key.as_str()) {
            return Err(EngineError::plan(format!(
                "partitioned_by column '{key}' is not a column of the SELECT (columns: {})",
                names.join(", ")
            )));
        }
    }
    if partitioned_by.len() >= columns.len() && !partitioned_by.is_empty() {
        return Err(EngineError::plan("a table needs at least one column that is not in partitioned_by"));
    }
    let tail = &names[names.len() - partitioned_by.len()..];
    if tail.iter().zip(partitioned_by).any(|(a, b)| *a != b.as_str()) {
        return Err(EngineError::plan(format!(
            "the partitioned_by columns must be the last columns of the SELECT, in the same order (as in Athena): \
             expected the SELECT to end with [{}], it ends with [{}]",
            partitioned_by.join(", "),
            tail.join(", ")
        )));
    }
    Ok(partitioned_by.len())
}

fn write_spec(table: &Table, target: WriteTarget, format: FileFormatSpec, target_file_size: u64) -> WriteSpec {
    let data = table.storage.columns.len();
    let keys = table.partition_keys.len();
    WriteSpec {
        target,
        format,
        file_schema: file_schema(&table.storage.columns),
        data_columns: (0..data).collect(),
        partition_columns: (data..data + keys).collect(),
        partition_keys: table.partition_keys.iter().map(|c| c.name.clone()).collect(),
        target_file_size,
    }
}

/// One catalog partition per distinct partition of the written files, with their statistics.
fn partitions_of(table: &Table, target: &WriteTarget, files: &[WrittenFile]) -> Vec<Partition> {
    if !table.is_partitioned() {
        return Vec::new();
    }
    let keys: Vec<String> = table.partition_keys.iter().map(|c| c.name.clone()).collect();
    let mut by_values: BTreeMap<Vec<String>, (String, u64, u64, u64)> = BTreeMap::new();
    for file in files {
        let folder = partition_folder(&keys, &file.partition);
        let entry = by_values
            .entry(catalog_values(&file.partition))
            .or_insert_with(|| (target.final_location(&folder).as_url_str(), 0, 0, 0));
        entry.1 += 1;
        entry.2 += file.size_bytes;
        entry.3 += file.row_count;
    }
    by_values
        .into_iter()
        .map(|(values, (location, files, size, rows))| Partition {
            values,
            location,
            parameters: [
                ("numFiles".to_string(), files.to_string()),
                ("totalSize".to_string(), size.to_string()),
                ("numRows".to_string(), rows.to_string()),
            ]
            .into_iter()
            .collect(),
            created_at: 0,
        })
        .collect()
}
