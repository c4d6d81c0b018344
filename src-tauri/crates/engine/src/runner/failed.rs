//! The user's hand on failed messages: retry (optionally with an edited body, the same
//! idempotency key) or delete. A message the carrier would not confirm is failed too, but its
//! retry asks the carrier first and sends only if the message never arrived. A message the
//! carrier accepted and then reported failed or undelivered (Twilio's 30001…30008, a status
//! the sync records) has no job any more: its retry is a new message with its words and images
//! in its thread, and the failed one goes — the thread then reads as the person wrote it, once,
//! with the copy that is on its way — see `Store::resend_carrier_failed`.

use switchboard_core::composer::{ComposeError, MAX_BODY_CHARS};
use switchboard_core::error_code::ErrorCode;
use switchboard_core::model::{MessageId, ThreadId};
use switchboard_core::outbox::{self as rules, Job, JobEvent, JobState};
use switchboard_store::{CarrierFailed, OutboxJob, OutboxState};

use crate::{Engine, EngineError};

impl Engine {
    /// Queues a failed message again, due now, optionally with an edited body (the idempotency
    /// key stays the same); an unconfirmed one (see [`JobState::Unconfirmed`]) goes back to the
    /// runner in doubt instead, to be looked up before anything is sent, and keeps its words.
    /// A message the carrier reported failed is sent again as a new message (see the module's
    /// comment). Answers the message that will be sent: `message`, or the new one.
    /// Call [`crate::Runner::wake`] afterwards for the runner to see it at once.
    pub fn retry_failed_message(
        &self,
        message: MessageId,
        new_body: Option<&str>,
    ) -> crate::Result<MessageId> {
        let job = match self.failure(message)? {
            Failure::Job(job) => job,
            Failure::Carrier(failed) => {
                // A new message, checked as a reply in its thread would be: a line that left
                // the account (or cannot send, or lost MMS) refuses it, and the failed one stays.
                let body = new_body.unwrap_or(&failed.body);
                self.check_reply(&failed.key, body, &failed.images)?;
                let client_id = uuid::Uuid::new_v4().to_string();
                let again = self.store.resend_carrier_failed(
                    message,
                    new_body,
                    &client_id,
                    crate::now_ms(),
                )?;
                return Ok(again.message_id);
            }
        };
        if let Some(body) = new_body {
            let chars = body.chars().count();
            if chars > MAX_BODY_CHARS {
                return Err(ComposeError::BodyTooLong {
                    chars,
                    limit: MAX_BODY_CHARS,
                }
                .into());
            }
        }
        let now = crate::now_ms();
        let stored = Job {
            attempts: u32::try_from(job.attempts).unwrap_or(u32::MAX),
            state: self.failed_state(&job)?,
        };
        let next = rules::step(&stored, JobEvent::UserRetry { now }).map_err(|refused| {
            EngineError::Invalid {
                what: "message",
                why: format!("It can't be retried ({refused})."),
            }
        })?;
        match next.state {
            JobState::Unknown { .. } if new_body.is_some() => Err(EngineError::Invalid {
                what: "message",
                why: "Its words can't be changed: the carrier may already have it as it was. \
                      Retry it as it is, or delete it and write a new one."
                    .into(),
            }),
            JobState::Unknown { .. } => Ok(self.store.reconcile_failed(job.id, now)?),
            _ => Ok(self.store.retry_failed(job.id, new_body, now)?),
        }
        .map(|()| message)
    }

    /// A failed job as the outbox rules see it: failed, or unconfirmed (its message's code).
    fn failed_state(&self, job: &OutboxJob) -> crate::Result<JobState> {
        let error = self.store.get_message(job.message_id)?.error;
        let code = error.as_ref().and_then(|e| e.code.clone());
        Ok(match job.attempt_started_at {
            Some(started_at) if code.as_deref() == Some(ErrorCode::Unconfirmed.as_str()) => {
                JobState::Unconfirmed { started_at }
            }
            _ => JobState::Failed {
                code,
                sentence: error.map(|e| e.message).unwrap_or_default(),
            },
        })
    }

    /// Deletes a failed message (cancels it). Returns its thread, which disappears when the
    /// message was its only one.
    pub fn delete_failed_message(&self, message: MessageId) -> crate::Result<ThreadId> {
        Ok(match self.failure(message)? {
            Failure::Job(_) => self.store.delete_failed_message(message)?,
            Failure::Carrier(_) => self.store.delete_carrier_failed(message)?,
        })
    }

