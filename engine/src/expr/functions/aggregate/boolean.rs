//! `BOOL_AND`/`BOOL_OR` (NULL for a group without non-NULL values, as PostgreSQL and Redshift),
//! `COUNT_IF(condition)` (Athena: rows where the condition is true, 0 for an empty group) and
//! `ANY_VALUE(x)`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use arrow::datatypes::{DataType, Int64Type};

use crate::error::Result;
use crate::expr::functions::arguments::{check_usage, wrong_arg};
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};

/// Registers `bool_and`, `bool_or`, `count_if` and `any_value`.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_aggregate(Arc::new(BooleanAggregate { name: "bool_and" }));
    registry.register_aggregate(Arc::new(BooleanAggregate { name: "bool_or" }));
    registry.register_aggregate(Arc::new(BooleanAggregate { name: "count_if" }));
    registry.register_aggregate(Arc::new(AnyValue));
}

/// An aggregate of a BOOLEAN argument.
struct BooleanAggregate {
    name: &'static str,
}

impl AggregateFunction for BooleanAggregate {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name, args, 1, 1, &format!("{}(boolean)", self.name))?;
        if !matches!(args[0], DataType::Boolean | DataType::Null) {
            return Err(wrong_arg(self.name, 0, "a boolean", &args[0]));
        }
        let return_type = if self.name == "count_if" { DataType::Int64 } else { DataType::Boolean };
        Ok(Signature { arg_types: vec![DataType::Boolean], return_type })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        let inner: Box<dyn GroupsAccumulator> = match self.name {
            "count_if" => Box::<CountIfAccumulator>::default(),
            name => Box::new(BoolAccumulator::new(name == "bool_and")),
        };
        super::maybe_distinct(self.name, arg_types, distinct, inner)
    }
}

/// `ANY_VALUE(x)`: some non-NULL value of the group. It answers the smallest, which is a valid
/// choice, deterministic, and reuses `MIN`'s vectorized, mergeable accumulator.
struct AnyValue;

impl AggregateFunction for AnyValue {
    fn name(&self) -> &str {
        "any_value"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "any_value(value)")?;
        let t = super::typed(&args[0], DataType::Int32);
        if !super::min_max::is_orderable(&t) {
            return Err(wrong_arg(self.name(), 0, "a number, text, boolean, date or timestamp", &t));
        }
        Ok(Signature { arg_types: vec![t.clone()], return_type: t })
    }

    fn accumulator(&self, arg_types: &[DataType], _distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        check_usage(self.name(), arg_types, 1, 1, "any_value(value)")?;
        super::min_max::min_max_accumulator(&arg_types[0], true)
    }
}

/// Per group: no value yet, or the running AND/OR. State is one BOOLEAN column.
pub struct BoolAccumulator {
    is_and: bool,
    values: Vec<Option<bool>>,
}

impl BoolAccumulator {
    pub fn new(is_and: bool) -> Self {
        BoolAccumulator { is_and, values: Vec::new() }
    }
}

impl GroupsAccumulator for BoolAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.values.resize(total_groups.max(self.values.len()), None);
        let input = args[0].as_boolean();
        for (i, &g) in group_indices.iter().enumerate() {
            if input.is_null(i) {
                continue;
            }
            let v = input.value(i);
            let slot = &mut self.values[g];
            *slot = Some(match *slot {
                None => v,
                Some(acc) if self.is_and => acc && v,
                Some(acc) => acc || v,
            });
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.update(states, group_indices, total_groups)
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        Ok(Arc::new(BooleanArray::from(std::mem::take(&mut self.values))))
    }
}

/// Per-group count of true conditions. State is one BIGINT column.
#[derive(Default)]
pub struct CountIfAccumulator {
    counts: Vec<i64>,
}

impl GroupsAccumulator for CountIfAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.counts.resize(total_groups.max(self.counts.len()), 0);
        let input = args[0].as_boolean();
        for (i, &g) in group_indices.iter().enumerate() {
            if input.is_valid(i) && input.value(i) {
                self.counts[g] += 1;
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
