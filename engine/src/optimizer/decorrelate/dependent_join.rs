//! The general unnesting of a correlated subquery, for the shapes whose correlated conditions
//! cannot simply be pulled up into the join condition: correlated columns in the select list or
//! `HAVING`, non-equality correlation under an aggregate, correlation in a join's `ON` or below a
//! window. Following Neumann and Kemper ("Unnesting Arbitrary Queries") and DuckDB's delim join:
//! the distinct values `D` of the outer columns the subquery reads are computed once, pushed down
//! the subquery's plan to where its correlated references are (joined there with the
//! uncorrelated input), and carried up as extra columns: every aggregate groups by them, every
//! window partitions by them. The subquery then runs once for all outer rows, and joins back to
//! the outer query on those columns (equal, NULL matching NULL).
//!
//! An ungrouped aggregate gives one row even over no input (`COUNT` 0, others NULL): after
//! grouping by `D`, a value of `D` without input would have no row, so the grouped result is
//! left-joined back onto `D` and `COUNT`s of padded rows become 0 again before anything above
//! (`HAVING`, arithmetic in the select list) reads them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::error::{EngineError, Result};
use crate::optimizer::tree::{map_expressions, transform_up};
use crate::plan::window::{WindowExpr, WindowFrame};
use crate::plan::{AggregateExpr, BinaryOp, Expr, JoinType, LogicalPlan, ScalarValue, SortExpr};
use crate::sql::binder::{join_schema, split_join_predicate};

use super::{has_outer_reference, plan_has_outer_reference};

/// `plan` (reading `outer`'s columns through `Expr::OuterColumn`) rewritten to run once over the
/// distinct outer values; returns it (its own columns, then the outer columns it read) and the
/// conditions joining it to `outer`, bound over `outer`'s columns then the returned plan's.
pub(super) fn unnest(outer: &LogicalPlan, plan: LogicalPlan) -> Result<(LogicalPlan, Vec<Expr>)> {
    let mut columns = collect_outer_columns(&plan)?;
    columns.sort_unstable();
    let outer_schema = outer.schema();
    let fields: Vec<Field> =
        columns.iter().map(|c| outer_schema.field(*c).as_ref().clone().with_nullable(true)).collect();
    let distinct = LogicalPlan::Distinct {
        input: Box::new(LogicalPlan::Project {
            input: Box::new(outer.clone()),
            exprs: columns.iter().map(|c| Expr::Column(*c)).collect(),
            schema: Arc::new(Schema::new(fields.clone())),
        }),
    };
    let delim = Delim { columns, fields, plan: distinct };
    let width = plan.schema().fields().len();
    let right = delim.push(plan)?;
    let outer_len = outer_schema.fields().len();
    let conditions = delim
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let nullable = outer_schema.field(*c).is_nullable();
            null_safe_eq(Expr::Column(*c), Expr::Column(outer_len + width + j), &delim.fields[j], nullable)
        })
        .collect::<Vec<_>>()
        .concat();
    Ok((right, conditions))
}

/// The distinct outer values pushed into a subquery: which outer columns, their fields, and the
/// plan computing them.
struct Delim {
    columns: Vec<usize>,
    fields: Vec<Field>,
    plan: LogicalPlan,
}

impl Delim {
    fn len(&self) -> usize {
        self.columns.len()
    }

    /// `e` with each correlated reference replaced by the delim column at `base + j`.
    fn bind(&self, e: Expr, base: usize) -> Expr {
        e.transform(&mut |x| match x {
            Expr::OuterColumn { index, data_type } => match self.columns.iter().position(|c| *c == index) {
                Some(j) => Expr::Column(base + j),
                None => Expr::OuterColumn { index, data_type },
            },
            other => other,
        })
    }

    /// The delim columns' expressions when they start at `base`.
    fn columns_at(&self, base: usize) -> impl Iterator<Item = Expr> {
        (0..self.len()).map(move |j| Expr::Column(base + j))
    }

