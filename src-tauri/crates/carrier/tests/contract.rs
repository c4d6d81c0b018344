//! Contract tests: every request the Twilio client makes goes to Prism serving Twilio's own
//! OpenAPI document, unchanged (`SWITCHBOARD_TWILIO_SPEC`), through a recording proxy on
//! loopback. A request the document rejects fails the test: Prism answers it 4xx, or lists a
//! request violation in its `sl-violations` header. Prism cannot check `MediaUrl` (it wants an
//! array and refuses the repeated form field Twilio documents), so sends with an image are
//! checked byte for byte against a loopback capture instead.
//!
//! `./dev test` sets `SWITCHBOARD_TWILIO_SPEC` when `../shared` is beside the checkout. In CI
//! (`CI` set) a missing document fails the test; elsewhere it says loudly that it did not run.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use support::Server;
use switchboard_carrier::twilio::REQUESTS;
use switchboard_carrier::{
    Carrier, CarrierError, Media, MediaHost, MessageFilter, SendRequest, SyncCursor, TwilioClient,
    TwilioOptions,
};
use switchboard_core::model::{ImageKind, E164};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "contract-test-token";

fn n(s: &str) -> E164 {
    E164::from_normalized(s).unwrap()
}

/// Twilio's document, or `None` (outside CI) when it is not beside the checkout.
fn spec() -> Option<PathBuf> {
    match std::env::var_os("SWITCHBOARD_TWILIO_SPEC") {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "SWITCHBOARD_TWILIO_SPEC: {path:?} is not a file"
            );
            Some(path)
        }
        None if std::env::var_os("CI").is_some() => panic!(
            "SWITCHBOARD_TWILIO_SPEC is not set: CI must run the Twilio contract tests against \
             ../shared/specs/twilio/twilio_api_v2010.json (./dev test sets it)"
        ),
        None => {
            // Past the test harness's capture, so that it shows in every run.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** THE TWILIO CONTRACT TESTS DID NOT RUN: set SWITCHBOARD_TWILIO_SPEC to \
                 twilio_api_v2010.json (./dev test does) ***\n"
            );
            None
        }
    }
}

/// Prism from npm (`node_modules/.bin/prism`, or `SWITCHBOARD_PRISM`), stopped on drop.
fn prism(spec: &Path) -> Server {
    let bin = std::env::var_os("SWITCHBOARD_PRISM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../node_modules/.bin/prism")
        });
    assert!(
        bin.exists(),
        "{bin:?} is missing: run `npm ci` (./dev test does)"
    );
    let spec = spec.display().to_string();
    Server::start(
        &bin,
        |port| {
            ["mock", "-h", "127.0.0.1", "-p", &port.to_string(), &spec]
                .map(str::to_owned)
                .to_vec()
        },
        Duration::from_secs(90),
    )
}

/// One request as the proxy passed it to Prism, and what Prism thought of it.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    query: String,
    status: u16,
    /// Prism's `sl-violations` entries located in the request.
    violations: Vec<String>,
}

#[derive(Clone)]
struct Proxy {
    prism: String,
    http: reqwest::Client,
    log: Arc<Mutex<Vec<Exchange>>>,
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut outgoing = proxy.http.request(
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap(),
        format!("{}{path_and_query}", proxy.prism),
    );
    for name in ["authorization", "content-type", "accept"] {
        if let Some(v) = parts.headers.get(name) {
            outgoing = outgoing.header(name, v.as_bytes());
        }
    }
    let answer = match outgoing.body(body).send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status().as_u16();
    let violations = answer
        .headers()
        .get("sl-violations")
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(v.as_bytes()).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v["location"][0] == "request")
        .map(|v| v.to_string())
        .collect();
    let content_type = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    proxy.log.lock().unwrap().push(Exchange {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        status,
        violations,
    });
    let mut response = (StatusCode::from_u16(status).unwrap(), bytes).into_response();
    if let Some(ct) = content_type {
        response
            .headers_mut()
            .insert("content-type", ct.as_bytes().try_into().unwrap());
    }
    response
}

