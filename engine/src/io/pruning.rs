//! Row-group pruning by min/max statistics: which row groups of a file might hold a row that
//! satisfies the scan's conjuncts. Conservative by construction: anything it cannot reason
//! about (other expression shapes, missing or unusable statistics, a failing cast) keeps the
//! row group; the scan applies every filter exactly afterwards anyway.

use arrow::array::{Array, ArrayRef, BooleanArray, Datum, Scalar, UInt64Array};
use arrow::compute::kernels::cmp;
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Schema};

use crate::plan::{BinaryOp, Expr, ScalarValue};

/// One conjunct in a shape statistics can answer, over a data column of the table.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    /// `column <op> value`, with `column` optionally widened by a monotone cast first.
    Compare { column: usize, cast: Option<DataType>, op: BinaryOp, value: ScalarValue },
    /// `column IN (values)`.
    InList { column: usize, cast: Option<DataType>, values: Vec<ScalarValue> },
    /// `column IS [NOT] NULL`.
    IsNull { column: usize, negated: bool },
}

impl Bound {
    fn column(&self) -> usize {
        match self {
            Bound::Compare { column, .. } | Bound::InList { column, .. } | Bound::IsNull { column, .. } => *column,
        }
    }
}

/// Statistics of one column for every row group of a file, already in the column's declared
/// type; a NULL entry means "unknown".
#[derive(Debug, Clone)]
pub struct ColumnStatistics {
    pub mins: ArrayRef,
    pub maxes: ArrayRef,
    pub null_counts: UInt64Array,
    pub row_counts: UInt64Array,
}

/// The prunable conjuncts of a scan's filters.
#[derive(Debug, Clone, Default)]
pub struct RowGroupPruner {
    bounds: Vec<Bound>,
}

