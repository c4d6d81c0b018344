//! Scheduled messages through the runner, on tokio's paused clock against the in-memory
//! carrier: one goes at its time and only then, once; one the runner finds late by more than
//! 15 minutes (the computer was off) waits for the user, who sends it anyway; a recipient who
//! opted out meanwhile is not sent to.

use std::time::Duration;

use switchboard_core::model::MessageStatus;

use super::testkit::*;
use super::*;
use crate::ComposeRequest;

const ADA: &str = "+14155550142";

fn request(o: &Office, body: &str) -> ComposeRequest {
    ComposeRequest {
        recipients: vec![ADA.into()],
        body: body.into(),
        images: Vec::new(),
        line: Some(o.sales.id),
    }
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_message_goes_at_its_time_and_once() {
    let o = office();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();
    let at = crate::now_ms() + 60_000;
    let receipt = o
        .engine
        .schedule(&request(&o, "Your table is ready at 8"), at, None, false)
        .unwrap();
    assert_eq!(receipt.scheduled.len(), 1);

    run_for(&runner, Duration::from_secs(50)).await;
    assert!(carrier.calls().is_empty(), "not before its time");
    assert_eq!(o.engine.scheduled().unwrap().len(), 1);

    run_for(&runner, Duration::from_secs(30)).await;
    let calls = carrier.calls();
    assert_eq!(calls.len(), 1, "once");
    assert!(calls[0].at >= 59_000, "sent at {} ms", calls[0].at);
    assert!(o.engine.scheduled().unwrap().is_empty());
    let released = std::iter::from_fn(|| events.try_recv().ok()).any(|e| {
        matches!(
            e,
            EngineEvent::MessageStatus {
                status: MessageStatus::Queued,
                ..
            }
        )
    });
    assert!(released, "the thread is told a message joined it");

    run_for(&runner, Duration::from_secs(120)).await;
    assert_eq!(carrier.calls().len(), 1, "never again");
}

#[tokio::test(start_paused = true)]
async fn one_found_late_by_more_than_15_minutes_waits_for_the_user() {
    let o = office();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();
    let at = crate::now_ms() + 60_000;
    o.engine
        .schedule(&request(&o, "See you in 10 minutes"), at, None, false)
        .unwrap();
    // The computer sleeps through its time: the runner looks again 20 minutes later.
    tokio::time::advance(Duration::from_secs(20 * 60)).await;
    runner.run_once().await;
    assert!(carrier.calls().is_empty(), "not sent late without asking");
    assert_eq!(o.engine.late_count().unwrap(), 1);
    assert!(o.engine.scheduled().unwrap()[0].held);
    assert!(std::iter::from_fn(|| events.try_recv().ok())
        .any(|e| e == EngineEvent::ScheduledLate { held: 1 }));
    run_for(&runner, Duration::from_secs(60)).await;
    assert!(carrier.calls().is_empty(), "held until the user says");

    assert_eq!(o.engine.send_scheduled_now(None).unwrap(), 1);
    runner.wake();
    run_for(&runner, Duration::from_secs(5)).await;
    assert_eq!(carrier.calls().len(), 1);
    assert_eq!(o.engine.late_count().unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_recipient_who_opted_out_before_its_time_is_not_sent_to() {
    let o = office();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    let at = crate::now_ms() + 60_000;
    o.engine
        .schedule(&request(&o, "Our sale starts today"), at, None, false)
        .unwrap();
    // Ada texts STOP to Sales before then.
    carrier.push_change(switchboard_carrier::CarrierMessage {
        sid: "SM00000000000000000000000000000stop".into(),
        from: switchboard_core::model::E164::from_normalized(ADA).unwrap(),
        to: o.sales.number.clone(),
        body: "STOP".into(),
        inbound: true,
        status: switchboard_carrier::CarrierStatus::Received,
        created_at: crate::now_ms(),
        error_code: None,
        error_message: None,
        media_urls: Vec::new(),
        num_media: 0,
        messaging_service: None,
    });
    run_for(&runner, Duration::from_secs(90)).await;
    assert!(carrier.calls().is_empty(), "the carrier is not even asked");
    let failed = o.engine.outbox().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].state, switchboard_store::OutboxState::Failed);
}
