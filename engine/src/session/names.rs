//! Resolution of the object names statements carry (`t`, `db.t`) against the current database.

use sqlparser::ast::{Ident, ObjectName, Spanned};

use crate::error::{EngineError, Result};
use crate::session::Session;
use crate::sql::dialect::position;

/// A table reference: database and table names as the user wrote them (the catalog compares
/// them case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TableName {
    pub database: String,
    pub table: String,
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

/// `t` (in the current database) or `db.t`.
pub(super) fn table_name(session: &Session, name: &ObjectName) -> Result<TableName> {
    let parts = idents(name)?;
    match parts.as_slice() {
        [table] => Ok(TableName { database: session.current_database().to_string(), table: table.value.clone() }),
        [database, table] => Ok(TableName { database: database.value.clone(), table: table.value.clone() }),
        _ => Err(name_error(name, "a table name has at most two parts: database.table")),
    }
}

/// A database name: one identifier.
pub(super) fn database_name(name: &ObjectName) -> Result<String> {
    match idents(name)?.as_slice() {
        [database] => Ok(database.value.clone()),
        _ => Err(name_error(name, "a database name has one part")),
    }
}

fn idents(name: &ObjectName) -> Result<Vec<&Ident>> {
    name.0.iter().map(|part| part.as_ident().ok_or_else(|| name_error(name, "expected a name"))).collect()
}

fn name_error(name: &ObjectName, message: &str) -> EngineError {
    let start = name.span().start;
    EngineError::plan_at(format!("{message}, not '{name}'"), (start.line > 0).then(|| position(start)))
}
