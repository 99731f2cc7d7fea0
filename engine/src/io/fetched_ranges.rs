//! The prefetched byte ranges of one morsel, served to the synchronous Parquet decoder as a
//! `ChunkReader`: the I/O runtime fetches the column chunks a morsel needs, and a rayon worker
//! decodes them later without touching the network.

use std::ops::Range;

use bytes::{Buf, Bytes};
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};

/// Byte ranges of one file, sorted by start, each with its bytes.
#[derive(Debug, Clone)]
pub struct FetchedRanges {
    file_size: u64,
    ranges: Vec<(u64, Bytes)>,
}

impl FetchedRanges {
    /// `ranges[i]` holds the bytes of `requested[i]`.
    pub fn new(file_size: u64, requested: &[Range<u64>], bytes: Vec<Bytes>) -> FetchedRanges {
        let mut ranges: Vec<(u64, Bytes)> = requested.iter().map(|r| r.start).zip(bytes).collect();
        ranges.sort_by_key(|(start, _)| *start);
        FetchedRanges { file_size, ranges }
    }

    /// Bytes held in memory (for accounting prefetched data).
    pub fn memory_size(&self) -> usize {
        self.ranges.iter().map(|(_, b)| b.len()).sum()
    }

    /// The fetched bytes from `start` to the end of the range holding it.
    fn tail_from(&self, start: u64) -> Result<Bytes> {
        let i = self.ranges.partition_point(|(s, _)| *s <= start);
        if i > 0 {
            let (s, bytes) = &self.ranges[i - 1];
            let offset = (start - s) as usize;
            if offset < bytes.len() {
                return Ok(bytes.slice(offset..));
            }
        }
        Err(ParquetError::General(format!(
            "offset {start} is outside the column chunks listed in the footer (corrupt offsets?)"
        )))
    }
}

impl Length for FetchedRanges {
    fn len(&self) -> u64 {
        self.file_size
    }
}

impl ChunkReader for FetchedRanges {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        Ok(self.tail_from(start)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let tail = self.tail_from(start)?;
        if tail.len() < length {
            return Err(ParquetError::EOF(format!(
                "{length} bytes at offset {start} run past the fetched column chunk (corrupt page header?)"
            )));
        }
        Ok(tail.slice(..length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_slices_of_fetched_ranges_and_rejects_gaps() {
        let fetched = FetchedRanges::new(
            100,
            &[50..60, 10..20],
            vec![Bytes::from_static(b"abcdefghij"), Bytes::from_static(b"0123456789")],
        );
        assert_eq!(fetched.get_bytes(12, 3).unwrap(), Bytes::from_static(b"234"));
        assert_eq!(fetched.get_bytes(55, 5).unwrap(), Bytes::from_static(b"fghij"));
        assert!(fetched.get_bytes(55, 6).is_err());
        assert!(fetched.get_bytes(30, 1).is_err());
        assert!(fetched.get_read(5).is_err());
        assert_eq!(fetched.len(), 100);
        assert_eq!(fetched.memory_size(), 20);
    }
}
