//! The app benchmark (DESIGN.md §4's last three rows): the release app started on an encrypted
//! store of 1,000,000 messages, beside a bare Tauri window (`switchboard-bare-window`) measured
//! the same way in the same run:
//! - start: from spawning the process to its "painted" line on stderr — the app logs it once its
//!   first conversation list is on screen, the bare window once its page is; cold (the page
//!   cache dropped first, when the machine lets us) and warm (run again at once);
//! - idle memory: after a quiet spell, the PSS of every process of the tree (the webview's
//!   WebKit processes included), from `/proc/PID/smaps_rollup`;
//! - the release binary's size.
//!
//! It needs a display (`./dev bench-app` runs it under Xvfb, on a private session bus).
//! Options: `--messages N --threads N --runs N --idle SECS --app PATH --bare PATH`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use switchboard_store::keys::write_key_file;
use switchboard_store::{DbKey, DB_FILE_NAME};

mod history;

/// What the app logs once its first conversation list is painted.
const APP_READY: &str = "the conversation list is interactive";
/// What the bare window prints once its page is painted.
const BARE_READY: &str = "ready ms=";
/// Longest wait for either to be painted.
const START_TIMEOUT: Duration = Duration::from_secs(60);

struct Args {
    messages: u64,
    threads: u64,
    runs: usize,
    idle: Duration,
    app: PathBuf,
    bare: PathBuf,
}

fn parse_args() -> Result<Args> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let mut args = Args {
        messages: 1_000_000,
        threads: 10_000,
        runs: 5,
        idle: Duration::from_secs(5),
        app: target.join("release/switchboard"),
        bare: target.join("release/switchboard-bare-window"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => args.messages = value()?.parse()?,
            "--threads" => args.threads = value()?.parse()?,
            "--runs" => args.runs = value()?.parse()?,
            "--idle" => args.idle = Duration::from_secs(value()?.parse()?),
            "--app" => args.app = value()?.into(),
            "--bare" => args.bare = value()?.into(),
            "--help" | "-h" => {
                println!(
                    "switchboard-bench-app [--messages N] [--threads N] [--runs N] [--idle SECS] \
                     [--app PATH] [--bare PATH]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown option {other}"),
        }
    }
    if args.runs == 0 || args.threads == 0 || args.messages < args.threads {
        bail!("--runs and --threads must be positive, --messages at least --threads");
    }
    for bin in [&args.app, &args.bare] {
        if !bin.is_file() {
            bail!(
                "{} is missing: build it with `cargo build --release -p switchboard \
                 -p switchboard-bare-window` (./dev bench-app does)",
                bin.display()
            );
        }
    }
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!("no display: run under xvfb-run (./dev bench-app does)");
    }
    Ok(args)
}

/// One program under test.
struct Subject<'a> {
    name: &'static str,
    bin: &'a Path,
    ready: &'static str,
    env: Vec<(&'static str, String)>,
}

/// One start: how long until painted, and the tree's PSS after the quiet spell (when asked).
struct Start {
    painted: Duration,
    pss_kib: Option<u64>,
    processes: usize,
}

/// Starts `subject`, waits for its painted line, measures, and stops it.
fn start(subject: &Subject, idle: Option<Duration>) -> Result<Start> {
    let mut cmd = Command::new(subject.bin);
    cmd.envs(subject.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let spawned = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", subject.bin.display()))?;
    let stderr = child.stderr.take().context("the child's stderr")?;
    let (tx, rx) = mpsc::channel();
    let ready = subject.ready;
    // Reads stderr to the end (so the child never blocks on a full pipe) and reports the first
    // painted line.
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !sent && line.contains(ready) {
                let _ = tx.send(Instant::now());
                sent = true;
            }
        }
    });
    let painted = match rx.recv_timeout(START_TIMEOUT) {
        Ok(at) => at - spawned,
        Err(_) => {
            stop(&mut child)?;
            bail!("{} was not painted within {START_TIMEOUT:?}", subject.name);
        }
    };
    let (pss_kib, processes) = match idle {
        Some(quiet) => {
            std::thread::sleep(quiet);
            let tree = process_tree(child.id());
            let pss: u64 = tree.iter().filter_map(|pid| pss_kib(*pid)).sum();
            (Some(pss), tree.len())
        }
        None => (None, 0),
    };
    stop(&mut child)?;
    Ok(Start {
        painted,
        pss_kib,
        processes,
    })
}

