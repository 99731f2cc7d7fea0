//! Join order and build sides by estimated size. The binder nests joins in FROM-list order and
//! the physical planner always hashes a join's right input, so without this rule a query joins
//! its tables in the order they were written, builds hash tables on the largest ones, and may
//! start with a cross product whose linking predicate only comes with a later table (TPC-H q09:
//! `part × supplier`).
//!
//! Each maximal tree of inner and cross joins (with filters between them) is flattened into a
//! join graph: its inputs and the conjuncts of every `on` key, join filter and filter. A greedy
//! search then builds a left-deep tree: it starts from the connected pair with the smallest
//! estimated result and adds, each step, the input connected to what is joined so far that gives
//! the smallest intermediate result (an input with no predicate to the rest only when none is
//! connected). Each join gets its smaller estimated input on the right, the build side. A
//! projection restores the tree's original column order. Outer joins whose right (build) input
//! is much larger than the left swap sides (`LEFT` ↔ `RIGHT`), which is exact. Semi, anti, mark
//! and single joins keep their inputs: their right side is a subquery's.

use arrow::datatypes::SchemaRef;

use crate::error::Result;
use crate::optimizer::cardinality::{self, column_of, ColumnStats, Estimate};
use crate::optimizer::tree::map_inputs;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{BinaryOp, Expr, JoinType, LogicalPlan};
use crate::sql::binder::{equi_key, join_schema};

/// An outer join swaps sides when its right input is estimated this many times the left.
const OUTER_SWAP_RATIO: f64 = 2.0;

pub struct JoinReorder;

impl Rule for JoinReorder {
    fn name(&self) -> &str {
        "join_reorder"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        reorder(plan)
    }
}

fn is_inner(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Join { join_type: JoinType::Inner | JoinType::Cross, .. })
}

/// Joins in a graph at most: the greedy search keeps sets of inputs as bits of a `u128`.
const MAX_INPUTS: usize = 128;

fn reorder(plan: LogicalPlan) -> Result<LogicalPlan> {
    let graph_root = is_inner(&plan) || matches!(&plan, LogicalPlan::Filter { input, .. } if is_inner(input));
    if graph_root && count_inputs(&plan) <= MAX_INPUTS {
        let schema = plan.schema();
        let mut graph = Graph::default();
        graph.flatten(plan, 0);
        let leaves = std::mem::take(&mut graph.leaves);
        graph.leaves = leaves.into_iter().map(reorder).collect::<Result<_>>()?;
        return Ok(graph.order(schema));
    }
    let plan = map_inputs(plan, &mut reorder)?;
    Ok(swap_outer(plan))
}

/// How many inputs the join graph rooted at `plan` has (as [`Graph::flatten`] splits it).
fn count_inputs(plan: &LogicalPlan) -> usize {
    match plan {
        LogicalPlan::Filter { input, .. } if is_inner(input) => count_inputs(input),
        LogicalPlan::Join { left, right, join_type: JoinType::Inner | JoinType::Cross, .. } => {
            count_inputs(left) + count_inputs(right)
        }
        _ => 1,
    }
}

/// The inputs of a tree of inner joins and the conjuncts relating them, bound to the tree's
/// output columns (the inputs' columns side by side, in order).
#[derive(Default)]
struct Graph {
    leaves: Vec<LogicalPlan>,
    /// First output column of each leaf.
    offsets: Vec<usize>,
    conjuncts: Vec<Expr>,
}

impl Graph {
    /// Adds the inputs and conjuncts of `plan`, whose output starts at column `offset`.
    fn flatten(&mut self, plan: LogicalPlan, offset: usize) {
        let shift = |e: Expr| if offset == 0 { e } else { e.remap_columns(&|c| c + offset) };
        match plan {
            LogicalPlan::Filter { input, predicate } if is_inner(&input) => {
                self.conjuncts.extend(predicate.split_conjunction().into_iter().map(shift));
                self.flatten(*input, offset);
            }
            LogicalPlan::Join { left, right, join_type: JoinType::Inner | JoinType::Cross, on, filter, .. } => {
                let left_width = left.schema().fields().len();
                for (l, r) in on {
                    let r = r.remap_columns(&|c| c + left_width);
                    self.conjuncts.push(shift(Expr::binary(l, BinaryOp::Eq, r)));
                }
                if let Some(filter) = filter {
                    self.conjuncts.extend(filter.split_conjunction().into_iter().map(shift));
                }
                self.flatten(*left, offset);
                self.flatten(*right, offset + left_width);
            }
            leaf => {
                self.offsets.push(offset);
                self.leaves.push(leaf);
            }
        }
    }

