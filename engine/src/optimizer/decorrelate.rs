//! Turns every subquery in an expression into a join, so no subquery ever runs once per row (the
//! rewrites of Neumann and Kemper, "Unnesting Arbitrary Queries", for the shapes analysts write):
//!
//! - A `WHERE`/`HAVING` conjunct `[NOT] EXISTS` becomes a semi (anti) join; `x IN (...)` a semi
//!   join on `x = column`; `x NOT IN (...)` a null-aware anti join (uncorrelated) or an anti join
//!   whose condition also matches when either side is NULL (correlated), because
//!   `x NOT IN (..., NULL)` is never true.
//! - Anywhere else, `EXISTS` and uncorrelated `IN` become mark joins (a boolean column) and a
//!   scalar subquery a single join (a left join that fails on a second match).
//! - A correlated subquery gives up its correlated conjuncts, pulled up out of its plan to become
//!   the join condition; through an aggregate the correlated columns become group keys
//!   (`AVG(y) ... WHERE t2.k = t1.k` is averaged per `k`, then joined), and `COUNT` over no rows
//!   keeps its 0.
//!
//! - What cannot be pulled up that way (correlated columns in the subquery's select list or
//!   `HAVING`, a non-equality correlation under an aggregate, correlation in a join's `ON`) is
//!   unnested in general by `dependent_join`: the subquery runs once over the distinct values of
//!   the outer columns it reads and joins back on them.
//!
//! Runs first, so every later rule sees only joins.

mod dependent_join;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{EngineError, Result};
use crate::optimizer::tree::{map_expressions, map_inputs, transform_up};
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{BinaryOp, Expr, JoinType, LogicalPlan, ScalarValue, Subquery, SubqueryKind};
use crate::sql::binder::{has_subquery, join_schema, split_join_predicate, try_map_children};

pub struct Decorrelation;

impl Rule for Decorrelation {
    fn name(&self) -> &str {
        "decorrelation"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        decorrelate(plan)
    }
}

/// `plan` with every subquery of every node replaced by a join.
fn decorrelate(plan: LogicalPlan) -> Result<LogicalPlan> {
    transform_up(plan, &mut |node| match node {
        LogicalPlan::Filter { input, predicate } if has_subquery(&predicate) => rewrite_filter(*input, predicate),
        LogicalPlan::Project { input, exprs, schema } if exprs.iter().any(has_subquery) => {
            let mut input = *input;
            let exprs = exprs.into_iter().map(|e| attach_all(&mut input, e)).collect::<Result<_>>()?;
            Ok(LogicalPlan::Project { input: Box::new(input), exprs, schema })
        }
        other => {
            let mut found = false;
            let other = map_expressions(other, &mut |e| {
                found |= has_subquery(&e);
                Ok(e)
            })?;
            if found {
                return Err(EngineError::plan(format!(
                    "a subquery is supported only in WHERE, HAVING and the select list, not in `{other}`"
                )));
            }
            Ok(other)
        }
    })
}

/// A `WHERE`/`HAVING` with subqueries: semi and anti joins for the conjuncts that are one, the
/// mark and single joins of the others below the filter, and a projection back to the input's
/// columns if any were added.
fn rewrite_filter(input: LogicalPlan, predicate: Expr) -> Result<LogicalPlan> {
    let width = input.schema().fields().len();
    let mut plan = input;
    let mut remaining = Vec::new();
    for conjunct in predicate.split_conjunction() {
        match conjunct {
            Expr::Subquery(sub) => plan = filtering_join(plan, *sub, false)?,
            Expr::Not(inner) if matches!(inner.as_ref(), Expr::Subquery(s) if s.kind != SubqueryKind::Scalar) => {
                let Expr::Subquery(sub) = *inner else { unreachable!("matched by the guard") };
                plan = filtering_join(plan, *sub, true)?;
            }
            other => remaining.push(other),
        }
    }
    let remaining = remaining.into_iter().map(|c| attach_all(&mut plan, c)).collect::<Result<Vec<_>>>()?;
    if let Some(predicate) = Expr::conjunction(remaining) {
        plan = LogicalPlan::Filter { input: Box::new(plan), predicate };
    }
    Ok(prefix(plan, width))
}

