//! Runs pipelines on the rayon pool, morsel-driven: each worker reads whole morsels, pushes their
//! batches through the operators into its own local sink state, and combines that state into the
//! shared sink once. A failing worker, a cancelled query or a satisfied `LIMIT` stops every
//! worker at its next batch; the first real error wins.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::error::{EngineError, Result};
use crate::exec::memory::MemorySource;
use crate::exec::physical_plan::{PhysicalPlan, PipelineInput};
use crate::exec::pipeline::{lock, ExecContext, LocalSink, Morsels, Operator, Sink, Source};
use crate::exec::profile::{add_time, PipelineProfile, PlanProfile, StepProfile};

/// Runs every stage in order and returns the last stage's output. Each stage's output is read
/// by exactly one later pipeline, so it is handed over, not copied.
pub fn run_plan(plan: &PhysicalPlan, ctx: &ExecContext) -> Result<Vec<RecordBatch>> {
    run_plan_profiled(plan, ctx, None)
}

/// `run_plan`, counting rows and time into `profile` (made by `PlanProfile::for_plan(plan)`)
/// for `EXPLAIN ANALYZE`. Memory a stage's sink reserved is returned once the pipeline reading
/// its output has run.
pub fn run_plan_profiled(
    plan: &PhysicalPlan,
    ctx: &ExecContext,
    profile: Option<&PlanProfile>,
) -> Result<Vec<RecordBatch>> {
    let mut outputs: Vec<Option<Vec<RecordBatch>>> = Vec::with_capacity(plan.stages.len());
    let reserved: Vec<AtomicU64> = plan.stages.iter().map(|_| AtomicU64::new(0)).collect();
    for (stage_index, stage) in plan.stages.iter().enumerate() {
        let stage_profile = profile.and_then(|p| p.stages.get(stage_index));
        for (pipeline_index, pipeline) in stage.pipelines.iter().enumerate() {
            let pipeline_profile = stage_profile.and_then(|p| p.pipelines.get(pipeline_index));
            let source: Arc<dyn Source> = match &pipeline.input {
                PipelineInput::Source(source) => source.clone(),
                PipelineInput::Stage { index, schema } => {
                    let batches = outputs.get_mut(*index).and_then(Option::take).ok_or_else(|| {
                        EngineError::execution(format!("stage {index} was read before it ran, or twice"))
                    })?;
                    Arc::new(MemorySource::new(schema.clone(), batches, format!("output of stage {index}")))
                }
            };
            let started = Instant::now();
            let sink = stage.sink.as_ref();
            let accounting = Accounting { reserved: &reserved[stage_index], profile: pipeline_profile };
            run_accounted(source.as_ref(), &pipeline.operators, sink, pipeline.preserve_order, ctx, accounting)?;
            if let Some(p) = pipeline_profile {
                add_time(&p.wall_nanos, started.elapsed());
            }
            if let PipelineInput::Stage { index, .. } = &pipeline.input {
                ctx.memory.shrink(reserved[*index].swap(0, Ordering::SeqCst));
            }
        }
        ctx.check_cancelled()?;
        let started = Instant::now();
        let output = stage.sink.finalize()?;
        if let Some(p) = stage_profile {
            add_time(&p.finalize_nanos, started.elapsed());
            p.memory_bytes.store(reserved[stage_index].load(Ordering::SeqCst), Ordering::Relaxed);
            p.output_rows.store(output.iter().map(|b| b.num_rows() as u64).sum(), Ordering::Relaxed);
        }
        outputs.push(Some(output));
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
    let reserved = AtomicU64::new(0);
    run_accounted(source, operators, sink, preserve_order, ctx, Accounting { reserved: &reserved, profile: None })
}

/// Where one pipeline run reports: the bytes its sink's workers reserve, and optionally rows and
/// time for `EXPLAIN ANALYZE`.
struct Accounting<'a> {
    reserved: &'a AtomicU64,
    profile: Option<&'a PipelineProfile>,
}

/// `run_pipeline`, reporting to `accounting`.
fn run_accounted(
    source: &dyn Source,
    operators: &[Arc<dyn Operator>],
    sink: &dyn Sink,
    preserve_order: bool,
    ctx: &ExecContext,
    accounting: Accounting<'_>,
) -> Result<()> {
    ctx.check_cancelled()?;
    let morsels = source.open(ctx)?;
    let control = PipelineControl::default();
    let label = sink.describe().split_whitespace().next().unwrap_or("sink").to_string();
    let memory = SinkMemory { ctx, label: &label, reserved: accounting.reserved };
    let steps = accounting.profile.map(|p| p.steps.as_slice());
    let read_nanos = accounting.profile.map(|p| &p.read_nanos);
    let run =
        Run { morsels: morsels.as_ref(), operators, sink, ctx, control: &control, memory: &memory, steps, read_nanos };
    if let Some(p) = accounting.profile {
        p.morsels.fetch_add(morsels.count() as u64, Ordering::Relaxed);
    }

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
    memory: &'a SinkMemory<'a>,
    /// Profile counters, one per operator then the sink (`EXPLAIN ANALYZE` only).
    steps: Option<&'a [StepProfile]>,
    read_nanos: Option<&'a AtomicU64>,
}

