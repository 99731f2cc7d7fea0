//! `expr [NOT] IN (list)` with SQL NULL semantics: `x IN (1, NULL)` is NULL when `x` is not
//! found, and a NULL `x` gives NULL.
//!
//! A list of constants becomes a typed set probed straight from the array's values: native
//! integers (ints, dates, times, timestamps, decimals) or the value bytes of strings and binaries,
//! with the answer written as a bit-packed buffer. Only other types (floats, whose `-0.0 = 0.0`
//! and NaN rules the Arrow kernels own, and nested types) hash Arrow row-format keys. A dictionary
//! array is probed once per dictionary value, then gathered by its keys. A list with expressions
//! is a three-valued `OR` of equalities.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::kernels::{boolean, cmp};
use arrow::compute::{cast, take};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use hashbrown::HashSet;

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_scalar;
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::plan::{Expr, ScalarValue};

/// The non-NULL constants of an `IN` list, in the form the probed array's values take.
enum Members {
    /// Integer-backed values (ints, dates, times, timestamps, decimals), widened to `i128`.
    Integers(HashSet<i128>),
    /// The value bytes of strings and binaries.
    Bytes(HashSet<Box<[u8]>>),
    /// Anything else, as Arrow row-format keys.
    Rows { converter: RowConverter, keys: HashSet<Box<[u8]>> },
}

/// The constants of an `IN` list, typed for probing.
struct LiteralSet {
    members: Members,
    has_null: bool,
}

/// `expr [NOT] IN (list)`.
pub struct InListExpr {
    expr: PhysicalExprRef,
    list: Vec<PhysicalExprRef>,
    set: Option<LiteralSet>,
    negated: bool,
}

impl fmt::Debug for InListExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InListExpr")
            .field("expr", &self.expr)
            .field("list", &self.list)
            .field("hashed", &self.set.is_some())
            .field("negated", &self.negated)
            .finish()
    }
}

impl InListExpr {
    /// `items` pairs each logical list element with its physical form; when all are literals the
    /// list is hashed.
    pub fn try_new(expr: PhysicalExprRef, items: Vec<(&Expr, PhysicalExprRef)>, negated: bool) -> Result<InListExpr> {
        let literals: Option<Vec<&ScalarValue>> = items
            .iter()
            .map(|(e, _)| match e {
                Expr::Literal(v) => Some(v),
                _ => None,
            })
            .collect();
        let set = match literals {
            Some(values) if expr.data_type() != &DataType::Null => {
                Some(LiteralSet::try_new(expr.data_type(), &values)?)
            }
            _ => None,
        };
        Ok(InListExpr { expr, list: items.into_iter().map(|(_, p)| p).collect(), set, negated })
    }
}

impl LiteralSet {
    fn try_new(data_type: &DataType, values: &[&ScalarValue]) -> Result<LiteralSet> {
        let mut has_null = false;
        let mut typed = Vec::with_capacity(values.len());
        for v in values {
            if v.is_null() {
                has_null = true;
            } else {
                typed.push(cast_scalar(v, data_type, false)?.to_array(1));
            }
        }
        let members = if integer_backed(data_type) {
            let mut set = HashSet::with_capacity(typed.len());
            for array in &typed {
                set.insert(integer_at(array, 0)?);
            }
            Members::Integers(set)
        } else if byte_backed(data_type) {
            let mut set = HashSet::with_capacity(typed.len());
            for array in &typed {
                let bytes = match array.data_type() {
                    DataType::Utf8 => array.as_string::<i32>().value(0).as_bytes(),
                    DataType::LargeUtf8 => array.as_string::<i64>().value(0).as_bytes(),
                    DataType::Binary => array.as_binary::<i32>().value(0),
                    _ => array.as_binary::<i64>().value(0),
                };
                set.insert(Box::<[u8]>::from(bytes));
            }
            Members::Bytes(set)
        } else {
            let converter = RowConverter::new(vec![SortField::new(data_type.clone())])?;
            let mut keys = HashSet::with_capacity(typed.len());
            for array in typed {
                let rows = converter.convert_columns(&[array])?;
                keys.insert(Box::<[u8]>::from(rows.row(0).as_ref()));
            }
            Members::Rows { converter, keys }
        };
        Ok(LiteralSet { members, has_null })
    }

