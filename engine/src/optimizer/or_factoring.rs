//! Pulls the conjuncts every branch of an `OR` shares out in front of it:
//! `(a AND b) OR (a AND c)` becomes `a AND (b OR c)`. TPC-H Q19 writes its join key inside each of
//! three `OR` branches; factored out, `p_partkey = l_partkey` is an equi-key the filter pushdown
//! turns into a hash join instead of a cross join. Exact under SQL's three-valued logic (AND
//! distributes over OR there too), so it applies to every expression, not only filters.

use crate::error::Result;
use crate::optimizer::tree::{map_expressions, transform_up};
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{BinaryOp, Expr, LogicalPlan};

pub struct OrFactoring;

impl Rule for OrFactoring {
    fn name(&self) -> &str {
        "or_factoring"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        transform_up(plan, &mut |node| map_expressions(node, &mut |e| Ok(factor(e))))
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

    #[test]
    fn absorbed_and_untouched() {
        assert_eq!(factor(or(col(0), col(0).and(col(1)))), col(0));
        let plain = or(col(0), col(1));
        assert_eq!(factor(plain.clone()), plain);
        let nested = col(5).and(or(col(0).and(col(1)), col(0).and(col(2))));
        assert_eq!(factor(nested), col(5).and(col(0).and(or(col(1), col(2)))));
    }
}
