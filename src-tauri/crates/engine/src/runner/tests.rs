//! The runner's behaviour against the in-memory carrier of `testkit`, on tokio's paused clock.

use std::time::Duration;

use switchboard_carrier::{CarrierMessage, CarrierStatus};
use switchboard_core::model::MessageStatus;
use tokio::sync::broadcast::Receiver;

use switchboard_carrier::SendRequest;
use switchboard_core::model::MessageId;
use switchboard_store::OutboxState;

use switchboard_core::outbox as rules;

use super::testkit::*;
use super::*;

const ADA: &str = "+14155550142";
const GRACE: &str = "+14155550143";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn drain(rx: &mut Receiver<EngineEvent>) -> Vec<EngineEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn call_times(carrier: &FakeCarrier) -> Vec<u64> {
    carrier.calls().iter().map(|c| c.at).collect()
}

#[tokio::test(start_paused = true)]
async fn what_is_queued_goes_once_from_its_line() {
    let o = office();
    let a = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let b = o.send(&o.support, &[GRACE], "Ticket closed")[0];
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    let summary = runner.run_once().await;

    assert_eq!((summary.sent, summary.failed, summary.pending), (2, 0, 0));
    assert!(summary.synced);
    let accepted = carrier.state().accepted.clone();
    let from: Vec<&str> = accepted.iter().map(|(_, m)| m.from.as_str()).collect();
    assert_eq!(from, ["+14155550100", "+14155550101"]);
    assert_eq!(
        (o.status(a), o.status(b)),
        (MessageStatus::Sent, MessageStatus::Sent)
    );
    let events = drain(&mut events);
    assert!(events.contains(&EngineEvent::MessageStatus {
        message_id: a,
        thread_id: o.engine.store().get_message(a).unwrap().thread_id,
        status: MessageStatus::Sent
    }));
    assert_eq!(
        events.last(),
        Some(&EngineEvent::OutboxCount { pending: 0 })
    );
    assert!(o.engine.outbox().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_server_errors_are_retried_after_the_backoff() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::Timeout, Fault::Server]);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(10)).await;

    // 100 ms of latency per call, then 750 ms and 1.5 s of backoff; the first retry also
    // waits for the line's one-second spacing.
    assert_eq!(call_times(&carrier), [0, 1000, 2600]);
    assert_eq!(o.status(m), MessageStatus::Sent);
    let ids: Vec<String> = carrier.calls().into_iter().map(|c| c.client_id).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one idempotency key: {ids:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_is_retried_no_earlier_than_retry_after() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::RateLimited(secs(30))]);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(20)).await;
    let job = o.engine.outbox().unwrap().remove(0);
    assert_eq!(job.state, OutboxState::Queued);
    assert!(job.last_error.as_deref().unwrap().contains("RateLimited"));
    assert_eq!(o.status(m), MessageStatus::Queued);

    run_for(&runner, secs(20)).await;
    assert_eq!(o.status(m), MessageStatus::Sent);
    let times = call_times(&carrier);
    assert_eq!(times.len(), 2);
    assert_eq!(
        times[1] - times[0],
        30_100,
        "Retry-After counts from the answer"
    );
}

#[tokio::test(start_paused = true)]
async fn offline_messages_wait_with_growing_backoff_and_go_when_the_network_returns() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.set_offline(true);
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();
    let mut offline_seen = Vec::new();
    let mut back_after = Duration::ZERO;

    runner
        .run_until_stopped(async {
            tokio::time::sleep(secs(400)).await;
            offline_seen = drain(&mut events);
            assert_eq!(o.status(m), MessageStatus::Queued);
            assert_eq!(o.engine.store().pending_count().unwrap(), 1);
            // Back online. The next send attempt is minutes away (about 609 s), but the
            // sync's next poll (at most 45 s away) gets through and that sends at once.
            carrier.set_offline(false);
            let back = tokio::time::Instant::now();
            while o.status(m) != MessageStatus::Sent {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            back_after = back.elapsed();
        })
        .await;

    // Doubling from 750 ms (plus 100 ms per call, and the line's 1 s spacing at first).
    let times = call_times(&carrier);
    assert_eq!(
        times[..10],
        [0, 1000, 2600, 5700, 11800, 23900, 48000, 96100, 192200, 384300]
    );
    assert_eq!(times.len(), 11);
    assert!(back_after <= secs(46), "took {back_after:?}");
    assert!(offline_seen.contains(&EngineEvent::Connectivity { online: false }));
    assert!(offline_seen.contains(&EngineEvent::OutboxCount { pending: 1 }));
    let after = drain(&mut events);
    assert!(after.contains(&EngineEvent::Connectivity { online: true }));
    assert!(after.contains(&EngineEvent::OutboxCount { pending: 0 }));
}

