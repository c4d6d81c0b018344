//! The carrier's side of opt-outs, as Twilio plays it for a number that is in no Messaging
//! Service: a person who texts STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT: the word
//! alone, any case) to a line is told they are unsubscribed and blocked from it, so that a send
//! to them from that line answers 21610; START, YES or UNSTOP lifts it; HELP or INFO gets the
//! help text (but not while they are opted out). The automatic answers are outbound messages of
//! the line, listed with the rest, as Twilio lists them.

use switchboard_core::model::E164;
use switchboard_core::optout::{self, Keyword};

use crate::state::{Blocked, State};

/// Twilio's default answers (its "Default Opt-Out Handling").
pub const UNSUBSCRIBED: &str = "You have successfully been unsubscribed. You will not receive \
    any more messages from this number. Reply START to resubscribe.";
pub const RESUBSCRIBED: &str = "You have successfully been re-subscribed to messages from this \
    number. Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.";
pub const HELP_TEXT: &str = "Reply STOP to unsubscribe. Msg&Data Rates May Apply.";

impl State {
    /// Whether `number` has opted out of messages from `line`.
    pub fn is_opted_out(&self, line: &E164, number: &E164) -> bool {
        self.opt_outs
            .iter()
            .any(|b| &b.line == line && &b.number == number)
    }

    /// What a message `body` from `number` to `line` does: the block it adds or lifts, and the
    /// automatic answer the carrier sends back, if any.
    pub fn apply_keyword(
        &mut self,
        line: &E164,
        number: &E164,
        body: &str,
    ) -> Option<&'static str> {
        let blocked = self.is_opted_out(line, number);
        match optout::keyword(body)? {
            Keyword::OptOut => {
                if !blocked {
                    self.opt_outs.push(Blocked {
                        line: line.clone(),
                        number: number.clone(),
                    });
                }
                Some(UNSUBSCRIBED)
            }
            Keyword::OptIn => {
                self.opt_outs
                    .retain(|b| !(&b.line == line && &b.number == number));
                Some(RESUBSCRIBED)
            }
            Keyword::Help if blocked => None,
            Keyword::Help => Some(HELP_TEXT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        E164::from_normalized(s).unwrap()
    }

    #[test]
    fn stop_blocks_its_line_until_start() {
        let mut s = State::default();
        let (sales, support, ada) = (n("+14155550100"), n("+14155550101"), n("+14155550123"));
        assert_eq!(s.apply_keyword(&sales, &ada, "Hello"), None);
        assert_eq!(s.apply_keyword(&sales, &ada, "help"), Some(HELP_TEXT));
        assert_eq!(s.apply_keyword(&sales, &ada, " Stop "), Some(UNSUBSCRIBED));
        assert!(s.is_opted_out(&sales, &ada));
        assert!(!s.is_opted_out(&support, &ada));
        assert_eq!(
            s.apply_keyword(&sales, &ada, "HELP"),
            None,
            "no help while opted out"
        );
        assert_eq!(s.apply_keyword(&sales, &ada, "STOP"), Some(UNSUBSCRIBED));
        assert_eq!(s.opt_outs.len(), 1, "blocked once");
        assert_eq!(s.apply_keyword(&sales, &ada, "stop please"), None);
        assert!(s.is_opted_out(&sales, &ada));
        assert_eq!(s.apply_keyword(&sales, &ada, "unstop"), Some(RESUBSCRIBED));
        assert!(!s.is_opted_out(&sales, &ada));
    }
}
