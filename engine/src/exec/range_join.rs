//! Range join: a join without an equality between its sides whose condition compares them with
//! `<`, `<=`, `>` or `>=` (a time window, a price band, "the events before this one"). A hash
//! join without keys pairs every probe row with every build row; here the build side is sorted
//! once by the key of one inequality and each probe row binary-searches the contiguous run of
//! build rows that satisfy it. Two bounds on the same build key (`a.lo <= b.x AND b.x < a.hi`)
//! give an exact run; a band over two build keys (`b.lo <= a.x AND a.x < b.hi`) sorts on one and
//! narrows the run with the running maximum (or minimum) of the other, which is exact when the
//! bands do not overlap and never wrong when they do, because every condition but the exact
//! ones of the sort key stays in the residual that checks each candidate pair.
//!
//! NULL keys never match: build rows with a NULL sort key are dropped, probe rows with a NULL
//! bound are skipped. Comparisons use Arrow's ordering (floats by IEEE total order), the same as
//! the comparison kernels the residual would use, so the answer is exactly the nested loop's.
//! Only joins whose output is decided per probe row are handled (inner, left, semi, anti, mark,
//! single); right and full joins stay on the hash join's nested loop.

use std::sync::{Arc, OnceLock};

use arrow::array::{make_comparator, Array, ArrayRef, DynComparator};
use arrow::compute::{concat_batches, sort_to_indices, take, SortOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::exec::collect::{BatchCollector, GatheredBatches};
use crate::exec::join_pairs::{self, NullAwareState, Pairs, ProbeSide};
use crate::exec::pipeline::{LocalSink, Operator, Sink};
use crate::exec::project::batch_with_schema;
use crate::expr::PhysicalExprRef;
use crate::plan::{BinaryOp, Expr, JoinType};

/// `key OP value`: what a build key must satisfy against a probe value.
#[derive(Debug, Clone, PartialEq)]
struct KeyBound {
    /// The comparison with the build key on the left (`Gt`, `GtEq`, `Lt`, `LtEq`).
    op: BinaryOp,
    /// The probe-side expression, over the left input.
    probe: Expr,
}

impl KeyBound {
    fn is_lower(&self) -> bool {
        matches!(self.op, BinaryOp::Gt | BinaryOp::GtEq)
    }
}

/// How a join condition splits into the sort key's bounds, an optional narrowing bound on a second
/// build key, and the residual (over left then right columns) that every candidate pair must pass.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSplit {
    /// The build-side expression the build rows are sorted by (over the right input).
    key: Expr,
    lower: Option<KeyBound>,
    upper: Option<KeyBound>,
    /// A second build key and a bound on it, used only to narrow the run (also in the residual).
    narrow: Option<(Expr, KeyBound)>,
    residual: Option<Expr>,
}

