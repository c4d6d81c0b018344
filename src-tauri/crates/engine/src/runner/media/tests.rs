//! The download of received media: the recognition of a fetched item (unit), then the media
//! loop against the in-memory carrier of `testkit` on tokio's paused clock — several items
//! stored in order, failures for now and for good, the user's "Try again", URLs listed late,
//! offline, a restart, an account switch.

use std::io::Cursor;
use std::time::Duration;

use switchboard_carrier::{CarrierMessage, CarrierStatus};
use switchboard_core::model::{MediaKind, MessageId, ThreadKey, E164};
use switchboard_store::{AttachmentState, SettingKey};
use tokio::sync::broadcast::Receiver;

use super::{recognise, MEDIA_BACKOFF};
use crate::runner::testkit::*;
use crate::EngineEvent;

const ADA: &str = "+14155550142";
const SALES: &str = "+14155550100";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::new(width, height)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn a_fetched_item_is_recognised_by_its_content_and_an_image_measured() {
    #[track_caller]
    fn check(bytes: &[u8], declared: Option<&str>, expected: (MediaKind, &str, Option<u32>)) {
        let mut mime = String::new();
        let item = recognise(bytes, declared, &mut mime);
        assert_eq!((item.kind, item.mime, item.width), expected);
    }
    check(
        &png(3, 2),
        Some("image/jpeg"),
        (MediaKind::Image, "image/png", Some(3)),
    );
    check(
        b"%PDF-1.4 a form",
        None,
        (MediaKind::Pdf, "application/pdf", None),
    );
    // A PNG signature and nothing readable after it: kept, never shown as an image.
    check(
        b"\x89PNG\r\n\x1a\ngarbage",
        Some("image/png"),
        (MediaKind::Other, "image/png", None),
    );
    check(
        b"plain words",
        Some("text/plain"),
        (MediaKind::Other, "text/plain", None),
    );
}

#[test]
fn the_backoff_grows_from_seconds_to_half_an_hour() {
    let at = |attempt| MEDIA_BACKOFF.delay(attempt, 0.5);
    assert_eq!(at(1), Duration::from_millis(3750));
    assert!(at(20) <= Duration::from_secs(30 * 60));
    assert!(at(20) >= Duration::from_secs(15 * 60));
}

// --- The media loop ---------------------------------------------------------------------------

/// An inbound MMS from Ada to Sales with `count` media, of which the listing gave `urls`.
fn mms(sid: &str, count: u32, urls: &[String]) -> CarrierMessage {
    CarrierMessage {
        sid: sid.into(),
        from: E164::from_sender(ADA).unwrap(),
        to: num(SALES),
        body: String::new(),
        inbound: true,
        status: CarrierStatus::Received,
        created_at: 1_700_000_000_000,
        error_code: None,
        error_message: None,
        media_urls: urls.to_vec(),
        num_media: count,
        messaging_service: None,
    }
}

/// The carrier holds `items` (content type, bytes) as `sid`'s media; their URLs, in order.
fn carry(carrier: &FakeCarrier, sid: &str, items: &[(Option<&str>, Vec<u8>)]) -> Vec<String> {
    let urls: Vec<String> = (0..items.len())
        .map(|i| {
            format!("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/{sid}/Media/ME{i}")
        })
        .collect();
    let mut s = carrier.state();
    s.media_lists.insert(sid.into(), urls.clone());
    for (url, (content_type, bytes)) in urls.iter().zip(items) {
        s.media.insert(
            url.clone(),
            (content_type.map(str::to_owned), bytes.clone()),
        );
    }
    urls
}

fn photo(width: u32, height: u32) -> (Option<&'static str>, Vec<u8>) {
    (Some("image/png"), png(width, height))
}

/// The newest message of Ada's thread on Sales.
fn received(o: &Office) -> MessageId {
    let store = o.engine.store();
    let thread = store
        .thread_by_key(&ThreadKey {
            line: o.sales.id,
            counterpart: num(ADA),
        })
        .unwrap()
        .expect("Ada's thread");
    store.thread_messages(thread.id, 1, None).unwrap()[0].id
}

