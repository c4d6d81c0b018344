//! The app's background work: it serves the embedded sandbox carrier, adopts its lines (and, in
//! an empty address book, its demo contacts), runs the outbox runner and the inbound sync, and
//! forwards their events to the webview, to notifications and to the tray.

use std::sync::Arc;

use switchboard_engine::carrier::Carrier;
use switchboard_engine::{
    connect, serve_sandbox, DemoContact, Engine, EngineEvent, Runner, RunnerConfig,
};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::watch;

use crate::error::AppError;
use crate::events::{AppEvent, APP_EVENT, ENGINE_EVENT};
use crate::state::App;
use crate::{notify, window};

/// Tells the runner to stop; kept in managed state.
struct Stop(watch::Sender<bool>);

pub fn start(handle: AppHandle, engine: Arc<Engine>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    handle.manage(Stop(stop_tx));
    tauri::async_runtime::spawn(async move {
        if let Err(e) = run(&handle, engine, stop_rx).await {
            tracing::warn!(code = %e.code, "background sending is not running");
            if let Ok(mut problem) = handle.state::<App>().runner_problem.lock() {
                *problem = Some(e);
            }
        }
        let _ = handle.emit(APP_EVENT, AppEvent::CarrierReady);
    });
}

/// Asks the runner to stop; sends in flight get a short grace period, and anything cut off is
/// reconciled at the next start.
pub fn stop(handle: &AppHandle) {
    if let Some(stop) = handle.try_state::<Stop>() {
        let _ = stop.0.send(true);
    }
}

async fn run(
    handle: &AppHandle,
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), AppError> {
    let app = handle.state::<App>();
    let (sandbox, endpoint) = serve_sandbox(&app.data_dir, None, 0).await.map_err(|e| {
        AppError::new(
            "sandbox_unavailable",
            format!("The sandbox carrier could not start: {e}"),
        )
    })?;
    let demo: Vec<DemoContact> = sandbox
        .demo_contacts()
        .into_iter()
        .map(|c| DemoContact {
            name: c.name,
            number: c.number,
        })
        .collect();
    let _ = app.sandbox.set(sandbox);
    let carrier = connect(&endpoint)?;
    adopt(&engine, carrier.as_ref(), &demo).await;
    let runner = Runner::start(engine.clone(), carrier, RunnerConfig::default())?;
    app.set_runner(runner.clone());
    let _ = handle.emit(APP_EVENT, AppEvent::CarrierReady);
    forward_events(handle.clone(), engine, &runner);
    runner
        .run_until_stopped(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await;
    Ok(())
}

/// The carrier's numbers become lines. Unreachable now is no reason not to start: the runner
/// waits for the carrier, and the lines are adopted at the next start.
async fn adopt(engine: &Engine, carrier: &dyn Carrier, demo: &[DemoContact]) {
    match carrier.lines().await {
        Ok(lines) => {
            if let Err(e) = engine.adopt_carrier(&lines, demo) {
                tracing::warn!(error = %e, "the carrier's lines could not be recorded");
            }
        }
        Err(e) => tracing::warn!(error = %e, "the carrier's lines could not be fetched"),
    }
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
