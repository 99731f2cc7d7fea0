//! `LISTAGG(v[, delimiter]) [WITHIN GROUP (ORDER BY k [DESC], ...)]` (Redshift) and
//! `string_agg(v, delimiter [ORDER BY ...])` (PostgreSQL, Athena's spelling is `array_join`
//! over `array_agg`): the group's non-NULL values joined by the delimiter, NULL for a group
//! without any. `DISTINCT` keeps the first occurrence of each value in the ordering.
//!
//! The binder passes `(v, delimiter, k1, desc1, k2, desc2, ...)`. Sort keys are kept in Arrow's
//! row format, encoded with each key's direction (NULLs last ascending, first descending, as
//! PostgreSQL), so ordering a group is a byte comparison and merged states need no options.
//! State: `List<TEXT>` values, `List<BINARY>` their sort keys, and the delimiter (NULL if unseen).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, ListArray, StringArray};
use arrow::buffer::OffsetBuffer;
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, Field};
use arrow::row::{RowConverter, SortField};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_usage, text_arg, wrong_arg};
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};

/// Registers `listagg` and `string_agg`.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_aggregate(Arc::new(ListAgg { name: "listagg" }));
    registry.register_aggregate(Arc::new(ListAgg { name: "string_agg" }));
}

struct ListAgg {
    name: &'static str,
}

impl AggregateFunction for ListAgg {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        let usage = format!("{}(value[, delimiter]) [WITHIN GROUP (ORDER BY key)]", self.name);
        check_usage(self.name, args, 2, usize::MAX, &usage)?;
        if !args.len().is_multiple_of(2) {
            return Err(EngineError::plan(format!("function {}: expected {usage}", self.name)));
        }
        let mut arg_types = vec![text_arg(self.name, 0, &args[0])?];
        arg_types.push(match &args[1] {
            DataType::Utf8 | DataType::Null => DataType::Utf8,
            other => return Err(wrong_arg(self.name, 1, "a text delimiter", other)),
        });
        for pair in args[2..].chunks_exact(2) {
            arg_types.push(super::typed(&pair[0], DataType::Int32));
            arg_types.push(DataType::Boolean);
        }
        Ok(Signature { arg_types, return_type: DataType::Utf8 })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(ListAggAccumulator::new(self.name, arg_types, distinct)))
    }
}

pub struct ListAggAccumulator {
    name: &'static str,
    distinct: bool,
    /// Types of the ORDER BY keys (empty: arrival order).
    key_types: Vec<DataType>,
    converter: Option<RowConverter>,
    delimiter: Option<String>,
    /// Per group: (sort key, value).
    entries: Vec<Vec<(Box<[u8]>, String)>>,
}

impl ListAggAccumulator {
    pub fn new(name: &'static str, arg_types: &[DataType], distinct: bool) -> Self {
        let key_types = arg_types.iter().skip(2).step_by(2).cloned().collect();
        ListAggAccumulator { name, distinct, key_types, converter: None, delimiter: None, entries: Vec::new() }
    }

    fn grow(&mut self, total_groups: usize) {
        self.entries.resize_with(total_groups.max(self.entries.len()), Vec::new);
    }

    fn learn_delimiter(&mut self, delimiter: &str) -> Result<()> {
        match &self.delimiter {
            Some(d) if d != delimiter => {
                Err(EngineError::execution(format!("function {}: the delimiter must be a constant", self.name)))
            }
            Some(_) => Ok(()),
            None => {
                self.delimiter = Some(delimiter.to_string());
                Ok(())
            }
        }
    }

    /// Sort keys of the batch's rows (empty keys without an ORDER BY).
    fn keys(&mut self, args: &[ArrayRef]) -> Result<Vec<Box<[u8]>>> {
        let rows = args[0].len();
        if self.key_types.is_empty() {
            return Ok(vec![Box::default(); rows]);
        }
        let columns: Vec<ArrayRef> = args[2..].iter().step_by(2).cloned().collect();
        if self.converter.is_none() {
            if rows == 0 {
                return Ok(Vec::new());
            }
            let fields = args[3..]
                .iter()
                .step_by(2)
                .zip(&self.key_types)
                .map(|(desc, t)| {
                    let desc = desc.as_boolean();
                    let descending = desc.is_valid(0) && desc.value(0);
                    SortField::new_with_options(t.clone(), SortOptions { descending, nulls_first: descending })
                })
                .collect();
            self.converter = Some(RowConverter::new(fields)?);
        }
        // Invariant: set just above.
        let converter = self.converter.as_ref().expect("a row converter");
        let encoded = converter.convert_columns(&columns)?;
        Ok(encoded.iter().map(|row| row.as_ref().into()).collect())
    }
}

