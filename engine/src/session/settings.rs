//! Session settings changed with `SET key = value` (or `SET key TO value`).

use std::collections::BTreeSet;

use sqlparser::ast::{Expr, Set, Spanned, Value};

use crate::error::{EngineError, Result};
use crate::exec::byte_size::{self, parse_byte_size};
use crate::exec::memory_limit::default_memory_limit;
use crate::optimizer::Optimizer;
use crate::session::{QueryOutput, Session};
use crate::sql::dialect::position;

/// Rows per batch sources aim for: large enough to amortise per-batch work, small enough that a
/// batch of a wide table stays in cache (design §2: ~8k–64k).
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// The settings of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Target rows per batch (`SET batch_size = 8192`).
    pub batch_size: usize,
    /// Optimizer rules to skip, by name (`SET disabled_rules = 'filter_pushdown,...'`).
    pub disabled_rules: BTreeSet<String>,
    /// Bytes a query's sinks may hold (`SET memory_limit = '2GB'`); `None`: unlimited. Defaults
    /// to 75% of physical memory.
    pub memory_limit: Option<u64>,
    /// Bytes a query may read from storage (`SET max_scan_bytes = '10GB'`); `None` (the
    /// default): unlimited.
    pub max_scan_bytes: Option<u64>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            batch_size: DEFAULT_BATCH_SIZE,
            disabled_rules: BTreeSet::new(),
            memory_limit: default_memory_limit(),
            max_scan_bytes: None,
        }
    }
}

/// The names `SET` accepts, for the error that lists them.
const SETTING_NAMES: &[&str] = &["batch_size", "disabled_rules", "max_scan_bytes", "memory_limit"];

impl Settings {
    /// Applies `name = value`; `value` is the text of the literal or identifier list given.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        match name.to_ascii_lowercase().as_str() {
            "batch_size" => {
                self.batch_size = match value.trim().parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(EngineError::plan(format!("batch_size must be a positive integer, not '{value}'")))
                    }
                };
            }
            "disabled_rules" => {
                let optimizer = Optimizer::new();
                let known = optimizer.rule_names();
                let mut rules = BTreeSet::new();
                for rule in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    let rule = rule.to_ascii_lowercase();
                    if !known.contains(&rule.as_str()) {
                        return Err(EngineError::plan(format!(
                            "unknown optimizer rule '{rule}'; the rules are: {}",
                            known.join(", ")
                        )));
                    }
                    rules.insert(rule);
                }
                self.disabled_rules = rules;
            }
            "memory_limit" => self.memory_limit = parse_limit("memory_limit", value)?,
            "max_scan_bytes" => self.max_scan_bytes = parse_limit("max_scan_bytes", value)?,
            other => {
                return Err(EngineError::plan(format!(
                    "unknown setting '{other}'; the settings are: {}",
                    SETTING_NAMES.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// The value of a setting as `SET` would take it back.
    pub fn get(&self, name: &str) -> Option<String> {
        match name {
            "batch_size" => Some(self.batch_size.to_string()),
            "disabled_rules" => Some(self.disabled_rules.iter().cloned().collect::<Vec<_>>().join(",")),
            "memory_limit" => Some(limit_text(self.memory_limit)),
            "max_scan_bytes" => Some(limit_text(self.max_scan_bytes)),
            _ => None,
        }
    }

    /// An optimizer with the default rules minus the disabled ones.
    pub fn optimizer(&self) -> Optimizer {
        let mut optimizer = Optimizer::new();
        optimizer.disabled_rules = self.disabled_rules.iter().cloned().collect();
        optimizer
    }
}

/// A byte limit: `'2GB'`, `'512MiB'`, a byte count, or `'unlimited'`.
fn parse_limit(name: &str, value: &str) -> Result<Option<u64>> {
    if value.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match parse_byte_size(value) {
        Some(bytes) if bytes > 0 => Ok(Some(bytes)),
        _ => Err(EngineError::plan(format!(
            "{name} must be a size such as '2GB', '512MB' or 'unlimited', not '{value}'"
        ))),
    }
}

fn limit_text(limit: Option<u64>) -> String {
    limit.map(byte_size::setting_text).unwrap_or_else(|| "unlimited".to_string())
}

/// `SET key = value[, value...]`: values are literals or bare words, joined with commas (so
/// `SET disabled_rules = a, b` and `SET disabled_rules = 'a,b'` mean the same).
pub(super) fn execute_set(session: &mut Session, set: &Set) -> Result<QueryOutput> {
    let Set::SingleAssignment { variable, values, .. } = set else {
        return Err(EngineError::Unsupported(format!("not supported yet: {set}")));
    };
    let name = variable.to_string().to_ascii_lowercase();
    let texts = values.iter().map(setting_text).collect::<Result<Vec<_>>>()?;
    let value = texts.join(",");
    let mut settings = session.settings.clone();
    let reset = value.eq_ignore_ascii_case("default");
    if reset {
        let defaults = Settings::default();
        // `get` knows exactly the names `set` accepts.
        let default_value = defaults.get(&name).unwrap_or_default();
        settings.set(&name, &default_value)?;
    } else {
        settings.set(&name, &value)?;
    }
    session.settings = settings;
    let shown = session.settings.get(&name).unwrap_or_default();
    Ok(QueryOutput::Message(format!("SET {name} = '{shown}'")))
}

fn setting_text(expr: &Expr) -> Result<String> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Ok(s.clone()),
            Value::Number(n, _) => Ok(n.to_string()),
            Value::Boolean(b) => Ok(b.to_string()),
            other => Err(EngineError::plan_at(
                format!("a setting value must be a literal, not {other}"),
                Some(position(v.span.start)),
            )),
        },
        Expr::Identifier(ident) => Ok(ident.value.clone()),
        other => Err(EngineError::plan_at(
            format!("a setting value must be a literal, not {other}"),
            Some(position(other.span().start)).filter(|p| p.line > 0),
        )),
    }
}
