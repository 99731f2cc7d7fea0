//! One shared `ObjectStore` per bucket (and one for the local file system), configured the
//! standard AWS way: region and endpoint from the environment or profile, credentials from the
//! `aws-config` chain. Reusing stores keeps their HTTP connection pools warm across queries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use tokio::sync::OnceCell;

use super::credentials::AwsChainCredentials;
use super::Location;
use crate::error::{CatalogError, Result};

/// The region when neither the environment nor the profile names one, as the AWS CLI assumes.
const FALLBACK_REGION: &str = "us-east-1";

/// A few retries with exponential backoff: enough to ride out throttling (`SlowDown`) and brief
/// network errors, short enough that a dead endpoint fails a query within about a minute.
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
    }
}

/// Connecting should be quick; a whole request may stream a large object, so it gets minutes
/// (object_store's 30 s default cuts off full reads of big CSV files on slow links).
fn client_options() -> ClientOptions {
    ClientOptions::new().with_connect_timeout(Duration::from_secs(10)).with_timeout(Duration::from_secs(300))
}

/// Hands out shared object stores for locations; `Send + Sync`, share it through an `Arc`.
#[derive(Debug)]
pub struct StoreRegistry {
    /// Rooted at `/`, so a local location's `object_path` is its key.
    local: Arc<dyn ObjectStore>,
    /// Resolved on the first S3 location, so local-only use never reads AWS configuration.
    aws: OnceCell<AwsSettings>,
    /// One store per bucket; building one is synchronous, so a plain mutex suffices.
    buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

/// What every bucket's store shares: region, endpoint and the one credential cache.
#[derive(Debug)]
struct AwsSettings {
    region: String,
    /// An explicit endpoint (S3-compatible servers); allows path-style requests and plain HTTP.
    endpoint: Option<String>,
    credentials: Arc<AwsChainCredentials>,
}

impl Default for StoreRegistry {
    fn default() -> Self {
        StoreRegistry::new()
    }
}

impl StoreRegistry {
    /// An empty registry; stores are created on first use.
    pub fn new() -> StoreRegistry {
        StoreRegistry {
            local: Arc::new(LocalFileSystem::new()),
            aws: OnceCell::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The store holding `location`; address objects in it with [`Location::object_path`].
    pub async fn store_for(&self, location: &Location) -> Result<Arc<dyn ObjectStore>> {
        let Some(bucket) = location.bucket() else {
            return Ok(self.local.clone());
        };
        let aws = self.aws.get_or_init(AwsSettings::from_environment).await;
        // A poisoned lock only means another thread panicked while inserting into the map; the
        // map itself is still a valid cache.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = buckets.get(bucket) {
            return Ok(store.clone());
        }
        let store = aws.build_store(bucket)?;
        buckets.insert(bucket.to_string(), store.clone());
        Ok(store)
    }
}

impl AwsSettings {
    /// Reads region and endpoint as the AWS SDKs do: `AWS_REGION`/`AWS_DEFAULT_REGION`, then the
    /// profile; `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`. IMDS is not asked for a region:
    /// off EC2 it costs seconds of timeouts on every start.
    async fn from_environment() -> AwsSettings {
        let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
            .or_else(ProfileFileRegionProvider::new())
            .region()
            .await
            .map(|region| region.to_string())
            .unwrap_or_else(|| FALLBACK_REGION.to_string());
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .into_iter()
            .filter_map(|name| std::env::var(name).ok())
            .map(|value| value.trim().trim_end_matches('/').to_string())
            .find(|value| !value.is_empty());
        AwsSettings { credentials: Arc::new(AwsChainCredentials::default_chain(&region)), region, endpoint }
    }

    fn build_store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_credentials(self.credentials.clone())
            .with_retry(retry_config())
            .with_client_options(client_options());
        if let Some(endpoint) = &self.endpoint {
            // S3-compatible servers rarely have per-bucket DNS names, and loopback test servers
            // speak plain HTTP; both only when the user named the endpoint.
            builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false).with_allow_http(true);
        }
        let store = builder.build().map_err(|source| CatalogError::ObjectStore {
            context: format!("configuring S3 access to bucket '{bucket}'"),
            source,
        })?;
        Ok(Arc::new(store))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    #[tokio::test]
    async fn local_store_reads_and_writes_by_object_path() {
        let dir = tempfile::tempdir().unwrap();
        let registry = StoreRegistry::new();
        let folder = Location::parse(&format!("{}/", dir.path().display())).unwrap();
        let file = folder.join("part-0.csv");
        let store = registry.store_for(&file).await.unwrap();
        store.put(&file.object_path(), PutPayload::from_static(b"a,b\n1,2\n")).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("part-0.csv")).unwrap(), b"a,b\n1,2\n");
        let read = store.get(&file.object_path()).await.unwrap().bytes().await.unwrap();
        assert_eq!(read, Bytes::from_static(b"a,b\n1,2\n"));
        let again = registry.store_for(&folder).await.unwrap();
        assert!(Arc::ptr_eq(&store, &again));
    }

    #[tokio::test]
    async fn s3_stores_are_cached_per_bucket() {
        let registry = StoreRegistry::new();
        let a = Location::parse("s3://bucket-a/x/").unwrap();
        let a2 = Location::parse("s3://bucket-a/y/z.parquet").unwrap();
        let b = Location::parse("s3://bucket-b/").unwrap();
        let store_a = registry.store_for(&a).await.unwrap();
        assert!(Arc::ptr_eq(&store_a, &registry.store_for(&a2).await.unwrap()));
        assert!(!Arc::ptr_eq(&store_a, &registry.store_for(&b).await.unwrap()));
        assert!(format!("{store_a}").contains("bucket-a"));
    }
}
