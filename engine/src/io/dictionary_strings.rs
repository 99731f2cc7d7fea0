//! Turning dictionary-decoded Parquet string columns into plain `Utf8` arrays.
//!
//! The parquet crate decodes a dictionary-encoded string column to `Utf8` by appending every
//! row's bytes with a `memcpy` call of the value's length: for TPC-H's one-byte
//! `l_returnflag`/`l_linestatus` that call and its bounds checks cost ~45 instructions a row
//! (17% of Q1). Decoded as `Dictionary(Int32, Utf8)` instead, the crate only unpacks the keys,
//! and [`dictionary_to_utf8`] gathers the values here: when every dictionary value is short it
//! copies a fixed-width, zero-padded slot per row (one unaligned store the compiler can inline)
//! and advances by the value's true length, so no call is made per row.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, DictionaryArray, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Int32Type};

use crate::error::{EngineError, Result};

/// Whether `data_type` is what [`dictionary_to_utf8`] reads.
pub fn is_string_dictionary(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Dictionary(key, value)
        if key.as_ref() == &DataType::Int32 && value.as_ref() == &DataType::Utf8)
}

/// The rows of a `Dictionary(Int32, Utf8)` array as a `Utf8` array: each row's value, NULL
/// where the row is NULL (or its dictionary value is NULL). A key outside the dictionary on a
/// non-NULL row is an error, not a panic (the keys come from a file).
pub fn dictionary_to_utf8(array: &DictionaryArray<Int32Type>) -> Result<ArrayRef> {
    let Some(values) = array.values().as_string_opt::<i32>() else {
        return Err(EngineError::execution(format!(
            "string dictionary has {} values, not Utf8",
            array.values().data_type()
        )));
    };
    // Row NULLs: the keys' own, and rows whose key points at a NULL dictionary value.
    let nulls = match values.null_count() {
        0 => array.keys().nulls().cloned(),
        _ => array.logical_nulls(),
    };
    let table = Table::new(values);
    let empty = table.lengths.len() as u32 - 1;
    // NULL rows point at the empty entry, whatever their key; a negative key wraps to a huge
    // one as `u32`, so one comparison checks both ends.
    let keys: Cow<[i32]> = match &nulls {
        Some(nulls) if nulls.null_count() > 0 => {
            let keys = array.keys().values().iter().zip(nulls.iter());
            Cow::Owned(keys.map(|(key, valid)| if valid { *key } else { empty as i32 }).collect())
        }
        _ => Cow::Borrowed(array.keys().values()),
    };
    let outside = match &nulls {
        Some(nulls) if nulls.null_count() > 0 => {
            keys.iter().zip(nulls.iter()).any(|(key, valid)| valid && *key as u32 >= empty)
        }
        // A fold, not `max()`, so that the loop compiles to vector maxima without branches.
        _ => keys.iter().fold(0u32, |max, k| max.max(*k as u32)) >= empty && !keys.is_empty(),
    };
    if outside {
        return Err(EngineError::execution(format!(
            "string dictionary key outside its {empty} values (corrupt Parquet data?)"
        )));
    }
    let (offsets, bytes) = match table.width {
        0 => (vec![0; keys.len() + 1], Vec::new()),
        1 if table.fixed => (fixed_offsets(keys.len(), 1)?, table.gather_bytes(&keys)),
        w if w <= 8 => table.gather::<8>(&keys)?,
        w if w <= 16 => table.gather::<16>(&keys)?,
        w if w <= 32 => table.gather::<32>(&keys)?,
        _ => table.gather_exact(&keys)?,
    };
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    // SAFETY: the offsets start at 0, never decrease and end at `bytes.len()` (each row adds
    // its value's length, checked to fit in i32), and `bytes` is the rows' values laid end to
    // end, each copied whole from a valid `Utf8` array (a NULL row: nothing, or one 0 byte
    // among one-byte values), so every row is valid UTF-8 on char boundaries; `nulls` has one
    // bit per row. Checking it all again costs ~12 instructions a row (`try_new` validates
    // the UTF-8 and every offset).
    let strings = unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(bytes), nulls) };
    Ok(Arc::new(strings))
}

/// Offsets of `rows` values of `width` bytes each.
fn fixed_offsets(rows: usize, width: usize) -> Result<Vec<i32>> {
    i32::try_from(rows * width).map_err(|_| too_long(rows * width))?;
    Ok((0..rows + 1).map(|i| (i * width) as i32).collect())
}

fn too_long(bytes: usize) -> EngineError {
    EngineError::execution(format!("string column of {bytes} bytes in one batch exceeds the 2 GiB a Utf8 array holds"))
}

