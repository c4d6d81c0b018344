//! A new inbound MMS whose Media list keeps failing is still reported (without its media), so
//! that one broken resource cannot hold up the sync of every other message. Against a
//! loopback server that answers the listing and fails the Media request, which the sandbox
//! cannot single out.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use switchboard_carrier::dates::{format_rfc2822, now_ms};
use switchboard_carrier::{Carrier, SyncCursor, TwilioClient, TwilioOptions};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn an_mms_whose_media_list_fails_is_reported_without_it() {
    let now = now_ms();
    let listing = move || async move {
        Json(serde_json::json!({
            "messages": [{
                "sid": "MM0123456789abcdef0123456789abcdef",
                "from": "+14155550123",
                "to": "+14155550100",
                "body": "the photo",
                "status": "received",
                "direction": "inbound",
                "date_created": format_rfc2822(now - 2_000),
                "num_media": "1",
            }],
            "next_page_uri": null,
        }))
    };
    let broken = || async {
        let body = serde_json::json!({"code": 20500, "message": "Internal Server Error"});
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    };
    let app = Router::new()
        .route(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
            get(listing),
        )
        .route(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{{sid}}/Media.json"),
            get(broken),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = TwilioClient::new(&base_url, ACCOUNT, "token", TwilioOptions::default()).unwrap();

    // A later round (a first sync is history, whose media are not fetched).
    let cursor = SyncCursor(serde_json::json!({"v": 2, "newest": now - 60_000}));
    let changes = client.changes(&cursor).await.expect("the round goes on");
    assert_eq!(changes.messages.len(), 1);
    assert_eq!(changes.messages[0].body, "the photo");
    assert!(changes.messages[0].media_urls.is_empty());
    let again = client.changes(&changes.cursor).await.unwrap();
    assert!(again.messages.is_empty(), "reported once");
}
