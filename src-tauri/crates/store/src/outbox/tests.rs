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

/// A text with a photo to `to`, accepted by the carrier as `sid`, then reported by it as
/// `status` (a later status change, as Twilio's 30003 arrives): no job is left.
fn carrier_reported(
    store: &Store,
    line: LineId,
    to: &str,
    sid: &str,
    status: MessageStatus,
) -> MessageId {
    let sent = store
        .enqueue_outgoing(
            &[NewOutgoing {
                key: key(line, to),
                body: "Your table is ready".into(),
                images: vec![NewImage {
                    kind: switchboard_core::model::ImageKind::Png,
                    bytes: b"\x89PNG\r\n\x1a\nphoto".to_vec(),
                    width: 4,
                    height: 3,
                }],
                client_id: format!("client-{sid}"),
            }],
            T0,
        )
        .unwrap()[0];
    store.mark_sending(sent.outbox_id, T0 + 1).unwrap();
    store.mark_sent(sent.outbox_id, sid, T0 + 2).unwrap();
    let error = MessageError {
        code: Some("30003".into()),
        message: "The recipient's phone is switched off or out of reach.".into(),
    };
    store
        .apply_delivery_status(sid, status, Some(&error), T0 + 3)
        .unwrap();
    sent.message_id
}

const SID: &str = "MM0123456789abcdef0123456789abcdef";

#[test]
fn a_message_the_carrier_failed_is_sent_again_as_a_new_message_and_the_failed_one_goes() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let failed = carrier_reported(
        &store,
        line,
        "+14155550142",
        SID,
        MessageStatus::Undelivered,
    );
    let thread = store.get_message(failed).unwrap().thread_id;

    let again = store
        .resend_carrier_failed(failed, None, "retry-1", T0 + 10)
        .unwrap();
    assert_eq!(
        again.thread_id, thread,
        "the same thread, so the same line and recipient"
    );
    let m = store.get_message(again.message_id).unwrap();
    assert_eq!(
        (m.direction, m.status, m.body.as_str(), m.created_at),
        (
            Direction::Outbound,
            MessageStatus::Queued,
            "Your table is ready",
            T0 + 10
        )
    );
    let photo = store.attachments(again.message_id).unwrap();
    assert_eq!(
        photo
            .iter()
            .map(|a| (&a.bytes[..], a.width, a.height))
            .collect::<Vec<_>>(),
        [(&b"\x89PNG\r\n\x1a\nphoto"[..], Some(4), Some(3))]
    );
    let jobs = store.list_outbox().unwrap();
    assert_eq!(
        jobs.iter()
            .map(|j| (j.message_id, j.client_id.as_str(), j.state))
            .collect::<Vec<_>>(),
        [(again.message_id, "retry-1", OutboxState::Queued)]
    );
    assert!(matches!(
        store.get_message(failed),
        Err(StoreError::MessageNotFound(_))
    ));
    assert_eq!(
        store.get_thread(thread).unwrap().last_message_id,
        again.message_id
    );

    // Pressed again: the failed message is gone, nothing more is queued.
    assert!(matches!(
        store.resend_carrier_failed(failed, None, "retry-2", T0 + 11),
        Err(StoreError::MessageNotFound(_))
    ));
    assert_eq!(store.list_outbox().unwrap().len(), 1);

    // The carrier lists the failed one again: it does not come back as sent elsewhere.
    listed_again_is_known(&store, line, MessageStatus::Undelivered);
}

/// The carrier lists the failed message (SID) again: the store knows it, and it does not come
/// back as sent elsewhere.
fn listed_again_is_known(store: &Store, line: LineId, status: MessageStatus) {
    let k = key(line, "+14155550142");
    let listed = crate::NewSentElsewhere {
        key: &k,
        body: "Your table is ready",
        carrier_sid: SID,
        created_at: T0,
        status,
        error: None,
        media: crate::InboundMedia::None,
    };
    assert_eq!(
        store.insert_sent_elsewhere_batch(&[listed]).unwrap(),
        [crate::Elsewhere::Known]
    );
}

