//! Narrows every node to the columns its parent needs, down to `TableScan.projection`, so scans
//! read only needed columns and joins and aggregates carry no dead ones. Each node is rewritten
//! given the set of its output columns that are needed and reports where each surviving column
//! went; the parent renumbers its expressions through that map.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema};

use crate::error::Result;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{Expr, LogicalPlan};
use crate::sql::binder::join_schema;

pub struct ProjectionPushdown;

impl Rule for ProjectionPushdown {
    fn name(&self) -> &str {
        "projection_pushdown"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        let all: BTreeSet<usize> = (0..plan.schema().fields().len()).collect();
        let (plan, mapping) = prune(plan, &all);
        // The root keeps every column in place; `exact` restores order should a node reorder.
        Ok(exact(plan, &mapping, &all))
    }
}

/// Old output position → new output position (`None`: the column was dropped).
type Mapping = Vec<Option<usize>>;

fn columns(exprs: &[&Expr]) -> BTreeSet<usize> {
    let mut out = Vec::new();
    for e in exprs {
        e.collect_columns(&mut out);
    }
    out.into_iter().collect()
}

fn identity(width: usize) -> Mapping {
    (0..width).map(Some).collect()
}

/// The mapping of a node that keeps `kept` (ascending) of `width` columns.
fn keep_mapping(width: usize, kept: &BTreeSet<usize>) -> Mapping {
    let mut out = vec![None; width];
    for (new, old) in kept.iter().enumerate() {
        out[*old] = Some(new);
    }
    out
}

fn remap(e: Expr, mapping: &Mapping) -> Expr {
    // Invariant: callers only remap expressions whose columns they asked the input to keep.
    e.remap_columns(&|i| mapping[i].expect("a required column survives pruning"))
}

/// Never narrow to zero columns: operators and batches are simpler when every node has one.
fn at_least_one(required: &BTreeSet<usize>, width: usize) -> BTreeSet<usize> {
    if required.is_empty() && width > 0 {
        BTreeSet::from([0])
    } else {
        required.clone()
    }
}

