//! The physical plan: the pipelines a query decomposes into, grouped by the sink they feed, in
//! the order they run. The planner builds it, the scheduler runs it, `EXPLAIN` prints it, so what
//! a user reads is exactly what runs.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use crate::exec::pipeline::{Operator, Sink, Source};

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
        let mut number = 0;
        for (index, stage) in self.stages.iter().enumerate() {
            let role = if index + 1 == self.stages.len() { " (result)" } else { "" };
            writeln!(f, "Stage {index}{role}")?;
            for pipeline in &stage.pipelines {
                writeln!(f, "  Pipeline {number}{}", if pipeline.preserve_order { " (ordered)" } else { "" })?;
                number += 1;
                match &pipeline.input {
                    PipelineInput::Source(source) => writeln!(f, "    Source: {}", source.describe())?,
                    PipelineInput::Stage { index, .. } => writeln!(f, "    Source: output of stage {index}")?,
                }
                for operator in &pipeline.operators {
                    writeln!(f, "    {}", operator.describe())?;
                }
            }
            writeln!(f, "  Sink: {}", stage.sink.describe())?;
        }
        Ok(())
    }
}
