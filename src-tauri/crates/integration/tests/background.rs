//! `Engine::start_background`, the use case the app and the CLI share, against a real sandbox
//! on loopback: the sandbox's numbers become lines and its demo contacts fill an empty address
//! book, a second start waits for the outbox lock before it says who holds it, and the app's
//! start (`start_background_when_free`) keeps trying until the lock is free, saying meanwhile
//! that another Switchboard is sending.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_engine::{DemoContact, Engine, EngineError, KeyChoice, RunnerError, SandboxAccess};
use switchboard_sandbox::{serve_sandbox, SandboxHandle};

fn open(dir: &std::path::Path) -> Arc<Engine> {
    Arc::new(Engine::open(&dir.join("data"), KeyChoice::KeyFile(dir.join("key"))).unwrap())
}

/// An engine and the sandbox of its data directory, served as the app serves it.
async fn office(dir: &std::path::Path) -> (Arc<Engine>, SandboxHandle) {
    let engine = open(dir);
    let (sandbox, _) = serve_sandbox(&dir.join("data"), None, 0).await.unwrap();
    (engine, sandbox)
}

fn access(sandbox: &SandboxHandle) -> SandboxAccess {
    SandboxAccess {
        endpoint: sandbox.endpoint(),
        demo_contacts: sandbox
            .demo_contacts()
            .into_iter()
            .map(|c| DemoContact {
                name: c.name,
                number: c.number,
            })
            .collect(),
    }
}

#[tokio::test]
async fn the_background_starts_on_the_sandbox_with_its_lines_and_demo_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sandbox) = office(dir.path()).await;
    let reach = || async { Ok::<_, RunnerError>(access(&sandbox)) };
    let runner = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let labels: Vec<String> = engine
        .lines()
        .unwrap()
        .into_iter()
        .map(|l| l.label)
        .collect();
    let offered: Vec<String> = sandbox
        .lines()
        .into_iter()
        .map(|l| l.friendly_name)
        .collect();
    assert_eq!(labels, offered);
    let contacts = engine.contacts().unwrap();
    assert_eq!(contacts.len(), sandbox.demo_contacts().len());
    assert!(contacts.iter().all(|c| c.contact.demo));
    let summary = runner.run_once().await;
    assert!(
        summary.synced,
        "the runner reaches the sandbox: {summary:?}"
    );
}

#[tokio::test]
async fn a_second_start_waits_for_the_outbox_lock_then_says_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sandbox) = office(dir.path()).await;
    let reach = || async { Ok::<_, RunnerError>(access(&sandbox)) };
    let _first = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let started = Instant::now();
    let second = engine
        .start_background(reach, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(second, RunnerError::AlreadyRunning { .. }),
        "{second}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
}

#[tokio::test]
async fn the_apps_start_keeps_trying_the_outbox_lock_says_so_and_starts_once_it_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sandbox) = office(dir.path()).await;
    let reach = || async { Ok::<_, RunnerError>(access(&sandbox)) };
    // Another Switchboard (a CLI `run`, say) sends from this data directory.
    let other = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let (told, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let waiting = engine.start_background_when_free(reach, Duration::ZERO, move |e| {
        let _ = told.send(e.code());
    });
    tokio::pin!(waiting);

    let code = tokio::select! {
        code = heard.recv() => code.unwrap(),
        _ = &mut waiting => panic!("it started while the lock was held"),
    };
    assert_eq!(code.as_str(), "runner_already_running");
    drop(other);
    let runner = waiting.await.unwrap();

    assert!(heard.try_recv().is_err(), "said once");
    assert!(
        runner.run_once().await.synced,
        "the runner it started reaches the sandbox"
    );
}

#[tokio::test]
async fn a_sandbox_that_cannot_be_reached_is_the_clients_error() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let refused = engine
        .start_background(
            || async {
                Err::<SandboxAccess, _>(RunnerError::Engine(EngineError::Invalid {
                    what: "sandbox",
                    why: "is not running.".into(),
                }))
            },
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.to_string(), "sandbox is not running.");
    assert!(engine.lines().unwrap().is_empty(), "nothing was adopted");
}
