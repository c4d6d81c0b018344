//! The commands that talk to a carrier: `run` (the outbox runner and inbound sync) and
//! `sandbox` (serve the sandbox carrier, or steer a running one through its control API).
//! The sandbox's address is kept in DATA_DIR/sandbox/endpoint.json by `sandbox serve`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchboard_engine::carrier::S3Config;
use switchboard_engine::{
    twilio_api_url, AccountStatus, CarrierEndpoint, DemoContact, Engine, EngineEvent,
    SandboxAccess, TwilioCredentials,
};
use switchboard_sandbox::{
    endpoint_file, load_endpoint, Failure as SandboxFailure, Flooded, Quirks, ReplyMedia,
    ServerStatus, MAX_REPLY_MEDIA, MAX_REPLY_MEDIA_BYTES,
};

use crate::args::{AccountCmd, FailKind, OnOff, SandboxCmd};
use crate::output::{say, Out};
use crate::{exit, Failure};

fn failure(code: &str, message: String, exit: u8) -> Failure {
    Failure {
        code: code.into(),
        message,
        details: None,
        exit,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| failure("internal", format!("cannot start: {e}"), exit::INTERNAL))
}

fn read_endpoint(data_dir: &Path) -> Result<CarrierEndpoint, Failure> {
    load_endpoint(data_dir).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "No carrier is set up for {}: start the sandbox with `switchboard-cli sandbox serve` \
                 in another terminal.",
                data_dir.display()
            )
        } else {
            format!(
                "{} is damaged: {e}",
                endpoint_file(data_dir).display()
            )
        };
        failure("no_carrier", message, exit::NOT_FOUND)
    })
}

/// `sandbox serve` and the control commands; none of them opens the encrypted store.
pub fn sandbox(data_dir: &Path, cmd: &SandboxCmd, out: &Out) -> Result<(), Failure> {
    let rt = runtime()?;
    match cmd {
        SandboxCmd::Serve { port, control_port } => {
            rt.block_on(serve_until_stopped(data_dir, *port, *control_port, out))
        }
        SandboxCmd::Offline => control(&rt, data_dir, "offline", json!({}), out),
        SandboxCmd::Online => control(&rt, data_dir, "online", json!({}), out),
        SandboxCmd::Fail {
            kind,
            count,
            retry_after,
            sends_only,
            after_create,
        } => {
            let failure = sandbox_failure(*kind, *retry_after, *after_create)?;
            let body = json!({ "count": count, "failure": failure, "sends_only": sends_only });
            control(&rt, data_dir, "fail", body, out)
        }
        SandboxCmd::ListLag { seconds } => {
            change_quirks(&rt, data_dir, json!({ "list_lag_secs": seconds }), out)
        }
        SandboxCmd::MediaLag { seconds } => {
            change_quirks(&rt, data_dir, json!({ "media_lag_secs": seconds }), out)
        }
        SandboxCmd::Trial { state } => {
            change_quirks(&rt, data_dir, json!({ "trial": *state == OnOff::On }), out)
        }
        SandboxCmd::ClockSkew { seconds } => {
            change_quirks(&rt, data_dir, json!({ "clock_skew_secs": seconds }), out)
        }
        SandboxCmd::Quirks => {
            let answer = ask(&rt, data_dir, "quirks", serde_json::Value::Null)?;
            print_quirks(answer, out)
        }
        SandboxCmd::Flood { count } => {
            let answer = ask(&rt, data_dir, "flood", json!({ "count": count }))?;
            let text = match serde_json::from_value::<Flooded>(answer.clone()) {
                Ok(f) => format!(
                    "Created {} messages over the last 24 hours ({} received, {} sent, {} with a \
                     picture), from and to {} customers, in {} ms. The carrier holds {} messages.",
                    f.created, f.inbound, f.outbound, f.mms, f.customers, f.elapsed_ms, f.messages
                ),
                Err(_) => serde_json::to_string_pretty(&answer).unwrap_or_default(),
            };
            out.done(answer, &text)
        }
        SandboxCmd::FailNumber { number, code } => control(
            &rt,
            data_dir,
            "fail-number",
            json!({ "number": number, "code": code }),
            out,
        ),
        SandboxCmd::Reply {
            from,
            line,
            text,
            images,
        } => {
            let media = reply_media(images)?;
            control(
                &rt,
                data_dir,
                "reply",
                json!({ "from": from, "to": line, "body": text, "media": media }),
                out,
            )
        }
        SandboxCmd::Stats => control(&rt, data_dir, "stats", serde_json::Value::Null, out),
        SandboxCmd::Messages => control(&rt, data_dir, "messages", serde_json::Value::Null, out),
    }
}

