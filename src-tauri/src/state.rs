//! What the shell keeps between commands: the engine (once the store is open), the background
//! runner (once the carrier is up), and what the window shows (for notifications); and where a
//! command's blocking work runs (`App::blocking`).

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
    /// Set once the work kept for after the first paint has begun (`after_first_paint`).
    pub after_first_paint: std::sync::atomic::AtomicBool,
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
            after_first_paint: std::sync::atomic::AtomicBool::new(false),
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

    /// Runs `work` with the engine on the blocking pool: every command's store reads and
    /// writes, image fitting, search and import go through here, so that neither the window's
    /// thread nor the async runtime waits on them.
    pub async fn blocking<T, E>(
        &self,
        work: impl FnOnce(&Engine) -> Result<T, E> + Send + 'static,
    ) -> AppResult<T>
    where
        T: Send + 'static,
        AppError: From<E>,
    {
        let engine = self.engine()?.clone();
        off_the_runtime(move || Ok(work(&engine)?)).await
    }

    /// `blocking` for work that reports on the app whether or not its store could be opened
    /// (`status`): `work` gets the engine when there is one.
    pub async fn blocking_if_open<T: Send + 'static>(
        &self,
        work: impl FnOnce(Option<&Engine>) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let engine = self.engine().ok().cloned();
        off_the_runtime(move || work(engine.as_deref())).await
    }

    /// `blocking` for work that also waits on the network (checking credentials with the
    /// carrier, renaming a line there) between its keychain and store steps: the whole of it runs
    /// on the blocking pool, its requests driven from there (`block_on`) by the runtime's I/O, so
    /// that no step of it holds a runtime thread while the keychain or the disk answers.
    pub async fn blocking_with_network<T, E, F, Fut>(&self, work: F) -> AppResult<T>
    where
        F: FnOnce(Arc<Engine>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, E>>,
        T: Send + 'static,
        AppError: From<E>,
    {
        let engine = self.engine()?.clone();
        off_the_runtime(move || Ok(tauri::async_runtime::block_on(work(engine))?)).await
    }
}

/// Runs `work` on the async runtime's blocking pool (threads kept for work that waits or
/// computes) and answers what it answered.
pub async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|_| {
            // Not the panic's message: it could quote what the work was given.
            tracing::error!("a command's work stopped unexpectedly");
            AppError::new(
                ErrorCode::StoreUnavailable,
                "That stopped unexpectedly inside Switchboard. Try again; if it happens again, \
                 restart Switchboard.",
            )
        })?
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use switchboard_engine::KeyChoice;

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(30);

    /// More commands wait at once than the async runtime has threads, and yet each has begun
    /// and another still answers: their blocking work holds up neither the runtime nor the
    /// commands after them. `network`: the commands are of the kind that also awaits a request
    /// (`App::blocking_with_network`), and block between two awaits.
    fn waiting_commands_hold_up_nothing(network: bool) {
        let dir = tempfile::tempdir().unwrap();
        let app = Arc::new(App::new(dir.path().join("data")));
        let key = KeyChoice::KeyFile(dir.path().join("key"));
        app.set_engine(Ok(Arc::new(Engine::open(&app.data_dir, key).unwrap())));
        let waiting = std::thread::available_parallelism().map_or(2, |n| n.get()) + 2;
        let (started, starts) = mpsc::channel();
        let mut releases = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..waiting {
            let (release, released) = mpsc::channel::<()>();
            releases.push(release);
            let (app, started) = (app.clone(), started.clone());
            tasks.push(tauri::async_runtime::spawn(async move {
                let wait = move || {
                    let _ = started.send(());
                    released
                        .recv_timeout(PATIENCE)
                        .map_err(|_| AppError::invalid("never released"))
                };
                if network {
                    app.blocking_with_network(move |_| async move {
                        tokio::task::yield_now().await;
                        wait()?;
                        tokio::task::yield_now().await;
                        Ok::<_, AppError>(())
                    })
                    .await
                } else {
                    app.blocking(move |_| wait()).await
                }
            }));
        }
        for n in 0..waiting {
            starts
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("only {n} of {waiting} waiting commands began"));
        }
        let lines = tauri::async_runtime::block_on(app.blocking(|e| e.lines()));
        assert_eq!(
            lines.map(|l| l.len()),
            Ok(0),
            "another command answered meanwhile"
        );
        for release in releases {
            release.send(()).unwrap();
        }
        for task in tasks {
            assert_eq!(tauri::async_runtime::block_on(task).unwrap(), Ok(()));
        }
    }

    #[test]
    fn commands_that_wait_hold_up_neither_the_runtime_nor_other_commands() {
        waiting_commands_hold_up_nothing(false);
    }

    #[test]
    fn commands_that_wait_between_requests_hold_up_neither_the_runtime_nor_other_commands() {
        waiting_commands_hold_up_nothing(true);
    }
}
