//! Hash join, in two roles: the build sink collects the right input and indexes it by its key
//! rows; the probe operator streams the left input's batches against that index in the left
//! input's own pipeline. Every join type is the same loop: candidate (probe, build) pairs, the
//! residual predicate over the pair's combined columns, then what the type emits. A pair failing
//! the residual counts as no match, so outer joins keep the row padded with NULLs. Without
//! equi-keys (a cross join, a pure range condition) the candidates are all pairs: a nested loop.
//! The null-aware types (`NOT IN`, and `IN` as a value) also need to know whether the build side
//! is empty and whether any build key is NULL, which the build records once.

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{new_null_array, Array, ArrayRef, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast, concat};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::error::{EngineError, Result};
use crate::exec::join_keys::{EncodedKeys, KeyEncoder, KeyLayout};
use crate::exec::join_pairs::{self, take_columns, NullAwareState, Pairs, ProbeSide};
use crate::exec::join_table::{key_nulls, BuildKeys, ChunkHashes, KeyIndex, MatchedBitmap, RowBytes};
use crate::exec::memory_limit::batch_memory_size;
use crate::exec::pipeline::{downcast_local, lock, LocalSink, Operator, Sink};
use crate::exec::project::{batch_with_schema, evaluate_columns};
use crate::exec::runtime_filter::RuntimeFilter;
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
    /// Filters the build side publishes for the probe-side scan: (index into `right_keys`, filter).
    pub runtime_filters: Vec<(usize, Arc<RuntimeFilter>)>,
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
    let encoder = (!spec.right_keys.is_empty())
        .then(|| KeyEncoder::new(spec.right_keys.iter().map(|k| k.data_type().clone()).collect()));
    let shared = Arc::new(JoinShared {
        spec,
        output_schema,
        pair_schema,
        batch_size: batch_size.max(1),
        encoder,
        built: OnceLock::new(),
    });
    (HashJoinBuild { shared: shared.clone(), chunks: Mutex::default() }, HashJoinProbe { shared })
}

/// What both halves share.
struct JoinShared {
    spec: JoinSpec,
    /// `spec.schema` with the side an outer join pads made nullable.
    output_schema: SchemaRef,
    /// Schema of candidate pairs (what the residual is evaluated on).
    pair_schema: SchemaRef,
    batch_size: usize,
    /// Hashes and encodes both sides' keys (`None` without equi-keys). Its key types are the
    /// build keys' declared types; probe keys are cast to them.
    encoder: Option<KeyEncoder>,
    built: OnceLock<BuildSide>,
}

impl JoinShared {
    /// Whether a probe row only needs to know that its key exists on the build side (semi,
    /// anti and mark joins without a residual): the index then keeps one row per key.
    fn existence_only(&self) -> bool {
        !emits_pairs(self.spec.join_type) && self.spec.filter.is_none()
    }

    /// Whether the build rows' columns are never read: an existence-only join with keys
    /// answers from the index alone (without keys, the nested loop pairs up build rows).
    fn keys_only(&self) -> bool {
        self.existence_only() && self.encoder.is_some()
    }
}

