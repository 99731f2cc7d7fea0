//! Join keys in the form the join's hash table hashes and compares. Most joins in analytic
//! queries are on one integer-like key (surrogate ids, dates, decimals of few digits), and for
//! those the key *is* a 64-bit integer: hashing it with a bijective mixer makes the hash itself
//! the key's identity, so lookups compare hashes only, with no key bytes kept or encoded. Two
//! integer-like keys pack exactly into a `u128`. Everything else (strings, more keys, floats,
//! nested types) goes through Arrow's row format and is hashed as bytes.
//!
//! Build and probe keys have the same types (the probe side casts its keys to the build side's
//! types first), so equal values have equal encodings.

use std::hash::BuildHasher;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal32Type, Decimal64Type, DurationMicrosecondType,
    DurationMillisecondType, DurationNanosecondType, DurationSecondType, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::DefaultHashBuilder;

use crate::error::{EngineError, Result};

/// How one join's keys are represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLayout {
    /// One integer-like key as its 64-bit pattern; the hash identifies it exactly.
    Integer,
    /// Two integer-like keys packed into 128 bits.
    IntegerPair,
    /// Arrow's row format, hashed as bytes.
    Rows,
}

/// A batch's keys, encoded: one value (or row) per input row. Values at rows with a NULL key
/// are meaningless; callers skip those rows.
pub enum EncodedKeys {
    Integer,
    IntegerPair(Vec<u128>),
    Rows(Rows),
}

/// Hashes and encodes key columns of fixed types; shared by the build sinks and the probe.
pub struct KeyEncoder {
    layout: KeyLayout,
    types: Vec<DataType>,
    /// Seeds the byte hash of the row layout; one instance so build and probe agree.
    hasher: DefaultHashBuilder,
}

impl KeyEncoder {
    /// The encoder for keys of `types` (the build side's key types).
    pub fn new(types: Vec<DataType>) -> KeyEncoder {
        let layout = match types.as_slice() {
            [t] if is_integer_like(t) => KeyLayout::Integer,
            [a, b] if is_integer_like(a) && is_integer_like(b) => KeyLayout::IntegerPair,
            _ => KeyLayout::Rows,
        };
        KeyEncoder { layout, types, hasher: DefaultHashBuilder::default() }
    }

    pub fn layout(&self) -> KeyLayout {
        self.layout
    }

    /// The key types both sides are encoded in.
    pub fn types(&self) -> &[DataType] {
        &self.types
    }

    /// The 64-bit patterns of one integer-like key column (what `hash_integer` hashes), for
    /// an index that looks keys up by value (`join_dense`).
    pub fn integer_values(&self, keys: &[ArrayRef]) -> Result<Vec<u64>> {
        match keys {
            [key] if self.layout == KeyLayout::Integer && key.data_type() == &self.types[0] => {
                map_integers(key.as_ref(), |v| v)
            }
            _ => Err(EngineError::execution("join keys do not have the types the join was built for")),
        }
    }

    /// One hash per row, computed in one pass, and the encoded keys.
    pub fn encode(&self, keys: &[ArrayRef]) -> Result<(Vec<u64>, EncodedKeys)> {
        if keys.len() != self.types.len() || keys.iter().zip(&self.types).any(|(k, t)| k.data_type() != t) {
            return Err(EngineError::execution("join keys do not have the types the join was built for"));
        }
        match self.layout {
            KeyLayout::Integer => {
                let hashes = map_integers(keys[0].as_ref(), hash_integer)?;
                Ok((hashes, EncodedKeys::Integer))
            }
            KeyLayout::IntegerPair => {
                let high = map_integers(keys[0].as_ref(), |v| v)?;
                let low = map_integers(keys[1].as_ref(), |v| v)?;
                let pairs: Vec<u128> = high.iter().zip(&low).map(|(a, b)| ((*a as u128) << 64) | *b as u128).collect();
                let hashes = pairs.iter().map(|p| hash_pair(*p)).collect();
                Ok((hashes, EncodedKeys::IntegerPair(pairs)))
            }
            KeyLayout::Rows => {
                // A converter is a list of codecs, cheap to make; rows from two converters over
                // the same fields are byte-comparable.
                let fields = self.types.iter().map(|t| SortField::new(t.clone())).collect();
                let rows = RowConverter::new(fields)?.convert_columns(keys)?;
                let hashes = rows.iter().map(|row| self.hasher.hash_one(row.data())).collect();
                Ok((hashes, EncodedKeys::Rows(rows)))
            }
        }
    }
}

