//! The sandbox's side of Twilio's wire format: resource JSON, the error document, paging URIs and
//! Basic credentials, written the way Twilio writes them so the client cannot tell the difference.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use switchboard_carrier::dates::format_rfc2822;

use crate::state::{SandboxLine, SandboxMessage, State};

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
        TwilioError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        )
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
        30007 => "Message filtered",
        _ => "The message could not be sent",
    }
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

/// GSM-7 segments, roughly: Twilio reports a count, nobody here relies on its exactness.
fn segments(body: &str) -> usize {
    match body.chars().count() {
        0..=160 => 1,
        n => n.div_ceil(153),
    }
}

pub fn message_json(account_sid: &str, m: &SandboxMessage) -> Value {
    let uri = message_uri(account_sid, &m.sid);
    json!({
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": date(Some(m.created_at)),
        "date_sent": date(m.sent_at),
        "date_updated": date(Some(m.updated_at)),
        "direction": if m.inbound { "inbound" } else { "outbound-api" },
        "error_code": m.error_code,
        "error_message": m.error_message,
        "from": m.from,
        "messaging_service_sid": null,
        "num_media": m.media.len().to_string(),
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

pub fn media_list_json(account_sid: &str, m: &SandboxMessage) -> Value {
    let uri = message_uri(account_sid, &m.sid);
    let list: Vec<Value> = m
        .media
        .iter()
        .map(|media| {
            json!({
                "account_sid": account_sid,
                "content_type": media.content_type,
                "date_created": date(Some(m.created_at)),
                "date_updated": date(Some(m.updated_at)),
                "parent_sid": m.sid,
                "sid": media.sid,
                "uri": format!("{uri}/Media/{}.json", media.sid),
            })
        })
        .collect();
    single_page("media_list", list, &format!("{uri}/Media.json"))
}

/// Twilio's list envelope for a list that always fits one page (media, the account's numbers).
fn single_page(key: &str, items: Vec<Value>, list_uri: &str) -> Value {
    let page_uri = format!("{list_uri}?PageSize=50&Page=0");
    let mut envelope = json!({
        "first_page_uri": page_uri,
        "next_page_uri": null,
        "previous_page_uri": null,
        "page": 0,
        "page_size": 50,
        "start": 0,
        "end": items.len().saturating_sub(1),
        "uri": page_uri,
    });
    envelope[key] = Value::Array(items);
    envelope
}

/// The demo account (Twilio's Account resource).
pub fn account_json(account_sid: &str) -> Value {
    json!({
        "sid": account_sid,
        "friendly_name": "Switchboard sandbox",
        "status": "active",
        "type": "Full",
        "uri": format!("{}.json", account_uri(account_sid)),
    })
}

pub fn line_json(account_sid: &str, line: &SandboxLine) -> Value {
    json!({
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "beta": false,
        "capabilities": { "voice": false, "sms": line.sms, "mms": line.mms, "fax": false },
        "date_created": date(Some(line.created_at)),
        "date_updated": date(Some(line.created_at)),
        "friendly_name": line.friendly_name,
        "origin": "twilio",
        "phone_number": line.number,
        "sid": line.sid,
        "status": "in-use",
        "uri": format!("{}/IncomingPhoneNumbers/{}.json", account_uri(account_sid), line.sid),
    })
}

pub fn numbers_json(account_sid: &str, state: &State) -> Value {
    let uri = format!("{}/IncomingPhoneNumbers.json", account_uri(account_sid));
    let lines: Vec<Value> = state
        .lines
        .iter()
        .map(|l| line_json(account_sid, l))
        .collect();
    single_page("incoming_phone_numbers", lines, &uri)
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
