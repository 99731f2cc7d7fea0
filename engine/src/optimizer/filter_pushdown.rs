//! Moves filter conjuncts as close to the data as their semantics allow: through projections
//! (substituting the projected expressions), sorts, distincts and unions, below an aggregate when
//! they test only group columns, into the side of a join they reference (both sides of an inner
//! join, only the preserved side of an outer join), and finally into `TableScan.filters`. An
//! equality between the two sides of a cross join turns it into an inner hash join on that key.

use crate::error::Result;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{Expr, JoinType, LogicalPlan};
use crate::sql::binder::equi_key;

pub struct FilterPushdown;

impl Rule for FilterPushdown {
    fn name(&self) -> &str {
        "filter_pushdown"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        Ok(push(plan, Vec::new()))
    }
}

/// Pushes `conjuncts` (bound to `plan`'s output) into `plan`, and recursively the filters below.
fn push(plan: LogicalPlan, mut conjuncts: Vec<Expr>) -> LogicalPlan {
    match plan {
        LogicalPlan::Filter { input, predicate } => {
            conjuncts.extend(predicate.split_conjunction());
            push(*input, conjuncts)
        }
        LogicalPlan::Project { input, exprs, schema } => {
            let below = conjuncts.into_iter().map(|c| c.remap_columns_to(&exprs)).collect();
            LogicalPlan::Project { input: Box::new(push(*input, below)), exprs, schema }
        }
        LogicalPlan::Sort { input, keys, fetch: None } => {
            LogicalPlan::Sort { input: Box::new(push(*input, conjuncts)), keys, fetch: None }
        }
        LogicalPlan::Distinct { input } => LogicalPlan::Distinct { input: Box::new(push(*input, conjuncts)) },
        LogicalPlan::Union { inputs, schema } => {
            LogicalPlan::Union { inputs: inputs.into_iter().map(|i| push(i, conjuncts.clone())).collect(), schema }
        }
        LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
            let groups = group_by.len();
            let (below, above): (Vec<Expr>, Vec<Expr>) =
                conjuncts.into_iter().partition(|c| columns(c).iter().all(|i| *i < groups));
            let below = below.into_iter().map(|c| c.remap_columns_to(&group_by)).collect();
            let plan = LogicalPlan::Aggregate { input: Box::new(push(*input, below)), group_by, aggregates, schema };
            filter_above(plan, above)
        }
        LogicalPlan::Window { input, window_exprs, schema } => {
            // A row's window values depend on the other rows of its partition: only conjuncts
            // that keep or drop whole partitions (over columns every window partitions by) go below.
            let width = input.schema().fields().len();
            let partitions_whole = |c: &Expr| {
                columns(c)
                    .iter()
                    .all(|i| *i < width && window_exprs.iter().all(|w| w.partition_by.contains(&Expr::Column(*i))))
            };
            let (below, above): (Vec<Expr>, Vec<Expr>) = conjuncts.into_iter().partition(partitions_whole);
            let plan = LogicalPlan::Window { input: Box::new(push(*input, below)), window_exprs, schema };
            filter_above(plan, above)
        }
        LogicalPlan::Join { left, right, join_type, on, filter, schema } => {
            push_join(*left, *right, join_type, on, filter, schema, conjuncts)
        }
        LogicalPlan::Scan(mut scan) => {
            let projection = scan.projection.clone();
            scan.filters.extend(conjuncts.into_iter().map(|c| c.remap_columns(&|i| projection[i])));
            LogicalPlan::Scan(scan)
        }
        // A shared subplan is a barrier: a filter pushed into one occurrence would make it differ
        // from the others.
        other @ (LogicalPlan::Values { .. }
        | LogicalPlan::Limit { .. }
        | LogicalPlan::Sort { .. }
        | LogicalPlan::Shared { .. }) => {
            let other = crate::optimizer::tree::map_inputs(other, &mut |i| Ok(push(i, Vec::new())))
                // Invariant: the closure never fails.
                .expect("pushing filters is infallible");
            filter_above(other, conjuncts)
        }
    }
}