#[tokio::test(start_paused = true)]
async fn the_network_back_sends_what_waits_at_once() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.set_offline(true);
    let runner = o.runner(&carrier);
    run_for(&runner, secs(100)).await;
    let before = carrier.calls().len();

    carrier.set_offline(false);
    runner.network_back();
    run_for(&runner, secs(1)).await;

    assert_eq!(o.status(m), MessageStatus::Sent);
    assert_eq!(carrier.calls().len(), before + 1);
}

#[tokio::test(start_paused = true)]
async fn one_refused_recipient_of_twenty_fails_alone_and_the_line_keeps_its_rate() {
    let o = office();
    let to: Vec<String> = (0..20).map(|i| format!("+1415555{:04}", 200 + i)).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let ids = o.send(&o.sales, &to, "We are closed on Monday");
    let carrier = FakeCarrier::new();
    carrier.state().refuse.push((
        to[7].into(),
        "21211".into(),
        "The 'To' number is not a valid phone number.".into(),
    ));
    let runner = o.runner(&carrier);

    let summary = runner.run_once().await;

    assert_eq!((summary.sent, summary.failed, summary.pending), (19, 1, 0));
    for (i, id) in ids.iter().enumerate() {
        let expected = if i == 7 {
            MessageStatus::Failed
        } else {
            MessageStatus::Sent
        };
        assert_eq!(o.status(*id), expected, "recipient {i}");
    }
    let failed = o.engine.store().get_message(ids[7]).unwrap();
    let error = failed.error.unwrap();
    assert_eq!(error.code.as_deref(), Some("21211"));
    assert_eq!(
        error.message,
        "The 'To' number is not a valid phone number."
    );
    // One line at one message per second: 20 calls over 19 seconds, never closer.
    assert_eq!(carrier.calls()[7].to, to[7]);
    let times = call_times(&carrier);
    assert_eq!(times.len(), 20);
    assert!(times.windows(2).all(|w| w[1] - w[0] >= 1000), "{times:?}");
    assert_eq!(*times.last().unwrap(), 19_000);
}

#[tokio::test(start_paused = true)]
async fn the_global_cap_bounds_the_requests_in_flight() {
    let o = office();
    let to: Vec<String> = (0..20).map(|i| format!("+1415555{:04}", 200 + i)).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    o.send(&o.sales, &to, "We are closed on Monday");
    let carrier = FakeCarrier::with(1_000.0, secs(1));
    let runner = o.runner_with(
        &carrier,
        RunnerConfig {
            max_in_flight: 4,
            ..RunnerConfig::default()
        },
    );

    assert_eq!(runner.run_once().await.sent, 20);
    assert_eq!(carrier.state().max_in_flight, 4);
}

#[tokio::test(start_paused = true)]
async fn order_is_kept_within_a_thread() {
    let o = office();
    for body in ["one", "two", "three"] {
        o.send(&o.sales, &[ADA], body);
    }
    o.send(&o.sales, &[GRACE], "other thread");
    let carrier = FakeCarrier::with(1_000.0, Duration::from_millis(100));
    carrier.fail_next(&[Fault::Server]);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(10)).await;

    let calls: Vec<String> = carrier.calls().into_iter().map(|c| c.body).collect();
    // "one" fails and is retried before "two" or "three" leave; the other thread does not
    // wait for it.
    assert_eq!(calls, ["one", "other thread", "one", "two", "three"]);
    assert_eq!(
        carrier.accepted_bodies(),
        ["other thread", "one", "two", "three"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_message_does_not_block_the_rest_of_its_thread() {
    let o = office();
    let ids: Vec<_> = ["one", "two", "three"]
        .iter()
        .map(|b| o.send(&o.sales, &[ADA], b)[0])
        .collect();
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::Permanent]);
    let runner = o.runner(&carrier);

    let summary = runner.run_once().await;

    assert_eq!((summary.sent, summary.failed), (2, 1));
    assert_eq!(o.status(ids[0]), MessageStatus::Failed);
    assert_eq!(carrier.accepted_bodies(), ["two", "three"]);
}

