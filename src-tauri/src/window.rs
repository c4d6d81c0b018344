//! The window and the desktop around it (receptionist mode): pin on top, remembered size and
//! position, the tray icon with its menu and unread count, and the global show/hide shortcut.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::{Engine, ErrorCode, SettingChange, Settings, WindowGeometry};
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager, PhysicalPosition, PhysicalSize, WebviewWindow, Wry};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, ShortcutState};

use crate::error::{AppError, AppResult};
use crate::events::{AppEvent, APP_EVENT};
use crate::state::App;

pub const MAIN: &str = "main";

/// The tray icon and the menu item that mirrors the pin.
pub struct Tray {
    icon: TrayIcon<Wry>,
    pin: CheckMenuItem<Wry>,
}

pub(crate) fn main_window(handle: &AppHandle) -> AppResult<WebviewWindow> {
    handle
        .get_webview_window(MAIN)
        .ok_or_else(|| AppError::new(ErrorCode::Window, "The main window is closed."))
}

pub(crate) fn window_error(e: tauri::Error) -> AppError {
    AppError::new(
        ErrorCode::Window,
        format!("The window could not be changed: {e}"),
    )
}

pub fn show_main(handle: &AppHandle) {
    if let Ok(w) = main_window(handle) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

fn toggle_main(handle: &AppHandle) {
    if let Ok(w) = main_window(handle) {
        if w.is_visible().unwrap_or(false) && !w.is_minimized().unwrap_or(false) {
            let _ = w.hide();
        } else {
            show_main(handle);
        }
    }
}

/// Pins or unpins the window, remembers it, and tells the tray and the page.
pub fn set_pinned(handle: &AppHandle, pinned: bool) -> AppResult<()> {
    let change = SettingChange::AlwaysOnTop(pinned);
    let settings = handle.state::<App>().engine()?.set_setting(&change)?;
    apply_setting(handle, &change, &settings)
}

/// The window on top or not, as the saved setting says, with the tray and the page told.
fn show_pinned(handle: &AppHandle, pinned: bool) -> AppResult<()> {
    main_window(handle)?
        .set_always_on_top(pinned)
        .map_err(window_error)?;
    if let Some(tray) = handle.try_state::<Tray>() {
        let _ = tray.pin.set_checked(pinned);
    }
    let _ = handle.emit(APP_EVENT, AppEvent::Pinned { pinned });
    Ok(())
}

/// What a setting, once saved, changes on the desktop at once.
pub fn apply_setting(
    handle: &AppHandle,
    change: &SettingChange,
    settings: &Settings,
) -> AppResult<()> {
    match change {
        SettingChange::AlwaysOnTop(_) => show_pinned(handle, settings.always_on_top),
        SettingChange::GlobalShortcut(_) => register_shortcut(handle, &settings.global_shortcut),
        _ => Ok(()),
    }
}

/// Registers the show/hide shortcut, replacing the previous one.
pub fn register_shortcut(handle: &AppHandle, shortcut: &str) -> AppResult<()> {
    let shortcuts = handle.global_shortcut();
    let _ = shortcuts.unregister_all();
    shortcuts
        .on_shortcut(shortcut, |handle, _, event| {
            if event.state == ShortcutState::Pressed {
                toggle_main(handle);
            }
        })
        .map_err(|e| {
            AppError::invalid(format!(
                "The shortcut {shortcut:?} cannot be used ({e}). Try one such as CmdOrCtrl+Shift+Space."
            ))
        })
}

/// Puts the window where it was, pinned if it was, and visible unless it starts in the tray.
pub fn restore(window: &WebviewWindow, engine: &Engine) {
    if let Ok(Some(g)) = engine.window_geometry() {
        let _ = window.set_size(PhysicalSize::new(g.width, g.height));
        let _ = window.set_position(PhysicalPosition::new(g.x, g.y));
    }
    let settings = engine.settings().ok();
    if settings.as_ref().is_some_and(|s| s.always_on_top) {
        let _ = window.set_always_on_top(true);
    }
    if !settings.is_some_and(|s| s.start_minimized) {
        let _ = window.show();
    }
}

/// Saves the window's place half a second after it stops moving or resizing.
pub fn remember_geometry(window: &WebviewWindow, engine: Arc<Engine>) {
    let generation = Arc::new(AtomicU64::new(0));
    let w = window.clone();
    window.on_window_event(move |event| {
        if !matches!(
            event,
            tauri::WindowEvent::Moved(_) | tauri::WindowEvent::Resized(_)
        ) {
            return;
        }
        let mine = generation.fetch_add(1, Ordering::SeqCst) + 1;
        let (generation, w, engine) = (generation.clone(), w.clone(), engine.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if generation.load(Ordering::SeqCst) != mine || w.is_minimized().unwrap_or(true) {
                return;
            }
            if let (Ok(p), Ok(s)) = (w.outer_position(), w.inner_size()) {
                let g = WindowGeometry {
                    x: p.x,
                    y: p.y,
                    width: s.width,
                    height: s.height,
                };
                if let Err(e) = engine.save_window_geometry(g) {
                    tracing::debug!(error = %e, "the window's place was not saved");
                }
            }
        });
    });
}

/// The tray icon: a click shows the window; the menu shows, composes, pins and quits.
pub fn build_tray(handle: &AppHandle, pinned: bool) -> tauri::Result<()> {
    let show = MenuItem::with_id(handle, "show", "Show Switchboard", true, None::<&str>)?;
    let compose = MenuItem::with_id(handle, "compose", "New message", true, None::<&str>)?;
    let pin = CheckMenuItem::with_id(handle, "pin", "Pin on top", true, pinned, None::<&str>)?;
    let quit = MenuItem::with_id(handle, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        handle,
        &[
            &show,
            &compose,
            &pin,
            &PredefinedMenuItem::separator(handle)?,
            &quit,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id("switchboard")
        .tooltip("Switchboard")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|handle, event| match event.id().as_ref() {
            "show" => show_main(handle),
            "compose" => {
                show_main(handle);
                let _ = handle.emit(APP_EVENT, AppEvent::NewMessage);
            }
            "pin" => {
                let pinned = main_window(handle)
                    .and_then(|w| w.is_always_on_top().map_err(window_error))
                    .unwrap_or(false);
                // A store write: not on the main thread, which runs the tray's menu.
                let handle = handle.clone();
                tauri::async_runtime::spawn_blocking(move || {
                    if let Err(e) = set_pinned(&handle, !pinned) {
                        tracing::warn!(error = %e.message, "pin from the tray failed");
                    }
                });
            }
            "quit" => handle.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                toggle_main(tray.app_handle());
            }
        });
    if let Some(icon) = handle.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(handle)?;
    handle.manage(Tray { icon, pin });
    Ok(())
}

/// Shows the unread count on the tray (tooltip, and the label where the platform has one).
pub fn show_unread(handle: &AppHandle, unread: i64) {
    if let Some(tray) = handle.try_state::<Tray>() {
        let tooltip = match unread {
            0 => "Switchboard".to_owned(),
            1 => "Switchboard — 1 unread message".to_owned(),
            n => format!("Switchboard — {n} unread messages"),
        };
        let _ = tray.icon.set_tooltip(Some(&tooltip));
        let label = (unread > 0).then(|| unread.to_string());
        let _ = tray.icon.set_title(label.as_deref());
    }
}
