//! Real Twilio's habits in the sandbox, each switched on through `SandboxHandle` or the control
//! API and seen the way a Twilio client sees it: over real HTTP on loopback, through the
//! sandbox's Twilio API. What the sandbox *holds* (`SandboxHandle::messages`) is the ground
//! truth the API's answers are compared with.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_carrier::dates::{now_ms, parse_rfc2822};
use switchboard_carrier::CarrierStatus;
use switchboard_core::model::E164;
use switchboard_sandbox::{
    serve, Delays, Failure, Quirks, QuirksChange, SandboxConfig, SandboxHandle, ServerStatus,
    MAX_FLOOD, TRIAL_PREFIX,
};
use tempfile::TempDir;

const SALES: &str = "+14155550100";
const SUPPORT: &str = "+14155550101";
const ADA: &str = "+14155550123";
const GRACE: &str = "+14155550124";
const IMAGE: &[u8] = include_bytes!("../src/flood.png");

fn n(s: &str) -> E164 {
    E164::from_normalized(s).unwrap()
}

/// A sandbox and a client of its Twilio API.
struct World {
    dir: TempDir,
    sandbox: SandboxHandle,
    http: reqwest::Client,
}

/// An HTTP answer: its status, `Date` header and JSON body (null when it has none).
struct Answer {
    status: StatusCode,
    date: Option<String>,
    body: Value,
}

fn quick() -> Delays {
    Delays {
        sent: Duration::from_millis(30),
        delivered: Duration::from_millis(30),
        reply: None,
    }
}

