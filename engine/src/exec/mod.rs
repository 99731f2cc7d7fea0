//! Physical execution: pipelines of sources, operators and sinks on the rayon pool.

pub mod byte_size;
pub mod collect;
pub mod filter;
pub mod group_keys;
pub mod hash_aggregate;
pub mod hash_join;
pub mod join_dense;
pub mod join_keys;
pub mod join_pairs;
pub mod join_table;
pub mod key_set;
pub mod limit;
pub mod memory;
pub mod memory_limit;
pub mod physical_plan;
pub mod pipeline;
pub mod planner;
pub mod profile;
pub mod project;
pub mod range_join;
pub mod rebatch;
pub mod runtime_filter;
pub mod scheduler;
pub mod shared;
pub mod sideways;
pub mod sort;
#[cfg(test)]
mod testing;
pub mod values;
pub mod window;
pub mod window_frame;

pub use physical_plan::{PhysicalPlan, Pipeline, PipelineInput, Stage};
pub use pipeline::{ExecContext, LocalSink, Morsels, Operator, Sink, Source};
