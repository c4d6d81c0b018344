//! The one error the webview sees: `{code, message}`, where `code` is a stable snake_case name
//! (a TypeScript union, generated) and `message` a sentence the UI shows as is.

use serde::Serialize;
use switchboard_engine::{EngineError, ErrorBody, ErrorCode, RunnerError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::InvalidInput, message)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_code_and_sentence() {
        let e = EngineError::UnknownContact {
            input: "Zed".into(),
        };
        assert_eq!(
            AppError::from(e),
            AppError::new(ErrorCode::UnknownContact, "No contact matches \"Zed\".")
        );
        let json = serde_json::to_value(AppError::invalid("Enter a label.")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "invalid_input", "message": "Enter a label."})
        );
    }
}
