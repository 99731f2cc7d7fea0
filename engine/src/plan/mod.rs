//! Logical plans and expressions: what the binder produces and the optimizer rewrites.

pub mod expr;
pub mod logical;
pub mod scalar;
pub mod subquery;
pub mod types;
pub mod window;

pub use expr::{AggregateExpr, BinaryOp, Expr, SortExpr};
pub use logical::{JoinType, LogicalPlan, TableScan};
pub use scalar::ScalarValue;
pub use subquery::{Subquery, SubqueryKind};
pub use window::WindowExpr;
