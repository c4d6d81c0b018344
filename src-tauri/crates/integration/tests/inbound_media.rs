//! Received media end to end below the window: a customer's reply with two photos, at a
//! sandbox that lists new messages late and counts an MMS's media later still (as Twilio
//! does), is synced, downloaded over real HTTP with the account's credentials and stored: both
//! photos ready, in order, byte for byte what was sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_engine::store::{AttachmentState, ThreadKey};
use switchboard_engine::{DemoContact, Engine, KeyChoice, RunnerError, SandboxAccess};
use switchboard_sandbox::{demo_photos, serve_sandbox, QuirksChange};

const ADA: &str = "+14155550123";

#[tokio::test]
async fn a_reply_with_two_photos_ends_with_both_ready_and_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::open(
            &dir.path().join("data"),
            KeyChoice::KeyFile(dir.path().join("key")),
        )
        .unwrap(),
    );
    let (sandbox, _) = serve_sandbox(&dir.path().join("data"), None, 0)
        .await
        .unwrap();
    sandbox
        .change_quirks(&QuirksChange {
            list_lag_secs: Some(1.0),
            media_lag_secs: Some(3.0),
            ..QuirksChange::default()
        })
        .unwrap();
    let access = SandboxAccess {
        endpoint: sandbox.endpoint(),
        demo_contacts: sandbox
            .demo_contacts()
            .into_iter()
            .map(|c| DemoContact {
                name: c.name,
                number: c.number,
            })
            .collect(),
    };
    let runner = engine
        .start_background(|| async { Ok::<_, RunnerError>(access) }, Duration::ZERO)
        .await
        .unwrap();
    // The first sync: history (none yet), so that the reply is news.
    assert!(runner.run_once().await.synced);

    let sales = engine
        .lines()
        .unwrap()
        .into_iter()
        .find(|l| l.label == "Sales")
        .unwrap();
    let photos = demo_photos("photos");
    let sent = sandbox
        .reply_with_media(
            &switchboard_engine::store::E164::from_normalized(ADA).unwrap(),
            &sales.number,
            "The parcel, both sides",
            &photos,
        )
        .unwrap();
    assert!(sent.sid.starts_with("MM"));

    let key = ThreadKey {
        line: sales.id,
        counterpart: switchboard_engine::store::E164::from_normalized(ADA).unwrap(),
    };
    let ready = |engine: &Engine| -> Option<switchboard_engine::store::MessageId> {
        let store = engine.store();
        let thread = store.thread_by_key(&key).ok()??;
        let row = store.thread_messages(thread.id, 1, None).ok()?.pop()?;
        let states: Vec<AttachmentState> = row.attachments.iter().map(|a| a.state).collect();
        (states == [AttachmentState::Ready, AttachmentState::Ready]).then_some(row.id)
    };
    let started = Instant::now();
    let mut found = None;
    runner
        .run_until_stopped(async {
            while started.elapsed() < Duration::from_secs(40) {
                if let Some(id) = ready(&engine) {
                    found = Some(id);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
    let message = found.expect("both photos downloaded within 40 s");

    let stored = engine.store().attachments(message).unwrap();
    assert_eq!(stored.len(), 2);
    for (item, photo) in stored.iter().zip(&photos) {
        assert_eq!(item.bytes, photo.bytes, "item {}", item.index);
        assert_eq!(item.mime, "image/jpeg");
    }
    let row = engine.store().get_message(message).unwrap();
    let sizes: Vec<_> = row
        .attachments
        .iter()
        .map(|a| (a.width, a.height))
        .collect();
    assert_eq!(sizes, [(Some(320), Some(240)), (Some(240), Some(320))]);
    assert_eq!(row.body, "The parcel, both sides");
    sandbox.shutdown().await;
}
