//! The webview's TypeScript types are generated from the Rust types the IPC carries (ts-rs) into
//! `ui/src/backend/generated/`, and committed. The test below fails when they are out of date;
//! `./dev bindings` (UPDATE_BINDINGS=1) rewrites them.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use switchboard_engine::store::{DraftKey, MessageCursor, OutboxJob, ThreadCursor};
    use switchboard_engine::{
        ContactView, EngineEvent, ImportSummary, Preview, SearchGroup, SendReceipt, Settings,
        ThreadDetail, ThreadView,
    };
    use ts_rs::{Config, TS};

    use crate::commands::{AppStatus, AttachmentData, ComposeInput, ContactInput, ImageData};
    use crate::error::{AppError, CODES, SHELL_CODES};
    use crate::events::AppEvent;

    const GENERATED: &str = "ui/src/backend/generated";
    const HEADER: &str =
        "// Generated from the Rust types by src-tauri/src/bindings.rs: do not edit.\n";

    fn generate(dir: &Path) {
        let cfg = Config::new().with_large_int("number").with_out_dir(dir);
        macro_rules! export {
            ($($t:ty),*) => { $( <$t as TS>::export_all(&cfg).unwrap(); )* };
        }
        export!(
            ThreadView,
            ThreadDetail,
            SearchGroup,
            ContactView,
            ImportSummary,
            Preview,
            SendReceipt,
            Settings,
            EngineEvent,
            OutboxJob,
            ThreadCursor,
            MessageCursor,
            DraftKey,
            AppError,
            AppEvent,
            AppStatus,
            AttachmentData,
            ComposeInput,
            switchboard_engine::ComposerState,
            ContactInput,
            ImageData,
            switchboard_engine::core::model::Line,
            switchboard_engine::AccountStatus,
            switchboard_engine::AccountConnected,
            switchboard_engine::MediaHostSummary,
            crate::commands::MediaHostInput
        );
        let mut codes: Vec<&str> = CODES.iter().chain(SHELL_CODES).copied().collect();
        codes.sort_unstable();
        let union: Vec<String> = codes.iter().map(|c| format!("  | \"{c}\"")).collect();
        std::fs::write(
            dir.join("ErrorCode.ts"),
            format!(
                "{HEADER}\n/** Every `code` an `AppError` can carry. */\nexport type ErrorCode =\n{};\n",
                union.join("\n")
            ),
        )
        .unwrap();
        let app_error = dir.join("AppError.ts");
        let text = std::fs::read_to_string(&app_error).unwrap();
        std::fs::write(
            &app_error,
            text.replacen(
                "\n\n",
                "\nimport type { ErrorCode } from \"./ErrorCode\";\n\n",
                1,
            ),
        )
        .unwrap();
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
        let stale: Vec<&String> = want
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
