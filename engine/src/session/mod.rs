//! A user session: the catalog, current database and settings; runs SQL text end to end. Each
//! statement kind is executed by the submodule of its idea (`databases`, `tables`, `partitions`,
//! `show`, `query`); this module only dispatches.

mod databases;
mod external_table;
mod history;
mod hive_text;
mod names;
mod partitions;
mod query;
mod result;
mod settings;
mod show;
mod show_create;
mod tables;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use sqlparser::ast::{ObjectType, ShowCreateObject, Statement};
use tarn_catalog::store::DEFAULT_DATABASE;
use tarn_catalog::{Catalog, StoreRegistry};

use crate::error::{EngineError, Result};
use crate::exec::memory_limit::MemoryTracker;
use crate::exec::ExecContext;
use crate::expr::functions::FunctionRegistry;
use crate::io::metrics::ScanBudget;
use crate::io::runtime::io_runtime;
use crate::sql::{parse_statements, TarnStatement};

pub use settings::Settings;

/// Stack of the thread a statement runs on: enough for an expression of
/// [`crate::sql::parser::MAX_OPERATOR_CHAIN`] operators in a debug build (about 14 KiB a level
/// there). Only the pages a statement touches are committed.
pub const STATEMENT_STACK_BYTES: usize = 64 * 1024 * 1024;

/// What one statement returns: rows (queries, `SHOW`, `DESCRIBE`) or a status message (DDL).
#[derive(Debug)]
pub enum QueryOutput {
    Rows { schema: SchemaRef, batches: Vec<RecordBatch> },
    Message(String),
}

/// A connection to a Tarn home. Not `Sync`: one session runs one statement at a time; open one
/// session per thread or process (they share the home safely through the catalog's transactions).
pub struct Session {
    home: PathBuf,
    catalog: Arc<Catalog>,
    stores: Arc<StoreRegistry>,
    functions: Arc<FunctionRegistry>,
    database: String,
    settings: Settings,
    cancel: Arc<AtomicBool>,
}

impl Session {
    /// Opens (creating if needed) the catalog in `home`; the session starts in `default`.
    pub fn open(home: &Path) -> Result<Session> {
        let catalog = Arc::new(Catalog::open(home)?);
        // Best effort: files of killed writes (their process is gone) are garbage, never visible.
        crate::write::orphans::sweep_killed_writes(home, &catalog);
        Ok(Session {
            home: home.to_path_buf(),
            catalog,
            stores: Arc::new(StoreRegistry::new()),
            functions: Arc::new(FunctionRegistry::with_builtins()),
            database: DEFAULT_DATABASE.to_string(),
            settings: Settings::default(),
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs every statement of `sql` in order and returns their outputs, stopping at the first
    /// error. Error positions are relative to `sql` as a whole, so `EngineError::render(sql)`
    /// points at the right line of a script. Callers that must show the outputs of the statements
    /// before a failing one (a REPL, `tarn -f`) parse with [`crate::sql::parse_statements`] and
    /// call [`Session::execute_statement`] one statement at a time.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<QueryOutput>> {
        let statements = parse_statements(sql)?;
        statements.iter().map(|(statement, _)| self.execute_statement(statement)).collect()
    }

    /// Runs one parsed statement. Clears the cancel flag first, so a Ctrl-C that arrived between
    /// statements does not cancel the next one.
    /// The statement runs on a thread of its own with [`STATEMENT_STACK_BYTES`] of stack: binding,
    /// optimizing and planning recurse over expression and plan trees, and the caller's stack
    /// (2 MiB for a test thread) is too small for the deepest statements the parser admits.
    pub fn execute_statement(&mut self, statement: &TarnStatement) -> Result<QueryOutput> {
        self.cancel.store(false, Ordering::Relaxed);
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("tarn-statement".into())
                .stack_size(STATEMENT_STACK_BYTES)
                .spawn_scoped(scope, || self.dispatch(statement));
            match worker {
                Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(e) => Err(EngineError::execution(format!("cannot start the statement's thread: {e}"))),
            }
        })
    }