/// Dictionaries with fewer values than this are gathered through tables of exactly this many
/// entries, indexed by the key's low byte: every key was checked against the dictionary, so
/// the byte is the key, and the compiler needs no bounds check per row.
const SMALL_TABLE: usize = 256;

/// Calls `each` with the `table` entry of every key, in order. Keys must be in range.
#[inline(always)]
fn for_each_entry<T>(keys: &[i32], table: &[T], mut each: impl FnMut(&T)) {
    match <&[T; SMALL_TABLE]>::try_from(table) {
        Ok(small) => keys.iter().for_each(|k| each(&small[*k as u8 as usize])),
        Err(_) => keys.iter().for_each(|k| each(&table[*k as u32 as usize])),
    }
}

/// One dictionary's values laid out for gathering: per value its bytes' start and length, and
/// one extra empty entry (index `values.len()`) that NULL rows point at.
struct Table<'a> {
    bytes: &'a [u8],
    starts: Vec<usize>,
    lengths: Vec<u32>,
    /// The longest value's length.
    width: usize,
    /// Whether every value (NULL rows aside) has the same length.
    fixed: bool,
}

impl<'a> Table<'a> {
    fn new(values: &'a StringArray) -> Table<'a> {
        let offsets = values.value_offsets();
        let base = offsets.first().copied().unwrap_or(0) as usize;
        let bytes = &values.value_data()[base..];
        let mut starts: Vec<usize> = offsets.iter().map(|o| *o as usize - base).collect();
        let mut lengths: Vec<u32> = offsets.windows(2).map(|w| (w[1] - w[0]) as u32).collect();
        let width = lengths.iter().copied().max().unwrap_or(0) as usize;
        let fixed = lengths.iter().all(|l| *l as usize == width);
        starts.truncate(lengths.len());
        starts.push(0);
        lengths.push(0);
        Table { bytes, starts, lengths, width, fixed }
    }

    /// One entry per value and the empty entry, padded to [`SMALL_TABLE`] entries when fewer.
    fn entries<T: Clone>(&self, entry: impl Fn(usize, usize) -> T) -> Vec<T> {
        let mut entries: Vec<T> =
            self.starts.iter().zip(&self.lengths).map(|(&start, &len)| entry(start, len as usize)).collect();
        if entries.len() < SMALL_TABLE {
            let padding = entries[entries.len() - 1].clone();
            entries.resize(SMALL_TABLE, padding);
        }
        entries
    }

    /// The rows' values when every value is one byte (NULL rows read as a 0 byte).
    fn gather_bytes(&self, keys: &[i32]) -> Vec<u8> {
        let table = self.entries(|start, len| if len == 0 { 0 } else { self.bytes[start] });
        // `collect` over a slice's `map` writes without a capacity check per row.
        match <&[u8; SMALL_TABLE]>::try_from(table.as_slice()) {
            Ok(small) => keys.iter().map(|k| small[*k as u8 as usize]).collect(),
            Err(_) => keys.iter().map(|k| table[*k as u32 as usize]).collect(),
        }
    }

    /// Offsets and bytes of the rows `keys`, each value copied as a `W`-byte zero-padded slot
    /// and the write position advanced by its true length: one fixed-size store per row, the
    /// next row overwriting the padding.
    fn gather<const W: usize>(&self, keys: &[i32]) -> Result<(Vec<i32>, Vec<u8>)> {
        let table = self.entries(|start, len| {
            let mut slot = [0u8; W];
            slot[..len].copy_from_slice(&self.bytes[start..start + len]);
            (slot, len as u32)
        });
        let mut total = 0usize;
        for_each_entry(keys, &table, |(_, len)| total += *len as usize);
        i32::try_from(total).map_err(|_| too_long(total))?;
        let mut offsets = Vec::with_capacity(keys.len() + 1);
        offsets.push(0i32);
        let mut out = vec![0u8; total + W];
        let mut position = 0;
        for_each_entry(keys, &table, |(slot, len)| {
            out[position..position + W].copy_from_slice(slot);
            position += *len as usize;
            offsets.push(position as i32);
        });
        out.truncate(total);
        Ok((offsets, out))
    }

    /// Offsets and bytes of the rows `keys`, each value copied exactly (long values: the copy
    /// itself dominates).
    fn gather_exact(&self, keys: &[i32]) -> Result<(Vec<i32>, Vec<u8>)> {
        let table = self.entries(|start, len| start..start + len);
        let mut total = 0usize;
        for_each_entry(keys, &table, |range| total += range.len());
        i32::try_from(total).map_err(|_| too_long(total))?;
        let mut offsets = Vec::with_capacity(keys.len() + 1);
        offsets.push(0i32);
        let mut out = Vec::with_capacity(total);
        for_each_entry(keys, &table, |range| {
            out.extend_from_slice(&self.bytes[range.clone()]);
            offsets.push(out.len() as i32);
        });
        Ok((offsets, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};

    fn dictionary(keys: Vec<Option<i32>>, values: Vec<Option<&str>>) -> DictionaryArray<Int32Type> {
        DictionaryArray::try_new(Int32Array::from(keys), Arc::new(StringArray::from(values))).unwrap()
    }

    fn strings(array: &ArrayRef) -> Vec<Option<String>> {
        array.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    /// The same answer as arrow's own cast, for every width class and with NULL rows.
    #[test]
    fn matches_arrow_cast_for_short_and_long_values_with_nulls() {
        let long = "x".repeat(40);
        for values in [
            vec![Some("A"), Some("N"), Some("R")],
            vec![Some("MAIL"), Some("SHIP"), Some(""), Some("TRUCK")],
            vec![Some("DELIVER IN PERSON"), Some("NONE"), Some("COLLECT COD")],
            vec![Some("STANDARD ANODIZED TIN"), Some("é ü"), Some("PROMO")],
            vec![Some(long.as_str()), Some("short"), Some("")],
        ] {
            let n = values.len() as i32;
            let keys: Vec<Option<i32>> = (0..50).map(|i| if i % 7 == 3 { None } else { Some((i * 5) % n) }).collect();
            let array = dictionary(keys, values);
            let ours = dictionary_to_utf8(&array).unwrap();
            let arrow = arrow::compute::cast(&array, &DataType::Utf8).unwrap();
            assert_eq!(strings(&ours), strings(&arrow));
            assert_eq!(ours.null_count(), 7);
        }
    }

    /// Dictionaries too large for the byte-indexed tables take the bounds-checked path.
    #[test]
    fn large_dictionaries_match_arrow_cast() {
        for width in [1, 5, 12, 40] {
            let values: Vec<String> = (0..300).map(|i| format!("{i:0>width$}")).collect();
            let values: Vec<Option<&str>> = values.iter().map(|v| Some(v.as_str())).collect();
            let keys: Vec<Option<i32>> =
                (0..1000).map(|i| if i % 11 == 0 { None } else { Some((i * 7) % 300) }).collect();
            let array = dictionary(keys, values);
            let ours = dictionary_to_utf8(&array).unwrap();
            let arrow = arrow::compute::cast(&array, &DataType::Utf8).unwrap();
            assert_eq!(strings(&ours), strings(&arrow), "width {width}");
        }
    }

    #[test]
    fn null_dictionary_values_and_sliced_arrays() {
        let array = dictionary(vec![Some(0), Some(1), Some(2), Some(1)], vec![Some("a"), None, Some("ccc")]);
        let ours = dictionary_to_utf8(&array).unwrap();
        assert_eq!(strings(&ours), vec![Some("a".into()), None, Some("ccc".into()), None]);
        let sliced = array.slice(1, 3);
        let ours = dictionary_to_utf8(&sliced).unwrap();
        assert_eq!(strings(&ours), vec![None, Some("ccc".into()), None]);
        let values = StringArray::from(vec!["zz", "a", "bb"]).slice(1, 2);
        let array = DictionaryArray::try_new(Int32Array::from(vec![1, 0, 1]), Arc::new(values)).unwrap();
        assert_eq!(
            strings(&dictionary_to_utf8(&array).unwrap()),
            vec![Some("bb".into()), Some("a".into()), Some("bb".into())]
        );
    }

    #[test]
    fn empty_dictionary_with_only_null_rows_and_no_rows() {
        let array = dictionary(vec![None, None], vec![]);
        let ours = dictionary_to_utf8(&array).unwrap();
        assert_eq!(strings(&ours), vec![None, None]);
        let array = dictionary(vec![], vec![Some("a")]);
        assert_eq!(dictionary_to_utf8(&array).unwrap().len(), 0);
    }

    #[test]
    fn out_of_range_key_is_an_error() {
        // `try_new` checks keys, so build the bad array from its parts as a corrupt decoder might.
        let values: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        let data =
            arrow::array::ArrayData::builder(DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)))
                .len(2)
                .add_buffer(Buffer::from_vec(vec![0i32, 5]))
                .add_child_data(values.to_data());
        // SAFETY: deliberately invalid key for the test; only our function reads it.
        let array = DictionaryArray::<Int32Type>::from(unsafe { data.build_unchecked() });
        let error = dictionary_to_utf8(&array).unwrap_err().to_string();
        assert!(error.contains("outside its 2 values"), "{error}");
    }

    #[test]
    fn recognises_only_int32_utf8_dictionaries() {
        assert!(is_string_dictionary(&DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))));
        assert!(!is_string_dictionary(&DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8))));
        assert!(!is_string_dictionary(&DataType::Utf8));
    }
}