#[test]
fn a_message_the_carrier_failed_can_be_sent_again_with_other_words() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let failed = carrier_reported(&store, line, "+14155550142", SID, MessageStatus::Failed);
    let again = store
        .resend_carrier_failed(failed, Some("Your table is ready now"), "retry-1", T0 + 10)
        .unwrap();
    assert_eq!(
        store.get_message(again.message_id).unwrap().body,
        "Your table is ready now"
    );
    assert_eq!(
        store.get_thread(again.thread_id).unwrap().preview,
        "Your table is ready now"
    );
}

#[test]
fn deleting_a_message_the_carrier_failed_forgets_it_for_good() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let failed = carrier_reported(&store, line, "+14155550142", SID, MessageStatus::Failed);
    let thread = store.delete_carrier_failed(failed).unwrap();
    assert!(matches!(
        store.get_message(failed),
        Err(StoreError::MessageNotFound(_))
    ));
    assert!(
        matches!(store.get_thread(thread), Err(StoreError::ThreadNotFound(_))),
        "its only message"
    );
    listed_again_is_known(&store, line, MessageStatus::Failed);
    assert!(
        store.list_threads(None, 10, None).unwrap().is_empty(),
        "nothing came back"
    );
}

#[test]
fn only_a_message_the_carrier_failed_is_sent_again_or_deleted_that_way() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let queued = enqueue(&store, line, "+14155550142", "c1").message_id;
    let delivered = carrier_reported(
        &store,
        line,
        "+14155550143",
        "MM0123456789abcdef0123456789abcde0",
        MessageStatus::Delivered,
    );
    let job_failed = enqueue(&store, line, "+14155550144", "c3");
    store
        .mark_failed(
            job_failed.outbox_id,
            &MessageError {
                code: Some("21211".into()),
                message: "Invalid number".into(),
            },
            T0 + 2,
        )
        .unwrap();
    let received = store
        .insert_inbound(&key(line, "+14155550145"), "Hi", "SM1", T0, None)
        .unwrap()
        .message_id;
    for message in [queued, delivered, job_failed.message_id, received] {
        assert!(
            matches!(
                store.resend_carrier_failed(message, None, "again", T0 + 10),
                Err(StoreError::InvalidInput { .. })
            ),
            "{message:?} was sent again"
        );
        assert!(
            matches!(
                store.delete_carrier_failed(message),
                Err(StoreError::InvalidInput { .. })
            ),
            "{message:?} was deleted"
        );
        store.get_message(message).unwrap();
    }
    assert!(matches!(
        store.resend_carrier_failed(MessageId(999), None, "again", T0 + 10),
        Err(StoreError::MessageNotFound(_))
    ));
    assert_eq!(store.list_outbox().unwrap().len(), 2, "nothing queued");
}

/// A composer's send and the removal of its draft are one write: the draft is gone exactly when
/// its messages are queued, and a refused send (a client id used before) leaves both as they were.
#[test]
fn a_draft_leaves_with_its_messages_in_one_write_and_stays_when_they_are_refused() {
    let (_dir, store) = new_store();
    let line = sales(&store);
    let draft = crate::DraftKey::Composer;
    let item = |client_id: &str| NewOutgoing {
        key: key(line, "+14155550142"),
        body: "See you at nine".into(),
        images: Vec::new(),
        client_id: client_id.into(),
    };
    store
        .save_draft(draft, r#"{"body":"See you at nine"}"#)
        .unwrap();
    enqueue(&store, line, "+14155550142", "used");
    let err = store
        .enqueue_outgoing_from_draft(&[item("fresh"), item("used")], T0, draft)
        .unwrap_err();
    assert_eq!(
        err.code(),
        switchboard_core::error_code::ErrorCode::DuplicateClientId,
        "{err}"
    );
    assert!(store.load_draft(draft).unwrap().is_some(), "refused: kept");
    assert_eq!(
        store.list_outbox().unwrap().len(),
        1,
        "nothing of it queued"
    );

    let made = store
        .enqueue_outgoing_from_draft(&[item("fresh")], T0, draft)
        .unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(store.load_draft(draft).unwrap(), None, "queued: gone");
    assert_eq!(store.list_outbox().unwrap().len(), 2);
}
