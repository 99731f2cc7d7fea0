//! Queries end to end (bind → optimize → execute) and `EXPLAIN`.

use std::time::{Duration, Instant};

use sqlparser::ast::{Query, Statement};

use crate::error::{EngineError, Result};
use crate::exec::byte_size::human;
use crate::exec::planner;
use crate::optimizer::OptimizerContext;
use crate::plan::LogicalPlan;
use crate::session::result::text_column;
use crate::session::{QueryOutput, Session};
use crate::sql::binder::Binder;

pub(super) fn run_query(session: &Session, query: &Query) -> Result<QueryOutput> {
    let plan = optimized_plan(session, query)?;
    let (schema, batches) = planner::execute(&plan, &session.exec_context())?;
    Ok(QueryOutput::Rows { schema, batches })
}

/// `EXPLAIN <query>`: the optimized logical plan, then the physical pipelines; one `plan` row per
/// line. `EXPLAIN ANALYZE` runs the query and prints the physical plan as it ran (rows, time and
/// memory per step; files, row groups and bytes per scan), how long each optimizer rule took,
/// the rows that came out, the bytes scanned from storage (what Athena would bill) and the peak
/// memory reserved.
pub(super) fn explain(session: &Session, statement: &Statement, analyze: bool) -> Result<QueryOutput> {
    let Statement::Query(query) = statement else {
        return Err(EngineError::Unsupported(format!(
            "not supported yet: EXPLAIN of {}",
            crate::sql::TarnStatement::Sql(Box::new(statement.clone())).kind()
        )));
    };
    let bound = bind(session, query)?;
    let ctx = OptimizerContext::new(session.functions.clone());
    let (plan, timings) = session.settings.optimizer().optimize_timed(bound, &ctx)?;
    let exec = session.exec_context();
    let mut lines = vec!["== Logical plan ==".to_string()];
    lines.extend(crate::optimizer::cardinality::display_with_estimates(&plan).lines().map(str::to_string));
    lines.push("== Physical plan ==".to_string());
    if analyze {
        let started = Instant::now();
        let (physical, rows) = planner::explain_analyze(&plan, &exec)?;
        let elapsed = started.elapsed();
        lines.extend(physical.lines().map(str::to_string));
        lines.push("== Optimizer ==".to_string());
        lines.extend(timings.iter().map(|t| format!("{}: {}", t.rule, millis(t.elapsed))));
        lines.push("== Execution ==".to_string());
        lines.push(format!("{rows} row(s) in {}", millis(elapsed)));
        let scanned = exec.scan_budget.scanned();
        lines.push(format!("bytes scanned: {} ({scanned} bytes)", human(scanned)));
        lines.push(format!("peak memory: {}", human(exec.memory.peak())));
    } else {
        lines.extend(planner::explain(&plan, &exec)?.lines().map(str::to_string));
    }
    text_column("plan", lines)
}

fn millis(elapsed: Duration) -> String {
    format!("{:.3} ms", elapsed.as_secs_f64() * 1000.0)
}

fn bind(session: &Session, query: &Query) -> Result<LogicalPlan> {
    Binder::new(&session.catalog, session.current_database(), &session.functions).bind_query(query)
}

fn optimized_plan(session: &Session, query: &Query) -> Result<LogicalPlan> {
    let plan = bind(session, query)?;
    let ctx = OptimizerContext::new(session.functions.clone());
    session.settings.optimizer().optimize(plan, &ctx)
}
