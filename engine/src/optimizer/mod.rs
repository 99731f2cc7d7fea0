//! Rule-based logical optimizer. Every rule implements one [`Rule`] trait; the [`Optimizer`] runs
//! them in a fixed order, skips the ones a user disabled (`SET disabled_rules = 'a,b'`), times
//! each for `EXPLAIN ANALYZE`, and in debug builds checks the plan after every rule so a rule that
//! breaks column bindings is caught where it happens rather than in execution.

pub mod cardinality;
pub mod common_subexpr;
pub mod constant_folding;
pub mod decorrelate;
pub mod filter_pushdown;
pub mod join_reorder;
pub mod limit_pushdown;
pub mod or_factoring;
pub mod partition_pruning;
pub mod projection_pushdown;
pub mod semi_join_pushdown;
pub mod shared_subplan;
pub mod statistics;
#[cfg(test)]
mod tests;
pub(crate) mod tree;
mod verify;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::expr::functions::FunctionRegistry;
use crate::plan::LogicalPlan;

pub use constant_folding::ConstantFolding;
pub use decorrelate::Decorrelation;
pub use filter_pushdown::FilterPushdown;
pub use join_reorder::JoinReorder;
pub use limit_pushdown::LimitPushdown;
pub use or_factoring::OrFactoring;
pub use partition_pruning::PartitionPruning;
pub use projection_pushdown::ProjectionPushdown;
pub use semi_join_pushdown::SemiJoinPushdown;
pub use shared_subplan::SharedSubplans;
pub use verify::verify_plan;

/// One rewrite of a logical plan. Rules must keep the plan's output schema unchanged.
pub trait Rule: Send + Sync {
    /// The name users disable the rule by and `EXPLAIN ANALYZE` reports it under.
    fn name(&self) -> &str;
    fn rewrite(&self, plan: LogicalPlan, ctx: &OptimizerContext) -> Result<LogicalPlan>;
}

/// What rules may use besides the plan: the function registry (to evaluate constant expressions
/// and partition predicates with the same code that executes them).
#[derive(Clone)]
pub struct OptimizerContext {
    pub functions: Arc<FunctionRegistry>,
}

impl OptimizerContext {
    pub fn new(functions: Arc<FunctionRegistry>) -> OptimizerContext {
        OptimizerContext { functions }
    }
}

/// How long one rule took (for `EXPLAIN ANALYZE`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTiming {
    pub rule: String,
    pub elapsed: Duration,
}

/// Runs the rules in order.
pub struct Optimizer {
    rules: Vec<Box<dyn Rule>>,
    /// Names of rules to skip.
    pub disabled_rules: HashSet<String>,
}

impl Default for Optimizer {
    fn default() -> Optimizer {
        Optimizer::new()
    }
}

impl Optimizer {
    /// The default rules in their order: subqueries become joins before anything else looks at
    /// the plan; folding next so later rules see simple predicates;
    /// keys shared by every branch of an `OR` factored out so pushdown can see them as join keys;
    /// filters pushed into scans before partitions are pruned by them; semi and anti joins moved
    /// onto the input they filter; joins ordered by the sizes those filters, prunings and semi
    /// joins leave (join keys are in the joins by then); repeated subexpressions computed once
    /// (a `Project` the narrowing then trims); projections narrowed once joins and filters have
    /// settled; limits; last, repeated subplans computed once, found among the plans every
    /// other rule has finished with (a copy that got a different filter is not shared).
    pub fn new() -> Optimizer {
        Optimizer::with_rules(vec![
            Box::new(Decorrelation),
            Box::new(ConstantFolding),
            Box::new(OrFactoring),
            Box::new(FilterPushdown),
            Box::new(PartitionPruning),
            Box::new(SemiJoinPushdown),
            Box::new(JoinReorder),
            Box::new(common_subexpr::CommonSubexpressions),
            Box::new(ProjectionPushdown),
            Box::new(LimitPushdown),
            Box::new(SharedSubplans),
        ])
    }

    pub fn with_rules(rules: Vec<Box<dyn Rule>>) -> Optimizer {
        Optimizer { rules, disabled_rules: HashSet::new() }
    }

    /// The names of the rules this optimizer runs, in order (to validate `SET disabled_rules`).
    pub fn rule_names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.name()).collect()
    }

    pub fn optimize(&self, plan: LogicalPlan, ctx: &OptimizerContext) -> Result<LogicalPlan> {
        self.optimize_timed(plan, ctx).map(|(plan, _)| plan)
    }

    /// Optimizes `plan`, returning how long each enabled rule took.
    pub fn optimize_timed(&self, plan: LogicalPlan, ctx: &OptimizerContext) -> Result<(LogicalPlan, Vec<RuleTiming>)> {
        let mut plan = plan;
        let mut timings = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            if self.disabled_rules.contains(rule.name()) {
                continue;
            }
            let start = Instant::now();
            plan = rule.rewrite(plan, ctx)?;
            timings.push(RuleTiming { rule: rule.name().to_string(), elapsed: start.elapsed() });
            if cfg!(debug_assertions) {
                verify_plan(&plan).map_err(|e| {
                    crate::error::EngineError::Internal(format!(
                        "optimizer rule '{}' produced an invalid plan: {e}",
                        rule.name()
                    ))
                })?;
            }
        }
        Ok((plan, timings))
    }
}
