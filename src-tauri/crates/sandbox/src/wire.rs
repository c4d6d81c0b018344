//! The sandbox's side of Twilio's wire format: resource JSON, the error document, paging URIs and
//! Basic credentials, written the way Twilio writes them so the client cannot tell the difference.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use switchboard_carrier::dates::format_rfc2822;

use crate::state::{MessageMedia, SandboxLine, SandboxMessage};

/// Twilio's error document with its HTTP status.
#[derive(Debug)]
pub struct TwilioError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl TwilioError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> TwilioError {
        TwilioError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(code: u32, message: impl Into<String>) -> TwilioError {
        TwilioError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(uri: &str) -> TwilioError {
        TwilioError::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {uri} was not found"),
        )
    }

    pub fn internal() -> TwilioError {
        TwilioError::server(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A 5xx in Twilio's document (code 20500, the status's reason as the message).
    pub fn server(status: StatusCode) -> TwilioError {
        let reason = status.canonical_reason().unwrap_or("Server Error");
        TwilioError::new(status, 20500, reason)
    }

    /// A method the resource does not take (Twilio's 20004).
    pub fn method_not_allowed() -> TwilioError {
        TwilioError::new(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed")
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The sentence Twilio answers with for the codes the sandbox can be told to fail with.
pub fn twilio_message(code: u32) -> &'static str {
    match code {
        21211 => "Invalid 'To' Phone Number",
        21408 => "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
        21610 => "Attempt to send to unsubscribed recipient",
        21612 => "The 'To' phone number is not currently reachable via SMS",
        21614 => "'To' number is not a valid mobile number",
        30001 => "Queue overflow",
        30003 => "Unreachable destination handset",
        30005 => "Unknown destination handset",
        30006 => "Landline or unreachable carrier",
        30007 => "Message filtered",
        30008 => "Unknown error",
        _ => "The message could not be sent",
    }
}

/// Whether Twilio reports `code` after accepting a message, as its status (`failed` or
/// `undelivered`), rather than refusing the send.
pub fn is_delivery_error(code: u32) -> bool {
    (30001..=30010).contains(&code)
}

pub fn account_uri(account_sid: &str) -> String {
    format!("/2010-04-01/Accounts/{account_sid}")
}

pub fn message_uri(account_sid: &str, sid: &str) -> String {
    format!("{}/Messages/{sid}", account_uri(account_sid))
}

fn date(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(format_rfc2822(ms)))
}

/// An HTTP `Date` header's value (RFC 9110's IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(ms: i64) -> String {
    let rfc2822 = format_rfc2822(ms);
    let without_zone = rfc2822.strip_suffix(" +0000").unwrap_or(&rfc2822);
    format!("{without_zone} GMT")
}

/// GSM-7 segments, roughly: Twilio reports a count, nobody here relies on its exactness.
fn segments(body: &str) -> usize {
    match body.chars().count() {
        0..=160 => 1,
        n => n.div_ceil(153),
    }
}

/// A Message resource. `media_shown` is false while Twilio has not counted its media yet
/// (the media lag): `num_media` is then "0".
pub fn message_json(account_sid: &str, m: &SandboxMessage, media_shown: bool) -> Value {
    let uri = message_uri(account_sid, &m.sid);
    let num_media = if media_shown { m.media.len() } else { 0 };
    json!({
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": date(Some(m.created_at)),
        "date_sent": date(m.sent_at),
        "date_updated": date(Some(m.updated_at)),
        "direction": match (m.inbound, m.auto_reply) {
            (true, _) => "inbound",
            (false, true) => "outbound-reply",
            (false, false) => "outbound-api",
        },
        "error_code": m.error_code,
        "error_message": m.error_message,
        "from": m.from,
        "messaging_service_sid": null,
        "num_media": num_media.to_string(),
        "num_segments": segments(&m.body).to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": m.sid,
        "status": m.status,
        "subresource_uris": {
            "media": format!("{uri}/Media.json"),
            "feedback": format!("{uri}/Feedback.json"),
        },
        "to": m.to,
        "uri": format!("{uri}.json"),
    })
}

/// One Media resource of message `m`.
pub fn media_json(account_sid: &str, m: &SandboxMessage, media: &MessageMedia) -> Value {
    json!({
        "account_sid": account_sid,
        "content_type": media.content_type,
        "date_created": date(Some(m.created_at)),
        "date_updated": date(Some(m.created_at)),
        "parent_sid": m.sid,
        "sid": media.sid,
        "uri": format!("{}/Media/{}.json", message_uri(account_sid, &m.sid), media.sid),
    })
}

/// Which page of a list a request asks for (`PageSize`, 50 unless told, at most 1,000;
/// `Page`, from 0), and the filters to repeat in the page URIs.
#[derive(Debug, Clone)]
pub struct Paging {
    pub page_size: usize,
    pub page: usize,
    pub filters: Vec<(String, String)>,
}

impl Paging {
    pub fn read(query: &[(String, String)], filter_names: &[&str]) -> Paging {
        let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        Paging {
            page_size: get("PageSize")
                .and_then(|v| v.parse().ok())
                .unwrap_or(50usize)
                .clamp(1, 1000),
            page: get("Page").and_then(|v| v.parse().ok()).unwrap_or(0),
            filters: query
                .iter()
                .filter(|(k, _)| filter_names.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// The URI of page `page` of the list at `path`, after `token` (Twilio's `PageToken`).
    pub fn uri(&self, path: &str, page: usize, token: Option<&str>) -> String {
        let mut pairs = self.filters.clone();
        pairs.push(("PageSize".into(), self.page_size.to_string()));
        pairs.push(("Page".into(), page.to_string()));
        if let Some(token) = token {
            pairs.push(("PageToken".into(), token.to_owned()));
        }
        format!("{path}?{}", encode_query(&pairs))
    }
}

/// Twilio's list envelope around one page of `items` under `key`.
pub fn envelope(
    key: &str,
    items: Vec<Value>,
    path: &str,
    paging: &Paging,
    token: Option<&str>,
    next_page_uri: Option<String>,
) -> Value {
    let start = paging.page * paging.page_size;
    let mut envelope = json!({
        "first_page_uri": paging.uri(path, 0, None),
        "next_page_uri": next_page_uri,
        "previous_page_uri": null,
        "page": paging.page,
        "page_size": paging.page_size,
        "start": start,
        "end": (start + items.len()).saturating_sub(1),
        "uri": paging.uri(path, paging.page, token),
    });
    envelope[key] = Value::Array(items);
    envelope
}

/// A short list (media, the account's numbers) cut into the page `paging` asks for.
pub fn short_list(key: &str, all: Vec<Value>, path: &str, paging: &Paging) -> Value {
    let start = paging.page.saturating_mul(paging.page_size);
    let more = all.len() > start.saturating_add(paging.page_size);
    let items: Vec<Value> = all.into_iter().skip(start).take(paging.page_size).collect();
    let next = more.then(|| paging.uri(path, paging.page + 1, None));
    envelope(key, items, path, paging, None, next)
}

/// The account (Twilio's Account resource), as its owner fetches it: Twilio shows the owner
/// its own auth token. `trial` makes it a trial account.
pub fn account_json(account_sid: &str, auth_token: &str, created_ms: i64, trial: bool) -> Value {
    let uri = account_uri(account_sid);
    let sub = |name: &str| format!("{uri}/{name}.json");
    json!({
        "auth_token": auth_token,
        "date_created": date(Some(created_ms)),
        "date_updated": date(Some(created_ms)),
        "friendly_name": "Switchboard sandbox",
        "owner_account_sid": account_sid,
        "sid": account_sid,
        "status": "active",
        "subresource_uris": {
            "addresses": sub("Addresses"),
            "applications": sub("Applications"),
            "authorized_connect_apps": sub("AuthorizedConnectApps"),
            "available_phone_numbers": sub("AvailablePhoneNumbers"),
            "balance": sub("Balance"),
            "calls": sub("Calls"),
            "conferences": sub("Conferences"),
            "connect_apps": sub("ConnectApps"),
            "incoming_phone_numbers": sub("IncomingPhoneNumbers"),
            "keys": sub("Keys"),
            "messages": sub("Messages"),
            "notifications": sub("Notifications"),
            "outgoing_caller_ids": sub("OutgoingCallerIds"),
            "queues": sub("Queues"),
            "recordings": sub("Recordings"),
            "short_codes": sub("SMS/ShortCodes"),
            "signing_keys": sub("SigningKeys"),
            "sip": sub("SIP"),
            "transcriptions": sub("Transcriptions"),
            "usage": sub("Usage"),
        },
        "type": if trial { "Trial" } else { "Full" },
        "uri": format!("{uri}.json"),
    })
}

/// An IncomingPhoneNumber: every field Twilio answers with, those the sandbox has no use for
/// as Twilio writes them for a number with nothing configured.
pub fn line_json(account_sid: &str, line: &SandboxLine) -> Value {
    json!({
        "account_sid": account_sid,
        "address_requirements": "none",
        "address_sid": null,
        "api_version": "2010-04-01",
        "beta": false,
        "bundle_sid": null,
        "capabilities": { "voice": false, "sms": line.sms, "mms": line.mms, "fax": false },
        "date_created": date(Some(line.created_at)),
        "date_updated": date(Some(line.created_at)),
        "emergency_address_sid": null,
        "emergency_address_status": "unregistered",
        "emergency_status": "Inactive",
        "friendly_name": line.friendly_name,
        "identity_sid": null,
        "origin": "twilio",
        "phone_number": line.number,
        "sid": line.sid,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": "",
        "status": "in-use",
        "status_callback": "",
        "status_callback_method": "POST",
        "trunk_sid": null,
        "type": "local",
        "uri": format!("{}/IncomingPhoneNumbers/{}.json", account_uri(account_sid), line.sid),
        "voice_application_sid": "",
        "voice_caller_id_lookup": false,
        "voice_fallback_method": "POST",
        "voice_fallback_url": null,
        "voice_method": "POST",
        "voice_receive_mode": "voice",
        "voice_url": null,
    })
}

/// Percent-encodes a query string the way Twilio's paging URIs do.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    fn encode(s: &str, out: &mut String) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(k, &mut out);
        out.push('=');
        encode(v, &mut out);
    }
    out
}

/// Standard base64, for comparing `Authorization: Basic …` without a decoder.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        let check = |input: &str, expected: &str| assert_eq!(base64(input.as_bytes()), expected);
        check("", "");
        check("f", "Zg==");
        check("fo", "Zm8=");
        check("foo", "Zm9v");
        check("foob", "Zm9vYg==");
        check("foobar", "Zm9vYmFy");
    }