impl RowGroupPruner {
    /// Picks the conjuncts of `filters` (bound to `table_schema`) that statistics can decide:
    /// `col <op> literal` (either side), `col IN (literals)`, `col IS [NOT] NULL` over one of the
    /// first `data_columns` columns (partition keys are pruned by the catalog, not here).
    pub fn new(filters: &[Expr], table_schema: &Schema, data_columns: usize) -> RowGroupPruner {
        let bounds = filters
            .iter()
            .flat_map(|f| f.clone().split_conjunction())
            .filter_map(|c| bound_of(&c, table_schema))
            .filter(|b| b.column() < data_columns)
            .collect();
        RowGroupPruner { bounds }
    }

    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// The table columns whose statistics [`Self::prune`] needs.
    pub fn columns(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.bounds.iter().map(Bound::column).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// For each of `num_row_groups` row groups, whether it might hold a matching row.
    /// `stats(column)` gives the statistics of a table column, `None` when unknown.
    pub fn prune(&self, num_row_groups: usize, stats: &dyn Fn(usize) -> Option<ColumnStatistics>) -> Vec<bool> {
        let mut keep = vec![true; num_row_groups];
        for bound in &self.bounds {
            let Some(col) = stats(bound.column()) else { continue };
            let Some(might) = might_match(bound, &col) else { continue };
            for (k, m) in keep.iter_mut().zip(might) {
                *k &= m;
            }
        }
        keep
    }
}

/// The bound a conjunct expresses, if it has a shape statistics can decide.
fn bound_of(expr: &Expr, schema: &Schema) -> Option<Bound> {
    match expr {
        Expr::Binary { op, left, right } if op.is_comparison() => {
            let (column_side, value, op) = match (left.as_ref(), right.as_ref()) {
                (Expr::Literal(v), other) => (other, v, flip(*op)),
                (other, Expr::Literal(v)) => (other, v, *op),
                _ => return None,
            };
            let (column, cast) = column_of(column_side, schema)?;
            (!value.is_null()).then(|| Bound::Compare { column, cast, op, value: value.clone() })
        }
        Expr::InList { expr, list, negated: false } => {
            let (column, cast) = column_of(expr, schema)?;
            let values = list
                .iter()
                .map(|e| match e {
                    Expr::Literal(v) if !v.is_null() => Some(v.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Bound::InList { column, cast, values })
        }
        Expr::IsNull { expr, negated } => match expr.as_ref() {
            Expr::Column(column) => Some(Bound::IsNull { column: *column, negated: *negated }),
            _ => None,
        },
        _ => None,
    }
}

/// `a <op> b` written as `b <flip(op)> a`.
fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

/// A column reference, possibly under a cast that preserves order (so the cast of min/max
/// bounds the cast of every value).
fn column_of(expr: &Expr, schema: &Schema) -> Option<(usize, Option<DataType>)> {
    match expr {
        Expr::Column(i) => Some((*i, None)),
        Expr::Cast { expr, to, .. } => match expr.as_ref() {
            Expr::Column(i) if preserves_order(schema.fields().get(*i)?.data_type(), to) => {
                Some((*i, Some(to.clone())))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether `CAST(x AS to)` is monotone non-decreasing in `x`, so `[min, max]` maps into
/// `[cast(min), cast(max)]`. Floats are left out: NaN and signed zeros make their statistics
/// unreliable across writers.
pub fn preserves_order(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let exact_numeric =
        |t: &DataType| matches!(t, Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Decimal128(_, _));
    match (from, to) {
        _ if from == to => !matches!(from, Float16 | Float32 | Float64),
        (f, t) if exact_numeric(f) && (exact_numeric(t) || matches!(t, Float64)) => true,
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (Date32 | Date64, Date32 | Timestamp(_, None)) => true,
        (Timestamp(_, tz), Timestamp(_, None) | Date32) => {
            tz.as_deref().is_none_or(|z| matches!(z, "UTC" | "+00:00" | "Z" | "utc"))
        }
        _ => false,
    }
}

/// Whether each row group might satisfy `bound`; `None` when the statistics cannot say.
fn might_match(bound: &Bound, stats: &ColumnStatistics) -> Option<Vec<bool>> {
    match bound {
        Bound::IsNull { negated: false, .. } => {
            Some(stats.null_counts.iter().map(|n| n.is_none_or(|n| n > 0)).collect())
        }
        Bound::IsNull { negated: true, .. } => Some(
            stats
                .null_counts
                .iter()
                .zip(stats.row_counts.iter())
                .map(|(n, r)| !matches!((n, r), (Some(n), Some(r)) if n >= r))
                .collect(),
        ),
        Bound::Compare { cast, op, value, .. } => {
            let (mins, maxes) = bounds_as(stats, cast.as_ref())?;
            compare_bounds(&mins, &maxes, *op, value)
        }
        Bound::InList { cast, values, .. } => {
            let (mins, maxes) = bounds_as(stats, cast.as_ref())?;
            let mut any = vec![false; mins.len()];
            for value in values {
                let eq = compare_bounds(&mins, &maxes, BinaryOp::Eq, value)?;
                for (a, e) in any.iter_mut().zip(eq) {
                    *a |= e;
                }
            }
            Some(any)
        }
    }
}

/// Min and max arrays, cast to `cast` when the predicate compares a cast column. A value the
/// cast cannot represent becomes NULL (unknown), never a wrong bound.
fn bounds_as(stats: &ColumnStatistics, cast: Option<&DataType>) -> Option<(ArrayRef, ArrayRef)> {
    let Some(to) = cast else { return Some((stats.mins.clone(), stats.maxes.clone())) };
    let options = CastOptions { safe: true, ..Default::default() };
    Some((cast_with_options(&stats.mins, to, &options).ok()?, cast_with_options(&stats.maxes, to, &options).ok()?))
}

/// Whether `[min, max]` might hold a value `v` with `v <op> value`.
fn compare_bounds(mins: &ArrayRef, maxes: &ArrayRef, op: BinaryOp, value: &ScalarValue) -> Option<Vec<bool>> {
    if mins.data_type() != &value.data_type() {
        return None;
    }
    let v = Scalar::new(value.to_array(1));
    let unknown_is_true = |a: BooleanArray| a.iter().map(|x| x.unwrap_or(true)).collect::<Vec<bool>>();
    let cmp_with =
        |array: &ArrayRef, f: fn(&dyn Datum, &dyn Datum) -> Result<BooleanArray, arrow::error::ArrowError>| {
            f(array, &v).ok().map(unknown_is_true)
        };
    let and = |a: Vec<bool>, b: Vec<bool>| a.into_iter().zip(b).map(|(x, y)| x && y).collect::<Vec<bool>>();
    match op {
        BinaryOp::Eq => Some(and(cmp_with(mins, cmp::lt_eq)?, cmp_with(maxes, cmp::gt_eq)?)),
        BinaryOp::Lt => cmp_with(mins, cmp::lt),
        BinaryOp::LtEq => cmp_with(mins, cmp::lt_eq),
        BinaryOp::Gt => cmp_with(maxes, cmp::gt),
        BinaryOp::GtEq => cmp_with(maxes, cmp::gt_eq),
        BinaryOp::NotEq => {
            // Only a row group whose every value equals `value` can be skipped.
            let min_ne = cmp::neq(mins, &v).ok()?;
            let max_ne = cmp::neq(maxes, &v).ok()?;
            Some(min_ne.iter().zip(max_ne.iter()).map(|(a, b)| a.unwrap_or(true) || b.unwrap_or(true)).collect())
        }
        _ => None,
    }
}

/// Casts raw statistics (in the file's Arrow type) to the declared type when that cast keeps
/// order; otherwise the statistics are unusable and this gives `None`.
pub fn statistics_in_declared_type(array: &ArrayRef, declared: &DataType) -> Option<ArrayRef> {
    if array.data_type() == declared {
        return (!matches!(declared, DataType::Float16 | DataType::Float32 | DataType::Float64)).then(|| array.clone());
    }
    if !preserves_order(array.data_type(), declared) {
        return None;
    }
    cast_with_options(array, declared, &CastOptions { safe: true, ..Default::default() }).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::Field;

    use super::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("small", DataType::Int32, true),
            Field::new("part", DataType::Utf8, true),
        ])
    }

    /// Row groups: [0, 9], [10, 19], [20, 29], unknown; null counts 0, 3, 0, unknown; 10 rows each.
    fn stats(_: usize) -> Option<ColumnStatistics> {
        Some(ColumnStatistics {
            mins: Arc::new(Int64Array::from(vec![Some(0), Some(10), Some(20), None])),
            maxes: Arc::new(Int64Array::from(vec![Some(9), Some(19), Some(29), None])),
            null_counts: UInt64Array::from(vec![Some(0), Some(3), Some(10), None]),
            row_counts: UInt64Array::from(vec![Some(10), Some(10), Some(10), Some(10)]),
        })
    }

    fn keep(filter: Expr) -> Vec<bool> {
        RowGroupPruner::new(&[filter], &schema(), 2).prune(4, &stats)
    }

    fn lit(v: i64) -> Expr {
        Expr::Literal(ScalarValue::Int64(Some(v)))
    }

    #[test]
    fn comparisons_keep_only_overlapping_row_groups() {
        let col = || Expr::Column(0);
        assert_eq!(keep(Expr::binary(col(), BinaryOp::Eq, lit(15))), vec![false, true, false, true]);
        assert_eq!(keep(Expr::binary(col(), BinaryOp::Lt, lit(10))), vec![true, false, false, true]);
        assert_eq!(keep(Expr::binary(col(), BinaryOp::LtEq, lit(10))), vec![true, true, false, true]);
        assert_eq!(keep(Expr::binary(lit(20), BinaryOp::LtEq, col())), vec![false, false, true, true]);
        assert_eq!(keep(Expr::binary(col(), BinaryOp::Gt, lit(19))), vec![false, false, true, true]);
        assert_eq!(keep(Expr::binary(col(), BinaryOp::NotEq, lit(5))), vec![true, true, true, true]);
        let between = Expr::binary(col(), BinaryOp::GtEq, lit(12)).and(Expr::binary(col(), BinaryOp::LtEq, lit(14)));
        assert_eq!(keep(between), vec![false, true, false, true]);
        let in_list = Expr::InList { expr: Box::new(col()), list: vec![lit(3), lit(25)], negated: false };
        assert_eq!(keep(in_list), vec![true, false, true, true]);
    }

    #[test]
    fn null_checks_use_null_counts() {
        let is_null = Expr::IsNull { expr: Box::new(Expr::Column(0)), negated: false };
        assert_eq!(keep(is_null), vec![false, true, true, true]);
        let not_null = Expr::IsNull { expr: Box::new(Expr::Column(0)), negated: true };
        assert_eq!(keep(not_null), vec![true, true, false, true]);
    }

    #[test]
    fn unknown_shapes_and_partition_columns_keep_everything() {
        let all = vec![true; 4];
        let part = Expr::binary(Expr::Column(2), BinaryOp::Eq, Expr::Literal(ScalarValue::Utf8(Some("x".into()))));
        assert_eq!(keep(part), all);
        let arith = Expr::binary(Expr::binary(Expr::Column(0), BinaryOp::Plus, lit(1)), BinaryOp::Eq, lit(3));
        assert_eq!(keep(arith), all);
        let null_lit = Expr::binary(Expr::Column(0), BinaryOp::Eq, Expr::Literal(ScalarValue::Int64(None)));
        assert_eq!(keep(null_lit), all);
        // A literal of another type than the statistics cannot be compared: keep.
        let mistyped = Expr::binary(Expr::Column(0), BinaryOp::Eq, Expr::Literal(ScalarValue::Int32(Some(15))));
        assert_eq!(keep(mistyped), all);
    }

    #[test]
    fn widening_casts_of_the_column_still_prune() {
        let cast = Expr::Cast { expr: Box::new(Expr::Column(1)), to: DataType::Decimal128(20, 0), try_cast: false };
        let filter = Expr::binary(cast, BinaryOp::Gt, Expr::Literal(ScalarValue::Decimal128(Some(25), 20, 0)));
        assert_eq!(keep(filter), vec![false, false, true, true]);
        let to_text = Expr::Cast { expr: Box::new(Expr::Column(1)), to: DataType::Utf8, try_cast: false };
        let filter = Expr::binary(to_text, BinaryOp::Eq, Expr::Literal(ScalarValue::Utf8(Some("5".into()))));
        assert_eq!(keep(filter), vec![true; 4]);
    }
}
