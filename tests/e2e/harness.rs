//! The end-to-end harness: it starts the real app binary in a real WebKit window through
//! `tauri-driver` (which drives Debian's `WebKitWebDriver`), finds elements the way a user or a
//! screen reader does (role and accessible name, label, text), steers the embedded sandbox
//! carrier through its control API, and reads the notifications the app raised from a mock
//! notification daemon on the session bus.
//!
//! One app runs at a time: `App::launch` waits for its turn, and `App::close` (or dropping the
//! `App`) ends the session and waits until every process of the app has exited, so that the next
//! launch may open the same data directory. When a test fails while an app is open, a screenshot
//! of the window and the end of the app's log are kept (see `tests/README.md`).

#![allow(dead_code)] // Not every test uses every helper.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use fantoccini::elements::{Element, ElementRef};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::{json, Value};

/// How long a step waits for the window to show what it expects.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// From launching the binary to its conversations on screen (a first start creates the store).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(45);
/// Between two looks at the window, the carrier or the notifications.
const POLL: Duration = Duration::from_millis(200);

/// The sandbox carrier's demo lines and contacts.
pub const SALES: &str = "+14155550100";
pub const SUPPORT: &str = "+14155550101";
pub const ADA: &str = "+14155550123";
pub const GRACE: &str = "+14155550124";
pub const KATHERINE: &str = "+14155550125";
pub const ALAN: &str = "+14155550126";

// ---------------------------------------------------------------------------------------------
// Opting in

/// `true` when this run leaves the end-to-end tests out; each test starts with
/// `if skipped() { return; }`.
///
/// They run with `SWITCHBOARD_E2E=1` (as `./dev test` does, under Xvfb), and then everything
/// they need must be there or they fail. Unset, a developer's plain `cargo test --workspace`
/// leaves them out with one line on stderr; `SWITCHBOARD_E2E=0` leaves them out too (`./dev test`
/// sets it for its first run, and runs them separately). Under CI, leaving them out requires
/// `SWITCHBOARD_E2E=0` explicitly, so that no CI goes green without them by accident.
pub fn skipped() -> bool {
    static TOLD: Once = Once::new();
    let say = |line: &str| {
        TOLD.call_once(|| {
            // Straight to the file descriptor: libtest hides what `eprintln!` prints.
            let _ = writeln!(std::io::stderr(), "{line}");
        })
    };
    match std::env::var("SWITCHBOARD_E2E").as_deref() {
        Ok("1") => false,
        Ok("0") => {
            say(
                "e2e tests not run here: SWITCHBOARD_E2E=0 (./dev test runs them next, under Xvfb)",
            );
            true
        }
        Ok(other) => panic!("SWITCHBOARD_E2E must be 1 (run the e2e tests) or 0, not {other:?}"),
        Err(_) if std::env::var_os("CI").is_some() => panic!(
            "CI is set but SWITCHBOARD_E2E is not: CI must run the e2e tests \
             (`./dev test` does, with SWITCHBOARD_E2E=1), or say SWITCHBOARD_E2E=0"
        ),
        Err(_) => {
            say("e2e tests not run: set SWITCHBOARD_E2E=1 (./dev test does)");
            true
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the tests need on the machine

struct Tools {
    app: PathBuf,
    tauri_driver: PathBuf,
    webkit_driver: PathBuf,
}

/// The target directory this test binary was built into (`target/debug/deps/e2e-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Finds everything or fails with the whole list of what is missing.
fn tools() -> Tools {
    let mut missing = Vec::new();
    let app = std::env::var_os("SWITCHBOARD_E2E_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_switchboard")));
    if !app.is_file() {
        missing.push(format!(
            "the app binary {} (SWITCHBOARD_E2E_APP, else the debug binary cargo builds \
             with this test; ./dev e2e builds the release one and points there)",
            app.display()
        ));
    }
    let tauri_driver = std::env::var_os("SWITCHBOARD_TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path("tauri-driver"))
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/cargo/bin/tauri-driver")
        });
    if !tauri_driver.is_file() {
        missing.push(
            "tauri-driver (cargo install tauri-driver --locked --root .tools/cargo)".to_owned(),
        );
    }
    let webkit_driver = std::env::var_os("SWITCHBOARD_WEBKIT_DRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path("WebKitWebDriver"))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/WebKitWebDriver"));
    if !webkit_driver.is_file() {
        missing.push("WebKitWebDriver (apt-get install webkit2gtk-driver)".to_owned());
    }
    if std::env::var_os("DISPLAY").is_none() {
        missing.push("an X display: DISPLAY is not set (run under xvfb-run -a)".to_owned());
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        missing.push("a session D-Bus (run under dbus-run-session)".to_owned());
    }
    if !Path::new(PYTHON).is_file() {
        missing.push(format!("{PYTHON} with python3-dbusmock"));
    }
    assert!(
        missing.is_empty(),
        "the e2e tests cannot run; missing:\n  - {}\n`./dev test` installs and sets up all of it.",
        missing.join("\n  - ")
    );
    Tools {
        app,
        tauri_driver,
        webkit_driver,
    }
}

