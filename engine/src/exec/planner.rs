//! The physical planner: decomposes a logical plan into pipelines at its breakers (aggregate,
//! join build, sort, distinct, limit, the result) and runs them children first. Streaming nodes
//! (filter, project, join probe) become operators inside the pipeline of their input; a union
//! becomes several pipelines feeding the consumer's sink. Decomposition and running are separate
//! steps, so `EXPLAIN` prints exactly the pipelines that would run.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::exec::collect::CollectSink;
use crate::exec::filter::FilterOperator;
use crate::exec::hash_aggregate::{AggregateCall, HashAggregateSink};
use crate::exec::hash_join::{hash_join, JoinSpec};
use crate::exec::limit::LimitSink;
use crate::exec::physical_plan::{PhysicalPlan, Pipeline, PipelineInput, Stage};
use crate::exec::pipeline::{ExecContext, Operator, Sink};
use crate::exec::profile::PlanProfile;
use crate::exec::project::ProjectOperator;
use crate::exec::range_join::{self, RangeJoinBuild, RangeJoinInputs, RangeJoinProbe, RangeSplit};
use crate::exec::runtime_filter::RuntimeFilter;
use crate::exec::scheduler::{run_plan, run_plan_profiled};
use crate::exec::shared::{SharedResult, SharedSink, SharedSource};
use crate::exec::sideways::SidewaysSink;
use crate::exec::sort::{SortKey, SortSink};
use crate::exec::values::ValuesSource;
use crate::exec::window::{WindowCall, WindowSink};
use crate::expr::planner::create_physical_expr;
use crate::expr::PhysicalExprRef;
use crate::io::table_scan::TableScanSource;
use crate::optimizer::cardinality::estimate;
use crate::plan::{AggregateExpr, Expr, JoinType, LogicalPlan, SortExpr, TableScan};

/// A join's left input estimated at most 1/this of its right input (or of the scan feeding the
/// right input, whose rows are the build's real work) is run first to filter the right input
/// ("sideways"): materialising the small side is cheap next to what the filter can save.
const SIDEWAYS_RATIO: f64 = 4.0;

/// A join side estimated at this share of its key column's table (or more) is taken to hold
/// every key of that table: no sideways reduction by it (see
/// [`PhysicalPlanner::holds_whole_table`]).
const WHOLE_TABLE_SHARE: f64 = 0.9;

/// Runs `plan` to completion: its output schema and result batches (in order when the plan
/// sorts).
pub fn execute(plan: &LogicalPlan, ctx: &ExecContext) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let physical = create_physical_plan(plan, ctx)?;
    let batches = run_plan(&physical, ctx)?;
    Ok((physical.schema, batches))
}

/// The physical pipelines of `plan`, one line per source, operator and sink.
pub fn explain(plan: &LogicalPlan, ctx: &ExecContext) -> Result<String> {
    Ok(create_physical_plan(plan, ctx)?.to_string())
}

/// `EXPLAIN ANALYZE`: runs `plan` once with every step counted, and returns the physical plan
/// annotated with rows, time and memory, and the rows of the result.
pub fn explain_analyze(plan: &LogicalPlan, ctx: &ExecContext) -> Result<(String, usize)> {
    let physical = create_physical_plan(plan, ctx)?;
    let profile = PlanProfile::for_plan(&physical);
    let batches = run_plan_profiled(&physical, ctx, Some(&profile))?;
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    Ok((physical.render(Some(&profile)), rows))
}

/// Decomposes `plan` into stages of pipelines without running anything.
pub fn create_physical_plan(plan: &LogicalPlan, ctx: &ExecContext) -> Result<PhysicalPlan> {
    let mut planner = PhysicalPlanner {
        ctx,
        stages: Vec::new(),
        runtime_filters: Vec::new(),
        reduced_scans: Vec::new(),
        shared: HashMap::new(),
    };
    let schema = plan.schema();
    let pipelines = planner.plan(plan)?;
    let result_is_last_stage = matches!(
        pipelines.as_slice(),
        [Pipeline { input: PipelineInput::Stage { index, .. }, operators, .. }]
            if operators.is_empty() && *index + 1 == planner.stages.len()
    );
    if !result_is_last_stage {
        let sink = CollectSink::new(schema.clone(), ctx.batch_size, "Result");
        planner.add_stage(pipelines, Arc::new(sink), true);
    }
    Ok(PhysicalPlan { stages: planner.stages, schema })
}

struct PhysicalPlanner<'a> {
    ctx: &'a ExecContext,
    stages: Vec<Stage>,
    /// Runtime filters created by joins planned so far, waiting for the scan they restrict (named
    /// by its address in the logical plan, which outlives planning) to be planned.
    runtime_filters: Vec<(*const TableScan, Arc<RuntimeFilter>)>,
    /// The scans among those with a runtime filter from keys that are not a whole table's (see
    /// [`PhysicalPlanner::holds_whole_table`]): they may read far fewer keys than their estimate says.
    reduced_scans: Vec<*const TableScan>,
    /// The shared subplans planned so far, by id: their result and whether it is ordered.
    shared: HashMap<usize, (Arc<SharedResult>, bool)>,
}

