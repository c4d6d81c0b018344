//! End-to-end tests: the real app binary in a real WebKit window (under Xvfb in CI), driven
//! through WebDriver the way a person uses it, on its embedded sandbox carrier, with the
//! notifications it raises read back from the session bus. See tests/README.md to run them.

#[path = "e2e/templates.rs"]
mod templates;

#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/opt_outs.rs"]
mod opt_outs;
#[path = "e2e/scheduled.rs"]
mod scheduled;
#[path = "e2e/triage.rs"]
mod triage;

use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use harness::*;
use switchboard_engine::core::model::{ImageKind, Line, MessageStatus, ThreadKey, E164};
use switchboard_engine::store::keys::write_key_file;
use switchboard_engine::store::{
    now_ms, Arrival, DbKey, HistoryMessage, InboundMedia, MessageError, NewImage, NewInbound,
    NewOutgoing, NewSentElsewhere, Store, DB_FILE_NAME,
};

#[tokio::test]
async fn the_app_opens_on_its_conversations_and_notifies_an_inbound_message() {
    if skipped() {
        return;
    }
    let app = App::launch().await; // waits for the "Conversations" region
    first_sync_answered(&app).await;
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

// ---------------------------------------------------------------------------------------------
// The seed article's flows, one by one (../shared/seed: "Messaging Basics in Onoff Business").

/// The New message window.
fn composer() -> Target {
    dialog("New message")
}

/// A row of the conversation list, named by its text: "Ada Lovelace via Sales, 10:32. Hi!"
/// (", 2 unread" comes before the time while it has unread messages).
fn row(contact: &str, line: &str) -> Target {
    Target::xpath(
        &format!(
            "//*[@aria-label='Conversation list']\
             //button[starts-with(normalize-space(.), '{contact} via {line},')]"
        ),
        &format!("the conversation with {contact} on {line}"),
    )
}

/// Opens New message (the quick-actions button) and adds each recipient: a contact's name is
/// picked from the search results, a number is typed and confirmed with Enter.
async fn compose(app: &App, recipients: &[&str], body: &str) {
    app.click(&button("New message")).await;
    app.wait_for(&composer()).await;
    for (i, r) in recipients.iter().enumerate() {
        app.type_into(&by_label("To"), r).await;
        if r.starts_with('+') {
            app.type_into(&by_label("To"), "\u{E007}").await; // Enter
        } else {
            let option = Target::xpath(
                &format!("//*[@role='option' and starts-with(@aria-label, '{r},')]"),
                &format!("the search result for {r}"),
            );
            app.click(&option).await;
        }
        let chip = Target::xpath(
            &format!(
                "(//*[@aria-label='Recipients']/*[@role='listitem'])[{}]",
                i + 1
            ),
            &format!("recipient chip {}", i + 1),
        );
        app.wait_for(&chip).await;
    }
    app.type_into(&textbox("Message"), body).await;
}

/// How many rows of the conversation list are this (contact, line) thread.
async fn rows(app: &App, contact: &str, line: &str) -> usize {
    let found = app
        .client()
        .find_all(fantoccini::Locator::XPath(&format!(
            "//*[@aria-label='Conversation list']//button[starts-with(normalize-space(.), '{contact} via {line},')]"
        )))
        .await
        .expect("the conversation list");
    found.len()
}

/// Waits until the carrier has received `n` messages from the app, and returns them.
async fn carrier_received(app: &App, n: usize) -> Vec<CarrierMessage> {
    eventually(
        &format!("the carrier to receive {n} messages"),
        Duration::from_secs(20),
        async || {
            let sent = app.sandbox().sent().await;
            (sent.len() >= n).then_some(sent)
        },
    )
    .await
}

#[tokio::test]
async fn a_contact_without_a_default_line_needs_a_pick_then_a_second_send() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    compose(&app, &["Ada Lovelace"], "Your order has shipped").await;
    // No default: the button says only "Send"; the first click opens the list and sends nothing.
    app.click(&button("Send").within(&composer())).await;
    app.wait_for(&by_role("listbox", "Send from")).await;
    app.wait_for(&containing_text("Choose the number to send from"))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        app.sandbox().sent().await.is_empty(),
        "nothing leaves before a line is picked"
    );
    assert!(app.shows(&composer()).await);
    // Each line is named with its number as a person reads it, never as E.164.
    let option = app.text_of(&line_option("Sales")).await;
    assert_eq!(
        option.split_whitespace().collect::<Vec<_>>().join(" "),
        "Sales +1 415-555-0100"
    );
    // Pick Sales: it is highlighted and shown on the button; the second Send sends.
    app.click(&line_option("Sales")).await;
    eventually("Sales to be highlighted", DEFAULT_TIMEOUT, async || {
        let selected = app
            .find(&line_option("Sales"))
            .await?
            .attr("aria-selected")
            .await
            .ok()??;
        (selected == "true").then_some(())
    })
    .await;
    app.screenshot("line-picked").await;
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    // The window closes and the new thread is at the top of the list.
    app.wait_gone(&composer()).await;
    app.wait_for(&row("Ada Lovelace", "Sales")).await;
    let sent = carrier_received(&app, 1).await;
    assert_eq!((sent[0].from.as_str(), sent[0].to.as_str()), (SALES, ADA));
    assert_eq!(sent[0].body, "Your order has shipped");
    // After a pick for one contact without a default, the app offers to remember it.
    app.click(&button("Make Sales the default")).await;

    // Now the default is on the button: one click sends, into the same thread.
    compose(&app, &["Ada Lovelace"], "It will arrive on Monday").await;
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;
    carrier_received(&app, 2).await;
    assert_eq!(
        rows(&app, "Ada Lovelace", "Sales").await,
        1,
        "the existing thread is reused"
    );
    app.close().await;
}

#[tokio::test]
async fn changing_the_line_makes_a_second_thread_and_replies_keep_their_line() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    // Grace's default line is Sales (set in Contacts, as a user would).
    app.click(&button("Contacts")).await;
    app.click(&button("Edit Grace Hopper")).await;
    let select = app.wait_for(&by_label("Default line")).await;
    select
        .select_by_label("Sales")
        .await
        .expect("the Sales option");
    app.click(&button("Save contact")).await;
    app.wait_for(&containing_text("Sends from Sales")).await;

    compose(&app, &["Grace Hopper"], "From sales").await;
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;

    // The line button changes the line before sending: Support this time.
    compose(&app, &["Grace Hopper"], "From support").await;
    app.wait_for(&button("Send from Sales").within(&composer()))
        .await;
    app.click(&button("Sending line: Sales")).await;
    app.click(&line_option("Support")).await;
    app.click(&button("Send from Support").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;

    // Two threads for one contact, one per line.
    app.wait_for(&row("Grace Hopper", "Sales")).await;
    app.wait_for(&row("Grace Hopper", "Support")).await;
    let sent = carrier_received(&app, 2).await;
    let from: Vec<(&str, &str)> = sent
        .iter()
        .map(|m| (m.from.as_str(), m.body.as_str()))
        .collect();
    assert_eq!(from, [(SALES, "From sales"), (SUPPORT, "From support")]);

    // A reply inside the Support thread goes from Support, with no picker.
    app.click(&row("Grace Hopper", "Support")).await;
    app.type_into(&textbox("Reply text"), "Replying in the thread")
        .await;
    app.click(&button("Send from Support").within(&by_role("form", "Reply")))
        .await;
    let sent = carrier_received(&app, 3).await;
    assert_eq!(
        (sent[2].from.as_str(), sent[2].to.as_str()),
        (SUPPORT, GRACE)
    );
    app.screenshot("two-threads").await;
    app.close().await;
}

#[tokio::test]
async fn twenty_recipients_are_sent_individually_and_a_21st_is_refused() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let numbers: Vec<String> = (0..21).map(|i| format!("+1415555{:04}", 300 + i)).collect();
    let twenty: Vec<&str> = numbers[..20].iter().map(String::as_str).collect();
    compose(&app, &twenty, "Store opens at 9 tomorrow").await;
    app.type_into(&by_label("To"), &numbers[20]).await;
    app.type_into(&by_label("To"), "\u{E007}").await;
    app.wait_for(&containing_text("at most 20 people")).await;
    app.click(&button("Send").within(&composer())).await;
    app.click(&line_option("Support")).await;
    app.click(&button("Send from Support").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;
    let sent = carrier_received(&app, 20).await;
    let mut to: Vec<&str> = sent.iter().map(|m| m.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, twenty, "one message per recipient");
    assert!(sent.iter().all(|m| m.from == SUPPORT));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.sandbox().sent().await.len(), 20, "never the 21st");
    app.close().await;
}

