// Generates Tauri's context (config, embedded page) at compile time.
fn main() {
    tauri_build::build()
}
