//! `stagehand sim`: run the simulated tenant in the foreground until Ctrl-C.

use clap::Args;

use super::{Faults, SimOptions, start};

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed for the fleet (same seed, same fleet).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Devices pre-seeded across every stage.
    #[arg(long, default_value_t = 40)]
    pub devices: usize,
    /// Sim seconds per real second (60: minutes become seconds).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Fault to inject, repeatable: latency=200ms, 5xx=0.05, drop=0.01, throttle-burst=20, token-ttl=60s.
    #[arg(long = "fault", value_name = "KEY=VALUE")]
    pub faults: Vec<String>,
}

impl SimArgs {
    pub fn options(&self) -> anyhow::Result<SimOptions> {
        let mut faults = Faults::default();
        for f in &self.faults {
            faults.apply(f)?;
        }
        Ok(SimOptions {
            port: self.port,
            seed: self.seed,
            devices: self.devices,
            speed: self.speed,
            faults,
            ..SimOptions::default()
        })
    }
}

pub async fn run_cli(args: &SimArgs) -> anyhow::Result<()> {
    let sim = start(args.options()?).await?;
    println!("stagehand sim listening on {}", sim.base_url);
    println!(
        "STAGEHAND_GRAPH_URL={} STAGEHAND_LOGIN_URL={} STAGEHAND_TENANT={} STAGEHAND_CLIENT_ID={}",
        sim.graph_url(),
        sim.base_url,
        sim.tenant_id(),
        sim.client_id()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