/// The test's name, for screenshots and logs (libtest names each test's thread after it).
fn test_name() -> String {
    let name = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("e2e")
        .replace("::", "-");
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

// ---------------------------------------------------------------------------------------------
// Data directories

/// A fresh data directory and the path of its key file (which the app creates, owner-only, on
/// its first start). Removed when dropped; pass it from one `App` to the next to test a restart.
#[derive(Debug)]
pub struct DataDir {
    root: tempfile::TempDir,
}

impl DataDir {
    pub fn new() -> DataDir {
        DataDir {
            root: tempfile::Builder::new()
                .prefix("switchboard-e2e-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    /// What the app gets as `SWITCHBOARD_DATA_DIR`.
    pub fn path(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// What the app gets as `SWITCHBOARD_KEY_FILE` (outside the data directory, as a key should).
    pub fn key_file(&self) -> PathBuf {
        self.root.path().join("switchboard.key")
    }
}

impl Default for DataDir {
    fn default() -> Self {
        DataDir::new()
    }
}

// ---------------------------------------------------------------------------------------------
// Finding elements as a user does

/// Something to look for in the window, by accessible role and name, label or text; it prints
/// as a person would say it (`button "Send from Sales"`).
#[derive(Debug, Clone)]
pub struct Target {
    /// Alternatives, each an absolute XPath starting with `//`.
    branches: Vec<String>,
    what: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl Target {
    /// Any XPath starting with `//`, described for failure messages.
    pub fn xpath(expr: &str, what: &str) -> Target {
        Target {
            branches: vec![expr.to_owned()],
            what: what.to_owned(),
        }
    }

    /// The same thing, looked for inside `outer` only:
    /// `button("Send").within(&dialog("New message"))`.
    pub fn within(self, outer: &Target) -> Target {
        let branches = outer
            .branches
            .iter()
            .flat_map(|o| self.branches.iter().map(move |i| format!("{o}{i}")))
            .collect();
        Target {
            branches,
            what: format!("{} in {}", self.what, outer.what),
        }
    }

    fn expr(&self) -> String {
        self.branches.join(" | ")
    }
}

/// An XPath string literal for any text (XPath 1.0 has no escapes).
fn lit(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// The accessible name is `name`, computed as browsers do for the common cases:
/// `aria-labelledby`, then `aria-label`, then a `<label>`, the content, `title`, `placeholder`
/// or `alt`.
fn name_is(name: &str) -> String {
    let n = lit(name);
    format!(
        "((@aria-labelledby and normalize-space(id(@aria-labelledby))={n}) \
         or (not(@aria-labelledby) and @aria-label={n}) \
         or (not(@aria-labelledby) and not(@aria-label) and \
             (@id=//label[normalize-space(.)={n}]/@for or ancestor::label[normalize-space(.)={n} or normalize-space(text())={n}] \
              or normalize-space(.)={n} or @title={n} or @placeholder={n} or @alt={n})))"
    )
}

/// The elements that have `role` without saying so (HTML's implicit ARIA roles).
fn implicit_role(role: &str) -> Option<&'static str> {
    Some(match role {
        "button" => {
            "self::button or (self::input and (@type='button' or @type='submit' or @type='reset'))"
        }
        "link" => "self::a[@href]",
        "textbox" => {
            "self::textarea or (self::input and (not(@type) or @type='text' or @type='email' \
             or @type='tel' or @type='url'))"
        }
        "searchbox" => "self::input[@type='search']",
        "checkbox" => "self::input[@type='checkbox']",
        "radio" => "self::input[@type='radio']",
        "combobox" => "self::select[not(@multiple)]",
        "listbox" => "self::select[@multiple]",
        "option" => "self::option",
        "heading" => "self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6",
        "list" => "self::ul or self::ol",
        "listitem" => "self::li",
        "navigation" => "self::nav",
        "main" => "self::main",
        "dialog" => "self::dialog",
        "form" => "self::form",
        "region" => "self::section[@aria-label or @aria-labelledby]",
        "banner" => "self::header",
        "complementary" => "self::aside",
        "article" => "self::article",
        "img" => "self::img[not(@alt='')]",
        "table" => "self::table",
        "row" => "self::tr",
        _ => return None,
    })
}

/// An element with this ARIA role (explicit, or implicit in its tag) and accessible name.
pub fn by_role(role: &str, name: &str) -> Target {
    let has_role = match implicit_role(role) {
        Some(implicit) => format!(
            "(@role={r} or (not(@role) and ({implicit})))",
            r = lit(role)
        ),
        None => format!("@role={}", lit(role)),
    };
    Target {
        branches: vec![format!("//*[{has_role} and {}]", name_is(name))],
        what: format!("{role} {name:?}"),
    }
}

pub fn button(name: &str) -> Target {
    by_role("button", name)
}

pub fn link(name: &str) -> Target {
    by_role("link", name)
}

pub fn textbox(name: &str) -> Target {
    by_role("textbox", name)
}

pub fn heading(name: &str) -> Target {
    by_role("heading", name)
}

pub fn dialog(name: &str) -> Target {
    by_role("dialog", name)
}

pub fn region(name: &str) -> Target {
    by_role("region", name)
}

pub fn list(name: &str) -> Target {
    by_role("list", name)
}

/// Any element whose `aria-label` is `name`, whatever its role (the page's landmarks).
pub fn labelled(name: &str) -> Target {
    Target {
        branches: vec![format!("//*[@aria-label={}]", lit(name))],
        what: format!("element labelled {name:?}"),
    }
}

/// The form control a label names: `aria-label`, `aria-labelledby`, `<label for>`, or a
/// `<label>` around it (named by its own leading text, without the control's: a `<select>`'s
/// options are part of the label's text content).
pub fn by_label(label: &str) -> Target {
    let n = lit(label);
    Target {
        branches: vec![format!(
            "//*[@aria-label={n} or (@aria-labelledby and normalize-space(id(@aria-labelledby))={n}) \
             or @id=//label[normalize-space(.)={n}]/@for \
             or ((self::input or self::textarea or self::select) and ancestor::label[normalize-space(.)={n} or normalize-space(text())={n}])]"
        )],
        what: format!("field labelled {label:?}"),
    }
}

/// The innermost element whose whole text (spaces normalised) is `text`.
pub fn by_text(text: &str) -> Target {
    let t = lit(text);
    Target {
        branches: vec![format!(
            "//*[normalize-space(.)={t} and not(*[normalize-space(.)={t}])]"
        )],
        what: format!("text {text:?}"),
    }
}

/// The innermost element whose text contains `text`.
pub fn containing_text(text: &str) -> Target {
    let t = lit(text);
    Target {
        branches: vec![format!(
            "//*[contains(normalize-space(.), {t}) and not(*[contains(normalize-space(.), {t})])]"
        )],
        what: format!("text containing {text:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The app

/// The key of an element in WebDriver's JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The first element an XPath finds that is rendered and not hidden by CSS. In the page rather
/// than with WebDriver's "is displayed", whose heuristics call text in an `overflow: hidden`
/// flex item (an ellipsised name) invisible; and in one round trip.
const FIRST_VISIBLE: &str = r#"
const found = document.evaluate(arguments[0], document, null,
    XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
for (let i = 0; i < found.snapshotLength; i++) {
  const el = found.snapshotItem(i);
  if (el.nodeType === Node.ELEMENT_NODE && el.getClientRects().length > 0 &&
      el.checkVisibility({ opacityProperty: true, visibilityProperty: true,
                           checkOpacity: true, checkVisibilityCSS: true })) {
    return el;
  }
}
return null;
"#;

/// One app only at a time: one window, one tauri-driver, one data directory open.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The running app in its window, and the means to look at it and steer its world.
pub struct App {
    client: Client,
    session: String,
    driver: Driver,
    dir: Option<DataDir>,
    sandbox: Option<Sandbox>,
    name: String,
    log: PathBuf,
    closed: bool,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("session", &self.session)
            .field("processes", &self.driver.processes)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// The desktop's colour scheme, which the app follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    Light,
    Dark,
}

impl App {
    /// Starts the app on a fresh data directory and waits until its conversations are on screen.
    pub async fn launch() -> App {
        App::launch_with(DataDir::new()).await
    }

    /// Starts the app on `dir` (fresh, or one a closed app used) and waits until its
    /// conversations are on screen and its sandbox carrier answers. Notifications raised before
    /// are forgotten.
    pub async fn launch_with(dir: DataDir) -> App {
        App::start(dir, Look::Light, &[]).await
    }

    /// Starts the app on a fresh data directory with more environment variables (for example
    /// `SWITCHBOARD_TWILIO_API_URL`, to point its Twilio client at a sandbox playing Twilio).
    pub async fn launch_with_env(env: &[(&str, &str)]) -> App {
        App::start(DataDir::new(), Look::Light, env).await
    }

    /// Starts the app on a fresh data directory on a desktop in `look` (GTK's dark Adwaita for
    /// `Look::Dark`, which WebKit reports to the page as `prefers-color-scheme: dark`).
    pub async fn launch_looking(look: Look) -> App {
        App::start(DataDir::new(), look, &[]).await
    }

    async fn start(dir: DataDir, look: Look, env: &[(&str, &str)]) -> App {
        let turn = TURN.lock().await;
        let tools = tools();
        notifications::start_daemon();
        clear_notifications().await;

        let name = test_name();
        let log = log_file(&name);
        let port = free_port();
        let native_port = free_port();
        let out = File::options()
            .append(true)
            .open(&log)
            .expect("the e2e log file");
        let launched_at = SystemTime::now();
        let child = Command::new(&tools.tauri_driver)
            .arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .arg("--native-driver")
            .arg(&tools.webkit_driver)
            // tauri-driver → WebKitWebDriver → the app: all three inherit this environment.
            .env("SWITCHBOARD_DATA_DIR", dir.path())
            .env("SWITCHBOARD_KEY_FILE", dir.key_file())
            .env(
                "SWITCHBOARD_LOG",
                std::env::var("SWITCHBOARD_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("NO_COLOR", "1") // the log is a file
            .envs(match look {
                Look::Light => None,
                Look::Dark => Some(("GTK_THEME", "Adwaita:dark")),
            })
            .envs(env.iter().copied())
            .env("SWITCHBOARD_E2E_BINARY", &tools.app)
            .env("SWITCHBOARD_E2E_LOG", &log)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the e2e log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{} could not start: {e}", tools.tauri_driver.display()));
        // From here on, a failure stops tauri-driver and the app on its way out.
        let mut driver = Driver {
            child,
            port,
            processes: Vec::new(),
            stopped: false,
        };

        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "tauri-driver exited ({status}) before listening\n{}",
                    tail(&log)
                );
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port} within 10 s\n{}",
                tail(&log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }

        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({ "application": app_launcher(), "args": [] }),
        );
        // tauri-driver listens before the WebKitWebDriver it starts does: on a loaded machine
        // the first session can find nobody behind it ("Connection refused"), and no app was
        // started, so asking again is safe.
        let connecting = async {
            loop {
                let made = ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await;
                match made {
                    Err(e) if e.to_string().contains("did not respond") => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    made => break made,
                }
            }
        };
        let client = match tokio::time::timeout(STARTUP_TIMEOUT, connecting).await {
            Ok(Ok(client)) => client,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {STARTUP_TIMEOUT:?}"),
                };
                driver.stop();
                panic!("no WebDriver session with the app: {why}\n{}", tail(&log));
            }
        };
        let session = client.session_id().await.ok().flatten().unwrap_or_default();
        driver.processes = descendants(driver.child.id());
        let mut app = App {
            client,
            session,
            driver,
            dir: Some(dir),
            sandbox: None,
            name,
            log,
            closed: false,
            _turn: turn,
        };
        app.wait_for_within(&labelled("Conversations"), STARTUP_TIMEOUT)
            .await;
        app.sandbox = Some(Sandbox::find(&app.data_dir(), launched_at).await);
        app
    }

    /// Ends the session and waits until the app has exited; gives the data directory back for a
    /// next launch.
    pub async fn close(mut self) -> DataDir {
        if let Err(e) =
            tokio::time::timeout(Duration::from_secs(15), self.client.clone().close()).await
        {
            let _ = writeln!(std::io::stderr(), "the WebDriver session did not end: {e}");
        }
        self.driver.stop();
        self.closed = true;
        self.dir.take().expect("the data directory")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.as_ref().expect("the data directory").path()
    }

    /// Starts the app binary a second time, on the same data directory, as a person would from
    /// the launcher, and waits (20 s at most) for that second process to end; its output goes to
    /// this test's log.
    pub async fn launch_again(&self) -> std::process::ExitStatus {
        let dir = self.dir.as_ref().expect("the data directory");
        let log = File::options()
            .append(true)
            .open(&self.log)
            .expect("the e2e log file");
        let mut child = tokio::process::Command::new(tools().app)
            .env("SWITCHBOARD_DATA_DIR", dir.path())
            .env("SWITCHBOARD_KEY_FILE", dir.key_file())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the e2e log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the second launch");
        tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("the second launch ended within 20 s")
            .expect("the second launch's status")
    }

    /// Every process under tauri-driver now: WebKitWebDriver, the app, its WebKit helpers (for
    /// the benchmarks' memory figures).
    pub fn processes(&self) -> Vec<u32> {
        descendants(self.driver.child.id())
    }

    /// The WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The document's title.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("the window's title")
    }

    /// Saves the window as `target/e2e-screenshots/<test>-<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        save_screenshot(&self.name, name, &png)
    }

    // -- finding and waiting --------------------------------------------------------------

    /// The first element that matches and is on screen, now, if any. An element removed
    /// between the lookup and its handle (a dialog closing) is not there.
    pub async fn find(&self, target: &Target) -> Option<Element> {
        let found = match self
            .client
            .execute(FIRST_VISIBLE, vec![json!(target.expr())])
            .await
        {
            Ok(found) => found,
            Err(e) if e.is_stale_element_reference() => return None,
            Err(e) => panic!("looking for {target} failed: {e}"),
        };
        let id = found.get(ELEMENT_KEY)?.as_str()?;
        Some(Element::from_element_id(
            self.client.clone(),
            ElementRef::from(id.to_owned()),
        ))
    }

    /// Whether `target` is on screen now.
    pub async fn shows(&self, target: &Target) -> bool {
        self.find(target).await.is_some()
    }

    /// Waits (10 s) until `target` is on screen.
    pub async fn wait_for(&self, target: &Target) -> Element {
        self.wait_for_within(target, DEFAULT_TIMEOUT).await
    }

    pub async fn wait_for_within(&self, target: &Target, timeout: Duration) -> Element {
        let what = format!("{target}\n  (XPath: {})", target.expr());
        eventually(&what, timeout, async || self.find(target).await).await
    }

    /// Waits (10 s) until `target` is no longer on screen.
    pub async fn wait_gone(&self, target: &Target) {
        let what = format!("{target} to go away");
        eventually(&what, DEFAULT_TIMEOUT, async || {
            (!self.shows(target).await).then_some(())
        })
        .await
    }

    /// Waits for `target` and clicks it (again, if the page replaced it meanwhile).
    pub async fn click(&self, target: &Target) {
        let what = format!("{target} to click");
        eventually(&what, DEFAULT_TIMEOUT, async || {
            self.find(target).await?.click().await.ok()
        })
        .await
    }

    /// Waits for `target` and types `text` into it, as keystrokes.
    pub async fn type_into(&self, target: &Target, text: &str) {
        let what = format!("{target} to type into");
        eventually(&what, DEFAULT_TIMEOUT, async || {
            self.find(target).await?.send_keys(text).await.ok()
        })
        .await
    }

    /// Waits for `target` and returns its text as rendered (`innerText`).
    pub async fn text_of(&self, target: &Target) -> String {
        let what = format!("{target} to read");
        eventually(&what, DEFAULT_TIMEOUT, async || {
            self.find(target).await?.prop("innerText").await.ok()?
        })
        .await
    }

    // -- the world around the app ----------------------------------------------------------

    /// The app's sandbox carrier, to make contacts answer, go offline, and see what was sent.
    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox.as_ref().expect("the sandbox carrier")
    }

    /// Waits until a notification titled `summary` was raised, and returns it.
    pub async fn wait_for_notification(&self, summary: &str, timeout: Duration) -> Notification {
        let deadline = Instant::now() + timeout;
        loop {
            let raised = notifications().await;
            if let Some(n) = raised.iter().find(|n| n.summary == summary) {
                return n.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "no notification titled {summary:?} within {timeout:?}; raised: {raised:#?}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        if std::thread::panicking() {
            // The test failed with the window open: keep what it showed, and what the app said.
            let url = format!(
                "http://127.0.0.1:{}/session/{}/screenshot",
                self.driver.port, self.session
            );
            match screenshot_blocking(&url) {
                Some(png) => {
                    let path = save_screenshot(&self.name, "failure", &png);
                    let _ = writeln!(std::io::stderr(), "screenshot: {}", path.display());
                }
                None => {
                    let _ = writeln!(std::io::stderr(), "no screenshot could be taken");
                }
            }
            let _ = writeln!(std::io::stderr(), "{}", tail(&self.log));
        }
        // Then `self.driver` stops the app as it is dropped.
    }
}

/// Polls `check` until it gives a value, or fails after `timeout` saying what it waited for.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

fn save_screenshot(test: &str, name: &str, png: &[u8]) -> PathBuf {
    let dir = target_dir().join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    let path = dir.join(format!("{test}-{name}.png"));
    std::fs::write(&path, png).expect("the screenshot file");
    path
}

/// A screenshot from a panicking test's `Drop`, on a runtime of its own.
fn screenshot_blocking(url: &str) -> Option<Vec<u8>> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let reply: Value = reqwest::Client::new()
                    .get(url)
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                base64::engine::general_purpose::STANDARD
                    .decode(reply["value"].as_str()?)
                    .ok()
            })
        })
        .join()
        .ok()
        .flatten()
    })
}

