//! The sync's tests: an office's runner against the in-memory carrier, on a paused clock.

use std::time::Duration;

use switchboard_carrier::{CarrierLine, CarrierMessage, CarrierStatus};
use switchboard_core::model::{MessageStatus, ThreadKey, E164};
use switchboard_store::SettingKey;
use tokio::sync::broadcast;

use super::{SyncState, UNMATCHED_ROUNDS};
use crate::runner::testkit::*;
use crate::EngineEvent;

const ADA: &str = "+14155550142";
const SALES: &str = "+14155550100";
const GRACE: &str = "+14155550143";

fn inbound(sid: &str, from: &str, to: &str, body: &str) -> CarrierMessage {
    CarrierMessage {
        sid: sid.into(),
        from: E164::from_sender(from).unwrap(),
        to: num(to),
        body: body.into(),
        inbound: true,
        status: CarrierStatus::Received,
        created_at: 1_700_000_000_000,
        error_code: None,
        error_message: None,
        media_urls: Vec::new(),
        num_media: 0,
        messaging_service: None,
    }
}

fn status_of(sid: &str, o: &Office, status: CarrierStatus) -> CarrierMessage {
    CarrierMessage {
        inbound: false,
        status,
        ..inbound(sid, o.sales.number.as_str(), ADA, "")
    }
}

#[tokio::test(start_paused = true)]
async fn inbound_messages_make_threads_bump_unread_and_are_recorded_once() {
    let o = office();
    let carrier = FakeCarrier::new();
    for m in [
        inbound("SMa1", ADA, "+14155550100", "Is it shipped?"),
        inbound("SMa2", ADA, "+14155550100", "Hello?"),
        inbound("SMa3", ADA, "+14155550101", "My printer is broken"),
        inbound("SMa4", ADA, "+14155550199", "Not one of our lines"),
    ] {
        carrier.push_change(m);
    }
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    assert_eq!(runner.run_once().await.inbound, 3);

    let store = o.engine.store();
    let thread = |line: &switchboard_core::model::Line| {
        store
            .thread_by_key(&ThreadKey {
                line: line.id,
                counterpart: num(ADA),
            })
            .unwrap()
            .unwrap()
    };
    let (sales, support) = (thread(&o.sales), thread(&o.support));
    assert_eq!(
        (sales.unread, support.unread),
        (2, 1),
        "one thread per line"
    );
    let inbound_events: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            EngineEvent::InboundMessage {
                thread_id,
                from,
                line,
                ..
            } => Some((thread_id, from.as_str().to_owned(), line)),
            _ => None,
        })
        .collect();
    assert_eq!(
        inbound_events,
        [
            (sales.id, ADA.to_owned(), o.sales.id),
            (sales.id, ADA.to_owned(), o.sales.id),
            (support.id, ADA.to_owned(), o.support.id),
        ]
    );
    assert_eq!(
        store.get_setting(SettingKey::SyncCursor).unwrap(),
        Some(serde_json::json!({ "account": "sandbox", "cursor": 4 })),
        "the cursor is saved, with the account it belongs to"
    );

    // The cursor moves on; and were it lost, the carrier ids keep messages from doubling.
    assert_eq!(runner.run_once().await.inbound, 0);
    store.remove_setting(SettingKey::SyncCursor).unwrap();
    assert_eq!(runner.run_once().await.inbound, 0);
    assert_eq!(thread(&o.sales).unread, 2);
    assert!(std::iter::from_fn(|| events.try_recv().ok())
        .all(|e| !matches!(e, EngineEvent::InboundMessage { .. })));
}

