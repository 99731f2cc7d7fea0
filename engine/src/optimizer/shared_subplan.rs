//! Computes a repeated subplan once. A CTE used twice is inlined by the binder at each use (TPC-H
//! q15's view `revenue0` is scanned and aggregated once for the join with `supplier` and once for
//! `max(total_revenue)`); when the optimizer leaves both copies identical, this rule wraps every
//! copy in [`LogicalPlan::Shared`] with one id, and the physical planner runs the first copy as a
//! materialising stage that every copy reads (DuckDB materialises a CTE referenced twice too).
//!
//! It runs last, so each copy carries whatever filters and projections the other rules pushed
//! into it: a copy that received a different filter is a different plan and is not shared. Only
//! subplans worth a stage are shared: ones that read a table and aggregate or join (a bare scan
//! is cheaper to read twice than to buffer). Subplans with volatile functions (`random()`) or
//! leftover subquery expressions are never shared: two evaluations may differ. Shared subplans
//! nest: a part repeated more often than a shared plan around it (a CTE read directly and also
//! through another CTE used twice) is shared inside it too; a part whose copies all lie inside one
//! shared plan is computed once with it and not wrapped again. There is no cost model beyond
//! "used at least twice".

use std::collections::HashMap;

use crate::error::Result;
use crate::optimizer::constant_folding::repeatable;
use crate::optimizer::tree::map_inputs;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{Expr, LogicalPlan};

pub struct SharedSubplans;

impl Rule for SharedSubplans {
    fn name(&self) -> &str {
        "shared_subplans"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        let mut classes = Classes::default();
        classes.collect(&plan);
        if classes.members.iter().all(|(_, count)| *count < 2) {
            return Ok(plan);
        }
        let mut plan = classes.wrap(plan)?;
        // Every repeated subplan was wrapped, also inside other repeated ones; a wrapper whose
        // copies all lie inside copies of one other shared subplan is read once and removed.
        // Removing it leaves every other count as it was, so one pass finds them all.
        let mut uses = HashMap::new();
        count_uses(&plan, &mut uses);
        let single: Vec<usize> = uses.iter().filter(|(_, n)| **n < 2).map(|(id, _)| *id).collect();
        if !single.is_empty() {
            plan = Renumber { single, ids: HashMap::new() }.apply(plan)?;
        }
        Renumber { single: Vec::new(), ids: HashMap::new() }.apply(plan)
    }
}

/// The eligible subplans of a plan, grouped into classes of equal plans.
#[derive(Default)]
struct Classes {
    /// One representative per class and how often the class occurs.
    members: Vec<(LogicalPlan, usize)>,
    /// Classes by the representative's display text (a cheap key; equality decides).
    by_text: HashMap<String, Vec<usize>>,
}

impl Classes {
    /// Counts every eligible node of `plan` (inside other eligible nodes too: a repeated part
    /// may be repeated more often than the plan around it).
    fn collect(&mut self, plan: &LogicalPlan) {
        for input in plan.inputs() {
            self.collect(input);
        }
        if !worth_sharing(plan) {
            return;
        }
        let text = plan.display_indent();
        let candidates = self.by_text.entry(text).or_default();
        match candidates.iter().find(|c| self.members[**c].0 == *plan) {
            Some(class) => self.members[*class].1 += 1,
            None => {
                candidates.push(self.members.len());
                self.members.push((plan.clone(), 1));
            }
        }
    }

    /// The class of `plan` when it occurs at least twice.
    fn repeated_class(&self, plan: &LogicalPlan) -> Option<usize> {
        if !worth_sharing(plan) {
            return None;
        }
        let classes = self.by_text.get(&plan.display_indent())?;
        classes.iter().copied().find(|c| self.members[*c].0 == *plan).filter(|c| self.members[*c].1 >= 2)
    }

    /// Wraps every node of a repeated class, its inputs first, with the class as id (equal
    /// copies are wrapped alike, so they stay equal).
    fn wrap(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        let class = self.repeated_class(&plan);
        let plan = map_inputs(plan, &mut |input| self.wrap(input))?;
        Ok(match class {
            Some(id) => LogicalPlan::Shared { id, input: Box::new(plan) },
            None => plan,
        })
    }
}

/// How often each shared subplan is read once planned: the physical planner plans only one copy
/// of a shared subplan's input, so only the `Shared` nodes inside one copy count.
fn count_uses(plan: &LogicalPlan, uses: &mut HashMap<usize, usize>) {
    if let LogicalPlan::Shared { id, input } = plan {
        let count = uses.entry(*id).or_default();
        *count += 1;
        if *count == 1 {
            count_uses(input, uses);
        }
        return;
    }
    for input in plan.inputs() {
        count_uses(input, uses);
    }
}

/// Removes the `Shared` nodes of the `single` ids and numbers the others from 1 in the order a
/// walk from the root meets them.
struct Renumber {
    single: Vec<usize>,
    /// New id by old id.
    ids: HashMap<usize, usize>,
}