/// `op` with its operands swapped (`a < b` is `b > a`).
fn flipped(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

/// Types whose Arrow ordering is the SQL ordering of `<` (nested, interval and duration types
/// are left to the nested loop).
fn orderable(t: &DataType) -> bool {
    t.is_numeric()
        || matches!(
            t,
            DataType::Boolean
                | DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
        )
}

impl RangeSplit {
    /// The range-join reading of `condition` (bound over `left_len` left columns followed by the
    /// right ones), or `None` when no conjunct is an inequality between an expression over the
    /// left input and one over the right input of the same orderable type.
    pub fn try_new(condition: &Expr, left: &Schema, right: &Schema) -> Option<RangeSplit> {
        let left_len = left.fields().len();
        let conjuncts = condition.clone().split_conjunction();
        // (conjunct index, build key, bound)
        let mut bounds: Vec<(usize, Expr, KeyBound)> = Vec::new();
        for (i, conjunct) in conjuncts.iter().enumerate() {
            if let Some((key, bound)) = key_bound(conjunct, left_len) {
                let key_type = key.data_type(right);
                if key_type == bound.probe.data_type(left) && orderable(&key_type) {
                    bounds.push((i, key, bound));
                }
            }
        }
        let first = bounds.first()?;
        // The sort key: one bounded on both sides if there is one, else the first.
        let key = bounds
            .iter()
            .find(|(_, k, b)| bounds.iter().any(|(_, k2, b2)| k2 == k && b2.is_lower() != b.is_lower()))
            .unwrap_or(first)
            .1
            .clone();
        let mut used = Vec::new();
        let mut lower = None;
        let mut upper = None;
        for (i, k, b) in &bounds {
            if *k != key {
                continue;
            }
            let slot = if b.is_lower() { &mut lower } else { &mut upper };
            if slot.is_none() {
                *slot = Some(b.clone());
                used.push(*i);
            }
        }
        let narrow = if lower.is_some() && upper.is_some() {
            None
        } else {
            bounds.iter().find(|(_, k, _)| *k != key).map(|(_, k, b)| (k.clone(), b.clone()))
        };
        let residual =
            Expr::conjunction(conjuncts.into_iter().enumerate().filter(|(i, _)| !used.contains(i)).map(|(_, c)| c));
        Some(RangeSplit { key, lower, upper, narrow, residual })
    }

    /// The residual every candidate pair is checked against (over left then right columns).
    pub fn residual(&self) -> Option<&Expr> {
        self.residual.as_ref()
    }

    /// Compiles the split with `compile` (an expression and the schema it is over) into the
    /// join's two halves.
    pub fn compile(
        &self,
        compile: &dyn Fn(&Expr, &Schema) -> Result<PhysicalExprRef>,
        inputs: RangeJoinInputs,
        batch_size: usize,
    ) -> Result<(RangeJoinBuild, RangeJoinProbe)> {
        let RangeJoinInputs { join_type, left_schema, right_schema, schema } = inputs;
        if !supports(join_type) {
            return Err(EngineError::Internal(format!("a range join cannot run a {join_type:?} join")));
        }
        let bound = |b: &Option<KeyBound>| -> Result<Option<PhysicalBound>> {
            b.as_ref().map(|b| Ok(PhysicalBound { op: b.op, probe: compile(&b.probe, &left_schema)? })).transpose()
        };
        let narrow = match &self.narrow {
            Some((key, b)) => Some(PhysicalNarrow {
                key: compile(key, &right_schema)?,
                bound: PhysicalBound { op: b.op, probe: compile(&b.probe, &left_schema)? },
                from_left: self.lower.is_none(),
            }),
            None => None,
        };
        let pair_fields: Vec<Arc<Field>> = left_schema.fields().iter().chain(right_schema.fields()).cloned().collect();
        let residual = self.residual.as_ref().map(|r| compile(r, &Schema::new(pair_fields))).transpose()?;
        let spec = RangeJoinSpec {
            join_type,
            key: compile(&self.key, &right_schema)?,
            lower: bound(&self.lower)?,
            upper: bound(&self.upper)?,
            narrow,
            residual,
            left_schema,
            right_schema,
            schema,
        };
        Ok(range_join(spec, batch_size))
    }
}

/// The join's inputs and output, as the planner knows them.
pub struct RangeJoinInputs {
    pub join_type: JoinType,
    pub left_schema: SchemaRef,
    pub right_schema: SchemaRef,
    pub schema: SchemaRef,
}

/// Whether the range join can run `join_type` (its output must be decided per probe row).
pub fn supports(join_type: JoinType) -> bool {
    matches!(
        join_type,
        JoinType::Inner | JoinType::Left | JoinType::Semi | JoinType::Anti | JoinType::Mark | JoinType::Single
    )
}

/// `(build key, bound)` when `conjunct` compares an expression over the left columns only with
/// one over the right columns only (rebased onto the right input).
fn key_bound(conjunct: &Expr, left_len: usize) -> Option<(Expr, KeyBound)> {
    let Expr::Binary { op, left, right } = conjunct else { return None };
    if !matches!(op, BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq) {
        return None;
    }
    let side = |e: &Expr| {
        let mut columns = Vec::new();
        e.collect_columns(&mut columns);
        match (columns.is_empty(), columns.iter().all(|c| *c < left_len), columns.iter().all(|c| *c >= left_len)) {
            (true, _, _) => None,
            (false, true, _) => Some(true),
            (false, _, true) => Some(false),
            _ => None,
        }
    };
    let rebase = |e: &Expr| e.clone().remap_columns(&|c| c - left_len);
    match (side(left)?, side(right)?) {
        // probe OP key: the key satisfies the flipped comparison.
        (true, false) => Some((rebase(right), KeyBound { op: flipped(*op), probe: left.as_ref().clone() })),
        (false, true) => Some((rebase(left), KeyBound { op: *op, probe: right.as_ref().clone() })),
        _ => None,
    }
}

/// One compiled bound: `build key OP probe value`.
struct PhysicalBound {
    op: BinaryOp,
    probe: PhysicalExprRef,
}

/// A second build key narrowing the run: with only an upper bound on the sort key the run is a
/// prefix and is narrowed from the left by the key's running extreme, with only a lower bound a
/// suffix narrowed from the right.
struct PhysicalNarrow {
    key: PhysicalExprRef,
    bound: PhysicalBound,
    from_left: bool,
}

/// A range join compiled against its inputs.
struct RangeJoinSpec {
    join_type: JoinType,
    /// The build-side sort key (over the right input).
    key: PhysicalExprRef,
    lower: Option<PhysicalBound>,
    upper: Option<PhysicalBound>,
    narrow: Option<PhysicalNarrow>,
    /// Over the left columns followed by the right ones.
    residual: Option<PhysicalExprRef>,
    left_schema: SchemaRef,
    right_schema: SchemaRef,
    schema: SchemaRef,
}

/// The two halves of one range join, sharing the sorted build side.
fn range_join(spec: RangeJoinSpec, batch_size: usize) -> (RangeJoinBuild, RangeJoinProbe) {
    let left_len = spec.left_schema.fields().len();
    let pad_right = matches!(spec.join_type, JoinType::Left | JoinType::Single);
    let output_schema = Arc::new(Schema::new(
        spec.schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| if pad_right && i >= left_len { nullable(f) } else { f.clone() })
            .collect::<Vec<_>>(),
    ));
    let pair_schema = if spec.join_type.emits_right() {
        output_schema.clone()
    } else {
        Arc::new(Schema::new(
            spec.left_schema.fields().iter().chain(spec.right_schema.fields()).map(nullable).collect::<Vec<_>>(),
        ))
    };
    let shared = Arc::new(RangeShared {
        spec,
        output_schema,
        pair_schema,
        batch_size: batch_size.max(1),
        built: OnceLock::new(),
    });
    (RangeJoinBuild { shared: shared.clone(), batches: GatheredBatches::default() }, RangeJoinProbe { shared })
}