/// Rewrites `plan` so it produces at least its `required` output columns.
fn prune(plan: LogicalPlan, required: &BTreeSet<usize>) -> (LogicalPlan, Mapping) {
    let width = plan.schema().fields().len();
    let required = at_least_one(required, width);
    match plan {
        LogicalPlan::Scan(mut scan) => {
            scan.projection = required.iter().map(|i| scan.projection[*i]).collect();
            let fields: Vec<Field> = scan.projection.iter().map(|i| scan.table_schema.field(*i).clone()).collect();
            scan.schema = Arc::new(Schema::new(fields));
            (LogicalPlan::Scan(scan), keep_mapping(width, &required))
        }
        LogicalPlan::Project { input, exprs, schema } => {
            let kept: Vec<Expr> = required.iter().map(|i| exprs[*i].clone()).collect();
            let (input, m) = prune(*input, &columns(&kept.iter().collect::<Vec<_>>()));
            let exprs = kept.into_iter().map(|e| remap(e, &m)).collect();
            let fields: Vec<Field> = required.iter().map(|i| schema.field(*i).clone()).collect();
            let plan = LogicalPlan::Project { input: Box::new(input), exprs, schema: Arc::new(Schema::new(fields)) };
            (plan, keep_mapping(width, &required))
        }
        LogicalPlan::Filter { input, predicate } => {
            let mut need = required.clone();
            need.extend(columns(&[&predicate]));
            let (input, m) = prune(*input, &need);
            (LogicalPlan::Filter { input: Box::new(input), predicate: remap(predicate, &m) }, m)
        }
        LogicalPlan::Sort { input, keys, fetch } => {
            let mut need = required.clone();
            need.extend(columns(&keys.iter().map(|k| &k.expr).collect::<Vec<_>>()));
            let (input, m) = prune(*input, &need);
            let keys = keys
                .into_iter()
                .map(|mut k| {
                    k.expr = remap(k.expr, &m);
                    k
                })
                .collect();
            (LogicalPlan::Sort { input: Box::new(input), keys, fetch }, m)
        }
        LogicalPlan::Limit { input, skip, fetch } => {
            let (input, m) = prune(*input, &required);
            (LogicalPlan::Limit { input: Box::new(input), skip, fetch }, m)
        }
        LogicalPlan::Distinct { input } => {
            // Every column takes part in distinctness.
            let all = (0..width).collect();
            let (input, m) = prune(*input, &all);
            (LogicalPlan::Distinct { input: Box::new(exact(input, &m, &all)) }, identity(width))
        }
        LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
            let groups = group_by.len();
            let kept_aggs: BTreeSet<usize> = (0..aggregates.len())
                .filter(|a| required.contains(&(groups + a)) || (groups == 0 && *a == 0))
                .collect();
            let aggregates: Vec<_> =
                aggregates.into_iter().enumerate().filter(|(i, _)| kept_aggs.contains(i)).map(|(_, a)| a).collect();
            let mut used: Vec<&Expr> = group_by.iter().collect();
            for a in &aggregates {
                used.extend(a.args.iter());
                used.extend(a.filter.as_deref());
            }
            let (input, m) = prune(*input, &columns(&used));
            let group_by: Vec<Expr> = group_by.into_iter().map(|e| remap(e, &m)).collect();
            let aggregates = aggregates
                .into_iter()
                .map(|mut a| {
                    a.args = a.args.into_iter().map(|e| remap(e, &m)).collect();
                    a.filter = a.filter.map(|f| Box::new(remap(*f, &m)));
                    a
                })
                .collect();
            let kept: BTreeSet<usize> = (0..groups).chain(kept_aggs.iter().map(|a| groups + a)).collect();
            let fields: Vec<Field> = kept.iter().map(|i| schema.field(*i).clone()).collect();
            let plan = LogicalPlan::Aggregate {
                input: Box::new(input),
                group_by,
                aggregates,
                schema: Arc::new(Schema::new(fields)),
            };
            (plan, keep_mapping(width, &kept))
        }
        LogicalPlan::Join { left, right, join_type, on, filter, .. } => {
            let left_len = left.schema().fields().len();
            let mut need_left: BTreeSet<usize> = required.iter().copied().filter(|i| *i < left_len).collect();
            // A mark join's column `left_len` is its mark, not a right column.
            let mut need_right: BTreeSet<usize> = if join_type.emits_right() {
                required.iter().filter(|i| **i >= left_len).map(|i| i - left_len).collect()
            } else {
                BTreeSet::new()
            };
            need_left.extend(columns(&on.iter().map(|(l, _)| l).collect::<Vec<_>>()));
            need_right.extend(columns(&on.iter().map(|(_, r)| r).collect::<Vec<_>>()));
            for c in columns(&filter.iter().collect::<Vec<_>>()) {
                if c < left_len {
                    need_left.insert(c);
                } else {
                    need_right.insert(c - left_len);
                }
            }
            let need_left = at_least_one(&need_left, left_len);
            let right_len = right.schema().fields().len();
            let need_right = at_least_one(&need_right, right_len);
            let (left, lm) = prune(*left, &need_left);
            let left = exact(left, &lm, &need_left);
            let (right, rm) = prune(*right, &need_right);
            let right = exact(right, &rm, &need_right);
            let (lm, rm) = (keep_mapping(left_len, &need_left), keep_mapping(right_len, &need_right));
            let new_left_len = need_left.len();
            let on = on.into_iter().map(|(l, r)| (remap(l, &lm), remap(r, &rm))).collect();
            let combined: Mapping = lm.iter().copied().chain(rm.iter().map(|m| m.map(|i| i + new_left_len))).collect();
            let filter = filter.map(|f| remap(f, &combined));
            let schema = join_schema(&left.schema(), &right.schema(), join_type);
            let mapping = if join_type.emits_right() {
                combined
            } else if join_type.is_mark() {
                lm.into_iter().chain([Some(new_left_len)]).collect()
            } else {
                lm
            };
            let plan =
                LogicalPlan::Join { left: Box::new(left), right: Box::new(right), join_type, on, filter, schema };
            (plan, mapping)
        }
        LogicalPlan::Union { inputs, schema } => {
            let inputs = inputs
                .into_iter()
                .map(|input| {
                    let (input, m) = prune(input, &required);
                    exact(input, &m, &required)
                })
                .collect();
            let fields: Vec<Field> = required.iter().map(|i| schema.field(*i).clone()).collect();
            (LogicalPlan::Union { inputs, schema: Arc::new(Schema::new(fields)) }, keep_mapping(width, &required))
        }
        LogicalPlan::Shared { id, input } => {
            // Every occurrence of a shared subplan must stay identical, whatever each reader
            // needs: its input keeps all its columns.
            let all: BTreeSet<usize> = (0..width).collect();
            let (input, m) = prune(*input, &all);
            let input = exact(input, &m, &all);
            (LogicalPlan::Shared { id, input: Box::new(input) }, keep_mapping(width, &all))
        }
        LogicalPlan::Window { input, window_exprs, schema } => {
            // Window columns nobody needs are not computed; the rest keep the columns they read.
            let input_width = input.schema().fields().len();
            let kept: Vec<usize> = (0..window_exprs.len()).filter(|w| required.contains(&(input_width + w))).collect();
            let window_exprs: Vec<_> =
                window_exprs.into_iter().enumerate().filter(|(w, _)| kept.contains(w)).map(|(_, w)| w).collect();
            let mut need: BTreeSet<usize> = required.iter().copied().filter(|i| *i < input_width).collect();
            for w in &window_exprs {
                need.extend(columns(&w.expressions()));
            }
            let (input, m) = prune(*input, &need);
            if window_exprs.is_empty() {
                let mapping = m.into_iter().chain(std::iter::repeat_n(None, width - input_width)).collect();
                return (input, mapping);
            }
            let window_exprs: Vec<_> =
                window_exprs.into_iter().map(|w| w.map_expressions(&mut |e| remap(e, &m))).collect();
            let new_width = input.schema().fields().len();
            let mut fields: Vec<Field> = input.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend(kept.iter().map(|w| schema.field(input_width + w).clone()));
            let mut mapping: Mapping = m;
            mapping.resize(input_width, None);
            let mut window_mapping = vec![None; width - input_width];
            for (new, w) in kept.iter().enumerate() {
                window_mapping[*w] = Some(new_width + new);
            }
            mapping.extend(window_mapping);
            let plan =
                LogicalPlan::Window { input: Box::new(input), window_exprs, schema: Arc::new(Schema::new(fields)) };
            (plan, mapping)
        }
        values @ LogicalPlan::Values { .. } => (values, identity(width)),
    }
}

/// `plan` producing exactly the `wanted` columns of its pre-pruning output, in ascending order:
/// a projection is added when pruning left extra columns (such as filter-only ones) or moved them.
fn exact(plan: LogicalPlan, mapping: &Mapping, wanted: &BTreeSet<usize>) -> LogicalPlan {
    let positions: Vec<usize> = wanted.iter().map(|i| mapping[*i].expect("a wanted column survives pruning")).collect();
    let width = plan.schema().fields().len();
    if positions.len() == width && positions.iter().enumerate().all(|(i, p)| i == *p) {
        return plan;
    }
    let schema = plan.schema();
    let fields: Vec<Field> = positions.iter().map(|p| schema.field(*p).clone()).collect();
    LogicalPlan::Project {
        input: Box::new(plan),
        exprs: positions.into_iter().map(Expr::Column).collect(),
        schema: Arc::new(Schema::new(fields)),
    }
}
