//! Runs SQL text through a session, one statement at a time, printing each result as it arrives.

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tarn_engine::sql::parse_statements;
use tarn_engine::{QueryOutput, Session};

use crate::error::StatementFailure;
use crate::output::OutputFormat;

/// A session plus how its results are shown.
pub struct SqlRunner {
    session: Session,
    pub format: OutputFormat,
    /// Print `Time: ... ms` after each statement.
    pub timing: bool,
}

impl SqlRunner {
    pub fn new(session: Session, format: OutputFormat, timing: bool) -> SqlRunner {
        SqlRunner { session, format, timing }
    }

    /// The session, for commands that work on its catalog directly (`tarn crawl`).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The flag that cancels the running statement when set (the REPL's Ctrl-C).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.session.cancel_flag()
    }

    /// Runs every statement of `script` in order and prints each result to `out` as soon as its
    /// statement finishes. The whole script is parsed first, so a syntax error anywhere runs
    /// nothing; a statement that fails at run time stops the script after the results of the
    /// statements before it were printed.
    pub fn run_script(&mut self, script: &str, out: &mut dyn Write) -> anyhow::Result<()> {
        let statements = parse_statements(script).map_err(|error| StatementFailure::new(error, script))?;
        for (statement, _text) in &statements {
            let started = Instant::now();
            let output =
                self.session.execute_statement(statement).map_err(|error| StatementFailure::new(error, script))?;
            let elapsed = started.elapsed();
            self.print(&output, out)?;
            if self.timing {
                self.print_timing(elapsed, out)?;
            }
            out.flush()?;
        }
        Ok(())
    }

    /// Human chatter goes to stdout only in the formats for people; the machine formats keep
    /// stdout to rows (DDL messages are dropped, timing goes to stderr).
    fn print(&self, output: &QueryOutput, out: &mut dyn Write) -> anyhow::Result<()> {
        match output {
            QueryOutput::Rows { schema, batches } => self.format.write_rows(out, schema, batches),
            QueryOutput::Message(message) if self.format.is_for_people() => Ok(writeln!(out, "{message}")?),
            QueryOutput::Message(_) => Ok(()),
        }
    }

    fn print_timing(&self, elapsed: Duration, out: &mut dyn Write) -> io::Result<()> {
        let line = format!("Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0);
        if self.format.is_for_people() {
            writeln!(out, "{line}")
        } else {
            writeln!(io::stderr(), "{line}")
        }
    }
}