    /// The leaf holding global column `c`.
    fn leaf_of(&self, c: usize) -> usize {
        self.offsets.partition_point(|&o| o <= c) - 1
    }

    /// Leaves a conjunct reads, as a bit set.
    fn leaves_of(&self, e: &Expr) -> u128 {
        let mut columns = Vec::new();
        e.collect_columns(&mut columns);
        columns.iter().fold(0, |set, &c| set | 1 << self.leaf_of(c))
    }

    /// The greedy join order as a plan with `schema` (the flattened tree's output).
    fn order(mut self, schema: SchemaRef) -> LogicalPlan {
        let n = self.leaves.len();
        let conjuncts = std::mem::take(&mut self.conjuncts);
        let mut pending: Vec<(u128, Expr)> = Vec::new();
        // One-input conjuncts filter that input first, so its estimate (and plan) includes them.
        let mut own: Vec<Vec<Expr>> = vec![Vec::new(); n];
        for c in conjuncts {
            let set = self.leaves_of(&c);
            if set.count_ones() == 1 {
                let leaf = set.trailing_zeros() as usize;
                own[leaf].push(c.remap_columns(&|i| i - self.offsets[leaf]));
            } else {
                pending.push((set, c));
            }
        }
        for (leaf, filters) in own.into_iter().enumerate() {
            if let Some(predicate) = Expr::conjunction(filters) {
                let input = std::mem::replace(&mut self.leaves[leaf], LogicalPlan::one_row());
                self.leaves[leaf] = LogicalPlan::Filter { input: Box::new(input), predicate };
            }
        }
        let estimates: Vec<Estimate> = self.leaves.iter().map(cardinality::estimate).collect();
        let columns: Vec<ColumnStats> = estimates.iter().flat_map(|e| e.columns.iter().copied()).collect();

        // The greedy search over sets of leaves, on estimates only.
        let rows_of = |set: u128, set_rows: f64, leaf: usize, pending: &[(u128, Expr)]| {
            let with = set | 1 << leaf;
            let mut keys = Vec::new();
            let mut residual = 1.0;
            for (s, c) in pending {
                if s & !with != 0 || s & (1 << leaf) == 0 || s & set == 0 {
                    continue;
                }
                match self.key_across(c, set, leaf) {
                    Some((a, b)) => keys.push((column_of(&a, &columns), column_of(&b, &columns))),
                    None => residual *= cardinality::selectivity(c, &columns),
                }
            }
            (cardinality::equi_join_rows(set_rows, estimates[leaf].rows, &keys) * residual).max(1.0)
        };
        let connected = |set: u128, leaf: usize, pending: &[(u128, Expr)]| {
            let with = set | 1 << leaf;
            pending.iter().any(|(s, _)| s & !with == 0 && s & (1 << leaf) != 0 && s & set != 0)
        };
        // Start: the connected pair with the smallest result (ties: the earliest pair).
        let mut best: Option<(f64, usize, usize)> = None;
        for (i, estimate) in estimates.iter().enumerate() {
            for j in i + 1..n {
                if connected(1 << i, j, &pending) {
                    let rows = rows_of(1 << i, estimate.rows, j, &pending);
                    if best.is_none_or(|(b, _, _)| rows < b) {
                        best = Some((rows, i, j));
                    }
                }
            }
        }
        let (mut rows, first, second) = best.unwrap_or_else(|| {
            // Nothing connects any pair: cross the two smallest inputs.
            let mut by_size: Vec<usize> = (0..n).collect();
            by_size.sort_by(|a, b| estimates[*a].rows.total_cmp(&estimates[*b].rows).then(a.cmp(b)));
            let (i, j) = (by_size[0].min(by_size[1]), by_size[0].max(by_size[1]));
            (estimates[i].rows * estimates[j].rows, i, j)
        });
        let mut steps = vec![second];
        let mut set: u128 = 1 << first | 1 << second;
        let mut set_rows_before = vec![estimates[first].rows];
        while set.count_ones() as usize != n {
            let candidates: Vec<usize> = (0..n).filter(|&l| set & (1 << l) == 0).collect();
            let linked: Vec<usize> = candidates.iter().copied().filter(|&l| connected(set, l, &pending)).collect();
            let pick = if linked.is_empty() {
                candidates
                    .iter()
                    .copied()
                    .min_by(|a, b| estimates[*a].rows.total_cmp(&estimates[*b].rows).then(a.cmp(b)))
                    .map(|l| (l, (rows * estimates[l].rows).max(1.0)))
            } else {
                linked
                    .iter()
                    .map(|&l| (l, rows_of(set, rows, l, &pending)))
                    .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            };
            let Some((leaf, next_rows)) = pick else { break };
            set_rows_before.push(rows);
            steps.push(leaf);
            set |= 1 << leaf;
            rows = next_rows;
        }

        // Build the left-deep tree; `position[g]` is where global column g is in `plan`'s output.
        let width: usize =
            self.offsets.last().copied().unwrap_or(0) + self.leaves.last().map_or(0, |l| l.schema().fields().len());
        let mut position: Vec<Option<usize>> = vec![None; width];
        let mut leaves: Vec<Option<LogicalPlan>> = self.leaves.drain(..).map(Some).collect();
        let mut plan = self.take_leaf(&mut leaves, first, 0, &mut position);
        let mut joined: u128 = 1 << first;
        for (leaf, current_rows) in steps.into_iter().zip(set_rows_before) {
            let leaf_rows = estimates[leaf].rows;
            // The smaller input is built (right); ties keep the joined-so-far side probing.
            let build_leaf = leaf_rows <= current_rows;
            let applicable: Vec<Expr> = {
                let with = joined | 1 << leaf;
                let (now, later): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(s, _)| s & !with == 0);
                pending = later;
                now.into_iter().map(|(_, c)| c).collect()
            };
            plan = if build_leaf {
                let left_width = plan.schema().fields().len();
                let leaf_plan = self.take_leaf(&mut leaves, leaf, left_width, &mut position);
                join(plan, leaf_plan, &applicable, &position)
            } else {
                let leaf_width = leaves[leaf].as_ref().map_or(0, |l| l.schema().fields().len());
                for p in position.iter_mut().flatten() {
                    *p += leaf_width;
                }
                let leaf_plan = self.take_leaf(&mut leaves, leaf, 0, &mut position);
                join(leaf_plan, plan, &applicable, &position)
            };
            joined |= 1 << leaf;
        }
        // Conjuncts left over read no column (constants): they filter the result.
        if let Some(predicate) = Expr::conjunction(pending.into_iter().map(|(_, c)| c)) {
            let predicate = predicate.remap_columns(&|g| position[g].unwrap_or(g));
            plan = LogicalPlan::Filter { input: Box::new(plan), predicate };
        }
        restore_order(plan, &position, schema)
    }

    /// The conjunct `c` as an equi-key (expression over `set`, expression over `leaf`), in
    /// global columns, when it is one.
    fn key_across(&self, c: &Expr, set: u128, leaf: usize) -> Option<(Expr, Expr)> {
        let Expr::Binary { op: BinaryOp::Eq, left, right } = c else { return None };
        let (a, b) = (self.leaves_of(left), self.leaves_of(right));
        let in_set = |s: u128| s != 0 && s & !set == 0;
        let is_leaf = |s: u128| s == 1 << leaf;
        if in_set(a) && is_leaf(b) {
            Some((left.as_ref().clone(), right.as_ref().clone()))
        } else if is_leaf(a) && in_set(b) {
            Some((right.as_ref().clone(), left.as_ref().clone()))
        } else {
            None
        }
    }

    /// Takes leaf `i` out of `leaves`, recording that its columns start at `at` in the output.
    fn take_leaf(
        &self,
        leaves: &mut [Option<LogicalPlan>],
        i: usize,
        at: usize,
        position: &mut [Option<usize>],
    ) -> LogicalPlan {
        // Invariant: the greedy order names every leaf exactly once.
        let plan = leaves[i].take().unwrap_or_else(LogicalPlan::one_row);
        for k in 0..plan.schema().fields().len() {
            position[self.offsets[i] + k] = Some(at + k);
        }
        plan
    }
}

