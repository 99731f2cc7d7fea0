//! The write sink: the end of a pipeline that turns batches into files of a target. Workers
//! write into open files they check out of a shared pool, one file per partition folder at a
//! time, and hand them back when they combine; a file rolls over once it reaches the target
//! size. So a write produces about one file per worker and partition (never one per morsel),
//! files near the target size, and memory bounded by the open files' row-group buffers.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::UInt32Array;
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::exec::pipeline::{downcast_local, lock, LocalSink, Sink};
use crate::io::csv_writer::{CsvFileWriter, CsvWriteOptions};
use crate::io::parquet_writer::{ParquetFileWriter, ParquetWriteOptions};
use crate::write::partition_path::{partition_folder, partition_texts};
use crate::write::staging::{WriteTarget, WrittenFile};
use crate::write::upload::ObjectUpload;

/// Open files kept in the pool between workers at most; beyond that returned files are closed,
/// which bounds memory when a write fans out to many partitions.
const MAX_IDLE_FILES: usize = 256;

/// The file format a write produces.
#[derive(Debug, Clone, PartialEq)]
pub enum FileFormatSpec {
    Parquet(ParquetWriteOptions),
    Csv(CsvWriteOptions),
}

impl FileFormatSpec {
    fn extension(&self) -> &'static str {
        match self {
            FileFormatSpec::Parquet(_) => "parquet",
            FileFormatSpec::Csv(CsvWriteOptions { gzip: true, .. }) => "csv.gz",
            FileFormatSpec::Csv(_) => "csv",
        }
    }
}

/// What a write sink writes: where, how, and which input columns go where.
pub struct WriteSpec {
    pub target: WriteTarget,
    pub format: FileFormatSpec,
    /// The schema of the files: the data columns only.
    pub file_schema: SchemaRef,
    /// Positions in the input batches of the data columns, in file order.
    pub data_columns: Vec<usize>,
    /// Positions in the input batches of the partition keys, in folder order.
    pub partition_columns: Vec<usize>,
    pub partition_keys: Vec<String>,
    /// A file is closed and the next one started once it reaches this many bytes.
    pub target_file_size: u64,
}

/// One file being written (boxed: writers carry large state, and files move between workers).
enum FormatWriter {
    Parquet(Box<ParquetFileWriter<ObjectUpload>>),
    Csv(Box<CsvFileWriter<ObjectUpload>>),
}

struct OpenFile {
    relative: String,
    partition: Vec<Option<String>>,
    writer: FormatWriter,
}

impl OpenFile {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.writer {
            FormatWriter::Parquet(w) => w.write(batch),
            FormatWriter::Csv(w) => w.write(batch),
        }
    }

    fn size(&self) -> u64 {
        match &self.writer {
            FormatWriter::Parquet(w) => w.estimated_size(),
            FormatWriter::Csv(w) => w.estimated_size(),
        }
    }

    fn finish(self) -> Result<WrittenFile> {
        let (upload, rows) = match self.writer {
            FormatWriter::Parquet(w) => {
                let rows = w.rows();
                (w.finish()?, rows)
            }
            FormatWriter::Csv(w) => {
                let rows = w.rows();
                (w.finish()?, rows)
            }
        };
        let size_bytes = upload.finish()?;
        Ok(WrittenFile { relative: self.relative, partition: self.partition, size_bytes, row_count: rows })
    }
}

/// State shared by the sink and its workers.
struct Shared {
    spec: WriteSpec,
    sequence: AtomicU64,
    /// Open files no worker holds, by partition folder.
    idle: Mutex<HashMap<String, Vec<OpenFile>>>,
    /// Completed files, in completion order.
    written: Mutex<Vec<WrittenFile>>,
}

impl Shared {
    /// An idle open file of `folder`, or a new one.
    fn checkout(&self, folder: &str, partition: &[Option<String>]) -> Result<OpenFile> {
        if let Some(file) = lock(&self.idle)?.get_mut(folder).and_then(Vec::pop) {
            return Ok(file);
        }
        let spec = &self.spec;
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let relative = format!("{folder}part-{}-{n:05}.{}", spec.target.id, spec.format.extension());
        let location = spec.target.write_location(&relative);
        let upload = ObjectUpload::new(
            spec.target.store.clone(),
            location.object_path(),
            location.as_url_str(),
            spec.target.io.clone(),
        );
        let writer = match &spec.format {
            FileFormatSpec::Parquet(options) => {
                FormatWriter::Parquet(Box::new(ParquetFileWriter::try_new(upload, spec.file_schema.clone(), options)?))
            }
            FileFormatSpec::Csv(options) => FormatWriter::Csv(Box::new(CsvFileWriter::new(upload, options))),
        };
        Ok(OpenFile { relative, partition: partition.to_vec(), writer })
    }

