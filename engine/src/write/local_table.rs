//! Local (managed) tables, the dimension tables Redshift Spectrum joins with lake facts: stored
//! by Tarn as Parquet files under `$TARN_HOME/warehouse/<db>/<table>/`, the live files listed in
//! the catalog. Every change writes new files under unique names and commits a new file list in
//! one transaction, so readers see the table before or after a statement, never in between.
//!
//! Files a change replaces (DELETE, TRUNCATE) or a dropped table's folder are deleted after the
//! commit. A query already reading them in another process may then fail; it is never shown a
//! mix of old and new rows.

use std::path::Path;
use std::sync::Arc;

use sqlparser::ast::{self, Spanned};
use tarn_catalog::{CatalogError, DataFile, DataFormat, Location, Parameters, StorageDescriptor, Table, TableKind};

use crate::error::{EngineError, Result};
use crate::exec::{ExecContext, Source};
use crate::io::parquet_writer::ParquetCompression;
use crate::plan::{BinaryOp, Expr, LogicalPlan, TableScan};
use crate::session::{QueryOutput, Session};
use crate::sql::binder::{RelationName, Scope, ScopeColumn};
use crate::write::run::{publish_and_commit, write_plan, write_source};
use crate::write::sink::{FileFormatSpec, WriteSpec};
use crate::write::staging::{store_for, Placement, WriteTarget, WrittenFile};
use crate::write::{binder, columns_of, file_schema, optimize, position, shown, table_ref, DEFAULT_TARGET_FILE_SIZE};

/// The folder of the warehouse inside a Tarn home.
pub const WAREHOUSE_DIR: &str = "warehouse";

/// Where a local table's files live: `$TARN_HOME/warehouse/<db>/<table>/`.
pub fn warehouse_location(home: &Path, database: &str, table: &str) -> Result<Location> {
    let dir = home.join(WAREHOUSE_DIR).join(database.to_lowercase()).join(table.to_lowercase());
    Ok(Location::parse(&format!("{}/", dir.display()))?.as_dir())
}

/// `CREATE TABLE t (col type, ...)`.
pub(crate) fn create_local_table(session: &Session, create: &ast::CreateTable) -> Result<QueryOutput> {
    if create.columns.is_empty() {
        return Err(EngineError::plan_at("CREATE TABLE needs at least one column", position(create.name.span())));
    }
    let mut columns = Vec::with_capacity(create.columns.len());
    for def in &create.columns {
        let name = def.name.value.to_lowercase();
        if columns.iter().any(|c: &tarn_catalog::Column| c.name == name) {
            return Err(EngineError::plan_at(format!("column '{name}' is declared twice"), position(def.name.span)));
        }
        let data_type = tarn_catalog::SqlType::parse(&def.data_type.to_string()).map_err(|_| {
            EngineError::plan_at(
                format!("column '{name}': type '{}' is not supported", def.data_type),
                position(def.name.span),
            )
        })?;
        columns.push(tarn_catalog::Column::new(name, data_type));
    }
    let (database, name) = table_ref(session, &create.name)?;
    let table = new_local_table(session, &database, &name, columns)?;
    let created = session.catalog().create_table(&table, create.if_not_exists)?;
    Ok(QueryOutput::Message(if created {
        format!("table '{}' created", shown(&database, &name))
    } else {
        format!("table '{}' already exists; nothing done", shown(&database, &name))
    }))
}

