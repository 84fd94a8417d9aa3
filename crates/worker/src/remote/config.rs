//! `[remote]` settings, credentials from the environment, and building the S3 client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkerError};

/// The `[remote]` section of `dxforge.toml`: where snapshots are synced. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// `https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:9000`, …; `None`
    /// means AWS S3 itself.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket (`team-a/`); empty for the bucket root.
    #[serde(default)]
    pub prefix: String,
    /// Region; `auto` for Cloudflare R2.
    #[serde(default = "default_region")]
    pub region: String,
}

fn default_region() -> String {
    "auto".to_owned()
}

impl RemoteConfig {
    /// A config for `bucket` at `endpoint` with an empty prefix and region `auto`.
    pub fn new(endpoint: Option<String>, bucket: impl Into<String>) -> RemoteConfig {
        RemoteConfig {
            endpoint,
            bucket: bucket.into(),
            prefix: String::new(),
            region: default_region(),
        }
    }

    /// The endpoint for messages.
    pub(crate) fn endpoint_name(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| "AWS S3".to_owned())
    }

    /// The prefix without surrounding slashes, checked.
    fn clean_prefix(&self) -> Result<String> {
        let p = self.prefix.trim_matches('/');
        if p.split('/').any(|part| part == "." || part == "..")
            || (!p.is_empty() && p.split('/').any(str::is_empty))
        {
            return Err(WorkerError::InvalidRemoteConfig {
                key: "prefix",
                reason: format!("{:?} has empty, '.' or '..' segments", self.prefix),
            });
        }
        Ok(p.to_owned())
    }

    /// The key of `rest` (`objects/ab/cd…`) under the prefix.
    pub(crate) fn key(&self, rest: &str) -> Result<ObjectPath> {
        let prefix = self.clean_prefix()?;
        let full = if prefix.is_empty() {
            rest.to_owned()
        } else {
            format!("{prefix}/{rest}")
        };
        ObjectPath::parse(&full).map_err(|e| WorkerError::InvalidRemoteConfig {
            key: "prefix",
            reason: format!("key {full:?} is not a valid object path: {e}"),
        })
    }

    fn validate(&self) -> Result<()> {
        if self.bucket.trim().is_empty() {
            return Err(WorkerError::InvalidRemoteConfig {
                key: "bucket",
                reason: "must not be empty".to_owned(),
            });
        }
        if let Some(ep) = &self.endpoint
            && !(ep.starts_with("http://") || ep.starts_with("https://"))
        {
            return Err(WorkerError::InvalidRemoteConfig {
                key: "endpoint",
                reason: format!("{ep:?} must start with http:// or https://"),
            });
        }
        if self.region.trim().is_empty() {
            return Err(WorkerError::InvalidRemoteConfig {
                key: "region",
                reason: "must not be empty (use \"auto\" for Cloudflare R2)".to_owned(),
            });
        }
        self.clean_prefix().map(|_| ())
    }
}

/// Access key pair read from the environment. `Debug` never shows the secret and only
/// the first four characters of the key id.
#[derive(Clone)]
pub(crate) struct Credentials {
    key_id: String,
    secret: String,
    source: &'static str,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.key_id.chars().take(4).collect();
        f.debug_struct("Credentials")
            .field("key_id", &format_args!("{shown}…"))
            .field("secret", &format_args!("<redacted>"))
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// `DXFORGE_S3_ACCESS_KEY_ID`/`DXFORGE_S3_SECRET_ACCESS_KEY`, else the `AWS_` pair.
    pub(crate) fn from_env() -> Result<Credentials> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        for (id_var, secret_var, source) in [
            (
                "DXFORGE_S3_ACCESS_KEY_ID",
                "DXFORGE_S3_SECRET_ACCESS_KEY",
                "DXFORGE_S3_*",
            ),
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_*"),
        ] {
            if let Some(key_id) = var(id_var) {
                let Some(secret) = var(secret_var) else {
                    return Err(WorkerError::CredentialsMissing {
                        missing: secret_var,
                    });
                };
                return Ok(Credentials {
                    key_id,
                    secret,
                    source,
                });
            }
        }
        Err(WorkerError::CredentialsMissing {
            missing: "DXFORGE_S3_ACCESS_KEY_ID and DXFORGE_S3_SECRET_ACCESS_KEY",
        })
    }
}

/// Builds the S3 client with R2-safe settings: path-style requests, no CRC64 checksum
/// header (object_store sends none unless asked), no object tagging, bounded retries with
/// exponential backoff for 5xx, connection errors and timeouts.
pub(crate) fn connect(remote: &RemoteConfig) -> Result<Arc<dyn ObjectStore>> {
    remote.validate()?;
    let creds = Credentials::from_env()?;
    tracing::debug!(endpoint = %remote.endpoint_name(), bucket = %remote.bucket, credentials = ?creds, "connecting to remote");
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
    };
    let mut options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&remote.bucket)
        .with_region(&remote.region)
        .with_access_key_id(creds.key_id)
        .with_secret_access_key(creds.secret)
        .with_virtual_hosted_style_request(false)
        .with_disable_tagging(true)
        .with_retry(retry);
    if let Some(endpoint) = &remote.endpoint {
        builder = builder.with_endpoint(endpoint);
        if endpoint.starts_with("http://") {
            options = options.with_allow_http(true);
        }
    }
    let store = builder.with_client_options(options).build().map_err(|e| {
        WorkerError::InvalidRemoteConfig {
            key: "endpoint",
            reason: e.to_string(),
        }
    })?;
    Ok(Arc::new(store))
}

/// Turns an object_store error into one that says what to fix.
pub(crate) fn classify(
    remote: &RemoteConfig,
    op: &'static str,
    key: &str,
    err: object_store::Error,
) -> WorkerError {
    let message = error_chain(&err);
    // List errors arrive as `Generic` with the HTTP status only in the message.
    let auth_failure = matches!(
        err,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || [
        "403 Forbidden",
        "401 Unauthorized",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    ]
    .iter()
    .any(|marker| message.contains(marker));
    if auth_failure {
        return WorkerError::RemoteAuth {
            endpoint: remote.endpoint_name(),
            bucket: remote.bucket.clone(),
            message: server_reason(&message),
        };
    }
    if message.contains("NoSuchBucket") {
        return WorkerError::BucketNotFound {
            endpoint: remote.endpoint_name(),
            bucket: remote.bucket.clone(),
        };
    }
    if is_transport_failure(&err) {
        return WorkerError::RemoteUnreachable {
            endpoint: remote.endpoint_name(),
            message,
        };
    }
    WorkerError::Remote {
        op,
        key: key.to_owned(),
        message,
    }
}

fn is_transport_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    use object_store::client::HttpErrorKind;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>()
            && matches!(
                http.kind(),
                HttpErrorKind::Connect | HttpErrorKind::Timeout | HttpErrorKind::Request
            )
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// The error and its sources on one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = e.source();
    }
    out
}

/// The S3 error code and message from an XML error body, when there is one.
fn server_reason(message: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = message.find(&open)? + open.len();
        let end = message[start..].find("</")? + start;
        Some(message[start..end].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code,
        _ => message.to_owned(),
    }
}
