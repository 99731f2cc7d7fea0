//! `GROUP BY GROUPING SETS (...)`, `ROLLUP (...)`, `CUBE (...)` (also MySQL's `WITH ROLLUP`/`WITH
//! CUBE`) and `GROUPING(col, ...)`. A grouped query with several grouping sets is the `UNION ALL`
//! of one aggregate per set, each padding the keys it does not group by with NULLs, in the
//! `Aggregate` node's own output shape (every key, then every call), so the rest of the binder
//! treats it as one aggregate. `GROUPING()` is collected like an aggregate call and becomes, in each
//! branch, the constant bit mask of its arguments that branch rolls up (PostgreSQL: the first
//! argument is the most significant bit, 1 = not grouped).

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::Result;
use crate::plan::{AggregateExpr, Expr, LogicalPlan, ScalarValue};
use crate::sql::binder::aggregate::{aggregate_fields, aggregate_plan};
use crate::sql::binder::expr::ExprBinder;
use crate::sql::binder::scope::Scope;
use crate::sql::binder::{not_supported, plan_err};

/// The registry-independent name `GROUPING()` calls carry among the collected aggregate calls.
pub(crate) const GROUPING: &str = "grouping";

/// Bound `GROUP BY` keys and, with `GROUPING SETS`/`ROLLUP`/`CUBE`, the sets as positions into them.
pub(crate) struct GroupBy {
    pub keys: Vec<Expr>,
    pub sets: Option<Vec<Vec<usize>>>,
}

/// One `GROUP BY` element's grouping sets, each a list of AST expressions.
fn element_sets(key: &ast::Expr) -> Option<Vec<Vec<&ast::Expr>>> {
    fn collect(sets: &[Vec<ast::Expr>]) -> Vec<Vec<&ast::Expr>> {
        sets.iter().map(|s| s.iter().collect()).collect()
    }
    match key {
        ast::Expr::GroupingSets(sets) => Some(collect(sets)),
        ast::Expr::Rollup(elements) => Some(rollup(&collect(elements))),
        ast::Expr::Cube(elements) => Some(cube(&collect(elements))),
        _ => None,
    }
}

/// `ROLLUP (a, b)`: every prefix of `elements`, longest first: `(a, b), (a), ()`.
fn rollup<T: Clone>(elements: &[Vec<T>]) -> Vec<Vec<T>> {
    (0..=elements.len()).rev().map(|n| elements[..n].concat()).collect()
}

/// `CUBE (a, b)`: every subset of `elements`, largest first (DuckDB's and PostgreSQL's order).
fn cube<T: Clone>(elements: &[Vec<T>]) -> Vec<Vec<T>> {
    let n = elements.len();
    let mut masks: Vec<u32> = (0..(1u32 << n)).collect();
    masks.sort_by_key(|m| std::cmp::Reverse(m.count_ones()));
    masks
        .into_iter()
        .map(|mask| (0..n).filter(|i| mask & (1 << (n - 1 - i)) != 0).flat_map(|i| elements[i].clone()).collect())
        .collect()
}

/// Resolves the `GROUP BY` clause: `bind_key` binds one key (names, aliases, ordinals) and the
/// result keeps each distinct key once; several elements' sets combine as a cross product.
pub(crate) fn bind_grouping(
    keys: &[ast::Expr],
    modifiers: &[ast::GroupByWithModifier],
    bind_key: &dyn Fn(&ast::Expr) -> Result<Expr>,
) -> Result<GroupBy> {
    let mut bound: Vec<Expr> = Vec::new();
    let mut position = |e: &ast::Expr| -> Result<usize> {
        let key = bind_key(e)?;
        Ok(match bound.iter().position(|b| *b == key) {
            Some(p) => p,
            None => {
                bound.push(key);
                bound.len() - 1
            }
        })
    };
    let mut sets: Vec<Vec<usize>> = vec![Vec::new()];
    let mut grouping = false;
    for key in keys {
        let element: Vec<Vec<usize>> = match element_sets(key) {
            Some(element) => {
                grouping = true;
                element.into_iter().map(|set| set.into_iter().map(&mut position).collect()).collect::<Result<_>>()?
            }
            None => vec![vec![position(key)?]],
        };
        sets = sets.iter().flat_map(|s| element.iter().map(move |e| [s.clone(), e.clone()].concat())).collect();
    }
    for modifier in modifiers {
        let elements: Vec<Vec<usize>> = (0..bound.len()).map(|i| vec![i]).collect();
        grouping = true;
        sets = match modifier {
            ast::GroupByWithModifier::Rollup => rollup(&elements),
            ast::GroupByWithModifier::Cube => cube(&elements),
            other => return Err(not_supported(&format!("GROUP BY ... {other}"), span_of(keys))),
        };
    }
    for set in &mut sets {
        let mut seen = Vec::new();
        set.retain(|p| {
            let first = !seen.contains(p);
            seen.push(*p);
            first
        });
    }
    Ok(GroupBy { keys: bound, sets: grouping.then_some(sets) })
}