/// An inner join of `left` and `right` on `conjuncts` (global columns, placed by `position`).
fn join(left: LogicalPlan, right: LogicalPlan, conjuncts: &[Expr], position: &[Option<usize>]) -> LogicalPlan {
    let left_width = left.schema().fields().len();
    let mut on = Vec::new();
    let mut residual = Vec::new();
    for c in conjuncts {
        let local = c.clone().remap_columns(&|g| position[g].unwrap_or(g));
        match equi_key(&local, left_width) {
            Some(pair) => on.push(pair),
            None => residual.push(local),
        }
    }
    let filter = Expr::conjunction(residual);
    let join_type = if on.is_empty() && filter.is_none() { JoinType::Cross } else { JoinType::Inner };
    let schema = join_schema(&left.schema(), &right.schema(), JoinType::Inner);
    LogicalPlan::Join { left: Box::new(left), right: Box::new(right), join_type, on, filter, schema }
}

/// A projection putting `plan`'s columns back in the order of `schema` (global order), unless
/// they already are.
fn restore_order(plan: LogicalPlan, position: &[Option<usize>], schema: SchemaRef) -> LogicalPlan {
    let order: Vec<usize> = position.iter().enumerate().map(|(g, p)| p.unwrap_or(g)).collect();
    if order.iter().enumerate().all(|(g, p)| g == *p) && plan.schema().fields().len() == order.len() {
        return plan;
    }
    let exprs = order.into_iter().map(Expr::Column).collect();
    LogicalPlan::Project { input: Box::new(plan), exprs, schema }
}