/// `target/e2e-logs/<test>.log`: tauri-driver's, WebKitWebDriver's and the app's output, for
/// every launch of this test in this run.
fn log_file(test: &str) -> PathBuf {
    static STARTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let dir = target_dir().join("e2e-logs");
    std::fs::create_dir_all(&dir).expect("the e2e log folder");
    let path = dir.join(format!("{test}.log"));
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    let first = started
        .get_or_insert_with(HashSet::new)
        .insert(test.to_owned());
    let mut file = File::options()
        .create(true)
        .append(!first)
        .write(true)
        .truncate(first)
        .open(&path)
        .expect("the e2e log file");
    let _ = writeln!(file, "=== launch");
    path
}

/// What WebKitWebDriver starts: a script that runs the app with its output in the test's log
/// (tauri-driver sends WebKitWebDriver's stdout, where the app logs, to /dev/null). It `exec`s,
/// so the app keeps the script's process id.
fn app_launcher() -> PathBuf {
    let path = target_dir().join("e2e-logs/switchboard-e2e-launcher");
    let script =
        "#!/bin/sh\nexec \"$SWITCHBOARD_E2E_BINARY\" \"$@\" >>\"$SWITCHBOARD_E2E_LOG\" 2>&1\n";
    if std::fs::read_to_string(&path).ok().as_deref() != Some(script) {
        let temp = path.with_extension("new");
        std::fs::write(&temp, script).expect("the app's launcher script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755))
                .expect("the launcher script's mode");
        }
        std::fs::rename(&temp, &path).expect("the app's launcher script");
    }
    path
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(40);
    format!(
        "--- end of {} ---\n{}",
        log.display(),
        lines[start..].join("\n")
    )
}