#[tokio::test]
async fn an_image_is_attached_shown_and_sent() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let png = app.data_dir().with_extension("png");
    let status = std::process::Command::new("convert")
        .args(["-size", "64x48", "gradient:blue-white"])
        .arg(&png)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success());
    compose(&app, &["Katherine Johnson"], "The diagram").await;
    let input = app
        .wait_for(&by_label("Image files").within(&composer()))
        .await;
    input
        .send_keys(png.to_str().unwrap())
        .await
        .expect("the file chosen");
    app.wait_for(&by_role("img", "Attached image 1")).await;
    app.click(&button("Send").within(&composer())).await;
    app.click(&line_option("Sales")).await;
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;
    let sent = carrier_received(&app, 1).await;
    assert!(
        sent[0].sid.starts_with("MM"),
        "sent as MMS: {}",
        sent[0].sid
    );
    app.wait_for(&by_role("img", "Photo 1 of 1")).await;
    app.close().await;
}

/// Three different images beside the data directory, made with ImageMagick.
fn three_pictures(app: &App) -> Vec<std::path::PathBuf> {
    [
        "64x48 gradient:blue-white",
        "40x60 gradient:red-yellow",
        "80x30 plasma:green-black",
    ]
    .iter()
    .enumerate()
    .map(|(i, spec)| {
        let (size, fill) = spec.split_once(' ').unwrap();
        let path = app.data_dir().with_extension(format!("{i}.png"));
        let status = std::process::Command::new("convert")
            .args(["-size", size, fill])
            .arg(&path)
            .status()
            .expect("ImageMagick's convert");
        assert!(status.success());
        path
    })
    .collect()
}

/// Picks `files` at once in the file input labelled "Image files" within `within`.
async fn attach(app: &App, within: &Target, files: &[&std::path::Path]) {
    let paths: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    app.wait_for(&by_label("Image files").within(within))
        .await
        .send_keys(&paths.join("\n"))
        .await
        .expect("the files chosen");
}

/// The carrier's messages from the app with their media counts, once `n` have arrived.
async fn sent_media(app: &App, n: usize) -> Vec<(String, String)> {
    let sent = carrier_received(app, n).await;
    sent.into_iter().map(|m| (m.body, m.num_media)).collect()
}

#[tokio::test]
async fn three_images_go_as_one_mms_with_three_media_from_the_composer_and_a_reply() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let pictures = three_pictures(&app);
    let [first, second, third] = [&pictures[0], &pictures[1], &pictures[2]].map(|p| p.as_path());

    // The New message window: three at once, one removed, then added back with the button.
    compose(&app, &["Katherine Johnson"], "Three photos").await;
    attach(&app, &composer(), &[first, second, third]).await;
    for n in 1..=3 {
        app.wait_for(&by_role("img", &format!("Attached image {n}")).within(&composer()))
            .await;
    }
    app.wait_for(&containing_text("3 images ·").within(&composer()))
        .await;
    app.screenshot("three-attached").await;
    app.click(&button("Remove image 2").within(&composer()))
        .await;
    app.wait_gone(&by_role("img", "Attached image 3")).await;
    app.wait_for(&containing_text("2 images ·").within(&composer()))
        .await;
    attach(&app, &composer(), &[second]).await;
    app.wait_for(&by_role("img", "Attached image 3").within(&composer()))
        .await;
    app.wait_for(&containing_text("3 images ·").within(&composer()))
        .await;
    app.click(&button("Send").within(&composer())).await;
    app.click(&line_option("Sales")).await;
    app.click(&button("Send from Sales").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;
    let sent = carrier_received(&app, 1).await;
    assert_eq!(sent.len(), 1, "one message, not one per image: {sent:?}");
    assert!(
        sent[0].sid.starts_with("MM"),
        "sent as MMS: {}",
        sent[0].sid
    );
    assert_eq!(
        sent_media(&app, 1).await,
        [("Three photos".into(), "3".into())]
    );
    app.wait_for(&containing_text("Three photos")).await;

    // The reply box of the thread now open: three more, sent as one message.
    let reply = by_role("form", "Reply");
    attach(&app, &reply, &[third, first, second]).await;
    app.wait_for(&by_role("img", "Attached image 3").within(&reply))
        .await;
    app.type_into(&textbox("Reply text"), "Three more").await;
    app.click(&button("Send from Sales").within(&reply)).await;
    app.wait_gone(&by_role("img", "Attached image 1").within(&reply))
        .await;
    let sent = sent_media(&app, 2).await;
    assert_eq!(
        sent,
        [
            ("Three photos".into(), "3".into()),
            ("Three more".into(), "3".into())
        ]
    );
    app.wait_for(&containing_text("Three more")).await;
    app.screenshot("three-sent").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.sandbox().sent().await.len(), 2, "exactly two messages");
    app.close().await;
}

/// A photo as a phone takes it, for what it weighs: 640×480 of noise, which no PNG compresses
/// (some 900 KB, far over the 64 KB a draft's text may take).
fn a_real_photo(app: &App) -> std::path::PathBuf {
    let path = app.data_dir().with_extension("photo.png");
    let status = std::process::Command::new("convert")
        .args(["-size", "640x480", "xc:gray", "+noise", "Random"])
        .arg(&path)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success());
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size >= 300 * 1024, "a realistic photo: {size} bytes");
    path
}

#[tokio::test]
async fn three_attached_images_come_back_with_the_draft_after_a_restart() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let pictures = three_pictures(&app);
    let photo = a_real_photo(&app);
    let files = [
        photo.as_path(),
        pictures[0].as_path(),
        pictures[1].as_path(),
    ];
    compose(&app, &["Ada Lovelace"], "Photos to follow").await;
    attach(&app, &composer(), &files).await;
    app.wait_for(&by_role("img", "Attached image 3").within(&composer()))
        .await;
    // What is typed after the photos is saved too (it once failed: the draft was too large).
    app.type_into(&textbox("Message").within(&composer()), ", and the invoice")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the draft is saved as one types
    let dir = app.close().await;
    let app = App::launch_with(dir).await;
    app.wait_for(&composer()).await;
    let body = app.wait_for(&textbox("Message").within(&composer())).await;
    assert_eq!(
        body.prop("value").await.unwrap().as_deref(),
        Some("Photos to follow, and the invoice")
    );
    for n in 1..=3 {
        app.wait_for(&by_role("img", &format!("Attached image {n}")).within(&composer()))
            .await;
    }
    app.wait_for(&containing_text("640×480").within(&composer()))
        .await;
    app.wait_for(&containing_text("3 images ·").within(&composer()))
        .await;
    assert!(!app.shows(&by_role("img", "Attached image 4")).await);
    app.close().await;
}

/// Calls one of the app's commands as its page does; answers the command's result.
/// Waits until the app's runner has had the carrier's first answer (its status reads online):
/// a message the sandbox receives after that is news, notified, where one received before the
/// runner started (the app starts it after its first paint) is its first sync's history,
/// recorded quietly.
async fn first_sync_answered(app: &App) {
    eventually(
        "the app's first sync",
        Duration::from_secs(20),
        async || {
            let status = invoke(app, "status", serde_json::json!({})).await;
            (status["online"] == serde_json::Value::Bool(true)).then_some(())
        },
    )
    .await;
}

async fn invoke(app: &App, command: &str, args: serde_json::Value) -> serde_json::Value {
    let answer = app
        .client()
        .execute_async(
            "const [command, args, done] = arguments;
             window.__TAURI_INTERNALS__.invoke(command, args)
                 .then((ok) => done({ ok }), (err) => done({ err }));",
            vec![serde_json::json!(command), args],
        )
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    match answer.get("err") {
        Some(err) => panic!("{command} failed: {err}"),
        None => answer["ok"].clone(),
    }
}

