//! The sandbox's Twilio API: IncomingPhoneNumbers, Messages (send, list, fetch) and their Media,
//! behind Basic auth and the injected faults, plus `/_sandbox/media`, the public image host that
//! Twilio's MMS model needs (Twilio fetches `MediaUrl`s; the sandbox fetches from itself).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::json;
use switchboard_carrier::dates::format_day;
use switchboard_carrier::CarrierStatus;
use switchboard_core::model::E164;

use crate::state::{MessageMedia, SandboxMessage, StoredMedia};
use crate::wire::{self, TwilioError};
use crate::{new_sid, now_ms, Failure, Shared};

type Shd = State<Arc<Shared>>;
type ApiResult = Result<Response, TwilioError>;

/// Twilio accepts up to 5 MB of media per message.
const MEDIA_LIMIT: usize = 5 * 1024 * 1024;
/// How long a request hit by [`Failure::Timeout`] is held at most.
const HANG: Duration = Duration::from_secs(600);

pub fn router(shared: Arc<Shared>) -> Router {
    let twilio = Router::new()
        .route("/2010-04-01/Accounts/{account}", get(fetch_account))
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
            get(list_numbers),
        )
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{sid}",
            axum::routing::post(update_number),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            get(list_messages).post(send_message),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{sid}",
            get(fetch_message),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json",
            get(list_media),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{sid}/Media/{media}",
            get(fetch_media),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), check_auth))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            inject_faults,
        ));
    let upload = Router::new()
        .route("/_sandbox/media", axum::routing::post(upload_media))
        .layer(DefaultBodyLimit::max(MEDIA_LIMIT))
        .layer(middleware::from_fn_with_state(shared.clone(), check_auth));
    Router::new()
        .merge(twilio)
        .merge(upload)
        .route("/_sandbox/media/{id}", get(download_media))
        .route(
            "/_sandbox/demo-contacts",
            get(crate::control::demo_contacts),
        )
        .with_state(shared)
}

async fn check_auth(State(shared): Shd, request: Request, next: Next) -> Response {
    let expected = format!(
        "Basic {}",
        wire::base64(format!("{}:{}", shared.account_sid, shared.auth_token).as_bytes())
    );
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return TwilioError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate").into_response();
    }
    next.run(request).await
}

async fn inject_faults(State(shared): Shd, request: Request, next: Next) -> Response {
    let is_send = request.method() == axum::http::Method::POST
        && request.uri().path().ends_with("/Messages.json");
    match shared.take_failure(is_send) {
        None => next.run(request).await,
        Some(Failure::Status500) => TwilioError::internal().into_response(),
        Some(Failure::Status429 { retry_after_secs }) => TwilioError {
            retry_after_secs: Some(retry_after_secs),
            ..TwilioError::new(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests")
        }
        .into_response(),
        Some(Failure::Timeout) => {
            // The work is done, only the answer is lost: the hardest case for a client.
            let response = next.run(request).await;
            let mut released = shared.release.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(HANG) => {}
                _ = released.changed() => {}
            }
            response
        }
    }
}

fn check_account(shared: &Shared, account: &str, uri: &str) -> Result<(), TwilioError> {
    if account == shared.account_sid {
        Ok(())
    } else {
        Err(TwilioError::not_found(uri))
    }
}

async fn fetch_account(State(shared): Shd, Path(account): Path<String>) -> ApiResult {
    let Some(account) = account.strip_suffix(".json") else {
        return Err(TwilioError::not_found(&account));
    };
    check_account(&shared, account, "Accounts")?;
    Ok(Json(wire::account_json(&shared.account_sid)).into_response())
}

/// `POST IncomingPhoneNumbers/{Sid}.json`: only `FriendlyName` is read; Twilio keeps it to 64
/// characters.
async fn update_number(
    State(shared): Shd,
    Path((account, sid)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, "IncomingPhoneNumbers")?;
    let uri = format!("{}/IncomingPhoneNumbers/{sid}", wire::account_uri(&account));
    let Some(sid) = sid.strip_suffix(".json") else {
        return Err(TwilioError::not_found(&uri));
    };
    let name = form
        .iter()
        .find(|(k, _)| k == "FriendlyName")
        .map(|(_, v)| v.chars().take(64).collect::<String>());
    let line = shared
        .store
        .update(|s| {
            let line = s.lines.iter_mut().find(|l| l.sid == sid)?;
            if let Some(name) = name {
                line.friendly_name = name;
            }
            Some(line.clone())
        })
        .map_err(|e| {
            tracing::error!(error = %e, "sandbox state not saved");
            TwilioError::internal()
        })?
        .ok_or_else(|| TwilioError::not_found(&uri))?;
    Ok(Json(wire::line_json(&shared.account_sid, &line)).into_response())
}

