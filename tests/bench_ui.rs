//! The interaction benchmark (issue 13's Build): what a person feels in the real release app's
//! window on a store of 1,000,000 messages in 10,000 threads, idle and while a 20-recipient
//! image send and a burst of 200 inbound messages are on their way. It drives the app through
//! WebDriver with the end-to-end harness (`tests/e2e/harness.rs`) and times everything in the
//! page, by its clock (`performance.now()`); "painted" is two animation frames after the page
//! shows what was asked for (the first frame draws it, the second starts once it is drawn):
//! - switching conversation: a click on a row in view to the thread's first bubbles painted;
//! - keystroke → counter: a character put into the New message window's text (an `input` event,
//!   as a key press gives) to the counter, which Rust computes, showing the new length, painted;
//! - search: the last character of a search typed (an `input` event) to its results painted;
//! - scrolling the thread list: the list scrolled by 400 px a frame for 600 frames, through the
//!   pages it loads as it goes; the frames' lengths;
//! - attaching a 4000×3000 photo: the file input's `change` (the picker closed on it) to its
//!   fitted preview decoded and painted;
//! - opening the New message window: a click on "New message" to the window painted;
//! - under load: the same while the background work runs (from the click on Send to the outbox
//!   empty and all 200 inbound messages on screen), and the longest gap between two frames of
//!   the page in that time (a rAF loop's), which is how long the window stood still.
//!
//! It prints a table and asserts nothing about speed. `./dev bench-ui [SAMPLES] [ROUNDS]` builds
//! the release app, the store (once, kept in `$CARGO_TARGET_DIR/bench-ui-store`) and runs it on
//! Xvfb; without `SWITCHBOARD_BENCH_UI=1` it only says so (a plain `cargo test` builds it and
//! passes over it).

#[path = "e2e/harness.rs"]
mod harness;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::*;
use serde_json::{json, Value};

/// The people who write in the burst, each ten times, to the Sales line.
const BURST_SENDERS: usize = 20;
const BURST_EACH: usize = 10;
/// The recipients of the image send.
const RECIPIENTS: usize = 20;
const PHOTO_SIZE: (u32, u32) = (4000, 3000);

