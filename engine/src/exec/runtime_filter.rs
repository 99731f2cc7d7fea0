//! Runtime filters: what a hash join's build side learns about its keys (their range, and the
//! values themselves when there are few), handed to the scan on the probe side before that scan
//! starts. The build stage always finishes before the probe pipeline runs, so the scan can prune
//! row groups and drop rows that cannot find a partner — the pruning a dimension filter (`d_year
//! = 1997`) cannot reach through the catalog, because it constrains a different table.
//!
//! Only joins where a probe row without a build partner is dropped (inner, semi, right) may
//! filter their probe side; the planner decides, and ties each filter to one column of one scan.
//! The same filter also runs the other way ("sideways", `exec::sideways`): a small probe side,
//! materialised first, restricts the scan under a big build side.
//!
//! Integer keys too many for a value list also publish a [`KeySet`] (a bitmap over their range,
//! or a hash set), which the scan tests whole columns against. The scan stops testing rows
//! against a filter that drops (almost) nothing (`io::runtime_pruning`): a build side holding a
//! whole table's keys is published anyway, since its bounds cost nothing and may still prune.

use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, BooleanArray, PrimitiveArray};
use arrow::compute::kernels::cmp;
use arrow::compute::{concat, filter, sort_to_indices, take, SortOptions};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};

use crate::error::Result;
use crate::exec::key_set::{self, KeySet};
use crate::plan::{Expr, ScalarValue};

/// At most this many distinct build keys are kept as a value set: a set probe per row must stay
/// cheaper than the join's own hash probe it saves, and row groups are tested value by value.
pub const MAX_DOMAIN_VALUES: usize = 1024;

/// Builds of more non-NULL keys than this are not sorted to find their distinct values (that
/// would cost more than it can save); they publish only their range.
const MAX_SORTED_KEYS: usize = 64 * 1024;

/// Builds of more non-NULL integer keys than this publish no key set: one pass over that many keys costs
/// more than the rows it could drop are likely to save.
const MAX_SET_KEYS: usize = 2 * 1024 * 1024;

/// What the build side's non-NULL keys of one join key are known to lie in.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyDomain {
    /// No build row has a non-NULL key: no probe row can match.
    Empty,
    /// Every non-NULL build key lies in `[min, max]` (both in the key's type); `values` holds the
    /// distinct keys, sorted, when there are few enough to test membership cheaply; `set` holds
    /// integer keys too many for `values` (and not every integer of the range).
    Range { min: ScalarValue, max: ScalarValue, values: Option<ArrayRef>, set: Option<Arc<KeySet>> },
}

impl KeyDomain {
    /// The domain as conjuncts over `column` (any index space the caller chooses): `column >=
    /// min`, `column <= max`, and `column IN (values)` when the values are not already every
    /// value of the range (a dense integer or date range adds nothing to its bounds). `None`
    /// for `Empty`, which no row satisfies.
    pub fn conjuncts(&self, column: usize) -> Option<Vec<Expr>> {
        let KeyDomain::Range { min, max, values, .. } = self else { return None };
        let col = || Expr::Column(column);
        let mut conjuncts = if min == max {
            vec![Expr::binary(col(), crate::plan::BinaryOp::Eq, Expr::Literal(min.clone()))]
        } else {
            vec![
                Expr::binary(col(), crate::plan::BinaryOp::GtEq, Expr::Literal(min.clone())),
                Expr::binary(col(), crate::plan::BinaryOp::LtEq, Expr::Literal(max.clone())),
            ]
        };
        if let Some(values) = values.as_ref().filter(|v| v.len() > 1 && !fills_range(min, max, v.len())) {
            let list = (0..values.len())
                .map(|i| ScalarValue::try_from_array(values.as_ref(), i).map(Expr::Literal))
                .collect::<Result<Vec<_>>>()
                .ok()?;
            conjuncts.push(Expr::InList { expr: Box::new(col()), list, negated: false });
        }
        Some(conjuncts)
    }

    /// The membership set of a domain with too many integer keys for a value list.
    pub fn key_set(&self) -> Option<&Arc<KeySet>> {
        match self {
            KeyDomain::Range { set, .. } => set.as_ref(),
            KeyDomain::Empty => None,
        }
    }
}

