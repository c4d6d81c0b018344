//! The Twilio-protocol HTTP client: the subset of Twilio's 2010 REST API that Switchboard needs
//! (IncomingPhoneNumbers, Messages, Media), spoken identically to Twilio and to the embedded
//! sandbox. It classifies every failure the way the outbox needs: retry later, failed for good,
//! or unknown outcome (reconcile with [`Carrier::find_sent`] before resending).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use switchboard_core::model::E164;

use crate::dates::{format_day, now_ms, parse_day, parse_rfc2822, start_of_day};
use crate::{
    Capabilities, Carrier, CarrierAccount, CarrierError, CarrierLine, CarrierMessage,
    CarrierStatus, Changes, Media, SendRequest, SyncCursor, TransientKind,
};

/// Twilio accepts up to 5 MB of media per message.
pub const MMS_BUDGET: usize = 5 * 1024 * 1024;

/// How far back a sync round looks before the newest message it has seen: a message the carrier
/// dates a little earlier than one already listed (clock skew, slow ingestion) is still found.
const SYNC_OVERLAP_MS: i64 = 10 * 60 * 1000;
/// Outbound messages whose status may still change are watched one by one for this long after
/// their day has left the listing window, so a "delivered" after midnight is not lost.
const PENDING_WATCH_MS: i64 = 24 * 60 * 60 * 1000;
/// At most this many such messages are watched, to bound the requests of one round.
const PENDING_MAX: usize = 100;
/// `find_sent` accepts a message created this long before the attempt began (clock skew).
const FIND_SENT_SLACK_MS: i64 = 60 * 1000;

/// Every request this client makes, as (method, path below the account): the contract tests
/// send each one to a mock serving Twilio's own OpenAPI document. Add a request here when the
/// client learns one.
pub const REQUESTS: &[(&str, &str)] = &[
    ("GET", ".json"),
    ("GET", "/IncomingPhoneNumbers.json"),
    ("POST", "/IncomingPhoneNumbers/{Sid}.json"),
    ("POST", "/Messages.json"),
    ("GET", "/Messages.json"),
    ("GET", "/Messages/{Sid}.json"),
    ("GET", "/Messages/{MessageSid}/Media.json"),
];

/// A listing stops after this many pages, whatever `next_page_uri` says: a carrier that pages
/// forever must not hold a sync round forever.
const MAX_PAGES: usize = 200;

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
    /// `PageSize` of list requests (Twilio: 50 by default, 1000 at most).
    pub page_size: u32,
    /// Where images are uploaded before sending; without one the client cannot send MMS.
    pub media_host: Option<Arc<dyn MediaHost>>,
    /// Messages per second per line the account may send (Twilio long codes: about 1).
    pub per_line_rate: f64,
}

impl Default for TwilioOptions {
    fn default() -> Self {
        TwilioOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            page_size: 50,
            media_host: None,
            per_line_rate: 1.0,
        }
    }
}

impl fmt::Debug for TwilioOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .field("media_host", &self.media_host.is_some())
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

/// A carrier speaking Twilio's protocol at `base_url` (`https://api.twilio.com` or a sandbox).
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
    options: TwilioOptions,
}

