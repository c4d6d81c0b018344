//! A bare Tauri window: one page that reports once it is painted. The app benchmark
//! (`switchboard-bench-app`) starts it beside the app and measures both the same way: the time
//! from spawn to the `ready` line on stderr, and the memory of every process of the tree.

// No console window on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Called by the page once painted; prints the line the benchmark waits for.
#[tauri::command]
fn ready() {
    let ms = STARTED.get().map_or(0, |s| s.elapsed().as_millis());
    eprintln!("ready ms={ms}");
}

fn main() {
    STARTED.get_or_init(Instant::now);
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
        .expect("the bare window runs");
}
