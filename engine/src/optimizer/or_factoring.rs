//! Pulls the conjuncts every branch of an `OR` shares out in front of it:
//! `(a AND b) OR (a AND c)` becomes `a AND (b OR c)`. TPC-H Q19 writes its join key inside each of
//! three `OR` branches; factored out, `p_partkey = l_partkey` is an equi-key the filter pushdown
//! turns into a hash join instead of a cross join. Exact under SQL's three-valued logic (AND
//! distributes over OR there too), so it applies to every expression, not only filters.
//!
//! In a filter it also adds, for each column every branch restricts on its own, the `OR` of
//! those restrictions (a "hull" the whole `OR` implies): Q19's branches each bound
//! `l_quantity`, `p_brand`, `p_container` and `p_size`, so `(l_quantity >= 1 AND l_quantity <=
//! 11) OR (l_quantity >= 10 AND ...)` can be pushed into the lineitem scan and the three
//! `p_*` hulls into the part scan, while the original `OR` stays above the join. Adding a
//! predicate the filter implies never changes which rows pass, so this is exact too; it is
//! only done in filters, where a row failing or being NULL are the same.

use crate::error::Result;
use crate::optimizer::constant_folding::repeatable;
use crate::optimizer::tree::{map_expressions, transform_up};
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{BinaryOp, Expr, LogicalPlan};

pub struct OrFactoring;

impl Rule for OrFactoring {
    fn name(&self) -> &str {
        "or_factoring"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        transform_up(plan, &mut |node| {
            Ok(match map_expressions(node, &mut |e| Ok(factor(e)))? {
                LogicalPlan::Filter { input, predicate } => {
                    LogicalPlan::Filter { input, predicate: with_hulls(predicate) }
                }
                other => other,
            })
        })
    }
}

/// `predicate` (a filter's) with, after its conjuncts, the per-column hulls of each of its `OR`
/// conjuncts (see the module doc).
fn with_hulls(predicate: Expr) -> Expr {
    let conjuncts = predicate.split_conjunction();
    let mut added: Vec<Expr> = Vec::new();
    for conjunct in &conjuncts {
        if !matches!(conjunct, Expr::Binary { op: BinaryOp::Or, .. }) {
            continue;
        }
        let branches: Vec<Vec<Expr>> = disjuncts(conjunct.clone()).into_iter().map(Expr::split_conjunction).collect();
        for hull in column_hulls(&branches) {
            if !conjuncts.contains(&hull) && !added.contains(&hull) {
                added.push(hull);
            }
        }
    }
    // Invariant: `conjuncts` came from splitting an expression, so it is not empty.
    Expr::conjunction(conjuncts.into_iter().chain(added)).expect("a predicate has a conjunct")
}

/// For each column that every branch restricts with conjuncts reading only that column, the
/// `OR` over the branches of those conjuncts. A column that is all a branch restricts in every
/// branch gives nothing: its hull would be the `OR` itself.
fn column_hulls(branches: &[Vec<Expr>]) -> Vec<Expr> {
    let Some(first) = branches.first() else { return Vec::new() };
    let mut columns: Vec<usize> = first.iter().filter_map(single_column).collect();
    columns.dedup();
    let mut hulls = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        if columns[..i].contains(column) {
            continue;
        }
        let on_column = |branch: &Vec<Expr>| -> Vec<Expr> {
            branch.iter().filter(|c| single_column(c) == Some(*column)).cloned().collect()
        };
        let parts: Vec<Vec<Expr>> = branches.iter().map(on_column).collect();
        if parts.iter().any(Vec::is_empty) || parts.iter().zip(branches).all(|(p, b)| p.len() == b.len()) {
            continue;
        }
        if let Some(hull) =
            parts.into_iter().filter_map(Expr::conjunction).reduce(|l, r| Expr::binary(l, BinaryOp::Or, r))
        {
            hulls.push(hull);
        }
    }
    hulls
}

