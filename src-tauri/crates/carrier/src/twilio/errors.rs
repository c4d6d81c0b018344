//! How a failed request reads to the outbox and to a person: every transport, read and HTTP
//! status failure classified as transient, permanent or unknown outcome, and Twilio's error codes
//! in our own sentences.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde::Deserialize;

use crate::dates::{now_ms, parse_rfc2822};
use crate::{CarrierError, TransientKind};

/// Twilio's error document: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: Option<i64>,
    message: Option<String>,
}

/// A failure before any answer arrived. `body_sent` is true when the request may have reached the
/// carrier and changed something (a POST): then the outcome is unknown rather than transient.
pub(super) fn classify_transport(what: &str, e: &reqwest::Error, body_sent: bool) -> CarrierError {
    // A refused, unresolvable or unanswered connection never carried the request: whatever
    // the cause, the carrier is unreachable from here, which the user knows as "offline".
    if e.is_connect() {
        return transient(
            TransientKind::Offline,
            None,
            format!("Couldn't reach the carrier to {what}."),
        );
    }
    if body_sent {
        return CarrierError::Unknown {
            message: format!(
                "The connection to the carrier broke during \"{what}\"; whether it went through \
                 is not known yet."
            ),
        };
    }
    if e.is_timeout() {
        transient(
            TransientKind::Timeout,
            None,
            format!("The carrier took too long to {what}."),
        )
    } else {
        transient(
            TransientKind::Server,
            None,
            format!("The connection to the carrier broke during \"{what}\"."),
        )
    }
}

/// A failure while reading an answer whose status line said success.
pub(super) fn classify_read(what: &str, e: &reqwest::Error, body_sent: bool) -> CarrierError {
    if e.is_decode() && !e.is_timeout() {
        // The carrier did the work but said something we can't read.
        return if body_sent {
            CarrierError::Unknown {
                message: format!("The carrier's answer to \"{what}\" could not be read."),
            }
        } else {
            transient(
                TransientKind::Server,
                None,
                format!("The carrier's answer to \"{what}\" could not be read."),
            )
        };
    }
    classify_transport(what, e, body_sent)
}

fn transient(kind: TransientKind, retry_after: Option<Duration>, message: String) -> CarrierError {
    CarrierError::Transient {
        kind,
        retry_after,
        message,
    }
}

/// Reads an answer's status. `body_sent` is true for a send (`POST Messages.json`), which Twilio
/// may carry out and still answer with a 5xx (a 502 or 504 from a gateway between us, a 500 after
/// the message was created): whether the message went is then unknown, never "not sent".
pub(super) async fn check_status(
    what: &str,
    response: Response,
    body_sent: bool,
) -> Result<Response, CarrierError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now_ms()));
        return Err(transient(
            TransientKind::RateLimited,
            retry_after,
            "The carrier asks to slow down; sending will resume shortly.".into(),
        ));
    }
    // A gateway's or proxy's "took too long" (408 Request Timeout, 499 client closed) or a
    // conflict may likewise come after the send reached Twilio.
    let maybe_carried_out =
        status.is_server_error() || matches!(status.as_u16(), 408 | 409 | 425 | 499);
    if maybe_carried_out && body_sent {
        return Err(CarrierError::Unknown {
            message: format!(
                "The carrier had a problem ({status}) while taking the message; whether it went \
                 through is not known yet."
            ),
        });
    }
    if maybe_carried_out {
        return Err(transient(
            TransientKind::Server,
            None,
            format!("The carrier had a problem ({status}) and will be tried again."),
        ));
    }
    // 4xx: the request itself is wrong and will stay wrong.
    let text = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<ApiError>(&text).ok();
    let code = error
        .as_ref()
        .and_then(|e| e.code)
        .or((status == StatusCode::UNAUTHORIZED).then_some(20003));
    let carrier_message = error.and_then(|e| e.message);
    let message = code
        .and_then(human_sentence)
        .map(str::to_owned)
        .or(carrier_message)
        .unwrap_or_else(|| format!("The carrier refused to {what} ({status})."));
    Err(CarrierError::Permanent {
        code: code.map(|c| c.to_string()),
        message,
    })
}

