//! Hash join, in two roles: the build sink collects the right input and indexes it by its key
//! rows; the probe operator streams the left input's batches against that index in the left
//! input's own pipeline. Every join type is the same loop: candidate (probe, build) pairs, the
//! residual predicate over the pair's combined columns, then what the type emits. A pair failing
//! the residual counts as no match, so outer joins keep the row padded with NULLs. Without
//! equi-keys (a cross join, a pure range condition) the candidates are all pairs: a nested loop.
//! The null-aware types (`NOT IN`, and `IN` as a value) also need to know whether the build side
//! is empty and whether any build key is NULL, which the build records once.

use std::sync::{Arc, OnceLock};

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast, concat_batches, filter, filter_record_batch, not, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};

use crate::error::{EngineError, Result};
use crate::exec::collect::{BatchCollector, GatheredBatches};
use crate::exec::filter::{evaluate_predicate, Selection};
use crate::exec::join_table::{key_nulls, KeyIndex, MatchedBitmap};
use crate::exec::pipeline::{LocalSink, Operator, Sink};
use crate::exec::project::{batch_with_schema, evaluate_columns};
use crate::expr::PhysicalExprRef;
use crate::plan::JoinType;

/// A join compiled against its inputs.
pub struct JoinSpec {
    pub join_type: JoinType,
    /// Equi-keys over the left (probe) input, pairwise equal to `right_keys`.
    pub left_keys: Vec<PhysicalExprRef>,
    /// Equi-keys over the right (build) input.
    pub right_keys: Vec<PhysicalExprRef>,
    /// Residual predicate over the left columns followed by the right columns.
    pub filter: Option<PhysicalExprRef>,
    pub left_schema: SchemaRef,
    pub right_schema: SchemaRef,
    /// The join's output (left then right columns; left only for semi and anti joins).
    pub schema: SchemaRef,
}

/// Creates the two halves of one join; they share the built side.
pub fn hash_join(spec: JoinSpec, batch_size: usize) -> (HashJoinBuild, HashJoinProbe) {
    let output_schema = padded_schema(&spec.schema, spec.join_type, spec.left_schema.fields().len());
    let pair_schema = if emits_pairs(spec.join_type) {
        output_schema.clone()
    } else {
        let fields: Vec<Arc<Field>> =
            spec.left_schema.fields().iter().chain(spec.right_schema.fields()).map(nullable).collect();
        Arc::new(Schema::new(fields))
    };
    let shared = Arc::new(JoinShared {
        spec,
        output_schema,
        pair_schema,
        batch_size: batch_size.max(1),
        built: OnceLock::new(),
    });
    (HashJoinBuild { shared: shared.clone(), batches: GatheredBatches::default() }, HashJoinProbe { shared })
}

/// What both halves share.
struct JoinShared {
    spec: JoinSpec,
    /// `spec.schema` with the side an outer join pads made nullable.
    output_schema: SchemaRef,
    /// Schema of candidate pairs (what the residual is evaluated on).
    pair_schema: SchemaRef,
    batch_size: usize,
    built: OnceLock<BuildSide>,
}

/// The finished build side.
struct BuildSide {
    batch: RecordBatch,
    /// `None` without equi-keys: every build row is a candidate.
    index: Option<KeyIndex>,
    /// Key types the probe keys are cast to, so both sides encode to comparable rows.
    key_types: Vec<DataType>,
    /// Right and full joins only.
    matched: Option<MatchedBitmap>,
    /// Whether some build row has a NULL in a key (null-aware joins).
    has_null_key: bool,
}

fn emits_pairs(join_type: JoinType) -> bool {
    join_type.emits_right()
}

fn nullable(field: &Arc<Field>) -> Arc<Field> {
    Arc::new(field.as_ref().clone().with_nullable(true))
}

/// `schema` with the columns an outer join fills with NULLs made nullable.
fn padded_schema(schema: &SchemaRef, join_type: JoinType, left_len: usize) -> SchemaRef {
    let pad_left = matches!(join_type, JoinType::Right | JoinType::Full);
    let pad_right = matches!(join_type, JoinType::Left | JoinType::Full | JoinType::Single);
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| if (i < left_len && pad_left) || (i >= left_len && pad_right) { nullable(f) } else { f.clone() })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The build sink: collects the right input, then indexes it in `finalize`.
pub struct HashJoinBuild {
    shared: Arc<JoinShared>,
    batches: GatheredBatches,
}

