//! Which of the carrier's messages may be the one a lost send created, for exactly-once: the
//! same line, recipient, text and media, dated within the attempt on the carrier's clock. The
//! decisions only; `client` lists the candidates.
//!
//! Twilio's quirks this must hold against: its dates have whole seconds, the desktop's clock
//! may be minutes off (so the attempt's window is moved onto the carrier's clock), a trial
//! account prefixes every body, and an MMS lists `num_media` "0" for a moment (so media are
//! judged by the `MM` sid, never by a Media request).

use std::time::Duration;

use super::wire::Listed;
use crate::{CarrierMessage, SendRequest};

/// What Twilio puts before every body a trial account sends.
pub(super) const TRIAL_PREFIX: &str = "Sent from your Twilio trial account - ";
/// Room on each side of the window for one-second dates and for the clock offset's own error
/// (half a second plus half a round trip), with a wide margin: a later identical message of
/// the same thread cannot be inside it, since it waits for this one to be settled.
const SLACK_MS: i64 = 10_000;
/// With no `Date` header ever answered, the desktop's clock is all there is: it may be wrong
/// by this much either way (an hour covers a clock set by hand in the wrong zone's summer
/// time, not a wrong day; the engine rules out what it already holds).
const UNKNOWN_SKEW_MS: i64 = 60 * 60 * 1000;

/// The carrier dates (ms, its clock) a message created by one attempt can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub(super) from_ms: i64,
    pub(super) until_ms: i64,
}

impl Window {
    /// The attempt began at `started_at_ms` on this computer's clock; the carrier's clock is
    /// `offset_ms` ahead when known. The message was created while the request was in flight,
    /// which takes at most `request_timeout`, once for the image's upload and once for the send.
    pub(super) fn of_attempt(
        started_at_ms: i64,
        offset_ms: Option<i64>,
        request_timeout: Duration,
        with_media: bool,
    ) -> Window {
        let timeout_ms = i64::try_from(request_timeout.as_millis()).unwrap_or(i64::MAX / 4);
        let in_flight = timeout_ms * if with_media { 2 } else { 1 };
        let (start, slack) = match offset_ms {
            Some(offset) => (started_at_ms + offset, SLACK_MS),
            None => (started_at_ms, UNKNOWN_SKEW_MS),
        };
        Window {
            from_ms: start - slack,
            until_ms: start + in_flight + slack,
        }
    }

    fn contains(&self, at_ms: i64) -> bool {
        (self.from_ms..=self.until_ms).contains(&at_ms)
    }
}

/// Twilio's body is ours, or ours behind the trial account's prefix (an image alone gets the
/// prefix without its separator's trailing space, which Twilio trims), compared as Twilio may
/// have kept it: line ends as `\n`, without the whitespace at either end. Reading a rewritten
/// body as another text would send ours a second time; a different text of the same thread
/// cannot be in doubt at the same time, and ids already held are ruled out by the engine.
fn same_body(carrier: &str, ours: &str) -> bool {
    let carrier = comparable(carrier);
    let ours = comparable(ours);
    carrier == ours
        || carrier
            .strip_prefix(TRIAL_PREFIX.trim_end())
            .is_some_and(|rest| rest.trim_start() == ours)
}

fn comparable(body: &str) -> String {
    body.replace("\r\n", "\n").trim().to_owned()
}

/// Could `listed` be the message `request` created in `window`?
pub(super) fn is_candidate(request: &SendRequest, listed: &Listed, window: &Window) -> bool {
    let m = &listed.message;
    !m.inbound
        && m.from == request.from
        && m.to == request.to
        && same_body(&m.body, &request.body)
        && listed.is_mms() != request.media.is_empty()
        && window.contains(m.created_at)
}

/// The candidates of a newest-first listing, oldest first: reversed, then sorted by date with a
/// stable sort, so that two of one second keep the carrier's order.
pub(super) fn oldest_first(newest_first: Vec<Listed>) -> Vec<CarrierMessage> {
    let mut found: Vec<CarrierMessage> =
        newest_first.into_iter().rev().map(|l| l.message).collect();
    found.sort_by_key(|m| m.created_at);
    found
}

#[cfg(test)]
mod tests {
    use switchboard_core::model::E164;

    use super::*;
    use crate::{CarrierStatus, Media};

    fn n(s: &str) -> E164 {
        E164::from_normalized(s).unwrap()
    }

