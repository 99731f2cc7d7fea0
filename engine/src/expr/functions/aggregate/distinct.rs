//! `agg(DISTINCT x)`: a per-group set of distinct non-NULL values (Arrow row-format keys),
//! fed to the plain aggregate once at the end.
//!
//! The partial state is a `List` column: each group's distinct values. Merging inserts the
//! listed values into the receiving group's set, so partial states from different workers
//! merge to the same answer as one pass (a value seen by two workers counts once).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field};
use arrow::row::{RowConverter, SortField};
use hashbrown::HashSet;

use crate::error::Result;
use crate::expr::functions::GroupsAccumulator;

/// Distinct values per group in front of an `inner` accumulator of the same function.
pub struct DistinctAccumulator {
    value_type: DataType,
    converter: RowConverter,
    sets: Vec<HashSet<Box<[u8]>>>,
    inner: Box<dyn GroupsAccumulator>,
}

impl DistinctAccumulator {
    pub fn try_new(value_type: DataType, inner: Box<dyn GroupsAccumulator>) -> Result<Self> {
        let converter = RowConverter::new(vec![SortField::new(value_type.clone())])?;
        Ok(DistinctAccumulator { value_type, converter, sets: Vec::new(), inner })
    }

    fn insert(&mut self, values: &ArrayRef, group_indices: &[usize], total_groups: usize) -> Result<()> {
        let n = total_groups.max(self.sets.len());
        self.sets.resize_with(n, HashSet::new);
        let rows = self.converter.convert_columns(std::slice::from_ref(values))?;
        for (i, &g) in group_indices.iter().enumerate() {
            if values.is_valid(i) {
                let key = rows.row(i);
                if !self.sets[g].contains(key.as_ref()) {
                    self.sets[g].insert(key.as_ref().into());
                }
            }
        }
        Ok(())
    }

    /// All distinct values, group by group, with each value's group; empties the sets.
    fn take_values(&mut self) -> Result<(ArrayRef, Vec<usize>, Vec<usize>)> {
        let sets = std::mem::take(&mut self.sets);
        let parser = self.converter.parser();
        let mut groups = Vec::new();
        let mut lengths = Vec::with_capacity(sets.len());
        let mut keys = Vec::new();
        for (g, set) in sets.iter().enumerate() {
            lengths.push(set.len());
            for key in set {
                keys.push(parser.parse(key));
                groups.push(g);
            }
        }
        let mut columns = self.converter.convert_rows(keys)?;
        // Invariant: the converter has exactly one column.
        let values = columns.pop().expect("one column");
        Ok((values, groups, lengths))
    }
}

impl GroupsAccumulator for DistinctAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.insert(&args[0], group_indices, total_groups)
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let (values, _, lengths) = self.take_values()?;
        let field = Arc::new(Field::new_list_field(self.value_type.clone(), true));
        let list = ListArray::try_new(field, OffsetBuffer::from_lengths(lengths), values, None)?;
        Ok(vec![Arc::new(list)])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        let list = states[0].as_list::<i32>();
        let offsets = list.value_offsets();
        let mut value_groups = Vec::with_capacity(list.values().len());
        for (i, &g) in group_indices.iter().enumerate() {
            let n = (offsets[i + 1] - offsets[i]) as usize;
            value_groups.extend(std::iter::repeat_n(g, if list.is_valid(i) { n } else { 0 }));
        }
        let first = offsets[0] as usize;
        let end = offsets[group_indices.len()] as usize;
        let values = list.values().slice(first, end - first);
        if value_groups.len() != values.len() {
            // A NULL list entry with values behind it: take the valid entries one by one.
            value_groups.clear();
            self.sets.resize_with(total_groups.max(self.sets.len()), HashSet::new);
            for (i, &g) in group_indices.iter().enumerate() {
                if list.is_valid(i) {
                    let v = list.value(i);
                    self.insert(&v, &vec![g; v.len()], total_groups)?;
                }
            }
            return Ok(());
        }
        self.insert(&values, &value_groups, total_groups)
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let total_groups = self.sets.len();
        let (values, groups, _) = self.take_values()?;
        self.inner.update(&[values], &groups, total_groups)?;
        self.inner.evaluate()
    }
}
