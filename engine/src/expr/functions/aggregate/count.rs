//! `COUNT(*)` and `COUNT(x)`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::Int64Type;

use crate::error::Result;
use crate::expr::functions::GroupsAccumulator;

/// Per-group counts; state is one BIGINT column of partial counts.
#[derive(Default)]
pub struct CountAccumulator {
    counts: Vec<i64>,
}

impl GroupsAccumulator for CountAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.counts.resize(total_groups.max(self.counts.len()), 0);
        // A row counts when every argument is non-NULL (no arguments: every row).
        let nulls: Vec<_> = args.iter().filter_map(|a| a.logical_nulls()).collect();
        if nulls.is_empty() {
            for &g in group_indices {
                self.counts[g] += 1;
            }
        } else {
            for (i, &g) in group_indices.iter().enumerate() {
                if nulls.iter().all(|n| n.is_valid(i)) {
                    self.counts[g] += 1;
                }
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.counts.resize(total_groups.max(self.counts.len()), 0);
        let partial = states[0].as_primitive::<Int64Type>();
        for (i, &g) in group_indices.iter().enumerate() {
            if partial.is_valid(i) {
                self.counts[g] += partial.value(i);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        Ok(Arc::new(Int64Array::from(std::mem::take(&mut self.counts))))
    }
}
