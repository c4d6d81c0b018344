//! Fan-out: a message to N recipients becomes N one-to-one messages, each in its own
//! (line, recipient) thread, so replies and failures stay per person.

use crate::composer::ValidMessage;
use crate::model::{ImageKind, LineId, ThreadKey};
use serde::{Deserialize, Serialize};

/// One message to enqueue; the store finds or creates the thread for `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub key: ThreadKey,
    pub body: String,
    /// Every recipient's message carries the same images, in the same order.
    pub images: Vec<ImageKind>,
}

/// One `Outgoing` per recipient, in the order the recipients were added, so the threads move to
/// the top of the list in an order the person recognises.
pub fn plan(line: LineId, msg: &ValidMessage) -> Vec<Outgoing> {
    msg.recipients
        .iter()
        .map(|recipient| Outgoing {
            key: ThreadKey {
                line,
                counterpart: recipient.clone(),
            },
            body: msg.body.clone(),
            images: msg.images.clone(),
        })
        .collect()
}

/// Like [`plan`], but each recipient with their own body: a template filled per recipient,
/// `bodies[i]` for `msg.recipients[i]`. Recipients without a body (a shorter list, which the
/// engine never passes) get none rather than another's.
pub fn plan_each(line: LineId, msg: &ValidMessage, bodies: &[String]) -> Vec<Outgoing> {
    plan(line, msg)
        .into_iter()
        .zip(bodies)
        .map(|(out, body)| Outgoing {
            body: body.clone(),
            ..out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::composer::{validate, Draft};
    use crate::model::E164;

    fn n(s: &str) -> E164 {
        E164::from_normalized(s).unwrap()
    }

    #[track_caller]
    fn check(line: LineId, recipients: &[&str], images: &[ImageKind], expected: &[&str]) {
        let draft = Draft {
            recipients: recipients.iter().map(|s| n(s)).collect(),
            body: "See you at 3".to_owned(),
            images: images.to_vec(),
        };
        let msg = validate(&draft).unwrap();
        let got = plan(line, &msg);
        let want: Vec<Outgoing> = expected
            .iter()
            .map(|s| Outgoing {
                key: ThreadKey {
                    line,
                    counterpart: n(s),
                },
                body: "See you at 3".to_owned(),
                images: images.to_vec(),
            })
            .collect();
        assert_eq!(got, want, "{recipients:?}");
    }

    #[test]
    fn one_message_per_recipient() {
        let (ada, bob, cy) = ("+447400123456", "+14155550100", "+33612345678");
        check(LineId(1), &[ada], &[], &[ada]);
        check(LineId(2), &[bob, ada, cy], &[], &[bob, ada, cy]);
        check(LineId(2), &[bob, ada, bob], &[ImageKind::Gif], &[bob, ada]);
        let three = [ImageKind::Png, ImageKind::Jpeg, ImageKind::Gif];
        check(LineId(2), &[bob, ada], &three, &[bob, ada]);
    }

    #[test]
    fn each_recipient_gets_their_own_body() {
        let (ada, bob) = ("+447400123456", "+14155550100");
        let msg = validate(&Draft {
            recipients: vec![n(ada), n(bob)],
            body: "Hi {first_name}".to_owned(),
            images: vec![ImageKind::Png],
        })
        .unwrap();
        let bodies = ["Hi Ada".to_owned(), "Hi Bob".to_owned()];
        let out = plan_each(LineId(1), &msg, &bodies);
        let got: Vec<(&str, &str, usize)> = out
            .iter()
            .map(|o| (o.key.counterpart.as_str(), o.body.as_str(), o.images.len()))
            .collect();
        assert_eq!(got, [(ada, "Hi Ada", 1), (bob, "Hi Bob", 1)]);
    }

    #[test]
    fn same_person_from_two_lines_is_two_threads() {
        let msg = validate(&Draft {
            recipients: vec![n("+447400123456")],
            body: "Hi".to_owned(),
            images: Vec::new(),
        })
        .unwrap();
        let sales = plan(LineId(1), &msg);
        let support = plan(LineId(2), &msg);
        assert_ne!(sales[0].key, support[0].key);
        assert_eq!(sales[0].key.counterpart, support[0].key.counterpart);
    }

    #[test]
    fn twenty_recipients_make_twenty_threads() {
        let recipients: Vec<E164> = (0..20).map(|i| n(&format!("+1415555{i:04}"))).collect();
        let msg = validate(&Draft {
            recipients: recipients.clone(),
            body: "Sale ends Friday".to_owned(),
            images: Vec::new(),
        })
        .unwrap();
        let out = plan(LineId(3), &msg);
        let keys: Vec<E164> = out.iter().map(|o| o.key.counterpart.clone()).collect();
        assert_eq!(keys, recipients);
        assert!(out.iter().all(|o| o.key.line == LineId(3)));
    }
}