/// `A LEFT JOIN B` as `B RIGHT JOIN A` (and `RIGHT` as `LEFT`, `FULL` as `FULL`) when `B` is much
/// larger, so the smaller input is the one hashed; a projection restores the column order.
fn swap_outer(plan: LogicalPlan) -> LogicalPlan {
    let LogicalPlan::Join { left, right, join_type, on, filter, schema } = plan else { return plan };
    let swapped = match join_type {
        JoinType::Left => JoinType::Right,
        JoinType::Right => JoinType::Left,
        JoinType::Full => JoinType::Full,
        _ => return LogicalPlan::Join { left, right, join_type, on, filter, schema },
    };
    let (l, r) = (cardinality::estimate(&left), cardinality::estimate(&right));
    if r.rows <= l.rows * OUTER_SWAP_RATIO {
        return LogicalPlan::Join { left, right, join_type, on, filter, schema };
    }
    let (left_width, right_width) = (left.schema().fields().len(), right.schema().fields().len());
    // Old pair columns (left, then right) to new ones (right, then left).
    let to_new = move |c: usize| if c < left_width { c + right_width } else { c - left_width };
    let filter = filter.map(|f| f.remap_columns(&to_new));
    let on = on.into_iter().map(|(a, b)| (b, a)).collect();
    let new_schema = join_schema(&right.schema(), &left.schema(), swapped);
    let join = LogicalPlan::Join { left: right, right: left, join_type: swapped, on, filter, schema: new_schema };
    let exprs = (0..left_width + right_width).map(|c| Expr::Column(to_new(c))).collect();
    LogicalPlan::Project { input: Box::new(join), exprs, schema }
}

#[cfg(test)]
mod tests {
    use tarn_catalog::{Catalog, Column, DataFormat, SqlType, StorageDescriptor, Table, TableKind};