/// Reserves the growth of a sink's worker states in the query's memory tracker.
struct SinkMemory<'a> {
    ctx: &'a ExecContext,
    /// The sink's name for the error (`HashAggregate`, `Sort`).
    label: &'a str,
    /// What this sink's workers reserved in all, returned when its output is consumed.
    reserved: &'a AtomicU64,
}

/// A worker's local sink state and the bytes reserved for it so far.
struct AccountedLocal {
    local: Box<dyn LocalSink>,
    reported: usize,
}

impl SinkMemory<'_> {
    fn local(&self, sink: &dyn Sink) -> AccountedLocal {
        AccountedLocal { local: sink.local(), reported: 0 }
    }

    /// Sinks `batch`, then reserves (or returns) the change in the worker state's size.
    fn sink(&self, local: &mut AccountedLocal, batch: RecordBatch) -> Result<()> {
        local.local.sink(batch)?;
        let now = local.local.memory_size();
        if now > local.reported {
            let grown = (now - local.reported) as u64;
            self.ctx.memory.grow(grown, self.label)?;
            self.reserved.fetch_add(grown, Ordering::SeqCst);
        } else if now < local.reported {
            let shrunk = (local.reported - now) as u64;
            self.ctx.memory.shrink(shrunk);
            self.reserved.fetch_sub(shrunk.min(self.reserved.load(Ordering::SeqCst)), Ordering::SeqCst);
        }
        local.reported = now;
        Ok(())
    }
}

impl Run<'_> {
    /// Workers fold morsels into their own local sink, then combine it (in parallel).
    fn parallel(&self) -> Result<()> {
        (0..self.morsels.count())
            .into_par_iter()
            .try_fold(
                || self.memory.local(self.sink),
                |mut local, index| {
                    self.read_morsel(index, &mut |batch| self.memory.sink(&mut local, batch))?;
                    Ok::<_, EngineError>(local)
                },
            )
            .try_for_each(|local| self.sink.combine(local?.local))
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
        let mut local = self.memory.local(self.sink);
        for batch in outputs.into_iter().flatten() {
            if self.sink.is_satisfied() {
                break;
            }
            self.memory.sink(&mut local, batch)?;
        }
        self.sink.combine(local.local)
    }

    /// Reads one morsel through the operators into `sink`. Once the pipeline has failed it
    /// returns `PipelineStopped`, so rayon stops handing out morsels; once the sink is satisfied
    /// it returns `Ok` (the worker's local state still holds rows to combine) and skips the rest.
    fn read_morsel(&self, index: usize, sink: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        if !self.should_stop() {
            let started = self.read_nanos.map(|_| Instant::now());
            let result = self.morsels.read(index, self.ctx, &mut |batch| {
                if self.should_stop() {
                    return Err(EngineError::PipelineStopped);
                }
                push(batch, self.operators, self.steps, sink)
            });
            if let (Some(counter), Some(started)) = (self.read_nanos, started) {
                add_time(counter, started.elapsed());
            }
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
        let mut local: Option<AccountedLocal> = None;
        for (position, operator) in self.operators.iter().enumerate() {
            let rest = &self.operators[position + 1..];
            let steps = self.steps.and_then(|s| s.get(position + 1..));
            operator.finish(&mut |batch| {
                push(batch, rest, steps, &mut |batch| {
                    let local = local.get_or_insert_with(|| self.memory.local(self.sink));
                    self.memory.sink(local, batch)
                })
            })?;
        }
        match local {
            Some(local) => self.sink.combine(local.local),
            None => Ok(()),
        }
    }
}

/// Pushes `batch` through `operators` into `sink`; empty batches stop early. With `steps`
/// (one per operator, then the sink's) it counts the rows reaching each step and the time spent
/// from there on.
fn push(
    batch: RecordBatch,
    operators: &[Arc<dyn Operator>],
    steps: Option<&[StepProfile]>,
    sink: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    let step = steps.and_then(<[StepProfile]>::first);
    if let Some(step) = step {
        step.rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
    }
    let started = step.map(|_| Instant::now());
    let result = match operators.split_first() {
        None => sink(batch),
        Some((operator, rest)) => {
            let rest_steps = steps.and_then(|s| s.get(1..));
            operator.execute(batch, &mut |out| push(out, rest, rest_steps, sink))
        }
    };
    if let (Some(step), Some(started)) = (step, started) {
        add_time(&step.nanos, started.elapsed());
    }
    result
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
