//! The outbox's rules, with no IO and no clock of their own, in rooms along their seams (each
//! imports only from rooms listed before it):
//! - `backoff`: when to try a message again (capped exponential backoff with jitter, honouring
//!   the carrier's `Retry-After` whatever happens);
//! - `job`: how an outbox job moves between states;
//! - `reconcile`: what a lookup of a message in doubt allows (adopt, look again, send again, or
//!   give up and ask the user);
//! - `plan`: which jobs may leave now (order within a thread, a per-line rate limit, a global
//!   cap).
//!
//! Times are milliseconds since the Unix epoch, passed in by the caller.

mod backoff;
mod job;
mod plan;
mod reconcile;

pub use backoff::{next_delay, not_before, retry_delay, Backoff, MAX_RETRY_AFTER, SEND_BACKOFF};
pub use job::{step, Job, JobEvent, JobState, Refused};
pub use plan::{min_interval_ms, plan, Pending, Plan};
pub use reconcile::{
    judge, settled_at, Doubt, Lookup, Verdict, RECONCILE_MARGIN, UNCONFIRMED_AFTER,
    UNCONFIRMED_SENTENCE,
};