/// `CREATE TABLE t AS SELECT ...` (Redshift CTAS): the table and its first files in one commit.
pub(crate) fn create_local_table_as(
    session: &Session,
    create: &ast::CreateTable,
    query: &ast::Query,
) -> Result<QueryOutput> {
    let (database, name) = table_ref(session, &create.name)?;
    if session.catalog().table_exists(&database, &name)? {
        if create.if_not_exists {
            return Ok(QueryOutput::Message(format!(
                "table '{}' already exists; nothing done",
                shown(&database, &name)
            )));
        }
        return Err(CatalogError::TableExists { database, name }.into());
    }
    session.catalog().get_database(&database)?;
    let plan = optimize(session, binder(session).bind_query(query)?)?;
    let mut columns = columns_of(&plan.schema())?;
    if !create.columns.is_empty() {
        // `CREATE TABLE t (a, b) AS SELECT ...` renames the query's columns.
        if create.columns.len() != columns.len() {
            return Err(EngineError::plan_at(
                format!(
                    "CREATE TABLE names {} column(s) but the SELECT returns {}",
                    create.columns.len(),
                    columns.len()
                ),
                position(create.name.span()),
            ));
        }
        for (column, def) in columns.iter_mut().zip(&create.columns) {
            column.name = def.name.value.to_lowercase();
        }
    }
    let table = new_local_table(session, &database, &name, columns)?;
    let ctx = session.exec_context();
    let target = local_target(&ctx, &table)?;
    let files = write_plan(&plan, local_spec(&table, target.clone()), &ctx)?;
    let rows: u64 = files.iter().map(|f| f.row_count).sum();
    let data_files = data_files(&target, &files);
    publish_and_commit(&target, &files, |_| {
        session.catalog().write(|tx| {
            tx.create_table(&table, false)?;
            tx.add_table_files(&database, &name, &data_files)
        })?;
        Ok(())
    })?;
    Ok(QueryOutput::Message(format!("SELECT {rows}")))
}

/// Appends the rows of `plan` (already in the table's column order and types) to a local table.
pub(crate) fn insert_local(session: &Session, table: &Table, plan: &LogicalPlan) -> Result<u64> {
    let ctx = session.exec_context();
    let target = local_target(&ctx, table)?;
    let files = write_plan(plan, local_spec(table, target.clone()), &ctx)?;
    let rows = files.iter().map(|f| f.row_count).sum();
    let data_files = data_files(&target, &files);
    publish_and_commit(&target, &files, |_| {
        Ok(session.catalog().add_table_files(&table.database, &table.name, &data_files)?)
    })?;
    Ok(rows)
}

/// Appends every row of `source` (in the table's data column order and types) to a local table
/// (COPY, `sys.load_errors`).
pub(crate) fn append_source(session: &Session, table: &Table, source: Arc<dyn Source>) -> Result<u64> {
    let ctx = session.exec_context();
    let target = local_target(&ctx, table)?;
    let files = write_source(source, local_spec(table, target.clone()), &ctx)?;
    let rows = files.iter().map(|f| f.row_count).sum();
    let data_files = data_files(&target, &files);
    publish_and_commit(&target, &files, |_| {
        Ok(session.catalog().add_table_files(&table.database, &table.name, &data_files)?)
    })?;
    Ok(rows)
}

