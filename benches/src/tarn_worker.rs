//! The Tarn side of a measurement, run in its own process (`tarn-bench worker`): opens the
//! prepared home, runs one query several times in-process and prints a [`WorkerReport`].

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use tarn_engine::{QueryOutput, Session};

use crate::rows::batches_to_rows;
use crate::worker_report::{own_status_kb, WorkerReport};

/// Runs `sql` `runs` times on a session over `home`, stopping at the first failure. The last
/// statement's rows are the result; all statements of the text count in the time.
pub fn run(home: &Path, sql: &str, runs: usize) -> WorkerReport {
    let mut report = WorkerReport { engine: "tarn".into(), ..WorkerReport::default() };
    match Session::open(home) {
        Ok(mut session) => {
            for _ in 0..runs {
                let started = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| session.execute(sql)));
                let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
                match outcome {
                    Ok(Ok(outputs)) => {
                        report.times_ms.push(elapsed_ms);
                        if let Some(QueryOutput::Rows { batches, .. }) = outputs.last() {
                            match batches_to_rows(batches) {
                                Ok(rows) => report.rows = rows,
                                Err(e) => report.error = Some(format!("result not readable: {e}")),
                            }
                        }
                    }
                    Ok(Err(e)) => report.error = Some(e.render(sql)),
                    Err(panic) => report.error = Some(format!("panicked: {}", panic_message(panic.as_ref()))),
                }
                if report.error.is_some() {
                    break;
                }
            }
        }
        Err(e) => report.error = Some(format!("opening {}: {e}", home.display())),
    }
    report.peak_rss_kb = own_status_kb("VmHWM");
    report
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".into())
}