/// The finished build side.
struct BuildSide {
    /// The build rows (no rows when the join reads only the index: `JoinShared::keys_only`).
    batch: RecordBatch,
    /// Build rows, NULL keys included.
    rows: usize,
    /// `None` without equi-keys: every build row is a candidate.
    index: Option<KeyIndex>,
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

/// Index bytes a build row will need in `finalize`, reserved while the rows arrive (the build
/// sink has no way to report growth once its workers are done), when every key is distinct:
/// table slots of 8 bytes at a load of 3/8 to 3/4 (16 bytes a row for a typical partition),
/// the group's hash (8), its row number (4), and 4 for either the group starts or the group
/// of each row while the groups are laid out. Duplicate keys need less (slots and hashes are
/// per key), so this is an upper bound for them.
const INDEX_BYTES_PER_ROW: usize = 32;

/// The same for a key set (`KeyIndex::is_set`): only table slots, 8 bytes at a load of 3/8 to
/// 3/4, when every key is distinct.
const KEY_SET_BYTES_PER_ROW: usize = 16;

/// The build sink: workers hash and encode the right input's keys as batches arrive, then
/// `finalize` indexes them.
pub struct HashJoinBuild {
    shared: Arc<JoinShared>,
    chunks: Mutex<Vec<BuildChunk>>,
}

/// One build batch with its keys evaluated, hashed, encoded and grouped by partition.
struct BuildChunk {
    /// `None` when the join reads only the index (`JoinShared::keys_only`): the columns are
    /// dropped as the batch arrives.
    batch: Option<RecordBatch>,
    rows: usize,
    /// The build keys (what runtime filters are computed from); empty without runtime filters.
    keys: Vec<ArrayRef>,
    /// `None` without equi-keys.
    hashes: Option<ChunkHashes>,
    /// Whether some row has a NULL in a key.
    has_null_key: bool,
    /// `None` without equi-keys.
    encoded: Option<EncodedKeys>,
}

impl BuildChunk {
    fn new(shared: &JoinShared, batch: RecordBatch) -> Result<BuildChunk> {
        let rows = batch.num_rows();
        let Some(encoder) = &shared.encoder else {
            return Ok(BuildChunk {
                batch: Some(batch),
                rows,
                keys: vec![],
                hashes: None,
                has_null_key: false,
                encoded: None,
            });
        };
        let mut keys = cast_keys(evaluate_columns(&shared.spec.right_keys, &batch)?, encoder)?;
        let nulls = key_nulls(&keys);
        // A key set (an existence-only join on one integer key) needs no build row numbers.
        let integer = encoder.layout() == KeyLayout::Integer;
        let with_rows = !(shared.existence_only() && integer);
        let (hashes, encoded) = if integer {
            // Kept as values: `KeyIndex::build` hashes them only if they are not dense.
            (ChunkHashes::integers(encoder.integer_values(&keys)?, nulls.as_ref(), with_rows)?, EncodedKeys::Integer)
        } else {
            let (hashes, encoded) = encoder.encode(&keys)?;
            (ChunkHashes::new(hashes, nulls.as_ref(), with_rows)?, encoded)
        };
        if shared.spec.runtime_filters.is_empty() {
            keys.clear();
        }
        Ok(BuildChunk {
            batch: (!shared.keys_only()).then_some(batch),
            rows,
            keys,
            hashes: Some(hashes),
            has_null_key: nulls.is_some_and(|n| n.null_count() > 0),
            encoded: Some(encoded),
        })
    }

    /// Bytes this chunk holds, plus what its rows will need in the index.
    fn memory_size(&self) -> usize {
        let encoded = match &self.encoded {
            None | Some(EncodedKeys::Integer) => 0,
            Some(EncodedKeys::IntegerPair(pairs)) => pairs.len() * 16,
            Some(EncodedKeys::Rows(rows)) => rows.size(),
        };
        let index = self.hashes.as_ref().map_or(0, |h| {
            let per_row = if h.has_rows() { INDEX_BYTES_PER_ROW } else { KEY_SET_BYTES_PER_ROW };
            h.memory_size() + self.rows * per_row
        });
        // Evaluated keys mostly share the batch's columns, so they count only without it.
        let batch = match &self.batch {
            Some(batch) => batch_memory_size(batch),
            None => self.keys.iter().map(|k| k.get_array_memory_size()).sum(),
        };
        batch + encoded + index
    }
}

/// `keys` in the encoder's types (an expression typed loosely may evaluate to another type).
fn cast_keys(keys: Vec<ArrayRef>, encoder: &KeyEncoder) -> Result<Vec<ArrayRef>> {
    keys.into_iter()
        .zip(encoder.types())
        .map(|(key, to)| if key.data_type() == to { Ok(key) } else { Ok(cast(&key, to)?) })
        .collect()
}

/// A build worker's chunks.
struct BuildLocal {
    shared: Arc<JoinShared>,
    chunks: Vec<BuildChunk>,
    bytes: usize,
}

impl LocalSink for BuildLocal {
    fn sink(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let chunk = BuildChunk::new(&self.shared, batch)?;
        self.bytes += chunk.memory_size();
        self.chunks.push(chunk);
        Ok(())
    }

