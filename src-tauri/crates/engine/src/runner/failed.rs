//! The user's hand on failed messages: retry (optionally with an edited body, the same
//! idempotency key) or delete. A message the carrier would not confirm is failed too, but its
//! retry asks the carrier first and sends only if the message never arrived.

use switchboard_core::composer::{ComposeError, MAX_BODY_CHARS};
use switchboard_core::error_code::ErrorCode;
use switchboard_core::model::{MessageId, ThreadId};
use switchboard_core::outbox::{self as rules, Job, JobEvent, JobState};
use switchboard_store::{OutboxJob, OutboxState};

use crate::{Engine, EngineError};

impl Engine {
    /// Queues a failed message again, due now, optionally with an edited body (the idempotency
    /// key stays the same); an unconfirmed one (see [`JobState::Unconfirmed`]) goes back to the
    /// runner in doubt instead, to be looked up before anything is sent, and keeps its words.
    /// Call [`crate::Runner::wake`] afterwards for the runner to see it at once.
    pub fn retry_failed_message(
        &self,
        message: MessageId,
        new_body: Option<&str>,
    ) -> crate::Result<()> {
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
        let job = self.failed_job(message)?;
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
        self.failed_job(message)?;
        Ok(self.store.delete_failed_message(message)?)
    }

    fn failed_job(&self, message: MessageId) -> crate::Result<OutboxJob> {
        match self.store.outbox_job_for_message(message)? {
            Some(job) if job.state == OutboxState::Failed => Ok(job),
            Some(_) => Err(EngineError::Invalid {
                what: "message",
                why: "It has not failed: it is still waiting to be sent.".into(),
            }),
            None => {
                self.store.get_message(message)?;
                Err(EngineError::Invalid {
                    what: "message",
                    why: "It has not failed: only a failed message can be retried or deleted."
                        .into(),
                })
            }
        }
    }
}