async fn list_numbers(State(shared): Shd, Path(account): Path<String>) -> ApiResult {
    check_account(&shared, &account, "IncomingPhoneNumbers")?;
    let body = shared
        .store
        .read(|s| wire::numbers_json(&shared.account_sid, s));
    Ok(Json(body).into_response())
}

/// Twilio's `DateSent` filters compare whole UTC days of `date_sent`; `YYYY-MM-DD` strings
/// compare like the days they name.
struct Listing {
    to: Option<String>,
    from: Option<String>,
    sent_on: Option<String>,
    sent_from: Option<String>,
    sent_until: Option<String>,
    page_size: usize,
    page: usize,
    /// `PA<created_at>_<seq>` of the last message of the previous page.
    after: Option<(i64, u64)>,
}

impl Listing {
    fn read(query: &[(String, String)]) -> Listing {
        let q: HashMap<&str, &str> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let get = |k: &str| q.get(k).map(|v| (*v).to_owned());
        Listing {
            to: get("To"),
            from: get("From"),
            sent_on: get("DateSent"),
            sent_from: get("DateSent>"),
            sent_until: get("DateSent<"),
            page_size: q
                .get("PageSize")
                .and_then(|v| v.parse().ok())
                .unwrap_or(50usize)
                .clamp(1, 1000),
            page: q.get("Page").and_then(|v| v.parse().ok()).unwrap_or(0),
            after: q.get("PageToken").and_then(|t| {
                let (at, seq) = t.strip_prefix("PA")?.split_once('_')?;
                Some((at.parse().ok()?, seq.parse().ok()?))
            }),
        }
    }

    fn matches(&self, m: &SandboxMessage) -> bool {
        let dated = self.sent_on.is_some() || self.sent_from.is_some() || self.sent_until.is_some();
        let day = m.sent_at.map(format_day);
        if dated && day.is_none() {
            return false;
        }
        let day = day.unwrap_or_default();
        self.to.as_deref().is_none_or(|to| m.to.as_str() == to)
            && self
                .from
                .as_deref()
                .is_none_or(|from| m.from.as_str() == from)
            && self.sent_on.as_deref().is_none_or(|d| day == d)
            && self.sent_from.as_deref().is_none_or(|d| day.as_str() >= d)
            && self.sent_until.as_deref().is_none_or(|d| day.as_str() <= d)
            && self.after.is_none_or(|after| (m.created_at, m.seq) < after)
    }

    /// The query of this listing's page `page` starting after `token`.
    fn uri(&self, account_sid: &str, page: usize, token: Option<(i64, u64)>) -> String {
        let mut pairs = Vec::new();
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                pairs.push((k.to_owned(), v.clone()));
            }
        };
        push("To", &self.to);
        push("From", &self.from);
        push("DateSent", &self.sent_on);
        push("DateSent>", &self.sent_from);
        push("DateSent<", &self.sent_until);
        pairs.push(("PageSize".into(), self.page_size.to_string()));
        pairs.push(("Page".into(), page.to_string()));
        if let Some((at, seq)) = token {
            pairs.push(("PageToken".into(), format!("PA{at}_{seq}")));
        }
        format!(
            "{}/Messages.json?{}",
            wire::account_uri(account_sid),
            wire::encode_query(&pairs)
        )
    }
}

