//! The physical plan: the pipelines a query decomposes into, grouped by the sink they feed, in
//! the order they run. The planner builds it, the scheduler runs it, `EXPLAIN` prints it, so what
//! a user reads is exactly what runs.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use crate::exec::byte_size::human;
use crate::exec::pipeline::{Operator, Sink, Source};
use crate::exec::profile::{get, millis, PlanProfile};

/// A query as stages run first to last; the last stage's output is the result.
pub struct PhysicalPlan {
    pub stages: Vec<Stage>,
    pub schema: SchemaRef,
}

/// One sink and the pipelines feeding it (several for a `UNION ALL`: every input pushes into the
/// same sink). The sink finalizes once all of them have run.
pub struct Stage {
    pub pipelines: Vec<Pipeline>,
    pub sink: Arc<dyn Sink>,
}

/// A source, the streaming operators its batches pass through, and whether the batches' order
/// must survive (the input is a sort's output).
pub struct Pipeline {
    pub input: PipelineInput,
    pub operators: Vec<Arc<dyn Operator>>,
    pub preserve_order: bool,
}

/// Where a pipeline's batches come from.
pub enum PipelineInput {
    Source(Arc<dyn Source>),
    /// The finalized output of an earlier stage (by index), read as an in-memory source.
    Stage {
        index: usize,
        schema: SchemaRef,
    },
}

impl fmt::Display for PhysicalPlan {
    /// One line per source, operator and sink, pipelines numbered in running order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

impl PhysicalPlan {
    /// The plan as `EXPLAIN` prints it; with the profile of a run (`EXPLAIN ANALYZE`), each line
    /// also carries its rows and time, each sink its memory, each pipeline its wall time.
    /// Times are exclusive: an operator's own time, without the steps after it.
    pub fn render(&self, profile: Option<&PlanProfile>) -> String {
        let mut out = String::new();
        let mut number = 0;
        for (index, stage) in self.stages.iter().enumerate() {
            let stage_profile = profile.and_then(|p| p.stages.get(index));
            let role = if index + 1 == self.stages.len() { " (result)" } else { "" };
            out.push_str(&format!("Stage {index}{role}\n"));
            for (pipeline_index, pipeline) in stage.pipelines.iter().enumerate() {
                let counters = stage_profile.and_then(|p| p.pipelines.get(pipeline_index));
                let ordered = if pipeline.preserve_order { " (ordered)" } else { "" };
                let wall = counters
                    .map(|c| format!(" [morsels={} wall={}]", get(&c.morsels), millis(get(&c.wall_nanos))))
                    .unwrap_or_default();
                out.push_str(&format!("  Pipeline {number}{ordered}{wall}\n"));
                number += 1;
                let step = |i: usize| counters.and_then(|c| c.steps.get(i));
                // Time of step `i` alone: its inclusive time minus the next step's.
                let own = |inclusive: u64, i: usize| inclusive.saturating_sub(step(i).map_or(0, |s| get(&s.nanos)));
                let source_stats = counters
                    .map(|c| {
                        format!(
                            " [rows={} time={}]",
                            step(0).map_or(0, |s| get(&s.rows)),
                            millis(own(get(&c.read_nanos), 0))
                        )
                    })
                    .unwrap_or_default();
                match &pipeline.input {
                    PipelineInput::Source(source) => {
                        out.push_str(&format!("    Source: {}{source_stats}\n", source.describe()))
                    }
                    PipelineInput::Stage { index, .. } => {
                        out.push_str(&format!("    Source: output of stage {index}{source_stats}\n"))
                    }
                }
                for (i, operator) in pipeline.operators.iter().enumerate() {
                    let stats = step(i)
                        .map(|s| {
                            let rows_out = step(i + 1).map_or(0, |n| get(&n.rows));
                            format!(
                                " [rows_in={} rows_out={rows_out} time={}]",
                                get(&s.rows),
                                millis(own(get(&s.nanos), i + 1))
                            )
                        })
                        .unwrap_or_default();
                    out.push_str(&format!("    {}{stats}\n", operator.describe()));
                }
            }
            let sink_stats = stage_profile
                .map(|p| {
                    let rows_in: u64 = p.pipelines.iter().filter_map(|c| c.steps.last()).map(|s| get(&s.rows)).sum();
                    let time: u64 = p.pipelines.iter().filter_map(|c| c.steps.last()).map(|s| get(&s.nanos)).sum();
                    format!(
                        " [rows_in={rows_in} rows_out={} time={} finalize={} memory={}]",
                        get(&p.output_rows),
                        millis(time),
                        millis(get(&p.finalize_nanos)),
                        human(get(&p.memory_bytes))
                    )
                })
                .unwrap_or_default();
            out.push_str(&format!("  Sink: {}{sink_stats}\n", stage.sink.describe()));
        }
        out
    }
}
