//! The source of `INSERT INTO t [(cols)] VALUES ... | SELECT ...`: bound like any query, then
//! matched to the target's columns by position (or by the column list), each value cast to its
//! column's type by the assignment rules (any cast Arrow can perform, failing at run time on a
//! value that does not convert, as Redshift does), columns left out filled with NULL.

use std::sync::Arc;

use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast::{self, Spanned};

use crate::error::Result;
use crate::plan::types::sql_type_name;
use crate::plan::{Expr, LogicalPlan, ScalarValue};
use crate::sql::binder::coerce::cast_to;
use crate::sql::binder::query::ident_name;
use crate::sql::binder::scope::eq_ignore_case;
use crate::sql::binder::{plan_err, Binder};

/// One column of an insert's target, in table order (data columns, then partition keys).
#[derive(Debug, Clone, PartialEq)]
pub struct InsertColumn {
    pub name: String,
    pub data_type: DataType,
}

impl Binder<'_> {
    /// A plan producing exactly `target`'s columns, in order and types, from `source`. `columns`
    /// is the optional column list of the statement; `table` names the target in errors.
    pub fn bind_insert_source(
        &self,
        source: &ast::Query,
        table: &str,
        target: &[InsertColumn],
        columns: &[ast::Ident],
    ) -> Result<LogicalPlan> {
        let plan = self.bind_query(source)?;
        let source_schema = plan.schema();
        let width = source_schema.fields().len();
        let span = source.span();
        // For each target column, the source column feeding it.
        let mut feeds: Vec<Option<usize>> = vec![None; target.len()];
        if columns.is_empty() {
            if width != target.len() {
                let which = if width > target.len() { "more expressions than" } else { "fewer expressions than" };
                return Err(plan_err(
                    format!(
                        "INSERT into '{table}' has {which} target columns: {width} value(s) for {} column(s)",
                        target.len()
                    ),
                    span,
                ));
            }
            feeds.iter_mut().enumerate().for_each(|(i, feed)| *feed = Some(i));
        } else {
            if columns.len() != width {
                return Err(plan_err(
                    format!(
                        "INSERT into '{table}' names {} column(s) but gives {width} value(s) per row",
                        columns.len()
                    ),
                    span,
                ));
            }
            for (position, ident) in columns.iter().enumerate() {
                let name = ident_name(ident);
                let Some(index) = target.iter().position(|c| eq_ignore_case(&c.name, &name)) else {
                    let names: Vec<&str> = target.iter().map(|c| c.name.as_str()).collect();
                    return Err(plan_err(
                        format!("column '{name}' of table '{table}' does not exist (columns: {})", names.join(", ")),
                        ident.span,
                    ));
                };
                if feeds[index].is_some() {
                    return Err(plan_err(format!("column '{name}' is named more than once"), ident.span));
                }
                feeds[index] = Some(position);
            }
        }
        let mut exprs = Vec::with_capacity(target.len());
        for (column, feed) in target.iter().zip(&feeds) {
            let expr = match feed {
                Some(i) => {
                    let from = source_schema.field(*i).data_type();
                    if from != &column.data_type && from != &DataType::Null && !can_cast_types(from, &column.data_type)
                    {
                        return Err(plan_err(
                            format!(
                                "column '{}' of '{table}' is of type {} but the value is of type {}",
                                column.name,
                                sql_type_name(&column.data_type),
                                sql_type_name(from)
                            ),
                            span,
                        ));
                    }
                    cast_to(Expr::Column(*i), from, &column.data_type)
                }
                None => Expr::Literal(ScalarValue::null_of(&column.data_type)?),
            };
            exprs.push(expr);
        }
        let fields: Vec<Field> = target.iter().map(|c| Field::new(c.name.clone(), c.data_type.clone(), true)).collect();
        Ok(LogicalPlan::Project { input: Box::new(plan), exprs, schema: Arc::new(Schema::new(fields)) })
    }
}
