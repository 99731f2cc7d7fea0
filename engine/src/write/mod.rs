//! Writing back: local (managed) tables, Athena CTAS to the lake, INSERT, DELETE, TRUNCATE and
//! Redshift COPY. Every write follows one protocol ([`staging`]): files named with the write's
//! unique id are written by a pipeline sink ([`sink`]) where no reader looks, then made visible
//! by one catalog transaction ([`run::publish_and_commit`]); a failure removes them.
//!
//! The session dispatches each statement here (`create_table`, `insert`, `delete`, `truncate`,
//! `copy`, `unload`, and `remove_local_data` after a `DROP TABLE`).

pub mod athena_ctas;
pub mod copy;
pub mod local_table;
pub mod orphans;
pub mod overwrite;
pub mod partition_path;
pub mod run;
pub mod sink;
pub mod staging;
#[cfg(test)]
mod tests;
pub mod unload;
pub mod upload;

use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use sqlparser::ast::{self, CreateTableOptions, ObjectName, Spanned};
use tarn_catalog::{Column, SqlType, Table, TableKind};

use crate::error::{EngineError, Result};
use crate::optimizer::OptimizerContext;
use crate::plan::LogicalPlan;
use crate::session::{QueryOutput, Session};
use crate::sql::binder::{Binder, InsertColumn};

pub use copy::{copy, CopyStatement};
pub use local_table::{delete, remove_local_data, truncate};
pub use unload::unload;

/// Files roll over at this size unless `target_file_size_mb` says otherwise: large enough that a
/// table is not thousands of tiny objects, small enough to scan in parallel (Athena's guidance).
pub const DEFAULT_TARGET_FILE_SIZE: u64 = 128 * 1024 * 1024;

/// `CREATE TABLE`: a local table (`(cols)` or `AS SELECT`), or with `WITH (...)` an Athena CTAS
/// writing to the lake.
pub fn create_table(session: &Session, create: &ast::CreateTable) -> Result<QueryOutput> {
    if create.or_replace || create.temporary || create.external || create.like.is_some() || create.clone.is_some() {
        return Err(EngineError::plan_at(
            "CREATE TABLE supports (columns), AS SELECT and Athena's WITH (...) AS SELECT; OR REPLACE, TEMPORARY, \
             LIKE and CLONE are not supported",
            position(create.name.span()),
        ));
    }
    let with = match &create.table_options {
        CreateTableOptions::With(options) if !options.is_empty() => Some(options.as_slice()),
        CreateTableOptions::None | CreateTableOptions::With(_) => None,
        _ => {
            return Err(EngineError::plan_at(
                "table options other than Athena's WITH (...) are not supported",
                position(create.name.span()),
            ))
        }
    };
    match (&create.query, with) {
        (None, None) => local_table::create_local_table(session, create),
        (Some(query), None) => local_table::create_local_table_as(session, create, query),
        (Some(query), Some(options)) => athena_ctas::create_table_as(session, create, options, query),
        (None, Some(_)) => Err(EngineError::plan_at(
            "WITH (...) table properties need AS SELECT (Athena CTAS); use CREATE EXTERNAL TABLE to register \
             existing files",
            position(create.name.span()),
        )),
    }
}

