//! The one error the webview sees: `{code, message}`, where `code` is a stable snake_case name
//! (a TypeScript union, generated) and `message` a sentence the UI shows as is.

use serde::Serialize;
use switchboard_engine::{EngineError, ErrorBody, RunnerError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AppError {
    #[ts(type = "ErrorCode")]
    pub code: String,
    pub message: String,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new("invalid_input", message)
    }
}

impl From<ErrorBody> for AppError {
    fn from(body: ErrorBody) -> AppError {
        AppError {
            code: body.code,
            message: body.message,
        }
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> AppError {
        e.body().into()
    }
}

impl From<RunnerError> for AppError {
    fn from(e: RunnerError) -> AppError {
        e.body().into()
    }
}

/// Codes only the shell produces (listed for the generated `ErrorCode` union).
#[cfg(test)]
pub const SHELL_CODES: &[&str] = &[
    "starting",
    "store_unavailable",
    "attachment_missing",
    "image_data_malformed",
    "window",
    "sandbox_unavailable",
];

#[cfg(test)]
/// Every code the webview can receive. A test reads the `code()` functions of the engine's
/// crates and fails when this list misses one (or lists one that no longer exists).
pub const CODES: &[&str] = &[
    // core
    "number_empty",
    "number_has_letters",
    "number_too_short",
    "number_too_long",
    "unknown_country",
    "unknown_country_code",
    "not_a_number",
    "invalid_number",
    "chosen_conflicts_with_thread",
    "thread_line_gone",
    "no_recipients",
    "too_many_recipients",
    "body_too_long",
    "empty_message",
    "line_has_no_mms",
    "no_media_host",
    "no_lines",
    "file_empty",
    "not_an_image",
    "file_too_large",
    // engine
    "line_pick_required",
    "unknown_recipient",
    "ambiguous_recipient",
    "unknown_line",
    "unknown_contact",
    "image_unreadable",
    "image_too_large_to_send",
    "invalid_input",
    "carrier_unreachable",
    "carrier_credentials_refused",
    "carrier_refused",
    "carrier_outcome_unknown",
    "unknown_setting",
    "runner_already_running",
    "runner_lock",
    // store
    "wrong_key_or_not_a_database",
    "from_the_future",
    "database_missing",
    "database_exists",
    "keychain_unavailable",
    "key_missing",
    "keychain_key_malformed",
    "key_file_insecure",
    "key_file_not_regular",
    "key_file_wrong_owner",
    "key_file_malformed",
    "key_file_missing",
    "empty_passphrase",
    "passphrase_control_characters",
    "key_source_mismatch",
    "keychain_account_mismatch",
    "store_config_malformed",
    "line_number_taken",
    "line_not_found",
    "line_has_threads",
    "number_taken",
    "contact_not_found",
    "thread_not_found",
    "message_not_found",
    "outbox_job_not_found",
    "outbox_job_state",
    "duplicate_client_id",
    "duplicate_carrier_sid",
    "corrupt",
    "database",
    "io",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The string literals returned by every `fn code(&self)` in the crates' sources.
    fn codes_in_sources() -> BTreeSet<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src-tauri/crates");
        let mut found = BTreeSet::new();
        for krate in ["core", "store", "engine"] {
            let mut stack = vec![root.join(krate).join("src")];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).unwrap() {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == "rs")
                        // An import's skip reasons are a report's, not errors.
                        && !path.ends_with("import.rs")
                    {
                        collect(&std::fs::read_to_string(&path).unwrap(), &mut found);
                    }
                }
            }
        }
        found
    }

    fn collect(source: &str, found: &mut BTreeSet<String>) {
        let mut inside: Option<usize> = None;
        for line in source.lines() {
            let indent = line.len() - line.trim_start().len();
            match inside {
                None if line.trim_start().starts_with("pub fn code(&self)") => {
                    inside = Some(indent)
                }
                Some(i) if indent == i && line.trim() == "}" => inside = None,
                Some(_) => {
                    // `… => "code",` or, where rustfmt wraps a long arm, `"code"` on its own line.
                    let rest = line
                        .split_once("=> \"")
                        .map(|(_, rest)| rest)
                        .or_else(|| line.trim().strip_prefix('"'));
                    if let Some((code, _)) = rest.and_then(|r| r.split_once('"')) {
                        found.insert(code.to_owned());
                    }
                }
                None => {}
            }
        }
    }

    #[test]
    fn the_code_list_matches_the_sources() {
        let listed: BTreeSet<String> = CODES.iter().map(|c| c.to_string()).collect();
        let found = codes_in_sources();
        let missing: Vec<_> = found.difference(&listed).collect();
        let stale: Vec<_> = listed.difference(&found).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "add to CODES: {missing:?}; remove from CODES: {stale:?}"
        );
    }

    #[test]
    fn engine_errors_keep_their_code_and_sentence() {
        let e = EngineError::UnknownContact {
            input: "Zed".into(),
        };
        assert_eq!(
            AppError::from(e),
            AppError::new("unknown_contact", "No contact matches \"Zed\".")
        );
        let json = serde_json::to_value(AppError::invalid("Enter a label.")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "invalid_input", "message": "Enter a label."})
        );
    }
}
