//! `s3://bucket/key` registries through object_store, configured like
//! `[remote]`: its endpoint and region, credentials from the environment
//! (`DXFORGE_S3_ACCESS_KEY_ID`/`DXFORGE_S3_SECRET_ACCESS_KEY`, else the `AWS_`
//! pair), path-style requests. Errors name the URL, never a credential.

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, GetOptions, ObjectStore};

use crate::error::{Result, TrafficError};
use crate::limits::MAX_ITEM_BYTES;
use crate::remote::fetch::{Answer, S3Settings, Validators};

fn credentials(url: &str) -> Result<(String, String)> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    for (id, secret) in [
        ("DXFORGE_S3_ACCESS_KEY_ID", "DXFORGE_S3_SECRET_ACCESS_KEY"),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ] {
        if let Some(key) = var(id) {
            let secret_value = var(secret).ok_or_else(|| {
                TrafficError::registry(url, format!("S3 credentials missing: set {secret}"))
            })?;
            return Ok((key, secret_value));
        }
    }
    Err(TrafficError::registry(
        url,
        "S3 credentials missing: set DXFORGE_S3_ACCESS_KEY_ID and DXFORGE_S3_SECRET_ACCESS_KEY",
    ))
}

/// GET `url` (`s3://bucket/key`), revalidating with the cached `ETag`.
pub(super) async fn get(
    settings: &S3Settings,
    url: &str,
    validators: Validators,
) -> Result<Answer> {
    let rest = url.strip_prefix("s3://").unwrap_or(url);
    let (bucket, key) = rest
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| TrafficError::registry(url, "expected s3://BUCKET/KEY"))?;
    let (key_id, secret) = credentials(url)?;
    let mut options = ClientOptions::new()
        .with_connect_timeout(std::time::Duration::from_secs(10))
        .with_timeout(std::time::Duration::from_secs(30));
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(settings.region.as_deref().unwrap_or("us-east-1"))
        .with_access_key_id(key_id)
        .with_secret_access_key(secret)
        .with_virtual_hosted_style_request(false);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
        if endpoint.starts_with("http://") {
            options = options.with_allow_http(true);
        }
    }
    let store = builder
        .with_client_options(options)
        .build()
        .map_err(|e| TrafficError::registry(url, format!("S3 client: {e}")))?;
    let opts = GetOptions {
        if_none_match: validators.and_then(|(etag, _)| etag),
        ..GetOptions::default()
    };
    let result = match store.get_opts(&ObjectPath::from(key), opts).await {
        Ok(r) => r,
        Err(object_store::Error::NotModified { .. }) => return Ok(Answer::NotModified),
        Err(object_store::Error::NotFound { .. }) => {
            return Err(TrafficError::registry(url, "no such object in the bucket"));
        }
        Err(e) => return Err(TrafficError::registry(url, format!("S3: {e}"))),
    };
    if result.meta.size > MAX_ITEM_BYTES {
        return Err(TrafficError::registry(
            url,
            format!("answer larger than {MAX_ITEM_BYTES} bytes, the limit for a registry item"),
        ));
    }
    let etag = result.meta.e_tag.clone();
    let modified = Some(result.meta.last_modified.to_rfc2822());
    let body = result
        .bytes()
        .await
        .map_err(|e| TrafficError::registry(url, format!("S3: {e}")))?;
    Ok(Answer::Body(body.to_vec(), etag, modified))
}