    fn dispatch(&mut self, statement: &TarnStatement) -> Result<QueryOutput> {
        match statement {
            TarnStatement::Sql(statement) => self.execute_sql(statement),
            TarnStatement::CreateDatabase(create) => databases::create_database(self, create),
            TarnStatement::CreateExternalTable(create) => match &create.query {
                Some(query) => crate::write::athena_ctas::create_external_table_as(self, create, query),
                None => tables::create_external_table(self, create),
            },
            TarnStatement::AddPartitions(add) => partitions::add_partitions(self, add),
            TarnStatement::DropPartitions(drop) => partitions::drop_partitions(self, drop),
            TarnStatement::ShowPartitions { table } => partitions::show_partitions(self, table),
            TarnStatement::ShowTableHistory { table } => history::show_table_history(self, table),
            TarnStatement::Copy(copy) => crate::write::copy(self, copy),
        }
    }

    fn execute_sql(&mut self, statement: &Statement) -> Result<QueryOutput> {
        match statement {
            Statement::Query(query) => query::run_query(self, query),
            Statement::Explain { statement, analyze, .. } => query::explain(self, statement, *analyze),
            Statement::ExplainTable { hive_format: Some(_), table_name, .. } => {
                history::describe_extended(self, table_name)
            }
            Statement::ExplainTable { table_name, .. } => show::describe(self, table_name),
            Statement::ShowDatabases { show_options, .. } | Statement::ShowSchemas { show_options, .. } => {
                show::show_databases(self, show_options)
            }
            Statement::ShowTables { show_options, .. } => show::show_tables(self, show_options),
            Statement::ShowCreate { obj_type: ShowCreateObject::Table, obj_name } => {
                show_create::show_create_table(self, obj_name)
            }
            Statement::Use(target) => databases::use_database(self, target),
            Statement::Drop { object_type: ObjectType::Table, if_exists, names, .. } => {
                tables::drop_tables(self, names, *if_exists)
            }
            Statement::Drop {
                object_type: ObjectType::Database | ObjectType::Schema,
                if_exists,
                names,
                cascade,
                ..
            } => databases::drop_databases(self, names, *if_exists, *cascade),
            Statement::Msck(msck) => partitions::repair_table(self, msck),
            Statement::Set(set) => settings::execute_set(self, set),
            Statement::CreateTable(create) => crate::write::create_table(self, create),
            Statement::Insert(insert) => crate::write::insert(self, insert),
            Statement::Delete(delete) => crate::write::delete(self, delete),
            Statement::Truncate(truncate) => crate::write::truncate(self, truncate),
            Statement::Unload { query, query_text, to, options, .. } => {
                crate::write::unload(self, query.as_deref(), query_text.as_deref(), &to.value, options)
            }
            other => Err(EngineError::Unsupported(format!(
                "not supported yet: {}",
                TarnStatement::Sql(Box::new(other.clone())).kind()
            ))),
        }
    }

    /// A flag that cancels the running statement when set (the REPL sets it on Ctrl-C).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub fn stores(&self) -> &Arc<StoreRegistry> {
        &self.stores
    }

    pub fn functions(&self) -> &Arc<FunctionRegistry> {
        &self.functions
    }

    /// The database unqualified table names resolve in (`USE db` changes it).
    pub fn current_database(&self) -> &str {
        &self.database
    }

    /// The home this session was opened on (catalog and warehouse).
    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What a running query shares, built from the current settings; its memory tracker and scan
    /// budget are fresh, so each query starts with nothing reserved and nothing scanned.
    pub fn exec_context(&self) -> ExecContext {
        ExecContext {
            catalog: self.catalog.clone(),
            stores: self.stores.clone(),
            io: io_runtime().handle().clone(),
            functions: self.functions.clone(),
            cancel: self.cancel.clone(),
            batch_size: self.settings.batch_size,
            memory: Arc::new(MemoryTracker::new(self.settings.memory_limit)),
            scan_budget: Arc::new(ScanBudget::new(self.settings.max_scan_bytes)),
        }
    }
}