    fn failure(&self, message: MessageId) -> crate::Result<Failure> {
        match self.store.outbox_job_for_message(message)? {
            Some(job) if job.state == OutboxState::Failed => Ok(Failure::Job(job)),
            Some(_) => Err(EngineError::Invalid {
                what: "message",
                why: "It has not failed: it is still waiting to be sent.".into(),
            }),
            None => match self.store.carrier_failed(message)? {
                Some(failed) => Ok(Failure::Carrier(failed)),
                None => Err(EngineError::Invalid {
                    what: "message",
                    why: "It has not failed: only a failed message can be retried or deleted."
                        .into(),
                }),
            },
        }
    }
}

/// How a message failed, which says what retrying it means.
enum Failure {
    /// Its job waits for the user (a permanent error, or a message the carrier would not
    /// confirm): the same message is queued again.
    Job(OutboxJob),
    /// The carrier accepted it, then reported it failed or undelivered: it is sent again as a
    /// new message.
    Carrier(CarrierFailed),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchboard_carrier::{CarrierMessage, CarrierStatus};
    use switchboard_core::model::{MessageId, MessageStatus};
    use switchboard_store::AccountLine;

    use crate::runner::testkit::*;

    const ADA: &str = "+14155550142";

    /// `body` to Ada from Sales, accepted by the carrier, then reported by it as undelivered with
    /// Twilio's `code`, as the sync records such a status; answers the message and its sid.
    async fn reported_undelivered(
        o: &Office,
        carrier: &std::sync::Arc<FakeCarrier>,
        body: &str,
        code: &str,
    ) -> (MessageId, String) {
        let message = o.send(&o.sales, &[ADA], body)[0];
        let runner = o.runner(carrier);
        assert_eq!(runner.run_once().await.sent, 1);
        let (_, accepted) = carrier.state().accepted.last().cloned().unwrap();
        carrier.push_change(CarrierMessage {
            error_code: Some(code.into()),
            error_message: Some("Queue overflow".into()),
            ..message_from(&accepted, CarrierStatus::Undelivered)
        });
        assert_eq!(runner.run_once().await.statuses, 1);
        assert_eq!(o.status(message), MessageStatus::Undelivered);
        (message, accepted.sid)
    }

    fn message_from(accepted: &CarrierMessage, status: CarrierStatus) -> CarrierMessage {
        CarrierMessage {
            status,
            ..accepted.clone()
        }
    }

