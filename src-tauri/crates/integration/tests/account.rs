//! Connecting a Twilio account, with a sandbox playing Twilio on loopback and the real OS
//! keychain (run inside `dbus-run-session` with an unlocked gnome-keyring, as `./dev test`
//! does): the credentials are checked before anything is kept, kept only in the keychain, the
//! account's numbers become the lines with their capabilities, the composer respects them, and
//! a renamed line is renamed at the carrier.

use std::path::Path;

use switchboard_engine::carrier::S3Config;
use switchboard_engine::core::model::{ImageKind, E164};
use switchboard_engine::store::{StoreError, DB_FILE_NAME};
use switchboard_engine::{
    ComposerState, Engine, EngineError, KeyChoice, LineDecision, TwilioCredentials,
};
use switchboard_sandbox::{serve, SandboxConfig, SandboxHandle};

const SID: &str = "AC5ea1f00d5ea1f00d5ea1f00d5ea1f00d";
const TOKEN: &str = "0badc0de0badc0de0badc0de0badc0de";

fn n(s: &str) -> E164 {
    E164::from_normalized(s).unwrap()
}

fn open(dir: &Path) -> Engine {
    match Engine::open(&dir.join("data"), KeyChoice::KeyFile(dir.join("key"))) {
        Err(EngineError::Store(e @ StoreError::KeychainUnavailable { .. })) => panic!(
            "no Secret Service is reachable ({e}); run inside dbus-run-session with an unlocked \
             gnome-keyring (./dev test does)"
        ),
        other => other.unwrap(),
    }
}

/// A sandbox playing a customer's Twilio account: its own SID and token, and numbers of its
/// own — one that can't send images, one that can't text at all.
async fn twilio_account(dir: &Path) -> SandboxHandle {
    let mut config = SandboxConfig::new(dir.join("twilio"));
    config.account_sid = SID.into();
    config.auth_token = TOKEN.into();
    let twilio = serve(config).await.unwrap();
    for line in twilio.lines() {
        twilio.remove_line(&line.number).unwrap();
    }
    twilio
        .add_line(n("+14155550150"), "Front desk", true, false)
        .unwrap();
    twilio
        .add_line(n("+14155550151"), "Fax", false, false)
        .unwrap();
    twilio
}

fn credentials(token: &str) -> TwilioCredentials {
    TwilioCredentials::checked(SID, token).unwrap()
}