fn nullable(field: &Arc<Field>) -> Arc<Field> {
    Arc::new(field.as_ref().clone().with_nullable(true))
}

struct RangeShared {
    spec: RangeJoinSpec,
    output_schema: SchemaRef,
    /// Schema of candidate pairs (what the residual is evaluated on).
    pair_schema: SchemaRef,
    batch_size: usize,
    built: OnceLock<SortedBuild>,
}

/// The build rows with a non-NULL sort key, in key order.
struct SortedBuild {
    batch: RecordBatch,
    key: ArrayRef,
    /// The narrowing key in the same order, and per position the index of the running extreme
    /// (maximum for a lower bound, minimum for an upper one) from the side the run is narrowed
    /// from; `u32::MAX` while only NULLs were seen.
    narrow: Option<(ArrayRef, Vec<u32>)>,
}

/// The build sink: gathers the right input, then sorts it in `finalize`.
pub struct RangeJoinBuild {
    shared: Arc<RangeShared>,
    batches: GatheredBatches,
}

impl Sink for RangeJoinBuild {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(BatchCollector::default())
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        self.batches.combine(local)
    }

    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let spec = &self.shared.spec;
        let batch = concat_batches(&spec.right_schema, &self.batches.take()?)?;
        if batch.num_rows() > u32::MAX as usize {
            return Err(EngineError::execution(format!(
                "the build side of a range join has {} rows; at most {} are supported",
                batch.num_rows(),
                u32::MAX
            )));
        }
        let key = spec.key.evaluate(&batch)?.into_array(batch.num_rows());
        let options = SortOptions { descending: false, nulls_first: false };
        let order = sort_to_indices(&key, Some(options), None)?;
        let order = order.slice(0, key.len() - key.null_count());
        let key = take(&key, &order, None)?;
        let columns = batch.columns().iter().map(|c| Ok(take(c, &order, None)?)).collect::<Result<Vec<_>>>()?;
        let batch = batch_with_schema(&spec.right_schema, columns, order.len())?;
        let narrow = match &spec.narrow {
            Some(n) => {
                let values = n.key.evaluate(&batch)?.into_array(batch.num_rows());
                let extremes = running_extremes(&values, n.bound.op, n.from_left)?;
                Some((values, extremes))
            }
            None => None,
        };
        self.shared
            .built
            .set(SortedBuild { batch, key, narrow })
            .map_err(|_| EngineError::execution("a range join's build side was built twice"))?;
        Ok(vec![])
    }

    fn describe(&self) -> String {
        format!("RangeJoinBuild sort=[{}]", self.shared.spec.key)
    }
}

