//! AWS credentials for object_store from `aws-config`'s provider chain.
//!
//! object_store's own S3 chain reads environment variables, web identity, ECS and IMDS but not
//! `~/.aws` profiles, SSO or `credential_process` (design §4), so users who work with profiles
//! would get no credentials. This adapter resolves the full `aws-config` chain, once, and caches
//! the result until shortly before it expires: object_store asks for a credential on every
//! request, and resolving per request would mean a file read or an STS call each time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::AwsCredential;
use object_store::CredentialProvider;
use tokio::sync::{Mutex, OnceCell};

/// Refresh this long before expiry, so a credential never expires during a request or its retries.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// When a fresh credential is already inside the margin, reuse it this long at most rather than
/// resolving again on every request.
const MIN_REUSE: Duration = Duration::from_secs(10);

/// What the plain message for a chain that found nothing says the user can do.
const NO_CREDENTIALS: &str = "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
     AWS_PROFILE (a profile in ~/.aws/config or ~/.aws/credentials, or SSO after `aws sso login`), \
     or run where an instance or container role is available";

/// A `CredentialProvider` for object_store backed by an `aws-config` credentials provider.
pub(crate) struct AwsChainCredentials {
    /// The region the chain is loaded with (STS and SSO need one).
    region: String,
    /// The chain, loaded on first use so a Tarn that never touches S3 never reads AWS files.
    provider: OnceCell<SharedCredentialsProvider>,
    /// The last credential and when to resolve again; the lock also makes concurrent requests
    /// wait for one resolution instead of each starting their own.
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    credential: Arc<AwsCredential>,
    /// `None` for credentials that do not expire (static keys).
    refresh_at: Option<SystemTime>,
}

impl AwsChainCredentials {
    /// The default `aws-config` chain (env, profile, SSO, `credential_process`, web identity,
    /// ECS, IMDS), loaded lazily on the first request.
    pub(crate) fn default_chain(region: &str) -> AwsChainCredentials {
        AwsChainCredentials { region: region.to_string(), provider: OnceCell::new(), cached: Mutex::new(None) }
    }

    /// An adapter over a given provider instead of the default chain.
    #[cfg(test)]
    fn with_provider(provider: impl ProvideCredentials + 'static) -> AwsChainCredentials {
        AwsChainCredentials {
            region: "test".to_string(),
            provider: OnceCell::new_with(Some(SharedCredentialsProvider::new(provider))),
            cached: Mutex::new(None),
        }
    }

    async fn provider(&self) -> Result<&SharedCredentialsProvider, CredentialsUnavailable> {
        self.provider
            .get_or_try_init(|| async {
                let config = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(self.region.clone()))
                    .load()
                    .await;
                config.credentials_provider().ok_or_else(|| CredentialsUnavailable(NO_CREDENTIALS.to_string()))
            })
            .await
    }

    async fn resolve(&self) -> Result<Cached, CredentialsUnavailable> {
        let credentials = self.provider().await?.provide_credentials().await.map_err(describe)?;
        let refresh_at = refresh_time(credentials.expiry(), SystemTime::now());
        let credential = AwsCredential {
            key_id: credentials.access_key_id().to_string(),
            secret_key: credentials.secret_access_key().to_string(),
            token: credentials.session_token().map(str::to_string),
        };
        Ok(Cached { credential: Arc::new(credential), refresh_at })
    }
}

/// When a credential resolved at `now` and expiring at `expiry` should be resolved again:
/// [`REFRESH_MARGIN`] before it expires, or after [`MIN_REUSE`] if it already is that close.
fn refresh_time(expiry: Option<SystemTime>, now: SystemTime) -> Option<SystemTime> {
    expiry.map(|expiry| match expiry.checked_sub(REFRESH_MARGIN) {
        Some(early) if early > now => early,
        _ => (now + MIN_REUSE).min(expiry),
    })
}

#[async_trait]
impl CredentialProvider for AwsChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref() {
            if current.refresh_at.is_none_or(|at| SystemTime::now() < at) {
                return Ok(current.credential.clone());
            }
        }
        let fresh =
            self.resolve().await.map_err(|e| object_store::Error::Generic { store: "S3", source: Box::new(e) })?;
        let credential = fresh.credential.clone();
        *cached = Some(fresh);
        Ok(credential)
    }
}

