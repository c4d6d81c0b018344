//! End-to-end tests: the real release binary in a real WebKit window (under Xvfb in CI), driven
//! through WebDriver the way a person uses it, on its embedded sandbox carrier, with the
//! notifications it raises read back from the session bus. See tests/README.md to run them.

#[path = "e2e/harness.rs"]
mod harness;

use std::time::Duration;

use harness::*;

#[tokio::test]
async fn the_app_opens_on_its_conversations_and_notifies_an_inbound_message() {
    if skipped() {
        return;
    }
    let app = App::launch().await; // waits for the "Conversations" region
    app.screenshot("opened").await;
    assert_eq!(app.title().await, "Switchboard");

    app.sandbox()
        .reply(ADA, SALES, "Is the blue one in stock?")
        .await;

    let shown = app
        .wait_for_notification("Ada Lovelace → Sales", Duration::from_secs(20))
        .await;
    assert_eq!(shown.body, "Is the blue one in stock?");
    assert_eq!(shown.app_name, "Switchboard");
    app.close().await;
}
