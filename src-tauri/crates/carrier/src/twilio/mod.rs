//! The Twilio-protocol HTTP client: the subset of Twilio's 2010 REST API that Switchboard needs
//! (IncomingPhoneNumbers, Messages, Media), spoken identically to Twilio and to the embedded
//! sandbox. It classifies every failure the way the outbox needs: retry later, failed for good,
//! or unknown outcome (reconcile with [`Carrier::find_sent`](crate::Carrier::find_sent) before
//! resending).
//!
//! The rooms depend on each other one way only, so that each can be read (and tested) alone:
//! `client` makes the requests and uses all the others but `sandbox_media`; `round` (one sync
//! round's decisions) uses `cursor` (what the sync remembers) and `wire`; `lookup` (which
//! messages may be a lost send's) uses `wire`; `clock` (the carrier's time, from its `Date`
//! headers), `cursor`, `errors`, `options` and `wire` use nothing else of this folder;
//! `sandbox_media` uses `options` and `errors`. This file only names what is public.

mod client;
mod clock;
mod cursor;
mod errors;
mod lookup;
mod options;
mod round;
mod sandbox_media;
mod wire;

pub use client::{TwilioClient, MMS_BUDGET, REQUESTS};
pub use errors::human_sentence;
pub use options::{is_loopback, MediaHost, MessageFilter, TwilioOptions};
pub use sandbox_media::SandboxMediaHost;