/// Ends the program and every process it started, and waits until they are gone (the app is
/// single-instance: a new start while the old one lives would only focus the old window).
fn stop(child: &mut Child) -> Result<()> {
    let tree = process_tree(child.id());
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while tree
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
    {
        if Instant::now() > deadline {
            for pid in &tree {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `root` and all its descendants, from /proc.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The command name may hold spaces and parentheses: the fields after its last ')'
            // are "state ppid …".
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut seen: HashSet<u32> = HashSet::from([root]);
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for &(pid, ppid) in &parents {
            if ppid == parent && seen.insert(pid) {
                tree.push(pid);
            }
        }
        i += 1;
    }
    tree
}

/// A process's proportional set size in KiB (shared pages split among their users).
fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Drops the page cache, so the next start reads its libraries and data from disk. Needs root;
/// says whether it worked.
fn drop_page_cache() -> bool {
    let _ = Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    let key_file = tmp.path().join("switchboard.key");
    let key = DbKey::generate();
    write_key_file(&key_file, &key)?;
    println!(
        "Building the app's encrypted store: {} messages in {} threads…",
        args.messages, args.threads
    );
    history::create_filled(&data.join(DB_FILE_NAME), key, args.messages, args.threads)?;

    let app = Subject {
        name: "the app",
        bin: &args.app,
        ready: APP_READY,
        env: vec![
            ("SWITCHBOARD_DATA_DIR", data.display().to_string()),
            ("SWITCHBOARD_KEY_FILE", key_file.display().to_string()),
            ("SWITCHBOARD_LOG", "info".into()),
        ],
    };
    let bare = Subject {
        name: "the bare window",
        bin: &args.bare,
        ready: BARE_READY,
        env: vec![],
    };
    // A first start of each, not counted: the app adopts the sandbox's lines and contacts on
    // its first start, and both warm up fontconfig's caches.
    start(&app, None)?;
    start(&bare, None)?;

    let mut cold = [Vec::new(), Vec::new()];
    let mut warm = [Vec::new(), Vec::new()];
    let mut pss = [Vec::new(), Vec::new()];
    let mut processes = [0, 0];
    let mut dropped = true;
    for run in 1..=args.runs {
        for (i, subject) in [&app, &bare].into_iter().enumerate() {
            dropped &= drop_page_cache();
            let c = start(subject, None)?;
            let w = start(subject, Some(args.idle))?;
            cold[i].push(c.painted.as_secs_f64() * 1e3);
            warm[i].push(w.painted.as_secs_f64() * 1e3);
            pss[i].push(w.pss_kib.unwrap_or(0) as f64 / 1024.0);
            processes[i] = w.processes;
        }
        println!(
            "  run {run}: app {:.0}/{:.0} ms, bare {:.0}/{:.0} ms (cold/warm); PSS app {:.0} MiB, bare {:.0} MiB",
            cold[0][run - 1],
            warm[0][run - 1],
            cold[1][run - 1],
            warm[1][run - 1],
            pss[0][run - 1],
            pss[1][run - 1]
        );
    }

    let [app_cold, bare_cold] = cold.map(median);
    let [app_warm, bare_warm] = warm.map(median);
    let [app_pss, bare_pss] = pss.map(median);
    let size = std::fs::metadata(&args.app)?.len() as f64 / 1e6;
    let bare_size = std::fs::metadata(&args.bare)?.len() as f64 / 1e6;
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    let cache = if dropped {
        "page cache dropped"
    } else {
        "page cache NOT dropped (needs root): as warm as the next row"
    };
    println!();
    println!("| measure | app | bare Tauri window | ratio | budget | within |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| cold start to an interactive list ({cache}) | {app_cold:.0} ms | {bare_cold:.0} ms | {:.2}× | ≤ 1.2× bare | {} |",
        app_cold / bare_cold,
        yes(app_cold <= 1.2 * bare_cold)
    );
    println!(
        "| warm start to an interactive list | {app_warm:.0} ms | {bare_warm:.0} ms | {:.2}× | ≤ 1.3× bare | {} |",
        app_warm / bare_warm,
        yes(app_warm <= 1.3 * bare_warm)
    );
    println!(
        "| idle memory, PSS of all processes ({} and {}) | {app_pss:.0} MiB | {bare_pss:.0} MiB | {:.2}× | ≤ 1.2× bare | {} |",
        processes[0],
        processes[1],
        app_pss / bare_pss,
        yes(app_pss <= 1.2 * bare_pss)
    );
    println!(
        "| release binary | {size:.1} MB | {bare_size:.1} MB | {:.2}× | < 15 MB | {} |",
        size / bare_size,
        yes(size < 15.0)
    );
    println!(
        "\nMedians of {} runs; {} messages in {} threads; idle {} s before memory; {} cores.",
        args.runs,
        args.messages,
        args.threads,
        args.idle.as_secs(),
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    Ok(())
}