/// Helpers every page script starts with.
const PRELUDE: &str = r#"
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
// The next frame rendered: an animation frame, then a message posted from it, which runs once
// that frame's style, layout and paint are done (a second animation frame would wait for the
// frame after it, up to a whole vsync later).
const painted = () => new Promise((r) => requestAnimationFrame(() => {
  const ch = new MessageChannel();
  ch.port1.onmessage = () => r();
  ch.port2.postMessage(null);
}));
// When the page first showed the change (before it was painted), by kind, for the report.
const DOM = (window.__dom = window.__dom || {});
const domAt = (kind, t0, t1 = performance.now()) => (DOM[kind] = DOM[kind] || []).push(t1 - t0);
// Resolves as soon as `cond` holds (checked at every change of the page), with its value.
const when = (cond, what, ms = 20000) => new Promise((resolve, reject) => {
  const now = cond();
  if (now) return resolve(now);
  const mo = new MutationObserver(() => {
    const v = cond();
    if (v) { mo.disconnect(); clearTimeout(timer); resolve(v); }
  });
  mo.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true });
  const timer = setTimeout(() => { mo.disconnect(); reject(new Error("timed out waiting for " + what)); }, ms);
});
const logOf = () => document.querySelector('[role="log"][aria-label="Messages"]');
const dialogOf = () => document.querySelector('[role="dialog"][aria-label="New message"]');
const listOf = () => document.querySelector('[role="list"][aria-label="Conversation list"]');
const inView = (el, box) => {
  const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
  return r.top >= b.top && r.bottom <= b.bottom;
};
let picks = window.__benchPicks || 0;
// The next of `rows` in the benchmark's order (every seventh, round), remembered across scripts.
const pick = (rows) => {
  const row = rows[(picks++ * 7) % rows.length];
  window.__benchPicks = picks;
  return row;
};
// A click on a row in view (not the open one) to its first bubble painted.
// The rows from the 60th on are history threads the background work never moves.
const HISTORY_ROWS = 60 * 64;
const switchOnce = async () => {
  const list = listOf();
  if (!list) throw new Error("no conversation list");
  if (list.scrollTop < HISTORY_ROWS) { list.scrollTop = HISTORY_ROWS; await painted(); }
  const rows = [...list.querySelectorAll("button[data-thread-id]")]
    .filter((r) => r.getAttribute("aria-current") !== "true" && inView(r, list));
  if (rows.length === 0) throw new Error("no row in view");
  const row = pick(rows);
  const old = logOf()?.querySelector("article.bubble");
  let gone = null;
  const t0 = performance.now();
  row.click();
  await when(() => {
    const log = logOf();
    if (gone === null && !(old && old.isConnected)) gone = performance.now();
    return log && gone !== null && log.querySelector("article.bubble");
  }, "the thread's bubbles");
  domAt("switch", t0);
  // The click's own work (the old conversation taken down, the new one set up), apart from
  // what follows its messages' answer.
  domAt("switch-click", t0, gone);
  await painted();
  return performance.now() - t0;
};
// The `thread` command alone (its newest page of 30, as a switch asks for it) for a row in view,
// from the call to its answer: what of a switch is the IPC and the storage, not the page.
const threadIpcOnce = async () => {
  const list = listOf();
  const rows = [...list.querySelectorAll("button[data-thread-id]")].filter((r) => inView(r, list));
  const id = Number(pick(rows).dataset.threadId);
  const t0 = performance.now();
  await window.__TAURI_INTERNALS__.invoke("thread", { id, limit: 30, before: null });
  return performance.now() - t0;
};
const input = (el, value) => {
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, "value").set.call(el, value);
  el.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: value.slice(-1) }));
};
const searchBox = () => document.querySelector('input[type="search"]');
const resultsOf = () => document.querySelector('[role="list"][aria-label="Search results"]');
// The search emptied (the list back), then `q` typed to its results painted.
const searchOnce = async (q) => {
  const box = searchBox();
  if (box.value !== "") {
    input(box, "");
    await when(() => !resultsOf(), "the search cleared");
  }
  input(box, q.slice(0, -1));
  const t0 = performance.now();
  input(box, q);
  await when(() => {
    const r = resultsOf();
    return r && (r.querySelector(".search-group") || r.querySelector(".empty"));
  }, "results for " + q);
  domAt("search", t0);
  await painted();
  const ms = performance.now() - t0;
  input(box, "");
  await when(() => !resultsOf(), "the search cleared");
  return ms;
};
// "New message" clicked to the window painted.
const openComposer = async () => {
  if (dialogOf()) throw new Error("the New message window is already open");
  const t0 = performance.now();
  document.querySelector("button.new-message").click();
  await when(() => dialogOf()?.querySelector('textarea[aria-label="Message"]'), "the New message window");
  domAt("open", t0);
  await painted();
  return performance.now() - t0;
};
// Discarded (its draft with it) and gone.
const discardComposer = async () => {
  const d = dialogOf();
  if (!d) return;
  [...d.querySelectorAll("button.link")].find((b) => b.textContent.trim() === "Discard").click();
  await when(() => !dialogOf(), "the New message window to close");
};
// A character added to the message to the counter showing the new length, painted.
const keyOnce = async (ch) => {
  const d = dialogOf();
  const text = d.querySelector('textarea[aria-label="Message"]');
  const counter = d.querySelector('[aria-label="Message length"]');
  const expected = `${text.value.length + 1}/`;
  const t0 = performance.now();
  input(text, text.value + ch);
  await when(() => counter.textContent.startsWith(expected), "the counter at " + expected);
  domAt("key", t0);
  await painted();
  return performance.now() - t0;
};
"#;

