//! The Tauri shell: it opens the window and, as the app grows, translates webview commands into
//! calls on the engine. It holds no business rules of its own.

/// Starts the desktop application and blocks until it exits.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            tracing::error!("the app could not start: {e}");
            std::process::exit(1);
        });
}
