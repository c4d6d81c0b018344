//! Triage in the real window (issue 15): a conversation marked done leaves the inbox for the
//! Done view and comes back when the customer writes again; the keyboard's E, U, J/K and the
//! Ctrl+K jump box; axe-core on the views and the snooze choices.

use std::time::Duration;

use fantoccini::key::Key;

use super::harness::*;

/// A row of the conversation list, by its text: "Ada Lovelace via Sales, …".
fn row(contact: &str, line: &str) -> Target {
    Target::xpath(
        &format!(
            "//*[@aria-label='Conversation list']\
             //button[starts-with(normalize-space(.), '{contact} via {line},')]"
        ),
        &format!("the conversation with {contact} on {line}"),
    )
}

/// A button of the Inbox / Snoozed / Done switch.
fn view(name: &str) -> Target {
    button(name).within(&by_role("toolbar", "Views"))
}

/// An element's text as one line: `innerText` breaks it where the layout does.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lets the window paint what the page just changed before a screenshot.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// Ctrl+K, the jump box's shortcut.
async fn ctrl_k(app: &App) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Control.into(),
        })
        .then(KeyAction::Down { value: 'k' })
        .then(KeyAction::Up { value: 'k' })
        .then(KeyAction::Up {
            value: Key::Control.into(),
        });
    app.client().perform_actions(keys).await.expect("Ctrl+K");
}

async fn no_violations(app: &App, what: &str) {
    let found: Vec<String> = app
        .axe()
        .await
        .into_iter()
        .map(|v| format!("{what}: {v}"))
        .collect();
    assert!(found.is_empty(), "axe-core found:\n{}", found.join("\n"));
}

#[tokio::test]
async fn a_conversation_marked_done_leaves_the_inbox_and_comes_back_on_a_new_message() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.sandbox().reply(ADA, SALES, "Is my order ready?").await;
    app.sandbox()
        .reply(GRACE, SALES, "Thanks for the call")
        .await;
    app.wait_for_within(&row("Ada Lovelace", "Sales"), Duration::from_secs(20))
        .await;
    app.wait_for_within(&row("Grace Hopper", "Sales"), Duration::from_secs(20))
        .await;

    // Done from the conversation's header.
    app.click(&row("Ada Lovelace", "Sales")).await;
    app.wait_for(&heading("Ada Lovelace")).await;
    app.click(&button("Mark done")).await;
    app.wait_gone(&row("Ada Lovelace", "Sales")).await;
    assert!(app.shows(&row("Grace Hopper", "Sales")).await);

    // It waits in Done.
    app.click(&view("Done")).await;
    app.wait_for(&row("Ada Lovelace", "Sales")).await;
    assert!(!app.shows(&row("Grace Hopper", "Sales")).await);
    settle().await;
    app.screenshot("done-view").await;
    no_violations(&app, "the Done view").await;
    app.click(&view("Inbox")).await;
    app.wait_for(&row("Grace Hopper", "Sales")).await;
    assert!(!app.shows(&row("Ada Lovelace", "Sales")).await);

    // Ada writes again: back in the inbox, on top and unread, and out of Done.
    app.sandbox().reply(ADA, SALES, "Hello? Any news?").await;
    app.wait_for_within(&row("Ada Lovelace", "Sales"), Duration::from_secs(20))
        .await;
    let text = one_line(&app.text_of(&row("Ada Lovelace", "Sales")).await);
    assert!(text.contains("1 unread"), "{text}");
    let first = Target::xpath(
        "(//*[@aria-label='Conversation list']//button[@data-thread-id])[1]",
        "the first row",
    );
    let top = one_line(&app.text_of(&first).await);
    assert!(top.starts_with("Ada Lovelace via Sales"), "on top: {top}");
    app.click(&view("Done")).await;
    app.wait_gone(&row("Ada Lovelace", "Sales")).await;
    app.click(&view("Inbox")).await;
    app.wait_for(&row("Ada Lovelace", "Sales")).await;

    // The snooze's choices, open over the conversation: the README's picture of triage.
    app.click(&row("Ada Lovelace", "Sales")).await;
    app.wait_for(&heading("Ada Lovelace")).await;
    app.click(&button("Snooze")).await;
    app.wait_for(&by_role("group", "Snooze until")).await;
    settle().await;
    app.screenshot("triage").await;
    no_violations(&app, "the snooze choices").await;
    // Escape closes them and gives the focus back to Snooze.
    app.press(Key::Escape).await;
    app.wait_gone(&by_role("group", "Snooze until")).await;
    assert_eq!(app.focused().await, "button \"Snooze\"");
    app.close().await;
}

