//! The engines a run compares and how to start a worker process for each: Tarn through this
//! binary's hidden `worker` subcommand, DuckDB and DataFusion through `peers.py` and their Python
//! packages.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::child::{run_worker, Limits};
use crate::worker_report::WorkerReport;
use crate::workload::QuerySpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    Tarn,
    Duckdb,
    Datafusion,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Tarn, Engine::Duckdb, Engine::Datafusion];

    /// The name in report headers.
    pub fn label(self) -> &'static str {
        match self {
            Engine::Tarn => "Tarn",
            Engine::Duckdb => "DuckDB",
            Engine::Datafusion => "DataFusion",
        }
    }

    /// The name `peers.py --engine` takes.
    fn key(self) -> &'static str {
        match self {
            Engine::Tarn => "tarn",
            Engine::Duckdb => "duckdb",
            Engine::Datafusion => "datafusion",
        }
    }
}

/// Everything needed to start workers for one workload.
pub struct WorkerLauncher {
    pub python: String,
    /// The prepared Tarn home (see [`crate::tarn_home`]).
    pub home: PathBuf,
    /// The workload's JSON for `peers.py`.
    pub workload_json: PathBuf,
    pub runs: usize,
    pub limits: Limits,
}

impl WorkerLauncher {
    /// Runs `query` on `engine` in a new worker process.
    pub fn run(&self, engine: Engine, query: &QuerySpec) -> WorkerReport {
        let command = match engine {
            Engine::Tarn => {
                let mut command = match std::env::current_exe() {
                    Ok(exe) => Command::new(exe),
                    Err(e) => return WorkerReport::failed(engine.key(), format!("cannot find tarn-bench: {e}")),
                };
                command.arg("worker").arg("--home").arg(&self.home);
                command
            }
            Engine::Duckdb | Engine::Datafusion => {
                let mut command = self.peer_command(engine);
                command.arg("--workload").arg(&self.workload_json);
                command
            }
        };
        let mut command = command;
        command.arg("--query-file").arg(&query.path).arg("--runs").arg(self.runs.to_string());
        run_worker(engine.key(), command, self.limits)
    }

    /// The peer's version and the resident memory of its worker with the package loaded and
    /// nothing run (the floor under its per-query figures), or why it cannot run here.
    pub fn peer_version(&self, engine: Engine) -> Result<(String, u64), String> {
        let mut command = self.peer_command(engine);
        command.arg("--version");
        let report = run_worker(engine.key(), command, self.limits);
        match report.error {
            None => Ok((report.version, report.peak_rss_kb.unwrap_or(0))),
            Some(error) => Err(error),
        }
    }

    fn peer_command(&self, engine: Engine) -> Command {
        let mut command = Command::new(&self.python);
        command.arg(peers_script()).arg("--engine").arg(engine.key());
        command
    }
}

/// `peers.py` beside this crate's manifest.
fn peers_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers.py")
}