#[tokio::test]
async fn a_draft_with_its_images_in_its_json_comes_back_and_is_saved_the_new_way() {
    use base64::Engine as _;
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let picture = std::fs::read(&three_pictures(&app)[0]).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(&picture);
    // The composer's draft as the versions before `draft_images` wrote it.
    let older = serde_json::json!({
        "recipients": [],
        "body": "Written before the update",
        "line": null,
        "attached": {
            "images": [{ "kind": "png", "width": 64, "height": 48, "resized": false,
                         "bytes": picture.len(), "data": data }],
            "budget": 5 * 1024 * 1024,
        },
    });
    let key = serde_json::json!("Composer");
    invoke(
        &app,
        "save_draft",
        serde_json::json!({ "key": key, "json": older.to_string() }),
    )
    .await;
    let dir = app.close().await;

    let app = App::launch_with(dir).await;
    app.wait_for(&composer()).await;
    let body = app.wait_for(&textbox("Message").within(&composer())).await;
    assert_eq!(
        body.prop("value").await.unwrap().as_deref(),
        Some("Written before the update")
    );
    app.wait_for(&by_role("img", "Attached image 1").within(&composer()))
        .await;
    app.wait_for(&containing_text("64×48").within(&composer()))
        .await;
    // Saved again the new way at once: the image apart, only how many in the JSON.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let json = invoke(&app, "load_draft", serde_json::json!({ "key": key })).await;
        let draft: serde_json::Value = serde_json::from_str(json.as_str().unwrap()).unwrap();
        if draft.get("attached").is_none() {
            assert_eq!(draft["images"], 1, "{draft}");
            assert_eq!(draft["body"], "Written before the update");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still the older form");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let images = invoke(&app, "draft_images", serde_json::json!({ "key": key })).await;
    let images = images["images"].as_array().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["data"], data);
    app.close().await;
}

#[tokio::test]
async fn offline_messages_wait_and_go_once_on_reconnect() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.sandbox().offline().await;
    compose(&app, &["Alan Turing"], "Sent while offline").await;
    app.click(&button("Send").within(&composer())).await;
    app.click(&line_option("Support")).await;
    app.click(&button("Send from Support").within(&composer()))
        .await;
    app.wait_for_within(
        &containing_text("1 message will be sent when you're back online"),
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("offline").await;
    app.sandbox().online().await;
    let sent = carrier_received(&app, 1).await;
    assert_eq!(sent[0].body, "Sent while offline");
    app.wait_gone(&containing_text("back online")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.sandbox().sent().await.len(), 1, "exactly once");
    app.close().await;
}

#[tokio::test]
async fn a_draft_survives_a_restart() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    compose(&app, &["Ada Lovelace"], "Half-written thought").await;
    tokio::time::sleep(Duration::from_secs(1)).await; // the draft is saved as one types
    let dir = app.close().await;
    let app = App::launch_with(dir).await;
    // The unsent message is put back in front of its writer.
    app.wait_for(&composer()).await;
    let body = app.wait_for(&textbox("Message")).await;
    assert_eq!(
        body.prop("value").await.unwrap().as_deref(),
        Some("Half-written thought")
    );
    app.wait_for(&by_role("listitem", "Ada Lovelace").within(&labelled("Recipients")))
        .await;
    app.close().await;
}

#[tokio::test]
async fn the_pin_keeps_the_window_on_top_and_is_remembered() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let pin = button("Pin on top");
    assert_eq!(
        app.wait_for(&pin)
            .await
            .attr("aria-pressed")
            .await
            .unwrap()
            .as_deref(),
        Some("false")
    );
    app.click(&pin).await;
    eventually("the pin to be pressed", DEFAULT_TIMEOUT, async || {
        let pressed = app.find(&pin).await?.attr("aria-pressed").await.ok()??;
        (pressed == "true").then_some(())
    })
    .await;
    app.screenshot("pinned").await;
    let dir = app.close().await;
    let app = App::launch_with(dir).await;
    eventually("the pin to be remembered", DEFAULT_TIMEOUT, async || {
        let pressed = app.find(&pin).await?.attr("aria-pressed").await.ok()??;
        (pressed == "true").then_some(())
    })
    .await;
    app.click(&pin).await;
    eventually("the pin to be released", DEFAULT_TIMEOUT, async || {
        let pressed = app.find(&pin).await?.attr("aria-pressed").await.ok()??;
        (pressed == "false").then_some(())
    })
    .await;
    app.close().await;
}

#[tokio::test]
async fn notifications_follow_the_privacy_setting() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.sandbox().reply(ADA, SUPPORT, "Full text please").await;
    let shown = app
        .wait_for_notification("Ada Lovelace → Support", Duration::from_secs(20))
        .await;
    assert_eq!(shown.body, "Full text please");
    // The reply shows up in the list too, unread.
    app.wait_for(&row("Ada Lovelace", "Support")).await;

    app.click(&button("Settings")).await;
    let privacy = app.wait_for(&by_label("Notifications show")).await;
    privacy
        .select_by_label("Sender only")
        .await
        .expect("the option");
    app.wait_for(&by_text("Saved.")).await;
    clear_notifications().await;
    app.sandbox().reply(GRACE, SALES, "A secret").await;
    let shown = app
        .wait_for_notification("Grace Hopper → Sales", Duration::from_secs(20))
        .await;
    assert_eq!(shown.body, "New message", "the text stays private");
    app.close().await;
}

#[tokio::test]
async fn a_photo_without_words_is_notified_as_a_photo() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    first_sync_answered(&app).await;
    let photo: &[u8] = include_bytes!("../src-tauri/crates/sandbox/src/demo-photo-1.jpg");
    // Labelled as a phone might; the app goes by the content.
    app.sandbox()
        .reply_with_media(ADA, SALES, "", &[("application/octet-stream", photo)])
        .await;
    let shown = app
        .wait_for_notification("Ada Lovelace → Sales", Duration::from_secs(20))
        .await;
    assert_eq!(shown.body, "Photo", "named once downloaded and recognised");
    app.close().await;
}

#[tokio::test]
async fn clicking_a_notification_opens_its_conversation() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.sandbox()
        .reply(GRACE, SUPPORT, "Is my repair done?")
        .await;
    app.wait_for_notification("Grace Hopper → Support", Duration::from_secs(20))
        .await;
    assert!(
        !app.shows(&heading("Grace Hopper")).await,
        "no conversation is open before the click"
    );
    click_newest_notification().await;
    // The conversation is on screen, with the reply box on its line.
    app.wait_for(&heading("Grace Hopper")).await;
    app.wait_for(&button("Send from Support").within(&by_role("form", "Reply")))
        .await;
    app.close().await;
}

#[tokio::test]
async fn a_second_launch_hands_over_to_the_first_window() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.sandbox().reply(ADA, SALES, "Still there?").await;
    app.wait_for(&row("Ada Lovelace", "Sales")).await;
    // Launched again (from the dock, a desktop file, a terminal): the second process finds the
    // first, asks it to show its window, and leaves.
    let second = app.launch_again().await;
    assert!(second.success(), "the second launch ended with {second}");
    // The first is still the one on screen, with its conversations.
    app.wait_for(&row("Ada Lovelace", "Sales")).await;
    app.click(&row("Ada Lovelace", "Sales")).await;
    app.wait_for(&containing_text("Still there?")).await;
    app.close().await;
}

/// A line in the composer's "Send from" list, named by its text: "Sales +1 415-555-0100".
fn line_option(label: &str) -> Target {
    Target::xpath(
        &format!("//*[@role='option' and starts-with(normalize-space(.), '{label} +')]"),
        &format!("option {label:?}"),
    )
    .within(&by_role("listbox", "Send from"))
}

/// Lets the window paint what the page just changed: WebKit's screenshot is of the last
/// composited frame, which may trail the DOM by a frame or two.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// The page's background colour, as `(r, g, b)`.
async fn background(app: &App) -> (u8, u8, u8) {
    let css = app
        .client()
        .execute(
            "return getComputedStyle(document.documentElement).backgroundColor",
            vec![],
        )
        .await
        .expect("the computed style");
    let css = css.as_str().unwrap_or_default().to_owned();
    let parts: Vec<u8> = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    assert!(parts.len() >= 3, "a colour: {css}");
    (parts[0], parts[1], parts[2])
}

