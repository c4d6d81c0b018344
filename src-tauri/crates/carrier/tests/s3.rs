//! The S3 media host against a real S3-compatible server on loopback: moto in server mode (PyPI
//! `moto[server]`, which `./dev test` installs into `.tools/moto`; `SWITCHBOARD_MOTO_SERVER`
//! names another `moto_server`). In CI (`CI` set) a missing server fails the tests; elsewhere
//! they say loudly that they did not run.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use support::Server;
use switchboard_carrier::{
    Carrier, CarrierError, Media, MediaHost, S3Config, S3MediaHost, SendRequest, TwilioClient,
    TwilioOptions,
};
use switchboard_core::model::{ImageKind, E164};

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
];

/// moto's S3 on loopback, stopped on drop.
struct Moto {
    server: Server,
    endpoint: String,
}

fn moto() -> Option<Moto> {
    let bin = std::env::var_os("SWITCHBOARD_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../.tools/moto/bin/moto_server")
        });
    if !bin.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{bin:?} is missing: CI must test the media host against moto (./dev test installs it)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** THE S3 MEDIA HOST TESTS DID NOT RUN: {bin:?} is missing (./dev test installs it) ***\n"
        );
        return None;
    }
    let server = Server::start(
        &bin,
        |port| {
            ["-H", "127.0.0.1", "-p", &port.to_string()]
                .map(str::to_owned)
                .to_vec()
        },
        Duration::from_secs(60),
    );
    Some(Moto {
        endpoint: format!("http://{}", server.addr),
        server,
    })
}

fn config(moto: &Moto, bucket: &str) -> S3Config {
    S3Config {
        endpoint: moto.endpoint.clone(),
        region: "us-east-1".into(),
        bucket: bucket.into(),
        access_key_id: "AKIDSWITCHBOARDTEST".into(),
        secret_access_key: "switchboard-test-secret".into(),
        path_style: true,
    }
}

async fn create_bucket(config: &S3Config) {
    let bucket = Bucket::new(
        config.endpoint.parse().unwrap(),
        UrlStyle::Path,
        config.bucket.clone(),
        config.region.clone(),
    )
    .unwrap();
    let credentials = Credentials::new(&config.access_key_id, &config.secret_access_key);
    let url = bucket
        .create_bucket(&credentials)
        .sign(Duration::from_secs(60));
    let status = http()
        .put(url)
        .header("content-length", "0")
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "creating the bucket: {status}");
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn png() -> Media {
    Media {
        kind: ImageKind::Png,
        bytes: PNG.to_vec(),
    }
}

#[tokio::test]
async fn an_image_is_put_in_the_bucket_and_fetched_back_through_its_presigned_url() {
    let Some(moto) = moto() else { return };
    let config = config(&moto, "acme-mms");
    create_bucket(&config).await;
    let host = S3MediaHost::new(&config, &TwilioOptions::default()).unwrap();
    host.check().await.expect("the bucket is there");

    let url = host.upload(&png()).await.unwrap();
    assert!(
        url.starts_with(&format!("{}/acme-mms/switchboard-media/", moto.endpoint)),
        "{url}"
    );
    assert!(url.contains(".png?"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "presigned: {url}");
    assert!(
        url.contains("X-Amz-Expires=86400"),
        "valid for a day: {url}"
    );
    assert!(
        !url.contains("switchboard-test-secret"),
        "the secret never leaves"
    );

    // What Twilio does: a plain GET of the URL, no credentials.
    let fetched = http().get(&url).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PNG);

    // The same image again is the same object.
    let again = host.upload(&png()).await.unwrap();
    assert_eq!(again.split('?').next(), url.split('?').next());
}

#[tokio::test]
async fn a_missing_bucket_is_said_in_words_and_is_permanent() {
    let Some(moto) = moto() else { return };
    let host =
        S3MediaHost::new(&config(&moto, "no-such-bucket"), &TwilioOptions::default()).unwrap();
    for result in [host.check().await, host.upload(&png()).await.map(|_| ())] {
        match result {
            Err(CarrierError::Permanent { message, .. }) => {
                assert!(
                    message.contains("no bucket named \"no-such-bucket\""),
                    "{message}"
                )
            }
            other => panic!("expected a permanent error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_media_host_is_transient() {
    let Some(moto) = moto() else { return };
    let mut config = config(&moto, "acme-mms");
    drop(moto.server);
    config.endpoint = "http://127.0.0.1:9".into();
    let host = S3MediaHost::new(&config, &TwilioOptions::default()).unwrap();
    let result = host.upload(&png()).await;
    assert!(
        matches!(result, Err(CarrierError::Transient { .. })),
        "{result:?}"
    );
}

/// The whole path: the Twilio client uploads to the bucket, sends the presigned URL as
/// `MediaUrl`, and the sandbox (playing Twilio) fetches the image from it.
#[tokio::test]
async fn a_twilio_send_with_an_image_goes_through_the_bucket() {
    let Some(moto) = moto() else { return };
    let config = config(&moto, "acme-mms");
    create_bucket(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = switchboard_sandbox::serve(switchboard_sandbox::SandboxConfig::new(dir.path()))
        .await
        .unwrap();
    let options = TwilioOptions {
        media_host: Some(Arc::new(
            S3MediaHost::new(&config, &TwilioOptions::default()).unwrap(),
        )),
        ..TwilioOptions::default()
    };
    let client = TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        options,
    )
    .unwrap();
    assert!(client.capabilities().mms);
    let sent = client
        .send(&SendRequest {
            from: E164::from_normalized("+14155550100").unwrap(),
            to: E164::from_normalized("+14155550123").unwrap(),
            body: "Your receipt".into(),
            media: vec![png()],
            client_id: "s3-end-to-end".into(),
        })
        .await
        .unwrap();
    assert!(sent.sid.starts_with("MM"), "{}", sent.sid);
    let at_carrier = &sandbox.messages()[0];
    assert!(at_carrier.media[0]
        .url
        .contains("/acme-mms/switchboard-media/"));
    assert_eq!(at_carrier.media[0].content_type, "image/png");
    sandbox.shutdown().await;
}
