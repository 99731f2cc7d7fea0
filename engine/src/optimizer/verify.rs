//! The plan check run after every rule in debug builds: every column reference is in range of the
//! schema it is bound to, and every node's declared schema agrees with its inputs.

use arrow::datatypes::Schema;

use crate::error::{EngineError, Result};
use crate::plan::{Expr, JoinType, LogicalPlan};
use crate::sql::binder::join_schema;

/// Checks `plan` and all its inputs; the error names the node and the broken binding.
pub fn verify_plan(plan: &LogicalPlan) -> Result<()> {
    for input in plan.inputs() {
        verify_plan(input)?;
    }
    let bad = |what: String| Err(EngineError::Internal(format!("{what} in node `{plan}`")));
    match plan {
        LogicalPlan::Scan(scan) => {
            let width = scan.table_schema.fields().len();
            if let Some(i) = scan.projection.iter().find(|i| **i >= width) {
                return bad(format!("projection index {i} out of range of {width} table columns"));
            }
            if scan.schema.fields().len() != scan.projection.len() {
                return bad("scan schema width differs from its projection".into());
            }
            for (i, field) in scan.projection.iter().zip(scan.schema.fields()) {
                if scan.table_schema.field(*i).data_type() != field.data_type() {
                    return bad(format!("scan column '{}' has the wrong type", field.name()));
                }
            }
            scan.filters.iter().try_for_each(|f| check_expr(f, &scan.table_schema, plan))
        }
        LogicalPlan::Values { schema, rows } => {
            if rows.iter().any(|r| r.len() != schema.fields().len()) {
                return bad("a VALUES row has the wrong width".into());
            }
            rows.iter().flatten().try_for_each(|e| check_expr(e, &Schema::empty(), plan))
        }
        LogicalPlan::Filter { input, predicate } => check_expr(predicate, &input.schema(), plan),
        LogicalPlan::Project { input, exprs, schema } => {
            let input = input.schema();
            if exprs.len() != schema.fields().len() {
                return bad("project schema width differs from its expressions".into());
            }
            for (e, field) in exprs.iter().zip(schema.fields()) {
                check_expr(e, &input, plan)?;
                if e.data_type(&input) != *field.data_type() {
                    return bad(format!(
                        "column '{}' is declared {} but computes {}",
                        field.name(),
                        field.data_type(),
                        e.data_type(&input)
                    ));
                }
            }
            Ok(())
        }
        LogicalPlan::Aggregate { input, group_by, aggregates, schema } => {
            let input = input.schema();
            if group_by.len() + aggregates.len() != schema.fields().len() {
                return bad("aggregate schema width differs from its groups and aggregates".into());
            }
            for e in group_by {
                check_expr(e, &input, plan)?;
            }
            for agg in aggregates {
                agg.args.iter().try_for_each(|e| check_expr(e, &input, plan))?;
                if let Some(f) = &agg.filter {
                    check_expr(f, &input, plan)?;
                }
            }
            Ok(())
        }
        LogicalPlan::Join { left, right, join_type, on, filter, schema } => {
            let (l, r) = (left.schema(), right.schema());
            let expected = join_schema(&l, &r, *join_type);
            if expected.fields().len() != schema.fields().len()
                || expected.fields().iter().zip(schema.fields()).any(|(a, b)| a.data_type() != b.data_type())
            {
                return bad("join schema differs from its inputs".into());
            }
            if *join_type == JoinType::Cross && (!on.is_empty() || filter.is_some()) {
                return bad("a cross join has a condition".into());
            }
            for (le, re) in on {
                check_expr(le, &l, plan)?;
                check_expr(re, &r, plan)?;
                if le.data_type(&l) != re.data_type(&r) {
                    return bad(format!("join key types differ: {} vs {}", le.data_type(&l), re.data_type(&r)));
                }
            }
            match filter {
                Some(f) => check_expr(f, &join_schema(&l, &r, JoinType::Inner), plan),
                None => Ok(()),
            }
        }
        LogicalPlan::Sort { input, keys, .. } => {
            keys.iter().try_for_each(|k| check_expr(&k.expr, &input.schema(), plan))
        }
        LogicalPlan::Limit { .. } | LogicalPlan::Distinct { .. } | LogicalPlan::Shared { .. } => Ok(()),
        LogicalPlan::Window { input, window_exprs, schema } => {
            let input = input.schema();
            if input.fields().len() + window_exprs.len() != schema.fields().len() {
                return bad("window schema width differs from its input and window expressions".into());
            }
            window_exprs.iter().flat_map(|w| w.expressions()).try_for_each(|e| check_expr(e, &input, plan))
        }
        LogicalPlan::Union { inputs, schema } => {
            for input in inputs {
                let s = input.schema();
                if s.fields().len() != schema.fields().len()
                    || s.fields().iter().zip(schema.fields()).any(|(a, b)| a.data_type() != b.data_type())
                {
                    return bad("a union input's columns differ from the union's".into());
                }
            }
            Ok(())
        }
    }
}

fn check_expr(expr: &Expr, input: &Schema, node: &LogicalPlan) -> Result<()> {
    let mut columns = Vec::new();
    expr.collect_columns(&mut columns);
    match columns.iter().find(|c| **c >= input.fields().len()) {
        Some(c) => Err(EngineError::Internal(format!(
            "column #{c} out of range of {} input columns in `{expr}` of node `{node}`",
            input.fields().len()
        ))),
        None => Ok(()),
    }
}
