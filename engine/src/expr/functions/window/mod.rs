//! Window functions: ranking (`row_number`, `rank`, ...), value (`lag`, `first_value`, ...) and
//! every aggregate evaluated over a frame. Each is evaluated vectorized over a run of whole
//! partitions already in window order; the executor (`exec/window.rs`) sorts, finds the
//! partitions, peers and frames, and runs independent runs in parallel.

mod aggregate;
mod ranking;
#[cfg(test)]
mod tests;
mod value;

use std::ops::Range;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;

use crate::error::Result;
use crate::expr::functions::{FunctionRegistry, Signature};

pub use aggregate::AggregateWindow;

/// The rows one evaluation sees: whole partitions in window order, numbered from 0. Per-row
/// slices have one entry per row.
pub struct WindowInput<'a> {
    /// The call's evaluated arguments (of the types `signature` chose), in window order.
    pub args: &'a [ArrayRef],
    /// Consecutive partitions covering every row.
    pub partitions: &'a [Range<usize>],
    /// The first row of each row's peer group (rows equal on every `ORDER BY` key).
    pub peer_start: &'a [usize],
    /// One past the last row of each row's peer group.
    pub peer_end: &'a [usize],
    /// The first row of each row's frame.
    pub frame_start: &'a [usize],
    /// One past the last row of each row's frame (never before `frame_start`).
    pub frame_end: &'a [usize],
}

impl WindowInput<'_> {
    pub fn num_rows(&self) -> usize {
        self.peer_start.len()
    }
}

/// A function evaluated over windows rather than groups.
pub trait WindowFunction: Send + Sync {
    fn name(&self) -> &str;
    /// Checks and coerces argument types, as scalar functions do.
    fn signature(&self, args: &[DataType]) -> Result<Signature>;
    /// One value per row of `input`.
    fn evaluate(&self, input: &WindowInput<'_>) -> Result<ArrayRef>;
}

/// Registers the ranking and value window functions (aggregates are windowed through
/// [`AggregateWindow`], so every registered aggregate works over a window).
pub fn register(registry: &mut FunctionRegistry) {
    for f in ranking::functions().into_iter().chain(value::functions()) {
        registry.register_window(f);
    }
}
