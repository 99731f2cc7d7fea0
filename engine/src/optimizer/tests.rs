//! Optimizer tests: each rule on plans bound from SQL over a real catalog.

use crate::optimizer::verify_plan;
use crate::optimizer::{
    ConstantFolding, Decorrelation, FilterPushdown, LimitPushdown, Optimizer, OptimizerContext, PartitionPruning,
    ProjectionPushdown, Rule,
};
use crate::plan::{Expr, LogicalPlan, ScalarValue};
use crate::sql::binder::tests::{bind_with, test_catalog, test_functions};

fn context() -> OptimizerContext {
    OptimizerContext::new(std::sync::Arc::new(test_functions()))
}

fn bound(sql: &str) -> LogicalPlan {
    let (_dir, catalog) = test_catalog();
    bind_with(&catalog, &test_functions(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `sql` bound, then rewritten by `rules` in order; the schema must not change.
fn run(sql: &str, rules: &[&dyn Rule]) -> String {
    let mut plan = bound(sql);
    let schema = plan.schema();
    let ctx = context();
    for rule in rules {
        plan = rule.rewrite(plan, &ctx).unwrap_or_else(|e| panic!("{}: {e}", rule.name()));
        verify_plan(&plan).unwrap_or_else(|e| panic!("{} broke the plan: {e}\n{}", rule.name(), plan.display_indent()));
    }
    assert_eq!(plan.schema(), schema, "{}", plan.display_indent());
    plan.display_indent()
}

#[test]
fn filters_reach_the_scan_through_projections() {
    let p =
        run("SELECT i FROM (SELECT id AS i, status FROM orders) x WHERE i > 5 AND status = 'paid'", &[&FilterPushdown]);
    assert!(!p.contains("Filter"), "{p}");
    assert!(
        p.contains(
            "Scan default.orders columns=[id, customer_id, amount, status, ts] filters=[(#0 > 5), (#3 = 'paid')]"
        ),
        "{p}"
    );
}

#[test]
fn filters_split_across_join_sides_and_cross_joins_become_hash_joins() {
    let p = run(
        "SELECT o.id FROM orders o, customers c WHERE o.customer_id = c.id AND c.region = 'eu' AND o.id > 1 AND o.status <> c.name",
        &[&FilterPushdown],
    );
    assert!(p.contains("Join Inner on=[#1 = #0] filter=(#3 <> #6)"), "{p}");
    assert!(p.contains("Scan default.orders columns=[id, customer_id, amount, status, ts] filters=[(#0 > 1)]"), "{p}");
    assert!(p.contains("Scan default.customers columns=[id, name, region] filters=[(#2 = 'eu')]"), "{p}");
}

#[test]
fn filters_on_the_padded_side_of_an_outer_join_stay_above() {
    let p = run(
        "SELECT * FROM orders o LEFT JOIN customers c ON o.customer_id = c.id AND c.region = 'eu' WHERE o.id > 1 AND c.name = 'x'",
        &[&FilterPushdown],
    );
    assert!(p.contains("Filter (#6 = 'x')\n    Join Left on=[#1 = #0]\n"), "{p}");
    assert!(p.contains("orders columns=[id, customer_id, amount, status, ts] filters=[(#0 > 1)]"), "{p}");
    // The ON conjunct on the right side only decides matching, so it may filter the right input.
    assert!(p.contains("customers columns=[id, name, region] filters=[(#2 = 'eu')]"), "{p}");
}

#[test]
fn filters_on_group_columns_go_below_the_aggregate() {
    let p = run(
        "SELECT status, n FROM (SELECT status, COUNT(*) AS n FROM orders GROUP BY status) t WHERE status = 'paid' AND n > 1",
        &[&FilterPushdown],
    );
    assert!(p.contains("Filter (#1 > CAST(1 AS Int64))\n      Aggregate"), "{p}");
    assert!(p.contains("filters=[(#3 = 'paid')]"), "{p}");
}

#[test]
fn projections_shrink_scans() {
    let p = run(
        "SELECT o.id FROM orders o JOIN customers c ON o.customer_id = c.id WHERE c.region = 'eu'",
        &[&FilterPushdown, &ProjectionPushdown],
    );
    assert!(p.contains("Scan default.orders columns=[id, customer_id]"), "{p}");
    assert!(p.contains("Scan default.customers columns=[id] filters=[(#2 = 'eu')]"), "{p}");
    let p = run("SELECT COUNT(*) FROM orders", &[&ProjectionPushdown]);
    assert!(p.contains("Scan default.orders columns=[id]"), "{p}");
    let p = run("SELECT id FROM orders ORDER BY amount", &[&ProjectionPushdown]);
    assert!(p.contains("Scan default.orders columns=[id, amount]"), "{p}");
}

#[test]
fn partitions_are_pruned_by_key_predicates() {
    let sql = "SELECT id FROM events WHERE year = 2024 AND month <> '02' AND payload <> ''";
    let p = run(sql, &[&FilterPushdown, &PartitionPruning]);
    assert!(p.contains("partitions=1/4"), "{p}");
    // NULL partition values (`__HIVE_DEFAULT_PARTITION__`) match IS NULL only.
    let p = run("SELECT id FROM events WHERE year IS NULL", &[&FilterPushdown, &PartitionPruning]);
    assert!(p.contains("partitions=1/4"), "{p}");
    let p = run("SELECT id FROM events WHERE year = 2024 OR id = 1", &[&FilterPushdown, &PartitionPruning]);
    assert!(p.contains("partitions=4/4"), "{p}");
}

#[test]
fn constants_fold_and_true_filters_vanish() {
    let p = run("SELECT id FROM orders WHERE 1 = 1 AND (id > 2 OR false)", &[&ConstantFolding]);
    assert!(p.contains("Filter (#0 > 2)"), "{p}");
    let p = run("SELECT id FROM orders WHERE true", &[&ConstantFolding]);
    assert!(!p.contains("Filter"), "{p}");
}

#[test]
fn limits_become_top_n_sorts() {
    let p = run("SELECT id FROM orders ORDER BY id LIMIT 10 OFFSET 5", &[&LimitPushdown]);
    assert!(p.contains("Sort [#0 ASC NULLS LAST] fetch=15"), "{p}");
}

#[test]
fn driver_runs_enabled_rules_and_times_them() {
    let plan = bound("SELECT id FROM events WHERE year = 2023 ORDER BY id LIMIT 1");
    let mut optimizer = Optimizer::new();
    let (optimized, timings) = optimizer.optimize_timed(plan.clone(), &context()).unwrap();
    let names: Vec<&str> = timings.iter().map(|t| t.rule.as_str()).collect();
    assert_eq!(
        names,
        [
            "decorrelation",
            "constant_folding",
            "or_factoring",
            "filter_pushdown",
            "partition_pruning",
            "semi_join_pushdown",
            "join_reorder",
            "common_subexpressions",
            "projection_pushdown",
            "limit_pushdown",
            "shared_subplans"
        ]
    );
    let text = optimized.display_indent();
    assert!(text.contains("partitions=1/4") && text.contains("fetch=1"), "{text}");
    optimizer.disabled_rules.insert("partition_pruning".into());
    let text = optimizer.optimize(plan, &context()).unwrap().display_indent();
    assert!(text.contains("partitions=4/4"), "{text}");
}

#[test]
fn the_plan_check_catches_out_of_range_columns() {
    let LogicalPlan::Project { input, schema, .. } = bound("SELECT id FROM orders") else { panic!() };
    let broken = LogicalPlan::Project { input, exprs: vec![Expr::Column(9)], schema };
    assert!(verify_plan(&broken).unwrap_err().to_string().contains("column #9 out of range"));
    let ok = LogicalPlan::Filter {
        input: Box::new(LogicalPlan::one_row()),
        predicate: Expr::Literal(ScalarValue::Boolean(Some(true))),
    };
    assert!(verify_plan(&ok).is_ok());
}

fn decorrelated(sql: &str) -> String {
    let p = run(sql, &[&Decorrelation]);
    assert!(!p.contains("EXISTS") && !p.contains("SUBQUERY") && !p.contains("outer#"), "{p}");
    p
}

#[test]
fn in_and_exists_conjuncts_become_semi_and_anti_joins() {
    let p = decorrelated("SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE region = 'eu')");
    assert!(p.contains("Join Semi on=[#1 = #0]"), "{p}");
    let p =
        decorrelated("SELECT id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)");
    // The correlated column is carried up through the subquery's projection (its column #1).
    assert!(p.contains("Join Anti on=[#1 = #1]"), "{p}");
    assert!(p.contains("Project [1 AS ?column?, #0 AS id]"), "{p}");
    let p = decorrelated(
        "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.id < o.id)",
    );
    assert!(p.contains("Join Semi on=[#1 = #1] filter=(#6 < #0)"), "{p}");
}

#[test]
fn not_in_is_null_aware() {
    let p = decorrelated("SELECT id FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)");
    assert!(p.contains("Join NullAwareAnti on=[#1 = #0]"), "{p}");
    // Correlated: an anti join whose condition also matches an unknown comparison.
    let p = decorrelated(
        "SELECT id FROM orders o WHERE customer_id NOT IN (SELECT id FROM customers c WHERE c.name = o.status)",
    );
    assert!(p.contains("Join Anti on=["), "{p}");
    assert!(p.contains("(((#1 = #5) OR #1 IS NULL) OR #5 IS NULL)"), "{p}");
}

#[test]
fn correlated_aggregates_are_grouped_by_the_correlation_key() {
    let p = decorrelated(
        "SELECT id FROM orders o WHERE amount > (SELECT max(amount) FROM orders o2 WHERE o2.customer_id = o.customer_id)",
    );
    assert!(p.contains("Join Single on=[#1 = #1]"), "{p}");
    assert!(p.contains("Aggregate group_by=[#1] aggregates=[max(#2)]"), "{p}");
    // COUNT over a key without rows is 0, not NULL.
    let p = decorrelated("SELECT id, (SELECT count(*) FROM customers c WHERE c.id = o.customer_id) FROM orders o");
    assert!(p.contains("CASE WHEN #7 IS NULL THEN 0 ELSE #5 END"), "{p}");
}

#[test]
fn subqueries_as_values_become_mark_and_single_joins() {
    let p = decorrelated("SELECT id, customer_id IN (SELECT id FROM customers) FROM orders");
    assert!(p.contains("Join NullAwareMark on=[#1 = #0]"), "{p}");
    let p = decorrelated(
        "SELECT id FROM orders o WHERE status = 'x' OR EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)",
    );
    assert!(p.contains("Join Mark on=[#1 = #1]"), "{p}");
    assert!(p.contains("Filter ((#3 = 'x') OR #5)"), "{p}");
    let p = decorrelated("SELECT id, (SELECT max(id) FROM customers) FROM orders");
    assert!(p.contains("Join Single on=[]"), "{p}");
}

#[test]
fn the_whole_optimizer_runs_decorrelated_plans() {
    let plan = bound(
        "SELECT customer_id, count(*) FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.region = 'eu') GROUP BY customer_id HAVING count(*) > (SELECT count(*) FROM customers)",
    );
    let optimized = Optimizer::new().optimize(plan, &context()).unwrap();
    let p = optimized.display_indent();
    assert!(p.contains("Join Semi"), "{p}");
    assert!(p.contains("Scan default.customers columns=[id] filters=[(#2 = 'eu')]"), "{p}");
    assert!(p.contains("Join Single on=[]"), "{p}");
}