    /// `values IN (set)`: a dictionary's values are probed once each and gathered by its keys.
    fn probe(&self, values: &ArrayRef) -> Result<BooleanArray> {
        if let Some(dictionary) = values.as_any_dictionary_opt() {
            let per_value = self.probe(dictionary.values())?;
            let gathered = take(&per_value, dictionary.keys(), None)?;
            return Ok(gathered.as_boolean().clone());
        }
        let len = values.len();
        let found = match &self.members {
            Members::Integers(set) => integers_found(values, set)?,
            Members::Bytes(set) => bytes_found(values, set)?,
            Members::Rows { converter, keys } => {
                let rows = converter.convert_columns(std::slice::from_ref(values))?;
                BooleanBuffer::collect_bool(len, |i| keys.contains(rows.row(i).as_ref()))
            }
        };
        // Not found is FALSE, or NULL when the list holds a NULL; a NULL input is NULL.
        let valid = match (values.logical_nulls(), self.has_null) {
            (nulls, false) => nulls,
            (None, true) => Some(NullBuffer::new(found.clone())),
            (Some(nulls), true) => Some(NullBuffer::new(nulls.inner() & &found)),
        };
        Ok(BooleanArray::new(found, valid))
    }
}

/// Types whose values are integers in memory, compared exactly as integers.
fn integer_backed(t: &DataType) -> bool {
    t.is_integer()
        || matches!(
            t,
            DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Timestamp(_, _)
                | DataType::Decimal128(_, _)
        )
}

fn byte_backed(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary)
}

/// Applies `$body` to the integer-backed array `$array` viewed as its primitive type `$t`
/// (dates, times and timestamps by their underlying integers).
macro_rules! with_integers {
    ($array:expr, |$p:ident| $body:expr) => {{
        use arrow::datatypes::*;
        let array: &ArrayRef = $array;
        match array.data_type() {
            DataType::Int8 => {
                let $p = array.as_primitive::<Int8Type>();
                $body
            }
            DataType::Int16 => {
                let $p = array.as_primitive::<Int16Type>();
                $body
            }
            DataType::Int32 => {
                let $p = array.as_primitive::<Int32Type>();
                $body
            }
            DataType::Int64 => {
                let $p = array.as_primitive::<Int64Type>();
                $body
            }
            DataType::UInt8 => {
                let $p = array.as_primitive::<UInt8Type>();
                $body
            }
            DataType::UInt16 => {
                let $p = array.as_primitive::<UInt16Type>();
                $body
            }
            DataType::UInt32 => {
                let $p = array.as_primitive::<UInt32Type>();
                $body
            }
            DataType::UInt64 => {
                let $p = array.as_primitive::<UInt64Type>();
                $body
            }
            DataType::Decimal128(_, _) => {
                let $p = array.as_primitive::<Decimal128Type>();
                $body
            }
            DataType::Date32 | DataType::Time32(_) => {
                let ints = cast(array, &DataType::Int32)?;
                let $p = ints.as_primitive::<Int32Type>();
                $body
            }
            DataType::Date64 | DataType::Time64(_) | DataType::Timestamp(_, _) => {
                let ints = cast(array, &DataType::Int64)?;
                let $p = ints.as_primitive::<Int64Type>();
                $body
            }
            other => return Err(EngineError::execution(format!("IN list: {other} is not integer-backed"))),
        }
    }};
}

/// Row `i` of an integer-backed array, widened.
// `as i128` is a no-op for the decimal arm of `with_integers!`, a widening for the others.
#[allow(clippy::unnecessary_cast)]
fn integer_at(array: &ArrayRef, i: usize) -> Result<i128> {
    Ok(with_integers!(array, |p| p.value(i) as i128))
}

/// Which rows' values are in `set` (NULL slots: whatever their buffer holds; callers mask them).
// `as i128` is a no-op for the decimal arm of `with_integers!`, a widening for the others.
#[allow(clippy::unnecessary_cast)]
fn integers_found(values: &ArrayRef, set: &HashSet<i128>) -> Result<BooleanBuffer> {
    if let Some(range) = SmallRange::new(set) {
        return Ok(with_integers!(values, |p| {
            let raw = p.values();
            BooleanBuffer::collect_bool(raw.len(), |i| range.contains(raw[i] as i128))
        }));
    }
    if set.len() <= LINEAR_LIMIT {
        let members: Vec<i128> = set.iter().copied().collect();
        return Ok(with_integers!(values, |p| {
            let raw = p.values();
            BooleanBuffer::collect_bool(raw.len(), |i| members.contains(&(raw[i] as i128)))
        }));
    }
    Ok(with_integers!(values, |p| {
        let raw = p.values();
        BooleanBuffer::collect_bool(raw.len(), |i| set.contains(&(raw[i] as i128)))
    }))
}

