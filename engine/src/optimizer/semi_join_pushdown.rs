//! Moves a semi or anti join below the inner joins of its left input, onto the one input its
//! left keys and residual read. Decorrelation puts `x IN (subquery)` and `EXISTS` on top of the
//! whole `FROM` tree, so without this rule every row of that tree is built before the subquery
//! filters it (TPC-H q18: `orders ⋈ customer ⋈ lineitem` joins all 1.5M orders before the
//! `IN` keeps 57). Placed on `orders`, the filter shrinks the input join reordering sees.
//!
//! The move is exact because these joins are per-row filters of their left input: whether a left
//! row survives depends only on that row's columns and on the whole right side, never on other
//! left rows. An inner join's output row is a pair of input rows, so filtering one input by a
//! test of its own columns drops exactly the pairs the filter above would drop. The same holds
//! through filters (filters commute) and through projections that pass the tested columns
//! through unchanged. `NullAwareAnti` qualifies too (its "right side holds a NULL" and "right side
//! is empty" tests read only the right side). Mark joins stay: their mark column is appended
//! after the left columns, so below an inner join it would sit in the middle of the row.

use crate::error::Result;
use crate::optimizer::tree::transform_up;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{Expr, JoinType, LogicalPlan};
use crate::sql::binder::join_schema;

pub struct SemiJoinPushdown;

impl Rule for SemiJoinPushdown {
    fn name(&self) -> &str {
        "semi_join_pushdown"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        transform_up(plan, &mut |node| {
            Ok(match node {
                LogicalPlan::Join { left, right, join_type, on, filter, schema } if is_filtering(join_type) => {
                    let semi = Semi { right: *right, join_type, on, filter };
                    let width = schema.fields().len();
                    place(*left, semi, width)
                }
                other => other,
            })
        })
    }
}

/// Joins that keep or drop each left row and output only the left columns.
fn is_filtering(join_type: JoinType) -> bool {
    matches!(join_type, JoinType::Semi | JoinType::Anti | JoinType::NullAwareAnti)
}

/// A semi or anti join without its left input. `on` left expressions and `filter` are bound to
/// the left input it sits on (filter: its columns, then the right side's).
struct Semi {
    right: LogicalPlan,
    join_type: JoinType,
    on: Vec<(Expr, Expr)>,
    filter: Option<Expr>,
}

impl Semi {
    /// Left-input columns the join reads, given that input's width.
    fn left_columns(&self, width: usize) -> Vec<usize> {
        let mut columns = Vec::new();
        for (l, _) in &self.on {
            l.collect_columns(&mut columns);
        }
        let mut in_filter = Vec::new();
        if let Some(f) = &self.filter {
            f.collect_columns(&mut in_filter);
        }
        columns.extend(in_filter.into_iter().filter(|&c| c < width));
        columns
    }

    /// The join rebound to a new left input of `new_width` columns, where `map` gives the new
    /// index of each left column the join reads (of the old left input, `old_width` wide).
    fn rebind(self, old_width: usize, new_width: usize, map: &dyn Fn(usize) -> usize) -> Semi {
        let on = self.on.into_iter().map(|(l, r)| (l.remap_columns(map), r)).collect();
        let filter =
            self.filter.map(|f| f.remap_columns(&|c| if c < old_width { map(c) } else { c - old_width + new_width }));
        Semi { right: self.right, join_type: self.join_type, on, filter }
    }

    /// The join on `left`, at this level.
    fn build(self, left: LogicalPlan) -> LogicalPlan {
        let schema = join_schema(&left.schema(), &self.right.schema(), self.join_type);
        LogicalPlan::Join {
            left: Box::new(left),
            right: Box::new(self.right),
            join_type: self.join_type,
            on: self.on,
            filter: self.filter,
            schema,
        }
    }
}