/// Per position, the index of the extreme non-NULL value seen so far scanning from the left
/// (`from_left`) or the right: the maximum when the bound is a lower one (`key > v` holds for
/// some row of the run exactly when it holds for the maximum), else the minimum.
fn running_extremes(values: &ArrayRef, op: BinaryOp, from_left: bool) -> Result<Vec<u32>> {
    let compare = make_comparator(values.as_ref(), values.as_ref(), SortOptions::default())?;
    let want_max = matches!(op, BinaryOp::Gt | BinaryOp::GtEq);
    let n = values.len();
    let mut out = vec![u32::MAX; n];
    let mut best: Option<usize> = None;
    let positions: Box<dyn Iterator<Item = usize>> = if from_left { Box::new(0..n) } else { Box::new((0..n).rev()) };
    for i in positions {
        if values.is_valid(i) {
            best = Some(match best {
                Some(b) if (compare(i, b) == std::cmp::Ordering::Greater) != want_max => b,
                _ => i,
            });
        }
        if let Some(b) = best {
            out[i] = b as u32;
        }
    }
    Ok(out)
}

/// Whether `key OP value` holds for an ordering `key.cmp(value)`.
fn holds(op: BinaryOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinaryOp::Gt => ordering == Greater,
        BinaryOp::GtEq => ordering != Less,
        BinaryOp::Lt => ordering == Less,
        BinaryOp::LtEq => ordering != Greater,
        _ => false,
    }
}

/// A bound evaluated on one probe batch.
struct ProbeBound {
    op: BinaryOp,
    values: ArrayRef,
    /// Compares a build position with a probe row (`None` over an empty build side).
    compare: Option<DynComparator>,
}

impl ProbeBound {
    fn new(bound: &PhysicalBound, build_values: &ArrayRef, batch: &RecordBatch) -> Result<Self> {
        let values = bound.probe.evaluate(batch)?.into_array(batch.num_rows());
        let compare = if build_values.is_empty() {
            None
        } else {
            Some(make_comparator(build_values.as_ref(), values.as_ref(), SortOptions::default())?)
        };
        Ok(ProbeBound { op: bound.op, values, compare })
    }

    fn is_null(&self, row: usize) -> bool {
        self.values.is_null(row)
    }

    /// Whether `build[position] OP probe[row]` holds.
    fn holds(&self, position: usize, row: usize) -> bool {
        self.compare.as_ref().is_some_and(|c| holds(self.op, c(position, row)))
    }
}

/// The probe operator, streaming the left input against the sorted build side.
pub struct RangeJoinProbe {
    shared: Arc<RangeShared>,
}

impl RangeJoinProbe {
    fn built(&self) -> Result<&SortedBuild> {
        self.shared
            .built
            .get()
            .ok_or_else(|| EngineError::execution("a range join was probed before its build side ran"))
    }