/// Members within [`SmallRange::SPAN`] consecutive integers, as bits from the smallest: a probe
/// is a subtraction, one compare and a bit test, with no branch per member (q16's
/// `p_size IN (49, 14, 23, 45, 19, 3, 36, 9)` cost about 90 instructions a row compared one by
/// one).
struct SmallRange {
    min: i128,
    bits: [u64; 4],
}

impl SmallRange {
    const SPAN: u128 = 256;

    fn new(set: &HashSet<i128>) -> Option<SmallRange> {
        let min = *set.iter().min()?;
        let max = *set.iter().max()?;
        if max.checked_sub(min)? as u128 >= Self::SPAN {
            return None;
        }
        let mut bits = [0u64; 4];
        for &v in set {
            let offset = (v - min) as usize;
            bits[offset >> 6] |= 1 << (offset & 63);
        }
        Some(SmallRange { min, bits })
    }

    #[inline]
    fn contains(&self, v: i128) -> bool {
        let offset = v.wrapping_sub(self.min) as u128;
        offset < Self::SPAN && (self.bits[(offset >> 6) as usize & 3] >> (offset & 63)) & 1 == 1
    }
}

/// Lists up to this long are searched by comparing with each member: cheaper than hashing the
/// probed value (q12's `l_shipmode IN ('MAIL', 'SHIP')`).
const LINEAR_LIMIT: usize = 8;

/// Which rows' bytes are in `set`.
fn bytes_found(values: &ArrayRef, set: &HashSet<Box<[u8]>>) -> Result<BooleanBuffer> {
    if set.len() <= LINEAR_LIMIT {
        let members: Vec<&[u8]> = set.iter().map(|m| m.as_ref()).collect();
        return bytes_matching(values, |v| members.contains(&v));
    }
    bytes_matching(values, |v| set.contains(v))
}

/// Which rows' bytes satisfy `member`.
#[inline]
fn bytes_matching(values: &ArrayRef, member: impl Fn(&[u8]) -> bool) -> Result<BooleanBuffer> {
    let len = values.len();
    Ok(match values.data_type() {
        DataType::Utf8 => {
            let a = values.as_string::<i32>();
            BooleanBuffer::collect_bool(len, |i| member(a.value(i).as_bytes()))
        }
        DataType::LargeUtf8 => {
            let a = values.as_string::<i64>();
            BooleanBuffer::collect_bool(len, |i| member(a.value(i).as_bytes()))
        }
        DataType::Binary => {
            let a = values.as_binary::<i32>();
            BooleanBuffer::collect_bool(len, |i| member(a.value(i)))
        }
        DataType::LargeBinary => {
            let a = values.as_binary::<i64>();
            BooleanBuffer::collect_bool(len, |i| member(a.value(i)))
        }
        other => return Err(EngineError::execution(format!("IN list: {other} is not a string or binary type"))),
    })
}

impl fmt::Display for InListExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.list.iter().map(|e| e.to_string()).collect();
        write!(f, "{} {}IN ({})", self.expr, if self.negated { "NOT " } else { "" }, items.join(", "))
    }
}

impl PhysicalExpr for InListExpr {
    fn data_type(&self) -> &DataType {
        &DataType::Boolean
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let num_rows = batch.num_rows();
        let values = self.expr.evaluate_to_array(batch)?;
        let found = match &self.set {
            Some(set) => set.probe(&values)?,
            None => {
                let mut found = BooleanArray::from(vec![false; num_rows]);
                for item in &self.list {
                    let item = item.evaluate_to_array(batch)?;
                    let eq = if values.data_type() == &DataType::Null || item.data_type() == &DataType::Null {
                        BooleanArray::new_null(num_rows)
                    } else {
                        cmp::eq(&values, &item)?
                    };
                    found = boolean::or_kleene(&found, &eq)?;
                }
                found
            }
        };
        let out = if self.negated { boolean::not(&found)? } else { found };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Date32Array, Decimal128Array, DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray,
    };
    use arrow::datatypes::Int32Type;

    use super::*;