impl fmt::Debug for TwilioClient {
    // By hand, so that the auth token can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    pub fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: &str,
        options: TwilioOptions,
    ) -> Result<TwilioClient, CarrierError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")));
        if is_loopback(base_url) {
            // The embedded sandbox is on this machine: a system proxy could only get in the way.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| CarrierError::Permanent {
            code: None,
            message: format!("The HTTP client could not start: {e}"),
        })?;
        Ok(TwilioClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            options,
        })
    }

    /// `rest` follows the account's own path: `.json` for the account, `/Messages.json`…
    fn account_url(&self, rest: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}{rest}",
            self.base_url, self.account_sid
        )
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
    }

    /// Sends a request and reads a JSON answer, classifying every failure.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        builder: RequestBuilder,
        body_matters: bool,
    ) -> Result<T, CarrierError> {
        let response = builder
            .send()
            .await
            .map_err(|e| classify_transport(what, &e, body_matters))?;
        let response = check_status(what, response).await?;
        response
            .json::<T>()
            .await
            .map_err(|e| classify_read(what, &e, body_matters))
    }

    /// `GET Messages/{Sid}.json`: one message as the carrier has it now.
    pub async fn fetch_message(&self, sid: &str) -> Result<CarrierMessage, CarrierError> {
        let url = self.account_url(&format!("/Messages/{}.json", path_segment(sid)?));
        let api: ApiMessage = self
            .call("fetch message", self.request(Method::GET, &url), false)
            .await?;
        self.message_from_api(api).await
    }

    /// `GET Messages.json` with filters, following `next_page_uri`; newest first, as listed.
    pub async fn list_messages(
        &self,
        filter: &MessageFilter,
    ) -> Result<Vec<CarrierMessage>, CarrierError> {
        let listed = self.list_dated(filter).await?;
        Ok(listed.into_iter().map(|(m, _)| m).collect())
    }

    /// Like `list_messages`, with each message's `date_sent` (ms), which `DateSent` filters on.
    async fn list_dated(
        &self,
        filter: &MessageFilter,
    ) -> Result<Vec<(CarrierMessage, Option<i64>)>, CarrierError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(to) = &filter.to {
            query.push(("To", to.to_string()));
        }
        if let Some(from) = &filter.from {
            query.push(("From", from.to_string()));
        }
        if let Some(ms) = filter.date_sent_from_ms {
            // `DateSent>=2024-05-01` on the wire is the key `DateSent>` with the value `2024-05-01`.
            query.push(("DateSent>", format_day(ms)));
        }
        query.push(("PageSize", self.options.page_size.to_string()));
        let mut builder = self
            .request(Method::GET, &self.account_url("/Messages.json"))
            .query(&query);
        let mut out = Vec::new();
        let mut pages = Pages::default();
        loop {
            let page: MessagePage = self.call("list messages", builder, false).await?;
            for api in page.messages {
                let sid = api.sid.clone();
                let sent_at = api.date_sent.as_deref().and_then(parse_rfc2822);
                match self.message_from_api(api).await {
                    Ok(m) => out.push((m, sent_at)),
                    // A message we cannot represent (an alphanumeric sender, a status from a
                    // newer API) must not stop the sync of all the others.
                    Err(CarrierError::Permanent { message, .. }) => {
                        tracing::warn!(sid, reason = %message, "skipping a message the carrier listed");
                    }
                    Err(e) => return Err(e),
                }
            }
            match pages.next(page.next_page_uri) {
                Some(next) if !filter.first_page_only => {
                    builder = self.request(Method::GET, &self.join(&next));
                }
                _ => return Ok(out),
            }
        }
    }

    /// Twilio's paging URIs are relative to the API's host.
    fn join(&self, uri: &str) -> String {
        if uri.starts_with("http://") || uri.starts_with("https://") {
            uri.to_owned()
        } else {
            format!("{}{uri}", self.base_url)
        }
    }

    async fn message_from_api(&self, api: ApiMessage) -> Result<CarrierMessage, CarrierError> {
        let media_urls = if num_media(&api) > 0 {
            self.media_urls(&api.sid).await?
        } else {
            Vec::new()
        };
        convert_message(api, media_urls)
    }

    /// `GET Messages/{Sid}/Media.json`: the content URLs of a message's media (each media
    /// resource's URI without `.json`).
    pub async fn media_urls(&self, message_sid: &str) -> Result<Vec<String>, CarrierError> {
        let url = self.account_url(&format!(
            "/Messages/{}/Media.json",
            path_segment(message_sid)?
        ));
        let page: MediaPage = self
            .call("list media", self.request(Method::GET, &url), false)
            .await?;
        Ok(page
            .media_list
            .into_iter()
            .map(|m| self.join(m.uri.trim_end_matches(".json")))
            .collect())
    }

    async fn media_url(&self, request: &SendRequest) -> Result<Option<String>, CarrierError> {
        let Some(media) = &request.media else {
            return Ok(None);
        };
        let host = self
            .options
            .media_host
            .as_ref()
            .ok_or_else(|| CarrierError::Permanent {
                code: None,
                message: "Images can't be sent from this account: no media host is configured."
                    .into(),
            })?;
        host.upload(media).await.map(Some)
    }
}