#[tokio::test(start_paused = true)]
async fn delivery_statuses_reach_our_messages_and_never_go_back() {
    let o = office();
    let ids: Vec<_> = ["one", "two"]
        .iter()
        .map(|b| o.send(&o.sales, &[ADA], b)[0])
        .collect();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    assert_eq!(runner.run_once().await.sent, 2);
    let sids: Vec<String> = carrier
        .state()
        .accepted
        .iter()
        .map(|(_, m)| m.sid.clone())
        .collect();
    let mut events = runner.subscribe();

    carrier.push_change(status_of(&sids[0], &o, CarrierStatus::Delivered));
    carrier.push_change(status_of(&sids[0], &o, CarrierStatus::Sent));
    carrier.push_change(CarrierMessage {
        error_code: Some("30005".into()),
        error_message: Some("Unknown destination handset".into()),
        ..status_of(&sids[1], &o, CarrierStatus::Undelivered)
    });
    let summary = runner.run_once().await;

    assert_eq!(summary.statuses, 2);
    assert_eq!(
        o.status(ids[0]),
        MessageStatus::Delivered,
        "a late 'sent' changes nothing"
    );
    let undelivered = o.engine.store().get_message(ids[1]).unwrap();
    assert_eq!(undelivered.status, MessageStatus::Undelivered);
    let error = undelivered.error.unwrap();
    assert_eq!(error.code.as_deref(), Some("30005"));
    assert_eq!(
        error.message, "This number doesn't exist, or no longer does.",
        "our sentence, not the carrier's jargon"
    );
    let statuses: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            EngineEvent::MessageStatus {
                message_id, status, ..
            } => Some((message_id, status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (ids[0], MessageStatus::Delivered),
            (ids[1], MessageStatus::Undelivered)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_status_that_arrives_before_its_send_is_recorded_is_applied_later() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "one")[0];
    let store = o.engine.store();
    let job = store.outbox_job_for_message(m).unwrap().unwrap();
    store.mark_sending(job.id, crate::now_ms()).unwrap();
    let carrier = FakeCarrier::new();
    let sid = "SM000000000000000000000000000000aa";
    carrier.push_change(status_of(sid, &o, CarrierStatus::Delivered));
    let runner = o.runner(&carrier);
    let mut state = SyncState::default();

    // The sync sees the status while the send's answer is still on its way.
    runner.inner.sync_round(&mut state).await.unwrap();
    store.mark_sent(job.id, sid, crate::now_ms()).unwrap();
    assert_eq!(o.status(m), MessageStatus::Sent);
    let tally = runner.inner.sync_round(&mut state).await.unwrap();

    assert_eq!(tally.statuses, 1);
    assert_eq!(o.status(m), MessageStatus::Delivered);
}

#[tokio::test(start_paused = true)]
async fn the_sync_polls_steadily_online_and_backs_off_offline() {
    let o = office();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    run_for(&runner, Duration::from_secs(12)).await;
    assert_eq!(carrier.state().changes_at, [0, 5_000, 10_000]);

    carrier.state().changes_at.clear();
    carrier.set_offline(true);
    run_for(&runner, Duration::from_secs(100)).await;
    let times = carrier.state().changes_at.clone();
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // 750 ms doubling (jitter mid-window) up to a minute's window: 45 s.
    assert_eq!(gaps, [750, 1_500, 3_000, 6_000, 12_000, 24_000, 45_000]);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_carrier_saves_no_cursor() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.push_change(inbound("SMa1", ADA, "+14155550100", "Hi"));
    carrier.set_offline(true);
    let runner = o.runner(&carrier);

    let summary = runner.run_once().await;

    assert!(!summary.synced);
    assert_eq!(summary.inbound, 0);
    assert_eq!(runner.online(), Some(false));
    assert_eq!(
        o.engine
            .store()
            .get_setting(SettingKey::SyncCursor)
            .unwrap(),
        None
    );
}

/// Every event published so far; a subscriber that fell behind fails the test, since the
/// app's would have lost track.
fn drain(events: &mut broadcast::Receiver<EngineEvent>) -> Vec<EngineEvent> {
    let mut seen = Vec::new();
    loop {
        match events.try_recv() {
            Ok(e) => seen.push(e),
            Err(broadcast::error::TryRecvError::Empty) => return seen,
            Err(e) => panic!(
                "the event buffer overflowed: {e:?} after {} events",
                seen.len()
            ),
        }
    }
}

fn inbound_events(events: &[EngineEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, EngineEvent::InboundMessage { .. }))
        .count()
}

fn at(m: CarrierMessage, created_at: i64) -> CarrierMessage {
    CarrierMessage { created_at, ..m }
}

