//! The Tauri shell: it opens the window, starts the background work (the embedded sandbox
//! carrier, the outbox runner and the inbound sync), translates webview commands into engine
//! calls, and turns engine events into webview events, notifications and the tray's count. It
//! holds no business rules of its own.

mod background;
mod bindings;
#[cfg(test)]
mod command_checks;
mod commands;
mod error;
mod events;
mod ipc;
mod media;
mod notify;
mod state;
mod window;

use std::path::PathBuf;
use std::sync::Arc;

use switchboard_engine::{Engine, KeyChoice};
use tauri::Manager;

use crate::error::AppError;
use crate::state::App;

/// Where the app keeps its data: `SWITCHBOARD_DATA_DIR`, else the OS's per-user local data
/// folder (`~/.local/share`, `~/Library/Application Support`, `%LOCALAPPDATA%`: on Windows the
/// database and its lock stay on this machine, out of a roaming profile's copies).
fn data_dir() -> PathBuf {
    std::env::var_os("SWITCHBOARD_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::data_local_dir().map(|d| d.join("switchboard")))
        .unwrap_or_else(|| PathBuf::from("switchboard-data"))
}

/// The database key: the OS keychain, or (for headless machines and tests) the owner-only key
/// file named by `SWITCHBOARD_KEY_FILE`.
fn key_choice() -> KeyChoice {
    match std::env::var_os("SWITCHBOARD_KEY_FILE") {
        Some(path) => KeyChoice::KeyFile(PathBuf::from(path)),
        None => KeyChoice::Keychain,
    }
}

/// How long the work `after_first_paint` does waits for the page at most.
const AFTER_FIRST_PAINT_AT_LATEST: std::time::Duration = std::time::Duration::from_secs(5);

/// Once, after the first conversation list is painted: the tray icon, the global shortcut, and
/// the sandbox and background sending (the list is read from the store, not the carrier). Done
/// before it, they took the CPU and the main thread from the window's first paint.
pub(crate) fn after_first_paint(handle: &tauri::AppHandle) {
    let app = handle.state::<App>();
    if app
        .after_first_paint
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        return;
    }
    let ui = handle.clone();
    // The tray and the shortcut belong to the main thread.
    let on_main = handle.run_on_main_thread(move || {
        let app = ui.state::<App>();
        // The tray first, ticked as the window is now (read here, on the thread a pin applies
        // on): a pin made meanwhile either came before and is read, or comes after and finds
        // the tray; then the unread count the runner reports has somewhere to go.
        let pinned = window::main_window(&ui)
            .and_then(|w| w.is_always_on_top().map_err(window::window_error))
            .unwrap_or(false);
        if let Err(e) = window::build_tray(&ui, pinned) {
            // A desktop without a tray still has the window.
            tracing::warn!(error = %e, "no tray icon");
        }
        let engine = app.engine().ok().cloned();
        if let Some(s) = engine.as_ref().and_then(|e| e.settings().ok()) {
            if let Err(e) = window::register_shortcut(&ui, &s.global_shortcut) {
                tracing::warn!(error = %e.message, "the global shortcut is not available");
            }
        }
        if let Some(engine) = engine {
            background::start(ui.clone(), engine);
        }
        tracing::debug!(
            ms = app.started.elapsed().as_millis() as u64,
            "start-up: tray, shortcut and background"
        );
    });
    if let Err(e) = on_main {
        tracing::error!(error = %e, "the background work could not start");
    }
}

/// Starts the desktop application and blocks until it exits.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let app = tauri::Builder::default()
        // First, so that a second launch only focuses the first window.
        .plugin(tauri_plugin_single_instance::init(|handle, _, _| {
            window::show_main(handle);
        }))
        .plugin(tauri_plugin_global_shortcut::Builder::new().build())
        // Only Rust opens its dialogs (`save_attachment`): no capability lets the page call it.
        .plugin(tauri_plugin_dialog::init())
        .manage(App::new(data_dir()))
        // The thread's images, straight from the store (`media://localhost/<message>/<index>`).
        .register_asynchronous_uri_scheme_protocol(media::SCHEME, media::serve)
        .setup(|tauri_app| {
            let handle = tauri_app.handle().clone();
            let app = handle.state::<App>();
            tracing::debug!(
                ms = app.started.elapsed().as_millis() as u64,
                "start-up: setup"
            );
            let opened = Engine::open(&app.data_dir, key_choice())
                .map(Arc::new)
                .map_err(AppError::from);
            if let Err(e) = &opened {
                tracing::error!(code = %e.code, "the store could not be opened");
            }
            app.set_engine(opened.clone());
            let main = handle
                .get_webview_window(window::MAIN)
                .ok_or("the main window is missing from tauri.conf.json")?;
            match &opened {
                Ok(engine) => {
                    window::restore(&main, engine);
                    window::remember_geometry(&main, engine.clone());
                }
                Err(_) => main.show()?,
            }
            tracing::debug!(
                ms = app.started.elapsed().as_millis() as u64,
                "start-up: window"
            );
            // What the first list does not show waits until it is painted (`ui_ready`), or a few
            // seconds if the page never says so; at once when the window starts hidden (its page
            // paints nothing, and the tray is the way to it).
            let hidden = opened
                .as_ref()
                .ok()
                .and_then(|e| e.settings().ok())
                .is_some_and(|s| s.start_minimized);
            if hidden {
                after_first_paint(&handle);
            }
            let later = handle.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(AFTER_FIRST_PAINT_AT_LATEST).await;
                after_first_paint(&later);
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Focused(true) = event {
                // The thread on screen is read now that someone looks at it.
                let app = window.state::<App>();
                if let (Some(thread), Ok(engine)) = (app.viewing(), app.engine()) {
                    // A store write: not on the main thread, which runs this handler.
                    let engine = engine.clone();
                    tauri::async_runtime::spawn_blocking(move || engine.mark_read(thread));
                }
            }
        })
        .invoke_handler(ipc::handler())
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            tracing::error!("the app could not start: {e}");
            std::process::exit(1);
        });
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            background::stop(handle);
        }
    });
}
