//! Errors of the crawler. Only failures that stop a whole crawl are errors; a bad file is a
//! finding in the plan (`Unclassified`), never an error, so the rest of the crawl proceeds.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CrawlError {
    #[error(transparent)]
    Catalog(#[from] tarn_catalog::CatalogError),
    #[error("listing {location}: {source}")]
    List { location: String, source: object_store::Error },
    #[error("invalid --exclude pattern '{pattern}': {reason}")]
    InvalidExclude { pattern: String, reason: String },
    #[error("invalid crawl option: {0}")]
    InvalidOption(String),
    #[error("nothing to crawl at {0}: no objects were found there")]
    NothingFound(String),
    #[error(
        "the catalog changed while the plan was applied: table '{table}' is at version {found}, the plan was made \
         against version {planned}; run the crawl again"
    )]
    Conflict { table: String, planned: i64, found: i64 },
}

pub type Result<T, E = CrawlError> = std::result::Result<T, E>;
