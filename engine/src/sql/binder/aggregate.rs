//! Grouped queries: the `Aggregate` node and the rewrite of `SELECT`/`HAVING`/`ORDER BY`
//! expressions from the extended input (input columns, then collected aggregate calls) onto its
//! output (group values, then aggregates). A bare input column that is not grouped is the classic
//! "must appear in GROUP BY" error, pointed at the column's token.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema};
use sqlparser::tokenizer::Span;

use crate::error::{EngineError, Result};
use crate::plan::{AggregateExpr, Expr, LogicalPlan, Subquery, SubqueryKind};
use crate::sql::binder::expr::AggregateCollector;
use crate::sql::binder::plan_err;
use crate::sql::binder::scope::Scope;
use crate::sql::binder::subquery::remap_outer_columns;

/// The `Aggregate` node over `input`: group columns keep their input names when they are plain
/// columns; aggregates are named after their function.
/// The output fields of an aggregate: every group key (named after its column, or `group_N`), then
/// every call, all nullable (grouping sets null out keys).
pub(crate) fn aggregate_fields(input: &Schema, scope: &Scope, keys: &[Expr], calls: &[AggregateExpr]) -> Vec<Field> {
    let mut fields: Vec<Field> = keys
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let name = match g {
                Expr::Column(c) => scope.columns[*c].name.clone(),
                _ => format!("group_{}", i + 1),
            };
            Field::new(name, g.data_type(input), true)
        })
        .collect();
    fields.extend(calls.iter().map(|c| Field::new(c.name.clone(), c.return_type.clone(), true)));
    fields
}

pub(crate) fn aggregate_plan(
    input: LogicalPlan,
    scope: &Scope,
    group_by: Vec<Expr>,
    calls: Vec<AggregateExpr>,
) -> LogicalPlan {
    let fields = aggregate_fields(&input.schema(), scope, &group_by, &calls);
    LogicalPlan::Aggregate {
        input: Box::new(input),
        group_by,
        aggregates: calls,
        schema: Arc::new(Schema::new(fields)),
    }
}

/// Rewrites `expr`, bound over the extended input, onto the aggregate's output.
pub(crate) fn onto_aggregate(
    expr: Expr,
    group_by: &[Expr],
    scope: &Scope,
    collector: &AggregateCollector,
) -> Result<Expr> {
    if let Some(i) = group_by.iter().position(|g| *g == expr) {
        return Ok(Expr::Column(i));
    }
    match expr {
        Expr::Column(c) if c >= scope.len() => Ok(Expr::Column(group_by.len() + c - scope.len())),
        Expr::Column(c) => Err(not_grouped(c, scope, collector)),
        Expr::Subquery(sub) => {
            // The subquery reads the grouped row: its correlated references must be group keys.
            let Subquery { plan, kind } = *sub;
            let kind = match kind {
                SubqueryKind::In { expr, negated } => {
                    SubqueryKind::In { expr: Box::new(onto_aggregate(*expr, group_by, scope, collector)?), negated }
                }
                other => other,
            };
            let plan = remap_outer_columns(plan, &mut |c| {
                group_by.iter().position(|g| *g == Expr::Column(c)).ok_or_else(|| not_grouped(c, scope, collector))
            })?;
            Ok(Expr::Subquery(Box::new(Subquery { plan, kind })))
        }
        other => try_map_children(other, &mut |child| onto_aggregate(child, group_by, scope, collector)),
    }
}

fn not_grouped(column: usize, scope: &Scope, collector: &AggregateCollector) -> EngineError {
    let span = collector.column_spans.iter().find(|(i, _)| *i == column).map(|(_, s)| *s).unwrap_or(Span::empty());
    plan_err(
        format!(
            "column '{}' must appear in the GROUP BY clause or be used in an aggregate function",
            scope.columns[column].name
        ),
        span,
    )
}

/// Rebuilds `expr` with `f` applied to each direct child (for top-down rewrites, which
/// `Expr::transform` — bottom-up — cannot express).
pub(crate) fn try_map_children(expr: Expr, f: &mut dyn FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
    let mut map = |e: Box<Expr>| f(*e).map(Box::new);
    Ok(match expr {
        Expr::Column(_) | Expr::Literal(_) | Expr::OuterColumn { .. } => expr,
        Expr::Subquery(mut sub) => {
            if let SubqueryKind::In { expr, negated } = sub.kind {
                sub.kind = SubqueryKind::In { expr: map(expr)?, negated };
            }
            Expr::Subquery(sub)
        }
        Expr::Binary { op, left, right } => Expr::Binary { op, left: map(left)?, right: map(right)? },
        Expr::Not(e) => Expr::Not(map(e)?),
        Expr::Negative(e) => Expr::Negative(map(e)?),
        Expr::IsNull { expr, negated } => Expr::IsNull { expr: map(expr)?, negated },
        Expr::Cast { expr, to, try_cast } => Expr::Cast { expr: map(expr)?, to, try_cast },
        Expr::Case { operand, branches, else_expr } => Expr::Case {
            operand: operand.map(&mut map).transpose()?,
            branches: branches
                .into_iter()
                .map(|(w, t)| Ok((*map(Box::new(w))?, *map(Box::new(t))?)))
                .collect::<Result<_>>()?,
            else_expr: else_expr.map(&mut map).transpose()?,
        },
        Expr::InList { expr, list, negated } => Expr::InList {
            expr: map(expr)?,
            list: list.into_iter().map(|e| map(Box::new(e)).map(|b| *b)).collect::<Result<_>>()?,
            negated,
        },
        Expr::Like { expr, pattern, negated, case_insensitive } => {
            Expr::Like { expr: map(expr)?, pattern: map(pattern)?, negated, case_insensitive }
        }
        Expr::Function { name, args, return_type } => Expr::Function {
            name,
            args: args.into_iter().map(|e| map(Box::new(e)).map(|b| *b)).collect::<Result<_>>()?,
            return_type,
        },
    })
}
