//! Inbound MMS at the sandbox carrier, read through the real Twilio client over loopback: a
//! person's reply with media has an `MM…` sid, its count and its Media list, each item's content
//! comes back byte for byte and only with the account's credentials, the media lag hides them
//! for a while as at Twilio, the control API takes them in base64 and refuses what Twilio
//! would not carry, and demo contacts answer a request for photos with photos.

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_carrier::{Carrier, SendRequest, TwilioClient, TwilioOptions};
use switchboard_core::model::E164;
use switchboard_sandbox::{
    serve, Delays, ReplyMedia, SandboxConfig, SandboxError, SandboxHandle, MAX_REPLY_MEDIA,
};
use tempfile::TempDir;

const SALES: &str = "+14155550100";
const ADA: &str = "+14155550123";

fn n(s: &str) -> E164 {
    E164::from_normalized(s).unwrap()
}

struct World {
    _dir: TempDir,
    sandbox: SandboxHandle,
    client: TwilioClient,
}

async fn start_with(reply: Option<Duration>) -> World {
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig {
        delays: Delays {
            sent: Duration::from_millis(30),
            delivered: Duration::from_millis(30),
            reply,
        },
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let client = TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        TwilioOptions::default(),
    )
    .unwrap();
    World {
        _dir: dir,
        sandbox,
        client,
    }
}

async fn start() -> World {
    start_with(None).await
}

/// Distinctive bytes of `len`, different for each `seed`.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A photo and a PDF, as a phone would send them.
fn two_items() -> Vec<ReplyMedia> {
    let mut photo = b"\xFF\xD8\xFF\xE0".to_vec();
    photo.extend(bytes(1, 5000));
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(bytes(2, 3000));
    vec![
        ReplyMedia::new("image/jpeg", photo),
        ReplyMedia::new("application/pdf", pdf),
    ]
}

