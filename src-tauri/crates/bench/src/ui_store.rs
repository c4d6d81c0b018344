//! The store the interaction benchmark (`tests/bench_ui.rs`, `./dev bench-ui`) opens the release
//! app on: 1,000,000 messages in 10,000 threads from the storage benchmark's history generator,
//! encrypted, with its key file beside it. It takes a minute or so to build, so it is built once
//! into DIR (`$CARGO_TARGET_DIR/bench-ui-store`) and kept: when DIR already holds a complete one,
//! this does nothing. Each benchmark run copies it to a fresh data directory.
//!
//! `switchboard-bench-ui-store DIR [--messages N] [--threads N]`; DIR ends up holding
//! `data/` (the store) and `switchboard.key`, and a `complete` file written last.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use switchboard_store::keys::write_key_file;
use switchboard_store::{DbKey, DB_FILE_NAME};

mod history;

/// Written once the store is whole: a store cut short by Ctrl+C is built again.
const COMPLETE: &str = "complete";

fn main() -> Result<()> {
    let mut dir: Option<PathBuf> = None;
    let (mut messages, mut threads) = (1_000_000u64, 10_000u64);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--messages" => messages = value()?.parse()?,
            "--threads" => threads = value()?.parse()?,
            "--help" | "-h" => {
                println!("switchboard-bench-ui-store DIR [--messages N] [--threads N]");
                return Ok(());
            }
            other if dir.is_none() && !other.starts_with('-') => dir = Some(other.into()),
            other => bail!("unknown argument {other}"),
        }
    }
    let Some(dir) = dir else {
        bail!("usage: switchboard-bench-ui-store DIR [--messages N] [--threads N]");
    };
    if threads == 0 || messages < threads {
        bail!("--threads must be positive and --messages at least --threads");
    }
    let wanted = format!("{messages} {threads}\n");
    if std::fs::read_to_string(dir.join(COMPLETE)).ok().as_deref() == Some(wanted.as_str()) {
        println!("The benchmark's store is ready in {}", dir.display());
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let data = dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let key = DbKey::generate();
    write_key_file(&dir.join("switchboard.key"), &key)?;
    history::create_filled(&data.join(DB_FILE_NAME), key, messages, threads)?;
    std::fs::write(dir.join(COMPLETE), wanted)?;
    println!("The benchmark's store is ready in {}", dir.display());
    Ok(())
}