// ---------------------------------------------------------------------------------------------
// Processes

/// tauri-driver, and the processes under it: WebKitWebDriver, the app, its WebKit helpers.
/// Stopped when dropped, so that a failing test leaves nothing running.
struct Driver {
    child: Child,
    port: u16,
    processes: Vec<u32>,
    stopped: bool,
}

impl Driver {
    fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        // Seen now, before their parents go and they are handed to init.
        self.processes.extend(descendants(self.child.id()));
        terminate(&mut self.child, &self.processes);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every process below `root` (by parent id, from /proc).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((_, ppid)) = stat(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A process's state letter and parent id.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid …": the command may hold spaces and parentheses.
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Gone, or a zombie (which holds no files, locks or ports any more).
fn exited(pid: u32) -> bool {
    !matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

fn signal(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

fn wait_exited(pids: &[u32], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pids.iter().all(|p| exited(*p)) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops tauri-driver (which stops WebKitWebDriver), then waits until the app and its helpers
/// have exited too; what does not exit is terminated, then killed.
fn terminate(driver: &mut Child, processes: &[u32]) {
    signal("TERM", driver.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    while matches!(driver.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = driver.kill();
    let _ = driver.wait();
    if wait_exited(processes, Duration::from_secs(10)) {
        return;
    }
    for pid in processes.iter().filter(|p| !exited(**p)) {
        signal("TERM", *pid);
    }
    if wait_exited(processes, Duration::from_secs(5)) {
        return;
    }
    for pid in processes.iter().filter(|p| !exited(**p)) {
        signal("KILL", *pid);
    }
    wait_exited(processes, Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------
// The sandbox carrier

/// The embedded sandbox carrier of the running app, through its control API.
#[derive(Debug)]
pub struct Sandbox {
    control: String,
    http: reqwest::Client,
}

/// What `endpoint.json` says.
#[derive(Debug, Deserialize)]
struct Endpoint {
    sandbox_control_url: Option<String>,
}

/// A message as the carrier has it (Twilio's JSON, the fields tests look at).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CarrierMessage {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub status: String,
    /// "inbound" (from a contact), "outbound-api" (sent by the app) or "outbound-reply" (the
    /// carrier's answer to a keyword).
    pub direction: String,
    pub error_code: Option<u32>,
    /// How many media items the carrier reports, as Twilio writes it ("3"; "0" for an SMS, and
    /// during the media lag).
    #[serde(default)]
    pub num_media: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SandboxStats {
    pub online: bool,
    pub received_count: u64,
    pub messages: usize,
    pub api_base_url: String,
}

impl Sandbox {
    /// Reads the address the app wrote at this start (not a previous one's) and waits until the
    /// control API answers.
    async fn find(data_dir: &Path, launched_at: SystemTime) -> Sandbox {
        let file = data_dir.join("sandbox/endpoint.json");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let what = format!("the sandbox carrier's address in {}", file.display());
        eventually(&what, Duration::from_secs(20), async || {
            let written = std::fs::metadata(&file).ok()?.modified().ok()?;
            if written < launched_at {
                return None;
            }
            let endpoint: Endpoint = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
            let sandbox = Sandbox {
                control: endpoint.sandbox_control_url?,
                http: http.clone(),
            };
            sandbox.try_stats().await.map(|_| sandbox)
        })
        .await
    }

    async fn try_stats(&self) -> Option<SandboxStats> {
        let url = format!("{}/_sandbox/stats", self.control);
        self.http.get(url).send().await.ok()?.json().await.ok()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/_sandbox/{path}", self.control);
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status();
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {url} {body}: {status} {reply}");
        reply
    }

    /// `from` (a contact's number) texts `to_line` (one of the app's lines).
    pub async fn reply(&self, from: &str, to_line: &str, body: &str) -> CarrierMessage {
        let sent = self
            .post(
                "reply",
                json!({ "from": from, "to": to_line, "body": body }),
            )
            .await;
        serde_json::from_value(sent).expect("the sandbox's message")
    }

    /// `from` texts `to_line` an MMS: `body` (may be empty) and `media`, each (content type,
    /// bytes), up to 10.
    pub async fn reply_with_media(
        &self,
        from: &str,
        to_line: &str,
        body: &str,
        media: &[(&str, &[u8])],
    ) -> CarrierMessage {
        let media: Vec<Value> = media
            .iter()
            .map(|(content_type, bytes)| {
                json!({
                    "content_type": content_type,
                    "data": base64::engine::general_purpose::STANDARD.encode(bytes),
                })
            })
            .collect();
        let sent = self
            .post(
                "reply",
                json!({ "from": from, "to": to_line, "body": body, "media": media }),
            )
            .await;
        serde_json::from_value(sent).expect("the sandbox's message")
    }

    /// As if the network were gone: the carrier's API refuses connections.
    pub async fn offline(&self) -> SandboxStats {
        serde_json::from_value(self.post("offline", json!({})).await).expect("sandbox stats")
    }

    pub async fn online(&self) -> SandboxStats {
        serde_json::from_value(self.post("online", json!({})).await).expect("sandbox stats")
    }

    /// Makes the next `count` requests fail: `json!({"kind": "status500"})`, `{"kind":
    /// "timeout"}` or `{"kind": "status429", "retry_after_secs": 3}`; with `sends_only`, only
    /// sends.
    pub async fn fail_next(&self, count: u32, failure: Value, sends_only: bool) {
        self.post(
            "fail",
            json!({ "count": count, "failure": failure, "sends_only": sends_only }),
        )
        .await;
    }

    /// Makes sends to `number` fail with the carrier's `code` (e.g. 21610), or succeed again.
    pub async fn fail_number(&self, number: &str, code: Option<u32>) {
        self.post("fail-number", json!({ "number": number, "code": code }))
            .await;
    }

    /// Every message the carrier has: what the app sent, and what contacts sent.
    pub async fn messages(&self) -> Vec<CarrierMessage> {
        #[derive(Deserialize)]
        struct List {
            messages: Vec<CarrierMessage>,
        }
        let url = format!("{}/_sandbox/messages", self.control);
        let list: List = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .json()
            .await
            .expect("the sandbox's messages");
        list.messages
    }

    /// The messages the app sent (outbound, not the carrier's own answers to STOP or HELP,
    /// which Twilio lists as `outbound-reply`), oldest first.
    pub async fn sent(&self) -> Vec<CarrierMessage> {
        let mut all = self.messages().await;
        all.retain(|m| m.direction == "outbound-api");
        all
    }

    pub async fn stats(&self) -> SandboxStats {
        self.try_stats().await.expect("the sandbox's stats")
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications

/// Debian's Python, which has python3-dbus and python3-dbusmock (not a virtualenv's).
const PYTHON: &str = "/usr/bin/python3";

/// A notification the app raised (a `Notify` call on the session bus).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Notification {
    pub app_name: String,
    pub summary: String,
    pub body: String,
}

/// Clicks the newest notification (its "default" action), as a person would.
pub async fn click_newest_notification() {
    notifications::ask("click").await;
}

/// Every notification raised since the app was launched (or since `clear_notifications`).
pub async fn notifications() -> Vec<Notification> {
    let out = notifications::ask("calls").await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("the mock's Notify calls {out:?}: {e}"))
}

pub async fn clear_notifications() {
    notifications::ask("clear").await;
}

mod notifications {
    use super::*;

    /// Talks to the daemon with dbus-python (GetMethodCalls gives typed values, unlike the
    /// text gdbus prints).
    const SCRIPT: &str = r#"
import json, sys
import dbus
NAME, PATH, MOCK = 'org.freedesktop.Notifications', '/org/freedesktop/Notifications', 'org.freedesktop.DBus.Mock'
bus = dbus.SessionBus()
mode = sys.argv[1]
if mode == 'status':
    if not bus.name_has_owner(NAME):
        print('free')
    else:
        try:
            bus.get_object(NAME, PATH).GetCalls(dbus_interface=MOCK)
            print('mock')
        except dbus.DBusException:
            print('other')
    sys.exit(0)
mock = dbus.Interface(bus.get_object(NAME, PATH), MOCK)
if mode == 'clear':
    mock.ClearCalls()
elif mode == 'click':
    # As a person clicking the newest notification: the daemon says its "default" action was
    # invoked (the template numbers notifications from 1 and keeps the next id in next_id).
    mock.AddMethod(NAME, 'NewestId', '', 'u', 'ret = self.next_id - 1')
    newest = bus.get_object(NAME, PATH).NewestId(dbus_interface=NAME)
    mock.EmitSignal(NAME, 'ActionInvoked', 'us', [dbus.UInt32(newest), 'default'])
else:
    print(json.dumps([{'app_name': str(a[0]), 'summary': str(a[3]), 'body': str(a[4])}
                      for _, a in mock.GetMethodCalls('Notify')]))
"#;

    fn run(mode: &str) -> Command {
        let mut command = Command::new(PYTHON);
        command.arg("-c").arg(SCRIPT).arg(mode);
        command
    }

    fn status() -> String {
        let out = run("status")
            .output()
            .unwrap_or_else(|e| panic!("{PYTHON} could not run: {e}"));
        assert!(
            out.status.success(),
            "asking the session bus about notifications failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub async fn ask(mode: &str) -> String {
        let out = tokio::process::Command::from(run(mode))
            .output()
            .await
            .unwrap_or_else(|e| panic!("{PYTHON} could not run: {e}"));
        assert!(
            out.status.success(),
            "the notification mock did not answer {mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The daemon this process started, if it did: it lives until this process exits.
    static DAEMON: Mutex<Option<Child>> = Mutex::new(None);

    /// Serves `org.freedesktop.Notifications` with python-dbusmock's `notification_daemon`
    /// template, unless a mock already does. Another daemon (a real desktop's) is refused: the
    /// tests would show notifications to a person and read nothing back.
    pub fn start_daemon() {
        let mut daemon = DAEMON.lock().unwrap_or_else(|e| e.into_inner());
        match status().as_str() {
            "mock" => return,
            "free" => {}
            _ => panic!(
                "a notification daemon that is not python-dbusmock's owns \
                 org.freedesktop.Notifications on this session bus: run the e2e tests on a \
                 private bus (dbus-run-session, as ./dev test does)"
            ),
        }
        let logs = target_dir().join("e2e-logs");
        let log = std::fs::create_dir_all(&logs)
            .and_then(|()| File::create(logs.join("notification-daemon.log")))
            .expect("a log for the notification daemon");
        // The shell holds the daemon and waits on its stdin, a pipe from this process: when the
        // test binary exits, however it ends, the pipe closes and the shell stops the daemon.
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{PYTHON} -m dbusmock --template notification_daemon </dev/null & read _; kill $!"
            ))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("the daemon's log"))
            .stderr(log)
            .spawn()
            .expect("the notification daemon");
        *daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while status() != "mock" {
            assert!(
                Instant::now() < deadline,
                "python-dbusmock's notification daemon did not appear on the session bus \
                 within 10 s (see target/e2e-logs/notification-daemon.log)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The store held still (issue 13: what the window does while a write takes its time)

impl App {
    /// Takes the app's database write lock from a connection of the test's own, as another
    /// Switchboard process (the CLI's import) would, and keeps it for `hold`: whatever the app
    /// writes meanwhile waits, as on a slow disk. Answers once the lock is taken; it is released
    /// `hold` later, on a thread of its own (join the handle to wait for that).
    pub fn hold_writes(&self, hold: Duration) -> std::thread::JoinHandle<()> {
        let dir = self.dir.as_ref().expect("the data directory");
        let key = switchboard_engine::store::keys::read_key_file(&dir.key_file())
            .expect("the app's key file");
        let hex = key.to_hex().expect("a raw key");
        let db = dir.path().join(switchboard_engine::store::DB_FILE_NAME);
        let conn = rusqlite::Connection::open(&db).expect("the app's database");
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex.as_str()))
            .expect("the key");
        conn.busy_timeout(Duration::from_secs(10))
            .expect("a busy timeout");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("the write lock");
        std::thread::spawn(move || {
            std::thread::sleep(hold);
            conn.execute_batch("COMMIT")
                .expect("the write lock released");
        })
    }
}

// Accessibility: axe-core in the window, and the keyboard alone

/// A rule of axe-core that the page breaks, with each element that breaks it.
#[derive(Debug, Clone, Deserialize)]
pub struct AxeViolation {
    pub id: String,
    pub impact: Option<String>,
    /// What the rule asks for, in a sentence.
    pub help: String,
    pub nodes: Vec<AxeNode>,
}

/// One element that breaks a rule.
#[derive(Debug, Clone, Deserialize)]
pub struct AxeNode {
    /// The element's CSS selector (one per frame, outermost first).
    pub target: Vec<Value>,
    /// What is wrong with it, as axe says it ("Fix any of the following: …").
    #[serde(rename = "failureSummary", default)]
    pub failure_summary: Option<String>,
}

impl fmt::Display for AxeViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let impact = self.impact.as_deref().unwrap_or("unknown impact");
        write!(f, "{} ({impact}): {}", self.id, self.help)?;
        for node in &self.nodes {
            let target: Vec<String> = node
                .target
                .iter()
                .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_owned))
                .collect();
            let summary = node
                .failure_summary
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            write!(f, "\n    {} — {summary}", target.join(" > "))?;
        }
        Ok(())
    }
}

/// Runs axe over the whole document and answers its violations as JSON text (a plain string
/// crosses WebDriver whatever the result holds).
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] }).then(
  (results) => done(JSON.stringify(results.violations)),
  (error) => done(JSON.stringify({ error: String(error) })));
"#;

impl App {
    /// Runs axe-core (`node_modules/axe-core`, its full default rule set: WCAG 2 A and AA and
    /// best practices) on the window as it is now, and answers the rules it finds broken.
    pub async fn axe(&self) -> Vec<AxeViolation> {
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .expect("asking the page for axe");
        if loaded != Value::Bool(true) {
            let path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (npm ci installs axe-core)", path.display()));
            // The script itself, not an eval of it: the page's CSP forbids eval.
            self.client
                .execute(&format!("{source}\nreturn typeof window.axe;"), vec![])
                .await
                .expect("axe-core injected into the page");
        }
        let answer = self
            .client
            .execute_async(AXE_RUN, vec![])
            .await
            .expect("axe-core's run");
        let text = answer.as_str().unwrap_or_default();
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("axe-core's answer is not its violations ({e}): {text}"))
    }

    /// Presses one key on whatever has the focus, as the keyboard does.
    pub async fn press(&self, key: fantoccini::key::Key) {
        self.keys(&[key.into()]).await;
    }

    /// Holds `modifier` (Control, Shift) and presses `key`.
    pub async fn chord(&self, modifier: fantoccini::key::Key, key: fantoccini::key::Key) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down {
                value: modifier.into(),
            })
            .then(KeyAction::Down { value: key.into() })
            .then(KeyAction::Up { value: key.into() })
            .then(KeyAction::Up {
                value: modifier.into(),
            });
        self.client
            .perform_actions(keys)
            .await
            .expect("a chord of keys");
    }

    /// Types `text` into whatever has the focus, key by key (no element is found or clicked).
    pub async fn type_keys(&self, text: &str) {
        let chars: Vec<char> = text.chars().collect();
        self.keys(&chars).await;
    }

    async fn keys(&self, chars: &[char]) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut keys = KeyActions::new("keyboard".into());
        for c in chars {
            keys = keys
                .then(KeyAction::Down { value: *c })
                .then(KeyAction::Up { value: *c });
        }
        self.client
            .perform_actions(keys)
            .await
            .expect("key presses");
    }

