//! The crawl workload's lake: `events/day=NNN/hour=H/part-K.parquet`, N objects spread evenly over
//! 1,000 Hive partitions, every object a byte copy of one small Parquet file (3 columns, 5 rows).
//! Discovery cost is per object (list it, read its footer), not per byte, so small files are the
//! hard case, as on the buckets of streaming jobs. Generated once per object count and reused.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;

/// Partitions of the tree: 42 days of 24 hours, cut at 1,000.
pub const PARTITIONS: u64 = 1_000;
/// Rows in every object.
pub const ROWS_PER_OBJECT: u64 = 5;

/// The relative key of object `index` of a tree of `objects` objects.
pub fn object_key(index: u64, objects: u64) -> String {
    let per_partition = objects.div_ceil(PARTITIONS).max(1);
    let partition = index / per_partition;
    let part = index % per_partition;
    format!("events/day={:03}/hour={}/part-{part}.parquet", partition / 24, partition % 24)
}

/// The bytes of every object.
pub fn template() -> Result<Vec<u8>> {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5]))),
        ("amount", Arc::new(Float64Array::from(vec![1.5, 2.5, 3.5, 4.5, 5.5]))),
        ("name", Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"]))),
    ];
    let batch = RecordBatch::try_from_iter(columns)?;
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(bytes)
}

/// The folder holding the lake of `objects` objects under `data_dir`, generated if missing.
/// The crawl root is the returned folder; its only table folder is `events/`.
pub fn prepare(data_dir: &Path, objects: u64) -> Result<PathBuf> {
    ensure!(objects >= PARTITIONS, "--objects must be at least {PARTITIONS} (one object per partition)");
    let base = data_dir.join("crawl").join(format!("objects-{objects}"));
    let lake = base.join("lake");
    let stamp = base.join("COMPLETE");
    if stamp.exists() {
        return Ok(lake);
    }
    if lake.exists() {
        fs::remove_dir_all(&lake).with_context(|| format!("removing the partial {}", lake.display()))?;
    }
    eprintln!("generating {objects} objects in {PARTITIONS} partitions under {}", lake.display());
    let bytes = template()?;
    for index in 0..objects {
        let path = lake.join(object_key(index, objects));
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        }
        fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    fs::write(&stamp, objects.to_string())?;
    Ok(lake)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fill_every_partition_evenly() {
        assert_eq!(object_key(0, 10_000), "events/day=000/hour=0/part-0.parquet");
        assert_eq!(object_key(9, 10_000), "events/day=000/hour=0/part-9.parquet");
        assert_eq!(object_key(10, 10_000), "events/day=000/hour=1/part-0.parquet");
        assert_eq!(object_key(9_999, 10_000), "events/day=041/hour=15/part-9.parquet");
        let partitions: std::collections::BTreeSet<String> =
            (0..10_000).map(|i| object_key(i, 10_000).rsplit_once('/').unwrap().0.to_string()).collect();
        assert_eq!(partitions.len() as u64, PARTITIONS);
    }
}