/// The files of `sandbox reply --image`, each labelled by its content.
fn reply_media(files: &[std::path::PathBuf]) -> Result<Vec<ReplyMedia>, Failure> {
    if files.len() > MAX_REPLY_MEDIA {
        return Err(failure(
            "too_many_media",
            format!(
                "A message carries at most {MAX_REPLY_MEDIA} media items, not {}.",
                files.len()
            ),
            exit::INVALID_INPUT,
        ));
    }
    files
        .iter()
        .map(|file| {
            // Refused before reading whole: `/dev/zero` never ends.
            let too_large = std::fs::metadata(file)
                .map_err(|e| crate::file_error(file, e))?
                .len()
                > MAX_REPLY_MEDIA_BYTES as u64;
            if too_large {
                return Err(failure(
                    "file_too_large",
                    format!(
                        "{} is larger than a message's {} MB of media.",
                        file.display(),
                        MAX_REPLY_MEDIA_BYTES / (1024 * 1024)
                    ),
                    exit::INVALID_INPUT,
                ));
            }
            let bytes = std::fs::read(file).map_err(|e| crate::file_error(file, e))?;
            if bytes.is_empty() {
                return Err(failure(
                    "empty_file",
                    format!("{} is empty.", file.display()),
                    exit::INVALID_INPUT,
                ));
            }
            let mime = switchboard_core::media::identify(&bytes, None).mime;
            Ok(ReplyMedia::new(mime, bytes))
        })
        .collect()
}

async fn serve_until_stopped(
    data_dir: &Path,
    port: Option<u16>,
    control_port: u16,
    out: &Out,
) -> Result<(), Failure> {
    let (handle, endpoint) = switchboard_sandbox::serve_sandbox(data_dir, port, control_port)
        .await
        .map_err(|e| {
            failure(
                "sandbox",
                format!("the sandbox cannot start: {e}"),
                exit::INTERNAL,
            )
        })?;
    out.done(
        json!({ "api_base_url": endpoint.api_base_url, "control_url": endpoint.sandbox_control_url }),
        &format!(
            "Sandbox carrier on {} (control {}). Ctrl-C stops it.",
            endpoint.api_base_url,
            handle.control_url()
        ),
    )?;
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(())
}

/// The fault `sandbox fail` asks for; `--after-create` only goes with a server error.
fn sandbox_failure(
    kind: FailKind,
    retry_after: u64,
    after_create: bool,
) -> Result<SandboxFailure, Failure> {
    let server = |status| SandboxFailure::ServerError {
        status,
        after_create,
    };
    Ok(match kind {
        FailKind::Status500 => server(ServerStatus::Internal),
        FailKind::Status502 => server(ServerStatus::BadGateway),
        FailKind::Status504 => server(ServerStatus::GatewayTimeout),
        _ if after_create => {
            return Err(failure(
                "invalid_input",
                "--after-create goes with 500, 502 or 504: a timeout already carries the \
                 request out, and a 429 never does."
                    .into(),
                exit::INVALID_INPUT,
            ))
        }
        FailKind::Timeout => SandboxFailure::Timeout,
        FailKind::Status429 => SandboxFailure::Status429 {
            retry_after_secs: retry_after,
        },
    })
}

fn change_quirks(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    change: serde_json::Value,
    out: &Out,
) -> Result<(), Failure> {
    let answer = ask(rt, data_dir, "quirks", change)?;
    print_quirks(answer, out)
}

/// The quirks as a person reads them, one a line.
fn print_quirks(answer: serde_json::Value, out: &Out) -> Result<(), Failure> {
    let Ok(q) = serde_json::from_value::<Quirks>(answer.clone()) else {
        let text = serde_json::to_string_pretty(&answer).unwrap_or_default();
        return out.done(answer, &text);
    };
    let lag = |d: Duration| {
        if d.is_zero() {
            "off".to_owned()
        } else {
            format!("{} s", d.as_secs_f64())
        }
    };
    let text = format!(
        "List lag:   {}\nMedia lag:  {}\nTrial:      {}\nClock skew: {}\n\
         (Quirks live in the sandbox's memory only: a restarted sandbox starts with none.)",
        lag(q.list_lag),
        lag(q.media_lag),
        if q.trial { "on" } else { "off" },
        match q.clock_skew_secs {
            0 => "off".to_owned(),
            s if s > 0 => format!("{s} s ahead"),
            s => format!("{} s behind", s.unsigned_abs()),
        }
    );
    out.done(answer, &text)
}

fn control(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    action: &str,
    body: serde_json::Value,
    out: &Out,
) -> Result<(), Failure> {
    let answer = ask(rt, data_dir, action, body)?;
    out.done(
        answer.clone(),
        &serde_json::to_string_pretty(&answer).unwrap_or_default(),
    )
}

