//! The `--s3` variant's loopback S3 server: the `s3s` service over the `s3s-fs` file-system backend
//! (as `tests/common/s3_server.rs` starts it), in this process, on `127.0.0.1`. Its storage
//! folder is kept under the data directory, so the objects are uploaded through the S3 API once
//! and reused by later runs. Crawlers reach it the standard AWS way, through the environment of
//! their worker processes ([`S3Lake::env`]), exactly as a user points Tarn at MinIO.

use std::fs;
use std::net::TcpListener as StdTcpListener;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::{stream, StreamExt, TryStreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

use crate::crawl_data::{object_key, template};

pub const BUCKET: &str = "lake";
const ACCESS_KEY: &str = "tarn-bench-access-key";
const SECRET_KEY: &str = "tarn-bench-secret-key";
const REGION: &str = "us-east-1";
/// Uploads in flight while the bucket is filled.
const UPLOADS: usize = 32;

/// A running loopback S3 server holding the crawl lake in [`BUCKET`]; it stops when dropped.
pub struct S3Lake {
    pub endpoint: String,
    _runtime: tokio::runtime::Runtime,
}

impl S3Lake {
    /// Starts the server over `data_dir/crawl/s3-objects-N/`, uploading the lake if missing.
    pub fn start(data_dir: &Path, objects: u64) -> Result<S3Lake> {
        let root = data_dir.join("crawl").join(format!("s3-objects-{objects}"));
        let stamp = root.join("COMPLETE");
        let fresh = !stamp.exists();
        if fresh && root.exists() {
            fs::remove_dir_all(&root).with_context(|| format!("removing the partial {}", root.display()))?;
        }
        fs::create_dir_all(root.join(BUCKET))?;
        let listener = StdTcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let fs_backend =
            s3s_fs::FileSystem::new(&root).map_err(|e| anyhow::anyhow!("s3s-fs over {}: {e:?}", root.display()))?;
        let mut builder = S3ServiceBuilder::new(fs_backend);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    // A client closing its connection early is not the server's concern.
                    let _ = conn.await;
                });
            }
        });
        let lake = S3Lake { endpoint, _runtime: runtime };
        if fresh {
            eprintln!("uploading {objects} objects to the loopback S3 server (once)");
            lake._runtime.block_on(lake.upload(objects))?;
            fs::write(&stamp, objects.to_string())?;
        }
        Ok(lake)
    }

    async fn upload(&self, objects: u64) -> Result<()> {
        let client: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_bucket_name(BUCKET)
                .with_region(REGION)
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                .build()?,
        );
        let bytes = bytes::Bytes::from(template()?);
        stream::iter(0..objects)
            .map(|index| {
                let client = client.clone();
                let payload = PutPayload::from(bytes.clone());
                async move {
                    let key = ObjectPath::from(object_key(index, objects));
                    client.put(&key, payload).await.with_context(|| format!("uploading {key}"))
                }
            })
            .buffer_unordered(UPLOADS)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// The crawl root.
    pub fn url(&self) -> String {
        format!("s3://{BUCKET}/")
    }

    /// The AWS environment that points a worker process at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", "/nonexistent/tarn-bench-aws-config".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/tarn-bench-aws-credentials".to_string()),
        ]
    }
}
