//! `tarn-bench write`: write throughput (issue 6) of TPC-H `lineitem`, Tarn beside DuckDB in the
//! same run. Three cases ([`WriteCase`]): Athena CTAS to Parquet Snappy, unpartitioned and
//! partitioned by ship year, from the Parquet copy; Redshift `COPY` of the CSV copy into a local
//! table. DuckDB runs `COPY (SELECT …) TO … (FORMAT PARQUET, COMPRESSION SNAPPY[, PARTITION_BY])`
//! and `COPY t FROM '…csv' (HEADER)` into a file database. Every run writes into a fresh folder
//! that is removed afterwards; each engine's worker is its own process, so its VmHWM is its own.
//! What each engine wrote is read back (rows, `sum(l_extendedprice)`) and compared.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::child::run_worker;
use crate::engine::Engine;
use crate::machine;
use crate::run::RunOptions;
use crate::tpch_data;
use crate::worker_report::WorkerReport;
use crate::workload::FileFormat;
use crate::write_case::{CaseFile, WriteCase};

/// One line of the report.
struct CaseOutcome {
    case: WriteCase,
    input_bytes: u64,
    tarn: Option<WorkerReport>,
    duckdb: Option<WorkerReport>,
}

/// Runs the three cases at `scale_factor` and prints the report; also saved as
/// `data/results/write-sf<sf>.md`.
pub fn run(scale_factor: f64, options: &RunOptions) -> Result<()> {
    let slug = format!("write-sf{scale_factor}");
    let work_dir = options.data_dir.join("runs").join(&slug);
    fs::create_dir_all(&work_dir)?;
    let want = |engine| options.engines.contains(&engine);
    let mut versions = vec![format!("Tarn {}", machine::tarn_commit())];
    let mut notes = vec![
        "times are the write statement alone (setup and read-back untimed), best of the runs; MB = 10^6 bytes of \
         input files; peak = the worker's VmHWM right after its last write"
            .to_string(),
        "DuckDB's COPY FROM loads a file database (fresh per run) and its timing includes a CHECKPOINT; Tarn's \
         local table is Parquet in its home"
            .to_string(),
    ];
    let mut duckdb = want(Engine::Duckdb);
    if duckdb {
        let mut command = peer_command(options);
        command.arg("--version");
        let version = run_worker("duckdb", command, options.limits);
        match version.error {
            Some(why) => {
                notes.push(format!("DuckDB skipped: {why}"));
                duckdb = false;
            }
            None => versions.push(format!(
                "DuckDB {} (idle Python + DuckDB process {} MiB, included in its peaks)",
                version.version,
                version.peak_rss_kb.unwrap_or(0) / 1024
            )),
        }
    }

    let mut outcomes = Vec::new();
    for case in WriteCase::ALL {
        let format = if case.reads_csv() { FileFormat::Csv } else { FileFormat::Parquet };
        let tables = tpch_data::prepare(&options.data_dir, scale_factor, format)?;
        let lineitem =
            tables.into_iter().find(|t| t.name == "lineitem").context("the TPC-H tables have no lineitem")?;
        let case_file = CaseFile { case, source: lineitem.location.clone(), columns: lineitem.columns.clone() };
        let case_path = work_dir.join(format!("{}.json", case.key()));
        case_file.write(&case_path)?;
        let input_bytes = folder_bytes(&lineitem.location)?;
        let tarn = want(Engine::Tarn).then(|| {
            let report = tarn_worker(&case_path, &work_dir, options);
            eprintln!("{:<48} Tarn   {}", case.label(), progress(&report));
            report
        });
        let duckdb = duckdb.then(|| {
            let mut command = peer_command(options);
            command
                .arg("--write")
                .arg(&case_path)
                .arg("--out")
                .arg(work_dir.join("duckdb-run"))
                .arg("--runs")
                .arg(options.runs.to_string());
            let report = run_worker("duckdb", command, options.limits);
            eprintln!("{:<48} DuckDB {}", case.label(), progress(&report));
            report
        });
        outcomes.push(CaseOutcome { case, input_bytes, tarn, duckdb });
    }
    let title = format!("Writes: TPC-H SF {scale_factor} lineitem — best of {} runs", options.runs);
    let text = render(&title, &versions.join(", "), &notes, &outcomes);
    println!("{text}");
    let results_dir = options.data_dir.join("results");
    fs::create_dir_all(&results_dir)?;
    let saved = results_dir.join(format!("{slug}.md"));
    fs::write(&saved, &text)?;
    eprintln!("report saved to {}", saved.display());
    Ok(())
}

