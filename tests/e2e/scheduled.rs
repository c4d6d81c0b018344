//! Scheduled messages in the real window: New message → "Send later" at a time a minute or two
//! ahead; the message waits (listed in the Scheduled panel, nothing at the carrier), then goes
//! at its time, once.

use std::time::{Duration, Instant};

use super::harness::*;
use super::{compose_from, composer};

/// The start of the minute after next, as this computer's local `YYYY-MM-DDTHH:MM` (what a
/// datetime-local input holds), and how long until then.
async fn two_minutes_ahead(app: &App) -> (String, Duration) {
    let answer = app
        .client()
        .execute(
            "const d = new Date(Date.now() + 120000); d.setSeconds(0, 0);
             const p = (n) => String(n).padStart(2, '0');
             return [`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`,
                     d.getTime() - Date.now()];",
            vec![],
        )
        .await
        .expect("the time two minutes ahead");
    let value = answer[0].as_str().expect("a local time").to_owned();
    let wait = answer[1].as_f64().expect("milliseconds").max(0.0);
    (value, Duration::from_millis(wait as u64))
}

#[tokio::test]
async fn a_message_scheduled_ahead_waits_then_goes_at_its_time_once() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    compose_from(&app, &[GRACE], "Support", "Your repair is ready for pickup").await;
    app.click(&button("Send later").within(&composer())).await;
    let (at, wait) = two_minutes_ahead(&app).await;
    // A datetime-local field's parts are typed differently by each engine: set it as a person's
    // typing ends, with its input event.
    app.client()
        .execute(
            "const f = document.getElementById('composer-at');
             f.value = arguments[0];
             f.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![serde_json::Value::String(at.clone())],
        )
        .await
        .expect("the time to send at");
    let scheduled_at = Instant::now();
    app.click(&button("Schedule").within(&composer())).await;
    app.wait_gone(&composer()).await;
    app.wait_for(&containing_text("Scheduled for")).await;
    app.screenshot("scheduled").await;

    // It waits, listed, and the carrier has nothing.
    app.click(&button("Scheduled")).await;
    app.wait_for(
        &containing_text("Your repair is ready for pickup").within(&region("Scheduled messages")),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        app.sandbox().sent().await.is_empty(),
        "nothing before its time"
    );

    let sent = eventually(
        "the scheduled message at the carrier",
        wait + Duration::from_secs(40),
        async || {
            let sent = app.sandbox().sent().await;
            (!sent.is_empty()).then_some(sent)
        },
    )
    .await;
    assert!(
        scheduled_at.elapsed() + Duration::from_secs(2) >= wait,
        "sent {:?} after scheduling, due after {wait:?}",
        scheduled_at.elapsed()
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].from.as_str(), sent[0].to.as_str()),
        (SUPPORT, GRACE)
    );
    assert_eq!(sent[0].body, "Your repair is ready for pickup");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.sandbox().sent().await.len(), 1, "once");
    app.close().await;
}
