//! Accumulator behaviour: NULLs, empty groups, overflow, decimals and partial-state merges.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};

use super::*;
use crate::expr::functions::FunctionRegistry;

fn accumulator(name: &str, args: &[DataType], distinct: bool) -> Box<dyn GroupsAccumulator> {
    let registry = FunctionRegistry::with_builtins();
    let f = registry.aggregate(name).unwrap();
    let sig = f.signature(args).unwrap();
    f.accumulator(&sig.arg_types, distinct).unwrap()
}

fn ints(v: &[Option<i32>]) -> ArrayRef {
    Arc::new(Int32Array::from(v.to_vec()))
}

fn i64s(a: &ArrayRef) -> Vec<Option<i64>> {
    a.as_primitive::<Int64Type>().iter().collect()
}

#[test]
fn count_star_and_count_column() {
    let mut star = accumulator("count", &[], false);
    star.update(&[], &[0, 1, 1], 3).unwrap();
    assert_eq!(i64s(&star.evaluate().unwrap()), vec![Some(1), Some(2), Some(0)]);
    let mut col = accumulator("count", &[DataType::Int32], false);
    col.update(&[ints(&[Some(1), None, Some(3)])], &[0, 0, 1], 2).unwrap();
    assert_eq!(i64s(&col.evaluate().unwrap()), vec![Some(1), Some(1)]);
}

#[test]
fn empty_groups_are_null_except_count() {
    for name in ["sum", "avg", "min", "max"] {
        let mut acc = accumulator(name, &[DataType::Int32], false);
        acc.update(&[ints(&[None])], &[0], 2).unwrap();
        let out = acc.evaluate().unwrap();
        assert_eq!(out.len(), 2, "{name}");
        assert_eq!(out.null_count(), 2, "{name}");
    }
    let mut count = accumulator("count", &[DataType::Int32], false);
    count.update(&[ints(&[])], &[], 1).unwrap();
    assert_eq!(i64s(&count.evaluate().unwrap()), vec![Some(0)]);
}

#[test]
fn sum_of_integers_overflows_with_an_error() {
    let mut acc = accumulator("sum", &[DataType::Int64], false);
    let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, 1]));
    let err = acc.update(&[big], &[0, 0], 1).unwrap_err();
    assert!(err.to_string().contains("overflow"), "{err}");
    let mut acc = accumulator("sum", &[DataType::Int32], false);
    acc.update(&[ints(&[Some(i32::MAX), Some(i32::MAX)])], &[0, 0], 1).unwrap();
    assert_eq!(i64s(&acc.evaluate().unwrap()), vec![Some(2 * i32::MAX as i64)]);
}

#[test]
fn decimal_sum_and_avg() {
    let d: ArrayRef = Arc::new(
        Decimal128Array::from(vec![Some(150), Some(275), None, Some(100)]).with_precision_and_scale(5, 2).unwrap(),
    );
    let t = DataType::Decimal128(5, 2);
    let registry = FunctionRegistry::with_builtins();
    assert_eq!(
        registry.aggregate("sum").unwrap().signature(std::slice::from_ref(&t)).unwrap().return_type,
        DataType::Decimal128(38, 2)
    );
    assert_eq!(
        registry.aggregate("avg").unwrap().signature(std::slice::from_ref(&t)).unwrap().return_type,
        DataType::Decimal128(38, 6)
    );
    let mut sum = accumulator("sum", std::slice::from_ref(&t), false);
    sum.update(std::slice::from_ref(&d), &[0, 0, 0, 1], 2).unwrap();
    let out = sum.evaluate().unwrap();
    assert_eq!(out.data_type(), &DataType::Decimal128(38, 2));
    assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![425, 100]);
    let mut avg = accumulator("avg", &[t], false);
    avg.update(&[d], &[0, 0, 0, 1], 2).unwrap();
    let out = avg.evaluate().unwrap();
    // (1.50 + 2.75) / 2 = 2.125 at scale 6.
    assert_eq!(out.as_primitive::<Decimal128Type>().values().to_vec(), vec![2_125_000, 1_000_000]);
}