fn push_join(
    left: LogicalPlan,
    right: LogicalPlan,
    join_type: JoinType,
    mut on: Vec<(Expr, Expr)>,
    filter: Option<Expr>,
    schema: arrow::datatypes::SchemaRef,
    conjuncts: Vec<Expr>,
) -> LogicalPlan {
    let left_len = left.schema().fields().len();
    let (mut to_left, mut to_right, mut to_join, mut above) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let side = |c: &Expr| {
        let cols = columns(c);
        if cols.iter().all(|i| *i < left_len) {
            Side::Left
        } else if cols.iter().all(|i| *i >= left_len) {
            Side::Right
        } else {
            Side::Both
        }
    };
    // Conjuncts from above the join: a side's rows may be dropped early only if the join would
    // not have padded them with NULLs otherwise. (A mark join's mark column counts as "right", so
    // tests of it stay above.)
    for c in conjuncts {
        match (side(&c), join_type) {
            (
                Side::Left,
                JoinType::Inner
                | JoinType::Cross
                | JoinType::Left
                | JoinType::Single
                | JoinType::Semi
                | JoinType::Anti
                | JoinType::NullAwareAnti
                | JoinType::Mark
                | JoinType::NullAwareMark,
            ) => to_left.push(c),
            (Side::Right, JoinType::Inner | JoinType::Cross | JoinType::Right) => to_right.push(c),
            (_, JoinType::Inner | JoinType::Cross) => to_join.push(c),
            _ => above.push(c),
        }
    }
    // Conjuncts of the join's own condition: one-sided ones may go to the side whose rows they
    // only decide matching for (the non-preserved side of an outer join, either side of an inner).
    let mut residual = Vec::new();
    for c in filter.map(Expr::split_conjunction).unwrap_or_default() {
        match (side(&c), join_type) {
            (Side::Left, JoinType::Inner | JoinType::Right | JoinType::Semi) => to_left.push(c),
            (
                Side::Right,
                JoinType::Inner
                | JoinType::Left
                | JoinType::Single
                | JoinType::Semi
                | JoinType::Anti
                | JoinType::NullAwareAnti
                | JoinType::Mark
                | JoinType::NullAwareMark,
            ) => to_right.push(c),
            _ => residual.push(c),
        }
    }
    for c in to_join {
        match equi_key(&c, left_len) {
            Some(pair) => on.push(pair),
            None => residual.push(c),
        }
    }
    let join_type = if join_type == JoinType::Cross && (!on.is_empty() || !residual.is_empty()) {
        JoinType::Inner
    } else {
        join_type
    };
    let to_right = to_right.into_iter().map(|c| c.remap_columns(&|i| i - left_len)).collect();
    let plan = LogicalPlan::Join {
        left: Box::new(push(left, to_left)),
        right: Box::new(push(right, to_right)),
        join_type,
        on,
        filter: Expr::conjunction(residual),
        schema,
    };
    filter_above(plan, above)
}

enum Side {
    Left,
    Right,
    Both,
}

fn columns(e: &Expr) -> Vec<usize> {
    let mut out = Vec::new();
    e.collect_columns(&mut out);
    out
}

fn filter_above(plan: LogicalPlan, conjuncts: Vec<Expr>) -> LogicalPlan {
    match Expr::conjunction(conjuncts) {
        Some(predicate) => LogicalPlan::Filter { input: Box::new(plan), predicate },
        None => plan,
    }
}

/// Substitution of column references by the expressions they name (pushing through a projection
/// or onto an aggregate's group expressions).
trait Substitute {
    fn remap_columns_to(self, exprs: &[Expr]) -> Expr;
}

impl Substitute for Expr {
    fn remap_columns_to(self, exprs: &[Expr]) -> Expr {
        self.transform(&mut |e| match e {
            Expr::Column(i) => exprs[i].clone(),
            other => other,
        })
    }
}
