//! Per-query memory accounting (design §2: "memory is accounted per query"). Sinks that buffer
//! (aggregate tables, join builds, sorts, windows, collected results) report the bytes their
//! worker state holds; the scheduler reserves the growth here, so a query over
//! `SET memory_limit` fails with the figure it reached instead of exhausting the machine. The
//! tracker belongs to one query, so a failed query leaves nothing reserved for the next.
//!
//! What is counted is the state sinks keep (Arrow buffers, group keys, hash tables, an estimate
//! per accumulator state), not transient decode buffers: the limit bounds what grows with the
//! data, which is what runs a machine out of memory.

use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::Array;
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};

/// Bytes reserved by one query's sinks against its limit.
#[derive(Debug, Default)]
pub struct MemoryTracker {
    /// `None`: unlimited.
    limit: Option<u64>,
    reserved: AtomicU64,
    peak: AtomicU64,
}

impl MemoryTracker {
    pub fn new(limit: Option<u64>) -> MemoryTracker {
        MemoryTracker { limit, ..MemoryTracker::default() }
    }

    /// Reserves `bytes` more for `operator`; over the limit the reservation is undone and the
    /// query fails with what it would have reached.
    pub fn grow(&self, bytes: u64, operator: &str) -> Result<()> {
        let reached = self.reserved.fetch_add(bytes, Ordering::SeqCst) + bytes;
        if let Some(limit) = self.limit.filter(|limit| reached > *limit) {
            self.reserved.fetch_sub(bytes, Ordering::SeqCst);
            return Err(EngineError::ResourceLimit {
                what: "memory",
                setting: "memory_limit",
                limit,
                reached,
                operator: operator.to_string(),
            });
        }
        self.peak.fetch_max(reached, Ordering::Relaxed);
        Ok(())
    }

    /// Returns `bytes` a finished sink's state no longer holds.
    pub fn shrink(&self, bytes: u64) {
        let _ = self.reserved.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| Some(r.saturating_sub(bytes)));
    }

    /// Bytes reserved now.
    pub fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }

    /// The most bytes reserved at once during the query.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// Bytes `batch` accounts for: the part of its buffers its rows use. A slice of a larger batch (a
/// stage's output cut into morsels, a scan's batch split by a filter) counts only its own rows,
/// where `RecordBatch::get_array_memory_size` would count the whole shared buffers once per slice.
pub fn batch_memory_size(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| column.to_data().get_slice_memory_size().unwrap_or_else(|_| column.get_array_memory_size()))
        .sum()
}

/// The default `memory_limit`: 75% of physical memory (DuckDB's default is 80%; the margin is
/// for what accounting does not see), or unlimited where physical memory cannot be read.
pub fn default_memory_limit() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    // Whole megabytes, so `SET memory_limit = default` echoes a readable figure.
    Some(kib * 1024 / 4 * 3 / 1_000_000 * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_the_limit_fails_and_is_undone() {
        let tracker = MemoryTracker::new(Some(2_000_000_000));
        tracker.grow(1_500_000_000, "Sort").unwrap();
        let error = tracker.grow(600_000_000, "HashAggregate").unwrap_err();
        assert_eq!(
            error.to_string(),
            "query needs more than 2.0 GB of memory (memory_limit = 2GB; reached 2.1 GB in HashAggregate)"
        );
        assert_eq!(tracker.reserved(), 1_500_000_000);
        tracker.shrink(1_500_000_000);
        assert_eq!(tracker.reserved(), 0);
        assert_eq!(tracker.peak(), 1_500_000_000);
    }

    #[test]
    fn a_slice_counts_only_its_rows() {
        use std::sync::Arc;

        use arrow::array::Int64Array;
        use arrow::datatypes::{DataType, Field, Schema};

        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..1000))]).unwrap();
        assert_eq!(batch_memory_size(&batch), 8000);
        assert_eq!(batch_memory_size(&batch.slice(0, 10)), 80);
    }

    #[test]
    fn default_limit_is_below_physical_memory() {
        if let Some(limit) = default_memory_limit() {
            assert!(limit > 0);
        }
    }
}
