//! One benchmark run: prepare Tarn's home, find the peers, then for every query run each engine's
//! worker in turn (interleaved, so a change in machine load hits all engines alike), check the
//! answers against each other and print the report.

use std::fs;
use std::path::PathBuf;

use anyhow::Result;

use crate::child::Limits;
use crate::compare::{compare, Verdict};
use crate::engine::{Engine, WorkerLauncher};
use crate::machine;
use crate::report::{render, QueryOutcome, RunHeader};
use crate::storage_floor;
use crate::tarn_home::prepare_home;
use crate::worker_report::WorkerReport;
use crate::workload::Workload;

/// How to run, common to every workload.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub engines: Vec<Engine>,
    pub runs: usize,
    pub limits: Limits,
    pub python: String,
    pub data_dir: PathBuf,
}

/// Runs `workload` and prints its report on stdout; also saved as `data/results/<slug>.md`.
pub fn run_workload(workload: &Workload, slug: &str, options: &RunOptions) -> Result<()> {
    let work_dir = options.data_dir.join("runs").join(slug);
    fs::create_dir_all(&work_dir)?;
    let workload_json = work_dir.join("workload.json");
    workload.write_json(&workload_json)?;
    let launcher = WorkerLauncher {
        python: options.python.clone(),
        home: work_dir.join("tarn-home"),
        workload_json,
        runs: options.runs,
        limits: options.limits,
    };

    let mut notes = Vec::new();
    let mut engines = Vec::new();
    let mut versions = vec![format!("Tarn {}", machine::tarn_commit())];
    for &engine in &options.engines {
        match engine {
            Engine::Tarn => {
                notes.extend(prepare_home(&launcher.home, workload)?);
                engines.push(engine);
            }
            Engine::Duckdb | Engine::Datafusion => match launcher.peer_version(engine) {
                Ok((version, idle_kb)) => {
                    versions.push(format!("{} {version} (idle process {} MiB)", engine.label(), idle_kb / 1024));
                    engines.push(engine);
                }
                Err(why) => notes.push(format!("{} skipped: {why}", engine.label())),
            },
        }
    }

    notes.extend(storage_floor::describe(&workload.tables, options.runs)?);
    let mut header = RunHeader {
        title: workload.title.clone(),
        machine: machine::describe(),
        load_at_end: String::new(),
        versions: versions.join(", "),
        runs: options.runs,
        notes,
    };
    let mut outcomes = Vec::new();
    for query in &workload.queries {
        let mut reports = Vec::new();
        for &engine in &engines {
            let report = launcher.run(engine, query);
            eprintln!("{:<24} {:<11} {}", query.name, engine.label(), progress(&report));
            reports.push((engine, report));
        }
        let (check, differences) = check_results(&reports);
        outcomes.push(QueryOutcome { name: query.name.clone(), reports, check, differences });
    }
    header.load_at_end = machine::load_average();

    let text = render(&header, &engines, &outcomes);
    println!("{text}");
    let results_dir = options.data_dir.join("results");
    fs::create_dir_all(&results_dir)?;
    let saved = results_dir.join(format!("{slug}.md"));
    fs::write(&saved, &text)?;
    eprintln!("report saved to {}", saved.display());
    Ok(())
}

fn progress(report: &WorkerReport) -> String {
    match (&report.error, report.best_ms()) {
        (Some(error), _) => {
            let line = error.lines().next().unwrap_or_default();
            format!("failed: {}", line.chars().take(160).collect::<String>())
        }
        (None, Some(ms)) => format!("{ms:.1} ms ({} rows)", report.rows.len()),
        (None, None) => "no runs".into(),
    }
}

/// The check column and the differences found: every engine's answer compared with the
/// reference, DuckDB's (or DataFusion's when DuckDB failed or did not run).
fn check_results(reports: &[(Engine, WorkerReport)]) -> (String, Vec<String>) {
    let succeeded: Vec<&(Engine, WorkerReport)> = reports.iter().filter(|(_, r)| r.error.is_none()).collect();
    let reference = [Engine::Duckdb, Engine::Datafusion]
        .iter()
        .find_map(|wanted| succeeded.iter().find(|(engine, _)| engine == wanted));
    let Some((reference_engine, reference_report)) = reference else {
        return ("unchecked".into(), Vec::new());
    };
    let mut problems = Vec::new();
    let mut details = Vec::new();
    for (engine, report) in &succeeded {
        if engine == reference_engine {
            continue;
        }
        match compare(&report.rows, &reference_report.rows) {
            Verdict::Same => {}
            Verdict::SameRowsOtherOrder => {
                problems.push(format!("{} order ≠ {}", engine.label(), reference_engine.label()));
                details.push(format!("{} vs {}: same rows in another order", engine.label(), reference_engine.label()));
            }
            Verdict::Differs(what) => {
                problems.push(format!("{} ≠ {}", engine.label(), reference_engine.label()));
                details.push(format!("{} vs {}: {what}", engine.label(), reference_engine.label()));
            }
        }
    }
    let check = match (problems.is_empty(), succeeded.len()) {
        (true, n) if n >= 2 => "same".to_string(),
        (true, _) => "unchecked".to_string(),
        (false, _) => problems.join(", "),
    };
    (check, details)
}
