//! `tarn-bench crawl`: how fast and in how much memory a lake of small Parquet objects is
//! discovered. Tarn's first crawl (a fresh catalog each run) and re-crawl of the unchanged lake
//! are timed beside DuckDB's `count(*) FROM read_parquet('**/*.parquet', hive_partitioning=1)` and
//! DataFusion's listing table, which read the same footers to answer. Every measurement runs in
//! its own worker process, so each peak-memory figure (VmHWM) is that measurement's own.
//!
//! With `--s3` the lake is served by a loopback S3 server in this process ([`crate::crawl_s3`])
//! and the workers reach it through the standard AWS environment.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tarn_crawler::{run_crawl, CrawlOptions, ProgressMode};
use tarn_engine::Session;

use crate::child::run_worker;
use crate::crawl_data::{self, PARTITIONS, ROWS_PER_OBJECT};
use crate::crawl_s3::S3Lake;
use crate::engine::Engine;
use crate::machine;
use crate::run::RunOptions;
use crate::worker_report::{own_status_kb, WorkerReport};

/// What to crawl.
pub struct CrawlShape {
    pub objects: u64,
    pub s3: bool,
}

/// One line of the report: a measurement and its worker reports (one per process).
struct Measurement {
    label: String,
    engine: Engine,
    reports: Vec<WorkerReport>,
}

impl Measurement {
    fn error(&self) -> Option<&str> {
        self.reports.iter().find_map(|r| r.error.as_deref())
    }

    fn best_ms(&self) -> Option<f64> {
        if self.error().is_some() {
            return None;
        }
        self.reports.iter().filter_map(WorkerReport::best_ms).reduce(f64::min)
    }

    fn peak_kb(&self) -> Option<u64> {
        self.reports.iter().filter_map(|r| r.peak_rss_kb).max()
    }

    /// The last answer: Tarn `[objects listed, objects read, objects reused, rows]`, peers `[rows]`.
    fn answer(&self) -> Option<&Vec<Value>> {
        self.reports.iter().rev().find_map(|r| r.rows.first())
    }

    /// The rows the engine found in the lake (Tarn: the crawled tables' `recordCount` total).
    fn rows_found(&self) -> Option<u64> {
        let answer = self.answer()?;
        answer.last()?.as_u64()
    }
}