impl Sink for HashJoinBuild {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(BatchCollector::default())
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        self.batches.combine(local)
    }

    /// Indexes the build rows; the output is empty (the probe reads the shared side).
    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let spec = &self.shared.spec;
        let batches = self.batches.take()?;
        let batch = concat_batches(&spec.right_schema, &batches)?;
        if batch.num_rows() > u32::MAX as usize {
            return Err(EngineError::execution(format!(
                "the build side of a join has {} rows; at most {} are supported",
                batch.num_rows(),
                u32::MAX
            )));
        }
        let keys = evaluate_columns(&spec.right_keys, &batch)?;
        let key_types: Vec<DataType> = keys.iter().map(|k| k.data_type().clone()).collect();
        let index = if keys.is_empty() {
            None
        } else {
            let converter = RowConverter::new(key_types.iter().map(|t| SortField::new(t.clone())).collect())?;
            Some(KeyIndex::try_new(converter, &keys)?)
        };
        let matched =
            matches!(spec.join_type, JoinType::Right | JoinType::Full).then(|| MatchedBitmap::new(batch.num_rows()));
        let has_null_key = key_nulls(&keys).is_some_and(|n| n.null_count() > 0);
        self.shared
            .built
            .set(BuildSide { batch, index, key_types, matched, has_null_key })
            .map_err(|_| EngineError::execution("a join's build side was built twice"))?;
        Ok(vec![])
    }

    fn describe(&self) -> String {
        let spec = &self.shared.spec;
        if spec.right_keys.is_empty() {
            "NestedLoopJoinBuild".to_string()
        } else {
            let keys: Vec<String> = spec.right_keys.iter().map(|k| k.to_string()).collect();
            format!("HashJoinBuild keys=[{}]", keys.join(", "))
        }
    }
}

/// The probe operator, streaming the left input against the built side.
pub struct HashJoinProbe {
    shared: Arc<JoinShared>,
}

/// Candidate pairs collected before they are checked and emitted together.
#[derive(Default)]
struct Pairs {
    probe: Vec<u32>,
    build: Vec<u32>,
}

impl Pairs {
    fn push(&mut self, probe: usize, build: u32) {
        self.probe.push(probe as u32);
        self.build.push(build);
    }

    fn len(&self) -> usize {
        self.probe.len()
    }
}

impl HashJoinProbe {
    fn built(&self) -> Result<&BuildSide> {
        self.shared.built.get().ok_or_else(|| EngineError::execution("a join was probed before its build side ran"))
    }

    /// Candidates through the key index; semi and anti joins without a residual only need to
    /// know whether a key exists. Returns the probe rows with a NULL key.
    fn probe_hash(
        &self,
        batch: &RecordBatch,
        build: &BuildSide,
        index: &KeyIndex,
        matched: &mut [bool],
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<Option<NullBuffer>> {
        let spec = &self.shared.spec;
        let keys = evaluate_columns(&spec.left_keys, batch)?
            .into_iter()
            .zip(&build.key_types)
            .map(|(key, to)| if key.data_type() == to { Ok(key) } else { Ok(cast(&key, to)?) })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let rows = index.probe_rows(&keys)?;
        let nulls = key_nulls(&keys);
        let existence_only = !emits_pairs(spec.join_type) && spec.filter.is_none();
        let mut pairs = Pairs::default();
        for row in 0..batch.num_rows() {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                continue;
            }
            let mut next = index.first_match(&rows, row);
            if existence_only {
                matched[row] = next.is_some();
                continue;
            }
            while let Some(build_row) = next {
                pairs.push(row, build_row);
                next = index.next_match(build_row);
            }
            if pairs.len() >= self.shared.batch_size {
                self.check_pairs(batch, build, std::mem::take(&mut pairs), matched, out)?;
            }
        }
        self.check_pairs(batch, build, pairs, matched, out)?;
        Ok(nulls)
    }

    /// Every (probe, build) pair is a candidate, a slice of probe rows at a time so a chunk
    /// stays near the batch size.
    fn probe_nested_loop(
        &self,
        batch: &RecordBatch,
        build: &BuildSide,
        matched: &mut [bool],
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let build_rows = build.batch.num_rows() as u32;
        if build_rows == 0 {
            return Ok(());
        }
        let rows_per_chunk = (self.shared.batch_size / build_rows as usize).max(1);
        for start in (0..batch.num_rows()).step_by(rows_per_chunk) {
            let mut pairs = Pairs::default();
            for row in start..(start + rows_per_chunk).min(batch.num_rows()) {
                for build_row in 0..build_rows {
                    pairs.push(row, build_row);
                }
            }
            self.check_pairs(batch, build, pairs, matched, out)?;
        }
        Ok(())
    }

    /// Applies the residual to candidate pairs, records which probe and build rows matched, and
    /// emits the surviving pairs when the join type outputs pairs.
    fn check_pairs(
        &self,
        batch: &RecordBatch,
        build: &BuildSide,
        pairs: Pairs,
        matched: &mut [bool],
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        if pairs.len() == 0 {
            return Ok(());
        }
        let spec = &self.shared.spec;
        let mut probe = UInt32Array::from(pairs.probe);
        let mut build_rows = UInt32Array::from(pairs.build);
        let mut columns = take_columns(batch, &probe)?;
        columns.extend(take_columns(&build.batch, &build_rows)?);
        let mut candidates = batch_with_schema(&self.shared.pair_schema, columns, probe.len())?;
        if let Some(residual) = &spec.filter {
            match evaluate_predicate(residual, &candidates)? {
                Selection::All => {}
                Selection::None => return Ok(()),
                Selection::Some(mask) => {
                    candidates = filter_record_batch(&candidates, &mask)?;
                    probe = downcast_indices(filter(&probe, &mask)?)?;
                    build_rows = downcast_indices(filter(&build_rows, &mask)?)?;
                }
            }
        }
        for row in probe.values() {
            let row = *row as usize;
            if spec.join_type == JoinType::Single && matched[row] {
                // Every candidate of one probe row is in the same chunk, so a repeat is a second
                // match of that row.
                return Err(EngineError::execution("more than one row returned by a subquery used as an expression"));
            }
            matched[row] = true;
        }
        if let Some(bitmap) = &build.matched {
            for row in build_rows.values() {
                bitmap.set(*row as usize);
            }
        }
        if emits_pairs(spec.join_type) {
            out(candidates)?;
        }
        Ok(())
    }

