//! Templates in the real window (issue 15): one saved in Settings, picked in New message with
//! "/", and sent to two demo contacts, each of whom receives their own first name; a recipient
//! without one is named before anything is sent.

use std::time::Duration;

use fantoccini::key::Key;

use super::harness::*;
use super::{carrier_received, compose, composer, line_option};

const ORDER: &str = "Hi {first_name}, your order is ready at {line}";

/// The picker's list of saved templates in the New message window.
fn picker_list() -> Target {
    by_role("listbox", "Saved templates").within(&composer())
}

fn picker_option(name: &str) -> Target {
    Target::xpath(
        &format!("//*[@role='option' and starts-with(normalize-space(.), '{name}')]"),
        &format!("template {name:?}"),
    )
    .within(&picker_list())
}

#[tokio::test]
async fn a_template_picked_in_the_composer_gives_two_contacts_each_their_own_first_name() {
    if skipped() {
        return;
    }
    let app = App::launch().await;

    // Settings → Templates: save one.
    app.click(&button("Settings")).await;
    app.wait_for(&region("Settings")).await;
    app.type_into(&by_label("Template name"), "Order ready")
        .await;
    app.type_into(&by_label("Template text"), ORDER).await;
    app.click(&button("Add template")).await;
    app.wait_for(&by_text("Saved the template “Order ready”."))
        .await;
    app.wait_for(&button("Remove Order ready")).await;
    app.click(&button("Close settings")).await;

    // "/" in the empty message opens the list; Escape closes it, giving the focus back.
    compose(&app, &["Ada Lovelace", "Grace Hopper"], "/").await;
    app.wait_for(&picker_option("Order ready")).await;
    app.wait_focused("combobox \"Search templates\"").await;
    app.press(Key::Escape).await;
    app.wait_gone(&picker_list()).await;
    assert!(
        app.shows(&composer()).await,
        "Escape closed the list, not the window"
    );
    app.wait_focused("textarea \"Message\"").await;

    // The Templates button opens it too; the search narrows it, Enter inserts the template.
    app.click(&button("Templates").within(&composer())).await;
    app.type_into(&by_label("Search templates"), "order").await;
    app.wait_for(&picker_option("Order ready")).await;
    tokio::time::sleep(Duration::from_millis(400)).await; // let the frame paint
    app.screenshot("templates").await;
    // The empty conversation list behind the window (a fresh start) is a list without items,
    // which axe flags; the main views' axe test runs with conversations. Everything else counts.
    let violations: Vec<String> = app
        .axe()
        .await
        .iter()
        .map(|v| v.to_string())
        .filter(|v| !(v.starts_with("aria-required-children") && v.contains(".thread-list")))
        .collect();
    assert!(
        violations.is_empty(),
        "axe-core, the list open: {violations:#?}"
    );
    app.press(Key::Enter).await;
    app.wait_gone(&picker_list()).await;
    let message = app.wait_for(&textbox("Message")).await;
    assert_eq!(message.prop("value").await.unwrap().as_deref(), Some(ORDER));
    // Before a line is picked, the first recipient's text keeps {line} for the pick.
    app.wait_for(&containing_text(
        "Ada Lovelace gets: Hi Ada, your order is ready at {line}",
    ))
    .await;

    // A number that is no contact has no first name: said before sending, and Send sends nothing.
    app.type_into(&by_label("To"), "+1 415 555 0199").await;
    app.type_into(&by_label("To"), "\u{E007}").await; // Enter
    app.wait_for(&containing_text("has no first name for {first_name}"))
        .await;
    app.click(&button("Remove +1 415-555-0199")).await;
    app.wait_gone(&containing_text("has no first name")).await;

    // No default line: the first Send asks for one, the second sends.
    app.click(&button("Send").within(&composer())).await;
    app.click(&line_option("Sales")).await;
    app.wait_for(&containing_text(
        "Ada Lovelace gets: Hi Ada, your order is ready at Sales",
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.screenshot("filled").await;
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;

    let mut got: Vec<(String, String)> = carrier_received(&app, 2)
        .await
        .into_iter()
        .map(|m| (m.to, m.body))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                ADA.to_owned(),
                "Hi Ada, your order is ready at Sales".to_owned()
            ),
            (
                GRACE.to_owned(),
                "Hi Grace, your order is ready at Sales".to_owned()
            ),
        ],
        "each recipient received their own first name, never {{first_name}}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.sandbox().sent().await.len(), 2, "exactly two messages");
    app.close().await;
}