async fn start_in(dir: TempDir) -> World {
    let sandbox = serve(SandboxConfig {
        delays: quick(),
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    World {
        dir,
        sandbox,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

async fn start() -> World {
    start_in(TempDir::new().unwrap()).await
}

impl World {
    fn account_path(&self) -> String {
        format!("/2010-04-01/Accounts/{}", self.sandbox.account_sid())
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .map(|d| d.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, date, body }
    }

    /// A request to the Twilio API, with the account's credentials; `path` below the account
    /// (`/Messages.json`), or from the root when it starts with `/_sandbox`.
    fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let path = if path.starts_with("/_sandbox") {
            path.to_owned()
        } else {
            format!("{}{path}", self.account_path())
        };
        self.http
            .request(method, format!("{}{path}", self.sandbox.api_base_url()))
            .basic_auth(self.sandbox.account_sid(), Some(self.sandbox.auth_token()))
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(self.api(Method::GET, path)).await
    }

    async fn send(&self, from: &str, to: &str, body: &str) -> Value {
        let sent = self
            .call(self.api(Method::POST, "/Messages.json").form(&[
                ("From", from),
                ("To", to),
                ("Body", body),
            ]))
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
        sent.body
    }

    /// An MMS of the sandbox's own stored image.
    async fn send_mms(&self, body: &str) -> Value {
        let uploaded = self
            .call(self.api(Method::POST, "/_sandbox/media").body(IMAGE))
            .await;
        assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
        let url = uploaded.body["url"].as_str().unwrap().to_owned();
        let sent = self
            .call(self.api(Method::POST, "/Messages.json").form(&[
                ("From", SALES),
                ("To", ADA),
                ("Body", body),
                ("MediaUrl", url.as_str()),
            ]))
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
        sent.body
    }

    /// The sids of the first page of `GET Messages.json?{query}`, newest first (a `+` in
    /// `query` is a plus, not a space).
    async fn listed(&self, query: &str) -> Vec<String> {
        let query = query.replace('+', "%2B");
        let page = self.get(&format!("/Messages.json?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        sids(&page.body["messages"])
    }

    async fn control(&self, method: Method, path: &str, body: Value) -> Answer {
        let request = self
            .http
            .request(method, format!("{}{path}", self.sandbox.control_url()));
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        self.call(request).await
    }
}

fn sids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["sid"].as_str().unwrap().to_owned())
        .collect()
}

fn sid(message: &Value) -> String {
    message["sid"].as_str().unwrap().to_owned()
}

/// Waits (up to 10 s) until `probe` yields something.
async fn eventually<T, Fut: std::future::Future<Output = Option<T>>>(
    mut probe: impl FnMut() -> Fut,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

#[tokio::test]
async fn a_new_message_is_neither_listed_nor_found_during_the_list_lag() {
    let w = start().await;
    w.sandbox.set_list_lag(Duration::from_secs(600)).unwrap();
    let sent = w.send(SALES, ADA, "Is 3 OK?").await;
    let reply = w.sandbox.reply(&n(GRACE), &n(SALES), "Sure", None).unwrap();

    assert_eq!(w.listed("").await, Vec::<String>::new());
    assert_eq!(w.listed(&format!("To={ADA}")).await, Vec::<String>::new());
    let lookup = w.get(&format!("/Messages/{}.json", sid(&sent))).await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND, "{}", lookup.body);
    let media = w.get(&format!("/Messages/{}/Media.json", sid(&sent))).await;
    assert_eq!(media.status, StatusCode::NOT_FOUND, "{}", media.body);
    // The carrier holds both all the same.
    let held: Vec<String> = w.sandbox.messages().into_iter().map(|m| m.sid).collect();
    assert_eq!(held, [sid(&sent), reply.sid.clone()]);

    w.sandbox.set_list_lag(Duration::ZERO).unwrap();
    assert_eq!(w.listed("").await, [reply.sid, sid(&sent)]);
    assert_eq!(w.listed(&format!("To={ADA}")).await, [sid(&sent)]);
    let lookup = w.get(&format!("/Messages/{}.json", sid(&sent))).await;
    assert_eq!(lookup.status, StatusCode::OK, "{}", lookup.body);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_list_lag_set_through_the_control_api_runs_out_by_itself() {
    let w = start().await;
    let set = w
        .control(
            Method::POST,
            "/_sandbox/quirks",
            json!({ "list_lag_secs": 1 }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["list_lag_secs"], 1.0);

    let sent_at = Instant::now();
    let sent = w.send(SALES, ADA, "On my way").await;
    eventually(|| async {
        let lookup = w.get(&format!("/Messages/{}.json", sid(&sent))).await;
        (lookup.status == StatusCode::OK).then_some(())
    })
    .await;
    assert!(
        sent_at.elapsed() >= Duration::from_secs(1),
        "found before the lag ran out"
    );
    assert_eq!(w.listed("").await, [sid(&sent)]);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_5xx_after_create_keeps_the_message_and_answers_the_error() {
    let w = start().await;
    let mut expected_held = 0;
    for status in [
        ServerStatus::Internal,
        ServerStatus::BadGateway,
        ServerStatus::GatewayTimeout,
    ] {
        let code = u16::from(status);
        for after_create in [false, true] {
            let what = format!("{code} after_create={after_create}");
            w.sandbox.fail_next_sends(
                1,
                Failure::ServerError {
                    status,
                    after_create,
                },
            );
            // A read is let through: the fault waits for a send.
            assert_eq!(w.get("/Messages.json").await.status, StatusCode::OK);
            let body = format!("Order {code} {after_create}");
            let answer = w
                .call(w.api(Method::POST, "/Messages.json").form(&[
                    ("From", SALES),
                    ("To", ADA),
                    ("Body", body.as_str()),
                ]))
                .await;
            assert_eq!(answer.status.as_u16(), code, "{what}");
            assert_eq!(answer.body["status"], code, "{what}: {}", answer.body);
            assert_eq!(answer.body["code"], 20500, "{what}: {}", answer.body);
            expected_held += usize::from(after_create);
            let held = w.sandbox.messages();
            assert_eq!(held.len(), expected_held, "{what}");
            assert_eq!(
                held.iter().any(|m| m.body == body),
                after_create,
                "{what}: created?"
            );
        }
    }
    assert_eq!(w.sandbox.received_count(), 3);
    // A message created behind a 5xx goes on to be delivered like any other.
    eventually(|| async {
        let held = w.sandbox.messages();
        held.iter()
            .all(|m| m.status == CarrierStatus::Delivered)
            .then_some(())
    })
    .await;

    // The control API takes the same fault.
    let set = w
        .control(
            Method::POST,
            "/_sandbox/fail",
            json!({
                "failure": { "kind": "server_error", "status": 502, "after_create": true },
                "sends_only": true,
            }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let answer = w
        .call(w.api(Method::POST, "/Messages.json").form(&[
            ("From", SALES),
            ("To", GRACE),
            ("Body", "through the control API"),
        ]))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(w.sandbox.received_count(), 4);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_trial_account_prefixes_outbound_bodies_as_twilio_does() {
    let w = start().await;
    w.sandbox.set_trial(true).unwrap();
    let trial_body = format!("{TRIAL_PREFIX}See you at 3");
    assert_eq!(
        trial_body,
        "Sent from your Twilio trial account - See you at 3"
    );

    let sent = w.send(SALES, ADA, "See you at 3").await;
    assert_eq!(sent["body"], trial_body);
    let fetched = w.get(&format!("/Messages/{}.json", sid(&sent))).await;
    assert_eq!(fetched.body["body"], trial_body);
    let page = w.get("/Messages.json").await;
    assert_eq!(page.body["messages"][0]["body"], trial_body);
    assert_eq!(w.sandbox.messages()[0].body, trial_body);
    // Inbound messages are the customer's own words.
    let reply = w.sandbox.reply(&n(ADA), &n(SALES), "Great", None).unwrap();
    assert_eq!(reply.body, "Great");
    assert_eq!(w.get(".json").await.body["type"], "Trial");

    w.sandbox.set_trial(false).unwrap();
    assert_eq!(w.send(SALES, ADA, "Done").await["body"], "Done");
    assert_eq!(w.get(".json").await.body["type"], "Full");
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_mms_reports_its_media_only_after_the_media_lag() {
    let w = start().await;
    w.sandbox.set_media_lag(Duration::from_secs(600)).unwrap();
    let sent = w.send_mms("The photo").await;
    let mms = sid(&sent);
    assert!(mms.starts_with("MM"), "{mms}");
    assert_eq!(sent["num_media"], "0", "even the create answer");

    let fetched = w.get(&format!("/Messages/{mms}.json")).await;
    assert_eq!(fetched.body["num_media"], "0");
    let media = w.get(&format!("/Messages/{mms}/Media.json")).await;
    assert_eq!(media.status, StatusCode::OK);
    assert_eq!(media.body["media_list"], json!([]));
    let held = &w.sandbox.messages()[0];
    assert_eq!(held.media.len(), 1, "the carrier has the image all along");
    let media_sid = held.media[0].sid.clone();
    let one = w
        .get(&format!("/Messages/{mms}/Media/{media_sid}.json"))
        .await;
    assert_eq!(one.status, StatusCode::NOT_FOUND);

    w.sandbox.set_media_lag(Duration::ZERO).unwrap();
    let fetched = w.get(&format!("/Messages/{mms}.json")).await;
    assert_eq!(fetched.body["num_media"], "1");
    let media = w.get(&format!("/Messages/{mms}/Media.json")).await;
    assert_eq!(
        sids(&media.body["media_list"]),
        std::slice::from_ref(&media_sid)
    );
    let content = w
        .api(Method::GET, &format!("/Messages/{mms}/Media/{media_sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(content.headers()["content-type"], "image/png");
    assert_eq!(content.bytes().await.unwrap().as_ref(), IMAGE);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn every_date_is_a_whole_second_and_ties_keep_creation_order() {
    let w = start().await;
    let second = (now_ms() / 1000 - 60) * 1000;
    let replies: Vec<String> = [123, 456, 789]
        .iter()
        .enumerate()
        .map(|(i, ms)| {
            w.sandbox
                .reply(&n(ADA), &n(SALES), &format!("part {i}"), Some(second + ms))
                .unwrap()
                .sid
        })
        .collect();
    let sent = w.send(SALES, ADA, "Got it").await;
    eventually(|| async {
        let held = w.sandbox.messages();
        held.iter()
            .any(|m| m.sid == sid(&sent) && m.status == CarrierStatus::Delivered)
            .then_some(())
    })
    .await;

    for m in w.sandbox.messages() {
        let dates = [Some(m.created_at), Some(m.updated_at), m.sent_at];
        assert!(
            dates.iter().flatten().all(|ms| ms % 1000 == 0),
            "{}: {dates:?}",
            m.body
        );
    }
    // Three replies in one second: listed newest first, in the order they came.
    let listed = w.listed(&format!("From={ADA}")).await;
    let expected: Vec<String> = replies.iter().rev().cloned().collect();
    assert_eq!(listed, expected);
    let page = w
        .get(&format!("/Messages.json?From=%2B{}", &ADA[1..]))
        .await;
    let created: Vec<&str> = page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["date_created"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] == w[1]), "{created:?}");
    assert_eq!(parse_rfc2822(created[0]), Some(second));
    w.sandbox.shutdown().await;
}

/// `date` read as the ms it names, within a minute of `expected` (the skews are hours).
#[track_caller]
fn check_near(what: &str, date: &str, expected: i64) {
    let at = parse_rfc2822(date).unwrap_or_else(|| panic!("{what}: {date} is no date"));
    assert!(
        (at - expected).abs() < 60_000,
        "{what}: {date} is not near {expected}"
    );
}

#[tokio::test]
async fn a_skewed_clock_shifts_every_date_and_the_date_header() {
    let w = start().await;
    for (skew, how) in [(-86_400, "handle"), (3 * 3600, "control")] {
        if how == "handle" {
            w.sandbox.set_clock_skew(skew).unwrap();
        } else {
            let set = w
                .control(
                    Method::POST,
                    "/_sandbox/quirks",
                    json!({ "clock_skew_secs": skew }),
                )
                .await;
            assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        }
        let expected = now_ms() + skew * 1000;
        let page = w.get("/Messages.json").await;
        check_near("the Date header", page.date.as_deref().unwrap(), expected);
        assert!(page.date.as_deref().unwrap().ends_with(" GMT"));
        // Even an answer refusing credentials is dated by the carrier's clock.
        let refused = w
            .call(
                w.http
                    .get(format!(
                        "{}/2010-04-01/Accounts/x",
                        w.sandbox.api_base_url()
                    ))
                    .basic_auth("nobody", Some("wrong")),
            )
            .await;
        check_near("a 401's Date", refused.date.as_deref().unwrap(), expected);

        let sent = w.send(SALES, ADA, &format!("skew {skew}")).await;
        check_near(
            "date_created",
            sent["date_created"].as_str().unwrap(),
            expected,
        );
        let reply = w.sandbox.reply(&n(ADA), &n(SALES), "ok", None).unwrap();
        assert!((reply.created_at - expected).abs() < 60_000);
    }
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_flood_fills_a_busy_day_that_pages_and_survives_a_restart() {
    let w = start().await;
    let before = now_ms();
    let flooded = w.sandbox.flood(1000).unwrap();
    assert_eq!(flooded.created, 1000);
    assert_eq!(flooded.mms, 100, "one in ten is an MMS");
    assert_eq!(flooded.inbound + flooded.outbound, 1000);
    assert!(
        flooded.inbound > 300 && flooded.outbound > 300,
        "{flooded:?}"
    );
    assert!(flooded.customers > 100, "{flooded:?}");
    assert_eq!(
        w.sandbox.received_count(),
        0,
        "nothing was sent through the API"
    );

    let held = w.sandbox.messages();
    assert_eq!(held.len(), 1000);
    let day_ago = before - 86_400_000 - 1000;
    for m in &held {
        assert!(m.created_at >= day_ago && m.created_at <= now_ms(), "{m:?}");
        assert_eq!(m.created_at % 1000, 0);
        if m.inbound {
            assert_eq!(m.status, CarrierStatus::Received);
        } else {
            assert_eq!(m.status, CarrierStatus::Delivered, "outbound is final");
            assert!(m.sent_at.is_some());
        }
        assert_eq!(m.sid.starts_with("MM"), !m.media.is_empty());
    }
    for line in [SALES, SUPPORT] {
        assert!(held.iter().any(|m| m.inbound && m.to.as_str() == line));
        assert!(held.iter().any(|m| !m.inbound && m.from.as_str() == line));
    }

    // A flooded MMS's image can be fetched as a client would.
    let mms = held
        .iter()
        .find(|m| m.inbound && !m.media.is_empty())
        .unwrap();
    let media = w.get(&format!("/Messages/{}/Media.json", mms.sid)).await;
    let media_sid = media.body["media_list"][0]["sid"].as_str().unwrap();
    let content = w
        .api(
            Method::GET,
            &format!("/Messages/{}/Media/{media_sid}", mms.sid),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), IMAGE);

    // Paging walks the whole day once, newest first.
    let mut seen = Vec::new();
    let mut next = Some(format!("{}/Messages.json?PageSize=300", w.account_path()));
    while let Some(uri) = next {
        let page = w
            .call(
                w.http
                    .get(format!("{}{uri}", w.sandbox.api_base_url()))
                    .basic_auth(w.sandbox.account_sid(), Some(w.sandbox.auth_token())),
            )
            .await;
        seen.extend(sids(&page.body["messages"]));
        next = page.body["next_page_uri"].as_str().map(str::to_owned);
    }
    let newest_first: Vec<String> = held.iter().rev().map(|m| m.sid.clone()).collect();
    assert_eq!(seen, newest_first);

    // Through the control API, and refused out of bounds.
    let more = w
        .control(Method::POST, "/_sandbox/flood", json!({ "count": 10 }))
        .await;
    assert_eq!(more.status, StatusCode::CREATED, "{}", more.body);
    assert_eq!(more.body["messages"], 1010);
    for count in [0, MAX_FLOOD + 1] {
        assert!(w.sandbox.flood(count).is_err(), "{count}");
        let refused = w
            .control(Method::POST, "/_sandbox/flood", json!({ "count": count }))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    }

    let World { dir, sandbox, .. } = w;
    sandbox.shutdown().await;
    let w = start_in(dir).await;
    assert_eq!(w.sandbox.messages().len(), 1010);
    assert_eq!(w.listed("PageSize=5").await.len(), 5);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn every_request_to_the_api_is_counted_whatever_its_answer() {
    let w = start().await;
    let before = w.sandbox.stats().api_requests;
    assert_eq!(w.get("/Messages.json").await.status, StatusCode::OK);
    assert_eq!(
        w.get("/Messages/SM0.json").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.get("/Recordings.json").await.status,
        StatusCode::NOT_FOUND
    );
    let refused = w
        .call(
            w.http
                .get(format!(
                    "{}{}/Messages.json",
                    w.sandbox.api_base_url(),
                    w.account_path()
                ))
                .basic_auth("nobody", Some("wrong")),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    w.sandbox.fail_next(1, Failure::Status500);
    assert_eq!(
        w.get("/Messages.json").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // The control API is not the carrier: asking it costs a client nothing.
    let stats = w.control(Method::GET, "/_sandbox/stats", Value::Null).await;
    assert_eq!(stats.body["api_requests"], before + 5);
    assert_eq!(w.sandbox.stats().api_requests, before + 5);
    w.sandbox.shutdown().await;
}

#[tokio::test]
async fn quirks_are_reported_refused_out_of_bounds_and_forgotten_by_a_restart() {
    let w = start().await;
    assert_eq!(w.sandbox.quirks(), Quirks::default());
    let all = QuirksChange {
        list_lag_secs: Some(30.0),
        media_lag_secs: Some(5.0),
        trial: Some(true),
        clock_skew_secs: Some(-120),
    };
    let set = w.sandbox.change_quirks(&all).unwrap();
    let expected = Quirks {
        list_lag: Duration::from_secs(30),
        media_lag: Duration::from_secs(5),
        trial: true,
        clock_skew_secs: -120,
    };
    assert_eq!(set, expected);
    let shown = w
        .control(Method::GET, "/_sandbox/quirks", Value::Null)
        .await;
    assert_eq!(
        shown.body,
        json!({ "list_lag_secs": 30.0, "media_lag_secs": 5.0, "trial": true, "clock_skew_secs": -120 })
    );

    for bad in [
        json!({ "list_lag_secs": -1 }),
        json!({ "media_lag_secs": 1e12 }),
        json!({ "lag": 3 }),
    ] {
        let refused = w
            .control(Method::POST, "/_sandbox/quirks", bad.clone())
            .await;
        assert!(refused.status.is_client_error(), "{bad}: {}", refused.body);
    }
    assert_eq!(
        w.sandbox.quirks(),
        expected,
        "a refused change changes nothing"
    );

    let World { dir, sandbox, .. } = w;
    sandbox.shutdown().await;
    let w = start_in(dir).await;
    assert_eq!(w.sandbox.quirks(), Quirks::default());
    w.sandbox.shutdown().await;
}
