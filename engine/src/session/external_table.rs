//! The meaning of Hive/Athena `CREATE EXTERNAL TABLE` clauses in the Glue model: which format,
//! which SerDe parameters, which table properties. `show_create.rs` is its inverse.

use std::collections::HashSet;

use sqlparser::ast::{FileFormat, HiveDelimiter, HiveIOFormat, HiveRowFormat};
use tarn_catalog::{
    serde_keys, Column, DataFormat, Location, Parameters, SqlType, StorageDescriptor, Table, TableKind,
};

use crate::error::{EngineError, Result};
use crate::session::hive_text::unescape_literal;
use crate::session::names::TableName;
use crate::sql::dialect::position;
use crate::sql::statement::{ColumnSpec, CreateExternalTable};

/// The SerDe class Athena documents for quoted CSV; its properties have their own names.
pub(super) const OPEN_CSV_SERDE: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";

/// The table property Hive keeps a table's comment in.
pub(super) const COMMENT_PROPERTY: &str = "comment";

/// OpenCSVSerde's defaults (its documentation): `,` separated, `"` quoted, `\` escaped. They are
/// written into the SerDe parameters so the table means the same without knowing the class.
const OPEN_CSV_DEFAULTS: [(&str, &str); 3] =
    [(serde_keys::FIELD_DELIMITER, ","), (serde_keys::QUOTE_CHAR, "\""), (serde_keys::ESCAPE_CHAR, "\\")];

/// Table properties that configure reading, so Athena DDL that puts them in `TBLPROPERTIES`
/// (as its documentation does) is also seen by the reader in the SerDe parameters.
pub(super) const READER_TABLE_PROPERTIES: [&str; 5] = [
    serde_keys::SKIP_HEADER,
    serde_keys::COMPRESSION,
    serde_keys::NULL_FORMAT,
    serde_keys::TIMESTAMP_FORMAT,
    serde_keys::DATE_FORMAT,
];

/// Builds the catalog table `create` describes, in `name`'s database. `default_location` is the
/// database's location, under which a table without `LOCATION` lives (as in Hive).
pub(super) fn table_from_ddl(
    create: &CreateExternalTable,
    name: &TableName,
    default_location: Option<&str>,
) -> Result<Table> {
    let columns = catalog_columns(&create.columns)?;
    let partition_keys = catalog_columns(&create.partitioned_by)?;
    check_unique_names(&create.columns, &create.partitioned_by)?;

    let mut serde_parameters = Parameters::new();
    let serde_class = match &create.formats.row_format {
        Some(HiveRowFormat::SERDE { class }) => Some(class.as_str()),
        Some(HiveRowFormat::DELIMITED { delimiters }) => {
            for delimiter in delimiters {
                let value = unescape_literal(&delimiter.char.value);
                let key = match delimiter.delimiter {
                    HiveDelimiter::FieldsTerminatedBy => serde_keys::FIELD_DELIMITER,
                    HiveDelimiter::FieldsEscapedBy => serde_keys::ESCAPE_CHAR,
                    HiveDelimiter::NullDefinedAs => serde_keys::NULL_FORMAT,
                    HiveDelimiter::CollectionItemsTerminatedBy => "collection.delim",
                    HiveDelimiter::MapKeysTerminatedBy => "mapkey.delim",
                    HiveDelimiter::LinesTerminatedBy if value == "\n" => continue,
                    HiveDelimiter::LinesTerminatedBy => {
                        return Err(EngineError::Unsupported(
                            "LINES TERMINATED BY other than '\\n' (Hive supports only newlines too)".into(),
                        ))
                    }
                };
                serde_parameters.insert(key.to_string(), value);
            }
            None
        }
        None => None,
    };
    let is_open_csv = serde_class.is_some_and(|c| c.eq_ignore_ascii_case(OPEN_CSV_SERDE));
    for (key, value) in &create.serde_properties {
        let key = match key.as_str() {
            "separatorChar" if is_open_csv => serde_keys::FIELD_DELIMITER,
            _ => key,
        };
        serde_parameters.insert(key.to_string(), unescape_literal(value));
    }
    if is_open_csv {
        for (key, value) in OPEN_CSV_DEFAULTS {
            serde_parameters.entry(key.to_string()).or_insert_with(|| value.to_string());
        }
    }

    let mut parameters = Parameters::new();
    for (key, value) in &create.table_properties {
        let value = unescape_literal(value);
        if READER_TABLE_PROPERTIES.contains(&key.as_str()) {
            serde_parameters.insert(key.clone(), value.clone());
        }
        parameters.insert(key.clone(), value);
    }
    if let Some(comment) = &create.comment {
        parameters.insert(COMMENT_PROPERTY.to_string(), comment.clone());
    }

    let location = match (&create.formats.location, default_location) {
        (Some(text), _) => Location::parse(text)?.as_dir(),
        (None, Some(database_location)) => {
            Location::parse(database_location)?.as_dir().join(&format!("{}/", name.table))
        }
        (None, None) => {
            return Err(EngineError::plan_at(
                format!("CREATE EXTERNAL TABLE {name} needs a LOCATION (its database has none to default to)"),
                Some(create.position),
            ))
        }
    };

    Ok(Table {
        database: name.database.clone(),
        name: name.table.clone(),
        kind: TableKind::External,
        storage: StorageDescriptor {
            columns,
            location: location.as_url_str(),
            format: data_format(create, serde_class)?,
            serde_parameters,
        },
        partition_keys,
        parameters,
        created_at: 0,
        updated_at: 0,
        version: 0,
    })
}

