//! The storage benchmark: builds an encrypted store of 1,000,000 messages in 10,000 threads over
//! 3 lines (by default) and the same store again in plain SQLite (same schema, same history, no
//! key), then times every storage operation of DESIGN.md §4 on both, alternately, and prints
//! the median and p99 of each beside the other with their ratio. Absolute times move with the
//! machine; the ratio is the budget for the list, opening a thread and search (≤ 1.5×), and the
//! absolute figures stay for the record. Run with `./dev bench` (release build).
//!
//! Options: `--messages N --threads N --samples N --dir PATH` (the store is kept in PATH when
//! given, else built in a temporary directory and removed; both stores take room: ~240 MB each
//! for 1,000,000 messages).

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

/// One operation's figures on the encrypted store and on its plain SQLite copy.
struct Row {
    name: &'static str,
    /// Median and p99 (or a rate and its total) on the encrypted store, then on the plain one.
    encrypted: (String, String),
    plain: (String, String),
    /// Encrypted ÷ plain, of the median (of the time per message for the import).
    ratio: f64,
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

/// Median and p99 of some samples.
#[derive(Clone, Copy)]
struct Figures {
    median: Duration,
    p99: Duration,
}

impl Figures {
    fn of(mut samples: Vec<Duration>) -> Figures {
        samples.sort();
        let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Figures {
            median: pick(0.5),
            p99: pick(0.99),
        }
    }

