//! `[remote]` settings, credentials from the environment, and building the S3 client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkerError};

/// Default of [`RemoteConfig::connect_timeout_ms`].
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Default of [`RemoteConfig::request_timeout_ms`].
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Accepted range of both timeouts, in milliseconds.
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=600_000;

/// The `[remote]` section of `dxforge.toml`: where snapshots are synced. Holds no secret.
///
/// Timeouts: `connect_timeout_ms` bounds establishing a connection (TCP and TLS);
/// `request_timeout_ms` bounds how long a request may wait for the server: until the
/// response starts (so an upload of one part, at most 8 MiB, must complete within it) and
/// between two reads of a response body (so large downloads are not cut, stalled ones
/// are). Failed attempts are retried with backoff only while less than
/// `request_timeout_ms` has passed since the first one, so a stalled endpoint fails after
/// about one timeout instead of after every retry's. Both must lie in
/// [`TIMEOUT_RANGE_MS`] (100 ms to 10 minutes), checked when the section is parsed and
/// again before connecting.
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
    /// Longest wait for a connection, in milliseconds (default 5000).
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "connect_timeout"
    )]
    pub connect_timeout_ms: u64,
    /// Longest wait for the server's answer or for the next bytes of a response, in
    /// milliseconds (default 30000).
    #[serde(
        default = "default_request_timeout",
        deserialize_with = "request_timeout"
    )]
    pub request_timeout_ms: u64,
}

impl Default for RemoteConfig {
    /// No endpoint (AWS S3), an empty bucket (which connecting refuses), the default
    /// region and timeouts.
    fn default() -> Self {
        RemoteConfig::new(None, String::new())
    }
}

fn default_region() -> String {
    "auto".to_owned()
}

fn default_connect_timeout() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}

fn default_request_timeout() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_MS
}

/// Checks a timeout against [`TIMEOUT_RANGE_MS`]; the error names the key.
pub fn check_timeout_ms(key: &str, value: u64) -> std::result::Result<u64, String> {
    if TIMEOUT_RANGE_MS.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{key} = {value} is out of range: expected {} to {} (milliseconds)",
            TIMEOUT_RANGE_MS.start(),
            TIMEOUT_RANGE_MS.end()
        ))
    }
}

fn connect_timeout<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    check_timeout_ms("connect_timeout_ms", u64::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn request_timeout<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    check_timeout_ms("request_timeout_ms", u64::deserialize(d)?).map_err(serde::de::Error::custom)
}

impl RemoteConfig {
    /// A config for `bucket` at `endpoint` with an empty prefix and region `auto`.
    pub fn new(endpoint: Option<String>, bucket: impl Into<String>) -> RemoteConfig {
        RemoteConfig {
            endpoint,
            bucket: bucket.into(),
            prefix: String::new(),
            region: default_region(),
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
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
        check_timeout_ms("connect_timeout_ms", self.connect_timeout_ms).map_err(|reason| {
            WorkerError::InvalidRemoteConfig {
                key: "connect_timeout_ms",
                reason,
            }
        })?;
        check_timeout_ms("request_timeout_ms", self.request_timeout_ms).map_err(|reason| {
            WorkerError::InvalidRemoteConfig {
                key: "request_timeout_ms",
                reason,
            }
        })?;
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
/// exponential backoff for 5xx, connection errors and timeouts, and the configured
/// timeouts (see [`RemoteConfig`]).
pub(crate) fn connect(remote: &RemoteConfig) -> Result<Arc<dyn ObjectStore>> {
    remote.validate()?;
    let creds = Credentials::from_env()?;
    tracing::debug!(endpoint = %remote.endpoint_name(), bucket = %remote.bucket, credentials = ?creds, "connecting to remote");
    let request_timeout = Duration::from_millis(remote.request_timeout_ms);
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 4,
        // No retry starts once a whole timeout has passed: a stalled endpoint fails after
        // about one timeout.
        retry_timeout: request_timeout,
    };
    // `read_timeout` (reqwest): from sending until the response starts, then between two
    // reads of the body. No overall timeout: a large download may take longer than any
    // fixed bound while still making progress.
    let mut options = ClientOptions::new()
        .with_connect_timeout(Duration::from_millis(remote.connect_timeout_ms))
        .with_read_timeout(request_timeout)
        .with_timeout_disabled();
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
    if let Some(timed_out) = transport_failure(&err) {
        let message = if timed_out {
            format!(
                "no answer within the timeout (connect_timeout_ms = {}, request_timeout_ms = {}): {message}",
                remote.connect_timeout_ms, remote.request_timeout_ms
            )
        } else {
            message
        };
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

/// `Some(timed_out)` when the error is a transport failure (connect, timeout, request).
fn transport_failure(err: &(dyn std::error::Error + 'static)) -> Option<bool> {
    use object_store::client::HttpErrorKind;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
            match http.kind() {
                HttpErrorKind::Timeout => return Some(true),
                HttpErrorKind::Connect | HttpErrorKind::Request => {
                    let timed_out = error_chain(e).contains("timed out");
                    return Some(timed_out);
                }
                _ => {}
            }
        }
        source = e.source();
    }
    None
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