/// The one column `e` reads, when it reads exactly one and evaluating it again elsewhere gives
/// the same answer ([`repeatable`]).
fn single_column(e: &Expr) -> Option<usize> {
    if !repeatable(e) {
        return None;
    }
    let mut columns = Vec::new();
    e.collect_columns(&mut columns);
    columns.sort_unstable();
    columns.dedup();
    match columns.as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

/// `e` with common conjuncts factored out of every `OR` reached through `AND`s and `OR`s.
fn factor(e: Expr) -> Expr {
    match e {
        Expr::Binary { op: BinaryOp::And, left, right } => factor(*left).and(factor(*right)),
        or @ Expr::Binary { op: BinaryOp::Or, .. } => {
            let branches: Vec<Vec<Expr>> = disjuncts(or).into_iter().map(|d| factor(d).split_conjunction()).collect();
            factor_branches(branches)
        }
        other => other,
    }
}

/// The branches of a chain of `OR`s, left to right.
fn disjuncts(e: Expr) -> Vec<Expr> {
    match e {
        Expr::Binary { op: BinaryOp::Or, left, right } => {
            let mut out = disjuncts(*left);
            out.extend(disjuncts(*right));
            out
        }
        other => vec![other],
    }
}

/// `OR` of the branches (each a list of conjuncts), with the conjuncts all share in front.
fn factor_branches(mut branches: Vec<Vec<Expr>>) -> Expr {
    let mut common = Vec::new();
    if let Some((first, rest)) = branches.split_first() {
        for c in first {
            if !common.contains(c) && rest.iter().all(|b| b.contains(c)) {
                common.push(c.clone());
            }
        }
    }
    for branch in &mut branches {
        branch.retain(|c| !common.contains(c));
    }
    // A branch left with nothing was exactly the common part: `a OR (a AND b)` is `a`.
    let rest = if branches.iter().any(Vec::is_empty) {
        None
    } else {
        branches.into_iter().filter_map(Expr::conjunction).reduce(|l, r| Expr::binary(l, BinaryOp::Or, r))
    };
    // Invariant: an OR has at least two branches, so `common` or `rest` is non-empty.
    Expr::conjunction(common.into_iter().chain(rest)).expect("an OR has branches")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(i: usize) -> Expr {
        Expr::binary(Expr::Column(i), BinaryOp::Eq, Expr::Column(i + 10))
    }

    fn or(l: Expr, r: Expr) -> Expr {
        Expr::binary(l, BinaryOp::Or, r)
    }

    #[test]
    fn shared_conjuncts_move_in_front() {
        let e = or(or(col(0).and(col(1)), col(2).and(col(0))), col(0).and(col(3)).and(col(4)));
        assert_eq!(factor(e), col(0).and(or(or(col(1), col(2)), col(3).and(col(4)))));
    }

    fn cmp(column: usize, op: BinaryOp, value: i64) -> Expr {
        Expr::binary(Expr::Column(column), op, Expr::lit(crate::plan::ScalarValue::Int64(Some(value))))
    }

    #[test]
    fn filters_gain_one_hull_per_column_every_branch_restricts() {
        // (#1 >= 1 AND #1 <= 11 AND #2 = 5 AND #0 = #10) OR (#1 >= 10 AND #0 = #10 AND #3 = 7)
        let b1 = cmp(1, BinaryOp::GtEq, 1).and(cmp(1, BinaryOp::LtEq, 11)).and(cmp(2, BinaryOp::Eq, 5)).and(col(0));
        let b2 = cmp(1, BinaryOp::GtEq, 10).and(col(0)).and(cmp(3, BinaryOp::Eq, 7));
        let predicate = or(b1, b2);
        let hull = or(cmp(1, BinaryOp::GtEq, 1).and(cmp(1, BinaryOp::LtEq, 11)), cmp(1, BinaryOp::GtEq, 10));
        // #2 and #3 are each restricted in one branch only; #0 = #10 reads two columns.
        assert_eq!(with_hulls(predicate.clone()), predicate.clone().and(hull.clone()));
        // Idempotent: a second pass adds nothing.
        assert_eq!(with_hulls(predicate.clone().and(hull.clone())), predicate.and(hull));
    }

    #[test]
    fn no_hull_when_it_would_repeat_the_or_or_is_not_repeatable() {
        let same_column = or(cmp(1, BinaryOp::Eq, 1), cmp(1, BinaryOp::Eq, 2).and(cmp(1, BinaryOp::LtEq, 9)));
        assert_eq!(with_hulls(same_column.clone()), same_column);
        let random =
            Expr::Function { name: "random".into(), args: vec![], return_type: arrow::datatypes::DataType::Float64 };
        let volatile = |branch: Expr| Expr::binary(Expr::Column(1), BinaryOp::Gt, random.clone()).and(branch);
        let predicate = or(volatile(col(4)), volatile(col(5)));
        assert_eq!(with_hulls(predicate.clone()), predicate);
        // Every volatile function counts, not only random(): a uuid() compared twice differs.
        let uuid = Expr::Function { name: "uuid".into(), args: vec![], return_type: arrow::datatypes::DataType::Utf8 };
        let fresh = |branch: Expr| Expr::binary(Expr::Column(2), BinaryOp::Eq, uuid.clone()).and(branch);
        let predicate = or(fresh(col(4)), fresh(col(5)));
        assert_eq!(with_hulls(predicate.clone()), predicate);
    }

    #[test]
    fn absorbed_and_untouched() {
        assert_eq!(factor(or(col(0), col(0).and(col(1)))), col(0));
        let plain = or(col(0), col(1));
        assert_eq!(factor(plain.clone()), plain);
        let nested = col(5).and(or(col(0).and(col(1)), col(0).and(col(2))));
        assert_eq!(factor(nested), col(5).and(col(0).and(or(col(1), col(2)))));
    }
}
