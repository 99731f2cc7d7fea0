//! Errors of the engine. Each variant carries what a user needs to find the problem: the SQL
//! token's line and column, the file with row and column, the object key.

use thiserror::Error;

use tarn_catalog::CatalogError;

/// A 1-based position in the SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlPosition {
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, Error)]
pub enum EngineError {
    /// The SQL text does not parse.
    #[error("syntax error at line {}, column {}: {message}", .position.line, .position.column)]
    Syntax { message: String, position: SqlPosition },
    /// The SQL parses but does not make sense against the catalog (unknown table or column, type
    /// mismatch, misuse of an aggregate); `position` points at the offending token when known.
    #[error("{message}{}", .position.map(|p| format!(" (line {}, column {})", p.line, p.column)).unwrap_or_default())]
    Plan { message: String, position: Option<SqlPosition> },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Unsupported(String),
    /// Bad data in a file: names the file and, for text formats, the row (1-based line) and column.
    #[error("{file}{}{}: {message}", .row.map(|r| format!(", row {r}")).unwrap_or_default(), .column.as_ref().map(|c| format!(", column {c}")).unwrap_or_default())]
    Data { file: String, row: Option<u64>, column: Option<String>, message: String },
    /// Storage failure (missing key, access denied, network), naming the location.
    #[error("{}", tarn_catalog::location::s3_error::describe(.location, .message))]
    Storage { location: String, message: String },
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("{0}")]
    Execution(String),
    #[error("query cancelled")]
    Cancelled,
    /// A broken invariant inside Tarn (e.g. an optimizer rule produced an inconsistent plan): a bug
    /// to report, not a user error.
    #[error("internal error: {0}")]
    Internal(String),
    /// The scheduler's signal to a source that its pipeline needs no more batches (a satisfied
    /// `LIMIT`, or another worker failed); the scheduler consumes it, so it never reaches a user.
    #[error("pipeline stopped early")]
    PipelineStopped,
    /// Division or modulo by zero (an error, as in Redshift; DuckDB would return NULL).
    #[error("division by zero")]
    DivisionByZero,
    /// Arithmetic whose result does not fit its type; `operation` names it ("Int32 * Int32").
    #[error("numeric overflow in {operation}")]
    NumericOverflow { operation: String },
    /// `CAST` of a value that has no meaning in the target type (`'abc'::int`).
    #[error("cannot cast {value} to {to}")]
    InvalidCast { value: String, to: String },
    /// A query went over a per-query limit (`memory_limit`, `max_scan_bytes`); says the figure it
    /// reached, the limit as the user set it, and the operator or scan that reached it.
    #[error(
        "query {} more than {} ({setting} = {}; reached {} in {operator})",
        if *.what == "memory" { "needs" } else { "would scan" },
        crate::exec::byte_size::human(*.limit) + if *.what == "memory" { " of memory" } else { "" },
        crate::exec::byte_size::setting_text(*.limit),
        crate::exec::byte_size::human(*.reached)
    )]
    ResourceLimit { what: &'static str, setting: &'static str, limit: u64, reached: u64, operator: String },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    pub fn plan(message: impl Into<String>) -> EngineError {
        EngineError::Plan { message: message.into(), position: None }
    }

    pub fn plan_at(message: impl Into<String>, position: Option<SqlPosition>) -> EngineError {
        EngineError::Plan { message: message.into(), position }
    }

    pub fn execution(message: impl Into<String>) -> EngineError {
        EngineError::Execution(message.into())
    }

    /// The position in the SQL text this error points at, if any.
    pub fn position(&self) -> Option<SqlPosition> {
        match self {
            EngineError::Syntax { position, .. } => Some(*position),
            EngineError::Plan { position, .. } => *position,
            _ => None,
        }
    }

    /// The message followed, for SQL errors, by the offending line with a caret under the token,
    /// as psql prints it.
    pub fn render(&self, sql: &str) -> String {
        let mut out = self.to_string();
        if let Some(pos) = self.position() {
            if let Some(line) = sql.lines().nth(pos.line.saturating_sub(1) as usize) {
                let caret_at = line.chars().take(pos.column.saturating_sub(1) as usize).count();
                out.push_str(&format!(
                    "\nLINE {}: {line}\n{}^",
                    pos.line,
                    " ".repeat(caret_at + "LINE : ".len() + digits(pos.line))
                ));
            }
        }
        // The quoted line may hold a COPY's credentials (`write/copy/redact.rs`).
        crate::write::copy::redact::redact_credentials(&out)
    }
}

fn digits(n: u64) -> usize {
    n.to_string().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_puts_caret_under_token() {
        let err = EngineError::Syntax {
            message: "Expected: an expression, found: FROM".into(),
            position: SqlPosition { line: 2, column: 8 },
        };
        let text = err.render("SELECT a,\n  b +  FROM t");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "LINE 2:   b +  FROM t");
        assert_eq!(lines[2].find('^'), Some("LINE 2: ".len() + 7));
    }
}