/// Waits (up to 10 s) until `probe` yields something.
async fn eventually<T, F, Fut>(mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

#[tokio::test]
async fn a_reply_with_two_items_is_an_mms_whose_media_come_back_exactly() {
    let w = start().await;
    let items = two_items();
    let sent = w
        .sandbox
        .reply_with_media(&n(ADA), &n(SALES), "the parcel, and the form", &items)
        .unwrap();
    assert!(sent.sid.starts_with("MM"), "{}", sent.sid);

    let fetched = w.client.fetch_message(&sent.sid).await.unwrap();
    assert_eq!(fetched.num_media, 2);
    assert_eq!(fetched.body, "the parcel, and the form");
    let urls = w.client.media_urls(&sent.sid).await.unwrap();
    assert_eq!(urls, fetched.media_urls);
    assert_eq!(urls.len(), 2);
    for (url, item) in urls.iter().zip(&items) {
        assert!(
            url.contains(&format!("/Messages/{}/Media/ME", sent.sid)),
            "{url}"
        );
        let got = w.client.fetch_media(url).await.unwrap();
        assert_eq!(got.bytes, item.bytes, "{url}");
        assert_eq!(
            got.content_type.as_deref(),
            Some(item.content_type.as_str())
        );
    }
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_media_items_content_needs_the_accounts_credentials() {
    let w = start().await;
    let sent = w
        .sandbox
        .reply_with_media(&n(ADA), &n(SALES), "", &two_items())
        .unwrap();
    let url = w.client.media_urls(&sent.sid).await.unwrap().remove(0);
    let http = reqwest::Client::new();
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let wrong = http
        .get(&url)
        .basic_auth(w.sandbox.account_sid(), Some("0".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http
        .get(&url)
        .basic_auth(w.sandbox.account_sid(), Some(w.sandbox.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_inbound_mms_reports_no_media_while_the_media_lag_lasts() {
    let w = start().await;
    w.sandbox
        .set_media_lag(Duration::from_millis(1500))
        .unwrap();
    let sent = w
        .sandbox
        .reply_with_media(&n(ADA), &n(SALES), "look", &two_items())
        .unwrap();
    let early = w.client.fetch_message(&sent.sid).await.unwrap();
    assert_eq!(early.num_media, 0);
    assert!(w.client.media_urls(&sent.sid).await.unwrap().is_empty());
    let urls = eventually(|| async {
        let urls = w.client.media_urls(&sent.sid).await.unwrap();
        (!urls.is_empty()).then_some(urls)
    })
    .await;
    assert_eq!(urls.len(), 2);
    assert_eq!(
        w.client.fetch_message(&sent.sid).await.unwrap().num_media,
        2
    );
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_reply_carries_at_most_ten_items() {
    let w = start().await;
    let ten = vec![ReplyMedia::new("image/png", bytes(3, 100)); MAX_REPLY_MEDIA];
    let sent = w
        .sandbox
        .reply_with_media(&n(ADA), &n(SALES), "", &ten)
        .unwrap();
    let urls = w.client.media_urls(&sent.sid).await.unwrap();
    assert_eq!(urls.len(), 10);

    let eleven = vec![ReplyMedia::new("image/png", bytes(3, 100)); MAX_REPLY_MEDIA + 1];
    let refused = w
        .sandbox
        .reply_with_media(&n(ADA), &n(SALES), "", &eleven)
        .unwrap_err();
    assert!(matches!(refused, SandboxError::Media(_)), "{refused:?}");
    assert_eq!(w.sandbox.messages().len(), 1, "nothing recorded");
    w.sandbox.shutdown().await;
}

async fn post_reply(w: &World, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_sandbox/reply", w.sandbox.control_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_control_api_takes_media_in_base64_and_refuses_what_twilio_would_not_carry() {
    let w = start().await;
    let items = two_items();
    let media: Vec<Value> = items
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    let (status, sent) = post_reply(
        &w,
        json!({ "from": ADA, "to": SALES, "body": "", "media": media }),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["num_media"], "2");
    let sid = sent["sid"].as_str().unwrap();
    let urls = w.client.media_urls(sid).await.unwrap();
    let second = w.client.fetch_media(&urls[1]).await.unwrap();
    assert_eq!(second.bytes, items[1].bytes);

    #[track_caller]
    fn refused((status, answer): (u16, Value), sentence: &str) {
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["message"], sentence, "{answer}");
    }
    let item = |data: &str| json!({ "content_type": "image/png", "data": data });
    refused(
        post_reply(
            &w,
            json!({ "from": ADA, "to": SALES, "body": "", "media": [item("aGk="), item("%%%")] }),
        )
        .await,
        "media item 2's data is not valid base64",
    );
    refused(
        post_reply(
            &w,
            json!({ "from": ADA, "to": SALES, "body": "", "media": vec![item("aGk="); 11] }),
        )
        .await,
        "a message carries at most 10 media items, not 11",
    );
    refused(
        post_reply(
            &w,
            json!({ "from": ADA, "to": "+14155550177", "body": "", "media": [item("aGk=")] }),
        )
        .await,
        "+14155550177 is not one of the sandbox's lines",
    );
    assert_eq!(w.sandbox.messages().len(), 1, "only the good one recorded");
    w.sandbox.shutdown().await;
}

fn send(from: &str, to: &str, body: &str) -> SendRequest {
    SendRequest {
        from: n(from),
        to: n(to),
        body: body.into(),
        media: Vec::new(),
        client_id: format!("client-{body}"),
    }
}

#[tokio::test]
async fn a_demo_contact_asked_for_photos_answers_with_two() {
    let w = start_with(Some(Duration::from_millis(50))).await;
    w.client
        .send(&send(SALES, ADA, "Could you send photos of the damage?"))
        .await
        .unwrap();
    w.client
        .send(&send(SALES, ADA, "Thanks, see you tomorrow"))
        .await
        .unwrap();
    let replies = eventually(|| async {
        let replies: Vec<_> = w
            .sandbox
            .messages()
            .into_iter()
            .filter(|m| m.inbound)
            .collect();
        (replies.len() == 2).then_some(replies)
    })
    .await;
    let with_photos = replies.iter().find(|m| m.sid.starts_with("MM")).unwrap();
    assert_eq!(
        with_photos.body,
        "Hi, Ada here. Here are the photos you asked for."
    );
    let urls = w.client.media_urls(&with_photos.sid).await.unwrap();
    assert_eq!(urls.len(), 2);
    for url in &urls {
        let photo = w.client.fetch_media(url).await.unwrap();
        assert!(photo.bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
        assert_eq!(photo.content_type.as_deref(), Some("image/jpeg"));
    }
    let plain = replies.iter().find(|m| m.sid.starts_with("SM")).unwrap();
    assert!(plain.media.is_empty());
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_inbound_mms_and_its_media_survive_a_restart() {
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig::new(dir.path())).await.unwrap();
    let items = two_items();
    let sent = sandbox
        .reply_with_media(&n(ADA), &n(SALES), "", &items)
        .unwrap();
    let port = sandbox.api_addr().port();
    sandbox.shutdown().await;
    let sandbox = serve(SandboxConfig {
        api_port: port,
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let client = TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        TwilioOptions::default(),
    )
    .unwrap();
    let urls = client.media_urls(&sent.sid).await.unwrap();
    let first = client.fetch_media(&urls[0]).await.unwrap();
    assert_eq!(first.bytes, items[0].bytes);
    sandbox.shutdown().await;
}
