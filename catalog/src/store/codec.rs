//! Row ↔ model conversions. Structured fields (columns, parameters, partition values) are JSON
//! text; anything that does not decode is reported as [`CatalogError::Corrupt`] naming the object,
//! never a panic, because the file can be edited or damaged outside Tarn.

use rusqlite::Row;
use serde_json::{Map, Value};

use crate::error::{CatalogError, Result};
use crate::model::{
    Column, DataFile, DataFormat, Database, Parameters, Partition, StorageDescriptor, Table, TableKind,
};
use crate::types::SqlType;

/// The columns of `databases` in the order [`RawDatabase::from_row`] reads them.
pub(super) const DATABASE_COLUMNS: &str = "name, description, location_uri, parameters, created_at";

/// The columns of `tables` in the order [`RawTable::from_row`] reads them.
pub(super) const TABLE_COLUMNS: &str = "id, database, name, kind, location, format, columns, \
     serde_parameters, partition_keys, parameters, created_at, updated_at, version";

/// The columns of `partitions` in the order [`RawPartition::from_row`] reads them.
pub(super) const PARTITION_COLUMNS: &str = "part_values, location, parameters, created_at";

/// The columns of `table_files` in the order [`data_file_from_row`] reads them.
pub(super) const FILE_COLUMNS: &str = "path, size_bytes, row_count";

/// Maps an error raised while reading a row: a value of the wrong type is corruption of `what`,
/// anything else is a store failure.
pub(super) fn read_error(path: &str, what: impl FnOnce() -> String, source: rusqlite::Error) -> CatalogError {
    match source {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => CatalogError::Corrupt(format!("{}: {source}", what())),
        source => CatalogError::Store { path: path.to_string(), source },
    }
}

/// A `databases` row before its JSON is decoded.
pub(super) struct RawDatabase {
    name: String,
    description: Option<String>,
    location_uri: Option<String>,
    parameters: String,
    created_at: i64,
}

impl RawDatabase {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawDatabase> {
        Ok(RawDatabase {
            name: row.get(0)?,
            description: row.get(1)?,
            location_uri: row.get(2)?,
            parameters: row.get(3)?,
            created_at: row.get(4)?,
        })
    }

    pub(super) fn decode(self) -> Result<Database> {
        let what = || format!("parameters of database '{}'", self.name);
        Ok(Database {
            parameters: decode_parameters(&self.parameters, what)?,
            name: self.name,
            description: self.description,
            location_uri: self.location_uri,
            created_at: self.created_at,
        })
    }
}

/// A `tables` row before its JSON is decoded; `id` keys the table's partitions and files.
pub(super) struct RawTable {
    pub(super) id: i64,
    database: String,
    name: String,
    kind: String,
    location: String,
    format: String,
    columns: String,
    serde_parameters: String,
    partition_keys: String,
    parameters: String,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl RawTable {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawTable> {
        Ok(RawTable {
            id: row.get(0)?,
            database: row.get(1)?,
            name: row.get(2)?,
            kind: row.get(3)?,
            location: row.get(4)?,
            format: row.get(5)?,
            columns: row.get(6)?,
            serde_parameters: row.get(7)?,
            partition_keys: row.get(8)?,
            parameters: row.get(9)?,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
            version: row.get(12)?,
        })
    }

    pub(super) fn decode(self) -> Result<Table> {
        let qualified = format!("{}.{}", self.database, self.name);
        let what = |field: &str| format!("{field} of table '{qualified}'");
        let kind = decode_kind(&self.kind)
            .ok_or_else(|| CatalogError::Corrupt(format!("{}: '{}'", what("kind"), self.kind)))?;
        let format = DataFormat::parse(&self.format)
            .ok_or_else(|| CatalogError::Corrupt(format!("{}: '{}'", what("format"), self.format)))?;
        Ok(Table {
            kind,
            storage: StorageDescriptor {
                columns: decode_columns(&self.columns, || what("columns"))?,
                location: self.location,
                format,
                serde_parameters: decode_parameters(&self.serde_parameters, || what("SerDe parameters"))?,
            },
            partition_keys: decode_columns(&self.partition_keys, || what("partition keys"))?,
            parameters: decode_parameters(&self.parameters, || what("parameters"))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
            database: self.database,
            name: self.name,
        })
    }
}

/// A `partitions` row before its JSON is decoded.
pub(super) struct RawPartition {
    values: String,
    location: String,
    parameters: String,
    created_at: i64,
}

impl RawPartition {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawPartition> {
        Ok(RawPartition {
            values: row.get(0)?,
            location: row.get(1)?,
            parameters: row.get(2)?,
            created_at: row.get(3)?,
        })
    }

