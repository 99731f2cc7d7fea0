//! Dictionary-aware evaluation of pushed scan filters over Parquet string columns.
//!
//! Low-cardinality string columns (TPC-H's `l_shipmode`, `p_brand`, `p_container`) are
//! dictionary-encoded in nearly every Parquet file. Decoding them to `Utf8` copies every row's
//! bytes out of the page dictionary, and a filter such as `l_shipmode IN ('MAIL', 'SHIP')` then
//! compares every row. Read as `Dictionary(Int32, Utf8)` instead, the decoder only unpacks the
//! keys, the filter runs once per distinct value, and the rows' verdicts are a gather through the
//! keys. Only the passing rows are then cast to `Utf8`, so downstream operators see the declared
//! types exactly as before (this is DuckDB's and Parquet-MR's "dictionary filtering").
//!
//! A conjunct qualifies when it reads exactly one string data column and is built only from
//! comparisons, `AND`/`OR`/`NOT`, `IN`, `LIKE`, `IS NULL` and literals: those give the same
//! answer for a value wherever it occurs and cannot fail on a value the row path would not
//! have seen. The verdict of a NULL row is computed once, by evaluating the conjunct on NULL.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::filter::prep_null_mask_filter;
use arrow::compute::{and, cast};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};

use crate::error::{EngineError, Result};
use crate::expr::functions::FunctionRegistry;
use crate::expr::planner::create_physical_expr;
use crate::expr::{ColumnarValue, PhysicalExprRef};
use crate::plan::{BinaryOp, Expr, ScalarValue};

/// The type a qualifying column is decoded as.
pub fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// One pushed conjunct that can be answered per dictionary value.
#[derive(Debug)]
pub struct DictionaryPredicate {
    /// The column it reads: its position in the scan's data schema (the decoders' output).
    pub column: usize,
    /// Its position among the scan's pushed filters.
    pub conjunct: usize,
    /// The conjunct over a one-column batch of that column.
    expr: PhysicalExprRef,
    schema: SchemaRef,
    /// Whether a NULL row passes (`col IS NULL`); evaluated once when planned.
    null_passes: bool,
}

/// The conjuncts of a scan answerable per dictionary value.
#[derive(Debug, Default)]
pub struct DictionaryFilter {
    predicates: Vec<DictionaryPredicate>,
}

impl DictionaryFilter {
    /// Picks the qualifying conjuncts of `filters` (over `read_schema`, whose first
    /// `data_columns` columns are the decoded data columns in data-schema order).
    pub fn new(
        filters: &[Expr],
        read_schema: &Schema,
        data_columns: usize,
        functions: &FunctionRegistry,
    ) -> DictionaryFilter {
        let predicates = filters
            .iter()
            .enumerate()
            .filter_map(|(conjunct, filter)| {
                DictionaryPredicate::plan(conjunct, filter, read_schema, data_columns, functions)
            })
            .collect();
        DictionaryFilter { predicates }
    }

    pub fn is_empty(&self) -> bool {
        self.predicates.is_empty()
    }

    /// The data columns some predicate reads, ascending.
    pub fn columns(&self) -> Vec<usize> {
        let mut columns: Vec<usize> = self.predicates.iter().map(|p| p.column).collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// The predicates over the data columns in `columns`.
    pub fn over<'a>(&'a self, columns: &'a [usize]) -> impl Iterator<Item = &'a DictionaryPredicate> + 'a {
        self.predicates.iter().filter(move |p| columns.contains(&p.column))
    }
}

impl DictionaryPredicate {
    fn plan(
        conjunct: usize,
        filter: &Expr,
        read_schema: &Schema,
        data_columns: usize,
        functions: &FunctionRegistry,
    ) -> Option<DictionaryPredicate> {
        let mut columns = Vec::new();
        filter.collect_columns(&mut columns);
        let [column] = columns[..] else { return None };
        let field = read_schema.fields().get(column)?;
        if column >= data_columns || field.data_type() != &DataType::Utf8 || !answerable_per_value(filter) {
            return None;
        }
        let schema = Arc::new(Schema::new(vec![Field::new(field.name(), DataType::Utf8, true)]));
        let expr = create_physical_expr(&filter.clone().remap_columns(&|_| 0), &schema, functions).ok()?;
        let mut predicate = DictionaryPredicate { column, conjunct, expr, schema, null_passes: false };
        let null = predicate.values_mask(&new_null_array(&DataType::Utf8, 1)).ok()?;
        predicate.null_passes = null.value(0);
        Some(predicate)
    }

