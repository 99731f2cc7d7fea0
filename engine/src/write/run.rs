//! Running a write: a query's pipelines (or a COPY's source) feed a [`WriteSink`] instead of the
//! result collector, then the written files are published and committed in one catalog
//! transaction; any failure on the way removes every file the write created.

use std::sync::Arc;

use crate::error::Result;
use crate::exec::physical_plan::{PhysicalPlan, Pipeline, PipelineInput, Stage};
use crate::exec::pipeline::{ExecContext, Sink, Source};
use crate::exec::planner::create_physical_plan;
use crate::exec::scheduler::run_plan;
use crate::plan::LogicalPlan;
use crate::write::sink::{WriteSink, WriteSpec};
use crate::write::staging::{WriteTarget, WrittenFile};

/// What `create_physical_plan` names the stage it adds to collect a query's result.
const RESULT_SINK: &str = "Result";

/// Runs `plan` into files of `spec`'s target; the files are complete but not yet visible.
pub fn write_plan(plan: &LogicalPlan, spec: WriteSpec, ctx: &ExecContext) -> Result<Vec<WrittenFile>> {
    let target = spec.target.clone();
    let sink = Arc::new(WriteSink::new(spec));
    let outcome = create_physical_plan(plan, ctx).and_then(|physical| {
        let physical = into_sink(physical, sink.clone());
        run_plan(&physical, ctx)
    });
    finish(outcome.map(|_| ()), &sink, &target)
}

/// Runs every morsel of `source` into files of `spec`'s target (COPY).
pub fn write_source(source: Arc<dyn Source>, spec: WriteSpec, ctx: &ExecContext) -> Result<Vec<WrittenFile>> {
    let target = spec.target.clone();
    let sink = Arc::new(WriteSink::new(spec));
    let schema = source.schema();
    let pipeline = Pipeline { input: PipelineInput::Source(source), operators: vec![], preserve_order: false };
    let physical = PhysicalPlan { stages: vec![Stage { pipelines: vec![pipeline], sink: sink.clone() }], schema };
    let outcome = run_plan(&physical, ctx);
    finish(outcome.map(|_| ()), &sink, &target)
}

/// The files written, or, when the run failed, the error after removing them.
fn finish(outcome: Result<()>, sink: &WriteSink, target: &WriteTarget) -> Result<Vec<WrittenFile>> {
    match outcome.and_then(|()| sink.written_files()) {
        Ok(files) => Ok(files),
        Err(error) => {
            target.remove(&sink.written_files().unwrap_or_default());
            Err(error)
        }
    }
}

/// The plan with its result feeding `sink`: the collecting stage the planner adds is replaced, so
/// rows stream into files; a plan whose last stage already produces the result (a sort, a limit)
/// gets one more stage reading that output.
fn into_sink(mut physical: PhysicalPlan, sink: Arc<dyn Sink>) -> PhysicalPlan {
    match physical.stages.last_mut() {
        Some(last) if last.sink.describe() == RESULT_SINK => last.sink = sink,
        _ => {
            let index = physical.stages.len().saturating_sub(1);
            let input = PipelineInput::Stage { index, schema: physical.schema.clone() };
            let pipeline = Pipeline { input, operators: vec![], preserve_order: false };
            physical.stages.push(Stage { pipelines: vec![pipeline], sink });
        }
    }
    physical
}

/// Makes written files visible: moves staged files into place, then runs `commit` (the one
/// catalog transaction). If either fails, every file of the write is removed.
pub fn publish_and_commit<T>(
    target: &WriteTarget,
    files: &[WrittenFile],
    commit: impl FnOnce(&[WrittenFile]) -> Result<T>,
) -> Result<T> {
    match target.publish(files).and_then(|()| commit(files)) {
        Ok(value) => Ok(value),
        Err(error) => {
            target.remove(files);
            Err(error)
        }
    }
}
