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

/// The CPU features this build was compiled to use (`.cargo/config.toml` targets x86-64-v3) that
/// the machine lacks, as a message naming them and how to rebuild; `None` when all are there.
///
/// Why: a binary built for AVX2 dies on an older CPU with SIGILL at whatever hot loop first uses
/// one, with no hint why. The binaries call this first thing in `main`, before any of our
/// vectorised code runs (the standard library's start-up is compiled for baseline x86-64).
pub fn missing_cpu_features() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut missing = Vec::new();
        macro_rules! require {
            ($($feature:tt),*) => {$(
                #[cfg(target_feature = $feature)]
                if !std::arch::is_x86_feature_detected!($feature) {
                    missing.push($feature);
                }
            )*};
        }
        require!("avx", "avx2", "bmi1", "bmi2", "fma", "lzcnt", "movbe", "f16c", "sse4.2", "popcnt");
        if !missing.is_empty() {
            return Some(format!(
                "this Tarn build needs CPU features this machine lacks: {}. Rebuild for a baseline \
                 x86-64 CPU with CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS=\"-C target-cpu=x86-64\" \
                 cargo build --release",
                missing.join(", ")
            ));
        }
    }
    None
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

    #[test]
    fn the_machine_running_the_tests_has_what_the_build_uses() {
        // The test binary itself was built with the same flags, so it ran this far: every feature
        // the build enabled is present, and the check must agree.
        assert_eq!(missing_cpu_features(), None);
    }
}
