//! Candidate (probe row, build row) pairs and the one check every join operator applies to them:
//! gather both sides' columns, run the residual predicate, and record which probe rows matched.
//! The hash join and the range join differ only in how they find candidates; what a candidate
//! means for each join type is decided here once.

use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, AsArray, BooleanArray, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::{filter, filter_record_batch, not, take};
use arrow::datatypes::{SchemaRef, UInt32Type};
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::exec::filter::{evaluate_predicate, Selection};
use crate::exec::project::batch_with_schema;
use crate::expr::PhysicalExprRef;
use crate::plan::JoinType;

/// Candidate pairs collected before they are checked and emitted together.
#[derive(Default)]
pub struct Pairs {
    pub probe: Vec<u32>,
    pub build: Vec<u32>,
}

impl Pairs {
    pub fn with_capacity(capacity: usize) -> Pairs {
        Pairs { probe: Vec::with_capacity(capacity), build: Vec::with_capacity(capacity) }
    }

    pub fn push(&mut self, probe: usize, build: u32) {
        self.probe.push(probe as u32);
        self.build.push(build);
    }

    /// Probe row `probe` paired with each of `build`.
    pub fn extend(&mut self, probe: usize, build: &[u32]) {
        if let [one] = build {
            // The usual case (a unique build key), without the general path's two loops.
            return self.push(probe, *one);
        }
        self.probe.extend(std::iter::repeat_n(probe as u32, build.len()));
        self.build.extend_from_slice(build);
    }

    pub fn len(&self) -> usize {
        self.probe.len()
    }

    pub fn is_empty(&self) -> bool {
        self.probe.is_empty()
    }
}

/// The pairs that passed the residual: their combined rows (`pair_schema`) and build row indices.
pub struct CheckedPairs {
    pub rows: RecordBatch,
    pub build: UInt32Array,
}

/// Applies `residual` (over the left then the right columns, `pair_schema`) to `pairs` and sets
/// `matched` for every probe row with a surviving pair. A single join (a scalar subquery) fails
/// on a probe row's second match: every candidate of one probe row is in the same call.
pub fn check_pairs(
    probe_batch: &RecordBatch,
    build_batch: &RecordBatch,
    pairs: Pairs,
    pair_schema: &SchemaRef,
    residual: Option<&PhysicalExprRef>,
    join_type: JoinType,
    matched: &mut [bool],
) -> Result<Option<CheckedPairs>> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut probe = UInt32Array::from(pairs.probe);
    let mut build = UInt32Array::from(pairs.build);
    // Probe rows that all matched once, in order (a star join's fact rows meeting a dimension
    // table), are a slice of the batch: no copy.
    let mut columns = match consecutive(probe.values()) {
        Some(start) => probe_batch.slice(start as usize, probe.len()).columns().to_vec(),
        None => take_columns(probe_batch, &probe)?,
    };
    columns.extend(take_columns(build_batch, &build)?);
    let mut rows = batch_with_schema(pair_schema, columns, probe.len())?;
    if let Some(residual) = residual {
        match evaluate_predicate(residual, &rows)? {
            Selection::All => {}
            Selection::None => return Ok(None),
            Selection::Some(mask) => {
                rows = filter_record_batch(&rows, &mask)?;
                probe = downcast_indices(filter(&probe, &mask)?)?;
                build = downcast_indices(filter(&build, &mask)?)?;
            }
        }
    }
    for row in probe.values() {
        let row = *row as usize;
        if join_type == JoinType::Single && matched[row] {
            return Err(EngineError::execution("more than one row returned by a subquery used as an expression"));
        }
        matched[row] = true;
    }
    Ok(Some(CheckedPairs { rows, build }))
}

/// What a probe join needs to know of itself to emit the probe rows' own output.
pub struct ProbeSide<'a> {
    pub join_type: JoinType,
    pub output_schema: &'a SchemaRef,
    pub right_schema: &'a SchemaRef,
}

/// What the null-aware join types (`NOT IN`, `IN` as a value) need beyond the matches: an empty
/// build side makes `NOT IN` true and `IN` false, and a NULL on either side makes a miss unknown.
#[derive(Default)]
pub struct NullAwareState {
    pub build_empty: bool,
    pub build_has_null_key: bool,
    pub probe_nulls: Option<NullBuffer>,
}