    fn shown(self) -> (String, String) {
        (micros(self.median), micros(self.p99))
    }
}

/// Times `f` `n` times on each store, alternating (encrypted, plain, encrypted…) so that the
/// machine's load weighs on both alike; `f` gets the store, which one it is, and the sample.
fn time_both(
    stores: [&Store; 2],
    n: usize,
    mut f: impl FnMut(&Store, usize, usize) -> Result<()>,
) -> Result<[Figures; 2]> {
    let mut samples = [Vec::with_capacity(n), Vec::with_capacity(n)];
    for i in 0..n {
        for (which, store) in stores.iter().enumerate() {
            let start = Instant::now();
            f(store, which, i)?;
            samples[which].push(start.elapsed());
        }
    }
    let [a, b] = samples;
    Ok([Figures::of(a), Figures::of(b)])
}

fn ratio(encrypted: Duration, plain: Duration) -> f64 {
    encrypted.as_secs_f64() / plain.as_secs_f64().max(1e-9)
}

/// An operation whose budget is its cost beside plain SQLite: at most `MAX_RATIO` times.
const MAX_RATIO: f64 = 1.5;

fn against_plain(name: &'static str, [enc, plain]: [Figures; 2]) -> Row {
    let r = ratio(enc.median, plain.median);
    Row {
        name,
        encrypted: enc.shown(),
        plain: plain.shown(),
        ratio: r,
        budget: "≤ 1.5× plain (median)",
        ok: r <= MAX_RATIO,
    }
}

/// The database file and its WAL, in bytes.
fn size_on_disk(path: &std::path::Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let paths = [dir.join("bench.db"), dir.join("bench-plain.db")];
    if let Some(p) = paths.iter().find(|p| p.exists()) {
        bail!("{} exists: give an empty --dir", p.display());
    }
    let key_hex = DbKey::generate().to_hex().context("a raw key")?;
    let keys_of = |which: usize| {
        if which == 0 {
            DbKey::from_hex(&key_hex).expect("the key just made")
        } else {
            DbKey::plaintext_for_benchmarks()
        }
    };
    let encrypted = Store::create(&paths[0], keys_of(0))?;
    let history = history::fill(&encrypted, args.messages, args.threads)?;
    println!("…and the same again in plain SQLite (no key), to compare with.");
    let plain = Store::create(&paths[1], keys_of(1))?;
    let plain_history = history::fill(&plain, args.messages, args.threads)?;
    anyhow::ensure!(
        plain_history.imported == history.imported,
        "the plain copy differs"
    );
    let stores = [&encrypted, &plain];
    let (lines, keys, n) = (&history.lines, &history.keys, history.imported);
    let thread_count = keys.len() as u64;
    let start_ms = history::START_MS;
    let rates = [history.import_secs, plain_history.import_secs].map(|s| n as f64 / s);
    let mut rows = vec![Row {
        name: "import history",
        encrypted: (
            format!("{:.0} msg/s", rates[0]),
            format!("({:.1} s in all)", history.import_secs),
        ),
        plain: (
            format!("{:.0} msg/s", rates[1]),
            format!("({:.1} s in all)", plain_history.import_secs),
        ),
        ratio: history.import_secs / plain_history.import_secs,
        budget: "≥ 15,000 msg/s",
        ok: rates[0] >= 15_000.0,
    }];

    let samples = args.samples;
    let figures = time_both(stores, samples, |store, _, _| {
        let page = store.list_threads(None, 50, None)?;
        anyhow::ensure!(page.len() == 50.min(keys.len()));
        Ok(())
    })?;
    rows.push(against_plain("conversation list, newest 50", figures));

    // The same threads in the same order on both: ids are given alike by the same history.
    let threads = [
        encrypted.list_threads(None, 10_000, None)?,
        plain.list_threads(None, 10_000, None)?,
    ];
    anyhow::ensure!(
        threads[0]
            .iter()
            .map(|t| t.id)
            .eq(threads[1].iter().map(|t| t.id)),
        "the plain copy's threads differ"
    );
    let mut rng = StdRng::seed_from_u64(42);
    let picks: Vec<usize> = (0..samples)
        .map(|_| rng.gen_range(0..threads[0].len()))
        .collect();
    let figures = time_both(stores, samples, |store, which, i| {
        let page = store.thread_messages(threads[which][picks[i]].id, 100, None)?;
        anyhow::ensure!(!page.is_empty());
        Ok(())
    })?;
    rows.push(against_plain("open a thread, newest 100", figures));

    let queries = [
        "delivery",
        "order shipped",
        "zephyrine",
        "refund please",
        "quokkaroo",
        "tomorrow morning",
    ];
    let figures = time_both(stores, samples / 4, |store, _, i| {
        store.search(queries[i % queries.len()], 50)?;
        Ok(())
    })?;
    rows.push(against_plain("full-text search, newest 50", figures));

    let [enc, pl] = time_both(stores, 200, |store, _, i| {
        let items: Vec<NewOutgoing> = (0..20)
            .map(|j| NewOutgoing {
                key: keys[((i * 20 + j + 1) as u64 * 97 % thread_count) as usize].clone(),
                body: "Our spring sale starts tomorrow morning".into(),
                images: Vec::new(),
                client_id: uuid::Uuid::new_v4().to_string(),
            })
            .collect();
        store.enqueue_outgoing(&items, start_ms + n as i64 * 1_000 + i as i64)?;
        Ok(())
    })?;
    rows.push(Row {
        name: "enqueue a 20-recipient fan-out",
        encrypted: enc.shown(),
        plain: pl.shown(),
        ratio: ratio(enc.median, pl.median),
        budget: "median < 10 ms",
        ok: enc.median < Duration::from_millis(10),
    });

    for store in stores {
        store.checkpoint()?;
    }
    drop((encrypted, plain));
    let [enc, pl] = time_both_opens(&paths, keys_of)?;
    rows.push(Row {
        name: "open the database (with its key)",
        encrypted: enc.shown(),
        plain: pl.shown(),
        ratio: ratio(enc.median, pl.median),
        budget: "< 5 ms",
        ok: enc.p99 < Duration::from_millis(5),
    });

    let bytes = paths.each_ref().map(|p| size_on_disk(p));
    let per = bytes.map(|b| b as f64 / n as f64);
    let shown = |i: usize| {
        (
            format!("{:.0} B", per[i]),
            format!("({:.0} MB in all)", bytes[i] as f64 / 1e6),
        )
    };
    rows.push(Row {
        name: "size on disk per message (FTS incl.)",
        encrypted: shown(0),
        plain: shown(1),
        ratio: per[0] / per[1],
        budget: "< 300 B",
        ok: per[0] < 300.0,
    });

    println!();
    println!(
        "| operation | SQLCipher median | p99 | plain SQLite median | p99 | ratio | budget | within |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.2}× | {} | {} |",
            r.name,
            r.encrypted.0,
            r.encrypted.1,
            r.plain.0,
            r.plain.1,
            r.ratio,
            r.budget,
            if r.ok { "yes" } else { "**no**" }
        );
    }
    println!(
        "\n{} messages, {} threads, {} lines; {} samples per query, the two stores alternately; \
         {} cores.",
        n,
        thread_count,
        lines.len(),
        samples,
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    Ok(())
}

/// Opens (and closes) each database 50 times, alternately: the encrypted one with its raw key.
fn time_both_opens(
    paths: &[std::path::PathBuf; 2],
    key: impl Fn(usize) -> DbKey,
) -> Result<[Figures; 2]> {
    let mut samples = [Vec::new(), Vec::new()];
    for _ in 0..50 {
        for (which, path) in paths.iter().enumerate() {
            let k = key(which);
            let start = Instant::now();
            drop(Store::open(path, k)?);
            samples[which].push(start.elapsed());
        }
    }
    let [a, b] = samples;
    Ok([Figures::of(a), Figures::of(b)])
}
