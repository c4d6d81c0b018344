//! One carrier call for one job, and what it leaves in the store: a send (the job is already
//! marked `sending`), a reconciliation of a job whose outcome is unknown (a crash, a lost
//! answer), and the recording of the next state the outbox rules chose.

use switchboard_carrier::{CarrierError, CarrierMessage, Media, SendRequest};
use switchboard_core::error_code::ErrorCode;
use switchboard_core::model::MessageStatus;
use switchboard_core::optout;
use switchboard_core::outbox::{self as rules, Doubt, Job, JobEvent, JobState, Lookup, Verdict};
use switchboard_store::{MessageError, OutboxJob, StoreError};

use super::sync::{carrier_error, delivery_status};
use super::{send_unanswered, unanswered, Inner};
use crate::EngineError;

impl Inner {
    /// The request for a job, the same on every attempt (the client id included).
    pub(super) fn request_for(&self, job: &OutboxJob) -> Result<SendRequest, EngineError> {
        let store = self.engine.store();
        let line = store.get_line(job.line_id)?;
        let media = if job.has_attachment {
            store
                .attachments(job.message_id)?
                .into_iter()
                .map(|a| match a.image_kind() {
                    Some(kind) => Ok(Media {
                        kind,
                        bytes: a.bytes,
                    }),
                    None => Err(EngineError::Store(switchboard_store::StoreError::Corrupt(
                        format!("message {} holds media that is no image", job.message_id),
                    ))),
                })
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(SendRequest {
            from: line.number,
            to: job.counterpart.clone(),
            body: job.body.clone(),
            media,
            client_id: job.client_id.clone(),
        })
    }

    /// The carrier's 21610 for a job whose recipient opted out of its line, if they did. A
    /// store that can't be read lets the carrier decide.
    fn opted_out(&self, job: &OutboxJob) -> Option<CarrierError> {
        match self.engine.store().opt_out(job.line_id, &job.counterpart) {
            Ok(Some(_)) => Some(CarrierError::Permanent {
                code: Some(optout::TWILIO_OPTED_OUT.to_owned()),
                message: switchboard_carrier::twilio::human_sentence(21610)
                    .unwrap_or("This person has opted out of this line.")
                    .to_owned(),
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "cannot read the opt-outs");
                None
            }
        }
    }

    /// Hands one job (already marked `sending`) to the carrier and records what happened.
    pub(super) async fn send(
        &self,
        job: OutboxJob,
        request: SendRequest,
        started_at: i64,
    ) -> Outcome {
        // A recipient who opted out since the message was queued (a STOP synced meanwhile, a
        // scheduled message) is not sent to: refused here as the carrier would refuse it.
        let result = match self.opted_out(&job) {
            Some(refusal) => Err(refusal),
            None => {
                self.call(self.carrier.send(&request), send_unanswered)
                    .await
            }
        };
        let attempt = Job {
            attempts: u32::try_from(job.attempts + 1).unwrap_or(u32::MAX),
            state: JobState::Sending { started_at },
        };
        let now = self.now();
        let event = match &result {
            Ok(accepted) => JobEvent::Accepted {
                sid: accepted.sid.clone(),
            },
            Err(CarrierError::Transient { retry_after, .. }) => JobEvent::Transient {
                now,
                retry_after: *retry_after,
                jitter: (self.config.jitter)(),
            },
            Err(CarrierError::Permanent { code, message }) => JobEvent::Permanent {
                code: code.clone(),
                sentence: message.clone(),
            },
            Err(CarrierError::Unknown { .. }) => JobEvent::OutcomeUnknown,
        };
        let why = result.as_ref().err().map(describe);
        match rules::step(&attempt, event) {
            Ok(next) => self.record(&job, next.state, why.as_deref(), now),
            Err(refused) => {
                tracing::error!(job = %job.id, %refused, "outbox rule refused a send outcome");
                Outcome::Unknown
            }
        }
    }

    /// Asks the carrier whether it already has a job left `sending` (by a crash, or by an
    /// answer that never came), then adopts it, looks again later, queues it to be sent again
    /// (only once it can no longer turn up: see [`rules::judge`]), or hands it to the user as
    /// unconfirmed. `doubt` is what earlier lookups of this job learnt (none at the first).
    pub(super) async fn reconcile(
        &self,
        job: OutboxJob,
        request: SendRequest,
        doubt: Option<Doubt>,
    ) -> Outcome {
        let started_at = job.attempt_started_at.unwrap_or(job.created_at);
        let mut doubt =
            doubt.unwrap_or_else(|| Doubt::new(started_at, self.carrier.capabilities().settle));
        let result = self
            .call(self.carrier.find_sent(&request, started_at), unanswered)
            .await;
        let now = self.now();
        let lookup = match result {
            Ok(candidates) => match self.adopt_first(&job, candidates, now) {
                Ok(true) => return Outcome::Adopted,
                Ok(false) => Lookup::NotFound,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "reconciliation postponed");
                    Lookup::Unanswered { retry_after: None }
                }
            },
            Err(e) => {
                tracing::info!(job = %job.id, error = %describe(&e), "reconciliation postponed");
                match e {
                    CarrierError::Transient { retry_after, .. } => {
                        Lookup::Unanswered { retry_after }
                    }
                    CarrierError::Permanent { .. } | CarrierError::Unknown { .. } => {
                        Lookup::Refused
                    }
                }
            }
        };
        let unknown = Job {
            attempts: u32::try_from(job.attempts).unwrap_or(u32::MAX),
            state: JobState::Unknown { started_at },
        };
        let event = match rules::judge(&mut doubt, lookup, now, (self.config.jitter)()) {
            Verdict::LookAgain { at, not_before } => {
                return Outcome::LookAgain {
                    doubt,
                    at,
                    not_before,
                }
            }
            Verdict::Resend => JobEvent::Reconciled {
                found: None,
                now,
                settled_at: doubt.settled_at,
            },
            Verdict::Unconfirmed => JobEvent::Unconfirmable,
        };
        let next = match rules::step(&unknown, event) {
            Ok(next) => next.state,
            Err(refused) => {
                tracing::error!(job = %job.id, %refused, "outbox rule refused a reconciliation");
                return Outcome::Unknown;
            }
        };
        match self.record(&job, next, None, now) {
            Outcome::Retry => {
                tracing::info!(job = %job.id, "the carrier never got the message: sending it again");
                Outcome::Resend
            }
            Outcome::Unconfirmed => {
                tracing::warn!(job = %job.id, "the carrier would not confirm a message: the user decides");
                Outcome::Unconfirmed
            }
            other => other,
        }
    }

    /// Adopts the oldest candidate that no other message of ours holds: the store refuses a
    /// carrier id it already has (an identical text sent earlier, or one recorded meanwhile),
    /// and such a candidate is simply not this message. Returns whether one was adopted.
    fn adopt_first(
        &self,
        job: &OutboxJob,
        candidates: Vec<CarrierMessage>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let store = self.engine.store();
        for found in candidates {
            match store.mark_sent(job.id, &found.sid, now) {
                Ok(()) => {}
                Err(StoreError::DuplicateCarrierSid { .. }) => continue,
                Err(e) => return Err(e),
            }
            tracing::info!(job = %job.id, sid = %found.sid, "adopted a message the carrier already had");
            self.emit_status(job, MessageStatus::Sent);
            // It may have moved on (delivered) while we were away; the sync would tell too, but
            // its cursor may already be past that change.
            if let Some(status) = delivery_status(found.status) {
                let error = carrier_error(&found);
                let applied = store
                    .apply_delivery_status(&found.sid, status, error.as_ref(), now)
                    .and_then(|_| store.get_message(job.message_id));
                match applied {
                    Ok(m) if m.status != MessageStatus::Sent => self.emit_status(job, m.status),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot apply a status"),
                }
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// Writes a job's next state to the store and tells the clients.
    fn record(&self, job: &OutboxJob, next: JobState, why: Option<&str>, now: i64) -> Outcome {
        let store = self.engine.store();
        let (result, outcome, status) = match next {
            JobState::Sent { sid } => match store.mark_sent(job.id, &sid, now) {
                Ok(()) => (Ok(()), Outcome::Sent, Some(MessageStatus::Sent)),
                Err(e) => (Err(e), Outcome::Unknown, None),
            },
            JobState::Queued { due_at, not_before } => (
                store.mark_retry(
                    job.id,
                    due_at,
                    not_before,
                    why.unwrap_or("sending again"),
                    now,
                ),
                Outcome::Retry,
                Some(MessageStatus::Queued),
            ),
            JobState::Failed { code, sentence } => (
                store.mark_failed(
                    job.id,
                    &MessageError {
                        code,
                        message: sentence,
                    },
                    now,
                ),
                Outcome::Failed,
                Some(MessageStatus::Failed),
            ),
            JobState::Unconfirmed { .. } => (
                store.mark_failed(
                    job.id,
                    &MessageError {
                        code: Some(ErrorCode::Unconfirmed.as_str().to_owned()),
                        message: rules::UNCONFIRMED_SENTENCE.to_owned(),
                    },
                    now,
                ),
                Outcome::Unconfirmed,
                Some(MessageStatus::Failed),
            ),
            // Left `sending` in the store: the next reconciliation decides.
            JobState::Unknown { .. } | JobState::Sending { .. } => {
                tracing::warn!(job = %job.id, error = why.unwrap_or(""), "send outcome unknown");
                (Ok(()), Outcome::Unknown, None)
            }
            JobState::Deleted => (Ok(()), Outcome::Skipped, None),
        };
        match result {
            Ok(()) => {
                if let Some(status) = status {
                    self.emit_status(job, status);
                }
                outcome
            }
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "cannot record a send outcome");
                Outcome::Unknown
            }
        }
    }
}

fn describe(e: &CarrierError) -> String {
    match e {
        CarrierError::Transient { kind, message, .. } => format!("{kind:?}: {message}"),
        CarrierError::Permanent { code, message } => {
            format!("{}: {message}", code.as_deref().unwrap_or("permanent"))
        }
        CarrierError::Unknown { message } => format!("unknown outcome: {message}"),
    }
}

/// How one carrier call for a job ended, for the loop's bookkeeping (the store is already
/// written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Sent,
    Adopted,
    Resend,
    Retry,
    Failed,
    /// The carrier would not say whether it has it: failed, for the user to decide.
    Unconfirmed,
    /// Still `sending`: reconcile later.
    Unknown,
    /// Still `sending`: the lookup settled nothing; ask again at `at` (never before
    /// `not_before`).
    LookAgain {
        doubt: Doubt,
        at: i64,
        not_before: Option<i64>,
    },
    Skipped,
}
