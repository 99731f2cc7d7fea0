//! Runs pipelines on the rayon pool, morsel-driven: each worker reads whole morsels, pushes their
//! batches through the operators into its own local sink state, and combines that state into the
//! shared sink once. A failing worker, a cancelled query or a satisfied `LIMIT` stops every
//! worker at its next batch; the first real error wins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::error::{EngineError, Result};
use crate::exec::memory::MemorySource;
use crate::exec::physical_plan::{PhysicalPlan, PipelineInput};
use crate::exec::pipeline::{lock, ExecContext, LocalSink, Morsels, Operator, Sink, Source};

/// Runs every stage in order and returns the last stage's output. Each stage's output is read
/// by exactly one later pipeline, so it is handed over, not copied.
pub fn run_plan(plan: &PhysicalPlan, ctx: &ExecContext) -> Result<Vec<RecordBatch>> {
    let mut outputs: Vec<Option<Vec<RecordBatch>>> = Vec::with_capacity(plan.stages.len());
    for stage in &plan.stages {
        for pipeline in &stage.pipelines {
            let source: Arc<dyn Source> = match &pipeline.input {
                PipelineInput::Source(source) => source.clone(),
                PipelineInput::Stage { index, schema } => {
                    let batches = outputs.get_mut(*index).and_then(Option::take).ok_or_else(|| {
                        EngineError::execution(format!("stage {index} was read before it ran, or twice"))
                    })?;
                    Arc::new(MemorySource::new(schema.clone(), batches, format!("output of stage {index}")))
                }
            };
            run_pipeline(source.as_ref(), &pipeline.operators, stage.sink.as_ref(), pipeline.preserve_order, ctx)?;
        }
        ctx.check_cancelled()?;
        outputs.push(Some(stage.sink.finalize()?));
    }
    Ok(outputs.pop().flatten().unwrap_or_default())
}

/// Pushes every batch of `source` through `operators` into `sink` (not finalized: several
/// pipelines may feed one sink). With `preserve_order` morsels still run in parallel, but their
/// output reaches the sink in morsel order.
pub fn run_pipeline(
    source: &dyn Source,
    operators: &[Arc<dyn Operator>],
    sink: &dyn Sink,
    preserve_order: bool,
    ctx: &ExecContext,
) -> Result<()> {
    ctx.check_cancelled()?;
    let morsels = source.open(ctx)?;
    let control = PipelineControl::default();
    let run = Run { morsels: morsels.as_ref(), operators, sink, ctx, control: &control };
    let outcome = if preserve_order { run.ordered() } else { run.parallel() };
    if let Some(error) = control.first_error()? {
        return Err(error);
    }
    match outcome {
        Ok(()) | Err(EngineError::PipelineStopped) => {}
        Err(error) => return Err(error),
    }
    ctx.check_cancelled()?;
    run.finish_operators()
}

/// What all workers of one pipeline share: whether to stop, and the first error.
#[derive(Default)]
struct PipelineControl {
    stopped: AtomicBool,
    failed: AtomicBool,
    error: Mutex<Option<EngineError>>,
}

impl PipelineControl {
    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Records `error` unless the pipeline had already stopped (then it is a consequence of the
    /// stop, e.g. a source that wrapped the stop signal, not a cause).
    fn fail(&self, error: EngineError) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.failed.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(error);
        }
    }

    fn first_error(&self) -> Result<Option<EngineError>> {
        Ok(lock(&self.error)?.take())
    }
}

/// One pipeline execution.
struct Run<'a> {
    morsels: &'a dyn Morsels,
    operators: &'a [Arc<dyn Operator>],
    sink: &'a dyn Sink,
    ctx: &'a ExecContext,
    control: &'a PipelineControl,
}