struct World {
    _prism: Server,
    base_url: String,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl World {
    async fn start(spec: &Path) -> World {
        let prism = prism(spec);
        let log = Arc::new(Mutex::new(Vec::new()));
        let proxy = Proxy {
            prism: format!("http://{}", prism.addr),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            log: log.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(forward).with_state(proxy);
        tokio::spawn(async move { axum::serve(listener, app).await });
        World {
            _prism: prism,
            base_url,
            log,
        }
    }

    fn client(&self) -> TwilioClient {
        TwilioClient::new(&self.base_url, ACCOUNT, TOKEN, TwilioOptions::default()).unwrap()
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }
}

/// The rest of `path` after `/2010-04-01/Accounts/AC…`.
fn matches_account(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/2010-04-01/Accounts/AC")?;
    let len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    Some(&rest[len..])
}

/// Does `path` (below the account) match `template` (`/Messages/{Sid}.json`)?
fn matches_template(path: &str, template: &str) -> bool {
    let mut rest = path;
    for (i, piece) in template.split(['{', '}']).enumerate() {
        if i % 2 == 0 {
            match rest.strip_prefix(piece) {
                Some(r) => rest = r,
                None => return false,
            }
        } else {
            // A parameter: one path segment's letters and digits.
            let len = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            if len == 0 {
                return false;
            }
            rest = &rest[len..];
        }
    }
    rest.is_empty()
}

fn send_request(body: &str) -> SendRequest {
    SendRequest {
        from: n("+14155550100"),
        to: n("+14155550123"),
        body: body.into(),
        media: Vec::new(),
        client_id: "0b7e4c1e-contract".into(),
    }
}

#[tokio::test]
async fn every_request_the_client_makes_is_valid_against_twilios_document() {
    let Some(spec) = spec() else { return };
    let world = World::start(&spec).await;
    let client = world.client();

    // The checker itself: a request the document forbids (PageSize above 1000) is caught.
    let bad = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!(
            "{}/2010-04-01/Accounts/{ACCOUNT}/Messages.json?PageSize=5000",
            world.base_url
        ))
        .basic_auth(ACCOUNT, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        422,
        "Prism must refuse what the document forbids"
    );
    world.log.lock().unwrap().clear();

    // Each call must also succeed: the client reads Twilio's documented answers.
    let account = client.account().await.expect("the credentials check");
    assert!(account.sid.starts_with("AC"), "{account:?}");
    let lines = client.lines().await.expect("listing the numbers");
    assert!(!lines.is_empty(), "the document's example lists a number");
    client
        .rename_line(&lines[0].sid, "Front desk")
        .await
        .expect("renaming a number");
    let sent = client
        .send(&send_request("Your order is ready 👍"))
        .await
        .expect("sending a message");
    client
        .fetch_message(&sent.sid)
        .await
        .expect("fetching a message");
    client
        .media_urls("MM0123456789abcdef0123456789abcdef")
        .await
        .expect("listing a message's media");
    client
        .list_messages(&MessageFilter {
            from: Some(n("+14155550100")),
            to: Some(n("+14155550123")),
            date_sent_from_ms: Some(1_764_000_000_000),
            first_page_only: false,
        })
        .await
        .expect("listing messages, every page");
    client
        .find_sent(&send_request("hello"), 1_764_000_000_000)
        .await
        .expect("looking for a sent message");
    // A first sync (history, large pages), a later round (the top of the listing) and one
    // that asks about a watched message by sid.
    let first = client
        .changes(&SyncCursor::default())
        .await
        .expect("a first sync round");
    client.changes(&first.cursor).await.expect("a later round");
    let watching = SyncCursor(serde_json::json!({
        "v": 2,
        "newest": 1_764_000_000_000_i64,
        "watch": {"SM0123456789abcdef0123456789abcdef": {
            "status": "sent", "created_ms": 1_764_000_000_000_i64, "due_ms": 0
        }},
    }));
    client
        .changes(&watching)
        .await
        .expect("a round asking about a sent message");

    let exchanges = world.exchanges();
    let refused: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| !(200..300).contains(&e.status) || !e.violations.is_empty())
        .collect();
    assert!(
        refused.is_empty(),
        "Twilio's document refuses these requests: {refused:#?}"
    );
    // Paging URIs come from the document's examples, which name an account of their own.
    let is = |e: &Exchange, method: &str, template: &str| {
        e.method == method
            && matches_account(&e.path).is_some_and(|p| matches_template(p, template))
    };
    for (method, template) in REQUESTS {
        assert!(
            exchanges.iter().any(|e| is(e, method, template)),
            "{method} {template} was never sent to the mock"
        );
    }
    // Every request went to a documented path (nothing outside REQUESTS).
    for e in &exchanges {
        assert!(
            REQUESTS.iter().any(|(m, t)| is(e, m, t)),
            "{} {}?{} is not in REQUESTS",
            e.method,
            e.path,
            e.query
        );
    }
    let fetches = exchanges
        .iter()
        .filter(|e| is(e, "GET", "/Messages/{Sid}.json"))
        .count();
    assert_eq!(
        fetches, 2,
        "fetch_message, then the round's watched message"
    );
    let page_sizes: Vec<&str> = exchanges
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with("/Messages.json"))
        .filter_map(|e| e.query.split('&').find(|p| p.starts_with("PageSize=")))
        .collect();
    assert!(
        page_sizes.contains(&"PageSize=1000") && page_sizes.contains(&"PageSize=50"),
        "a first sync lists large pages, a later round small ones: {page_sizes:?}"
    );
    // Paging followed the document's `next_page_uri` and stopped at a page already read.
    assert!(
        exchanges
            .iter()
            .any(|e| e.path.ends_with("/Messages.json") && e.query.contains("PageToken")),
        "the listing followed next_page_uri"
    );
}