async fn list_messages(
    State(shared): Shd,
    Path(account): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, "Messages")?;
    let listing = Listing::read(&query);
    let (page, more) = shared.store.read(|s| {
        let mut found: Vec<&SandboxMessage> =
            s.messages.iter().filter(|m| listing.matches(m)).collect();
        // Newest first, as Twilio lists.
        found.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.seq)));
        let more = found.len() > listing.page_size;
        let page: Vec<SandboxMessage> =
            found.into_iter().take(listing.page_size).cloned().collect();
        (page, more)
    });
    let sid = &shared.account_sid;
    let next = page
        .last()
        .filter(|_| more)
        .map(|last| listing.uri(sid, listing.page + 1, Some((last.created_at, last.seq))));
    let start = listing.page * listing.page_size;
    let this = listing.uri(sid, listing.page, listing.after);
    let body = json!({
        "messages": page.iter().map(|m| wire::message_json(sid, m)).collect::<Vec<_>>(),
        "first_page_uri": Listing { after: None, ..listing }.uri(sid, 0, None),
        "next_page_uri": next,
        "previous_page_uri": null,
        "page": listing.page,
        "page_size": listing.page_size,
        "start": start,
        "end": (start + page.len()).saturating_sub(1),
        "uri": this,
    });
    Ok(Json(body).into_response())
}

fn find_message(shared: &Shared, sid: &str) -> Result<SandboxMessage, TwilioError> {
    shared
        .store
        .read(|s| s.messages.iter().find(|m| m.sid == sid).cloned())
        .ok_or_else(|| TwilioError::not_found(&wire::message_uri(&shared.account_sid, sid)))
}

async fn fetch_message(
    State(shared): Shd,
    Path((account, sid)): Path<(String, String)>,
) -> ApiResult {
    check_account(&shared, &account, "Messages")?;
    let Some(sid) = sid.strip_suffix(".json") else {
        return Err(TwilioError::not_found(&sid));
    };
    let message = find_message(&shared, sid)?;
    Ok(Json(wire::message_json(&shared.account_sid, &message)).into_response())
}

async fn list_media(State(shared): Shd, Path((account, sid)): Path<(String, String)>) -> ApiResult {
    check_account(&shared, &account, "Media")?;
    let message = find_message(&shared, &sid)?;
    Ok(Json(wire::media_list_json(&shared.account_sid, &message)).into_response())
}

/// `Media/{Sid}.json` is the resource; `Media/{Sid}` the image itself, as at Twilio.
async fn fetch_media(
    State(shared): Shd,
    Path((account, sid, media)): Path<(String, String, String)>,
) -> ApiResult {
    check_account(&shared, &account, "Media")?;
    let message = find_message(&shared, &sid)?;
    let (media_sid, as_json) = match media.strip_suffix(".json") {
        Some(m) => (m, true),
        None => (media.as_str(), false),
    };
    let item = message
        .media
        .iter()
        .find(|m| m.sid == media_sid)
        .ok_or_else(|| TwilioError::not_found(&media))?;
    if as_json {
        let list = wire::media_list_json(&shared.account_sid, &message);
        let one = list["media_list"]
            .as_array()
            .and_then(|l| l.iter().find(|m| m["sid"] == media_sid).cloned())
            .unwrap_or_default();
        return Ok(Json(one).into_response());
    }
    match local_media_id(&shared, &item.url) {
        Some(id) => read_media(&shared, id).await,
        None => Ok(Redirect::temporary(&item.url).into_response()),
    }
}

/// The id of a `MediaUrl` that points at this sandbox's own media host.
fn local_media_id<'a>(shared: &Shared, url: &'a str) -> Option<&'a str> {
    let prefix = format!("{}/_sandbox/media/", shared.api_base_url());
    url.strip_prefix(&prefix)
}

