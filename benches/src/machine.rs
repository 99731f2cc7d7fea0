//! What the numbers were measured on: cores, CPU, memory, load, and the versions compared.

use std::fs;
use std::path::Path;
use std::process::Command;

/// One line describing this machine, with the load average (other work skews timings).
pub fn describe() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU");
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = crate::worker_report::status_kb(&meminfo, "MemTotal").unwrap_or(0) as f64 / 1024.0 / 1024.0;
    format!("{cores} cores ({model}), {memory_gib:.0} GiB memory, load average {}", load_average())
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The commit the workspace is at (`git rev-parse`, which only reads), or `unknown`.
pub fn tarn_commit() -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
