//! What `EXPLAIN ANALYZE` measures while a plan runs: rows and time at every step of every
//! pipeline, each sink's memory and finalize time. One counter set per step, shared by the
//! workers through atomics; the plan runs exactly as without a profile, only timed.
//!
//! Times are summed over workers (CPU time, not wall time), so with two workers busy a step can
//! report more time than the query took; each pipeline also records its wall time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::exec::physical_plan::PhysicalPlan;

/// Counters of one step: an operator's input, or the sink's input.
#[derive(Debug, Default)]
pub struct StepProfile {
    /// Rows that arrived at the step.
    pub rows: AtomicU64,
    /// Time in the step and everything after it in the pipeline, summed over workers.
    pub nanos: AtomicU64,
}

/// Counters of one pipeline: one step per operator, then one for the sink.
#[derive(Debug, Default)]
pub struct PipelineProfile {
    pub steps: Vec<StepProfile>,
    /// Time reading morsels, including every step after the source, summed over workers.
    pub read_nanos: AtomicU64,
    pub morsels: AtomicU64,
    pub wall_nanos: AtomicU64,
}

/// Counters of one stage: its pipelines, then its sink's memory and finalize.
#[derive(Debug, Default)]
pub struct StageProfile {
    pub pipelines: Vec<PipelineProfile>,
    /// Bytes the sink's state held when its input ended.
    pub memory_bytes: AtomicU64,
    pub finalize_nanos: AtomicU64,
    pub output_rows: AtomicU64,
}

/// Counters for every stage of one plan, shaped like it.
#[derive(Debug, Default)]
pub struct PlanProfile {
    pub stages: Vec<StageProfile>,
}

impl PlanProfile {
    /// Zeroed counters with one step per operator and sink of `plan`.
    pub fn for_plan(plan: &PhysicalPlan) -> PlanProfile {
        let stages = plan
            .stages
            .iter()
            .map(|stage| StageProfile {
                pipelines: stage
                    .pipelines
                    .iter()
                    .map(|p| PipelineProfile {
                        steps: (0..=p.operators.len()).map(|_| StepProfile::default()).collect(),
                        ..PipelineProfile::default()
                    })
                    .collect(),
                ..StageProfile::default()
            })
            .collect();
        PlanProfile { stages }
    }
}

/// Adds `elapsed` to a nanosecond counter.
pub fn add_time(counter: &AtomicU64, elapsed: Duration) {
    counter.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Reads a counter.
pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Nanoseconds as milliseconds with three decimals.
pub fn millis(nanos: u64) -> String {
    format!("{:.3} ms", nanos as f64 / 1e6)
}
