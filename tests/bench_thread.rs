//! The thread benchmark (issue 12's Done-when): how long the real release app takes to show a
//! thread of 100 messages of which 20 carry a photo (a 1600×1200 JPEG of about 300 KB each),
//! and the memory it adds, beside the same thread without the photos. It drives the app in its
//! WebKit window through WebDriver, with the end-to-end harness (`tests/e2e/harness.rs`):
//! - shown: from the click on the thread's row to its 100 bubbles in the page and every image
//!   on screen decoded (`img.decode()`), measured in the page (`performance.now()`);
//! - all decoded: then scrolled from the bottom to the top, every image of the thread decoded;
//! - memory: in a fresh app for each thread (so that neither pays for what the other left), the
//!   PSS of the app's process tree (its WebKit processes included, tauri-driver and
//!   WebKitWebDriver left out) 3 s after a short thread was opened, and 3 s after the measured
//!   thread was shown and scrolled through (every image of it decoded once);
//! - again: the same thread opened a second time, after the short one.
//!
//! It prints its figures and asserts nothing about them. `./dev bench-thread [RUNS]` builds the
//! release app and runs it on Xvfb; without `SWITCHBOARD_BENCH_THREAD=1` it only says so (a
//! plain `cargo test` builds it and passes over it).

#[path = "e2e/harness.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use serde_json::{json, Value};
use switchboard_engine::core::model::{
    Direction, ImageKind, MessageStatus, ThreadId, ThreadKey, E164,
};
use switchboard_engine::store::keys::write_key_file;
use switchboard_engine::store::{
    Arrival, DbKey, HistoryMessage, InboundMedia, NewImage, NewInbound, Store, DB_FILE_NAME,
};

/// Messages per thread, and how many of them carry a photo in the photo thread.
const MESSAGES: usize = 100;
const PHOTOS: usize = 20;
const PHOTO_SIZE: (u32, u32) = (1600, 1200);
/// The first message's time; one a minute after it.
const START_MS: i64 = 1_764_000_000_000;
/// How long the page is left alone before its memory is read.
const SETTLE: Duration = Duration::from_secs(3);

/// Clicks the row, then resolves once the thread's bubbles are in the page and the images on
/// screen are decoded; then scrolls to the top and resolves again once every image is decoded.
/// Answers the two times (ms from the click) and the images counted.
const OPEN_AND_WAIT: &str = r#"
const [threadId, expected, done] = arguments;
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
const logOf = () => document.querySelector('[role="log"][aria-label="Messages"]');
// The thread on screen before: its bubbles must be gone before the new ones count.
const old = logOf()?.querySelector("article.bubble");
(async () => {
  // The list may still be loading in a window that has just opened.
  let row;
  for (let tries = 0; !(row = document.querySelector(`button[data-thread-id="${threadId}"]`)); tries++) {
    if (tries > 600) { done({ error: "no row for thread " + threadId }); return; }
    await frame();
  }
  const t0 = performance.now();
  row.click();
  let log;
  for (;;) {
    log = logOf();
    if (log && !(old && old.isConnected) &&
        log.querySelectorAll("article.bubble").length >= expected) break;
    await frame();
  }
  await frame();
  await frame();
  const box = log.getBoundingClientRect();
  const onScreen = [...log.querySelectorAll("img")].filter((i) => {
    const r = i.getBoundingClientRect();
    return r.bottom > box.top && r.top < box.bottom;
  });
  await Promise.all(onScreen.map((i) => i.decode()));
  const shown = performance.now() - t0;
  // Down to the top, a screen at a time, as a person scrolls back.
  while (log.scrollTop > 0) {
    log.scrollTop = Math.max(0, log.scrollTop - log.clientHeight);
    await frame();
  }
  const all = [...log.querySelectorAll("img")];
  await Promise.all(all.map((i) => i.decode()));
  const allDecoded = performance.now() - t0;
  const broken = all.filter((i) => !(i.naturalWidth > 0)).length;
  done({ shown, allDecoded, onScreen: onScreen.length, images: all.length, broken });
})().catch((e) => done({ error: String(e) }));
"#;

