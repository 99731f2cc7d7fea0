//! The floor under a scan: how long merely reading a table's files takes, so a full-scan time can
//! be read against it (the target: a full-scan aggregate within 1.5× of reading the bytes).

use std::fs;
use std::io::Read;
use std::time::Instant;

use anyhow::Result;

use crate::workload::TableSpec;

/// Size of the read buffer; large enough that syscalls do not dominate.
const BUFFER_BYTES: usize = 1 << 20;

/// A one-line note on reading all files of the workload's largest table: bytes, best time of
/// `runs` single-threaded sequential reads (from the page cache once warm), and throughput.
pub fn describe(tables: &[TableSpec], runs: usize) -> Result<Option<String>> {
    let mut largest: Option<(&TableSpec, Vec<std::path::PathBuf>, u64)> = None;
    for table in tables {
        let mut files = Vec::new();
        let mut bytes = 0;
        for entry in fs::read_dir(&table.location)? {
            let entry = entry?;
            bytes += entry.metadata()?.len();
            files.push(entry.path());
        }
        if largest.as_ref().is_none_or(|(_, _, most)| bytes > *most) {
            largest = Some((table, files, bytes));
        }
    }
    let Some((table, files, bytes)) = largest else {
        return Ok(None);
    };
    let mut buffer = vec![0u8; BUFFER_BYTES];
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(2) {
        let started = Instant::now();
        for path in &files {
            let mut file = fs::File::open(path)?;
            while file.read(&mut buffer)? > 0 {}
        }
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
    }
    let mib = bytes as f64 / (1024.0 * 1024.0);
    Ok(Some(format!(
        "storage floor: reading the {} files of `{}` ({mib:.1} MiB) takes {best:.1} ms, one thread, page cache warm ({:.1} GiB/s)",
        files.len(),
        table.name,
        mib / 1024.0 / (best / 1000.0)
    )))
}
