//! The Twilio client against the sandbox carrier, over real HTTP on loopback: what a user's
//! messages go through, including the network going away, carrier faults and restarts.

use std::future::Future;
use std::time::Duration;

use switchboard_carrier::dates::start_of_day;
use switchboard_carrier::{
    Carrier, CarrierError, CarrierMessage, CarrierStatus, Media, SandboxMediaHost, SendRequest,
    SyncCursor, TransientKind, TwilioClient, TwilioOptions,
};
use switchboard_core::model::{ImageKind, E164};
use switchboard_sandbox::{
    serve, Delays, Failure, SandboxConfig, SandboxHandle, ServerStatus, TRIAL_PREFIX,
};
use tempfile::TempDir;

const SALES: &str = "+14155550100";
const SUPPORT: &str = "+14155550101";
const ADA: &str = "+14155550123";
const STRANGER: &str = "+14155550199";

fn n(s: &str) -> E164 {
    E164::from_normalized(s).unwrap()
}

/// Fast progression and no spontaneous replies, unless a test asks for them.
fn quick() -> Delays {
    Delays {
        sent: Duration::from_millis(30),
        delivered: Duration::from_millis(30),
        reply: None,
    }
}

fn options() -> TwilioOptions {
    TwilioOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
        ..TwilioOptions::default()
    }
}

struct World {
    dir: TempDir,
    sandbox: SandboxHandle,
    client: TwilioClient,
}

async fn start_with(delays: Delays, options: TwilioOptions) -> World {
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig {
        delays,
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let client = client_for(&sandbox, options);
    World {
        dir,
        sandbox,
        client,
    }
}

async fn start() -> World {
    start_with(quick(), options()).await
}

fn client_for(sandbox: &SandboxHandle, options: TwilioOptions) -> TwilioClient {
    TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        options,
    )
    .unwrap()
}

fn request(from: &str, to: &str, body: &str) -> SendRequest {
    SendRequest {
        from: n(from),
        to: n(to),
        body: body.into(),
        media: Vec::new(),
        client_id: uuid_like(body),
    }
}

