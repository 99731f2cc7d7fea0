//! Aggregate functions as vectorized `GroupsAccumulator`s: per-group vectors indexed by group
//! number, no per-row hashing except for `DISTINCT` (see `distinct`).
//!
//! Result types: `count` BIGINT; `sum` BIGINT for integers (overflow is an error), DECIMAL(38,s)
//! for DECIMAL(p,s), DOUBLE PRECISION for floats; `avg` DOUBLE PRECISION for integers and
//! floats and DECIMAL(38, min(s+4, 38)) for DECIMAL(p,s) (four more digits of scale, as
//! PostgreSQL keeps extra scale for numeric averages; DuckDB would answer a double); `min`/`max`
//! the argument's type. The dialects' statistical and text aggregates live one family per file:
//! `stats` (variance, standard deviation), `percentile` (median, percentiles), `listagg`,
//! `approx_distinct` (HyperLogLog) and `boolean` (`bool_and`, `bool_or`, `count_if`,
//! `any_value`).

mod approx_distinct;
mod boolean;
mod count;
mod distinct;
mod listagg;
mod min_max;
mod percentile;
mod stats;
mod sum;

use std::sync::Arc;

use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{check_arity, wrong_arg};
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};
use crate::plan::types::{is_integer, MAX_DECIMAL_PRECISION};

pub use distinct::DistinctAccumulator;

/// Registers the aggregate family.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_aggregate(Arc::new(Count));
    registry.register_aggregate(Arc::new(Sum));
    registry.register_aggregate(Arc::new(Avg));
    registry.register_aggregate(Arc::new(MinMax { name: "min", is_min: true }));
    registry.register_aggregate(Arc::new(MinMax { name: "max", is_min: false }));
    stats::register(registry);
    percentile::register(registry);
    listagg::register(registry);
    approx_distinct::register(registry);
    boolean::register(registry);
}

/// Wraps `inner` in a per-group set of distinct values when `distinct`.
fn maybe_distinct(
    name: &str,
    arg_types: &[DataType],
    distinct: bool,
    inner: Box<dyn GroupsAccumulator>,
) -> Result<Box<dyn GroupsAccumulator>> {
    if !distinct {
        return Ok(inner);
    }
    match arg_types {
        [t] => Ok(Box::new(DistinctAccumulator::try_new(t.clone(), inner)?)),
        _ => Err(EngineError::plan(format!("{name}(DISTINCT ...) takes exactly one argument"))),
    }
}

/// The untyped NULL argument is aggregated as `fallback`.
fn typed(t: &DataType, fallback: DataType) -> DataType {
    if *t == DataType::Null {
        fallback
    } else {
        t.clone()
    }
}

/// `COUNT(*)` (no arguments) counts rows; `COUNT(x)` counts non-NULL `x`.
struct Count;

impl AggregateFunction for Count {
    fn name(&self) -> &str {
        "count"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 0, usize::MAX)?;
        Ok(Signature {
            arg_types: args.iter().map(|t| typed(t, DataType::Int32)).collect(),
            return_type: DataType::Int64,
        })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        maybe_distinct(self.name(), arg_types, distinct, Box::new(count::CountAccumulator::default()))
    }
}

/// `SUM(x)`.
struct Sum;

impl Sum {
    fn sum_type(&self, t: &DataType) -> Result<DataType> {
        match t {
            t if is_integer(t) => Ok(DataType::Int64),
            DataType::Decimal128(_, s) => Ok(DataType::Decimal128(MAX_DECIMAL_PRECISION, *s)),
            DataType::Float32 | DataType::Float64 => Ok(DataType::Float64),
            other => Err(wrong_arg(self.name(), 0, "a number", other)),
        }
    }
}

impl AggregateFunction for Sum {
    fn name(&self) -> &str {
        "sum"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 1, 1)?;
        let t = typed(&args[0], DataType::Int64);
        Ok(Signature { return_type: self.sum_type(&t)?, arg_types: vec![t] })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        check_arity(self.name(), arg_types, 1, 1)?;
        let sum_type = self.sum_type(&arg_types[0])?;
        let inner: Box<dyn GroupsAccumulator> = match sum_type {
            DataType::Int64 => Box::new(sum::SumAccumulator::<Int64Type>::new(sum_type)),
            DataType::Float64 => Box::new(sum::SumAccumulator::<Float64Type>::new(sum_type)),
            _ => Box::new(sum::SumAccumulator::<Decimal128Type>::new(sum_type)),
        };
        maybe_distinct(self.name(), arg_types, distinct, inner)
    }
}

/// `AVG(x)`.
struct Avg;

impl Avg {
    fn avg_type(&self, t: &DataType) -> Result<DataType> {
        match t {
            t if is_integer(t) => Ok(DataType::Float64),
            DataType::Decimal128(_, s) => Ok(DataType::Decimal128(MAX_DECIMAL_PRECISION, (*s + 4).min(38))),
            DataType::Float32 | DataType::Float64 => Ok(DataType::Float64),
            other => Err(wrong_arg(self.name(), 0, "a number", other)),
        }
    }
}

impl AggregateFunction for Avg {
    fn name(&self) -> &str {
        "avg"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 1, 1)?;
        let t = typed(&args[0], DataType::Int64);
        Ok(Signature { return_type: self.avg_type(&t)?, arg_types: vec![t] })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        check_arity(self.name(), arg_types, 1, 1)?;
        let t = &arg_types[0];
        let result_type = self.avg_type(t)?;
        let inner: Box<dyn GroupsAccumulator> = match t {
            DataType::Float32 | DataType::Float64 => {
                Box::new(sum::AvgAccumulator::<Float64Type>::new(DataType::Float64, result_type))
            }
            // Integers are summed exactly as DECIMAL(38,0): no overflow before the division.
            DataType::Decimal128(_, s) => Box::new(sum::AvgAccumulator::<Decimal128Type>::new(
                DataType::Decimal128(MAX_DECIMAL_PRECISION, *s),
                result_type,
            )),
            _ => Box::new(sum::AvgAccumulator::<Decimal128Type>::new(
                DataType::Decimal128(MAX_DECIMAL_PRECISION, 0),
                result_type,
            )),
        };
        maybe_distinct(self.name(), arg_types, distinct, inner)
    }
}

/// `MIN(x)` / `MAX(x)` over any orderable type: numbers, text, booleans, dates, timestamps.
struct MinMax {
    name: &'static str,
    is_min: bool,
}

impl AggregateFunction for MinMax {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name, args, 1, 1)?;
        let t = typed(&args[0], DataType::Int32);
        if !min_max::is_orderable(&t) {
            return Err(wrong_arg(self.name, 0, "an orderable value", &t));
        }
        Ok(Signature { arg_types: vec![t.clone()], return_type: t })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        check_arity(self.name, arg_types, 1, 1)?;
        let inner = min_max::min_max_accumulator(&arg_types[0], self.is_min)?;
        maybe_distinct(self.name, arg_types, distinct, inner)
    }
}

#[cfg(test)]
mod tests;
