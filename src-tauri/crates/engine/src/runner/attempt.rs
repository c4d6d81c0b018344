//! One carrier call for one job, and what it leaves in the store: a send (the job is already
//! marked `sending`), a reconciliation of a job whose outcome is unknown (a crash, a lost
//! answer), and the recording of the next state the outbox rules chose.

use switchboard_carrier::{CarrierError, Media, SendRequest};
use switchboard_core::model::MessageStatus;
use switchboard_core::outbox::{self as rules, Job, JobEvent, JobState};
use switchboard_store::{MessageError, OutboxJob};

use super::sync::{carrier_error, delivery_status};
use super::{send_unanswered, unanswered, Inner};
use crate::EngineError;

impl Inner {
    /// The request for a job, the same on every attempt (the client id included).
    pub(super) fn request_for(&self, job: &OutboxJob) -> Result<SendRequest, EngineError> {
        let store = self.engine.store();
        let line = store.get_line(job.line_id)?;
        let media = if job.has_attachment {
            store.get_attachment(job.message_id)?.map(|a| Media {
                kind: a.kind,
                bytes: a.bytes,
            })
        } else {
            None
        };
        Ok(SendRequest {
            from: line.number,
            to: job.counterpart.clone(),
            body: job.body.clone(),
            media,
            client_id: job.client_id.clone(),
        })
    }

    /// Hands one job (already marked `sending`) to the carrier and records what happened.
    pub(super) async fn send(
        &self,
        job: OutboxJob,
        request: SendRequest,
        started_at: i64,
    ) -> Outcome {
        let result = self
            .call(self.carrier.send(&request), send_unanswered)
            .await;
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
    /// answer that never came), then adopts it or queues it to be sent again.
    pub(super) async fn reconcile(&self, job: OutboxJob, request: SendRequest) -> Outcome {
        let since = job.attempt_started_at.unwrap_or(job.created_at);
        let result = self
            .call(self.carrier.find_sent(&request, since), unanswered)
            .await;
        let candidates = match result {
            Ok(candidates) => candidates,
            Err(e) => {
                tracing::info!(job = %job.id, error = %describe(&e), "reconciliation postponed");
                return Outcome::ReconcileLater;
            }
        };
        // A carrier id the store already holds is another message's (an identical text sent
        // earlier): never this one.
        let store = self.engine.store();
        let mut found = None;
        for candidate in candidates {
            match store.message_by_carrier_sid(&candidate.sid) {
                Ok(None) => {
                    found = Some(candidate);
                    break;
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "reconciliation postponed");
                    return Outcome::ReconcileLater;
                }
            }
        }
        let now = self.now();
        let unknown = Job {
            attempts: u32::try_from(job.attempts).unwrap_or(u32::MAX),
            state: JobState::Unknown { started_at: since },
        };
        let event = JobEvent::Reconciled {
            found: found.as_ref().map(|m| m.sid.clone()),
            now,
        };
        let next = match rules::step(&unknown, event) {
            Ok(next) => next.state,
            Err(refused) => {
                tracing::error!(job = %job.id, %refused, "outbox rule refused a reconciliation");
                return Outcome::ReconcileLater;
            }
        };
        match (self.record(&job, next, None, now), found) {
            (Outcome::Sent, Some(found)) => {
                tracing::info!(job = %job.id, sid = %found.sid, "adopted a message the carrier already had");
                // It may have moved on (delivered) while we were away; the sync would tell too,
                // but its cursor may already be past that change.
                if let Some(status) = delivery_status(found.status) {
                    let store = self.engine.store();
                    let error = carrier_error(&found);
                    let applied = store
                        .apply_delivery_status(&found.sid, status, error.as_ref(), now)
                        .and_then(|_| store.get_message(job.message_id));
                    match applied {
                        Ok(m) if m.status != MessageStatus::Sent => {
                            self.emit_status(&job, m.status)
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(job = %job.id, error = %e, "cannot apply a status")
                        }
                    }
                }
                Outcome::Adopted
            }
            (Outcome::Retry, None) => {
                tracing::info!(job = %job.id, "the carrier never got the message: sending it again");
                Outcome::Resend
            }
            (other, _) => other,
        }
    }

    /// Writes a job's next state to the store and tells the clients.
    fn record(&self, job: &OutboxJob, next: JobState, why: Option<&str>, now: i64) -> Outcome {
        let store = self.engine.store();
        let (result, outcome, status) = match next {
            JobState::Sent { sid } => match store.mark_sent(job.id, &sid, now) {
                Ok(()) => (Ok(()), Outcome::Sent, Some(MessageStatus::Sent)),
                Err(e) => (Err(e), Outcome::Unknown, None),
            },
            JobState::Queued { due_at } => (
                store.mark_retry(job.id, due_at, why.unwrap_or("sending again"), now),
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
    /// Still `sending`: reconcile later.
    Unknown,
    ReconcileLater,
    Skipped,
}
