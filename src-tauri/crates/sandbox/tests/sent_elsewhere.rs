//! Two Twilio clients on one sandbox account, as two desktops of one team: what one sends, the
//! other's sync reports as the account's outbound messages — new ones as changes, those of the
//! last days in a first sync's history — with Twilio's listing lag and a carrier clock that is
//! off, over real HTTP on loopback.

use std::sync::Arc;
use std::time::Duration;

use switchboard_carrier::{
    Carrier, CarrierMessage, Media, SandboxMediaHost, SendRequest, SyncCursor, TwilioClient,
    TwilioOptions,
};
use switchboard_core::model::{ImageKind, E164};
use switchboard_sandbox::{serve, Delays, SandboxConfig, SandboxHandle};
use tempfile::TempDir;

const SALES: &str = "+14155550100";
const ADA: &str = "+14155550123";

fn n(s: &str) -> E164 {
    E164::from_normalized(s).unwrap()
}

fn client(sandbox: &SandboxHandle) -> TwilioClient {
    let options = TwilioOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        ..TwilioOptions::default()
    };
    let host = SandboxMediaHost::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        &options,
    )
    .unwrap();
    TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        TwilioOptions {
            media_host: Some(Arc::new(host)),
            ..options
        },
    )
    .unwrap()
}

fn request(body: &str, media: Vec<Media>) -> SendRequest {
    SendRequest {
        from: n(SALES),
        to: n(ADA),
        body: body.into(),
        media,
        client_id: format!("desktop-a-{body}"),
    }
}

/// Polls `client`'s changes from `cursor` until `sids` have all been reported (at most 15 s):
/// every report of them, in order, and the cursor after.
async fn reports_of(
    client: &TwilioClient,
    mut cursor: SyncCursor,
    sids: &[&str],
) -> (Vec<CarrierMessage>, SyncCursor, bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut seen: Vec<CarrierMessage> = Vec::new();
    let mut backfill = false;
    while !sids.iter().all(|s| seen.iter().any(|m| m.sid == *s)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "saw only {:?}",
            seen.iter().map(|m| &m.sid).collect::<Vec<_>>()
        );
        let changes = client.changes(&cursor).await.unwrap();
        backfill |= changes.backfill && !changes.messages.is_empty();
        cursor = changes.cursor;
        seen.extend(
            changes
                .messages
                .into_iter()
                .filter(|m| sids.contains(&m.sid.as_str())),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (seen, cursor, backfill)
}

/// Whether the sandbox's listing (Twilio's API, as any client sees it) shows `sid` yet.
async fn listed(sandbox: &SandboxHandle, sid: &str) -> bool {
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json?PageSize=50",
        sandbox.api_base_url(),
        sandbox.account_sid()
    );
    let answer: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(&url)
        .basic_auth(sandbox.account_sid(), Some(sandbox.auth_token()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["sid"] == sid)
}

#[tokio::test]
async fn what_one_desktop_sends_the_others_sync_reports_as_the_accounts_outbound_messages() {
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig {
        delays: Delays {
            sent: Duration::from_millis(100),
            delivered: Duration::from_millis(300),
            reply: None,
        },
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    sandbox.set_list_lag(Duration::from_secs(1)).unwrap();
    sandbox.set_clock_skew(90).unwrap();
    let (a, b) = (client(&sandbox), client(&sandbox));

    // Sent before B's first sync (and listed by then): history.
    let before = a
        .send(&request("Your order has shipped", Vec::new()))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !listed(&sandbox, &before.sid).await {
        assert!(tokio::time::Instant::now() < deadline, "never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (history, cursor, backfill) = reports_of(&b, SyncCursor::default(), &[&before.sid]).await;
    assert!(backfill, "a first sync's messages are history");
    let m = &history[0];
    assert_eq!(
        (m.inbound, m.from.as_str(), m.to.as_str(), m.body.as_str()),
        (false, SALES, ADA, "Your order has shipped")
    );

    // Sent after: news, the text and the MMS.
    let text = a
        .send(&request("It arrives tomorrow", Vec::new()))
        .await
        .unwrap();
    let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let image = Media {
        kind: ImageKind::Png,
        bytes: png,
    };
    let mms = a.send(&request("The label", vec![image])).await.unwrap();
    let (news, _, backfill) = reports_of(&b, cursor, &[&text.sid, &mms.sid]).await;
    assert!(!backfill);
    let text_report = news.iter().find(|m| m.sid == text.sid).unwrap();
    assert_eq!(
        (text_report.inbound, text_report.body.as_str()),
        (false, "It arrives tomorrow")
    );
    let mms_report = news.iter().find(|m| m.sid == mms.sid).unwrap();
    assert_eq!((mms_report.inbound, mms_report.num_media), (false, 1));
    assert_eq!(
        b.media_urls(&mms.sid).await.unwrap().len(),
        1,
        "its media are there for the other desktop to download"
    );
    sandbox.shutdown().await;
}
