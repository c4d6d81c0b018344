//! The app's background work: the engine connects to the account's carrier, adopts its lines
//! and starts the runner (`Engine::start_background_when_free`); this file serves the embedded
//! sandbox when the engine asks for it, runs the runner, and forwards its events to the
//! webview, to notifications and to the tray — reloading what is shown, rather than losing
//! track, when it falls behind them. An inbound message with media to download has its
//! notification held until they are in (or given up on), [`MEDIA_WAIT`] at most, so that it can
//! say "Photo". When the account changes, it stops the runner (its sends
//! in flight land or are abandoned first) and starts again on the new one. While another
//! Switchboard (the CLI's `run`) holds the outbox lock, it keeps trying and the banner says so.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::core::model::{MessageId, ThreadId};
use switchboard_engine::{DemoContact, Engine, EngineEvent, ErrorCode, Runner, SandboxAccess};
use switchboard_sandbox::serve_sandbox;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::{self, error::RecvError};
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
    let events = runner.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut shell = Shell {
            handle,
            engine,
            held: Arc::default(),
        };
        forward(events, &mut shell).await;
    });
}

/// How long an inbound message's notification waits for its media to be downloaded (so that
/// it can say "Photo" rather than "Attachment") before it is raised all the same.
pub const MEDIA_WAIT: Duration = Duration::from_secs(10);

/// Inbound messages whose notification waits for their media, by message; whoever takes one
/// out (its media in, or its [`MEDIA_WAIT`] over) raises it, once.
#[derive(Debug, Default)]
struct Held(std::sync::Mutex<HashMap<MessageId, ThreadId>>);

impl Held {
    fn hold(&self, message: MessageId, thread: ThreadId) {
        self.lock().insert(message, thread);
    }

    fn holds(&self, message: MessageId) -> bool {
        self.lock().contains_key(&message)
    }

    /// The thread of `message` if it was held, now no longer.
    fn release(&self, message: MessageId) -> Option<ThreadId> {
        self.lock().remove(&message)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MessageId, ThreadId>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where the runner's events go: in the app, the webview, notifications and the tray.
trait EventSink {
    /// The next event, in the order the runner published them.
    async fn event(&mut self, event: EngineEvent);
    /// `missed` events were lost: the runner published faster than they were handled (its
    /// channel holds `EVENT_BUFFER`), so whatever is shown is reloaded instead.
    async fn resync(&mut self, missed: u64);
}

/// Hands each event to `sink` until the runner is gone. Falling behind (a burst of inbound
/// messages, each raising its notification) neither ends this nor loses track: the sink
/// resynchronises and the newest events follow.
async fn forward(mut events: broadcast::Receiver<EngineEvent>, sink: &mut impl EventSink) {
    loop {
        match events.recv().await {
            Ok(event) => sink.event(event).await,
            Err(RecvError::Lagged(missed)) => sink.resync(missed).await,
            Err(RecvError::Closed) => return,
        }
    }
}

/// The app's sink.
struct Shell {
    handle: AppHandle,
    engine: Arc<Engine>,
    held: Arc<Held>,
}

impl Shell {
    /// Runs `f` on a blocking thread (D-Bus calls and store reads block) and waits for it, so
    /// that notifications keep the order of their messages.
    async fn blocking(&self, f: impl FnOnce(&AppHandle, &Engine) + Send + 'static) {
        let (handle, engine) = (self.handle.clone(), self.engine.clone());
        let _ = tokio::task::spawn_blocking(move || f(&handle, &engine)).await;
    }
}

/// Raises `message`'s held notification after [`MEDIA_WAIT`] if its media have not come by
/// then: it then names only what is proved.
fn raise_when_waited(handle: AppHandle, engine: Arc<Engine>, held: Arc<Held>, message: MessageId) {
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(MEDIA_WAIT).await;
        if let Some(thread) = held.release(message) {
            let _ = tokio::task::spawn_blocking(move || {
                notify::inbound(&handle, &engine, thread, message);
            })
            .await;
        }
    });
}

fn show_unread(handle: &AppHandle, engine: &Engine) {
    window::show_unread(handle, engine.total_unread().unwrap_or(0));
}