fn tarn_worker(case_path: &Path, work_dir: &Path, options: &RunOptions) -> WorkerReport {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return WorkerReport::failed("tarn", format!("cannot find tarn-bench: {e}")),
    };
    let mut command = Command::new(exe);
    command
        .arg("write-worker")
        .arg("--case-file")
        .arg(case_path)
        .arg("--work-dir")
        .arg(work_dir)
        .arg("--runs")
        .arg(options.runs.to_string());
    run_worker("tarn", command, options.limits)
}

fn peer_command(options: &RunOptions) -> Command {
    let mut command = Command::new(&options.python);
    command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("peers.py")).arg("--engine").arg("duckdb");
    command
}

/// Total size of the files directly in `dir` (the input of a case).
fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let metadata = entry?.metadata()?;
        if metadata.is_file() {
            total += metadata.len();
        }
    }
    Ok(total)
}

fn progress(report: &WorkerReport) -> String {
    match (&report.error, report.best_ms()) {
        (Some(error), _) => format!("failed: {}", error.lines().next().unwrap_or_default()),
        (None, Some(ms)) => {
            format!("{:.2} s, {} MiB, read back {:?}", ms / 1000.0, report.peak_rss_kb.unwrap_or(0) / 1024, report.rows)
        }
        (None, None) => "no runs".into(),
    }
}

/// The read-back `[rows, sum(l_extendedprice)]` of a successful report.
fn read_back(report: &WorkerReport) -> Option<(u64, f64)> {
    if report.error.is_some() {
        return None;
    }
    let row = report.rows.first()?;
    Some((row.first()?.as_u64()?, row.get(1).and_then(Value::as_f64)?))
}

/// Whether two read-backs agree: equal row counts and checksums within half a cent (the sums are
/// decimals reported as floats; for sums past ~10^10 a relative 1e-12 allows for that rounding).
fn check(tarn: Option<(u64, f64)>, duckdb: Option<(u64, f64)>) -> String {
    match (tarn, duckdb) {
        (Some((rows_a, sum_a)), Some((rows_b, sum_b))) => {
            let tolerance = (sum_b.abs() * 1e-12).max(0.005);
            if rows_a != rows_b {
                format!("rows differ: Tarn {rows_a}, DuckDB {rows_b}")
            } else if (sum_a - sum_b).abs() > tolerance {
                format!("sum(l_extendedprice) differs: Tarn {sum_a:.2}, DuckDB {sum_b:.2}")
            } else {
                "same".into()
            }
        }
        _ => "unchecked".into(),
    }
}