/// `semi` placed on `left` (`width` columns wide) as deep as it stays exact.
fn place(left: LogicalPlan, semi: Semi, width: usize) -> LogicalPlan {
    let columns = semi.left_columns(width);
    if columns.is_empty() {
        // An uncorrelated test keeps all rows or none: no input is better than another.
        return semi.build(left);
    }
    match left {
        LogicalPlan::Join {
            left: l,
            right: r,
            join_type: join_type @ (JoinType::Inner | JoinType::Cross),
            on,
            filter,
            schema,
        } => {
            let l_width = l.schema().fields().len();
            let r_width = width - l_width;
            let (l, r) = if columns.iter().all(|&c| c < l_width) {
                let semi = semi.rebind(width, l_width, &|c| c);
                (Box::new(place(*l, semi, l_width)), r)
            } else if columns.iter().all(|&c| c >= l_width) {
                let semi = semi.rebind(width, r_width, &|c| c - l_width);
                (l, Box::new(place(*r, semi, r_width)))
            } else {
                let left = LogicalPlan::Join { left: l, right: r, join_type, on, filter, schema };
                return semi.build(left);
            };
            // Neither input's schema changed (these joins output exactly their left input's
            // columns), so the inner join keeps its schema, keys and filter.
            LogicalPlan::Join { left: l, right: r, join_type, on, filter, schema }
        }
        // Another filtering join below that stayed (its test reads both inputs of a join): it
        // keeps the columns in place, so this one may pass it like a filter.
        LogicalPlan::Join { left: l, right: r, join_type, on, filter, schema } if is_filtering(join_type) => {
            LogicalPlan::Join { left: Box::new(place(*l, semi, width)), right: r, join_type, on, filter, schema }
        }
        // Below a filter only on the way to a join: on top of a scan the filter should run first.
        LogicalPlan::Filter { input, predicate }
            if matches!(*input, LogicalPlan::Join { .. } | LogicalPlan::Project { .. }) =>
        {
            LogicalPlan::Filter { input: Box::new(place(*input, semi, width)), predicate }
        }
        LogicalPlan::Project { input, exprs, schema }
            if columns.iter().all(|&c| matches!(exprs[c], Expr::Column(_))) =>
        {
            let input_width = input.schema().fields().len();
            let source = |c: usize| match exprs[c] {
                Expr::Column(i) => i,
                // Invariant: checked by the guard above for every column the join reads.
                _ => c,
            };
            let semi = semi.rebind(width, input_width, &source);
            LogicalPlan::Project { input: Box::new(place(*input, semi, input_width)), exprs, schema }
        }
        other => semi.build(other),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::optimizer::verify_plan;
    use crate::plan::BinaryOp;

    /// Literal rows of nullable Int64 columns, one `Vec` per row (`None` is NULL).
    fn values(names: &[&str], rows: &[&[Option<i64>]]) -> LogicalPlan {
        let schema =
            Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Int64, true)).collect::<Vec<_>>()));
        let rows = rows
            .iter()
            .map(|r| r.iter().map(|v| Expr::Literal(crate::plan::ScalarValue::Int64(*v))).collect())
            .collect();
        LogicalPlan::Values { schema, rows }
    }

    fn join(
        left: LogicalPlan,
        right: LogicalPlan,
        join_type: JoinType,
        on: Vec<(usize, usize)>,
        filter: Option<Expr>,
    ) -> LogicalPlan {
        let schema = join_schema(&left.schema(), &right.schema(), join_type);
        let on = on.into_iter().map(|(l, r)| (Expr::Column(l), Expr::Column(r))).collect();
        LogicalPlan::Join { left: Box::new(left), right: Box::new(right), join_type, on, filter, schema }
    }

    fn pushed(plan: LogicalPlan) -> LogicalPlan {
        let schema = plan.schema();
        let ctx = OptimizerContext::new(Arc::new(crate::sql::binder::tests::test_functions()));
        let out = SemiJoinPushdown.rewrite(plan, &ctx).expect("rewrite");
        verify_plan(&out).unwrap_or_else(|e| panic!("{e}\n{}", out.display_indent()));
        assert_eq!(out.schema(), schema, "{}", out.display_indent());
        out
    }

    /// a(a0, a1) ⋈ b(b0, b1) on a0 = b0, then a semi/anti join of `keys` (left column, sub column).
    fn over_ab(join_type: JoinType, key: usize, filter: Option<Expr>) -> LogicalPlan {
        let a = values(&["a0", "a1"], &[&[Some(1), Some(10)], &[Some(2), None]]);
        let b = values(&["b0", "b1"], &[&[Some(1), Some(5)], &[Some(2), Some(6)]]);
        let sub = values(&["s0"], &[&[Some(5)], &[None]]);
        let ab = join(a, b, JoinType::Inner, vec![(0, 0)], None);
        join(ab, sub, join_type, vec![(key, 0)], filter)
    }

    #[test]
    fn moves_onto_the_right_input_with_rebased_keys() {
        let p = pushed(over_ab(JoinType::Semi, 3, None)).display_indent();
        // b1 is column #3 above the inner join and #1 of b.
        assert!(p.starts_with("Join Inner on=[#0 = #0]\n"), "{p}");
        assert!(p.contains("Join Semi on=[#1 = #0]"), "{p}");
    }

    #[test]
    fn residuals_are_rebased_and_two_sided_ones_stay() {
        // filter: b0 (#2) < s0 (#4 above: width 4).
        let f = Expr::binary(Expr::Column(2), BinaryOp::Lt, Expr::Column(4));
        let p = pushed(over_ab(JoinType::Semi, 3, Some(f))).display_indent();
        assert!(p.contains("Join Semi on=[#1 = #0] filter=(#0 < #2)"), "{p}");
        // a1 (#1) and b1 (#3): both inputs, so the semi join stays on top.
        let f = Expr::binary(Expr::Column(1), BinaryOp::Lt, Expr::Column(4));
        let p = pushed(over_ab(JoinType::Semi, 3, Some(f))).display_indent();
        assert!(p.starts_with("Join Semi on=[#3 = #0] filter=(#1 < #4)\n"), "{p}");
    }

    #[test]
    fn moves_through_several_levels_filters_and_projections() {
        let a = values(&["a0"], &[&[Some(1)]]);
        let b = values(&["b0", "b1"], &[&[Some(1), Some(2)]]);
        let c = values(&["c0", "c1"], &[&[Some(2), Some(3)]]);
        let sub = values(&["s0"], &[&[Some(3)]]);
        let ab = join(a, b, JoinType::Inner, vec![(0, 0)], None);
        let abc = join(ab, c, JoinType::Inner, vec![(2, 0)], None);
        let filtered = LogicalPlan::Filter {
            input: Box::new(abc),
            predicate: Expr::binary(Expr::Column(0), BinaryOp::Gt, Expr::Column(4)),
        };
        let exprs = vec![Expr::Column(4), Expr::Column(1), Expr::Column(0)];
        let fields: Vec<Field> = ["c1", "b0", "a0"].iter().map(|n| Field::new(*n, DataType::Int64, true)).collect();
        let projected =
            LogicalPlan::Project { input: Box::new(filtered), exprs, schema: Arc::new(Schema::new(fields)) };
        // Semi on b0 (#1 of the projection → #1 of abc → #0 of b).
        let p = pushed(join(projected, sub, JoinType::Semi, vec![(1, 0)], None)).display_indent();
        assert!(p.starts_with("Project"), "{p}");
        let semi_at = p.find("Join Semi on=[#0 = #0]").unwrap_or_else(|| panic!("{p}"));
        let b_scan = p.find("Values").and_then(|a| p[a + 1..].find("Values").map(|b| a + 1 + b));
        // The semi join sits right above b (the second input), under both inner joins.
        assert!(p[..semi_at].matches("Join Inner").count() == 2, "{p}");
        assert!(b_scan.is_some_and(|b| b > semi_at), "{p}");
    }

    #[test]
    fn anti_joins_move_and_keep_their_null_semantics() {
        let p = pushed(over_ab(JoinType::NullAwareAnti, 1, None));
        let text = p.display_indent();
        // a1 is column #1 of a: the anti join lands on the left input, still null-aware.
        assert!(text.contains("Join Inner on=[#0 = #0]\n  Join NullAwareAnti on=[#1 = #0]"), "{text}");
        let p = pushed(over_ab(JoinType::Anti, 3, None)).display_indent();
        assert!(p.contains("  Join Anti on=[#1 = #0]"), "{p}");
    }

    #[test]
    fn passes_a_semi_join_that_had_to_stay() {
        // Inner: a semi join on b0 (#2) < s0 that reads a1 (#1) too, so it stays on the join.
        let both = Expr::binary(Expr::Column(1), BinaryOp::Lt, Expr::Column(4));
        let stuck = over_ab(JoinType::Semi, 2, Some(both));
        let sub = values(&["t0"], &[&[Some(1)]]);
        let p = pushed(join(stuck, sub, JoinType::Anti, vec![(0, 0)], None)).display_indent();
        assert!(
            p.starts_with(
                "Join Semi on=[#2 = #0] filter=(#1 < #4)\n  Join Inner on=[#0 = #0]\n    Join Anti on=[#0 = #0]"
            ),
            "{p}"
        );
    }

    #[test]
    fn mark_joins_and_uncorrelated_tests_stay() {
        let mark = over_ab(JoinType::Mark, 3, None);
        assert_eq!(pushed(mark.clone()), mark);
        let a = values(&["a0"], &[&[Some(1)]]);
        let b = values(&["b0"], &[&[Some(1)]]);
        let sub = values(&["s0"], &[&[Some(3)]]);
        let exists = join(join(a, b, JoinType::Inner, vec![(0, 0)], None), sub, JoinType::Semi, vec![], None);
        assert_eq!(pushed(exists.clone()), exists);
    }
}