#[tokio::test]
async fn triage_from_the_keyboard_j_k_e_u_and_the_jump_box() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.sandbox().reply(ADA, SALES, "First").await;
    app.wait_for_within(&row("Ada Lovelace", "Sales"), Duration::from_secs(20))
        .await;
    app.sandbox().reply(GRACE, SUPPORT, "Second").await;
    app.wait_for_within(&row("Grace Hopper", "Support"), Duration::from_secs(20))
        .await;

    // J opens the first conversation (Grace, the newest), J again the next.
    app.client()
        .execute("document.activeElement?.blur()", vec![])
        .await
        .expect("no focus in a field");
    app.type_keys("j").await;
    app.wait_for(&heading("Grace Hopper")).await;
    app.type_keys("j").await;
    app.wait_for(&heading("Ada Lovelace")).await;
    app.type_keys("k").await;
    app.wait_for(&heading("Grace Hopper")).await;

    // U marks it unread: it closes, and its row says so.
    app.type_keys("u").await;
    app.wait_gone(&heading("Grace Hopper")).await;
    let grace = app.text_of(&row("Grace Hopper", "Support")).await;
    assert!(grace.contains("unread"), "{grace}");
    assert!(app
        .focused()
        .await
        .starts_with("button \"Grace Hopper via Support"));

    // E on the focused row marks it done: the focus goes to the next row.
    app.type_keys("e").await;
    app.wait_gone(&row("Grace Hopper", "Support")).await;
    assert!(app
        .focused()
        .await
        .starts_with("button \"Ada Lovelace via Sales"));

    // Letters typed in a field are text, never shortcuts: Ada, open, stays in the inbox.
    app.click(&row("Ada Lovelace", "Sales")).await;
    app.wait_for(&heading("Ada Lovelace")).await;
    app.click(&by_label("Search messages and contacts")).await;
    app.type_keys("e").await;
    app.press(Key::Backspace).await;
    app.wait_for(&row("Ada Lovelace", "Sales")).await;
    assert!(app.shows(&heading("Ada Lovelace")).await);

    // Ctrl+K finds Grace (done) by name; Enter opens her conversation; Escape closes the box.
    ctrl_k(&app).await;
    app.wait_for(&dialog("Go to conversation")).await;
    no_violations(&app, "the jump box").await;
    app.type_keys("Grace").await;
    app.wait_for(&by_role("option", "Grace Hopper, Support, done"))
        .await;
    app.press(Key::Enter).await;
    app.wait_gone(&dialog("Go to conversation")).await;
    app.wait_for(&heading("Grace Hopper")).await;
    app.wait_for(&button("Move to inbox")).await;
    ctrl_k(&app).await;
    app.wait_for(&dialog("Go to conversation")).await;
    app.press(Key::Escape).await;
    app.wait_gone(&dialog("Go to conversation")).await;
    app.close().await;
}

#[tokio::test]
async fn a_snoozed_conversation_comes_back_on_top_with_a_notification() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.sandbox().reply(ADA, SALES, "Call me after lunch").await;
    app.wait_for_within(&row("Ada Lovelace", "Sales"), Duration::from_secs(20))
        .await;
    app.sandbox().reply(GRACE, SALES, "Newer").await;
    app.wait_for_within(&row("Grace Hopper", "Sales"), Duration::from_secs(20))
        .await;
    app.click(&row("Ada Lovelace", "Sales")).await;
    app.wait_for(&heading("Ada Lovelace")).await;
    app.click(&button("Snooze")).await;
    let field = app.wait_for(&by_label("Pick a time")).await;
    // The next whole minute but one, as the page's own clock and zone read it (a typed
    // date-time field is the browser's own widget; its value is what the person picked).
    app.client()
        .execute(
            "const d = new Date(Date.now() + 120000); d.setSeconds(0, 0);
             const two = (n) => String(n).padStart(2, '0');
             const v = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
             const input = arguments[0];
             input.value = v;
             input.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![serde_json::to_value(&field).expect("the field as an argument")],
        )
        .await
        .expect("a picked time");
    app.click(&button("Snooze until then")).await;
    app.wait_gone(&row("Ada Lovelace", "Sales")).await;
    app.click(&view("Snoozed")).await;
    app.wait_for(&row("Ada Lovelace", "Sales")).await;
    app.click(&view("Inbox")).await;

    let shown = app
        .wait_for_notification("Snoozed conversation is back", Duration::from_secs(150))
        .await;
    assert_eq!(shown.body, "Ada Lovelace → Sales");
    app.wait_for(&row("Ada Lovelace", "Sales")).await;
    let first = Target::xpath(
        "(//*[@aria-label='Conversation list']//button[@data-thread-id])[1]",
        "the first row",
    );
    let top = one_line(&app.text_of(&first).await);
    assert!(
        top.starts_with("Ada Lovelace via Sales") && top.contains("unread"),
        "back on top, unread: {top}"
    );
    app.close().await;
}
