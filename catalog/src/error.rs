//! Errors of the catalog crate. Variants carry the names and locations a user needs to act.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("invalid column type '{0}'")]
    InvalidType(String),
    #[error("database '{0}' does not exist")]
    DatabaseNotFound(String),
    #[error("database '{0}' already exists")]
    DatabaseExists(String),
    #[error("database '{name}' is not empty: it has {tables} table(s); drop them first or use CASCADE")]
    DatabaseNotEmpty { name: String, tables: usize },
    #[error("table '{database}.{name}' does not exist")]
    TableNotFound { database: String, name: String },
    #[error("table '{database}.{name}' already exists")]
    TableExists { database: String, name: String },
    #[error("partition {values:?} of table '{table}' already exists")]
    PartitionExists { table: String, values: Vec<String> },
    #[error("partition {values:?} of table '{table}' does not exist")]
    PartitionNotFound { table: String, values: Vec<String> },
    #[error("a partition of table '{table}' needs {expected} value(s), one per partition key; got {got}")]
    PartitionArity { table: String, expected: usize, got: usize },
    #[error("file '{path}' is already listed in table '{table}'")]
    FileExists { table: String, path: String },
    #[error("database '{0}' cannot be dropped: it is where unqualified names resolve")]
    ProtectedDatabase(String),
    #[error("cannot {0} inside a read-only catalog transaction; use Catalog::write")]
    ReadOnlyTransaction(&'static str),
    #[error(
        "catalog store at {path} has schema version {found}, newer than this Tarn supports ({supported}); upgrade Tarn"
    )]
    UnsupportedSchema { path: String, found: i64, supported: i64 },
    #[error("invalid location '{location}': {reason}")]
    InvalidLocation { location: String, reason: String },
    #[error("catalog store at {path}: {source}")]
    Store { path: String, source: rusqlite::Error },
    #[error("catalog data is corrupt: {0}")]
    Corrupt(String),
    #[error("{}", crate::location::s3_error::describe(.context, &.source.to_string()))]
    ObjectStore { context: String, source: object_store::Error },
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