fn render(title: &str, versions: &str, notes: &[String], outcomes: &[CaseOutcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n");
    let _ = writeln!(out, "- machine: {} (at the end of the run)", machine::describe());
    let _ = writeln!(out, "- versions: {versions}");
    for note in notes {
        let _ = writeln!(out, "- note: {note}");
    }
    let _ = writeln!(
        out,
        "\n| case | input MB | Tarn s | DuckDB s | Tarn MB/s | DuckDB MB/s | speed Tarn ÷ DuckDB | peak MiB Tarn | peak MiB DuckDB | rows written | check |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut failures = Vec::new();
    for outcome in outcomes {
        let mb = outcome.input_bytes as f64 / 1e6;
        let seconds = |r: &Option<WorkerReport>| r.as_ref().and_then(WorkerReport::best_ms).map(|ms| ms / 1000.0);
        let (tarn_s, duckdb_s) = (seconds(&outcome.tarn), seconds(&outcome.duckdb));
        let cell = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or("—".into());
        let rate = |s: Option<f64>| s.filter(|s| *s > 0.0).map(|s| mb / s);
        let ratio = match (tarn_s, duckdb_s) {
            (Some(t), Some(d)) if t > 0.0 => format!("{:.2}×", d / t),
            _ => "—".into(),
        };
        let peak = |r: &Option<WorkerReport>| {
            r.as_ref().and_then(|r| r.peak_rss_kb).map(|kb| (kb / 1024).to_string()).unwrap_or("—".into())
        };
        let tarn_back = outcome.tarn.as_ref().and_then(read_back);
        let duckdb_back = outcome.duckdb.as_ref().and_then(read_back);
        let rows = tarn_back.or(duckdb_back).map(|(rows, _)| rows.to_string()).unwrap_or("—".into());
        let _ = writeln!(
            out,
            "| {} | {mb:.2} | {} | {} | {} | {} | {ratio} | {} | {} | {rows} | {} |",
            outcome.case.label(),
            cell(tarn_s, 2),
            cell(duckdb_s, 2),
            cell(rate(tarn_s), 1),
            cell(rate(duckdb_s), 1),
            peak(&outcome.tarn),
            peak(&outcome.duckdb),
            check(tarn_back, duckdb_back),
        );
        for (engine, report) in [("Tarn", &outcome.tarn), ("DuckDB", &outcome.duckdb)] {
            if let Some(error) = report.as_ref().and_then(|r| r.error.as_deref()) {
                failures.push(format!("- {} ({engine}): {}", outcome.case.label(), error.replace('\n', " ")));
            }
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "\nFailures:\n{}", failures.join("\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(ms: f64, rows: u64, sum: f64, peak_kb: u64) -> WorkerReport {
        WorkerReport {
            engine: "x".into(),
            times_ms: vec![ms * 2.0, ms],
            rows: vec![vec![json!(rows), json!(sum)]],
            peak_rss_kb: Some(peak_kb),
            ..WorkerReport::default()
        }
    }

    #[test]
    fn checks_rows_and_checksum() {
        assert_eq!(check(Some((10, 1.25)), Some((10, 1.25))), "same");
        assert_eq!(check(Some((10, 1.25)), Some((11, 1.25))), "rows differ: Tarn 10, DuckDB 11");
        assert!(check(Some((10, 1.25)), Some((10, 1.27))).starts_with("sum(l_extendedprice) differs"));
        // Large decimal sums reported as floats may differ in the last bits only.
        let sum = 229_577_310_901.2;
        assert_eq!(check(Some((10, sum)), Some((10, sum + 1e-4))), "same");
        assert_eq!(check(None, Some((10, 1.0))), "unchecked");
        let failed = WorkerReport { error: Some("boom".into()), ..report(1.0, 1, 1.0, 1) };
        assert_eq!(read_back(&failed), None);
        assert_eq!(read_back(&report(1.0, 7, 3.5, 1)), Some((7, 3.5)));
    }

    #[test]
    fn renders_rates_ratio_and_failures() {
        let outcomes = [
            CaseOutcome {
                case: WriteCase::Ctas,
                input_bytes: 20_000_000,
                tarn: Some(report(500.0, 600, 9.5, 100 * 1024)),
                duckdb: Some(report(1000.0, 600, 9.5, 300 * 1024)),
            },
            CaseOutcome {
                case: WriteCase::CopyCsv,
                input_bytes: 75_000_000,
                tarn: Some(WorkerReport::failed("tarn", "no\nway".into())),
                duckdb: Some(report(1500.0, 600, 9.5, 200 * 1024)),
            },
        ];
        let text = render("t", "v", &[], &outcomes);
        assert!(
            text.contains("| CTAS → Parquet Snappy, unpartitioned | 20.00 | 0.50 | 1.00 | 40.0 | 20.0 | 2.00× | 100 | 300 | 600 | same |"),
            "{text}"
        );
        assert!(text.contains("| COPY CSV → local table | 75.00 | — | 1.50 | — | 50.0 | — |"), "{text}");
        assert!(text.contains("- COPY CSV → local table (Tarn): no way"), "{text}");
    }
}