#[test]
fn avg_of_integers_and_floats_is_double_and_merges() {
    let mut a = accumulator("avg", &[DataType::Int32], false);
    let mut b = accumulator("avg", &[DataType::Int32], false);
    a.update(&[ints(&[Some(1), Some(2)])], &[0, 0], 1).unwrap();
    b.update(&[ints(&[Some(6)])], &[0], 1).unwrap();
    let state = b.state().unwrap();
    a.merge_state(&state, &[0], 1).unwrap();
    assert_eq!(a.evaluate().unwrap().as_primitive::<Float64Type>().value(0), 3.0);
    let mut f = accumulator("avg", &[DataType::Float64], false);
    f.update(&[Arc::new(Float64Array::from(vec![1.0, 2.0]))], &[0, 0], 1).unwrap();
    assert_eq!(f.evaluate().unwrap().as_primitive::<Float64Type>().value(0), 1.5);
}

#[test]
fn min_max_of_text_dates_booleans() {
    let text: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), None, Some("a"), Some("c")]));
    let mut min = accumulator("min", &[DataType::Utf8], false);
    let mut max = accumulator("max", &[DataType::Utf8], false);
    min.update(std::slice::from_ref(&text), &[0, 0, 0, 1], 2).unwrap();
    max.update(&[text], &[0, 0, 0, 1], 2).unwrap();
    let min = min.evaluate().unwrap();
    let max = max.evaluate().unwrap();
    assert_eq!(min.as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("a"), Some("c")]);
    assert_eq!(max.as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("b"), Some("c")]);
    let b: ArrayRef = Arc::new(arrow::array::BooleanArray::from(vec![Some(true), Some(false), None]));
    let mut bmin = accumulator("min", &[DataType::Boolean], false);
    bmin.update(&[b], &[0, 0, 1], 2).unwrap();
    let out = bmin.evaluate().unwrap();
    assert_eq!(out.as_boolean().iter().collect::<Vec<_>>(), vec![Some(false), None]);
    let dates: ArrayRef = Arc::new(arrow::array::Date32Array::from(vec![5, 3, 9]));
    let mut dmax = accumulator("max", &[DataType::Date32], false);
    dmax.update(&[dates], &[0, 0, 0], 1).unwrap();
    let out = dmax.evaluate().unwrap();
    assert_eq!(out.data_type(), &DataType::Date32);
    assert_eq!(out.as_primitive::<arrow::datatypes::Date32Type>().value(0), 9);
}

#[test]
fn count_distinct_merges_across_accumulators() {
    // Worker A sees 1, 2, 2 for group 0; worker B sees 2, 3, NULL for group 0 and 7 for group 1.
    let mut a = accumulator("count", &[DataType::Int32], true);
    let mut b = accumulator("count", &[DataType::Int32], true);
    a.update(&[ints(&[Some(1), Some(2), Some(2)])], &[0, 0, 0], 1).unwrap();
    b.update(&[ints(&[Some(2), Some(3), None, Some(7)])], &[0, 0, 0, 1], 2).unwrap();
    let mut total = accumulator("count", &[DataType::Int32], true);
    // Worker B's groups are numbered the other way round in the final phase.
    let state_a = a.state().unwrap();
    let state_b = b.state().unwrap();
    assert_eq!(
        state_b[0].data_type(),
        &DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(DataType::Int32, true)))
    );
    total.merge_state(&state_a, &[1], 2).unwrap();
    total.merge_state(&state_b, &[1, 0], 2).unwrap();
    assert_eq!(i64s(&total.evaluate().unwrap()), vec![Some(1), Some(3)]);
}

#[test]
fn sum_distinct() {
    let mut acc = accumulator("sum", &[DataType::Int32], true);
    acc.update(&[ints(&[Some(5), Some(5), Some(1), None])], &[0, 0, 0, 0], 2).unwrap();
    assert_eq!(i64s(&acc.evaluate().unwrap()), vec![Some(6), None]);
}