impl Run<'_> {
    /// Workers fold morsels into their own local sink, then combine it (in parallel).
    fn parallel(&self) -> Result<()> {
        (0..self.morsels.count())
            .into_par_iter()
            .try_fold(
                || self.sink.local(),
                |mut local, index| {
                    self.read_morsel(index, &mut |batch| local.sink(batch))?;
                    Ok::<_, EngineError>(local)
                },
            )
            .try_for_each(|local| self.sink.combine(local?))
    }

    /// Morsels run in parallel into per-morsel buffers; the buffers then reach one local sink
    /// in morsel order.
    fn ordered(&self) -> Result<()> {
        let outputs: Vec<Vec<RecordBatch>> = (0..self.morsels.count())
            .into_par_iter()
            .map(|index| {
                let mut batches = Vec::new();
                self.read_morsel(index, &mut |batch| {
                    batches.push(batch);
                    Ok(())
                })?;
                Ok(batches)
            })
            .collect::<Result<_>>()?;
        let mut local = self.sink.local();
        for batch in outputs.into_iter().flatten() {
            if self.sink.is_satisfied() {
                break;
            }
            local.sink(batch)?;
        }
        self.sink.combine(local)
    }

    /// Reads one morsel through the operators into `sink`. Once the pipeline has failed it
    /// returns `PipelineStopped`, so rayon stops handing out morsels; once the sink is satisfied
    /// it returns `Ok` (the worker's local state still holds rows to combine) and skips the rest.
    fn read_morsel(&self, index: usize, sink: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        if !self.should_stop() {
            let result = self.morsels.read(index, self.ctx, &mut |batch| {
                if self.should_stop() {
                    return Err(EngineError::PipelineStopped);
                }
                push(batch, self.operators, sink)
            });
            match result {
                Ok(()) | Err(EngineError::PipelineStopped) => {}
                Err(error) => self.control.fail(error),
            }
        }
        if self.control.has_failed() {
            Err(EngineError::PipelineStopped)
        } else {
            Ok(())
        }
    }

    /// Whether workers should stop now; a cancellation is recorded as the pipeline's error.
    fn should_stop(&self) -> bool {
        if self.control.is_stopped() {
            return true;
        }
        if let Err(error) = self.ctx.check_cancelled() {
            self.control.fail(error);
            return true;
        }
        if self.sink.is_satisfied() {
            self.control.stopped.store(true, Ordering::SeqCst);
            return true;
        }
        false
    }

    /// Pushes each operator's end-of-input output through the operators after it (single
    /// threaded: it runs once, after every morsel).
    fn finish_operators(&self) -> Result<()> {
        let mut local: Option<Box<dyn LocalSink>> = None;
        for (position, operator) in self.operators.iter().enumerate() {
            let rest = &self.operators[position + 1..];
            operator.finish(&mut |batch| {
                push(batch, rest, &mut |batch| local.get_or_insert_with(|| self.sink.local()).sink(batch))
            })?;
        }
        match local {
            Some(local) => self.sink.combine(local),
            None => Ok(()),
        }
    }
}