fn states(o: &Office, message: MessageId) -> Vec<AttachmentState> {
    let row = o.engine.store().get_message(message).unwrap();
    row.attachments.iter().map(|a| a.state).collect()
}

fn stored_bytes(o: &Office, message: MessageId) -> Vec<Vec<u8>> {
    let all = o.engine.store().attachments(message).unwrap();
    all.into_iter().map(|a| a.bytes).collect()
}

fn media_events(rx: &mut Receiver<EngineEvent>, message: MessageId) -> usize {
    std::iter::from_fn(|| rx.try_recv().ok())
        .filter(
            |e| matches!(e, EngineEvent::MessageMedia { message_id, .. } if *message_id == message),
        )
        .count()
}

fn fetched(carrier: &FakeCarrier) -> Vec<String> {
    carrier.state().media_fetched.clone()
}

use AttachmentState::{Downloading, Ready, Unavailable};

#[tokio::test(start_paused = true)]
async fn two_photos_are_both_stored_in_order() {
    let o = office();
    let carrier = FakeCarrier::new();
    let items = [photo(3, 2), photo(5, 4)];
    let urls = carry(&carrier, "MMtwo", &items);
    carrier.push_change(mms("MMtwo", 2, &urls));
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    run_for(&runner, secs(10)).await;

    let m = received(&o);
    assert_eq!(states(&o, m), [Ready, Ready]);
    assert_eq!(
        stored_bytes(&o, m),
        [items[0].1.clone(), items[1].1.clone()]
    );
    let row = o.engine.store().get_message(m).unwrap();
    let sizes: Vec<_> = row
        .attachments
        .iter()
        .map(|a| (a.kind, a.width, a.height))
        .collect();
    assert_eq!(
        sizes,
        [
            (Some(MediaKind::Image), Some(3), Some(2)),
            (Some(MediaKind::Image), Some(5), Some(4))
        ]
    );
    assert_eq!(media_events(&mut events, m), 2, "one per stored item");
    assert_eq!(fetched(&carrier), urls, "each once, in order");
    assert_eq!(
        o.engine.store().media_download(m).unwrap(),
        None,
        "off the queue"
    );
}

