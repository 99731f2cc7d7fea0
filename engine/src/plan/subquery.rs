//! Subqueries inside expressions, as the binder leaves them. They live only until the
//! `decorrelation` rule, which runs first and turns each into a join (semi, anti, mark or single),
//! so no later stage ever executes a subquery per row.

use std::fmt;

use crate::plan::{Expr, LogicalPlan};

/// A subquery in an expression. Its plan may read the enclosing query's row through
/// `Expr::OuterColumn` (a correlated subquery).
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    pub plan: LogicalPlan,
    pub kind: SubqueryKind,
}

/// What the subquery's rows mean to the enclosing expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SubqueryKind {
    /// `(SELECT x ...)`: the single value (NULL with no row; more than one row is an error).
    Scalar,
    /// `[NOT] EXISTS (SELECT ...)`.
    Exists { negated: bool },
    /// `expr [NOT] IN (SELECT x ...)`, with SQL's three-valued logic; `expr` is over the enclosing
    /// query's input and already cast to the comparison type, as is the subquery's column.
    In { expr: Box<Expr>, negated: bool },
}

impl fmt::Display for Subquery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let indented = self.plan.display_indent();
        let plan = indented.lines().map(str::trim).collect::<Vec<_>>().join("; ");
        match &self.kind {
            SubqueryKind::Scalar => write!(f, "SUBQUERY({plan})"),
            SubqueryKind::Exists { negated } => write!(f, "{}EXISTS({plan})", if *negated { "NOT " } else { "" }),
            SubqueryKind::In { expr, negated } => {
                write!(f, "{expr} {}IN ({plan})", if *negated { "NOT " } else { "" })
            }
        }
    }
}
