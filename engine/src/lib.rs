//! `tarn-engine`: SQL text → bound logical plan → optimized plan → push-based pipelines over Arrow
//! batches on a rayon pool, reading Parquet and CSV from local folders and S3.

pub mod error;
pub mod exec;
pub mod expr;
pub mod io;
pub mod optimizer;
pub mod plan;
pub mod process;
pub mod session;
pub mod sql;
pub mod write;

pub use error::{EngineError, Result, SqlPosition};
pub use session::{QueryOutput, Session};
