//! Fetching registry items: `file://` (and plain paths) read through the
//! filesystem layer, `http(s)://` with reqwest (rustls), `s3://` through
//! object_store (see `s3.rs`; cached and revalidated the same way).
//!
//! Every answer is capped at [`MAX_ITEM_BYTES`]; connects time out after
//! 10 s and whole requests after 30 s; at most 5 redirects are followed;
//! connection failures, timeouts and 5xx answers are retried 3 times with
//! doubling backoff. Answers are cached under `.dxforge/cache/registry/`
//! keyed by the BLAKE3 of the URL, with their `ETag`/`Last-Modified`, and
//! revalidated with `If-None-Match`/`If-Modified-Since`; offline, the cache
//! answers alone. Header values are marked sensitive and never appear in
//! errors or logs (errors name the URL only).
//!
//! The traffic operations are synchronous and may be called from inside an
//! async runtime (the pipeline), so every request runs on a scoped helper
//! thread that drives a private current-thread runtime.

use std::time::Duration;

use dxforge_fs::{Root, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrafficError};
use crate::limits::MAX_ITEM_BYTES;
use crate::store::hash_hex;

/// The cache's directory in the state root.
const CACHE: &str = "cache/registry";
/// Attempts after the first on a connection error, timeout or 5xx.
const RETRIES: u32 = 3;
/// First retry delay; doubles each time.
const BACKOFF: Duration = Duration::from_millis(100);
/// Most redirects followed.
const MAX_REDIRECTS: usize = 5;
/// Cap on the largest cache metadata file.
const MAX_META_BYTES: u64 = 64 << 10;

/// One fetched item document.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL asked for.
    pub url: String,
    /// The body, at most [`MAX_ITEM_BYTES`].
    pub body: Vec<u8>,
    /// `ETag` of the answer, if any.
    pub etag: Option<String>,
    /// `Last-Modified` of the answer, if any.
    pub last_modified: Option<String>,
    /// Served from the cache (offline, or revalidated with 304).
    pub from_cache: bool,
}

/// Cache metadata next to a cached body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    url: String,
    hash: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Where `s3://` registries live: the `[remote]` endpoint and region (AWS
/// and `us-east-1` when absent). Credentials come from the environment as for
/// `[remote]`: `DXFORGE_S3_ACCESS_KEY_ID`/`DXFORGE_S3_SECRET_ACCESS_KEY`, else
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// S3 endpoint URL.
    pub endpoint: Option<String>,
    /// Region.
    pub region: Option<String>,
}

/// Fetches items for one operation.
pub struct Fetcher<'a> {
    cache: Option<&'a Root>,
    write_cache: bool,
    offline: bool,
    s3: S3Settings,
    http: Option<(tokio::runtime::Runtime, reqwest::Client)>,
}

impl Drop for Fetcher<'_> {
    fn drop(&mut self) {
        // Dropping a runtime inside an async context panics; this never blocks.
        if let Some((rt, _)) = self.http.take() {
            rt.shutdown_background();
        }
    }
}

impl<'a> Fetcher<'a> {
    /// A fetcher using the cache in the state root `cache` (written only when
    /// `write_cache`), never touching the network when `offline`.
    pub fn new(cache: Option<&'a Root>, write_cache: bool, offline: bool) -> Self {
        Fetcher {
            cache,
            write_cache,
            offline,
            s3: S3Settings::default(),
            http: None,
        }
    }

    /// The same fetcher reaching `s3://` URLs through `s3`.
    pub fn with_s3(mut self, s3: S3Settings) -> Self {
        self.s3 = s3;
        self
    }

    /// Fetch `url` with `headers` (already expanded; never shown).
    pub fn fetch(&mut self, url: &str, headers: &[(String, String)]) -> Result<Fetched> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| TrafficError::registry(url, "not a URL"))?;
        match scheme {
            "file" => read_file(url, rest),
            "http" | "https" => self.fetch_remote(url, |rt, client, validators| {
                rt.block_on(get(client, url, headers, validators))
            }),
            "s3" => {
                let settings = self.s3.clone();
                self.fetch_remote(url, |rt, _, validators| {
                    rt.block_on(super::s3::get(&settings, url, validators))
                })
            }
            other => Err(TrafficError::registry(
                url,
                format!("unsupported scheme `{other}`: only http, https, s3 and file"),
            )),
        }
    }

    fn cache_key(url: &str) -> String {
        format!("{CACHE}/{}", hash_hex(url.as_bytes()))
    }

    fn cached(&self, url: &str) -> Option<(Meta, Vec<u8>)> {
        let root = self.cache?;
        let key = Self::cache_key(url);
        let meta = root.read(format!("{key}.meta"), MAX_META_BYTES).ok()??;
        let meta: Meta = serde_json::from_slice(&meta).ok()?;
        let body = root.read(format!("{key}.json"), MAX_ITEM_BYTES).ok()??;
        // A torn or tampered cache entry is a miss, never served.
        (meta.url == url && meta.hash == hash_hex(&body)).then_some((meta, body))
    }

    fn store(&self, f: &Fetched) -> Result<()> {
        let (Some(root), true) = (self.cache, self.write_cache) else {
            return Ok(());
        };
        let key = Self::cache_key(&f.url);
        let meta = Meta {
            url: f.url.clone(),
            hash: hash_hex(&f.body),
            etag: f.etag.clone(),
            last_modified: f.last_modified.clone(),
        };
        let meta = serde_json::to_vec(&meta)
            .map_err(|e| TrafficError::registry(&f.url, format!("cache metadata: {e}")))?;
        root.write_atomic(format!("{key}.json"), &f.body, WriteOptions::default())?;
        root.write_atomic(format!("{key}.meta"), &meta, WriteOptions::default())?;
        Ok(())
    }

    /// A cached, revalidated fetch; `request` runs on a helper thread.
    fn fetch_remote(
        &mut self,
        url: &str,
        request: impl FnOnce(&tokio::runtime::Runtime, &reqwest::Client, Validators) -> Result<Answer>
        + Send,
    ) -> Result<Fetched> {
        let cached = self.cached(url);
        if self.offline {
            let (meta, body) = cached.ok_or_else(|| {
                TrafficError::registry(
                    url,
                    "offline and not in the cache (.dxforge/cache/registry)",
                )
            })?;
            return Ok(Fetched {
                url: url.to_string(),
                body,
                etag: meta.etag,
                last_modified: meta.last_modified,
                from_cache: true,
            });
        }
        if self.http.is_none() {
            self.http = Some(build_client(url)?);
        }
        let Some((rt, client)) = &self.http else {
            return Err(TrafficError::registry(url, "no HTTP client"));
        };
        let validators = cached
            .as_ref()
            .map(|(m, _)| (m.etag.clone(), m.last_modified.clone()));
        let answer =
            std::thread::scope(|scope| scope.spawn(|| request(rt, client, validators)).join())
                .map_err(|_| TrafficError::registry(url, "the HTTP request thread failed"))??;
        let fetched = match (answer, cached) {
            (Answer::NotModified, Some((meta, body))) => Fetched {
                url: url.to_string(),
                body,
                etag: meta.etag,
                last_modified: meta.last_modified,
                from_cache: true,
            },
            (Answer::NotModified, None) => {
                return Err(TrafficError::registry(
                    url,
                    "answered 304 Not Modified to a request without validators",
                ));
            }
            (Answer::Body(body, etag, last_modified), _) => Fetched {
                url: url.to_string(),
                body,
                etag,
                last_modified,
                from_cache: false,
            },
        };
        if !fetched.from_cache {
            self.store(&fetched)?;
        }
        Ok(fetched)
    }
}

