//! Faults on demand: what the next API requests suffer (a lost answer, a 5xx before or after
//! the work is done, a 429), and numbers whose sends are refused for good. Each fault is used
//! once, in the order it was asked for.

use std::collections::{HashMap, VecDeque};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_core::model::E164;

/// A fault to inject in the next API requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// The request is carried out but no answer comes (until the sandbox goes offline or shuts
    /// down): a client times out not knowing whether a send went through.
    Timeout,
    /// `500 Internal Server Error`, nothing done (the same as a [`Failure::ServerError`] of
    /// [`ServerStatus::Internal`] without `after_create`).
    #[serde(rename = "status500")]
    Status500,
    /// `429 Too Many Requests` with `Retry-After`, nothing done.
    #[serde(rename = "status429")]
    Status429 { retry_after_secs: u64 },
    /// A 5xx answer in Twilio's error document. With `after_create` the request is carried out
    /// first (a send creates its message, which is then delivered as usual): Twilio's gateways
    /// answer 502 or 504 for requests whose work was done, and a client that retries blind
    /// sends twice.
    ServerError {
        status: ServerStatus,
        #[serde(default)]
        after_create: bool,
    },
}

impl Failure {
    /// `status`, answered after the request was carried out.
    pub fn after_create(status: ServerStatus) -> Failure {
        Failure::ServerError {
            status,
            after_create: true,
        }
    }
}

/// The server errors Twilio's API is seen to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum ServerStatus {
    /// 500
    Internal,
    /// 502, from a gateway in front of the API.
    BadGateway,
    /// 504, a gateway gave up waiting for the API.
    GatewayTimeout,
}

impl ServerStatus {
    pub fn status_code(self) -> StatusCode {
        match self {
            ServerStatus::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ServerStatus::BadGateway => StatusCode::BAD_GATEWAY,
            ServerStatus::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

impl From<ServerStatus> for u16 {
    fn from(s: ServerStatus) -> u16 {
        s.status_code().as_u16()
    }
}

impl TryFrom<u16> for ServerStatus {
    type Error = String;

    fn try_from(status: u16) -> Result<ServerStatus, String> {
        match status {
            500 => Ok(ServerStatus::Internal),
            502 => Ok(ServerStatus::BadGateway),
            504 => Ok(ServerStatus::GatewayTimeout),
            other => Err(format!(
                "the sandbox can fail with 500, 502 or 504, not {other}"
            )),
        }
    }
}

#[derive(Default)]
pub(crate) struct Faults {
    /// Each fault, and whether it waits for a send (`POST Messages.json`) to hit.
    next: VecDeque<(Failure, bool)>,
    numbers: HashMap<E164, u32>,
}

impl Faults {
    pub(crate) fn push(&mut self, count: u32, failure: Failure, sends_only: bool) {
        self.next
            .extend(std::iter::repeat_n((failure, sends_only), count as usize));
    }

    /// The fault for this request, if the next one applies to it (a sends-only fault lets
    /// other requests through, so a test can hit exactly the send it means).
    pub(crate) fn take(&mut self, is_send: bool) -> Option<Failure> {
        match self.next.front() {
            Some((_, true)) if !is_send => None,
            Some(_) => self.next.pop_front().map(|(f, _)| f),
            None => None,
        }
    }

    pub(crate) fn fail_number(&mut self, number: E164, code: Option<u32>) {
        match code {
            Some(code) => self.numbers.insert(number, code),
            None => self.numbers.remove(&number),
        };
    }

    pub(crate) fn number_failure(&self, number: &E164) -> Option<u32> {
        self.numbers.get(number).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_the_control_api_writes_them() {
        #[track_caller]
        fn check(json: &str, expected: Failure) {
            let read: Failure = serde_json::from_str(json).unwrap();
            assert_eq!(read, expected);
            let again: Failure =
                serde_json::from_value(serde_json::to_value(read).unwrap()).unwrap();
            assert_eq!(again, expected);
        }
        check(r#"{"kind":"timeout"}"#, Failure::Timeout);
        check(r#"{"kind":"status500"}"#, Failure::Status500);
        check(
            r#"{"kind":"status429","retry_after_secs":3}"#,
            Failure::Status429 {
                retry_after_secs: 3,
            },
        );
        check(
            r#"{"kind":"server_error","status":502,"after_create":true}"#,
            Failure::after_create(ServerStatus::BadGateway),
        );
        check(
            r#"{"kind":"server_error","status":504}"#,
            Failure::ServerError {
                status: ServerStatus::GatewayTimeout,
                after_create: false,
            },
        );
        assert!(
            serde_json::from_str::<Failure>(r#"{"kind":"server_error","status":503}"#).is_err()
        );
    }

    #[test]
    fn a_sends_only_fault_waits_for_a_send() {
        let mut faults = Faults::default();
        faults.push(1, Failure::Timeout, true);
        faults.push(1, Failure::Status500, false);
        assert_eq!(faults.take(false), None);
        assert_eq!(faults.take(true), Some(Failure::Timeout));
        assert_eq!(faults.take(false), Some(Failure::Status500));
        assert_eq!(faults.take(true), None);
    }
}
