//! Subqueries in expressions: scalar `(SELECT ...)`, `[NOT] EXISTS`, `x [NOT] IN (SELECT ...)`.
//! A subquery is bound with the enclosing query's columns as its outer scope, so a name it cannot
//! resolve itself may be a correlated reference (`Expr::OuterColumn`). The result is an
//! `Expr::Subquery` that the `decorrelation` optimizer rule turns into a join.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast;
use sqlparser::tokenizer::Span;

use crate::error::Result;
use crate::optimizer::tree::{map_expressions, transform_up};
use crate::plan::types::comparison_type;
use crate::plan::{Expr, LogicalPlan, Subquery, SubqueryKind};
use crate::sql::binder::coerce::cast_to;
use crate::sql::binder::expr::ExprBinder;
use crate::sql::binder::query::CteScope;
use crate::sql::binder::{not_supported, plan_err};

impl ExprBinder<'_, '_> {
    /// `(SELECT x ...)` as a value: exactly one column.
    pub(crate) fn scalar_subquery(&self, query: &ast::Query, span: Span) -> Result<Expr> {
        let plan = self.subquery_plan(query)?;
        one_column(&plan, span)?;
        Ok(Expr::Subquery(Box::new(Subquery { plan, kind: SubqueryKind::Scalar })))
    }

    pub(crate) fn exists(&self, query: &ast::Query, negated: bool) -> Result<Expr> {
        let plan = self.subquery_plan(query)?;
        Ok(Expr::Subquery(Box::new(Subquery { plan, kind: SubqueryKind::Exists { negated } })))
    }

    /// `e [NOT] IN (SELECT x ...)`: both sides cast to their comparison type.
    pub(crate) fn in_subquery(&self, e: &ast::Expr, query: &ast::Query, negated: bool, span: Span) -> Result<Expr> {
        let (value, vt) = self.bind_typed(e)?;
        let plan = self.subquery_plan(query)?;
        let st = one_column(&plan, span)?;
        let ty = comparison_type(&vt, &st)
            .ok_or_else(|| plan_err(format!("IN cannot compare {vt} with the subquery's {st}"), span))?;
        let plan = if st == ty {
            plan
        } else {
            let name = plan.schema().field(0).name().clone();
            let schema = Arc::new(Schema::new(vec![Field::new(name, ty.clone(), true)]));
            LogicalPlan::Project { input: Box::new(plan), exprs: vec![cast_to(Expr::Column(0), &st, &ty)], schema }
        };
        let kind = SubqueryKind::In { expr: Box::new(cast_to(value, &vt, &ty)), negated };
        Ok(Expr::Subquery(Box::new(Subquery { plan, kind })))
    }

    /// Binds `query` with this binder's scope as the innermost outer scope.
    fn subquery_plan(&self, query: &ast::Query) -> Result<LogicalPlan> {
        self.binder.outer_scopes.borrow_mut().push(self.scope.clone());
        let root = CteScope::root();
        let plan = self.binder.bind_query_in(query, self.ctes.unwrap_or(&root));
        self.binder.outer_scopes.borrow_mut().pop();
        plan
    }

    /// A name no column of this scope has, resolved in the enclosing query's scope; `None` when
    /// this binder is not inside a subquery or the outer scope has no such column either.
    pub(crate) fn outer_column(&self, parts: &[ast::Ident]) -> Option<Result<Expr>> {
        let outer = self.binder.outer_scopes.borrow();
        let span = parts[0].span.union(&parts[parts.len() - 1].span);
        for (depth, scope) in outer.iter().rev().enumerate() {
            if !scope.has_column(parts) {
                continue;
            }
            if depth > 0 {
                return Some(Err(not_supported("a reference to a query more than one level out", span)));
            }
            return Some(
                scope
                    .resolve(parts)
                    .map(|index| Expr::OuterColumn { index, data_type: scope.columns[index].data_type.clone() }),
            );
        }
        None
    }
}

/// The type of the single column of a subquery used as a value.
fn one_column(plan: &LogicalPlan, span: Span) -> Result<DataType> {
    let schema = plan.schema();
    match schema.fields().len() {
        1 => Ok(schema.field(0).data_type().clone()),
        n => Err(plan_err(format!("subquery must return only one column, not {n}"), span)),
    }
}

/// `plan` (a subquery's) with its correlated references (`OuterColumn`) renumbered through `map`,
/// for when the enclosing query's columns move (onto a grouped query's output).
pub(crate) fn remap_outer_columns(
    plan: LogicalPlan,
    map: &mut dyn FnMut(usize) -> Result<usize>,
) -> Result<LogicalPlan> {
    transform_up(plan, &mut |node| {
        map_expressions(node, &mut |e| {
            let mut failure = None;
            let out = e.transform(&mut |x| match x {
                Expr::OuterColumn { index, data_type } => match map(index) {
                    Ok(index) => Expr::OuterColumn { index, data_type },
                    Err(err) => {
                        failure = Some(err);
                        Expr::OuterColumn { index, data_type }
                    }
                },
                other => other,
            });
            failure.map_or(Ok(out), Err)
        })
    })
}

/// Whether `expr` holds a subquery anywhere.
pub(crate) fn has_subquery(expr: &Expr) -> bool {
    matches!(expr, Expr::Subquery(_)) || expr.children().into_iter().any(has_subquery)
}