/// The join a subquery conjunct of a filter becomes (`negate`: it stood under a `NOT`).
fn filtering_join(input: LogicalPlan, sub: Subquery, negate: bool) -> Result<LogicalPlan> {
    let outer_len = input.schema().fields().len();
    let Subquery { plan, kind } = sub;
    match kind {
        SubqueryKind::Scalar => {
            // A boolean scalar subquery standing alone as a conjunct.
            let mut input = input;
            let value = attach(&mut input, Subquery { plan, kind: SubqueryKind::Scalar })?;
            let predicate = if negate { Expr::Not(Box::new(value)) } else { value };
            Ok(prefix(LogicalPlan::Filter { input: Box::new(input), predicate }, outer_len))
        }
        SubqueryKind::Exists { negated } => {
            let Unnested { right, conditions, .. } = unnest(&input, plan, true)?;
            let join_type = if negated != negate { JoinType::Anti } else { JoinType::Semi };
            Ok(join(input, right, join_type, conditions))
        }
        SubqueryKind::In { expr, negated } => {
            let Unnested { right, mut conditions, .. } = unnest(&input, plan, true)?;
            let column = Expr::Column(outer_len);
            if negated == negate {
                conditions.push(Expr::binary(*expr, BinaryOp::Eq, column));
                return Ok(join(input, right, JoinType::Semi, conditions));
            }
            if conditions.is_empty() {
                let on = vec![(*expr, Expr::Column(0))];
                let schema = join_schema(&input.schema(), &right.schema(), JoinType::NullAwareAnti);
                return Ok(LogicalPlan::Join {
                    left: Box::new(input),
                    right: Box::new(right),
                    join_type: JoinType::NullAwareAnti,
                    on,
                    filter: None,
                    schema,
                });
            }
            // Correlated NOT IN: a candidate row of the subquery rules the outer row out unless
            // `x = y` is false; with a NULL on either side it is unknown, which also rules it out.
            conditions.push(equal_or_unknown(*expr, column));
            Ok(join(input, right, JoinType::Anti, conditions))
        }
    }
}

/// `x = y OR x IS NULL OR y IS NULL`: the comparison is not false.
fn equal_or_unknown(x: Expr, y: Expr) -> Expr {
    let is_null = |e: &Expr| Expr::IsNull { expr: Box::new(e.clone()), negated: false };
    Expr::binary(
        Expr::binary(Expr::binary(x.clone(), BinaryOp::Eq, y.clone()), BinaryOp::Or, is_null(&x)),
        BinaryOp::Or,
        is_null(&y),
    )
}

/// A subquery's plan without correlated references, ready to be joined onto the outer input.
struct Unnested {
    right: LogicalPlan,
    /// The join conditions, over the outer columns then `right`'s.
    conditions: Vec<Expr>,
    /// The correlated conditions were pulled up through an ungrouped aggregate at the root, so
    /// an outer row without input has no row in `right` (a scalar must supply the empty value).
    pulled_through_aggregate: bool,
}

/// Decorrelates `plan`, a subquery over `outer`'s rows (`existence`: only whether rows exist
/// matters, and for `IN` its first column). Correlated conditions are pulled up into the join
/// condition when that is exact; otherwise the subquery is unnested over the distinct outer
/// values it reads (`dependent_join`). Decorrelating an already decorrelated plan changes nothing.
fn unnest(outer: &LogicalPlan, plan: LogicalPlan, existence: bool) -> Result<Unnested> {
    let mut plan = decorrelate(plan)?;
    if existence {
        plan = strip_for_existence(plan);
    }
    if !plan_has_outer_reference(&plan) {
        return Ok(Unnested { right: plan, conditions: Vec::new(), pulled_through_aggregate: false });
    }
    let outer_len = outer.schema().fields().len();
    let through_aggregate = correlated_ungrouped_aggregates(&plan);
    // Pulling a condition up through an ungrouped aggregate loses the row it gives over no
    // input; only a scalar whose root is that aggregate can restore it.
    let exact = through_aggregate == 0 || (!existence && through_aggregate == 1 && root_aggregate_is_correlated(&plan));
    if exact {
        if let Ok((right, conditions)) = pull_up_correlated(plan.clone(), outer_len) {
            return Ok(Unnested { right, conditions, pulled_through_aggregate: through_aggregate > 0 });
        }
    }
    let (right, conditions) = dependent_join::unnest(outer, plan)?;
    Ok(Unnested { right, conditions, pulled_through_aggregate: false })
}