/// Answers `[ms]` of `n` samples of `kind` ("switch", "ipc", "search", "key", "open").
const SAMPLES: &str = r#"
const [kind, n, queries, done] = arguments;
(async () => {
  const out = [];
  if (kind === "key" && !dialogOf()) await openComposer();
  for (const k of Object.keys(DOM)) delete DOM[k];
  for (let i = 0; i < n; i++) {
    if (kind === "switch") out.push(await switchOnce());
    else if (kind === "ipc") out.push(await threadIpcOnce());
    else if (kind === "search") out.push(await searchOnce(queries[i % queries.length]));
    else if (kind === "key") {
      if (i > 0 && i % 40 === 0) { input(dialogOf().querySelector("textarea"), ""); await frame(); }
      out.push(await keyOnce("abcdefghij"[i % 10]));
    } else if (kind === "open") { out.push(await openComposer()); await discardComposer(); }
  }
  if (kind === "key") await discardComposer();
  done({ ms: out, dom: DOM[kind] ?? [], click: DOM[kind + "-click"] ?? [] });
})().catch((e) => done({ error: String(e) + " " + String(e && e.stack) }));
"#;

/// Scrolls the conversation list 400 px a frame for 600 frames and answers the frames' lengths.
const SCROLL: &str = r#"
const [done] = arguments;
(async () => {
  const list = listOf();
  list.scrollTop = 0;
  await painted();
  const gaps = [];
  let last = performance.now();
  for (let i = 0; i < 600; i++) {
    list.scrollTop += 400;
    await frame();
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  const rows = list.querySelectorAll("button[data-thread-id]").length;
  const reached = Math.round(list.scrollTop / 64);
  list.scrollTop = 0;
  await painted();
  done({ ms: gaps, rows, reached });
})().catch((e) => done({ error: String(e) + " " + String(e && e.stack) }));
"#;

/// Before a file is picked: the time of the file input's `change` is kept.
const ATTACH_ARM: &str = r#"
window.__attachAt = null;
if (!window.__attachArmed) {
  window.__attachArmed = true;
  document.addEventListener("change", (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type === "file") window.__attachAt = performance.now();
  }, true);
}
"#;

/// After: the preview decoded and painted, from the `change`; then the image removed.
const ATTACH_WAIT: &str = r#"
const [done] = arguments;
(async () => {
  const img = await when(() => dialogOf()?.querySelector('img[alt="Attached image 1"]'),
    "the attached image's preview", 60000);
  // Its load is no change of the page: waited for as an event.
  if (!(img.complete && img.naturalWidth > 0)) {
    await new Promise((resolve, reject) => {
      img.addEventListener("load", resolve, { once: true });
      img.addEventListener("error", () => reject(new Error("the preview did not load")), { once: true });
    });
  }
  // WebKit may refuse to decode so large a picture ahead (a rejection with no message): it is
  // loaded and drawn all the same.
  await img.decode().catch(() => undefined);
  await painted();
  const ms = performance.now() - window.__attachAt;
  const size = img.naturalWidth + "x" + img.naturalHeight;
  const remove = dialogOf().querySelector('button[aria-label="Remove image 1"]');
  remove.click();
  await when(() => !dialogOf().querySelector('img[alt="Attached image 1"]'), "the image removed");
  done({ ms: [ms], size });
})().catch((e) => done({ error: String(e) + " " + String(e && e.stack) }));
"#;

/// The numbers of the 60 newest threads, as the app's own `threads` command lists them.
const TOP_THREADS: &str = r#"
const done = arguments[arguments.length - 1];
window.__TAURI_INTERNALS__.invoke("threads", { view: "inbox", line: null, limit: 60, before: null })
  .then((top) => done(top.map((t) => t.counterpart)), () => done([]));
"#;

