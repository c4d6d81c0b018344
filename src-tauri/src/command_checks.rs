//! How the shell's commands are checked to stay off the window's main thread and off the async
//! runtime's threads: a scan of the shell's sources (`src-tauri/src`), since what breaks the rule
//! compiles and runs, only slowly.

/// The commands in `source` that Tauri would run on the window's main thread: those whose
/// `#[tauri::command]` is followed by a plain `fn` (`#[tauri::command(async)]` is not).
fn sync_commands(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut lines = source.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if !line.starts_with("#[tauri::command") || line.starts_with("#[tauri::command(async)") {
            continue;
        }
        let Some(signature) =
            lines.find(|l| !l.starts_with("//") && !l.starts_with('#') && l.contains("fn "))
        else {
            break;
        };
        let before_fn = &signature[..signature.find("fn ").unwrap_or(0)];
        if !before_fn.split_whitespace().any(|word| word == "async") {
            let name = signature.split("fn ").nth(1).unwrap_or(signature);
            found.push(name.split(['(', '<']).next().unwrap_or(name).to_owned());
        }
    }
    found
}

#[track_caller]
fn check_commands(source: &str, expected: &[&str]) {
    assert_eq!(sync_commands(source), expected);
}

#[test]
fn a_command_that_is_not_async_is_found() {
    check_commands(
        "#[tauri::command]\npub fn lines(app: State<'_, App>) {}",
        &["lines"],
    );
    check_commands(
        "#[tauri::command]\n/// Docs.\npub(crate) fn send<R>(x: R) {}",
        &["send"],
    );
    check_commands("#[tauri::command]\npub async fn lines() {}", &[]);
    check_commands("#[tauri::command(async)]\npub fn lines() {}", &[]);
    check_commands(
        "#[tauri::command(rename_all = \"snake_case\")]\nfn a() {}",
        &["a"],
    );
    check_commands(
        "pub fn helper() {}\n#[tauri::command]\nasync fn b() {}",
        &[],
    );
}

/// Tauri runs a command that is not `async` on the window's main thread, where a slow
/// store read or a photo being fitted freezes the window: every command of the shell is
/// `async` (its blocking work then runs through `App::blocking`).
#[test]
fn no_command_runs_on_the_main_thread() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src-tauri/src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.iter().any(|f| f.ends_with("commands.rs")), "{root:?}");
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let source = std::fs::read_to_string(f).unwrap();
            let file = f.strip_prefix(&root).unwrap().display().to_string();
            sync_commands(&source)
                .into_iter()
                .map(move |name| format!("{file}: {name}"))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "commands that would run on the main thread (make them `async`): {offenders:?}"
    );
}

/// The lines of `source` (before its tests) where a command reaches the engine itself instead
/// of through `App::blocking` / `App::blocking_with_network`: a store or keychain call made
/// there would hold a thread of the async runtime while the disk or the keychain answers.
fn engine_on_the_runtime(source: &str) -> Vec<usize> {
    source
        .lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//") && l.contains(".engine()"))
        .map(|(n, _)| n + 1)
        .collect()
}

#[test]
fn a_command_that_reaches_the_engine_itself_is_found() {
    let source = "fn a(app: &App) {\n    let e = app.engine()?;\n    // app.engine() in a comment\n    app.blocking(|e| e.lines());\n}\n#[cfg(test)]\nfn t() { app.engine(); }\n";
    assert_eq!(engine_on_the_runtime(source), [2]);
}

#[test]
fn no_command_uses_the_engine_on_the_runtime() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src-tauri/src/commands.rs");
    let source = std::fs::read_to_string(&file).unwrap();
    let found = engine_on_the_runtime(&source);
    assert!(
        found.is_empty(),
        "commands.rs reaches the engine outside App::blocking at lines {found:?}"
    );
}