/// How many ungrouped aggregates of `plan` have a correlated reference at or below them.
fn correlated_ungrouped_aggregates(plan: &LogicalPlan) -> usize {
    let own = match plan {
        LogicalPlan::Aggregate { group_by, .. } if group_by.is_empty() && plan_has_outer_reference(plan) => 1,
        _ => 0,
    };
    own + plan.inputs().into_iter().map(correlated_ungrouped_aggregates).sum::<usize>()
}

/// Whether `plan` is, under projections, an ungrouped aggregate with correlated references.
fn root_aggregate_is_correlated(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Project { input, .. } => root_aggregate_is_correlated(input),
        LogicalPlan::Aggregate { group_by, .. } => group_by.is_empty() && plan_has_outer_reference(plan),
        _ => false,
    }
}

/// Replaces each subquery in `expr` (bound over `input`) by a column that a join adds to `input`.
fn attach_all(input: &mut LogicalPlan, expr: Expr) -> Result<Expr> {
    if !has_subquery(&expr) {
        return Ok(expr);
    }
    match expr {
        Expr::Subquery(sub) => {
            let sub = match sub.kind {
                SubqueryKind::In { expr, negated } => {
                    let expr = attach_all(input, *expr)?;
                    Subquery { plan: sub.plan, kind: SubqueryKind::In { expr: Box::new(expr), negated } }
                }
                _ => *sub,
            };
            attach(input, sub)
        }
        other => try_map_children(other, &mut |child| attach_all(input, child)),
    }
}

/// Joins one subquery onto `input` and returns the expression (over the widened input) that
/// stands for its value.
fn attach(input: &mut LogicalPlan, sub: Subquery) -> Result<Expr> {
    let outer_len = input.schema().fields().len();
    let Subquery { plan, kind } = sub;
    match kind {
        SubqueryKind::Scalar => {
            let plan = decorrelate(plan)?;
            let empty = empty_row(&plan).and_then(|row| row.into_iter().next());
            let Unnested { right, conditions, pulled_through_aggregate } = unnest(input, plan, false)?;
            let left = std::mem::replace(input, LogicalPlan::one_row());
            let value = Expr::Column(outer_len);
            let empty = empty.filter(|e| pulled_through_aggregate && !matches!(e, Expr::Literal(v) if v.is_null()));
            match empty {
                // COUNT over a key with no rows is 0, not the NULL a missed join gives.
                Some(empty) => {
                    let right_len = right.schema().fields().len();
                    let right = with_true_column(right);
                    *input = join(left, right, JoinType::Single, conditions);
                    let unmatched =
                        Expr::IsNull { expr: Box::new(Expr::Column(outer_len + right_len)), negated: false };
                    Ok(Expr::Case {
                        operand: None,
                        branches: vec![(unmatched, empty)],
                        else_expr: Some(Box::new(value)),
                    })
                }
                None => {
                    *input = join(left, right, JoinType::Single, conditions);
                    Ok(value)
                }
            }
        }
        SubqueryKind::Exists { negated } => {
            let Unnested { right, conditions, .. } = unnest(input, plan, true)?;
            let left = std::mem::replace(input, LogicalPlan::one_row());
            *input = join(left, right, JoinType::Mark, conditions);
            let mark = Expr::Column(outer_len);
            Ok(if negated { Expr::Not(Box::new(mark)) } else { mark })
        }
        SubqueryKind::In { expr, negated } => {
            let Unnested { right, conditions, .. } = unnest(input, plan, true)?;
            let left = std::mem::replace(input, LogicalPlan::one_row());
            let value = if conditions.is_empty() {
                let schema = join_schema(&left.schema(), &right.schema(), JoinType::NullAwareMark);
                *input = LogicalPlan::Join {
                    left: Box::new(left),
                    right: Box::new(right),
                    join_type: JoinType::NullAwareMark,
                    on: vec![(*expr, Expr::Column(0))],
                    filter: None,
                    schema,
                };
                Expr::Column(outer_len)
            } else {
                correlated_in_value(input, left, right, conditions, *expr)
            };
            Ok(if negated { Expr::Not(Box::new(value)) } else { value })
        }
    }
}