    fn memory_size(&self) -> usize {
        self.bytes
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl Sink for HashJoinBuild {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(BuildLocal { shared: self.shared.clone(), chunks: vec![], bytes: 0 })
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        let local = downcast_local::<BuildLocal>(local)?;
        lock(&self.chunks)?.extend(local.chunks);
        Ok(())
    }

    /// Indexes the build rows, then concatenates them; the output is empty (the probe reads
    /// the shared side). The chunks are taken apart first so that each part is freed as soon as
    /// its successor exists: key columns after the runtime filters, each chunk's encoded keys
    /// once copied, the partitioned hashes once indexed, each column's arrays once concatenated.
    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let spec = &self.shared.spec;
        let chunks = std::mem::take(&mut *lock(&self.chunks)?);
        for (key, filter) in &spec.runtime_filters {
            let arrays =
                chunks.iter().map(|c| c.keys.get(*key).cloned()).collect::<Option<Vec<ArrayRef>>>().ok_or_else(
                    || EngineError::execution(format!("a runtime filter names join key {key}, which the join lacks")),
                )?;
            filter.publish_from(&arrays)?;
        }
        let has_null_key = chunks.iter().any(|c| c.has_null_key);
        let rows = chunks.iter().map(|c| c.rows).sum();
        let mut batches = Vec::with_capacity(chunks.len());
        let mut keys = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            // `chunk.keys` is dropped here: evaluated keys may share the batch's columns, which
            // would otherwise stay alive next to their concatenated copy.
            batches.extend(chunk.batch);
            if let Some(hashes) = chunk.hashes {
                keys.push((hashes, chunk.encoded));
            }
        }
        // The index first, then the concatenation (each is parallel inside): the partitioning
        // scratch is freed before the concatenated copy of the build columns exists.
        let index =
            self.shared.encoder.as_ref().map(|e| index_chunks(e, keys, self.shared.existence_only())).transpose()?;
        let batch = concat_chunks(&spec.right_schema, batches)?;
        let matched = matches!(spec.join_type, JoinType::Right | JoinType::Full).then(|| MatchedBitmap::new(rows));
        self.shared
            .built
            .set(BuildSide { batch, rows, index, matched, has_null_key })
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

/// The build batches as one batch (build rows are numbered across the chunks in order), each
/// column concatenated on its own task. The batches are consumed column by column: a column's
/// arrays are released as soon as its concatenation exists, so the build side is held about
/// once (plus the columns in flight), not twice.
fn concat_chunks(schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<RecordBatch> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows > u32::MAX as usize {
        return Err(EngineError::execution(format!(
            "the build side of a join has {rows} rows; at most {} are supported",
            u32::MAX
        )));
    }
    if batches.len() <= 1 {
        let columns = match batches.into_iter().next() {
            None => return Ok(RecordBatch::new_empty(schema.clone())),
            Some(one) => one.columns().to_vec(),
        };
        return batch_with_schema(schema, columns, rows);
    }
    let mut by_column: Vec<Vec<ArrayRef>> =
        (0..schema.fields().len()).map(|_| Vec::with_capacity(batches.len())).collect();
    for batch in batches {
        for (column, array) in by_column.iter_mut().zip(batch.columns()) {
            column.push(array.clone());
        }
    }
    let columns = by_column
        .into_par_iter()
        .map(|arrays| {
            let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
            Ok(concat(&refs)?)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    batch_with_schema(schema, columns, rows)
}

/// The key index over every chunk's hashed keys; consumes them so that each chunk's encoded
/// keys are freed once copied into the build-wide keys, and its hashes once scattered.
fn index_chunks(
    encoder: &KeyEncoder,
    chunks: Vec<(ChunkHashes, Option<EncodedKeys>)>,
    distinct_only: bool,
) -> Result<KeyIndex> {
    let (hashes, encoded): (Vec<ChunkHashes>, Vec<Option<EncodedKeys>>) = chunks.into_iter().unzip();
    let keys = match encoder.layout() {
        KeyLayout::Integer => BuildKeys::Exact,
        KeyLayout::IntegerPair => {
            let total =
                encoded.iter().map(|e| if let Some(EncodedKeys::IntegerPair(p)) = e { p.len() } else { 0 }).sum();
            let mut all = Vec::with_capacity(total);
            for keys in encoded {
                if let Some(EncodedKeys::IntegerPair(pairs)) = keys {
                    all.extend_from_slice(&pairs);
                }
            }
            BuildKeys::Pairs(all)
        }
        KeyLayout::Rows => BuildKeys::Rows(RowBytes::concat(
            encoded
                .into_iter()
                .filter_map(|e| match e {
                    Some(EncodedKeys::Rows(rows)) => Some(rows),
                    _ => None,
                })
                .collect(),
        )),
    };
    KeyIndex::build(hashes, keys, distinct_only)
}

/// The probe operator, streaming the left input against the built side.
pub struct HashJoinProbe {
    shared: Arc<JoinShared>,
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
        let encoder =
            self.shared.encoder.as_ref().ok_or_else(|| EngineError::execution("a hash join has no key encoder"))?;
        let keys = cast_keys(evaluate_columns(&spec.left_keys, batch)?, encoder)?;
        let nulls = key_nulls(&keys);
        let (hashes, encoded) = index.encode_probe(encoder, &keys)?;
        if self.shared.existence_only() {
            index.probe_exists(&hashes, &encoded, nulls.as_ref(), |row| matched[row] = true)?;
            return Ok(nulls);
        }
        let batch_size = self.shared.batch_size;
        // A unique build key gives each probe row at most one pair: the batch's rows are enough.
        let capacity = if index.is_unique() { batch.num_rows().min(batch_size) } else { batch_size.min(1024) };
        let mut pairs = Pairs::with_capacity(capacity);
        index.probe(&hashes, &encoded, nulls.as_ref(), |row, build_rows| {
            pairs.extend(row, build_rows);
            // Flushed only between probe rows: a single join counts a row's matches per chunk.
            if pairs.len() >= batch_size {
                let full = std::mem::replace(&mut pairs, Pairs::with_capacity(capacity));
                self.check_pairs(batch, build, full, matched, out)?;
            }
            Ok(())
        })?;
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

    /// Checks candidate pairs (`join_pairs::check_pairs`), records the build rows that matched,
    /// and emits the surviving pairs when the join type outputs pairs.
    fn check_pairs(
        &self,
        batch: &RecordBatch,
        build: &BuildSide,
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
            spec.filter.as_ref(),
            spec.join_type,
            matched,
        )?;
        let Some(checked) = checked else { return Ok(()) };
        if let Some(bitmap) = &build.matched {
            for row in checked.build.values() {
                bitmap.set(*row as usize);
            }
        }
        if emits_pairs(spec.join_type) {
            out(checked.rows)?;
        }
        Ok(())
    }

    /// What the probe batch contributes beyond pairs (`join_pairs::emit_probe_rows`).
    fn emit_probe_rows(
        &self,
        batch: &RecordBatch,
        build: &BuildSide,
        matched: Vec<bool>,
        probe_nulls: Option<NullBuffer>,
        out: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let spec = &self.shared.spec;
        let side = ProbeSide {
            join_type: spec.join_type,
            output_schema: &self.shared.output_schema,
            right_schema: &spec.right_schema,
        };
        let null_aware =
            NullAwareState { build_empty: build.rows == 0, build_has_null_key: build.has_null_key, probe_nulls };
        join_pairs::emit_probe_rows(batch, matched, &side, &null_aware, out)
    }
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

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, Int64Array};
    use arrow::datatypes::DataType;

    use super::*;
    use crate::exec::testing::sorted_rows;
    use crate::expr::binary::BinaryExpr;
    use crate::expr::column::ColumnExpr;
    use crate::plan::BinaryOp;

    /// (key, value) rows; a key of `None` is NULL.
    type Rows = Vec<(Option<i64>, i64)>;

    fn side(name: &str, key_type: &DataType) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(format!("{name}k"), key_type.clone(), true),
            Field::new(format!("{name}v"), DataType::Int64, false),
        ]))
    }

    /// `rows` as batches of `chunk` rows with the key cast to `schema`'s key type.
    fn batches(schema: &SchemaRef, rows: &[(Option<i64>, i64)], chunk: usize) -> Vec<RecordBatch> {
        rows.chunks(chunk)
            .map(|part| {
                let keys: ArrayRef = Arc::new(Int64Array::from(part.iter().map(|r| r.0).collect::<Vec<_>>()));
                let keys = cast(&keys, schema.field(0).data_type()).unwrap();
                let values = Arc::new(Int64Array::from(part.iter().map(|r| r.1).collect::<Vec<_>>()));
                RecordBatch::try_new(schema.clone(), vec![keys, values]).unwrap()
            })
            .collect()
    }

    fn column(index: usize, schema: &SchemaRef) -> PhysicalExprRef {
        let field = schema.field(index % 2);
        Arc::new(ColumnExpr::new(index % 2, field.name(), field.data_type().clone()))
    }

    /// Runs the join of `left` and `right` on key equality (and `left.v < right.v` when
    /// `residual`), building from several workers' batches, and returns the sorted output rows.
    fn run_join(
        join_type: JoinType,
        key_type: &DataType,
        left: &[(Option<i64>, i64)],
        right: &[(Option<i64>, i64)],
        residual: bool,
    ) -> Result<Vec<String>> {
        let (left_schema, right_schema) = (side("l", key_type), side("r", key_type));
        let mut fields: Vec<Field> = left_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        if join_type.emits_right() {
            fields.extend(right_schema.fields().iter().map(|f| f.as_ref().clone()));
        } else if join_type.is_mark() {
            fields.push(Field::new("mark", DataType::Boolean, true));
        }
        let filter: Option<PhysicalExprRef> = residual.then(|| {
            let lv: PhysicalExprRef = Arc::new(ColumnExpr::new(1, "lv", DataType::Int64));
            let rv: PhysicalExprRef = Arc::new(ColumnExpr::new(3, "rv", DataType::Int64));
            Arc::new(BinaryExpr::new(lv, BinaryOp::Lt, rv)) as PhysicalExprRef
        });
        let spec = JoinSpec {
            join_type,
            left_keys: vec![column(0, &left_schema)],
            right_keys: vec![column(0, &right_schema)],
            filter,
            left_schema: left_schema.clone(),
            right_schema: right_schema.clone(),
            schema: Arc::new(Schema::new(fields)),
            runtime_filters: vec![],
        };
        let (build, probe) = hash_join(spec, 64);
        // Three build workers, each sinking every third batch.
        let mut locals: Vec<Box<dyn LocalSink>> = (0..3).map(|_| build.local()).collect();
        for (i, batch) in batches(&right_schema, right, 7).into_iter().enumerate() {
            locals[i % 3].sink(batch)?;
        }
        for local in locals {
            build.combine(local)?;
        }
        build.finalize()?;
        let mut output = vec![];
        for batch in batches(&left_schema, left, 50) {
            probe.execute(batch, &mut |b| {
                output.push(b);
                Ok(())
            })?;
        }
        probe.finish(&mut |b| {
            output.push(b);
            Ok(())
        })?;
        Ok(sorted_rows(&output))
    }

    fn show(key: Option<i64>, value: i64) -> String {
        format!("{}|{value}", key.map_or("NULL".to_string(), |k| k.to_string()))
    }

    /// The join's rows by definition, pair by pair (keys printed as Int64 values).
    fn expected(join_type: JoinType, left: &Rows, right: &Rows, residual: bool) -> Vec<String> {
        let pairs =
            |l: &(Option<i64>, i64), r: &(Option<i64>, i64)| l.0.is_some() && l.0 == r.0 && (!residual || l.1 < r.1);
        let null_right = "NULL|NULL";
        let mut out = vec![];
        let matched_right: Vec<bool> = right.iter().map(|r| left.iter().any(|l| pairs(l, r))).collect();
        for l in left {
            let partners: Vec<&(Option<i64>, i64)> = right.iter().filter(|r| pairs(l, r)).collect();
            let row = show(l.0, l.1);
            match join_type {
                JoinType::Inner | JoinType::Right | JoinType::Left | JoinType::Full | JoinType::Single => {
                    out.extend(partners.iter().map(|r| format!("{row}|{}", show(r.0, r.1))));
                    if partners.is_empty() && matches!(join_type, JoinType::Left | JoinType::Full | JoinType::Single) {
                        out.push(format!("{row}|{null_right}"));
                    }
                }
                JoinType::Semi if !partners.is_empty() => out.push(row),
                JoinType::Anti if partners.is_empty() => out.push(row),
                JoinType::NullAwareAnti => {
                    let keep = right.is_empty()
                        || (partners.is_empty() && l.0.is_some() && right.iter().all(|r| r.0.is_some()));
                    if keep {
                        out.push(row);
                    }
                }
                JoinType::Mark => out.push(format!("{row}|{}", !partners.is_empty())),
                JoinType::NullAwareMark => {
                    let mark = if !partners.is_empty() {
                        "true"
                    } else if !right.is_empty() && (l.0.is_none() || right.iter().any(|r| r.0.is_none())) {
                        "NULL"
                    } else {
                        "false"
                    };
                    out.push(format!("{row}|{mark}"));
                }
                _ => {}
            }
        }
        if matches!(join_type, JoinType::Right | JoinType::Full) {
            for (r, matched) in right.iter().zip(matched_right) {
                if !matched {
                    out.push(format!("NULL|NULL|{}", show(r.0, r.1)));
                }
            }
        }
        out.sort();
        out
    }

    /// Keys in -20..20 with duplicates and some NULLs; values distinct.
    fn sample(rows: i64, seed: i64, nulls_every: i64) -> Rows {
        (0..rows).map(|i| ((i % nulls_every != 0).then_some((i * seed + 3) % 41 - 20), i * 7 % 53)).collect()
    }

    const ALL_TYPES: [JoinType; 9] = [
        JoinType::Inner,
        JoinType::Left,
        JoinType::Right,
        JoinType::Full,
        JoinType::Semi,
        JoinType::Anti,
        JoinType::NullAwareAnti,
        JoinType::Mark,
        JoinType::NullAwareMark,
    ];

    /// Keys print back as the Int64 they were made from only for integer types, so the other
    /// key types are checked by their row counts and the integer types row by row.
    #[test]
    fn every_join_type_matches_its_definition_on_integer_keys() {
        let left = sample(300, 7, 13);
        let right = sample(120, 11, 17);
        for key_type in [DataType::Int64, DataType::Int32, DataType::Int8] {
            for join_type in ALL_TYPES {
                for residual in [false, true] {
                    if residual && matches!(join_type, JoinType::NullAwareAnti | JoinType::NullAwareMark) {
                        continue;
                    }
                    let got = run_join(join_type, &key_type, &left, &right, residual).unwrap();
                    assert_eq!(got, expected(join_type, &left, &right, residual), "{join_type:?} {key_type}");
                }
            }
        }
    }

    /// The same joins over keys too far apart for a direct-indexed table: the hash table.
    #[test]
    fn every_join_type_matches_its_definition_on_sparse_integer_keys() {
        let sparse = |rows: Rows| -> Rows { rows.into_iter().map(|(k, v)| (k.map(|k| k * 1_000_003), v)).collect() };
        let left = sparse(sample(300, 7, 13));
        let right = sparse(sample(120, 11, 17));
        for join_type in ALL_TYPES {
            for residual in [false, true] {
                if residual && matches!(join_type, JoinType::NullAwareAnti | JoinType::NullAwareMark) {
                    continue;
                }
                let got = run_join(join_type, &DataType::Int64, &left, &right, residual).unwrap();
                assert_eq!(got, expected(join_type, &left, &right, residual), "{join_type:?}");
            }
        }
    }

    #[test]
    fn other_key_layouts_find_the_same_pairs() {
        let left = sample(300, 7, 13);
        let right = sample(120, 11, 17);
        // Without a residual the existence-only types index one row per key and drop the
        // build columns; with one they keep every row.
        for key_type in [DataType::Decimal128(12, 2), DataType::Decimal128(30, 0), DataType::Utf8] {
            for join_type in ALL_TYPES {
                for residual in [false, true] {
                    let got = run_join(join_type, &key_type, &left, &right, residual).unwrap();
                    let want = expected(join_type, &left, &right, residual);
                    assert_eq!(got.len(), want.len(), "{join_type:?} {key_type} residual={residual}");
                }
            }
        }
    }

    #[test]
    fn an_empty_build_side_matches_nothing() {
        let left = sample(100, 7, 13);
        for join_type in ALL_TYPES {
            let got = run_join(join_type, &DataType::Int64, &left, &[], false).unwrap();
            assert_eq!(got, expected(join_type, &left, &vec![], false), "{join_type:?}");
        }
    }

    #[test]
    fn single_joins_fail_on_a_second_match_only() {
        let right: Rows = (0..40).map(|i| (Some(i - 20), i)).collect();
        let left = sample(200, 7, 13);
        let got = run_join(JoinType::Single, &DataType::Int64, &left, &right, false).unwrap();
        assert_eq!(got, expected(JoinType::Single, &left, &right, false));
        let duplicated: Rows = right.iter().chain(&right[..1]).copied().collect();
        let error = run_join(JoinType::Single, &DataType::Int64, &left, &duplicated, false).unwrap_err();
        assert!(error.to_string().contains("more than one row"), "{error}");
    }

    #[test]
    fn two_integer_keys_pack_into_one() {
        let schema =
            Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true), Field::new("b", DataType::Int64, true)]));
        let batch = |a: Vec<Option<i32>>, b: Vec<Option<i64>>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(a)), Arc::new(Int64Array::from(b))])
                .unwrap()
        };
        let keys = || -> Vec<PhysicalExprRef> {
            vec![Arc::new(ColumnExpr::new(0, "a", DataType::Int32)), Arc::new(ColumnExpr::new(1, "b", DataType::Int64))]
        };
        let fields: Vec<Field> = schema.fields().iter().chain(schema.fields()).map(|f| f.as_ref().clone()).collect();
        let spec = JoinSpec {
            join_type: JoinType::Inner,
            left_keys: keys(),
            right_keys: keys(),
            filter: None,
            left_schema: schema.clone(),
            right_schema: schema.clone(),
            schema: Arc::new(Schema::new(fields)),
            runtime_filters: vec![],
        };
        let (build, probe) = hash_join(spec, 1024);
        let mut local = build.local();
        local.sink(batch(vec![Some(1), Some(1), Some(-1), None], vec![Some(-1), Some(2), Some(-1), Some(-1)])).unwrap();
        build.combine(local).unwrap();
        build.finalize().unwrap();
        let mut out = vec![];
        let left = batch(vec![Some(1), Some(-1), Some(2), None], vec![Some(-1), Some(-1), Some(-1), Some(-1)]);
        probe
            .execute(left, &mut |b| {
                out.push(b);
                Ok(())
            })
            .unwrap();
        assert_eq!(sorted_rows(&out), ["-1|-1|-1|-1", "1|-1|1|-1"]);
    }

    #[test]
    fn string_keys_keep_their_own_values() {
        let left = sample(60, 7, 13);
        let right = sample(30, 11, 17);
        let got = run_join(JoinType::Inner, &DataType::Utf8, &left, &right, false).unwrap();
        // Utf8 keys print as the same digits as the Int64 keys they were cast from.
        assert_eq!(got, expected(JoinType::Inner, &left, &right, false));
    }
}
