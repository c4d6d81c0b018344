//! Opt-outs in the real window: a customer texts STOP to a line (the sandbox plays the carrier:
//! it blocks them and answers), the app learns it from its sync, and then says so on the
//! recipient chip, in the thread's header and in place of its reply box; Send refuses a message
//! to them alone, and a fan-out leaves them out, names them, and sends to the others.

use std::time::Duration;

use super::harness::*;
use super::{carrier_received, compose_from, composer, row, settle};

/// Waits until the app has synced `from`'s STOP to Sales: their Sales thread says so.
async fn opted_out_in_the_thread(app: &App, contact: &str) {
    app.sandbox().reply(ADA, SALES, "STOP").await;
    let thread = row(contact, "Sales");
    app.wait_for_within(&thread, Duration::from_secs(30)).await;
    app.click(&thread).await;
    app.wait_for_within(
        &containing_text("Opted out of Sales"),
        Duration::from_secs(30),
    )
    .await;
}

#[tokio::test]
async fn a_contact_who_replied_stop_is_shown_so_and_send_refuses() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    opted_out_in_the_thread(&app, "Ada Lovelace").await;
    // In place of the reply box, in words; and the carrier's own answer is in the thread.
    app.wait_for(&containing_text("until they text START"))
        .await;
    // The carrier's answer is an outbound message of the line that Switchboard did not send:
    // the sync records it as sent elsewhere one round after it is listed (two polls).
    app.wait_for_within(
        &containing_text("You have successfully been unsubscribed"),
        Duration::from_secs(75),
    )
    .await;
    app.screenshot("opted-out-thread").await;

    compose_from(&app, &[ADA], "Sales", "Our sale starts today").await;
    let chip = by_label("Ada Lovelace, opted out of Sales").within(&composer());
    app.wait_for(&chip).await;
    assert!(app.text_of(&chip).await.contains("Opted out of Sales"));
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    app.wait_for(&containing_text("has opted out of messages from Sales").within(&composer()))
        .await;
    assert!(app.shows(&composer()).await, "the composer stays open");
    settle().await;
    app.screenshot("opted-out-composer").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        app.sandbox().sent().await.iter().all(|m| m.to != ADA),
        "nothing went to Ada"
    );
    app.close().await;
}

#[tokio::test]
async fn a_fan_out_of_five_with_one_opted_out_sends_four_and_names_the_fifth() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    opted_out_in_the_thread(&app, "Ada Lovelace").await;
    let five = [GRACE, ADA, KATHERINE, ALAN, "+14155550300"];
    compose_from(&app, &five, "Sales", "Our sale starts today").await;
    app.wait_for(&containing_text("left out of this message").within(&composer()))
        .await;
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;
    app.wait_for(&containing_text(
        "Not sent to Ada Lovelace: opted out of Sales",
    ))
    .await;
    let sent = carrier_received(&app, 4).await;
    let mut to: Vec<&str> = sent.iter().map(|m| m.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, [GRACE, KATHERINE, ALAN, "+14155550300"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.sandbox().sent().await.len(), 4, "never the fifth");
    app.close().await;
}
