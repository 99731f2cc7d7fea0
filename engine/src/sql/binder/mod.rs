//! The binder: resolves a parsed query (sqlparser's AST) against the catalog and the function
//! registry into a typed [`LogicalPlan`]. Names are resolved once, here, so every later stage works
//! with column positions; every error names the token and its line and column.

mod aggregate;
mod coerce;
mod expr;
mod function;
mod grouping_sets;
mod insert;
mod interval;
mod join;
mod literal;
mod query;
mod scope;
mod select;
mod set_operations;
mod similar;
mod subquery;
#[cfg(test)]
pub(crate) mod tests;
mod window;

use std::cell::RefCell;

use sqlparser::ast;
use sqlparser::tokenizer::Span;
use tarn_catalog::Catalog;

use crate::error::{EngineError, Result, SqlPosition};
use crate::expr::functions::FunctionRegistry;
use crate::plan::{Expr, LogicalPlan};

pub(crate) use aggregate::try_map_children;
pub use insert::InsertColumn;
pub use join::{equi_key, join_schema, split_join_predicate};
pub use scope::{RelationName, Scope, ScopeColumn};
pub(crate) use subquery::has_subquery;

/// Binds queries of one session: the catalog to resolve tables in, the database unqualified names
/// resolve to, and the functions calls resolve to.
pub struct Binder<'a> {
    catalog: &'a Catalog,
    database: String,
    functions: &'a FunctionRegistry,
    /// The statement's clock, read once on first use so `GETDATE()` is one value per query.
    statement_start: std::cell::OnceCell<i64>,
    /// The scopes of the queries enclosing the subquery being bound, innermost last: where a
    /// name no column of the subquery has resolves as a correlated reference.
    outer_scopes: RefCell<Vec<Scope>>,
}

impl<'a> Binder<'a> {
    pub fn new(catalog: &'a Catalog, database: impl Into<String>, functions: &'a FunctionRegistry) -> Binder<'a> {
        Binder {
            catalog,
            database: database.into(),
            functions,
            statement_start: std::cell::OnceCell::new(),
            outer_scopes: RefCell::new(Vec::new()),
        }
    }

    /// UTC microseconds at the statement's start (the first clock function bound).
    pub(crate) fn statement_start_micros(&self) -> i64 {
        *self.statement_start.get_or_init(crate::expr::functions::clock::now_micros)
    }

    /// Binds a whole query (`WITH`, set operations, `ORDER BY`, `LIMIT`) into a logical plan.
    pub fn bind_query(&self, query: &ast::Query) -> Result<LogicalPlan> {
        self.bind_query_in(query, &query::CteScope::root())
    }

    /// Binds a scalar expression over `scope` (no aggregates allowed), e.g. a `WHERE` of a
    /// `DELETE` or the values of an `INSERT`.
    pub fn bind_scalar_expr(&self, expr: &ast::Expr, scope: &Scope) -> Result<Expr> {
        expr::ExprBinder::new(self, scope, "an expression").bind(expr)
    }
}

/// The start of a span as a position in the SQL text; `None` for the empty span sqlparser gives
/// nodes it has no tokens for.
pub(crate) fn position_of(span: Span) -> Option<SqlPosition> {
    (span.start.line > 0).then_some(SqlPosition { line: span.start.line, column: span.start.column })
}

/// A plan error pointing at the token that `span` covers.
pub(crate) fn plan_err(message: impl Into<String>, span: Span) -> EngineError {
    EngineError::plan_at(message, position_of(span))
}

/// An error for SQL Tarn parses but does not execute yet, pointing at its token.
pub(crate) fn not_supported(what: &str, span: Span) -> EngineError {
    plan_err(format!("{what} is not supported yet"), span)
}
