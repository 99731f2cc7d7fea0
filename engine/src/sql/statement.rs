//! The statements Tarn executes: sqlparser's AST where it says what Tarn needs, and Tarn's own
//! shapes for the Hive/Athena DDL sqlparser parses lossily or not at all (see `dialect.rs`).

use sqlparser::ast::{self, HiveFormat, Ident, ObjectName};

use crate::error::SqlPosition;

/// One parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum TarnStatement {
    /// A statement sqlparser's `GenericDialect` parses without losing anything Tarn uses.
    Sql(Box<ast::Statement>),
    CreateDatabase(CreateDatabase),
    CreateExternalTable(Box<CreateExternalTable>),
    AddPartitions(AddPartitions),
    DropPartitions(DropPartitions),
    /// `SHOW PARTITIONS [db.]t`.
    ShowPartitions {
        table: ObjectName,
    },
    /// `SHOW TABLE HISTORY [db.]t` / `DESCRIBE HISTORY [db.]t`: the table's schema versions.
    ShowTableHistory {
        table: ObjectName,
    },
    /// Redshift `COPY`, parsed by `crate::write::copy::parse` (sqlparser stops at its options).
    Copy(Box<crate::write::CopyStatement>),
}

impl TarnStatement {
    /// A short name of the statement's kind for messages ("not supported yet: INSERT").
    pub fn kind(&self) -> String {
        match self {
            TarnStatement::Sql(statement) => statement_kind(statement),
            TarnStatement::CreateDatabase(_) => "CREATE DATABASE".into(),
            TarnStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".into(),
            TarnStatement::AddPartitions(_) => "ALTER TABLE ADD PARTITION".into(),
            TarnStatement::DropPartitions(_) => "ALTER TABLE DROP PARTITION".into(),
            TarnStatement::ShowPartitions { .. } => "SHOW PARTITIONS".into(),
            TarnStatement::ShowTableHistory { .. } => "SHOW TABLE HISTORY".into(),
            TarnStatement::Copy(_) => "COPY".into(),
        }
    }
}

/// The leading keywords of a sqlparser statement (`INSERT`, `CREATE TABLE`, `COPY`): its display
/// cut before the first name, which is what a user recognises.
fn statement_kind(statement: &ast::Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> =
        text.split_whitespace().take_while(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_')).take(3).collect();
    if words.is_empty() {
        "this statement".into()
    } else {
        words.join(" ")
    }
}

/// `CREATE DATABASE|SCHEMA [IF NOT EXISTS] db [COMMENT '..'] [LOCATION '..'] [WITH DBPROPERTIES (..)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateDatabase {
    pub name: Ident,
    pub if_not_exists: bool,
    pub comment: Option<String>,
    pub location: Option<String>,
    pub properties: Vec<(String, String)>,
}

/// A column of `CREATE EXTERNAL TABLE` or of its `PARTITIONED BY`; the type is kept as written so
/// the catalog's `SqlType::parse` decides what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub name: Ident,
    pub data_type: String,
    /// Where the type starts, for "invalid column type" errors.
    pub type_position: SqlPosition,
    pub comment: Option<String>,
}

/// Hive/Athena `CREATE EXTERNAL TABLE`, clause by clause.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateExternalTable {
    pub name: ObjectName,
    pub if_not_exists: bool,
    pub columns: Vec<ColumnSpec>,
    pub comment: Option<String>,
    pub partitioned_by: Vec<ColumnSpec>,
    /// `ROW FORMAT`, `STORED AS` and `LOCATION`, as sqlparser parses them (its
    /// `serde_properties` moved to the field below).
    pub formats: HiveFormat,
    /// `WITH SERDEPROPERTIES ('k'='v', ...)`, in the order written.
    pub serde_properties: Vec<(String, String)>,
    /// `TBLPROPERTIES ('k'='v', ...)`, in the order written.
    pub table_properties: Vec<(String, String)>,
    /// Where the statement starts, for errors about the table as a whole (e.g. a missing LOCATION).
    pub position: SqlPosition,
    /// Redshift CETAS's untyped `PARTITIONED BY (name, ...)`: the types come from the query.
    pub partition_names: Vec<Ident>,
    /// Spectrum CETAS, `... AS query`: the query's rows are written to LOCATION by the Athena CTAS
    /// writer (`crate::write::athena_ctas::create_external_table_as`).
    pub query: Option<Box<ast::Query>>,
}

/// One `key = value` of a `PARTITION (...)` clause; the value is the literal's text.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionValue {
    pub key: Ident,
    pub value: String,
    /// Where the value starts, for errors about it.
    pub position: SqlPosition,
}

/// One `PARTITION (k = v, ...) [LOCATION '...']` of `ALTER TABLE ... ADD`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSpec {
    pub values: Vec<PartitionValue>,
    pub location: Option<String>,
}

/// `ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (...) [LOCATION '...'] [PARTITION ...]...`.
#[derive(Debug, Clone, PartialEq)]
pub struct AddPartitions {
    pub table: ObjectName,
    pub if_not_exists: bool,
    pub partitions: Vec<PartitionSpec>,
}

/// `ALTER TABLE t DROP [IF EXISTS] PARTITION (...) [, PARTITION (...)]...`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropPartitions {
    pub table: ObjectName,
    pub if_exists: bool,
    pub partitions: Vec<Vec<PartitionValue>>,
}