/// Light and dark: the app follows the desktop, and every main view renders in both. The
/// screenshots it saves (`target/e2e-screenshots/the_main_views_*`) are the README's
/// (`./dev screenshots` copies them to docs/screenshots).
/// A customer connects their Twilio account in Settings (a sandbox plays Twilio on loopback, with
/// a number of its own), then texts through it; an image can't go before a media host is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twilio_account_is_connected_in_settings_and_sends() {
    if skipped() {
        return;
    }
    const SID: &str = "AC5ea1f00d5ea1f00d5ea1f00d5ea1f00d";
    const TOKEN: &str = "0badc0de0badc0de0badc0de0badc0de";
    let twilio_dir = tempfile::tempdir().unwrap();
    let mut config = switchboard_sandbox::SandboxConfig::new(twilio_dir.path());
    config.account_sid = SID.into();
    config.auth_token = TOKEN.into();
    let twilio = switchboard_sandbox::serve(config).await.unwrap();
    for line in twilio.lines() {
        twilio.remove_line(&line.number).unwrap();
    }
    let desk = switchboard_engine::core::model::E164::from_normalized("+14155550150").unwrap();
    twilio.add_line(desk, "Front desk", true, true).unwrap();
    let api = twilio.api_base_url();
    let app = App::launch_with_env(&[("SWITCHBOARD_TWILIO_API_URL", &api)]).await;

    app.click(&button("Settings")).await;
    let form = region("Carrier");
    app.wait_for(&form).await;
    app.type_into(&by_label("Account SID").within(&form), SID)
        .await;
    app.type_into(
        &by_label("Auth Token").within(&form),
        "ffffffffffffffffffffffffffffffff",
    )
    .await;
    app.click(&button("Connect").within(&form)).await;
    let alert = app
        .wait_for(&Target::xpath(
            "//*[@aria-label='Carrier']//*[@role='alert']",
            "the carrier's error",
        ))
        .await;
    let refused = alert.text().await.unwrap();
    assert!(refused.contains("auth token"), "{refused}");

    let token = by_label("Auth Token").within(&form);
    app.wait_for(&token).await.clear().await.unwrap();
    app.type_into(&token, TOKEN).await;
    app.click(&button("Connect").within(&form)).await;
    app.wait_for(&containing_text("Your lines: Front desk."))
        .await;
    app.wait_for(&containing_text("Twilio account “Switchboard sandbox”"))
        .await;
    app.screenshot("settings-twilio-connected").await;
    app.click(&button("Close settings")).await;

    // The only line that can send is the account's: one click sends through Twilio.
    compose(&app, &["+1 415 555 0123"], "Your table is ready").await;
    app.click(&button("Send from Front desk").within(&composer()))
        .await;
    app.wait_gone(&composer()).await;
    let sent = eventually(
        "Twilio to receive the message",
        Duration::from_secs(20),
        async || {
            twilio
                .messages()
                .into_iter()
                .find(|m| m.body == "Your table is ready")
        },
    )
    .await;
    assert_eq!(sent.from.as_str(), "+14155550150");

    // An image, with no media host yet: the composer says so before anything is sent.
    let png = app.data_dir().with_extension("png");
    let status = std::process::Command::new("convert")
        .args(["-size", "32x32", "xc:orange"])
        .arg(&png)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success());
    compose(&app, &["+1 415 555 0123"], "And the menu").await;
    app.wait_for(&by_label("Image files").within(&composer()))
        .await
        .send_keys(png.to_str().unwrap())
        .await
        .expect("the file chosen");
    app.wait_for(&containing_text("Images can't be sent from Front desk yet"))
        .await;
    app.close().await;
    twilio.shutdown().await;
}

#[tokio::test]
async fn the_main_views_follow_the_desktop_in_light_and_dark() {
    if skipped() {
        return;
    }
    for look in [Look::Light, Look::Dark] {
        let name = match look {
            Look::Light => "light",
            Look::Dark => "dark",
        };
        let app = App::launch_looking(look).await;
        let (r, g, b) = background(&app).await;
        let luminance = (0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64) / 255.0;
        match look {
            Look::Light => assert!(luminance > 0.7, "a light page: {r},{g},{b}"),
            Look::Dark => assert!(luminance < 0.3, "a dark page: {r},{g},{b}"),
        }

        // A morning's traffic: customers wrote to both lines, and we answered one.
        app.sandbox()
            .reply(GRACE, SUPPORT, "My order #1042 has not arrived yet.")
            .await;
        app.sandbox()
            .reply(KATHERINE, SALES, "Do you have the blue one in a medium?")
            .await;
        app.sandbox()
            .reply(ADA, SALES, "Hi! Is the shop open on Sunday?")
            .await;
        app.wait_for(&row("Ada Lovelace", "Sales")).await;
        app.click(&row("Ada Lovelace", "Sales")).await;
        app.type_into(&textbox("Reply text"), "Yes, from 10 to 4. See you then!")
            .await;
        app.click(&button("Send from Sales").within(&by_role("form", "Reply")))
            .await;
        carrier_received(&app, 1).await;
        app.wait_for(&containing_text("Delivered")).await;
        settle().await;
        app.screenshot(&format!("{name}-conversation")).await;

        // New message to a contact without a default line: the first Send asks for the line.
        compose(&app, &["Alan Turing"], "Your repair is ready for pick-up.").await;
        app.click(&button("Send").within(&composer())).await;
        app.wait_for(&by_role("listbox", "Send from")).await;
        app.wait_for(&containing_text("Choose the number to send from"))
            .await;
        settle().await;
        app.screenshot(&format!("{name}-composer")).await;
        app.click(&button("Close").within(&composer())).await;

        app.click(&button("Contacts")).await;
        app.wait_for(&region("Contacts")).await;
        settle().await;
        app.screenshot(&format!("{name}-contacts")).await;
        app.click(&button("Settings")).await;
        app.wait_for(&region("Settings")).await;
        settle().await;
        app.screenshot(&format!("{name}-settings")).await;
        app.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Media in the thread (issue 12): the photos of a message, the viewer.

/// A data directory whose store already holds what `fill` writes, on the Sales line, before the
/// app's first start (which adopts the sandbox's lines and demo contacts as usual).
fn prefilled(fill: impl FnOnce(&Store, &Line)) -> DataDir {
    let dir = DataDir::new();
    std::fs::create_dir_all(dir.path()).expect("the data directory");
    let key = DbKey::generate();
    write_key_file(&dir.key_file(), &key).expect("the key file");
    let store = Store::create(&dir.path().join(DB_FILE_NAME), key).expect("a store");
    let sales = store
        .add_line(&E164::from_normalized(SALES).unwrap(), "Sales", "#2563eb")
        .expect("the Sales line");
    fill(&store, &sales);
    dir
}

/// An image made by ImageMagick (`convert`), e.g. `("plasma:red-blue", 800, 600, "jpg")`.
fn picture(source: &str, width: u32, height: u32, format: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(format!("picture.{format}"));
    let status = std::process::Command::new("convert")
        .args(["-seed", "7", "-size", &format!("{width}x{height}"), source])
        .arg(&path)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success());
    std::fs::read(&path).expect("the picture")
}

/// Presses a key as the keyboard does, on whatever has the focus.
async fn press(app: &App, key: Key) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key.into() })
        .then(KeyAction::Up { value: key.into() });
    app.client()
        .perform_actions(keys)
        .await
        .expect("a key press");
}

/// Waits until the image named `name` has loaded; its `naturalWidth` and where it came from.
async fn loaded(app: &App, name: &str) -> (u32, String) {
    let img = by_role("img", name);
    eventually(
        &format!("{img} to load"),
        Duration::from_secs(30),
        async || {
            let el = app.find(&img).await?;
            // A number, which WebDriver's property answer does not give as text.
            let seen = app
                .client()
                .execute(
                    "return [arguments[0].naturalWidth, arguments[0].currentSrc];",
                    vec![serde_json::to_value(&el).ok()?],
                )
                .await
                .ok()?;
            let width = u32::try_from(seen.get(0)?.as_u64()?).ok()?;
            let src = seen.get(1)?.as_str()?.to_owned();
            (width > 0).then_some((width, src))
        },
    )
    .await
}

/// The accessible name of the element that has the focus.
async fn focused(app: &App) -> Option<String> {
    let el = app.client().active_element().await.ok()?;
    el.attr("aria-label").await.ok()?
}