    /// `plan` with the delim columns appended to its output and every correlated reference in it
    /// bound to them.
    fn push(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        if !plan_has_outer_reference(&plan) {
            let schema = join_schema(&plan.schema(), &self.plan.schema(), JoinType::Cross);
            return Ok(LogicalPlan::Join {
                left: Box::new(plan),
                right: Box::new(self.plan.clone()),
                join_type: JoinType::Cross,
                on: vec![],
                filter: None,
                schema,
            });
        }
        match plan {
            LogicalPlan::Filter { input, predicate } => {
                let base = input.schema().fields().len();
                let input = self.push(*input)?;
                Ok(LogicalPlan::Filter { input: Box::new(input), predicate: self.bind(predicate, base) })
            }
            LogicalPlan::Project { input, exprs, schema } => {
                let base = input.schema().fields().len();
                let input = self.push(*input)?;
                let mut exprs: Vec<Expr> = exprs.into_iter().map(|e| self.bind(e, base)).collect();
                exprs.extend(self.columns_at(base));
                Ok(LogicalPlan::Project { input: Box::new(input), exprs, schema: self.extended(&schema) })
            }
            LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
                self.push_aggregate(*input, group_by, aggregates, &schema)
            }
            LogicalPlan::Distinct { input } => Ok(LogicalPlan::Distinct { input: Box::new(self.push(*input)?) }),
            LogicalPlan::Sort { input, keys, fetch: None } => {
                let base = input.schema().fields().len();
                let input = self.push(*input)?;
                let keys = keys.into_iter().map(|k| SortExpr { expr: self.bind(k.expr, base), ..k }).collect();
                Ok(LogicalPlan::Sort { input: Box::new(input), keys, fetch: None })
            }
            LogicalPlan::Window { input, window_exprs, schema } => {
                let base = input.schema().fields().len();
                let input = self.push(*input)?;
                let window_exprs = window_exprs
                    .into_iter()
                    .map(|mut w| {
                        w.args = w.args.into_iter().map(|e| self.bind(e, base)).collect();
                        w.partition_by = w.partition_by.into_iter().map(|e| self.bind(e, base)).collect();
                        w.partition_by.extend(self.columns_at(base));
                        w.order_by =
                            w.order_by.into_iter().map(|k| SortExpr { expr: self.bind(k.expr, base), ..k }).collect();
                        w
                    })
                    .collect::<Vec<_>>();
                // Window output: input (with the delim columns), then the window values; move the
                // delim columns last.
                let windows = window_exprs.len();
                let mut fields: Vec<Field> = input.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.extend(schema.fields()[base..].iter().map(|f| f.as_ref().clone()));
                let window =
                    LogicalPlan::Window { input: Box::new(input), window_exprs, schema: Arc::new(Schema::new(fields)) };
                let mut order: Vec<usize> = (0..base).collect();
                order.extend((0..windows).map(|i| base + self.len() + i));
                order.extend((0..self.len()).map(|j| base + j));
                Ok(reorder(window, &order))
            }
            LogicalPlan::Union { inputs, schema } => {
                let inputs = inputs.into_iter().map(|i| self.push(i)).collect::<Result<Vec<_>>>()?;
                Ok(LogicalPlan::Union { inputs, schema: self.extended(&schema) })
            }
            LogicalPlan::Join { left, right, join_type, on, filter, schema: _ } => {
                self.push_join(*left, *right, join_type, on, filter)
            }
            LogicalPlan::Sort { input, keys, fetch: Some(fetch) } => self.push_limit(*input, keys, 0, Some(fetch)),
            LogicalPlan::Limit { input, skip, fetch } => match *input {
                LogicalPlan::Sort { input, keys, fetch: sort_fetch } => {
                    let end =
                        fetch.map_or(usize::MAX, |f| skip.saturating_add(f)).min(sort_fetch.unwrap_or(usize::MAX));
                    let fetch = (end != usize::MAX).then(|| end.saturating_sub(skip));
                    self.push_limit(*input, keys, skip, fetch)
                }
                input => self.push_limit(input, Vec::new(), skip, fetch),
            },
            other => Err(EngineError::Internal(format!(
                "a correlated reference in a plan node without inputs: {}",
                other.display_indent().trim()
            ))),
        }
    }

    /// A `LIMIT` (a top-N with `keys`) applied to each outer value's rows: they are numbered in
    /// sort order per delim value and the numbers in `(skip, skip + fetch]` are kept.
    fn push_limit(
        &self,
        input: LogicalPlan,
        keys: Vec<SortExpr>,
        skip: usize,
        fetch: Option<usize>,
    ) -> Result<LogicalPlan> {
        let base = input.schema().fields().len();
        let input = self.push(input)?;
        let k = self.len();
        let number = WindowExpr {
            name: "row_number".to_string(),
            args: vec![],
            distinct: false,
            partition_by: self.columns_at(base).collect(),
            order_by: keys.into_iter().map(|key| SortExpr { expr: self.bind(key.expr, base), ..key }).collect(),
            frame: WindowFrame::default_frame(),
            return_type: DataType::Int64,
        };
        let mut fields: Vec<Field> = input.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("__row_number", DataType::Int64, false));
        let numbered = LogicalPlan::Window {
            input: Box::new(input),
            window_exprs: vec![number],
            schema: Arc::new(Schema::new(fields)),
        };
        let row = Expr::Column(base + k);
        let bound = |n: usize| Expr::Literal(ScalarValue::Int64(Some(i64::try_from(n).unwrap_or(i64::MAX))));
        let mut predicate = Expr::binary(row.clone(), BinaryOp::Gt, bound(skip));
        if let Some(fetch) = fetch {
            predicate = predicate.and(Expr::binary(row, BinaryOp::LtEq, bound(skip.saturating_add(fetch))));
        }
        let kept = LogicalPlan::Filter { input: Box::new(numbered), predicate };
        Ok(reorder(kept, &(0..base + k).collect::<Vec<_>>()))
    }

    /// `schema` with the delim columns' fields appended.
    fn extended(&self, schema: &Schema) -> Arc<Schema> {
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(self.fields.iter().cloned());
        Arc::new(Schema::new(fields))
    }

    /// An aggregate grouped by the delim columns too; an ungrouped one is left-joined back onto
    /// the delim values so each has its row, with `COUNT` 0 where it had no input.
    fn push_aggregate(
        &self,
        input: LogicalPlan,
        group_by: Vec<Expr>,
        aggregates: Vec<AggregateExpr>,
        schema: &Schema,
    ) -> Result<LogicalPlan> {
        let base = input.schema().fields().len();
        let input = self.push(input)?;
        let groups = group_by.len();
        let mut group_by: Vec<Expr> = group_by.into_iter().map(|e| self.bind(e, base)).collect();
        group_by.extend(self.columns_at(base));
        let aggregates: Vec<AggregateExpr> = aggregates
            .into_iter()
            .map(|mut a| {
                a.args = a.args.into_iter().map(|e| self.bind(e, base)).collect();
                a.filter = a.filter.map(|f| Box::new(self.bind(*f, base)));
                a
            })
            .collect();
        let count_like: Vec<bool> = aggregates.iter().map(|a| super::never_null_over_no_rows(&a.name)).collect();
        let mut fields: Vec<Field> = schema.fields()[..groups].iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(self.fields.iter().cloned());
        fields.extend(schema.fields()[groups..].iter().map(|f| f.as_ref().clone()));
        let aggregate = LogicalPlan::Aggregate {
            input: Box::new(input),
            group_by,
            aggregates,
            schema: Arc::new(Schema::new(fields)),
        };
        let values = schema.fields().len() - groups;
        let k = self.len();
        if groups > 0 {
            // groups, delim, values -> groups, values, delim
            let mut order: Vec<usize> = (0..groups).collect();
            order.extend((0..values).map(|i| groups + k + i));
            order.extend((0..k).map(|j| groups + j));
            return Ok(reorder(aggregate, &order));
        }
        // delim ⟕ (delim, values) on the delim columns, NULL matching NULL.
        let conditions: Vec<Expr> =
            (0..k).flat_map(|j| null_safe_eq(Expr::Column(j), Expr::Column(k + j), &self.fields[j], true)).collect();
        let joined = join(self.plan.clone(), aggregate, JoinType::Left, conditions);
        let joined_schema = joined.schema();
        let mut exprs = Vec::new();
        let mut out_fields = Vec::new();
        for (i, count) in count_like.iter().enumerate() {
            let column = Expr::Column(2 * k + i);
            let field = joined_schema.field(2 * k + i).clone();
            if *count {
                let zero = Expr::Literal(ScalarValue::Int64(Some(0)));
                let padded = Expr::IsNull { expr: Box::new(column.clone()), negated: false };
                exprs.push(Expr::Case {
                    operand: None,
                    branches: vec![(padded, zero)],
                    else_expr: Some(Box::new(column)),
                });
                out_fields.push(field.with_nullable(false));
            } else {
                exprs.push(column);
                out_fields.push(field);
            }
        }
        exprs.extend(self.columns_at(0));
        out_fields.extend(self.fields.iter().cloned());
        Ok(LogicalPlan::Project { input: Box::new(joined), exprs, schema: Arc::new(Schema::new(out_fields)) })
    }

    /// A join inside the subquery: the delim columns go into the side(s) with correlated
    /// references (into the left one when only the join condition has them, or when the join
    /// keeps the left rows whole); when both sides get them they must also be equal.
    fn push_join(
        &self,
        left: LogicalPlan,
        right: LogicalPlan,
        join_type: JoinType,
        on: Vec<(Expr, Expr)>,
        filter: Option<Expr>,
    ) -> Result<LogicalPlan> {
        let in_left = plan_has_outer_reference(&left);
        let in_right = plan_has_outer_reference(&right);
        // A null-aware join's NULL rule looks at the whole right side, not one outer value's rows.
        let null_aware = matches!(join_type, JoinType::NullAwareAnti | JoinType::NullAwareMark) && in_right;
        if null_aware || matches!(join_type, JoinType::Right | JoinType::Full) {
            return Err(EngineError::plan(format!(
                "a correlated reference in a {join_type:?} join of a subquery is not supported yet"
            )));
        }
        let inner = matches!(join_type, JoinType::Inner | JoinType::Cross);
        let push_left = in_left || !in_right || !inner;
        let old_left = left.schema().fields().len();
        let old_right = right.schema().fields().len();
        let left = if push_left { self.push(left)? } else { left };
        let right = if in_right { self.push(right)? } else { right };
        let new_left = left.schema().fields().len();
        let k = self.len();
        // The condition over the new left+right columns; correlated references read the left
        // delim columns when there are some, else the right ones.
        let delim_base = if push_left { old_left } else { new_left + old_right };
        let shift = |c: usize| if c < old_left { c } else { c + (new_left - old_left) };
        let mut conditions: Vec<Expr> = on
            .into_iter()
            .map(|(l, r)| {
                let l = self.bind(l, delim_base);
                let r = self.bind(r.remap_columns(&|c| c + old_left).remap_columns(&shift), delim_base);
                Expr::binary(l, BinaryOp::Eq, r)
            })
            .collect();
        if let Some(filter) = filter {
            conditions.extend(self.bind(filter.remap_columns(&shift), delim_base).split_conjunction());
        }
        if push_left && in_right {
            for j in 0..k {
                let l = Expr::Column(old_left + j);
                let r = Expr::Column(new_left + old_right + j);
                conditions.extend(null_safe_eq(l, r, &self.fields[j], true));
            }
        }
        let join_type =
            if join_type == JoinType::Cross && !conditions.is_empty() { JoinType::Inner } else { join_type };
        let joined = join(left, right, join_type, conditions);
        let width = joined.schema().fields().len();
        let mut order: Vec<usize> = (0..old_left).collect();
        if join_type.emits_right() {
            order.extend((0..old_right).map(|i| new_left + i));
        }
        if join_type.is_mark() {
            order.push(width - 1);
        }
        order.extend((0..k).map(|j| delim_base + j));
        Ok(reorder(joined, &order))
    }
}