/// Whether `count` distinct values between `min` and `max` are every integer (or day) of that
/// range, so a membership test could not reject anything the bounds keep.
fn fills_range(min: &ScalarValue, max: &ScalarValue, count: usize) -> bool {
    let as_i128 = |v: &ScalarValue| match v {
        ScalarValue::Int8(Some(x)) => Some(i128::from(*x)),
        ScalarValue::Int16(Some(x)) => Some(i128::from(*x)),
        ScalarValue::Int32(Some(x)) | ScalarValue::Date32(Some(x)) => Some(i128::from(*x)),
        ScalarValue::Int64(Some(x)) => Some(i128::from(*x)),
        _ => None,
    };
    match (as_i128(min), as_i128(max)) {
        (Some(lo), Some(hi)) => hi - lo + 1 == count as i128,
        _ => false,
    }
}

/// One filter, published once by the build side and read by the probe-side scan.
#[derive(Debug)]
pub struct RuntimeFilter {
    /// The probe scan's column this filter restricts, as an index into its `table_schema`.
    pub column: usize,
    domain: OnceLock<KeyDomain>,
}

impl RuntimeFilter {
    pub fn new(column: usize) -> RuntimeFilter {
        RuntimeFilter { column, domain: OnceLock::new() }
    }

    /// Publishes the domain of the build keys, given as the chunks the build side holds.
    /// A second call is ignored (the first build wins; there is only one). Keys of a type the
    /// domain cannot describe publish nothing, and the scan then reads everything.
    pub fn publish_from(&self, chunks: &[ArrayRef]) -> Result<()> {
        if let Some(domain) = key_domain(chunks)? {
            let _ = self.domain.set(domain);
        }
        Ok(())
    }

    /// The published domain; `None` before the build side ran (the scan then reads everything).
    pub fn domain(&self) -> Option<&KeyDomain> {
        self.domain.get()
    }
}

/// The domain of the non-NULL values in `chunks`; `None` for key types it does not describe
/// (those without a `ScalarValue`, and nested types).
fn key_domain(chunks: &[ArrayRef]) -> Result<Option<KeyDomain>> {
    let Some(first) = chunks.first() else { return Ok(Some(KeyDomain::Empty)) };
    let data_type = first.data_type().clone();
    if ScalarValue::null_of(&data_type).is_err() || data_type == DataType::Null {
        return Ok(None);
    }
    let keys: ArrayRef = match chunks {
        [one] => one.clone(),
        many => concat(&many.iter().map(|c| c.as_ref()).collect::<Vec<_>>())?,
    };
    let non_null = keys.len() - keys.null_count();
    if non_null == 0 {
        return Ok(Some(KeyDomain::Empty));
    }
    // Integer keys go into a set first: it tells whether there are few enough distinct values
    // to list (then sorting them pays), and is the membership test when there are not.
    let set =
        (key_set::supports(&data_type) && non_null <= MAX_SET_KEYS).then(|| KeySet::from_arrays(chunks)).flatten();
    let few = set.as_ref().is_none_or(|s| s.len() <= MAX_DOMAIN_VALUES);
    // Even a few values keep their set: testing rows against it beats an `IN` list, whose
    // values still prune row groups.
    let set = set.filter(|s| !s.is_dense()).map(Arc::new);
    if non_null <= MAX_SORTED_KEYS && few {
        let values = sorted_distinct(&keys)?;
        let min = ScalarValue::try_from_array(values.as_ref(), 0)?;
        let max = ScalarValue::try_from_array(values.as_ref(), values.len() - 1)?;
        let values = (values.len() <= MAX_DOMAIN_VALUES).then_some(values);
        return Ok(Some(KeyDomain::Range { min, max, values, set }));
    }
    let (min, max) = match (&data_type, keys.as_ref()) {
        (DataType::Int32, k) => primitive_bounds::<Int32Type>(k)?,
        (DataType::Int64, k) => primitive_bounds::<Int64Type>(k)?,
        (DataType::Date32, k) => primitive_bounds::<Date32Type>(k)?,
        (DataType::Timestamp(TimeUnit::Microsecond, None), k) => primitive_bounds::<TimestampMicrosecondType>(k)?,
        (_, k) => (extreme(k, false)?, extreme(k, true)?),
    };
    Ok(Some(KeyDomain::Range { min, max, values: None, set }))
}

