//! The Twilio-protocol HTTP client: the subset of Twilio's 2010 REST API that Switchboard needs
//! (IncomingPhoneNumbers, Messages, Media), spoken identically to Twilio and to the embedded
//! sandbox. It classifies every failure the way the outbox needs: retry later, failed for good,
//! or unknown outcome (reconcile with [`Carrier::find_sent`](crate::Carrier::find_sent) before
//! resending).
//!
//! The rooms depend on each other one way only, so that each can be read (and tested) alone:
//! `client` uses `options`, `cursor`, `wire` and `errors`; `sandbox_media` uses `options` and
//! `errors`; those four use nothing else of this folder. This file only names what is public.

mod client;
mod cursor;
mod errors;
mod options;
mod sandbox_media;
mod wire;

pub use client::{TwilioClient, MMS_BUDGET, REQUESTS};
pub use errors::human_sentence;
pub use options::{is_loopback, MediaHost, MessageFilter, TwilioOptions};
pub use sandbox_media::SandboxMediaHost;
