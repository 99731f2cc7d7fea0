//! A `std::io::Write` that streams one object to an object store, so the synchronous file writers
//! (Parquet, CSV) running on rayon workers can write straight to S3 or a local folder with memory
//! bounded by one part: bytes are buffered until a part is full, then sent as a multipart upload
//! part on the I/O runtime. A file that never fills a part is sent with one `PUT` at the end.

use std::io::Write;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::runtime::Handle;

use crate::error::{EngineError, Result};
use crate::io::runtime::block_on_io;

/// Bytes per multipart part: above S3's 5 MiB minimum, small enough that a worker's buffer stays
/// modest while its file is open.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// One object being uploaded.
pub struct ObjectUpload {
    store: Arc<dyn ObjectStore>,
    path: Path,
    /// The URL, for error messages.
    url: String,
    io: Handle,
    buffer: Vec<u8>,
    /// Started when the first part is full; `None` while the object fits in one `PUT`.
    multipart: Option<Box<dyn MultipartUpload>>,
    size: u64,
}

impl ObjectUpload {
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, url: String, io: Handle) -> ObjectUpload {
        ObjectUpload { store, path, url, io, buffer: Vec::new(), multipart: None, size: 0 }
    }

    fn storage_error(&self, e: impl std::fmt::Display) -> EngineError {
        EngineError::Storage { location: self.url.clone(), message: e.to_string() }
    }

    /// Sends the buffered bytes as the next part, starting the multipart upload if needed.
    fn send_part(&mut self) -> Result<()> {
        if self.multipart.is_none() {
            let store = self.store.clone();
            let path = self.path.clone();
            let upload = block_on_io(&self.io, async move { store.put_multipart(&path).await })?
                .map_err(|e| self.storage_error(e))?;
            self.multipart = Some(upload);
        }
        let payload = PutPayload::from(std::mem::take(&mut self.buffer));
        // Invariant: set just above when it was missing.
        let part = self.multipart.as_mut().expect("multipart upload started").put_part(payload);
        block_on_io(&self.io, part)?.map_err(|e| self.storage_error(e))
    }

    /// Sends what is left and makes the object visible; returns its size in bytes.
    pub fn finish(mut self) -> Result<u64> {
        match self.multipart.take() {
            None => {
                let store = self.store.clone();
                let path = self.path.clone();
                let payload = PutPayload::from(std::mem::take(&mut self.buffer));
                block_on_io(&self.io, async move { store.put(&path, payload).await })?
                    .map_err(|e| self.storage_error(e))?;
            }
            Some(upload) => {
                self.multipart = Some(upload);
                if !self.buffer.is_empty() {
                    self.send_part()?;
                }
                // Invariant: put back just above.
                let mut upload = self.multipart.take().expect("multipart upload present");
                block_on_io(&self.io, async move { upload.complete().await })?.map_err(|e| self.storage_error(e))?;
            }
        }
        Ok(self.size)
    }
}

impl Write for ObjectUpload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        self.size += buf.len() as u64;
        if self.buffer.len() >= PART_SIZE {
            self.send_part().map_err(std::io::Error::other)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ObjectUpload {
    /// An upload dropped before `finish` (a failed or cancelled write) is aborted, so S3 keeps no
    /// invisible parts and the local store removes its temporary file.
    fn drop(&mut self) {
        if let Some(mut upload) = self.multipart.take() {
            self.io.spawn(async move {
                // Best effort: the write already failed and reports its own error.
                let _ = upload.abort().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;
    use crate::io::runtime::io_runtime;

    #[test]
    fn small_objects_take_one_put_and_large_ones_stream_in_parts() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let io = io_runtime().handle().clone();
        for size in [10usize, PART_SIZE * 2 + 123] {
            let path = Path::from(format!("t/file-{size}"));
            let mut upload = ObjectUpload::new(store.clone(), path.clone(), format!("mem:///{path}"), io.clone());
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            for chunk in data.chunks(1 << 20) {
                upload.write_all(chunk).unwrap();
            }
            assert_eq!(upload.finish().unwrap(), size as u64);
            let store = store.clone();
            let read = block_on_io(&io, async move { store.get(&path).await.unwrap().bytes().await.unwrap() }).unwrap();
            assert_eq!(read.as_ref(), data.as_slice());
        }
    }

    #[test]
    fn dropped_uploads_leave_nothing() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let io = io_runtime().handle().clone();
        let path = Path::from("t/abandoned");
        let mut upload = ObjectUpload::new(store.clone(), path.clone(), "mem:///t/abandoned".into(), io.clone());
        upload.write_all(&vec![7u8; PART_SIZE + 1]).unwrap();
        drop(upload);
        let head = block_on_io(&io, async move { store.head(&path).await }).unwrap();
        assert!(matches!(head, Err(object_store::Error::NotFound { .. })));
    }
}
