//! What one engine worker process prints on stdout after running one query: a single JSON object.
//! The Tarn worker (`tarn-bench worker`) and the peers' driver (`peers.py`) print the same shape:
//!
//! ```text
//! {"engine": "duckdb", "version": "2.0.1", "times_ms": [12.1, 10.3, 10.2],
//!  "rows": [["A", 1.5, 3], ...], "error": null, "peak_rss_kb": 181234}
//! ```

use anyhow::{Context, Result};
use serde_json::{json, Value};

#[derive(Debug, Clone, Default)]
pub struct WorkerReport {
    pub engine: String,
    pub version: String,
    /// Wall time of each run, in order; fewer than asked when a run failed.
    pub times_ms: Vec<f64>,
    /// The result of the last successful run, as [`crate::rows`] normalises it.
    pub rows: Vec<Vec<Value>>,
    /// Why the query did not run to the end (error message, panic, crash, limit).
    pub error: Option<String>,
    /// The worker's peak resident memory (`VmHWM`), in KiB.
    pub peak_rss_kb: Option<u64>,
}

impl WorkerReport {
    /// A report of a failure before or around the worker (no JSON came back).
    pub fn failed(engine: &str, error: String) -> WorkerReport {
        WorkerReport { engine: engine.to_string(), error: Some(error), ..WorkerReport::default() }
    }

    /// The best (smallest) time, when at least one run finished.
    pub fn best_ms(&self) -> Option<f64> {
        if self.error.is_some() {
            return None;
        }
        self.times_ms.iter().copied().reduce(f64::min)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "engine": self.engine,
            "version": self.version,
            "times_ms": self.times_ms,
            "rows": self.rows,
            "error": self.error,
            "peak_rss_kb": self.peak_rss_kb,
        })
    }

    pub fn from_json(text: &str) -> Result<WorkerReport> {
        let value: Value = serde_json::from_str(text).context("worker output is not JSON")?;
        let text_field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let rows = match value.get("rows") {
            Some(Value::Array(rows)) => rows
                .iter()
                .map(|row| row.as_array().cloned().context("a row is not a JSON array"))
                .collect::<Result<_>>()?,
            _ => Vec::new(),
        };
        Ok(WorkerReport {
            engine: text_field("engine").unwrap_or_default(),
            version: text_field("version").unwrap_or_default(),
            times_ms: match value.get("times_ms") {
                Some(Value::Array(times)) => times.iter().filter_map(Value::as_f64).collect(),
                _ => Vec::new(),
            },
            rows,
            error: text_field("error"),
            peak_rss_kb: value.get("peak_rss_kb").and_then(Value::as_u64),
        })
    }
}

/// A value of this process's `/proc/self/status` in KiB (`VmHWM` is the peak resident set).
pub fn own_status_kb(key: &str) -> Option<u64> {
    status_kb(&std::fs::read_to_string("/proc/self/status").ok()?, key)
}

/// The KiB value of `key` in the text of a `/proc/<pid>/status` file.
pub fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')))?;
    line[key.len() + 1..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_status() {
        let report = WorkerReport {
            engine: "tarn".into(),
            version: "abc".into(),
            times_ms: vec![3.0, 2.0],
            rows: vec![vec![json!(1), json!("x")]],
            error: None,
            peak_rss_kb: Some(10),
        };
        let back = WorkerReport::from_json(&report.to_json().to_string()).unwrap();
        assert_eq!(back.best_ms(), Some(2.0));
        assert_eq!(back.rows, report.rows);
        assert_eq!(status_kb("Name:\tx\nVmHWM:\t  1234 kB\nVmRSS:\t 99 kB\n", "VmHWM"), Some(1234));
        assert_eq!(status_kb("VmRSS:\t 99 kB\n", "VmHWM"), None);
    }
}