/// A correlated `x IN (subquery)` as a value, with SQL's three-valued logic per outer row: true
/// when some candidate row equals `x`, else NULL when some comparison is unknown (a NULL on
/// either side), else false. Two mark joins answer the two questions; `input` becomes `left`
/// with both marks.
fn correlated_in_value(
    input: &mut LogicalPlan,
    left: LogicalPlan,
    right: LogicalPlan,
    conditions: Vec<Expr>,
    x: Expr,
) -> Expr {
    let outer_len = left.schema().fields().len();
    let column = Expr::Column(outer_len);
    let mut equal = conditions.clone();
    equal.push(Expr::binary(x.clone(), BinaryOp::Eq, column.clone()));
    let equal_marked = join(left, right.clone(), JoinType::Mark, equal);
    // The second join's outer side has one more column (the first mark): shift the right side.
    let shift = |e: Expr| e.remap_columns(&|c| if c < outer_len { c } else { c + 1 });
    let mut unknown: Vec<Expr> = conditions.into_iter().map(shift).collect();
    unknown.push(shift(equal_or_unknown(x, column)));
    *input = join(equal_marked, right, JoinType::Mark, unknown);
    Expr::Case {
        operand: None,
        branches: vec![
            (Expr::Column(outer_len), Expr::Literal(ScalarValue::Boolean(Some(true)))),
            (Expr::Column(outer_len + 1), Expr::Literal(ScalarValue::Boolean(None))),
        ],
        else_expr: Some(Box::new(Expr::Literal(ScalarValue::Boolean(Some(false))))),
    }
}

/// A join of `left` and `right` on `conditions` bound over left+right columns (equi-keys split
/// from the residual); a single join without conditions keeps no keys (a one-row right side).
fn join(left: LogicalPlan, right: LogicalPlan, join_type: JoinType, conditions: Vec<Expr>) -> LogicalPlan {
    let left_len = left.schema().fields().len();
    let (on, filter) = match Expr::conjunction(conditions) {
        Some(c) => split_join_predicate(c, left_len),
        None => (Vec::new(), None),
    };
    let schema = join_schema(&left.schema(), &right.schema(), join_type);
    LogicalPlan::Join { left: Box::new(left), right: Box::new(right), join_type, on, filter, schema }
}

/// `plan` narrowed to its first `width` columns (dropping the ones joins added).
fn prefix(plan: LogicalPlan, width: usize) -> LogicalPlan {
    let schema = plan.schema();
    if schema.fields().len() == width {
        return plan;
    }
    let fields: Vec<Field> = schema.fields().iter().take(width).map(|f| f.as_ref().clone()).collect();
    LogicalPlan::Project {
        input: Box::new(plan),
        exprs: (0..width).map(Expr::Column).collect(),
        schema: Arc::new(Schema::new(fields)),
    }
}

/// Whether a row exists (and, for `IN`, its first column) is all a semi, anti or mark join asks,
/// so a `DISTINCT`, an `ORDER BY` or a `LIMIT` of at least one row at the subquery's root changes
/// nothing and goes (which also lets a correlated condition below it be pulled up).
fn strip_for_existence(plan: LogicalPlan) -> LogicalPlan {
    match plan {
        LogicalPlan::Distinct { input } | LogicalPlan::Sort { input, fetch: None, .. } => strip_for_existence(*input),
        LogicalPlan::Limit { input, skip: 0, fetch } if fetch != Some(0) => strip_for_existence(*input),
        LogicalPlan::Sort { input, fetch: Some(n), .. } if n > 0 => strip_for_existence(*input),
        other => other,
    }
}

/// Rebinds a conjunct pulled out of a subquery onto the join's left+right columns: outer
/// references are the left columns, the subquery's own columns follow.
fn onto_join(pred: Expr, outer_len: usize) -> Expr {
    pred.transform(&mut |e| match e {
        Expr::Column(i) => Expr::Column(outer_len + i),
        Expr::OuterColumn { index, .. } => Expr::Column(index),
        other => other,
    })
}

