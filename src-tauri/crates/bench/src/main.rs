//! The storage benchmark: builds an encrypted store of 1,000,000 messages in 10,000 threads over
//! 3 lines (by default), then times every storage operation of DESIGN.md §4 and prints the
//! median and p99 beside the budget. Run with `./dev bench` (release build).
//!
//! Options: `--messages N --threads N --samples N --dir PATH` (the store is kept in PATH when
//! given, else built in a temporary directory and removed).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_store::{DbKey, NewOutgoing, Store};

mod history;

struct Args {
    messages: u64,
    threads: u64,
    samples: usize,
    dir: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        messages: 1_000_000,
        threads: 10_000,
        samples: 2_000,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => args.messages = value()?.parse()?,
            "--threads" => args.threads = value()?.parse()?,
            "--samples" => args.samples = value()?.parse()?,
            "--dir" => args.dir = Some(value()?.into()),
            "--help" | "-h" => {
                println!(
                    "switchboard-bench [--messages N] [--threads N] [--samples N] [--dir PATH]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown option {other}"),
        }
    }
    if args.samples < 4 {
        bail!("--samples must be at least 4");
    }
    if args.threads == 0 || args.messages < args.threads {
        bail!("--messages must be at least --threads, which must be positive");
    }
    Ok(args)
}

/// Figures of one operation.
struct Row {
    name: &'static str,
    median: String,
    p99: String,
    budget: &'static str,
    ok: bool,
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// Times `f` `n` times and returns (median, p99).
fn time_it(n: usize, mut f: impl FnMut(usize) -> Result<()>) -> Result<(Duration, Duration)> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        f(i)?;
        samples.push(start.elapsed());
    }
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Ok((pick(0.5), pick(0.99)))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.db");
    if path.exists() {
        bail!("{} exists: give an empty --dir", path.display());
    }
    let key_hex = DbKey::generate().to_hex().context("a raw key")?;
    let key = || DbKey::from_hex(&key_hex).expect("the key just made");
    let store = Store::create(&path, key())?;
    let mut rng = StdRng::seed_from_u64(42);

    let history = history::fill(&store, args.messages, args.threads)?;
    let (lines, keys, n) = (&history.lines, &history.keys, history.imported);
    let thread_count = keys.len() as u64;
    let start_ms = history::START_MS;
    let rate = n as f64 / history.import_secs;
    let import_secs = history.import_secs;
    let mut rows = vec![Row {
        name: "import history",
        median: format!("{rate:.0} msg/s"),
        p99: format!("({:.1} s in all)", import_secs),
        budget: "≥ 15,000 msg/s",
        ok: rate >= 15_000.0,
    }];

    let samples = args.samples;
    let (med, p99) = time_it(samples, |_| {
        let page = store.list_threads(None, 50, None)?;
        anyhow::ensure!(page.len() == 50.min(keys.len()));
        Ok(())
    })?;
    rows.push(Row {
        name: "conversation list, newest 50",
        median: micros(med),
        p99: micros(p99),
        budget: "p99 < 1 ms",
        ok: p99 < Duration::from_millis(1),
    });

    let threads = store.list_threads(None, 10_000, None)?;
    let (med, p99) = time_it(samples, |_| {
        let t = &threads[rng.gen_range(0..threads.len())];
        let page = store.thread_messages(t.id, 100, None)?;
        anyhow::ensure!(!page.is_empty());
        Ok(())
    })?;
    rows.push(Row {
        name: "open a thread, newest 100",
        median: micros(med),
        p99: micros(p99),
        budget: "median < 0.2 ms, p99 < 1 ms",
        ok: med < Duration::from_micros(200) && p99 < Duration::from_millis(1),
    });

    let queries = [
        "delivery",
        "order shipped",
        "zephyrine",
        "refund please",
        "quokkaroo",
        "tomorrow morning",
    ];
    let (med, p99) = time_it(samples / 4, |i| {
        store.search(queries[i % queries.len()], 50)?;
        Ok(())
    })?;
    rows.push(Row {
        name: "full-text search, newest 50",
        median: micros(med),
        p99: micros(p99),
        budget: "median < 1 ms, p99 < 5 ms",
        ok: med < Duration::from_millis(1) && p99 < Duration::from_millis(5),
    });

    let mut next = 0u64;
    let (med, p99) = time_it(200, |_| {
        let items: Vec<NewOutgoing> = (0..20)
            .map(|_| {
                next += 1;
                NewOutgoing {
                    key: keys[(next * 97 % thread_count) as usize].clone(),
                    body: "Our spring sale starts tomorrow morning".into(),
                    images: Vec::new(),
                    client_id: uuid::Uuid::new_v4().to_string(),
                }
            })
            .collect();
        store.enqueue_outgoing(&items, start_ms + n as i64 * 1_000 + next as i64)?;
        Ok(())
    })?;
    rows.push(Row {
        name: "enqueue a 20-recipient fan-out",
        median: micros(med),
        p99: micros(p99),
        budget: "median < 10 ms",
        ok: med < Duration::from_millis(10),
    });

    store.checkpoint()?;
    drop(store);
    let (med, p99) = time_it(50, |_| {
        let s = Store::open(&path, key())?;
        drop(s);
        Ok(())
    })?;
    rows.push(Row {
        name: "open the database with its key",
        median: micros(med),
        p99: micros(p99),
        budget: "< 5 ms",
        ok: p99 < Duration::from_millis(5),
    });

    let bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    let per = bytes as f64 / n as f64;
    rows.push(Row {
        name: "size on disk per message (FTS incl.)",
        median: format!("{per:.0} B"),
        p99: format!("({:.0} MB in all)", bytes as f64 / 1e6),
        budget: "< 300 B",
        ok: per < 300.0,
    });

    println!();
    println!("| operation | median | p99 | budget | within |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.name,
            r.median,
            r.p99,
            r.budget,
            if r.ok { "yes" } else { "**no**" }
        );
    }
    println!(
        "\n{} messages, {} threads, {} lines; {} samples per query; {} cores.",
        n,
        thread_count,
        lines.len(),
        samples,
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    Ok(())
}