impl PhysicalPlanner<'_> {
    /// The pipelines producing `plan`'s rows, not yet ending in a sink; the stages they read
    /// from are added to `self.stages` first.
    fn plan(&mut self, plan: &LogicalPlan) -> Result<Vec<Pipeline>> {
        match plan {
            LogicalPlan::Scan(scan) => Ok(vec![source_pipeline(Arc::new(self.scan_source(scan)?))]),
            LogicalPlan::Values { schema, rows } => {
                Ok(vec![source_pipeline(Arc::new(ValuesSource::try_new(schema.clone(), rows, &self.ctx.functions)?))])
            }
            LogicalPlan::Filter { input, predicate } => {
                let schema = input.schema();
                let operator = FilterOperator::new(self.expr(predicate, &schema)?, schema);
                let pipelines = self.plan(input)?;
                Ok(with_operator(pipelines, Arc::new(operator)))
            }
            LogicalPlan::Project { input, exprs, schema } => {
                let exprs = self.exprs(exprs, &input.schema())?;
                let pipelines = self.plan(input)?;
                Ok(with_operator(pipelines, Arc::new(ProjectOperator::new(exprs, schema.clone()))))
            }
            LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
                self.plan_aggregate(input, group_by, aggregates, schema.clone())
            }
            LogicalPlan::Distinct { input } => {
                let schema = input.schema();
                let group_by: Vec<Expr> = (0..schema.fields().len()).map(Expr::Column).collect();
                self.plan_aggregate(input, &group_by, &[], schema)
            }
            LogicalPlan::Join { left, right, join_type, on, filter, schema } => {
                self.plan_join(left, right, *join_type, on, filter.as_ref(), schema.clone())
            }
            LogicalPlan::Sort { input, keys, fetch } => self.plan_sort(input, keys, 0, *fetch),
            LogicalPlan::Limit { input, skip, fetch } => match input.as_ref() {
                // LIMIT over a sort keeps the sort's first rows: the sort sink applies it.
                LogicalPlan::Sort { input: sorted, keys, fetch: sort_fetch } => {
                    let end =
                        fetch.map_or(usize::MAX, |f| skip.saturating_add(f)).min(sort_fetch.unwrap_or(usize::MAX));
                    let fetch = (end != usize::MAX).then(|| end.saturating_sub(*skip));
                    self.plan_sort(sorted, keys, *skip, fetch)
                }
                _ => {
                    let schema = input.schema();
                    let pipelines = self.plan(input)?;
                    let preserve_order = pipelines.iter().all(|p| p.preserve_order);
                    let sink = LimitSink::new(schema.clone(), *skip, *fetch, self.ctx.batch_size);
                    let index = self.add_stage(pipelines, Arc::new(sink), true);
                    Ok(vec![stage_pipeline(index, schema, preserve_order)])
                }
            },
            LogicalPlan::Window { input, window_exprs, schema } => {
                let input_schema = input.schema();
                let calls = window_exprs
                    .iter()
                    .map(|w| WindowCall::try_new(w, &input_schema, &self.ctx.functions))
                    .collect::<Result<Vec<_>>>()?;
                let sink = WindowSink::new(calls, input_schema, schema.clone(), self.ctx.batch_size);
                let pipelines = self.plan(input)?;
                let index = self.add_stage(pipelines, Arc::new(sink), false);
                Ok(vec![stage_pipeline(index, schema.clone(), false)])
            }
            LogicalPlan::Union { inputs, schema } => {
                let mut pipelines = Vec::new();
                for input in inputs {
                    let mut branch = self.plan(input)?;
                    if input.schema().fields() != schema.fields() {
                        // Same column types by construction; the rename makes every branch's
                        // batches carry the union's column names.
                        let columns: Vec<Expr> = (0..schema.fields().len()).map(Expr::Column).collect();
                        let rename = ProjectOperator::new(self.exprs(&columns, &input.schema())?, schema.clone());
                        branch = with_operator(branch, Arc::new(rename));
                    }
                    pipelines.extend(branch);
                }
                Ok(pipelines)
            }
            LogicalPlan::Shared { id, input } => self.plan_shared(*id, input),
        }
    }

    /// The first occurrence of a shared subplan runs its input into a materialising stage; every
    /// occurrence reads that stage's batches. The stage is added before the reading pipeline of
    /// any occurrence exists, so it runs before all of them. No runtime filter reaches into the
    /// input ([`scan_column`] stops at `Shared`): one reader's join keys would drop rows another
    /// reader needs.
    fn plan_shared(&mut self, id: usize, input: &LogicalPlan) -> Result<Vec<Pipeline>> {
        let (result, ordered) = match self.shared.get(&id) {
            Some(planned) => planned.clone(),
            None => {
                let pipelines = self.plan(input)?;
                let ordered = pipelines.iter().all(|p| p.preserve_order);
                let result = Arc::new(SharedResult::new(id, input.schema()));
                let sink = SharedSink::new(result.clone(), self.ctx.batch_size);
                self.add_stage(pipelines, Arc::new(sink), ordered);
                self.shared.insert(id, (result.clone(), ordered));
                (result, ordered)
            }
        };
        let mut pipeline = source_pipeline(Arc::new(SharedSource::new(result)));
        pipeline.preserve_order = ordered;
        Ok(vec![pipeline])
    }

    fn plan_aggregate(
        &mut self,
        input: &LogicalPlan,
        group_by: &[Expr],
        aggregates: &[AggregateExpr],
        schema: SchemaRef,
    ) -> Result<Vec<Pipeline>> {
        let input_schema = input.schema();
        let group_exprs = self.exprs(group_by, &input_schema)?;
        let calls = aggregates.iter().map(|a| self.aggregate_call(a, &input_schema)).collect::<Result<Vec<_>>>()?;
        let sink = HashAggregateSink::try_new(group_exprs, calls, schema.clone(), self.ctx.batch_size)?;
        let pipelines = self.plan(input)?;
        let index = self.add_stage(pipelines, Arc::new(sink), false);
        Ok(vec![stage_pipeline(index, schema, false)])
    }

    fn aggregate_call(&self, aggregate: &AggregateExpr, input: &Schema) -> Result<AggregateCall> {
        let function = self
            .ctx
            .functions
            .aggregate(&aggregate.name)
            .ok_or_else(|| EngineError::plan(format!("aggregate function {} does not exist", aggregate.name)))?
            .clone();
        let args = self.exprs(&aggregate.args, input)?;
        let arg_types = args.iter().map(|a| a.data_type().clone()).collect();
        let filter = aggregate.filter.as_deref().map(|f| self.expr(f, input)).transpose()?;
        Ok(AggregateCall {
            function,
            args,
            arg_types,
            distinct: aggregate.distinct,
            filter,
            display: aggregate.to_string(),
        })
    }

    fn plan_sort(
        &mut self,
        input: &LogicalPlan,
        keys: &[SortExpr],
        skip: usize,
        fetch: Option<usize>,
    ) -> Result<Vec<Pipeline>> {
        let schema = input.schema();
        let keys = keys
            .iter()
            .map(|k| {
                Ok(SortKey { expr: self.expr(&k.expr, &schema)?, ascending: k.ascending, nulls_first: k.nulls_first })
            })
            .collect::<Result<Vec<_>>>()?;
        let sink = SortSink::try_new(keys, schema.clone(), skip, fetch, self.ctx.batch_size)?;
        let pipelines = self.plan(input)?;
        let index = self.add_stage(pipelines, Arc::new(sink), false);
        Ok(vec![stage_pipeline(index, schema, true)])
    }

    /// The right input feeds the build sink in its own stage; the probe joins the left input's
    /// pipelines. Right and full joins emit unmatched build rows once after the whole probe
    /// side, so a probe side of several pipelines (a union) is materialised into one first. A
    /// left input much smaller than the right one is materialised before the right input runs,
    /// publishing its keys to the right input's scans ([`SidewaysSink`]).
    fn plan_join(
        &mut self,
        left: &LogicalPlan,
        right: &LogicalPlan,
        join_type: JoinType,
        on: &[(Expr, Expr)],
        filter: Option<&Expr>,
        schema: SchemaRef,
    ) -> Result<Vec<Pipeline>> {
        let (left_schema, right_schema) = (left.schema(), right.schema());
        if let Some((build, probe)) = self.range_join(join_type, on, filter, &left_schema, &right_schema, &schema)? {
            let build_pipelines = self.plan(right)?;
            self.add_stage(build_pipelines, Arc::new(build), false);
            return Ok(with_operator(self.plan(left)?, Arc::new(probe)));
        }
        let left_keys = on.iter().map(|(l, _)| self.expr(l, &left_schema)).collect::<Result<Vec<_>>>()?;
        let right_keys = on.iter().map(|(_, r)| self.expr(r, &right_schema)).collect::<Result<Vec<_>>>()?;
        let pair_fields: Vec<_> = left_schema.fields().iter().chain(right_schema.fields()).cloned().collect();
        let filter = filter.map(|f| self.expr(f, &Schema::new(pair_fields))).transpose()?;
        let sideways = self.sideways_filters(left, right, join_type, on);
        let runtime_filters =
            if sideways.is_empty() { self.runtime_filters_for(left, right, join_type, on) } else { Vec::new() };
        let sideways_keys: Vec<_> = sideways.into_iter().map(|(key, f)| (left_keys[key].clone(), vec![f])).collect();
        let spec = JoinSpec {
            join_type,
            left_keys,
            right_keys,
            filter,
            left_schema: left_schema.clone(),
            right_schema,
            schema,
            runtime_filters,
        };
        let (build, probe) = hash_join(spec, self.ctx.batch_size);
        if !sideways_keys.is_empty() {
            let left_pipelines = self.plan(left)?;
            let preserve_order = left_pipelines.iter().all(|p| p.preserve_order);
            let sink = SidewaysSink::new(left_schema.clone(), self.ctx.batch_size, sideways_keys);
            let index = self.add_stage(left_pipelines, Arc::new(sink), preserve_order);
            let build_pipelines = self.plan(right)?;
            self.add_stage(build_pipelines, Arc::new(build), false);
            let probe_pipelines = vec![stage_pipeline(index, left_schema, preserve_order)];
            return Ok(with_operator(probe_pipelines, Arc::new(probe)));
        }
        let build_pipelines = self.plan(right)?;
        self.add_stage(build_pipelines, Arc::new(build), false);
        let mut probe_pipelines = self.plan(left)?;
        if matches!(join_type, JoinType::Right | JoinType::Full) && probe_pipelines.len() > 1 {
            let sink = CollectSink::new(left_schema.clone(), self.ctx.batch_size, "Materialize");
            let index = self.add_stage(probe_pipelines, Arc::new(sink), false);
            probe_pipelines = vec![stage_pipeline(index, left_schema, false)];
        }
        Ok(with_operator(probe_pipelines, Arc::new(probe)))
    }

    /// The runtime filters a join's build side publishes for its probe side: one per equi-key
    /// whose probe expression is a column coming unchanged from a table scan column of the build
    /// key's type. Only joins that drop probe rows without a partner qualify: inner, semi and
    /// right (a right join emits unmatched *build* rows, which a smaller probe side cannot
    /// change). Left, full, anti, mark and single joins keep every probe row. Each filter is
    /// registered for its scan, which is planned after this (the build stage is added first,
    /// and the scheduler finishes that stage before the probe pipeline opens its scan).
    fn runtime_filters_for(
        &mut self,
        left: &LogicalPlan,
        right: &LogicalPlan,
        join_type: JoinType,
        on: &[(Expr, Expr)],
    ) -> Vec<(usize, Arc<RuntimeFilter>)> {
        if !matches!(join_type, JoinType::Inner | JoinType::Semi | JoinType::Right) {
            return Vec::new();
        }
        let right_schema = right.schema();
        let right_rows = estimate(right).rows;
        let mut filters = Vec::new();
        for (key, (l, r)) in on.iter().enumerate() {
            if let Some((scan, table_column)) = filter_target(left, l, &r.data_type(&right_schema)) {
                if !self.holds_whole_table(right, r, right_rows) {
                    self.reduced_scans.push(scan as *const TableScan);
                }
                filters.push((key, self.register_filter(scan, table_column)));
            }
        }
        filters
    }

    /// Whether join key `key` of `side` (estimated at `rows` rows) likely carries every key of
    /// the table it comes from: `side` is estimated at (nearly) all the rows of the scan the key
    /// column comes from, as an unfiltered scan is, and no join above registered a runtime filter
    /// from a reduced key set for that scan (q20's suppliers of one nation). Such keys cannot
    /// make the other side smaller (every lineitem has its order: q18's unfiltered `orders`
    /// reduced nothing), so a sideways reduction by them would only materialise `side` first,
    /// in memory, for nothing.
    fn holds_whole_table(&self, side: &LogicalPlan, key: &Expr, rows: f64) -> bool {
        let Expr::Column(column) = key else { return false };
        let Some((scan, _)) = scan_column(side, *column) else { return false };
        !self.reduced_scans.iter().any(|reduced| std::ptr::eq(*reduced, scan))
            && scan.statistics.rows.is_some_and(|table_rows| rows >= table_rows as f64 * WHOLE_TABLE_SHARE)
    }

    /// A new runtime filter on `table_column` of `scan`, registered for that scan.
    fn register_filter(&mut self, scan: &TableScan, table_column: usize) -> Arc<RuntimeFilter> {
        let filter = Arc::new(RuntimeFilter::new(table_column));
        self.runtime_filters.push((scan as *const TableScan, filter.clone()));
        filter
    }

    /// The sideways filters of a join whose left input is much smaller than its right input:
    /// (index into `on`, filter) per equi-key whose right expression is a column coming from a
    /// scan column of the left key's type (through [`scan_column`]), each registered for its
    /// scan. Empty unless the join type lets the build side lose rows without a left partner:
    /// inner, left, semi, anti, mark and single joins. Right and full joins emit unmatched build
    /// rows; the null-aware anti and mark joins answer differently when the build side has a
    /// NULL key, and a filter drops NULL keys.
    fn sideways_filters(
        &mut self,
        left: &LogicalPlan,
        right: &LogicalPlan,
        join_type: JoinType,
        on: &[(Expr, Expr)],
    ) -> Vec<(usize, Arc<RuntimeFilter>)> {
        use JoinType::*;
        if !matches!(join_type, Inner | Left | Semi | Anti | Mark | Single) {
            return Vec::new();
        }
        let left_schema = left.schema();
        let left_rows = estimate(left).rows;
        let mut targets = Vec::new();
        for (key, (l, r)) in on.iter().enumerate() {
            if self.holds_whole_table(left, l, left_rows) {
                continue;
            }
            if let Some((scan, table_column)) = filter_target(right, r, &l.data_type(&left_schema)) {
                targets.push((key, scan, table_column));
            }
        }
        if targets.is_empty() {
            return Vec::new();
        }
        let right_rows = targets
            .iter()
            .map(|(_, scan, _)| estimate(&LogicalPlan::Scan((*scan).clone())).rows)
            .fold(estimate(right).rows, f64::max);
        if left_rows * SIDEWAYS_RATIO > right_rows {
            return Vec::new();
        }
        let mut filters = Vec::new();
        for (key, scan, table_column) in targets {
            self.reduced_scans.push(scan as *const TableScan);
            filters.push((key, self.register_filter(scan, table_column)));
        }
        filters
    }

    /// The source of one scan, with the runtime filters joins above it registered for it.
    fn scan_source(&self, scan: &TableScan) -> Result<TableScanSource> {
        let filters: Vec<Arc<RuntimeFilter>> = self
            .runtime_filters
            .iter()
            .filter(|(target, _)| std::ptr::eq(*target, scan))
            .map(|(_, filter)| filter.clone())
            .collect();
        Ok(TableScanSource::new(scan)?.with_runtime_filters(filters))
    }

    /// A range join (sorted build side, binary-searched per probe row) for a join without
    /// equi-keys whose condition has an inequality between the sides; `None` otherwise.
    fn range_join(
        &self,
        join_type: JoinType,
        on: &[(Expr, Expr)],
        filter: Option<&Expr>,
        left_schema: &SchemaRef,
        right_schema: &SchemaRef,
        schema: &SchemaRef,
    ) -> Result<Option<(RangeJoinBuild, RangeJoinProbe)>> {
        let Some(filter) = filter.filter(|_| on.is_empty() && range_join::supports(join_type)) else { return Ok(None) };
        let Some(split) = RangeSplit::try_new(filter, left_schema, right_schema) else { return Ok(None) };
        let inputs = RangeJoinInputs {
            join_type,
            left_schema: left_schema.clone(),
            right_schema: right_schema.clone(),
            schema: schema.clone(),
        };
        split.compile(&|e, s| self.expr(e, s), inputs, self.ctx.batch_size).map(Some)
    }

    /// Adds a stage and returns its index. Pipelines into a sink that ignores arrival order run
    /// fully parallel even when their input was ordered.
    fn add_stage(&mut self, mut pipelines: Vec<Pipeline>, sink: Arc<dyn Sink>, keeps_order: bool) -> usize {
        if !keeps_order {
            pipelines.iter_mut().for_each(|p| p.preserve_order = false);
        }
        self.stages.push(Stage { pipelines, sink });
        self.stages.len() - 1
    }

    fn expr(&self, expr: &Expr, input: &Schema) -> Result<PhysicalExprRef> {
        create_physical_expr(expr, input, &self.ctx.functions)
    }

    fn exprs(&self, exprs: &[Expr], input: &Schema) -> Result<Vec<PhysicalExprRef>> {
        exprs.iter().map(|e| self.expr(e, input)).collect()
    }
}