/// Whether keys of `data_type` are integers underneath whose 64-bit pattern identifies the
/// value: integers, dates, times, timestamps, durations, and decimals of at most 18 digits
/// (their unscaled value fits an `i64`; both sides share the scale).
pub fn is_integer_like(data_type: &DataType) -> bool {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(_, _)
        | DataType::Duration(_)
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _) => true,
        DataType::Decimal128(precision, _) => *precision <= 18,
        _ => false,
    }
}

/// `f` over the 64-bit patterns of an integer-like array (signed values sign-extended), one
/// tight loop per type.
fn map_integers<T>(array: &dyn Array, f: impl Fn(u64) -> T) -> Result<Vec<T>> {
    macro_rules! signed {
        ($t:ty) => {
            array.as_primitive::<$t>().values().iter().map(|v| f(*v as i64 as u64)).collect()
        };
    }
    macro_rules! unsigned {
        ($t:ty) => {
            array.as_primitive::<$t>().values().iter().map(|v| f(*v as u64)).collect()
        };
    }
    Ok(match array.data_type() {
        DataType::Int8 => signed!(Int8Type),
        DataType::Int16 => signed!(Int16Type),
        DataType::Int32 => signed!(Int32Type),
        DataType::Int64 => signed!(Int64Type),
        DataType::UInt8 => unsigned!(UInt8Type),
        DataType::UInt16 => unsigned!(UInt16Type),
        DataType::UInt32 => unsigned!(UInt32Type),
        DataType::UInt64 => unsigned!(UInt64Type),
        DataType::Date32 => signed!(Date32Type),
        DataType::Date64 => signed!(Date64Type),
        DataType::Time32(TimeUnit::Second) => signed!(Time32SecondType),
        DataType::Time32(_) => signed!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Microsecond) => signed!(Time64MicrosecondType),
        DataType::Time64(_) => signed!(Time64NanosecondType),
        DataType::Timestamp(TimeUnit::Second, _) => signed!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => signed!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => signed!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => signed!(TimestampNanosecondType),
        DataType::Duration(TimeUnit::Second) => signed!(DurationSecondType),
        DataType::Duration(TimeUnit::Millisecond) => signed!(DurationMillisecondType),
        DataType::Duration(TimeUnit::Microsecond) => signed!(DurationMicrosecondType),
        DataType::Duration(TimeUnit::Nanosecond) => signed!(DurationNanosecondType),
        DataType::Decimal32(_, _) => signed!(Decimal32Type),
        DataType::Decimal64(_, _) => signed!(Decimal64Type),
        // Precision at most 18 (checked by `is_integer_like`), so the value fits an i64.
        DataType::Decimal128(precision, _) if *precision <= 18 => signed!(Decimal128Type),
        other => {
            return Err(EngineError::execution(format!("a join key of type {other} was taken for an integer key")))
        }
    })
}

