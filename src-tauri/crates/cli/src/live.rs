//! The commands that talk to a carrier: `run` (the outbox runner and inbound sync) and
//! `sandbox` (serve the sandbox carrier, or steer a running one through its control API).
//! The sandbox's address is kept in DATA_DIR/sandbox/endpoint.json by `sandbox serve`.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use switchboard_carrier::Carrier;
use switchboard_engine::{
    connect, CarrierEndpoint, DemoContact, Engine, EngineEvent, Runner, RunnerConfig,
};
use switchboard_sandbox::Failure as SandboxFailure;

use crate::args::{FailKind, SandboxCmd};
use crate::output::Out;
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
    CarrierEndpoint::load(data_dir).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "No carrier is set up for {}: start the sandbox with `switchboard-cli sandbox serve` \
                 in another terminal.",
                data_dir.display()
            )
        } else {
            format!(
                "{} is damaged: {e}",
                CarrierEndpoint::endpoint_file(data_dir).display()
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
        } => {
            let failure = match kind {
                FailKind::Timeout => SandboxFailure::Timeout,
                FailKind::Status500 => SandboxFailure::Status500,
                FailKind::Status429 => SandboxFailure::Status429 {
                    retry_after_secs: *retry_after,
                },
            };
            let body = json!({ "count": count, "failure": failure, "sends_only": sends_only });
            control(&rt, data_dir, "fail", body, out)
        }
        SandboxCmd::FailNumber { number, code } => control(
            &rt,
            data_dir,
            "fail-number",
            json!({ "number": number, "code": code }),
            out,
        ),
        SandboxCmd::Reply { from, line, text } => control(
            &rt,
            data_dir,
            "reply",
            json!({ "from": from, "to": line, "body": text }),
            out,
        ),
        SandboxCmd::Stats => control(&rt, data_dir, "stats", serde_json::Value::Null, out),
        SandboxCmd::Messages => control(&rt, data_dir, "messages", serde_json::Value::Null, out),
    }
}

async fn serve_until_stopped(
    data_dir: &Path,
    port: Option<u16>,
    control_port: u16,
    out: &Out,
) -> Result<(), Failure> {
    let (handle, endpoint) = switchboard_engine::serve_sandbox(data_dir, port, control_port)
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

fn control(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    action: &str,
    body: serde_json::Value,
    out: &Out,
) -> Result<(), Failure> {
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
    out.done(
        answer.clone(),
        &serde_json::to_string_pretty(&answer).unwrap_or_default(),
    )
}

/// `run` and `run --once`.
pub fn run(engine: Engine, data_dir: &Path, once: bool, out: &Out) -> Result<(), Failure> {
    let endpoint = read_endpoint(data_dir)?;
    let rt = runtime()?;
    rt.block_on(async {
        let carrier = connect(&endpoint)?;
        let engine = Arc::new(engine);
        adopt(&engine, carrier.as_ref(), &endpoint).await;
        let runner = Runner::start(engine, carrier, RunnerConfig::default()).map_err(|e| {
            let body = e.body();
            failure(&body.code, body.message, exit::STORE)
        })?;
        if once {
            let summary = runner.run_once().await;
            return out.done(
                serde_json::to_value(summary).unwrap_or_default(),
                &format!(
                    "Sent {}, adopted after a crash {}, failed {}, retrying {}, unknown {}; received {}, \
                     statuses {}; {} still waiting{}.",
                    summary.sent,
                    summary.adopted,
                    summary.failed,
                    summary.retrying,
                    summary.unknown,
                    summary.inbound,
                    summary.statuses,
                    summary.pending,
                    if summary.synced { "" } else { " (the carrier could not be reached)" }
                ),
            );
        }
        let mut events = runner.subscribe();
        let json = out.json;
        let printer = tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                print_event(&event, json);
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

/// Lines from the carrier, and demo contacts from the sandbox, into a store that lacks them.
/// Unreachable now is no reason not to send later: the runner waits for the carrier.
async fn adopt(engine: &Engine, carrier: &dyn Carrier, endpoint: &CarrierEndpoint) {
    let Ok(lines) = carrier.lines().await else {
        return;
    };
    let mut demo: Vec<DemoContact> = Vec::new();
    if let Some(control) = &endpoint.sandbox_control_url {
        let url = format!("{control}/_sandbox/demo-contacts");
        if let Ok(http) = reqwest::Client::builder().no_proxy().build() {
            if let Ok(answer) = http.get(url).send().await {
                #[derive(serde::Deserialize)]
                struct Demo {
                    contacts: Vec<DemoContact>,
                }
                demo = answer
                    .json::<Demo>()
                    .await
                    .map(|d| d.contacts)
                    .unwrap_or_default();
            }
        }
    }
    if let Err(e) = engine.adopt_carrier(&lines, &demo) {
        tracing::warn!(error = %e, "the carrier's lines could not be recorded");
    }
}

fn print_event(event: &EngineEvent, json: bool) {
    if json {
        println!("{}", serde_json::to_string(event).unwrap_or_default());
        return;
    }
    match event {
        EngineEvent::MessageStatus {
            message_id,
            thread_id,
            status,
        } => {
            println!(
                "message {message_id} (conversation {thread_id}): {}",
                status.as_str()
            )
        }
        EngineEvent::InboundMessage {
            thread_id, from, ..
        } => {
            println!("new message from {from} in conversation {thread_id}")
        }
        EngineEvent::Connectivity { online } => {
            println!(
                "{}",
                if *online {
                    "online"
                } else {
                    "offline: messages wait in the outbox"
                }
            )
        }
        EngineEvent::OutboxCount { pending } => println!("{pending} message(s) waiting to be sent"),
    }
}