/// `DELETE FROM t [WHERE cond]`: the rows that survive are rewritten into new files, and the new
/// file list replaces the old one in one transaction (only if no other write committed files to
/// the table meanwhile; then the statement fails and can be retried).
pub fn delete(session: &Session, delete: &ast::Delete) -> Result<QueryOutput> {
    let tables = match &delete.from {
        ast::FromTable::WithFromKeyword(tables) | ast::FromTable::WithoutKeyword(tables) => tables,
    };
    let [from] = tables.as_slice() else {
        return Err(EngineError::plan("DELETE works on exactly one table"));
    };
    let ast::TableFactor::Table { name, alias, .. } = &from.relation else {
        return Err(EngineError::plan("DELETE works on a table"));
    };
    if !from.joins.is_empty() || delete.using.is_some() || delete.returning.is_some() || delete.limit.is_some() {
        return Err(EngineError::plan_at(
            "DELETE supports FROM t [WHERE ...]; USING, joins, RETURNING and LIMIT are not supported",
            position(name.span()),
        ));
    }
    let table = local_table_named(session, name, "DELETE")?;
    let old_files = session.catalog().list_table_files(&table.database, &table.name)?;
    let deleted_all = delete.selection.is_none();
    let plan = match &delete.selection {
        None => None,
        Some(condition) => {
            let relation = alias.as_ref().map(|a| a.name.value.clone()).unwrap_or_else(|| table.name.clone());
            Some(survivors_plan(session, &table, &relation, condition)?)
        }
    };
    let before: u64 = old_files.iter().map(|f| f.row_count).sum();
    let ctx = session.exec_context();
    let target = local_target(&ctx, &table)?;
    let files = match &plan {
        Some(plan) => write_plan(plan, local_spec(&table, target.clone()), &ctx)?,
        None => Vec::new(),
    };
    let kept: u64 = files.iter().map(|f| f.row_count).sum();
    let new_files = data_files(&target, &files);
    publish_and_commit(&target, &files, |_| replace_files_if_unchanged(session, &table, &old_files, &new_files))?;
    remove_files(&ctx, &old_files);
    let deleted = if deleted_all { before } else { before.saturating_sub(kept) };
    Ok(QueryOutput::Message(format!("DELETE {deleted}")))
}

/// `TRUNCATE [TABLE] t [, ...]`: empties local tables (one commit each).
pub fn truncate(session: &Session, truncate: &ast::Truncate) -> Result<QueryOutput> {
    let ctx = session.exec_context();
    for target in &truncate.table_names {
        let table = local_table_named(session, &target.name, "TRUNCATE")?;
        let old_files = session.catalog().list_table_files(&table.database, &table.name)?;
        replace_files_if_unchanged(session, &table, &old_files, &[])?;
        remove_files(&ctx, &old_files);
    }
    Ok(QueryOutput::Message("TRUNCATE".to_string()))
}

/// Deletes a dropped local table's folder (after its catalog entry is gone). Only folders inside
/// this home's warehouse are touched: a table's location is never someone else's data.
pub fn remove_local_data(session: &Session, table: &Table) -> Result<()> {
    if table.kind != TableKind::Local {
        return Ok(());
    }
    let expected = warehouse_location(session.home(), &table.database, &table.name)?;
    let location = Location::parse(&table.storage.location)?.as_dir();
    if location != expected || location.is_s3() {
        return Ok(());
    }
    let dir = format!("/{}", location.object_path().as_ref());
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::Storage { location: location.as_url_str(), message: e.to_string() }),
    }
}

/// A new local table's definition (not yet in the catalog).
pub(crate) fn new_local_table(
    session: &Session,
    database: &str,
    name: &str,
    columns: Vec<tarn_catalog::Column>,
) -> Result<Table> {
    let location = warehouse_location(session.home(), database, name)?;
    let parameters: Parameters = [("classification".to_string(), "parquet".to_string())].into_iter().collect();
    Ok(Table {
        database: database.to_string(),
        name: name.to_string(),
        kind: TableKind::Local,
        storage: StorageDescriptor {
            columns,
            location: location.as_url_str(),
            format: DataFormat::Parquet,
            serde_parameters: Parameters::new(),
        },
        partition_keys: Vec::new(),
        parameters,
        created_at: 0,
        updated_at: 0,
        version: 0,
    })
}

/// The table `name` refers to, which must be local for `statement` to change it.
fn local_table_named(session: &Session, name: &ast::ObjectName, statement: &str) -> Result<Table> {
    let (database, table_name) = table_ref(session, name)?;
    let table = session.catalog().get_table(&database, &table_name)?;
    if table.kind != TableKind::Local {
        return Err(EngineError::plan_at(
            format!(
                "{statement} works on local tables only; '{}' is an external table whose files belong to the lake",
                shown(&table.database, &table.name)
            ),
            position(name.span()),
        ));
    }
    Ok(table)
}