/// A job left `sending` by a process that died mid-request `ago`, behind which a later
/// message of the same thread waits.
fn crashed_mid_request(o: &Office, ago: Duration) -> (OutboxJob, SendRequest, MessageId) {
    let first = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let second = o.send(&o.sales, &[ADA], "It arrives tomorrow")[0];
    let store = o.engine.store();
    let job = store.outbox_job_for_message(first).unwrap().unwrap();
    let started_at = crate::now_ms() - ago.as_millis() as i64;
    store.mark_sending(job.id, started_at).unwrap();
    let request = SendRequest {
        from: o.sales.number.clone(),
        to: num(ADA),
        body: job.body.clone(),
        media: Vec::new(),
        client_id: job.client_id.clone(),
    };
    (store.outbox_job(job.id).unwrap(), request, second)
}

#[tokio::test(start_paused = true)]
async fn a_send_cut_by_a_crash_is_adopted_when_the_carrier_has_it() {
    let o = office();
    let (job, request, second) = crashed_mid_request(&o, secs(0));
    let carrier = FakeCarrier::new();
    let sid = "SM0000000000000000000000000000abcd";
    carrier.already_has(&request, sid);
    let runner = o.runner(&carrier);

    let summary = runner.run_once().await;

    assert_eq!((summary.adopted, summary.resent, summary.sent), (1, 0, 1));
    let calls: Vec<String> = carrier.calls().into_iter().map(|c| c.body).collect();
    assert_eq!(
        calls,
        ["It arrives tomorrow"],
        "the first was not sent again"
    );
    let adopted = o
        .engine
        .store()
        .message_by_carrier_sid(sid)
        .unwrap()
        .unwrap();
    assert_eq!(adopted.message_id, job.message_id);
    assert_eq!(adopted.status, MessageStatus::Sent);
    assert_eq!(o.status(second), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn an_adopted_message_takes_the_status_the_carrier_reached_meanwhile() {
    let o = office();
    let (job, request, _) = crashed_mid_request(&o, secs(0));
    let carrier = FakeCarrier::new();
    carrier.already_has(&request, "SM0000000000000000000000000000abcd");
    carrier.state().accepted[0].1.status = CarrierStatus::Delivered;
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    assert_eq!(runner.run_once().await.adopted, 1);

    assert_eq!(o.status(job.message_id), MessageStatus::Delivered);
    let statuses: Vec<MessageStatus> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::MessageStatus {
                message_id, status, ..
            } if message_id == job.message_id => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [MessageStatus::Sent, MessageStatus::Delivered]);
}

#[tokio::test(start_paused = true)]
async fn a_send_cut_by_a_crash_is_sent_again_once_when_the_carrier_lacks_it() {
    let o = office();
    // An hour ago: whatever it sent would be listed by now.
    let (job, _, _) = crashed_mid_request(&o, secs(3_600));
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);

    let summary = runner.run_once().await;

    assert_eq!((summary.adopted, summary.resent, summary.sent), (0, 1, 2));
    let calls = carrier.calls();
    let bodies: Vec<&str> = calls.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["Your order has shipped", "It arrives tomorrow"]);
    assert_eq!(
        calls[0].client_id, job.client_id,
        "the same idempotency key"
    );
    assert_eq!(o.status(job.message_id), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn a_crash_with_the_carrier_unreachable_waits_and_sends_nothing() {
    let o = office();
    let (job, _, second) = crashed_mid_request(&o, secs(3_600));
    let carrier = FakeCarrier::new();
    carrier.set_offline(true);
    let runner = o.runner(&carrier);

    let summary = runner.run_once().await;

    assert_eq!((summary.sent, summary.resent, summary.pending), (0, 0, 2));
    assert!(
        carrier.calls().is_empty(),
        "nothing resent, nothing overtook it"
    );
    assert_eq!(o.status(job.message_id), MessageStatus::Sending);
    assert_eq!(o.status(second), MessageStatus::Queued);
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_is_reconciled_not_resent() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::LostAnswer]);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(5)).await;

    assert_eq!(carrier.calls().len(), 1);
    assert_eq!(carrier.state().find_calls, 1);
    assert_eq!(o.status(m), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn a_send_that_never_answers_is_reconciled_not_resent() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    // Accepts, then hangs for ten minutes: longer than the runner waits.
    let carrier = FakeCarrier::with(1.0, secs(600));
    let runner = o.runner_with(
        &carrier,
        RunnerConfig {
            call_timeout: secs(30),
            ..RunnerConfig::default()
        },
    );
    carrier.already_has(
        &SendRequest {
            from: o.sales.number.clone(),
            to: num(ADA),
            body: "Your order has shipped".into(),
            media: Vec::new(),
            client_id: o.engine.outbox().unwrap()[0].client_id.clone(),
        },
        "SM00000000000000000000000000000042",
    );

    run_for(&runner, secs(40)).await;

    assert_eq!(carrier.calls().len(), 1);
    assert_eq!(o.status(m), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn a_second_runner_on_the_same_data_directory_is_refused() {
    let o = office();
    let carrier = FakeCarrier::new();
    let first = o.runner(&carrier);
    let dyn_carrier: Arc<dyn Carrier> = carrier.clone();

    let err = Runner::start(
        o.engine.clone(),
        dyn_carrier.clone(),
        RunnerConfig::default(),
    )
    .unwrap_err();

    assert_eq!(err.code().as_str(), "runner_already_running");
    assert!(
        err.to_string()
            .starts_with("another Switchboard is already sending from this data directory"),
        "{err}"
    );
    drop(first);
    // The lock file stays behind, as after a crash; only a live holder counts.
    assert!(o.dir.path().join("data").join(LOCK_FILE_NAME).exists());
    Runner::start(o.engine.clone(), dyn_carrier, RunnerConfig::default())
        .expect("the lock goes with its runner");
}

#[tokio::test(start_paused = true)]
async fn failed_messages_can_be_edited_and_retried_or_deleted() {
    let o = office();
    let a = o.send(&o.sales, &[ADA], "Your ordr has shipped")[0];
    let b = o.send(&o.sales, &[GRACE], "Gone")[0];
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::Permanent, Fault::Permanent]);
    let runner = o.runner(&carrier);
    assert_eq!(runner.run_once().await.failed, 2);
    let client_id = carrier.calls()[0].client_id.clone();

    // Only failed messages: a sent one is refused.
    o.engine
        .retry_failed_message(a, Some("Your order has shipped"))
        .unwrap();
    assert_eq!(
        o.engine
            .retry_failed_message(a, None)
            .unwrap_err()
            .code()
            .as_str(),
        "invalid_input"
    );
    let thread_b = o.engine.delete_failed_message(b).unwrap();
    assert_eq!(
        o.engine
            .store()
            .get_thread(thread_b)
            .unwrap_err()
            .code()
            .as_str(),
        "thread_not_found"
    );

    assert_eq!(runner.run_once().await.sent, 1);
    let last = carrier.calls().pop().unwrap();
    assert_eq!(
        (last.body.as_str(), last.client_id),
        ("Your order has shipped", client_id)
    );
    assert_eq!(o.status(a), MessageStatus::Sent);
    assert_eq!(
        o.engine
            .delete_failed_message(a)
            .unwrap_err()
            .code()
            .as_str(),
        "invalid_input"
    );
}

