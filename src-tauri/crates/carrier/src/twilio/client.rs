//! [`TwilioClient`]: the requests Switchboard makes of Twilio's API, and the [`Carrier`] they
//! implement (numbers, the account check, renames, sending, reconciliation, inbound sync).

use std::fmt;

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder};
use switchboard_core::media::MAX_RECEIVED_MEDIA_BYTES;
use switchboard_core::model::E164;

use super::clock::CarrierClock;
use super::cursor::TwilioCursor;
use super::errors::{check_status, classify_read, classify_transport};
use super::lookup::{is_candidate, oldest_first, Window};
use super::options::{is_loopback, MessageFilter, TwilioOptions};
use super::round::{SyncRound, Walk};
use super::wire::{
    convert_message, listed, path_segment, ApiAccount, ApiMessage, Listed, MediaPage, MessagePage,
    NumberPage, Pages,
};
use crate::dates::{format_day, now_ms};
use crate::{
    Capabilities, Carrier, CarrierAccount, CarrierError, CarrierLine, CarrierMessage, Changes,
    FetchedMedia, SendRequest, SyncCursor, TransientKind,
};

/// Twilio accepts up to 5 MB of media per message.
pub const MMS_BUDGET: usize = 5 * 1024 * 1024;

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

/// A carrier speaking Twilio's protocol at `base_url` (`https://api.twilio.com` or a sandbox).
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
    options: TwilioOptions,
    /// The carrier's clock, from the `Date` of its answers.
    clock: CarrierClock,
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
            clock: CarrierClock::default(),
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

    /// Sends a request and reads a JSON answer, classifying every failure; `body_matters` for a
    /// request that changes something (a send), whose lost answer leaves its outcome unknown.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        builder: RequestBuilder,
        body_matters: bool,
    ) -> Result<T, CarrierError> {
        let sent_ms = now_ms();
        let response = builder
            .send()
            .await
            .map_err(|e| classify_transport(what, &e, body_matters))?;
        let date = response.headers().get(reqwest::header::DATE);
        self.clock
            .observe(date.and_then(|v| v.to_str().ok()), sent_ms, now_ms());
        let response = check_status(what, response, body_matters).await?;
        response
            .json::<T>()
            .await
            .map_err(|e| classify_read(what, &e, body_matters))
    }

    /// The carrier's time now, as well as its answers have told it.
    fn carrier_now(&self) -> i64 {
        self.clock.to_carrier(now_ms())
    }

    /// `GET Messages/{Sid}.json`: one message as the carrier has it now, with its media.
    pub async fn fetch_message(&self, sid: &str) -> Result<CarrierMessage, CarrierError> {
        let found = self.fetch_listed(sid).await?;
        let mut message = found.message;
        if found.num_media > 0 {
            message.media_urls = self.media_urls(&message.sid).await?;
        }
        Ok(message)
    }

    /// `GET Messages/{Sid}.json` without its media.
    async fn fetch_listed(&self, sid: &str) -> Result<Listed, CarrierError> {
        let url = self.account_url(&format!("/Messages/{}.json", path_segment(sid)?));
        let api: ApiMessage = self
            .call("fetch message", self.request(Method::GET, &url), false)
            .await?;
        listed(api)
    }

    /// `GET Messages.json` with filters, following `next_page_uri`; newest first, as listed. A
    /// listing tells only how many media a message has: its `media_urls` stay empty (see
    /// [`TwilioClient::media_urls`]).
    pub async fn list_messages(
        &self,
        filter: &MessageFilter,
    ) -> Result<Vec<CarrierMessage>, CarrierError> {
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
        let mut builder = self.messages_page(&query, self.options.page_size);
        let mut out = Vec::new();
        let mut pages = Pages::default();
        loop {
            let (page, next) = self.message_page(builder).await?;
            out.extend(page.into_iter().map(|l| l.message));
            match pages.next(next) {
                Some(next) if !filter.first_page_only => {
                    builder = self.next_page(&next)?;
                }
                _ => return Ok(out),
            }
        }
    }

    /// The first page of `GET Messages.json` with `query`.
    fn messages_page(&self, query: &[(&str, String)], page_size: u32) -> RequestBuilder {
        self.request(Method::GET, &self.account_url("/Messages.json"))
            .query(query)
            .query(&[("PageSize", page_size.to_string())])
    }

    /// One page of a message listing, newest first, and the next page's URI.
    async fn message_page(
        &self,
        builder: RequestBuilder,
    ) -> Result<(Vec<Listed>, Option<String>), CarrierError> {
        let page: MessagePage = self.call("list messages", builder, false).await?;
        let mut out = Vec::with_capacity(page.messages.len());
        for api in page.messages {
            let sid = api.sid.clone();
            match listed(api) {
                Ok(l) => out.push(l),
                // A message we cannot represent (a sender that is no number, short code or
                // sender id; a status from a newer API) must not stop the sync of the others.
                Err(e) => {
                    tracing::warn!(sid, reason = %e, "skipping a message the carrier listed");
                }
            }
        }
        Ok((out, page.next_page_uri.filter(|uri| !uri.is_empty())))
    }

    /// A link of the carrier's (a page, a media resource) as a URL on its host. Twilio's are
    /// relative to it; one to another server is never followed, since it would be sent the
    /// account's credentials.
    fn own_url(&self, uri: &str) -> Option<String> {
        if uri.starts_with('/') && !uri.starts_with("//") {
            Some(format!("{}{uri}", self.base_url))
        } else {
            let own = uri
                .strip_prefix(self.base_url.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
            own.then(|| uri.to_owned())
        }
    }

    /// The request for the page a listing links to next.
    fn next_page(&self, uri: &str) -> Result<RequestBuilder, CarrierError> {
        let url = self.own_url(uri).ok_or_else(|| CarrierError::Permanent {
            code: None,
            message: "The carrier's listing links to another server, which is not followed.".into(),
        })?;
        Ok(self.request(Method::GET, &url))
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
            .filter_map(|m| self.own_url(m.uri.trim_end_matches(".json")))
            .collect())
    }

    /// A sync round's listing, from the top then (when the top had no news) along the gap a
    /// previous round left, and its watched messages one by one.
    async fn walk(&self, round: &mut SyncRound) -> Result<(), CarrierError> {
        let page_size = if round.is_first() {
            self.options.history_page_size
        } else {
            self.options.page_size
        };
        let mut builder = self.messages_page(&[], page_size);
        loop {
            let (page, next) = self.message_page(builder).await?;
            match round.head_page(page, next, self.carrier_now()) {
                Walk::Next(uri) => builder = self.next_page(&uri)?,
                Walk::Done => break,
            }
        }
        if let Some(uri) = round.gap_to_walk() {
            let mut builder = self.next_page(&uri)?;
            loop {
                let (page, next) = self.message_page(builder).await?;
                match round.gap_page(page, next, self.carrier_now()) {
                    Walk::Next(uri) => builder = self.next_page(&uri)?,
                    Walk::Done => break,
                }
            }
        }
        for sid in round.due_watches() {
            match self.fetch_listed(&sid).await {
                Ok(found) => round.watched(&sid, Some(found)),
                // Deleted at the carrier: nothing more will come of it.
                Err(CarrierError::Permanent { .. }) => round.watched(&sid, None),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Uploads the request's images to the media host, in order: one URL each.
    async fn media_urls_for(&self, request: &SendRequest) -> Result<Vec<String>, CarrierError> {
        if request.media.is_empty() {
            return Ok(Vec::new());
        }
        let host = self
            .options
            .media_host
            .as_ref()
            .ok_or_else(|| CarrierError::Permanent {
                code: None,
                message: "Images can't be sent from this account: no media host is configured."
                    .into(),
            })?;
        let mut urls = Vec::with_capacity(request.media.len());
        for media in &request.media {
            urls.push(host.upload(media).await?);
        }
        Ok(urls)
    }

    /// `GET` one media item's content with the account's credentials, as long as it is no
    /// larger than [`MAX_RECEIVED_MEDIA_BYTES`]. Twilio answers with a redirect to its media
    /// store, which reqwest follows without the credentials (they are dropped when the host
    /// changes).
    async fn download(&self, url: &str) -> Result<FetchedMedia, CarrierError> {
        let what = "download media";
        let url = self.own_url(url).ok_or_else(|| CarrierError::Permanent {
            code: None,
            message: "The carrier gave a media address on another server, which is not fetched."
                .into(),
        })?;
        let response = self
            .request(Method::GET, &url)
            .send()
            .await
            .map_err(|e| classify_transport(what, &e, false))?;
        let response = check_status(what, response, false).await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let too_large = || CarrierError::Permanent {
            code: None,
            message: format!(
                "A media item is larger than {} MB, more than Switchboard keeps.",
                MAX_RECEIVED_MEDIA_BYTES / (1024 * 1024)
            ),
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RECEIVED_MEDIA_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify_read(what, &e, false))?
        {
            if bytes.len() + chunk.len() > MAX_RECEIVED_MEDIA_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchedMedia {
            content_type,
            bytes,
        })
    }
}

#[async_trait]
impl Carrier for TwilioClient {
    fn capabilities(&self) -> Capabilities {
        let mms = self.options.media_host.is_some();
        // An attempt with an image uploads it first: one request timeout more before its
        // message may be created (the same window `find_sent` looks in).
        let in_flight = self.options.request_timeout * if mms { 2 } else { 1 };
        Capabilities {
            mms,
            idempotency_keys: false,
            per_line_rate: self.options.per_line_rate,
            mms_budget: MMS_BUDGET,
            settle: in_flight + self.options.listing_lag,
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
                Some(next) => builder = self.next_page(&next)?,
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
        let media_urls = self.media_urls_for(request).await?;
        let mut form: Vec<(&str, &str)> =
            vec![("From", request.from.as_str()), ("To", request.to.as_str())];
        if !request.body.is_empty() {
            form.push(("Body", &request.body));
        }
        for url in &media_urls {
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
        convert_message(api, media_urls).map_err(|e| CarrierError::Unknown {
            message: format!("The carrier took the message but its answer was unusable: {e}"),
        })
    }

    async fn find_sent(
        &self,
        request: &SendRequest,
        started_at_ms: i64,
    ) -> Result<Vec<CarrierMessage>, CarrierError> {
        // Newest first, down to the attempt's window on the carrier's clock, which the first
        // answer's `Date` places. No `DateSent` filter: a message still queued has no date_sent
        // yet, and Twilio's filter skips it.
        let query = [
            ("From", request.from.to_string()),
            ("To", request.to.to_string()),
        ];
        let mut builder = self.messages_page(&query, self.options.page_size);
        let mut window = None;
        let mut pages = Pages::default();
        let mut found = Vec::new();
        loop {
            let (page, next) = self.message_page(builder).await?;
            let window = *window.get_or_insert_with(|| {
                Window::of_attempt(
                    started_at_ms,
                    self.clock.offset_ms(),
                    self.options.request_timeout,
                    !request.media.is_empty(),
                )
            });
            let reached = page.iter().any(|l| l.message.created_at < window.from_ms);
            found.extend(
                page.into_iter()
                    .filter(|l| is_candidate(request, l, &window)),
            );
            match pages.next(next) {
                Some(next) if !reached => builder = self.next_page(&next)?,
                _ => return Ok(oldest_first(found)),
            }
        }
    }

    async fn changes(&self, cursor: &SyncCursor) -> Result<Changes, CarrierError> {
        let mut round = SyncRound::start(
            TwilioCursor::read(cursor),
            self.options.listing_lag,
            self.carrier_now(),
        );
        self.walk(&mut round).await?;
        let (reports, state, backfill) = round.finish();
        let mut messages = Vec::with_capacity(reports.len());
        for report in reports {
            let mut message = report.listed.message;
            if report.fetch_media {
                message.media_urls = match self.media_urls(&message.sid).await {
                    Ok(urls) => urls,
                    // The network is gone: the next round lists it all again.
                    Err(
                        e @ CarrierError::Transient {
                            kind: TransientKind::Offline | TransientKind::Timeout,
                            ..
                        },
                    ) => return Err(e),
                    // Deleted since it was listed, or an answer that keeps failing: the
                    // message itself is still news, and must not hold up all the others.
                    Err(e) => {
                        tracing::warn!(sid = %message.sid, reason = %e, "an MMS is reported without its media");
                        Vec::new()
                    }
                };
            }
            messages.push(message);
        }
        Ok(Changes {
            messages,
            cursor: state.write(),
            backfill,
        })
    }

    fn clock_offset_ms(&self) -> Option<i64> {
        self.clock.offset_ms()
    }

    async fn media_urls(&self, message_sid: &str) -> Result<Vec<String>, CarrierError> {
        TwilioClient::media_urls(self, message_sid).await
    }

    async fn fetch_media(&self, url: &str) -> Result<FetchedMedia, CarrierError> {
        self.download(url).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_carriers_own_links_are_followed() {
        let client = TwilioClient::new(
            "https://api.twilio.com/",
            "AC1",
            "token",
            TwilioOptions::default(),
        )
        .unwrap();
        let check = |uri: &str, expected: Option<&str>| {
            assert_eq!(client.own_url(uri).as_deref(), expected, "{uri}");
        };
        let page = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageToken=PA1";
        check(
            "/2010-04-01/Accounts/AC1/Messages.json?PageToken=PA1",
            Some(page),
        );
        check(page, Some(page));
        check("https://api.twilio.com.example.net/2010-04-01/x", None);
        check("https://elsewhere.example/2010-04-01/x", None);
        check("//elsewhere.example/x", None);
        check("Messages.json", None);
    }
}
