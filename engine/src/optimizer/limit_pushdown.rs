//! Turns `LIMIT n OFFSET k` over a sort into a top-N sort (`Sort.fetch = k + n`), so the sort keeps
//! only the rows that can reach the output instead of sorting everything.

use crate::error::Result;
use crate::optimizer::tree::transform_up;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::LogicalPlan;

pub struct LimitPushdown;

impl Rule for LimitPushdown {
    fn name(&self) -> &str {
        "limit_pushdown"
    }

    fn rewrite(&self, plan: LogicalPlan, _ctx: &OptimizerContext) -> Result<LogicalPlan> {
        transform_up(plan, &mut |node| {
            Ok(match node {
                LogicalPlan::Limit { input, skip, fetch: Some(n) } => match *input {
                    LogicalPlan::Sort { input: sort_input, keys, fetch } => {
                        let wanted = skip.saturating_add(n);
                        let fetch = Some(fetch.map_or(wanted, |f| f.min(wanted)));
                        let sort = LogicalPlan::Sort { input: sort_input, keys, fetch };
                        LogicalPlan::Limit { input: Box::new(sort), skip, fetch: Some(n) }
                    }
                    other => LogicalPlan::Limit { input: Box::new(other), skip, fetch: Some(n) },
                },
                other => other,
            })
        })
    }
}
