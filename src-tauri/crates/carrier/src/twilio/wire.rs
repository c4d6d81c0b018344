//! Twilio's side of the wire: its JSON resources (as much as we read), how a message resource
//! becomes a [`CarrierMessage`], how its pages are followed, and which ids may enter a URL.

use std::collections::HashSet;

use serde::Deserialize;
use switchboard_core::model::E164;

use crate::dates::parse_rfc2822;
use crate::{CarrierError, CarrierMessage, CarrierStatus};

/// A listing stops after this many pages, whatever `next_page_uri` says: a carrier that pages
/// forever must not hold a sync round forever.
const MAX_PAGES: usize = 200;

/// Follows `next_page_uri` at most [`MAX_PAGES`] times and never to a page already read.
#[derive(Default)]
pub(super) struct Pages {
    read: HashSet<String>,
}

impl Pages {
    pub(super) fn next(&mut self, next_page_uri: Option<String>) -> Option<String> {
        let next = next_page_uri.filter(|uri| !uri.is_empty())?;
        if self.read.len() + 1 >= MAX_PAGES || !self.read.insert(next.clone()) {
            tracing::warn!(
                pages = self.read.len() + 1,
                "the carrier's paging stopped early"
            );
            return None;
        }
        Some(next)
    }
}

/// A carrier id used in a URL path: Twilio's are letters and digits only, so anything else
/// (a slash, a dot) is refused rather than sent somewhere unintended.
pub(super) fn path_segment(sid: &str) -> Result<&str, CarrierError> {
    if !sid.is_empty() && sid.len() <= 64 && sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(sid)
    } else {
        Err(CarrierError::Permanent {
            code: None,
            message: "The carrier's id for this item isn't valid.".into(),
        })
    }
}

/// Twilio's message resource, as much of it as we read.
#[derive(Debug, Deserialize)]
pub(super) struct ApiMessage {
    pub(super) sid: String,
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) body: Option<String>,
    pub(super) status: Option<String>,
    pub(super) direction: Option<String>,
    pub(super) date_created: Option<String>,
    pub(super) date_sent: Option<String>,
    pub(super) error_code: Option<i64>,
    pub(super) error_message: Option<String>,
    pub(super) num_media: Option<String>,
    pub(super) messaging_service_sid: Option<String>,
}

/// Twilio's account resource, as much of it as we read.
#[derive(Debug, Deserialize)]
pub(super) struct ApiAccount {
    pub(super) sid: String,
    pub(super) friendly_name: Option<String>,
    pub(super) status: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct MessagePage {
    #[serde(default)]
    pub(super) messages: Vec<ApiMessage>,
    pub(super) next_page_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct MediaPage {
    #[serde(default)]
    pub(super) media_list: Vec<ApiMedia>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApiMedia {
    pub(super) uri: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct NumberPage {
    #[serde(default)]
    pub(super) incoming_phone_numbers: Vec<ApiNumber>,
    pub(super) next_page_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApiNumber {
    pub(super) sid: String,
    pub(super) phone_number: String,
    pub(super) friendly_name: Option<String>,
    pub(super) capabilities: Option<ApiCapabilities>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ApiCapabilities {
    #[serde(default)]
    pub(super) sms: bool,
    #[serde(default)]
    pub(super) mms: bool,
}

fn num_media(api: &ApiMessage) -> u32 {
    api.num_media
        .as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A message as a listing (or a fetch) shows it, before any Media request: its media URLs are
/// not known yet, only how many it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listed {
    /// With `media_urls` empty.
    pub(super) message: CarrierMessage,
    /// Twilio's `num_media`, which stays "0" for a moment after an MMS arrives.
    pub(super) num_media: u32,
}

impl Listed {
    /// An MMS, by Twilio's `MM` sid or its media count (which may still read 0).
    pub(super) fn is_mms(&self) -> bool {
        self.message.sid.starts_with("MM") || self.num_media > 0
    }
}

/// Reads a message resource without its media.
pub(super) fn listed(api: ApiMessage) -> Result<Listed, CarrierError> {
    let num_media = num_media(&api);
    Ok(Listed {
        message: convert_message(api, Vec::new())?,
        num_media,
    })
}

fn parse_status(s: &str) -> Option<CarrierStatus> {
    Some(match s {
        "accepted" => CarrierStatus::Accepted,
        "scheduled" => CarrierStatus::Scheduled,
        "queued" => CarrierStatus::Queued,
        "sending" => CarrierStatus::Sending,
        "sent" => CarrierStatus::Sent,
        // An MMS some of whose parts arrived: it reached the person.
        "delivered" | "partially_delivered" => CarrierStatus::Delivered,
        "undelivered" => CarrierStatus::Undelivered,
        "failed" => CarrierStatus::Failed,
        "receiving" => CarrierStatus::Receiving,
        "received" => CarrierStatus::Received,
        "read" => CarrierStatus::Read,
        "canceled" => CarrierStatus::Canceled,
        _ => return None,
    })
}

pub(super) fn convert_message(
    api: ApiMessage,
    media_urls: Vec<String>,
) -> Result<CarrierMessage, CarrierError> {
    let bad = |what: &str| CarrierError::Permanent {
        code: None,
        message: format!("The carrier answered with a message whose {what} can't be read."),
    };
    // A sender may be a short code or an alphanumeric id (verification codes, "GOOGLE"), and
    // a message sent elsewhere may go to one: both are kept, though nothing can reply to them.
    let number = |n: &Option<String>, what: &str| {
        n.as_deref()
            .and_then(E164::from_sender)
            .ok_or_else(|| bad(what))
    };
    let status = api
        .status
        .as_deref()
        .and_then(parse_status)
        .ok_or_else(|| bad("status"))?;
    let created_at = api
        .date_created
        .as_deref()
        .or(api.date_sent.as_deref())
        .and_then(parse_rfc2822)
        .ok_or_else(|| bad("date"))?;
    let num_media = num_media(&api).max(media_urls.len() as u32);
    Ok(CarrierMessage {
        from: number(&api.from, "sender")?,
        to: number(&api.to, "recipient")?,
        body: api.body.unwrap_or_default(),
        inbound: api.direction.as_deref() == Some("inbound"),
        status,
        created_at,
        error_code: api.error_code.map(|c| c.to_string()),
        error_message: api.error_message,
        media_urls,
        num_media,
        messaging_service: api.messaging_service_sid.filter(|s| !s.is_empty()),
        sid: api.sid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_statuses_map_onto_ours() {
        let check = |s: &str, expected: Option<CarrierStatus>| {
            assert_eq!(parse_status(s), expected, "{s}");
        };
        check("queued", Some(CarrierStatus::Queued));
        check("sent", Some(CarrierStatus::Sent));
        check("delivered", Some(CarrierStatus::Delivered));
        check("partially_delivered", Some(CarrierStatus::Delivered));
        check("undelivered", Some(CarrierStatus::Undelivered));
        check("received", Some(CarrierStatus::Received));
        check("teleported", None);
    }
}