impl std::fmt::Debug for AwsChainCredentials {
    /// Names the source only: the cached credential must never reach a log or an error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsChainCredentials").field("region", &self.region).finish_non_exhaustive()
    }
}

/// Why no credential could be had, in words a user can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CredentialsUnavailable(String);

/// A chain that found nothing says so plainly; other failures keep the chain's explanation (the
/// causes name profiles and files, never secrets).
fn describe(error: CredentialsError) -> CredentialsUnavailable {
    if let CredentialsError::CredentialsNotLoaded(_) = error {
        return CredentialsUnavailable(NO_CREDENTIALS.to_string());
    }
    let mut message = format!("could not load AWS credentials: {error}");
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    CredentialsUnavailable(message)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::provider::future;
    use aws_credential_types::Credentials;

    use super::*;

    /// Hands out credentials valid for `lifetime` and counts how often it is asked.
    #[derive(Debug)]
    struct CountingProvider {
        calls: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
    }

    impl ProvideCredentials for CountingProvider {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = self.lifetime.map(|lifetime| SystemTime::now() + lifetime);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "very-secret",
                Some("session-token".to_string()),
                expiry,
                "counting",
            )))
        }
    }

    #[derive(Debug)]
    struct EmptyProvider;

    impl ProvideCredentials for EmptyProvider {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err(CredentialsError::not_loaded_no_source()))
        }
    }

    fn counting(lifetime: Option<Duration>) -> (Arc<AtomicUsize>, AwsChainCredentials) {
        let calls = Arc::new(AtomicUsize::new(0));
        let adapter = AwsChainCredentials::with_provider(CountingProvider { calls: calls.clone(), lifetime });
        (calls, adapter)
    }

    #[tokio::test]
    async fn caches_until_near_expiry() {
        let (calls, adapter) = counting(Some(Duration::from_secs(3600)));
        let first = adapter.get_credential().await.unwrap();
        let second = adapter.get_credential().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(first.key_id, second.key_id);
        assert_eq!(first.secret_key, "very-secret");
        assert_eq!(first.token.as_deref(), Some("session-token"));
    }

    #[tokio::test]
    async fn static_credentials_are_resolved_once() {
        let (calls, adapter) = counting(None);
        for _ in 0..5 {
            adapter.get_credential().await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refreshes_an_almost_expired_credential() {
        let (calls, adapter) = counting(Some(Duration::from_secs(3600)));
        // A credential resolved 56 minutes ago that expires in 4: inside the refresh margin.
        let now = SystemTime::now();
        let resolved_at = now - Duration::from_secs(56 * 60);
        let old =
            Arc::new(AwsCredential { key_id: "OLD".to_string(), secret_key: "old-secret".to_string(), token: None });
        *adapter.cached.lock().await = Some(Cached {
            credential: old,
            refresh_at: refresh_time(Some(now + Duration::from_secs(4 * 60)), resolved_at),
        });
        let fresh = adapter.get_credential().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(fresh.key_id, "AKID0");
        adapter.get_credential().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn refresh_time_keeps_a_margin_and_never_resolves_per_request() {
        let now = SystemTime::now();
        let hour = now + Duration::from_secs(3600);
        assert_eq!(refresh_time(Some(hour), now), Some(hour - REFRESH_MARGIN));
        assert_eq!(refresh_time(None, now), None);
        // Issued already inside the margin: reused briefly rather than resolved on every request.
        let soon = now + Duration::from_secs(60);
        assert_eq!(refresh_time(Some(soon), now), Some(now + MIN_REUSE));
        // Already expired: resolved again on the next request.
        assert_eq!(refresh_time(Some(now), now), Some(now));
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_resolution() {
        let (calls, adapter) = counting(Some(Duration::from_secs(3600)));
        let adapter = Arc::new(adapter);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let adapter = adapter.clone();
                tokio::spawn(async move { adapter.get_credential().await.map(|_| ()) })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn missing_credentials_are_explained_and_secrets_never_shown() {
        let adapter = AwsChainCredentials::with_provider(EmptyProvider);
        let message = adapter.get_credential().await.unwrap_err().to_string();
        assert!(message.contains("no AWS credentials found"), "{message}");
        assert!(message.contains("AWS_PROFILE"), "{message}");

        let (_, adapter) = counting(None);
        adapter.get_credential().await.unwrap();
        let debug = format!("{adapter:?}");
        assert!(!debug.contains("very-secret") && !debug.contains("AKID"), "{debug}");
    }
}