/// Starts the page's frame watch: the longest gap between two animation frames from now on.
const WATCH_FRAMES: &str = r#"
const w = window.__frames = { max: 0, count: 0, over100: 0, last: performance.now(), on: true };
const tick = (now) => {
  const gap = now - w.last;
  if (gap > w.max) w.max = gap;
  if (gap > 100) w.over100++;
  w.count++;
  w.last = now;
  if (w.on) requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"#;

/// Clicks Send on the prepared image message: from Sales, picked first if the window asks.
const SEND: &str = r#"
const [done] = arguments;
(async () => {
  const d = dialogOf();
  let send = d.querySelector("button.send");
  if (!send.textContent.includes("Sales")) {
    d.querySelector("button.line-button").click();
    const sales = await when(() => [...d.querySelectorAll('[role="listbox"][aria-label="Send from"] li')]
      .find((li) => li.querySelector(".option-name")?.textContent === "Sales"), "the Sales line");
    sales.click();
    await when(() => send.textContent.includes("Sales"), "Send from Sales");
  }
  window.__sentAt = performance.now();
  send.click();
  await when(() => !dialogOf(), "the New message window to close once sent", 60000);
  done({ ms: [performance.now() - window.__sentAt] });
})().catch((e) => done({ error: String(e) + " " + String(e && e.stack) }));
"#;

/// Under load: samples of each kind in turn until the outbox is empty and every burst message
/// is on screen (at least `min` rounds), then the frame watch's figures. The outbox is read
/// through the app's own `status` command, twice a second.
const UNDER_LOAD: &str = r#"
const [queries, senders, lastBody, min, done] = arguments;
(async () => {
  const out = { switch: [], search: [], key: [], open: [] };
  let pending = 1, shown = false, rounds = 0, finished = null;
  const started = window.__sentAt ?? performance.now();
  const invoke = window.__TAURI_INTERNALS__.invoke;
  const poll = setInterval(async () => {
    try {
      pending = (await invoke("status")).pending;
      const top = await invoke("threads", { view: "inbox", line: null, limit: 60, before: null });
      const previews = new Map(top.map((t) => [t.counterpart, t.preview]));
      shown = senders.every((s) => (previews.get(s) ?? "").startsWith(lastBody));
      if (finished === null && pending === 0 && shown) finished = performance.now();
    } catch (_) {}
  }, 500);
  await discardComposer();
  while (rounds < min || !finished) {
    out.switch.push(await switchOnce());
    out.search.push(await searchOnce(queries[rounds % queries.length]));
    out.open.push(await openComposer());
    for (let k = 0; k < 5; k++) out.key.push(await keyOnce("abcde"[k]));
    await discardComposer();
    out.switch.push(await switchOnce());
    rounds++;
    if (performance.now() - started > 120000) break;
  }
  clearInterval(poll);
  const w = window.__frames;
  w.on = false;
  done({ ...out, gap: w.max, over100: w.over100, frames: w.count,
         loadMs: (finished ?? performance.now()) - started, finished: finished !== null, rounds });
})().catch((e) => done({ error: String(e) + " " + String(e && e.stack) }));
"#;

fn main() {
    if std::env::var_os("SWITCHBOARD_BENCH_UI").as_deref() != Some("1".as_ref()) {
        eprintln!(
            "bench_ui: a benchmark of the release app; ./dev bench-ui runs it \
             (SWITCHBOARD_BENCH_UI=1)"
        );
        return;
    }
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(default)
            .max(1)
    };
    let samples = number("SWITCHBOARD_BENCH_SAMPLES", 100);
    let rounds = number("SWITCHBOARD_BENCH_ROUNDS", 3);
    let store = std::env::var_os("SWITCHBOARD_BENCH_UI_STORE")
        .map(PathBuf::from)
        .expect(
            "SWITCHBOARD_BENCH_UI_STORE: the directory switchboard-bench-ui-store built \
             (./dev bench-ui sets it)",
        );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run(&store, samples, rounds));
}

/// The queries typed into the search: rare words, common ones, pairs, contacts' names.
const QUERIES: &[&str] = &[
    "zephyrine",
    "refund",
    "quokkaroo tracking",
    "Customer 1234",
    "plumber estimate",
    "marzipanic",
    "invoice",
    "courier parcel",
    "Customer 98",
    "dentist",
];

/// What was measured of one kind, idle or under load.
#[derive(Default)]
struct Kind {
    idle: Vec<f64>,
    /// Idle, to the change in the page (before it is painted).
    dom: Vec<f64>,
    load: Vec<f64>,
}

impl Kind {
    fn set_idle(&mut self, answer: &Value) {
        self.idle = ms(answer);
        self.dom = ms_of(answer, "dom");
    }
}