impl Renumber {
    fn apply(&mut self, plan: LogicalPlan) -> Result<LogicalPlan> {
        match plan {
            LogicalPlan::Shared { input, id } if self.single.contains(&id) => self.apply(*input),
            LogicalPlan::Shared { input, id } => {
                let next = self.ids.len() + 1;
                let id = *self.ids.entry(id).or_insert(next);
                Ok(LogicalPlan::Shared { id, input: Box::new(self.apply(*input)?) })
            }
            other => map_inputs(other, &mut |input| self.apply(input)),
        }
    }
}

/// Whether computing `plan` once is worth a materialising stage and safe: it reads a table and
/// aggregates or joins, is not shared already, and evaluates the same every time.
fn worth_sharing(plan: &LogicalPlan) -> bool {
    let mut summary = Summary::default();
    summary.add(plan);
    summary.scans && summary.work && summary.repeatable
}

/// What a subplan contains, gathered in one walk.
struct Summary {
    scans: bool,
    /// An aggregate, distinct or join.
    work: bool,
    /// No volatile function, subquery expression, outer column or shared node.
    repeatable: bool,
}

impl Default for Summary {
    fn default() -> Summary {
        Summary { scans: false, work: false, repeatable: true }
    }
}

impl Summary {
    fn add(&mut self, plan: &LogicalPlan) {
        match plan {
            LogicalPlan::Scan(_) => self.scans = true,
            LogicalPlan::Aggregate { .. } | LogicalPlan::Distinct { .. } | LogicalPlan::Join { .. } => self.work = true,
            LogicalPlan::Shared { .. } => self.repeatable = false,
            _ => {}
        }
        if self.repeatable && !node_expressions(plan).into_iter().all(repeatable) {
            self.repeatable = false;
        }
        for input in plan.inputs() {
            if !self.repeatable {
                return;
            }
            self.add(input);
        }
    }
}