#[async_trait]
impl Carrier for TwilioClient {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            mms: self.options.media_host.is_some(),
            idempotency_keys: false,
            per_line_rate: self.options.per_line_rate,
            mms_budget: MMS_BUDGET,
        }
    }

    async fn lines(&self) -> Result<Vec<CarrierLine>, CarrierError> {
        let mut builder = self
            .request(Method::GET, &self.account_url("/IncomingPhoneNumbers.json"))
            .query(&[("PageSize", self.options.page_size.to_string())]);
        let mut lines = Vec::new();
        let mut pages = Pages::default();
        loop {
            let page: NumberPage = self.call("list numbers", builder, false).await?;
            for n in page.incoming_phone_numbers {
                let Some(number) = E164::from_normalized(&n.phone_number) else {
                    tracing::warn!(
                        number = n.phone_number,
                        "skipping a number that is not E.164"
                    );
                    continue;
                };
                let caps = n.capabilities.unwrap_or_default();
                lines.push(CarrierLine {
                    sid: n.sid,
                    label: n
                        .friendly_name
                        .filter(|name| !name.trim().is_empty())
                        .unwrap_or_else(|| number.to_string()),
                    number,
                    sms: caps.sms,
                    mms: caps.mms,
                });
            }
            match pages.next(page.next_page_uri) {
                Some(next) => builder = self.request(Method::GET, &self.join(&next)),
                None => return Ok(lines),
            }
        }
    }

    async fn account(&self) -> Result<CarrierAccount, CarrierError> {
        let api: ApiAccount = self
            .call(
                "check the account",
                self.request(Method::GET, &self.account_url(".json")),
                false,
            )
            .await?;
        let name = api.friendly_name.unwrap_or_else(|| api.sid.clone());
        match api.status.as_deref() {
            Some("suspended") => Err(CarrierError::Permanent {
                code: None,
                message: format!(
                    "The Twilio account \"{name}\" is suspended: it can't send messages until \
                     Twilio reactivates it."
                ),
            }),
            Some("closed") => Err(CarrierError::Permanent {
                code: None,
                message: format!("The Twilio account \"{name}\" is closed."),
            }),
            _ => Ok(CarrierAccount { sid: api.sid, name }),
        }
    }

    async fn rename_line(&self, sid: &str, label: &str) -> Result<(), CarrierError> {
        let url = self.account_url(&format!(
            "/IncomingPhoneNumbers/{}.json",
            path_segment(sid)?
        ));
        let builder = self
            .request(Method::POST, &url)
            .form(&[("FriendlyName", label)]);
        // Renaming twice does no harm: a lost answer is only worth a retry.
        let _: serde_json::Value = self.call("rename the line", builder, false).await?;
        Ok(())
    }

    async fn send(&self, request: &SendRequest) -> Result<CarrierMessage, CarrierError> {
        let media_url = self.media_url(request).await?;
        let mut form: Vec<(&str, &str)> =
            vec![("From", request.from.as_str()), ("To", request.to.as_str())];
        if !request.body.is_empty() {
            form.push(("Body", &request.body));
        }
        if let Some(url) = &media_url {
            form.push(("MediaUrl", url));
        }
        tracing::debug!(client_id = request.client_id, "sending a message");
        let builder = self
            .request(Method::POST, &self.account_url("/Messages.json"))
            .form(&form);
        let api: ApiMessage = self.call("send message", builder, true).await?;
        // The carrier has the message now: whatever goes wrong from here must not read as "not
        // sent", or the outbox would send it again. The media URLs are the ones just sent, which
        // spares a request that could fail.
        convert_message(api, media_url.into_iter().collect()).map_err(|e| CarrierError::Unknown {
            message: format!("The carrier took the message but its answer was unusable: {e}"),
        })
    }

    async fn find_sent(
        &self,
        request: &SendRequest,
        since_ms: i64,
    ) -> Result<Option<CarrierMessage>, CarrierError> {
        let matches = |m: &CarrierMessage| {
            !m.inbound
                && m.from == request.from
                && m.to == request.to
                && m.body == request.body
                && m.media_urls.is_empty() == request.media.is_none()
                && m.created_at >= since_ms - FIND_SENT_SLACK_MS
        };
        let newest = |found: Vec<CarrierMessage>| {
            found
                .into_iter()
                .filter(|m| matches(m))
                .max_by_key(|m| m.created_at)
        };
        // A message still queued has no `date_sent` yet, and Twilio's DateSent filter skips it:
        // look at the newest page of this pair first, then at everything sent since that day.
        let mut filter = MessageFilter {
            from: Some(request.from.clone()),
            to: Some(request.to.clone()),
            date_sent_from_ms: None,
            first_page_only: true,
        };
        if let Some(found) = newest(self.list_messages(&filter).await?) {
            return Ok(Some(found));
        }
        filter.first_page_only = false;
        filter.date_sent_from_ms = Some(since_ms - FIND_SENT_SLACK_MS);
        Ok(newest(self.list_messages(&filter).await?))
    }

    async fn changes(&self, cursor: &SyncCursor) -> Result<Changes, CarrierError> {
        let mut state = TwilioCursor::read(cursor, now_ms());
        let listed = self
            .list_dated(&MessageFilter {
                date_sent_from_ms: Some(state.day_ms),
                ..MessageFilter::default()
            })
            .await?;
        let mut fetched = Vec::new();
        for sid in state.pending.keys().cloned().collect::<Vec<_>>() {
            if listed.iter().any(|(m, _)| m.sid == sid) {
                continue;
            }
            match self.fetch_message(&sid).await {
                Ok(m) => fetched.push(m),
                // Deleted at the carrier: nothing more will come of it.
                Err(CarrierError::Permanent { .. }) => {
                    state.pending.remove(&sid);
                }
                Err(e) => return Err(e),
            }
        }
        let messages = state.absorb(listed, fetched, now_ms());
        Ok(Changes {
            messages,
            cursor: state.write(),
        })
    }
}

