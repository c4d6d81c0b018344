//! The sandbox's Twilio API: the Account, IncomingPhoneNumbers (list, fetch, rename),
//! Messages (send, list, fetch) and their Media, answered in Twilio's shapes and statuses (an
//! unknown path is Twilio's 404 document, a method a resource does not take its 405), behind
//! Basic auth, the injected faults and the quirks in force; plus `/_sandbox/media`, the public
//! image host that Twilio's MMS model needs (Twilio fetches `MediaUrl`s; the sandbox fetches
//! from itself). Every answer is counted and carries the sandbox's own `Date`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::json;
use switchboard_carrier::CarrierStatus;
use switchboard_core::model::E164;

use crate::listing::Listing;
use crate::quirks::TRIAL_PREFIX;
use crate::state::{MessageMedia, SandboxLine, SandboxMessage, StoredMedia};
use crate::wire::{self, Paging, TwilioError};
use crate::{new_sid, Failure, Shared};

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
            get(fetch_number).post(update_number),
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
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(shared.clone(), stamp))
        .with_state(shared)
}

/// Counts the request and dates the answer by the sandbox's clock (skewed or not), as
/// Twilio's `Date` header is what clients estimate their clock's error from.
async fn stamp(State(shared): Shd, request: Request, next: Next) -> Response {
    shared.api_requests.fetch_add(1, Ordering::Relaxed);
    let mut response = next.run(request).await;
    let date = wire::http_date(shared.quirks().now_exact_ms());
    if let Ok(value) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

async fn unknown_path(uri: Uri) -> Response {
    TwilioError::not_found(uri.path()).into_response()
}

async fn wrong_method() -> Response {
    TwilioError::method_not_allowed().into_response()
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
        let mut response =
            TwilioError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate").into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return response;
    }
    next.run(request).await
}

async fn inject_faults(State(shared): Shd, request: Request, next: Next) -> Response {
    let is_send = request.method() == axum::http::Method::POST
        && request.uri().path().ends_with("/Messages.json");
    match shared.take_failure(is_send) {
        None => next.run(request).await,
        Some(Failure::Status500) => TwilioError::internal().into_response(),
        Some(Failure::ServerError {
            status,
            after_create,
        }) => {
            if after_create {
                // The work is done and kept; only the answer says otherwise.
                drop(next.run(request).await);
            }
            TwilioError::server(status.status_code()).into_response()
        }
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

/// Another account's resources are not found, as at Twilio.
fn check_account(shared: &Shared, account: &str, uri: &Uri) -> Result<(), TwilioError> {
    if account == shared.account_sid {
        Ok(())
    } else {
        Err(TwilioError::not_found(uri.path()))
    }
}

/// A resource's sid from its path segment, which must end in `.json` (without, Twilio
/// answers in XML, which the sandbox does not speak).
fn json_sid<'a>(segment: &'a str, uri: &Uri) -> Result<&'a str, TwilioError> {
    segment
        .strip_suffix(".json")
        .ok_or_else(|| TwilioError::not_found(uri.path()))
}

async fn fetch_account(State(shared): Shd, Path(account): Path<String>, uri: Uri) -> ApiResult {
    check_account(&shared, json_sid(&account, &uri)?, &uri)?;
    let created = shared
        .store
        .read(|s| s.lines.iter().map(|l| l.created_at).min())
        .unwrap_or_else(|| shared.now_ms());
    let body = wire::account_json(
        &shared.account_sid,
        &shared.auth_token,
        created,
        shared.quirks().trial,
    );
    Ok(Json(body).into_response())
}

fn find_line(shared: &Shared, sid: &str, uri: &Uri) -> Result<SandboxLine, TwilioError> {
    shared
        .store
        .read(|s| s.lines.iter().find(|l| l.sid == sid).cloned())
        .ok_or_else(|| TwilioError::not_found(uri.path()))
}