/// `INSERT INTO t [(cols)] VALUES ... | SELECT ...` into a local or an external table.
pub fn insert(session: &Session, insert: &ast::Insert) -> Result<QueryOutput> {
    let ast::TableObject::TableName(name) = &insert.table else {
        return Err(EngineError::plan("INSERT INTO a table function is not supported"));
    };
    if insert.overwrite || insert.or.is_some() || !insert.assignments.is_empty() || insert.on.is_some() {
        return Err(EngineError::plan_at(
            "INSERT supports INTO t [(cols)] VALUES | SELECT; OVERWRITE, OR ..., SET and ON CONFLICT are not supported",
            position(name.span()),
        ));
    }
    let Some(source) = &insert.source else {
        return Err(EngineError::plan_at("INSERT needs VALUES or a SELECT", position(name.span())));
    };
    let (database, table_name) = table_ref(session, name)?;
    let table = session.catalog().get_table(&database, &table_name)?;
    let columns: Vec<ast::Ident> = insert
        .columns
        .iter()
        .map(|c| {
            c.0.last()
                .and_then(|part| part.as_ident())
                .cloned()
                .ok_or_else(|| EngineError::plan_at(format!("'{c}' is not a column name"), position(c.span())))
        })
        .collect::<Result<_>>()?;
    let shown = format!("{}.{}", table.database, table.name);
    let plan = binder(session).bind_insert_source(source, &shown, &insert_columns(&table), &columns)?;
    let plan = optimize(session, plan)?;
    let rows = match table.kind {
        TableKind::Local => local_table::insert_local(session, &table, &plan)?,
        TableKind::External => athena_ctas::insert_external(session, &table, &plan)?,
    };
    Ok(QueryOutput::Message(format!("INSERT 0 {rows}")))
}

/// `t` in the current database, or `db.t`: names as written (the catalog compares them
/// case-insensitively), lower-cased as the catalog stores them.
pub(crate) fn table_ref(session: &Session, name: &ObjectName) -> Result<(String, String)> {
    let parts: Vec<&ast::Ident> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .ok_or_else(|| EngineError::plan_at(format!("'{name}' is not a table name"), position(name.span())))
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [table] => Ok((session.current_database().to_lowercase(), table.value.to_lowercase())),
        [database, table] => Ok((database.value.to_lowercase(), table.value.to_lowercase())),
        _ => Err(EngineError::plan_at(
            format!("a table name has at most two parts: database.table, not '{name}'"),
            position(name.span()),
        )),
    }
}

pub(crate) fn binder(session: &Session) -> Binder<'_> {
    Binder::new(session.catalog(), session.current_database(), session.functions())
}

pub(crate) fn optimize(session: &Session, plan: LogicalPlan) -> Result<LogicalPlan> {
    session.settings().optimizer().optimize(plan, &OptimizerContext::new(session.functions().clone()))
}

/// A table's columns in `SELECT *` order with their engine types: what an INSERT must produce.
pub(crate) fn insert_columns(table: &Table) -> Vec<InsertColumn> {
    table.all_columns().map(|c| InsertColumn { name: c.name.clone(), data_type: c.data_type.to_arrow() }).collect()
}

/// The Arrow schema of a table's data files (partition keys live in folder names, not in files).
pub(crate) fn file_schema(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(|c| Field::new(c.name.clone(), c.data_type.to_arrow(), true)).collect::<Vec<_>>(),
    ))
}

/// Catalog columns for a query's output; every name must be distinct, as in a table.
pub(crate) fn columns_of(schema: &Schema) -> Result<Vec<Column>> {
    let mut columns: Vec<Column> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name().to_lowercase();
        if columns.iter().any(|c| c.name == name) {
            return Err(EngineError::plan(format!(
                "the SELECT has two columns named '{name}'; give one an alias (AS other_name)"
            )));
        }
        let data_type = match field.data_type() {
            arrow::datatypes::DataType::Null => SqlType::Varchar(None),
            arrow::datatypes::DataType::Interval(_) => {
                return Err(EngineError::plan(format!(
                    "column '{name}' is an INTERVAL: interval columns cannot be written; cast to VARCHAR or compute \
                     epoch seconds (EXTRACT(epoch FROM ...))"
                )))
            }
            other => SqlType::from_arrow(other)?,
        };
        columns.push(Column::new(name, data_type));
    }
    Ok(columns)
}

/// The SQL position where `span` starts, if known.
pub(crate) fn position(span: sqlparser::tokenizer::Span) -> Option<crate::error::SqlPosition> {
    (span.start.line > 0).then_some(crate::error::SqlPosition { line: span.start.line, column: span.start.column })
}

/// The qualified name users see in messages.
pub(crate) fn shown(database: &str, table: &str) -> String {
    format!("{database}.{table}")
}