/// Where `changes` left off. Twilio can only filter by whole days of `date_sent`, so the cursor
/// keeps the day it lists from and what it has already reported from that day on (sid and
/// status, so a status change is reported again), plus outbound messages from earlier days that
/// may still change status.
#[derive(Debug, Default, Serialize, Deserialize)]
struct TwilioCursor {
    /// Start of the first UTC day still listed.
    day_ms: i64,
    /// Reported messages sent on `day_ms` or later, with the status last reported.
    seen: BTreeMap<String, SeenMessage>,
    /// Outbound messages of earlier days whose status may still change, fetched one by one.
    pending: BTreeMap<String, SeenMessage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SeenMessage {
    status: CarrierStatus,
    /// `date_sent` (ms), which decides whether the listing still shows it.
    at: i64,
    outbound: bool,
}

/// The cursor's JSON: `{"day": "2024-05-01", "seen": {...}, "pending": {...}}`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CursorJson {
    day: String,
    #[serde(default)]
    seen: BTreeMap<String, SeenMessage>,
    #[serde(default)]
    pending: BTreeMap<String, SeenMessage>,
}

impl TwilioCursor {
    /// A fresh (or unreadable) cursor starts at yesterday's day, so a first sync sees recent
    /// history without the account's whole past.
    fn read(cursor: &SyncCursor, now_ms: i64) -> TwilioCursor {
        let parsed = serde_json::from_value::<CursorJson>(cursor.0.clone())
            .ok()
            .and_then(|c| Some((parse_day(&c.day)?, c)));
        match parsed {
            Some((day_ms, c)) => TwilioCursor {
                day_ms,
                seen: c.seen,
                pending: c.pending,
            },
            None => TwilioCursor {
                day_ms: start_of_day(now_ms - 86_400_000),
                ..TwilioCursor::default()
            },
        }
    }

    fn write(&self) -> SyncCursor {
        let json = CursorJson {
            day: format_day(self.day_ms),
            seen: self.seen.clone(),
            pending: self.pending.clone(),
        };
        SyncCursor(serde_json::to_value(json).unwrap_or_default())
    }