/// A join of `left` and `right` on `conditions` over their combined columns.
fn join(left: LogicalPlan, right: LogicalPlan, join_type: JoinType, conditions: Vec<Expr>) -> LogicalPlan {
    let left_len = left.schema().fields().len();
    let (on, filter) = match Expr::conjunction(conditions) {
        Some(c) => split_join_predicate(c, left_len),
        None => (Vec::new(), None),
    };
    let schema = join_schema(&left.schema(), &right.schema(), join_type);
    LogicalPlan::Join { left: Box::new(left), right: Box::new(right), join_type, on, filter, schema }
}

/// `plan`'s columns in `order` (no projection when that is the identity).
fn reorder(plan: LogicalPlan, order: &[usize]) -> LogicalPlan {
    let schema = plan.schema();
    if order.len() == schema.fields().len() && order.iter().enumerate().all(|(i, o)| i == *o) {
        return plan;
    }
    let fields: Vec<Field> = order.iter().map(|i| schema.field(*i).clone()).collect();
    LogicalPlan::Project {
        input: Box::new(plan),
        exprs: order.iter().map(|i| Expr::Column(*i)).collect(),
        schema: Arc::new(Schema::new(fields)),
    }
}

/// Conjuncts saying `a` and `b` (of `field`'s type) are equal or both NULL, as equi-keys a hash
/// join can use: whether each is NULL, and each with NULL replaced by a placeholder value.
fn null_safe_eq(a: Expr, b: Expr, field: &Field, nullable: bool) -> Vec<Expr> {
    if !nullable {
        return vec![Expr::binary(a, BinaryOp::Eq, b)];
    }
    let is_null = |e: &Expr| Expr::IsNull { expr: Box::new(e.clone()), negated: false };
    let null_flags = Expr::binary(is_null(&a), BinaryOp::Eq, is_null(&b));
    match placeholder(field.data_type()) {
        Some(value) => {
            let filled = |e: Expr| Expr::Case {
                operand: None,
                branches: vec![(is_null(&e), Expr::Literal(value.clone()))],
                else_expr: Some(Box::new(e)),
            };
            vec![null_flags, Expr::binary(filled(a), BinaryOp::Eq, filled(b))]
        }
        None => {
            let both_null = Expr::binary(is_null(&a), BinaryOp::And, is_null(&b));
            vec![null_flags, Expr::binary(Expr::binary(a, BinaryOp::Eq, b), BinaryOp::Or, both_null)]
        }
    }
}

