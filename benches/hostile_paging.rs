//! A server that loops its `@odata.nextLink` (A → B → A, pages of 1,000 full managed devices) and
//! one whose chain never ends (a new link every page): the client must stop with an error, and its
//! peak memory must not grow with the number of pages the server is willing to send. Prints the
//! requests made, the error and the peak RSS (VmHWM) before and after each.
//!
//! Run: `cargo bench --bench hostile_paging`

#[path = "../tests/it/common_graph/mod.rs"]
mod common_graph;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common_graph::{CannedServer, json};
use stagehand::auth::StaticToken;
use stagehand::graph::limits::{MAX_LISTING_ITEMS, MAX_PAGES};
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::secret::Secret;

const PAGE: usize = 1_000;

fn device(i: usize) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{:08x}-0000-4000-8000-{:012x}", i, i),
        "deviceName": format!("PC-{i:05}"),
        "serialNumber": format!("SN{i:08}"),
        "userPrincipalName": format!("user{i}@contoso.com"),
        "operatingSystem": "Windows",
        "osVersion": "10.0.22631.3374",
        "complianceState": "compliant",
        "managementState": "managed",
        "lastSyncDateTime": "2026-11-22T10:00:00Z",
        "enrolledDateTime": "2026-11-01T10:00:00Z",
        "manufacturer": "Microsoft",
        "model": "Surface Laptop 5",
    })
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn client(url: &str) -> GraphClient {
    GraphClient::new(
        url::Url::parse(url).unwrap(),
        Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(60),
        },
        Arc::new(StaticToken(Secret::new("bench"))),
        Arc::new(Governor::new(&[])),
    )
    .unwrap()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = Arc::new(serde_json::json!((0..PAGE).map(device).collect::<Vec<_>>()));
        let body_len = serde_json::to_vec(&*page).unwrap().len();
        println!("one page: {PAGE} devices, {} KiB of JSON", body_len >> 10);

        // A → B → A.
        let p = page.clone();
        let server = CannedServer::start(move |req, _| {
            let host = req.header("host").unwrap().to_string();
            let next = if req.path.ends_with("/a") { "b" } else { "a" };
            json(
                200,
                &[],
                serde_json::json!({"value": *p, "@odata.nextLink": format!("http://{host}/beta/{next}")}),
            )
        })
        .await;
        let c = client(&server.url);
        let before = vm_hwm_kib();
        let t = Instant::now();
        let err = c
            .get_all::<serde_json::Value>(c.beta("/a", &Default::default()))
            .await
            .unwrap_err();
        println!(
            "loop A→B→A: {} requests, {:.1} ms, error: {err}",
            server.count(),
            t.elapsed().as_secs_f64() * 1e3
        );
        println!("  peak RSS (VmHWM): {} KiB → {} KiB", before, vm_hwm_kib());
        assert_eq!(server.count(), 2);
        drop(server);

        // A chain that never ends: each page links to a new one. Items are counted per page and
        // dropped (`for_each_page`), so only the bounds stop it.
        let p = page.clone();
        let server = CannedServer::start(move |req, i| {
            let host = req.header("host").unwrap().to_string();
            json(
                200,
                &[],
                serde_json::json!({"value": *p, "@odata.nextLink": format!("http://{host}/beta/p{}", i + 1)}),
            )
        })
        .await;
        let c = client(&server.url);
        let before = vm_hwm_kib();
        let t = Instant::now();
        let mut items = 0usize;
        let err = c
            .for_each_page(c.beta("/p0", &Default::default()), |v: Vec<serde_json::Value>| {
                items += v.len()
            })
            .await
            .unwrap_err();
        println!(
            "endless chain: {} requests, {items} items handed over, {:.1} s, error: {err}",
            server.count(),
            t.elapsed().as_secs_f64()
        );
        println!(
            "  bounds: {MAX_PAGES} pages, {MAX_LISTING_ITEMS} items; peak RSS (VmHWM): {} KiB → {} KiB",
            before,
            vm_hwm_kib()
        );
    });
}
