//! The always-on control API (`/_sandbox/…`), which mirrors `SandboxHandle` so that a CLI or a
//! test can drive a sandbox running in another process, even while its Twilio API is offline.
//! It listens on loopback only and asks for no credentials: it controls a fake.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use switchboard_core::model::E164;

use crate::wire::{self, TwilioError};
use crate::{state, Failure, Shared};

type Shd = State<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/online", post(go_online))
        .route("/_sandbox/offline", post(go_offline))
        .route("/_sandbox/fail", post(fail))
        .route("/_sandbox/fail-number", post(fail_number))
        .route("/_sandbox/reply", post(reply))
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

/// `{"count": 2, "failure": {"kind": "status429", "retry_after_secs": 3}}`
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

/// `{"from": "+14155550123", "to": "+14155550100", "body": "Hi", "at_ms": 1767225599000}`
#[derive(Deserialize)]
struct ReplyBody {
    from: String,
    to: String,
    body: String,
    at_ms: Option<i64>,
}

async fn reply(State(shared): Shd, Json(body): Json<ReplyBody>) -> Response {
    let (Some(from), Some(to)) = (
        E164::from_normalized(&body.from),
        E164::from_normalized(&body.to),
    ) else {
        return bad("from and to must be E.164 numbers");
    };
    match shared.receive(&from, &to, &body.body, body.at_ms) {
        Ok(m) => (
            StatusCode::CREATED,
            Json(wire::message_json(&shared.account_sid, &m)),
        )
            .into_response(),
        Err(e) => bad(e.to_string()),
    }
}

async fn messages(State(shared): Shd) -> Response {
    let list: Vec<_> = shared.store.read(|s| {
        s.messages
            .iter()
            .map(|m| wire::message_json(&shared.account_sid, m))
            .collect()
    });
    Json(json!({ "messages": list })).into_response()
}

async fn stats(State(shared): Shd) -> Response {
    Json(shared.stats()).into_response()
}

pub async fn demo_contacts() -> Response {
    Json(json!({ "contacts": state::demo_contacts() })).into_response()
}
