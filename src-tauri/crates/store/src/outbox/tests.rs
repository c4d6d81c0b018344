//! What the runner and the sync read of the outbox, and the user's retry or deletion of a failed
//! message: each checked through the store's API, from enqueueing on.

use super::*;
use crate::testutil::{key, new_store, num};
use crate::MessageError;

const T0: i64 = 1_700_000_000_000;

fn enqueue(store: &Store, line: LineId, to: &str, client_id: &str) -> crate::Enqueued {
    store
        .enqueue_outgoing(
            &[NewOutgoing {
                key: key(line, to),
                body: "See you at nine".into(),
                images: Vec::new(),
                client_id: client_id.into(),
            }],
            T0,
        )
        .unwrap()[0]
}

fn sales(store: &Store) -> LineId {
    store
        .add_line(&num("+14155550100"), "Sales", "#336699")
        .unwrap()
        .id
}

#[test]
fn pending_lists_queued_and_sending_oldest_first_but_not_failed() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let a = enqueue(&store, line, "+14155550142", "c1");
    let b = enqueue(&store, line, "+14155550142", "c2");
    let c = enqueue(&store, line, "+14155550143", "c3");
    store.mark_sending(a.outbox_id, T0 + 1).unwrap();
    store
        .mark_failed(
            c.outbox_id,
            &MessageError {
                code: Some("21211".into()),
                message: "Invalid number".into(),
            },
            T0 + 2,
        )
        .unwrap();
    let got: Vec<(OutboxId, ThreadId, OutboxState)> = store
        .pending_outbox()
        .unwrap()
        .into_iter()
        .map(|p| {
            assert_eq!(p.line_id, line);
            (p.id, p.thread_id, p.state)
        })
        .collect();
    assert_eq!(
        got,
        [
            (a.outbox_id, a.thread_id, OutboxState::Sending),
            (b.outbox_id, b.thread_id, OutboxState::Queued),
        ]
    );
}

#[test]
fn requeue_all_now_brings_backoffs_forward_only() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let a = enqueue(&store, line, "+14155550142", "c1");
    let b = enqueue(&store, line, "+14155550143", "c2");
    for (job, due) in [(a.outbox_id, T0 + 60_000), (b.outbox_id, T0 + 500)] {
        store.mark_sending(job, T0).unwrap();
        store.mark_retry(job, due, None, "offline", T0).unwrap();
    }
    assert_eq!(store.requeue_all_now(T0 + 1_000).unwrap(), 1);
    let due = |id| store.outbox_job(id).unwrap().next_attempt_at;
    assert_eq!(due(a.outbox_id), T0 + 1_000);
    assert_eq!(due(b.outbox_id), T0 + 500, "never pushed later");
}

#[test]
fn requeue_all_now_never_brings_a_job_before_its_retry_after() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let check = |due: i64, not_before: Option<i64>, expected: i64| {
        let to = format!("+1415555{:04}", 100 + due % 10_000);
        let job = enqueue(&store, line, &to, &format!("c{due}-{not_before:?}")).outbox_id;
        store.mark_sending(job, T0).unwrap();
        store
            .mark_retry(job, due, not_before, "rate limited", T0)
            .unwrap();
        store.requeue_all_now(T0 + 1_000).unwrap();
        assert_eq!(
            store.outbox_job(job).unwrap().next_attempt_at,
            expected,
            "due {due}, not before {not_before:?}"
        );
    };
    // A backoff is cut short; a Retry-After is not, even when our backoff ends later.
    check(T0 + 60_000, None, T0 + 1_000);
    check(T0 + 60_000, Some(T0 + 30_000), T0 + 30_000);
    check(T0 + 30_000, Some(T0 + 30_000), T0 + 30_000);
    check(T0 + 60_000, Some(T0 + 500), T0 + 1_000);
    check(T0 + 500, Some(T0 + 500), T0 + 500);
}

