//! Counters of what a scan did, shared by every reader of one scan through an `Arc` and read
//! by `EXPLAIN ANALYZE`. Atomics, because morsels run on many workers at once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{EngineError, Result};

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
    /// Listed files skipped whole because statistics pruned every row group.
    pub files_pruned: AtomicU64,
    /// Parquet row groups in the listed files.
    pub row_groups_total: AtomicU64,
    /// Parquet row groups skipped, for any reason (the counters below break some of them out;
    /// the rest were pruned by the pushed filters' min/max statistics).
    pub row_groups_pruned: AtomicU64,
    /// Of those, row groups whose statistics miss a runtime filter's key domain.
    pub row_groups_pruned_runtime: AtomicU64,
    /// Of those, row groups whose bloom filters exclude every value an equality needs.
    pub row_groups_pruned_bloom: AtomicU64,
    /// Listed files skipped because a runtime filter rules out their partition (or a build
    /// side was empty); also counted in `files_pruned`.
    pub files_pruned_runtime: AtomicU64,
    /// Runtime filters whose domain was published when the scan opened.
    pub runtime_filters: AtomicU64,
    /// Decoded rows dropped by runtime filters (before the pushed filters).
    pub rows_runtime_filtered: AtomicU64,
    /// Decoded rows a runtime filter let through untested, switched off because it dropped
    /// (almost) nothing (once per filter; see `runtime_pruning`).
    pub rows_runtime_skipped: AtomicU64,
    /// Data pages of the column chunks read, when the page index was consulted.
    pub pages_total: AtomicU64,
    /// Of those, pages skipped because the page index rules them out.
    pub pages_pruned: AtomicU64,
    /// Rows decoded from files, before the scan's filters (with late materialisation: rows of
    /// the filter columns).
    pub rows_decoded: AtomicU64,
    /// With late materialisation, rows of the columns the filters do not read decoded after
    /// the filters ran: only rows that passed them.
    pub rows_decoded_late: AtomicU64,
    /// Rows the scan emitted, after its filters.
    pub rows_emitted: AtomicU64,
    /// Decoded rows dropped by a pushed filter evaluated once per Parquet dictionary value
    /// (also counted in `rows_decoded`).
    pub rows_dictionary_filtered: AtomicU64,
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
    /// What `EXPLAIN ANALYZE` prints for a scan: kept and pruned files and row groups, rows
    /// decoded and emitted, requests and bytes read; then, only where they did something, pages
    /// kept and pruned, rows decoded late (the non-filter columns of rows that passed), row
    /// groups pruned by bloom filter, and what runtime filters pruned.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = Self::get(&self.files);
        let files_pruned = Self::get(&self.files_pruned);
        let row_groups = Self::get(&self.row_groups_total);
        let row_groups_pruned = Self::get(&self.row_groups_pruned);
        let bytes = Self::get(&self.bytes_read);
        write!(
            f,
            "files={} kept/{files_pruned} pruned row_groups={} kept/{row_groups_pruned} pruned rows_decoded={} rows={} \
             requests={} bytes_read={} ({bytes})",
            files - files_pruned,
            row_groups - row_groups_pruned,
            Self::get(&self.rows_decoded),
            Self::get(&self.rows_emitted),
            Self::get(&self.requests),
            crate::exec::byte_size::human(bytes),
        )?;
        let pages = Self::get(&self.pages_total);
        if pages > 0 {
            let pruned = Self::get(&self.pages_pruned);
            write!(f, " pages={} kept/{pruned} pruned", pages - pruned)?;
        }
        let late = Self::get(&self.rows_decoded_late);
        if late > 0 {
            write!(f, " late_rows={late}")?;
        }
        let bloom = Self::get(&self.row_groups_pruned_bloom);
        if bloom > 0 {
            write!(f, " bloom_pruned_row_groups={bloom}")?;
        }
        let dictionary = Self::get(&self.rows_dictionary_filtered);
        if dictionary > 0 {
            write!(f, " dictionary_filtered_rows={dictionary}")?;
        }
        let runtime = Self::get(&self.runtime_filters);
        if runtime > 0 {
            write!(
                f,
                " runtime_filters={runtime} (files_pruned={} row_groups_pruned={} rows_dropped={})",
                Self::get(&self.files_pruned_runtime),
                Self::get(&self.row_groups_pruned_runtime),
                Self::get(&self.rows_runtime_filtered)
            )?;
            let skipped = Self::get(&self.rows_runtime_skipped);
            if skipped > 0 {
                write!(f, " runtime_filter_skipped_rows={skipped}")?;
            }
        }
        Ok(())
    }
}

/// The bytes every scan of one query reads from storage, against `SET max_scan_bytes` (what
/// Athena would bill). Scans charge a read before issuing it, so a query stops before it reads
/// past the limit, not after.
#[derive(Debug, Default)]
pub struct ScanBudget {
    /// `None`: unlimited.
    limit: Option<u64>,
    scanned: AtomicU64,
}

impl ScanBudget {
    pub fn new(limit: Option<u64>) -> ScanBudget {
        ScanBudget { limit, scanned: AtomicU64::new(0) }
    }

    /// Charges `bytes` about to be read by `scan`; fails, without charging, when they would take
    /// the query past the limit.
    pub fn charge(&self, bytes: u64, scan: &str) -> Result<()> {
        let reached = self.scanned.fetch_add(bytes, Ordering::SeqCst) + bytes;
        if let Some(limit) = self.limit.filter(|limit| reached > *limit) {
            self.scanned.fetch_sub(bytes, Ordering::SeqCst);
            return Err(EngineError::ResourceLimit {
                what: "scan",
                setting: "max_scan_bytes",
                limit,
                reached,
                operator: scan.to_string(),
            });
        }
        Ok(())
    }

    /// Bytes charged so far.
    pub fn scanned(&self) -> u64 {
        self.scanned.load(Ordering::Relaxed)
    }
}