/// Asks the data directory's sandbox through its control API: `GET /_sandbox/{action}`, or
/// `POST` with `body` when there is one.
fn ask(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    action: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, Failure> {
    let endpoint = read_endpoint(data_dir)?;
    let base = endpoint.sandbox_control_url.ok_or_else(|| {
        failure(
            "not_sandbox",
            "This data directory's carrier is not the sandbox.".into(),
            exit::INVALID_INPUT,
        )
    })?;
    let url = format!("{base}/_sandbox/{action}");
    let answer: serde_json::Value = rt.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build()?;
        let request = if body.is_null() { http.get(&url) } else { http.post(&url).json(&body) };
        request.send().await?.json().await
    })
    .map_err(|e| {
        failure(
            "sandbox_unreachable",
            format!("The sandbox does not answer at {base}: is `switchboard-cli sandbox serve` running? ({e})"),
            exit::NOT_FOUND,
        )
    })?;
    if let Some(message) = answer.get("message").and_then(|m| m.as_str()) {
        if answer.get("code").is_some() {
            return Err(failure(
                "sandbox_refused",
                message.to_owned(),
                exit::INVALID_INPUT,
            ));
        }
    }
    Ok(answer)
}

/// `run` and `run --once`.
pub fn run(engine: Engine, data_dir: &Path, once: bool, out: &Out) -> Result<(), Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let engine = Arc::new(engine);
        // The CLI sends only when no other process does: it does not wait for the outbox lock.
        let runner = engine
            .start_background(|| reach_sandbox(data_dir), Duration::ZERO)
            .await?;
        if once {
            let summary = runner.run_once().await;
            return out.done(
                serde_json::to_value(summary).unwrap_or_default(),
                &format!(
                    "Sent {}, adopted after a crash {}, failed {}, retrying {}, unknown {}; received {}, \
                     statuses {}, sent from elsewhere {}; {} still waiting{}; snoozes ended {}.",
                    summary.sent,
                    summary.adopted,
                    summary.failed,
                    summary.retrying,
                    summary.unknown,
                    summary.inbound,
                    summary.statuses,
                    summary.elsewhere,
                    summary.pending,
                    if summary.synced { "" } else { " (the carrier could not be reached)" },
                    summary.snoozes_ended
                ),
            );
        }
        let mut events = runner.subscribe();
        let json = out.json;
        let printer = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => print_event(&event, json),
                    // A burst outran the printer: say so and go on with the newest, never
                    // fall silent.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        eprintln!("({missed} event(s) not shown: they came too fast)")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        if !json {
            eprintln!("Sending and receiving for {}. Ctrl-C stops.", data_dir.display());
        }
        runner
            .run_until_stopped(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        printer.abort();
        Ok(())
    })
}

/// The sandbox `sandbox serve` runs for this data directory, and the demo contacts it offers
/// (none when it can't be asked now: they are offered again at the next start).
async fn reach_sandbox(data_dir: &Path) -> Result<SandboxAccess, Failure> {
    let endpoint = read_endpoint(data_dir)?;
    let mut demo_contacts: Vec<DemoContact> = Vec::new();
    if let Some(control) = endpoint.sandbox_control_url.as_ref() {
        let url = format!("{control}/_sandbox/demo-contacts");
        if let Ok(http) = reqwest::Client::builder().no_proxy().build() {
            if let Ok(answer) = http.get(url).send().await {
                #[derive(serde::Deserialize)]
                struct Demo {
                    contacts: Vec<DemoContact>,
                }
                demo_contacts = answer
                    .json::<Demo>()
                    .await
                    .map(|d| d.contacts)
                    .unwrap_or_default();
            }
        }
    }
    Ok(SandboxAccess {
        endpoint,
        demo_contacts,
    })
}

/// `lines rename`: a line of the connected account is renamed at the carrier first (with the
/// sandbox, the one `sandbox serve` runs).
pub fn rename_line(
    engine: &Engine,
    data_dir: &Path,
    line: &str,
    label: &str,
    out: &Out,
) -> Result<(), Failure> {
    let line = crate::names::line_id(engine, line)?;
    // Twilio needs no endpoint; the sandbox is reachable only while `sandbox serve` runs.
    let twilio = engine.uses_twilio()?;
    let endpoint = if twilio {
        None
    } else {
        load_endpoint(data_dir).ok()
    };
    let carrier = if twilio || endpoint.is_some() {
        Some(engine.carrier(endpoint.as_ref(), &twilio_api_url())?)
    } else {
        None
    };
    let rt = runtime()?;
    let renamed = rt.block_on(engine.rename_line(carrier.as_deref(), line, label))?;
    out.line(&renamed, "Renamed")
}

