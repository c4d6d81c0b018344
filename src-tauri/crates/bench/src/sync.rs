//! The sync benchmark: what one inbound poll costs on a busy account, in requests (counted by
//! the sandbox's `api_requests`) and in milliseconds, on loopback. An in-process sandbox is
//! flooded with a day of messages (`--messages N`, 10,000 by default), the Twilio client runs
//! its first sync to the end, then polls as the engine's sync round does (again while a poll
//! brings news): idle, and with `--new N` (10) messages arrived since the previous poll.
//! Run with `./dev bench-sync` (release build); `--samples N` (50) polls of each kind.
//!
//! The client's rounds are measured, not the engine's writes to its store: the budget is the
//! carrier's cost, the part that grows with the account's day.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use switchboard_carrier::{Carrier, Changes, SyncCursor, TwilioClient, TwilioOptions};
use switchboard_core::model::E164;
use switchboard_sandbox::{serve, Delays, SandboxConfig, SandboxHandle};

/// DESIGN.md §4: an idle poll on an account with 10,000 messages today.
const IDLE_REQUESTS_BUDGET: u64 = 2;
const IDLE_MS_BUDGET: f64 = 100.0;

struct Args {
    messages: u32,
    new: u32,
    samples: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        messages: 10_000,
        new: 10,
        samples: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => args.messages = value()?.parse()?,
            "--new" => args.new = value()?.parse()?,
            "--samples" => args.samples = value()?.parse()?,
            "--help" | "-h" => {
                println!(
                    "switchboard-bench-sync [--messages N] [--new N] [--samples N]\n\
                     Floods a sandbox with N messages over the last day, then times idle polls \
                     and polls with --new messages."
                );
                std::process::exit(0);
            }
            other => bail!("unknown option {other} (--messages, --new, --samples)"),
        }
    }
    if args.messages == 0 || args.samples == 0 {
        bail!("--messages and --samples must be positive");
    }
    Ok(args)
}

/// One poll as the engine's sync round makes it: `changes` again while it brings news. Its
/// requests, its time, what it reported and the cursor it ended with.
struct Poll {
    requests: u64,
    elapsed: Duration,
    reported: usize,
    backfill: bool,
    cursor: SyncCursor,
}

async fn poll(client: &TwilioClient, sandbox: &SandboxHandle, from: &SyncCursor) -> Result<Poll> {
    let before = sandbox.stats().api_requests;
    let start = Instant::now();
    let mut cursor = from.clone();
    let (mut reported, mut backfill) = (0, false);
    // The engine's round stops after 20 calls; a first sync of a big day may need them all.
    for _ in 0..20 {
        let Changes {
            messages,
            cursor: next,
            backfill: history,
        } = client.changes(&cursor).await?;
        reported += messages.len();
        backfill |= history;
        let done = messages.is_empty() || next == cursor;
        cursor = next;
        if done {
            break;
        }
    }
    Ok(Poll {
        requests: sandbox.stats().api_requests - before,
        elapsed: start.elapsed(),
        reported,
        backfill,
        cursor,
    })
}

fn most(requests: &[u64]) -> u64 {
    requests.iter().copied().max().unwrap_or(0)
}

fn least(requests: &[u64]) -> u64 {
    requests.iter().copied().min().unwrap_or(0)
}

/// The polls after `--new` messages each, `samples` times.
struct News {
    times: Vec<Duration>,
    requests: Vec<u64>,
}