fn span_of(keys: &[ast::Expr]) -> Span {
    keys.first().map(|k| k.span()).unwrap_or(Span::empty())
}

impl ExprBinder<'_, '_> {
    /// `GROUPING(a, b)`: collected with the aggregate calls (its arguments must be group keys,
    /// checked when the aggregate is planned).
    pub(crate) fn grouping_call(&self, args: &[&ast::Expr], span: Span) -> Result<Expr> {
        let Some(collector) = self.aggregates else {
            return Err(plan_err(format!("GROUPING is not allowed in {}", self.clause), span));
        };
        if args.is_empty() {
            return Err(plan_err("GROUPING needs at least one argument", span));
        }
        let inner = ExprBinder::new(self.binder, self.scope, "GROUPING");
        let args = args.iter().map(|a| inner.bind(a)).collect::<Result<Vec<_>>>()?;
        let call = AggregateExpr {
            name: GROUPING.to_string(),
            args,
            distinct: false,
            filter: None,
            return_type: DataType::Int32,
        };
        let mut collector = collector.borrow_mut();
        let index = match collector.calls.iter().position(|c| *c == call) {
            Some(i) => i,
            None => {
                collector.calls.push(call);
                collector.calls.len() - 1
            }
        };
        Ok(Expr::Column(self.scope.len() + index))
    }
}

/// The grouped input: a plain `Aggregate` when there is one set and no `GROUPING()`, else the
/// union of one aggregate per set in the `Aggregate` output shape.
pub(crate) fn grouping_plan(
    input: LogicalPlan,
    scope: &Scope,
    group_by: GroupBy,
    calls: Vec<AggregateExpr>,
) -> Result<LogicalPlan> {
    let GroupBy { keys, sets } = group_by;
    if sets.is_none() && calls.iter().all(|c| c.name != GROUPING) {
        return Ok(aggregate_plan(input, scope, keys, calls));
    }
    let sets = sets.unwrap_or_else(|| vec![(0..keys.len()).collect()]);
    for call in calls.iter().filter(|c| c.name == GROUPING) {
        if let Some(arg) = call.args.iter().find(|a| !keys.contains(a)) {
            return Err(plan_err(
                format!("arguments to GROUPING must be grouping expressions of the query, not `{arg}`"),
                Span::empty(),
            ));
        }
    }
    // The output shape: every key (nullable), then every call, as one `Aggregate` would have it.
    let fields = aggregate_fields(&input.schema(), scope, &keys, &calls);
    let schema = Arc::new(Schema::new(fields));
    let aggregates: Vec<AggregateExpr> = calls.iter().filter(|c| c.name != GROUPING).cloned().collect();
    let mut branches = Vec::with_capacity(sets.len());
    for set in &sets {
        let group_by: Vec<Expr> = set.iter().map(|p| keys[*p].clone()).collect();
        let aggregate = aggregate_plan(input.clone(), scope, group_by, aggregates.clone());
        let mut exprs = Vec::with_capacity(schema.fields().len());
        for (k, field) in keys.iter().zip(schema.fields()) {
            exprs.push(match set.iter().position(|p| keys[*p] == *k) {
                Some(i) => Expr::Column(i),
                None => Expr::Literal(ScalarValue::null_of(field.data_type())?),
            });
        }
        let mut next_aggregate = set.len();
        for call in &calls {
            exprs.push(if call.name == GROUPING {
                let bits = call.args.iter().fold(0i32, |acc, a| {
                    let grouped = set.iter().any(|p| keys[*p] == *a);
                    (acc << 1) | i32::from(!grouped)
                });
                Expr::Literal(ScalarValue::Int32(Some(bits)))
            } else {
                next_aggregate += 1;
                Expr::Column(next_aggregate - 1)
            });
        }
        branches.push(LogicalPlan::Project { input: Box::new(aggregate), exprs, schema: schema.clone() });
    }
    Ok(match branches.len() {
        // Invariant: `bind_grouping` always yields at least one set.
        1 => branches.pop().expect("one branch"),
        _ => LogicalPlan::Union { inputs: branches, schema },
    })
}