    /// The run `[start, end)` of sorted build positions that can match probe row `row`.
    fn run(
        &self,
        row: usize,
        len: usize,
        lower: Option<&ProbeBound>,
        upper: Option<&ProbeBound>,
        narrow: Option<(&ProbeBound, &[u32], bool)>,
    ) -> (usize, usize) {
        // Sorted keys: a lower bound holds on a suffix, an upper bound on a prefix.
        let start = lower.map_or(0, |b| partition_point(0, len, |p| !b.holds(p, row)));
        let mut end = upper.map_or(len, |b| partition_point(start, len, |p| b.holds(p, row)));
        let mut start = start;
        if let Some((bound, extremes, from_left)) = narrow {
            let holds_at = |p: usize| extremes[p] != u32::MAX && bound.holds(extremes[p] as usize, row);
            if from_left {
                // Holds from the first position whose running extreme satisfies the bound on.
                start = start.max(partition_point(0, end, |p| !holds_at(p)));
            } else {
                // Holds up to the last position whose running extreme (from the right) does.
                end = end.min(partition_point(start, end, holds_at));
            }
        }
        (start, end.max(start))
    }

    /// Candidate pairs of `batch` against the build side, checked and emitted a chunk at a time;
    /// sets `matched` for the probe rows with a match.
    fn probe(
        &self,
        batch: &RecordBatch,
        build: &SortedBuild,
        matched: &mut [bool],
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let spec = &self.shared.spec;
        let len = build.batch.num_rows();
        if len == 0 {
            return Ok(());
        }
        let lower = spec.lower.as_ref().map(|b| ProbeBound::new(b, &build.key, batch)).transpose()?;
        let upper = spec.upper.as_ref().map(|b| ProbeBound::new(b, &build.key, batch)).transpose()?;
        let narrow = match (&spec.narrow, &build.narrow) {
            (Some(n), Some((values, extremes))) => {
                Some((ProbeBound::new(&n.bound, values, batch)?, extremes.as_slice(), n.from_left))
            }
            _ => None,
        };
        let existence_only = !spec.join_type.emits_right() && spec.residual.is_none();
        let mut pairs = Pairs::default();
        for row in 0..batch.num_rows() {
            let null = lower.as_ref().is_some_and(|b| b.is_null(row))
                || upper.as_ref().is_some_and(|b| b.is_null(row))
                || narrow.as_ref().is_some_and(|(b, _, _)| b.is_null(row));
            if null {
                continue;
            }
            let (start, end) =
                self.run(row, len, lower.as_ref(), upper.as_ref(), narrow.as_ref().map(|(b, e, l)| (b, *e, *l)));
            if start == end {
                continue;
            }
            if existence_only {
                matched[row] = true;
                continue;
            }
            let mut position = start;
            while position < end {
                let take = (end - position).min(self.shared.batch_size - pairs.len());
                pairs.probe.extend(std::iter::repeat_n(row as u32, take));
                pairs.build.extend(position as u32..(position + take) as u32);
                position += take;
                if pairs.len() >= self.shared.batch_size {
                    self.check_pairs(batch, build, std::mem::take(&mut pairs), matched, out)?;
                }
            }
        }
        self.check_pairs(batch, build, pairs, matched, out)
    }

    /// Checks candidate pairs (`join_pairs::check_pairs`) and emits the surviving pairs when the
    /// join type outputs pairs.
    fn check_pairs(
        &self,
        batch: &RecordBatch,
        build: &SortedBuild,
        pairs: Pairs,
        matched: &mut [bool],
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let spec = &self.shared.spec;
        let checked = join_pairs::check_pairs(
            batch,
            &build.batch,
            pairs,
            &self.shared.pair_schema,
            spec.residual.as_ref(),
            spec.join_type,
            matched,
        )?;
        match checked {
            Some(checked) if spec.join_type.emits_right() => out(checked.rows),
            _ => Ok(()),
        }
    }