#[tokio::test(start_paused = true)]
async fn ten_items_of_any_kind_are_all_stored() {
    let o = office();
    let carrier = FakeCarrier::new();
    let mut items: Vec<(Option<&str>, Vec<u8>)> = (1..=7).map(|i| photo(i, i)).collect();
    items.push((
        Some("application/pdf"),
        b"%PDF-1.4 the signed form".to_vec(),
    ));
    items.push((
        Some("text/vcard"),
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n".to_vec(),
    ));
    items.push((Some("application/zip"), b"PK\x03\x04 an archive".to_vec()));
    let urls = carry(&carrier, "MMten", &items);
    carrier.push_change(mms("MMten", 10, &urls));
    let runner = o.runner(&carrier);

    run_for(&runner, secs(10)).await;

    let m = received(&o);
    assert_eq!(states(&o, m), [Ready; 10]);
    let row = o.engine.store().get_message(m).unwrap();
    let kinds: Vec<_> = row.attachments.iter().map(|a| a.kind.unwrap()).collect();
    let mut expected = vec![MediaKind::Image; 7];
    expected.extend([MediaKind::Contact, MediaKind::Pdf, MediaKind::Other]);
    expected.swap(7, 8);
    assert_eq!(kinds, expected);
    assert_eq!(
        stored_bytes(&o, m),
        items.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn an_item_failing_for_now_is_fetched_again_after_its_backoff() {
    let o = office();
    let carrier = FakeCarrier::new();
    let items = [photo(3, 2), photo(4, 4)];
    let urls = carry(&carrier, "MMflaky", &items);
    carrier.push_change(mms("MMflaky", 2, &urls));
    carrier.state().media_faults.push_back(Fault::Server);
    let runner = o.runner(&carrier);

    runner.run_once().await;
    let m = received(&o);
    assert_eq!(states(&o, m), [Downloading, Downloading]);
    let waiting = o.engine.store().media_download(m).unwrap().unwrap();
    assert_eq!(waiting.attempts, 1);
    let first_wait = MEDIA_BACKOFF.delay(1, 0.5);

    runner
        .run_until_stopped(async {
            tokio::time::sleep(first_wait - Duration::from_millis(500)).await;
            assert_eq!(
                states(&o, m),
                [Downloading, Downloading],
                "not before its backoff"
            );
            assert_eq!(fetched(&carrier), Vec::<String>::new());
            tokio::time::sleep(secs(2)).await;
        })
        .await;
    assert_eq!(states(&o, m), [Ready, Ready]);
    assert_eq!(fetched(&carrier), urls);
}

#[tokio::test(start_paused = true)]
async fn a_404_makes_the_rest_unavailable_keeps_what_came_and_try_again_brings_it_back() {
    let o = office();
    let carrier = FakeCarrier::new();
    let items = [photo(3, 2), photo(4, 4)];
    let urls = carry(&carrier, "MMgone", &items);
    // The second is deleted at the carrier.
    let second = carrier.state().media.remove(&urls[1]).unwrap();
    carrier.push_change(mms("MMgone", 2, &urls));
    let runner = o.runner(&carrier);
    let mut events = runner.subscribe();

    run_for(&runner, secs(10)).await;
    let m = received(&o);
    assert_eq!(states(&o, m), [Ready, Unavailable]);
    assert_eq!(
        stored_bytes(&o, m),
        [items[0].1.clone()],
        "a partial success is kept"
    );
    assert_eq!(
        media_events(&mut events, m),
        2,
        "the stored item, then the unavailable one"
    );

    // Given up on: not asked for again, however long.
    run_for(&runner, secs(3 * 3600)).await;
    assert_eq!(fetched(&carrier), urls, "once each");

    carrier.state().media.insert(urls[1].clone(), second);
    o.engine.retry_media(m).unwrap();
    assert_eq!(states(&o, m), [Ready, Downloading]);
    runner
        .run_until_stopped(async {
            runner.wake();
            tokio::time::sleep(secs(1)).await;
        })
        .await;
    assert_eq!(states(&o, m), [Ready, Ready]);
    assert_eq!(
        fetched(&carrier),
        [urls.clone(), vec![urls[1].clone()]].concat()
    );
    let refused = o.engine.retry_media(m).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "This message has no media waiting to be downloaded."
    );
    assert!(o.engine.retry_media(MessageId(9999)).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_first_syncs_history_gets_its_urls_listed_then_downloaded() {
    let o = office();
    let carrier = FakeCarrier::new();
    carrier.state().history_on_first_sync = true;
    let items = [
        photo(3, 2),
        (Some("application/pdf"), b"%PDF-1.7 x".to_vec()),
    ];
    let urls = carry(&carrier, "MMold", &items);
    // A listing tells how many media, not where they are.
    carrier.push_change(mms("MMold", 2, &[]));
    let runner = o.runner(&carrier);

    run_for(&runner, secs(10)).await;

    let m = received(&o);
    assert_eq!(states(&o, m), [Ready, Ready]);
    assert_eq!(fetched(&carrier), urls);
}

#[tokio::test(start_paused = true)]
async fn media_the_carrier_has_not_listed_yet_are_asked_for_again() {
    let o = office();
    let carrier = FakeCarrier::new();
    let items = [photo(3, 2)];
    let urls = carry(&carrier, "MMlate", &items);
    let listed = carrier.state().media_lists.remove("MMlate").unwrap();
    carrier.push_change(mms("MMlate", 1, &[]));
    let runner = o.runner(&carrier);

    runner.run_once().await;
    let m = received(&o);
    assert_eq!(states(&o, m), [Downloading], "not yet is not never");

    carrier.state().media_lists.insert("MMlate".into(), listed);
    run_for(&runner, secs(10)).await;
    assert_eq!(states(&o, m), [Ready]);
    assert_eq!(fetched(&carrier), urls);
}

#[tokio::test(start_paused = true)]
async fn offline_the_download_waits_for_the_network_not_for_its_backoff() {
    let o = office();
    let carrier = FakeCarrier::new();
    let items = [photo(3, 2)];
    let urls = carry(&carrier, "MMwait", &items);
    carrier.push_change(mms("MMwait", 1, &urls));
    carrier.state().media_faults.push_back(Fault::Timeout);
    let runner = o.runner(&carrier);
    runner.run_once().await;
    let m = received(&o);
    carrier.set_offline(true);

    runner
        .run_until_stopped(async {
            tokio::time::sleep(secs(20 * 60)).await;
            assert_eq!(
                states(&o, m),
                [Downloading],
                "offline: nothing lost, nothing given up"
            );
            let attempts = o
                .engine
                .store()
                .media_download(m)
                .unwrap()
                .unwrap()
                .attempts;
            assert!(attempts >= 5, "backing off: {attempts} attempts");
            carrier.set_offline(false);
            runner.network_back();
            tokio::time::sleep(secs(1)).await;
            assert_eq!(
                states(&o, m),
                [Ready],
                "at once, not after a backoff of minutes"
            );
        })
        .await;
    assert_eq!(fetched(&carrier), urls);
}

#[tokio::test(start_paused = true)]
async fn a_new_runner_on_the_same_store_resumes_the_queue() {
    let o = office();
    let carrier = FakeCarrier::new();
    let items = [photo(3, 2), photo(2, 3)];
    let urls = carry(&carrier, "MMresume", &items);
    carrier.push_change(mms("MMresume", 2, &urls));
    carrier.state().media_faults.push_back(Fault::Server);
    let runner = o.runner(&carrier);
    runner.run_once().await;
    drop(runner);
    let m = received(&o);
    assert_eq!(states(&o, m), [Downloading, Downloading]);

    let runner = o.runner(&carrier);
    run_for(&runner, secs(60)).await;
    assert_eq!(states(&o, m), [Ready, Ready]);
}

#[tokio::test(start_paused = true)]
async fn a_runner_whose_account_changed_downloads_nothing() {
    let o = office();
    let carrier = FakeCarrier::new();
    let urls = carry(&carrier, "MMother", &[photo(3, 2)]);
    carrier.push_change(mms("MMother", 1, &urls));
    carrier.state().media_faults.push_back(Fault::Server);
    let runner = o.runner(&carrier);
    runner.run_once().await;
    let m = received(&o);

    let store = o.engine.store();
    store
        .set_setting(
            SettingKey::CarrierAccount,
            &serde_json::json!({ "name": "Front office", "hint": "AC…beef" }),
        )
        .unwrap();
    store
        .set_setting(SettingKey::Carrier, &serde_json::json!("twilio"))
        .unwrap();
    run_for(&runner, secs(600)).await;

    assert_eq!(fetched(&carrier), Vec::<String>::new());
    assert_eq!(states(&o, m), [Downloading]);
}

#[tokio::test(start_paused = true)]
async fn media_arriving_while_the_runner_runs_are_fetched_at_once_not_at_the_next_idle_look() {
    let o = office();
    let carrier = FakeCarrier::new();
    let runner = o.runner(&carrier);
    runner
        .run_until_stopped(async {
            tokio::time::sleep(secs(1)).await;
            let urls = carry(&carrier, "MMnews", &[photo(3, 2)]);
            carrier.push_change(mms("MMnews", 1, &urls));
            // The next sync round finds it (every 5 s) and wakes the download.
            tokio::time::sleep(secs(6)).await;
            assert_eq!(states(&o, received(&o)), [Ready]);
        })
        .await;
}

/// The in-memory carrier, each download taking a second; counts the downloads at once.
struct SlowMedia {
    inner: std::sync::Arc<FakeCarrier>,
    in_flight: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl switchboard_carrier::Carrier for SlowMedia {
    fn capabilities(&self) -> switchboard_carrier::Capabilities {
        self.inner.capabilities()
    }
    async fn account(
        &self,
    ) -> Result<switchboard_carrier::CarrierAccount, switchboard_carrier::CarrierError> {
        self.inner.account().await
    }
    async fn lines(
        &self,
    ) -> Result<Vec<switchboard_carrier::CarrierLine>, switchboard_carrier::CarrierError> {
        self.inner.lines().await
    }
    async fn rename_line(
        &self,
        sid: &str,
        label: &str,
    ) -> Result<(), switchboard_carrier::CarrierError> {
        self.inner.rename_line(sid, label).await
    }
    async fn send(
        &self,
        request: &switchboard_carrier::SendRequest,
    ) -> Result<CarrierMessage, switchboard_carrier::CarrierError> {
        self.inner.send(request).await
    }
    async fn find_sent(
        &self,
        request: &switchboard_carrier::SendRequest,
        started_at_ms: i64,
    ) -> Result<Vec<CarrierMessage>, switchboard_carrier::CarrierError> {
        self.inner.find_sent(request, started_at_ms).await
    }
    async fn changes(
        &self,
        cursor: &switchboard_carrier::SyncCursor,
    ) -> Result<switchboard_carrier::Changes, switchboard_carrier::CarrierError> {
        self.inner.changes(cursor).await
    }
    async fn media_urls(
        &self,
        message_sid: &str,
    ) -> Result<Vec<String>, switchboard_carrier::CarrierError> {
        self.inner.media_urls(message_sid).await
    }
    async fn fetch_media(
        &self,
        url: &str,
    ) -> Result<switchboard_carrier::FetchedMedia, switchboard_carrier::CarrierError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep(secs(1)).await;
        let fetched = self.inner.fetch_media(url).await;
        self.in_flight.fetch_sub(1, SeqCst);
        fetched
    }
}

#[tokio::test(start_paused = true)]
async fn two_messages_are_downloaded_at_once_newest_first() {
    use switchboard_carrier::Carrier as _;
    let o = office();
    let fake = FakeCarrier::new();
    let mut all_urls = Vec::new();
    for i in 0..5 {
        let sid = format!("MMbusy{i}");
        let urls = carry(&fake, &sid, &[photo(i + 1, 1)]);
        fake.push_change(CarrierMessage {
            created_at: 1_700_000_000_000 + i64::from(i) * 1000,
            ..mms(&sid, 1, &urls)
        });
        all_urls.extend(urls);
    }
    fake.state().lines = Some(vec![carrier_line(&o.sales), carrier_line(&o.support)]);
    let slow = std::sync::Arc::new(SlowMedia {
        inner: fake.clone(),
        in_flight: Default::default(),
        most: Default::default(),
    });
    assert!(slow.capabilities().mms);
    let runner = crate::Runner::start(
        o.engine.clone(),
        slow.clone(),
        crate::RunnerConfig {
            clock: crate::Clock::tokio(),
            jitter: || 0.5,
            ..crate::RunnerConfig::default()
        },
    )
    .unwrap();

    run_for(&runner, secs(10)).await;

    assert_eq!(slow.most.load(std::sync::atomic::Ordering::SeqCst), 2);
    let fetched = fetched(&fake);
    assert_eq!(fetched.len(), 5, "{fetched:?}");
    let mut first_two = fetched[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, all_urls[3..], "the newest two first, together");
    let store = o.engine.store();
    let thread = store
        .thread_by_key(&ThreadKey {
            line: o.sales.id,
            counterpart: num(ADA),
        })
        .unwrap()
        .unwrap();
    let rows = store.thread_messages(thread.id, 10, None).unwrap();
    assert!(rows.iter().all(|r| r.attachments[0].state == Ready));
}