/// The subquery `plan` without correlated references, and its correlated conditions bound over
/// the join's columns (the `outer_len` outer columns, then the returned plan's).
fn pull_up_correlated(plan: LogicalPlan, outer_len: usize) -> Result<(LogicalPlan, Vec<Expr>)> {
    let (plan, preds) = pull_up(plan)?;
    if let Some(expr) = first_outer_reference(&plan)? {
        return Err(EngineError::plan(format!(
            "a correlated reference in `{expr}` of a subquery is not supported yet (only in its WHERE)"
        )));
    }
    Ok((plan, preds.into_iter().map(|p| onto_join(p, outer_len)).collect()))
}

/// The correlated conditions pulled out of `plan`, bound over the subquery's columns (as
/// `Column`) and the outer query's (as `OuterColumn`); the returned plan keeps `plan`'s output
/// columns first and may add the columns the conditions need after them.
fn pull_up(plan: LogicalPlan) -> Result<(LogicalPlan, Vec<Expr>)> {
    match plan {
        LogicalPlan::Filter { input, predicate } => {
            let (input, mut preds) = pull_up(*input)?;
            let (correlated, local): (Vec<Expr>, Vec<Expr>) =
                predicate.split_conjunction().into_iter().partition(has_outer_reference);
            preds.extend(correlated);
            Ok(match Expr::conjunction(local) {
                Some(predicate) => (LogicalPlan::Filter { input: Box::new(input), predicate }, preds),
                None => (input, preds),
            })
        }
        LogicalPlan::Project { input, mut exprs, schema } => {
            let (input, preds) = pull_up(*input)?;
            if preds.is_empty() {
                return Ok((LogicalPlan::Project { input: Box::new(input), exprs, schema }, preds));
            }
            let input_schema = input.schema();
            let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            let mut needed = Vec::new();
            for p in &preds {
                p.collect_columns(&mut needed);
            }
            let mut moved = Vec::new();
            for c in needed {
                moved.push((c, exprs.len()));
                exprs.push(Expr::Column(c));
                fields.push(input_schema.field(c).clone());
            }
            let preds = preds
                .into_iter()
                .map(|p| p.remap_columns(&|c| moved.iter().find(|(old, _)| *old == c).map_or(c, |(_, new)| *new)))
                .collect();
            Ok((LogicalPlan::Project { input: Box::new(input), exprs, schema: Arc::new(Schema::new(fields)) }, preds))
        }
        LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
            let (input, preds) = pull_up(*input)?;
            if preds.is_empty() {
                return Ok((LogicalPlan::Aggregate { input: Box::new(input), group_by, aggregates, schema }, preds));
            }
            pull_up_aggregate(input, group_by, aggregates, schema, preds)
        }
        LogicalPlan::Sort { input, keys, fetch: None } => {
            let (input, preds) = pull_up(*input)?;
            Ok((LogicalPlan::Sort { input: Box::new(input), keys, fetch: None }, preds))
        }
        LogicalPlan::Join { left, right, join_type, on, filter, schema } => {
            let old_left = left.schema().fields().len();
            let (left, left_preds) = pull_up(*left)?;
            let (right, right_preds) = pull_up(*right)?;
            let sides = PulledSides { left, right, left_preds, right_preds, old_left };
            pull_up_join(sides, join_type, on, filter, schema)
        }
        other => {
            let other = map_inputs(other, &mut |input| {
                let (input, preds) = pull_up(input)?;
                if preds.is_empty() {
                    Ok(input)
                } else {
                    Err(EngineError::plan(
                        "a correlated condition under a LIMIT, DISTINCT or set operation of a subquery is not supported yet"
                            .to_string(),
                    ))
                }
            })?;
            Ok((other, Vec::new()))
        }
    }
}

