//! SQL front end: Tarn's dialect over sqlparser, and the binder from AST to logical plan.

pub mod binder;
pub mod dialect;
pub mod parser;
pub mod statement;

pub use parser::parse_statements;
pub use statement::TarnStatement;
