//! The build side of a hash join once built: every build row, an index from key rows to the
//! build rows carrying that key, and the bitmap of build rows some probe row matched (for the
//! unmatched rows a right or full join emits at the end).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use arrow::row::{RowConverter, Rows};
use hashbrown::hash_table::HashTable;
use hashbrown::DefaultHashBuilder;

use crate::error::Result;

/// Marks the end of a chain of build rows with equal keys.
const END: u32 = u32::MAX;

/// Equal-key chains over the build rows: the table maps a key to the first build row with it,
/// `next` links each row to the following one (in build order), as in DuckDB and DataFusion, so
/// one table entry serves every duplicate.
pub struct KeyIndex {
    converter: RowConverter,
    rows: Rows,
    hasher: DefaultHashBuilder,
    /// (hash, first build row) per distinct key.
    table: HashTable<(u64, u32)>,
    next: Vec<u32>,
}

impl KeyIndex {
    /// Indexes the build rows' key columns; rows with a NULL in any key are left out (SQL `=`
    /// never matches NULL).
    pub fn try_new(converter: RowConverter, keys: &[ArrayRef]) -> Result<KeyIndex> {
        let rows = converter.convert_columns(keys)?;
        let num_rows = rows.num_rows();
        let nulls = key_nulls(keys);
        let hasher = DefaultHashBuilder::default();
        let mut table: HashTable<(u64, u32)> = HashTable::with_capacity(num_rows);
        let mut next = vec![END; num_rows];
        // Walking backwards and prepending leaves every chain in ascending build order.
        for index in (0..num_rows).rev() {
            if nulls.as_ref().is_some_and(|n| n.is_null(index)) {
                continue;
            }
            let row = rows.row(index);
            let hash = hasher.hash_one(row.data());
            let found = table.find_mut(hash, |(h, first)| *h == hash && rows.row(*first as usize) == row);
            match found {
                Some((_, first)) => {
                    next[index] = *first;
                    *first = index as u32;
                }
                None => {
                    table.insert_unique(hash, (hash, index as u32), |(h, _)| *h);
                }
            }
        }
        Ok(KeyIndex { converter, rows, hasher, table, next })
    }

    /// The probe side's keys in the same row format (same converter).
    pub fn probe_rows(&self, keys: &[ArrayRef]) -> Result<Rows> {
        Ok(self.converter.convert_columns(keys)?)
    }

    /// The first build row whose key equals `probe.row(index)`, if any.
    pub fn first_match(&self, probe: &Rows, index: usize) -> Option<u32> {
        let row = probe.row(index);
        let hash = self.hasher.hash_one(row.data());
        self.table.find(hash, |(h, first)| *h == hash && self.rows.row(*first as usize) == row).map(|(_, first)| *first)
    }

    /// The build row after `row` with the same key.
    pub fn next_match(&self, row: u32) -> Option<u32> {
        match self.next[row as usize] {
            END => None,
            next => Some(next),
        }
    }
}

/// Rows where any of `keys` is NULL, as one null buffer (`None`: no NULL anywhere).
pub fn key_nulls(keys: &[ArrayRef]) -> Option<NullBuffer> {
    keys.iter().fold(None, |acc, key| NullBuffer::union(acc.as_ref(), key.logical_nulls().as_ref()))
}

/// One bit per build row, set concurrently by the probing workers.
pub struct MatchedBitmap {
    words: Vec<AtomicU64>,
    len: usize,
}

impl MatchedBitmap {
    pub fn new(len: usize) -> MatchedBitmap {
        MatchedBitmap { words: (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(), len }
    }

    pub fn set(&self, index: usize) {
        self.words[index / 64].fetch_or(1 << (index % 64), Ordering::Relaxed);
    }

    /// Indices of the rows never set. Called after every prober finished, so relaxed loads see
    /// every bit (the scheduler's join of the workers orders them before this).
    pub fn unset(&self) -> Vec<u32> {
        (0..self.len)
            .filter(|i| self.words[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) == 0)
            .map(|i| i as u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::DataType;
    use arrow::row::SortField;

    use super::*;

    fn converter() -> RowConverter {
        RowConverter::new(vec![SortField::new(DataType::Int64)]).unwrap()
    }

    #[test]
    fn chains_list_duplicates_in_build_order_and_skip_nulls() {
        let build: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None, Some(7), Some(8), Some(7)]));
        let index = KeyIndex::try_new(converter(), &[build]).unwrap();
        let probe: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), Some(9), None]));
        let probe_rows = index.probe_rows(&[probe]).unwrap();
        let mut chain = vec![];
        let mut next = index.first_match(&probe_rows, 0);
        while let Some(row) = next {
            chain.push(row);
            next = index.next_match(row);
        }
        assert_eq!(chain, [0, 2, 4]);
        assert_eq!(index.first_match(&probe_rows, 1), None);
    }

    #[test]
    fn bitmap_reports_unset_rows() {
        let bitmap = MatchedBitmap::new(130);
        bitmap.set(0);
        bitmap.set(64);
        bitmap.set(129);
        let unset = bitmap.unset();
        assert_eq!(unset.len(), 127);
        assert!(!unset.contains(&64) && unset.contains(&65));
    }
}