    /// What the probe batch contributes beyond pairs: unmatched rows padded with NULLs (left,
    /// full and single joins), the rows themselves (semi: matched, anti: unmatched), or every row
    /// with its mark.
    fn emit_probe_rows(
        &self,
        batch: &RecordBatch,
        build: &BuildSide,
        matched: Vec<bool>,
        probe_nulls: Option<NullBuffer>,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let build_empty = build.batch.num_rows() == 0;
        let probe_null = |row: usize| probe_nulls.as_ref().is_some_and(|n| n.is_null(row));
        let join_type = self.shared.spec.join_type;
        if join_type.is_mark() {
            let null_aware = join_type == JoinType::NullAwareMark;
            let marks: BooleanArray = matched
                .iter()
                .enumerate()
                .map(|(row, m)| match m {
                    true => Some(true),
                    false if null_aware && !build_empty && (build.has_null_key || probe_null(row)) => None,
                    false => Some(false),
                })
                .collect();
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(marks));
            return out(batch_with_schema(&self.shared.output_schema, columns, batch.num_rows())?);
        }
        let rows = match join_type {
            JoinType::Semi => filter_record_batch(batch, &BooleanArray::from(matched))?,
            JoinType::Anti | JoinType::Left | JoinType::Full | JoinType::Single => {
                filter_record_batch(batch, &not(&BooleanArray::from(matched))?)?
            }
            JoinType::NullAwareAnti => {
                let keep: BooleanArray = matched
                    .iter()
                    .enumerate()
                    .map(|(row, m)| Some(build_empty || (!m && !build.has_null_key && !probe_null(row))))
                    .collect();
                filter_record_batch(batch, &keep)?
            }
            JoinType::Inner | JoinType::Right | JoinType::Cross | JoinType::Mark | JoinType::NullAwareMark => {
                return Ok(())
            }
        };
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let mut columns = rows.columns().to_vec();
        if emits_pairs(self.shared.spec.join_type) {
            let right = self.shared.spec.right_schema.fields();
            columns.extend(right.iter().map(|f| new_null_array(f.data_type(), rows.num_rows())));
        }
        out(batch_with_schema(&self.shared.output_schema, columns, rows.num_rows())?)
    }
}

fn take_columns(batch: &RecordBatch, indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
    batch.columns().iter().map(|c| Ok(take(c, indices, None)?)).collect()
}

fn downcast_indices(array: ArrayRef) -> Result<UInt32Array> {
    array
        .as_primitive_opt::<UInt32Type>()
        .cloned()
        .ok_or_else(|| EngineError::execution("filtered join indices changed type"))
}

impl Operator for HashJoinProbe {
    fn schema(&self) -> SchemaRef {
        self.shared.output_schema.clone()
    }

    fn execute(&self, batch: RecordBatch, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        let build = self.built()?;
        let mut matched = vec![false; batch.num_rows()];
        let probe_nulls = match &build.index {
            Some(index) => self.probe_hash(&batch, build, index, &mut matched, out)?,
            None => {
                self.probe_nested_loop(&batch, build, &mut matched, out)?;
                None
            }
        };
        self.emit_probe_rows(&batch, build, matched, probe_nulls, out)
    }

    /// Right and full joins: the build rows no probe row matched, padded with NULLs on the left.
    fn finish(&self, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        let build = self.built()?;
        let Some(bitmap) = &build.matched else { return Ok(()) };
        let unmatched = bitmap.unset();
        let left = self.shared.spec.left_schema.fields();
        for chunk in unmatched.chunks(self.shared.batch_size) {
            let indices = UInt32Array::from(chunk.to_vec());
            let mut columns: Vec<ArrayRef> = left.iter().map(|f| new_null_array(f.data_type(), chunk.len())).collect();
            columns.extend(take_columns(&build.batch, &indices)?);
            out(batch_with_schema(&self.shared.output_schema, columns, chunk.len())?)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let spec = &self.shared.spec;
        let name = if spec.left_keys.is_empty() { "NestedLoopJoinProbe" } else { "HashJoinProbe" };
        let keys: Vec<String> =
            spec.left_keys.iter().zip(&spec.right_keys).map(|(l, r)| format!("{l} = {r}")).collect();
        let mut text = format!("{name} {:?}", spec.join_type);
        if !keys.is_empty() {
            text.push_str(&format!(" on=[{}]", keys.join(", ")));
        }
        if let Some(filter) = &spec.filter {
            text.push_str(&format!(" filter={filter}"));
        }
        text
    }
}
