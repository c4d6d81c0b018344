//! What a commit that survives a power cut costs: the outbox's writes (a 20-recipient fan-out,
//! then each message's "sending" and "sent" marks) timed on a real encrypted store with
//! `synchronous = FULL` (what the store uses) beside `NORMAL` (what it used before).
//!
//! `./dev bench-durability [--fanouts N]`

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use switchboard_core::model::{ThreadKey, E164};
use switchboard_store::{DbKey, Durability, NewOutgoing, Store};

struct Figures {
    enqueue: (Duration, Duration),
    mark: (Duration, Duration),
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (pick(0.5), pick(0.99))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `fanouts` fan-outs of 20, then "sending" and "sent" for each of their messages.
fn measure(durability: Durability, fanouts: usize) -> Result<Figures> {
    let dir = tempfile::tempdir()?;
    let store = Store::create(&dir.path().join("bench.db"), DbKey::generate())?;
    store.set_durability(durability)?;
    if store.durability()? != Some(durability) {
        bail!("the store did not take {durability:?}");
    }
    let number = |n: u64| E164::from_normalized(&format!("+1415555{n:04}")).context("a number");
    let line = store.add_line(&number(100)?, "Sales", "#336699")?;
    let mut enqueue = Vec::new();
    let mut jobs = Vec::new();
    let now = switchboard_store::now_ms();
    for f in 0..fanouts {
        let items = (0..20u64)
            .map(|r| {
                Ok(NewOutgoing {
                    key: ThreadKey {
                        line: line.id,
                        counterpart: number(1000 + (f as u64 * 20 + r) % 5000)?,
                    },
                    body: "Our spring sale starts tomorrow morning".into(),
                    images: Vec::new(),
                    client_id: uuid::Uuid::new_v4().to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let start = Instant::now();
        let made = store.enqueue_outgoing(&items, now + f as i64)?;
        enqueue.push(start.elapsed());
        jobs.extend(made.into_iter().map(|e| e.outbox_id));
    }
    let mut mark = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let start = Instant::now();
        store.mark_sending(job, now + 1_000)?;
        mark.push(start.elapsed());
        let start = Instant::now();
        store.mark_sent(job, &format!("SM{:032x}", i + 1), now + 2_000)?;
        mark.push(start.elapsed());
    }
    Ok(Figures {
        enqueue: percentiles(enqueue),
        mark: percentiles(mark),
    })
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut fanouts = 50usize;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fanouts" => {
                fanouts = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .context("--fanouts takes a positive number")?;
            }
            other => bail!("unknown argument {other}; usage: [--fanouts N]"),
        }
    }
    println!(
        "{fanouts} fan-outs of 20, then a \"sending\" and a \"sent\" mark per message, on an encrypted store\n"
    );
    println!("| synchronous | fan-out median | fan-out p99 | mark median | mark p99 |");
    println!("|---|---|---|---|---|");
    for durability in [Durability::Normal, Durability::Full] {
        let f = measure(durability, fanouts)?;
        println!(
            "| {} | {} | {} | {} | {} |",
            match durability {
                Durability::Full => "FULL (the store's)",
                Durability::Normal => "NORMAL",
            },
            ms(f.enqueue.0),
            ms(f.enqueue.1),
            ms(f.mark.0),
            ms(f.mark.1)
        );
    }
    Ok(())
}