/// The expressions `plan`'s own node holds (not its inputs').
fn node_expressions(plan: &LogicalPlan) -> Vec<&Expr> {
    match plan {
        LogicalPlan::Scan(scan) => scan.filters.iter().collect(),
        LogicalPlan::Values { rows, .. } => rows.iter().flatten().collect(),
        LogicalPlan::Filter { predicate, .. } => vec![predicate],
        LogicalPlan::Project { exprs, .. } => exprs.iter().collect(),
        LogicalPlan::Aggregate { group_by, aggregates, .. } => {
            group_by.iter().chain(aggregates.iter().flat_map(|a| a.args.iter().chain(a.filter.as_deref()))).collect()
        }
        LogicalPlan::Join { on, filter, .. } => on.iter().flat_map(|(l, r)| [l, r]).chain(filter.as_ref()).collect(),
        LogicalPlan::Sort { keys, .. } => keys.iter().map(|k| &k.expr).collect(),
        LogicalPlan::Window { window_exprs, .. } => window_exprs.iter().flat_map(|w| w.expressions()).collect(),
        LogicalPlan::Limit { .. }
        | LogicalPlan::Distinct { .. }
        | LogicalPlan::Union { .. }
        | LogicalPlan::Shared { .. } => vec![],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use crate::optimizer::{Optimizer, OptimizerContext};
    use crate::sql::binder::tests::{bind_with, test_catalog, test_functions};

    /// `sql` bound and run through every default rule, as `EXPLAIN` prints it.
    fn optimized(sql: &str) -> String {
        let (_dir, catalog) = test_catalog();
        let plan = bind_with(&catalog, &test_functions(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let ctx = OptimizerContext::new(Arc::new(test_functions()));
        Optimizer::new().optimize(plan, &ctx).unwrap_or_else(|e| panic!("{sql}: {e}")).display_indent()
    }

    /// The lines of `plan` that mark a shared subplan, trimmed.
    fn shared_lines(plan: &str) -> Vec<&str> {
        plan.lines().map(str::trim).filter(|l| l.starts_with("Shared")).collect()
    }

    const TOTALS: &str = "WITH totals AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id)";

    #[test]
    fn a_cte_aggregated_twice_is_computed_once() {
        let p = optimized(&format!(
            "{TOTALS} SELECT customer_id FROM totals WHERE total = (SELECT max(total) FROM totals)"
        ));
        assert_eq!(shared_lines(&p), ["Shared #1", "Shared #1"], "{p}");
        // Both copies share the aggregate over the scan (the projections above differ).
        assert_eq!(p.matches("Shared #1\n").count(), 2, "{p}");
        for (i, _) in p.lines().enumerate().filter(|(_, l)| l.trim() == "Shared #1") {
            let next = p.lines().nth(i + 1).unwrap_or_default();
            assert!(next.trim().starts_with("Aggregate group_by=[#0] aggregates=[sum(#1)]"), "{p}");
        }
    }

    #[test]
    fn a_copy_with_a_different_pushed_filter_is_not_shared() {
        let p = optimized(&format!(
            "{TOTALS} SELECT (SELECT max(total) FROM totals), (SELECT total FROM totals WHERE customer_id = 7)"
        ));
        assert!(shared_lines(&p).is_empty(), "{p}");
        assert!(p.contains("filters=[(#1 = 7)]"), "{p}");
        // The same query without the filter shares the aggregate.
        let p = optimized(&format!("{TOTALS} SELECT (SELECT max(total) FROM totals), (SELECT min(total) FROM totals)"));
        assert_eq!(shared_lines(&p), ["Shared #1", "Shared #1"], "{p}");
    }

    #[test]
    fn bare_scans_and_single_uses_are_not_shared() {
        let p = optimized("WITH o AS (SELECT * FROM orders) SELECT a.id FROM o a JOIN o b ON a.id = b.customer_id");
        assert!(shared_lines(&p).is_empty(), "{p}");
        let p = optimized(&format!("{TOTALS} SELECT max(total) FROM totals"));
        assert!(shared_lines(&p).is_empty(), "{p}");
    }

    #[test]
    fn the_largest_repeated_subplan_is_shared_and_numbered_in_order() {
        // The join of the two aggregates repeats as a whole: one shared subplan, not one per
        // aggregate inside it.
        let p = optimized(&format!(
            "{TOTALS}, pairs AS (SELECT a.customer_id, b.total FROM totals a JOIN totals b ON a.customer_id = b.customer_id)
             SELECT (SELECT count(total) FROM pairs), (SELECT max(total) FROM pairs)"
        ));
        assert_eq!(shared_lines(&p), ["Shared #1", "Shared #1"], "{p}");
        for (i, _) in p.lines().enumerate().filter(|(_, l)| l.trim() == "Shared #1") {
            let below = p.lines().skip(i + 1).map(str::trim).find(|l| !l.starts_with("Project"));
            assert!(below.is_some_and(|l| l.starts_with("Join Inner")), "{p}");
        }
        // Two different repeated subplans get ids 1 and 2.
        let p = optimized(&format!(
            "{TOTALS}, counts AS (SELECT status, count(*) AS n FROM orders GROUP BY status)
             SELECT (SELECT max(total) FROM totals), (SELECT min(total) FROM totals),
                    (SELECT max(n) FROM counts), (SELECT min(n) FROM counts)"
        ));
        let mut lines = shared_lines(&p);
        lines.sort();
        assert_eq!(lines, ["Shared #1", "Shared #1", "Shared #2", "Shared #2"], "{p}");
    }

    #[test]
    fn a_part_read_more_often_than_the_plan_around_it_is_shared_inside_it() {
        // The top-3 CTE is read by the outer query and by the decorrelated subquery, whose
        // plan (over the distinct totals) is itself repeated: the top-3 is computed once, and
        // the subquery's repeated parts read it.
        let p = optimized(
            "WITH top AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id
                          ORDER BY total DESC, customer_id LIMIT 3)
             SELECT t.customer_id, (SELECT count(*) FROM top u WHERE u.total >= t.total) FROM top t",
        );
        let mut uses = HashMap::new();
        let shared: Vec<&str> = shared_lines(&p);
        for line in &shared {
            *uses.entry(*line).or_insert(0) += 1;
        }
        let mut ids: Vec<&str> = uses.keys().copied().collect();
        ids.sort();
        assert_eq!(ids, ["Shared #1", "Shared #2", "Shared #3"], "{p}");
        let top = p.lines().position(|l| l.trim() == "Shared #1").map(|i| p.lines().nth(i + 1).unwrap_or_default());
        assert!(top.is_some_and(|l| l.trim() == "Limit skip=0 fetch=Some(3)"), "{p}");
    }

    #[test]
    fn identical_correlated_subqueries_share_their_decorrelated_plan() {
        let p = optimized(
            "SELECT id FROM orders o
             WHERE amount > (SELECT sum(amount) FROM orders i WHERE i.customer_id = o.customer_id) - 10
               AND amount < (SELECT sum(amount) FROM orders i WHERE i.customer_id = o.customer_id) + 10",
        );
        assert_eq!(shared_lines(&p), ["Shared #1", "Shared #1"], "{p}");
    }

    #[test]
    fn volatile_functions_and_subqueries_make_a_subplan_unrepeatable() {
        use arrow::datatypes::DataType;

        use super::repeatable;
        use crate::plan::{BinaryOp, Expr};
        let random = Expr::Function { name: "random".into(), args: vec![], return_type: DataType::Float64 };
        assert!(!repeatable(&Expr::binary(Expr::column(0), BinaryOp::Multiply, random)));
        let upper = Expr::Function { name: "upper".into(), args: vec![Expr::column(1)], return_type: DataType::Utf8 };
        assert!(repeatable(&Expr::binary(Expr::column(0), BinaryOp::Eq, upper)));
    }
}