/// `Retry-After` is either seconds or an HTTP date.
fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_rfc2822(value)?;
    Some(Duration::from_millis((at - now_ms).max(0) as u64))
}

/// Sentences a person understands for the Twilio error codes a sender meets; other codes keep
/// Twilio's own message.
pub fn human_sentence(code: i64) -> Option<&'static str> {
    Some(match code {
        20003 => {
            "The carrier refused the account's credentials: check the account SID and auth \
             token in Settings."
        }
        20404 => "The carrier has no record of this.",
        21211 => "This number isn't a valid phone number.",
        21614 => "This number can't receive text messages (it isn't a mobile number).",
        21212 | 21606 | 21659 => {
            "This line can't send messages: the carrier doesn't recognise it as one of the \
             account's numbers."
        }
        21408 => "The account isn't allowed to send messages to this country.",
        21608 => {
            "A Twilio trial account can only text numbers verified in the Twilio Console: \
             verify this one, or upgrade the account."
        }
        21602 | 21619 => "A message needs some text or an image.",
        21610 => {
            "This person has replied STOP to this line, so it can't text them until they \
             reply START."
        }
        21617 => "The message is too long: the carrier accepts at most 1,600 characters.",
        21620 | 21623 | 11200 | 12300 | 30019 => {
            "The carrier couldn't use the attached image: try a smaller JPEG, PNG or GIF."
        }
        30001 => {
            "Twilio's queue for this line was full (too many messages at once), so this one was \
             dropped: press Retry to send it again."
        }
        30003 => "The phone is switched off or out of reach; try again later.",
        30005 => "This number doesn't exist, or no longer does.",
        30006 => "This number is a landline or can't receive text messages.",
        30007 => "The carrier filtered this message as spam.",
        30008 => "The message couldn't be delivered, for a reason the carrier didn't give.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_that_may_follow_a_created_message_leaves_a_send_unknown() {
        let classify = |status: u16, body_sent: bool| async move {
            let answer = axum::http::Response::builder()
                .status(status)
                .body("{}")
                .expect("a response");
            check_status("send message", reqwest::Response::from(answer), body_sent).await
        };
        for status in [500, 502, 503, 504, 408, 409, 425, 499] {
            assert!(
                matches!(
                    classify(status, true).await,
                    Err(CarrierError::Unknown { .. })
                ),
                "{status} to a send"
            );
            assert!(
                matches!(
                    classify(status, false).await,
                    Err(CarrierError::Transient { .. })
                ),
                "{status} to a read"
            );
        }
        assert!(matches!(
            classify(400, true).await,
            Err(CarrierError::Permanent { .. })
        ));
        assert!(matches!(
            classify(429, true).await,
            Err(CarrierError::Transient {
                kind: TransientKind::RateLimited,
                ..
            })
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = parse_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let check = |v: &str, expected: Option<u64>| {
            assert_eq!(
                parse_retry_after(v, now),
                expected.map(Duration::from_secs),
                "{v}"
            );
        };
        check("7", Some(7));
        check(" 120 ", Some(120));
        check("Wed, 21 Oct 2015 07:28:30 GMT", Some(30));
        check("Wed, 21 Oct 2015 07:27:00 GMT", Some(0));
        check("soon", None);
    }

    #[test]
    fn known_codes_get_a_sentence_and_others_none() {
        assert!(human_sentence(21610).unwrap().contains("STOP"));
        assert!(human_sentence(21211).is_some());
        assert!(human_sentence(21608).unwrap().contains("trial"));
        assert!(human_sentence(30001).unwrap().contains("Retry"));
        assert!(human_sentence(99999).is_none());
    }
}
