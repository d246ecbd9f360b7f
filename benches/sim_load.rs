//! Simulator load numbers (not a pass/fail test): start-up with a large fleet, full-page list
//! latency, single-GET throughput under concurrency, `$batch` cost, peak RSS.
//! Run: `cargo bench --bench sim_load`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stagehand::sim::{self, SimOptions};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let devices = 5000;
    let t = Instant::now();
    let s = sim::start(SimOptions {
        devices,
        ..SimOptions::default()
    })
    .await?;
    println!("start with {devices} devices: {:?}", t.elapsed());
    let tok = s
        .issue_token(stagehand::sim::ALL_DELEGATED, Duration::from_secs(3600))
        .expose()
        .to_string();
    let c = reqwest::Client::new();
    let list = s.base_url.join("beta/deviceManagement/managedDevices")?;

    let mut ids = vec![];
    let t = Instant::now();
    let mut next = Some(list.to_string());
    let mut pages = 0;
    while let Some(u) = next {
        let page: Value = c.get(&u).bearer_auth(&tok).send().await?.json().await?;
        ids.extend(
            page["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["id"].as_str().map(str::to_string)),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_string);
        pages += 1;
    }
    println!(
        "list all {} enrolled devices in {pages} pages of 1000: {:?} ({:?}/page)",
        ids.len(),
        t.elapsed(),
        t.elapsed() / pages
    );

    let n = 2000usize;
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (c, tok, base, ids) = (c.clone(), tok.clone(), s.base_url.clone(), ids.clone());
        tasks.spawn(async move {
            for i in (w..n).step_by(8) {
                let u = base
                    .join(&format!(
                        "beta/deviceManagement/managedDevices/{}",
                        ids[i % ids.len()]
                    ))
                    .expect("url");
                let r = c.get(u).bearer_auth(&tok).send().await.expect("send");
                assert!(r.status().is_success() || r.status() == 429);
                r.bytes().await.expect("body");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let el = t.elapsed();
    println!(
        "{n} single GETs, 8 concurrent: {el:?} = {:.0} req/s",
        n as f64 / el.as_secs_f64()
    );

    let reqs: Vec<Value> = (0..20).map(|i| json!({"id": i.to_string(), "method": "GET", "url": format!("/deviceManagement/managedDevices/{}/users", ids[i])})).collect();
    let t = Instant::now();
    for _ in 0..50 {
        c.post(s.base_url.join("beta/$batch")?)
            .bearer_auth(&tok)
            .json(&json!({"requests": reqs}))
            .send()
            .await?
            .bytes()
            .await?;
    }
    println!(
        "50 $batch of 20 primary-user reads: {:?} ({:?}/batch)",
        t.elapsed(),
        t.elapsed() / 50
    );
    let st = s.stats();
    println!(
        "requests served: {}, 429s: {}",
        st.requests_total, st.throttled_429
    );
    match peak_rss_kib() {
        Some(k) => println!("peak RSS (VmHWM): {:.1} MiB", k as f64 / 1024.0),
        None => println!("peak RSS: unavailable on this platform"),
    }
    Ok(())
}
