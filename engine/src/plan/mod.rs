//! Logical plans and expressions: what the binder produces and the optimizer rewrites.

pub mod expr;
pub mod logical;
pub mod scalar;
pub mod types;

pub use expr::{AggregateExpr, BinaryOp, Expr, SortExpr};
pub use logical::{JoinType, LogicalPlan, TableScan};
pub use scalar::ScalarValue;