/// `account`: show, connect Twilio, disconnect, and the media host.
pub fn account(engine: &Engine, cmd: Option<&AccountCmd>, out: &Out) -> Result<(), Failure> {
    let rt = runtime()?;
    match cmd {
        None | Some(AccountCmd::Show) => {}
        Some(AccountCmd::ConnectTwilio { sid }) => {
            let token = read_secret("Auth Token")?;
            let credentials = TwilioCredentials::checked(sid, &token)?;
            let connected = rt.block_on(engine.connect_twilio(&credentials, &twilio_api_url()))?;
            let names: Vec<String> = connected
                .lines
                .iter()
                .map(|l| format!("{} ({})", l.label, l.number))
                .collect();
            return out.done(
                serde_json::to_value(&connected).unwrap_or_default(),
                &format!(
                    "Connected to the Twilio account \"{}\". Your lines: {}.",
                    connected.account_name,
                    names.join(", ")
                ),
            );
        }
        Some(AccountCmd::Disconnect) => engine.disconnect_twilio()?,
        Some(AccountCmd::MediaHost {
            endpoint,
            bucket,
            region,
            access_key_id,
            virtual_host,
        }) => {
            let config = S3Config {
                endpoint: endpoint.clone(),
                region: region.clone(),
                bucket: bucket.clone(),
                access_key_id: access_key_id.clone(),
                secret_access_key: read_secret("Secret access key")?,
                path_style: !virtual_host,
            };
            rt.block_on(engine.set_media_host(&config))?;
        }
        Some(AccountCmd::RemoveMediaHost) => engine.remove_media_host()?,
    }
    let status = engine.account_status()?;
    out.done(
        serde_json::to_value(&status).unwrap_or_default(),
        &account_text(&status),
    )
}

fn account_text(s: &AccountStatus) -> String {
    let carrier = match (&s.account_name, &s.account_hint) {
        (Some(name), Some(hint)) if s.carrier == "twilio" => {
            format!("Carrier: the Twilio account \"{name}\" ({hint}).")
        }
        _ => "Carrier: the sandbox (demo numbers on this computer).".to_owned(),
    };
    let media = match &s.media_host {
        Some(m) => format!("Media host: the bucket \"{}\" at {}.", m.bucket, m.endpoint),
        None if s.images => "Images: hosted by the sandbox.".to_owned(),
        None => "Media host: none, so images can't be sent (see `account media-host --help`)."
            .to_owned(),
    };
    format!("{carrier}\n{media}")
}

/// A secret from standard input: the first line, trimmed. Typed at a terminal, it is asked for
/// without echo.
fn read_secret(what: &str) -> Result<String, Failure> {
    use std::io::{BufRead, IsTerminal};
    let unreadable = |e: std::io::Error| {
        failure(
            "stdin_unreadable",
            format!("{what} could not be read: {e}"),
            exit::INVALID_INPUT,
        )
    };
    let secret = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{what}: ")).map_err(unreadable)?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(unreadable)?;
        line
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        return Err(failure(
            "secret_missing",
            format!(
                "Give the {what} on standard input, e.g. `echo \"$SECRET\" | switchboard-cli …`."
            ),
            exit::INVALID_INPUT,
        ));
    }
    Ok(secret)
}

fn print_event(event: &EngineEvent, json: bool) {
    if json {
        say(&serde_json::to_string(event).unwrap_or_default());
        return;
    }
    match event {
        EngineEvent::MessageStatus {
            message_id,
            thread_id,
            status,
        } => say(&format!(
            "message {message_id} (conversation {thread_id}): {}",
            status.as_str()
        )),
        EngineEvent::InboundMessage {
            thread_id, from, ..
        } => say(&format!(
            "new message from {from} in conversation {thread_id}"
        )),
        EngineEvent::MessageMedia {
            message_id,
            thread_id,
        } => say(&format!(
            "media of message {message_id} (conversation {thread_id}) downloaded or unavailable"
        )),
        EngineEvent::Connectivity { online } => say(if *online {
            "online"
        } else {
            "offline: messages wait in the outbox"
        }),
        EngineEvent::OutboxCount { pending } => {
            say(&format!("{pending} message(s) waiting to be sent"))
        }
        EngineEvent::HistoryImported { messages } => say(&format!(
            "{messages} earlier message(s) recorded as history, as read"
        )),
        EngineEvent::LinesChanged => say("the account's numbers changed at the carrier"),
        EngineEvent::SnoozeEnded { thread_id } => say(&format!(
            "snoozed conversation {thread_id} is back in the inbox"
        )),
        EngineEvent::ScheduledLate { held } => say(&format!(
            "{held} scheduled message(s) were due over 15 minutes ago: \
             `switchboard-cli outbox send-late` sends them, `outbox cancel ID` cancels one"
        )),
    }
}
