//! The Glue data model: databases hold tables; a table has a storage descriptor (columns, location,
//! format, SerDe parameters), partition keys and parameters; partitions carry their own values,
//! location and statistics. Field names follow Glue so users can map one onto the other.

use std::collections::BTreeMap;

use crate::types::SqlType;

/// Free-form `key = value` properties (Glue `Parameters`, Hive `TBLPROPERTIES`, SerDe parameters).
pub type Parameters = BTreeMap<String, String>;

/// A catalog database (Glue `Database`, Athena/Hive schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub name: String,
    pub description: Option<String>,
    /// Default location for tables created without one (Glue `LocationUri`).
    pub location_uri: Option<String>,
    pub parameters: Parameters,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Whether Tarn owns the table's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Data lives in the lake and belongs to the user; dropping the table keeps the files.
    External,
    /// Managed by Tarn under `$TARN_HOME/warehouse/<db>/<table>/`; its live files are listed in the
    /// catalog so a write becomes visible with one transaction.
    Local,
}

impl TableKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TableKind::External => "EXTERNAL_TABLE",
            TableKind::Local => "MANAGED_TABLE",
        }
    }
}

/// The file format of a table's data (Glue stores this as input format + SerDe library).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    Parquet,
    /// Delimited text (Hive `TEXTFILE` with `LazySimpleSerDe` or `OpenCSVSerde`).
    Csv,
    /// Newline-delimited JSON.
    Json,
}

impl DataFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            DataFormat::Parquet => "parquet",
            DataFormat::Csv => "csv",
            DataFormat::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<DataFormat> {
        match text.to_ascii_lowercase().as_str() {
            "parquet" => Some(DataFormat::Parquet),
            "csv" | "textfile" | "text" => Some(DataFormat::Csv),
            "json" => Some(DataFormat::Json),
            _ => None,
        }
    }
}

/// Well-known SerDe parameter keys, spelled as Hive and Athena spell them so `TBLPROPERTIES` and
/// `SERDEPROPERTIES` written for Athena mean the same here.
pub mod serde_keys {
    pub const FIELD_DELIMITER: &str = "field.delim";
    pub const QUOTE_CHAR: &str = "quoteChar";
    pub const ESCAPE_CHAR: &str = "escapeChar";
    pub const SKIP_HEADER: &str = "skip.header.line.count";
    pub const COMPRESSION: &str = "compressionType";
    pub const NULL_FORMAT: &str = "serialization.null.format";
    pub const TIMESTAMP_FORMAT: &str = "timestamp.formats";
    pub const DATE_FORMAT: &str = "date.format";
}

/// A column: name, SQL type and optional comment (Glue `Column`).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: SqlType,
    pub comment: Option<String>,
}

impl Column {
    pub fn new(name: impl Into<String>, data_type: SqlType) -> Column {
        Column { name: name.into(), data_type, comment: None }
    }
}

/// Where and how a table's (or partition's) data is stored (Glue `StorageDescriptor`).
#[derive(Debug, Clone, PartialEq)]
pub struct StorageDescriptor {
    /// Data columns, without the partition keys.
    pub columns: Vec<Column>,
    /// A normalised location URL: `s3://bucket/prefix/` or `file:///abs/path/`.
    pub location: String,
    pub format: DataFormat,
    /// SerDe parameters (see [`serde_keys`]).
    pub serde_parameters: Parameters,
}

/// A table (Glue `Table`).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub database: String,
    pub name: String,
    pub kind: TableKind,
    pub storage: StorageDescriptor,
    /// Hive partition keys, in folder order (`year=.../month=...`).
    pub partition_keys: Vec<Column>,
    /// Table properties (`TBLPROPERTIES`), e.g. `classification`, crawler provenance.
    pub parameters: Parameters,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// Incremented on every change of the table's definition (Glue schema version).
    pub version: i64,
}

impl Table {
    /// Data columns followed by partition keys: the order in which `SELECT *` returns them, as in
    /// Athena.
    pub fn all_columns(&self) -> impl Iterator<Item = &Column> {
        self.storage.columns.iter().chain(self.partition_keys.iter())
    }

    pub fn is_partitioned(&self) -> bool {
        !self.partition_keys.is_empty()
    }
}

/// One partition of a table (Glue `Partition`): one value per partition key, as text in Hive's
/// folder spelling (`2024`, `05`, `__HIVE_DEFAULT_PARTITION__` for NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub values: Vec<String>,
    /// Normalised location URL of the partition's folder.
    pub location: String,
    /// Statistics and properties: `numFiles`, `totalSize`, `numRows` where known.
    pub parameters: Parameters,
    pub created_at: i64,
}

/// A data file of a local table, as committed (the live file list is what readers see).
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Normalised location URL of the file.
    pub path: String,
    pub size_bytes: u64,
    pub row_count: u64,
}

/// The Hive spelling of a NULL partition value.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";