/// The rows of `table` for which `condition` is not true (false or NULL), in table order.
fn survivors_plan(session: &Session, table: &Table, relation: &str, condition: &ast::Expr) -> Result<LogicalPlan> {
    let fields: Vec<arrow::datatypes::Field> = table
        .all_columns()
        .map(|c| arrow::datatypes::Field::new(c.name.clone(), c.data_type.to_arrow(), true))
        .collect();
    let table_schema = Arc::new(arrow::datatypes::Schema::new(fields));
    let scope = Scope {
        columns: table_schema
            .fields()
            .iter()
            .map(|f| ScopeColumn {
                relation: Some(RelationName { database: Some(table.database.clone()), name: relation.to_string() }),
                name: f.name().clone(),
                data_type: f.data_type().clone(),
                nullable: true,
                using_duplicate: false,
            })
            .collect(),
    };
    let predicate = binder(session).bind_scalar_expr(condition, &scope)?;
    let keep = Expr::binary(
        Expr::Not(Box::new(predicate.clone())),
        BinaryOp::Or,
        Expr::IsNull { expr: Box::new(predicate), negated: false },
    );
    let scan = TableScan {
        table: Arc::new(table.clone()),
        projection: (0..table_schema.fields().len()).collect(),
        schema: table_schema.clone(),
        table_schema,
        filters: Vec::new(),
        partitions: Vec::new(),
        partitions_pruned: 0,
        statistics: Default::default(),
    };
    optimize(session, LogicalPlan::Filter { input: Box::new(LogicalPlan::Scan(scan)), predicate: keep })
}

/// Commits `new_files` as the table's whole file list, unless its list is no longer `old_files`.
fn replace_files_if_unchanged(
    session: &Session,
    table: &Table,
    old_files: &[DataFile],
    new_files: &[DataFile],
) -> Result<()> {
    let replaced = session.catalog().write(|tx| {
        if tx.list_table_files(&table.database, &table.name)? != old_files {
            return Ok(false);
        }
        tx.replace_table_files(&table.database, &table.name, new_files)?;
        Ok(true)
    })?;
    if replaced {
        Ok(())
    } else {
        Err(EngineError::execution(format!(
            "table '{}' changed while this statement ran (another write committed first); nothing was changed, \
             run it again",
            shown(&table.database, &table.name)
        )))
    }
}

/// Deletes files no longer listed (best effort: an undeleted file is garbage, never visible).
fn remove_files(ctx: &ExecContext, files: &[DataFile]) {
    for file in files {
        let Ok(location) = Location::parse(&file.path) else { continue };
        let Ok(store) = store_for(&ctx.stores, &location, &ctx.io) else { continue };
        let path = location.object_path();
        let _ = crate::io::runtime::block_on_io(&ctx.io, async move {
            use object_store::ObjectStoreExt;
            let _ = store.delete(&path).await;
        });
    }
}

fn local_target(ctx: &ExecContext, table: &Table) -> Result<WriteTarget> {
    let root = Location::parse(&table.storage.location)?;
    WriteTarget::new(&root, Placement::Direct, &ctx.stores, &ctx.io)
}

fn local_spec(table: &Table, target: WriteTarget) -> WriteSpec {
    let columns = &table.storage.columns;
    WriteSpec {
        target,
        format: FileFormatSpec::Parquet(ParquetCompression::Snappy.into()),
        file_schema: file_schema(columns),
        data_columns: (0..columns.len()).collect(),
        partition_columns: Vec::new(),
        partition_keys: Vec::new(),
        target_file_size: DEFAULT_TARGET_FILE_SIZE,
    }
}

fn data_files(target: &WriteTarget, files: &[WrittenFile]) -> Vec<DataFile> {
    files
        .iter()
        .map(|f| DataFile {
            path: target.final_location(&f.relative).as_url_str(),
            size_bytes: f.size_bytes,
            row_count: f.row_count,
        })
        .collect()
}
