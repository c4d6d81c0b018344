//! The carrier's pace as this computer assumes it: how long a request may take, how late a
//! created message may be listed, how fast a line may send. Twilio's figures by default; a
//! carrier that is slower (or, for the sandbox in tests, faster) is described with
//! environment variables, each in whole units and bounded:
//! - `SWITCHBOARD_CARRIER_REQUEST_TIMEOUT_MS` (default 30000, 500 to 300000);
//! - `SWITCHBOARD_CARRIER_LISTING_LAG_MS` (default 30000, 0 to 600000);
//! - `SWITCHBOARD_CARRIER_RATE`, messages a second per line (default 1, 0.1 to 1000).
//!
//! Reconciliation leans on the first two: a message in doubt is sent again only once it can no
//! longer turn up (`Capabilities::settle`), so understating them risks a duplicate.

use std::time::Duration;

use switchboard_carrier::TwilioOptions;

pub const REQUEST_TIMEOUT_ENV: &str = "SWITCHBOARD_CARRIER_REQUEST_TIMEOUT_MS";
pub const LISTING_LAG_ENV: &str = "SWITCHBOARD_CARRIER_LISTING_LAG_MS";
pub const RATE_ENV: &str = "SWITCHBOARD_CARRIER_RATE";

/// Twilio's defaults, with what the environment says instead.
pub fn twilio_options() -> TwilioOptions {
    with(|name| std::env::var(name).ok())
}

fn with(get: impl Fn(&str) -> Option<String>) -> TwilioOptions {
    let mut options = TwilioOptions::default();
    let read = |name: &str, range: std::ops::RangeInclusive<f64>| -> Option<f64> {
        let raw = get(name)?;
        match raw.trim().parse::<f64>() {
            Ok(v) if range.contains(&v) => Some(v),
            _ => {
                tracing::warn!(
                    variable = name,
                    "ignored: not a number from {} to {}",
                    range.start(),
                    range.end()
                );
                None
            }
        }
    };
    if let Some(ms) = read(REQUEST_TIMEOUT_ENV, 500.0..=300_000.0) {
        options.request_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = read(LISTING_LAG_ENV, 0.0..=600_000.0) {
        options.listing_lag = Duration::from_millis(ms as u64);
    }
    if let Some(rate) = read(RATE_ENV, 0.1..=1000.0) {
        options.per_line_rate = rate;
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_tunes_the_pace_within_bounds() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            with(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let default = env(&[]);
        assert_eq!(default.request_timeout, Duration::from_secs(30));
        assert_eq!(default.listing_lag, Duration::from_secs(30));
        assert_eq!(default.per_line_rate, 1.0);

        let tuned = env(&[
            (REQUEST_TIMEOUT_ENV, "2000"),
            (LISTING_LAG_ENV, "0"),
            (RATE_ENV, "50"),
        ]);
        assert_eq!(tuned.request_timeout, Duration::from_secs(2));
        assert_eq!(tuned.listing_lag, Duration::ZERO);
        assert_eq!(tuned.per_line_rate, 50.0);

        let refused = env(&[
            (REQUEST_TIMEOUT_ENV, "1"),
            (LISTING_LAG_ENV, "-5"),
            (RATE_ENV, "fast"),
        ]);
        assert_eq!(refused.request_timeout, Duration::from_secs(30));
        assert_eq!(refused.listing_lag, Duration::from_secs(30));
        assert_eq!(refused.per_line_rate, 1.0);
    }
}