    /// The verdict for each of `values` (a `Utf8` array): NULL fails.
    fn values_mask(&self, values: &ArrayRef) -> Result<BooleanArray> {
        let batch = RecordBatch::try_new(self.schema.clone(), vec![values.clone()])?;
        let mask = match self.expr.evaluate(&batch)? {
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(pass))) => {
                BooleanArray::new(BooleanBuffer::collect_bool(values.len(), |_| pass), None)
            }
            ColumnarValue::Scalar(ScalarValue::Boolean(None) | ScalarValue::Null) => {
                BooleanArray::new(BooleanBuffer::new_unset(values.len()), None)
            }
            ColumnarValue::Array(array) if array.data_type() == &DataType::Boolean => array.as_boolean().clone(),
            other => {
                return Err(EngineError::execution(format!("scan filter {} gave {other:?}, not a boolean", self.expr)))
            }
        };
        Ok(match mask.null_count() {
            0 => mask,
            _ => prep_null_mask_filter(&mask),
        })
    }
}

/// Whether `expr` gives a value's verdict independently of the row and without failing:
/// comparisons, boolean connectives, `IN`, `LIKE`, `IS NULL` over the column and literals.
fn answerable_per_value(expr: &Expr) -> bool {
    match expr {
        Expr::Column(_) | Expr::Literal(_) => true,
        Expr::Cast { expr, .. } => matches!(expr.as_ref(), Expr::Literal(_)),
        Expr::Binary { op, left, right } => {
            (op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or))
                && answerable_per_value(left)
                && answerable_per_value(right)
        }
        Expr::Not(inner) => answerable_per_value(inner),
        Expr::IsNull { expr, .. } => answerable_per_value(expr),
        Expr::InList { expr, list, .. } => answerable_per_value(expr) && list.iter().all(answerable_per_value),
        Expr::Like { expr, pattern, .. } => answerable_per_value(expr) && answerable_per_value(pattern),
        _ => false,
    }
}

/// The verdicts of one predicate for the values of the dictionary last seen, so the batches of
/// a row group (which share the page dictionary) evaluate it once.
#[derive(Debug, Default)]
struct CachedValues {
    /// The values last evaluated, held so their buffers cannot be freed and reused by another
    /// dictionary: equal buffer pointers then mean the same dictionary.
    values: Option<ArrayRef>,
    mask: Option<BooleanArray>,
}

/// Identity of a `Utf8` array's contents: its offsets and bytes pointers and its length.
fn identity(values: &ArrayRef) -> (usize, usize, usize) {
    let strings = values.as_string::<i32>();
    (strings.offsets().as_ptr() as usize, strings.values().as_ptr() as usize, strings.len())
}

/// Applies a [`DictionaryFilter`] to the batches of one decode, caching per-value verdicts.
pub struct DictionaryMasks<'a> {
    predicates: Vec<&'a DictionaryPredicate>,
    cache: Vec<CachedValues>,
}

impl<'a> DictionaryMasks<'a> {
    /// For the predicates over `columns` (data-schema positions decoded as dictionaries).
    pub fn new(filter: &'a DictionaryFilter, columns: &'a [usize]) -> DictionaryMasks<'a> {
        let predicates: Vec<&DictionaryPredicate> = filter.over(columns).collect();
        let cache = predicates.iter().map(|_| CachedValues::default()).collect();
        DictionaryMasks { predicates, cache }
    }

    pub fn is_empty(&self) -> bool {
        self.predicates.is_empty()
    }

    /// The rows of a decoded batch passing every predicate (no NULLs in the mask); `None` when
    /// there is no predicate. `position` maps a data-schema column to its position in `batch`.
    /// A column that did not arrive as a dictionary is evaluated row by row.
    pub fn mask(
        &mut self,
        batch: &RecordBatch,
        position: &dyn Fn(usize) -> Option<usize>,
    ) -> Result<Option<BooleanArray>> {
        let mut result: Option<BooleanArray> = None;
        for (predicate, cache) in self.predicates.iter().zip(self.cache.iter_mut()) {
            let Some(array) = position(predicate.column).map(|p| batch.column(p)) else {
                return Err(EngineError::execution("dictionary filter: its column was not decoded"));
            };
            let mask = row_mask(predicate, cache, array)?;
            result = Some(match result {
                Some(previous) => and(&previous, &mask)?,
                None => mask,
            });
        }
        Ok(result)
    }
}