#[test]
fn signatures_reject_wrong_types() {
    let registry = FunctionRegistry::with_builtins();
    assert!(registry.aggregate("sum").unwrap().signature(&[DataType::Utf8]).is_err());
    assert!(registry.aggregate("avg").unwrap().signature(&[DataType::Date32]).is_err());
    assert_eq!(registry.aggregate("sum").unwrap().signature(&[DataType::Int16]).unwrap().return_type, DataType::Int64);
    assert_eq!(registry.aggregate("count").unwrap().signature(&[]).unwrap().return_type, DataType::Int64);
    assert!(registry.aggregate("COUNT").is_some());
}

#[test]
fn decimal_sums_overflow_with_an_error_and_merge_weighted() {
    let t = DataType::Decimal128(38, 0);
    // 2 × 6e37 has 39 digits but fits an i128; 3 × 6e37 does not fit an i128.
    let big = 6 * 10i128.pow(37);
    let big: ArrayRef = Arc::new(Decimal128Array::from(vec![big, big, big]).with_precision_and_scale(38, 0).unwrap());
    // Past 38 digits, then past i128 itself: both are overflows, not wrapped sums.
    let mut two = accumulator("sum", std::slice::from_ref(&t), false);
    two.update(&[big.slice(0, 2)], &[0, 0], 1).unwrap();
    assert!(two.evaluate().unwrap_err().to_string().contains("overflow"));
    let mut three = accumulator("sum", std::slice::from_ref(&t), false);
    let err = three.update(&[big], &[0, 0, 0], 1).unwrap_err();
    assert!(err.to_string().contains("overflow"), "{err}");
    // AVG partial states: sums weighted by their counts; a NULL partial sum adds nothing.
    let d = DataType::Decimal128(15, 2);
    let values = |v: Vec<Option<i128>>| -> ArrayRef {
        Arc::new(Decimal128Array::from(v).with_precision_and_scale(15, 2).unwrap())
    };
    let mut a = accumulator("avg", std::slice::from_ref(&d), false);
    let mut b = accumulator("avg", std::slice::from_ref(&d), false);
    a.update(&[values(vec![Some(-100), Some(300), None])], &[0, 0, 1], 2).unwrap();
    b.update(&[values(vec![Some(400), None])], &[1, 0], 2).unwrap();
    let state = b.state().unwrap();
    a.merge_state(&state, &[0, 1], 2).unwrap();
    let out = a.evaluate().unwrap();
    // Group 0: (-1.00 + 3.00) / 2 = 1.00 (b had only a NULL); group 1: 4.00 / 1.
    assert_eq!(out.as_primitive::<Decimal128Type>().iter().collect::<Vec<_>>(), vec![Some(1_000_000), Some(4_000_000)]);
}