    use super::JoinReorder;
    use crate::optimizer::{verify_plan, FilterPushdown, Optimizer, OptimizerContext, PartitionPruning, Rule};
    use crate::plan::{JoinType, LogicalPlan};
    use crate::sql::binder::tests::{bind_with, test_functions};

    /// TPC-H-shaped tables (the columns the tests join on) with SF 1 row counts as catalog
    /// statistics (`numRows`), the source crawlers and Glue provide.
    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Catalog::open(dir.path()).expect("open catalog");
        let tables: [(&str, u64, &[&str]); 7] = [
            ("customer", 150_000, &["c_custkey", "c_nationkey"]),
            ("orders", 1_500_000, &["o_orderkey", "o_custkey"]),
            ("lineitem", 6_000_000, &["l_orderkey", "l_partkey", "l_suppkey"]),
            ("part", 200_000, &["p_partkey"]),
            ("supplier", 10_000, &["s_suppkey", "s_nationkey"]),
            ("partsupp", 800_000, &["ps_partkey", "ps_suppkey"]),
            ("nation", 25, &["n_nationkey"]),
        ];
        for (name, rows, keys) in tables {
            let mut columns: Vec<Column> = keys.iter().map(|k| Column::new(*k, SqlType::BigInt)).collect();
            columns.push(Column::new(format!("{name}_name"), SqlType::String));
            let table = Table {
                database: "default".into(),
                name: name.into(),
                kind: TableKind::External,
                storage: StorageDescriptor {
                    columns,
                    location: format!("s3://lake/{name}/"),
                    format: DataFormat::Parquet,
                    serde_parameters: Default::default(),
                },
                partition_keys: vec![],
                parameters: [("numRows".to_string(), rows.to_string())].into_iter().collect(),
                created_at: 0,
                updated_at: 0,
                version: 1,
            };
            catalog.create_table(&table, false).expect("create table");
        }
        (dir, catalog)
    }

    /// `sql` bound, filters pushed, joins reordered; the plan must verify and keep its schema.
    fn reordered(sql: &str) -> LogicalPlan {
        let (_dir, catalog) = catalog();
        let mut plan = bind_with(&catalog, &test_functions(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let schema = plan.schema();
        let ctx = OptimizerContext::new(std::sync::Arc::new(test_functions()));
        for rule in [&FilterPushdown as &dyn Rule, &PartitionPruning, &JoinReorder] {
            plan = rule.rewrite(plan, &ctx).unwrap_or_else(|e| panic!("{}: {e}", rule.name()));
            verify_plan(&plan).unwrap_or_else(|e| panic!("{}: {e}\n{}", rule.name(), plan.display_indent()));
        }
        assert_eq!(plan.schema(), schema, "{}", plan.display_indent());
        plan
    }

    /// Names of the tables scanned under `plan`.
    fn tables(plan: &LogicalPlan) -> Vec<String> {
        match plan {
            LogicalPlan::Scan(scan) => vec![scan.table.name.clone()],
            other => other.inputs().into_iter().flat_map(tables).collect(),
        }
    }

    /// Every join under `plan`: (type, tables of the probe side, tables of the build side).
    fn joins(plan: &LogicalPlan) -> Vec<(JoinType, Vec<String>, Vec<String>)> {
        let mut out = Vec::new();
        if let LogicalPlan::Join { left, right, join_type, .. } = plan {
            out.push((*join_type, tables(left), tables(right)));
        }
        out.extend(plan.inputs().into_iter().flat_map(joins));
        out
    }

    #[test]
    fn the_largest_table_probes_a_chain() {
        let plan = reordered(
            "SELECT l_orderkey FROM customer, orders, lineitem \
             WHERE customer_name = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey",
        );
        let joins = joins(&plan);
        assert_eq!(joins.len(), 2, "{}", plan.display_indent());
        for (join_type, probe, build) in &joins {
            assert_eq!(*join_type, JoinType::Inner, "{}", plan.display_indent());
            assert!(!build.contains(&"lineitem".to_string()), "lineitem is built:\n{}", plan.display_indent());
            assert!(probe.contains(&"lineitem".to_string()) || build.len() == 1, "{}", plan.display_indent());
        }
        // The filtered customers meet orders first (the smallest intermediate), then lineitem probes it.
        assert_eq!(joins[0].1, vec!["lineitem".to_string()], "{}", plan.display_indent());
        // The projection on top restores the written column order.
        assert!(matches!(plan, LogicalPlan::Project { .. }), "{}", plan.display_indent());
    }

    #[test]
    fn a_q09_like_graph_has_no_cross_join() {
        let plan = reordered(
            "SELECT nation_name, o_orderkey FROM part, supplier, lineitem, partsupp, orders, nation \
             WHERE s_suppkey = l_suppkey AND ps_suppkey = l_suppkey AND ps_partkey = l_partkey \
             AND p_partkey = l_partkey AND o_orderkey = l_orderkey AND s_nationkey = n_nationkey \
             AND part_name LIKE '%green%'",
        );
        let joins = joins(&plan);
        assert_eq!(joins.len(), 5, "{}", plan.display_indent());
        assert!(joins.iter().all(|(t, _, _)| *t == JoinType::Inner), "{}", plan.display_indent());
        assert!(
            joins.iter().all(|(_, _, build)| !build.contains(&"lineitem".to_string())),
            "{}",
            plan.display_indent()
        );
        // The two-key join with partsupp keeps both keys.
        let text = plan.display_indent();
        assert!(text.lines().any(|l| l.contains("Join Inner on=[") && l.matches(" = ").count() == 2), "{text}");
    }

    #[test]
    fn a_cross_join_stays_a_cross_join_when_nothing_links_its_inputs() {
        let plan = reordered("SELECT * FROM nation, supplier");
        let joins = joins(&plan);
        assert_eq!(joins.len(), 1);
        // The smaller input is built.
        assert_eq!(joins[0], (JoinType::Cross, vec!["supplier".into()], vec!["nation".into()]));
    }

    #[test]
    fn a_left_join_on_a_much_larger_right_side_becomes_a_right_join() {
        let plan = reordered(
            "SELECT * FROM nation n LEFT JOIN supplier s ON n.n_nationkey = s.s_nationkey AND s.supplier_name <> n.nation_name",
        );
        let text = plan.display_indent();
        let joins = joins(&plan);
        assert_eq!(joins, vec![(JoinType::Right, vec!["supplier".into()], vec!["nation".into()])], "{text}");
        // Keys and the residual filter follow their columns: supplier's are now first.
        assert!(text.contains("Join Right on=[#1 = #0] filter=(#2 <> #4)"), "{text}");
        // The small side on the left keeps its LEFT JOIN.
        let kept = reordered("SELECT * FROM supplier s LEFT JOIN nation n ON n.n_nationkey = s.s_nationkey");
        assert_eq!(joins_of(&kept), vec![JoinType::Left]);
    }

    fn joins_of(plan: &LogicalPlan) -> Vec<JoinType> {
        joins(plan).into_iter().map(|(t, _, _)| t).collect()
    }

    #[test]
    fn explain_shows_the_estimates_of_scans_and_joins() {
        let plan = reordered("SELECT * FROM supplier s JOIN nation n ON n.n_nationkey = s.s_nationkey");
        let text = crate::optimizer::cardinality::display_with_estimates(&plan);
        assert!(
            text.contains("Scan default.supplier columns=[s_suppkey, s_nationkey, supplier_name] est_rows=10k\n"),
            "{text}"
        );
        assert!(text.contains("Scan default.nation columns=[n_nationkey, nation_name] est_rows=25\n"), "{text}");
        // Each supplier finds its one nation.
        assert!(text.contains("Join Inner on=[#1 = #0] est_rows=10k\n"), "{text}");
    }

    #[test]
    fn the_rule_is_on_by_default_and_can_be_disabled_by_name() {
        assert!(Optimizer::new().rule_names().contains(&"join_reorder"));
        let pushdown = Optimizer::new().rule_names().iter().position(|r| *r == "filter_pushdown");
        let reorder = Optimizer::new().rule_names().iter().position(|r| *r == "join_reorder");
        assert!(pushdown < reorder, "join keys must be in the joins before they are ordered");
    }
}