    /// What a screen reader would announce for the focused element: its role and accessible
    /// name (`aria-labelledby`, `aria-label`, its `<label>`, else its text), as `button "Send"`.
    pub async fn focused(&self) -> String {
        const FOCUSED: &str = r#"
const el = document.activeElement;
if (!el || el === document.body) {
  return document.hasFocus() ? 'nothing' : 'nothing (the window does not have the focus)';
}
const text = (node) => (node ? node.textContent.replace(/\s+/g, ' ').trim() : '');
const role = el.getAttribute('role') || el.localName;
let name = '';
if (el.getAttribute('aria-labelledby')) {
  name = el.getAttribute('aria-labelledby').split(/\s+/)
    .map((id) => text(document.getElementById(id))).join(' ');
} else if (el.getAttribute('aria-label')) {
  name = el.getAttribute('aria-label');
} else if (el.labels && el.labels.length) {
  name = text(el.labels[0]);
} else {
  name = text(el);
}
return `${role} "${name}"`;
"#;
        let answer = self
            .client
            .execute(FOCUSED, vec![])
            .await
            .expect("the focused element");
        answer.as_str().unwrap_or_default().to_owned()
    }

    /// Waits (10 s) until the focused element is announced as `expected` (see `focused`).
    pub async fn wait_focused(&self, expected: &str) {
        let what = format!("the focus on {expected}");
        let mut last = String::new();
        let found = tokio::time::timeout(DEFAULT_TIMEOUT, async {
            loop {
                last = self.focused().await;
                if last == expected {
                    return;
                }
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        assert!(
            found.is_ok(),
            "timed out waiting for {what}; it is on {last}"
        );
    }
}