/// Through an aggregate, each correlated condition `inner = outer` makes `inner` a group key: the
/// aggregate is computed once per correlation key instead of once per outer row.
fn pull_up_aggregate(
    input: LogicalPlan,
    mut group_by: Vec<Expr>,
    aggregates: Vec<crate::plan::AggregateExpr>,
    schema: SchemaRef,
    preds: Vec<Expr>,
) -> Result<(LogicalPlan, Vec<Expr>)> {
    let input_schema = input.schema();
    let groups = group_by.len();
    let mut keys = Vec::new();
    let mut outer_sides = Vec::new();
    for p in preds {
        let Some((inner, outer)) = inner_outer_equality(&p) else {
            return Err(EngineError::plan(format!(
                "a correlated condition under an aggregate must be an equality of a subquery column and an outer one, not `{p}`"
            )));
        };
        keys.push(inner);
        outer_sides.push(outer);
    }
    let mut key_positions = Vec::new();
    for key in keys {
        let position = match group_by.iter().position(|g| *g == key) {
            Some(p) => p,
            None => {
                group_by.push(key);
                group_by.len() - 1
            }
        };
        key_positions.push(position);
    }
    let added = group_by.len() - groups;
    let mut fields: Vec<Field> = schema.fields()[..groups].iter().map(|f| f.as_ref().clone()).collect();
    for key in &group_by[groups..] {
        fields.push(Field::new("__correlation_key", key.data_type(&input_schema), true));
    }
    fields.extend(schema.fields()[groups..].iter().map(|f| f.as_ref().clone()));
    let aggregate = LogicalPlan::Aggregate {
        input: Box::new(input),
        group_by,
        aggregates,
        schema: Arc::new(Schema::new(fields.clone())),
    };
    // Put the added keys after the original output so the output columns keep their places.
    let width = schema.fields().len();
    let old_position = |i: usize| if i < groups { i } else { i + added };
    let mut exprs: Vec<Expr> = (0..width).map(|i| Expr::Column(old_position(i))).collect();
    let mut out_fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for k in 0..added {
        exprs.push(Expr::Column(groups + k));
        out_fields.push(fields[groups + k].clone());
    }
    let project = LogicalPlan::Project { input: Box::new(aggregate), exprs, schema: Arc::new(Schema::new(out_fields)) };
    let preds = key_positions
        .into_iter()
        .zip(outer_sides)
        .map(|(p, outer)| {
            let column = if p < groups { p } else { width + (p - groups) };
            Expr::binary(Expr::Column(column), BinaryOp::Eq, outer)
        })
        .collect();
    Ok((project, preds))
}

/// `(inner, outer)` when `pred` is `inner = outer` with one side only over the subquery's columns
/// and the other only over outer ones.
fn inner_outer_equality(pred: &Expr) -> Option<(Expr, Expr)> {
    let Expr::Binary { op: BinaryOp::Eq, left, right } = pred else { return None };
    let inner_only = |e: &Expr| {
        !has_outer_reference(e) && {
            let mut c = Vec::new();
            e.collect_columns(&mut c);
            !c.is_empty()
        }
    };
    let outer_only = |e: &Expr| {
        has_outer_reference(e) && {
            let mut c = Vec::new();
            e.collect_columns(&mut c);
            c.is_empty()
        }
    };
    if inner_only(left) && outer_only(right) {
        Some((left.as_ref().clone(), right.as_ref().clone()))
    } else if inner_only(right) && outer_only(left) {
        Some((right.as_ref().clone(), left.as_ref().clone()))
    } else {
        None
    }
}

/// Both inputs of a join inside a subquery after pulling up, with the left input's width before.
struct PulledSides {
    left: LogicalPlan,
    right: LogicalPlan,
    left_preds: Vec<Expr>,
    right_preds: Vec<Expr>,
    old_left: usize,
}

