//! Generic rebuilding of plan nodes, so each rule handles only the nodes it cares about.

use crate::error::Result;
use crate::plan::{Expr, LogicalPlan};

/// Rebuilds `plan` with `f` applied to each direct input; the node's own fields are kept.
pub(crate) fn map_inputs(
    plan: LogicalPlan,
    f: &mut dyn FnMut(LogicalPlan) -> Result<LogicalPlan>,
) -> Result<LogicalPlan> {
    let mut map = |input: Box<LogicalPlan>| f(*input).map(Box::new);
    Ok(match plan {
        LogicalPlan::Scan(_) | LogicalPlan::Values { .. } => plan,
        LogicalPlan::Filter { input, predicate } => LogicalPlan::Filter { input: map(input)?, predicate },
        LogicalPlan::Project { input, exprs, schema } => LogicalPlan::Project { input: map(input)?, exprs, schema },
        LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
            LogicalPlan::Aggregate { input: map(input)?, group_by, aggregates, schema }
        }
        LogicalPlan::Join { left, right, join_type, on, filter, schema } => {
            LogicalPlan::Join { left: map(left)?, right: map(right)?, join_type, on, filter, schema }
        }
        LogicalPlan::Sort { input, keys, fetch } => LogicalPlan::Sort { input: map(input)?, keys, fetch },
        LogicalPlan::Limit { input, skip, fetch } => LogicalPlan::Limit { input: map(input)?, skip, fetch },
        LogicalPlan::Distinct { input } => LogicalPlan::Distinct { input: map(input)? },
        LogicalPlan::Window { input, window_exprs, schema } => {
            LogicalPlan::Window { input: map(input)?, window_exprs, schema }
        }
        LogicalPlan::Union { inputs, schema } => {
            LogicalPlan::Union { inputs: inputs.into_iter().map(&mut *f).collect::<Result<_>>()?, schema }
        }
        LogicalPlan::Shared { id, input } => LogicalPlan::Shared { id, input: map(input)? },
    })
}

/// Rebuilds `plan` (this node only) with `f` applied to every expression it holds, including
/// scan filters, aggregate arguments and sort keys.
pub(crate) fn map_expressions(plan: LogicalPlan, f: &mut dyn FnMut(Expr) -> Result<Expr>) -> Result<LogicalPlan> {
    let all = |exprs: Vec<Expr>, f: &mut dyn FnMut(Expr) -> Result<Expr>| {
        exprs.into_iter().map(f).collect::<Result<Vec<_>>>()
    };
    Ok(match plan {
        LogicalPlan::Scan(mut scan) => {
            scan.filters = all(scan.filters, f)?;
            LogicalPlan::Scan(scan)
        }
        LogicalPlan::Values { schema, rows } => {
            LogicalPlan::Values { schema, rows: rows.into_iter().map(|r| all(r, f)).collect::<Result<_>>()? }
        }
        LogicalPlan::Filter { input, predicate } => LogicalPlan::Filter { input, predicate: f(predicate)? },
        LogicalPlan::Project { input, exprs, schema } => LogicalPlan::Project { input, exprs: all(exprs, f)?, schema },
        LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
            let group_by = all(group_by, f)?;
            let mut out = Vec::with_capacity(aggregates.len());
            for mut agg in aggregates {
                agg.args = all(agg.args, f)?;
                agg.filter = agg.filter.map(|e| f(*e).map(Box::new)).transpose()?;
                out.push(agg);
            }
            LogicalPlan::Aggregate { input, group_by, aggregates: out, schema }
        }
        LogicalPlan::Join { left, right, join_type, on, filter, schema } => {
            let on = on.into_iter().map(|(l, r)| Ok((f(l)?, f(r)?))).collect::<Result<_>>()?;
            LogicalPlan::Join { left, right, join_type, on, filter: filter.map(&mut *f).transpose()?, schema }
        }
        LogicalPlan::Sort { input, keys, fetch } => {
            let mut out = Vec::with_capacity(keys.len());
            for mut key in keys {
                key.expr = f(key.expr)?;
                out.push(key);
            }
            LogicalPlan::Sort { input, keys: out, fetch }
        }
        LogicalPlan::Window { input, window_exprs, schema } => {
            let window_exprs = window_exprs.into_iter().map(|w| w.try_map_expressions(f)).collect::<Result<_>>()?;
            LogicalPlan::Window { input, window_exprs, schema }
        }
        other @ (LogicalPlan::Limit { .. }
        | LogicalPlan::Distinct { .. }
        | LogicalPlan::Union { .. }
        | LogicalPlan::Shared { .. }) => other,
    })
}

/// Applies `f` to every node bottom-up (inputs first).
pub(crate) fn transform_up(
    plan: LogicalPlan,
    f: &mut dyn FnMut(LogicalPlan) -> Result<LogicalPlan>,
) -> Result<LogicalPlan> {
    let plan = map_inputs(plan, &mut |input| transform_up(input, f))?;
    f(plan)
}