fn catalog_columns(specs: &[ColumnSpec]) -> Result<Vec<Column>> {
    specs
        .iter()
        .map(|spec| {
            let data_type = SqlType::parse(&spec.data_type).map_err(|_| {
                EngineError::plan_at(
                    format!("invalid type '{}' for column '{}'", spec.data_type.to_lowercase(), spec.name.value),
                    Some(spec.type_position),
                )
            })?;
            Ok(Column { name: spec.name.value.clone(), data_type, comment: spec.comment.clone() })
        })
        .collect()
}

/// Column and partition-key names must differ (case-insensitively, as the catalog compares).
fn check_unique_names(columns: &[ColumnSpec], keys: &[ColumnSpec]) -> Result<()> {
    let mut seen = HashSet::new();
    for spec in columns.iter().chain(keys) {
        if !seen.insert(spec.name.value.to_lowercase()) {
            let start = spec.name.span.start;
            return Err(EngineError::plan_at(
                format!("column '{}' is defined twice (partition keys are columns too)", spec.name.value),
                (start.line > 0).then(|| position(start)),
            ));
        }
    }
    Ok(())
}

/// `STORED AS` decides; without it the SerDe class does, and without both Hive's default is
/// delimited text.
fn data_format(create: &CreateExternalTable, serde_class: Option<&str>) -> Result<DataFormat> {
    match &create.formats.storage {
        Some(HiveIOFormat::FileFormat { format }) => match format {
            FileFormat::PARQUET => Ok(DataFormat::Parquet),
            FileFormat::TEXTFILE => Ok(DataFormat::Csv),
            FileFormat::JSONFILE => Ok(DataFormat::Json),
            other => Err(unsupported_format(&other.to_string())),
        },
        Some(HiveIOFormat::IOF { input_format, .. }) => {
            let class = input_format.to_string();
            let lower = class.to_ascii_lowercase();
            if lower.contains("parquet") {
                Ok(DataFormat::Parquet)
            } else if lower.contains("textinputformat") {
                Ok(if serde_class.is_some_and(|c| c.to_ascii_lowercase().contains("json")) {
                    DataFormat::Json
                } else {
                    DataFormat::Csv
                })
            } else {
                Err(unsupported_format(&class))
            }
        }
        Some(HiveIOFormat::Using { format }) => {
            DataFormat::parse(&format.value).ok_or_else(|| unsupported_format(&format.value))
        }
        None => Ok(match serde_class.map(str::to_ascii_lowercase) {
            Some(class) if class.contains("parquet") => DataFormat::Parquet,
            Some(class) if class.contains("json") => DataFormat::Json,
            _ => DataFormat::Csv,
        }),
    }
}

fn unsupported_format(format: &str) -> EngineError {
    EngineError::Unsupported(format!("STORED AS {format}: Tarn reads PARQUET, TEXTFILE (delimited text) and JSONFILE"))
}