/// Runs the crawl workload and prints its report; also saved as `data/results/<slug>.md`.
pub fn run(shape: &CrawlShape, options: &RunOptions) -> Result<()> {
    let where_ = if shape.s3 { "loopback S3" } else { "local folder" };
    let slug = format!("crawl-{}{}", shape.objects, if shape.s3 { "-s3" } else { "" });
    let work_dir = options.data_dir.join("runs").join(&slug);
    fs::create_dir_all(&work_dir)?;
    let lake_dir = crawl_data::prepare(&options.data_dir, shape.objects)?;
    let server = if shape.s3 { Some(S3Lake::start(&options.data_dir, shape.objects)?) } else { None };
    let (url, env) = match &server {
        Some(server) => (server.url(), server.env()),
        None => (format!("{}/", lake_dir.display()), Vec::new()),
    };

    let mut notes = vec![format!(
        "each object is a {}-byte Parquet file of {ROWS_PER_OBJECT} rows; Tarn's first crawl starts from an empty \
         catalog every run, its re-crawl lists the unchanged lake again",
        crawl_data::template()?.len()
    )];
    let mut versions = vec![format!("Tarn {}", machine::tarn_commit())];
    let mut measurements = Vec::new();
    for &engine in &options.engines {
        match engine {
            Engine::Tarn => {
                let home = work_dir.join("tarn-home");
                let mut first = Vec::new();
                for _ in 0..options.runs {
                    if home.exists() {
                        fs::remove_dir_all(&home).with_context(|| format!("clearing {}", home.display()))?;
                    }
                    first.push(tarn_worker(&home, &url, &env, 1, options));
                    eprintln!("Tarn first crawl: {}", progress(first.last()));
                }
                let first_failed = first.iter().any(|r| r.error.is_some());
                measurements.push(Measurement { label: "Tarn first crawl".into(), engine, reports: first });
                if !first_failed {
                    let again = tarn_worker(&home, &url, &env, options.runs, options);
                    eprintln!("Tarn re-crawl: {}", progress(Some(&again)));
                    measurements.push(Measurement {
                        label: "Tarn re-crawl, unchanged".into(),
                        engine,
                        reports: vec![again],
                    });
                }
            }
            Engine::Duckdb if shape.s3 => {
                notes.push("DuckDB skipped on S3: its httpfs extension is not installed here (it downloads it)".into())
            }
            Engine::Duckdb | Engine::Datafusion => {
                let mut version = peer_command(options, engine, &[]);
                version.arg("--version");
                let version = run_worker(engine_key(engine), version, options.limits);
                if let Some(why) = version.error {
                    notes.push(format!("{} skipped: {why}", engine.label()));
                    continue;
                }
                versions.push(format!("{} {}", engine.label(), version.version));
                let root = match &server {
                    Some(_) => url.clone(),
                    None => lake_dir.display().to_string(),
                };
                let mut command = peer_command(options, engine, &env);
                command.arg("--crawl").arg(&root).arg("--runs").arg(options.runs.to_string());
                let report = run_worker(engine_key(engine), command, options.limits);
                eprintln!("{}: {}", engine.label(), progress(Some(&report)));
                let label = match engine {
                    Engine::Duckdb => "DuckDB count(*) read_parquet(hive_partitioning=1)",
                    _ => "DataFusion listing table count(*)",
                };
                measurements.push(Measurement { label: label.into(), engine, reports: vec![report] });
            }
        }
    }
    let title = format!(
        "Crawl discovery: {} objects in {} Hive partitions ({where_}) — best of {} runs",
        group_digits(shape.objects),
        group_digits(PARTITIONS),
        options.runs
    );
    let text = render(&title, &versions.join(", "), &notes, shape.objects, &measurements);
    println!("{text}");
    let results_dir = options.data_dir.join("results");
    fs::create_dir_all(&results_dir)?;
    let saved = results_dir.join(format!("{slug}.md"));
    fs::write(&saved, &text)?;
    eprintln!("report saved to {}", saved.display());
    Ok(())
}

