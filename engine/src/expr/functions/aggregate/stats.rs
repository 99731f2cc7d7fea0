//! `STDDEV`/`STDDEV_SAMP`/`STDDEV_POP` and `VARIANCE`/`VAR_SAMP`/`VAR_POP` as DOUBLE PRECISION.
//! Each group keeps Welford's running count, mean and sum of squared deviations (`m2`), which
//! stays accurate where the naive sum-of-squares formula cancels catastrophically; partial
//! states combine with Chan et al.'s parallel formula, so worker order does not matter.
//! The sample forms of a single row are NULL (PostgreSQL and Redshift).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::error::Result;
use crate::expr::cast::cast_array;
use crate::expr::functions::arguments::{check_usage, wrong_arg};
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};
use crate::plan::types::is_numeric;

/// Registers the variance family (`stddev` and `variance` are the sample forms, as in Redshift).
pub fn register(registry: &mut FunctionRegistry) {
    for (name, statistic) in [
        ("stddev", Statistic::StddevSample),
        ("stddev_samp", Statistic::StddevSample),
        ("stddev_pop", Statistic::StddevPopulation),
        ("variance", Statistic::VarianceSample),
        ("var_samp", Statistic::VarianceSample),
        ("var_pop", Statistic::VariancePopulation),
    ] {
        registry.register_aggregate(Arc::new(Variance { name, statistic }));
    }
}

/// One of the variance aggregates over a number, as DOUBLE PRECISION.
struct Variance {
    name: &'static str,
    statistic: Statistic,
}

impl AggregateFunction for Variance {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name, args, 1, 1, &format!("{}(number)", self.name))?;
        let t = super::typed(&args[0], DataType::Float64);
        if !is_numeric(&t) {
            return Err(wrong_arg(self.name, 0, "a number", &t));
        }
        Ok(Signature { arg_types: vec![t], return_type: DataType::Float64 })
    }

    fn accumulator(&self, arg_types: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        super::maybe_distinct(self.name, arg_types, distinct, Box::new(VarianceAccumulator::new(self.statistic)))
    }
}

/// Which statistic `evaluate` answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    VarianceSample,
    VariancePopulation,
    StddevSample,
    StddevPopulation,
}

/// Per-group Welford state; state columns are count (BIGINT), mean and m2 (DOUBLE PRECISION).
pub struct VarianceAccumulator {
    statistic: Statistic,
    counts: Vec<i64>,
    means: Vec<f64>,
    m2s: Vec<f64>,
}

impl VarianceAccumulator {
    pub fn new(statistic: Statistic) -> Self {
        VarianceAccumulator { statistic, counts: Vec::new(), means: Vec::new(), m2s: Vec::new() }
    }

    fn grow(&mut self, total_groups: usize) {
        let n = total_groups.max(self.counts.len());
        self.counts.resize(n, 0);
        self.means.resize(n, 0.0);
        self.m2s.resize(n, 0.0);
    }

    /// Folds a partial (count, mean, m2) into group `g` (Chan et al., 1979).
    fn combine(&mut self, g: usize, count: i64, mean: f64, m2: f64) {
        if count == 0 {
            return;
        }
        let n_a = self.counts[g] as f64;
        let n_b = count as f64;
        let n = n_a + n_b;
        let delta = mean - self.means[g];
        self.means[g] += delta * n_b / n;
        self.m2s[g] += m2 + delta * delta * n_a * n_b / n;
        self.counts[g] += count;
    }
}

impl GroupsAccumulator for VarianceAccumulator {
    fn update(&mut self, args: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.grow(total_groups);
        let values = cast_array(&args[0], &DataType::Float64, false)?;
        let values = values.as_primitive::<Float64Type>();
        let raw = values.values();
        for (i, &g) in group_indices.iter().enumerate() {
            if values.is_null(i) {
                continue;
            }
            // Welford's update, the one-row case of `combine`.
            let x = raw[i];
            self.counts[g] += 1;
            let delta = x - self.means[g];
            self.means[g] += delta / self.counts[g] as f64;
            self.m2s[g] += delta * (x - self.means[g]);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let counts = Int64Array::from(std::mem::take(&mut self.counts));
        let means = Float64Array::from(std::mem::take(&mut self.means));
        let m2s = Float64Array::from(std::mem::take(&mut self.m2s));
        Ok(vec![Arc::new(counts), Arc::new(means), Arc::new(m2s)])
    }

    fn merge_state(&mut self, states: &[ArrayRef], group_indices: &[usize], total_groups: usize) -> Result<()> {
        self.grow(total_groups);
        let counts = states[0].as_primitive::<Int64Type>();
        let means = states[1].as_primitive::<Float64Type>();
        let m2s = states[2].as_primitive::<Float64Type>();
        for (i, &g) in group_indices.iter().enumerate() {
            if counts.is_valid(i) {
                self.combine(g, counts.value(i), means.value(i), m2s.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        let sample = matches!(self.statistic, Statistic::VarianceSample | Statistic::StddevSample);
        let root = matches!(self.statistic, Statistic::StddevSample | Statistic::StddevPopulation);
        let (counts, m2s) = (std::mem::take(&mut self.counts), std::mem::take(&mut self.m2s));
        self.means.clear();
        let out: Float64Array = counts
            .iter()
            .zip(&m2s)
            .map(|(&n, &m2)| {
                let divisor = if sample { n - 1 } else { n };
                (divisor > 0).then(|| {
                    // Rounding can leave a tiny negative m2 for equal values.
                    let variance = (m2 / divisor as f64).max(0.0);
                    if root {
                        variance.sqrt()
                    } else {
                        variance
                    }
                })
            })
            .collect();
        Ok(Arc::new(out))
    }
}
