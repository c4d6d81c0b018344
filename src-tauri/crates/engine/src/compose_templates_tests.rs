//! The compose path with a template: each recipient's own text, refusals before anything is
//! queued, the live preview and its counter. (Tests of `compose`, kept in a file of their own.)

use super::*;
use crate::testutil::engine;

const ORDER: &str = "Hi {first_name}, your order is ready at {line}";

/// Sales and Support; Ada and Grace default to Sales, Edsger has no default.
fn office() -> (tempfile::TempDir, Engine, Line, Line) {
    let (dir, e) = engine();
    let sales = e.add_line("+14155550100", "Sales", None).unwrap();
    let support = e.add_line("+14155550101", "Support", None).unwrap();
    e.add_contact("Ada Lovelace", &["+14155550142".into()], Some(sales.id))
        .unwrap();
    e.add_contact("Grace Hopper", &["+14155550143".into()], Some(sales.id))
        .unwrap();
    e.add_contact("Edsger Dijkstra", &["+14155550145".into()], None)
        .unwrap();
    (dir, e, sales, support)
}

fn request(recipients: &[&str], body: &str, line: Option<LineId>) -> ComposeRequest {
    ComposeRequest {
        recipients: recipients.iter().map(|s| s.to_string()).collect(),
        body: body.into(),
        images: Vec::new(),
        line,
    }
}

fn state(recipients: &[&str], body: &str) -> ComposerState {
    ComposerState {
        recipients: recipients.iter().map(|s| s.to_string()).collect(),
        body: body.into(),
        line: None,
        images: Vec::new(),
        template: true,
    }
}

/// What each recipient's thread received, in the receipt's order.
fn bodies(e: &Engine, receipt: &SendReceipt) -> Vec<String> {
    receipt
        .sent
        .iter()
        .map(|s| {
            let messages = e.thread(s.thread_id, 10, None).unwrap().messages;
            messages[0].body.clone()
        })
        .collect()
}

#[test]
fn a_template_sent_to_two_contacts_gives_each_their_own_first_name() {
    let (_d, e, _sales, _support) = office();
    let receipt = e
        .send_template(
            &request(&["Ada Lovelace", "Grace Hopper"], ORDER, None),
            None,
        )
        .unwrap();
    assert_eq!(receipt.line.label, "Sales");
    assert_eq!(
        bodies(&e, &receipt),
        [
            "Hi Ada, your order is ready at Sales",
            "Hi Grace, your order is ready at Sales"
        ]
    );
    assert_eq!(e.outbox().unwrap().len(), 2);
}

