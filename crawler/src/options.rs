//! What a crawl is asked to do: the `tarn crawl` flags, with the defaults Glue's crawler users
//! expect.

use crate::error::{CrawlError, Result};

/// Rows sampled per CSV file by default: DuckDB's sniffer default, enough to meet the rare
/// value that breaks a type, few enough that a crawl reads kilobytes per file, not the file.
pub const DEFAULT_SAMPLE_ROWS: usize = 20_480;

/// Object-store requests in flight at once (listings and footer/sample reads).
pub const DEFAULT_CONCURRENCY: usize = 32;

/// What a re-crawl does with partitions (and tables) whose data vanished from storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteBehavior {
    /// Keep them in the catalog and report them (Glue's `LOG`, the safe default).
    #[default]
    Log,
    /// Remove them from the catalog (Glue's `DELETE_FROM_DATABASE`).
    Delete,
}

impl DeleteBehavior {
    pub fn parse(text: &str) -> Result<DeleteBehavior> {
        match text.to_ascii_lowercase().as_str() {
            "log" => Ok(DeleteBehavior::Log),
            "delete" => Ok(DeleteBehavior::Delete),
            other => Err(CrawlError::InvalidOption(format!("--delete-behavior '{other}': expected log or delete"))),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            DeleteBehavior::Log => "log",
            DeleteBehavior::Delete => "delete",
        }
    }
}

/// Whether to draw progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// Only when stderr is a terminal, so scripts and logs stay clean.
    #[default]
    Auto,
    Never,
}

/// The options of one crawl (`tarn crawl <url> --database db ...`).
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// `s3://bucket/prefix/`, `file:///abs/path/` or a plain path.
    pub url: String,
    /// The catalog database the tables go into; created when missing.
    pub database: String,
    /// Build and return the plan without touching the catalog.
    pub dry_run: bool,
    /// Globs (`*`, `**`, `?`, `[...]`, `{a,b}`) matched against keys relative to `url`.
    pub excludes: Vec<String>,
    /// Prepended to every table name the crawler makes up.
    pub table_prefix: String,
    /// The folder depth below `url` that holds tables (1 = each top-level folder is a table).
    pub table_level: usize,
    /// Rows sampled per delimited-text file for type inference.
    pub sample_rows: usize,
    pub delete_behavior: DeleteBehavior,
    /// Object-store requests in flight at once.
    pub concurrency: usize,
    pub progress: ProgressMode,
}

impl CrawlOptions {
    /// Options with the defaults for everything but the two required arguments.
    pub fn new(url: impl Into<String>, database: impl Into<String>) -> CrawlOptions {
        CrawlOptions {
            url: url.into(),
            database: database.into(),
            dry_run: false,
            excludes: Vec::new(),
            table_prefix: String::new(),
            table_level: 1,
            sample_rows: DEFAULT_SAMPLE_ROWS,
            delete_behavior: DeleteBehavior::Log,
            concurrency: DEFAULT_CONCURRENCY,
            progress: ProgressMode::Auto,
        }
    }

    /// Refuses option values that cannot mean anything, before any request is made.
    pub fn validate(&self) -> Result<()> {
        if self.database.trim().is_empty() {
            return Err(CrawlError::InvalidOption("--database must name a database".into()));
        }
        if self.table_level == 0 {
            return Err(CrawlError::InvalidOption("--table-level must be at least 1 (1 = top-level folders)".into()));
        }
        if self.sample_rows == 0 {
            return Err(CrawlError::InvalidOption("--sample-rows must be at least 1".into()));
        }
        if self.concurrency == 0 {
            return Err(CrawlError::InvalidOption("concurrency must be at least 1".into()));
        }
        Ok(())
    }
}
