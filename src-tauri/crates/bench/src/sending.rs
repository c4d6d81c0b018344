//! The sending benchmark: the outbox runner's throughput against an embedded sandbox carrier
//! without rate limit, and the time from the network returning to the first queued message
//! leaving — once when the OS reports the network back (the app then nudges the runner), once
//! when nothing does and the runner notices by itself. Real HTTP on loopback, a real encrypted
//! store. Run with `./dev bench-sending`; `--messages N` (default 1,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use switchboard_carrier::{Carrier, TwilioClient, TwilioOptions};
use switchboard_engine::{ComposeRequest, Engine, KeyChoice, Runner, RunnerConfig};
use switchboard_sandbox::{serve, Delays, SandboxConfig, SandboxHandle};

fn messages_arg() -> Result<usize> {
    let mut args = std::env::args().skip(1);
    let mut n = 1_000;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--messages" => n = args.next().context("--messages needs a value")?.parse()?,
            other => bail!("unknown option {other} (only --messages N)"),
        }
    }
    if n == 0 {
        bail!("--messages must be positive");
    }
    Ok(n)
}

/// Waits until `ready`, polling; returns how long it took.
async fn until(what: &str, mut ready: impl FnMut() -> bool) -> Result<Duration> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > Duration::from_secs(300) {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(start.elapsed())
}

fn enqueue(
    engine: &Engine,
    first: usize,
    count: usize,
    line: switchboard_engine::core::model::LineId,
) -> Result<()> {
    let mut next = first;
    while next < first + count {
        let batch = (first + count - next).min(20);
        let recipients = (next..next + batch)
            .map(|i| format!("+1415{:07}", 2_000_000 + i))
            .collect();
        engine.send(
            &ComposeRequest {
                recipients,
                body: format!("Benchmark message {next}"),
                images: Vec::new(),
                line: Some(line),
            },
            None,
        )?;
        next += batch;
    }
    Ok(())
}

/// Takes the carrier offline, queues one message, lets the runner fail on it, brings the
/// carrier back and measures until the carrier has it. `nudge` stands for the OS network event
/// (`Runner::network_back`).
async fn reconnect(
    engine: &Engine,
    runner: &Runner,
    sandbox: &SandboxHandle,
    index: usize,
    line: switchboard_engine::core::model::LineId,
    nudge: bool,
) -> Result<Duration> {
    sandbox.set_online(false).await?;
    enqueue(engine, index, 1, line)?;
    runner.wake();
    until("a failed attempt", || {
        engine
            .outbox()
            .map(|jobs| jobs.iter().any(|j| j.attempts >= 1))
            .unwrap_or(false)
    })
    .await?;
    let before = sandbox.received_count();
    sandbox.set_online(true).await?;
    let start = Instant::now();
    if nudge {
        runner.network_back();
    }
    until("the queued message to reach the carrier", || {
        sandbox.received_count() > before
    })
    .await?;
    Ok(start.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let n = messages_arg()?;
    let tmp = tempfile::tempdir()?;
    let mut config = SandboxConfig::new(tmp.path().join("sandbox"));
    config.delays = Delays {
        sent: Duration::from_millis(5),
        delivered: Duration::from_millis(5),
        reply: None,
    };
    let sandbox = serve(config).await?;
    let engine = Arc::new(Engine::open(
        &tmp.path().join("data"),
        KeyChoice::KeyFile(tmp.path().join("key")),
    )?);
    let options = TwilioOptions {
        per_line_rate: 1e9, // no rate limit: measure the runner, not the carrier's policy
        ..TwilioOptions::default()
    };
    let client = TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        options,
    )?;
    engine.adopt_carrier(&client.lines().await?, &[])?;
    let line = engine.lines()?.first().context("the sandbox has lines")?.id;
    let carrier: Arc<dyn Carrier> = Arc::new(client);
    let runner = Runner::start(engine.clone(), carrier, RunnerConfig::default())?;

    println!("Queueing {n} messages to {n} recipients…");
    enqueue(&engine, 0, n, line)?;
    let start = Instant::now();
    let summary = runner.run_once().await;
    let secs = start.elapsed().as_secs_f64();
    if summary.sent != n as u64 || sandbox.received_count() != n as u64 {
        bail!(
            "sent {} and the carrier received {}, of {n}",
            summary.sent,
            sandbox.received_count()
        );
    }

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let background = runner.clone();
    let task = tokio::spawn(async move {
        background
            .run_until_stopped(async {
                let _ = stopped.await;
            })
            .await;
    });
    let nudged = reconnect(&engine, &runner, &sandbox, n, line, true).await?;
    let unaided = reconnect(&engine, &runner, &sandbox, n + 1, line, false).await?;
    let _ = stop.send(());
    task.await?;
    sandbox.shutdown().await;

    println!();
    println!("| measure | figure |");
    println!("|---|---|");
    println!(
        "| runner throughput, {n} messages, no rate limit | {:.0} msg/s ({secs:.2} s) |",
        n as f64 / secs
    );
    println!(
        "| reconnect → first queued message at the carrier, OS network event (nudge) | {:.1} ms |",
        nudged.as_secs_f64() * 1e3
    );
    println!("| reconnect → first queued message at the carrier, no signal (runner's own retry) | {:.2} s |", unaided.as_secs_f64());
    println!(
        "\n{} cores; the carrier is the embedded sandbox on loopback.",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    Ok(())
}