    fn request(body: &str, media: bool) -> SendRequest {
        SendRequest {
            from: n("+14155550100"),
            to: n("+14155550123"),
            body: body.into(),
            media: media
                .then(|| Media {
                    kind: switchboard_core::model::ImageKind::Png,
                    bytes: vec![1],
                })
                .into_iter()
                .collect(),
            client_id: "c1".into(),
        }
    }

    fn listed(sid: &str, body: &str, at: i64, num_media: u32) -> Listed {
        Listed {
            message: CarrierMessage {
                sid: sid.into(),
                from: n("+14155550100"),
                to: n("+14155550123"),
                body: body.into(),
                inbound: false,
                status: CarrierStatus::Queued,
                created_at: at,
                error_code: None,
                error_message: None,
                media_urls: vec![],
                num_media: 0,
                messaging_service: None,
            },
            num_media,
        }
    }

    #[test]
    fn the_window_sits_on_the_carriers_clock() {
        let timeout = Duration::from_secs(30);
        // A desktop 90 s fast: the carrier dates its message 90 s before the desktop's start.
        let w = Window::of_attempt(1_000_000, Some(-90_000), timeout, false);
        assert_eq!(
            w,
            Window {
                from_ms: 1_000_000 - 90_000 - 10_000,
                until_ms: 1_000_000 - 90_000 + 30_000 + 10_000,
            }
        );
        let with_image = Window::of_attempt(1_000_000, Some(0), timeout, true);
        assert_eq!(with_image.until_ms, 1_000_000 + 60_000 + 10_000);
        let unknown = Window::of_attempt(1_000_000, None, timeout, false);
        assert_eq!(unknown.from_ms, 1_000_000 - 3_600_000);
    }

    #[test]
    fn candidates_match_line_recipient_text_media_and_time() {
        let window = Window {
            from_ms: 1_000,
            until_ms: 2_000,
        };
        #[track_caller]
        fn check(request: &SendRequest, listed: &Listed, window: &Window, expected: bool) {
            assert_eq!(
                is_candidate(request, listed, window),
                expected,
                "{listed:?}"
            );
        }
        let text = request("OK, see you at 3", false);
        check(
            &text,
            &listed("SM1", "OK, see you at 3", 1_500, 0),
            &window,
            true,
        );
        check(
            &text,
            &listed("SM1", "OK, see you at 4", 1_500, 0),
            &window,
            false,
        );
        check(
            &text,
            &listed("SM1", "OK, see you at 3", 999, 0),
            &window,
            false,
        );
        check(
            &text,
            &listed("SM1", "OK, see you at 3", 2_001, 0),
            &window,
            false,
        );
        // A trial account's body.
        let trial = format!("{TRIAL_PREFIX}OK, see you at 3");
        check(&text, &listed("SM1", &trial, 1_500, 0), &window, true);
        // Bodies as the carrier may keep them: trimmed, line ends as \n.
        let written = request("  See you at 3\r\nBring the invoice\n", false);
        check(
            &written,
            &listed("SM1", "See you at 3\nBring the invoice", 1_500, 0),
            &window,
            true,
        );
        check(
            &written,
            &listed(
                "SM1",
                &format!("{TRIAL_PREFIX}See you at 3\nBring the invoice"),
                1_500,
                0,
            ),
            &window,
            true,
        );
        check(
            &written,
            &listed("SM1", "See you at 3 Bring the invoice", 1_500, 0),
            &window,
            false,
        );
        check(
            &text,
            &listed("MM1", "OK, see you at 3", 1_500, 0),
            &window,
            false,
        );

        // An image: an MM sid whose num_media still reads 0 is one.
        let image = request("", true);
        check(&image, &listed("MM1", "", 1_500, 0), &window, true);
        check(
            &image,
            &listed("MM1", TRIAL_PREFIX.trim_end(), 1_500, 1),
            &window,
            true,
        );
        check(&image, &listed("SM1", "", 1_500, 0), &window, false);

        let mut inbound = listed("SM1", "OK, see you at 3", 1_500, 0);
        inbound.message.inbound = true;
        check(&text, &inbound, &window, false);
    }

    #[test]
    fn two_of_one_second_come_oldest_first_in_the_carriers_order() {
        let newest_first = vec![
            listed("SM3", "b", 2_000, 0),
            listed("SM2", "a", 1_000, 0),
            listed("SM1", "a", 1_000, 0),
        ];
        let sids: Vec<String> = oldest_first(newest_first)
            .into_iter()
            .map(|m| m.sid)
            .collect();
        assert_eq!(sids, ["SM1", "SM2", "SM3"]);
    }
}