// --- Reconciliation against a carrier as it really behaves ------------------------------------

fn bodies(carrier: &FakeCarrier) -> Vec<String> {
    carrier.calls().into_iter().map(|c| c.body).collect()
}

fn error_code(o: &Office, id: MessageId) -> Option<String> {
    o.engine.store().get_message(id).unwrap().error?.code
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_is_adopted_once_a_slow_carrier_lists_it_not_sent_twice() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    // Lists what it creates 20 s late; a message may turn up until 30 s after its send began.
    carrier.lagging(secs(20), secs(30));
    carrier.fail_next(&[Fault::LostAnswer]);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(90)).await;

    assert_eq!(bodies(&carrier), ["Your order has shipped"], "sent once");
    assert_eq!(carrier.accepted_bodies().len(), 1);
    assert_eq!(o.status(m), MessageStatus::Sent);
}

/// Every message of a thread: (body, sent elsewhere), oldest first.
fn thread_rows(o: &Office, message: MessageId) -> Vec<(String, bool)> {
    let thread = o.engine.store().get_message(message).unwrap().thread_id;
    let mut rows = o.engine.thread(thread, 100, None).unwrap().messages;
    rows.reverse();
    rows.into_iter()
        .map(|m| (m.body, m.sent_elsewhere))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_the_sync_lists_first_is_adopted_not_recorded_elsewhere_nor_sent_twice() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    // The listing shows the account's sent messages, ours too, 20 s after they were made; a
    // message may turn up until 30 s after its send began.
    carrier.lagging(secs(20), secs(30));
    carrier.state().lists_sent = true;
    carrier.fail_next(&[Fault::LostAnswer]);
    // The sync polls every second: it lists the message before the job's next lookup.
    let runner = o.runner_with(
        &carrier,
        RunnerConfig {
            sync_interval: secs(1),
            ..RunnerConfig::default()
        },
    );

    run_for(&runner, secs(90)).await;

    let sid = carrier.state().accepted[0].1.sid.clone();
    let listed_at = carrier.state().listed_at[&sid];
    let synced_after: Vec<u64> = carrier
        .state()
        .changes_at
        .iter()
        .copied()
        .filter(|&t| t >= listed_at)
        .collect();
    let adopted_at = carrier
        .state()
        .found
        .iter()
        .find(|(_, n)| *n > 0)
        .map(|(at, _)| *at)
        .expect("a lookup found it");
    assert!(
        synced_after.len() >= 2 && synced_after[1] < adopted_at,
        "the sync listed it for two rounds ({synced_after:?}) before the lookup found it ({adopted_at})"
    );
    assert_eq!(bodies(&carrier), ["Your order has shipped"], "sent once");
    assert_eq!(carrier.accepted_bodies().len(), 1);
    assert_eq!(o.status(m), MessageStatus::Sent);
    assert_eq!(
        o.engine
            .store()
            .message_by_carrier_sid(&sid)
            .unwrap()
            .unwrap()
            .message_id,
        m,
        "adopted by its job"
    );
    assert_eq!(
        thread_rows(&o, m),
        [("Your order has shipped".to_owned(), false)],
        "not also recorded as sent elsewhere"
    );
}