#[tokio::test(start_paused = true)]
async fn a_first_sync_records_history_as_read_without_a_notification_each() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.state().history_on_first_sync = true;
    for i in 0..500 {
        let m = inbound(&format!("SMh{i:03}"), ADA, SALES, "Two days ago");
        carrier.push_change(at(m, 1_700_000_000_000 + i * 1_000));
    }
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    assert_eq!(runner.run_once().await.inbound, 500);

    let seen = drain(&mut events);
    assert_eq!(inbound_events(&seen), 0, "history raises no notification");
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, EngineEvent::HistoryImported { .. }))
            .collect::<Vec<_>>(),
        [&EngineEvent::HistoryImported { messages: 500 }],
        "one event says it all"
    );
    let key = ThreadKey {
        line: o.sales.id,
        counterpart: num(ADA),
    };
    let store = o.engine.store();
    let thread = store.thread_by_key(&key).unwrap().unwrap();
    assert_eq!((thread.unread, store.total_unread().unwrap()), (0, 0));
    assert_eq!(
        o.engine
            .thread(thread.id, 500, None)
            .unwrap()
            .messages
            .len(),
        500
    );

    // Later rounds are news again.
    carrier.push_change(at(
        inbound("SMnew", ADA, SALES, "Still there?"),
        1_700_001_000_000,
    ));
    assert_eq!(runner.run_once().await.inbound, 1);
    assert_eq!(inbound_events(&drain(&mut events)), 1);
    assert_eq!(store.thread_by_key(&key).unwrap().unwrap().unread, 1);
}

/// A customer who writes while the app starts, before its first sync is answered, is news: a
/// first sync keeps as history only what is dated before the runner started. With Twilio's
/// habits: dates to the second (the message of the start's own second is dated up to a second
/// before it) and the carrier's clock 7 s ahead of ours.
#[tokio::test(start_paused = true)]
async fn a_first_sync_notifies_what_arrived_since_the_start_and_keeps_the_rest_as_history() {
    const SKEW_MS: i64 = 7_000;
    let o = office();
    let carrier = FakeCarrier::new();
    {
        let mut s = carrier.state();
        s.history_on_first_sync = true;
        s.clock_offset_ms = Some(SKEW_MS);
    }
    let runner = o.runner(&carrier);
    let started = crate::now_ms();
    // The carrier's dates: its clock, truncated to the second.
    let carrier_date = |local_ms: i64| (local_ms + SKEW_MS) / 1_000 * 1_000;
    carrier.push_change(at(
        inbound("SMold1", ADA, SALES, "Yesterday's"),
        carrier_date(started - 86_400_000),
    ));
    carrier.push_change(at(
        inbound("SMold2", ADA, SALES, "Just before the start"),
        carrier_date(started - 3_000),
    ));
    carrier.push_change(at(
        inbound("SMnow", ADA, SALES, "Written as the app started"),
        carrier_date(started),
    ));
    let mut events = runner.subscribe();

    assert_eq!(runner.run_once().await.inbound, 3);

    let seen = drain(&mut events);
    let news: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            EngineEvent::InboundMessage { message_id, .. } => Some(*message_id),
            _ => None,
        })
        .collect();
    assert!(
        seen.contains(&EngineEvent::HistoryImported { messages: 2 }),
        "the two older ones are history: {seen:?}"
    );
    let key = ThreadKey {
        line: o.sales.id,
        counterpart: num(ADA),
    };
    let store = o.engine.store();
    let thread = store.thread_by_key(&key).unwrap().unwrap();
    assert_eq!(thread.unread, 1, "only the one since the start is unread");
    let messages = o.engine.thread(thread.id, 10, None).unwrap().messages;
    let newest = messages
        .iter()
        .max_by_key(|m| (m.created_at, m.id))
        .expect("three messages");
    assert_eq!(messages.len(), 3);
    assert_eq!(news, [newest.id], "one notification, for the newest");
    assert_eq!(newest.body, "Written as the app started");
}

