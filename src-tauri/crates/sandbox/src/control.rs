//! The always-on control API (`/_sandbox/…`), which mirrors `SandboxHandle` so that a CLI or a
//! test can drive a sandbox running in another process, even while its Twilio API is offline:
//! online and offline, faults, the quirks (`GET`/`POST /_sandbox/quirks`), a busy day
//! (`/_sandbox/flood`), replies (with media: an inbound MMS), and what the carrier holds (all of it, whatever the quirks
//! let the API show). It listens on loopback only and asks for no credentials: it controls a
//! fake.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use switchboard_core::model::E164;

use crate::quirks::QuirksChange;
use crate::wire::{self, TwilioError};
use crate::{
    flood, state, Failure, ReplyMedia, SandboxError, Shared, MAX_REPLY_MEDIA, MAX_REPLY_MEDIA_BYTES,
};

type Shd = State<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/online", post(go_online))
        .route("/_sandbox/offline", post(go_offline))
        .route("/_sandbox/fail", post(fail))
        .route("/_sandbox/fail-number", post(fail_number))
        .route("/_sandbox/quirks", get(quirks).post(change_quirks))
        .route("/_sandbox/flood", post(flood))
        .route(
            "/_sandbox/reply",
            // Base64 of the most media a reply carries, and room for the rest.
            post(reply).layer(DefaultBodyLimit::max(
                MAX_REPLY_MEDIA_BYTES / 3 * 4 + 64 * 1024,
            )),
        )
        .route("/_sandbox/messages", get(messages))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/demo-contacts", get(demo_contacts))
        .with_state(shared)
}

fn bad(message: impl Into<String>) -> Response {
    TwilioError::bad_request(21000, message).into_response()
}

async fn switch(shared: &Arc<Shared>, online: bool) -> Response {
    match shared.set_online(online).await {
        Ok(()) => Json(shared.stats()).into_response(),
        Err(e) => TwilioError::new(StatusCode::INTERNAL_SERVER_ERROR, 20500, e.to_string())
            .into_response(),
    }
}

async fn go_online(State(shared): Shd) -> Response {
    switch(&shared, true).await
}

async fn go_offline(State(shared): Shd) -> Response {
    switch(&shared, false).await
}

/// `{"count": 2, "failure": {"kind": "status429", "retry_after_secs": 3}}`, or a 5xx after
/// the work is done: `{"failure": {"kind": "server_error", "status": 502, "after_create": true},
/// "sends_only": true}`.
#[derive(Deserialize)]
struct FailBody {
    #[serde(default = "one")]
    count: u32,
    failure: Failure,
    /// Only sends (`POST Messages.json`) fail; other requests pass.
    #[serde(default)]
    sends_only: bool,
}

fn one() -> u32 {
    1
}

async fn fail(State(shared): Shd, Json(body): Json<FailBody>) -> Response {
    shared.fail_next(body.count, body.failure, body.sends_only);
    Json(shared.stats()).into_response()
}

/// `{"number": "+14155550123", "code": 21610}`; `"code": null` lets the number receive again.
#[derive(Deserialize)]
struct FailNumberBody {
    number: String,
    code: Option<u32>,
}

async fn fail_number(State(shared): Shd, Json(body): Json<FailNumberBody>) -> Response {
    let Some(number) = E164::from_normalized(&body.number) else {
        return bad(format!("{} is not an E.164 number", body.number));
    };
    shared.fail_number(number, body.code);
    Json(shared.stats()).into_response()
}

/// `{"from": "+14155550123", "to": "+14155550100", "body": "Hi", "at_ms": 1767225599000}`,
/// and for an MMS `"media": [{"content_type": "image/png", "data": "<base64>"}]` (at most 10).
#[derive(Deserialize)]
struct ReplyBody {
    from: String,
    to: String,
    body: String,
    at_ms: Option<i64>,
    #[serde(default)]
    media: Vec<ReplyMediaBody>,
}

#[derive(Deserialize)]
struct ReplyMediaBody {
    content_type: String,
    data: String,
}

async fn reply(State(shared): Shd, Json(body): Json<ReplyBody>) -> Response {
    let (Some(from), Some(to)) = (
        E164::from_normalized(&body.from),
        E164::from_normalized(&body.to),
    ) else {
        return bad("from and to must be E.164 numbers");
    };
    if body.media.len() > MAX_REPLY_MEDIA {
        return bad(format!(
            "a message carries at most {MAX_REPLY_MEDIA} media items, not {}",
            body.media.len()
        ));
    }
    let media: Result<Vec<ReplyMedia>, String> = body
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| ReplyMedia::from_control(&m.content_type, &m.data, i))
        .collect();
    let media = match media {
        Ok(media) => media,
        Err(sentence) => return bad(sentence),
    };
    match shared.receive(&from, &to, &body.body, &media, body.at_ms) {
        Ok(m) => (
            StatusCode::CREATED,
            Json(wire::message_json(&shared.account_sid, &m, true)),
        )
            .into_response(),
        Err(e @ (SandboxError::UnknownLine(_) | SandboxError::Media(_))) => bad(e.to_string()),
        Err(e) => TwilioError::new(StatusCode::INTERNAL_SERVER_ERROR, 20500, e.to_string())
            .into_response(),
    }
}

async fn messages(State(shared): Shd) -> Response {
    let list: Vec<_> = shared.store.read(|s| {
        s.messages
            .iter()
            .map(|m| wire::message_json(&shared.account_sid, m, true))
            .collect()
    });
    Json(json!({ "messages": list })).into_response()
}

async fn quirks(State(shared): Shd) -> Response {
    Json(shared.quirks()).into_response()
}

/// `{"list_lag_secs": 30}`, `{"trial": true}`, `{"clock_skew_secs": -90}`, … : the quirks
/// named change, the others stay; the answer is all of them.
async fn change_quirks(State(shared): Shd, Json(change): Json<QuirksChange>) -> Response {
    match shared.change_quirks(&change) {
        Ok(quirks) => Json(quirks).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

/// `{"count": 10000}`
#[derive(Deserialize)]
struct FloodBody {
    count: u32,
}

async fn flood(State(shared): Shd, Json(body): Json<FloodBody>) -> Response {
    // Many thousands of messages and one save: off the threads that answer requests.
    let made = tokio::task::spawn_blocking(move || flood::flood(&shared, body.count)).await;
    match made {
        Ok(Ok(flooded)) => (StatusCode::CREATED, Json(flooded)).into_response(),
        Ok(Err(e @ (SandboxError::FloodSize { .. } | SandboxError::NoLines))) => bad(e.to_string()),
        Ok(Err(e)) => TwilioError::new(StatusCode::INTERNAL_SERVER_ERROR, 20500, e.to_string())
            .into_response(),
        Err(e) => TwilioError::new(StatusCode::INTERNAL_SERVER_ERROR, 20500, e.to_string())
            .into_response(),
    }
}

async fn stats(State(shared): Shd) -> Response {
    Json(shared.stats()).into_response()
}

pub async fn demo_contacts() -> Response {
    Json(json!({ "contacts": state::demo_contacts() })).into_response()
}
