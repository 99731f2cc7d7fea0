//! A real S3-compatible server on loopback for tests: `s3s` with the `s3s-fs` file-system backend,
//! checking SigV4 signatures against one static key pair, holding a copy of `tests/data` in a bucket.
//!
//! Tarn reads S3 settings the standard AWS way, so a test points it here through the environment
//! ([`S3Server::env`]): child processes get the pairs in their env; in-process tests set them once,
//! before any session touches S3.

use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

/// The bucket that holds the copy of `tests/data` (keys are paths relative to `tests/data`).
pub const BUCKET: &str = "tarn-test";
const ACCESS_KEY: &str = "tarn-test-access-key";
const SECRET_KEY: &str = "tarn-test-secret-key";
const REGION: &str = "us-east-1";

/// A running loopback S3 server; it stops when its runtime is dropped with this value.
pub struct S3Server {
    endpoint: String,
    // The runtime serves connections until dropped; the folder holds the objects.
    runtime: tokio::runtime::Runtime,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// Starts the server on `127.0.0.1:0`, creates [`BUCKET`] and uploads every file under `data`
    /// into it through the S3 API (so the upload itself proves the signatures work).
    pub fn start(data: &Path) -> S3Server {
        let root = tempfile::tempdir().expect("create the S3 server's storage folder");
        // s3s-fs keeps one bucket per top-level folder of its root.
        std::fs::create_dir(root.path().join(BUCKET)).expect("create the bucket folder");
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("make the listener non-blocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("listener address"));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("start the S3 server's runtime");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("open the S3 storage folder");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).expect("hand the listener to tokio");
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });

        let server = S3Server { endpoint, runtime, _root: root };
        server.upload(data);
        server
    }

    /// The AWS environment that points a client (Tarn) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            // Keep the AWS SDK from reading the developer's own profile or querying IMDS.
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", "/nonexistent/tarn-test-aws-config".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/tarn-test-aws-credentials".to_string()),
        ]
    }

    fn upload(&self, data: &Path) {
        let store: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_bucket_name(BUCKET)
                .with_region(REGION)
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                .build()
                .expect("configure the upload client"),
        );
        let files = files_under(data);
        self.runtime.block_on(async {
            for file in files {
                let key = file.strip_prefix(data).expect("file is under the data folder");
                let key = ObjectPath::from(key.to_string_lossy().replace('\\', "/"));
                let bytes = std::fs::read(&file).expect("read a test data file");
                store
                    .put(&key, PutPayload::from(bytes))
                    .await
                    .unwrap_or_else(|e| panic!("upload {key} to the test S3 server: {e}"));
            }
        });
    }
}

/// Every regular file under `dir`, recursively, hidden ones included (they are part of the test).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("list a test data folder") {
            let path = entry.expect("read a test data folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "py") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
