//! The app's background work: the engine connects to the account's carrier, adopts its lines
//! and starts the runner (`Engine::start_background_when_free`); this file serves the embedded
//! sandbox when the engine asks for it, runs the runner, and forwards its events to the
//! webview, to notifications and to the tray. When the account changes, it stops the runner
//! (its sends in flight land or are abandoned first) and starts again on the new one. While
//! another Switchboard (the CLI's `run`) holds the outbox lock, it keeps trying and the banner
//! says so.

use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::{DemoContact, Engine, EngineEvent, ErrorCode, Runner, SandboxAccess};
use switchboard_sandbox::serve_sandbox;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::watch;

use crate::error::AppError;
use crate::events::{AppEvent, APP_EVENT, ENGINE_EVENT};
use crate::state::App;
use crate::{notify, window};

/// How long a new runner waits for the outbox lock of the one it replaces (finishing its last
/// sends) before the banner says another Switchboard is sending; it keeps trying after.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// What the banner says while another process holds the outbox lock.
const ANOTHER_SENDS: &str = "Another Switchboard (the command line, or another window) is sending \
     from this data directory. Messages you write are kept and sent from here as soon as it \
     stops.";

/// Tells the runner to stop; kept in managed state.
struct Stop(watch::Sender<bool>);

/// Tells the runner to start again on the account now configured; kept in managed state.
struct Reconnect(watch::Sender<u64>);

/// How a runner's run ended.
enum Ended {
    Stopped,
    Reconnect,
}

pub fn start(handle: AppHandle, engine: Arc<Engine>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (reconnect_tx, mut reconnect_rx) = watch::channel(0);
    handle.manage(Stop(stop_tx));
    handle.manage(Reconnect(reconnect_tx));
    tauri::async_runtime::spawn(async move {
        loop {
            reconnect_rx.mark_unchanged();
            let ended = run(
                &handle,
                engine.clone(),
                stop_rx.clone(),
                reconnect_rx.clone(),
            )
            .await;
            handle.state::<App>().set_runner(None);
            match ended {
                Ok(Ended::Stopped) => return,
                Ok(Ended::Reconnect) => {}
                Err(e) => {
                    // The sandbox could not start, the keychain lost the credentials…: nothing
                    // to retry alone (the outbox lock is waited for inside `run`).
                    tracing::warn!(code = %e.code, "background sending is not running");
                    if let Ok(mut problem) = handle.state::<App>().runner_problem.lock() {
                        *problem = Some(e);
                    }
                    let _ = handle.emit(APP_EVENT, AppEvent::CarrierReady);
                    // Wait for another account (or the end); there is nothing to retry alone.
                    let mut stop = stop_rx.clone();
                    tokio::select! {
                        _ = stop.wait_for(|stopped| *stopped) => return,
                        changed = reconnect_rx.changed() => if changed.is_err() { return },
                    }
                }
            }
        }
    });
}

/// Asks the runner to stop; sends in flight get a short grace period, and anything cut off is
/// reconciled at the next start.
pub fn stop(handle: &AppHandle) {
    if let Some(stop) = handle.try_state::<Stop>() {
        let _ = stop.0.send(true);
    }
}

/// The account changed (connected, disconnected, a media host, the poll interval): the runner
/// stops and starts again on what is configured now.
pub fn reconnect(handle: &AppHandle) {
    if let Some(reconnect) = handle.try_state::<Reconnect>() {
        reconnect.0.send_modify(|n| *n += 1);
    }
}

/// The embedded sandbox, started at the first need and kept for the app's life (a person who
/// disconnects Twilio finds the demo where they left it).
async fn sandbox(handle: &AppHandle) -> Result<SandboxAccess, AppError> {
    let app = handle.state::<App>();
    if app.sandbox.get().is_none() {
        let (sandbox, _) = serve_sandbox(&app.data_dir, None, 0).await.map_err(|e| {
            AppError::new(
                ErrorCode::SandboxUnavailable,
                format!("The sandbox carrier could not start: {e}"),
            )
        })?;
        let _ = app.sandbox.set(sandbox);
    }
    let sandbox = app.sandbox.get().ok_or_else(|| {
        AppError::new(
            ErrorCode::SandboxUnavailable,
            "The sandbox carrier is missing.",
        )
    })?;
    let demo_contacts = sandbox
        .demo_contacts()
        .into_iter()
        .map(|c| DemoContact {
            name: c.name,
            number: c.number,
        })
        .collect();
    Ok(SandboxAccess {
        endpoint: sandbox.endpoint(),
        demo_contacts,
    })
}

async fn run(
    handle: &AppHandle,
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
    mut reconnect: watch::Receiver<u64>,
) -> Result<Ended, AppError> {
    let app = handle.state::<App>();
    let starting = engine.start_background_when_free(
        || sandbox(handle),
        LOCK_WAIT,
        |_| {
            if let Ok(mut problem) = app.runner_problem.lock() {
                *problem = Some(AppError::new(
                    ErrorCode::RunnerAlreadyRunning,
                    ANOTHER_SENDS,
                ));
            }
            let _ = handle.emit(APP_EVENT, AppEvent::CarrierReady);
        },
    );
    let runner = tokio::select! {
        runner = starting => runner?,
        _ = stop.wait_for(|stopped| *stopped) => return Ok(Ended::Stopped),
        _ = reconnect.changed() => return Ok(Ended::Reconnect),
    };
    if let Ok(mut problem) = app.runner_problem.lock() {
        *problem = None;
    }
    app.set_runner(Some(runner.clone()));
    let _ = handle.emit(APP_EVENT, AppEvent::CarrierReady);
    forward_events(handle.clone(), engine, &runner);
    runner
        .run_until_stopped(async {
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => {}
                _ = reconnect.changed() => {}
            }
        })
        .await;
    Ok(if *stop.borrow() {
        Ended::Stopped
    } else {
        Ended::Reconnect
    })
}

fn forward_events(handle: AppHandle, engine: Arc<Engine>, runner: &Runner) {
    let mut events = runner.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                // Fell behind: the page reloads what it shows on the next event anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let _ = handle.emit(ENGINE_EVENT, &event);
            if let EngineEvent::InboundMessage {
                thread_id,
                message_id,
                ..
            } = event
            {
                let (handle, engine) = (handle.clone(), engine.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    notify::inbound(&handle, &engine, thread_id, message_id);
                    window::show_unread(&handle, engine.total_unread().unwrap_or(0));
                })
                .await;
            }
        }
    });
}
