//! Common subexpression elimination: a non-trivial expression repeated within one `Project`'s
//! expressions or one `Aggregate`'s arguments is computed once, by a `Project` inserted below
//! that node, and the repeats read its column. TPC-H Q1 computes `l_extendedprice * (1 -
//! l_discount)` in two aggregate arguments (`sum(disc_price)` and `sum(disc_price * (1 +
//! l_tax))`); after this rule, once per row. `EXPLAIN` shows the added `Project` and its
//! `__common_N` columns.
//!
//! Conservative by construction: only expressions built from columns, literals, arithmetic,
//! negation and casts are shared, and only where they are evaluated unconditionally for every
//! input row. The walk does not enter `CASE`, `AND`/`OR`, function calls (volatile functions such
//! as `random()`, conditional ones such as `coalesce`) or subqueries, nor the arguments of an
//! aggregate with a `FILTER` (evaluated only for the rows it keeps), so a division guarded by a
//! `CASE` or a filter never moves where it could fail on rows that were never evaluating it.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema};

use crate::error::Result;
use crate::optimizer::tree::transform_up;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{BinaryOp, Expr, LogicalPlan};

pub struct CommonSubexpressions;

impl Rule for CommonSubexpressions {
    fn name(&self) -> &str {
        "common_subexpressions"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        transform_up(plan, &mut |node| Ok(eliminate(node)))
    }
}

/// `node` with its repeated subexpressions computed once below it, or unchanged.
fn eliminate(node: LogicalPlan) -> LogicalPlan {
    match node {
        LogicalPlan::Project { input, mut exprs, schema } => {
            let input = share(*input, exprs.iter_mut().collect());
            LogicalPlan::Project { input: Box::new(input), exprs, schema }
        }
        LogicalPlan::Aggregate { input, group_by, mut aggregates, schema } => {
            let args = aggregates.iter_mut().filter(|a| a.filter.is_none()).flat_map(|a| a.args.iter_mut()).collect();
            let input = share(*input, args);
            LogicalPlan::Aggregate { input: Box::new(input), group_by, aggregates, schema }
        }
        other => other,
    }
}

/// Finds the subexpressions of `exprs` occurring more than once, rewrites their occurrences to
/// columns of a new `Project` over `input` (its columns, then one per shared expression) and
/// returns that `Project`; returns `input` untouched when nothing repeats.
fn share(input: LogicalPlan, mut exprs: Vec<&mut Expr>) -> LogicalPlan {
    let mut seen: Vec<(Expr, usize)> = Vec::new();
    for e in &exprs {
        count(e, &mut seen);
    }
    if seen.iter().all(|(_, n)| *n < 2) {
        return input;
    }
    let input_schema = input.schema();
    let width = input_schema.fields().len();
    let mut shared: Vec<Expr> = Vec::new();
    for e in exprs.iter_mut() {
        replace(e, &seen, &mut shared, width);
    }
    let mut fields: Vec<Field> = input_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (i, e) in shared.iter().enumerate() {
        fields.push(Field::new(format!("__common_{i}"), e.data_type(&input_schema), true));
    }
    let mut project_exprs: Vec<Expr> = (0..width).map(Expr::Column).collect();
    project_exprs.extend(shared);
    LogicalPlan::Project { input: Box::new(input), exprs: project_exprs, schema: Arc::new(Schema::new(fields)) }
}

/// Whether `e` may be shared: worth computing once (an operation, not a bare column or literal,
/// nor an operation on literals only, which constant folding owns) and built only from columns,
/// literals, arithmetic, negation and casts.
fn shareable(e: &Expr) -> bool {
    let operation = match e {
        Expr::Binary { op, .. } => op.is_arithmetic(),
        Expr::Negative(_) | Expr::Cast { .. } => true,
        _ => false,
    };
    operation && pure(e) && !e.children().iter().all(|c| matches!(c, Expr::Literal(_)))
}

/// Whether every node of `e` is a column, literal, arithmetic, negation or cast.
fn pure(e: &Expr) -> bool {
    let node_ok = match e {
        Expr::Column(_) | Expr::Literal(_) | Expr::Negative(_) | Expr::Cast { .. } => true,
        Expr::Binary { op, .. } => op.is_arithmetic(),
        _ => false,
    };
    node_ok && e.children().into_iter().all(pure)
}

/// Whether every child of `e` is evaluated for every row `e` is: not `CASE`, `AND`/`OR`
/// (short-circuit), function calls (conditional or volatile) or subqueries.
fn unconditional(e: &Expr) -> bool {
    match e {
        Expr::Binary { op, .. } => !matches!(op, BinaryOp::And | BinaryOp::Or),
        Expr::Not(_) | Expr::Negative(_) | Expr::IsNull { .. } | Expr::Cast { .. } => true,
        _ => false,
    }
}

/// Counts the shareable subexpressions of `e` in `seen`, entering only unconditionally evaluated
/// positions.
fn count(e: &Expr, seen: &mut Vec<(Expr, usize)>) {
    if shareable(e) {
        match seen.iter_mut().find(|(s, _)| s == e) {
            Some((_, n)) => *n += 1,
            None => seen.push((e.clone(), 1)),
        }
    }
    if unconditional(e) {
        for c in e.children() {
            count(c, seen);
        }
    }
}

