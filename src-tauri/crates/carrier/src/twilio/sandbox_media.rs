//! The sandbox's media host: images are uploaded to the sandbox carrier itself, which serves them
//! back the way a public host would for Twilio.

use std::fmt;

use async_trait::async_trait;
use serde::Deserialize;

use super::errors::{check_status, classify_read, classify_transport};
use super::options::{is_loopback, MediaHost, TwilioOptions};
use crate::{CarrierError, Media};

/// Uploads images to a sandbox carrier (`POST /_sandbox/media`), which serves them back.
pub struct SandboxMediaHost {
    http: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: String,
}

impl fmt::Debug for SandboxMediaHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxMediaHost")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SandboxMediaHost {
    /// `api_base_url` is the sandbox's API address, the one a [`TwilioClient`](crate::TwilioClient)
    /// talks to.
    pub fn new(
        api_base_url: &str,
        account_sid: &str,
        auth_token: &str,
        options: &TwilioOptions,
    ) -> Result<SandboxMediaHost, CarrierError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout);
        if is_loopback(api_base_url) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| CarrierError::Permanent {
            code: None,
            message: format!("The HTTP client could not start: {e}"),
        })?;
        Ok(SandboxMediaHost {
            http,
            url: format!("{}/_sandbox/media", api_base_url.trim_end_matches('/')),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
        })
    }
}

#[derive(Debug, Deserialize)]
struct UploadAnswer {
    url: String,
}

#[async_trait]
impl MediaHost for SandboxMediaHost {
    async fn upload(&self, media: &Media) -> Result<String, CarrierError> {
        let what = "upload an image";
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header(reqwest::header::CONTENT_TYPE, media.kind.mime())
            .body(media.bytes.clone())
            .send()
            .await
            // Uploading twice only leaves an unused copy behind: never an unknown outcome.
            .map_err(|e| classify_transport(what, &e, false))?;
        let answer: UploadAnswer = check_status(what, response, false)
            .await?
            .json()
            .await
            .map_err(|e| classify_read(what, &e, false))?;
        Ok(answer.url)
    }
}