    fn complete(&self, file: OpenFile) -> Result<()> {
        let written = file.finish()?;
        lock(&self.written)?.push(written);
        Ok(())
    }
}

/// The sink of a write; [`WriteSink::written_files`] lists what it wrote once the pipeline ran.
pub struct WriteSink {
    shared: Arc<Shared>,
}

impl WriteSink {
    pub fn new(spec: WriteSpec) -> WriteSink {
        WriteSink {
            shared: Arc::new(Shared {
                spec,
                sequence: AtomicU64::new(1),
                idle: Mutex::new(HashMap::new()),
                written: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The files completed so far (all of them after `finalize`); on a failed write, the ones to
    /// remove.
    pub fn written_files(&self) -> Result<Vec<WrittenFile>> {
        Ok(lock(&self.shared.written)?.clone())
    }
}

struct WriteLocal {
    shared: Arc<Shared>,
    open: HashMap<String, OpenFile>,
}

impl WriteLocal {
    fn write_to(&mut self, folder: String, partition: Vec<Option<String>>, batch: &RecordBatch) -> Result<()> {
        let mut file = match self.open.remove(&folder) {
            Some(file) => file,
            None => self.shared.checkout(&folder, &partition)?,
        };
        file.write(batch)?;
        if file.size() >= self.shared.spec.target_file_size {
            self.shared.complete(file)?;
        } else {
            self.open.insert(folder, file);
        }
        Ok(())
    }
}

impl LocalSink for WriteLocal {
    fn sink(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let spec = &self.shared.spec;
        let data = batch.project(&spec.data_columns)?;
        let data = RecordBatch::try_new(spec.file_schema.clone(), data.columns().to_vec())?;
        if spec.partition_columns.is_empty() {
            return self.write_to(String::new(), Vec::new(), &data);
        }
        let texts: Vec<Vec<Option<String>>> =
            spec.partition_columns.iter().map(|&c| partition_texts(batch.column(c))).collect::<Result<_>>()?;
        // Rows grouped by partition, groups in order of first appearance.
        let mut groups: Vec<(Vec<Option<String>>, Vec<u32>)> = Vec::new();
        let mut index: HashMap<Vec<Option<String>>, usize> = HashMap::new();
        for row in 0..batch.num_rows() {
            let values: Vec<Option<String>> = texts.iter().map(|column| column[row].clone()).collect();
            let slot = *index.entry(values.clone()).or_insert_with(|| {
                groups.push((values, Vec::new()));
                groups.len() - 1
            });
            groups[slot].1.push(row as u32);
        }
        let keys = spec.partition_keys.clone();
        for (values, rows) in groups {
            let part = if rows.len() == data.num_rows() {
                data.clone()
            } else {
                take_record_batch(&data, &UInt32Array::from(rows))?
            };
            self.write_to(partition_folder(&keys, &values), values, &part)?;
        }
        Ok(())
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl Sink for WriteSink {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(WriteLocal { shared: self.shared.clone(), open: HashMap::new() })
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        let local = downcast_local::<WriteLocal>(local)?;
        let mut overflow = Vec::new();
        {
            let mut idle = lock(&self.shared.idle)?;
            let mut count: usize = idle.values().map(Vec::len).sum();
            for (folder, file) in local.open {
                if count >= MAX_IDLE_FILES {
                    overflow.push(file);
                } else {
                    idle.entry(folder).or_default().push(file);
                    count += 1;
                }
            }
        }
        overflow.into_iter().try_for_each(|file| self.shared.complete(file))
    }

    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let idle: Vec<OpenFile> = lock(&self.shared.idle)?.drain().flat_map(|(_, files)| files).collect();
        idle.into_iter().try_for_each(|file| self.shared.complete(file))?;
        Ok(Vec::new())
    }

    fn describe(&self) -> String {
        let spec = &self.shared.spec;
        let format = match &spec.format {
            FileFormatSpec::Parquet(o) if o.bloom_filter_columns.is_empty() => {
                format!("parquet compression={}", o.compression.name())
            }
            FileFormatSpec::Parquet(o) => format!(
                "parquet compression={} bloom_filter_columns=[{}]",
                o.compression.name(),
                o.bloom_filter_columns.join(", ")
            ),
            FileFormatSpec::Csv(o) => format!("csv delimiter={:?}", o.delimiter as char),
        };
        let mut text = format!("Write {} {format}", spec.target.root);
        if !spec.partition_keys.is_empty() {
            text.push_str(&format!(" partitioned_by=[{}]", spec.partition_keys.join(", ")));
        }
        text
    }
}