/// The non-NULL values of `keys`, sorted ascending, each once.
fn sorted_distinct(keys: &ArrayRef) -> Result<ArrayRef> {
    let options = SortOptions { descending: false, nulls_first: false };
    let non_null = keys.len() - keys.null_count();
    let order = sort_to_indices(keys.as_ref(), Some(options), Some(non_null))?;
    let sorted = take(keys.as_ref(), &order, None)?;
    if sorted.len() < 2 {
        return Ok(sorted);
    }
    let n = sorted.len();
    let changed = cmp::distinct(&sorted.slice(1, n - 1), &sorted.slice(0, n - 1))?;
    let keep: BooleanArray = std::iter::once(Some(true)).chain(changed.iter()).collect();
    Ok(filter(sorted.as_ref(), &keep)?)
}

/// Min and max of a primitive array with the aggregate kernels (one pass, no allocation).
fn primitive_bounds<T: ArrowPrimitiveType>(keys: &dyn Array) -> Result<(ScalarValue, ScalarValue)> {
    let array = keys.as_any().downcast_ref::<PrimitiveArray<T>>().ok_or_else(|| {
        crate::error::EngineError::execution(format!("runtime filter: keys are not {}", T::DATA_TYPE))
    })?;
    let scalar = |v: Option<T::Native>| -> Result<ScalarValue> {
        let one: ArrayRef = Arc::new(PrimitiveArray::<T>::from_iter([v]).with_data_type(array.data_type().clone()));
        ScalarValue::try_from_array(one.as_ref(), 0)
    };
    Ok((scalar(arrow::compute::min(array))?, scalar(arrow::compute::max(array))?))
}