fn uuid_like(seed: &str) -> String {
    format!("client-{seed}")
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

fn transient_kind(result: Result<impl std::fmt::Debug, CarrierError>) -> TransientKind {
    match result {
        Err(CarrierError::Transient { kind, .. }) => kind,
        other => panic!("expected a transient error, got {other:?}"),
    }
}

fn permanent(result: Result<impl std::fmt::Debug, CarrierError>) -> (Option<String>, String) {
    match result {
        Err(CarrierError::Permanent { code, message }) => (code, message),
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn lists_the_demo_lines_with_their_labels() {
    let w = start().await;
    let lines = w.client.lines().await.unwrap();
    let got: Vec<(&str, &str, bool, bool)> = lines
        .iter()
        .map(|l| (l.number.as_str(), l.label.as_str(), l.sms, l.mms))
        .collect();
    assert_eq!(
        got,
        [
            (SALES, "Sales", true, true),
            (SUPPORT, "Support", true, true)
        ]
    );
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_credentials_check_names_the_account() {
    let w = start().await;
    let account = w.client.account().await.unwrap();
    assert_eq!(account.sid, w.sandbox.account_sid());
    assert_eq!(account.name, "Switchboard sandbox");
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_renamed_line_keeps_its_new_label_at_the_carrier() {
    let w = start().await;
    let sales = w.client.lines().await.unwrap().remove(0);
    assert!(sales.sid.starts_with("PN"), "{}", sales.sid);
    w.client
        .rename_line(&sales.sid, "Front desk")
        .await
        .unwrap();
    let labels: Vec<String> = w
        .client
        .lines()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.label)
        .collect();
    assert_eq!(labels, ["Front desk", "Support"]);

    let (code, _) = permanent(w.client.rename_line("PN0000", "x").await);
    assert_eq!(
        code.as_deref(),
        Some("20404"),
        "an unknown number is not found"
    );
    let (_, message) = permanent(w.client.rename_line("../Messages", "x").await);
    assert!(message.contains("isn't valid"), "{message}");
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_line_without_sms_is_listed_so_and_cannot_send() {
    let w = start().await;
    assert!(w.sandbox.set_line_capabilities(&n(SUPPORT), false, false));
    let support = w.client.lines().await.unwrap().remove(1);
    assert_eq!((support.sms, support.mms), (false, false));
    let (code, _) = permanent(w.client.send(&request(SUPPORT, ADA, "hi")).await);
    assert_eq!(code.as_deref(), Some("21606"));
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn demo_contacts_have_valid_numbers_apart_from_the_lines() {
    let w = start().await;
    let us = switchboard_core::phone::Country::parse("US").unwrap();
    let contacts = w.sandbox.demo_contacts();
    assert!(contacts.len() >= 3);
    for c in &contacts {
        let parsed = switchboard_core::phone::parse(c.number.as_str(), us);
        assert_eq!(parsed.as_ref(), Ok(&c.number), "{}", c.name);
        assert!(w.sandbox.lines().iter().all(|l| l.number != c.number));
    }
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_sent_message_goes_queued_then_sent_then_delivered() {
    let w = start().await;
    let sent = w
        .client
        .send(&request(SALES, ADA, "Your order shipped"))
        .await
        .unwrap();
    assert_eq!(sent.status, CarrierStatus::Queued);
    assert!(
        sent.sid.starts_with("SM") && sent.sid.len() == 34,
        "{}",
        sent.sid
    );
    assert_eq!((sent.from.as_str(), sent.to.as_str()), (SALES, ADA));
    assert!(!sent.inbound);
    assert!((sent.created_at - now_ms()).abs() < 5_000);
    assert_eq!(w.sandbox.received_count(), 1);

    let delivered = eventually(|| async {
        let m = w.client.fetch_message(&sent.sid).await.unwrap();
        (m.status == CarrierStatus::Delivered).then_some(m)
    })
    .await;
    assert_eq!(delivered.body, "Your order shipped");

    // The sync sees it too, with its latest status, once.
    let changes = w.client.changes(&SyncCursor::default()).await.unwrap();
    let statuses: Vec<_> = changes
        .messages
        .iter()
        .map(|m| (&m.sid, m.status))
        .collect();
    assert_eq!(statuses, [(&sent.sid, CarrierStatus::Delivered)]);
    let again = w.client.changes(&changes.cursor).await.unwrap();
    assert!(again.messages.is_empty());
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_sync_reports_each_status_change_once() {
    let w = start_with(
        Delays {
            sent: Duration::from_millis(100),
            delivered: Duration::from_millis(1500),
            reply: None,
        },
        options(),
    )
    .await;
    let sent = w
        .client
        .send(&request(SALES, ADA, "Tracking"))
        .await
        .unwrap();
    let mut cursor = SyncCursor::default();
    let mut reported = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reported.last() != Some(&CarrierStatus::Delivered) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "saw only {reported:?}"
        );
        let changes = w.client.changes(&cursor).await.unwrap();
        cursor = changes.cursor;
        reported.extend(
            changes
                .messages
                .iter()
                .filter(|m| m.sid == sent.sid)
                .map(|m| m.status),
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // The listing has no day filter, which would skip a message still queued (no date_sent).
    assert_eq!(
        reported,
        [
            CarrierStatus::Queued,
            CarrierStatus::Sent,
            CarrierStatus::Delivered
        ]
    );
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn listing_follows_next_page_uri_across_pages() {
    let w = start_with(
        quick(),
        TwilioOptions {
            page_size: 2,
            ..options()
        },
    )
    .await;
    for i in 0..5 {
        w.client
            .send(&request(SALES, ADA, &format!("note {i}")))
            .await
            .unwrap();
    }
    w.client
        .send(&request(SUPPORT, ADA, "other line"))
        .await
        .unwrap();
    let listed = w
        .client
        .list_messages(&switchboard_carrier::MessageFilter {
            from: Some(n(SALES)),
            ..Default::default()
        })
        .await
        .unwrap();
    let bodies: Vec<&str> = listed.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["note 4", "note 3", "note 2", "note 1", "note 0"]);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn inbound_messages_over_many_pages_arrive_once_each_oldest_first() {
    let w = start_with(
        quick(),
        TwilioOptions {
            page_size: 2,
            ..options()
        },
    )
    .await;
    let (ada, sales) = (n(ADA), n(SALES));
    let now = now_ms();
    for i in 0..7 {
        w.sandbox
            .reply(
                &ada,
                &sales,
                &format!("question {i}"),
                Some(now - 60_000 + i * 1000),
            )
            .unwrap();
    }
    let first = w.client.changes(&SyncCursor::default()).await.unwrap();
    let bodies: Vec<&str> = first.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        (0..7).map(|i| format!("question {i}")).collect::<Vec<_>>(),
        "four pages of two, each message once, oldest first"
    );

    let again = w.client.changes(&first.cursor).await.unwrap();
    assert!(again.messages.is_empty(), "nothing is reported twice");
    w.sandbox.reply(&ada, &sales, "one more", None).unwrap();
    let third = w.client.changes(&again.cursor).await.unwrap();
    let bodies: Vec<&str> = third.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["one more"]);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_demo_contact_replies_and_the_reply_arrives_once() {
    let w = start_with(
        Delays {
            reply: Some(Duration::from_millis(100)),
            ..quick()
        },
        options(),
    )
    .await;
    w.client
        .send(&request(SUPPORT, ADA, "Is the fix working?"))
        .await
        .unwrap();

    let mut cursor = SyncCursor::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let reply: CarrierMessage = loop {
        let changes = w.client.changes(&cursor).await.unwrap();
        cursor = changes.cursor;
        if let Some(reply) = changes.messages.into_iter().find(|m| m.inbound) {
            break reply;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reply came");
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    assert_eq!((reply.from.as_str(), reply.to.as_str()), (ADA, SUPPORT));
    assert_eq!(reply.status, CarrierStatus::Received);
    assert!(reply.body.contains("Ada"), "{}", reply.body);

    let later = w.client.changes(&cursor).await.unwrap();
    assert!(later.messages.iter().all(|m| m.sid != reply.sid));
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_sync_cursor_loses_nothing_and_repeats_nothing_across_midnight() {
    let w = start().await;
    let today = start_of_day(now_ms());
    let (ada, sales) = (n(ADA), n(SALES));
    let say = |body: &str, at: i64| w.sandbox.reply(&ada, &sales, body, Some(at)).unwrap().sid;
    let bodies = |c: &switchboard_carrier::Changes| {
        c.messages
            .iter()
            .map(|m| m.body.clone())
            .collect::<Vec<_>>()
    };

    say("late yesterday", today - 120_000);
    say("just before midnight", today - 30_000);
    let first = w.client.changes(&SyncCursor::default()).await.unwrap();
    assert_eq!(bodies(&first), ["late yesterday", "just before midnight"]);

    say("just after midnight", today + 10_000);
    let second = w.client.changes(&first.cursor).await.unwrap();
    assert_eq!(bodies(&second), ["just after midnight"]);

    // A message the carrier dates yesterday but shows only now (a slow network's) is still
    // found: the cursor keeps listing yesterday while it is within the overlap.
    say("arrived late", today - 10_000);
    let third = w.client.changes(&second.cursor).await.unwrap();
    assert_eq!(bodies(&third), ["arrived late"]);

    let fourth = w.client.changes(&third.cursor).await.unwrap();
    assert!(fourth.messages.is_empty(), "{:?}", bodies(&fourth));
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn offline_refuses_connections_and_comes_back_on_the_same_port() {
    let w = start().await;
    w.client.lines().await.unwrap(); // a pooled keep-alive connection now exists
    let url = w.sandbox.api_base_url();

    w.sandbox.set_online(false).await.unwrap();
    assert!(tokio::net::TcpStream::connect(w.sandbox.api_addr())
        .await
        .is_err());
    assert_eq!(
        transient_kind(w.client.lines().await),
        TransientKind::Offline
    );
    assert_eq!(
        transient_kind(w.client.send(&request(SALES, ADA, "hello?")).await),
        TransientKind::Offline
    );
    assert_eq!(w.sandbox.received_count(), 0);

    w.sandbox.set_online(true).await.unwrap();
    assert_eq!(w.sandbox.api_base_url(), url);
    w.client.send(&request(SALES, ADA, "hello?")).await.unwrap();
    assert_eq!(w.sandbox.received_count(), 1);
    w.sandbox.shutdown().await;
}

fn unknown(result: Result<impl std::fmt::Debug, CarrierError>) -> String {
    match result {
        Err(CarrierError::Unknown { message }) => message,
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
}

#[tokio::test]
async fn a_500_to_a_send_is_unknown_and_to_a_read_transient() {
    let w = start().await;
    let since = now_ms();
    let req = request(SALES, ADA, "hi");
    // This 500 came before the message was made, but the client cannot tell: reconcile.
    w.sandbox.fail_next(1, Failure::Status500);
    let message = unknown(w.client.send(&req).await);
    assert!(message.contains("not known yet"), "{message}");
    assert_eq!(w.sandbox.received_count(), 0);
    assert_eq!(w.client.find_sent(&req, since).await.unwrap(), []);
    w.client.send(&req).await.unwrap();

    w.sandbox.fail_next(1, Failure::Status500);
    assert_eq!(
        transient_kind(w.client.lines().await),
        TransientKind::Server
    );
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_sends_only_fault_lets_other_requests_through() {
    let w = start().await;
    w.sandbox.fail_next_sends(1, Failure::Status500);
    assert!(
        !w.client.lines().await.unwrap().is_empty(),
        "listing lines is not a send"
    );
    unknown(w.client.send(&request(SALES, ADA, "hi")).await);
    w.client.send(&request(SALES, ADA, "hi")).await.unwrap();
    assert_eq!(w.sandbox.received_count(), 1);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_429_is_rate_limited_with_the_carriers_retry_after() {
    let w = start().await;
    w.sandbox.fail_next(
        1,
        Failure::Status429 {
            retry_after_secs: 7,
        },
    );
    match w.client.send(&request(SALES, ADA, "hi")).await {
        Err(CarrierError::Transient {
            kind: TransientKind::RateLimited,
            retry_after,
            ..
        }) => assert_eq!(retry_after, Some(Duration::from_secs(7))),
        other => panic!("expected rate limiting, got {other:?}"),
    }
    assert_eq!(w.sandbox.received_count(), 0);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn permanent_refusals_carry_twilios_code_and_a_sentence() {
    let w = start().await;
    w.sandbox.fail_number(n(ADA), 21610);
    let (code, message) = permanent(w.client.send(&request(SALES, ADA, "Sale today!")).await);
    assert_eq!(code.as_deref(), Some("21610"));
    assert!(message.contains("replied STOP"), "{message}");

    let (code, message) = permanent(w.client.send(&request(STRANGER, ADA, "hi")).await);
    assert_eq!(code.as_deref(), Some("21606"));
    assert!(message.contains("line"), "{message}");

    w.sandbox.fail_number(n(STRANGER), 21211);
    let (code, message) = permanent(w.client.send(&request(SALES, STRANGER, "hi")).await);
    assert_eq!(code.as_deref(), Some("21211"));
    assert!(message.contains("isn't a valid phone number"), "{message}");
    w.sandbox.clear_failing_number(n(STRANGER));

    let long = "x".repeat(1601);
    let (code, _) = permanent(w.client.send(&request(SALES, STRANGER, &long)).await);
    assert_eq!(code.as_deref(), Some("21617"));

    // An unknown code keeps Twilio's own words.
    w.sandbox.fail_number(n(STRANGER), 21612);
    let (code, message) = permanent(w.client.send(&request(SALES, STRANGER, "hi")).await);
    assert_eq!(code.as_deref(), Some("21612"));
    assert!(message.contains("not currently reachable"), "{message}");

    assert_eq!(w.sandbox.received_count(), 0);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_stop_reply_blocks_the_line_until_start_and_the_carrier_answers_it() {
    let w = start().await;
    w.sandbox.reply(&n(ADA), &n(SALES), "Stop", None).unwrap();
    let (code, message) = permanent(w.client.send(&request(SALES, ADA, "Sale today!")).await);
    assert_eq!(code.as_deref(), Some("21610"));
    assert!(message.contains("replied STOP"), "{message}");
    // Only the line it was sent to.
    w.client
        .send(&request(SUPPORT, ADA, "Your ticket is closed"))
        .await
        .unwrap();

    // The carrier's answers are the line's outbound messages, listed with the rest.
    let changes = w.client.changes(&SyncCursor::default()).await.unwrap();
    let answer = changes
        .messages
        .iter()
        .find(|m| !m.inbound && m.from.as_str() == SALES && m.to.as_str() == ADA)
        .expect("the carrier's answer to STOP");
    assert!(answer.body.contains("unsubscribed"), "{}", answer.body);

    // A sentence with the word in it is a message like any other; START lifts the block.
    w.sandbox
        .reply(&n(ADA), &n(SALES), "stop by later?", None)
        .unwrap();
    assert!(w
        .client
        .send(&request(SALES, ADA, "Sale today!"))
        .await
        .is_err());
    w.sandbox.reply(&n(ADA), &n(SALES), "START", None).unwrap();
    w.client
        .send(&request(SALES, ADA, "Welcome back"))
        .await
        .unwrap();
    assert_eq!(w.sandbox.received_count(), 2);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_20003_for_the_check_and_the_listing() {
    let w = start().await;
    let client = TwilioClient::new(
        &w.sandbox.api_base_url(),
        w.sandbox.account_sid(),
        "not-the-token",
        options(),
    )
    .unwrap();
    for (code, message) in [
        permanent(client.account().await),
        permanent(client.lines().await),
    ] {
        assert_eq!(code.as_deref(), Some("20003"));
        assert!(message.contains("auth token"), "{message}");
    }
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_send_that_times_out_is_unknown_and_find_sent_settles_it() {
    let w = start().await;
    let since = now_ms();
    let req = request(SALES, ADA, "Did this go?");
    w.sandbox.fail_next(1, Failure::Timeout);
    match w.client.send(&req).await {
        Err(CarrierError::Unknown { .. }) => {}
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    // The carrier did get it: resending would duplicate it.
    assert_eq!(w.sandbox.received_count(), 1);
    let found = w.client.find_sent(&req, since).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].sid, w.sandbox.messages()[0].sid);

    // A read that times out is merely transient.
    w.sandbox.fail_next(1, Failure::Timeout);
    assert_eq!(
        transient_kind(w.client.lines().await),
        TransientKind::Timeout
    );
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn find_sent_matches_line_number_body_and_time() {
    let w = start().await;
    let before = now_ms();
    let req = request(SALES, ADA, "Meeting at 3");
    w.client
        .send(&request(SALES, ADA, "unrelated"))
        .await
        .unwrap();
    let sent = w.client.send(&req).await.unwrap();

    // Found while queued (no date_sent yet) and once delivered (listed by day).
    let sids = |found: Vec<CarrierMessage>| found.into_iter().map(|m| m.sid).collect::<Vec<_>>();
    let found = w.client.find_sent(&req, before).await.unwrap();
    assert_eq!(sids(found), std::slice::from_ref(&sent.sid));
    eventually(|| async {
        let m = w.client.fetch_message(&sent.sid).await.unwrap();
        (m.status == CarrierStatus::Delivered).then_some(())
    })
    .await;
    let found = w.client.find_sent(&req, before).await.unwrap();
    assert_eq!(sids(found), [sent.sid]);

    let check_absent = |r: SendRequest, since: i64| {
        let client = &w.client;
        async move { assert_eq!(client.find_sent(&r, since).await.unwrap(), []) }
    };
    check_absent(request(SALES, ADA, "Meeting at 4"), before).await;
    check_absent(request(SUPPORT, ADA, "Meeting at 3"), before).await;
    check_absent(request(SALES, STRANGER, "Meeting at 3"), before).await;
    check_absent(req.clone(), now_ms() + 10 * 60_000).await;
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart_on_the_same_port() {
    let w = start_with(
        Delays {
            sent: Duration::from_secs(60),
            ..quick()
        },
        options(),
    )
    .await;
    let sent = w
        .client
        .send(&request(SALES, ADA, "Before the restart"))
        .await
        .unwrap();
    let port = w.sandbox.api_addr().port();
    let World {
        dir,
        sandbox,
        client,
    } = w;
    sandbox.shutdown().await;
    assert_eq!(transient_kind(client.lines().await), TransientKind::Offline);

    let sandbox = serve(SandboxConfig {
        api_port: port,
        delays: quick(),
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    assert_eq!(sandbox.received_count(), 1);
    // The same client carries on, and the message queued before the restart is delivered.
    let delivered = eventually(|| async {
        let m = client.fetch_message(&sent.sid).await.unwrap();
        (m.status == CarrierStatus::Delivered).then_some(m)
    })
    .await;
    assert_eq!(delivered.body, "Before the restart");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_image_is_uploaded_then_sent_by_media_url() {
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig {
        delays: quick(),
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let host = SandboxMediaHost::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        &options(),
    )
    .unwrap();
    let with_host = TwilioOptions {
        media_host: Some(std::sync::Arc::new(host)),
        ..options()
    };
    let client = client_for(&sandbox, with_host);
    assert!(client.capabilities().mms);
    assert!(!client_for(&sandbox, options()).capabilities().mms);

    let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let req = SendRequest {
        media: vec![Media {
            kind: ImageKind::Png,
            bytes: png.clone(),
        }],
        ..request(SALES, ADA, "")
    };
    let sent = client.send(&req).await.unwrap();
    assert_eq!(sent.media_urls.len(), 1);
    let stored = &sandbox.messages()[0];
    assert_eq!(stored.media.len(), 1);
    assert_eq!(stored.media[0].content_type, "image/png");

    let fetched = reqwest::Client::new()
        .get(&sent.media_urls[0])
        .basic_auth(sandbox.account_sid(), Some(sandbox.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), png.as_slice());

    // No media host: the image can't go, and nothing is sent.
    let (_, message) = permanent(client_for(&sandbox, options()).send(&req).await);
    assert!(message.contains("media host"), "{message}");
    assert_eq!(sandbox.received_count(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_control_api_drives_a_sandbox_from_outside() {
    let w = start().await;
    let http = reqwest::Client::new();
    let control = w.sandbox.control_url();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{control}{path}")).json(&body).send()
    };
    let get_json = |path: &str| {
        let request = http.get(format!("{control}{path}")).send();
        async move {
            request
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };

    let contacts = get_json("/_sandbox/demo-contacts").await;
    assert_eq!(contacts["contacts"][0]["name"], "Ada Lovelace");

    post("/_sandbox/offline", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(get_json("/_sandbox/stats").await["online"], false);
    assert_eq!(
        transient_kind(w.client.lines().await),
        TransientKind::Offline
    );
    post("/_sandbox/online", serde_json::json!({}))
        .await
        .unwrap();
    w.client.lines().await.unwrap();

    let fail =
        serde_json::json!({"count": 1, "failure": {"kind": "status429", "retry_after_secs": 2}});
    post("/_sandbox/fail", fail).await.unwrap();
    assert_eq!(
        transient_kind(w.client.lines().await),
        TransientKind::RateLimited
    );

    post(
        "/_sandbox/fail-number",
        serde_json::json!({"number": ADA, "code": 21610}),
    )
    .await
    .unwrap();
    let (code, _) = permanent(w.client.send(&request(SALES, ADA, "hi")).await);
    assert_eq!(code.as_deref(), Some("21610"));

    let reply = serde_json::json!({"from": STRANGER, "to": SALES, "body": "Who is this?"});
    let answer = post("/_sandbox/reply", reply).await.unwrap();
    assert_eq!(answer.status(), 201);
    let messages = get_json("/_sandbox/messages").await;
    assert_eq!(messages["messages"][0]["body"], "Who is this?");
    assert_eq!(messages["messages"][0]["direction"], "inbound");
    let stats = get_json("/_sandbox/stats").await;
    assert_eq!(
        (stats["messages"].as_u64(), stats["received_count"].as_u64()),
        (Some(1), Some(0))
    );
    drop(w.dir);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn short_codes_and_alphanumeric_senders_are_kept() {
    let w = start().await;
    let sales = n(SALES);
    let now = now_ms();
    for (i, sender) in ["89363", "GOOGLE", "Uber"].into_iter().enumerate() {
        let from = E164::from_sender(sender).unwrap();
        let body = format!("Your code is {i}4{i}2");
        w.sandbox
            .reply(&from, &sales, &body, Some(now - 3_000 + i as i64 * 1000))
            .unwrap();
    }
    let changes = w.client.changes(&SyncCursor::default()).await.unwrap();
    let senders: Vec<&str> = changes.messages.iter().map(|m| m.from.as_str()).collect();
    assert_eq!(senders, ["89363", "GOOGLE", "Uber"]);
    assert!(changes.messages.iter().all(|m| !m.from.is_phone_number()));
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn replies_within_one_second_keep_the_carriers_order() {
    let w = start().await;
    let (ada, sales) = (n(ADA), n(SALES));
    // Twilio's dates have whole seconds: three replies of one second tie on their date.
    let second = (now_ms() - 5_000) / 1000 * 1000;
    for body in ["Sure", "but not before 3", "see you then"] {
        w.sandbox.reply(&ada, &sales, body, Some(second)).unwrap();
    }
    let first = w.client.changes(&SyncCursor::default()).await.unwrap();
    let bodies: Vec<&str> = first.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["Sure", "but not before 3", "see you then"]);

    // The same holds for a later round's news.
    let later = (now_ms() - 1_000) / 1000 * 1000;
    for body in ["one", "two"] {
        w.sandbox.reply(&ada, &sales, body, Some(later)).unwrap();
    }
    let next = w.client.changes(&first.cursor).await.unwrap();
    let bodies: Vec<&str> = next.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two"]);
    w.sandbox.shutdown().await;
}

/// API requests the sandbox has answered so far.
fn requests(w: &World) -> u64 {
    w.sandbox.stats().api_requests
}

/// A first sync to its end, as the engine runs it (again while it brings news): every sid it
/// reported, whether all were history, and the cursor it ended with.
async fn first_sync(w: &World) -> (Vec<String>, bool, SyncCursor) {
    let mut cursor = SyncCursor::default();
    let mut sids = Vec::new();
    let mut all_history = true;
    for _ in 0..20 {
        let changes = w.client.changes(&cursor).await.unwrap();
        let done = changes.messages.is_empty() || changes.cursor == cursor;
        all_history &= changes.backfill || changes.messages.is_empty();
        sids.extend(changes.messages.into_iter().map(|m| m.sid));
        cursor = changes.cursor;
        if done {
            return (sids, all_history, cursor);
        }
    }
    panic!("the first sync did not end");
}

#[tokio::test]
async fn an_idle_poll_of_a_busy_day_is_one_request_and_ten_new_messages_one_more() {
    let w = start().await;
    let flooded = w.sandbox.flood(10_000).unwrap();
    assert_eq!(flooded.created, 10_000);

    let before = requests(&w);
    let (sids, history, cursor) = first_sync(&w).await;
    let first_sync_requests = requests(&w) - before;
    let distinct: std::collections::HashSet<&String> = sids.iter().collect();
    assert_eq!((sids.len(), distinct.len()), (10_000, 10_000));
    assert!(history, "a first sync is history, recorded quietly");
    // Ten pages of a thousand, an idle look at the top between them and one at the end; no
    // Media request for the thousand MMS of the history.
    println!("first sync of 10,000 messages: {first_sync_requests} requests");
    assert!(first_sync_requests <= 12, "{first_sync_requests} requests");

    let before = requests(&w);
    let idle = w.client.changes(&cursor).await.unwrap();
    assert_eq!(requests(&w) - before, 1, "an idle poll is one request");
    assert!(idle.messages.is_empty() && !idle.backfill);
    assert_eq!(idle.cursor, cursor, "and changes nothing to write");
    let size = serde_json::to_string(&cursor.0).unwrap().len();
    assert!(
        size < 4_000,
        "the cursor holds the overlap only: {size} bytes"
    );

    let (ada, sales) = (n(ADA), n(SALES));
    for i in 0..10 {
        w.sandbox
            .reply(&ada, &sales, &format!("news {i}"), None)
            .unwrap();
    }
    let before = requests(&w);
    let news = w.client.changes(&cursor).await.unwrap();
    let bodies: Vec<&str> = news.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        (0..10).map(|i| format!("news {i}")).collect::<Vec<_>>()
    );
    assert!(!news.backfill);
    let after_news = w.client.changes(&news.cursor).await.unwrap();
    assert!(after_news.messages.is_empty());
    assert_eq!(requests(&w) - before, 2, "the news, then an idle look");
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_new_inbound_mms_comes_with_its_media_and_a_listing_asks_for_no_others() {
    let w = start().await;
    let (_, _, cursor) = first_sync(&w).await;
    // A busy day arrives after the first sync: news, not history.
    let flooded = w.sandbox.flood(40).unwrap();
    let before = requests(&w);
    let news = w.client.changes(&cursor).await.unwrap();
    assert!(!news.backfill);
    assert_eq!(news.messages.len(), 40);
    let inbound_mms: Vec<&CarrierMessage> = news
        .messages
        .iter()
        .filter(|m| m.inbound && m.sid.starts_with("MM"))
        .collect();
    assert!(inbound_mms.iter().all(|m| m.media_urls.len() == 1));
    let is_inbound_mms = |m: &CarrierMessage| m.inbound && m.sid.starts_with("MM");
    let others_with_media = news
        .messages
        .iter()
        .filter(|m| !is_inbound_mms(m) && !m.media_urls.is_empty())
        .count();
    assert_eq!(others_with_media, 0, "an outbound MMS's media are ours");
    assert_eq!(
        requests(&w) - before,
        1 + inbound_mms.len() as u64,
        "one page, and one Media request per new inbound MMS ({} MMS in all)",
        flooded.mms
    );
    let image = reqwest::Client::new()
        .get(
            &inbound_mms
                .first()
                .expect("a flood of 40 has MMS")
                .media_urls[0],
        )
        .basic_auth(w.sandbox.account_sid(), Some(w.sandbox.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(image.headers()["content-type"], "image/png");
    w.sandbox.shutdown().await;
}

/// Polls from `cursor` until a round brings news.
async fn news(client: &TwilioClient, cursor: &SyncCursor) -> switchboard_carrier::Changes {
    eventually(|| async {
        let changes = client.changes(cursor).await.unwrap();
        (!changes.messages.is_empty()).then_some(changes)
    })
    .await
}

#[tokio::test]
async fn a_message_the_carrier_lists_late_is_not_lost() {
    let w = start().await;
    let (ada, sales) = (n(ADA), n(SALES));
    let (_, _, cursor) = first_sync(&w).await;
    w.sandbox.set_list_lag(Duration::from_millis(800)).unwrap();
    let bodies = |c: &switchboard_carrier::Changes| {
        c.messages
            .iter()
            .map(|m| m.body.clone())
            .collect::<Vec<_>>()
    };

    let second = w.sandbox.reply(&ada, &sales, "second", None).unwrap();
    let got = news(&w.client, &cursor).await;
    assert_eq!(bodies(&got), ["second"]);

    // Created 15 s before "second" but listed only now: Twilio's listing is not in the order
    // of creation. The next rounds look back before the newest date they saw.
    w.sandbox
        .reply(&ada, &sales, "first", Some(second.created_at - 15_000))
        .unwrap();
    let late = news(&w.client, &got.cursor).await;
    assert_eq!(bodies(&late), ["first"]);
    let again = w.client.changes(&late.cursor).await.unwrap();
    assert!(again.messages.is_empty(), "{:?}", bodies(&again));
    w.sandbox.shutdown().await;
}

/// A send whose answer is lost: it reaches the carrier, the client cannot tell.
async fn send_unanswered(w: &World, req: &SendRequest) {
    w.sandbox.fail_next_sends(1, Failure::Timeout);
    unknown(w.client.send(req).await);
}

#[tokio::test]
async fn find_sent_matches_a_trial_accounts_prefixed_body() {
    let w = start().await;
    w.sandbox.set_trial(true).unwrap();
    let since = now_ms();
    let req = request(SALES, ADA, "OK, see you at 3");
    send_unanswered(&w, &req).await;
    let found = w.client.find_sent(&req, since).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].body, format!("{TRIAL_PREFIX}OK, see you at 3"));
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn find_sent_places_the_attempt_on_the_carriers_clock() {
    for skew in [-90, 90, -3_600] {
        let w = start().await;
        // -90: this desktop's clock is 90 s fast, so the carrier dates the message 90 s
        // before the attempt began by the desktop's clock.
        w.sandbox.set_clock_skew(skew).unwrap();
        let since = now_ms();
        let req = request(SALES, ADA, "Running late, 10 min");
        send_unanswered(&w, &req).await;
        let found = w.client.find_sent(&req, since).await.unwrap();
        let held = w.sandbox.messages();
        assert_eq!(found.len(), 1, "skew {skew}: {found:?}");
        assert_eq!(found[0].sid, held[0].sid, "skew {skew}");
        // The same text an hour before the attempt (on the carrier's clock) is not it.
        let an_hour_later = since + 3_600_000;
        assert_eq!(
            w.client.find_sent(&req, an_hour_later).await.unwrap(),
            [],
            "skew {skew}"
        );
        w.sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_5xx_after_the_message_was_created_is_unknown_and_find_sent_finds_it() {
    let w = start().await;
    w.sandbox.set_list_lag(Duration::from_millis(500)).unwrap();
    for status in [
        ServerStatus::Internal,
        ServerStatus::BadGateway,
        ServerStatus::GatewayTimeout,
    ] {
        let since = now_ms();
        let req = request(SALES, ADA, &format!("Order {}", u16::from(status)));
        w.sandbox.fail_next_sends(1, Failure::after_create(status));
        unknown(w.client.send(&req).await);
        // Listed only after the lag: the engine waits `settle` before believing "not found".
        let found = eventually(|| async {
            let found = w.client.find_sent(&req, since).await.unwrap();
            (!found.is_empty()).then_some(found)
        })
        .await;
        let created = w.sandbox.messages();
        let created = created.iter().find(|m| m.body == req.body).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sid, created.sid);
    }
    // A 429 to a send is a refusal, nothing was made: retried after the carrier's delay.
    w.sandbox.fail_next_sends(
        1,
        Failure::Status429 {
            retry_after_secs: 3,
        },
    );
    match w.client.send(&request(SALES, ADA, "later")).await {
        Err(CarrierError::Transient {
            kind: TransientKind::RateLimited,
            retry_after,
            ..
        }) => assert_eq!(retry_after, Some(Duration::from_secs(3))),
        other => panic!("expected rate limiting, got {other:?}"),
    }
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn two_identical_texts_are_both_found_oldest_first() {
    let w = start().await;
    let since = now_ms();
    let req = request(SALES, ADA, "OK, see you at 3");
    let first = w.client.send(&req).await.unwrap();
    let second = w.client.send(&req).await.unwrap();
    let found = w.client.find_sent(&req, since).await.unwrap();
    let sids: Vec<&str> = found.iter().map(|m| m.sid.as_str()).collect();
    // Whether or not they share a second, the older comes first: the engine rules out the
    // one it already holds and adopts the other.
    assert_eq!(sids, [first.sid.as_str(), second.sid.as_str()]);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_three_image_mms_is_one_message_with_three_media_byte_identical_in_order() {
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig {
        delays: quick(),
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let host = SandboxMediaHost::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        &options(),
    )
    .unwrap();
    let client = client_for(
        &sandbox,
        TwilioOptions {
            media_host: Some(std::sync::Arc::new(host)),
            ..options()
        },
    );
    // Twilio's habits: the message listed late, its media counted later still.
    sandbox.set_list_lag(Duration::from_millis(300)).unwrap();
    sandbox.set_media_lag(Duration::from_millis(800)).unwrap();
    let images = [
        (
            ImageKind::Png,
            "image/png",
            b"\x89PNG\r\n\x1a\nthe parcel".to_vec(),
        ),
        (
            ImageKind::Jpeg,
            "image/jpeg",
            b"\xff\xd8\xffthe label".to_vec(),
        ),
        (ImageKind::Gif, "image/gif", b"GIF89athe receipt".to_vec()),
    ];
    let req = SendRequest {
        media: images
            .iter()
            .map(|(kind, _, bytes)| Media {
                kind: *kind,
                bytes: bytes.clone(),
            })
            .collect(),
        ..request(SALES, ADA, "Three photos")
    };
    let sent = client.send(&req).await.unwrap();
    assert!(sent.sid.starts_with("MM"), "{}", sent.sid);
    assert_eq!(
        sandbox.received_count(),
        1,
        "one message, not one per image"
    );
    assert_eq!(sandbox.messages().len(), 1);

    let http = reqwest::Client::new();
    let resource = format!(
        "{}/2010-04-01/Accounts/{}/Messages/{}.json",
        sandbox.api_base_url(),
        sandbox.account_sid(),
        sent.sid
    );
    let num_media = eventually(|| async {
        let m: serde_json::Value = http
            .get(&resource)
            .basic_auth(sandbox.account_sid(), Some(sandbox.auth_token()))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (m["num_media"] != "0" && m["num_media"].is_string()).then(|| m["num_media"].clone())
    })
    .await;
    assert_eq!(num_media, "3");

    let urls = client.media_urls(&sent.sid).await.unwrap();
    assert_eq!(urls.len(), 3, "{urls:?}");
    for (url, (_, mime, bytes)) in urls.iter().zip(&images) {
        let fetched = client.fetch_media(url).await.unwrap();
        assert_eq!(
            (fetched.content_type.as_deref(), fetched.bytes.as_slice()),
            (Some(*mime), bytes.as_slice()),
            "{url}"
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn find_sent_knows_an_mms_whose_media_are_not_listed_yet() {
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig {
        delays: quick(),
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let host = SandboxMediaHost::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        &options(),
    )
    .unwrap();
    let client = client_for(
        &sandbox,
        TwilioOptions {
            media_host: Some(std::sync::Arc::new(host)),
            ..options()
        },
    );
    sandbox.set_media_lag(Duration::from_secs(600)).unwrap();
    let since = now_ms();
    let req = SendRequest {
        media: vec![Media {
            kind: ImageKind::Png,
            bytes: b"\x89PNG\r\n\x1a\nthe photo".to_vec(),
        }],
        ..request(SALES, ADA, "The photo")
    };
    sandbox.fail_next_sends(1, Failure::Timeout);
    unknown(client.send(&req).await);
    let found = client.find_sent(&req, since).await.unwrap();
    assert_eq!(found.len(), 1, "num_media still reads 0: {found:?}");
    assert!(found[0].sid.starts_with("MM"));
    // The same words without the image are another message.
    let text_only = SendRequest {
        media: Vec::new(),
        ..req.clone()
    };
    assert_eq!(client.find_sent(&text_only, since).await.unwrap(), []);
    sandbox.shutdown().await;
}