#[tokio::test(start_paused = true)]
async fn a_message_to_a_number_bought_while_running_adopts_the_number_as_a_line() {
    let o = office();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    let billing = num("+14155550102");
    carrier.state().lines.as_mut().unwrap().push(CarrierLine {
        sid: "PN14155550102".into(),
        number: billing.clone(),
        label: "Billing".into(),
        sms: true,
        mms: false,
    });
    carrier.push_change(inbound("SMb1", ADA, "+14155550102", "About my invoice"));
    carrier.push_change(inbound("SMb2", ADA, "+14155550199", "Not the account's"));
    carrier.push_change(inbound("SMb3", ADA, "+14155550198", "Nor this"));
    let mut events = runner.subscribe();

    assert_eq!(runner.run_once().await.inbound, 1);

    let lines = o.engine.lines().unwrap();
    let line = lines.iter().find(|l| l.number == billing).expect("adopted");
    assert_eq!(
        (line.label.as_str(), line.in_account, line.mms),
        ("Billing", true, false)
    );
    assert!(lines.iter().all(|l| l.in_account), "the others stay");
    let thread = o
        .engine
        .store()
        .thread_by_key(&ThreadKey {
            line: line.id,
            counterpart: num(ADA),
        })
        .unwrap()
        .unwrap();
    assert_eq!(thread.unread, 1);
    let seen = drain(&mut events);
    assert_eq!(inbound_events(&seen), 1);
    assert!(seen.contains(&EngineEvent::LinesChanged), "{seen:?}");
    assert_eq!(
        carrier.state().lines_at.len(),
        1,
        "the carrier's numbers are read once a round, however many strangers write"
    );
}

#[tokio::test(start_paused = true)]
async fn the_carriers_numbers_are_read_again_every_ten_minutes() {
    let o = office();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    let billing = num("+14155550102");
    carrier.state().lines.as_mut().unwrap().push(CarrierLine {
        sid: "PN14155550102".into(),
        number: billing.clone(),
        label: "Billing".into(),
        sms: true,
        mms: true,
    });

    run_for(&runner, Duration::from_secs(11 * 60)).await;

    let read_at = carrier.state().lines_at.clone();
    assert_eq!(read_at.len(), 1, "not at every poll: {read_at:?}");
    assert!(read_at[0] >= 10 * 60 * 1_000, "{read_at:?}");
    assert!(o
        .engine
        .lines()
        .unwrap()
        .iter()
        .any(|l| l.number == billing));
}

#[tokio::test(start_paused = true)]
async fn two_replies_in_the_same_second_keep_the_carriers_order() {
    let o = office();
    let carrier = FakeCarrier::new();
    // Carrier ids say nothing of order; the carrier's listing does.
    carrier.push_change(inbound("SMzz", ADA, SALES, "Is it shipped?"));
    carrier.push_change(inbound("SMaa", ADA, SALES, "Never mind, it just arrived"));
    let runner = o.runner(&carrier);
    runner.run_once().await;
    carrier.push_change(inbound("SMmm", ADA, SALES, "Thanks!"));
    runner.run_once().await;

    let thread = o
        .engine
        .store()
        .thread_by_key(&ThreadKey {
            line: o.sales.id,
            counterpart: num(ADA),
        })
        .unwrap()
        .unwrap();
    let newest_first: Vec<String> = o
        .engine
        .thread(thread.id, 10, None)
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(
        newest_first,
        ["Thanks!", "Never mind, it just arrived", "Is it shipped?"]
    );
}

#[tokio::test(start_paused = true)]
async fn the_cursor_is_written_only_when_it_moves() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.push_change(inbound("SMc1", ADA, SALES, "Hi"));
    let runner = o.runner(&carrier);
    runner.run_once().await;
    let store = o.engine.store();
    // A mark the sync does not write: it stays only while the setting is left alone.
    let marked = serde_json::json!({ "account": "sandbox", "cursor": 1, "mark": true });
    store.set_setting(SettingKey::SyncCursor, &marked).unwrap();

    runner.run_once().await;
    runner.run_once().await;
    assert_eq!(
        store.get_setting(SettingKey::SyncCursor).unwrap(),
        Some(marked),
        "idle rounds write nothing"
    );

    carrier.push_change(inbound("SMc2", ADA, SALES, "Hello?"));
    runner.run_once().await;
    assert_eq!(
        store.get_setting(SettingKey::SyncCursor).unwrap(),
        Some(serde_json::json!({ "account": "sandbox", "cursor": 2 }))
    );
}