/// The scan column a runtime filter on join key `key` (an expression over `side`) would
/// restrict: `key` is a bare column coming unchanged from a scan column (see [`scan_column`])
/// whose type equals `other_type`, the other side's key type. Floats are left out: `-0.0 = 0.0`
/// and NaN make a range test disagree with equality.
fn filter_target<'p>(side: &'p LogicalPlan, key: &Expr, other_type: &DataType) -> Option<(&'p TableScan, usize)> {
    let Expr::Column(column) = key else { return None };
    let (scan, table_column) = scan_column(side, *column)?;
    let scan_type = scan.table_schema.field(table_column).data_type();
    (scan_type == other_type && !scan_type.is_floating()).then_some((scan, table_column))
}

/// The table scan column that column `column` of `plan`'s output comes from unchanged, such
/// that dropping the scan rows whose value cannot match a join above removes only output rows
/// that join would drop: through filters, sorts, projections of bare columns, group keys of
/// plain aggregates and distincts (dropping every row of a group drops only that group), the
/// left side of joins whose output rows each come from one left row with its values (all but
/// right and full joins), and the right side of inner joins. Right and full joins below are not
/// crossed: a smaller input changes which of their rows come out unmatched. Unions, limits and
/// windows are not crossed either (grouping sets are unions of aggregates).
fn scan_column(plan: &LogicalPlan, column: usize) -> Option<(&TableScan, usize)> {
    match plan {
        LogicalPlan::Scan(scan) => Some((scan, *scan.projection.get(column)?)),
        // A top-N sort is a limit: fewer input rows change which rows it keeps.
        LogicalPlan::Filter { input, .. }
        | LogicalPlan::Sort { input, fetch: None, .. }
        | LogicalPlan::Distinct { input } => scan_column(input, column),
        LogicalPlan::Project { input, exprs, .. } => match exprs.get(column)? {
            Expr::Column(i) => scan_column(input, *i),
            _ => None,
        },
        LogicalPlan::Aggregate { input, group_by, .. } => match group_by.get(column)? {
            Expr::Column(i) => scan_column(input, *i),
            _ => None,
        },
        LogicalPlan::Join { left, right, join_type, .. } => {
            let left_width = left.schema().fields().len();
            match join_type {
                JoinType::Right | JoinType::Full => None,
                _ if column < left_width => scan_column(left, column),
                JoinType::Inner | JoinType::Cross => scan_column(right, column - left_width),
                _ => None,
            }
        }
        _ => None,
    }
}