/// One predicate's verdict per row of `array`: through the keys when it is a dictionary,
/// else (a decoder that gave plain strings) by evaluating every row.
fn row_mask(predicate: &DictionaryPredicate, cache: &mut CachedValues, array: &ArrayRef) -> Result<BooleanArray> {
    let Some(dictionary) = array.as_dictionary_opt::<Int32Type>() else {
        let plain = match array.data_type() {
            DataType::Utf8 => array.clone(),
            _ => cast(array, &DataType::Utf8)?,
        };
        let mask = predicate.values_mask(&plain)?;
        return Ok(match (plain.null_count(), predicate.null_passes) {
            (0, _) => mask,
            (_, null_passes) => BooleanArray::new(
                BooleanBuffer::collect_bool(plain.len(), |i| match plain.is_null(i) {
                    true => null_passes,
                    false => mask.value(i),
                }),
                None,
            ),
        });
    };
    let values = dictionary.values();
    let values = match values.data_type() {
        DataType::Utf8 => values.clone(),
        _ => cast(values, &DataType::Utf8)?,
    };
    let verdicts = match (&cache.values, &cache.mask) {
        (Some(cached), Some(mask)) if identity(cached) == identity(&values) => mask.clone(),
        _ => {
            let mask = predicate.values_mask(&values)?;
            cache.values = Some(values.clone());
            cache.mask = Some(mask.clone());
            mask
        }
    };
    Ok(gather(dictionary.keys(), &verdicts, predicate.null_passes))
}

/// Each row's verdict: its key's value's verdict, or `null_verdict` for a NULL row.
fn gather(keys: &arrow::array::Int32Array, verdicts: &BooleanArray, null_verdict: bool) -> BooleanArray {
    let bits = verdicts.values();
    let count = bits.len();
    let raw = keys.values();
    let verdict = |key: i32| usize::try_from(key).ok().filter(|k| *k < count).is_some_and(|k| bits.value(k));
    let buffer = match keys.nulls().filter(|n| n.null_count() > 0) {
        None => BooleanBuffer::collect_bool(keys.len(), |i| verdict(raw[i])),
        Some(nulls) => {
            BooleanBuffer::collect_bool(keys.len(), |i| if nulls.is_valid(i) { verdict(raw[i]) } else { null_verdict })
        }
    };
    BooleanArray::new(buffer, None)
}

