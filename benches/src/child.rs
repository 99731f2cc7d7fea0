//! Runs one engine worker process for one query, under a wall-clock timeout and a resident-memory
//! limit, and turns whatever happens (a report, an error exit, a crash, a kill) into a
//! [`WorkerReport`]. One process per engine and query isolates crashes and runaway queries and
//! makes each peak-memory figure that query's own.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::worker_report::{status_kb, WorkerReport};

/// How often the memory of a running worker is sampled.
const POLL: Duration = Duration::from_millis(20);

/// Stops for a worker: past either, it is killed and the query reported as failed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_rss_kb: u64,
}

/// Runs `command` (which prints one JSON report on stdout) to completion or a limit.
pub fn run_worker(engine: &str, mut command: Command, limits: Limits) -> WorkerReport {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return WorkerReport::failed(engine, format!("could not start the worker: {e}")),
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (status, stopped, max_rss_kb) = supervise(&mut child, limits);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();

    if let Some(reason) = stopped {
        let mut report = WorkerReport::failed(engine, reason);
        report.peak_rss_kb = Some(max_rss_kb);
        return report;
    }
    match WorkerReport::from_json(stdout.trim()) {
        Ok(mut report) => {
            report.peak_rss_kb = report.peak_rss_kb.or(Some(max_rss_kb));
            report
        }
        Err(_) => {
            let how = status.map(|s| s.to_string()).unwrap_or_else(|| "unknown status".into());
            let mut report = WorkerReport::failed(engine, format!("worker died ({how}): {}", tail(&stderr)));
            report.peak_rss_kb = Some(max_rss_kb);
            report
        }
    }
}

/// Waits for `child`, killing it past a limit; returns its status, the reason it was stopped
/// (if it was), and the largest resident size seen.
fn supervise(child: &mut Child, limits: Limits) -> (Option<std::process::ExitStatus>, Option<String>, u64) {
    let started = Instant::now();
    let status_path = format!("/proc/{}/status", child.id());
    let mut max_rss_kb = 0;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), None, max_rss_kb),
            Ok(None) => {}
            Err(e) => return (None, Some(format!("lost the worker: {e}")), max_rss_kb),
        }
        let rss = std::fs::read_to_string(&status_path).ok().and_then(|s| status_kb(&s, "VmRSS")).unwrap_or(0);
        max_rss_kb = max_rss_kb.max(rss);
        let stop = if rss > limits.max_rss_kb {
            Some(format!("killed at {} MiB resident (limit {} MiB)", rss / 1024, limits.max_rss_kb / 1024))
        } else if started.elapsed() > limits.timeout {
            Some(format!("killed after the {} s timeout", limits.timeout.as_secs()))
        } else {
            None
        };
        if let Some(reason) = stop {
            // Our own child, by its handle; an error means it already exited, which is fine.
            let _ = child.kill();
            let status = child.wait().ok();
            return (status, Some(reason), max_rss_kb);
        }
        thread::sleep(POLL);
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            // A read error leaves what was read so far, which is all a report can use anyway.
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// The last few lines of a worker's stderr, for the failure message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    let text = lines[start..].join(" | ");
    if text.is_empty() {
        "no message".into()
    } else {
        text
    }
}