fn source_pipeline(source: Arc<dyn crate::exec::pipeline::Source>) -> Pipeline {
    Pipeline { input: PipelineInput::Source(source), operators: vec![], preserve_order: false }
}

fn stage_pipeline(index: usize, schema: SchemaRef, preserve_order: bool) -> Pipeline {
    Pipeline { input: PipelineInput::Stage { index, schema }, operators: vec![], preserve_order }
}

/// Appends `operator` to every pipeline (the branches of a union share it).
fn with_operator(mut pipelines: Vec<Pipeline>, operator: Arc<dyn Operator>) -> Vec<Pipeline> {
    for pipeline in &mut pipelines {
        pipeline.operators.push(operator.clone());
    }
    pipelines
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::Field;

    use super::*;
    use crate::exec::testing::{builtin_context, context, on_pool, rows, sorted_rows};
    use crate::plan::{BinaryOp, ScalarValue};

    fn int(v: i64) -> ScalarValue {
        ScalarValue::Int64(Some(v))
    }

    fn text(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.to_string()))
    }

    fn schema(columns: &[(&str, DataType)]) -> SchemaRef {
        Arc::new(Schema::new(columns.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>()))
    }

    fn table(columns: &[(&str, DataType)], rows: Vec<Vec<ScalarValue>>) -> LogicalPlan {
        let rows = rows.into_iter().map(|r| r.into_iter().map(Expr::Literal).collect()).collect();
        LogicalPlan::Values { schema: schema(columns), rows }
    }

    fn col(i: usize) -> Expr {
        Expr::Column(i)
    }

    fn lit(v: ScalarValue) -> Expr {
        Expr::Literal(v)
    }

    fn agg(name: &str, args: Vec<Expr>) -> AggregateExpr {
        AggregateExpr { name: name.into(), args, distinct: false, filter: None, return_type: DataType::Int64 }
    }

    /// Runs on a pool of four workers with `batch_size`-row morsels.
    fn run(plan: &LogicalPlan, batch_size: usize) -> Vec<RecordBatch> {
        let ctx = context(batch_size);
        on_pool(4, || execute(plan, &ctx)).unwrap().1
    }

    /// `n` rows (a Int64 = i or NULL every tenth row, g Int64 = i % 7, s Utf8 = "s{i % 3}").
    fn numbers(n: i64) -> LogicalPlan {
        let rows = (0..n)
            .map(|i| {
                let a = if i % 10 == 9 { ScalarValue::Int64(None) } else { int(i) };
                vec![a, int(i % 7), text(&format!("s{}", i % 3))]
            })
            .collect();
        table(&[("a", DataType::Int64), ("g", DataType::Int64), ("s", DataType::Utf8)], rows)
    }

    #[test]
    fn filter_then_project() {
        let input = numbers(50);
        let predicate =
            Expr::binary(col(0), BinaryOp::Gt, lit(int(30))).and(Expr::binary(col(2), BinaryOp::Eq, lit(text("s1"))));
        let filter = LogicalPlan::Filter { input: Box::new(input), predicate };
        let plan = LogicalPlan::Project {
            input: Box::new(filter),
            exprs: vec![Expr::binary(col(0), BinaryOp::Plus, lit(int(1000))), col(2)],
            schema: schema(&[("b", DataType::Int64), ("s", DataType::Utf8)]),
        };
        let expected: Vec<String> =
            (31..50).filter(|i| i % 3 == 1 && i % 10 != 9).map(|i| format!("{}|s1", i + 1000)).collect();
        assert_eq!(sorted_rows(&run(&plan, 4)), expected);
    }

    #[test]
    fn aggregation_merges_groups_across_workers() {
        let n = 1000;
        let mut sum_over_500 = agg("sum", vec![col(0)]);
        sum_over_500.filter = Some(Box::new(Expr::binary(col(0), BinaryOp::Gt, lit(int(500)))));
        let mut distinct = agg("count", vec![Expr::binary(col(0), BinaryOp::Modulo, lit(int(4)))]);
        distinct.distinct = true;
        let plan = LogicalPlan::Aggregate {
            input: Box::new(numbers(n)),
            group_by: vec![col(1), col(2)],
            aggregates: vec![
                agg("count", vec![]),
                agg("count", vec![col(0)]),
                agg("sum", vec![col(0)]),
                sum_over_500,
                distinct,
            ],
            schema: schema(&[
                ("g", DataType::Int64),
                ("s", DataType::Utf8),
                ("n", DataType::Int64),
                ("na", DataType::Int64),
                ("sa", DataType::Int64),
                ("big", DataType::Int64),
                ("d", DataType::Int64),
            ]),
        };
        let mut expected = Vec::new();
        for g in 0..7 {
            for s in 0..3 {
                let members: Vec<i64> = (0..n).filter(|i| i % 7 == g && i % 3 == s).collect();
                let values: Vec<i64> = members.iter().copied().filter(|i| i % 10 != 9).collect();
                let big: Vec<i64> = values.iter().copied().filter(|v| *v > 500).collect();
                let big = if big.is_empty() { "NULL".to_string() } else { big.iter().sum::<i64>().to_string() };
                let distinct: std::collections::BTreeSet<i64> = values.iter().map(|v| v % 4).collect();
                expected.push(format!(
                    "{g}|s{s}|{}|{}|{}|{big}|{}",
                    members.len(),
                    values.len(),
                    values.iter().sum::<i64>(),
                    distinct.len()
                ));
            }
        }
        expected.sort();
        assert_eq!(sorted_rows(&run(&plan, 16)), expected);
    }

    #[test]
    fn aggregate_without_group_by_on_empty_input_is_one_row() {
        let empty = table(&[("a", DataType::Int64)], vec![]);
        let plan = LogicalPlan::Aggregate {
            input: Box::new(empty.clone()),
            group_by: vec![],
            aggregates: vec![agg("count", vec![]), agg("sum", vec![col(0)])],
            schema: schema(&[("n", DataType::Int64), ("s", DataType::Int64)]),
        };
        assert_eq!(rows(&run(&plan, 8)), vec!["0|NULL"]);
        let grouped = LogicalPlan::Aggregate {
            input: Box::new(empty),
            group_by: vec![col(0)],
            aggregates: vec![agg("count", vec![])],
            schema: schema(&[("a", DataType::Int64), ("n", DataType::Int64)]),
        };
        assert!(rows(&run(&grouped, 8)).is_empty());
    }

    #[test]
    fn count_star_over_many_morsels() {
        let plan = LogicalPlan::Aggregate {
            input: Box::new(numbers(777)),
            group_by: vec![],
            aggregates: vec![agg("count", vec![])],
            schema: schema(&[("n", DataType::Int64)]),
        };
        assert_eq!(rows(&run(&plan, 10)), vec!["777"]);
    }

    fn left_table() -> LogicalPlan {
        let rows = vec![
            vec![int(1), text("a")],
            vec![int(2), text("b")],
            vec![int(2), text("b2")],
            vec![ScalarValue::Int64(None), text("n")],
            vec![int(4), text("d")],
        ];
        table(&[("k", DataType::Int64), ("lv", DataType::Utf8)], rows)
    }

    fn right_table() -> LogicalPlan {
        let rows = vec![
            vec![int(2), text("x")],
            vec![int(2), text("y")],
            vec![int(3), text("z")],
            vec![ScalarValue::Int64(None), text("rn")],
            vec![int(4), text("w")],
        ];
        table(&[("rk", DataType::Int64), ("rv", DataType::Utf8)], rows)
    }

    fn join(join_type: JoinType, on: Vec<(Expr, Expr)>, filter: Option<Expr>) -> LogicalPlan {
        let columns: &[(&str, DataType)] = if matches!(join_type, JoinType::Semi | JoinType::Anti) {
            &[("k", DataType::Int64), ("lv", DataType::Utf8)]
        } else {
            &[("k", DataType::Int64), ("lv", DataType::Utf8), ("rk", DataType::Int64), ("rv", DataType::Utf8)]
        };
        LogicalPlan::Join {
            left: Box::new(left_table()),
            right: Box::new(right_table()),
            join_type,
            on,
            filter,
            schema: schema(columns),
        }
    }

    fn equi_join(join_type: JoinType) -> Vec<String> {
        sorted_rows(&run(&join(join_type, vec![(col(0), col(0))], None), 2))
    }

    fn sorted(rows: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        out.sort();
        out
    }

    const INNER: [&str; 5] = ["2|b|2|x", "2|b|2|y", "2|b2|2|x", "2|b2|2|y", "4|d|4|w"];

    #[test]
    fn inner_join_skips_null_keys() {
        assert_eq!(equi_join(JoinType::Inner), sorted(&INNER));
    }

    #[test]
    fn outer_joins_pad_unmatched_rows() {
        let left_extra = ["1|a|NULL|NULL", "NULL|n|NULL|NULL"];
        let right_extra = ["NULL|NULL|3|z", "NULL|NULL|NULL|rn"];
        assert_eq!(equi_join(JoinType::Left), sorted(&[&INNER[..], &left_extra[..]].concat()));
        assert_eq!(equi_join(JoinType::Right), sorted(&[&INNER[..], &right_extra[..]].concat()));
        assert_eq!(equi_join(JoinType::Full), sorted(&[&INNER[..], &left_extra[..], &right_extra[..]].concat()));
    }

    #[test]
    fn semi_and_anti_joins_output_left_rows_once() {
        assert_eq!(equi_join(JoinType::Semi), sorted(&["2|b", "2|b2", "4|d"]));
        assert_eq!(equi_join(JoinType::Anti), sorted(&["1|a", "NULL|n"]));
    }

    #[test]
    fn residual_failures_count_as_unmatched_in_outer_joins() {
        let not_x = Expr::binary(col(3), BinaryOp::NotEq, lit(text("x")));
        let left = run(&join(JoinType::Left, vec![(col(0), col(0))], Some(not_x.clone())), 2);
        assert_eq!(
            sorted_rows(&left),
            sorted(&["2|b|2|y", "2|b2|2|y", "4|d|4|w", "1|a|NULL|NULL", "NULL|n|NULL|NULL"])
        );

        let only_b = Expr::binary(col(1), BinaryOp::Eq, lit(text("b")));
        let full = run(&join(JoinType::Full, vec![(col(0), col(0))], Some(only_b)), 2);
        let expected = [
            "2|b|2|x",
            "2|b|2|y",
            "1|a|NULL|NULL",
            "2|b2|NULL|NULL",
            "NULL|n|NULL|NULL",
            "4|d|NULL|NULL",
            "NULL|NULL|3|z",
            "NULL|NULL|NULL|rn",
            "NULL|NULL|4|w",
        ];
        assert_eq!(sorted_rows(&full), sorted(&expected));

        let semi = run(&join(JoinType::Semi, vec![(col(0), col(0))], Some(not_x.clone())), 2);
        assert_eq!(sorted_rows(&semi), sorted(&["2|b", "2|b2", "4|d"]));
        let anti_only_y = Expr::binary(col(3), BinaryOp::Eq, lit(text("y")));
        let anti = run(&join(JoinType::Anti, vec![(col(0), col(0))], Some(anti_only_y)), 2);
        assert_eq!(sorted_rows(&anti), sorted(&["1|a", "NULL|n", "4|d"]));
    }

    #[test]
    fn joins_without_equi_keys_use_a_nested_loop() {
        let cross = run(&join(JoinType::Cross, vec![], None), 2);
        assert_eq!(rows(&cross).len(), 25);
        let less = Expr::binary(col(0), BinaryOp::Lt, col(2));
        let inner = run(&join(JoinType::Inner, vec![], Some(less.clone())), 2);
        let expected = ["1|a|2|x", "1|a|2|y", "1|a|3|z", "1|a|4|w", "2|b|3|z", "2|b|4|w", "2|b2|3|z", "2|b2|4|w"];
        assert_eq!(sorted_rows(&inner), sorted(&expected));
        let left = run(&join(JoinType::Left, vec![], Some(less)), 2);
        let with_unmatched = [&expected[..], &["NULL|n|NULL|NULL", "4|d|NULL|NULL"][..]].concat();
        assert_eq!(sorted_rows(&left), sorted(&with_unmatched));
    }

    /// A join of the left table with `right` (filtered from the right table) on `k = rk`.
    fn join_right(join_type: JoinType, right: Option<Expr>) -> LogicalPlan {
        let right = match right {
            Some(predicate) => LogicalPlan::Filter { input: Box::new(right_table()), predicate },
            None => right_table(),
        };
        let schema = crate::sql::binder::join_schema(&left_table().schema(), &right.schema(), join_type);
        LogicalPlan::Join {
            left: Box::new(left_table()),
            right: Box::new(right),
            join_type,
            on: vec![(col(0), col(0))],
            filter: None,
            schema,
        }
    }

    fn not_null_key() -> Option<Expr> {
        Some(Expr::IsNull { expr: Box::new(col(0)), negated: true })
    }

    #[test]
    fn null_aware_anti_join_keeps_nothing_when_the_right_side_has_a_null() {
        assert!(rows(&run(&join_right(JoinType::NullAwareAnti, None), 2)).is_empty());
        // No NULL on the right: a NULL left key is unknown, so it is not kept either.
        assert_eq!(sorted_rows(&run(&join_right(JoinType::NullAwareAnti, not_null_key()), 2)), ["1|a"]);
        // An empty right side keeps every row, NULL keys included.
        let empty = Some(Expr::Literal(ScalarValue::Boolean(Some(false))));
        assert_eq!(
            sorted_rows(&run(&join_right(JoinType::NullAwareAnti, empty), 2)),
            sorted(&["1|a", "2|b", "2|b2", "4|d", "NULL|n"])
        );
    }

    #[test]
    fn mark_joins_add_the_match_as_a_boolean() {
        let marks = run(&join_right(JoinType::Mark, None), 2);
        assert_eq!(sorted_rows(&marks), sorted(&["1|a|false", "2|b|true", "2|b2|true", "4|d|true", "NULL|n|false"]));
        let in_marks = run(&join_right(JoinType::NullAwareMark, None), 2);
        assert_eq!(sorted_rows(&in_marks), sorted(&["1|a|NULL", "2|b|true", "2|b2|true", "4|d|true", "NULL|n|NULL"]));
        let in_marks = run(&join_right(JoinType::NullAwareMark, not_null_key()), 2);
        assert_eq!(sorted_rows(&in_marks), sorted(&["1|a|false", "2|b|true", "2|b2|true", "4|d|true", "NULL|n|NULL"]));
    }

    #[test]
    fn single_join_fails_on_a_second_match() {
        let ctx = context(2);
        let err = on_pool(4, || execute(&join_right(JoinType::Single, None), &ctx)).unwrap_err();
        assert!(err.to_string().contains("more than one row returned by a subquery"), "{err}");
        let not_y = Some(Expr::binary(col(1), BinaryOp::NotEq, lit(text("y"))));
        let single = run(&join_right(JoinType::Single, not_y), 2);
        assert_eq!(
            sorted_rows(&single),
            sorted(&["1|a|NULL|NULL", "2|b|2|x", "2|b2|2|x", "4|d|4|w", "NULL|n|NULL|NULL"])
        );
    }

    #[test]
    fn join_on_key_expressions() {
        // ON l.k + 1 = r.rk
        let on = vec![(Expr::binary(col(0), BinaryOp::Plus, lit(int(1))), col(0))];
        let result = run(&join(JoinType::Inner, on, None), 2);
        assert_eq!(sorted_rows(&result), sorted(&["1|a|2|x", "1|a|2|y", "2|b|3|z", "2|b2|3|z"]));
    }

    /// Rows (a, b) with NULLs in both, spread over several morsels.
    fn unsorted() -> LogicalPlan {
        let a = |v: Option<i64>| ScalarValue::Int64(v);
        let b = |v: Option<&str>| ScalarValue::Utf8(v.map(str::to_string));
        let rows = vec![
            vec![a(Some(3)), b(Some("x"))],
            vec![a(None), b(Some("y"))],
            vec![a(Some(1)), b(None)],
            vec![a(Some(2)), b(Some("x"))],
            vec![a(None), b(None)],
            vec![a(Some(5)), b(Some("y"))],
            vec![a(Some(4)), b(Some("x"))],
            vec![a(Some(0)), b(Some("z"))],
        ];
        table(&[("a", DataType::Int64), ("b", DataType::Utf8)], rows)
    }

    fn sort(input: LogicalPlan, keys: Vec<(usize, bool, bool)>, fetch: Option<usize>) -> LogicalPlan {
        let keys = keys
            .into_iter()
            .map(|(c, ascending, nulls_first)| SortExpr { expr: col(c), ascending, nulls_first })
            .collect();
        LogicalPlan::Sort { input: Box::new(input), keys, fetch }
    }

    #[test]
    fn sort_on_several_keys_with_null_placement() {
        // ORDER BY b ASC NULLS FIRST, a DESC NULLS LAST
        let plan = sort(unsorted(), vec![(1, true, true), (0, false, false)], None);
        let expected = ["1|NULL", "NULL|NULL", "4|x", "3|x", "2|x", "5|y", "NULL|y", "0|z"];
        assert_eq!(rows(&run(&plan, 2)), expected);
        // ORDER BY a DESC (NULLs first by default), b ASC NULLS LAST
        let plan = sort(unsorted(), vec![(0, false, true), (1, true, false)], None);
        let expected = ["NULL|y", "NULL|NULL", "5|y", "4|x", "3|x", "2|x", "1|NULL", "0|z"];
        assert_eq!(rows(&run(&plan, 3)), expected);
    }

    #[test]
    fn top_n_and_limit_over_sort_follow_sort_order() {
        let top = sort(unsorted(), vec![(0, true, false)], Some(3));
        assert_eq!(rows(&run(&top, 2)), ["0|z", "1|NULL", "2|x"]);
        let limited = LogicalPlan::Limit {
            input: Box::new(sort(unsorted(), vec![(0, true, false)], None)),
            skip: 2,
            fetch: Some(3),
        };
        assert_eq!(rows(&run(&limited, 2)), ["2|x", "3|x", "4|x"]);
        let beyond = LogicalPlan::Limit {
            input: Box::new(sort(unsorted(), vec![(0, true, false)], Some(4))),
            skip: 2,
            fetch: Some(10),
        };
        assert_eq!(rows(&run(&beyond, 2)), ["2|x", "3|x"]);
        // A projection between the limit and the sort keeps the order (an ordered pipeline).
        let project = LogicalPlan::Project {
            input: Box::new(sort(unsorted(), vec![(0, false, false)], None)),
            exprs: vec![col(0)],
            schema: schema(&[("a", DataType::Int64)]),
        };
        let limited = LogicalPlan::Limit { input: Box::new(project), skip: 1, fetch: Some(3) };
        assert_eq!(rows(&run(&limited, 1)), ["4", "3", "2"]);
    }

    #[test]
    fn limit_and_offset_without_order() {
        let plan = LogicalPlan::Limit { input: Box::new(numbers(500)), skip: 7, fetch: Some(20) };
        assert_eq!(rows(&run(&plan, 8)).len(), 20);
        let offset = LogicalPlan::Limit { input: Box::new(numbers(50)), skip: 45, fetch: None };
        assert_eq!(rows(&run(&offset, 8)).len(), 5);
        let none = LogicalPlan::Limit { input: Box::new(numbers(50)), skip: 0, fetch: Some(0) };
        assert!(rows(&run(&none, 8)).is_empty());
    }

    #[test]
    fn union_feeds_every_branch_into_one_sink() {
        let first = table(&[("x", DataType::Int64)], vec![vec![int(1)], vec![int(2)]]);
        let second = table(&[("y", DataType::Int64)], vec![vec![int(2)], vec![int(3)], vec![int(4)]]);
        let union = LogicalPlan::Union { inputs: vec![first, second], schema: schema(&[("x", DataType::Int64)]) };
        let batches = run(&union, 1);
        assert_eq!(sorted_rows(&batches), ["1", "2", "2", "3", "4"]);
        assert!(batches.iter().all(|b| b.schema().field(0).name() == "x"));
        let distinct = LogicalPlan::Distinct { input: Box::new(union.clone()) };
        assert_eq!(sorted_rows(&run(&distinct, 1)), ["1", "2", "3", "4"]);
        let counted = LogicalPlan::Aggregate {
            input: Box::new(union.clone()),
            group_by: vec![],
            aggregates: vec![agg("count", vec![])],
            schema: schema(&[("n", DataType::Int64)]),
        };
        assert_eq!(rows(&run(&counted, 1)), ["5"]);
        // A union on the probe side of a right join is materialised into one pipeline first.
        let right = table(&[("k", DataType::Int64)], vec![vec![int(2)], vec![int(9)]]);
        let plan = LogicalPlan::Join {
            left: Box::new(union),
            right: Box::new(right),
            join_type: JoinType::Right,
            on: vec![(col(0), col(0))],
            filter: None,
            schema: schema(&[("x", DataType::Int64), ("k", DataType::Int64)]),
        };
        assert_eq!(sorted_rows(&run(&plan, 1)), ["2|2", "2|2", "NULL|9"]);
    }

    #[test]
    fn distinct_removes_duplicate_rows() {
        let rows_in = vec![
            vec![int(1), text("a")],
            vec![int(1), text("a")],
            vec![int(1), text("b")],
            vec![ScalarValue::Int64(None), text("a")],
            vec![ScalarValue::Int64(None), text("a")],
        ];
        let plan =
            LogicalPlan::Distinct { input: Box::new(table(&[("a", DataType::Int64), ("b", DataType::Utf8)], rows_in)) };
        assert_eq!(sorted_rows(&run(&plan, 1)), sorted(&["1|a", "1|b", "NULL|a"]));
    }

    #[test]
    fn select_without_from_is_one_row() {
        let plan = LogicalPlan::Project {
            input: Box::new(LogicalPlan::one_row()),
            exprs: vec![lit(int(1)), lit(text("one"))],
            schema: schema(&[("x", DataType::Int64), ("y", DataType::Utf8)]),
        };
        assert_eq!(rows(&run(&plan, 8)), ["1|one"]);
    }

    #[test]
    fn builtin_aggregates_across_workers() {
        let ctx = builtin_context(16);
        let mut distinct = agg("count", vec![Expr::binary(col(0), BinaryOp::Modulo, lit(int(4)))]);
        distinct.distinct = true;
        let plan = LogicalPlan::Aggregate {
            input: Box::new(numbers(1000)),
            group_by: vec![col(1)],
            aggregates: vec![agg("count", vec![]), distinct, agg("min", vec![col(0)]), agg("max", vec![col(0)])],
            schema: schema(&[
                ("g", DataType::Int64),
                ("n", DataType::Int64),
                ("d", DataType::Int64),
                ("lo", DataType::Int64),
                ("hi", DataType::Int64),
            ]),
        };
        let result = on_pool(4, || execute(&plan, &ctx)).unwrap().1;
        let expected: Vec<String> = (0..7)
            .map(|g| {
                let members: Vec<i64> = (0..1000).filter(|i| i % 7 == g).collect();
                let values: Vec<i64> = members.iter().copied().filter(|i| i % 10 != 9).collect();
                let distinct: std::collections::BTreeSet<i64> = values.iter().map(|v| v % 4).collect();
                let (lo, hi) = (values.iter().min().unwrap(), values.iter().max().unwrap());
                format!("{g}|{}|{}|{lo}|{hi}", members.len(), distinct.len())
            })
            .collect();
        assert_eq!(sorted_rows(&result), expected);

        let empty = LogicalPlan::Aggregate {
            input: Box::new(table(&[("a", DataType::Int64)], vec![])),
            group_by: vec![],
            aggregates: vec![agg("count", vec![]), agg("max", vec![col(0)])],
            schema: schema(&[("n", DataType::Int64), ("m", DataType::Int64)]),
        };
        assert_eq!(rows(&on_pool(2, || execute(&empty, &ctx)).unwrap().1), ["0|NULL"]);
    }

    #[test]
    fn cancelled_query_fails_with_cancelled() {
        let ctx = context(4);
        ctx.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        let plan = LogicalPlan::Aggregate {
            input: Box::new(numbers(100)),
            group_by: vec![col(1)],
            aggregates: vec![agg("count", vec![])],
            schema: schema(&[("g", DataType::Int64), ("n", DataType::Int64)]),
        };
        assert!(matches!(execute(&plan, &ctx), Err(EngineError::Cancelled)));
    }

    #[test]
    fn explain_lists_pipelines_at_breakers() {
        let plan = LogicalPlan::Limit {
            input: Box::new(sort(join(JoinType::Inner, vec![(col(0), col(0))], None), vec![(1, true, false)], None)),
            skip: 0,
            fetch: Some(2),
        };
        let text = explain(&plan, &context(8)).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            [
                "Stage 0",
                "Pipeline 0",
                "Source: Values rows=5 columns=[rk, rv]",
                "Sink: HashJoinBuild keys=[rk@0]",
                "Stage 1 (result)",
                "Pipeline 1",
                "Source: Values rows=5 columns=[k, lv]",
                "HashJoinProbe Inner on=[k@0 = rk@0]",
                "Sink: Sort [lv@1 ASC NULLS LAST] fetch=2",
            ]
        );
    }

    #[test]
    fn explain_analyze_counts_rows_at_every_step() {
        // 50 rows; a > 30 keeps 31..49 minus NULLs at 39 and 49: 17 rows.
        let filter = LogicalPlan::Filter {
            input: Box::new(numbers(50)),
            predicate: Expr::binary(col(0), BinaryOp::Gt, lit(int(30))),
        };
        let plan = LogicalPlan::Aggregate {
            input: Box::new(filter),
            group_by: vec![],
            aggregates: vec![agg("count", vec![])],
            schema: schema(&[("n", DataType::Int64)]),
        };
        let ctx = context(8);
        let (text, rows) = on_pool(4, || explain_analyze(&plan, &ctx)).unwrap();
        assert_eq!(rows, 1);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert!(lines[2].starts_with("Source: Values rows=50 columns=[a, g, s] [rows=50 time="), "{text}");
        assert!(lines[3].contains("[rows_in=50 rows_out=17 time="), "{text}");
        assert!(lines[4].starts_with("Sink: HashAggregate") && lines[4].contains("[rows_in=17 rows_out=1 "), "{text}");
    }

    #[test]
    fn sink_memory_over_the_limit_fails_the_query() {
        let mut ctx = context(8);
        ctx.memory = Arc::new(crate::exec::memory_limit::MemoryTracker::new(Some(100)));
        let plan = sort(numbers(1000), vec![(0, true, false)], None);
        let error = on_pool(4, || execute(&plan, &ctx)).unwrap_err();
        assert!(matches!(error, EngineError::ResourceLimit { what: "memory", limit: 100, .. }), "{error}");
        assert!(error.to_string().ends_with(" in Sort)"), "{error}");
    }

    #[test]
    fn a_stage_returns_its_memory_once_its_output_is_read() {
        let ctx = context(8);
        let sorted = sort(numbers(1000), vec![(0, true, false)], None);
        let plan = LogicalPlan::Project {
            input: Box::new(sorted),
            exprs: vec![col(0)],
            schema: schema(&[("a", DataType::Int64)]),
        };
        on_pool(4, || execute(&plan, &ctx)).unwrap();
        // The sort's buffered input was returned when the result pipeline had read it; what
        // stays reserved is the collected result (one of the three columns).
        let (reserved, peak) = (ctx.memory.reserved(), ctx.memory.peak());
        assert!(reserved > 0 && reserved * 2 < peak, "reserved {reserved}, peak {peak}");
    }

    /// A Parquet scan of table `name` (columns `k`, `w`, both BIGINT) of `rows` rows by its
    /// statistics; planning never opens its (absent) files.
    fn stats_scan(name: &str, rows: u64) -> LogicalPlan {
        use tarn_catalog::{Column, DataFormat, Location, Parameters, SqlType, StorageDescriptor, Table, TableKind};
        let columns = ["k", "w"].iter().map(|n| Column::new(*n, SqlType::parse("BIGINT").unwrap())).collect();
        let location = Location::parse(&format!("/nonexistent/{name}")).unwrap().as_dir().as_url_str();
        let table = Table {
            database: "default".into(),
            name: name.into(),
            kind: TableKind::External,
            storage: StorageDescriptor {
                columns,
                location,
                format: DataFormat::Parquet,
                serde_parameters: Default::default(),
            },
            partition_keys: vec![],
            parameters: Parameters::new(),
            created_at: 0,
            updated_at: 0,
            version: 1,
        };
        let table_schema = schema(&[("k", DataType::Int64), ("w", DataType::Int64)]);
        LogicalPlan::Scan(TableScan {
            table: Arc::new(table),
            table_schema: table_schema.clone(),
            projection: vec![0, 1],
            filters: vec![],
            partitions: vec![],
            partitions_pruned: 0,
            schema: table_schema,
            statistics: Arc::new(crate::plan::logical::TableStatistics { rows: Some(rows), ..Default::default() }),
        })
    }

    fn scan_join(left: LogicalPlan, right: LogicalPlan, join_type: JoinType) -> LogicalPlan {
        let schema = crate::sql::binder::join_schema(&left.schema(), &right.schema(), join_type);
        LogicalPlan::Join {
            left: Box::new(left),
            right: Box::new(right),
            join_type,
            on: vec![(col(0), col(0))],
            filter: None,
            schema,
        }
    }

    /// Part of table `name` (of `rows` rows): the rows with `w = 1`, estimated at a fraction.
    fn filtered_scan(name: &str, rows: u64) -> LogicalPlan {
        let predicate = Expr::binary(col(1), crate::plan::BinaryOp::Eq, lit(int(1)));
        LogicalPlan::Filter { input: Box::new(stats_scan(name, rows)), predicate }
    }

    /// The trimmed `EXPLAIN` lines of `plan`.
    fn explain_lines(plan: &LogicalPlan) -> Vec<String> {
        explain(plan, &context(8)).unwrap().lines().map(|l| l.trim().to_string()).collect()
    }

    #[test]
    fn a_small_left_side_filters_the_big_build_side_first() {
        use JoinType::*;
        for join_type in [Inner, Left, Semi, Anti, Mark, Single] {
            let plan = scan_join(filtered_scan("small", 1_000), stats_scan("big", 10_000), join_type);
            let mut lines = explain_lines(&plan);
            assert!(lines.remove(3).starts_with("Filter"), "{join_type:?}: {lines:#?}");
            assert_eq!(
                lines[..8],
                [
                    "Stage 0",
                    "Pipeline 0",
                    "Source: TableScan default.small format=parquet columns=[k, w]",
                    "Sink: Materialize runtime_filter_keys=[k@0]",
                    "Stage 1",
                    "Pipeline 1",
                    "Source: TableScan default.big format=parquet columns=[k, w] runtime_filters=[k]",
                    "Sink: HashJoinBuild keys=[k@0]",
                ],
                "{join_type:?}: {lines:#?}"
            );
            assert_eq!(lines[10], "Source: output of stage 0", "{join_type:?}: {lines:#?}");
            assert!(lines[11].starts_with(&format!("HashJoinProbe {join_type:?}")), "{join_type:?}: {lines:#?}");
        }
    }

    #[test]
    fn joins_that_need_every_build_row_never_filter_it_sideways() {
        use JoinType::*;
        for join_type in [Right, Full, NullAwareAnti, NullAwareMark] {
            let plan = scan_join(stats_scan("small", 100), stats_scan("big", 10_000), join_type);
            let text = explain_lines(&plan).join("\n");
            assert!(!text.contains("Materialize"), "{join_type:?}: {text}");
            assert!(!text.contains("TableScan default.big format=parquet columns=[k, w] runtime_filters"), "{text}");
        }
        // A left side not much smaller than the right one is probed as it streams, filtered by
        // the build side as before.
        let plan = scan_join(stats_scan("small", 5_000), stats_scan("big", 10_000), Inner);
        let text = explain_lines(&plan).join("\n");
        assert!(!text.contains("Materialize"), "{text}");
        assert!(text.contains("TableScan default.small format=parquet columns=[k, w] runtime_filters=[k]"), "{text}");
    }

    #[test]
    fn a_left_side_holding_a_whole_table_never_filters_sideways() {
        // Every row of `small` (so every key of it) reduces nothing under a join on its key:
        // the join streams `small` as the probe side, filtered by the build side as usual.
        for join_type in [JoinType::Inner, JoinType::Semi] {
            let plan = scan_join(stats_scan("small", 100), stats_scan("big", 10_000), join_type);
            let text = explain_lines(&plan).join("\n");
            assert!(!text.contains("Materialize"), "{join_type:?}: {text}");
            assert!(!text.contains("TableScan default.big format=parquet columns=[k, w] runtime_filters"), "{text}");
            assert!(
                text.contains("TableScan default.small format=parquet columns=[k, w] runtime_filters=[k]"),
                "{text}"
            );
        }
        // Through a join that keeps every row of the table: the estimate decides, not the scan.
        let whole_join = scan_join(stats_scan("small", 100), filtered_scan("mid", 400), JoinType::Left);
        let text = explain_lines(&scan_join(whole_join, stats_scan("big", 10_000), JoinType::Inner)).join("\n");
        assert!(!text.contains("Materialize"), "{text}");
        // A runtime filter from a filtered table above reduces the whole table's keys first: the
        // sideways reduction pays again.
        let semi = scan_join(stats_scan("small", 100), stats_scan("big", 10_000), JoinType::Semi);
        let text = explain_lines(&scan_join(semi, filtered_scan("dim", 1_000), JoinType::Inner)).join("\n");
        assert!(text.contains("Materialize runtime_filter_keys=[k@0]"), "{text}");
        assert!(text.contains("TableScan default.big format=parquet columns=[k, w] runtime_filters=[k]"), "{text}");
        // A filter from a whole table does not.
        let semi = scan_join(stats_scan("small", 100), stats_scan("big", 10_000), JoinType::Semi);
        let text = explain_lines(&scan_join(semi, stats_scan("dim", 1_000), JoinType::Inner)).join("\n");
        assert!(!text.contains("Materialize"), "{text}");
    }

    #[test]
    fn a_shared_subplan_runs_once_and_feeds_every_reader() {
        let grouped = LogicalPlan::Aggregate {
            input: Box::new(numbers(100)),
            group_by: vec![col(1)],
            aggregates: vec![agg("count", vec![])],
            schema: schema(&[("g", DataType::Int64), ("n", DataType::Int64)]),
        };
        let shared = LogicalPlan::Shared { id: 1, input: Box::new(grouped) };
        // The grouped rows joined with themselves: both sides read the one shared stage, and no
        // runtime filter of the join reaches into it.
        let plan = scan_join(shared.clone(), shared, JoinType::Inner);
        let lines = explain_lines(&plan);
        assert_eq!(lines.iter().filter(|l| l.starts_with("Source: Values")).count(), 1, "{lines:#?}");
        assert_eq!(lines.iter().filter(|l| *l == "Sink: Shared #1").count(), 1, "{lines:#?}");
        assert_eq!(lines.iter().filter(|l| *l == "Source: shared #1").count(), 2, "{lines:#?}");
        let expected: Vec<String> =
            (0..7).map(|g| format!("{g}|{n}|{g}|{n}", n = (0..100).filter(|i| i % 7 == g).count())).collect();
        assert_eq!(sorted_rows(&run(&plan, 8)), expected);
    }

    #[test]
    fn sideways_filters_reach_through_group_keys_but_not_aggregates() {
        let grouped = |group: usize| {
            let aggregate = LogicalPlan::Aggregate {
                input: Box::new(stats_scan("big", 10_000)),
                group_by: vec![col(group)],
                aggregates: vec![agg("count", vec![])],
                schema: schema(&[("g", DataType::Int64), ("n", DataType::Int64)]),
            };
            // The join key is the group key (column 0) or the count (column 1).
            move |key: usize| {
                let project = LogicalPlan::Project {
                    input: Box::new(aggregate.clone()),
                    exprs: vec![col(key)],
                    schema: schema(&[("x", DataType::Int64)]),
                };
                scan_join(filtered_scan("small", 1_000), project, JoinType::Single)
            }
        };
        let text = explain_lines(&grouped(1)(0)).join("\n");
        assert!(text.contains("Materialize runtime_filter_keys=[k@0]"), "{text}");
        assert!(text.contains("TableScan default.big format=parquet columns=[k, w] runtime_filters=[w]"), "{text}");
        let text = explain_lines(&grouped(0)(1)).join("\n");
        assert!(!text.contains("Materialize") && !text.contains("runtime_filters"), "{text}");
    }
}
