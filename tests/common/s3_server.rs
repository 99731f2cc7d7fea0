//! A real S3-compatible server on loopback for tests: `s3s` with the `s3s-fs` file-system backend,
//! checking SigV4 signatures, holding a copy of `tests/data` in a bucket.
//!
//! Two key pairs are accepted. The main one ([`S3Server::env`]) may do everything. The restricted one
//! ([`S3Server::restricted_env`]) stands for credentials whose IAM policy is narrower, the way real
//! lakes deny a prefix or a bucket: it may not read objects under [`RESTRICTED_PREFIX`] of [`BUCKET`]
//! (listing is allowed, as `s3:ListBucket` granted without a prefix condition would allow), and may
//! make no request at all on [`PRIVATE_BUCKET`]. Denied requests get S3's `AccessDenied` (HTTP 403).
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
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::path::S3Path;
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Result};
use tokio::net::TcpListener;

/// The bucket that holds the copy of `tests/data` (keys are paths relative to `tests/data`).
pub const BUCKET: &str = "tarn-test";
/// A second bucket, empty at start, that the restricted credentials may not touch.
pub const PRIVATE_BUCKET: &str = "tarn-private";
/// Objects under this prefix of [`BUCKET`] may not be read (GET/HEAD) with the restricted credentials.
pub const RESTRICTED_PREFIX: &str = "lake/restricted/";
const ACCESS_KEY: &str = "tarn-test-access-key";
const SECRET_KEY: &str = "tarn-test-secret-key";
const RESTRICTED_ACCESS_KEY: &str = "tarn-test-restricted-access-key";
const RESTRICTED_SECRET_KEY: &str = "tarn-test-restricted-secret-key";
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
        for bucket in [BUCKET, PRIVATE_BUCKET] {
            std::fs::create_dir(root.path().join(bucket)).expect("create a bucket folder");
        }
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
        let mut auth = SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY);
        auth.register(RESTRICTED_ACCESS_KEY.to_string(), RESTRICTED_SECRET_KEY.into());
        builder.set_auth(auth);
        builder.set_access(Policy);
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

    /// The AWS environment that points a client (Tarn) at this server, with the main credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        self.env_with(ACCESS_KEY, SECRET_KEY)
    }

    /// Like [`S3Server::env`], with the restricted credentials (see the module documentation).
    pub fn restricted_env(&self) -> Vec<(&'static str, String)> {
        self.env_with(RESTRICTED_ACCESS_KEY, RESTRICTED_SECRET_KEY)
    }

    fn env_with(&self, access_key: &str, secret_key: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", access_key.to_string()),
            ("AWS_SECRET_ACCESS_KEY", secret_key.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            // Keep the AWS SDK from reading the developer's own profile or querying IMDS.
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", "/nonexistent/tarn-test-aws-config".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/tarn-test-aws-credentials".to_string()),
        ]
    }

    /// Uploads every file under `from` into `bucket`, its key `prefix` followed by its path relative
    /// to `from`, with the main credentials.
    pub fn upload_to(&self, bucket: &str, prefix: &str, from: &Path) {
        let store: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_bucket_name(bucket)
                .with_region(REGION)
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                .build()
                .expect("configure the upload client"),
        );
        let files = files_under(from);
        self.runtime.block_on(async {
            for file in files {
                let key = file.strip_prefix(from).expect("file is under the data folder");
                let key = ObjectPath::from(format!("{prefix}{}", key.to_string_lossy().replace('\\', "/")));
                let bytes = std::fs::read(&file).expect("read a test data file");
                store
                    .put(&key, PutPayload::from(bytes))
                    .await
                    .unwrap_or_else(|e| panic!("upload {key} to {bucket} on the test S3 server: {e}"));
            }
        });
    }

    fn upload(&self, data: &Path) {
        self.upload_to(BUCKET, "", data);
    }
}

/// The restricted credentials' policy (see the module documentation); anonymous requests are
/// denied, as by s3s's default check.
struct Policy;

#[async_trait::async_trait]
impl S3Access for Policy {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        if credentials.access_key != RESTRICTED_ACCESS_KEY {
            return Ok(());
        }
        let read = matches!(cx.s3_op().name(), "GetObject" | "HeadObject");
        match cx.s3_path() {
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } if &**bucket == PRIVATE_BUCKET => {
                Err(s3_error!(AccessDenied, "Access Denied"))
            }
            S3Path::Object { key, .. } if read && key.starts_with(RESTRICTED_PREFIX) => {
                Err(s3_error!(AccessDenied, "Access Denied"))
            }
            _ => Ok(()),
        }
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