#[tokio::test]
async fn a_messages_photos_show_in_the_thread_and_the_viewer_steps_through_them() {
    if skipped() {
        return;
    }
    let wide = picture("plasma:red-blue", 1200, 900, "jpg");
    let tall = picture("gradient:green-white", 300, 400, "png");
    let dir = prefilled(|store, sales| {
        let key = ThreadKey {
            line: sales.id,
            counterpart: E164::from_normalized(ADA).unwrap(),
        };
        let images = [
            NewImage {
                kind: ImageKind::Jpeg,
                bytes: wide.clone(),
                width: 1200,
                height: 900,
            },
            NewImage {
                kind: ImageKind::Png,
                bytes: tall.clone(),
                width: 300,
                height: 400,
            },
        ];
        store
            .insert_inbound_batch(
                &[NewInbound {
                    key: &key,
                    body: "Both sides of the parcel",
                    carrier_sid: "MM0000000000000000000000000000e2e1",
                    created_at: now_ms() - 60_000,
                    media: InboundMedia::Images(&images),
                    messaging_service: None,
                }],
                Arrival::New,
            )
            .expect("the message with two photos");
    });
    let app = App::launch_with(dir).await;
    app.click(&row("Ada Lovelace", "Sales")).await;
    app.wait_for(&by_text("Both sides of the parcel")).await;

    // Both photos, loaded from the shell's media scheme (not base64 in the page), the larger
    // one as a preview of the size the thread shows.
    let (first, src) = loaded(&app, "Photo 1 of 2").await;
    assert_eq!(first, 800, "a preview 800 px wide");
    assert!(
        src.starts_with("media://localhost/"),
        "served by the media scheme: {src}"
    );
    assert_eq!(loaded(&app, "Photo 2 of 2").await.0, 300);
    app.screenshot("thread").await;

    // A click opens the viewer on the photo clicked, named for a screen reader.
    app.click(&button("Photo 1 of 2")).await;
    app.wait_for(&dialog("Photo 1 of 2 from Ada Lovelace"))
        .await;
    assert_eq!(
        app.wait_for(&button("Previous photo").within(&dialog("Photo 1 of 2 from Ada Lovelace")))
            .await
            .prop("disabled")
            .await
            .unwrap()
            .as_deref(),
        Some("true"),
        "nothing before the first"
    );
    app.screenshot("viewer").await;

    // The right arrow shows the second, the left arrow the first again.
    press(&app, Key::Right).await;
    app.wait_for(&dialog("Photo 2 of 2 from Ada Lovelace"))
        .await;
    assert_eq!(loaded(&app, "Photo 2 of 2 from Ada Lovelace").await.0, 300);
    press(&app, Key::Right).await; // there is no third
    app.wait_for(&dialog("Photo 2 of 2 from Ada Lovelace"))
        .await;
    press(&app, Key::Left).await;
    app.wait_for(&dialog("Photo 1 of 2 from Ada Lovelace"))
        .await;
    assert_eq!(
        loaded(&app, "Photo 1 of 2 from Ada Lovelace").await.0,
        1200,
        "the viewer shows the original"
    );

    // Escape closes it and gives the focus back to the photo that opened it.
    press(&app, Key::Escape).await;
    app.wait_gone(&by_role("dialog", "Photo 1 of 2 from Ada Lovelace"))
        .await;
    assert_eq!(focused(&app).await.as_deref(), Some("Photo 1 of 2"));

    // The keyboard opens it too: Enter on the second photo.
    app.find(&button("Photo 2 of 2"))
        .await
        .unwrap()
        .send_keys("\u{e007}")
        .await
        .unwrap();
    app.wait_for(&dialog("Photo 2 of 2 from Ada Lovelace"))
        .await;
    app.click(&button("Close").within(&dialog("Photo 2 of 2 from Ada Lovelace")))
        .await;
    app.wait_gone(&by_role("dialog", "Photo 2 of 2 from Ada Lovelace"))
        .await;
    assert_eq!(focused(&app).await.as_deref(), Some("Photo 2 of 2"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.screenshot("thread-after-the-viewer").await;
    app.close().await;
}

/// Issue 12's Done-when: a demo contact's reply with two photos shows both (downloaded by the
/// app from the sandbox, which serves them as Twilio does), the viewer opens and closes.
#[tokio::test]
async fn a_demo_contacts_reply_with_two_photos_shows_both_and_the_viewer_opens_and_closes() {
    if skipped() {
        return;
    }
    let wide = picture("plasma:orange-purple", 640, 480, "jpg");
    let square = picture("gradient:navy-white", 200, 200, "png");
    let app = App::launch().await;
    app.sandbox()
        .reply_with_media(
            GRACE,
            SUPPORT,
            "The meter, front and back",
            &[("image/jpeg", &wide), ("image/png", &square)],
        )
        .await;
    app.click(&row("Grace Hopper", "Support")).await;
    app.wait_for_within(
        &by_text("The meter, front and back"),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(loaded(&app, "Photo 1 of 2").await.0, 640);
    assert_eq!(loaded(&app, "Photo 2 of 2").await.0, 200);
    app.screenshot("two-photos").await;

    app.click(&button("Photo 1 of 2")).await;
    app.wait_for(&dialog("Photo 1 of 2 from Grace Hopper"))
        .await;
    press(&app, Key::Right).await;
    app.wait_for(&dialog("Photo 2 of 2 from Grace Hopper"))
        .await;
    assert_eq!(loaded(&app, "Photo 2 of 2 from Grace Hopper").await.0, 200);
    press(&app, Key::Escape).await;
    app.wait_gone(&by_role("dialog", "Photo 2 of 2 from Grace Hopper"))
        .await;
    assert_eq!(focused(&app).await.as_deref(), Some("Photo 1 of 2"));
    app.close().await;
}

/// Drives the desktop's save dialog titled `title` (GTK's, a window of its own that WebDriver
/// cannot reach) with the keyboard, as a person would: the whole path typed into its name field,
/// then Enter.
fn save_through_dialog(title: &str, path: &std::path::Path) {
    let found = std::process::Command::new("xdotool")
        .args(["search", "--sync", "--name", title])
        .output()
        .expect("xdotool");
    let window = String::from_utf8_lossy(&found.stdout)
        .lines()
        .last()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no window titled {title:?}"));
    let run = |args: &[&str]| {
        let status = std::process::Command::new("xdotool")
            .args(args)
            .status()
            .expect("xdotool");
        assert!(status.success(), "xdotool {args:?}");
    };
    run(&["windowfocus", "--sync", &window]);
    std::thread::sleep(Duration::from_millis(500));
    run(&["key", "--clearmodifiers", "ctrl+a"]);
    run(&["type", "--delay", "20", path.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(300));
    run(&["key", "Return"]);
}

#[tokio::test]
async fn save_image_writes_the_original_bytes_where_the_person_chose() {
    if skipped() {
        return;
    }
    let original = picture("plasma:teal-yellow", 640, 480, "jpg");
    let dir = prefilled(|store, sales| {
        let key = ThreadKey {
            line: sales.id,
            counterpart: E164::from_normalized(KATHERINE).unwrap(),
        };
        let images = [NewImage {
            kind: ImageKind::Jpeg,
            bytes: original.clone(),
            width: 640,
            height: 480,
        }];
        store
            .insert_inbound_batch(
                &[NewInbound {
                    key: &key,
                    body: "The signed form",
                    carrier_sid: "MM0000000000000000000000000000e2e2",
                    created_at: now_ms() - 60_000,
                    media: InboundMedia::Images(&images),
                    messaging_service: None,
                }],
                Arrival::New,
            )
            .expect("the message with a photo");
    });
    let app = App::launch_with(dir).await;
    app.click(&row("Katherine Johnson", "Sales")).await;
    app.click(&button("Photo 1 of 1")).await;
    let viewer = dialog("Photo 1 of 1 from Katherine Johnson");
    app.click(&button("Save image…").within(&viewer)).await;

    let folder = tempfile::tempdir().expect("a folder to save into");
    let path = folder.path().join("signed-form.jpg");
    let typed = path.clone();
    tokio::task::spawn_blocking(move || save_through_dialog("Save photo", &typed))
        .await
        .expect("the save dialog");
    app.wait_for(&containing_text("Saved as signed-form.jpg").within(&viewer))
        .await;
    let saved = std::fs::read(&path).expect("the saved file");
    assert!(saved == original, "the bytes received, not a re-encoding");
    app.close().await;
}

/// A message the account sent from elsewhere (a colleague's desktop, the console) reads as
/// sent, and says where it came from.
#[tokio::test]
async fn a_message_sent_from_another_device_reads_as_sent_and_says_so() {
    if skipped() {
        return;
    }
    let dir = prefilled(|store, sales| {
        let key = ThreadKey {
            line: sales.id,
            counterpart: E164::from_normalized(ALAN).unwrap(),
        };
        let sent = |body, sid, status, ago| NewSentElsewhere {
            key: &key,
            body,
            carrier_sid: sid,
            created_at: now_ms() - ago,
            status,
            error: None,
            media: InboundMedia::None,
        };
        store
            .insert_sent_elsewhere_batch(&[
                sent(
                    "Your order ships today",
                    "SM00000000000000000000000000000e2e3",
                    MessageStatus::Delivered,
                    120_000,
                ),
                sent(
                    "Tracking number to follow",
                    "SM00000000000000000000000000000e2e4",
                    MessageStatus::Sent,
                    60_000,
                ),
            ])
            .expect("two messages sent elsewhere");
    });
    let app = App::launch_with(dir).await;
    app.click(&row("Alan Turing", "Sales")).await;
    let delivered = by_role("article", "Sent message").within(&labelled("Messages"));
    app.wait_for(&delivered).await;
    app.wait_for(&containing_text("Delivered · sent from another device"))
        .await;
    app.wait_for(&by_text("· Sent from another device")).await;
    assert!(
        !app.shows(&button("Retry")).await,
        "nothing to send again: it left from elsewhere"
    );
    app.screenshot("sent-elsewhere").await;
    app.close().await;
}

/// A message the carrier accepted and then reported undelivered (Twilio's 30003, a status the
/// sync records) offers Retry like any failure, and Retry sends it again as a new message: the
/// thread then shows it once, on its way, and the carrier receives it once.
#[tokio::test]
async fn retry_on_a_message_the_carrier_reported_undelivered_sends_it_once_more() {
    if skipped() {
        return;
    }
    let sid = "SM00000000000000000000000000000e2e5";
    let dir = prefilled(|store, sales| {
        let at = now_ms() - 60_000;
        let sent = store
            .enqueue_outgoing(
                &[NewOutgoing {
                    key: ThreadKey {
                        line: sales.id,
                        counterpart: E164::from_normalized(ALAN).unwrap(),
                    },
                    body: "Your table is ready".into(),
                    images: Vec::new(),
                    client_id: "e2e-undelivered".into(),
                }],
                at,
            )
            .expect("a message")[0];
        store.mark_sending(sent.outbox_id, at + 1).expect("sending");
        store.mark_sent(sent.outbox_id, sid, at + 2).expect("sent");
        let error = MessageError {
            code: Some("30003".into()),
            message: "The phone is switched off or out of reach; try again later.".into(),
        };
        store
            .apply_delivery_status(sid, MessageStatus::Undelivered, Some(&error), at + 3)
            .expect("undelivered");
    });
    let app = App::launch_with(dir).await;
    app.click(&row("Alan Turing", "Sales")).await;
    app.wait_for(&containing_text("Not delivered: The phone is switched off"))
        .await;
    app.click(&button("Retry")).await;

    let sent = carrier_received(&app, 1).await;
    assert_eq!(
        sent.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["Your table is ready"]
    );
    app.wait_gone(&containing_text("Not delivered")).await;
    let bubbles = app
        .client()
        .find_all(fantoccini::Locator::XPath(
            "//*[@aria-label='Messages']//article[@aria-label='Sent message']",
        ))
        .await
        .expect("the thread's messages");
    assert_eq!(
        bubbles.len(),
        1,
        "the failed copy went, the new one is there"
    );
    assert!(!app.shows(&button("Retry")).await);
    app.screenshot("undelivered-retried").await;
    app.close().await;
}

// ---------------------------------------------------------------------------------------------
// Issue 13: the composer and the conversation never lose a keystroke or a message.

/// Keys pressed on whatever has the focus, one after the other as fast as WebDriver goes, with
/// Control held down for those marked `true`.
async fn keys(app: &App, presses: &[(char, bool)]) {
    let ctrl: char = Key::Control.into();
    let mut actions = KeyActions::new("keyboard".into());
    for &(key, with_ctrl) in presses {
        if with_ctrl {
            actions = actions.then(KeyAction::Down { value: ctrl });
        }
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        if with_ctrl {
            actions = actions.then(KeyAction::Up { value: ctrl });
        }
    }
    app.client()
        .perform_actions(actions)
        .await
        .expect("the key presses");
}

/// Types `text` on whatever has the focus (never focusing anything first, as `type_into` does).
async fn type_on_focus(app: &App, text: &str) {
    let presses: Vec<(char, bool)> = text.chars().map(|c| (c, false)).collect();
    keys(app, &presses).await;
}

/// Opens New message to `numbers`, types `body`, picks `line` with the line button, and gives
/// the focus back to the message (its caret after the text).
async fn compose_from(app: &App, numbers: &[&str], line: &str, body: &str) {
    compose(app, numbers, body).await;
    app.click(&button("Choose sending line")).await;
    app.click(&line_option(line)).await;
    app.wait_for(&button(&format!("Send from {line}")).within(&composer()))
        .await;
    app.click(&textbox("Message")).await;
}

#[tokio::test]
async fn a_double_ctrl_enter_sends_the_message_once_to_each_recipient() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    // Two Ctrl+Enter back to back through WebDriver, as a hurried person or a bouncing key
    // sends them.
    compose_from(&app, &[ADA, GRACE], "Sales", "Only once, please").await;
    let enter: char = Key::Enter.into();
    keys(&app, &[(enter, true), (enter, true)]).await;
    app.wait_gone(&composer()).await;
    // The same where WebDriver cannot promise it: the second press handled before the window
    // has answered anything the first one asked (both in one task of the page).
    compose_from(&app, &[KATHERINE, ALAN], "Sales", "Only once, again").await;
    app.client()
        .execute(
            "const body = document.querySelector('textarea[aria-label=Message]');
             for (let i = 0; i < 2; i++) {
               body.dispatchEvent(new KeyboardEvent('keydown',
                 { key: 'Enter', ctrlKey: true, bubbles: true, cancelable: true }));
             }",
            vec![],
        )
        .await
        .expect("two Ctrl+Enter");
    app.wait_gone(&composer()).await;
    carrier_received(&app, 4).await;
    // The runner sends about one message a second per line: a second fan-out would be there by now.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut to: Vec<String> = app
        .sandbox()
        .sent()
        .await
        .into_iter()
        .map(|m| m.to)
        .collect();
    to.sort();
    let mut each = vec![ADA, GRACE, KATHERINE, ALAN];
    each.sort();
    assert_eq!(to, each, "each recipient once");
    app.close().await;
}

#[tokio::test]
async fn a_message_sent_while_its_draft_was_being_saved_does_not_come_back_after_a_restart() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    compose_from(&app, &[ADA], "Sales", "Sent once, never a draf").await;
    // The store is slow to write for a while (held by another connection): the send waits, and
    // the draft save the last keystroke scheduled (300 ms later) falls inside it.
    let held = app.hold_writes(Duration::from_secs(2));
    let enter: char = Key::Enter.into();
    keys(&app, &[('t', false), (enter, true)]).await;
    app.wait_gone(&composer()).await;
    held.join().expect("the lock released");
    let sent = carrier_received(&app, 1).await;
    assert_eq!(sent[0].body, "Sent once, never a draft");
    let dir = app.close().await;

    let app = App::launch_with(dir).await;
    let draft = invoke(&app, "load_draft", serde_json::json!({ "key": "Composer" })).await;
    assert_eq!(draft, serde_json::Value::Null, "no draft of a sent message");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !app.shows(&composer()).await,
        "the sent message does not reopen as a draft"
    );
    app.close().await;
}

#[tokio::test]
async fn a_send_the_store_refuses_keeps_its_draft_across_a_restart() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    compose_from(&app, &[ADA], "Sales", "Kept when refuse").await;
    // The store stays locked longer than the app waits for it (5 s): the send fails.
    let held = app.hold_writes(Duration::from_secs(7));
    let enter: char = Key::Enter.into();
    keys(&app, &[('d', false), (enter, true)]).await;
    let alert = Target::xpath("//*[@role='alert']", "the composer's error").within(&composer());
    app.wait_for_within(&alert, Duration::from_secs(20)).await;
    held.join().expect("the lock released");
    tokio::time::sleep(Duration::from_secs(1)).await; // the draft is written once the store is free
    assert!(app.sandbox().sent().await.is_empty(), "nothing went");
    let dir = app.close().await;

    let app = App::launch_with(dir).await;
    app.wait_for(&composer()).await;
    let body = app.wait_for(&textbox("Message")).await;
    assert_eq!(
        body.prop("value").await.unwrap().as_deref(),
        Some("Kept when refused")
    );
    app.close().await;
}