/// A non-NULL value of `data_type` standing in for NULL in a null-safe join key.
fn placeholder(data_type: &DataType) -> Option<ScalarValue> {
    Some(match data_type {
        DataType::Boolean => ScalarValue::Boolean(Some(false)),
        DataType::Int8 => ScalarValue::Int8(Some(0)),
        DataType::Int16 => ScalarValue::Int16(Some(0)),
        DataType::Int32 => ScalarValue::Int32(Some(0)),
        DataType::Int64 => ScalarValue::Int64(Some(0)),
        DataType::Float32 => ScalarValue::Float32(Some(0.0)),
        DataType::Float64 => ScalarValue::Float64(Some(0.0)),
        DataType::Decimal128(p, s) => ScalarValue::Decimal128(Some(0), *p, *s),
        DataType::Utf8 => ScalarValue::Utf8(Some(String::new())),
        DataType::Date32 => ScalarValue::Date32(Some(0)),
        DataType::Timestamp(TimeUnit::Microsecond, None) => ScalarValue::TimestampMicros(Some(0)),
        _ => return None,
    })
}

/// Every outer column index read anywhere in `plan`.
fn collect_outer_columns(plan: &LogicalPlan) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    transform_up(plan.clone(), &mut |node| {
        map_expressions(node, &mut |e| {
            collect_in_expr(&e, &mut out);
            Ok(e)
        })
    })?;
    Ok(out)
}