    /// Takes one round's messages, returns those new or changed (oldest first) and moves the
    /// window forward to the day of the newest message minus the overlap.
    fn absorb(
        &mut self,
        listed: Vec<(CarrierMessage, Option<i64>)>,
        fetched: Vec<CarrierMessage>,
        now_ms: i64,
    ) -> Vec<CarrierMessage> {
        let mut out = Vec::new();
        let mut newest = None::<i64>;
        for (m, sent_at) in listed {
            // Twilio lists by `date_sent` only messages that have one.
            let at = sent_at.unwrap_or(m.created_at);
            newest = newest.max(Some(at));
            let changed = self
                .seen
                .get(&m.sid)
                .or_else(|| self.pending.get(&m.sid))
                .is_none_or(|s| s.status != m.status);
            self.pending.remove(&m.sid);
            self.seen.insert(
                m.sid.clone(),
                SeenMessage {
                    status: m.status,
                    at,
                    outbound: !m.inbound,
                },
            );
            if changed {
                out.push(m);
            }
        }
        for m in fetched {
            let entry = self.pending.get_mut(&m.sid);
            if let Some(seen) = entry {
                if seen.status != m.status {
                    seen.status = m.status;
                    out.push(m);
                }
            }
        }
        if let Some(newest) = newest {
            self.day_ms = self.day_ms.max(start_of_day(newest - SYNC_OVERLAP_MS));
        }
        let day_ms = self.day_ms;
        let (keep, left): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.seen)
            .into_iter()
            .partition(|(_, s)| s.at >= day_ms);
        self.seen = keep;
        self.pending.extend(
            left.into_iter()
                .filter(|(_, s)| s.outbound && !is_final(s.status)),
        );
        let horizon = now_ms - PENDING_WATCH_MS;
        self.pending
            .retain(|_, s| !is_final(s.status) && s.at >= horizon);
        while self.pending.len() > PENDING_MAX {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, s)| s.at)
                .map(|(sid, _)| sid.clone());
            if let Some(sid) = oldest {
                self.pending.remove(&sid);
            }
        }
        out.sort_by_key(|m| m.created_at);
        out
    }
}

/// Follows `next_page_uri` at most [`MAX_PAGES`] times and never to a page already read.
#[derive(Default)]
struct Pages {
    read: HashSet<String>,
}

impl Pages {
    fn next(&mut self, next_page_uri: Option<String>) -> Option<String> {
        let next = next_page_uri.filter(|uri| !uri.is_empty())?;
        if self.read.len() + 1 >= MAX_PAGES || !self.read.insert(next.clone()) {
            tracing::warn!(
                pages = self.read.len() + 1,
                "the carrier's paging stopped early"
            );
            return None;
        }
        Some(next)
    }
}

/// A carrier id used in a URL path: Twilio's are letters and digits only, so anything else
/// (a slash, a dot) is refused rather than sent somewhere unintended.
fn path_segment(sid: &str) -> Result<&str, CarrierError> {
    if !sid.is_empty() && sid.len() <= 64 && sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(sid)
    } else {
        Err(CarrierError::Permanent {
            code: None,
            message: "The carrier's id for this item isn't valid.".into(),
        })
    }
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

fn is_final(status: CarrierStatus) -> bool {
    matches!(
        status,
        CarrierStatus::Delivered
            | CarrierStatus::Undelivered
            | CarrierStatus::Failed
            | CarrierStatus::Received
            | CarrierStatus::Read
            | CarrierStatus::Canceled
    )
}

/// Twilio's message resource, as much of it as we read.
#[derive(Debug, Deserialize)]
struct ApiMessage {
    sid: String,
    from: Option<String>,
    to: Option<String>,
    body: Option<String>,
    status: Option<String>,
    direction: Option<String>,
    date_created: Option<String>,
    date_sent: Option<String>,
    error_code: Option<i64>,
    error_message: Option<String>,
    num_media: Option<String>,
}