/// The reply box's text and whether it has the focus.
async fn reply_box(app: &App) -> (String, bool) {
    let state = app
        .client()
        .execute(
            "const box = document.querySelector('textarea[aria-label=\"Reply text\"]');
             return [box ? box.value : null, document.activeElement === box];",
            vec![],
        )
        .await
        .expect("the reply box");
    (
        state[0].as_str().unwrap_or_default().to_owned(),
        state[1].as_bool().unwrap_or(false),
    )
}

#[tokio::test]
async fn typing_a_reply_while_the_thread_updates_keeps_every_keystroke_and_the_focus() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let photo = picture("plasma:red-blue", 320, 240, "png");
    app.sandbox()
        .reply_with_media(ADA, SALES, "A photo first", &[("image/png", &photo)])
        .await;
    app.click(&row("Ada Lovelace", "Sales")).await;
    loaded(&app, "Photo 1 of 1").await;
    let image = app.wait_for(&by_role("img", "Photo 1 of 1")).await;

    // A reply on its way, whose statuses then change while the next one is typed.
    app.type_into(&textbox("Reply text"), "On its way").await;
    let enter: char = Key::Enter.into();
    keys(&app, &[(enter, false)]).await;
    carrier_received(&app, 1).await;

    let text = "Typing along while the thread keeps changing under my fingers.";
    let typing = async {
        for c in text.chars() {
            type_on_focus(&app, &c.to_string()).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    };
    let inbound = async {
        for n in 1..=6 {
            app.sandbox()
                .reply(ADA, SALES, &format!("Inbound number {n}"))
                .await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    };
    tokio::join!(typing, inbound);
    app.wait_for(&by_text("Inbound number 6")).await;
    let delivered = by_role("article", "Sent message").within(&labelled("Messages"));
    eventually(
        "the reply to read Delivered",
        Duration::from_secs(20),
        async || {
            let status = app
                .find(&delivered)
                .await?
                .attr("data-status")
                .await
                .ok()??;
            (status == "delivered").then_some(())
        },
    )
    .await;
    // Every keystroke is in the box, which never lost the focus.
    assert_eq!(reply_box(&app).await, (text.to_owned(), true));
    // The photo's bubble is the one first shown, not a rebuilt one that loads it again.
    assert_eq!(
        image
            .attr("alt")
            .await
            .expect("the same image element")
            .as_deref(),
        Some("Photo 1 of 1")
    );
    // The header names the number as a person reads it, never as E.164.
    app.wait_for(&heading("Ada Lovelace")).await;
    app.wait_for(&containing_text("+1 415-555-0123 · ")).await;
    assert!(!app.shows(&containing_text("+14155550123")).await);
    app.close().await;
}

/// Where the bubble whose text is `body` stands from the top of the messages' view, in pixels
/// (None when it is not in the page), and how many bubbles the page holds.
async fn bubble_top(app: &App, body: &str) -> (Option<f64>, u64) {
    let seen = app
        .client()
        .execute(
            "const log = document.querySelector('[role=log][aria-label=Messages]');
             const bubbles = Array.from(log.querySelectorAll('.bubble'));
             const b = bubbles.find((b) => b.querySelector('.bubble-text')?.textContent === arguments[0]);
             return [b ? b.getBoundingClientRect().top - log.getBoundingClientRect().top : null,
                     bubbles.length];",
            vec![serde_json::json!(body)],
        )
        .await
        .expect("the messages");
    (seen[0].as_f64(), seen[1].as_u64().unwrap_or(0))
}

#[tokio::test]
async fn a_thread_of_700_messages_pages_back_to_its_first_and_keeps_the_place_being_read() {
    if skipped() {
        return;
    }
    const COUNT: i64 = 700;
    let dir = prefilled(|store, sales| {
        let key = ThreadKey {
            line: sales.id,
            counterpart: E164::from_normalized(ADA).unwrap(),
        };
        let start = now_ms() - COUNT * 60_000;
        let history = (1..=COUNT).map(|n| {
            let inbound = n % 2 == 1;
            HistoryMessage::settled(
                key.clone(),
                inbound,
                format!("History message {n}"),
                start + n * 60_000,
                None,
            )
        });
        store.import_history(history).expect("the history");
    });
    let app = App::launch_with(dir).await;
    app.click(&row("Ada Lovelace", "Sales")).await;
    app.wait_for(&by_text("History message 700")).await;
    // The newest page is a few screens (30 messages); the pages before it are a hundred each.
    assert_eq!(bubble_top(&app, "History message 670").await, (None, 30));

    // From the keyboard: the button at the top loads the page before, and the message that was
    // first stays where it was.
    let older = button("Show older messages").within(&labelled("Messages"));
    let el = app.wait_for(&older).await;
    app.client()
        .execute(
            "arguments[0].focus({ preventScroll: true });",
            vec![serde_json::to_value(&el).unwrap()],
        )
        .await
        .expect("the button focused");
    let (before, _) = bubble_top(&app, "History message 671").await;
    press(&app, Key::Enter).await;
    let after = eventually("the page before to load", DEFAULT_TIMEOUT, async || {
        let (top, count) = bubble_top(&app, "History message 671").await;
        (count == 130).then_some(top)
    })
    .await;
    let (before, after) = (before.unwrap(), after.unwrap());
    assert!(
        (before - after).abs() < 2.0,
        "671 stayed at {before}: now {after}"
    );

    // Scrolling to the top loads the rest, a page at a time, each time keeping the first message
    // on screen in its place, down to the first message of the thread.
    for (first, count) in [
        (571, 230),
        (471, 330),
        (371, 430),
        (271, 530),
        (171, 630),
        (71, 700),
    ] {
        let body = format!("History message {first}");
        let top: f64 = serde_json::from_value(
            app.client()
                .execute(
                    "const log = document.querySelector('[role=log][aria-label=Messages]');
                     log.scrollTop = 0;
                     const b = Array.from(log.querySelectorAll('.bubble'))
                         .find((b) => b.querySelector('.bubble-text')?.textContent === arguments[0]);
                     return b.getBoundingClientRect().top - log.getBoundingClientRect().top;",
                    vec![serde_json::json!(body)],
                )
                .await
                .expect("scrolled to the top"),
        )
        .unwrap();
        let now = eventually(&format!("{count} messages"), DEFAULT_TIMEOUT, async || {
            let (top, shown) = bubble_top(&app, &body).await;
            (shown == count as u64).then_some(top)
        })
        .await
        .unwrap();
        assert!((top - now).abs() < 2.0, "{body} stayed at {top}: now {now}");
    }
    // The next look further back finds nothing more: the button goes.
    app.client()
        .execute(
            "document.querySelector('[role=log][aria-label=Messages]').scrollTop = 0;",
            vec![],
        )
        .await
        .expect("scrolled to the top");
    app.wait_for(&by_text("History message 1")).await;
    app.wait_gone(&older).await;
    app.screenshot("first-message").await;
    app.close().await;
}

#[tokio::test]
async fn the_counter_ends_on_the_count_of_the_text_typed_however_fast() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    let text = "0123456789".repeat(20);
    compose(&app, &[ADA], &text).await;
    let counter = labelled("Message length").within(&composer());
    let backspace: char = Key::Backspace.into();
    keys(&app, &vec![(backspace, false); 50]).await;
    // 200 characters typed, 50 taken back: the counter ends on 150, one segment.
    eventually(
        "the counter to count the final text",
        DEFAULT_TIMEOUT,
        async || {
            let shown = app.text_of(&counter).await;
            shown
                .starts_with("150/1600 · GSM-7 · 1 segment")
                .then_some(())
        },
    )
    .await;
    app.close().await;
}