    fn bodies_at_carrier(carrier: &FakeCarrier, body: &str) -> usize {
        carrier
            .accepted_bodies()
            .iter()
            .filter(|b| b.as_str() == body)
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn retry_on_a_message_the_carrier_failed_sends_it_once_as_a_new_message() {
        let o = office();
        let carrier = FakeCarrier::new();
        let body = "Your table is ready";
        let (failed, _) = reported_undelivered(&o, &carrier, body, "30001").await;
        let sentence = o.engine.store().get_message(failed).unwrap().error.unwrap();
        assert!(sentence.message.contains("press Retry"), "{sentence:?}");

        // Pressed twice before anything is sent: the second finds it already sent again.
        o.engine.retry_failed_message(failed, None).unwrap();
        let twice = o.engine.retry_failed_message(failed, None).unwrap_err();
        assert_eq!(twice.code().as_str(), "message_not_found");
        let runner = o.runner(&carrier);
        assert_eq!(runner.run_once().await.sent, 1);
        assert_eq!(runner.run_once().await.sent, 0);

        assert_eq!(
            bodies_at_carrier(&carrier, body),
            2,
            "the first send and one retry"
        );
        let calls = carrier.calls();
        assert_ne!(
            calls[0].client_id, calls[1].client_id,
            "a new message, not the one the carrier already holds"
        );
        assert_eq!(calls[1].to, ADA);
        let thread = o.engine.threads(None, 10, None).unwrap();
        let detail = o.engine.thread(thread[0].id, 10, None).unwrap();
        let shown: Vec<_> = detail
            .messages
            .iter()
            .map(|m| (m.body.as_str(), m.status))
            .collect();
        assert_eq!(shown, [(body, MessageStatus::Sent)], "the failed copy went");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retried_message_goes_once_through_a_lost_answer_and_a_late_listing() {
        let o = office();
        let carrier = FakeCarrier::new();
        let body = "See you at nine";
        let (failed, _) = reported_undelivered(&o, &carrier, body, "30003").await;
        // The retry's send is created but its answer is lost (a 5xx after create), and the
        // carrier lists it only 20 s later; its lookup matches the words, so it first finds the
        // failed copy, whose id only `forgotten_sids` still holds. The sync lists sent messages.
        carrier.lagging(Duration::from_secs(20), Duration::from_secs(30));
        carrier.state().lists_sent = true;
        carrier.fail_next(&[Fault::LostAnswer]);
        let retried = o.engine.retry_failed_message(failed, None).unwrap();
        let runner = o.runner(&carrier);
        run_for(&runner, Duration::from_secs(120)).await;

        assert_eq!(
            bodies_at_carrier(&carrier, body),
            2,
            "the first send and one retry"
        );
        assert!(
            o.engine.outbox().unwrap().is_empty(),
            "{:?}",
            o.engine.outbox()
        );
        let second_sid = carrier.state().accepted[1].1.sid.clone();
        let retried_row = o
            .engine
            .store()
            .message_by_carrier_sid(&second_sid)
            .unwrap();
        assert_eq!(
            retried_row.map(|m| m.message_id),
            Some(retried),
            "the retry adopted the carrier's second send, not the failed copy's id"
        );
        assert_eq!(o.status(retried), MessageStatus::Sent);
        let thread = o.engine.store().get_message(retried).unwrap().thread_id;
        let copies = o
            .engine
            .thread(thread, 100, None)
            .unwrap()
            .messages
            .iter()
            .filter(|m| m.body == body)
            .count();
        assert_eq!(copies, 1, "the late listing added no copy sent elsewhere");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_is_refused_as_a_reply_would_be_when_the_line_left_the_account_and_the_failed_copy_stays(
    ) {
        let o = office();
        let carrier = FakeCarrier::new();
        let body = "Your table is ready";
        let (failed, _) = reported_undelivered(&o, &carrier, body, "30003").await;
        // A Twilio account is connected that has Support's number, not Sales's.
        let support = AccountLine {
            number: o.support.number.clone(),
            label: o.support.label.clone(),
            carrier_sid: Some("PN14155550101".into()),
            sms: true,
            mms: true,
        };
        let adopted = o
            .engine
            .store()
            .adopt_lines(&[support], &|_| "#3366cc".into())
            .unwrap();
        assert_eq!(adopted.left, 1, "Sales left the account");

        let refused = o.engine.retry_failed_message(failed, None).unwrap_err();
        assert_eq!(refused.code().as_str(), "thread_line_gone");
        let kept = o.engine.store().get_message(failed).unwrap();
        assert_eq!(
            (kept.body.as_str(), kept.status),
            (body, MessageStatus::Undelivered),
            "the failed message keeps its words and its error"
        );
        assert!(o.engine.outbox().unwrap().is_empty(), "nothing queued");
    }

    #[tokio::test(start_paused = true)]
    async fn delete_removes_a_message_the_carrier_failed_and_the_sync_never_brings_it_back() {
        let o = office();
        let carrier = FakeCarrier::new();
        let (failed, sid) = reported_undelivered(&o, &carrier, "Wrong number?", "30005").await;
        let thread = o.engine.delete_failed_message(failed).unwrap();
        assert_eq!(
            o.engine
                .store()
                .get_thread(thread)
                .unwrap_err()
                .code()
                .as_str(),
            "thread_not_found"
        );

        // The carrier reports it again (a late status, a listing of the account's messages).
        let (_, accepted) = carrier.state().accepted.last().cloned().unwrap();
        assert_eq!(accepted.sid, sid);
        let runner = o.runner(&carrier);
        for _ in 0..4 {
            carrier.push_change(message_from(&accepted, CarrierStatus::Undelivered));
            runner.run_once().await;
        }
        assert!(o.engine.threads(None, 10, None).unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_delivered_message_is_neither_retried_nor_deleted() {
        let o = office();
        let carrier = FakeCarrier::new();
        let message = o.send(&o.sales, &[ADA], "Thanks!")[0];
        let runner = o.runner(&carrier);
        runner.run_once().await;
        let (_, accepted) = carrier.state().accepted.last().cloned().unwrap();
        carrier.push_change(message_from(&accepted, CarrierStatus::Delivered));
        runner.run_once().await;
        assert_eq!(o.status(message), MessageStatus::Delivered);
        for refused in [
            o.engine.retry_failed_message(message, None).map(|_| ()),
            o.engine.delete_failed_message(message).map(|_| ()),
        ] {
            assert_eq!(refused.unwrap_err().code().as_str(), "invalid_input");
        }
        assert_eq!(carrier.calls().len(), 1);
    }
}