/// MurmurHash3's 64-bit finalizer: a bijection (xor-shifts and odd multipliers are invertible),
/// so two integer keys are equal exactly when their hashes are, and its high and low bits are
/// both well mixed (the table uses the high bits for the partition, the low ones for the slot).
pub fn hash_integer(value: u64) -> u64 {
    let mut h = value;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hash of two packed integer keys (not exact: pairs are also compared).
pub fn hash_pair(pair: u128) -> u64 {
    hash_integer(hash_integer(pair as u64) ^ ((pair >> 64) as u64).rotate_left(29))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int32Array, Int8Array, StringArray, UInt64Array};

    use super::*;

    #[test]
    fn layouts_follow_the_key_types() {
        assert_eq!(KeyEncoder::new(vec![DataType::Int32]).layout(), KeyLayout::Integer);
        assert_eq!(KeyEncoder::new(vec![DataType::Decimal128(18, 2)]).layout(), KeyLayout::Integer);
        assert_eq!(KeyEncoder::new(vec![DataType::Decimal128(19, 2)]).layout(), KeyLayout::Rows);
        assert_eq!(KeyEncoder::new(vec![DataType::Date32, DataType::Int64]).layout(), KeyLayout::IntegerPair);
        assert_eq!(KeyEncoder::new(vec![DataType::Utf8]).layout(), KeyLayout::Rows);
        assert_eq!(KeyEncoder::new(vec![DataType::Int8; 3]).layout(), KeyLayout::Rows);
    }

    #[test]
    fn integer_hashes_are_equal_exactly_when_values_are() {
        let encoder = KeyEncoder::new(vec![DataType::Int8]);
        let keys: ArrayRef = Arc::new(Int8Array::from(vec![-1, 1, -1, i8::MIN, 0]));
        let (hashes, _) = encoder.encode(&[keys]).unwrap();
        assert_eq!(hashes[0], hashes[2]);
        assert_ne!(hashes[0], hashes[1]);
        assert_ne!(hashes[3], hashes[4]);
        // -1 as an unsigned pattern is u64::MAX: the same type on both sides keeps them apart
        // from genuine u64 keys, which never meet Int8 keys.
        let unsigned = KeyEncoder::new(vec![DataType::UInt64]);
        let (u, _) = unsigned.encode(&[Arc::new(UInt64Array::from(vec![u64::MAX])) as ArrayRef]).unwrap();
        assert_eq!(u[0], hashes[0]);
    }

    #[test]
    fn integer_values_are_the_keys_signed_bit_patterns() {
        let encoder = KeyEncoder::new(vec![DataType::Int8]);
        let keys: ArrayRef = Arc::new(Int8Array::from(vec![-1, 1]));
        assert_eq!(encoder.integer_values(&[keys]).unwrap(), [u64::MAX, 1]);
    }

    #[test]
    fn decimals_hash_their_unscaled_values() {
        let encoder = KeyEncoder::new(vec![DataType::Decimal128(12, 2)]);
        let keys: ArrayRef =
            Arc::new(Decimal128Array::from(vec![-150, 150, -150]).with_precision_and_scale(12, 2).unwrap());
        let (hashes, _) = encoder.encode(&[keys]).unwrap();
        assert_eq!(hashes[0], hashes[2]);
        assert_ne!(hashes[0], hashes[1]);
    }

    #[test]
    fn pairs_and_rows_encode_every_row() {
        let pair = KeyEncoder::new(vec![DataType::Int32, DataType::Int32]);
        let a: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 1]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![2, 1, 2]));
        let (hashes, encoded) = pair.encode(&[a, b]).unwrap();
        let EncodedKeys::IntegerPair(pairs) = encoded else { panic!("two integer keys pack into pairs") };
        assert_eq!(pairs[0], pairs[2]);
        assert_ne!(pairs[0], pairs[1]);
        assert_eq!(hashes[0], hashes[2]);
        let rows = KeyEncoder::new(vec![DataType::Utf8]);
        let (hashes, encoded) = rows.encode(&[Arc::new(StringArray::from(vec!["x", "y", "x"])) as ArrayRef]).unwrap();
        assert!(matches!(encoded, EncodedKeys::Rows(ref r) if r.num_rows() == 3));
        assert_eq!(hashes[0], hashes[2]);
    }

    #[test]
    fn keys_of_another_type_are_refused() {
        let encoder = KeyEncoder::new(vec![DataType::Int64]);
        let keys: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        assert!(encoder.encode(&[keys]).is_err());
    }
}
