//! A carrier that cannot be reached, for whatever network reason, is "offline": the request never
//! left, so the outbox keeps the message queued and says so. (The sandbox crate's tests cover
//! everything that needs a carrier answering.)

use std::time::Duration;

use switchboard_carrier::{
    Carrier, CarrierError, SendRequest, TransientKind, TwilioClient, TwilioOptions,
};
use switchboard_core::model::E164;

async fn check(base_url: &str) {
    let client = TwilioClient::new(
        base_url,
        "AC00000000000000000000000000000001",
        "token",
        TwilioOptions {
            connect_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_secs(5),
            ..TwilioOptions::default()
        },
    )
    .unwrap();
    let request = SendRequest {
        from: E164::from_normalized("+14155550100").unwrap(),
        to: E164::from_normalized("+14155550123").unwrap(),
        body: "hello".into(),
        media: Vec::new(),
        client_id: "c1".into(),
    };
    for result in [
        client.lines().await.map(drop),
        client.send(&request).await.map(drop),
    ] {
        match result {
            Err(CarrierError::Transient {
                kind: TransientKind::Offline,
                ..
            }) => {}
            other => panic!("{base_url}: expected offline, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn refused_and_unresolvable_connections_are_offline() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    check("http://127.0.0.1:9").await;
    // `.invalid` never resolves (RFC 2606).
    check("http://switchboard.invalid").await;
}
