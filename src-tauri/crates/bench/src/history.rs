//! The history the benchmarks measure on, as DESIGN.md §4 describes it: by default 1,000,000
//! messages in 10,000 threads over 3 lines, half the counterparts named contacts, bodies of 3–18
//! words from a small vocabulary with rare words planted in one message of a thousand. The same
//! seed gives the same history.

use std::time::Instant;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_core::model::{Line, ThreadKey, E164};
use switchboard_store::{DbKey, HistoryMessage, Store};

/// The first message's time (Nov 2023); one message a second after it.
pub const START_MS: i64 = 1_700_000_000_000;

/// What `fill` wrote.
pub struct History {
    pub lines: Vec<Line>,
    pub keys: Vec<ThreadKey>,
    pub imported: u64,
    pub import_secs: f64,
}

/// A new store at `path` filled as [`fill`] fills one, with the figures printed.
// Each benchmark binary compiles this module; the storage benchmark fills stores of its own.
#[allow(dead_code)]
pub fn create_filled(
    path: &std::path::Path,
    key: DbKey,
    messages: u64,
    threads: u64,
) -> Result<History> {
    let store = Store::create(path, key)?;
    let history = fill(&store, messages, threads)?;
    println!(
        "  {} messages in {} threads over {} lines, in {:.1} s",
        history.imported,
        history.keys.len(),
        history.lines.len(),
        history.import_secs
    );
    Ok(history)
}

/// Adds the lines, the contacts and `messages` messages in `threads` threads to `store`.
pub fn fill(store: &Store, messages: u64, threads: u64) -> Result<History> {
    let lines = vec![
        store.add_line(&number(9_000_001), "Sales", "#2563eb")?,
        store.add_line(&number(9_000_002), "Support", "#16a34a")?,
        store.add_line(&number(9_000_003), "Billing", "#db2777")?,
    ];
    // Half of the counterparts are contacts with names, as in a real address book.
    for i in (0..threads).step_by(2) {
        store.add_contact(&format!("Customer {i} Example"), &[number(i)], None, false)?;
    }
    let keys: Vec<ThreadKey> = (0..threads)
        .map(|i| ThreadKey {
            line: lines[(i % 3) as usize].id,
            counterpart: number(i),
        })
        .collect();

    println!(
        "Building a store: {} messages in {} threads over {} lines…",
        messages,
        threads,
        lines.len()
    );
    let n = messages;
    let thread_count = keys.len() as u64;
    let mut body_rng = StdRng::seed_from_u64(7);
    let history = (0..n).map(|i| {
        let key = keys[(i.wrapping_mul(2_654_435_761) % thread_count) as usize].clone();
        let inbound = i % 2 == 1;
        HistoryMessage::settled(
            key,
            inbound,
            body(&mut body_rng),
            START_MS + (i as i64) * 1_000,
            Some(format!("SM{:032x}", i)),
        )
    });
    let started = Instant::now();
    let report = store.import_history(history)?;
    let import_secs = started.elapsed().as_secs_f64();
    store.checkpoint()?;
    Ok(History {
        lines,
        keys,
        imported: report.imported,
        import_secs,
    })
}

const WORDS: &[&str] = &[
    "order",
    "shipped",
    "delivery",
    "tomorrow",
    "invoice",
    "thanks",
    "appointment",
    "confirm",
    "table",
    "booking",
    "refund",
    "please",
    "call",
    "back",
    "when",
    "ready",
    "pickup",
    "store",
    "price",
    "quote",
    "available",
    "monday",
    "friday",
    "morning",
    "afternoon",
    "sorry",
    "delay",
    "tracking",
    "number",
    "package",
    "receipt",
    "payment",
    "received",
    "question",
    "support",
    "sales",
    "offer",
    "discount",
    "welcome",
    "reminder",
    "tonight",
    "address",
    "update",
    "great",
    "perfect",
    "see",
    "you",
    "soon",
    "the",
    "your",
    "is",
    "for",
    "and",
    "we",
    "can",
    "at",
    "a",
    "to",
    "it",
    "on",
    "will",
    "be",
    "have",
    "our",
    "with",
    "this",
    "that",
    "ok",
    "yes",
    "no",
    "kitchen",
    "plumber",
    "estimate",
    "window",
    "garden",
    "dentist",
    "cleaning",
    "haircut",
    "lunch",
    "dinner",
    "parcel",
    "courier",
    "warranty",
    "repair",
    "model",
    "size",
    "colour",
];

/// Rare words planted in a known share of messages, so that searches of both kinds are timed.
const RARE: &[&str] = &["zephyrine", "quokkaroo", "marzipanic"];

fn number(i: u64) -> E164 {
    // +1 415 2xx xxxx: valid US numbers, one per counterpart.
    E164::from_normalized(&format!("+1415{:07}", 2_000_000 + i)).expect("valid E.164")
}

fn body(rng: &mut StdRng) -> String {
    let n = rng.gen_range(3..=18);
    let mut words: Vec<&str> = (0..n)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    if rng.gen_ratio(1, 1000) {
        words.push(RARE[rng.gen_range(0..RARE.len())]);
    }
    let mut s = words.join(" ");
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}