async fn send_message(
    State(shared): Shd,
    Path(account): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, "Messages")?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let to = field("To")
        .ok_or_else(|| TwilioError::bad_request(21604, "A 'To' phone number is required."))?;
    let from = field("From")
        .ok_or_else(|| TwilioError::bad_request(21603, "A 'From' phone number is required."))?;
    let body = form
        .iter()
        .find(|(k, _)| k == "Body")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let media_urls: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "MediaUrl")
        .map(|(_, v)| v.as_str())
        .collect();

    let to = E164::from_normalized(&to).ok_or_else(|| {
        TwilioError::bad_request(
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        )
    })?;
    let from_line = E164::from_normalized(&from)
        .filter(|n| shared.store.read(|s| s.line(n).is_some_and(|l| l.sms)))
        .ok_or_else(|| {
            TwilioError::bad_request(
                21606,
                format!(
                    "The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."
                ),
            )
        })?;
    if body.is_empty() && media_urls.is_empty() {
        return Err(TwilioError::bad_request(21602, "Message body is required."));
    }
    if body.chars().count() > 1600 {
        return Err(TwilioError::bad_request(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    if media_urls.len() > 10 {
        return Err(TwilioError::bad_request(
            21623,
            "Number of media files exceeds allowed limit.",
        ));
    }
    let mut media = Vec::new();
    for url in &media_urls {
        media.push(MessageMedia {
            sid: new_sid("ME"),
            url: (*url).to_owned(),
            content_type: media_type(&shared, url).await.ok_or_else(|| {
                TwilioError::bad_request(
                    21620,
                    format!(
                        "Media urls: {url} are invalid. Please use only valid http and https urls"
                    ),
                )
            })?,
        });
    }
    if let Some(code) = shared.number_failure(&to) {
        return Err(TwilioError::bad_request(code, wire::twilio_message(code)));
    }

    let now = now_ms();
    let message = shared
        .store
        .update(|s| {
            let message = SandboxMessage {
                sid: new_sid(if media.is_empty() { "SM" } else { "MM" }),
                from: from_line,
                to,
                body,
                inbound: false,
                status: CarrierStatus::Queued,
                created_at: now,
                updated_at: now,
                sent_at: None,
                error_code: None,
                error_message: None,
                media,
                seq: s.take_seq(),
            };
            s.messages.push(message.clone());
            s.received_count += 1;
            message
        })
        .map_err(|e| {
            tracing::error!(error = %e, "sandbox state not saved");
            TwilioError::internal()
        })?;
    shared.progress(message.sid.clone(), CarrierStatus::Queued);
    shared.maybe_reply(&message);
    let body = wire::message_json(&shared.account_sid, &message);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The content type of a `MediaUrl`, or `None` if the sandbox would fail to fetch it. Its own
/// media and images on this machine (a media host on loopback) are fetched and judged by
/// content, as Twilio does; other addresses cannot be reached from a sandbox and are judged by
/// their extension.
async fn media_type(shared: &Shared, url: &str) -> Option<String> {
    if let Some(id) = local_media_id(shared, url) {
        return shared.store.read(|s| {
            s.media
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.content_type.clone())
        });
    }
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    if switchboard_carrier::twilio::is_loopback(url) {
        let http = shared.media_fetcher.get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default()
        });
        let response = http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let bytes = response.bytes().await.ok()?;
        return sniff(&bytes).map(str::to_owned);
    }
    let path = parsed.path().to_ascii_lowercase();
    Some(
        if path.ends_with(".png") {
            "image/png"
        } else if path.ends_with(".gif") {
            "image/gif"
        } else {
            "image/jpeg"
        }
        .to_owned(),
    )
}

/// The image type of `bytes`, judged by content as the app does.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

async fn upload_media(State(shared): Shd, bytes: Bytes) -> ApiResult {
    let content_type = sniff(&bytes).ok_or_else(|| {
        TwilioError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            12300,
            "Only JPEG, PNG and GIF images are accepted.",
        )
    })?;
    let id = new_sid("ME");
    let path = shared.store.media_path(&id);
    tokio::fs::write(&path, &bytes).await.map_err(|e| {
        tracing::error!(error = %e, "sandbox media not saved");
        TwilioError::internal()
    })?;
    shared
        .store
        .update(|s| {
            s.media.push(StoredMedia {
                id: id.clone(),
                content_type: content_type.to_owned(),
            })
        })
        .map_err(|_| TwilioError::internal())?;
    let url = format!("{}/_sandbox/media/{id}", shared.api_base_url());
    let body = json!({ "sid": id, "url": url, "content_type": content_type });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn download_media(State(shared): Shd, Path(id): Path<String>) -> ApiResult {
    read_media(&shared, &id).await
}

async fn read_media(shared: &Shared, id: &str) -> ApiResult {
    let content_type = shared
        .store
        .read(|s| {
            s.media
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.content_type.clone())
        })
        .ok_or_else(|| TwilioError::not_found(id))?;
    let bytes = tokio::fs::read(shared.store.media_path(id))
        .await
        .map_err(|_| TwilioError::not_found(id))?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = content_type.parse() {
        headers.insert(header::CONTENT_TYPE, v);
    }
    Ok((headers, bytes).into_response())
}