#[tokio::test(start_paused = true)]
async fn our_messages_listed_by_the_sync_are_never_sent_elsewhere_and_a_colleagues_is_once() {
    let o = office();
    let first = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let second = o.send(&o.sales, &[ADA], "It arrives tomorrow")[0];
    let carrier = FakeCarrier::new();
    carrier.lagging(secs(1), secs(5));
    carrier.state().lists_sent = true;
    // The second's answer is lost on the way back.
    carrier.fail_next(&[Fault::Server, Fault::LostAnswer]);
    let runner = o.runner(&carrier);
    run_for(&runner, secs(20)).await;
    // Meanwhile a colleague, on another desktop of the account, writes to Ada from Sales.
    let colleague = CarrierMessage {
        sid: "SM0000000000000000000000000000c011".into(),
        from: o.sales.number.clone(),
        to: num(ADA),
        body: "Call me if it doesn't".into(),
        inbound: false,
        status: CarrierStatus::Delivered,
        created_at: o.engine.store().get_message(second).unwrap().created_at,
        error_code: None,
        error_message: None,
        media_urls: Vec::new(),
        num_media: 0,
        messaging_service: None,
    };
    carrier.push_change(colleague);
    let third = o.send(&o.sales, &[ADA], "Thanks for waiting")[0];

    run_for(&runner, secs(120)).await;

    assert_eq!(
        carrier.accepted_bodies().len(),
        3,
        "each of ours accepted once"
    );
    let mut rows = thread_rows(&o, first);
    rows.sort();
    assert_eq!(
        rows,
        [
            ("Call me if it doesn't".to_owned(), true),
            ("It arrives tomorrow".to_owned(), false),
            ("Thanks for waiting".to_owned(), false),
            ("Your order has shipped".to_owned(), false),
        ],
        "ours once each and never 'elsewhere', the colleague's once"
    );
    for m in [first, second, third] {
        assert_eq!(o.status(m), MessageStatus::Sent);
    }
    assert!(o.engine.store().list_outbox().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_message_the_carrier_never_got_is_sent_again_only_once_it_cannot_still_appear() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.lagging(secs(20), secs(30));
    // The connection breaks before the carrier has the request: nothing will ever be listed.
    carrier.fail_next(&[Fault::LostRequest]);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(90)).await;

    // Looked up again at the attempt's start + settle + the margin, and only then resent.
    let settled = (secs(30) + rules::RECONCILE_MARGIN).as_millis() as u64;
    assert_eq!(call_times(&carrier), [0, settled]);
    assert_eq!(carrier.accepted_bodies(), ["Your order has shipped"]);
    assert_eq!(o.status(m), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn a_send_cut_by_a_crash_just_now_waits_for_a_slow_carriers_listing() {
    let o = office();
    let (job, request, second) = crashed_mid_request(&o, secs(0));
    let carrier = FakeCarrier::new();
    carrier.lagging(secs(15), secs(30));
    let sid = "SM0000000000000000000000000000abcd";
    carrier.already_has(&request, sid);
    carrier.state().listed_at.insert(sid.into(), 15_000);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(60)).await;

    assert_eq!(
        bodies(&carrier),
        ["It arrives tomorrow"],
        "the first not again"
    );
    assert_eq!(o.status(job.message_id), MessageStatus::Sent);
    assert_eq!(o.status(second), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn an_identical_text_sent_earlier_is_never_taken_for_the_lost_one() {
    let o = office();
    let first = o.send(&o.sales, &[ADA], "OK, see you at 3")[0];
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    assert_eq!(runner.run_once().await.sent, 1);
    let second = o.send(&o.sales, &[ADA], "OK, see you at 3")[0];
    carrier.fail_next(&[Fault::LostAnswer]);

    run_for(&runner, secs(30)).await;

    let sids: Vec<String> = carrier
        .state()
        .accepted
        .iter()
        .map(|(_, m)| m.sid.clone())
        .collect();
    assert_eq!(sids.len(), 2, "each sent once");
    let store = o.engine.store();
    let holder = |sid: &str| {
        store
            .message_by_carrier_sid(sid)
            .unwrap()
            .unwrap()
            .message_id
    };
    assert_eq!((holder(&sids[0]), holder(&sids[1])), (first, second));
    assert_eq!(o.status(second), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn an_identical_text_lost_before_it_arrived_is_sent_again_once() {
    let o = office();
    o.send(&o.sales, &[ADA], "OK, see you at 3");
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    assert_eq!(runner.run_once().await.sent, 1);
    let second = o.send(&o.sales, &[ADA], "OK, see you at 3")[0];
    carrier.fail_next(&[Fault::LostRequest]);

    run_for(&runner, secs(60)).await;

    // The only candidate is the earlier message's: not this one, which goes again.
    assert_eq!(carrier.accepted_bodies().len(), 2);
    assert_eq!(bodies(&carrier).len(), 3);
    assert_eq!(o.status(second), MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn a_lookup_the_carrier_keeps_refusing_becomes_unconfirmed_and_blocks_nothing() {
    let o = office();
    let one = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let two = o.send(&o.sales, &[ADA], "It arrives tomorrow")[0];
    let carrier = FakeCarrier::new();
    // The carrier has it, but every lookup is refused.
    carrier.fail_next(&[Fault::LostAnswer]);
    carrier
        .state()
        .find_faults
        .extend(std::iter::repeat_n(Fault::Permanent, 50));
    let runner = o.runner(&carrier);

    run_for(&runner, secs(120)).await;

    assert_eq!(o.status(one), MessageStatus::Failed);
    assert_eq!(error_code(&o, one).as_deref(), Some("unconfirmed"));
    let error = o.engine.store().get_message(one).unwrap().error.unwrap();
    assert_eq!(
        error.message,
        "Switchboard couldn't confirm whether this message was sent. Retry checks with the \
         carrier first and sends it only if it never arrived; Delete removes it."
    );
    assert_eq!(o.status(two), MessageStatus::Sent, "the thread goes on");

    // Retry asks the carrier first: it has the message, so nothing is sent again.
    carrier.state().find_faults.clear();
    o.engine.retry_failed_message(one, None).unwrap();
    runner.wake();
    run_for(&runner, secs(30)).await;

    assert_eq!(o.status(one), MessageStatus::Sent);
    assert_eq!(
        bodies(&carrier),
        ["Your order has shipped", "It arrives tomorrow"]
    );
}

#[tokio::test(start_paused = true)]
async fn retrying_an_unconfirmed_message_sends_it_only_if_it_never_arrived() {
    let o = office();
    let one = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::LostRequest]);
    carrier
        .state()
        .find_faults
        .extend(std::iter::repeat_n(Fault::Permanent, 50));
    let runner = o.runner(&carrier);
    run_for(&runner, secs(120)).await;
    assert_eq!(error_code(&o, one).as_deref(), Some("unconfirmed"));

    // Its words cannot change: the carrier may have them as they were.
    let edit = o
        .engine
        .retry_failed_message(one, Some("Shipped!"))
        .unwrap_err();
    assert_eq!(edit.code().as_str(), "invalid_input");
    carrier.state().find_faults.clear();
    o.engine.retry_failed_message(one, None).unwrap();
    runner.wake();
    run_for(&runner, secs(30)).await;

    assert_eq!(o.status(one), MessageStatus::Sent);
    assert_eq!(carrier.accepted_bodies(), ["Your order has shipped"]);
}

#[tokio::test(start_paused = true)]
async fn an_unconfirmed_message_can_be_deleted() {
    let o = office();
    let one = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::LostRequest]);
    carrier
        .state()
        .find_faults
        .extend(std::iter::repeat_n(Fault::Permanent, 50));
    let runner = o.runner(&carrier);
    run_for(&runner, secs(120)).await;
    assert_eq!(error_code(&o, one).as_deref(), Some("unconfirmed"));

    o.engine.delete_failed_message(one).unwrap();

    assert!(o.engine.outbox().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_carrier_never_makes_a_message_unconfirmed() {
    let o = office();
    let (job, _, second) = crashed_mid_request(&o, secs(0));
    let carrier = FakeCarrier::new();
    carrier.set_offline(true);
    let runner = o.runner(&carrier);

    run_for(&runner, secs(3_600)).await;

    assert_eq!(o.status(job.message_id), MessageStatus::Sending);
    assert_eq!(error_code(&o, job.message_id), None);
    assert_eq!(o.status(second), MessageStatus::Queued);
    assert!(carrier.calls().is_empty());
}

// --- Backoffs that honour the carrier ---------------------------------------------------------

fn timed_bodies(carrier: &FakeCarrier) -> Vec<(u64, String)> {
    carrier
        .calls()
        .into_iter()
        .map(|c| (c.at, c.body))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_users_send_does_not_bring_a_rate_limited_message_forward() {
    let o = office();
    o.send(&o.sales, &[ADA], "Your order has shipped");
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::RateLimited(secs(30))]);
    let runner = o.runner(&carrier);

    runner
        .run_until_stopped(async {
            tokio::time::sleep(secs(5)).await;
            // What the shell does after the composer enqueued a message.
            o.send(&o.support, &[GRACE], "Ticket closed");
            runner.wake();
            tokio::time::sleep(secs(40)).await;
        })
        .await;

    assert_eq!(
        timed_bodies(&carrier),
        [
            (0, "Your order has shipped".to_owned()),
            (5_000, "Ticket closed".to_owned()),
            (30_100, "Your order has shipped".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn connectivity_back_does_not_bring_a_rate_limited_message_forward() {
    let o = office();
    o.send(&o.sales, &[ADA], "Your order has shipped");
    let carrier = FakeCarrier::new();
    carrier.fail_next(&[Fault::RateLimited(secs(30)), Fault::Timeout]);
    let runner = o.runner(&carrier);

    runner
        .run_until_stopped(async {
            tokio::time::sleep(secs(5)).await;
            // Noticed at the next idle look (the runner looks every 2 s from 100 ms); it times
            // out (offline), then gets through a second later (online again).
            o.send(&o.support, &[GRACE], "Ticket closed");
            tokio::time::sleep(secs(40)).await;
        })
        .await;

    assert_eq!(
        timed_bodies(&carrier),
        [
            (0, "Your order has shipped".to_owned()),
            (6_100, "Ticket closed".to_owned()),
            (7_100, "Ticket closed".to_owned()),
            (30_100, "Your order has shipped".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_sync_waits_out_retry_after_whatever_wakes_it() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier
        .state()
        .changes_faults
        .push_back(Fault::RateLimited(secs(30)));
    let runner = o.runner(&carrier);

    runner
        .run_until_stopped(async {
            tokio::time::sleep(secs(5)).await;
            // What the shell does when the OS reports the network back.
            runner.network_back();
            tokio::time::sleep(secs(30)).await;
        })
        .await;

    assert_eq!(carrier.state().changes_at[..2], [0, 30_000]);
}

// --- Account switches -------------------------------------------------------------------------

/// What connecting another account writes, in the order `connect_twilio` writes it: the
/// account, the carrier, then the account's numbers as the lines (the old ones leave).
fn switch_to_another_account(o: &Office) -> switchboard_core::model::Line {
    let store = o.engine.store();
    store
        .set_setting(
            switchboard_store::SettingKey::CarrierAccount,
            &serde_json::json!({ "name": "Front office", "hint": "AC…beef" }),
        )
        .unwrap();
    store
        .set_setting(
            switchboard_store::SettingKey::Carrier,
            &serde_json::json!("twilio"),
        )
        .unwrap();
    let number = num("+14155550150");
    o.engine
        .adopt_account_lines(&[switchboard_carrier::CarrierLine {
            sid: "PN0000000000000000000000000000beef".into(),
            number: number.clone(),
            label: "Front desk".into(),
            sms: true,
            mms: true,
        }])
        .unwrap();
    o.engine
        .lines()
        .unwrap()
        .into_iter()
        .find(|l| l.number == number)
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn switching_accounts_while_the_old_runner_ticks_sends_nothing_through_the_wrong_carrier() {
    let o = office();
    let held = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    let store = o.engine.store();
    let in_doubt = o.send(&o.support, &[GRACE], "Ticket closed")[0];
    let job = store.outbox_job_for_message(in_doubt).unwrap().unwrap();
    store.mark_sending(job.id, crate::now_ms()).unwrap();
    let old = FakeCarrier::new();
    old.set_offline(true);
    let runner = o.runner(&old);
    let mut welcome = None;

    runner
        .run_until_stopped(async {
            tokio::time::sleep(secs(3)).await;
            let front_desk = switch_to_another_account(&o);
            welcome = Some(o.send(&front_desk, &[GRACE], "Welcome to the front desk")[0]);
            runner.wake();
            // The old carrier answers again while the old runner still ticks.
            old.set_offline(false);
            tokio::time::sleep(secs(60)).await;
        })
        .await;
    drop(runner);

    assert!(
        old.calls().iter().all(|c| c.at < 3_000),
        "nothing left through the old carrier after the switch: {:?}",
        timed_bodies(&old)
    );
    let new = FakeCarrier::new();
    let runner = o.runner(&new);
    run_for(&runner, secs(30)).await;

    assert_eq!(bodies(&new), ["Welcome to the front desk"]);
    assert_eq!(o.status(welcome.unwrap()), MessageStatus::Sent);
    assert_eq!(
        new.state().find_calls,
        0,
        "the old account's doubt is its own"
    );
    assert_eq!(o.status(held), MessageStatus::Queued);
    assert_eq!(o.status(in_doubt), MessageStatus::Sending);
}

#[tokio::test(start_paused = true)]
async fn a_runner_stopped_mid_send_leaves_nothing_in_flight_for_the_next_one() {
    let o = office();
    let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
    // The first carrier never answers in time; the runner is stopped while its send hangs.
    let hanging = FakeCarrier::with(1.0, secs(600));
    let runner = o.runner_with(
        &hanging,
        RunnerConfig {
            shutdown_grace: secs(1),
            ..RunnerConfig::default()
        },
    );
    run_for(&runner, secs(2)).await;
    drop(runner);

    // Taken over at once, with no moment for the abandoned send to linger: the lock is free.
    let next = FakeCarrier::new();
    let runner = o.runner(&next);
    run_for(&runner, secs(30)).await;

    assert!(
        hanging.accepted_bodies().is_empty(),
        "abandoned before it arrived"
    );
    assert_eq!(next.accepted_bodies(), ["Your order has shipped"]);
    assert_eq!(o.status(m), MessageStatus::Sent);
}