/// Twilio's account resource, as much of it as we read.
#[derive(Debug, Deserialize)]
struct ApiAccount {
    sid: String,
    friendly_name: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessagePage {
    #[serde(default)]
    messages: Vec<ApiMessage>,
    next_page_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MediaPage {
    #[serde(default)]
    media_list: Vec<ApiMedia>,
}

#[derive(Debug, Deserialize)]
struct ApiMedia {
    uri: String,
}

#[derive(Debug, Deserialize)]
struct NumberPage {
    #[serde(default)]
    incoming_phone_numbers: Vec<ApiNumber>,
    next_page_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiNumber {
    sid: String,
    phone_number: String,
    friendly_name: Option<String>,
    capabilities: Option<ApiCapabilities>,
}

#[derive(Debug, Default, Deserialize)]
struct ApiCapabilities {
    #[serde(default)]
    sms: bool,
    #[serde(default)]
    mms: bool,
}

fn num_media(api: &ApiMessage) -> u32 {
    api.num_media
        .as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn parse_status(s: &str) -> Option<CarrierStatus> {
    Some(match s {
        "accepted" => CarrierStatus::Accepted,
        "scheduled" => CarrierStatus::Scheduled,
        "queued" => CarrierStatus::Queued,
        "sending" => CarrierStatus::Sending,
        "sent" => CarrierStatus::Sent,
        // An MMS some of whose parts arrived: it reached the person.
        "delivered" | "partially_delivered" => CarrierStatus::Delivered,
        "undelivered" => CarrierStatus::Undelivered,
        "failed" => CarrierStatus::Failed,
        "receiving" => CarrierStatus::Receiving,
        "received" => CarrierStatus::Received,
        "read" => CarrierStatus::Read,
        "canceled" => CarrierStatus::Canceled,
        _ => return None,
    })
}

fn convert_message(
    api: ApiMessage,
    media_urls: Vec<String>,
) -> Result<CarrierMessage, CarrierError> {
    let bad = |what: &str| CarrierError::Permanent {
        code: None,
        message: format!("The carrier answered with a message whose {what} can't be read."),
    };
    let number = |n: &Option<String>, what: &str| {
        n.as_deref()
            .and_then(E164::from_normalized)
            .ok_or_else(|| bad(what))
    };
    let status = api
        .status
        .as_deref()
        .and_then(parse_status)
        .ok_or_else(|| bad("status"))?;
    let created_at = api
        .date_created
        .as_deref()
        .or(api.date_sent.as_deref())
        .and_then(parse_rfc2822)
        .ok_or_else(|| bad("date"))?;
    Ok(CarrierMessage {
        from: number(&api.from, "sender")?,
        to: number(&api.to, "recipient")?,
        body: api.body.unwrap_or_default(),
        inbound: api.direction.as_deref() == Some("inbound"),
        status,
        created_at,
        error_code: api.error_code.map(|c| c.to_string()),
        error_message: api.error_message,
        media_urls,
        sid: api.sid,
    })
}

/// Twilio's error document: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: Option<i64>,
    message: Option<String>,
}

/// A failure before any answer arrived. `body_sent` is true when the request may have reached the
/// carrier and changed something (a POST): then the outcome is unknown rather than transient.
fn classify_transport(what: &str, e: &reqwest::Error, body_sent: bool) -> CarrierError {
    // A refused, unresolvable or unanswered connection never carried the request: whatever
    // the cause, the carrier is unreachable from here, which the user knows as "offline".
    if e.is_connect() {
        return transient(
            TransientKind::Offline,
            None,
            format!("Couldn't reach the carrier to {what}."),
        );
    }
    if body_sent {
        return CarrierError::Unknown {
            message: format!(
                "The connection to the carrier broke during \"{what}\"; whether it went through \
                 is not known yet."
            ),
        };
    }
    if e.is_timeout() {
        transient(
            TransientKind::Timeout,
            None,
            format!("The carrier took too long to {what}."),
        )
    } else {
        transient(
            TransientKind::Server,
            None,
            format!("The connection to the carrier broke during \"{what}\"."),
        )
    }
}

/// A failure while reading an answer whose status line said success.
fn classify_read(what: &str, e: &reqwest::Error, body_sent: bool) -> CarrierError {
    if e.is_decode() && !e.is_timeout() {
        // The carrier did the work but said something we can't read.
        return if body_sent {
            CarrierError::Unknown {
                message: format!("The carrier's answer to \"{what}\" could not be read."),
            }
        } else {
            transient(
                TransientKind::Server,
                None,
                format!("The carrier's answer to \"{what}\" could not be read."),
            )
        };
    }
    classify_transport(what, e, body_sent)
}

fn transient(kind: TransientKind, retry_after: Option<Duration>, message: String) -> CarrierError {
    CarrierError::Transient {
        kind,
        retry_after,
        message,
    }
}

async fn check_status(what: &str, response: Response) -> Result<Response, CarrierError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now_ms()));
        return Err(transient(
            TransientKind::RateLimited,
            retry_after,
            "The carrier asks to slow down; sending will resume shortly.".into(),
        ));
    }
    if status.is_server_error() {
        return Err(transient(
            TransientKind::Server,
            None,
            format!("The carrier had a problem ({status}) and will be tried again."),
        ));
    }
    // 4xx: the request itself is wrong and will stay wrong.
    let text = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<ApiError>(&text).ok();
    let code = error
        .as_ref()
        .and_then(|e| e.code)
        .or((status == StatusCode::UNAUTHORIZED).then_some(20003));
    let carrier_message = error.and_then(|e| e.message);
    let message = code
        .and_then(human_sentence)
        .map(str::to_owned)
        .or(carrier_message)
        .unwrap_or_else(|| format!("The carrier refused to {what} ({status})."));
    Err(CarrierError::Permanent {
        code: code.map(|c| c.to_string()),
        message,
    })
}

