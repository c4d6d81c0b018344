//! The user's hand on failed messages: retry (optionally with an edited body, the same
//! idempotency key) or delete.

use switchboard_core::composer::{ComposeError, MAX_BODY_CHARS};
use switchboard_core::model::{MessageId, ThreadId};
use switchboard_store::{OutboxJob, OutboxState};

use crate::{Engine, EngineError};

impl Engine {
    /// Queues a failed message again, due now, optionally with an edited body (the idempotency
    /// key stays the same). Call [`Runner::nudge`] afterwards for it to go at once.
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
        self.store.retry_failed(job.id, new_body, crate::now_ms())?;
        Ok(())
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