impl GroupsAccumulator for ListAggAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.grow(total_groups);
        let delimiters = args[1].as_string::<i32>();
        if let Some(i) = (0..delimiters.len()).find(|&i| delimiters.is_valid(i)) {
            self.learn_delimiter(delimiters.value(i))?;
        }
        let keys = self.keys(args)?;
        let values = args[0].as_string::<i32>();
        for ((i, &g), key) in group_indices.iter().enumerate().zip(keys) {
            if values.is_valid(i) {
                self.entries[g].push((key, values.value(i).to_string()));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let groups = std::mem::take(&mut self.entries);
        let lengths: Vec<usize> = groups.iter().map(Vec::len).collect();
        let (keys, values): (Vec<Box<[u8]>>, Vec<String>) = groups.into_iter().flatten().unzip();
        let values = StringArray::from(values);
        let keys = BinaryArray::from_iter_values(keys.iter());
        let list = |t: DataType, child: ArrayRef| {
            let field = Arc::new(Field::new_list_field(t, true));
            ListArray::try_new(field, OffsetBuffer::from_lengths(lengths.iter().copied()), child, None)
        };
        let delimiters = StringArray::from(vec![self.delimiter.clone(); lengths.len()]);
        Ok(vec![
            Arc::new(list(DataType::Utf8, Arc::new(values))?),
            Arc::new(list(DataType::Binary, Arc::new(keys))?),
            Arc::new(delimiters),
        ])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.grow(total_groups);
        let delimiters = states[2].as_string::<i32>();
        if let Some(i) = (0..delimiters.len()).find(|&i| delimiters.is_valid(i)) {
            self.learn_delimiter(delimiters.value(i))?;
        }
        let (values, keys) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for (i, &g) in group_indices.iter().enumerate() {
            if values.is_null(i) {
                continue;
            }
            let (v, k) = (values.value(i), keys.value(i));
            let (v, k) = (v.as_string::<i32>(), k.as_binary::<i32>());
            for j in 0..v.len() {
                self.entries[g].push((k.value(j).into(), v.value(j).to_string()));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let groups = std::mem::take(&mut self.entries);
        let delimiter = self.delimiter.clone().unwrap_or_default();
        let mut out = Vec::with_capacity(groups.len());
        for mut entries in groups {
            if entries.is_empty() {
                out.push(None);
                continue;
            }
            // Stable: equal keys keep arrival order.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut seen = hashbrown::HashSet::new();
            let parts: Vec<&str> =
                entries.iter().map(|(_, v)| v.as_str()).filter(|v| !self.distinct || seen.insert(*v)).collect();
            out.push(Some(parts.join(&delimiter)));
        }
        Ok(Arc::new(StringArray::from(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Int32Array};

    fn run(acc: &mut ListAggAccumulator, args: Vec<ArrayRef>, groups: &[usize], total: usize) -> Vec<Option<String>> {
        acc.update(&args, groups, total).unwrap();
        let out = acc.evaluate().unwrap();
        out.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn ordered_distinct_and_merged() {
        let types = [DataType::Utf8, DataType::Utf8, DataType::Int32, DataType::Boolean];
        let values: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), Some("a"), None, Some("c"), Some("a")]));
        let delim: ArrayRef = Arc::new(StringArray::from(vec![","; 5]));
        let keys: ArrayRef = Arc::new(Int32Array::from(vec![2, 1, 0, 3, 1]));
        let desc: ArrayRef = Arc::new(BooleanArray::from(vec![true; 5]));
        let args = vec![values, delim, keys, desc];
        let mut acc = ListAggAccumulator::new("listagg", &types, false);
        assert_eq!(run(&mut acc, args.clone(), &[0, 0, 0, 0, 0], 2), vec![Some("c,b,a,a".into()), None]);
        let mut distinct = ListAggAccumulator::new("listagg", &types, true);
        assert_eq!(run(&mut distinct, args.clone(), &[0, 0, 0, 0, 0], 1), vec![Some("c,b,a".into())]);
        // Two workers, merged into a third that never saw the arguments.
        let mut a = ListAggAccumulator::new("listagg", &types, false);
        let mut b = ListAggAccumulator::new("listagg", &types, false);
        a.update(&args, &[0, 0, 0, 0, 0], 1).unwrap();
        b.update(&args, &[0, 0, 0, 0, 0], 1).unwrap();
        let mut total = ListAggAccumulator::new("listagg", &types, false);
        total.merge_state(&a.state().unwrap(), &[0], 1).unwrap();
        total.merge_state(&b.state().unwrap(), &[0], 1).unwrap();
        let out = total.evaluate().unwrap();
        assert_eq!(out.as_string::<i32>().value(0), "c,c,b,b,a,a,a,a");
    }
}