    /// Decodes the row; `table` names the owner in corruption messages.
    pub(super) fn decode(self, table: &str) -> Result<Partition> {
        let values = decode_values(&self.values, || format!("values of a partition of table '{table}'"))?;
        let parameters =
            decode_parameters(&self.parameters, || format!("parameters of partition {values:?} of table '{table}'"))?;
        Ok(Partition { values, location: self.location, parameters, created_at: self.created_at })
    }
}

pub(super) fn data_file_from_row(row: &Row<'_>) -> rusqlite::Result<DataFile> {
    Ok(DataFile { path: row.get(0)?, size_bytes: row.get(1)?, row_count: row.get(2)? })
}

/// Glue's spelling of the table kind, so the stored text means the same as in Glue.
pub(super) fn encode_kind(kind: TableKind) -> &'static str {
    kind.as_str()
}

fn decode_kind(text: &str) -> Option<TableKind> {
    [TableKind::External, TableKind::Local].into_iter().find(|kind| kind.as_str() == text)
}

pub(super) fn encode_parameters(parameters: &Parameters) -> String {
    let map: Map<String, Value> = parameters.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Value::Object(map).to_string()
}

fn decode_parameters(text: &str, what: impl FnOnce() -> String) -> Result<Parameters> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corrupt(format!("{}: {e}", what())))
}

/// Columns as `[{"name": .., "type": "decimal(10,2)", "comment": ..}]`: the type in its Hive
/// spelling, the same text Glue stores.
pub(super) fn encode_columns(columns: &[Column]) -> String {
    let items = columns
        .iter()
        .map(|column| {
            let mut object = Map::new();
            object.insert("name".into(), Value::String(column.name.clone()));
            object.insert("type".into(), Value::String(column.data_type.to_string()));
            if let Some(comment) = &column.comment {
                object.insert("comment".into(), Value::String(comment.clone()));
            }
            Value::Object(object)
        })
        .collect();
    Value::Array(items).to_string()
}

/// Columns from the JSON spelling `encode_columns` writes; `what` names the row for errors.
pub(crate) fn decode_columns(text: &str, what: impl Fn() -> String) -> Result<Vec<Column>> {
    let corrupt = |detail: String| CatalogError::Corrupt(format!("{}: {detail}", what()));
    let value: Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let items = value.as_array().ok_or_else(|| corrupt("not a JSON array".into()))?;
    items
        .iter()
        .map(|item| {
            let field = |key: &str| item.get(key).and_then(Value::as_str);
            let name = field("name").ok_or_else(|| corrupt(format!("column without a name: {item}")))?;
            let type_text = field("type").ok_or_else(|| corrupt(format!("column '{name}' without a type")))?;
            let data_type = SqlType::parse(type_text).map_err(|e| corrupt(format!("column '{name}': {e}")))?;
            Ok(Column { name: name.to_string(), data_type, comment: field("comment").map(str::to_string) })
        })
        .collect()
}

/// Partition values as a JSON array of strings: one text per key, unambiguous for any value.
pub(super) fn encode_values(values: &[String]) -> String {
    Value::Array(values.iter().cloned().map(Value::String).collect()).to_string()
}

fn decode_values(text: &str, what: impl FnOnce() -> String) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corrupt(format!("{}: {e}", what())))
}