/// Spreads `inner` (one verdict per set bit of `outer`) back over `outer`'s rows: a row passes
/// when `outer` kept it and `inner` passed it. `outer` has no NULLs.
pub fn expand_mask(outer: &BooleanArray, inner: &BooleanArray) -> BooleanArray {
    let mut bits = arrow::array::BooleanBufferBuilder::new(outer.len());
    bits.append_n(outer.len(), false);
    for (rank, row) in outer.values().set_indices().enumerate() {
        if inner.is_valid(rank) && inner.value(rank) {
            bits.set_bit(row, true);
        }
    }
    BooleanArray::new(bits.finish(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Int32Array, StringArray};
    use arrow::datatypes::Field;

    fn schema() -> Schema {
        Schema::new(vec![Field::new("mode", DataType::Utf8, true), Field::new("n", DataType::Int64, true)])
    }

    fn text(s: &str) -> Expr {
        Expr::Literal(ScalarValue::Utf8(Some(s.to_string())))
    }

    fn filter_of(exprs: Vec<Expr>) -> DictionaryFilter {
        DictionaryFilter::new(&exprs, &schema(), 2, &FunctionRegistry::with_builtins())
    }

    fn dictionary(keys: Vec<Option<i32>>, values: Vec<&str>) -> ArrayRef {
        let keys = Int32Array::from(keys);
        Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(values))).unwrap())
    }

    fn masks(filter: &DictionaryFilter, column: ArrayRef) -> Vec<bool> {
        let columns = filter.columns();
        let mut masks = DictionaryMasks::new(filter, &columns);
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("mode", column.data_type().clone(), true)])),
            vec![column],
        )
        .unwrap();
        let mask = masks.mask(&batch, &|c| (c == 0).then_some(0)).unwrap().unwrap();
        assert_eq!(mask.null_count(), 0);
        mask.iter().map(|v| v.unwrap()).collect()
    }

    fn in_list(negated: bool) -> Expr {
        Expr::InList { expr: Box::new(Expr::Column(0)), list: vec![text("MAIL"), text("SHIP")], negated }
    }

    #[test]
    fn picks_single_string_column_conjuncts_only() {
        let two_columns = Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(Expr::Column(0)),
            right: Box::new(Expr::Cast { expr: Box::new(Expr::Column(1)), to: DataType::Utf8, try_cast: false }),
        };
        let number = Expr::IsNull { expr: Box::new(Expr::Column(1)), negated: false };
        let function =
            Expr::Function { name: "upper".into(), args: vec![Expr::Column(0)], return_type: DataType::Utf8 };
        let filter = filter_of(vec![two_columns, in_list(false), number, function]);
        let conjuncts: Vec<usize> = filter.predicates.iter().map(|p| p.conjunct).collect();
        assert_eq!(conjuncts, vec![1]);
        assert_eq!(filter.columns(), vec![0]);
    }

    #[test]
    fn in_list_through_keys_with_nulls() {
        let filter = filter_of(vec![in_list(false)]);
        let column = dictionary(vec![Some(0), None, Some(1), Some(2), Some(1)], vec!["AIR", "MAIL", "SHIP"]);
        assert_eq!(masks(&filter, column), vec![false, false, true, true, true]);
        let filter = filter_of(vec![in_list(true)]);
        let column = dictionary(vec![Some(0), None, Some(1)], vec!["AIR", "MAIL", "SHIP"]);
        assert_eq!(masks(&filter, column), vec![true, false, false]);
    }

    #[test]
    fn is_null_passes_null_rows() {
        let filter = filter_of(vec![Expr::IsNull { expr: Box::new(Expr::Column(0)), negated: false }]);
        let column = dictionary(vec![Some(0), None, Some(0)], vec!["AIR"]);
        assert_eq!(masks(&filter, column), vec![false, true, false]);
    }

    #[test]
    fn no_value_passes_and_every_value_passes() {
        let none = Expr::Binary { op: BinaryOp::Eq, left: Box::new(Expr::Column(0)), right: Box::new(text("RAIL")) };
        let filter = filter_of(vec![none]);
        let column = dictionary(vec![Some(0), Some(1), Some(0)], vec!["AIR", "MAIL"]);
        assert_eq!(masks(&filter, column), vec![false; 3]);
        let all = Expr::Like {
            expr: Box::new(Expr::Column(0)),
            pattern: Box::new(text("%")),
            negated: false,
            case_insensitive: false,
        };
        let filter = filter_of(vec![all]);
        let column = dictionary(vec![Some(0), Some(1), Some(0)], vec!["AIR", "MAIL"]);
        assert_eq!(masks(&filter, column), vec![true; 3]);
    }

    #[test]
    fn plain_column_is_evaluated_per_row() {
        let filter = filter_of(vec![in_list(false)]);
        let column: ArrayRef = Arc::new(StringArray::from(vec![Some("MAIL"), None, Some("AIR")]));
        assert_eq!(masks(&filter, column), vec![true, false, false]);
    }

    #[test]
    fn cached_verdicts_follow_a_new_dictionary() {
        let filter = filter_of(vec![in_list(false)]);
        let columns = filter.columns();
        let mut masks = DictionaryMasks::new(&filter, &columns);
        let schema = Arc::new(Schema::new(vec![Field::new("mode", dictionary_type(), true)]));
        let mut run = |column: ArrayRef| -> Vec<bool> {
            let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
            let mask = masks.mask(&batch, &|_| Some(0)).unwrap().unwrap();
            mask.iter().map(|v| v.unwrap()).collect()
        };
        assert_eq!(run(dictionary(vec![Some(0), Some(1)], vec!["MAIL", "AIR"])), vec![true, false]);
        assert_eq!(run(dictionary(vec![Some(0), Some(1)], vec!["AIR", "SHIP"])), vec![false, true]);
    }

    #[test]
    fn expand_spreads_inner_verdicts() {
        let outer = BooleanArray::from(vec![true, false, true, true, false]);
        let inner = BooleanArray::from(vec![false, true, true]);
        let expanded = expand_mask(&outer, &inner);
        assert_eq!(expanded.iter().map(|v| v.unwrap()).collect::<Vec<_>>(), vec![false, false, true, true, false]);
    }
}