#[tokio::test(start_paused = true)]
async fn short_codes_and_alphanumeric_senders_get_threads_of_their_own() {
    let o = office();
    let carrier = FakeCarrier::new();
    for (i, (sid, from, body)) in [
        ("SMs1", "89363", "Your code is 123456"),
        ("SMs2", "GOOGLE", "G-123456 is your code"),
        ("SMs3", "89363", "Your code is 654321"),
    ]
    .into_iter()
    .enumerate()
    {
        let m = inbound(sid, from, SALES, body);
        carrier.push_change(at(m, 1_700_000_000_000 + i as i64 * 1_000));
    }
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    assert_eq!(runner.run_once().await.inbound, 3);

    let threads = o.engine.threads(None, 50, None).unwrap();
    let shown: Vec<(&str, &str, i64)> = threads
        .iter()
        .map(|t| (t.counterpart.as_str(), t.display.as_str(), t.unread))
        .collect();
    assert_eq!(shown, [("89363", "89363", 2), ("GOOGLE", "GOOGLE", 1)]);
    assert_eq!(inbound_events(&drain(&mut events)), 3);
}

// Messages the account sent from elsewhere, and the race with our own whose answer is lost.

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// An outbound message from `line` to `to`, as the carrier lists it.
fn sent_from(sid: &str, line: &str, to: &str, body: &str, status: CarrierStatus) -> CarrierMessage {
    CarrierMessage {
        inbound: false,
        status,
        ..inbound(sid, line, to, body)
    }
}

/// What a thread shows: (body, sent elsewhere, status), oldest first.
fn thread_of(
    o: &Office,
    line: &switchboard_core::model::Line,
    to: &str,
) -> Vec<(String, bool, MessageStatus)> {
    let key = ThreadKey {
        line: line.id,
        counterpart: num(to),
    };
    let Some(thread) = o.engine.store().thread_by_key(&key).unwrap() else {
        return Vec::new();
    };
    let mut messages = o.engine.thread(thread.id, 100, None).unwrap().messages;
    messages.reverse();
    messages
        .into_iter()
        .map(|m| (m.body, m.sent_elsewhere, m.status))
        .collect()
}

fn row(body: &str, elsewhere: bool, status: MessageStatus) -> (String, bool, MessageStatus) {
    (body.to_owned(), elsewhere, status)
}

/// The request a job of ours makes, as the carrier would have received it.
fn request_of(
    o: &Office,
    message: switchboard_core::model::MessageId,
) -> switchboard_carrier::SendRequest {
    let job = o
        .engine
        .store()
        .outbox_job_for_message(message)
        .unwrap()
        .unwrap();
    switchboard_carrier::SendRequest {
        from: o.sales.number.clone(),
        to: job.counterpart.clone(),
        body: job.body.clone(),
        media: Vec::new(),
        client_id: job.client_id.clone(),
    }
}

