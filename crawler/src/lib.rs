//! `tarn-crawler`: turns a bucket or folder into catalog tables and explains every decision.
//!
//! The pipeline, one module per step: [`list`] (pagination, bounded parallelism, skip rules and
//! `--exclude` globs) → [`classify`] by content ([`parquet_footer`], [`sample`] + [`sniff`] +
//! [`infer`] for delimited text, [`json_lines`], [`compression`]) → [`partitions`] and
//! [`group`] into tables with merged [`schema`]s → [`plan`] against the catalog → [`apply`] in
//! one transaction. [`cli::run_crawl`] runs it all; [`render`] prints plans as text and JSON.
//! Depends on the catalog only, never on the engine.

pub mod apply;
pub mod classify;
pub mod cli;
pub mod compression;
pub mod delimited;
pub mod error;
pub mod group;
pub mod infer;
pub mod json_lines;
pub mod known;
pub mod list;
pub mod object_error;
pub mod options;
pub mod parquet_footer;
pub mod partitions;
pub mod plan;
pub mod progress;
pub mod render;
pub mod sample;
pub mod schema;
pub mod sniff;

pub use apply::{apply_plan, ApplySummary};
pub use cli::{run_crawl, CrawlReport};
pub use error::{CrawlError, Result};
pub use options::{CrawlOptions, DeleteBehavior, ProgressMode};
pub use plan::{CrawlPlan, TableAction, TablePlan};