/// Narrow integers are widened inside the sum loop (no cast copy): NULLs skipped, negative
/// values kept, partial states merged with their counts.
#[test]
fn sum_and_avg_of_narrow_integers() {
    use arrow::array::{Int16Array, Int8Array};
    let columns: Vec<(DataType, ArrayRef)> = vec![
        (DataType::Int8, Arc::new(Int8Array::from(vec![Some(-128), None, Some(127), Some(-1), Some(3)]))),
        (DataType::Int16, Arc::new(Int16Array::from(vec![Some(-32768), None, Some(32767), Some(-1), Some(3)]))),
        (DataType::Int32, ints(&[Some(i32::MIN), None, Some(i32::MAX), Some(-1), Some(3)])),
        (DataType::Int64, Arc::new(Int64Array::from(vec![Some(i64::MIN / 2), None, Some(7), Some(-1), Some(3)]))),
    ];
    let groups = [0, 0, 1, 1, 2];
    for (t, column) in columns {
        let value = |i: usize| match t {
            DataType::Int8 => column.as_primitive::<arrow::datatypes::Int8Type>().value(i) as i64,
            DataType::Int16 => column.as_primitive::<arrow::datatypes::Int16Type>().value(i) as i64,
            DataType::Int32 => column.as_primitive::<arrow::datatypes::Int32Type>().value(i) as i64,
            _ => column.as_primitive::<Int64Type>().value(i),
        };
        // Two workers' partial states of `sum` and `avg` merged into a final one.
        let mut sum = accumulator("sum", std::slice::from_ref(&t), false);
        let mut avg = accumulator("avg", std::slice::from_ref(&t), false);
        let (mut final_sum, mut final_avg) = (sum_final(&t), avg_final(&t));
        for (rows, ids) in [((0, 3), &groups[..3]), ((3, 2), &groups[3..])] {
            let part = column.slice(rows.0, rows.1);
            sum.update(std::slice::from_ref(&part), ids, 3).unwrap();
            avg.update(std::slice::from_ref(&part), ids, 3).unwrap();
            final_sum.merge_state(&sum.state().unwrap(), &[0, 1, 2], 3).unwrap();
            final_avg.merge_state(&avg.state().unwrap(), &[0, 1, 2], 3).unwrap();
            sum = accumulator("sum", std::slice::from_ref(&t), false);
            avg = accumulator("avg", std::slice::from_ref(&t), false);
        }
        let expected_sums = [Some(value(0)), Some(value(2) + value(3)), Some(value(4))];
        assert_eq!(i64s(&final_sum.evaluate().unwrap()), expected_sums, "{t}");
        let avgs: Vec<Option<f64>> = final_avg.evaluate().unwrap().as_primitive::<Float64Type>().iter().collect();
        let expected_avgs = [value(0) as f64, (value(2) + value(3)) as f64 / 2.0, value(4) as f64];
        assert_eq!(avgs, expected_avgs.map(Some), "{t}");
    }

    fn sum_final(t: &DataType) -> Box<dyn GroupsAccumulator> {
        accumulator("sum", std::slice::from_ref(t), false)
    }
    fn avg_final(t: &DataType) -> Box<dyn GroupsAccumulator> {
        accumulator("avg", std::slice::from_ref(t), false)
    }
}

/// DECIMAL sums over one to nine groups, small and beyond-`i64` values, batches with and
/// without NULLs: exact sums, and a group without rows stays NULL.
#[test]
fn decimal_sums_over_few_and_many_groups() {
    let t = DataType::Decimal128(38, 2);
    for (groups, magnitude) in [(1usize, 1i128), (3, 1 << 40), (4, 1 << 50), (4, 10i128.pow(30)), (9, 12345)] {
        // The last group gets no rows (unless it is the only one).
        let used = groups.saturating_sub(1).max(1);
        let mut sum = accumulator("sum", std::slice::from_ref(&t), false);
        let mut expected = vec![None::<i128>; groups];
        for batch in 0..3i128 {
            let rows = 1000 + batch as usize;
            let ids: Vec<usize> = (0..rows).map(|i| (i * 7 + i / 3) % used).collect();
            let values: Vec<Option<i128>> = (0..rows as i128)
                .map(|i| match (i + batch) % 5 {
                    0 => Some(-magnitude),
                    4 if batch == 2 => None,
                    k => Some(magnitude / (k + 1) + i),
                })
                .collect();
            for (id, v) in ids.iter().zip(&values) {
                if let Some(v) = v {
                    expected[*id] = Some(expected[*id].unwrap_or(0) + v);
                }
            }
            let column: ArrayRef = Arc::new(Decimal128Array::from(values).with_precision_and_scale(38, 2).unwrap());
            sum.update(&[column], &ids, groups).unwrap();
        }
        let out = sum.evaluate().unwrap();
        let sums: Vec<Option<i128>> = out.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(sums, expected, "{groups} groups, magnitude {magnitude}");
        assert_eq!(sums[groups - 1].is_none(), groups > 1);
    }
}
