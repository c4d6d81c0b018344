//! `Engine::start_background`, the use case the app and the CLI share, against a real sandbox
//! on loopback: the sandbox's numbers become lines and its demo contacts fill an empty address
//! book, a second start waits for the outbox lock before it says who holds it, and the app's
//! start (`start_background_when_free`) keeps trying until the lock is free, saying meanwhile
//! that another Switchboard is sending. And what the runner it starts sends: a message's images
//! leave as one MMS, its media in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_engine::carrier::{Carrier, TwilioClient, TwilioOptions};
use switchboard_engine::{
    ComposeRequest, DemoContact, Engine, EngineError, KeyChoice, RunnerError, SandboxAccess,
};
use switchboard_sandbox::{serve_sandbox, SandboxHandle};

fn open(dir: &std::path::Path) -> Arc<Engine> {
    Arc::new(Engine::open(&dir.join("data"), KeyChoice::KeyFile(dir.join("key"))).unwrap())
}

/// An engine and the sandbox of its data directory, served as the app serves it.
async fn office(dir: &std::path::Path) -> (Arc<Engine>, SandboxHandle) {
    let engine = open(dir);
    let (sandbox, _) = serve_sandbox(&dir.join("data"), None, 0).await.unwrap();
    (engine, sandbox)
}

fn access(sandbox: &SandboxHandle) -> SandboxAccess {
    SandboxAccess {
        endpoint: sandbox.endpoint(),
        demo_contacts: sandbox
            .demo_contacts()
            .into_iter()
            .map(|c| DemoContact {
                name: c.name,
                number: c.number,
            })
            .collect(),
    }
}

#[tokio::test]
async fn the_background_starts_on_the_sandbox_with_its_lines_and_demo_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sandbox) = office(dir.path()).await;
    let reach = || async { Ok::<_, RunnerError>(access(&sandbox)) };
    let runner = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let labels: Vec<String> = engine
        .lines()
        .unwrap()
        .into_iter()
        .map(|l| l.label)
        .collect();
    let offered: Vec<String> = sandbox
        .lines()
        .into_iter()
        .map(|l| l.friendly_name)
        .collect();
    assert_eq!(labels, offered);
    let contacts = engine.contacts().unwrap();
    assert_eq!(contacts.len(), sandbox.demo_contacts().len());
    assert!(contacts.iter().all(|c| c.contact.demo));
    let summary = runner.run_once().await;
    assert!(
        summary.synced,
        "the runner reaches the sandbox: {summary:?}"
    );
}

#[tokio::test]
async fn a_second_start_waits_for_the_outbox_lock_then_says_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sandbox) = office(dir.path()).await;
    let reach = || async { Ok::<_, RunnerError>(access(&sandbox)) };
    let _first = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let started = Instant::now();
    let second = engine
        .start_background(reach, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(second, RunnerError::AlreadyRunning { .. }),
        "{second}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
}

#[tokio::test]
async fn the_apps_start_keeps_trying_the_outbox_lock_says_so_and_starts_once_it_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sandbox) = office(dir.path()).await;
    let reach = || async { Ok::<_, RunnerError>(access(&sandbox)) };
    // Another Switchboard (a CLI `run`, say) sends from this data directory.
    let other = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let (told, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let waiting = engine.start_background_when_free(reach, Duration::ZERO, move |e| {
        let _ = told.send(e.code());
    });
    tokio::pin!(waiting);

    let code = tokio::select! {
        code = heard.recv() => code.unwrap(),
        _ = &mut waiting => panic!("it started while the lock was held"),
    };
    assert_eq!(code.as_str(), "runner_already_running");
    drop(other);
    let runner = waiting.await.unwrap();

    assert!(heard.try_recv().is_err(), "said once");
    assert!(
        runner.run_once().await.synced,
        "the runner it started reaches the sandbox"
    );
}

#[tokio::test]
async fn a_sandbox_that_cannot_be_reached_is_the_clients_error() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let refused = engine
        .start_background(
            || async {
                Err::<SandboxAccess, _>(RunnerError::Engine(EngineError::Invalid {
                    what: "sandbox",
                    why: "is not running.".into(),
                }))
            },
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.to_string(), "sandbox is not running.");
    assert!(engine.lines().unwrap().is_empty(), "nothing was adopted");
}

/// A 1×1 PNG; the byte after its end makes each `shade` a different file.
fn png(shade: u8) -> Vec<u8> {
    let mut bytes = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, b'I', b'D',
        b'A', b'T', 0x78, 0x9c, 0x63, 0, 0x01, 0, 0, 0x05, 0, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0,
        0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82,
    ];
    bytes.push(shade);
    bytes
}

#[tokio::test]
async fn three_images_leave_the_outbox_as_one_mms_with_its_media_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sandbox) = office(dir.path()).await;
    // Twilio's habits: a new message listed late, its media counted later still.
    sandbox.set_list_lag(Duration::from_secs(1)).unwrap();
    sandbox.set_media_lag(Duration::from_secs(2)).unwrap();
    let reach = || async { Ok::<_, RunnerError>(access(&sandbox)) };
    let runner = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let sales = engine
        .lines()
        .unwrap()
        .into_iter()
        .find(|l| l.label == "Sales")
        .unwrap();
    let ada = sandbox.demo_contacts()[0].number.to_string();
    let images = vec![png(1), png(2), png(3)];
    engine
        .send(
            &ComposeRequest {
                recipients: vec![ada],
                body: "Three photos".into(),
                images: images.clone(),
                line: Some(sales.id),
            },
            None,
        )
        .unwrap();
    let summary = runner.run_once().await;
    assert_eq!(summary.sent, 1, "{summary:?}");

    let outbound: Vec<_> = sandbox
        .messages()
        .into_iter()
        .filter(|m| !m.inbound)
        .collect();
    assert_eq!(outbound.len(), 1, "one message, not one per image");
    assert_eq!(outbound[0].media.len(), 3);
    let client = TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        TwilioOptions::default(),
    )
    .unwrap();
    let started = Instant::now();
    let urls = loop {
        let urls = client
            .media_urls(&outbound[0].sid)
            .await
            .unwrap_or_default();
        if urls.len() == 3 || started.elapsed() > Duration::from_secs(10) {
            break urls;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(urls.len(), 3, "{urls:?}");
    for (url, sent) in urls.iter().zip(&images) {
        let fetched = client.fetch_media(url).await.unwrap();
        assert_eq!(&fetched.bytes, sent, "{url} holds the image of its place");
    }
}