/// `samples` times: `--new` customers write to `line`, then a poll; `step_secs` on the
/// sandbox's clock before each batch, or every batch dated the second the first began.
async fn news_polls(
    client: &TwilioClient,
    sandbox: &SandboxHandle,
    line: &E164,
    args: &Args,
    cursor: &mut SyncCursor,
    step_secs: Option<i64>,
) -> Result<News> {
    let mut news = News {
        times: Vec::new(),
        requests: Vec::new(),
    };
    let second = sandbox.quirks().now_ms();
    for sample in 0..args.samples {
        let at = match step_secs {
            Some(step) => {
                let skew = sandbox.quirks().clock_skew_secs;
                sandbox.set_clock_skew(skew + step)?;
                None
            }
            None => Some(second),
        };
        for i in 0..args.new {
            let from = E164::from_normalized(&format!("+1415556{:04}", i % 10_000))
                .context("a customer number")?;
            sandbox.reply(&from, line, &format!("news {sample}.{i}"), at)?;
        }
        let polled = poll(client, sandbox, cursor).await?;
        if polled.reported != args.new as usize || polled.backfill {
            bail!(
                "a poll after {} new messages reported {}",
                args.new,
                polled.reported
            );
        }
        news.times.push(polled.elapsed);
        news.requests.push(polled.requests);
        *cursor = polled.cursor;
    }
    Ok(news)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median and p99 of `samples`, in ms.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    (at(0.5), at(0.99))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let tmp = tempfile::tempdir()?;
    let mut config = SandboxConfig::new(tmp.path());
    config.delays = Delays {
        reply: None,
        ..Delays::default()
    };
    let sandbox = serve(config).await?;
    let client = TwilioClient::new(
        &sandbox.api_base_url(),
        sandbox.account_sid(),
        sandbox.auth_token(),
        TwilioOptions::default(),
    )?;

    println!("Flooding the sandbox with {} messages…", args.messages);
    let flooded = sandbox.flood(args.messages)?;
    let first = poll(&client, &sandbox, &SyncCursor::default()).await?;
    if first.reported != args.messages as usize || !first.backfill {
        bail!(
            "the first sync reported {} of {} messages (backfill: {})",
            first.reported,
            args.messages,
            first.backfill
        );
    }
    let mut cursor = first.cursor;

    let (mut idle_times, mut idle_requests) = (Vec::new(), Vec::new());
    for _ in 0..args.samples {
        let idle = poll(&client, &sandbox, &cursor).await?;
        if idle.reported != 0 || idle.cursor != cursor {
            bail!("an idle poll reported {} messages", idle.reported);
        }
        idle_times.push(idle.elapsed);
        idle_requests.push(idle.requests);
    }
    let cursor_bytes = cursor.0.to_string().len();

    let line = sandbox
        .lines()
        .first()
        .context("the sandbox has lines")?
        .number
        .clone();
    // Polls a minute apart: the sandbox's clock is moved on a minute before each batch (its
    // dates and its `Date` header both, which is all the client goes by). Then back to back:
    // every batch dated the same second, all in one overlap, which each poll lists again.
    let spaced = news_polls(&client, &sandbox, &line, &args, &mut cursor, Some(60)).await?;
    let back_to_back = news_polls(&client, &sandbox, &line, &args, &mut cursor, None).await?;
    sandbox.shutdown().await;

    let (idle_median, idle_p99) = percentiles(&mut idle_times);
    let within = most(&idle_requests) <= IDLE_REQUESTS_BUDGET && idle_p99 < IDLE_MS_BUDGET;

    println!();
    println!(
        "{} messages over the last 24 h ({} in, {} out, {} MMS); page size {}.",
        flooded.created,
        flooded.inbound,
        flooded.outbound,
        flooded.mms,
        TwilioOptions::default().page_size
    );
    println!();
    println!("| poll | requests | median | p99 | budget | within |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| first sync (history, to its end) | {} | {:.0} ms | — | — | — |",
        first.requests,
        ms(first.elapsed)
    );
    println!(
        "| idle, {} messages today | {} | {idle_median:.2} ms | {idle_p99:.2} ms | ≤ {IDLE_REQUESTS_BUDGET} requests, < {IDLE_MS_BUDGET:.0} ms | {} |",
        args.messages,
        most(&idle_requests),
        if within { "yes" } else { "NO" }
    );
    for (what, mut news) in [
        ("a minute apart", spaced),
        ("back to back, within one second", back_to_back),
    ] {
        let (median, p99) = percentiles(&mut news.times);
        println!(
            "| {} new messages, polls {what} | {}–{} | {median:.2} ms | {p99:.2} ms | — | — |",
            args.new,
            least(&news.requests),
            most(&news.requests),
        );
    }
    println!(
        "\nThe sync cursor after the first sync: {cursor_bytes} bytes. {} samples of each poll; {} cores; the carrier is the embedded sandbox on loopback.",
        args.samples,
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    Ok(())
}