#[test]
fn an_unconfirmed_message_retried_is_in_doubt_again_from_its_attempt() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let job = enqueue(&store, line, "+14155550142", "c1");
    store.mark_sending(job.outbox_id, T0 + 1).unwrap();
    store
        .mark_failed(
            job.outbox_id,
            &MessageError {
                code: Some("unconfirmed".into()),
                message: "Switchboard couldn't confirm whether this message was sent.".into(),
            },
            T0 + 2,
        )
        .unwrap();

    store.reconcile_failed(job.outbox_id, T0 + 3).unwrap();

    let again = store.outbox_job(job.outbox_id).unwrap();
    assert_eq!(
        (again.state, again.attempts, again.attempt_started_at),
        (OutboxState::Sending, 1, Some(T0 + 1))
    );
    let message = store.get_message(job.message_id).unwrap();
    assert_eq!(
        (message.status, message.error),
        (MessageStatus::Sending, None)
    );
    // Only a failed job: one in doubt already is the runner's.
    assert_eq!(
        store
            .reconcile_failed(job.outbox_id, T0 + 4)
            .unwrap_err()
            .code()
            .as_str(),
        "outbox_job_state"
    );
}

#[test]
fn messages_are_found_by_carrier_sid() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let sent = enqueue(&store, line, "+14155550142", "c1");
    store.mark_sending(sent.outbox_id, T0).unwrap();
    // A Twilio-shaped sid (stored compactly) and a free-form one.
    let twilio_sid = "SM0123456789abcdef0123456789abcdef";
    store.mark_sent(sent.outbox_id, twilio_sid, T0).unwrap();
    let inbound = store
        .insert_inbound(&key(line, "+14155550143"), "Hi", "sandbox-7", T0, None)
        .unwrap();
    let check = |sid: &str, expected: Option<(MessageId, Direction, MessageStatus)>| {
        let got = store
            .message_by_carrier_sid(sid)
            .unwrap()
            .map(|m| (m.message_id, m.direction, m.status));
        assert_eq!(got, expected, "{sid}");
    };
    check(
        twilio_sid,
        Some((sent.message_id, Direction::Outbound, MessageStatus::Sent)),
    );
    check(
        "sandbox-7",
        Some((
            inbound.message_id,
            Direction::Inbound,
            MessageStatus::Received,
        )),
    );
    check("SMffffffffffffffffffffffffffffffff", None);
}

#[test]
fn only_failed_messages_are_deleted_and_threads_follow() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let first = enqueue(&store, line, "+14155550142", "c1");
    let second = enqueue(&store, line, "+14155550142", "c2");
    let alone = enqueue(&store, line, "+14155550143", "c3");

    fn code<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
        r.unwrap_err().code().as_str()
    }
    assert_eq!(
        code(store.delete_failed_message(second.message_id)),
        "outbox_job_state"
    );
    assert_eq!(
        code(store.delete_failed_message(MessageId(999))),
        "message_not_found"
    );

    let failure = MessageError {
        code: Some("21610".into()),
        message: "The recipient has opted out".into(),
    };
    for job in [second.outbox_id, alone.outbox_id] {
        store.mark_failed(job, &failure, T0 + 1).unwrap();
    }
    assert_eq!(
        store
            .outbox_job_for_message(second.message_id)
            .unwrap()
            .map(|j| j.state),
        Some(OutboxState::Failed)
    );
    assert_eq!(
        store.delete_failed_message(second.message_id).unwrap(),
        second.thread_id
    );
    assert_eq!(
        code(store.get_message(second.message_id)),
        "message_not_found"
    );
    assert_eq!(
        store.outbox_job_for_message(second.message_id).unwrap(),
        None
    );
    assert_eq!(
        store.get_thread(first.thread_id).unwrap().last_message_id,
        first.message_id,
        "the thread shows its previous message"
    );

    store.delete_failed_message(alone.message_id).unwrap();
    assert_eq!(
        code(store.get_thread(alone.thread_id).map(|t| t.id)),
        "thread_not_found"
    );

    // A sent message has no job any more and is not the outbox's to delete.
    store.mark_sending(first.outbox_id, T0 + 2).unwrap();
    store.mark_sent(first.outbox_id, "SM1", T0 + 3).unwrap();
    assert_eq!(
        code(store.delete_failed_message(first.message_id)),
        "invalid_input"
    );
}