fn tarn_worker(
    home: &Path,
    url: &str,
    env: &[(&'static str, String)],
    runs: usize,
    options: &RunOptions,
) -> WorkerReport {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return WorkerReport::failed("tarn", format!("cannot find tarn-bench: {e}")),
    };
    let mut command = Command::new(exe);
    command.arg("crawl-worker").arg("--home").arg(home).arg("--url").arg(url).arg("--runs").arg(runs.to_string());
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    run_worker("tarn", command, options.limits)
}

fn peer_command(options: &RunOptions, engine: Engine, env: &[(&'static str, String)]) -> Command {
    let mut command = Command::new(&options.python);
    command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("peers.py")).arg("--engine").arg(engine_key(engine));
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
}

fn engine_key(engine: Engine) -> &'static str {
    match engine {
        Engine::Tarn => "tarn",
        Engine::Duckdb => "duckdb",
        Engine::Datafusion => "datafusion",
    }
}

fn progress(report: Option<&WorkerReport>) -> String {
    match report {
        Some(WorkerReport { error: Some(error), .. }) => {
            format!("failed: {}", error.lines().next().unwrap_or_default())
        }
        Some(report) => match report.best_ms() {
            Some(ms) => format!("{:.2} s, {} MiB", ms / 1000.0, report.peak_rss_kb.unwrap_or(0) / 1024),
            None => "no runs".into(),
        },
        None => "no report".into(),
    }
}

/// The Tarn side (`tarn-bench crawl-worker`): `runs` crawls of `url` into the catalog of `home`,
/// each timed; the answer is `[objects listed, objects read, objects reused, rows]` of the last.
pub fn worker(home: &Path, url: &str, runs: usize) -> WorkerReport {
    let mut report = WorkerReport { engine: "tarn".into(), version: machine::tarn_commit(), ..WorkerReport::default() };
    match Session::open(home) {
        Ok(session) => {
            for _ in 0..runs {
                let mut options = CrawlOptions::new(url, "lake");
                options.progress = ProgressMode::Never;
                let started = Instant::now();
                let outcome = tarn_engine::io::runtime::io_runtime().block_on(run_crawl(
                    session.catalog(),
                    session.stores(),
                    &options,
                ));
                let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
                match outcome {
                    Ok(crawl) => {
                        report.times_ms.push(elapsed_ms);
                        let plan = &crawl.plan;
                        let rows: u64 = plan.tables.iter().map(|t| t.stats.rows).sum();
                        report.rows = vec![vec![
                            json!(plan.objects_listed),
                            json!(plan.objects_read),
                            json!(plan.objects_reused),
                            json!(rows),
                        ]];
                    }
                    Err(e) => {
                        report.error = Some(format!("crawl of {url}: {e}"));
                        break;
                    }
                }
            }
        }
        Err(e) => report.error = Some(format!("opening {}: {e}", home.display())),
    }
    report.peak_rss_kb = own_status_kb("VmHWM");
    report
}

fn render(title: &str, versions: &str, notes: &[String], objects: u64, measurements: &[Measurement]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n");
    let _ = writeln!(out, "- machine: {} (at the end of the run)", machine::describe());
    let _ = writeln!(out, "- versions: {versions}");
    for note in notes {
        let _ = writeln!(out, "- note: {note}");
    }
    let reference = [Engine::Duckdb, Engine::Datafusion]
        .iter()
        .find_map(|wanted| measurements.iter().find(|m| m.engine == *wanted && m.best_ms().is_some()));
    let ratio_label = reference.map(|r| r.engine.label()).unwrap_or("peer");
    let _ = writeln!(
        out,
        "\n| measurement | best s | objects/s | peak MiB | time ÷ {ratio_label} | memory ÷ {ratio_label} | objects read | rows found |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let expected_rows = objects * ROWS_PER_OBJECT;
    for m in measurements {
        let (time, rate) = match m.best_ms() {
            Some(ms) => (format!("{:.2}", ms / 1000.0), format!("{:.0}", objects as f64 / (ms / 1000.0))),
            None => ("fail".into(), "—".into()),
        };
        let peak = m.peak_kb().map(|kb| (kb / 1024).to_string()).unwrap_or("—".into());
        let ratio = |mine: Option<f64>, theirs: Option<f64>| match (mine, theirs) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "—".into(),
        };
        let time_ratio = ratio(m.best_ms(), reference.and_then(Measurement::best_ms));
        let memory_ratio =
            ratio(m.peak_kb().map(|kb| kb as f64), reference.and_then(Measurement::peak_kb).map(|kb| kb as f64));
        let read = match (m.engine, m.answer()) {
            (Engine::Tarn, Some(answer)) => {
                answer.get(1).and_then(Value::as_u64).map(group_digits).unwrap_or("—".into())
            }
            _ => "all".into(),
        };
        let rows = match m.rows_found() {
            Some(rows) if rows == expected_rows => group_digits(rows),
            Some(rows) => format!("{} (expected {})", group_digits(rows), group_digits(expected_rows)),
            None => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {time} | {rate} | {peak} | {time_ratio} | {memory_ratio} | {read} | {rows} |",
            m.label
        );
    }
    let failures: Vec<String> =
        measurements.iter().filter_map(|m| Some(format!("- {}: {}", m.label, m.error()?.replace('\n', " ")))).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nFailures:\n{}", failures.join("\n"));
    }
    out
}

fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits() {
        assert_eq!(group_digits(100_000), "100,000");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
    }
}
