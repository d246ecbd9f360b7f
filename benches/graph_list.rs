//! Lists 10,000 managed devices through the Graph client from a loopback server serving pages of
//! 1,000 via `@odata.nextLink`, then the enrolled part of a 10,000-device fleet from the real
//! simulator (its JSON, its paging, its token check). Prints requests, wall time and peak RSS
//! (VmHWM).
//!
//! Run: `cargo bench --bench graph_list`

#[path = "../tests/it/common_graph/mod.rs"]
mod common_graph;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common_graph::{CannedServer, json};
use stagehand::auth::StaticToken;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::secret::Secret;
use stagehand::sim::{self, SimOptions};

const DEVICES: usize = 10_000;
const PAGE: usize = 1_000;

fn device(i: usize) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{:08x}-0000-4000-8000-{:012x}", i, i),
        "deviceName": format!("PC-{i:05}"),
        "serialNumber": format!("SN{i:08}"),
        "userPrincipalName": format!("user{i}@contoso.com"),
        "userId": format!("{:08x}-1111-4000-8000-{:012x}", i, i),
        "operatingSystem": "Windows",
        "osVersion": "10.0.22631.3374",
        "complianceState": "compliant",
        "managementState": "managed",
        "deviceEnrollmentType": "windowsAzureADJoin",
        "joinType": "azureADJoined",
        "lastSyncDateTime": "2026-11-22T10:00:00Z",
        "enrolledDateTime": "2026-11-01T10:00:00Z",
        "manufacturer": "Microsoft",
        "model": "Surface Laptop 5",
        "usersLoggedOn": [{"userId": "u", "lastLogOnDateTime": "2026-11-22T09:00:00Z"}],
        "deviceActionResults": [],
        "hardwareInformation": {"serialNumber": format!("SN{i:08}"), "totalStorageSpace": 256}
    })
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Pre-render the pages so the server's cost is not in the client's numbers.
        let pages: Arc<Vec<Vec<serde_json::Value>>> = Arc::new(
            (0..DEVICES / PAGE)
                .map(|p| (p * PAGE..(p + 1) * PAGE).map(device).collect())
                .collect(),
        );
        let hwm_before = vm_hwm_kib();
        let server = CannedServer::start(move |req, _| {
            let host = req.header("host").unwrap().to_string();
            let page: usize = req.param("$skiptoken").map_or(0, |t| t.parse().unwrap());
            let mut body = serde_json::json!({"value": pages[page]});
            if page + 1 < pages.len() {
                body["@odata.nextLink"] = format!(
                    "http://{host}/beta/deviceManagement/managedDevices?$top=1000&$skiptoken={}",
                    page + 1
                )
                .into();
            }
            json(200, &[], body)
        })
        .await;
        let client = GraphClient::new(
            url::Url::parse(&server.url).unwrap(),
            Timeouts {
                connect: Duration::from_secs(5),
                total: Duration::from_secs(60),
            },
            Arc::new(StaticToken(Secret::new("bench"))),
            Arc::new(Governor::new(&[])),
        )
        .unwrap();
        let mut runs = Vec::new();
        for _ in 0..5 {
            let before = server.count();
            let t = Instant::now();
            let devices = client.list_managed_devices(None, &[]).await.unwrap();
            runs.push((t.elapsed(), server.count() - before, devices.len()));
        }
        for (i, (d, reqs, n)) in runs.iter().enumerate() {
            println!(
                "run {i}: {n} devices in {reqs} requests, {:.1} ms",
                d.as_secs_f64() * 1e3
            );
        }
        let (_, reqs, n) = runs[0];
        assert_eq!(n, DEVICES);
        assert!(reqs <= 11, "{reqs} requests for {DEVICES} devices");
        let mut times: Vec<f64> = runs.iter().map(|r| r.0.as_secs_f64() * 1e3).collect();
        times.sort_by(f64::total_cmp);
        println!(
            "median {:.1} ms over {} runs",
            times[times.len() / 2],
            times.len()
        );
        println!(
            "peak RSS (VmHWM): {} KiB (before server+client: {} KiB)",
            vm_hwm_kib().map_or("n/a".into(), |v| v.to_string()),
            hwm_before.map_or("n/a".into(), |v| v.to_string())
        );
        through_the_simulator().await;
    });
}

/// The same listing against the simulator: the client's cost plus the simulator's filtering,
/// paging and JSON for a fleet of 10,000 devices (only the enrolled ones are managed devices).
async fn through_the_simulator() {
    let t = Instant::now();
    let sim = sim::start(SimOptions {
        devices: DEVICES,
        speed: 0.001,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    println!(
        "simulator with {DEVICES} devices started in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(
            sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600)),
        )),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let route = "GET /beta/deviceManagement/managedDevices";
    let mut times = Vec::new();
    for i in 0..3 {
        let before = sim
            .stats()
            .requests_per_route
            .get(route)
            .copied()
            .unwrap_or(0);
        let t = Instant::now();
        let devices = client.list_managed_devices(None, &[]).await.unwrap();
        let el = t.elapsed();
        let reqs = sim.stats().requests_per_route[route] - before;
        println!(
            "sim run {i}: {} devices in {reqs} requests, {:.1} ms",
            devices.len(),
            el.as_secs_f64() * 1e3
        );
        assert_eq!(reqs as usize, devices.len().div_ceil(PAGE).max(1));
        times.push(el.as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "sim median {:.1} ms over {} runs",
        times[times.len() / 2],
        times.len()
    );
    println!(
        "peak RSS (VmHWM) after the simulator runs: {} KiB",
        vm_hwm_kib().map_or("n/a".into(), |v| v.to_string())
    );
}
