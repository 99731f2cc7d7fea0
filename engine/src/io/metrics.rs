//! Counters of what a scan did, shared by every reader of one scan through an `Arc` and read
//! by `EXPLAIN ANALYZE`. Atomics, because morsels run on many workers at once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-scan I/O and pruning counters.
#[derive(Debug, Default)]
pub struct ScanMetrics {
    /// Object-store requests issued (a coalesced multi-range read counts once per merged range).
    pub requests: AtomicU64,
    /// Bytes received from the object store.
    pub bytes_read: AtomicU64,
    /// Parquet footers served from the footer cache instead of the store.
    pub footer_cache_hits: AtomicU64,
    /// Data files the scan planned to read (after listing).
    pub files: AtomicU64,
    /// Parquet row groups in the listed files.
    pub row_groups_total: AtomicU64,
    /// Parquet row groups skipped by min/max statistics.
    pub row_groups_pruned: AtomicU64,
    /// Rows decoded from files, before the scan's filters.
    pub rows_decoded: AtomicU64,
    /// Rows the scan emitted, after its filters.
    pub rows_emitted: AtomicU64,
}

impl ScanMetrics {
    /// Adds `n` to one counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value of one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl fmt::Display for ScanMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "files={} row_groups={}/{} rows_decoded={} rows={} requests={} bytes={}",
            Self::get(&self.files),
            Self::get(&self.row_groups_total) - Self::get(&self.row_groups_pruned),
            Self::get(&self.row_groups_total),
            Self::get(&self.rows_decoded),
            Self::get(&self.rows_emitted),
            Self::get(&self.requests),
            Self::get(&self.bytes_read),
        )
    }
}