impl EventSink for Shell {
    async fn event(&mut self, event: EngineEvent) {
        let _ = self.handle.emit(ENGINE_EVENT, &event);
        match event {
            EngineEvent::InboundMessage {
                thread_id,
                message_id,
                ..
            } => {
                let (held, shared) = (self.held.clone(), self.engine.clone());
                self.blocking(move |handle, engine| {
                    if notify::waits_for_media(engine, message_id) {
                        held.hold(message_id, thread_id);
                        raise_when_waited(handle.clone(), shared, held, message_id);
                    } else {
                        notify::inbound(handle, engine, thread_id, message_id);
                    }
                    show_unread(handle, engine);
                })
                .await;
            }
            // A held notification goes once its media are in (or given up on).
            EngineEvent::MessageMedia { message_id, .. } if self.held.holds(message_id) => {
                let held = self.held.clone();
                self.blocking(move |handle, engine| {
                    if !notify::waits_for_media(engine, message_id) {
                        if let Some(thread) = held.release(message_id) {
                            notify::inbound(handle, engine, thread, message_id);
                        }
                    }
                })
                .await;
            }
            // A first sync's history: no notification, and the list reloads on the event.
            EngineEvent::HistoryImported { .. } => self.blocking(show_unread).await,
            // Back on top of the inbox, unread: said once, as a new message would be.
            // Due while the computer was off or asleep: they wait for the user, who is told.
            EngineEvent::ScheduledLate { held } => {
                self.blocking(move |handle, engine| notify::scheduled_late(handle, engine, held))
                    .await;
            }
            EngineEvent::SnoozeEnded { thread_id } => {
                self.blocking(move |handle, engine| {
                    notify::snooze_ended(handle, engine, thread_id);
                    show_unread(handle, engine);
                })
                .await;
            }
            _ => {}
        }
    }

    async fn resync(&mut self, missed: u64) {
        tracing::info!(
            missed,
            "fell behind the runner's events; reloading what is shown"
        );
        let _ = self.handle.emit(APP_EVENT, AppEvent::Reload);
        self.blocking(show_unread).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::EVENT_BUFFER;

    /// What a sink was handed, in order.
    #[derive(Default)]
    struct Recorded(Vec<Result<EngineEvent, u64>>);

    impl EventSink for Recorded {
        async fn event(&mut self, event: EngineEvent) {
            self.0.push(Ok(event));
        }

        async fn resync(&mut self, missed: u64) {
            self.0.push(Err(missed));
        }
    }

    fn count(pending: usize) -> EngineEvent {
        EngineEvent::OutboxCount {
            pending: pending as i64,
        }
    }

    #[tokio::test]
    async fn a_consumer_that_falls_behind_resynchronises_and_keeps_up() {
        let (tx, rx) = broadcast::channel(EVENT_BUFFER);
        let published = EVENT_BUFFER + 44;
        for n in 0..published {
            tx.send(count(n)).unwrap();
        }
        drop(tx);
        let mut sink = Recorded::default();

        forward(rx, &mut sink).await;

        let expected: Vec<Result<EngineEvent, u64>> = std::iter::once(Err(44))
            .chain((44..published).map(|n| Ok(count(n))))
            .collect();
        assert_eq!(
            sink.0, expected,
            "one resync for what was missed, then every newer event"
        );
    }

    #[test]
    fn a_held_notification_is_released_once() {
        let held = Held::default();
        let (message, thread) = (MessageId(7), ThreadId(2));
        assert!(!held.holds(message));
        held.hold(message, thread);
        assert!(held.holds(message));
        assert_eq!(held.release(message), Some(thread), "its media came");
        assert_eq!(
            held.release(message),
            None,
            "the wait's end raises nothing more"
        );
        assert!(!held.holds(message));
    }

    #[tokio::test]
    async fn events_are_handed_on_in_order_until_the_runner_is_gone() {
        let (tx, rx) = broadcast::channel(EVENT_BUFFER);
        let mut sink = Recorded::default();
        let sent = [count(1), EngineEvent::LinesChanged, count(0)];
        for e in &sent {
            tx.send(e.clone()).unwrap();
        }
        drop(tx);

        forward(rx, &mut sink).await;

        assert_eq!(sink.0, sent.map(Ok));
    }
}