#[tokio::test(start_paused = true)]
async fn our_message_listed_before_its_lost_answer_is_recorded_is_adopted_and_sent_once() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let store = o.engine.store();
    let job = store.outbox_job_for_message(m).unwrap().unwrap();
    // The attempt began, the carrier took the message, and the answer was lost: the job is
    // left `sending`, and the carrier's listing (lagging 1 s) shows a message we cannot match.
    store.mark_sending(job.id, crate::now_ms()).unwrap();
    let carrier = FakeCarrier::new();
    carrier.lagging(secs(1), secs(5));
    let sid = "SM0000000000000000000000000000beef";
    carrier.already_has(&request_of(&o, m), sid);
    carrier.push_change(sent_from(
        sid,
        SALES,
        ADA,
        "Your order has shipped",
        CarrierStatus::Sent,
    ));
    let runner = o.runner(&carrier);

    // However many rounds list it while the job is in doubt, it is not "sent elsewhere".
    let mut state = SyncState::default();
    for _ in 0..12 {
        let tally = runner.inner.sync_round(&mut state).await.unwrap();
        assert_eq!(tally.elsewhere, 0);
        tokio::time::sleep(secs(5)).await;
    }
    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [row("Your order has shipped", false, MessageStatus::Sending)]
    );

    // The runner reconciles: the candidate is free, so it is adopted, not sent again.
    run_for(&runner, secs(60)).await;

    assert!(
        carrier.calls().is_empty(),
        "never sent again: {:?}",
        carrier.calls()
    );
    assert_eq!(carrier.state().accepted.len(), 1);
    assert_eq!(
        store
            .message_by_carrier_sid(sid)
            .unwrap()
            .unwrap()
            .message_id,
        m
    );
    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [row("Your order has shipped", false, MessageStatus::Sent)],
        "one message, ours"
    );
    assert!(store.list_outbox().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn our_message_listed_before_its_answer_is_recorded_gets_its_status_not_a_twin() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let store = o.engine.store();
    let job = store.outbox_job_for_message(m).unwrap().unwrap();
    store.mark_sending(job.id, crate::now_ms()).unwrap();
    let carrier = FakeCarrier::new();
    let sid = "SM0000000000000000000000000000cafe";
    carrier.push_change(sent_from(
        sid,
        SALES,
        ADA,
        "Your order has shipped",
        CarrierStatus::Queued,
    ));
    let runner = o.runner(&carrier);
    let mut state = SyncState::default();

    // Two rounds list it before the send's answer is written.
    for _ in 0..2 {
        runner.inner.sync_round(&mut state).await.unwrap();
    }
    store.mark_sent(job.id, sid, crate::now_ms()).unwrap();
    carrier.push_change(sent_from(
        sid,
        SALES,
        ADA,
        "Your order has shipped",
        CarrierStatus::Delivered,
    ));
    let tally = runner.inner.sync_round(&mut state).await.unwrap();

    assert_eq!((tally.elsewhere, tally.statuses), (0, 1));
    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [row(
            "Your order has shipped",
            false,
            MessageStatus::Delivered
        )]
    );
    assert!(state.unmatched.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_colleagues_message_is_recorded_in_its_thread_once_as_sent_elsewhere() {
    let o = office();
    let ours = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    assert_eq!(runner.run_once().await.sent, 1);
    let our_sid = carrier.state().accepted[0].1.sid.clone();
    let mut events = runner.subscribe();
    // A colleague's desktop, on the same account, answers Ada from the same line; and one
    // from the console to someone we never wrote to.
    carrier.push_change(sent_from(
        &our_sid,
        SALES,
        ADA,
        "Your order has shipped",
        CarrierStatus::Delivered,
    ));
    carrier.push_change(at(
        sent_from(
            "SMcolleague1",
            SALES,
            ADA,
            "It left the depot at 9",
            CarrierStatus::Sending,
        ),
        o.engine.store().get_message(ours).unwrap().created_at + 5_000,
    ));
    carrier.push_change(sent_from(
        "SMconsole1",
        SALES,
        "+14155550177",
        "Your code is ready",
        CarrierStatus::Sent,
    ));
    let mut state = SyncState::default();

    let first = runner.inner.sync_round(&mut state).await.unwrap();
    assert_eq!(
        (first.elsewhere, first.statuses),
        (0, 1),
        "waits one more round"
    );
    let second = runner.inner.sync_round(&mut state).await.unwrap();
    assert_eq!(second.elsewhere, 2);
    for _ in 0..3 {
        assert_eq!(
            runner.inner.sync_round(&mut state).await.unwrap().elsewhere,
            0
        );
    }

    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [
            row("Your order has shipped", false, MessageStatus::Delivered),
            row("It left the depot at 9", true, MessageStatus::Sending),
        ]
    );
    assert_eq!(
        thread_of(&o, &o.sales, "+14155550177"),
        [row("Your code is ready", true, MessageStatus::Sent)],
        "a thread of its own"
    );
    let store = o.engine.store();
    assert_eq!(store.total_unread().unwrap(), 0, "ours, not news");
    assert!(store.list_outbox().unwrap().is_empty());
    assert_eq!(
        carrier.calls().len(),
        1,
        "only our own message was ever sent by us"
    );
    assert_eq!(o.status(ours), MessageStatus::Delivered);
    let seen = drain(&mut events);
    assert_eq!(inbound_events(&seen), 0, "no notification");
    let colleague = store
        .message_by_carrier_sid("SMcolleague1")
        .unwrap()
        .unwrap();
    assert!(seen.contains(&EngineEvent::MessageStatus {
        message_id: colleague.message_id,
        thread_id: colleague.thread_id,
        status: MessageStatus::Sending,
    }));

    // Its later statuses apply by its carrier id.
    carrier.push_change(CarrierMessage {
        error_code: Some("30005".into()),
        ..sent_from(
            "SMcolleague1",
            SALES,
            ADA,
            "It left the depot at 9",
            CarrierStatus::Undelivered,
        )
    });
    assert_eq!(
        runner.inner.sync_round(&mut state).await.unwrap().statuses,
        1
    );
    let m = store.get_message(colleague.message_id).unwrap();
    assert_eq!(
        (m.status, m.sent_elsewhere),
        (MessageStatus::Undelivered, true)
    );
    assert_eq!(m.error.unwrap().code.as_deref(), Some("30005"));
}