    /// What the probe batch contributes beyond pairs (`join_pairs::emit_probe_rows`); range joins
    /// are never null-aware.
    fn emit_probe_rows(
        &self,
        batch: &RecordBatch,
        matched: Vec<bool>,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let spec = &self.shared.spec;
        let side = ProbeSide {
            join_type: spec.join_type,
            output_schema: &self.shared.output_schema,
            right_schema: &spec.right_schema,
        };
        join_pairs::emit_probe_rows(batch, matched, &side, &NullAwareState::default(), out)
    }
}

/// The first position in `[from, to)` where `pred` is false (`pred` true then false).
fn partition_point(from: usize, to: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (from, to.max(from));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl Operator for RangeJoinProbe {
    fn schema(&self) -> SchemaRef {
        self.shared.output_schema.clone()
    }

    fn execute(&self, batch: RecordBatch, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        let build = self.built()?;
        let mut matched = vec![false; batch.num_rows()];
        self.probe(&batch, build, &mut matched, out)?;
        self.emit_probe_rows(&batch, matched, out)
    }

    fn describe(&self) -> String {
        let spec = &self.shared.spec;
        let key = &spec.key;
        let mut bounds: Vec<String> = [&spec.lower, &spec.upper]
            .into_iter()
            .flatten()
            .map(|b| format!("{key} {} {}", b.op.symbol(), b.probe))
            .collect();
        if let Some(n) = &spec.narrow {
            bounds.push(format!("narrow {} {} {}", n.key, n.bound.op.symbol(), n.bound.probe));
        }
        let mut text = format!("RangeJoinProbe {:?} range=[{}]", spec.join_type, bounds.join(", "));
        if let Some(residual) = &spec.residual {
            text.push_str(&format!(" filter={residual}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};

    use super::*;
    use crate::exec::planner::{execute, explain};
    use crate::exec::testing::{context, on_pool, sorted_rows};
    use crate::plan::{LogicalPlan, ScalarValue};
    use crate::sql::binder::join_schema;

    fn col(i: usize) -> Expr {
        Expr::Column(i)
    }

    fn cmp(l: Expr, op: BinaryOp, r: Expr) -> Expr {
        Expr::binary(l, op, r)
    }

    fn values(columns: &[(&str, DataType)], rows: Vec<Vec<ScalarValue>>) -> LogicalPlan {
        let fields: Vec<Field> = columns.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect();
        let rows = rows.into_iter().map(|r| r.into_iter().map(Expr::Literal).collect()).collect();
        LogicalPlan::Values { schema: Arc::new(Schema::new(fields)), rows }
    }

    fn int(v: Option<i64>) -> ScalarValue {
        ScalarValue::Int64(v)
    }

    /// Probe rows (id, a): a spread over 0..40 with NULLs and duplicates.
    fn probe_side() -> LogicalPlan {
        let rows =
            (0..60).map(|i| vec![int(Some(i)), int(if i % 11 == 5 { None } else { Some((i * 7) % 40) })]).collect();
        values(&[("id", DataType::Int64), ("a", DataType::Int64)], rows)
    }

    /// Build rows (lo, hi): overlapping and disjoint bands, NULL bounds, an empty band.
    fn build_side(n: i64) -> LogicalPlan {
        let rows = (0..n)
            .map(|i| {
                let lo = if i % 9 == 4 { None } else { Some((i * 13) % 37) };
                let hi = if i % 10 == 7 { None } else { lo.map(|l| l + (i % 4) * 3) };
                vec![int(lo), int(hi)]
            })
            .collect();
        values(&[("lo", DataType::Int64), ("hi", DataType::Int64)], rows)
    }

    fn join(left: LogicalPlan, right: LogicalPlan, join_type: JoinType, condition: Expr) -> LogicalPlan {
        let schema = join_schema(&left.schema(), &right.schema(), join_type);
        LogicalPlan::Join {
            left: Box::new(left),
            right: Box::new(right),
            join_type,
            on: vec![],
            filter: Some(condition),
            schema,
        }
    }

    /// The reference: the condition as a filter over the cross product (the nested loop's answer).
    fn cross_filtered(left: LogicalPlan, right: LogicalPlan, condition: Expr) -> LogicalPlan {
        let schema = join_schema(&left.schema(), &right.schema(), JoinType::Cross);
        let cross = LogicalPlan::Join {
            left: Box::new(left),
            right: Box::new(right),
            join_type: JoinType::Cross,
            on: vec![],
            filter: None,
            schema,
        };
        LogicalPlan::Filter { input: Box::new(cross), predicate: condition }
    }

    fn run(plan: &LogicalPlan, batch_size: usize) -> Vec<String> {
        let ctx = context(batch_size);
        sorted_rows(&on_pool(3, || execute(plan, &ctx)).unwrap().1)
    }

    /// Checks every supported join type of `condition` against the cross product's answer.
    fn check(left: LogicalPlan, right: LogicalPlan, condition: Expr) {
        let pairs = run(&cross_filtered(left.clone(), right.clone(), condition.clone()), 7);
        let left_rows = run(&left, 7);
        let right_width = right.schema().fields().len();
        let matched_ids: std::collections::BTreeSet<String> =
            pairs.iter().map(|p| p.split('|').next().unwrap().to_string()).collect();
        let is_matched = |row: &String| matched_ids.contains(row.split('|').next().unwrap());
        let plan = join(left.clone(), right.clone(), JoinType::Inner, condition.clone());
        let text = explain(&plan, &context(7)).unwrap();
        assert!(text.contains("RangeJoinBuild") && !text.contains("NestedLoop"), "{text}");
        for batch_size in [1, 3, 1000] {
            assert_eq!(run(&plan, batch_size), pairs, "inner, batch size {batch_size}");
        }
        let nulls = vec!["NULL"; right_width].join("|");
        let mut left_join = pairs.clone();
        left_join.extend(left_rows.iter().filter(|r| !is_matched(r)).map(|r| format!("{r}|{nulls}")));
        left_join.sort();
        assert_eq!(run(&join(left.clone(), right.clone(), JoinType::Left, condition.clone()), 3), left_join);
        let semi: Vec<String> = left_rows.iter().filter(|r| is_matched(r)).cloned().collect();
        assert_eq!(run(&join(left.clone(), right.clone(), JoinType::Semi, condition.clone()), 3), semi);
        let anti: Vec<String> = left_rows.iter().filter(|r| !is_matched(r)).cloned().collect();
        assert_eq!(run(&join(left.clone(), right.clone(), JoinType::Anti, condition.clone()), 3), anti);
        let mut mark: Vec<String> = left_rows.iter().map(|r| format!("{r}|{}", is_matched(r))).collect();
        mark.sort();
        assert_eq!(run(&join(left, right, JoinType::Mark, condition), 3), mark);
    }

    #[test]
    fn one_inequality_in_every_direction() {
        for op in [BinaryOp::Lt, BinaryOp::LtEq, BinaryOp::Gt, BinaryOp::GtEq] {
            check(probe_side(), build_side(25), cmp(col(1), op, col(2)));
            // The build key on the left of the comparison.
            check(probe_side(), build_side(25), cmp(col(3), op, col(1)));
        }
    }

    #[test]
    fn bands_over_one_key_and_over_two() {
        // lo BETWEEN a - 2 AND a + 3: one key bounded on both sides.
        let plus = |e: Expr, v: i64| Expr::binary(e, BinaryOp::Plus, Expr::Literal(int(Some(v))));
        let exact =
            Expr::and(cmp(col(2), BinaryOp::GtEq, plus(col(1), -2)), cmp(col(2), BinaryOp::LtEq, plus(col(1), 3)));
        check(probe_side(), build_side(25), exact);
        // lo <= a AND a < hi: sorted by lo, narrowed by the running maximum of hi.
        let band = Expr::and(cmp(col(2), BinaryOp::LtEq, col(1)), cmp(col(1), BinaryOp::Lt, col(3)));
        check(probe_side(), build_side(25), band);
        // a > hi AND a <= lo + 30 with a residual that is not a range: narrowed from the right.
        let other = Expr::and(
            Expr::and(cmp(col(1), BinaryOp::Gt, col(3)), cmp(col(1), BinaryOp::LtEq, plus(col(2), 30))),
            cmp(
                Expr::binary(col(0), BinaryOp::Modulo, Expr::Literal(int(Some(3)))),
                BinaryOp::NotEq,
                Expr::Literal(int(Some(1))),
            ),
        );
        check(probe_side(), build_side(25), other);
    }

    #[test]
    fn empty_build_side_and_floats_strings() {
        let band = Expr::and(cmp(col(2), BinaryOp::LtEq, col(1)), cmp(col(1), BinaryOp::Lt, col(3)));
        check(probe_side(), build_side(0), band);
        let float = |v: Option<f64>| ScalarValue::Float64(v);
        let left = values(
            &[("id", DataType::Int64), ("f", DataType::Float64)],
            [Some(1.5), Some(f64::NAN), None, Some(-0.0), Some(0.0), Some(f64::INFINITY), Some(-3.0)]
                .into_iter()
                .enumerate()
                .map(|(i, v)| vec![int(Some(i as i64)), float(v)])
                .collect(),
        );
        let right = values(
            &[("g", DataType::Float64)],
            [Some(0.0), Some(f64::NAN), Some(-0.0), None, Some(2.0), Some(-3.0)]
                .into_iter()
                .map(|v| vec![float(v)])
                .collect(),
        );
        for op in [BinaryOp::Lt, BinaryOp::LtEq, BinaryOp::Gt, BinaryOp::GtEq] {
            check(left.clone(), right.clone(), cmp(col(1), op, col(2)));
        }
        let text = |v: Option<&str>| ScalarValue::Utf8(v.map(str::to_string));
        let left = values(
            &[("id", DataType::Int64), ("s", DataType::Utf8)],
            [Some("b"), Some(""), None, Some("ab"), Some("z")]
                .into_iter()
                .enumerate()
                .map(|(i, v)| vec![int(Some(i as i64)), text(v)])
                .collect(),
        );
        let right = values(
            &[("t", DataType::Utf8)],
            [Some("a"), Some("b"), None, Some("c")].into_iter().map(|v| vec![text(v)]).collect(),
        );
        check(left, right, cmp(col(1), BinaryOp::GtEq, col(2)));
    }

    #[test]
    fn single_join_fails_on_a_second_match_across_chunks() {
        let right = values(&[("lo", DataType::Int64)], vec![vec![int(Some(1))], vec![int(Some(2))]]);
        let left = values(&[("a", DataType::Int64)], vec![vec![int(Some(5))], vec![int(Some(0))]]);
        let plan = join(left.clone(), right.clone(), JoinType::Single, cmp(col(1), BinaryOp::Lt, col(0)));
        let ctx = context(1);
        let error = on_pool(2, || execute(&plan, &ctx)).unwrap_err();
        assert!(error.to_string().contains("more than one row"), "{error}");
        let plan = join(
            left,
            right,
            JoinType::Single,
            cmp(col(1), BinaryOp::Lt, Expr::binary(col(0), BinaryOp::Minus, Expr::Literal(int(Some(3))))),
        );
        assert_eq!(run(&plan, 1), ["0|NULL", "5|1"]);
    }

    #[test]
    fn conditions_without_a_range_are_not_split() {
        let schema = |n: &str| Schema::new(vec![Field::new(n, DataType::Int64, true)]);
        // Both sides of the comparison on one input, or types that differ: no range join.
        assert!(RangeSplit::try_new(
            &cmp(col(0), BinaryOp::Lt, Expr::Literal(int(Some(1)))),
            &schema("a"),
            &schema("b")
        )
        .is_none());
        let text = Schema::new(vec![Field::new("s", DataType::Utf8, true)]);
        assert!(RangeSplit::try_new(&cmp(col(0), BinaryOp::Lt, col(1)), &schema("a"), &text).is_none());
        let split = RangeSplit::try_new(&cmp(col(0), BinaryOp::Lt, col(1)), &schema("a"), &schema("b")).unwrap();
        assert!(split.residual().is_none());
    }
}