fn read_file(url: &str, path: &str) -> Result<Fetched> {
    let body = dxforge_fs::read_bounded(std::path::Path::new(path), MAX_ITEM_BYTES)
        .map_err(|e| TrafficError::registry(url, e.to_string()))?
        .ok_or_else(|| TrafficError::registry(url, "no such file"))?;
    Ok(Fetched {
        url: url.to_string(),
        body,
        etag: None,
        last_modified: None,
        from_cache: false,
    })
}

fn build_client(url: &str) -> Result<(tokio::runtime::Runtime, reqwest::Client)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TrafficError::registry(url, format!("cannot start the HTTP runtime: {e}")))?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(concat!("dxforge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| TrafficError::registry(url, format!("cannot build the HTTP client: {e}")))?;
    Ok((rt, client))
}

/// `ETag` and `Last-Modified` of the cached copy, if any.
pub(super) type Validators = Option<(Option<String>, Option<String>)>;

/// What a remote answered.
pub(super) enum Answer {
    /// Still the cached copy.
    NotModified,
    /// A body with its `ETag` and `Last-Modified`.
    Body(Vec<u8>, Option<String>, Option<String>),
}

/// One GET with retries. Errors name the URL and the cause, never a header.
async fn get(
    client: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    validators: Validators,
) -> Result<Answer> {
    let mut header_map = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| TrafficError::registry(url, format!("invalid header name `{k}`")))?;
        let mut value = reqwest::header::HeaderValue::from_str(v).map_err(|_| {
            TrafficError::registry(
                url,
                format!("the value of header `{k}` is not a valid header value"),
            )
        })?;
        value.set_sensitive(true);
        header_map.insert(name, value);
    }
    if let Some((etag, modified)) = validators {
        if let Some(v) = etag.and_then(|e| reqwest::header::HeaderValue::from_str(&e).ok()) {
            header_map.insert(reqwest::header::IF_NONE_MATCH, v);
        }
        if let Some(v) = modified.and_then(|e| reqwest::header::HeaderValue::from_str(&e).ok()) {
            header_map.insert(reqwest::header::IF_MODIFIED_SINCE, v);
        }
    }
    let mut attempt = 0;
    loop {
        let result = client.get(url).headers(header_map.clone()).send().await;
        let retry = match &result {
            Ok(r) => r.status().is_server_error(),
            Err(e) => e.is_connect() || e.is_timeout(),
        };
        if retry && attempt < RETRIES {
            tokio::time::sleep(BACKOFF * 2u32.pow(attempt)).await;
            attempt += 1;
            continue;
        }
        let response = result.map_err(|e| TrafficError::registry(url, describe(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Answer::NotModified);
        }
        if !status.is_success() {
            let tries = if attempt > 0 {
                format!(" (after {} attempts)", attempt + 1)
            } else {
                String::new()
            };
            return Err(TrafficError::registry(url, format!("HTTP {status}{tries}")));
        }
        let text_header = |h| {
            response
                .headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = text_header(reqwest::header::ETAG);
        let modified = text_header(reqwest::header::LAST_MODIFIED);
        let body = read_capped(response, url).await?;
        return Ok(Answer::Body(body, etag, modified));
    }
}

async fn read_capped(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>> {
    let too_large = || {
        TrafficError::registry(
            url,
            format!("answer larger than {MAX_ITEM_BYTES} bytes, the limit for a registry item"),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ITEM_BYTES)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| TrafficError::registry(url, describe(&e)))?
    {
        if body.len() as u64 + chunk.len() as u64 > MAX_ITEM_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error in words, without the URL (the error names it already).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_redirect() {
        "too many redirects (or a redirect loop)"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "broken answer body"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
