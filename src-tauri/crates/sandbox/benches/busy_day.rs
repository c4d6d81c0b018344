//! What a busy day costs the sandbox: a flood of 10,000 and of 100,000 messages (one save), a
//! send once that many are held (each change saves the whole state), and a page of 50 from
//! `GET Messages.json` over loopback, unfiltered and filtered as a sync or a reconciliation
//! asks. Figures, not assertions:
//!
//!     cargo bench -p switchboard-sandbox --bench busy_day
//!
//! (`CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16` builds it much sooner
//! than the release profile's full LTO, at nearly the same speed.)

use std::time::{Duration, Instant};

use switchboard_carrier::dates::{format_day, now_ms};
use switchboard_sandbox::{serve, Delays, SandboxConfig, SandboxHandle};

/// Median, 95th percentile and worst of `samples`, in ms.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    format!(
        "median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} runs)",
        ms(at(0.5)),
        ms(at(0.95)),
        ms(*samples.last().unwrap()),
        samples.len()
    )
}

async fn timed(runs: usize, mut once: impl AsyncFnMut()) -> String {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        once().await;
        samples.push(started.elapsed());
    }
    summary(samples)
}

async fn day(count: u32) {
    let dir = tempfile::tempdir().unwrap();
    let sandbox: SandboxHandle = serve(SandboxConfig {
        // Nothing moves on its own while we measure.
        delays: Delays {
            sent: Duration::from_secs(3600),
            delivered: Duration::from_secs(3600),
            reply: None,
        },
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let flooded = sandbox.flood(count).unwrap();
    let state = std::fs::metadata(dir.path().join("sandbox-state.json"))
        .unwrap()
        .len();
    println!(
        "flood {count}: {} ms ({} customers, {} MMS); state file {:.1} MB",
        flooded.elapsed_ms,
        flooded.customers,
        flooded.mms,
        state as f64 / 1e6
    );

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!(
        "{}/2010-04-01/Accounts/{}",
        sandbox.api_base_url(),
        sandbox.account_sid()
    );
    let auth = |r: reqwest::RequestBuilder| {
        r.basic_auth(sandbox.account_sid(), Some(sandbox.auth_token()))
    };
    let send = timed(20, async || {
        let answer = auth(http.post(format!("{base}/Messages.json")))
            .form(&[
                ("From", "+14155550100"),
                ("To", "+14155550123"),
                ("Body", "Hi"),
            ])
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    })
    .await;
    println!("  a send (one save of {count} messages): {send}");

    let customer = sandbox.messages()[count as usize / 2].to.clone();
    let today = format_day(now_ms());
    let queries = [
        ("newest page", "PageSize=50".to_owned()),
        (
            "a pair's page (reconciliation)",
            format!(
                "PageSize=50&From=%2B14155550100&To=%2B{}",
                &customer.as_str()[1..]
            ),
        ),
        (
            "today's page (sync)",
            format!("PageSize=50&DateSent%3E={today}"),
        ),
    ];
    for (what, query) in queries {
        let url = format!("{base}/Messages.json?{query}");
        let list = timed(200, async || {
            let page = auth(http.get(&url)).send().await.unwrap();
            assert!(page.status().is_success());
            page.bytes().await.unwrap();
        })
        .await;
        println!("  {what}: {list}");
    }
    sandbox.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    for count in [10_000, 100_000] {
        day(count).await;
    }
}