/// `Retry-After` is either seconds or an HTTP date.
fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_rfc2822(value)?;
    Some(Duration::from_millis((at - now_ms).max(0) as u64))
}

/// Sentences a person understands for the Twilio error codes a sender meets; other codes keep
/// Twilio's own message.
pub fn human_sentence(code: i64) -> Option<&'static str> {
    Some(match code {
        20003 => {
            "The carrier refused the account's credentials: check the account SID and auth \
             token in Settings."
        }
        20404 => "The carrier has no record of this.",
        21211 => "This number isn't a valid phone number.",
        21614 => "This number can't receive text messages (it isn't a mobile number).",
        21212 | 21606 | 21659 => {
            "This line can't send messages: the carrier doesn't recognise it as one of the \
             account's numbers."
        }
        21408 => "The account isn't allowed to send messages to this country.",
        21608 => {
            "A Twilio trial account can only text numbers verified in the Twilio Console: \
             verify this one, or upgrade the account."
        }
        21602 | 21619 => "A message needs some text or an image.",
        21610 => {
            "This person has replied STOP to this line, so it can't text them until they \
             reply START."
        }
        21617 => "The message is too long: the carrier accepts at most 1,600 characters.",
        21620 | 21623 | 11200 | 12300 | 30019 => {
            "The carrier couldn't use the attached image: try a smaller JPEG, PNG or GIF."
        }
        30001 => {
            "Twilio's queue for this line was full (too many messages at once), so this one was \
             dropped: press Retry to send it again."
        }
        30003 => "The phone is switched off or out of reach; try again later.",
        30005 => "This number doesn't exist, or no longer does.",
        30006 => "This number is a landline or can't receive text messages.",
        30007 => "The carrier filtered this message as spam.",
        30008 => "The message couldn't be delivered, for a reason the carrier didn't give.",
        _ => return None,
    })
}

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
    /// `api_base_url` is the sandbox's API address, the one a [`TwilioClient`] talks to.
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
        let answer: UploadAnswer = check_status(what, response)
            .await?
            .json()
            .await
            .map_err(|e| classify_read(what, &e, false))?;
        Ok(answer.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sid: &str, status: CarrierStatus, at: i64) -> CarrierMessage {
        CarrierMessage {
            sid: sid.into(),
            from: E164::from_normalized("+14155550100").unwrap(),
            to: E164::from_normalized("+14155550123").unwrap(),
            body: "hi".into(),
            inbound: false,
            status,
            created_at: at,
            error_code: None,
            error_message: None,
            media_urls: vec![],
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = parse_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let check = |v: &str, expected: Option<u64>| {
            assert_eq!(
                parse_retry_after(v, now),
                expected.map(Duration::from_secs),
                "{v}"
            );
        };
        check("7", Some(7));
        check(" 120 ", Some(120));
        check("Wed, 21 Oct 2015 07:28:30 GMT", Some(30));
        check("Wed, 21 Oct 2015 07:27:00 GMT", Some(0));
        check("soon", None);
    }

    #[test]
    fn twilio_statuses_map_onto_ours() {
        let check = |s: &str, expected: Option<CarrierStatus>| {
            assert_eq!(parse_status(s), expected, "{s}");
        };
        check("queued", Some(CarrierStatus::Queued));
        check("sent", Some(CarrierStatus::Sent));
        check("delivered", Some(CarrierStatus::Delivered));
        check("partially_delivered", Some(CarrierStatus::Delivered));
        check("undelivered", Some(CarrierStatus::Undelivered));
        check("received", Some(CarrierStatus::Received));
        check("teleported", None);
    }

    #[test]
    fn cursor_reports_each_status_once_and_keeps_watching_after_the_day_moves() {
        let day1 = parse_day("2026-01-01").unwrap();
        let day2 = parse_day("2026-01-02").unwrap();
        let mut cursor = TwilioCursor {
            day_ms: day1,
            ..TwilioCursor::default()
        };
        let late = day1 + 86_400_000 - 1000;
        let now = day2 + 7_200_000;
        let listed = |sid: &str, status, at| vec![(message(sid, status, at), Some(at))];
        let sids = |ms: Vec<CarrierMessage>| ms.into_iter().map(|m| m.sid).collect::<Vec<_>>();

        let first = cursor.absorb(listed("SM1", CarrierStatus::Sent, late), vec![], now);
        assert_eq!(sids(first), ["SM1"]);
        let again = cursor.absorb(listed("SM1", CarrierStatus::Sent, late), vec![], now);
        assert!(
            again.is_empty(),
            "an unchanged message is not reported twice"
        );

        // A message of the next day, well past the overlap, moves the window to day 2: SM1,
        // still only "sent", is then watched by sid.
        let next = cursor.absorb(
            listed("SM2", CarrierStatus::Sent, day2 + 3_600_000),
            vec![],
            now,
        );
        assert_eq!(sids(next), ["SM2"]);
        assert_eq!(cursor.day_ms, day2);
        assert!(cursor.pending.contains_key("SM1"));

        let delivered = cursor.absorb(
            vec![],
            vec![message("SM1", CarrierStatus::Delivered, late)],
            now,
        );
        assert_eq!(sids(delivered), ["SM1"]);
        assert!(
            !cursor.pending.contains_key("SM1"),
            "a final status ends the watch"
        );
    }

    #[test]
    fn cursor_survives_its_json_form() {
        let mut cursor = TwilioCursor {
            day_ms: parse_day("2026-01-01").unwrap(),
            ..TwilioCursor::default()
        };
        let at = cursor.day_ms + 5;
        cursor.absorb(
            vec![(message("SM1", CarrierStatus::Sent, at), Some(at))],
            vec![],
            at,
        );
        let json = cursor.write();
        assert_eq!(json.0["day"], "2026-01-01");
        let back = TwilioCursor::read(&json, 0);
        assert_eq!(back.day_ms, cursor.day_ms);
        assert_eq!(back.seen.len(), 1);
    }

    #[test]
    fn only_this_machine_counts_as_loopback() {
        let check = |url: &str, expected: bool| assert_eq!(is_loopback(url), expected, "{url}");
        check("http://127.0.0.1:4010", true);
        check("http://localhost:4010/", true);
        check("http://[::1]:4010", true);
        check("https://api.twilio.com", false);
        check("not a url", false);
    }

    #[test]
    fn known_codes_get_a_sentence_and_others_none() {
        assert!(human_sentence(21610).unwrap().contains("STOP"));
        assert!(human_sentence(21211).is_some());
        assert!(human_sentence(21608).unwrap().contains("trial"));
        assert!(human_sentence(30001).unwrap().contains("Retry"));
        assert!(human_sentence(99999).is_none());
    }
}