/// What a probe batch contributes beyond its pairs, once every candidate was checked: unmatched
/// rows padded with NULLs (left, full and single joins), the rows themselves (semi: matched, anti:
/// unmatched), or every row with its mark.
pub fn emit_probe_rows(
    batch: &RecordBatch,
    matched: Vec<bool>,
    side: &ProbeSide,
    null_aware: &NullAwareState,
    out: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let build_empty = null_aware.build_empty;
    let probe_null = |row: usize| null_aware.probe_nulls.as_ref().is_some_and(|n| n.is_null(row));
    let join_type = side.join_type;
    if join_type.is_mark() {
        let null_aware_mark = join_type == JoinType::NullAwareMark;
        let marks: BooleanArray = matched
            .iter()
            .enumerate()
            .map(|(row, m)| match m {
                true => Some(true),
                false if null_aware_mark && !build_empty && (null_aware.build_has_null_key || probe_null(row)) => None,
                false => Some(false),
            })
            .collect();
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(marks));
        return out(batch_with_schema(side.output_schema, columns, batch.num_rows())?);
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
                .map(|(row, m)| Some(build_empty || (!m && !null_aware.build_has_null_key && !probe_null(row))))
                .collect();
            filter_record_batch(batch, &keep)?
        }
        JoinType::Inner | JoinType::Right | JoinType::Cross | JoinType::Mark | JoinType::NullAwareMark => return Ok(()),
    };
    if rows.num_rows() == 0 {
        return Ok(());
    }
    let mut columns = rows.columns().to_vec();
    if join_type.emits_right() {
        let right = side.right_schema.fields();
        columns.extend(right.iter().map(|f| new_null_array(f.data_type(), rows.num_rows())));
    }
    out(batch_with_schema(side.output_schema, columns, rows.num_rows())?)
}
/// Every column of `batch` gathered at `indices`.
pub fn take_columns(batch: &RecordBatch, indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
    batch.columns().iter().map(|c| Ok(take(c, indices, None)?)).collect()
}

/// The first index when `indices` are consecutive (`start, start + 1, ...`), else `None`.
fn consecutive(indices: &[u32]) -> Option<u32> {
    let start = *indices.first()?;
    let last = start as usize + indices.len() - 1;
    let ordered = *indices.last()? as usize == last
        && indices.iter().enumerate().all(|(i, index)| *index as usize == start as usize + i);
    ordered.then_some(start)
}

fn downcast_indices(array: ArrayRef) -> Result<UInt32Array> {
    array
        .as_primitive_opt::<UInt32Type>()
        .cloned()
        .ok_or_else(|| EngineError::execution("filtered join indices changed type"))
}

#[cfg(test)]
mod tests {
    use arrow::array::Int32Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::exec::testing::sorted_rows;

    #[test]
    fn consecutive_indices_are_recognised() {
        assert_eq!(consecutive(&[3, 4, 5]), Some(3));
        assert_eq!(consecutive(&[0]), Some(0));
        assert_eq!(consecutive(&[u32::MAX - 1, u32::MAX]), Some(u32::MAX - 1));
        assert_eq!(consecutive(&[]), None);
        assert_eq!(consecutive(&[3, 5, 5]), None, "same ends, a gap inside");
        assert_eq!(consecutive(&[1, 1, 3]), None);
        assert_eq!(consecutive(&[2, 1]), None);
    }

    #[test]
    fn pairs_of_consecutive_and_scattered_probe_rows_give_the_same_rows() {
        let schema = |name: &str| Arc::new(Schema::new(vec![Field::new(name, DataType::Int32, false)]));
        let probe = RecordBatch::try_new(schema("p"), vec![Arc::new(Int32Array::from(vec![10, 11, 12, 13]))]).unwrap();
        let build = RecordBatch::try_new(schema("b"), vec![Arc::new(Int32Array::from(vec![0, 1, 2]))]).unwrap();
        let pair_schema = Arc::new(Schema::new(vec![
            Field::new("p", DataType::Int32, false),
            Field::new("b", DataType::Int32, false),
        ]));
        let run = |probe_rows: Vec<u32>, build_rows: Vec<u32>| {
            let mut matched = vec![false; 4];
            let pairs = Pairs { probe: probe_rows, build: build_rows };
            let checked =
                check_pairs(&probe, &build, pairs, &pair_schema, None, JoinType::Inner, &mut matched).unwrap().unwrap();
            (sorted_rows(&[checked.rows]), matched)
        };
        // A slice of the batch (rows 1..3) and the same rows gathered out of order.
        let (sliced, matched) = run(vec![1, 2], vec![2, 0]);
        assert_eq!(sliced, ["11|2", "12|0"]);
        assert_eq!(matched, [false, true, true, false]);
        let (taken, _) = run(vec![2, 1], vec![0, 2]);
        assert_eq!(taken, sliced);
    }
}