/// A media host that hands out a fixed public URL (the collaborator of the unit under test).
struct FixedHost;

#[async_trait]
impl MediaHost for FixedHost {
    async fn upload(&self, media: &Media) -> Result<String, CarrierError> {
        assert_eq!(media.kind, ImageKind::Png);
        Ok(
            "https://media.example.com/switchboard/a b.png?X-Amz-Signature=abc&X-Amz-Expires=3600"
                .into(),
        )
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn capture(State(captured): State<Captured>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    captured.0.lock().unwrap().push((parts.headers, bytes));
    let answer = serde_json::json!({
        "sid": "MM0123456789abcdef0123456789abcdef",
        "from": "+14155550100",
        "to": "+14155550123",
        "body": "",
        "status": "queued",
        "direction": "outbound-api",
        "date_created": "Tue, 24 Nov 2026 10:00:00 +0000",
        "num_media": "1",
    });
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

#[tokio::test]
async fn an_image_goes_as_one_media_url_form_field_with_twilios_names() {
    let captured = Captured::default();
    let app = Router::new()
        .route(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
            axum::routing::any(capture),
        )
        .with_state(captured.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = TwilioClient::new(
        &base_url,
        ACCOUNT,
        TOKEN,
        TwilioOptions {
            media_host: Some(Arc::new(FixedHost)),
            ..TwilioOptions::default()
        },
    )
    .unwrap();
    let mut request = send_request("Here it is & more");
    request.media = vec![Media {
        kind: ImageKind::Png,
        bytes: vec![0x89, b'P', b'N', b'G'],
    }];
    let sent = client.send(&request).await.unwrap();
    assert_eq!(
        sent.media_urls,
        ["https://media.example.com/switchboard/a b.png?X-Amz-Signature=abc&X-Amz-Expires=3600"]
    );

    let (headers, body) = captured.0.lock().unwrap()[0].clone();
    assert_eq!(
        headers["content-type"], "application/x-www-form-urlencoded",
        "Twilio takes a form"
    );
    let fields = form_pairs(&body);
    assert_eq!(
        fields,
        [
            ("From", "+14155550100"),
            ("To", "+14155550123"),
            ("Body", "Here it is & more"),
            (
                "MediaUrl",
                "https://media.example.com/switchboard/a b.png?X-Amz-Signature=abc&X-Amz-Expires=3600"
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Basic "),
        "Basic auth with the account SID and token"
    );

    // An image-only message has no Body field at all.
    let mut image_only = send_request("");
    image_only.media = request.media.clone();
    client.send(&image_only).await.unwrap();
    let (_, body) = captured.0.lock().unwrap()[1].clone();
    let keys: Vec<String> = form_pairs(&body).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["From", "To", "MediaUrl"]);
}

/// A media host on loopback: `upload` POSTs the bytes to it over HTTP, and each is served back
/// at the URL the upload answered (as an S3 bucket serves a presigned GET).
struct LoopbackHost {
    base: String,
    http: reqwest::Client,
}

#[derive(Clone, Default)]
struct Hosted(Arc<Mutex<Vec<Bytes>>>);

impl LoopbackHost {
    async fn start() -> LoopbackHost {
        let hosted = Hosted::default();
        let app = Router::new()
            .route(
                "/media",
                axum::routing::post(|State(h): State<Hosted>, bytes: Bytes| async move {
                    let mut all = h.0.lock().unwrap();
                    all.push(bytes);
                    (all.len() - 1).to_string()
                }),
            )
            .route(
                "/media/{id}",
                axum::routing::get(
                    |State(h): State<Hosted>,
                     axum::extract::Path(id): axum::extract::Path<usize>| async move {
                        h.0.lock().unwrap()[id].clone()
                    },
                ),
            )
            .with_state(hosted);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        LoopbackHost {
            base,
            http: reqwest::Client::new(),
        }
    }
}

#[async_trait]
impl MediaHost for LoopbackHost {
    async fn upload(&self, media: &Media) -> Result<String, CarrierError> {
        let id = self
            .http
            .post(format!("{}/media", self.base))
            .body(media.bytes.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap()
            .text()
            .await
            .unwrap();
        Ok(format!("{}/media/{id}", self.base))
    }
}

#[tokio::test]
async fn three_images_go_as_three_media_url_fields_in_order_each_fetchable_with_its_bytes() {
    let captured = Captured::default();
    let app = Router::new()
        .route(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
            axum::routing::any(capture),
        )
        .with_state(captured.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = TwilioClient::new(
        &base_url,
        ACCOUNT,
        TOKEN,
        TwilioOptions {
            media_host: Some(Arc::new(LoopbackHost::start().await)),
            ..TwilioOptions::default()
        },
    )
    .unwrap();
    let images = [
        (ImageKind::Png, b"\x89PNG\r\n\x1a\n the first".to_vec()),
        (ImageKind::Jpeg, b"\xff\xd8\xff the second".to_vec()),
        (ImageKind::Gif, b"GIF89a the third".to_vec()),
    ];
    let mut request = send_request("Three photos");
    request.media = images
        .iter()
        .map(|(kind, bytes)| Media {
            kind: *kind,
            bytes: bytes.clone(),
        })
        .collect();
    let sent = client.send(&request).await.unwrap();

    let requests = captured.0.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "one message, not one per image");
    let fields = form_pairs(&requests[0].1);
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["From", "To", "Body", "MediaUrl", "MediaUrl", "MediaUrl"]
    );
    let urls: Vec<String> = fields
        .into_iter()
        .filter(|(k, _)| k == "MediaUrl")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(sent.media_urls, urls);
    let http = reqwest::Client::new();
    for (url, (_, bytes)) in urls.iter().zip(&images) {
        let fetched = http.get(url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(
            &fetched[..],
            &bytes[..],
            "{url} serves its own image, in its place"
        );
    }
}

/// Decodes `application/x-www-form-urlencoded`, keeping repeated keys and their order.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(body)))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn templates_match_paths() {
    assert!(matches_template(
        "/Messages/SM12.json",
        "/Messages/{Sid}.json"
    ));
    assert!(matches_template(".json", ".json"));
    assert!(!matches_template("/Messages/.json", "/Messages/{Sid}.json"));
    assert!(!matches_template("/Messages.json", "/Messages/{Sid}.json"));
    assert!(!matches_template(
        "/Messages/SM1/Media.json",
        "/Messages/{Sid}.json"
    ));
}
