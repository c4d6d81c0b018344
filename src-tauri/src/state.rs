//! What the shell keeps between commands: the engine (once the store is open), the background
//! runner (once the carrier is up), and what the window shows (for notifications).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use switchboard_engine::core::model::ThreadId;
use switchboard_engine::{Engine, ErrorCode, Runner};
use switchboard_sandbox::SandboxHandle;

use crate::error::{AppError, AppResult};

/// The one handle registered with `manage()`.
pub struct App {
    pub data_dir: PathBuf,
    /// When the process started, for the start-up time the log reports.
    pub started: Instant,
    /// Set once at start-up: the engine, or why the store could not be opened.
    engine: OnceLock<Result<Arc<Engine>, AppError>>,
    /// The runner of the carrier in use; replaced when the account changes.
    runner: Mutex<Option<Runner>>,
    pub sandbox: OnceLock<SandboxHandle>,
    /// Why background sending is not running, when it is not (another process holds the lock).
    pub runner_problem: Mutex<Option<AppError>>,
    /// The conversation the window shows, if any: its messages raise no notification while the
    /// window has focus.
    pub viewing: Mutex<Option<ThreadId>>,
}

impl App {
    pub fn new(data_dir: PathBuf) -> App {
        App {
            data_dir,
            started: Instant::now(),
            engine: OnceLock::new(),
            runner: Mutex::new(None),
            sandbox: OnceLock::new(),
            runner_problem: Mutex::new(None),
            viewing: Mutex::new(None),
        }
    }

    pub fn set_engine(&self, engine: Result<Arc<Engine>, AppError>) {
        let _ = self.engine.set(engine);
    }

    pub fn engine(&self) -> AppResult<&Arc<Engine>> {
        match self.engine.get() {
            Some(Ok(engine)) => Ok(engine),
            Some(Err(e)) => Err(e.clone()),
            None => Err(AppError::new(
                ErrorCode::Starting,
                "Switchboard is still opening its data. Try again in a moment.",
            )),
        }
    }

    /// Why the store could not be opened, if it could not.
    pub fn store_problem(&self) -> Option<AppError> {
        match self.engine.get() {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    pub fn set_runner(&self, runner: Option<Runner>) {
        *self.runner.lock().unwrap_or_else(|e| e.into_inner()) = runner;
    }

    pub fn runner(&self) -> Option<Runner> {
        self.runner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// "Look now" after a message was queued or retried: it leaves at once if it may, and
    /// nothing else is brought forward. Without a runner it waits for one.
    pub fn wake(&self) {
        if let Some(runner) = self.runner() {
            runner.wake();
        }
    }

    /// The network (here: the sandbox) is back: what waits is due now, except what waits out a
    /// carrier's Retry-After.
    pub fn network_back(&self) {
        if let Some(runner) = self.runner() {
            runner.network_back();
        }
    }

    pub fn viewing(&self) -> Option<ThreadId> {
        *self.viewing.lock().unwrap_or_else(|e| e.into_inner())
    }
}