async fn run(store: &Path, samples: usize, rounds: usize) {
    let dir = DataDir::new();
    copy_dir(&store.join("data"), &dir.path());
    std::fs::copy(store.join("switchboard.key"), dir.key_file()).expect("the key file");
    let photo_dir = tempfile::tempdir().expect("a temporary directory");
    let photo = photo_dir.path().join("photo-4000x3000.jpg");
    make_photo(&photo);
    println!(
        "Interaction benchmark: the release app on 1,000,000 messages in 10,000 threads; \
         {samples} samples of each idle, {rounds} rounds of background work \
         ({RECIPIENTS}-recipient {}×{} photo send, {} inbound messages), photo {} KB",
        PHOTO_SIZE.0,
        PHOTO_SIZE.1,
        BURST_SENDERS * BURST_EACH,
        std::fs::metadata(&photo)
            .map(|m| m.len() / 1000)
            .unwrap_or(0)
    );

    let app = App::launch_with(dir).await;
    // A run of samples is one script; WebDriver's default 30 s would cut it short.
    app.client()
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(600)),
            None,
            None,
        ))
        .await
        .expect("the script timeout");
    // The list's first page on screen before anything is timed.
    app.wait_for_within(
        &Target::xpath("//button[@data-thread-id]", "a conversation row"),
        Duration::from_secs(60),
    )
    .await;
    // The burst's senders write once first: their threads are there, at the top, before it.
    let senders: Vec<String> = (0..BURST_SENDERS)
        .map(|i| format!("+1415{:07}", 7_000_000 + i))
        .collect();
    for s in &senders {
        app.sandbox()
            .reply(s, SALES, "Hello before the burst")
            .await;
    }
    eventually(
        "the burst's senders in the list",
        Duration::from_secs(60),
        async || {
            let v = app.client().execute_async(TOP_THREADS, vec![]).await.ok()?;
            let numbers: Vec<String> = serde_json::from_value(v).ok()?;
            senders.iter().all(|s| numbers.contains(s)).then_some(())
        },
    )
    .await;

    let mut switch = Kind::default();
    let mut search = Kind::default();
    let mut key = Kind::default();
    let mut open = Kind::default();
    let mut attach = Kind::default();
    // Warm up: a few of each, not counted (the first search of a word reads its pages).
    page(
        &app,
        SAMPLES,
        vec![json!("switch"), json!(5), json!(QUERIES)],
    )
    .await;
    page(
        &app,
        SAMPLES,
        vec![json!("search"), json!(3), json!(["order"])],
    )
    .await;

    let idle = async |kind: &str, n: usize| {
        page(&app, SAMPLES, vec![json!(kind), json!(n), json!(QUERIES)]).await
    };
    let say = |name: &str, k: &Kind| {
        println!(
            "  idle {name}: median {:.0} ms, p99 {:.0} ms (in the DOM {:.0} ms)",
            quantile(&k.idle, 0.5),
            quantile(&k.idle, 0.99),
            quantile(&k.dom, 0.5)
        )
    };
    let switched = idle("switch", samples).await;
    switch.set_idle(&switched);
    say("switch", &switch);
    let click = ms_of(&switched, "click");
    println!(
        "  idle switch, the click's own work: median {:.0} ms, p99 {:.0} ms",
        quantile(&click, 0.5),
        quantile(&click, 0.99)
    );
    let ipc = ms(&idle("ipc", samples).await);
    println!(
        "  idle thread command alone (30 messages): median {:.0} ms, p99 {:.0} ms",
        quantile(&ipc, 0.5),
        quantile(&ipc, 0.99)
    );
    search.set_idle(&idle("search", samples).await);
    say("search", &search);
    key.set_idle(&idle("key", samples).await);
    say("keystroke", &key);
    open.set_idle(&idle("open", samples.min(40)).await);
    say("open", &open);
    let scrolled = page(&app, SCROLL, vec![]).await;
    let frames = ms(&scrolled);
    println!(
        "  idle scroll: median frame {:.1} ms, p99 {:.1} ms",
        quantile(&frames, 0.5),
        quantile(&frames, 0.99)
    );
    // Each in a New message window of its own, as under load (a second photo picked into the
    // same window after the first was removed did not reach the page within a minute here).
    for _ in 0..samples.min(3) {
        ensure_composer(&app).await;
        attach.idle.push(attach_once(&app, &photo).await);
        discard(&app).await;
    }

    let mut gaps = Vec::new();
    let mut loads = Vec::new();
    for round in 0..rounds {
        // The image send, prepared (not timed): 20 recipients and the photo.
        ensure_composer(&app).await;
        let to = Target::xpath("//input[@id='composer-to']", "the To field");
        for r in 0..RECIPIENTS {
            app.type_into(
                &to,
                &format!("+1415{:07}\u{e007}", 8_000_000 + round * 100 + r),
            )
            .await;
        }
        eventually("20 recipients", DEFAULT_TIMEOUT, async || {
            let v = app
                .client()
                .execute("return document.querySelectorAll('.chip').length;", vec![])
                .await
                .ok()?;
            (v.as_u64()? as usize == RECIPIENTS).then_some(())
        })
        .await;
        app.client()
            .execute(ATTACH_ARM, vec![])
            .await
            .expect("the page");
        pick_photo(&app, &photo).await;
        app.wait_for_within(
            &Target::xpath("//img[@alt='Attached image 1']", "the attached photo"),
            Duration::from_secs(60),
        )
        .await;

        app.client()
            .execute(WATCH_FRAMES, vec![])
            .await
            .expect("the frame watch");
        page(&app, SEND, vec![]).await;
        // The burst: ten waves of a message from each sender, each wave at once.
        let sandbox_senders = senders.clone();
        let burst = {
            let sandbox = app.sandbox();
            async move {
                for wave in 1..=BURST_EACH {
                    let body = format!("Burst {wave} of {BURST_EACH}: is the order on its way?");
                    let sends = sandbox_senders
                        .iter()
                        .map(|s| sandbox.reply(s, SALES, &body));
                    futures_join_all(sends).await;
                }
            }
        };
        let last_body = format!("Burst {BURST_EACH} of {BURST_EACH}");
        // While it runs: the next message's photo attached, then every other measure in turn.
        let measure = async {
            ensure_composer(&app).await;
            let attached = attach_once(&app, &photo).await;
            let answer = page(
                &app,
                UNDER_LOAD,
                vec![json!(QUERIES), json!(senders), json!(last_body), json!(3)],
            )
            .await;
            (attached, answer)
        };
        let (_, (attached, answer)) = tokio::join!(burst, measure);
        attach.load.push(attached);
        switch.load.extend(ms_of(&answer, "switch"));
        search.load.extend(ms_of(&answer, "search"));
        key.load.extend(ms_of(&answer, "key"));
        open.load.extend(ms_of(&answer, "open"));
        let gap = answer["gap"].as_f64().unwrap_or(f64::NAN);
        let load_ms = answer["loadMs"].as_f64().unwrap_or(f64::NAN);
        gaps.push(gap);
        loads.push(load_ms);
        println!(
            "  round {}: background work {:.1} s ({}), longest frame gap {:.0} ms, {} gaps over \
             100 ms in {} frames, {} rounds of samples",
            round + 1,
            load_ms / 1000.0,
            if answer["finished"] == json!(true) {
                "done"
            } else {
                "not done after 120 s"
            },
            gap,
            answer["over100"],
            answer["frames"],
            answer["rounds"],
        );
    }

    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>11} {:>11} {:>11} {:>9}",
        "", "median", "p99", "in DOM med", "load med.", "load p99", "samples"
    );
    let fig = |xs: &[f64], q: f64| {
        if xs.is_empty() {
            "–".to_owned()
        } else {
            format!("{:.0} ms", quantile(xs, q))
        }
    };
    let row = |name: &str, k: &Kind| {
        println!(
            "{:<34} {:>9} {:>9} {:>11} {:>11} {:>11} {:>4}/{:<4}",
            name,
            fig(&k.idle, 0.5),
            fig(&k.idle, 0.99),
            fig(&k.dom, 0.5),
            fig(&k.load, 0.5),
            fig(&k.load, 0.99),
            k.idle.len(),
            k.load.len()
        );
    };
    row("switching conversation", &switch);
    row("keystroke → counter", &key);
    row("search typed → results", &search);
    row("attach 4000×3000 → preview", &attach);
    row("open New message", &open);
    let over16 = frames.iter().filter(|&&f| f > 16.7 + 1.0).count();
    let over33 = frames.iter().filter(|&&f| f > 33.4).count();
    println!(
        "{:<34} {:>6.1} ms {:>6.1} ms   {} of {} frames over 16.7 ms (+1 ms slack), {} over 33 ms, \
         longest {:.0} ms; reached row {} ({} rows in the DOM)",
        "scrolling the thread list (frame)",
        quantile(&frames, 0.5),
        quantile(&frames, 0.99),
        over16,
        frames.len(),
        over33,
        frames.iter().cloned().fold(0.0, f64::max),
        scrolled["reached"],
        scrolled["rows"],
    );
    println!(
        "{:<34} longest {:.0} ms (rounds: {}); background work {} s",
        "frame gap during background work",
        gaps.iter().cloned().fold(0.0, f64::max),
        gaps.iter()
            .map(|g| format!("{g:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        loads
            .iter()
            .map(|l| format!("{:.1}", l / 1000.0))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let _ = app.close().await;
}

async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) {
    let handles: Vec<_> = futures.collect();
    // A small join_all: every future polled together on this task.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Runs an async page script (PRELUDE first) and fails on an `error` answer.
async fn page(app: &App, script: &str, args: Vec<Value>) -> Value {
    let answer = app
        .client()
        .execute_async(&format!("{PRELUDE}\n{script}"), args)
        .await
        .expect("the page's timing script");
    if let Some(error) = answer.get("error") {
        let shot = app.screenshot("bench-ui-failure").await;
        panic!(
            "the page could not be measured: {}\n(screenshot {})",
            error.as_str().unwrap_or_default(),
            shot.display()
        );
    }
    answer
}

fn ms(answer: &Value) -> Vec<f64> {
    ms_of(answer, "ms")
}

fn ms_of(answer: &Value, key: &str) -> Vec<f64> {
    answer[key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

async fn ensure_composer(app: &App) {
    let open = app
        .client()
        .execute(
            "return !!document.querySelector('[role=\"dialog\"][aria-label=\"New message\"]');",
            vec![],
        )
        .await
        .expect("the page");
    if open != json!(true) {
        app.click(&button("New message")).await;
        app.wait_for(&dialog("New message")).await;
    }
}

async fn discard(app: &App) {
    page(
        app,
        "const [done] = arguments; discardComposer().then(() => done({}), (e) => done({ error: String(e) }));",
        vec![],
    )
    .await;
}

async fn pick_photo(app: &App, photo: &Path) {
    app.wait_for(&by_label("Image files").within(&dialog("New message")))
        .await
        .send_keys(photo.to_str().expect("a UTF-8 path"))
        .await
        .expect("the photo picked");
}

/// The photo picked in the open New message window, to its preview painted (then removed).
async fn attach_once(app: &App, photo: &Path) -> f64 {
    app.client()
        .execute(ATTACH_ARM, vec![])
        .await
        .expect("the page");
    pick_photo(app, photo).await;
    let answer = page(app, ATTACH_WAIT, vec![]).await;
    ms(&answer).first().copied().unwrap_or(f64::NAN)
}

/// The value below which `q` of the samples fall (nearest rank); NaN without samples.
fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the data directory");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copy of the store");
        }
    }
}

/// A photo-like 4000×3000 JPEG (ImageMagick's plasma fractal, seeded, as a camera's picture
/// compresses rather than as a flat colour would).
fn make_photo(path: &Path) {
    let status = std::process::Command::new("convert")
        .args(["-seed", "13", "-size"])
        .arg(format!("{}x{}", PHOTO_SIZE.0, PHOTO_SIZE.1))
        .args(["plasma:", "-blur", "0x0.5", "-quality", "90"])
        .arg(path)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success(), "convert made no photo");
}
