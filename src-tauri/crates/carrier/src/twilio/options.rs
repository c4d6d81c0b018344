//! What a caller sets up before talking to Twilio: the client's tuning and media host, the
//! filters of a message listing, and the loopback test that decides whether a proxy applies.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::model::E164;

use crate::{CarrierError, Media};

/// Twilio fetches MMS media from a public URL, so bytes must be put somewhere first.
#[async_trait]
pub trait MediaHost: Send + Sync {
    /// Stores `media` and returns a URL the carrier can fetch it from.
    async fn upload(&self, media: &Media) -> Result<String, CarrierError>;
}

/// Tuning of a [`TwilioClient`]; the defaults suit Twilio itself.
#[derive(Clone)]
pub struct TwilioOptions {
    /// How long to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// How long a whole request may take, answer included.
    pub request_timeout: Duration,
    /// `PageSize` of list requests (Twilio: 50 by default, 1000 at most): a sync round's first
    /// page, which should hold the listing lag's worth of an account's messages, so that an
    /// idle poll is one request.
    pub page_size: u32,
    /// `PageSize` of a first sync, which imports today's and yesterday's history: large pages,
    /// since a busy account has thousands of messages there.
    pub history_page_size: u32,
    /// Where images are uploaded before sending; without one the client cannot send MMS.
    pub media_host: Option<Arc<dyn MediaHost>>,
    /// Messages per second per line the account may send (Twilio long codes: about 1).
    pub per_line_rate: f64,
    /// How long a created message may take to appear in Twilio's listings. A sync round looks
    /// back this long (and a margin) before the newest message it has seen.
    pub listing_lag: Duration,
}

impl Default for TwilioOptions {
    fn default() -> Self {
        TwilioOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            page_size: 50,
            history_page_size: 1000,
            media_host: None,
            per_line_rate: 1.0,
            listing_lag: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for TwilioOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .field("history_page_size", &self.history_page_size)
            .field("media_host", &self.media_host.is_some())
            .field("listing_lag", &self.listing_lag)
            .finish()
    }
}

/// Filters of `GET Messages.json`. `date_sent_from` is a whole UTC day, as Twilio filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    pub from: Option<E164>,
    pub to: Option<E164>,
    /// `DateSent>=YYYY-MM-DD`: messages sent on or after the UTC day containing this instant.
    pub date_sent_from_ms: Option<i64>,
    /// Stop after the first page (newest messages first).
    pub first_page_only: bool,
}

/// Whether `base_url` is on this machine (loopback), where no proxy belongs.
pub fn is_loopback(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_counts_as_loopback() {
        let check = |url: &str, expected: bool| assert_eq!(is_loopback(url), expected, "{url}");
        check("http://127.0.0.1:4010", true);
        check("http://localhost:4010/", true);
        check("http://[::1]:4010", true);
        check("https://api.twilio.com", false);
        check("not a url", false);
    }
}