fn collect_in_expr(e: &Expr, out: &mut Vec<usize>) {
    if let Expr::OuterColumn { index, .. } = e {
        if !out.contains(index) {
            out.push(*index);
        }
    }
    if has_outer_reference(e) {
        for child in e.children() {
            collect_in_expr(child, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::optimizer::{verify_plan, Decorrelation, Optimizer, OptimizerContext, Rule};
    use crate::sql::binder::tests::{bind_with, test_catalog, test_functions};

    /// `sql` decorrelated (and checked): no subquery and no correlated reference is left.
    fn decorrelated(sql: &str) -> String {
        let (_dir, catalog) = test_catalog();
        let plan = bind_with(&catalog, &test_functions(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let schema = plan.schema();
        let ctx = OptimizerContext::new(std::sync::Arc::new(test_functions()));
        let plan = Decorrelation.rewrite(plan, &ctx).unwrap_or_else(|e| panic!("{sql}: {e}"));
        verify_plan(&plan).unwrap_or_else(|e| panic!("{e}\n{}", plan.display_indent()));
        assert_eq!(plan.schema(), schema);
        let p = plan.display_indent();
        assert!(
            !p.contains("EXISTS") && !p.contains("SUBQUERY") && !p.contains(" IN (") && !p.contains("outer#"),
            "{p}"
        );
        // The rest of the optimizer accepts the result.
        Optimizer::new().optimize(plan, &ctx).unwrap_or_else(|e| panic!("{e}\n{p}"));
        p
    }

    #[test]
    fn select_list_correlation_runs_over_the_distinct_outer_values() {
        let p = decorrelated(
            "SELECT id, (SELECT max(amount) + o.amount FROM orders o2 WHERE o2.customer_id = o.customer_id) FROM orders o",
        );
        assert!(p.contains("Distinct"), "{p}");
        assert!(p.contains("Join Single"), "{p}");
        assert!(p.contains("Join Cross"), "{p}");
    }

    #[test]
    fn inequality_under_an_ungrouped_aggregate_keeps_count_zero() {
        let p = decorrelated("SELECT id, (SELECT count(*) FROM orders o2 WHERE o2.ts < o.ts) FROM orders o");
        // The grouped counts are joined back onto every distinct outer value, padded ones made 0.
        assert!(p.contains("Join Left"), "{p}");
        assert!(p.contains("THEN 0 ELSE"), "{p}");
        assert!(p.contains("Filter (#4 < #5)"), "{p}");
    }

    #[test]
    fn correlated_in_as_a_value_is_two_mark_joins() {
        let p = decorrelated(
            "SELECT id, customer_id IN (SELECT customer_id FROM orders o2 WHERE o2.amount > o.amount) FROM orders o",
        );
        assert_eq!(p.matches("Join Mark").count(), 2, "{p}");
        assert!(p.contains("CASE WHEN"), "{p}");
    }

    #[test]
    fn correlation_in_a_join_condition_and_having() {
        let p = decorrelated(
            "SELECT id, (SELECT count(*) FROM orders a JOIN customers c ON a.customer_id = c.id AND c.name = o.status) FROM orders o",
        );
        assert!(p.contains("Distinct"), "{p}");
        let p = decorrelated(
            "SELECT id, (SELECT count(*) FROM customers c WHERE c.id = o.customer_id HAVING count(*) < 2) FROM orders o",
        );
        assert!(p.contains("Join Left"), "{p}");
    }
}