// ---------------------------------------------------------------------------------------------
// Accessibility (issue 13): axe-core in the real window, and the keyboard alone.

/// Runs axe-core on the window as it is and adds each violation to `found`, named by `view`.
async fn audit(app: &App, view: &str, found: &mut Vec<String>) {
    settle().await;
    app.screenshot(view).await;
    for violation in app.axe().await {
        found.push(format!("{view}: {violation}"));
    }
}

/// A search result of the To field whose name starts with `name` ("Grace Hopper").
fn suggestion(name: &str) -> Target {
    Target::xpath(
        &format!(
            "//*[@role='listbox' and @aria-label='Matching contacts']\
             //*[@role='option' and starts-with(normalize-space(.), '{name}')]"
        ),
        &format!("the search result for {name}"),
    )
}

/// axe-core's whole default rule set (WCAG 2 A and AA, and best practices) finds nothing on the
/// four main views, each with content, in light and in dark: a conversation with a photo, a
/// delivered reply and a failed one; New message with a recipient and its suggestions open, then
/// asking for the line; the contacts, and one being edited; the settings with the carrier.
#[tokio::test]
async fn the_main_views_have_no_accessibility_violations_in_light_and_dark() {
    if skipped() {
        return;
    }
    let photo = picture("plasma:red-blue", 640, 480, "jpg");
    let mut found = Vec::new();
    for look in [Look::Light, Look::Dark] {
        let name = match look {
            Look::Light => "light",
            Look::Dark => "dark",
        };
        let app = App::launch_looking(look).await;
        app.sandbox()
            .reply(GRACE, SUPPORT, "My order #1042 has not arrived yet.")
            .await;
        app.sandbox()
            .reply_with_media(ADA, SALES, "Is this the one?", &[("image/jpeg", &photo)])
            .await;
        app.click(&row("Ada Lovelace", "Sales")).await;
        loaded(&app, "Photo 1 of 1").await;
        // One reply the carrier refuses (the phone is out of reach), then one it delivers.
        app.sandbox().fail_number(ADA, Some(30003)).await;
        let reply = by_role("form", "Reply");
        app.type_into(&textbox("Reply text"), "Yes, that one.")
            .await;
        app.click(&button("Send from Sales").within(&reply)).await;
        app.wait_for(&button("Retry")).await;
        app.sandbox().fail_number(ADA, None).await;
        app.type_into(&textbox("Reply text"), "We open at 10 on Sunday.")
            .await;
        app.click(&button("Send from Sales").within(&reply)).await;
        app.wait_for(&containing_text("Delivered")).await;
        audit(&app, &format!("{name}-conversation"), &mut found).await;

        compose(&app, &["Alan Turing"], "Your repair is ready for pick-up.").await;
        app.type_into(&by_label("To"), "Gr").await;
        app.wait_for(&suggestion("Grace Hopper")).await;
        audit(&app, &format!("{name}-composer-suggestions"), &mut found).await;
        app.click(&button("Send").within(&composer())).await;
        app.wait_for(&by_role("listbox", "Send from")).await;
        audit(&app, &format!("{name}-composer-line"), &mut found).await;
        app.click(&button("Close").within(&composer())).await;

        app.click(&button("Contacts")).await;
        app.wait_for(&region("Contacts")).await;
        audit(&app, &format!("{name}-contacts"), &mut found).await;
        app.click(&button("Edit Grace Hopper")).await;
        app.wait_for(&by_role("form", "Edit contact")).await;
        audit(&app, &format!("{name}-contact-form"), &mut found).await;

        app.click(&button("Settings")).await;
        app.wait_for(&region("Carrier")).await;
        audit(&app, &format!("{name}-settings"), &mut found).await;
        app.close().await;
    }
    assert!(
        found.is_empty(),
        "axe-core found {} violations:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// Without a mouse: Tab to New message, Enter, Escape closes it and gives the focus back; two
/// recipients picked from the suggestions with Enter, Tab to the message, Ctrl+Enter opens the
/// line list (neither has a default line) with the focus in it, an arrow picks Support, Enter
/// takes it to the button, and Enter sends both. Then Tab goes through the sidebar in order, and
/// Escape closes the contacts Enter opened.
#[tokio::test]
async fn a_message_to_two_recipients_from_a_picked_line_is_sent_by_keyboard_alone() {
    if skipped() {
        return;
    }
    let app = App::launch().await;
    app.press(Key::Tab).await;
    app.wait_focused(r#"button "New message""#).await;
    app.press(Key::Enter).await;
    app.wait_for(&composer()).await;
    app.wait_focused(r#"combobox "To""#).await;
    app.press(Key::Escape).await;
    app.wait_gone(&composer()).await;
    app.wait_focused(r#"button "New message""#).await;

    app.press(Key::Enter).await;
    app.wait_focused(r#"combobox "To""#).await;
    for (i, name) in ["Ada Lovelace", "Grace Hopper"].iter().enumerate() {
        app.type_keys(&name[..4]).await;
        app.wait_for(&suggestion(name)).await;
        app.press(Key::Enter).await;
        let chip = by_role("listitem", name).within(&labelled("Recipients"));
        app.wait_for(&chip).await;
        assert_eq!(
            app.focused().await,
            r#"combobox "To""#,
            "after chip {}",
            i + 1
        );
    }
    app.press(Key::Tab).await;
    app.wait_focused(r#"textarea "Message""#).await;
    app.type_keys("Your orders ship today.").await;

    app.chord(Key::Control, Key::Enter).await;
    app.wait_for(&by_role("listbox", "Send from")).await;
    app.wait_focused(r#"listbox "Send from""#).await;
    app.press(Key::Down).await;
    eventually("Support to be picked", DEFAULT_TIMEOUT, async || {
        let selected = app
            .find(&line_option("Support"))
            .await?
            .attr("aria-selected")
            .await
            .ok()??;
        (selected == "true").then_some(())
    })
    .await;
    app.press(Key::Enter).await;
    app.wait_gone(&by_role("listbox", "Send from")).await;
    app.wait_focused(r#"button "Send from Support""#).await;
    assert!(
        app.sandbox().sent().await.is_empty(),
        "nothing leaves before the second Send"
    );
    app.press(Key::Enter).await;

    app.wait_gone(&composer()).await;
    let mut sent: Vec<(String, String, String)> = carrier_received(&app, 2)
        .await
        .into_iter()
        .map(|m| (m.from, m.to, m.body))
        .collect();
    sent.sort();
    let body = "Your orders ship today.".to_owned();
    assert_eq!(
        sent,
        [
            (SUPPORT.to_owned(), ADA.to_owned(), body.clone()),
            (SUPPORT.to_owned(), GRACE.to_owned(), body),
        ]
    );
    app.wait_focused(r#"button "New message""#).await;

    // On through the sidebar in reading order, the conversation list one stop; a panel opened
    // with Enter closes on Escape and gives the focus back. (Both demo contacts answer first,
    // so that the list holds still.)
    app.wait_for_within(&containing_text("Hi, Ada here."), Duration::from_secs(20))
        .await;
    app.wait_for_within(&containing_text("Hi, Grace here."), Duration::from_secs(20))
        .await;
    for stop in [
        r#"button "Pin on top""#,
        r#"input "Search messages and contacts""#,
        r#"select "Show line""#,
        // The Inbox / Snoozed / Done switch: one stop, the pressed view.
        r#"button "Inbox""#,
    ] {
        app.press(Key::Tab).await;
        app.wait_focused(stop).await;
    }
    app.press(Key::Tab).await;
    let first = app.focused().await;
    assert!(
        first.starts_with(r#"button ""#) && first.contains(" via Support, "),
        "the newest conversation's row: {first}"
    );
    // A reply redraws the list under the focused row: the row keeps the focus (its name up to
    // the line stays; its time and preview may change), and the arrow moves it to the next row.
    let who = first.split(',').next().unwrap_or_default().to_owned();
    app.sandbox()
        .reply(KATHERINE, SALES, "Are you open today?")
        .await;
    app.wait_for(&row("Katherine Johnson", "Sales")).await;
    settle().await;
    let still = app.focused().await;
    assert!(still.starts_with(&who), "{who} keeps the focus: {still}");
    app.press(Key::Down).await;
    let what = format!("the focus on the row after {who}");
    eventually(&what, DEFAULT_TIMEOUT, async || {
        let now = app.focused().await;
        (now.starts_with(r#"button ""#) && now.contains(" via ") && !now.starts_with(&who))
            .then_some(())
    })
    .await;
    app.press(Key::Tab).await;
    app.wait_focused(r#"button "Contacts""#).await;
    app.press(Key::Enter).await;
    app.wait_for(&region("Contacts")).await;
    app.press(Key::Escape).await;
    app.wait_gone(&region("Contacts")).await;
    app.wait_focused(r#"button "Contacts""#).await;
    app.close().await;
}