async fn fetch_number(
    State(shared): Shd,
    Path((account, sid)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
    let line = find_line(&shared, json_sid(&sid, &uri)?, &uri)?;
    Ok(Json(wire::line_json(&shared.account_sid, &line)).into_response())
}

/// `POST IncomingPhoneNumbers/{Sid}.json`: only `FriendlyName` is read; Twilio keeps it to 64
/// characters.
async fn update_number(
    State(shared): Shd,
    Path((account, sid)): Path<(String, String)>,
    uri: Uri,
    Form(form): Form<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
    let sid = json_sid(&sid, &uri)?;
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
        .ok_or_else(|| TwilioError::not_found(uri.path()))?;
    Ok(Json(wire::line_json(&shared.account_sid, &line)).into_response())
}

/// Twilio's `PhoneNumber` filter: the digits given appear in the number, `*` standing for any
/// digit.
fn number_matches(number: &str, pattern: &str) -> bool {
    let digits: Vec<u8> = number.bytes().filter(u8::is_ascii_digit).collect();
    let wanted: Vec<u8> = pattern
        .bytes()
        .filter(|b| b.is_ascii_digit() || *b == b'*')
        .collect();
    wanted.is_empty()
        || digits
            .windows(wanted.len())
            .any(|w| w.iter().zip(&wanted).all(|(d, p)| *p == b'*' || d == p))
}

async fn list_numbers(
    State(shared): Shd,
    Path(account): Path<String>,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
    let paging = Paging::read(&query, &["FriendlyName", "Beta", "PhoneNumber", "Origin"]);
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let lines: Vec<serde_json::Value> = shared.store.read(|s| {
        s.lines
            .iter()
            .filter(|l| get("FriendlyName").is_none_or(|n| l.friendly_name == n))
            .filter(|l| get("PhoneNumber").is_none_or(|p| number_matches(l.number.as_str(), p)))
            .filter(|_| get("Origin").is_none_or(|o| o == "twilio"))
            .map(|l| wire::line_json(&shared.account_sid, l))
            .collect()
    });
    let path = format!(
        "{}/IncomingPhoneNumbers.json",
        wire::account_uri(&shared.account_sid)
    );
    let body = wire::short_list("incoming_phone_numbers", lines, &path, &paging);
    Ok(Json(body).into_response())
}

async fn list_messages(
    State(shared): Shd,
    Path(account): Path<String>,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
    let listing = Listing::read(&query);
    let quirks = shared.quirks();
    let page = shared.store.read(|s| listing.page(s, &quirks));
    Ok(Json(listing.answer(&shared.account_sid, &page, &quirks)).into_response())
}

/// A message as a lookup finds it: not at all while the list lag hides it.
fn find_message(shared: &Shared, sid: &str, uri: &Uri) -> Result<SandboxMessage, TwilioError> {
    let quirks = shared.quirks();
    shared
        .store
        .read(|s| s.message(sid).filter(|m| quirks.listed(m)).cloned())
        .ok_or_else(|| TwilioError::not_found(uri.path()))
}

async fn fetch_message(
    State(shared): Shd,
    Path((account, sid)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
    let message = find_message(&shared, json_sid(&sid, &uri)?, &uri)?;
    let shown = shared.quirks().media_ready(&message);
    Ok(Json(wire::message_json(&shared.account_sid, &message, shown)).into_response())
}

/// A message's media as Twilio reports them: none while the media lag lasts.
fn reported_media(shared: &Shared, message: &SandboxMessage) -> Vec<MessageMedia> {
    if shared.quirks().media_ready(message) {
        message.media.clone()
    } else {
        Vec::new()
    }
}

async fn list_media(
    State(shared): Shd,
    Path((account, sid)): Path<(String, String)>,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
    let message = find_message(&shared, &sid, &uri)?;
    let items = reported_media(&shared, &message)
        .iter()
        .map(|media| wire::media_json(&shared.account_sid, &message, media))
        .collect();
    let path = format!(
        "{}/Media.json",
        wire::message_uri(&shared.account_sid, &sid)
    );
    let paging = Paging::read(&query, &["DateCreated", "DateCreated<", "DateCreated>"]);
    Ok(Json(wire::short_list("media_list", items, &path, &paging)).into_response())
}

/// `Media/{Sid}.json` is the resource; `Media/{Sid}` the image itself, as at Twilio.
async fn fetch_media(
    State(shared): Shd,
    Path((account, sid, media)): Path<(String, String, String)>,
    uri: Uri,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
    let message = find_message(&shared, &sid, &uri)?;
    let (media_sid, as_json) = match media.strip_suffix(".json") {
        Some(m) => (m, true),
        None => (media.as_str(), false),
    };
    let item = reported_media(&shared, &message)
        .into_iter()
        .find(|m| m.sid == media_sid)
        .ok_or_else(|| TwilioError::not_found(uri.path()))?;
    if as_json {
        let body = wire::media_json(&shared.account_sid, &message, &item);
        return Ok(Json(body).into_response());
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
    uri: Uri,
    Form(form): Form<Vec<(String, String)>>,
) -> ApiResult {
    check_account(&shared, &account, &uri)?;
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
    // A recipient who texted STOP to this line is refused at once, until they text START.
    if shared.store.read(|s| s.is_opted_out(&from_line, &to)) {
        return Err(TwilioError::bad_request(21610, wire::twilio_message(21610)));
    }
    // Twilio refuses a send with a 21xxx code at once, and reports a delivery error (30xxx)
    // later, as the status of a message it accepted.
    let undeliverable = match shared.number_failure(&to) {
        Some(code) if wire::is_delivery_error(code) => Some(code),
        Some(code) => return Err(TwilioError::bad_request(code, wire::twilio_message(code))),
        None => None,
    };

    let quirks = shared.quirks();
    // A trial account's messages say so, in the body the recipient reads and the API answers.
    let body = if quirks.trial {
        format!("{TRIAL_PREFIX}{body}")
    } else {
        body
    };
    let now = quirks.now_ms();
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
                auto_reply: false,
                seq: s.take_seq(),
                arrived: Some(Instant::now()),
            };
            s.insert_message(message.clone());
            s.received_count += 1;
            message
        })
        .map_err(|e| {
            tracing::error!(error = %e, "sandbox state not saved");
            TwilioError::internal()
        })?;
    match undeliverable {
        Some(code) => shared.fail_delivery(message.sid.clone(), code),
        None => {
            shared.progress(message.sid.clone(), CarrierStatus::Queued);
            shared.maybe_reply(&message);
        }
    }
    let body = wire::message_json(&shared.account_sid, &message, quirks.media_ready(&message));
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
