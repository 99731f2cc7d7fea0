//! The Tarn side of `tarn-bench write` (`tarn-bench write-worker`), in its own process: each run
//! opens a fresh home, runs the untimed setup, times the write into a fresh folder, and removes
//! both afterwards. The peak memory (VmHWM) is taken right after the last write, before the
//! read-back, so it is the write's own (plus the small setup); the read-back of the last run is
//! the row compared with DuckDB's.

use std::fs;
use std::path::Path;
use std::time::Instant;

use tarn_engine::{QueryOutput, Session};

use crate::machine;
use crate::rows::batches_to_rows;
use crate::worker_report::{own_status_kb, WorkerReport};
use crate::write_case::CaseFile;

pub fn run(case_file: &Path, work_dir: &Path, runs: usize) -> WorkerReport {
    let mut report = WorkerReport { engine: "tarn".into(), version: machine::tarn_commit(), ..WorkerReport::default() };
    let case = match CaseFile::read(case_file) {
        Ok(case) => case,
        Err(e) => return WorkerReport { error: Some(format!("{e:#}")), ..report },
    };
    for run in 0..runs {
        let last = run + 1 == runs;
        let outcome = one_run(&case, &work_dir.join("tarn-run"), last, &mut report);
        if let Err(error) = outcome {
            report.error = Some(error);
            break;
        }
    }
    report.peak_rss_kb = report.peak_rss_kb.or_else(|| own_status_kb("VmHWM"));
    report
}

fn one_run(case: &CaseFile, dir: &Path, last: bool, report: &mut WorkerReport) -> Result<(), String> {
    clear(dir)?;
    let home = dir.join("home");
    let out = dir.join("out");
    fs::create_dir_all(&home).map_err(|e| format!("creating {}: {e}", home.display()))?;
    let sql = case.tarn_sql(&out);
    let outcome = (|| {
        let mut session = Session::open(&home).map_err(|e| format!("opening {}: {e}", home.display()))?;
        for statement in &sql.setup {
            session.execute(statement).map_err(|e| e.render(statement))?;
        }
        let started = Instant::now();
        session.execute(&sql.write).map_err(|e| e.render(&sql.write))?;
        report.times_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if last {
            report.peak_rss_kb = own_status_kb("VmHWM");
            let outputs = session.execute(&sql.check).map_err(|e| e.render(&sql.check))?;
            if let Some(QueryOutput::Rows { batches, .. }) = outputs.last() {
                report.rows = batches_to_rows(batches).map_err(|e| format!("read-back not readable: {e}"))?;
            }
        }
        Ok(())
    })();
    clear(dir)?;
    outcome
}

fn clear(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    Ok(())
}