    fn text(s: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(s.to_string()))
    }

    fn set(data_type: &DataType, values: &[ScalarValue]) -> LiteralSet {
        LiteralSet::try_new(data_type, &values.iter().collect::<Vec<_>>()).unwrap()
    }

    fn probe(set: &LiteralSet, array: ArrayRef) -> Vec<Option<bool>> {
        set.probe(&array).unwrap().iter().collect()
    }

    #[test]
    fn integers_dates_and_decimals_probe_their_native_values() {
        let ints = set(&DataType::Int64, &[ScalarValue::Int64(Some(3)), ScalarValue::Int64(Some(-7))]);
        let array = Arc::new(Int64Array::from(vec![Some(3), None, Some(4), Some(-7)])) as ArrayRef;
        assert_eq!(probe(&ints, array), vec![Some(true), None, Some(false), Some(true)]);
        // A literal of another integer type is cast to the column's type first.
        let narrow = set(&DataType::Int32, &[ScalarValue::Int64(Some(5))]);
        assert_eq!(probe(&narrow, Arc::new(Int32Array::from(vec![5, 6]))), vec![Some(true), Some(false)]);
        let dates = set(&DataType::Date32, &[ScalarValue::Date32(Some(19_000))]);
        let array = Arc::new(Date32Array::from(vec![19_000, 19_001])) as ArrayRef;
        assert_eq!(probe(&dates, array), vec![Some(true), Some(false)]);
        let decimal = DataType::Decimal128(15, 2);
        let prices = set(&decimal, &[ScalarValue::Decimal128(Some(1050), 15, 2)]);
        let array = Decimal128Array::from(vec![Some(1050), Some(105), None]).with_data_type(decimal);
        assert_eq!(probe(&prices, Arc::new(array)), vec![Some(true), Some(false), None]);
    }

    /// Lists within 256 consecutive values (bit-tested), wider ones and long ones (hashed) agree
    /// with comparing each member, at both ends of the range and of the type.
    #[test]
    fn small_ranges_wide_ranges_and_long_lists_find_the_same_members() {
        let lists: [Vec<i64>; 4] = [
            vec![49, 14, 23, 45, 19, 3, 36, 9],
            vec![-100, 155, 0],
            vec![-100, 156, 0],
            (0..40).map(|i| i * 7 - 50).chain([i64::MIN, i64::MAX]).collect(),
        ];
        let probes: Vec<i64> = (-300..300).chain([i64::MIN, i64::MAX, i64::MIN + 1, 1 << 40]).collect();
        for list in &lists {
            let members: Vec<ScalarValue> = list.iter().map(|&v| ScalarValue::Int64(Some(v))).collect();
            let found = probe(&set(&DataType::Int64, &members), Arc::new(Int64Array::from(probes.clone())));
            let expected: Vec<Option<bool>> = probes.iter().map(|v| Some(list.contains(v))).collect();
            assert_eq!(found, expected, "{list:?}");
        }
        let small =
            set(&DataType::Int32, &[ScalarValue::Int32(Some(i32::MAX)), ScalarValue::Int32(Some(i32::MAX - 255))]);
        let array = Arc::new(Int32Array::from(vec![i32::MAX, i32::MAX - 255, i32::MAX - 1, i32::MIN])) as ArrayRef;
        assert_eq!(probe(&small, array), vec![Some(true), Some(true), Some(false), Some(false)]);
    }

    #[test]
    fn strings_probe_their_bytes_and_a_null_in_the_list_makes_misses_null() {
        let modes = set(&DataType::Utf8, &[text("AIR"), text("AIR REG")]);
        let array = Arc::new(StringArray::from(vec![Some("AIR"), Some("AIR REG"), Some("AI"), None, Some("")]));
        assert_eq!(probe(&modes, array), vec![Some(true), Some(true), Some(false), None, Some(false)]);
        let with_null = set(&DataType::Utf8, &[text("a"), ScalarValue::Utf8(None)]);
        let array = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None]));
        assert_eq!(probe(&with_null, array), vec![Some(true), None, None]);
        let only_null = set(&DataType::Int64, &[ScalarValue::Int64(None)]);
        assert_eq!(probe(&only_null, Arc::new(Int64Array::from(vec![1]))), vec![None]);
    }

    #[test]
    fn dictionaries_probe_each_value_once_then_gather_by_key() {
        let modes = set(&DataType::Utf8, &[text("SHIP")]);
        let dictionary: DictionaryArray<Int32Type> =
            vec![Some("SHIP"), Some("MAIL"), None, Some("SHIP")].into_iter().collect();
        assert_eq!(probe(&modes, Arc::new(dictionary)), vec![Some(true), Some(false), None, Some(true)]);
    }

    #[test]
    fn other_types_keep_the_row_format_path() {
        let floats = set(&DataType::Float64, &[ScalarValue::Float64(Some(0.5))]);
        let array = Arc::new(Float64Array::from(vec![Some(0.5), Some(1.5), None])) as ArrayRef;
        assert_eq!(probe(&floats, array), vec![Some(true), Some(false), None]);
    }
}