#[tokio::test(start_paused = true)]
async fn a_colleagues_message_while_a_job_of_its_thread_is_in_doubt_is_recorded_once_it_settled() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let store = o.engine.store();
    let job = store.outbox_job_for_message(m).unwrap().unwrap();
    store.mark_sending(job.id, crate::now_ms()).unwrap();
    let carrier = FakeCarrier::new();
    carrier.push_change(at(
        sent_from(
            "SMcolleague2",
            SALES,
            ADA,
            "Running late, sorry",
            CarrierStatus::Sent,
        ),
        job.created_at + 5_000,
    ));
    carrier.push_change(sent_from(
        "SMcolleague3",
        SALES,
        GRACE,
        "Your invoice",
        CarrierStatus::Sent,
    ));
    let runner = o.runner(&carrier);
    let mut state = SyncState::default();

    // Longer than any message used to wait before it was dropped.
    for _ in 0..(UNMATCHED_ROUNDS + 5) {
        runner.inner.sync_round(&mut state).await.unwrap();
    }
    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [row("Your order has shipped", false, MessageStatus::Sending)],
        "the job in doubt could be it"
    );
    assert_eq!(
        thread_of(&o, &o.sales, GRACE),
        [row("Your invoice", true, MessageStatus::Sent)],
        "another thread's does not wait"
    );

    store
        .mark_sent(
            job.id,
            "SM0000000000000000000000000000f00d",
            crate::now_ms(),
        )
        .unwrap();
    let tally = runner.inner.sync_round(&mut state).await.unwrap();

    assert_eq!(tally.elsewhere, 1);
    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [
            row("Your order has shipped", false, MessageStatus::Sent),
            row("Running late, sorry", true, MessageStatus::Sent),
        ]
    );
    assert!(carrier.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_waiting_message_survives_a_restart_and_a_one_off_run_records_it() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.push_change(sent_from(
        "SMcolleague4",
        SALES,
        ADA,
        "See you at 3",
        CarrierStatus::Sent,
    ));
    let runner = o.runner(&carrier);
    let saved = || {
        o.engine
            .store()
            .get_setting(SettingKey::SyncCursor)
            .unwrap()
            .unwrap()
    };

    runner
        .inner
        .sync_round(&mut SyncState::default())
        .await
        .unwrap();
    assert_eq!(saved()["unmatched"][0]["message"]["sid"], "SMcolleague4");
    assert!(thread_of(&o, &o.sales, ADA).is_empty());
    // An entry another version saved in a form this one cannot read costs only itself.
    let mut damaged = saved();
    damaged["unmatched"].as_array_mut().unwrap().insert(
        0,
        serde_json::json!({ "message": { "sid": "SMunreadable" } }),
    );
    o.engine
        .store()
        .set_setting(SettingKey::SyncCursor, &damaged)
        .unwrap();
    // A new process: the cursor is past the message, which the saved list still holds.
    runner
        .inner
        .sync_round(&mut SyncState::default())
        .await
        .unwrap();
    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [row("See you at 3", true, MessageStatus::Sent)]
    );
    assert_eq!(saved().get("unmatched"), None, "nothing waits any more");

    // A one-off run (the CLI's `run --once`) runs the round it waits for at once.
    carrier.push_change(sent_from(
        "SMcolleague5",
        SALES,
        ADA,
        "Or at 4",
        CarrierStatus::Sent,
    ));
    let summary = runner.run_once().await;
    assert_eq!(summary.elsewhere, 1);
    assert_eq!(thread_of(&o, &o.sales, ADA).len(), 2);
    assert_eq!(runner.run_once().await.elsewhere, 0);
    assert_eq!(thread_of(&o, &o.sales, ADA).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_first_sync_records_the_accounts_sent_messages_as_history() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.state().history_on_first_sync = true;
    carrier.push_change(at(
        inbound("SMh1", ADA, SALES, "Is it ready?"),
        1_700_000_000_000,
    ));
    carrier.push_change(at(
        sent_from("SMh2", SALES, ADA, "Yes, come by", CarrierStatus::Delivered),
        1_700_000_060_000,
    ));
    carrier.push_change(at(
        inbound("SMh3", ADA, SALES, "Thanks!"),
        1_700_000_120_000,
    ));
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    let summary = runner.run_once().await;

    assert_eq!((summary.inbound, summary.elsewhere), (2, 1));
    assert_eq!(
        thread_of(&o, &o.sales, ADA),
        [
            row("Is it ready?", false, MessageStatus::Received),
            row("Yes, come by", true, MessageStatus::Delivered),
            row("Thanks!", false, MessageStatus::Received),
        ],
        "the whole conversation, in order"
    );
    let seen = drain(&mut events);
    let history: Vec<&EngineEvent> = seen
        .iter()
        .filter(|e| matches!(e, EngineEvent::HistoryImported { .. }))
        .collect();
    assert_eq!(
        history,
        [
            &EngineEvent::HistoryImported { messages: 2 },
            &EngineEvent::HistoryImported { messages: 1 }
        ],
        "quietly, one event a round"
    );
    assert!(seen
        .iter()
        .all(|e| !matches!(e, EngineEvent::MessageStatus { .. })));
    assert_eq!(o.engine.store().total_unread().unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_message_from_a_number_the_account_does_not_have_is_dropped_after_a_while() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.push_change(sent_from(
        "SMother",
        "+14155550199",
        ADA,
        "Not from our lines",
        CarrierStatus::Sent,
    ));
    let runner = o.runner(&carrier);
    let mut state = SyncState::default();
    for _ in 0..(UNMATCHED_ROUNDS - 1) {
        runner.inner.sync_round(&mut state).await.unwrap();
    }
    assert_eq!(state.unmatched.len(), 1);
    runner.inner.sync_round(&mut state).await.unwrap();
    assert!(state.unmatched.is_empty());
    assert!(o
        .engine
        .store()
        .list_threads(None, 10, None)
        .unwrap()
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_carrier_whose_clock_is_off_still_gives_a_thread_one_time_line() {
    let o = office();
    let ours = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let sent_at = o.engine.store().get_message(ours).unwrap().created_at;
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    assert_eq!(runner.run_once().await.sent, 1);
    // The carrier's clock is 90 s ahead: its dates for what came a second and two after ours.
    carrier.state().clock_offset_ms = Some(90_000);
    carrier.push_change(at(
        sent_from(
            "SMcolleague6",
            SALES,
            ADA,
            "It left at 9",
            CarrierStatus::Sent,
        ),
        sent_at + 91_000,
    ));
    carrier.push_change(at(
        inbound("SMreply6", ADA, SALES, "Thanks!"),
        sent_at + 92_000,
    ));

    runner.run_once().await;

    let store = o.engine.store();
    let date = |sid: &str| {
        let m = store
            .message_by_carrier_sid(sid)
            .unwrap()
            .unwrap()
            .message_id;
        store.get_message(m).unwrap().created_at
    };
    assert_eq!(
        (date("SMcolleague6"), date("SMreply6")),
        (sent_at + 1_000, sent_at + 2_000),
        "on this computer's clock"
    );
    let bodies: Vec<String> = thread_of(&o, &o.sales, ADA)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        bodies,
        ["Your order has shipped", "It left at 9", "Thanks!"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_busy_accounts_first_sync_records_all_its_sent_messages() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.state().history_on_first_sync = true;
    for i in 0..2_500 {
        let to = format!("+1415555{:04}", i % 400);
        let m = sent_from(
            &format!("SMbusy{i:04}"),
            SALES,
            &to,
            "Your order has shipped",
            CarrierStatus::Delivered,
        );
        carrier.push_change(at(m, 1_700_000_000_000 + i * 1_000));
    }
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    assert_eq!(runner.run_once().await.elsewhere, 2_500);

    let history: u64 = drain(&mut events)
        .iter()
        .map(|e| match e {
            EngineEvent::HistoryImported { messages } => *messages,
            _ => 0,
        })
        .sum();
    assert_eq!(history, 2_500);
    let threads = o.engine.store().list_threads(None, 1_000, None).unwrap();
    assert_eq!(threads.len(), 400);
    assert_eq!(runner.run_once().await.elsewhere, 0);
}
