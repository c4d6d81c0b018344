// Generates Tauri's context (config, capabilities, embedded assets) at compile time.
fn main() {
    tauri_build::build()
}