#[test]
fn a_recipient_without_a_first_name_refuses_the_whole_send_naming_them() {
    let (_d, e, sales, _support) = office();
    e.save_draft(DraftKey::Composer, r#"{"body":"Hi {first_name}"}"#)
        .unwrap();
    let two = [
        "Ada Lovelace",
        "+1 415 555 0199",
        "Grace Hopper",
        "+1 415 555 0198",
    ];
    let refused = e
        .send_template(
            &request(&two, ORDER, Some(sales.id)),
            Some(DraftKey::Composer),
        )
        .unwrap_err();
    assert_eq!(
        (refused.code().as_str(), refused.to_string().as_str()),
        (
            "template_missing_value",
            "+1 415-555-0199 has no first name for {first_name}; +1 415-555-0198 has no first \
             name for {first_name}. Add a name to the contact, or take \
             the variable out of the text."
        )
    );
    assert!(e.outbox().unwrap().is_empty(), "nothing queued");
    assert!(e.threads(None, 50, None).unwrap().is_empty());
    assert!(
        e.load_draft(DraftKey::Composer).unwrap().is_some(),
        "the draft is kept"
    );

    // A template that asks for nothing the number lacks goes to it too.
    let ok = e
        .send_template(
            &request(&two, "Your order is ready at {line}", Some(sales.id)),
            None,
        )
        .unwrap();
    assert_eq!(ok.sent.len(), 4);
}

#[test]
fn a_template_that_does_not_parse_is_refused_at_send_with_nothing_queued() {
    let (_d, e, _sales, _support) = office();
    let refused = e
        .send_template(&request(&["Ada Lovelace"], "Hi {firstname}", None), None)
        .unwrap_err();
    assert_eq!(refused.code().as_str(), "template_invalid");
    assert!(e.outbox().unwrap().is_empty());
}

#[test]
fn a_pick_still_comes_first_and_a_missing_name_is_said_before_it() {
    let (_d, e, _sales, support) = office();
    let both = ["Ada Lovelace", "Edsger Dijkstra"];
    let pick = e
        .send_template(&request(&both, ORDER, None), None)
        .unwrap_err();
    assert_eq!(pick.code().as_str(), "line_pick_required");
    let stranger = ["Ada Lovelace", "+1 415 555 0199"];
    let missing = e
        .send_template(&request(&stranger, ORDER, None), None)
        .unwrap_err();
    assert_eq!(missing.code().as_str(), "template_missing_value");
    assert!(e.outbox().unwrap().is_empty());

    let receipt = e
        .send_template(&request(&both, ORDER, Some(support.id)), None)
        .unwrap();
    assert_eq!(
        bodies(&e, &receipt),
        [
            "Hi Ada, your order is ready at Support",
            "Hi Edsger, your order is ready at Support"
        ]
    );
}

#[test]
fn a_reply_fills_the_template_for_the_threads_counterpart_and_line() {
    let (_d, e, _sales, support) = office();
    let first = e
        .send(&request(&["Grace Hopper"], "Hello", Some(support.id)), None)
        .unwrap();
    let thread = first.sent[0].thread_id;
    let reply = e.reply_template(thread, ORDER, Vec::new(), None).unwrap();
    assert_eq!(reply.sent[0].thread_id, thread);
    assert_eq!(
        bodies(&e, &reply),
        ["Hi Grace, your order is ready at Support"]
    );
}

#[test]
fn a_plain_send_keeps_its_braces_as_typed() {
    let (_d, e, _sales, _support) = office();
    let body = "Use the code {first_name} at checkout";
    let receipt = e
        .send(&request(&["Ada Lovelace"], body, None), None)
        .unwrap();
    assert_eq!(bodies(&e, &receipt), [body]);
    let preview = e.live_preview(&ComposerState {
        template: false,
        ..state(&["Ada Lovelace"], body)
    });
    let preview = preview.unwrap();
    assert_eq!((preview.filled, preview.problem), (None, None));
}

#[test]
fn the_live_preview_shows_the_first_recipients_text_and_what_is_missing() {
    let (_d, e, _sales, _support) = office();
    #[track_caller]
    fn check(
        e: &Engine,
        recipients: &[&str],
        body: &str,
        filled: Option<&str>,
        code: Option<&str>,
    ) {
        let p = e.live_preview(&state(recipients, body)).unwrap();
        assert_eq!(p.filled.as_deref(), filled, "{recipients:?} {body:?}");
        assert_eq!(
            p.problem.map(|b| b.code.as_str()),
            code,
            "{recipients:?} {body:?}"
        );
    }
    let both = ["Grace Hopper", "Ada Lovelace"];
    check(
        &e,
        &both,
        ORDER,
        Some("Hi Grace, your order is ready at Sales"),
        None,
    );
    let stranger = ["Ada Lovelace", "+1 415 555 0199"];
    let missing = Some("template_missing_value");
    check(
        &e,
        &stranger,
        ORDER,
        Some("Hi Ada, your order is ready at {line}"),
        missing,
    );
    check(
        &e,
        &["+1 415 555 0199"],
        "Dear {name}",
        Some("Dear {name}"),
        missing,
    );
    // The line still to be picked shows as its marker and is not a problem.
    let no_default = ["Ada Lovelace", "Edsger Dijkstra"];
    check(
        &e,
        &no_default,
        ORDER,
        Some("Hi Ada, your order is ready at {line}"),
        None,
    );
    let unfilled = "Hi {first_name}, your order is ready at {line}";
    check(&e, &[], ORDER, Some(unfilled), Some("no_recipients"));
    check(
        &e,
        &["Ada Lovelace"],
        "Hi {first",
        None,
        Some("template_invalid"),
    );

    let problem = e
        .live_preview(&state(&stranger, ORDER))
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(
        problem.message,
        "+1 415-555-0199 has no first name for {first_name}. Add a name to the \
         contact, or take the variable out of the text."
    );
}

#[test]
fn the_counter_counts_the_longest_filled_body() {
    let (_d, e, sales, _support) = office();
    e.add_contact(
        "Bartholomew Featherstonehaugh",
        &["+14155550146".into()],
        Some(sales.id),
    )
    .unwrap();
    let text = format!("{}{{first_name}}", "x".repeat(150));
    let p = e
        .live_preview(&state(
            &["Ada Lovelace", "Bartholomew Featherstonehaugh"],
            &text,
        ))
        .unwrap();
    assert_eq!(
        p.filled.as_deref(),
        Some(format!("{}Ada", "x".repeat(150)).as_str())
    );
    assert_eq!(
        (p.sms.chars, p.sms.segments),
        (161, 2),
        "Bartholomew's text is counted"
    );

    let receipt = e
        .send_template(
            &request(
                &["Ada Lovelace", "Bartholomew Featherstonehaugh"],
                &text,
                None,
            ),
            None,
        )
        .unwrap();
    assert_eq!(
        bodies(&e, &receipt)[1],
        format!("{}Bartholomew", "x".repeat(150))
    );

    // A filled body over the limit is refused, though the template itself is within it.
    let near = format!("{}{{name}}", "x".repeat(1590));
    let p = e
        .live_preview(&state(&["Bartholomew Featherstonehaugh"], &near))
        .unwrap();
    assert_eq!(p.problem.map(|b| b.code.as_str()), Some("body_too_long"));
    let refused = e
        .send_template(
            &request(&["Bartholomew Featherstonehaugh"], &near, None),
            None,
        )
        .unwrap_err();
    assert_eq!(refused.code().as_str(), "body_too_long");
}