fn main() {
    if std::env::var_os("SWITCHBOARD_BENCH_THREAD").as_deref() != Some("1".as_ref()) {
        eprintln!(
            "bench_thread: a benchmark of the release app; ./dev bench-thread runs it \
             (SWITCHBOARD_BENCH_THREAD=1)"
        );
        return;
    }
    let runs: usize = std::env::var("SWITCHBOARD_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run(runs));
}

/// The three threads the store holds: the one with photos, the same without, a short one to
/// stand on between measurements.
struct Threads {
    photos: ThreadId,
    text: ThreadId,
    rest: ThreadId,
    photo_bytes: usize,
}

async fn run(runs: usize) {
    let dir = DataDir::new();
    std::fs::create_dir_all(dir.path()).expect("the data directory");
    let key = DbKey::generate();
    write_key_file(&dir.key_file(), &key).expect("the key file");
    let threads = {
        let store = Store::create(&dir.path().join(DB_FILE_NAME), key).expect("a store");
        fill(&store)
    };
    println!(
        "Thread benchmark: {MESSAGES} messages, {PHOTOS} of them with a {}×{} JPEG \
         (average {:.0} KB), beside the same {MESSAGES} without; {runs} runs",
        PHOTO_SIZE.0,
        PHOTO_SIZE.1,
        threads.photo_bytes as f64 / PHOTOS as f64 / 1000.0
    );
    let mut dir = dir;
    let mut figures: [Vec<Figure>; 2] = [Vec::new(), Vec::new()];
    for run in 1..=runs {
        // Alternate which goes first, so that neither always follows the other.
        let order = if run % 2 == 1 { [0, 1] } else { [1, 0] };
        for which in order {
            // A fresh app for each, so that what the other left in memory is not counted.
            let app = App::launch_with(dir).await;
            let thread = [threads.text, threads.photos][which];
            open(&app, threads.rest, 1).await;
            tokio::time::sleep(SETTLE).await;
            let before = pss_mib(&app);
            let first = open(&app, thread, MESSAGES).await;
            tokio::time::sleep(SETTLE).await;
            let after = pss_mib(&app);
            open(&app, threads.rest, 1).await;
            let again = open(&app, thread, MESSAGES).await;
            figures[which].push(Figure {
                first,
                again,
                before,
                after,
            });
            dir = app.close().await;
        }
        let [t, p] = [&figures[0][run - 1], &figures[1][run - 1]];
        println!(
            "  run {run}: text {:.0} ms, again {:.0} ms (+{:.1} MiB); photos {:.0} ms on screen \
             ({} images), again {:.0} ms, {:.0} ms all {} decoded (+{:.1} MiB)",
            t.first.shown,
            t.again.shown,
            t.after - t.before,
            p.first.shown,
            p.first.on_screen,
            p.again.shown,
            p.first.all_decoded,
            p.first.images,
            p.after - p.before,
        );
    }
    let median = |which: usize, f: fn(&Figure) -> f64| {
        let mut xs: Vec<f64> = figures[which].iter().map(f).collect();
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    println!(
        "Medians of {runs} runs (click → bubbles in the page and the images on screen decoded, by \
         the page's clock; PSS of the app's process tree, 3 s after):"
    );
    for (which, name) in [(0, "100 texts"), (1, "the same, 20 with a photo")] {
        println!(
            "  {name:<26} first open {:>4.0} ms, again {:>4.0} ms; every image decoded (scrolled \
             through) {:>5.0} ms; memory added {:>5.1} MiB (tree {:.0} → {:.0} MiB)",
            median(which, |f| f.first.shown),
            median(which, |f| f.again.shown),
            median(which, |f| f.first.all_decoded),
            median(which, |f| f.after - f.before),
            median(which, |f| f.before),
            median(which, |f| f.after),
        );
    }
}

struct Figure {
    /// The thread's first open in a fresh app, and a second one after another thread.
    first: Opened,
    again: Opened,
    before: f64,
    after: f64,
}

struct Opened {
    shown: f64,
    all_decoded: f64,
    on_screen: u64,
    images: u64,
}

/// Opens the thread in the window and waits as `OPEN_AND_WAIT` does.
async fn open(app: &App, thread: ThreadId, expected: usize) -> Opened {
    let answer: Value = app
        .client()
        .execute_async(OPEN_AND_WAIT, vec![json!(thread.0), json!(expected)])
        .await
        .expect("the page's timing script");
    if let Some(error) = answer.get("error") {
        panic!("the page could not be measured: {error}");
    }
    let number = |k: &str| answer.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    assert_eq!(number("broken"), 0.0, "every image loaded: {answer}");
    Opened {
        shown: number("shown"),
        all_decoded: number("allDecoded"),
        on_screen: number("onScreen") as u64,
        images: number("images") as u64,
    }
}

/// The PSS of the app and its WebKit processes, in MiB (not tauri-driver nor WebKitWebDriver,
/// which the benchmark adds).
fn pss_mib(app: &App) -> f64 {
    let kib: u64 = app
        .processes()
        .into_iter()
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            !matches!(comm.trim(), "tauri-driver" | "WebKitWebDriver")
        })
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum();
    kib as f64 / 1024.0
}