/// The smallest (or largest) non-NULL value of `keys`, by a partial sort of one element.
fn extreme(keys: &dyn Array, largest: bool) -> Result<ScalarValue> {
    let options = SortOptions { descending: largest, nulls_first: false };
    let index = sort_to_indices(keys, Some(options), Some(1))?;
    ScalarValue::try_from_array(keys, index.value(0) as usize)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray};

    use super::*;

    fn domain(chunks: Vec<ArrayRef>) -> KeyDomain {
        key_domain(&chunks).unwrap().unwrap()
    }

    fn range(domain: &KeyDomain) -> (ScalarValue, ScalarValue, Option<ArrayRef>) {
        match domain {
            KeyDomain::Range { min, max, values, .. } => (min.clone(), max.clone(), values.clone()),
            KeyDomain::Empty => panic!("expected a range"),
        }
    }

    #[test]
    fn integers_give_bounds_and_sorted_distinct_values_over_chunks() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None, Some(3), Some(7)]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![Some(-2), Some(3)]));
        let (min, max, values) = range(&domain(vec![a, b]));
        assert_eq!((min, max), (ScalarValue::Int64(Some(-2)), ScalarValue::Int64(Some(7))));
        let expected: ArrayRef = Arc::new(Int64Array::from(vec![-2, 3, 7]));
        assert_eq!(values.as_ref(), Some(&expected));
    }

    #[test]
    fn no_non_null_key_is_empty() {
        assert_eq!(domain(vec![Arc::new(Int64Array::from(vec![None, None]))]), KeyDomain::Empty);
        assert_eq!(domain(vec![]), KeyDomain::Empty);
    }

    #[test]
    fn strings_dates_decimals_and_floats_have_ranges() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("pear"), None, Some("apple"), Some("fig")]));
        let (min, max, values) = range(&domain(vec![s]));
        assert_eq!((min, max), (ScalarValue::Utf8(Some("apple".into())), ScalarValue::Utf8(Some("pear".into()))));
        assert_eq!(values.map(|v| v.len()), Some(3));
        let d: ArrayRef = Arc::new(Date32Array::from(vec![19_000, 18_000]));
        assert_eq!(range(&domain(vec![d])).0, ScalarValue::Date32(Some(18_000)));
        let dec: ArrayRef =
            Arc::new(Decimal128Array::from(vec![Some(150), Some(-5), None]).with_precision_and_scale(12, 2).unwrap());
        let (min, max, _) = range(&domain(vec![dec]));
        assert_eq!((min, max), (ScalarValue::Decimal128(Some(-5), 12, 2), ScalarValue::Decimal128(Some(150), 12, 2)));
        let f: ArrayRef = Arc::new(Float64Array::from(vec![2.5, -1.0]));
        assert_eq!(range(&domain(vec![f])).1, ScalarValue::Float64(Some(2.5)));
    }

    #[test]
    fn many_distinct_keys_keep_only_the_range() {
        let n = MAX_DOMAIN_VALUES as i64 + 1;
        let (min, max, values) = range(&domain(vec![Arc::new(Int64Array::from_iter_values(0..n))]));
        assert_eq!((min, max, values), (ScalarValue::Int64(Some(0)), ScalarValue::Int64(Some(n - 1)), None));
        // Past the sorting limit the bounds come from the aggregate kernels.
        let big = MAX_SORTED_KEYS as i64 * 2;
        let keys: ArrayRef = Arc::new(Int64Array::from_iter_values((0..big).map(|i| (i * 7919) % big - 5)));
        let (min, max, values) = range(&domain(vec![keys]));
        assert_eq!((min, max, values), (ScalarValue::Int64(Some(-5)), ScalarValue::Int64(Some(big - 6)), None));
        let text: ArrayRef = Arc::new(StringArray::from_iter_values((0..big).map(|i| format!("k{:07}", big - i))));
        let (min, max, _) = range(&domain(vec![text]));
        assert_eq!(min, ScalarValue::Utf8(Some("k0000001".into())));
        assert_eq!(max, ScalarValue::Utf8(Some(format!("k{big:07}"))));
    }

    #[test]
    fn many_sparse_integer_keys_publish_a_key_set() {
        let n = MAX_DOMAIN_VALUES as i64 * 3;
        let keys: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n).map(|i| i * 3)));
        let d = domain(vec![keys.clone(), keys]);
        let (min, max, values) = range(&d);
        assert_eq!((min, max, values), (ScalarValue::Int64(Some(0)), ScalarValue::Int64(Some(3 * n - 3)), None));
        let set = d.key_set().expect("a key set");
        assert_eq!(set.len(), n as usize);
        assert!(set.contains(3) && !set.contains(4));
        // The set is a row test of its own: the conjuncts stay the bounds.
        assert_eq!(d.conjuncts(0).unwrap().len(), 2);
        // Few keys are a value list too (for row groups), and a set unless they fill their
        // range; strings never have a set.
        let few = domain(vec![Arc::new(Int64Array::from(vec![1, 5, 9]))]);
        assert_eq!(few.key_set().map(|s| s.len()), Some(3));
        assert_eq!(range(&few).2.map(|v| v.len()), Some(3));
        assert!(domain(vec![Arc::new(Int64Array::from(vec![5, 4, 6]))]).key_set().is_none());
        let text: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("k{i}"))));
        assert!(domain(vec![text]).key_set().is_none());
    }

    #[test]
    fn conjuncts_skip_a_set_that_fills_its_range() {
        let dense = domain(vec![Arc::new(Int64Array::from(vec![3, 4, 5]))]);
        assert_eq!(dense.conjuncts(0).unwrap().len(), 2);
        let sparse = domain(vec![Arc::new(Int64Array::from(vec![3, 5, 9]))]);
        let conjuncts = sparse.conjuncts(2).unwrap();
        assert_eq!(conjuncts.len(), 3);
        assert!(matches!(&conjuncts[2], Expr::InList { list, .. } if list.len() == 3));
        let single = domain(vec![Arc::new(Int64Array::from(vec![4, 4]))]);
        assert_eq!(single.conjuncts(0).unwrap().len(), 1);
        assert_eq!(KeyDomain::Empty.conjuncts(0), None);
    }

    #[test]
    fn publishing_twice_keeps_the_first_domain() {
        let filter = RuntimeFilter::new(1);
        assert!(filter.domain().is_none());
        filter.publish_from(&[Arc::new(Int64Array::from(vec![1]))]).unwrap();
        filter.publish_from(&[Arc::new(Int64Array::from(vec![2]))]).unwrap();
        assert_eq!(range(filter.domain().unwrap()).0, ScalarValue::Int64(Some(1)));
    }
}
