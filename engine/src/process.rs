//! Process-wide settings the binaries apply once at start-up, before any query runs.

/// Turns transparent huge pages off for this process.
///
/// Why: the allocator (mimalloc, in both binaries) reserves its arenas as huge-page-aligned
/// regions that the kernel backs with 2 MiB pages where THP is enabled (`always`, or `madvise`
/// plus mimalloc's advice). Every time a freed region is purged and touched again, the kernel
/// zeroes a whole 2 MiB page even when a query needs a few kilobytes of it: measured on TPC-H
/// SF 1, `clear_page_erms` was 11% of the whole suite's CPU and 38% of q10's, and each query's
/// peak resident memory was 30–70 MiB higher. With 4 KiB pages only touched memory is
/// zeroed. This is the same switch as mimalloc's `MIMALLOC_ALLOW_THP=0`, applied in code so
/// that no environment variable is needed (mimalloc reads those before `main`).
///
/// Failure is harmless (an old kernel, or not Linux): the process just keeps THP. Setting
/// `TARN_KEEP_THP` keeps THP on, for A/B measurements (benches/RESULTS.md has one: the same
/// warm geomean, 50–100 MiB more per query with THP).
pub fn disable_transparent_huge_pages() {
    if std::env::var_os("TARN_KEEP_THP").is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes an integer flag and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_reports_thp_disabled_afterwards() {
        disable_transparent_huge_pages();
        // SAFETY: PR_GET_THP_DISABLE reads a flag of the calling process.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }
}
