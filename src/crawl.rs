//! `tarn crawl`: turns a bucket or folder into catalog tables through the crawler crate, printing
//! its plan (with the reason for every decision) as text or JSON.

use std::io::Write;

use tarn_crawler::{run_crawl, CrawlOptions, DeleteBehavior};
use tarn_engine::Session;

use crate::output::OutputFormat;

/// Flags of `tarn crawl`, named as the Glue crawler's settings are.
#[derive(Debug, clap::Args)]
pub struct CrawlArgs {
    /// s3://bucket/prefix/, file:///abs/path/ or a path
    url: String,
    /// Catalog database the tables go into (created when missing)
    #[arg(long)]
    database: String,
    /// Print the plan and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Skip keys matching GLOB (relative to the url; `*`, `**`, `?`, `[...]`, `{a,b}`); repeatable
    #[arg(long = "exclude", value_name = "GLOB")]
    excludes: Vec<String>,
    /// Prefix for every table name the crawler makes up
    #[arg(long, default_value = "")]
    table_prefix: String,
    /// Folder depth below the url that holds tables (1 = each top-level folder is a table)
    #[arg(long, default_value_t = 1)]
    table_level: usize,
    /// Rows sampled per CSV file for type inference
    #[arg(long, default_value_t = tarn_crawler::options::DEFAULT_SAMPLE_ROWS)]
    sample_rows: usize,
    /// What a re-crawl does with partitions and tables whose files vanished
    #[arg(long, default_value = "log", value_parser = ["log", "delete"])]
    delete_behavior: String,
}

/// Runs the crawl on the session's catalog and prints the report.
pub fn run(args: &CrawlArgs, session: &Session, format: OutputFormat, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut options = CrawlOptions::new(&args.url, &args.database);
    options.dry_run = args.dry_run;
    options.excludes = args.excludes.clone();
    options.table_prefix = args.table_prefix.clone();
    options.table_level = args.table_level;
    options.sample_rows = args.sample_rows;
    options.delete_behavior = DeleteBehavior::parse(&args.delete_behavior)?;
    let report =
        tarn_engine::io::runtime::io_runtime().block_on(run_crawl(session.catalog(), session.stores(), &options))?;
    match format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report.to_json())?)?,
        _ => write!(out, "{}", report.render_text())?,
    }
    Ok(())
}