/// A join inside a subquery: conditions pulled from a side whose rows the join keeps as they are
/// (either side of an inner join, the left of a left, semi or anti join) move above it. Columns
/// the sides added go after the join's own output.
fn pull_up_join(
    sides: PulledSides,
    join_type: JoinType,
    on: Vec<(Expr, Expr)>,
    filter: Option<Expr>,
    schema: SchemaRef,
) -> Result<(LogicalPlan, Vec<Expr>)> {
    let PulledSides { left, right, left_preds, right_preds, old_left } = sides;
    let keeps_left = matches!(
        join_type,
        JoinType::Inner | JoinType::Cross | JoinType::Left | JoinType::Semi | JoinType::Anti | JoinType::NullAwareAnti
    );
    let keeps_right = matches!(join_type, JoinType::Inner | JoinType::Cross);
    if (!left_preds.is_empty() && !keeps_left) || (!right_preds.is_empty() && !keeps_right) {
        return Err(EngineError::plan(format!(
            "a correlated condition under the padded side of a {join_type:?} join of a subquery is not supported yet"
        )));
    }
    let old_width = schema.fields().len();
    let new_left = left.schema().fields().len();
    let left_extra = new_left - old_left;
    // The join's own condition reads the old left width: shift its right columns.
    let filter = filter.map(|f| f.remap_columns(&|c| if c < old_left { c } else { c + left_extra }));
    let new_schema = join_schema(&left.schema(), &right.schema(), join_type);
    let plan =
        LogicalPlan::Join { left: Box::new(left), right: Box::new(right), join_type, on, filter, schema: new_schema };
    let new_width = plan.schema().fields().len();
    let right_old = if join_type.emits_right() { old_width - old_left } else { 0 };
    let right_new = if join_type.emits_right() { new_width - new_left } else { 0 };
    // The old output first, then the columns the left and the right side added.
    let mut order: Vec<usize> = (0..old_left).collect();
    order.extend((0..right_old).map(|i| new_left + i));
    order.extend((0..left_extra).map(|i| old_left + i));
    order.extend((right_old..right_new).map(|i| new_left + i));
    let position_of = |new: usize| order.iter().position(|o| *o == new).unwrap_or(new);
    let preds: Vec<Expr> = left_preds
        .into_iter()
        .map(|p| p.remap_columns(&position_of))
        .chain(right_preds.into_iter().map(|p| p.remap_columns(&|c| position_of(new_left + c))))
        .collect();
    if order.iter().enumerate().all(|(i, o)| i == *o) {
        return Ok((plan, preds));
    }
    let plan_schema = plan.schema();
    let fields: Vec<Field> = order.iter().map(|i| plan_schema.field(*i).clone()).collect();
    let project = LogicalPlan::Project {
        input: Box::new(plan),
        exprs: order.into_iter().map(Expr::Column).collect(),
        schema: Arc::new(Schema::new(fields)),
    };
    Ok((project, preds))
}

/// Whether `plan` reads a column of the enclosing query anywhere.
fn plan_has_outer_reference(plan: &LogicalPlan) -> bool {
    // The visitor never fails; an error would only make the caller take the general path.
    first_outer_reference(plan).map_or(true, |found| found.is_some())
}

/// Aggregates whose value over no rows is not NULL (`COUNT` is 0).
fn never_null_over_no_rows(name: &str) -> bool {
    matches!(name, "count" | "approx_distinct")
}

fn has_outer_reference(expr: &Expr) -> bool {
    matches!(expr, Expr::OuterColumn { .. }) || expr.children().into_iter().any(has_outer_reference)
}

/// The first expression of `plan` still holding a correlated reference.
fn first_outer_reference(plan: &LogicalPlan) -> Result<Option<Expr>> {
    let mut found = None;
    transform_up(plan.clone(), &mut |node| {
        map_expressions(node, &mut |e| {
            if found.is_none() && has_outer_reference(&e) {
                found = Some(e.clone());
            }
            Ok(e)
        })
    })?;
    Ok(found)
}

/// The row an ungrouped aggregate at the root of `plan` (under projections) gives for no input
/// rows, as constant expressions: `COUNT` is 0, every other aggregate NULL.
fn empty_row(plan: &LogicalPlan) -> Option<Vec<Expr>> {
    match plan {
        LogicalPlan::Aggregate { group_by, aggregates, .. } if group_by.is_empty() => Some(
            aggregates
                .iter()
                .map(|a| match a.name.as_str() {
                    name if never_null_over_no_rows(name) => Expr::Literal(ScalarValue::Int64(Some(0))),
                    _ => Expr::Literal(ScalarValue::null_of(&a.return_type).unwrap_or(ScalarValue::Null)),
                })
                .collect(),
        ),
        LogicalPlan::Project { input, exprs, .. } => {
            let row = empty_row(input)?;
            Some(
                exprs
                    .iter()
                    .map(|e| {
                        e.clone().transform(&mut |x| match x {
                            Expr::Column(i) => row[i].clone(),
                            other => other,
                        })
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// `plan` with a constant `true` column added last (what tells a matched row from a padded one).
fn with_true_column(plan: LogicalPlan) -> LogicalPlan {
    let schema = plan.schema();
    let width = schema.fields().len();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("__matched", DataType::Boolean, false));
    let mut exprs: Vec<Expr> = (0..width).map(Expr::Column).collect();
    exprs.push(Expr::Literal(ScalarValue::Boolean(Some(true))));
    LogicalPlan::Project { input: Box::new(plan), exprs, schema: Arc::new(Schema::new(fields)) }
}