/// Writes the three threads on the Sales line: the same 100 messages (alternately received and
/// sent) in two threads, the 20 received ones at every fifth place carrying a photo in the first;
/// and one short thread.
fn fill(store: &Store) -> Threads {
    let sales = store
        .add_line(&E164::from_normalized(SALES).unwrap(), "Sales", "#2563eb")
        .expect("the Sales line");
    let key = |n: u32| ThreadKey {
        line: sales.id,
        counterpart: E164::from_normalized(&format!("+1415555{n:04}")).unwrap(),
    };
    let (photos, text, rest) = (key(7001), key(7002), key(7003));
    let has_photo = |i: usize| i % (MESSAGES / PHOTOS) == 2;
    let pictures: Vec<Vec<u8>> = (0..PHOTOS).map(photo).collect();
    let photo_bytes = pictures.iter().map(Vec::len).sum();

    let mut history = Vec::new();
    for (t, thread) in [&photos, &text].into_iter().enumerate() {
        for i in (0..MESSAGES).filter(|&i| !has_photo(i)) {
            let inbound = i % 2 == 1;
            history.push(HistoryMessage::settled(
                thread.clone(),
                inbound,
                format!("Message {i} about the order, with a few words more to wrap a line."),
                START_MS + i as i64 * 60_000,
                Some(format!("SM{t}{i:031}")),
            ));
        }
    }
    history.push(HistoryMessage {
        key: rest.clone(),
        direction: Direction::Inbound,
        status: MessageStatus::Received,
        body: "Thanks!".into(),
        created_at: START_MS,
        carrier_sid: Some(format!("SM9{:031}", 0)),
    });
    store.import_history(history).expect("the texts");

    let mut ids = [None, None];
    for (t, thread) in [&photos, &text].into_iter().enumerate() {
        for (n, i) in (0..MESSAGES).filter(|&i| has_photo(i)).enumerate() {
            let image = [NewImage {
                kind: ImageKind::Jpeg,
                bytes: pictures[n].clone(),
                width: PHOTO_SIZE.0,
                height: PHOTO_SIZE.1,
            }];
            let recorded = store
                .insert_inbound_batch(
                    &[NewInbound {
                        key: thread,
                        body: "Here is the photo of the parcel",
                        carrier_sid: &format!("MM{t}{i:031}"),
                        created_at: START_MS + i as i64 * 60_000,
                        media: if t == 0 {
                            InboundMedia::Images(&image)
                        } else {
                            InboundMedia::None
                        },
                        messaging_service: None,
                    }],
                    Arrival::History,
                )
                .expect("a message");
            ids[t] = Some(recorded[0].thread_id);
        }
    }
    let rest_id = store
        .insert_inbound_batch(
            &[NewInbound {
                key: &rest,
                body: "See you then",
                carrier_sid: &format!("SM9{:031}", 1),
                created_at: START_MS + 60_000,
                media: InboundMedia::None,
                messaging_service: None,
            }],
            Arrival::History,
        )
        .expect("the short thread")[0]
        .thread_id;
    Threads {
        photos: ids[0].expect("the photo thread"),
        text: ids[1].expect("the text thread"),
        rest: rest_id,
        photo_bytes,
    }
}

/// A photo-like JPEG of `PHOTO_SIZE` (ImageMagick's plasma fractal, seeded: each one differs,
/// and it compresses as a camera's picture does rather than as a flat colour would).
fn photo(n: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("photo.jpg");
    let status = std::process::Command::new("convert")
        .args(["-seed", &n.to_string(), "-size"])
        .arg(format!("{}x{}", PHOTO_SIZE.0, PHOTO_SIZE.1))
        .args(["plasma:", "-blur", "0x0.5", "-quality", "88"])
        .arg(&path)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success(), "convert made no photo");
    std::fs::read(&path).expect("the photo")
}