    #[test]
    fn the_date_header_is_an_imf_fixdate() {
        assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn a_short_list_is_cut_into_the_page_asked_for() {
        let items: Vec<Value> = (0..3).map(|i| json!(i)).collect();
        let query = |size: &str, page: &str| {
            vec![
                ("PageSize".to_owned(), size.to_owned()),
                ("Page".to_owned(), page.to_owned()),
                ("Ignored".to_owned(), "x".to_owned()),
            ]
        };
        let first = short_list(
            "l",
            items.clone(),
            "/L.json",
            &Paging::read(&query("2", "0"), &[]),
        );
        assert_eq!(first["l"], json!([0, 1]));
        assert_eq!(first["next_page_uri"], "/L.json?PageSize=2&Page=1");
        let second = short_list("l", items, "/L.json", &Paging::read(&query("2", "1"), &[]));
        assert_eq!(second["l"], json!([2]));
        assert_eq!(second["next_page_uri"], Value::Null);
        assert_eq!(
            (second["start"].as_u64(), second["end"].as_u64()),
            (Some(2), Some(2))
        );
    }

    #[test]
    fn query_keys_keep_twilio_operators_encoded() {
        let pairs = [
            ("DateSent>".to_owned(), "2026-01-02".to_owned()),
            ("To".to_owned(), "+14155550100".to_owned()),
        ];
        assert_eq!(
            encode_query(&pairs),
            "DateSent%3E=2026-01-02&To=%2B14155550100"
        );
    }
}