#[tokio::test]
async fn a_twilio_account_is_checked_kept_in_the_keychain_and_its_numbers_become_lines() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    // First, the embedded sandbox's demo lines, as at a first start.
    let demo = serve(SandboxConfig::new(dir.path().join("demo")))
        .await
        .unwrap();
    engine.adopt_carrier(&demo_lines(&demo), &[]).unwrap();
    let twilio = twilio_account(dir.path()).await;
    let api = twilio.api_base_url();

    // A wrong token: refused in words, and nothing is kept.
    let wrong = engine
        .connect_twilio(&credentials("ffffffffffffffffffffffffffffffff"), &api)
        .await
        .unwrap_err();
    assert_eq!(wrong.code().as_str(), "carrier_credentials_refused");
    assert!(wrong.to_string().contains("auth token"), "{wrong}");
    assert!(engine.twilio_credentials().unwrap().is_none());
    assert_eq!(engine.account_status().unwrap().carrier, "sandbox");
    assert!(engine.lines().unwrap().iter().all(|l| l.in_account));

    // Twilio unreachable: said as such, nothing kept.
    let offline = engine
        .connect_twilio(&credentials(TOKEN), "http://127.0.0.1:9")
        .await
        .unwrap_err();
    assert_eq!(offline.code().as_str(), "carrier_unreachable", "{offline}");
    assert!(engine.twilio_credentials().unwrap().is_none());

    let connected = engine
        .connect_twilio(&credentials(TOKEN), &api)
        .await
        .unwrap();
    assert_eq!(connected.account_name, "Switchboard sandbox");
    assert_eq!(connected.lines_left, 2, "the demo lines left the account");
    let labels: Vec<&str> = connected.lines.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["Front desk", "Fax"]);

    let status = engine.account_status().unwrap();
    assert_eq!(status.carrier, "twilio");
    assert_eq!(status.account_hint.as_deref(), Some("AC…f00d"));
    assert!(!status.images, "no media host yet");
    // The credentials are in the keychain, and nowhere in the data directory.
    assert_eq!(
        engine.twilio_credentials().unwrap(),
        Some(credentials(TOKEN))
    );
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
                "{path:?} holds the token"
            );
        }
    }
    assert!(dir.path().join("data").join(DB_FILE_NAME).exists());

    // The composer: the fax number is not offered, the front desk sends text but not images.
    let state = |image: Option<ImageKind>| ComposerState {
        recipients: vec!["+14155550123".into()],
        body: "Your table is ready".into(),
        line: None,
        images: image.into_iter().collect(),
        template: false,
    };
    let preview = engine.live_preview(&state(None)).unwrap();
    let LineDecision::Use { line, .. } = &preview.decision else {
        panic!("one line can send, so it is used: {:?}", preview.decision)
    };
    assert_eq!(line.label, "Front desk");
    assert_eq!(preview.problem, None);
    let with_image = engine.live_preview(&state(Some(ImageKind::Png))).unwrap();
    assert_eq!(with_image.problem.unwrap().code.as_str(), "line_has_no_mms");

    // An MMS line without a media host: the composer says so plainly.
    twilio.set_line_capabilities(&n("+14155550150"), true, true);
    let lines =
        switchboard_engine::carrier::Carrier::lines(engine.carrier(None, &api).unwrap().as_ref())
            .await
            .unwrap();
    engine.adopt_account_lines(&lines).unwrap();
    let problem = engine
        .live_preview(&state(Some(ImageKind::Png)))
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.code.as_str(), "no_media_host");
    assert!(
        problem.message.contains("media host"),
        "{}",
        problem.message
    );

    // Renaming a line writes the label back to Twilio's FriendlyName.
    let line_id = |label: &str| {
        engine
            .lines()
            .unwrap()
            .into_iter()
            .find(|l| l.label == label)
            .map(|l| l.id)
    };
    let front_desk = line_id("Front desk").unwrap();
    let carrier = engine.carrier(None, &api).unwrap();
    let renamed = engine
        .rename_line(Some(carrier.as_ref()), front_desk, "Reception")
        .await
        .unwrap();
    assert_eq!(renamed.label, "Reception");
    assert!(twilio
        .lines()
        .iter()
        .any(|l| l.friendly_name == "Reception"));
    // A refused rename changes nothing here either.
    twilio.set_online(false).await.unwrap();
    let refused = engine
        .rename_line(Some(carrier.as_ref()), front_desk, "Front")
        .await
        .unwrap_err();
    assert_eq!(refused.code().as_str(), "carrier_unreachable");
    assert_eq!(line_id("Reception"), Some(front_desk));
    let no_carrier = engine
        .rename_line(None, front_desk, "Front")
        .await
        .unwrap_err();
    assert!(
        no_carrier.to_string().contains("can't be renamed"),
        "{no_carrier}"
    );
    // A line no longer in the account is renamed here only.
    let sales = line_id("Sales").unwrap();
    engine.rename_line(None, sales, "Old sales").await.unwrap();
    twilio.set_online(true).await.unwrap();

    // Disconnecting forgets the credentials; the lines and their history stay.
    engine.disconnect_twilio().unwrap();
    assert!(engine.twilio_credentials().unwrap().is_none());
    assert_eq!(engine.account_status().unwrap().carrier, "sandbox");
    assert_eq!(engine.lines().unwrap().len(), 4);
    assert_eq!(line_id("Old sales"), Some(sales));
    // None is the account's any more (the sandbox's come back when it is reached): the jobs of
    // the Twilio lines are held, not sent through the sandbox.
    assert!(engine.lines().unwrap().iter().all(|l| !l.in_account));
    twilio.shutdown().await;
    demo.shutdown().await;
}

fn demo_lines(demo: &SandboxHandle) -> Vec<switchboard_engine::carrier::CarrierLine> {
    demo.lines()
        .into_iter()
        .map(|l| switchboard_engine::carrier::CarrierLine {
            sid: l.sid,
            number: l.number,
            label: l.friendly_name,
            sms: l.sms,
            mms: l.mms,
        })
        .collect()
}

#[tokio::test]
async fn a_media_host_that_does_not_answer_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let mut config = S3Config {
        endpoint: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        bucket: "acme-mms".into(),
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret".into(),
        path_style: true,
    };
    let down = engine.set_media_host(&config).await.unwrap_err();
    assert_eq!(down.code().as_str(), "carrier_unreachable", "{down}");
    config.bucket = "Not A Bucket".into();
    let bad = engine.set_media_host(&config).await.unwrap_err();
    assert_eq!(bad.code().as_str(), "invalid_input");
    assert!(bad.to_string().contains("bucket name"), "{bad}");
    assert_eq!(engine.account_status().unwrap().media_host, None);
}