/// Pushes `batch` through `operators` into `sink`; empty batches stop early.
fn push(
    batch: RecordBatch,
    operators: &[Arc<dyn Operator>],
    sink: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    match operators.split_first() {
        None => sink(batch),
        Some((operator, rest)) => operator.execute(batch, &mut |out| push(out, rest, sink)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

    use super::*;
    use crate::exec::collect::CollectSink;
    use crate::exec::limit::LimitSink;
    use crate::exec::testing::{context, on_pool, rows};

    /// `morsels` morsels of `batches_per_morsel` one-row batches holding the morsel index;
    /// optionally failing in one morsel or cancelling the query from one.
    struct TestSource {
        schema: SchemaRef,
        morsels: usize,
        batches_per_morsel: usize,
        fail_in: Option<usize>,
        cancel_in: Option<usize>,
        batches_read: Arc<AtomicUsize>,
    }

    impl TestSource {
        fn new(morsels: usize, batches_per_morsel: usize) -> TestSource {
            TestSource {
                schema: Arc::new(Schema::new(vec![Field::new("m", DataType::Int64, false)])),
                morsels,
                batches_per_morsel,
                fail_in: None,
                cancel_in: None,
                batches_read: Arc::new(AtomicUsize::new(0)),
            }
        }
    }

    struct TestMorsels {
        schema: SchemaRef,
        morsels: usize,
        batches_per_morsel: usize,
        fail_in: Option<usize>,
        cancel_in: Option<usize>,
        batches_read: Arc<AtomicUsize>,
    }

    impl Source for TestSource {
        fn schema(&self) -> SchemaRef {
            self.schema.clone()
        }

        fn open(&self, _: &ExecContext) -> Result<Box<dyn Morsels>> {
            Ok(Box::new(TestMorsels {
                schema: self.schema.clone(),
                morsels: self.morsels,
                batches_per_morsel: self.batches_per_morsel,
                fail_in: self.fail_in,
                cancel_in: self.cancel_in,
                batches_read: self.batches_read.clone(),
            }))
        }

        fn describe(&self) -> String {
            "Test".into()
        }
    }

    impl Morsels for TestMorsels {
        fn count(&self) -> usize {
            self.morsels
        }

        fn read(&self, index: usize, ctx: &ExecContext, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
            for _ in 0..self.batches_per_morsel {
                if self.fail_in == Some(index) {
                    return Err(EngineError::execution(format!("bad data in morsel {index}")));
                }
                if self.cancel_in == Some(index) {
                    ctx.cancel.store(true, Ordering::Relaxed);
                }
                self.batches_read.fetch_add(1, Ordering::Relaxed);
                let column = Arc::new(Int64Array::from(vec![index as i64]));
                out(RecordBatch::try_new(self.schema.clone(), vec![column])?)?;
            }
            Ok(())
        }
    }

    #[test]
    fn every_morsel_reaches_the_sink() {
        let ctx = context(16);
        let source = TestSource::new(200, 3);
        let sink = CollectSink::new(source.schema(), 16, "Result");
        on_pool(4, || run_pipeline(&source, &[], &sink, false, &ctx)).unwrap();
        let mut seen: Vec<i64> = rows(&sink.finalize().unwrap()).iter().map(|r| r.parse().unwrap()).collect();
        seen.sort();
        let expected: Vec<i64> = (0..200).flat_map(|m| [m, m, m]).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn ordered_pipeline_keeps_morsel_order() {
        let ctx = context(16);
        let source = TestSource::new(100, 2);
        let sink = CollectSink::new(source.schema(), 16, "Result");
        on_pool(4, || run_pipeline(&source, &[], &sink, true, &ctx)).unwrap();
        let seen: Vec<i64> = rows(&sink.finalize().unwrap()).iter().map(|r| r.parse().unwrap()).collect();
        let expected: Vec<i64> = (0..100).flat_map(|m| [m, m]).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn first_error_stops_the_other_workers() {
        let ctx = context(16);
        let mut source = TestSource::new(10_000, 1);
        source.fail_in = Some(3);
        let sink = CollectSink::new(source.schema(), 16, "Result");
        let error = on_pool(4, || run_pipeline(&source, &[], &sink, false, &ctx)).unwrap_err();
        assert_eq!(error.to_string(), "bad data in morsel 3");
        assert!(source.batches_read.load(Ordering::Relaxed) < 10_000);
    }

    #[test]
    fn cancellation_mid_pipeline_stops_it() {
        let ctx = context(16);
        let mut source = TestSource::new(10_000, 1);
        source.cancel_in = Some(5);
        let sink = CollectSink::new(source.schema(), 16, "Result");
        let error = on_pool(4, || run_pipeline(&source, &[], &sink, false, &ctx)).unwrap_err();
        assert!(matches!(error, EngineError::Cancelled));
        assert!(source.batches_read.load(Ordering::Relaxed) < 10_000);
    }

    #[test]
    fn satisfied_limit_stops_reading_early() {
        let ctx = context(16);
        let source = TestSource::new(10_000, 10);
        let sink = LimitSink::new(source.schema(), 0, Some(5), 16);
        on_pool(4, || run_pipeline(&source, &[], &sink, false, &ctx)).unwrap();
        assert_eq!(rows(&sink.finalize().unwrap()).len(), 5);
        // Each worker finishes at most the batch it was pushing when the limit filled up.
        assert!(source.batches_read.load(Ordering::Relaxed) < 100);
    }
}
