//! The webview's TypeScript is generated from Rust into `ui/src/backend/generated/`, and
//! committed: the types the IPC carries (ts-rs), and `commands.ts`, the commands listed in `ipc`.
//! The test below fails when they are out of date; `./dev bindings` (UPDATE_BINDINGS=1) rewrites
//! them.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    use std::path::Path;

    use switchboard_engine::EngineEvent;
    use ts_rs::{Config, Dependency, TypeVisitor, TS};

    use crate::error::AppError;
    use crate::events::AppEvent;
    use crate::ipc;

    const GENERATED: &str = "ui/src/backend/generated";

    fn generate(dir: &Path) {
        let cfg = Config::new().with_large_int("number").with_out_dir(dir);
        // What the commands take and answer, with every type those mention.
        struct Export<'a>(&'a Config);
        impl TypeVisitor for Export<'_> {
            fn visit<T: TS + 'static + ?Sized>(&mut self) {
                if T::output_path().is_some() {
                    T::export_all(self.0).unwrap();
                }
            }
        }
        ipc::visit_types(&mut Export(&cfg));
        // What the commands throw (with every code, `ErrorCode`), and the events.
        AppError::export_all(&cfg).unwrap();
        EngineEvent::export_all(&cfg).unwrap();
        AppEvent::export_all(&cfg).unwrap();
        std::fs::write(dir.join("commands.ts"), commands_ts(&cfg)).unwrap();
    }

    /// The `Commands` interface and `tauriCommands`, its implementation over `invoke`: one method
    /// per command, camelCased as Tauri reads the names of commands' arguments.
    fn commands_ts(cfg: &Config) -> String {
        struct Imports<'a>(&'a Config, BTreeMap<String, String>);
        impl TypeVisitor for Imports<'_> {
            fn visit<T: TS + 'static + ?Sized>(&mut self) {
                if let Some(dep) = Dependency::from_ty::<T>(self.0) {
                    let path = dep.output_path.with_extension("");
                    let path = path.to_string_lossy().into_owned();
                    self.1.insert(dep.ts_name, path);
                }
            }
        }
        let mut imports = Imports(cfg, BTreeMap::new());
        ipc::visit_types(&mut imports);
        let commands = ipc::describe(cfg);

        let mut ts = String::from(
            "// Generated from the command list in src-tauri/src/ipc.rs by src-tauri/src/bindings.rs:\n\
             // do not edit.\n",
        );
        ts.push_str("import { invoke } from \"@tauri-apps/api/core\";\n");
        for (name, path) in &imports.1 {
            writeln!(ts, "import type {{ {name} }} from \"./{path}\";").unwrap();
        }
        ts.push_str("\n/** Every command of the shell, as the webview calls it. */\n");
        ts.push_str("export interface Commands {\n");
        for c in &commands {
            match c.docs.as_slice() {
                [] => {}
                [one] => writeln!(ts, "  /** {} */", one.trim()).unwrap(),
                many => {
                    ts.push_str("  /**\n");
                    for line in many {
                        writeln!(ts, "   * {}", line.trim()).unwrap();
                    }
                    ts.push_str("   */\n");
                }
            }
            let params: Vec<String> = c
                .args
                .iter()
                .map(|(name, ty)| format!("{}: {ty}", camel(name)))
                .collect();
            let method = camel(c.name);
            let (params, answer) = (params.join(", "), &c.answer);
            writeln!(ts, "  {method}({params}): Promise<{answer}>;").unwrap();
        }
        ts.push_str("}\n\n/** The commands over Tauri's IPC: one `invoke` each. */\n");
        ts.push_str("export const tauriCommands: Commands = {\n");
        for c in &commands {
            let names: Vec<String> = c.args.iter().map(|(name, _)| camel(name)).collect();
            let (method, names) = (camel(c.name), names.join(", "));
            let command = c.name;
            if names.is_empty() {
                writeln!(ts, "  {method}: () => invoke(\"{command}\"),").unwrap();
            } else {
                writeln!(
                    ts,
                    "  {method}: ({names}) => invoke(\"{command}\", {{ {names} }}),"
                )
                .unwrap();
            }
        }
        ts.push_str("};\n");
        ts
    }

    /// `page_ms` → `pageMs`, as Tauri names a command's arguments for the webview.
    fn camel(snake: &str) -> String {
        let mut words = snake.split('_');
        let mut out = words.next().unwrap_or_default().to_owned();
        for word in words {
            let mut chars = word.chars();
            out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            out.push_str(chars.as_str());
        }
        out
    }

    fn files(dir: &Path) -> BTreeMap<String, String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "ts"))
                    .map(|p| {
                        let name = p.file_name().unwrap().to_string_lossy().into_owned();
                        (name, std::fs::read_to_string(&p).unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn typescript_bindings_are_current() {
        let fresh = tempfile::tempdir().unwrap();
        generate(fresh.path());
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join(GENERATED);
        let (want, have) = (files(fresh.path()), files(&committed));
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            let _ = std::fs::remove_dir_all(&committed);
            std::fs::create_dir_all(&committed).unwrap();
            for (name, text) in &want {
                std::fs::write(committed.join(name), text).unwrap();
            }
            return;
        }
        // Every file once: the types, ErrorCode.ts and commands.ts alike, and a committed file
        // that nothing generates any more.
        let stale: std::collections::BTreeSet<&String> = want
            .keys()
            .chain(have.keys())
            .filter(|name| want.get(*name) != have.get(*name))
            .collect();
        assert!(
            stale.is_empty(),
            "{GENERATED} is out of date ({stale:?}): run `./dev bindings` and commit the result"
        );
    }
}
