//! The Tauri shell: it opens the window, starts the background work (the embedded sandbox
//! carrier, the outbox runner and the inbound sync), translates webview commands into engine
//! calls, and turns engine events into webview events, notifications and the tray's count. It
//! holds no business rules of its own.

mod background;
mod bindings;
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
            tracing::debug!(ms = app.started.elapsed().as_millis() as u64, "start-up: setup");
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
            let pinned = match &opened {
                Ok(engine) => {
                    window::restore(&main, engine);
                    window::remember_geometry(&main, engine.clone());
                    let settings = engine.settings().ok();
                    if let Some(s) = &settings {
                        if let Err(e) = window::register_shortcut(&handle, &s.global_shortcut) {
                            tracing::warn!(error = %e.message, "the global shortcut is not available");
                        }
                    }
                    background::start(handle.clone(), engine.clone());
                    settings.is_some_and(|s| s.always_on_top)
                }
                Err(_) => {
                    main.show()?;
                    false
                }
            };
            tracing::debug!(ms = app.started.elapsed().as_millis() as u64, "start-up: window");
            if let Err(e) = window::build_tray(&handle, pinned) {
                // A desktop without a tray still has the window.
                tracing::warn!(error = %e, "no tray icon");
            }
            tracing::debug!(ms = app.started.elapsed().as_millis() as u64, "start-up: tray");
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
