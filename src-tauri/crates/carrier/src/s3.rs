//! The S3-compatible media host: Twilio fetches MMS images from a public URL, so each image is
//! put in a bucket the business owns (AWS S3, Cloudflare R2, MinIO, Backblaze B2…) with a
//! presigned PUT, and Twilio is handed a presigned GET that expires. The bucket stays private.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::twilio::{is_loopback, TwilioOptions};
use crate::{CarrierError, Media, MediaHost, TransientKind};

/// How long the carrier may fetch an image after it was sent: Twilio fetches at once, but an
/// answer lost on the way makes the outbox look for the message, which may take a while.
pub const GET_URL_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a presigned upload stays valid: only for the request made right away.
const PUT_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Where the images go inside the bucket.
const PREFIX: &str = "switchboard-media";

/// Everything needed to reach the bucket. The whole of it is kept in the OS keychain; `Debug`
/// never shows the secret key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Config {
    /// `https://s3.eu-west-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`…
    pub endpoint: String,
    /// `us-east-1` when the provider has none (R2: `auto`).
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`; needed for IP
    /// addresses and most S3-compatible servers.
    #[serde(default = "yes")]
    pub path_style: bool,
}

fn yes() -> bool {
    true
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// Checks the configuration's form (not whether the bucket answers: [`S3MediaHost::check`]).
    pub fn validate(&self) -> Result<(), S3ConfigError> {
        let url = Url::parse(self.endpoint.trim()).map_err(|_| S3ConfigError::Endpoint)?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(S3ConfigError::Endpoint);
        }
        if url.scheme() == "http" && !is_loopback(self.endpoint.trim()) {
            return Err(S3ConfigError::NotHttps);
        }
        let bucket = self.bucket.trim();
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(S3ConfigError::Bucket);
        }
        if self.region.trim().is_empty() || self.region.len() > 64 {
            return Err(S3ConfigError::Region);
        }
        if self.access_key_id.trim().is_empty() || self.secret_access_key.is_empty() {
            return Err(S3ConfigError::Keys);
        }
        Ok(())
    }
}

/// What is wrong with a media host's configuration, as said to the person who typed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum S3ConfigError {
    #[error("The endpoint must be a web address such as https://s3.amazonaws.com.")]
    Endpoint,
    #[error("The endpoint must use https (http is only for this computer).")]
    NotHttps,
    #[error("The bucket name must be 3 to 63 lower-case letters, digits, dots or hyphens.")]
    Bucket,
    #[error("Give the bucket's region (us-east-1 if the provider has none).")]
    Region,
    #[error("Give the access key ID and its secret.")]
    Keys,
}

/// Uploads images to an S3-compatible bucket and hands out presigned GET URLs.
pub struct S3MediaHost {
    http: reqwest::Client,
    bucket: Bucket,
    credentials: Credentials,
}

impl fmt::Debug for S3MediaHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3MediaHost")
            .field("bucket", &self.bucket.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl S3MediaHost {
    pub fn new(config: &S3Config, options: &TwilioOptions) -> Result<S3MediaHost, CarrierError> {
        config.validate().map_err(|e| permanent(e.to_string()))?;
        let endpoint = Url::parse(config.endpoint.trim()).map_err(|_| permanent("bad endpoint"))?;
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            config.bucket.trim().to_owned(),
            config.region.trim().to_owned(),
        )
        .map_err(|e| permanent(format!("The media host's address can't be used: {e}.")))?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout);
        if is_loopback(&config.endpoint) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| permanent(format!("The HTTP client could not start: {e}")))?;
        Ok(S3MediaHost {
            http,
            bucket,
            credentials: Credentials::new(
                config.access_key_id.trim(),
                config.secret_access_key.clone(),
            ),
        })
    }

    /// Whether the bucket exists and the keys may use it (`HEAD` on the bucket).
    pub async fn check(&self) -> Result<(), CarrierError> {
        let url = self
            .bucket
            .head_bucket(Some(&self.credentials))
            .sign(PUT_URL_LIFETIME);
        let response = self.http.head(url).send().await.map_err(transport)?;
        self.check_status(response).await.map(|_| ())
    }

    async fn check_status(
        &self,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, CarrierError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(CarrierError::Transient {
                kind: TransientKind::Server,
                retry_after: None,
                message: format!("The media host had a problem ({status})."),
            });
        }
        let body = response.text().await.unwrap_or_default();
        let code = xml_code(&body);
        let bucket = self.bucket.name();
        let message = match (status, code.as_deref()) {
            (_, Some("NoSuchBucket")) | (StatusCode::NOT_FOUND, None) => {
                format!("The media host has no bucket named \"{bucket}\".")
            }
            (_, Some("InvalidAccessKeyId")) => {
                "The media host doesn't know this access key ID: check it in Settings.".into()
            }
            (_, Some("PermanentRedirect" | "AuthorizationHeaderMalformed"))
            | (StatusCode::MOVED_PERMANENTLY, _) => format!(
                "The bucket \"{bucket}\" is in another region or at another endpoint: check both."
            ),
            (_, Some("SignatureDoesNotMatch")) => {
                "The media host refused the secret access key: check it in Settings.".into()
            }
            (StatusCode::FORBIDDEN, _) => format!(
                "The media host refused access to the bucket \"{bucket}\": check the keys and \
                 their permissions."
            ),
            _ => format!("The media host refused the image ({status})."),
        };
        Err(CarrierError::Permanent {
            code: code.map(|c| format!("s3:{c}")),
            message,
        })
    }
}

#[async_trait]
impl MediaHost for S3MediaHost {
    async fn upload(&self, media: &Media) -> Result<String, CarrierError> {
        // Named by content: sending the same image twice stores it once.
        let digest = Sha256::digest(&media.bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let key = format!("{PREFIX}/{hex}.{}", media.kind.extension());
        let put = self
            .bucket
            .put_object(Some(&self.credentials), &key)
            .sign(PUT_URL_LIFETIME);
        let response = self
            .http
            .put(put)
            .header(reqwest::header::CONTENT_TYPE, media.kind.mime())
            .body(media.bytes.clone())
            .send()
            .await
            // Uploading twice only writes the same object again: never an unknown outcome.
            .map_err(transport)?;
        self.check_status(response).await?;
        let get = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(GET_URL_LIFETIME);
        Ok(get.to_string())
    }
}

/// A failure before the media host answered: it can be tried again (an upload only ever writes
/// the same object again).
fn transport(e: reqwest::Error) -> CarrierError {
    let (kind, message) = if e.is_connect() {
        (TransientKind::Offline, "Couldn't reach the media host.")
    } else if e.is_timeout() {
        (
            TransientKind::Timeout,
            "The media host took too long to answer.",
        )
    } else {
        (
            TransientKind::Server,
            "The connection to the media host broke.",
        )
    };
    CarrierError::Transient {
        kind,
        retry_after: None,
        message: message.into(),
    }
}

fn permanent(message: impl Into<String>) -> CarrierError {
    CarrierError::Permanent {
        code: None,
        message: message.into(),
    }
}

/// `<Error><Code>NoSuchBucket</Code>…` → `NoSuchBucket`.
fn xml_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body[start..].find("</Code>")? + start;
    Some(body[start..end].trim().to_owned()).filter(|c| !c.is_empty() && c.len() < 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> S3Config {
        S3Config {
            endpoint: "https://s3.eu-west-1.amazonaws.com".into(),
            region: "eu-west-1".into(),
            bucket: "acme-mms".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            path_style: true,
        }
    }

    #[test]
    fn configurations_are_checked_in_words() {
        assert_eq!(config().validate(), Ok(()));
        let check = |f: fn(&mut S3Config), needle: &str| {
            let mut c = config();
            f(&mut c);
            let why = c.validate().unwrap_err().to_string();
            assert!(why.contains(needle), "{why}");
        };
        check(|c| c.endpoint = "s3.amazonaws.com".into(), "web address");
        check(|c| c.endpoint = "http://s3.example.com".into(), "https");
        check(|c| c.bucket = "Acme_MMS".into(), "bucket name");
        check(|c| c.region = " ".into(), "region");
        check(|c| c.secret_access_key.clear(), "secret");
        let mut local = config();
        local.endpoint = "http://127.0.0.1:9000".into();
        assert_eq!(
            local.validate(),
            Ok(()),
            "plain http on this computer is fine"
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(shown.contains("acme-mms"));
    }

    #[test]
    fn s3_error_codes_are_read_from_the_xml() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>x</Message></Error>";
        assert_eq!(xml_code(body).as_deref(), Some("NoSuchBucket"));
        assert_eq!(xml_code("not xml"), None);
    }
}
