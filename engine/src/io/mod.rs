//! Lake I/O: Parquet and CSV scans over object stores, and the tokio runtime reserved for I/O.
//!
//! A scan lists its files at open time ([`listing`]), plans morsels (Parquet row-group ranges
//! pruned by statistics, whole text files), prefetches their bytes on the I/O runtime
//! ([`prefetch`]) and decodes them on rayon workers ([`parquet_scan`], [`csv_scan`]) into batches
//! of exactly the table's declared types ([`table_scan`]).

pub mod bloom;
pub mod csv_dialect;
pub mod csv_scan;
pub mod csv_writer;
pub mod dictionary_filter;
pub mod dictionary_strings;
pub mod fetched_ranges;
pub mod listing;
pub mod metrics;
pub mod object_reader;
pub mod parquet_scan;
pub mod parquet_writer;
pub mod prefetch;
pub mod pruning;
pub mod runtime;
pub mod runtime_pruning;
#[cfg(test)]
mod scan_tests;
pub mod table_scan;
pub mod text_values;

pub use csv_dialect::CsvDialect;
pub use metrics::ScanMetrics;
pub use object_reader::{ObjectFile, ObjectReader};
pub use runtime::{block_on_io, io_runtime};
pub use table_scan::{ScanOptions, TableScanSource};
