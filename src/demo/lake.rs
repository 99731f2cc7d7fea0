//! Writes the demo data as a small data lake in the three layouts Tarn reads: CSV with a header,
//! gzip CSV, and Hive-partitioned Parquet. Every file appears atomically (written under a hidden
//! temporary name, then renamed), and a marker written last says the lake is complete.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use flate2::write::GzEncoder;
use flate2::Compression;
use parquet::arrow::ArrowWriter;

use super::data::{DemoData, MONTHS};

/// Written last; its content names the data version, so a newer Tarn with different demo data
/// rewrites the lake instead of reusing an old one.
const MARKER: &str = "_tarn_demo_complete";
const VERSION: &str = "tarn demo lake v1\n";

/// The table folders, relative to the lake.
pub const TABLE_DIRS: [&str; 3] = ["user_session_channel", "session_transaction", "session_timestamp"];

/// Whether `lake` holds a complete demo lake of this version.
pub fn is_complete(lake: &Path) -> bool {
    fs::read_to_string(lake.join(MARKER)).is_ok_and(|content| content == VERSION)
}

/// Writes the whole lake, replacing the table folders of any incomplete or older one.
pub fn write(lake: &Path, data: &DemoData) -> anyhow::Result<()> {
    let _ = fs::remove_file(lake.join(MARKER));
    for table in TABLE_DIRS {
        let dir = lake.join(table);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing the old {}", dir.display()))?;
        }
    }
    write_user_session_channel(&lake.join("user_session_channel"), data)?;
    write_session_transaction(&lake.join("session_transaction"), data)?;
    write_session_timestamp(&lake.join("session_timestamp"), data)?;
    write_atomically(&lake.join(MARKER), |out| out.write_all(VERSION.as_bytes()))
}

fn write_user_session_channel(dir: &Path, data: &DemoData) -> anyhow::Result<()> {
    write_atomically(&dir.join("user_session_channel.csv"), |out| {
        writeln!(out, "userid,sessionid,channel")?;
        for session in &data.sessions {
            writeln!(out, "{},{},{}", session.user_id, session.session_id, session.channel)?;
        }
        Ok(())
    })
}

fn write_session_transaction(dir: &Path, data: &DemoData) -> anyhow::Result<()> {
    write_atomically(&dir.join("session_transaction.csv.gz"), |out| {
        // `GzEncoder` writes a zero modification time, so the bytes do not depend on the clock.
        let mut gzip = GzEncoder::new(out, Compression::default());
        writeln!(gzip, "sessionid,refunded,amount")?;
        for transaction in &data.transactions {
            writeln!(gzip, "{},{},{}", transaction.session_id, transaction.refunded, transaction.amount)?;
        }
        gzip.finish()?;
        Ok(())
    })
}

/// One Parquet file per `year=YYYY/month=M` folder; the partition keys live only in the path.
fn write_session_timestamp(dir: &Path, data: &DemoData) -> anyhow::Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("sessionid", DataType::Utf8, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), false),
    ]));
    for (month_index, (year, month, _)) in MONTHS.iter().enumerate() {
        let sessions: Vec<_> = data.sessions.iter().filter(|session| session.month_index == month_index).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(sessions.iter().map(|session| session.session_id.as_str()))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                sessions.iter().map(|session| session.ts.and_utc().timestamp_micros()),
            )),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        let path = dir.join(format!("year={year}")).join(format!("month={month}")).join("part-0.parquet");
        write_atomically(&path, |out| {
            let mut writer = ArrowWriter::try_new(out, schema.clone(), None).map_err(io::Error::other)?;
            writer.write(&batch).map_err(io::Error::other)?;
            writer.close().map_err(io::Error::other)?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Writes through `write` into `.NAME.tmp` beside `path`, then renames it into place. Readers
/// (and Tarn's scans, which skip names starting with `.` or `_` as Hive does) never see a partial file.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
) -> anyhow::Result<()> {
    let dir = path.parent().context("demo files live in a folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temporary = temporary_path(path);
    let result = (|| -> io::Result<()> {
        let mut out = io::BufWriter::new(fs::File::create(&temporary)?);
        write(&mut out)?;
        out.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::data::generate;
    use std::collections::BTreeMap;
    use std::io::Read;

    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut found = BTreeMap::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    found.insert(path.strip_prefix(root).unwrap().to_path_buf(), fs::read(&path).unwrap());
                }
            }
        }
        found
    }

    #[test]
    fn same_seed_same_bytes_and_row_counts() {
        let data = generate();
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        write(first.path(), &data).unwrap();
        write(second.path(), &data).unwrap();
        let written = files(first.path());
        assert_eq!(written, files(second.path()), "the lake is byte-for-byte reproducible");
        assert!(is_complete(first.path()));
        assert!(!written.keys().any(|path| path.to_string_lossy().ends_with(".tmp")));

        let csv =
            String::from_utf8(written[Path::new("user_session_channel/user_session_channel.csv")].clone()).unwrap();
        assert_eq!(csv.lines().next(), Some("userid,sessionid,channel"));
        assert_eq!(csv.lines().count(), data.sessions.len() + 1);

        let mut gzip =
            flate2::read::GzDecoder::new(&written[Path::new("session_transaction/session_transaction.csv.gz")][..]);
        let mut transactions = String::new();
        gzip.read_to_string(&mut transactions).unwrap();
        assert_eq!(transactions.lines().next(), Some("sessionid,refunded,amount"));
        assert_eq!(transactions.lines().count(), data.transactions.len() + 1);

        let mut parquet_rows = 0;
        for month in 5..=11 {
            let path = first.path().join(format!("session_timestamp/year=2019/month={month}/part-0.parquet"));
            let reader = SerializedFileReader::new(fs::File::open(path).unwrap()).unwrap();
            parquet_rows += reader.metadata().file_metadata().num_rows();
        }
        assert_eq!(parquet_rows as usize, data.sessions.len());
    }

    #[test]
    fn an_incomplete_lake_is_rewritten() {
        let lake = tempfile::tempdir().unwrap();
        fs::create_dir_all(lake.path().join("session_timestamp/year=2018")).unwrap();
        assert!(!is_complete(lake.path()));
        write(lake.path(), &generate()).unwrap();
        assert!(is_complete(lake.path()));
        assert!(!lake.path().join("session_timestamp/year=2018").exists());
    }
}
