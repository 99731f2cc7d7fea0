//! How failures reach the user: one `ERROR: ...` paragraph on stderr, and for SQL errors the
//! offending line of the script with a caret under the token.

use std::fmt;
use std::io;

use tarn_engine::EngineError;

/// A statement that failed, with its message already rendered against the script (the engine's
/// positions are the script's), so a SQL error shows its line with a caret under the token.
#[derive(Debug)]
pub struct StatementFailure {
    message: String,
    cancelled: bool,
}

impl StatementFailure {
    pub fn new(error: EngineError, script: &str) -> StatementFailure {
        let cancelled = matches!(error, EngineError::Cancelled);
        StatementFailure { message: error.render(script), cancelled }
    }

    /// Ctrl-C in the REPL: the REPL prints `query cancelled` and goes on.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }
}

impl fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StatementFailure {}

/// The paragraph printed on stderr: `ERROR: ` and the error with its causes, outermost first.
pub fn report(error: &anyhow::Error) -> String {
    format!("ERROR: {error:#}")
}

/// A reader that closed our stdout (`tarn -c ... | head`) is not a failure of the query.
pub fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

/// Whether the error is a query the user cancelled.
pub fn is_cancelled(error: &anyhow::Error) -> bool {
    error.downcast_ref::<StatementFailure>().is_some_and(StatementFailure::is_cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tarn_engine::SqlPosition;

    #[test]
    fn sql_errors_show_the_script_line_with_a_caret() {
        let script = "SELECT 1;\nSELECT 2; SELECT nope FROM t;";
        let error = EngineError::Plan {
            message: "column \"nope\" not found".into(),
            position: Some(SqlPosition { line: 2, column: 18 }),
        };
        let failure = StatementFailure::new(error, script);
        assert!(!failure.is_cancelled());
        let text = report(&anyhow::Error::new(failure));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ERROR: column \"nope\" not found (line 2, column 18)");
        assert_eq!(lines[1], "LINE 2: SELECT 2; SELECT nope FROM t;");
        assert_eq!(lines[2].find('^'), Some("LINE 2: ".len() + 17));
    }

    #[test]
    fn cancellation_is_recognised() {
        let error = anyhow::Error::new(StatementFailure::new(EngineError::Cancelled, "SELECT 1"));
        assert!(is_cancelled(&error));
        assert_eq!(error.to_string(), "query cancelled");
    }

    #[test]
    fn report_is_one_error_paragraph() {
        let error = anyhow::Error::new(io::Error::other("disk full")).context("writing demo-lake/x.csv");
        assert_eq!(report(&error), "ERROR: writing demo-lake/x.csv: disk full");
        assert!(!is_closed_pipe(&error));
        assert!(is_closed_pipe(&anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))));
    }
}
