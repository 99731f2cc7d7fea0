//! The three roles of the push-based execution model (morsel-driven, as in DuckDB/HyPer): a
//! `Source` splits its input into morsels that workers read independently, `Operator`s map each
//! batch to zero or more batches, and a `Sink` keeps per-worker state that is combined once per
//! worker and finalized once per pipeline. A pipeline runs its morsels on the rayon pool.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use tarn_catalog::{Catalog, StoreRegistry};

use crate::error::{EngineError, Result};
use crate::exec::memory_limit::MemoryTracker;
use crate::expr::functions::FunctionRegistry;
use crate::io::metrics::ScanBudget;

/// Everything a running query shares: storage, the I/O runtime, the function registry and the
/// cancellation flag (set by Ctrl-C in the REPL).
#[derive(Clone)]
pub struct ExecContext {
    /// For sources that read catalog state at open time (the live file list of local tables).
    pub catalog: Arc<Catalog>,
    pub stores: Arc<StoreRegistry>,
    /// Handle of the tokio runtime reserved for object-store I/O; operators never block on it
    /// except to wait for bytes they need.
    pub io: tokio::runtime::Handle,
    pub functions: Arc<FunctionRegistry>,
    pub cancel: Arc<AtomicBool>,
    /// Target rows per batch produced by sources.
    pub batch_size: usize,
    /// This query's memory reservations against `SET memory_limit`.
    pub memory: Arc<MemoryTracker>,
    /// Bytes this query's scans read from storage, against `SET max_scan_bytes`.
    pub scan_budget: Arc<ScanBudget>,
}

impl ExecContext {
    /// Fails with `Cancelled` once the user cancelled the query; sources call it between batches.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(EngineError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Where a pipeline's batches come from (a table scan, a finished sink's output, literal rows).
pub trait Source: Send + Sync {
    fn schema(&self) -> SchemaRef;
    /// Plans this execution's morsels (lists files, reads footers, prunes) once.
    fn open(&self, ctx: &ExecContext) -> Result<Box<dyn Morsels>>;
    /// One line for `EXPLAIN` describing what the source reads.
    fn describe(&self) -> String;
}

/// The morsels of one opened source; workers read them in any order and concurrently.
pub trait Morsels: Send + Sync {
    fn count(&self) -> usize;
    /// Reads morsel `index`, pushing its batches (of about `ctx.batch_size` rows) into `out`.
    /// When `out` fails the source stops reading and returns that error unchanged: this is how
    /// the scheduler stops a morsel early (a satisfied `LIMIT`, another worker's error).
    fn read(&self, index: usize, ctx: &ExecContext, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()>;
}

/// A streaming batch-to-batches step (filter, project, hash-join probe).
pub trait Operator: Send + Sync {
    fn schema(&self) -> SchemaRef;
    fn execute(&self, batch: RecordBatch, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()>;
    /// Called once after every morsel has passed; emits what only the end can know (e.g. the
    /// unmatched build rows of a right or full outer join).
    fn finish(&self, _out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        Ok(())
    }
    fn describe(&self) -> String;
}

/// The end of a pipeline (aggregate, join build, sort, limit, result collection).
pub trait Sink: Send + Sync {
    /// Fresh state for one worker.
    fn local(&self) -> Box<dyn LocalSink>;
    /// Merges one worker's state into the shared state; called once per worker.
    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()>;
    /// Produces the sink's output once every worker has combined.
    fn finalize(&self) -> Result<Vec<RecordBatch>>;
    fn describe(&self) -> String;
    /// Whether the sink needs no more input (a satisfied `LIMIT`); the scheduler then stops the
    /// pipeline's sources instead of reading to the end.
    fn is_satisfied(&self) -> bool {
        false
    }
}

/// Per-worker sink state.
pub trait LocalSink: Send {
    fn sink(&mut self, batch: RecordBatch) -> Result<()>;
    /// Bytes this worker's state holds, for the query's memory accounting (the scheduler
    /// reserves the growth after each batch). Sinks that keep at most a bounded number of rows
    /// (a `LIMIT`) report 0.
    fn memory_size(&self) -> usize {
        0
    }
    /// For `Sink::combine` to recover its concrete type.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// Recovers a sink's own local state type in `Sink::combine`.
pub(crate) fn downcast_local<T: 'static>(local: Box<dyn LocalSink>) -> Result<Box<T>> {
    local.into_any().downcast::<T>().map_err(|_| EngineError::execution("a sink received another sink's local state"))
}

/// Locks shared sink or operator state; a poisoned lock means a worker panicked, reported as an
/// error rather than a second panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| EngineError::execution("a worker panicked while holding shared query state"))
}