/// Replaces, top-down, each occurrence of a repeated subexpression in `e` by the column that
/// computes it (`width` + its position in `shared`, added there on first use).
fn replace(e: &mut Expr, seen: &[(Expr, usize)], shared: &mut Vec<Expr>, width: usize) {
    if seen.iter().any(|(s, n)| *n > 1 && s == e) {
        let position = match shared.iter().position(|s| s == e) {
            Some(p) => p,
            None => {
                shared.push(e.clone());
                shared.len() - 1
            }
        };
        *e = Expr::Column(width + position);
        return;
    }
    if !unconditional(e) {
        return;
    }
    match e {
        Expr::Binary { left, right, .. } => {
            replace(left, seen, shared, width);
            replace(right, seen, shared, width);
        }
        Expr::Not(inner)
        | Expr::Negative(inner)
        | Expr::Cast { expr: inner, .. }
        | Expr::IsNull { expr: inner, .. } => replace(inner, seen, shared, width),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizer::verify_plan;
    use crate::sql::binder::tests::{bind_with, test_catalog, test_functions};

    /// `sql` bound and rewritten by the rule (the schema must not change), with the
    /// expressions computed by the `Project` the rule added (empty when none).
    fn rewritten(sql: &str) -> (String, Vec<Expr>) {
        let (_dir, catalog) = test_catalog();
        let plan = bind_with(&catalog, &test_functions(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let schema = plan.schema();
        let ctx = OptimizerContext::new(Arc::new(test_functions()));
        let plan = CommonSubexpressions.rewrite(plan, &ctx).unwrap();
        verify_plan(&plan).unwrap_or_else(|e| panic!("{e}\n{}", plan.display_indent()));
        assert_eq!(plan.schema(), schema);
        let mut shared = Vec::new();
        let mut found = |node: LogicalPlan| -> Result<LogicalPlan> {
            if let LogicalPlan::Project { exprs, schema, .. } = &node {
                for (e, f) in exprs.iter().zip(schema.fields()) {
                    if f.name().starts_with("__common_") {
                        shared.push(e.clone());
                    }
                }
            }
            Ok(node)
        };
        let plan = transform_up(plan, &mut found).unwrap();
        (plan.display_indent(), shared)
    }

    fn aggregates(plan: &str) -> &str {
        plan.lines().find(|l| l.contains("Aggregate")).unwrap_or("")
    }

    #[test]
    fn a_product_repeated_in_two_aggregates_is_computed_once() {
        let (plan, shared) = rewritten(
            "SELECT status, sum(amount * (1 - id)), sum(amount * (1 - id) * (1 + id)) FROM orders GROUP BY status",
        );
        assert_eq!(shared.len(), 1, "{plan}");
        assert!(matches!(&shared[0], Expr::Binary { op: BinaryOp::Multiply, .. }), "{shared:?}");
        // Both sums now read the shared column (#5, after the five columns of orders).
        let line = aggregates(&plan);
        assert_eq!(line.matches("#5").count(), 2, "{plan}");
        assert!(!line.contains("(1 - "), "{plan}");
        assert!(plan.contains("Project"), "{plan}");
    }

    #[test]
    fn repeats_within_one_projection_are_shared() {
        let (plan, shared) = rewritten("SELECT amount * 2 + 1, (amount * 2 + 1) * id, -(amount * 2) FROM orders");
        assert_eq!(shared.len(), 2, "{plan}\n{shared:?}");
    }

    #[test]
    fn nothing_repeated_leaves_the_plan_alone() {
        let (_, shared) = rewritten("SELECT sum(amount * 2), sum(amount * 3), sum(amount) FROM orders");
        assert!(shared.is_empty(), "{shared:?}");
        // Columns and literal-only expressions are not worth a column.
        let (_, shared) = rewritten("SELECT id, id, 1 + 2, 1 + 2 FROM orders");
        assert!(shared.is_empty(), "{shared:?}");
    }

    #[test]
    fn conditional_and_volatile_expressions_stay_where_they_are() {
        // A division guarded by CASE must not run for the rows the CASE keeps it from.
        let (_, shared) = rewritten(
            "SELECT CASE WHEN id <> 0 THEN amount / id END, CASE WHEN id <> 0 THEN amount / id ELSE 0 END FROM orders",
        );
        assert!(shared.is_empty(), "{shared:?}");
        // Nor past an aggregate FILTER, or out of AND/OR and function arguments.
        let (_, shared) = rewritten(
            "SELECT sum(amount / id) FILTER (WHERE id <> 0), sum(amount / id) FILTER (WHERE id <> 0) FROM orders",
        );
        assert!(shared.is_empty(), "{shared:?}");
        let (_, shared) = rewritten(
            "SELECT id > 0 AND amount / id > 1, id > 0 OR amount / id > 1, date_part('year', ts) * 2, date_part('year', ts) * 2 FROM orders",
        );
        assert!(shared.is_empty(), "{shared:?}");
        // An unconditional occurrence next to a guarded one is shared; the guarded one stays.
        let (plan, shared) =
            rewritten("SELECT amount * id, amount * id + 1, CASE WHEN id > 0 THEN amount * id END FROM orders");
        assert_eq!(shared.len(), 1, "{plan}");
        assert!(plan.contains("CASE"), "{plan}");
    }
}
