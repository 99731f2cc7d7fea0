//! `tarn-catalog`: the Glue-style catalog (databases, tables, storage descriptors, partitions),
//! its persistent transactional store in `$TARN_HOME`, and the resolution of table locations to
//! object stores with AWS credentials. Depends on no other Tarn crate.

pub mod error;
pub mod location;
pub mod model;
pub mod store;
pub mod types;

pub use error::{CatalogError, Result};
pub use location::{Location, StoreRegistry};
pub use model::*;
pub use store::{Catalog, CatalogTxn, CrawledFile, CrawledFiles, PendingWrite};
pub use types::SqlType;
